//! A netlink socket of the `nltest` protocol, on `netlink-sys`.

use crate::genl::{decode_family, encode_get_family, FamilyInfo, GENL_HDRLEN};
use crate::message::{encode, RawMessage, Reply, HEADER_LEN};
use crate::service::{Command, Request, Response};
use crate::{genl, message, unit, Error};
use netlink_packet_core::ParseableParametrized;
use netlink_sys::{Socket, SocketAddr};
use std::io::ErrorKind;
use std::time::{Duration, Instant};

/// How long a call waits for the module when no other timeout is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Receive buffer size: more than the largest datagram a netlink socket
/// accepts by default (`net.core.wmem_default`, 208 KiB).
const RECV_BUFFER_LEN: usize = 256 * 1024;

/// A socket to the module: raw echoes on its protocol unit, typed requests
/// and their replies, events and dumps on the unit or through its generic
/// netlink family.
pub struct ModuleSocket {
    socket: Socket,
    port_id: u32,
    next_seq: u32,
    timeout: Duration,
    buffer: Vec<u8>,
    /// The module's generic netlink family, for a socket of
    /// `NETLINK_GENERIC`.
    genl: Option<FamilyInfo>,
}

/// How to reach the module's typed service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Its own netlink protocol unit (17 unless the `unit` parameter moved it).
    Unit(u32),
    /// Its generic netlink family, `nltest`, resolved by name.
    Genl,
}

impl Transport {
    /// The typed service on the default unit.
    pub const UNIT: Self = Self::Unit(nltest_protocol::DEFAULT_UNIT);

    /// Opens a socket to the service.
    pub fn connect(self) -> Result<ModuleSocket, Error> {
        match self {
            Self::Unit(unit) => ModuleSocket::connect(unit),
            Self::Genl => ModuleSocket::connect_genl(),
        }
    }

    /// Opens a socket that joins multicast `group` of the service: on the
    /// unit, groups 1 to `GROUP_COUNT`; in the family, `ECHO_GROUP` only
    /// (`events`).
    pub fn listen(self, group: u32) -> Result<ModuleSocket, Error> {
        match self {
            Self::Unit(unit) => ModuleSocket::listen(unit, group),
            Self::Genl if group == nltest_protocol::ECHO_GROUP => ModuleSocket::listen_genl(),
            Self::Genl => Err(Error::Io {
                context: "the generic netlink family has one group, events (group 1)",
                source: std::io::Error::from_raw_os_error(libc::EINVAL),
            }),
        }
    }

    /// Where a request's attributes start: after the netlink header, and
    /// the generic netlink header in the family. Extended acks give the
    /// offsets of attributes from the start of the request.
    pub fn attributes_offset(self) -> u32 {
        match self {
            Self::Unit(_) => HEADER_LEN as u32,
            Self::Genl => (HEADER_LEN + GENL_HDRLEN) as u32,
        }
    }

    pub fn is_genl(self) -> bool {
        self == Self::Genl
    }
}

/// An echo that came back as it was sent.
#[derive(Debug)]
pub struct Echoed {
    pub seq: u32,
    pub round_trip: Duration,
}

impl ModuleSocket {
    /// Opens a socket of protocol `unit`, bound to a port id the kernel picks,
    /// that asks for extended acks (`NETLINK_EXT_ACK`) without the request's
    /// payload (`NETLINK_CAP_ACK`).
    pub fn connect(unit: u32) -> Result<Self, Error> {
        let socket = Socket::new(unit as isize).map_err(|error| {
            if error.raw_os_error() == Some(libc::EPROTONOSUPPORT) {
                Error::ModuleNotLoaded { unit }
            } else {
                Error::Io {
                    context: "cannot open a netlink socket",
                    source: error,
                }
            }
        })?;
        Self::with_socket(socket)
    }

