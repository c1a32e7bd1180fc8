//! Echo benchmark: latency and throughput of raw and typed echoes (on the
//! unit or through the generic netlink family), one
//! message at a time and batched, with the client's own syscalls and CPU
//! time counted.
//!
//! The hot loops allocate nothing: the request datagram is encoded once and
//! only its sequence numbers change; replies land in buffers allocated up
//! front and are checked in place against the request's body, which an echo
//! (raw or typed) carries back byte for byte.

use nltest_client::message::{encode, RawMessage, HEADER_LEN};
use nltest_client::protocol::REPLY_DATAGRAM_MAX;
use nltest_client::{genl, unit, Error, FamilyInfo, ModuleSocket, Request};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// Which of the module's protocols a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Raw echo, as the seed's C examples send it (type 0, no flags).
    Raw,
    /// Typed `ECHO` request with a `DATA` attribute, no ack.
    Typed,
    /// The same typed `ECHO`, through the generic netlink family.
    Genl,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Typed => "typed",
            Self::Genl => "genl",
        }
    }
}

/// One benchmark case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub protocol: Protocol,
    /// Payload bytes per echo.
    pub size: usize,
    /// Echoes sent one at a time, and again in batches.
    pub count: u32,
    /// Requests per `sendmsg` in the batched run.
    pub batch: u32,
    /// Whether the batched run follows a warm-up and a run one message at
    /// a time (without them, only the batched path is exercised).
    pub one_at_a_time: bool,
}

/// Figures of one way of sending (one at a time, or batched).
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub echoes: u64,
    pub seconds: f64,
    /// `sendmsg` + `recvmsg`/`recvmmsg` calls made by the client.
    pub syscalls: u64,
    /// CPU time of the client's thread, in user and in kernel mode. The
    /// module's input callback runs in the sender's `sendmsg`, so kernel
    /// time includes the module's work.
    pub user_seconds: f64,
    pub system_seconds: f64,
}

impl Run {
    pub fn echoes_per_second(&self) -> f64 {
        self.echoes as f64 / self.seconds
    }
    pub fn syscalls_per_echo(&self) -> f64 {
        self.syscalls as f64 / self.echoes as f64
    }
    pub fn user_us_per_echo(&self) -> f64 {
        self.user_seconds * 1e6 / self.echoes as f64
    }
    pub fn system_us_per_echo(&self) -> f64 {
        self.system_seconds * 1e6 / self.echoes as f64
    }
}

/// Figures of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: Case,
    pub latency_median: Duration,
    pub latency_p99: Duration,
    pub single: Run,
    pub batched: Run,
}

/// Messages a batch may hold so that its replies fit the receive buffer
/// (`net.core.rmem_default`, 208 KiB), which counts each socket buffer's
/// true size: its data rounded up to a power of two (kmalloc), plus
/// `skb_shared_info` and `sk_buff`.
pub fn batch_that_fits(size: usize, wanted: u32) -> u32 {
    const BUDGET: usize = 192 * 1024;
    let message = HEADER_LEN + 4 + size;
    let true_size = (message + 64 + 320).next_power_of_two() + 256;
    wanted.clamp(1, (BUDGET / true_size).max(1) as u32)
}

/// Runs `case` against the module on `unit`: first one echo at a time
/// (latency and throughput), unless the case says not to, then in batches.
/// `Protocol::Genl` goes through the family whatever `unit` is.
pub fn run_case(unit: u32, case: Case, timeout: Duration) -> Result<CaseResult, Error> {
    let mut socket = match case.protocol {
        Protocol::Genl => ModuleSocket::connect_genl()?,
        _ => ModuleSocket::connect(unit)?,
    };
    socket.set_timeout(timeout)?;
    let family = socket.genl_family().cloned();
    let family = family.as_ref();
    let payload: Vec<u8> = (0..case.size).map(|i| (i % 251) as u8).collect();

    let (single_run, [latency_median, latency_p99]) = if case.one_at_a_time {
        one_at_a_time(&mut socket, case, &payload, family)?
    } else {
        Default::default()
    };

    let mut batched = Batch::new(case.protocol, &payload, case.batch, family)?;
    let rounds = case.count.div_ceil(case.batch).max(1);
    let usage = CpuTime::now();
    let start = Instant::now();
    for _ in 0..rounds {
        batched.round_trip(&mut socket)?;
    }
    let batched_run = batched.finish(start, usage, u64::from(rounds * case.batch));

    Ok(CaseResult {
        case,
        latency_median,
        latency_p99,
        single: single_run,
        batched: batched_run,
    })
}

