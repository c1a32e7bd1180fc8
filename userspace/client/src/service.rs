//! The typed protocol: requests with attributes, and what the module
//! answers, on `netlink-packet-core`'s attribute support.

use crate::genl::{command_of, GenlFamily, GenlPayload};
use crate::message::{encode_inner, HEADER_LEN};
use crate::Error;
use netlink_packet_core::{
    DefaultNla, Emitable, NetlinkSerializable, Nla, NlaBuffer, NlasIterator, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use nltest_protocol::*;

/// A typed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Echo `data` back, and publish an event on group 1.
    Echo { data: Vec<u8> },
    /// Send `data` to multicast `group` (needs `CAP_NET_ADMIN`).
    Broadcast { group: u32, data: Vec<u8> },
    /// Read the counters of the namespace; `dump` asks for a multipart answer.
    GetStats { dump: bool },
    /// Any type and attributes, for testing how the module rejects them.
    Custom {
        kind: u16,
        attributes: Vec<(u16, Vec<u8>)>,
    },
}

impl Request {
    fn kind(&self) -> u16 {
        match self {
            Self::Echo { .. } => raw::msg::ECHO,
            Self::Broadcast { .. } => raw::msg::BROADCAST,
            Self::GetStats { .. } => raw::msg::GET_STATS,
            Self::Custom { kind, .. } => *kind,
        }
    }

    fn attributes(&self) -> Vec<DefaultNla> {
        match self {
            Self::Echo { data } => vec![DefaultNla::new(attrs::DATA, data.clone())],
            Self::Broadcast { group, data } => vec![
                DefaultNla::new(attrs::DATA, data.clone()),
                DefaultNla::new(attrs::GROUP, group.to_ne_bytes().to_vec()),
            ],
            Self::GetStats { .. } => vec![],
            Self::Custom { attributes, .. } => attributes
                .iter()
                .map(|(kind, value)| DefaultNla::new(*kind, value.clone()))
                .collect(),
        }
    }

    /// `nlmsg_flags` for the request: `NLM_F_REQUEST`, plus `NLM_F_ACK` and
    /// `NLM_F_DUMP` as asked.
    pub fn flags(&self, ack: bool) -> u16 {
        let mut flags = NLM_F_REQUEST;
        if ack {
            flags |= NLM_F_ACK;
        }
        self.flags_with(flags)
    }

    /// `flags`, with `NLM_F_REQUEST`, and `NLM_F_DUMP` for a dump.
    pub fn flags_with(&self, mut flags: u16) -> u16 {
        flags |= NLM_F_REQUEST;
        if matches!(self, Self::GetStats { dump: true }) {
            flags |= NLM_F_DUMP;
        }
        flags
    }

    pub fn is_dump(&self) -> bool {
        matches!(self, Self::GetStats { dump: true })
    }
}

/// The request as netlink-packet-core serializes it.
struct Encoded {
    kind: u16,
    attributes: Vec<DefaultNla>,
}

impl NetlinkSerializable for Encoded {
    fn message_type(&self) -> u16 {
        self.kind
    }

    fn buffer_len(&self) -> usize {
        self.attributes.as_slice().buffer_len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        self.attributes.as_slice().emit(buffer)
    }
}

/// The largest attribute payload: `nla_len` is 16 bits and counts the
/// 4-byte attribute header.
pub const MAX_ATTRIBUTE_LEN: usize = u16::MAX as usize - 4;

/// The request's attributes, checked against netlink's 16-bit attribute
/// length.
fn encoded(request: &Request) -> Result<Encoded, Error> {
    let attributes = request.attributes();
    if let Some(too_large) = attributes
        .iter()
        .find(|a| a.value_len() > MAX_ATTRIBUTE_LEN)
    {
        return Err(Error::AttributeTooLarge {
            kind: too_large.kind(),
            len: too_large.value_len(),
        });
    }
    Ok(Encoded {
        kind: request.kind(),
        attributes,
    })
}

/// Appends `request` to `datagram`; fails when an attribute is too large
/// for netlink's 16-bit attribute length.
pub fn encode_request(
    datagram: &mut Vec<u8>,
    seq: u32,
    flags: u16,
    request: &Request,
) -> Result<(), Error> {
    let encoded = encoded(request)?;
    encode_inner(datagram, seq, request.flags_with(flags), encoded);
    Ok(())
}

