//! A structure-aware fuzzer for the module: seeded, reproducible datagrams
//! that are valid, nearly valid or garbage, sent raw, with the module's
//! health checked as the campaign goes.

use crate::genl::GenlFamily;
use crate::message::{align, encode, RawMessage, HEADER_LEN};
use crate::service::{encode_genl_request, encode_request, Request, Response};
use crate::{EchoSocket, Error};
use nltest_protocol::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Generates fuzz datagrams; the same seed gives the same sequence.
pub struct Generator {
    rng: ChaCha8Rng,
}

const NLA_F_NESTED: u16 = 0x8000;

impl Generator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.rng.gen_range(0..=max);
        (0..len).map(|_| self.rng.gen()).collect()
    }

    fn kind(&mut self) -> u16 {
        match self.rng.gen_range(0..6) {
            0 => 0,
            1 => self.rng.gen_range(1..16),
            2 => self.rng.gen_range(raw::msg::ECHO..=raw::msg::EVENT),
            3 => self.rng.gen_range(16..64),
            _ => self.rng.gen(),
        }
    }

    fn flags(&mut self) -> u16 {
        // NLM_F_REQUEST, ACK, ECHO, DUMP bits most of the time, anything else
        // sometimes.
        if self.rng.gen_bool(0.8) {
            self.rng.gen::<u16>() & 0x031f
        } else {
            self.rng.gen()
        }
    }

    /// One attribute, well-formed or not.
    fn attribute(&mut self, out: &mut Vec<u8>) {
        let kind: u16 = match self.rng.gen_range(0..5) {
            0 => attrs::DATA,
            1 => attrs::GROUP,
            2 => self.rng.gen_range(0..=attrs::MAX + 2),
            3 => self.rng.gen_range(0..=attrs::MAX) | NLA_F_NESTED,
            _ => self.rng.gen(),
        };
        let value = match kind {
            attrs::GROUP if self.rng.gen_bool(0.7) => self
                .rng
                .gen_range(0..=GROUP_COUNT + 1)
                .to_ne_bytes()
                .to_vec(),
            _ => self.bytes(64),
        };
        let declared = match self.rng.gen_range(0..8) {
            0 => self.rng.gen_range(0..4), // shorter than a header
            1 => (value.len() + 4 + self.rng.gen_range(1..64)) as u16, // past the end
            2 => self.rng.gen(),
            _ => (value.len() + 4) as u16,
        };
        out.extend_from_slice(&declared.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&value);
        out.resize(align(out.len()), 0);
    }

    /// One message, well-formed framing; what is inside may be anything.
    fn message(&mut self, out: &mut Vec<u8>) {
        let seq = self.rng.gen();
        if self.rng.gen_bool(0.5) {
            let message = RawMessage {
                kind: self.kind(),
                data: self.bytes(512),
            };
            let flags = self.flags();
            encode(out, seq, flags, message);
            return;
        }
        let start = out.len();
        let request = self.request();
        let flags = self.request_flags();
        encode_request(out, seq, flags, &request).expect("small attributes always fit");
        // More attributes, of any kind.
        for _ in 0..self.rng.gen_range(0..4) {
            self.attribute(out);
        }
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Breaks the framing of the message at `start`.
    fn corrupt(&mut self, out: &mut Vec<u8>, start: usize) {
        let len = out.len() - start;
        match self.rng.gen_range(0..4) {
            0 => {
                let declared: u32 = match self.rng.gen_range(0..7) {
                    0 => 0,
                    1 => self.rng.gen_range(1..HEADER_LEN as u32),
                    2 => len as u32 - 1,
                    3 => len as u32 + self.rng.gen_range(1..8),
                    4 => len as u32 + 2, // misaligned
                    5 => u32::MAX,
                    _ => self.rng.gen(),
                };
                out[start..start + 4].copy_from_slice(&declared.to_ne_bytes());
            }
            1 => out.truncate(start + self.rng.gen_range(0..len)),
            2 => {
                let at = start + self.rng.gen_range(0..len);
                out[at] ^= 1 << self.rng.gen_range(0..8);
            }
            _ => out.extend(self.bytes(7)),
        }
    }

    /// A datagram for the module's generic netlink `family`: 1 to 4
    /// messages of the family, framed right (so that nothing reaches another
    /// family), with any command, version, reserved bytes, flags and
    /// attributes, well-formed or not.
    /// A typed request of any command, some of them invalid.
    fn request(&mut self) -> Request {
        match self.rng.gen_range(0..4) {
            0 => Request::Echo {
                data: self.bytes(256),
            },
            1 => Request::Broadcast {
                group: self.rng.gen_range(0..=GROUP_COUNT + 1),
                data: self.bytes(64),
            },
            2 => Request::GetStats {
                dump: self.rng.gen(),
            },
            _ => Request::Custom {
                kind: self.kind(),
                attributes: vec![],
            },
        }
    }

    /// `NLM_F_ACK` and `NLM_F_ECHO`, each or both or none.
    fn request_flags(&mut self) -> u16 {
        self.rng.gen::<u16>() & (netlink_packet_core::NLM_F_ACK | netlink_packet_core::NLM_F_ECHO)
    }

    pub fn genl_datagram(&mut self, family: &GenlFamily) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..self.rng.gen_range(1..=4) {
            let start = out.len();
            let request = self.request();
            let flags = self.request_flags();
            encode_genl_request(&mut out, self.rng.gen(), flags, &request, family)
                .expect("small attributes always fit");
            // Any flags, sometimes; any version and reserved bytes, sometimes.
            if self.rng.gen_bool(0.3) {
                let flags = self.flags();
                out[start + 6..start + 8].copy_from_slice(&flags.to_ne_bytes());
            }
            if self.rng.gen_bool(0.2) {
                out[start + HEADER_LEN + 1] = self.rng.gen();
            }
            if self.rng.gen_bool(0.1) {
                out[start + HEADER_LEN + 2] = self.rng.gen();
            }
            for _ in 0..self.rng.gen_range(0..4) {
                self.attribute(&mut out);
            }
            let len = (out.len() - start) as u32;
            out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
        }
        out
    }

    /// The next datagram.
    pub fn datagram(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.rng.gen_range(0..10) {
            // Pure garbage.
            0 => out = self.bytes(256),
            // Several messages, one of them broken.
            1..=3 => {
                let count = self.rng.gen_range(2..8);
                let broken = self.rng.gen_range(0..count);
                for index in 0..count {
                    let start = out.len();
                    self.message(&mut out);
                    if index == broken {
                        self.corrupt(&mut out, start);
                    }
                }
            }
            // One message, broken.
            4..=6 => {
                self.message(&mut out);
                self.corrupt(&mut out, 0);
            }
            // One message, framed right.
            _ => self.message(&mut out),
        }
        out
    }
}

