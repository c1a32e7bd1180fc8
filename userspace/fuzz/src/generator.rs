//! Seeded, reproducible datagrams that are valid, nearly valid or garbage,
//! aware of the protocol's structure: messages, typed requests and their
//! attributes.

use nltest_client::message::{align, encode, RawMessage, HEADER_LEN};
use nltest_client::protocol::*;
use nltest_client::{genl, unit, Command, FamilyInfo, Message, Request};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Generates fuzz datagrams; the same seed gives the same sequence.
pub struct Generator {
    rng: ChaCha8Rng,
}

const NLA_F_NESTED: u16 = 0x8000;
const NLM_F_REQUEST: u16 = netlink_packet_core::NLM_F_REQUEST;

/// What [`Generator::request`] makes.
enum Typed {
    /// A request of the service.
    Request(Request),
    /// A request of any type, without attributes.
    Any(u16),
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The generator's random numbers, for the mutator that shares its seed.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.rng.gen_range(0..=max);
        (0..len).map(|_| self.rng.gen()).collect()
    }

    pub fn nlmsg_type(&mut self) -> u16 {
        match self.rng.gen_range(0..6) {
            0 => 0,
            1 => self.rng.gen_range(1..16),
            2 => self.rng.gen_range(raw::msg::ECHO..=raw::msg::EVENT),
            3 => self.rng.gen_range(16..64),
            _ => self.rng.gen(),
        }
    }

    pub fn flags(&mut self) -> u16 {
        // NLM_F_REQUEST, ACK, ECHO, DUMP bits most of the time, anything else
        // sometimes.
        if self.rng.gen_bool(0.8) {
            self.rng.gen::<u16>() & 0x031f
        } else {
            self.rng.gen()
        }
    }

    /// One attribute, well-formed or not.
    pub fn attribute(&mut self, out: &mut Vec<u8>) {
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
    pub fn message(&mut self, out: &mut Vec<u8>) {
        let seq = self.rng.gen();
        if self.rng.gen_bool(0.5) {
            let message = RawMessage {
                nlmsg_type: self.nlmsg_type(),
                data: self.bytes(512),
            };
            let flags = self.flags();
            encode(out, seq, flags, message);
            return;
        }
        let start = out.len();
        let request = self.request();
        let flags = self.request_flags();
        match request {
            Typed::Request(request) => {
                unit::encode(out, seq, request.flags_with(flags), request.message())
                    .expect("small attributes always fit")
            }
            // Any type the unit may be sent as a request, without attributes.
            Typed::Any(nlmsg_type) => encode(
                out,
                seq,
                flags | NLM_F_REQUEST,
                RawMessage {
                    nlmsg_type,
                    data: vec![],
                },
            ),
        }
        // More attributes, of any kind.
        for _ in 0..self.rng.gen_range(0..4) {
            self.attribute(out);
        }
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Breaks the framing of the message at `start`.
    pub fn corrupt(&mut self, out: &mut Vec<u8>, start: usize) {
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

    /// A typed request of any command, some of them invalid.
    fn request(&mut self) -> Typed {
        Typed::Request(match self.rng.gen_range(0..4) {
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
            _ => return Typed::Any(self.nlmsg_type()),
        })
    }

    /// `NLM_F_ACK` and `NLM_F_ECHO`, each or both or none.
    fn request_flags(&mut self) -> u16 {
        self.rng.gen::<u16>() & (netlink_packet_core::NLM_F_ACK | netlink_packet_core::NLM_F_ECHO)
    }

    /// One message of the module's generic netlink `family`, framed right
    /// (so that nothing reaches another family), with any command, version,
    /// reserved bytes, flags and attributes, well-formed or not.
    pub fn genl_message(&mut self, out: &mut Vec<u8>, family: &FamilyInfo) {
        let start = out.len();
        let request = self.request();
        let flags = self.request_flags();
        let (message, flags) = match request {
            Typed::Request(request) => (request.message(), request.flags_with(flags)),
            // The command of the operation the type is on the unit, or any
            // number.
            Typed::Any(nlmsg_type) => {
                let command = Command::from_nlmsg_type(nlmsg_type)
                    .unwrap_or(Command::Other(nlmsg_type as u8));
                (Message::new(command, vec![]), flags | NLM_F_REQUEST)
            }
        };
        genl::encode(out, self.rng.gen(), flags, message, family.id)
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
            self.attribute(out);
        }
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// A datagram for the module's generic netlink `family`: 1 to 4 of
    /// [`Self::genl_message`].
    pub fn genl_datagram(&mut self, family: &FamilyInfo) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..self.rng.gen_range(1..=4) {
            self.genl_message(&mut out, family);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genl_datagrams_stay_in_the_family() {
        let family = FamilyInfo {
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
            match nltest_client::message::decode(&datagram) {
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
