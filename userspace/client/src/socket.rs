//! A netlink socket of the `nltest` protocol, on `netlink-sys`.

use crate::message::{decode, encode, RawMessage, Reply};
use crate::service::{decode_response, encode_request, Request, Response};
use crate::Error;
use netlink_sys::{Socket, SocketAddr};
use std::io::ErrorKind;
use std::time::{Duration, Instant};

/// How long a call waits for the module when no other timeout is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Receive buffer size: more than the largest datagram a netlink socket
/// accepts by default (`net.core.wmem_default`, 208 KiB).
const RECV_BUFFER_LEN: usize = 256 * 1024;

/// A socket talking to the module's kernel socket.
pub struct EchoSocket {
    socket: Socket,
    port_id: u32,
    next_seq: u32,
    timeout: Duration,
    buffer: Vec<u8>,
}

/// An echo that came back as it was sent.
#[derive(Debug)]
pub struct Echoed {
    pub seq: u32,
    pub round_trip: Duration,
}

impl EchoSocket {
    /// Opens a socket of protocol `unit`, bound to a port id the kernel picks,
    /// that asks for extended acks (`NETLINK_EXT_ACK`) without the request's
    /// payload (`NETLINK_CAP_ACK`).
    pub fn connect(unit: u32) -> Result<Self, Error> {
        let mut socket = Socket::new(unit as isize).map_err(|error| {
            if error.raw_os_error() == Some(libc::EPROTONOSUPPORT) {
                Error::ModuleNotLoaded { unit }
            } else {
                Error::Io {
                    context: "cannot open a netlink socket",
                    source: error,
                }
            }
        })?;
        let address = socket
            .bind_auto()
            .map_err(Error::io("cannot bind the netlink socket"))?;
        socket
            .set_ext_ack(true)
            .map_err(Error::io("cannot set NETLINK_EXT_ACK"))?;
        socket
            .set_cap_ack(true)
            .map_err(Error::io("cannot set NETLINK_CAP_ACK"))?;
        let mut this = Self {
            socket,
            port_id: address.port_number(),
            next_seq: 1,
            timeout: DEFAULT_TIMEOUT,
            buffer: Vec::with_capacity(RECV_BUFFER_LEN),
        };
        this.set_timeout(DEFAULT_TIMEOUT)?;
        Ok(this)
    }

    /// Opens a socket of protocol `unit` that joins multicast `group`.
    pub fn listen(unit: u32, group: u32) -> Result<Self, Error> {
        let this = Self::connect(unit)?;
        this.socket
            .add_membership(group)
            .map_err(Error::io("cannot join the multicast group"))?;
        Ok(this)
    }

    /// The port id the kernel gave this socket.
    pub fn port_id(&self) -> u32 {
        self.port_id
    }

    /// Sets the size of the buffer [`recv`](Self::recv) reads datagrams into
    /// (default: 256 KiB); a larger datagram fails with [`Error::Decode`].
    pub fn set_recv_buffer_len(&mut self, len: usize) {
        self.buffer = Vec::with_capacity(len);
    }

    /// Makes [`recv`](Self::recv) return [`Error::Timeout`] at once when
    /// nothing is queued.
    pub fn set_nonblocking(&mut self, nonblocking: bool) -> Result<(), Error> {
        self.socket
            .set_non_blocking(nonblocking)
            .map_err(Error::io("cannot make the socket non-blocking"))
    }

    /// How long [`recv`](Self::recv) and [`echo`](Self::echo) wait.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sets how long [`recv`](Self::recv) and [`echo`](Self::echo) wait.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        socket2::SockRef::from(&self.socket)
            .set_read_timeout(Some(timeout))
            .map_err(Error::io("cannot set the receive timeout"))?;
        self.timeout = timeout;
        Ok(())
    }

    /// Sends `messages` in one datagram (one `sendmsg`), with consecutive
    /// sequence numbers; returns the first one.
    pub fn send(
        &mut self,
        flags: u16,
        messages: impl IntoIterator<Item = RawMessage>,
    ) -> Result<u32, Error> {
        let first = self.next_seq;
        let mut datagram = Vec::new();
        for message in messages {
            encode(&mut datagram, self.next_seq, flags, message);
            self.next_seq = self.next_seq.wrapping_add(1);
        }
        self.send_bytes(&datagram)?;
        Ok(first)
    }

    /// Sends bytes as they are, well-formed or not, to the kernel.
    pub fn send_bytes(&self, datagram: &[u8]) -> Result<(), Error> {
        self.socket
            .send_to(datagram, &SocketAddr::new(0, 0), 0)
            .map_err(Error::io("cannot send to the module"))?;
        Ok(())
    }

    /// Receives one datagram and decodes its messages.
    pub fn recv(&mut self) -> Result<Vec<Reply>, Error> {
        self.buffer.clear();
        let len = self
            .socket
            .recv(&mut self.buffer, libc::MSG_TRUNC)
            .map_err(|error| match error.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => Error::Timeout(self.timeout),
                _ if error.raw_os_error() == Some(libc::ENOBUFS) => Error::Overrun,
                _ => Error::Io {
                    context: "cannot receive from the module",
                    source: error,
                },
            })?;
        if len > self.buffer.len() {
            return Err(Error::Decode(format!(
                "a {len}-byte datagram does not fit the {}-byte receive buffer",
                self.buffer.len()
            )));
        }
        decode(&self.buffer)
    }

    /// Sends `message`, waits for its echo and checks that it came back
    /// unchanged. Replies to earlier requests are skipped.
    pub fn echo(&mut self, message: RawMessage) -> Result<Echoed, Error> {
        let start = Instant::now();
        let seq = self.send(0, [message.clone()])?;
        loop {
            for reply in self.recv()? {
                match reply {
                    Reply::Echo {
                        seq: got,
                        message: echoed,
                    } if got == seq => {
                        check_echo(seq, &message, &echoed)?;
                        return Ok(Echoed {
                            seq,
                            round_trip: start.elapsed(),
                        });
                    }
                    Reply::Error {
                        seq: got,
                        errno,
                        ack,
                    } if got == seq => {
                        return Err(Error::Kernel { seq, errno, ack });
                    }
                    _ => {}
                }
            }
            if start.elapsed() > self.timeout {
                return Err(Error::Timeout(self.timeout));
            }
        }
    }
}