    fn with_socket(mut socket: Socket) -> Result<Self, Error> {
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
            genl: None,
        };
        this.set_timeout(DEFAULT_TIMEOUT)?;
        Ok(this)
    }

    /// Opens a generic netlink socket and resolves the module's family,
    /// `nltest`, through the controller; typed requests then go to the
    /// family. Fails with [`Error::FamilyNotRegistered`] without the module.
    pub fn connect_genl() -> Result<Self, Error> {
        let socket = Socket::new(netlink_sys::protocols::NETLINK_GENERIC)
            .map_err(Error::io("cannot open a generic netlink socket"))?;
        let mut this = Self::with_socket(socket)?;
        let family = this.resolve_family()?;
        this.genl = Some(family);
        Ok(this)
    }

    /// [`connect_genl`](Self::connect_genl), joining the family's `events`
    /// group.
    pub fn listen_genl() -> Result<Self, Error> {
        let this = Self::connect_genl()?;
        let group = this.genl.as_ref().map_or(0, |family| family.events_group);
        this.join(group, || {
            format!(
                "group {} of generic netlink family {}",
                nltest_protocol::genl::mcgrp::EVENTS,
                nltest_protocol::genl::FAMILY_NAME
            )
        })?;
        Ok(this)
    }

    /// Asks the controller for the module's family (`CTRL_CMD_GETFAMILY`).
    fn resolve_family(&mut self) -> Result<FamilyInfo, Error> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let mut datagram = Vec::new();
        encode_get_family(&mut datagram, seq, nltest_protocol::genl::FAMILY_NAME);
        self.send_bytes(&datagram)?;
        let start = Instant::now();
        loop {
            let len = self.recv_datagram()?;
            if let Some(family) = decode_family(&self.buffer[..len], seq)? {
                return Ok(family);
            }
            if start.elapsed() > self.timeout {
                return Err(Error::Timeout(self.timeout));
            }
        }
    }

    /// The policy of each command of the module's family, as the controller
    /// dumps it (`CTRL_CMD_GETPOLICY`): command, then what each attribute
    /// of its doit may hold.
    pub fn genl_policies(
        &mut self,
    ) -> Result<std::collections::BTreeMap<u8, Vec<crate::genl::AttrPolicyInfo>>, Error> {
        let id = self
            .genl
            .as_ref()
            .ok_or_else(|| Error::Decode("not a generic netlink socket".into()))?
            .id;
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let mut datagram = Vec::new();
        crate::genl::encode_get_policy(&mut datagram, seq, id);
        self.send_bytes(&datagram)?;
        let mut dump = crate::genl::PolicyDump::default();
        loop {
            let len = self.recv_datagram()?;
            if dump.add(&self.buffer[..len], seq)? {
                break;
            }
        }
        Ok(dump
            .ops
            .iter()
            .map(|(&cmd, index)| (cmd, dump.policies.get(index).cloned().unwrap_or_default()))
            .collect())
    }

    /// The module's generic netlink family, for a socket opened with
    /// [`connect_genl`](Self::connect_genl).
    pub fn genl_family(&self) -> Option<&FamilyInfo> {
        self.genl.as_ref()
    }

    /// Appends `request` to `datagram` for this socket's transport, with
    /// `NLM_F_ACK` when `ack`.
    pub fn encode_request(
        &self,
        datagram: &mut Vec<u8>,
        seq: u32,
        ack: bool,
        request: &Request,
    ) -> Result<(), Error> {
        let flags = if ack {
            netlink_packet_core::NLM_F_ACK
        } else {
            0
        };
        self.encode_request_with_flags(datagram, seq, flags, request)
    }

    /// Appends `request` to `datagram` for this socket's transport, with
    /// `flags` besides `NLM_F_REQUEST` (`NLM_F_ACK`, `NLM_F_ECHO`...).
    pub fn encode_request_with_flags(
        &self,
        datagram: &mut Vec<u8>,
        seq: u32,
        flags: u16,
        request: &Request,
    ) -> Result<(), Error> {
        let flags = request.flags_with(flags);
        match &self.genl {
            Some(family) => genl::encode(datagram, seq, flags, request.message(), family.id),
            None => unit::encode(datagram, seq, flags, request.message()),
        }
    }

    /// Opens a socket of protocol `unit` that joins multicast `group`.
    pub fn listen(unit: u32, group: u32) -> Result<Self, Error> {
        let this = Self::connect(unit)?;
        this.join(group, || {
            format!("multicast group {group} of protocol {unit}")
        })?;
        Ok(this)
    }

    /// Joins multicast `group`; `name` says which group it is, for the error.
    fn join(&self, group: u32, name: impl FnOnce() -> String) -> Result<(), Error> {
        self.socket.add_membership(group).map_err(|error| {
            if error.raw_os_error() == Some(libc::EPERM) {
                Error::JoinRefused { group: name() }
            } else {
                Error::Io {
                    context: "cannot join the multicast group",
                    source: error,
                }
            }
        })
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

    /// Sets the socket's receive queue limit (`SO_RCVBUF`; the kernel
    /// doubles it and enforces a minimum).
    pub fn set_receive_queue_limit(&self, bytes: u32) -> Result<(), Error> {
        self.socket
            .set_rx_buf_sz(bytes)
            .map_err(Error::io("cannot set SO_RCVBUF"))
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

    /// Connects the socket to the one bound to `port_id` (`connect(2)`).
    /// The netlink core then refuses, with `ECONNREFUSED`, what any other
    /// socket sends it, the kernel's replies included, while
    /// [`send_bytes`](Self::send_bytes) still reaches the kernel, by address.
    pub fn connect_to_port(&self, port_id: u32) -> Result<(), Error> {
        self.socket
            .connect(&SocketAddr::new(port_id, 0))
            .map_err(Error::io("cannot connect the netlink socket"))
    }

    /// Sends bytes as they are, well-formed or not, to the kernel.
    pub fn send_bytes(&self, datagram: &[u8]) -> Result<(), Error> {
        self.socket
            .send_to(datagram, &SocketAddr::new(0, 0), 0)
            .map_err(Error::io("cannot send to the module"))?;
        Ok(())
    }

    /// Receives one datagram and decodes its messages with the decoder of
    /// the socket's transport: on the unit, typed messages by their
    /// `nlmsg_type` ([`unit::decode`]); on a generic netlink socket, the
    /// family's messages by the command of their generic header
    /// ([`genl::decode`]).
    pub fn recv(&mut self) -> Result<Vec<Reply>, Error> {
        let len = self.recv_datagram()?;
        let datagram = &self.buffer[..len];
        match &self.genl {
            Some(family) => genl::decode(datagram, family.id),
            None => unit::decode(datagram),
        }
    }

    /// Receives one datagram and decodes its messages as the raw echo
    /// protocol has them, whatever their type ([`message::decode`]).
    pub fn recv_raw(&mut self) -> Result<Vec<Reply>, Error> {
        let len = self.recv_datagram()?;
        message::decode(&self.buffer[..len])
    }

    /// Receives one datagram into the buffer; returns its length.
    fn recv_datagram(&mut self) -> Result<usize, Error> {
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
        Ok(len)
    }

    /// Sends `message`, waits for its echo and checks that it came back
    /// unchanged. Replies to earlier requests are skipped.
    pub fn echo(&mut self, message: RawMessage) -> Result<Echoed, Error> {
        let start = Instant::now();
        let seq = self.send(0, [message.clone()])?;
        loop {
            for reply in self.recv_raw()? {
                match reply {
                    Reply::Raw {
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

impl ModuleSocket {
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
        self.encode_request(&mut datagram, seq, ack, request)?;
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
                    reply if reply.is_done() => return Ok(responses),
                    Reply::Control { .. } => {}
                    Reply::Typed { message, .. } => responses.push(Response::try_from(&message)?),
                    Reply::Raw { message, .. } => {
                        return Err(Error::Decode(format!(
                            "a raw message of type {:#x} answered request {seq}",
                            message.nlmsg_type
                        )))
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
        let replies = if self.genl.is_some() {
            self.recv()?
        } else {
            // The unit's group 1 carries raw echoes of any type beside the
            // events: only an event's type is read as one.
            self.recv_raw()?
                .into_iter()
                .map(|reply| match reply {
                    Reply::Raw { seq, message }
                        if message.nlmsg_type == Command::Event.nlmsg_type() =>
                    {
                        match unit::UnitMessage::parse_with_param(&message.data, message.nlmsg_type)
                        {
                            Ok(typed) => Reply::Typed {
                                seq,
                                message: typed.0,
                            },
                            Err(_) => Reply::Raw { seq, message },
                        }
                    }
                    reply => reply,
                })
                .collect()
        };
        for reply in replies {
            match reply {
                Reply::Raw { seq, message } => broadcasts.push(Broadcast::Raw { seq, message }),
                Reply::Typed { seq, message } if message.command == Command::Event => {
                    if let Response::Event(event) = Response::try_from(&message)? {
                        broadcasts.push(Broadcast::Event { seq, event });
                    }
                }
                Reply::Typed { message, .. } => {
                    return Err(Error::Decode(format!(
                        "{:?} sent to a group: only events are",
                        message.command
                    )))
                }
                Reply::Error { .. } | Reply::Control { .. } => {}
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
    let detail = if sent.nlmsg_type != echoed.nlmsg_type {
        format!(
            ", type {} instead of {}",
            echoed.nlmsg_type, sent.nlmsg_type
        )
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

impl std::os::fd::AsFd for ModuleSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.as_fd()
    }
}
