//! Mutations of a datagram that know its structure: the messages in it, the
//! headers of each and the attributes after them.

use crate::generator::Generator;
use nltest_client::genl::GENL_HDRLEN;
use nltest_client::message::{align, HEADER_LEN};
use nltest_client::FamilyInfo;
use rand::seq::SliceRandom;
use rand::Rng;

/// Which way a datagram goes to the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Its protocol unit: any bytes.
    Unit,
    /// Its generic netlink family: messages of the family only, so that
    /// nothing reaches another family.
    Genl,
}

/// A datagram, as the messages it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub via: Via,
    /// Each message with its header; the last may be a fragment.
    pub messages: Vec<Vec<u8>>,
}

/// A datagram holds at most this many messages.
const MAX_MESSAGES: usize = 8;

impl Datagram {
    /// Splits `bytes` into messages where their lengths are plausible.
    pub fn parse(via: Via, bytes: &[u8]) -> Self {
        let mut messages = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let declared = match rest.get(..4) {
                Some(len) => u32::from_ne_bytes(len.try_into().unwrap()) as usize,
                None => 0,
            };
            if declared < HEADER_LEN || declared > rest.len() {
                messages.push(rest.to_vec());
                break;
            }
            let end = align(declared).min(rest.len());
            messages.push(rest[..end].to_vec());
            rest = &rest[end..];
        }
        Self { via, messages }
    }

    /// The bytes to send: the messages one after the other, each padded to
    /// the netlink alignment.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for message in &self.messages {
            out.extend_from_slice(message);
            out.resize(align(out.len()), 0);
        }
        out
    }

    /// Offset of the first attribute: after the generic netlink header on
    /// the family, right after the netlink header on the unit (typed
    /// requests).
    fn attributes_start(&self) -> usize {
        HEADER_LEN
            + match self.via {
                Via::Unit => 0,
                Via::Genl => GENL_HDRLEN,
            }
    }
}

/// A new message for `via`, from the generator.
fn fresh_message(generator: &mut Generator, via: Via, family: &FamilyInfo) -> Vec<u8> {
    let mut out = Vec::new();
    match via {
        Via::Unit => generator.message(&mut out),
        Via::Genl => generator.genl_message(&mut out, family),
    }
    out
}

/// Values at the edges of what a length or a type takes.
const INTERESTING_U16: &[u16] = &[0, 1, 3, 4, 5, 7, 8, 0x7fff, 0x8000, 0xffff];

/// Sets the `u16` at `at` of `message` to an edge value or a random one.
fn set_u16(generator: &mut Generator, message: &mut [u8], at: usize) {
    if at + 2 > message.len() {
        return;
    }
    let value = if generator.rng().gen_bool(0.7) {
        *INTERESTING_U16.choose(generator.rng()).unwrap()
    } else {
        generator.rng().gen()
    };
    message[at..at + 2].copy_from_slice(&value.to_ne_bytes());
}

/// Where the attributes of `message` start, one offset each, walking their
/// lengths while they are plausible.
fn attribute_offsets(message: &[u8], start: usize) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = start;
    while at + 4 <= message.len() {
        offsets.push(at);
        let len = u16::from_ne_bytes([message[at], message[at + 1]]) as usize;
        if len < 4 {
            break;
        }
        at += align(len);
    }
    offsets
}

/// Changes one message in place. On the family the netlink header's length
/// and type stay, so the message stays the family's.
fn mutate_message(generator: &mut Generator, datagram: &mut Datagram, index: usize) {
    let start = datagram.attributes_start();
    let via = datagram.via;
    let message = &mut datagram.messages[index];
    // The bytes a mutation may touch: on the family, not its length or type.
    let first = match via {
        Via::Unit => 0,
        Via::Genl => 6,
    };
    if message.len() <= first {
        return;
    }
    match generator.rng().gen_range(0..8) {
        // One bit.
        0 => {
            let at = generator.rng().gen_range(first..message.len());
            message[at] ^= 1 << generator.rng().gen_range(0..8);
        }
        // One byte, anything.
        1 => {
            let at = generator.rng().gen_range(first..message.len());
            message[at] = generator.rng().gen();
        }
        // The header's flags, or on the unit its type.
        2 => {
            let at = match via {
                Via::Unit if generator.rng().gen_bool(0.5) => 4,
                _ => 6,
            };
            let value = if at == 4 {
                generator.nlmsg_type()
            } else {
                generator.flags()
            };
            if let Some(field) = message.get_mut(at..at + 2) {
                field.copy_from_slice(&value.to_ne_bytes());
            }
        }
        // An attribute's length or type.
        3 | 4 => {
            let offsets = attribute_offsets(message, start);
            if let Some(&at) = offsets.choose(generator.rng()) {
                let field = if generator.rng().gen_bool(0.6) { 0 } else { 2 };
                set_u16(generator, message, at + field);
            }
        }
        // One more attribute, the message's length following.
        5 => {
            generator.attribute(message);
            if via == Via::Genl || generator.rng().gen_bool(0.8) {
                let len = message.len() as u32;
                message[..4].copy_from_slice(&len.to_ne_bytes());
            }
        }
        // Cut the message short, or (on the unit) break its framing.
        6 => match via {
            // The generator breaks whole headers; a fragment just grows.
            Via::Unit if message.len() >= HEADER_LEN => generator.corrupt(message, 0),
            Via::Unit => message.extend(generator.bytes(8)),
            Via::Genl => {
                let offsets = attribute_offsets(message, start);
                if let Some(&at) = offsets.choose(generator.rng()) {
                    message.truncate(at);
                    let len = message.len() as u32;
                    message[..4].copy_from_slice(&len.to_ne_bytes());
                }
            }
        },
        // An attribute's value, grown or shrunk, its length following.
        _ => {
            let offsets = attribute_offsets(message, start);
            if let Some(&at) = offsets.choose(generator.rng()) {
                let extra = generator.bytes(32);
                let end = message.len();
                let declared = u16::from_ne_bytes([message[at], message[at + 1]]) as usize;
                let value_end = (at + declared.max(4)).min(end);
                let mut bytes = message[..value_end].to_vec();
                bytes.extend_from_slice(&extra);
                let new_len = (bytes.len() - at) as u16;
                bytes[at..at + 2].copy_from_slice(&new_len.to_ne_bytes());
                bytes.resize(align(bytes.len()), 0);
                bytes.extend_from_slice(&message[align(value_end).min(end)..]);
                let len = bytes.len() as u32;
                bytes[..4].copy_from_slice(&len.to_ne_bytes());
                *message = bytes;
            }
        }
    }
}

