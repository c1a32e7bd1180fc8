//! The raw echo protocol, the framing of datagrams and what every netlink
//! family answers (errors, extended acks, control messages), on
//! `netlink-packet-core`. The typed service's messages are decoded by each
//! transport's own decoder ([`crate::unit`], [`crate::genl`]) on top of
//! [`decode_with`].

use crate::service::Message;
use crate::Error;
use netlink_packet_core::{
    DecodeError, ErrorBuffer, ErrorMessage, NetlinkBuffer, NetlinkDeserializable, NetlinkHeader,
    NetlinkMessage, NetlinkPayload, NetlinkSerializable, NlasIterator, Parseable, NLMSG_ALIGNTO,
    NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN,
};
use std::convert::Infallible;

/// A message of the raw echo protocol: any type, bytes as payload. The
/// module echoes it unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The seed's examples use 0.
    pub nlmsg_type: u16,
    pub data: Vec<u8>,
}

impl NetlinkSerializable for RawMessage {
    fn message_type(&self) -> u16 {
        self.nlmsg_type
    }

    fn buffer_len(&self) -> usize {
        self.data.len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer.copy_from_slice(&self.data);
    }
}

impl NetlinkDeserializable for RawMessage {
    type Error = Infallible;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Infallible> {
        Ok(Self {
            nlmsg_type: header.message_type,
            data: payload.to_vec(),
        })
    }
}

/// One message received from the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A message of the raw echo protocol: a raw echo or a broadcast of one
    /// (the request's type, sequence number and payload); on a generic
    /// netlink socket, a message of another family.
    Raw { seq: u32, message: RawMessage },
    /// A message of the typed service: a reply, an event or a part of a
    /// dump, decoded by its transport's decoder.
    Typed { seq: u32, message: Message },
    /// An `NLMSG_ERROR` answering request `seq`: `errno` is positive, 0 for
    /// an acknowledgement; `ack` holds the extended ack, if any.
    Error { seq: u32, errno: i32, ack: ExtAck },
    /// `NLMSG_DONE`, `NLMSG_NOOP` or `NLMSG_OVERRUN`.
    Control { seq: u32, nlmsg_type: u16 },
}

impl Reply {
    /// A raw message of type `nlmsg_type` carrying a copy of `payload`.
    pub(crate) fn raw(seq: u32, nlmsg_type: u16, payload: &[u8]) -> Self {
        Self::Raw {
            seq,
            message: RawMessage {
                nlmsg_type,
                data: payload.to_vec(),
            },
        }
    }

    pub fn seq(&self) -> u32 {
        match self {
            Self::Raw { seq, .. }
            | Self::Typed { seq, .. }
            | Self::Error { seq, .. }
            | Self::Control { seq, .. } => *seq,
        }
    }

    /// Whether this is `NLMSG_DONE`, the end of a dump.
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            Self::Control {
                nlmsg_type: NLMSG_DONE,
                ..
            }
        )
    }
}

/// The extended ack of an `NLMSG_ERROR` (`NLMSGERR_ATTR_*`), which the
/// kernel adds for sockets with `NETLINK_EXT_ACK` set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtAck {
    /// `NLMSGERR_ATTR_MSG`: what went wrong.
    pub message: Option<String>,
    /// `NLMSGERR_ATTR_OFFS`: offset of the offending attribute in the request.
    pub offset: Option<u32>,
    /// `NLMSGERR_ATTR_POLICY`: the policy the offending attribute broke, as
    /// its `NL_POLICY_TYPE_ATTR_*` attributes (type, value).
    pub policy: Vec<(u16, Vec<u8>)>,
    /// `NLMSGERR_ATTR_MISS_TYPE`: the type of a required attribute the
    /// request lacks.
    pub missing_type: Option<u32>,
    /// `NLMSGERR_ATTR_MISS_NEST`: offset of the nest that lacks it (none: the
    /// attribute is missing at the top level).
    pub missing_nest: Option<u32>,
}

impl ExtAck {
    const NLM_F_CAPPED: u16 = 0x100;
    const NLM_F_ACK_TLVS: u16 = 0x200;
    const NLMSGERR_ATTR_MSG: u16 = 1;
    const NLMSGERR_ATTR_OFFS: u16 = 2;
    const NLMSGERR_ATTR_POLICY: u16 = 4;
    const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
    const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