/// The run one echo at a time, after a warm-up: its figures and its median
/// and 99th percentile latencies.
fn one_at_a_time(
    socket: &mut ModuleSocket,
    case: Case,
    payload: &[u8],
    family: Option<&FamilyInfo>,
) -> Result<(Run, [Duration; 2]), Error> {
    let mut single = Batch::new(case.protocol, payload, 1, family)?;
    // Warm up: the first echoes pay for page faults and cold caches.
    for _ in 0..case.count.min(200) {
        single.round_trip(socket)?;
    }
    single.syscalls = 0;
    let mut latencies = Vec::with_capacity(case.count as usize);
    let usage = CpuTime::now();
    let start = Instant::now();
    for _ in 0..case.count {
        let sent = Instant::now();
        single.round_trip(socket)?;
        latencies.push(sent.elapsed());
    }
    latencies.sort_unstable();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    Ok((
        single.finish(start, usage, case.count.into()),
        [percentile(50), percentile(99)],
    ))
}

/// A datagram of `count` identical requests, and buffers for their replies.
struct Batch {
    datagram: Vec<u8>,
    /// Offset of each message in `datagram`.
    offsets: Vec<usize>,
    /// The body (all but the header) every reply must carry.
    body: Vec<u8>,
    /// The `nlmsg_type` every reply must have.
    nlmsg_type: u16,
    next_seq: u32,
    replies: ReplyBuffers,
    syscalls: u64,
}

impl Batch {
    /// A batch of `protocol`; `family` is needed for `Protocol::Genl`.
    fn new(
        protocol: Protocol,
        payload: &[u8],
        count: u32,
        family: Option<&FamilyInfo>,
    ) -> Result<Self, Error> {
        let mut datagram = Vec::new();
        let mut offsets = Vec::new();
        let echo = Request::Echo {
            data: payload.to_vec(),
        };
        for _ in 0..count {
            offsets.push(datagram.len());
            match protocol {
                Protocol::Raw => encode(
                    &mut datagram,
                    0,
                    0,
                    RawMessage {
                        nlmsg_type: 0,
                        data: payload.to_vec(),
                    },
                ),
                Protocol::Typed => {
                    unit::encode(&mut datagram, 0, echo.flags(false), echo.message())?
                }
                // The reply's generic header is the request's: same command,
                // the family's version, reserved bytes 0.
                Protocol::Genl => genl::encode(
                    &mut datagram,
                    0,
                    echo.flags(false),
                    echo.message(),
                    family
                        .ok_or_else(|| Error::Decode("no generic netlink family".into()))?
                        .id,
                )?,
            }
        }
        let first_len = u32::from_ne_bytes(datagram[0..4].try_into().unwrap()) as usize;
        let body = datagram[HEADER_LEN..first_len].to_vec();
        let nlmsg_type = u16::from_ne_bytes(datagram[4..6].try_into().unwrap());
        // A reply datagram holds one reply, or several that fit in a page.
        let slot_len = (first_len + 64)
            .next_multiple_of(64)
            .max(REPLY_DATAGRAM_MAX as usize);
        Ok(Self {
            datagram,
            offsets,
            body,
            nlmsg_type,
            next_seq: 1,
            replies: ReplyBuffers::new(count as usize, slot_len),
            syscalls: 0,
        })
    }