/// A datagram made from `parent`: one to three structure-aware changes,
/// some of which take messages of another datagram of the `corpus`.
pub fn mutate(
    generator: &mut Generator,
    parent: &Datagram,
    corpus: &[Datagram],
    family: &FamilyInfo,
) -> Datagram {
    let mut child = parent.clone();
    for _ in 0..generator.rng().gen_range(1..=3) {
        let count = child.messages.len();
        match generator.rng().gen_range(0..10) {
            // A new message, somewhere.
            0 if count < MAX_MESSAGES => {
                let at = generator.rng().gen_range(0..=count);
                let message = fresh_message(generator, child.via, family);
                child.messages.insert(at, message);
            }
            // One message fewer.
            1 if count > 1 => {
                let at = generator.rng().gen_range(0..count);
                child.messages.remove(at);
            }
            // One message twice.
            2 if count > 0 && count < MAX_MESSAGES => {
                let at = generator.rng().gen_range(0..count);
                let message = child.messages[at].clone();
                child.messages.insert(at, message);
            }
            // A message of another datagram that went the same way.
            3 if count > 0 => {
                let donors: Vec<&Datagram> = corpus.iter().filter(|d| d.via == child.via).collect();
                if let Some(donor) = donors.choose(generator.rng()) {
                    if let Some(message) = donor.messages.choose(generator.rng()) {
                        let at = generator.rng().gen_range(0..count);
                        child.messages[at] = message.clone();
                    }
                }
            }
            // Inside one message.
            _ if count > 0 => {
                let at = generator.rng().gen_range(0..count);
                mutate_message(generator, &mut child, at);
            }
            _ => {
                let message = fresh_message(generator, child.via, family);
                child.messages.push(message);
            }
        }
    }
    child
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family() -> FamilyInfo {
        FamilyInfo {
            id: 0x17,
            version: 1,
            events_group: 6,
            ops: vec![],
        }
    }

    #[test]
    fn parse_then_bytes_gives_the_datagram_back() {
        let mut generator = Generator::new(5);
        for _ in 0..500 {
            let bytes = generator.datagram();
            let datagram = Datagram::parse(Via::Unit, &bytes);
            let mut expected = bytes.clone();
            expected.resize(align(expected.len()), 0);
            assert_eq!(datagram.bytes(), expected);
        }
    }

    #[test]
    fn mutants_on_the_family_stay_in_it() {
        let family = family();
        let mut generator = Generator::new(9);
        let mut corpus = vec![Datagram::parse(
            Via::Genl,
            &generator.genl_datagram(&family),
        )];
        for round in 0..3000 {
            let parent = corpus[round % corpus.len()].clone();
            let child = mutate(&mut generator, &parent, &corpus, &family);
            for message in &child.messages {
                assert_eq!(u16::from_ne_bytes([message[4], message[5]]), 0x17);
            }
            if round % 50 == 0 {
                corpus.push(child);
            }
        }
    }

    #[test]
    fn mutants_of_any_unit_datagram_are_made_without_panic() {
        let family = family();
        let mut generator = Generator::new(4);
        let mut corpus = vec![
            Datagram::parse(Via::Unit, &[]),
            Datagram::parse(Via::Unit, &[1, 2, 3, 4, 5, 6]),
        ];
        for round in 0..5_000 {
            let parent = if round % 3 == 0 {
                Datagram::parse(Via::Unit, &generator.datagram())
            } else {
                corpus[round % corpus.len()].clone()
            };
            let child = mutate(&mut generator, &parent, &corpus, &family);
            if round % 100 == 0 {
                corpus.push(child);
            }
        }
    }

    #[test]
    fn mutants_differ_from_their_parent() {
        let family = family();
        let mut generator = Generator::new(2);
        let parent = Datagram::parse(Via::Unit, &generator.datagram());
        let changed = (0..200)
            .filter(|_| mutate(&mut generator, &parent, &[], &family) != parent)
            .count();
        assert!(changed > 150, "only {changed} of 200 mutants changed");
    }
}