/// What a campaign did.
#[derive(Debug, Default)]
pub struct Report {
    pub datagrams: u64,
    pub bytes: u64,
    pub replies: u64,
    /// Health checks (a raw and a typed echo, verified) that passed.
    pub checks: u64,
    /// Send errors by errno: the kernel refusing a datagram is expected.
    pub send_errors: BTreeMap<i32, u64>,
}

/// Checks that the module answers a raw and a typed echo correctly, on a
/// fresh socket.
pub fn health_check(unit: u32, iteration: u64) -> Result<(), Error> {
    let mut socket = EchoSocket::connect(unit)?;
    let data = format!("health check after {iteration} datagrams").into_bytes();
    socket.echo(RawMessage {
        kind: 0,
        data: data.clone(),
    })?;
    match socket
        .request(&Request::Echo { data: data.clone() }, true)?
        .as_slice()
    {
        [Response::Echo { data: echoed }] if *echoed == data => Ok(()),
        other => Err(Error::Decode(format!("typed echo answered {other:?}"))),
    }
}

/// Checks that the module answers a typed echo correctly through its generic
/// netlink family, on a fresh socket.
pub fn genl_health_check(iteration: u64) -> Result<(), Error> {
    let mut socket = EchoSocket::connect_genl()?;
    let data = format!("health check after {iteration} datagrams").into_bytes();
    match socket
        .request(&Request::Echo { data: data.clone() }, true)?
        .as_slice()
    {
        [Response::Echo { data: echoed }] if *echoed == data => Ok(()),
        other => Err(Error::Decode(format!("typed echo answered {other:?}"))),
    }
}