    /// Parses what follows the error code: the request (its header only when
    /// `NLM_F_CAPPED`), then the attributes when `NLM_F_ACK_TLVS`.
    fn parse(flags: u16, after_code: &[u8]) -> Self {
        let mut ack = Self::default();
        if flags & Self::NLM_F_ACK_TLVS == 0 {
            return ack;
        }
        let request_len = if flags & Self::NLM_F_CAPPED != 0 {
            HEADER_LEN
        } else {
            after_code
                .first_chunk::<4>()
                .map_or(HEADER_LEN, |len| align(u32::from_ne_bytes(*len) as usize))
        };
        let Some(attributes) = after_code.get(request_len..) else {
            return ack;
        };
        for attribute in NlasIterator::new(attributes).flatten() {
            match attribute.kind() {
                Self::NLMSGERR_ATTR_MSG => {
                    let text = attribute
                        .value()
                        .split(|&b| b == 0)
                        .next()
                        .unwrap_or_default();
                    ack.message = Some(String::from_utf8_lossy(text).into_owned());
                }
                Self::NLMSGERR_ATTR_OFFS => {
                    ack.offset = attribute
                        .value()
                        .first_chunk::<4>()
                        .map(|v| u32::from_ne_bytes(*v));
                }
                Self::NLMSGERR_ATTR_MISS_TYPE => {
                    ack.missing_type = u32_value(attribute.value());
                }
                Self::NLMSGERR_ATTR_MISS_NEST => {
                    ack.missing_nest = u32_value(attribute.value());
                }
                Self::NLMSGERR_ATTR_POLICY => {
                    ack.policy = NlasIterator::new(attribute.value())
                        .flatten()
                        .map(|nested| (nested.kind(), nested.value().to_vec()))
                        .collect();
                }
                _ => {}
            }
        }
        ack
    }
}

fn u32_value(value: &[u8]) -> Option<u32> {
    value.first_chunk::<4>().map(|v| u32::from_ne_bytes(*v))
}

/// Size of a `struct nlmsghdr`.
pub const HEADER_LEN: usize = 16;

/// Appends one raw message to `datagram`, padded to the netlink alignment so
/// that several messages can share one `sendmsg`.
pub fn encode(datagram: &mut Vec<u8>, seq: u32, flags: u16, message: RawMessage) {
    encode_inner(datagram, seq, flags, message)
}

/// Appends one message with any inner payload type to `datagram`.
pub(crate) fn encode_inner<I: NetlinkSerializable>(
    datagram: &mut Vec<u8>,
    seq: u32,
    flags: u16,
    message: I,
) {
    let mut header = NetlinkHeader::default();
    header.sequence_number = seq;
    header.flags = flags;
    let mut message = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
    message.finalize();
    let start = datagram.len();
    datagram.resize(start + align(message.buffer_len()), 0);
    message.serialize(&mut datagram[start..start + message.buffer_len()]);
}

/// `len` rounded up to the netlink alignment (`NLMSG_ALIGN`, `NLA_ALIGN`).
pub const fn align(len: usize) -> usize {
    let to = NLMSG_ALIGNTO as usize;
    (len + to - 1) & !(to - 1)
}

/// Every message of a datagram, in order, its payload decoded as `I`; after
/// a message that does not decode (a length that runs past the datagram or
/// is shorter than a header), nothing more.
pub(crate) fn messages<I>(
    datagram: &[u8],
) -> impl Iterator<Item = Result<NetlinkMessage<I>, DecodeError>> + '_
where
    I: NetlinkDeserializable,
{
    let mut rest = datagram;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let message = NetlinkMessage::<I>::deserialize(rest);
        rest = match &message {
            Ok(message) => rest
                .get(align(message.header.length as usize)..)
                .unwrap_or_default(),
            Err(_) => &[],
        };
        Some(message)
    })
}

/// Decodes every message of a datagram, in order, from a view of each
/// ([`NetlinkBuffer`]): errors and control messages as every netlink family
/// has them, any other message by `decode_message` (a transport's decoder,
/// given the message's header and payload). After a message that does not
/// decode (a length that runs past the datagram or is shorter than a
/// header), nothing more: the datagram fails to decode.
pub(crate) fn decode_with(
    datagram: &[u8],
    mut decode_message: impl FnMut(u32, u16, &[u8]) -> Result<Reply, DecodeError>,
) -> Result<Vec<Reply>, Error> {
    let mut replies = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        let buffer = NetlinkBuffer::new_checked(rest).map_err(decode_error)?;
        let seq = buffer.sequence_number();
        let payload = buffer.payload();
        replies.push(match buffer.message_type() {
            NLMSG_ERROR => {
                let error = ErrorBuffer::new_checked(&payload)
                    .and_then(|error| ErrorMessage::parse(&error))
                    .map_err(decode_error)?;
                Reply::Error {
                    seq,
                    errno: -error.raw_code(),
                    ack: ExtAck::parse(buffer.flags(), &error.header),
                }
            }
            nlmsg_type @ (NLMSG_NOOP | NLMSG_DONE | NLMSG_OVERRUN) => {
                Reply::Control { seq, nlmsg_type }
            }
            nlmsg_type => decode_message(seq, nlmsg_type, payload).map_err(|error| {
                Error::Decode(format!("message of type {nlmsg_type:#x}: {error}"))
            })?,
        });
        rest = rest
            .get(align(buffer.length() as usize)..)
            .unwrap_or_default();
    }
    Ok(replies)
}

fn decode_error(error: DecodeError) -> Error {
    Error::Decode(error.to_string())
}

