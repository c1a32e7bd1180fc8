//! The typed service on the module's protocol unit, as `nltest-raw.yaml`
//! (netlink-raw) frames it: the operation is the `nlmsg_type`, the
//! attributes follow the netlink header. Its encoder and decoder; beside
//! it, the unit carries the raw echo protocol ([`crate::message`]).

use crate::attr::{check_lengths, parse_attrs};
use crate::message::{decode_with, encode_inner, Reply};
use crate::service::{Command, Message};
use crate::Error;
use netlink_packet_core::{
    DecodeError, Emitable, ErrorContext, NetlinkSerializable, ParseableParametrized,
};

/// A message of the typed service as the unit carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitMessage(pub Message);

impl NetlinkSerializable for UnitMessage {
    fn message_type(&self) -> u16 {
        self.0.command.nlmsg_type()
    }

    fn buffer_len(&self) -> usize {
        self.0.attrs.as_slice().buffer_len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        self.0.attrs.as_slice().emit(buffer)
    }
}

/// Parses the payload of a message whose `nlmsg_type` is an operation's.
impl ParseableParametrized<[u8], u16> for UnitMessage {
    fn parse_with_param(payload: &[u8], nlmsg_type: u16) -> Result<Self, DecodeError> {
        let command = Command::from_nlmsg_type(nlmsg_type).ok_or_else(|| {
            DecodeError::from(format!("nlmsg_type {nlmsg_type:#x} is no operation's"))
        })?;
        let attrs = parse_attrs(payload).context(format!("attributes of {command:?}"))?;
        Ok(Self(Message { command, attrs }))
    }
}

/// Appends `message` to `datagram` as a message of the unit, with `flags`
/// (`NLM_F_REQUEST` is the caller's to set); fails when an attribute is too
/// large for netlink's 16-bit attribute length.
pub fn encode(datagram: &mut Vec<u8>, seq: u32, flags: u16, message: Message) -> Result<(), Error> {
    check_lengths(&message.attrs)?;
    encode_inner(datagram, seq, flags, UnitMessage(message));
    Ok(())
}

/// Decodes every message of a datagram from the unit: the messages whose
/// `nlmsg_type` is an operation's and whose payload is attributes as typed
/// messages, the others as the raw echo protocol's. (A raw echo may carry
/// an operation's type: the unit echoes any message without
/// `NLM_F_REQUEST`, and its payload need not be attributes.)
pub fn decode(datagram: &[u8]) -> Result<Vec<Reply>, Error> {
    decode_with(datagram, |seq, nlmsg_type, payload| {
        Ok(match UnitMessage::parse_with_param(payload, nlmsg_type) {
            Ok(UnitMessage(message)) => Reply::Typed { seq, message },
            Err(_) => Reply::raw(seq, nlmsg_type, payload),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{Attr, StatAttr, MAX_ATTRIBUTE_LEN};
    use crate::message::encode as encode_raw;
    use crate::message::RawMessage;
    use netlink_packet_core::{DefaultNla, NLM_F_ACK, NLM_F_REQUEST};
    use nltest_protocol::{attrs, raw, Counter};

    #[test]
    fn broadcast_request_layout() {
        let mut datagram = Vec::new();
        let message = Message::new(
            Command::Broadcast,
            vec![Attr::Data(b"hi".to_vec()), Attr::Group(2)],
        );
        encode(&mut datagram, 3, NLM_F_REQUEST | NLM_F_ACK, message).unwrap();
        // header, DATA (4 + 2, padded to 8), GROUP (4 + 4)
        assert_eq!(datagram.len(), 16 + 8 + 8);
        assert_eq!(
            u16::from_ne_bytes([datagram[4], datagram[5]]),
            raw::msg::BROADCAST
        );
        assert_eq!(
            u16::from_ne_bytes([datagram[6], datagram[7]]),
            NLM_F_REQUEST | NLM_F_ACK
        );
        assert_eq!(&datagram[16..22], &[6, 0, attrs::DATA as u8, 0, b'h', b'i']);
        assert_eq!(&datagram[24..28], &[8, 0, attrs::GROUP as u8, 0]);
        assert_eq!(u32::from_ne_bytes(datagram[28..32].try_into().unwrap()), 2);
    }

    #[test]
    fn refuses_an_attribute_over_64_kib() {
        let echo = |len| Message::new(Command::Echo, vec![Attr::Data(vec![0; len])]);
        let result = encode(&mut Vec::new(), 1, 0, echo(MAX_ATTRIBUTE_LEN + 1));
        assert!(matches!(
            result,
            Err(Error::AttributeTooLarge {
                nla_type: attrs::DATA,
                len: 65532
            })
        ));
        assert!(encode(&mut Vec::new(), 1, 0, echo(MAX_ATTRIBUTE_LEN)).is_ok());
    }

    #[test]
    fn typed_messages_and_raw_ones_each_by_their_type() {
        let stats = Message::new(
            Command::GetStats,
            vec![Attr::Stat(vec![
                StatAttr::Counter(Counter::Bytes),
                StatAttr::Value(1 << 40),
            ])],
        );
        let unknown = Message::new(
            Command::Event,
            vec![
                Attr::Data(b"x".to_vec()),
                Attr::Other(DefaultNla::new(9, vec![1])),
            ],
        );
        let mut datagram = Vec::new();
        encode(&mut datagram, 1, 0, stats.clone()).unwrap();
        let raw = RawMessage {
            nlmsg_type: 0x20,
            data: b"raw".to_vec(),
        };
        encode_raw(&mut datagram, 2, 0, raw.clone());
        encode(&mut datagram, 0, 0, unknown.clone()).unwrap();
        assert_eq!(
            decode(&datagram).unwrap(),
            [
                Reply::Typed {
                    seq: 1,
                    message: stats
                },
                Reply::Raw {
                    seq: 2,
                    message: raw
                },
                Reply::Typed {
                    seq: 0,
                    message: unknown
                },
            ]
        );
    }

    #[test]
    fn a_raw_echo_with_an_operations_type_stays_raw() {
        // GROUP of 2 bytes: no u32, so no typed ECHO; and bytes that are no
        // attributes at all.
        let mut datagram = Vec::new();
        let message = Message::new(
            Command::Echo,
            vec![Attr::Other(DefaultNla::new(attrs::GROUP, vec![1, 0]))],
        );
        encode(&mut datagram, 1, 0, message).unwrap();
        let text = RawMessage {
            nlmsg_type: raw::msg::ECHO,
            data: b"hello".to_vec(),
        };
        encode_raw(&mut datagram, 2, 0, text.clone());
        let replies = decode(&datagram).unwrap();
        assert!(matches!(
            &replies[0],
            Reply::Raw { seq: 1, message } if message.nlmsg_type == raw::msg::ECHO
                && message.data == [6, 0, attrs::GROUP as u8, 0, 1, 0, 0, 0]
        ));
        assert_eq!(
            replies[1],
            Reply::Raw {
                seq: 2,
                message: text
            }
        );
    }
}
