//! The typed protocol: requests with attributes, and what the module
//! answers, on `netlink-packet-core`'s attribute support.

use crate::genl::{command_of, encode_genl, GenlFamily, GenlPayload};
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
            Self::Echo { .. } => MSG_ECHO,
            Self::Broadcast { .. } => MSG_BROADCAST,
            Self::GetStats { .. } => MSG_GET_STATS,
            Self::Custom { kind, .. } => *kind,
        }
    }

    fn attributes(&self) -> Vec<DefaultNla> {
        match self {
            Self::Echo { data } => vec![DefaultNla::new(ATTR_DATA, data.clone())],
            Self::Broadcast { group, data } => vec![
                DefaultNla::new(ATTR_DATA, data.clone()),
                DefaultNla::new(ATTR_GROUP, group.to_ne_bytes().to_vec()),
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
    ack: bool,
    request: &Request,
) -> Result<(), Error> {
    let encoded = encoded(request)?;
    encode_inner(datagram, seq, request.flags(ack), encoded);
    Ok(())
}

/// Appends `request` to `datagram` as a message of the module's generic
/// netlink `family`: the family's id as type, the command in the generic
/// header, then the same attributes.
pub fn encode_genl_request(
    datagram: &mut Vec<u8>,
    seq: u32,
    ack: bool,
    request: &Request,
    family: &GenlFamily,
) -> Result<(), Error> {
    let encoded = encoded(request)?;
    let payload = GenlPayload {
        family: family.id,
        cmd: command_of(encoded.kind),
        version: GENL_VERSION,
        attributes: encoded,
    };
    encode_genl(datagram, seq, request.flags(ack), payload);
    Ok(())
}

/// One counter of `GET_STATS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stat {
    /// Which counter (`STAT_*`).
    pub stat: u32,
    /// The group, for `STAT_LISTENERS`.
    pub group: Option<u32>,
    pub value: u64,
}

impl Stat {
    /// The counter's name.
    pub fn name(&self) -> &'static str {
        match self.stat {
            STAT_REQUESTS => "requests",
            STAT_ECHOES => "echoes",
            STAT_BROADCASTS => "broadcasts",
            STAT_BYTES => "bytes",
            STAT_ERRORS => "errors",
            STAT_DROPPED => "dropped",
            STAT_LISTENERS => "listeners",
            _ => "unknown",
        }
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

fn u64_of(attribute: &NlaBuffer<&[u8]>) -> Result<u64, Error> {
    let value = attribute.value();
    value.try_into().map(u64::from_ne_bytes).map_err(|_| {
        Error::Decode(format!(
            "attribute {} is {} bytes, not 8",
            attribute.kind(),
            value.len()
        ))
    })
}

/// One counter from its `STAT`, `GROUP` and `VALUE` attributes.
fn stat(payload: &[u8]) -> Result<Stat, Error> {
    let mut stat = Stat {
        stat: 0,
        group: None,
        value: 0,
    };
    for attribute in attributes(payload)? {
        match attribute.kind() {
            ATTR_STAT => stat.stat = u32_of(&attribute)?,
            ATTR_GROUP => stat.group = Some(u32_of(&attribute)?),
            ATTR_VALUE => stat.value = u64_of(&attribute)?,
            _ => {}
        }
    }
    Ok(stat)
}

/// Decodes the payload of a typed message of type `kind`.
pub fn decode_response(kind: u16, payload: &[u8]) -> Result<Response, Error> {
    match kind {
        MSG_ECHO => {
            let data = attributes(payload)?
                .iter()
                .find(|attribute| attribute.kind() == ATTR_DATA)
                .map(|attribute| attribute.value().to_vec())
                .ok_or_else(|| Error::Decode("ECHO reply without DATA".into()))?;
            Ok(Response::Echo { data })
        }
        MSG_GET_STATS => {
            let attributes = attributes(payload)?;
            // A dump part holds one counter at the top level; the single
            // answer one nested ATTR_STAT per counter.
            let nested = attributes
                .iter()
                .any(|a| a.kind() == ATTR_STAT && a.value().len() > 4);
            if nested {
                let stats = attributes
                    .iter()
                    .map(|a| stat(a.value()))
                    .collect::<Result<_, _>>()?;
                Ok(Response::Stats(stats))
            } else {
                Ok(Response::Stats(vec![stat(payload)?]))
            }
        }
        MSG_EVENT => {
            let mut event = Event {
                data: Vec::new(),
                portid: 0,
                uid: 0,
            };
            for attribute in attributes(payload)? {
                match attribute.kind() {
                    ATTR_DATA => event.data = attribute.value().to_vec(),
                    ATTR_PORTID => event.portid = u32_of(&attribute)?,
                    ATTR_UID => event.uid = u32_of(&attribute)?,
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
            true,
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
            MSG_BROADCAST
        );
        assert_eq!(
            u16::from_ne_bytes([datagram[6], datagram[7]]),
            NLM_F_REQUEST | NLM_F_ACK
        );
        assert_eq!(&datagram[16..22], &[6, 0, ATTR_DATA as u8, 0, b'h', b'i']);
        assert_eq!(&datagram[24..28], &[8, 0, ATTR_GROUP as u8, 0]);
        assert_eq!(u32::from_ne_bytes(datagram[28..32].try_into().unwrap()), 2);
    }

    #[test]
    fn refuses_an_attribute_over_64_kib() {
        let request = Request::Echo {
            data: vec![0; MAX_ATTRIBUTE_LEN + 1],
        };
        let result = encode_request(&mut Vec::new(), 1, false, &request);
        assert!(matches!(
            result,
            Err(Error::AttributeTooLarge {
                kind: ATTR_DATA,
                len: 65532
            })
        ));
        let request = Request::Echo {
            data: vec![0; MAX_ATTRIBUTE_LEN],
        };
        assert!(encode_request(&mut Vec::new(), 1, false, &request).is_ok());
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
        let mut payload = nla(ATTR_DATA, b"x");
        payload.extend(nla(ATTR_PORTID, &7u32.to_ne_bytes()));
        payload.extend(nla(ATTR_UID, &65534u32.to_ne_bytes()));
        assert_eq!(
            decode_response(MSG_EVENT, &payload).unwrap(),
            Response::Event(Event {
                data: b"x".to_vec(),
                portid: 7,
                uid: 65534
            })
        );

        let mut part = nla(ATTR_STAT, &STAT_LISTENERS.to_ne_bytes());
        part.extend(nla(ATTR_GROUP, &3u32.to_ne_bytes()));
        part.extend(nla(ATTR_VALUE, &2u64.to_ne_bytes()));
        let expected = Stat {
            stat: STAT_LISTENERS,
            group: Some(3),
            value: 2,
        };
        assert_eq!(
            decode_response(MSG_GET_STATS, &part).unwrap(),
            Response::Stats(vec![expected])
        );

        let mut nested = nla(ATTR_STAT, &part);
        nested.extend(nla(ATTR_STAT, &part));
        assert_eq!(
            decode_response(MSG_GET_STATS, &nested).unwrap(),
            Response::Stats(vec![expected, expected])
        );
    }
}