/// Appends `request` to `datagram` as a message of the module's generic
/// netlink `family`: the family's id as type, the command in the generic
/// header, then the same attributes.
pub fn encode_genl_request(
    datagram: &mut Vec<u8>,
    seq: u32,
    flags: u16,
    request: &Request,
    family: &GenlFamily,
) -> Result<(), Error> {
    let encoded = encoded(request)?;
    let payload = GenlPayload {
        family: family.id,
        cmd: command_of(encoded.kind),
        version: genl::FAMILY_VERSION,
        attributes: encoded,
    };
    encode_inner(datagram, seq, request.flags_with(flags), payload);
    Ok(())
}

/// One counter of `GET_STATS`: a `STAT` nest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stat {
    /// Which counter.
    pub counter: Counter,
    /// The group, for `Counter::Listeners`.
    pub group: Option<u32>,
    pub value: u64,
}

impl Stat {
    /// The counter's name, as the spec has it.
    pub fn name(&self) -> &'static str {
        self.counter.name()
    }
}

/// What `ECHO` publishes and `BROADCAST` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub data: Vec<u8>,
    /// Port id of the request's sender.
    pub portid: u32,
    /// Uid of the request's sender.
    pub uid: u32,
}

/// A typed message from the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The answer to `ECHO`.
    Echo { data: Vec<u8> },
    /// The answer to `GET_STATS`: all counters, or one part of a dump.
    Stats(Vec<Stat>),
    /// An `EVENT`, received as a member of a multicast group.
    Event(Event),
}

fn attributes(payload: &[u8]) -> Result<Vec<NlaBuffer<&[u8]>>, Error> {
    NlasIterator::new(payload)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| Error::Decode(error.to_string()))
}

fn u32_of(attribute: &NlaBuffer<&[u8]>) -> Result<u32, Error> {
    let value = attribute.value();
    value.try_into().map(u32::from_ne_bytes).map_err(|_| {
        Error::Decode(format!(
            "attribute {} is {} bytes, not 4",
            attribute.kind(),
            value.len()
        ))
    })
}

/// A `uint` attribute (`NLA_UINT`): 4 bytes while the value fits, else 8.
fn uint_of(attribute: &NlaBuffer<&[u8]>) -> Result<u64, Error> {
    let value = attribute.value();
    match value.len() {
        4 => u32_of(attribute).map(u64::from),
        8 => Ok(u64::from_ne_bytes(value.try_into().unwrap_or_default())),
        len => Err(Error::Decode(format!(
            "attribute {} is {len} bytes, not 4 or 8",
            attribute.kind()
        ))),
    }
}

/// One counter from the attributes of its `STAT` nest.
fn stat(nest: &[u8]) -> Result<Stat, Error> {
    let (mut counter, mut group, mut value) = (None, None, None);
    for attribute in attributes(nest)? {
        match attribute.kind() {
            stat_attrs::COUNTER => {
                let number = u32_of(&attribute)?;
                counter = Some(
                    Counter::from_u32(number)
                        .ok_or_else(|| Error::Decode(format!("unknown counter {number}")))?,
                );
            }
            stat_attrs::GROUP => group = Some(u32_of(&attribute)?),
            stat_attrs::VALUE => value = Some(uint_of(&attribute)?),
            _ => {}
        }
    }
    match (counter, value) {
        (Some(counter), Some(value)) => Ok(Stat {
            counter,
            group,
            value,
        }),
        _ => Err(Error::Decode("STAT without COUNTER or VALUE".into())),
    }
}

/// Decodes the payload of a typed message of type `kind`.
pub fn decode_response(kind: u16, payload: &[u8]) -> Result<Response, Error> {
    match kind {
        raw::msg::ECHO => {
            let data = attributes(payload)?
                .iter()
                .find(|attribute| attribute.kind() == attrs::DATA)
                .map(|attribute| attribute.value().to_vec())
                .ok_or_else(|| Error::Decode("ECHO reply without DATA".into()))?;
            Ok(Response::Echo { data })
        }
        raw::msg::GET_STATS => {
            // One STAT nest per counter: all of them in the single answer,
            // one in each part of a dump.
            let stats = attributes(payload)?
                .iter()
                .filter(|a| a.kind() == attrs::STAT)
                .map(|a| stat(a.value()))
                .collect::<Result<_, _>>()?;
            Ok(Response::Stats(stats))
        }
        raw::msg::EVENT => {
            let mut event = Event {
                data: Vec::new(),
                portid: 0,
                uid: 0,
            };
            for attribute in attributes(payload)? {
                match attribute.kind() {
                    attrs::DATA => event.data = attribute.value().to_vec(),
                    attrs::PORTID => event.portid = u32_of(&attribute)?,
                    attrs::UID => event.uid = u32_of(&attribute)?,
                    _ => {}
                }
            }
            Ok(Response::Event(event))
        }
        other => Err(Error::Decode(format!("unexpected message type {other:#x}"))),
    }
}