/// Like [`run`], through the module's generic netlink family, with
/// [`Generator::genl_datagram`].
pub fn run_genl(seed: u64, iterations: u64, check_every: u64) -> Result<Report, Error> {
    let mut generator = Generator::new(seed);
    let mut socket = EchoSocket::connect_genl()?;
    let family = socket
        .genl_family()
        .cloned()
        .ok_or_else(|| Error::Decode("no family".into()))?;
    socket.set_nonblocking(true)?;
    let mut report = Report::default();
    for iteration in 1..=iterations {
        let datagram = generator.genl_datagram(&family);
        campaign_step(&mut socket, &datagram, &mut report)?;
        if iteration % check_every == 0 || iteration == iterations {
            genl_health_check(iteration)?;
            report.checks += 1;
        }
    }
    Ok(report)
}

/// Sends one datagram and reads whatever comes back.
fn campaign_step(
    socket: &mut EchoSocket,
    datagram: &[u8],
    report: &mut Report,
) -> Result<(), Error> {
    report.datagrams += 1;
    report.bytes += datagram.len() as u64;
    match socket.send_bytes(datagram) {
        Ok(()) => {}
        Err(Error::Io { source, .. }) => {
            *report
                .send_errors
                .entry(source.raw_os_error().unwrap_or(0))
                .or_default() += 1;
        }
        Err(error) => return Err(error),
    }
    loop {
        match socket.recv() {
            Ok(replies) => report.replies += replies.len() as u64,
            Err(Error::Timeout(_)) => break,
            // A full queue, or a reply we cannot decode: both are the
            // fuzzer's business, not the module's.
            Err(Error::Overrun | Error::Decode(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Sends `iterations` datagrams from `seed` to the module on `unit`, reading
/// whatever comes back, with a health check every `check_every` datagrams
/// and at the end.
pub fn run(unit: u32, seed: u64, iterations: u64, check_every: u64) -> Result<Report, Error> {
    let mut generator = Generator::new(seed);
    let mut socket = EchoSocket::connect(unit)?;
    socket.set_nonblocking(true)?;
    let mut report = Report::default();
    for iteration in 1..=iterations {
        let datagram = generator.datagram();
        campaign_step(&mut socket, &datagram, &mut report)?;
        if iteration % check_every == 0 || iteration == iterations {
            health_check(unit, iteration)?;
            report.checks += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genl_datagrams_stay_in_the_family() {
        let family = GenlFamily {
            id: 0x17,
            version: 1,
            events_group: 6,
            ops: vec![],
        };
        let mut generator = Generator::new(3);
        for _ in 0..1000 {
            let datagram = generator.genl_datagram(&family);
            let mut rest = &datagram[..];
            while !rest.is_empty() {
                let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
                assert!(len >= HEADER_LEN + 4 && len <= rest.len());
                assert_eq!(u16::from_ne_bytes([rest[4], rest[5]]), 0x17);
                rest = &rest[align(len).min(rest.len())..];
            }
        }
    }

    #[test]
    fn same_seed_same_datagrams() {
        let run = |seed| {
            let mut generator = Generator::new(seed);
            (0..200).map(|_| generator.datagram()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn mixes_valid_and_broken_framing() {
        let mut generator = Generator::new(1);
        let (mut valid, mut broken) = (0, 0);
        for _ in 0..1000 {
            let datagram = generator.datagram();
            match crate::message::decode(&datagram) {
                Ok(_) => valid += 1,
                Err(_) => broken += 1,
            }
        }
        assert!(
            valid > 100 && broken > 100,
            "valid {valid}, broken {broken}"
        );
    }
}