/// Decodes every message of a datagram as the raw echo protocol has them:
/// every message that is not an error or a control message is a
/// [`RawMessage`], whatever its type.
pub fn decode(datagram: &[u8]) -> Result<Vec<Reply>, Error> {
    decode_with(datagram, |seq, nlmsg_type, payload| {
        Ok(Reply::raw(seq, nlmsg_type, payload))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(nlmsg_type: u16, data: &[u8]) -> RawMessage {
        RawMessage {
            nlmsg_type,
            data: data.to_vec(),
        }
    }

    #[test]
    fn encodes_header_fields_and_payload() {
        let mut datagram = Vec::new();
        encode(&mut datagram, 7, 0, raw(0, b"Hello you!"));
        assert_eq!(datagram.len(), 28, "16-byte header + 10 bytes, padded to 4");
        assert_eq!(u32::from_ne_bytes(datagram[0..4].try_into().unwrap()), 26);
        assert_eq!(u16::from_ne_bytes(datagram[4..6].try_into().unwrap()), 0);
        assert_eq!(u32::from_ne_bytes(datagram[8..12].try_into().unwrap()), 7);
        assert_eq!(&datagram[16..26], b"Hello you!");
        assert_eq!(&datagram[26..], &[0, 0]);
    }

    #[test]
    fn several_messages_round_trip_in_order() {
        let mut datagram = Vec::new();
        for (seq, data) in [(1, &b""[..]), (2, b"a"), (3, b"abcde")] {
            encode(&mut datagram, seq, 0, raw(0x42, data));
        }
        let replies = decode(&datagram).unwrap();
        assert_eq!(
            replies,
            vec![
                Reply::Raw {
                    seq: 1,
                    message: raw(0x42, b"")
                },
                Reply::Raw {
                    seq: 2,
                    message: raw(0x42, b"a")
                },
                Reply::Raw {
                    seq: 3,
                    message: raw(0x42, b"abcde")
                },
            ]
        );
    }

    #[test]
    fn decodes_errors_and_acks() {
        // struct nlmsgerr: error, then the request's header.
        let mut datagram = Vec::new();
        for (seq, error) in [(5u32, -22i32), (6, 0)] {
            datagram.extend_from_slice(&36u32.to_ne_bytes());
            datagram.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
            datagram.extend_from_slice(&0u16.to_ne_bytes());
            datagram.extend_from_slice(&seq.to_ne_bytes());
            datagram.extend_from_slice(&0u32.to_ne_bytes());
            datagram.extend_from_slice(&error.to_ne_bytes());
            datagram.extend_from_slice(&[0; 16]);
        }
        assert_eq!(
            decode(&datagram).unwrap(),
            vec![
                Reply::Error {
                    seq: 5,
                    errno: 22,
                    ack: ExtAck::default()
                },
                Reply::Error {
                    seq: 6,
                    errno: 0,
                    ack: ExtAck::default()
                }
            ]
        );
    }

    #[test]
    fn decodes_an_extended_ack() {
        // struct nlmsgerr with NLM_F_CAPPED | NLM_F_ACK_TLVS, then
        // NLMSGERR_ATTR_MSG "bad", NLMSGERR_ATTR_OFFS 20 and
        // NLMSGERR_ATTR_MISS_TYPE 2.
        let mut datagram = Vec::new();
        datagram.extend_from_slice(&60u32.to_ne_bytes());
        datagram.extend_from_slice(&2u16.to_ne_bytes());
        datagram.extend_from_slice(&0x300u16.to_ne_bytes());
        datagram.extend_from_slice(&9u32.to_ne_bytes());
        datagram.extend_from_slice(&0u32.to_ne_bytes());
        datagram.extend_from_slice(&(-34i32).to_ne_bytes());
        datagram.extend_from_slice(&[0; 16]);
        datagram.extend_from_slice(&8u16.to_ne_bytes());
        datagram.extend_from_slice(&1u16.to_ne_bytes());
        datagram.extend_from_slice(b"bad\0");
        datagram.extend_from_slice(&8u16.to_ne_bytes());
        datagram.extend_from_slice(&2u16.to_ne_bytes());
        datagram.extend_from_slice(&20u32.to_ne_bytes());
        datagram.extend_from_slice(&8u16.to_ne_bytes());
        datagram.extend_from_slice(&5u16.to_ne_bytes());
        datagram.extend_from_slice(&2u32.to_ne_bytes());
        let expected = ExtAck {
            message: Some("bad".into()),
            offset: Some(20),
            missing_type: Some(2),
            ..ExtAck::default()
        };
        assert_eq!(
            decode(&datagram).unwrap(),
            vec![Reply::Error {
                seq: 9,
                errno: 34,
                ack: expected
            }]
        );
    }

    #[test]
    fn rejects_a_length_longer_than_the_datagram() {
        let mut datagram = Vec::new();
        encode(&mut datagram, 1, 0, raw(0, b"abcd"));
        datagram[0..4].copy_from_slice(&100u32.to_ne_bytes());
        assert!(matches!(decode(&datagram), Err(Error::Decode(_))));
    }
}