/// Size of the header of a typed message, before its attributes.
pub const ATTRIBUTES_OFFSET: usize = HEADER_LEN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_request_layout() {
        let mut datagram = Vec::new();
        encode_request(
            &mut datagram,
            3,
            NLM_F_ACK,
            &Request::Broadcast {
                group: 2,
                data: b"hi".to_vec(),
            },
        )
        .unwrap();
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
        let request = Request::Echo {
            data: vec![0; MAX_ATTRIBUTE_LEN + 1],
        };
        let result = encode_request(&mut Vec::new(), 1, 0, &request);
        assert!(matches!(
            result,
            Err(Error::AttributeTooLarge {
                kind: attrs::DATA,
                len: 65532
            })
        ));
        let request = Request::Echo {
            data: vec![0; MAX_ATTRIBUTE_LEN],
        };
        assert!(encode_request(&mut Vec::new(), 1, 0, &request).is_ok());
    }

    #[test]
    fn dump_flag_only_for_stats_dump() {
        assert_eq!(
            Request::GetStats { dump: true }.flags(false),
            NLM_F_REQUEST | NLM_F_DUMP
        );
        assert_eq!(Request::Echo { data: vec![] }.flags(false), NLM_F_REQUEST);
    }

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let nla = DefaultNla::new(kind, value.to_vec());
        let mut buffer = vec![0; nla.buffer_len()];
        nla.emit(&mut buffer);
        buffer
    }

    #[test]
    fn decodes_events_and_stats() {
        let mut payload = nla(attrs::DATA, b"x");
        payload.extend(nla(attrs::PORTID, &7u32.to_ne_bytes()));
        payload.extend(nla(attrs::UID, &65534u32.to_ne_bytes()));
        assert_eq!(
            decode_response(raw::msg::EVENT, &payload).unwrap(),
            Response::Event(Event {
                data: b"x".to_vec(),
                portid: 7,
                uid: 65534
            })
        );

        // A uint value of 4 bytes, then of 8.
        let mut listeners = nla(
            stat_attrs::COUNTER,
            &u32::from(Counter::Listeners).to_ne_bytes(),
        );
        listeners.extend(nla(stat_attrs::GROUP, &3u32.to_ne_bytes()));
        listeners.extend(nla(stat_attrs::VALUE, &2u32.to_ne_bytes()));
        let mut bytes = nla(
            stat_attrs::COUNTER,
            &u32::from(Counter::Bytes).to_ne_bytes(),
        );
        bytes.extend(nla(stat_attrs::VALUE, &(1u64 << 40).to_ne_bytes()));
        let expected = [
            Stat {
                counter: Counter::Listeners,
                group: Some(3),
                value: 2,
            },
            Stat {
                counter: Counter::Bytes,
                group: None,
                value: 1 << 40,
            },
        ];
        let part = nla(attrs::STAT, &listeners);
        assert_eq!(
            decode_response(raw::msg::GET_STATS, &part).unwrap(),
            Response::Stats(vec![expected[0]])
        );
        let mut both = part.clone();
        both.extend(nla(attrs::STAT, &bytes));
        assert_eq!(
            decode_response(raw::msg::GET_STATS, &both).unwrap(),
            Response::Stats(expected.to_vec())
        );
        // A value of 2 bytes is no uint.
        let mut short = nla(stat_attrs::COUNTER, &1u32.to_ne_bytes());
        short.extend(nla(stat_attrs::VALUE, &[1, 0]));
        assert!(decode_response(raw::msg::GET_STATS, &nla(attrs::STAT, &short)).is_err());
    }
}