impl EchoSocket {
    /// Sends a typed request and collects its answer: the reply (`ECHO`,
    /// `GET_STATS`), every part of a dump, or nothing but the ack
    /// (`BROADCAST`, which is always acknowledged so that its errors show).
    /// With `ack`, waits for the acknowledgement too. An `NLMSG_ERROR` with
    /// an error becomes [`Error::Kernel`], with its extended ack.
    pub fn request(&mut self, request: &Request, ack: bool) -> Result<Vec<Response>, Error> {
        let expects_answer = !matches!(request, Request::Broadcast { .. });
        let ack = ack || !expects_answer;
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let mut datagram = Vec::new();
        encode_request(&mut datagram, seq, ack, request)?;
        self.send_bytes(&datagram)?;

        let start = Instant::now();
        let mut responses = Vec::new();
        let mut acked = !ack;
        loop {
            for reply in self.recv()? {
                if reply.seq() != seq {
                    continue;
                }
                match reply {
                    Reply::Error { errno: 0, .. } => acked = true,
                    Reply::Error { errno, ack, .. } => {
                        return Err(Error::Kernel { seq, errno, ack })
                    }
                    Reply::Control { kind, .. } if kind == libc::NLMSG_DONE as u16 => {
                        return Ok(responses);
                    }
                    Reply::Control { .. } => {}
                    Reply::Echo { message, .. } => {
                        responses.push(decode_response(message.kind, &message.data)?);
                    }
                }
            }
            let answered = !expects_answer || !responses.is_empty();
            if !request.is_dump() && answered && acked {
                return Ok(responses);
            }
            if start.elapsed() > self.timeout {
                return Err(Error::Timeout(self.timeout));
            }
        }
    }

    /// Receives the next datagram sent to the groups this socket joined:
    /// typed events, or raw echoes broadcast as they are.
    pub fn recv_broadcasts(&mut self) -> Result<Vec<Broadcast>, Error> {
        let mut broadcasts = Vec::new();
        for reply in self.recv()? {
            if let Reply::Echo { seq, message } = reply {
                broadcasts.push(if message.kind == nltest_protocol::MSG_EVENT {
                    match decode_response(message.kind, &message.data)? {
                        Response::Event(event) => Broadcast::Event { seq, event },
                        _ => unreachable!("decode_response of an EVENT gives an Event"),
                    }
                } else {
                    Broadcast::Raw { seq, message }
                });
            }
        }
        Ok(broadcasts)
    }
}

/// What a group member receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broadcast {
    /// A raw echo, broadcast to group 1 as it was echoed.
    Raw { seq: u32, message: RawMessage },
    /// An `EVENT`: a typed `ECHO` or `BROADCAST`, and who sent it.
    Event {
        seq: u32,
        event: crate::service::Event,
    },
}

/// Checks that an echo carries the request's type and payload.
pub(crate) fn check_echo(seq: u32, sent: &RawMessage, echoed: &RawMessage) -> Result<(), Error> {
    if sent == echoed {
        return Ok(());
    }
    let detail = if sent.kind != echoed.kind {
        format!(", type {} instead of {}", echoed.kind, sent.kind)
    } else {
        let at = sent.data.iter().zip(&echoed.data).position(|(a, b)| a != b);
        at.map(|at| format!(", first difference at byte {at}"))
            .unwrap_or_default()
    };
    Err(Error::Mismatch {
        seq,
        sent: sent.data.len(),
        received: echoed.data.len(),
        detail,
    })
}

impl std::os::fd::AsFd for EchoSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.as_fd()
    }
}