    /// Sends the whole batch in one `sendmsg` and waits for every echo.
    fn round_trip(&mut self, socket: &mut ModuleSocket) -> Result<(), Error> {
        let first = self.next_seq;
        for &offset in &self.offsets {
            self.datagram[offset + 8..offset + 12].copy_from_slice(&self.next_seq.to_ne_bytes());
            self.next_seq = self.next_seq.wrapping_add(1);
        }
        socket.send_bytes(&self.datagram)?;
        self.syscalls += 1;

        let mut expected = first;
        let count = self.offsets.len() as u32;
        while expected.wrapping_sub(first) < count {
            let received = if count == 1 {
                self.replies.recv_one(socket)?
            } else {
                self.replies.recv_many(socket)?
            };
            self.syscalls += 1;
            for slot in 0..received {
                let mut datagram = self.replies.datagram(slot);
                while !datagram.is_empty() {
                    let len = check_reply(datagram, self.nlmsg_type, expected, &self.body)?;
                    datagram = datagram.get(len..).unwrap_or_default();
                    expected = expected.wrapping_add(1);
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, start: Instant, usage: CpuTime, echoes: u64) -> Run {
        let seconds = start.elapsed().as_secs_f64();
        let (user_seconds, system_seconds) = CpuTime::now().since(&usage);
        let syscalls = std::mem::take(&mut self.syscalls);
        Run {
            echoes,
            seconds,
            syscalls,
            user_seconds,
            system_seconds,
        }
    }
}

/// Checks that `datagram` starts with exactly the echo of request `seq`;
/// returns that message's length, padding included.
fn check_reply(datagram: &[u8], nlmsg_type: u16, seq: u32, body: &[u8]) -> Result<usize, Error> {
    if datagram.len() < HEADER_LEN {
        return Err(Error::Decode(format!(
            "a {}-byte datagram is shorter than a netlink header",
            datagram.len()
        )));
    }
    let field = |at: usize| u32::from_ne_bytes(datagram[at..at + 4].try_into().unwrap());
    let (len, got_type, got_seq) = (
        field(0) as usize,
        u16::from_ne_bytes([datagram[4], datagram[5]]),
        field(8),
    );
    if got_type == libc::NLMSG_ERROR as u16 && datagram.len() >= HEADER_LEN + 4 {
        let errno = -(field(HEADER_LEN) as i32);
        return Err(Error::Kernel {
            seq: got_seq,
            errno,
            ack: Default::default(),
        });
    }
    if len < HEADER_LEN {
        return Err(Error::Decode(format!("a message claims {len} bytes")));
    }
    if got_seq != seq || got_type != nlmsg_type {
        return Err(Error::Decode(format!(
            "expected the echo of request {seq} (type {nlmsg_type}), got request {got_seq} (type {got_type})"
        )));
    }
    let got_body = datagram
        .get(HEADER_LEN..len.min(datagram.len()))
        .unwrap_or_default();
    if got_body != body {
        return Err(Error::Mismatch {
            seq,
            sent: body.len(),
            received: got_body.len(),
            detail: String::new(),
        });
    }
    Ok(len.next_multiple_of(4))
}

/// Buffers for up to `slots` datagrams, read with one `recvmmsg`.
///
/// The `recvmmsg` headers are set up once: each points to one iovec, which
/// points to one slot of `buffers`. The three vectors are never resized, so
/// their heap memory, and with it every pointer, stays put when the struct
/// moves.
struct ReplyBuffers {
    buffers: Vec<u8>,
    slot_len: usize,
    lens: Vec<usize>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl ReplyBuffers {
    fn new(slots: usize, slot_len: usize) -> Self {
        let mut buffers: Vec<u8> = vec![0; slots * slot_len];
        // From `as_mut_ptr`, which creates no reference to the slots: the
        // pointers stay valid beside the slices `datagram` lends.
        let base = buffers.as_mut_ptr();
        let mut iovecs: Vec<libc::iovec> = (0..slots)
            .map(|slot| libc::iovec {
                iov_base: base.wrapping_add(slot * slot_len).cast(),
                iov_len: slot_len,
            })
            .collect();
        let headers = iovecs
            .iter_mut()
            .map(|iovec| {
                // SAFETY: `mmsghdr` is plain data for which all-zero is valid.
                let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
                header.msg_hdr.msg_iov = iovec;
                header.msg_hdr.msg_iovlen = 1;
                header
            })
            .collect();
        Self {
            buffers,
            slot_len,
            lens: vec![0; slots],
            iovecs,
            headers,
        }
    }

    fn datagram(&self, slot: usize) -> &[u8] {
        let start = slot * self.slot_len;
        &self.buffers[start..start + self.lens[slot]]
    }

    /// One `recv` into the first slot.
    fn recv_one(&mut self, socket: &ModuleSocket) -> Result<usize, Error> {
        let fd = socket.as_fd().as_raw_fd();
        // SAFETY: the first slot is valid for writes of `slot_len` bytes for
        // the duration of the call.
        let len = unsafe {
            libc::recv(
                fd,
                self.buffers.as_mut_ptr().cast(),
                self.slot_len,
                libc::MSG_TRUNC,
            )
        };
        let len = received(len, socket)?;
        self.lens[0] = len.min(self.slot_len);
        Ok(1)
    }

    /// One `recvmmsg`: waits for a datagram, then takes all that are queued,
    /// up to the number of slots.
    fn recv_many(&mut self, socket: &ModuleSocket) -> Result<usize, Error> {
        let fd = socket.as_fd().as_raw_fd();
        debug_assert_eq!(self.iovecs.len(), self.headers.len());
        // SAFETY: every header points to one iovec of `self.iovecs`, which
        // points to a distinct slot of `self.buffers` (see the type's
        // documentation); both outlive the call and are not touched until
        // it returns.
        let count = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                self.headers.len() as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        let count = received(count as isize, socket)?;
        for (len, header) in self.lens.iter_mut().zip(&self.headers[..count]) {
            if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                return Err(Error::Decode(format!(
                    "a reply does not fit the {}-byte slot",
                    self.slot_len
                )));
            }
            *len = header.msg_len as usize;
        }
        Ok(count)
    }
}

/// The count a receive call returned, or what its errno means.
fn received(result: isize, socket: &ModuleSocket) -> Result<usize, Error> {
    if result >= 0 {
        return Ok(result as usize);
    }
    let error = std::io::Error::last_os_error();
    Err(match error.raw_os_error() {
        Some(libc::EAGAIN) => Error::Timeout(socket.timeout()),
        Some(libc::ENOBUFS) => Error::Overrun,
        _ => Error::Io {
            context: "cannot receive from the module",
            source: error,
        },
    })
}

/// CPU time of the calling thread.
struct CpuTime {
    user: Duration,
    system: Duration,
}

impl CpuTime {
    fn now() -> Self {
        // SAFETY: `rusage` is plain data for which all-zero is valid.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is valid for writes; RUSAGE_THREAD cannot fail
        // with a valid pointer.
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
        let duration = |time: libc::timeval| {
            Duration::from_secs(time.tv_sec as u64) + Duration::from_micros(time.tv_usec as u64)
        };
        Self {
            user: duration(usage.ru_utime),
            system: duration(usage.ru_stime),
        }
    }

    /// (user, system) seconds since `earlier`.
    fn since(&self, earlier: &Self) -> (f64, f64) {
        (
            (self.user.saturating_sub(earlier.user)).as_secs_f64(),
            (self.system.saturating_sub(earlier.system)).as_secs_f64(),
        )
    }
}

/// Middle value of `values` (sorted in place), and its spread (min, max).
pub fn median_and_spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    (median, values[0], values[values.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_batch_is_one_datagram_of_identical_messages() {
        let batch = Batch::new(Protocol::Raw, b"abcde", 3, None).unwrap();
        assert_eq!(batch.offsets, [0, 24, 48]);
        assert_eq!(batch.datagram.len(), 72);
        assert_eq!(batch.body, b"abcde");
    }

    #[test]
    fn a_typed_body_is_the_data_attribute() {
        let batch = Batch::new(Protocol::Typed, b"abc", 1, None).unwrap();
        assert_eq!(batch.nlmsg_type, nltest_client::protocol::raw::msg::ECHO);
        // nla_len 7, nla_type DATA, "abc" and one byte of padding.
        assert_eq!(batch.body, [7, 0, 1, 0, b'a', b'b', b'c', 0]);
    }

    #[test]
    fn replies_are_checked_for_sequence_type_and_body() {
        let batch = Batch::new(Protocol::Raw, b"abcd", 1, None).unwrap();
        let mut reply = batch.datagram.clone();
        reply[8..12].copy_from_slice(&7u32.to_ne_bytes());
        assert!(check_reply(&reply, 0, 7, &batch.body).is_ok());
        assert!(check_reply(&reply, 0, 8, &batch.body).is_err());
        assert!(check_reply(&reply, 1, 7, &batch.body).is_err());
        reply[HEADER_LEN] ^= 1;
        assert!(matches!(
            check_reply(&reply, 0, 7, &batch.body),
            Err(Error::Mismatch { .. })
        ));
    }

    #[test]
    fn batches_fit_the_socket_buffers() {
        assert_eq!(batch_that_fits(16, 64), 64);
        assert_eq!(batch_that_fits(1024, 64), 64);
        assert_eq!(batch_that_fits(16384, 64), 5);
        assert_eq!(batch_that_fits(1 << 20, 64), 1);
    }
}
