//! The attributes of the nltest service, the same on both transports: typed
//! [`Nla`]s, encoded by `netlink-packet-core` and decoded through its
//! buffer views ([`NlaBuffer`], [`NlasIterator`]).

use netlink_packet_core::{
    emit_u32, emit_u64, parse_u32, parse_u64, DecodeError, DefaultNla, Emitable, ErrorContext, Nla,
    NlaBuffer, NlasIterator, Parseable, NLA_F_NESTED,
};
use nltest_protocol::{attrs, stat_attrs, Counter};

/// The largest attribute payload: `nla_len` is 16 bits and counts the
/// 4-byte attribute header.
pub const MAX_ATTRIBUTE_LEN: usize = u16::MAX as usize - 4;

/// An attribute of an nltest message (the spec's `nltest` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    /// `data`: what `echo` echoes, `broadcast` sends and `event` carries.
    Data(Vec<u8>),
    /// `group`: the multicast group `broadcast` sends to.
    Group(u32),
    /// `portid`: the port id of the socket whose request caused the event.
    Portid(u32),
    /// `uid`: the uid of that request's sender.
    Uid(u32),
    /// `stat`: one counter, a nest of [`StatAttr`]s.
    Stat(Vec<StatAttr>),
    /// Any other attribute, as its type and bytes; also a known type with a
    /// payload that is not its type's, to see how the module refuses it.
    Other(DefaultNla),
}

/// An attribute of a `stat` nest (the spec's `stat` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatAttr {
    /// `counter`: which counter.
    Counter(Counter),
    /// `group`: the unit's group whose listeners are counted.
    Group(u32),
    /// `value`: a `uint`, 4 bytes on the wire while it fits, else 8.
    Value(u64),
    /// Any other attribute.
    Other(DefaultNla),
}

impl Attr {
    /// An attribute of any type with any bytes ([`Attr::Other`]).
    pub fn other(nla_type: u16, value: Vec<u8>) -> Self {
        Self::Other(DefaultNla::new(nla_type, value))
    }
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        match self {
            Self::Data(data) => data.len(),
            Self::Group(_) | Self::Portid(_) | Self::Uid(_) => 4,
            Self::Stat(nest) => nest.as_slice().buffer_len(),
            Self::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Data(_) => attrs::DATA,
            Self::Group(_) => attrs::GROUP,
            Self::Portid(_) => attrs::PORTID,
            Self::Uid(_) => attrs::UID,
            // As the kernel's nla_nest_start marks a nest.
            Self::Stat(_) => attrs::STAT | NLA_F_NESTED,
            Self::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            Self::Data(data) => buffer.copy_from_slice(data),
            Self::Group(value) | Self::Portid(value) | Self::Uid(value) => {
                emit_u32(buffer, *value).expect("a 4-byte attribute value")
            }
            Self::Stat(nest) => nest.as_slice().emit(buffer),
            Self::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl Nla for StatAttr {
    fn value_len(&self) -> usize {
        match self {
            Self::Counter(_) | Self::Group(_) => 4,
            Self::Value(value) if u32::try_from(*value).is_ok() => 4,
            Self::Value(_) => 8,
            Self::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Counter(_) => stat_attrs::COUNTER,
            Self::Group(_) => stat_attrs::GROUP,
            Self::Value(_) => stat_attrs::VALUE,
            Self::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            Self::Counter(counter) => {
                emit_u32(buffer, u32::from(*counter)).expect("a 4-byte attribute value")
            }
            Self::Group(value) => emit_u32(buffer, *value).expect("a 4-byte attribute value"),
            // As the kernel's nla_put_uint writes it.
            Self::Value(value) => match u32::try_from(*value) {
                Ok(small) => emit_u32(buffer, small),
                Err(_) => emit_u64(buffer, *value),
            }
            .expect("a uint attribute value"),
            Self::Other(nla) => nla.emit_value(buffer),
        }
    }
}

/// A `u32` attribute's value: exactly 4 bytes (`parse_u32` checks it).
fn u32_value(nla_type: u16, value: &[u8]) -> Result<u32, DecodeError> {
    parse_u32(value).context(format!("attribute {nla_type}"))
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for Attr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let (nla_type, value) = (buf.kind(), buf.value());
        Ok(match nla_type {
            attrs::DATA => Self::Data(value.to_vec()),
            attrs::GROUP => Self::Group(u32_value(nla_type, value)?),
            attrs::PORTID => Self::Portid(u32_value(nla_type, value)?),
            attrs::UID => Self::Uid(u32_value(nla_type, value)?),
            attrs::STAT => Self::Stat(parse_nest(value).context("in a stat nest")?),
            _ => Self::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for StatAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let (nla_type, value) = (buf.kind(), buf.value());
        Ok(match nla_type {
            stat_attrs::COUNTER => {
                let number = u32_value(nla_type, value)?;
                Self::Counter(
                    Counter::from_u32(number)
                        .ok_or_else(|| DecodeError::from(format!("unknown counter {number}")))?,
                )
            }
            stat_attrs::GROUP => Self::Group(u32_value(nla_type, value)?),
            stat_attrs::VALUE => Self::Value(match value.len() {
                4 => u32_value(nla_type, value)?.into(),
                8 => parse_u64(value)?,
                len => {
                    return Err(DecodeError::from(format!(
                        "attribute {nla_type} is {len} bytes, not 4 or 8"
                    )))
                }
            }),
            _ => Self::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Every attribute of `payload`, in order.
pub fn parse_attrs(payload: &[u8]) -> Result<Vec<Attr>, DecodeError> {
    NlasIterator::new(payload)
        .map(|nla| nla.and_then(|nla| Attr::parse(&nla)))
        .collect()
}

fn parse_nest(payload: &[u8]) -> Result<Vec<StatAttr>, DecodeError> {
    NlasIterator::new(payload)
        .map(|nla| nla.and_then(|nla| StatAttr::parse(&nla)))
        .collect()
}

/// Checks that every attribute fits netlink's 16-bit attribute length.
pub(crate) fn check_lengths(attrs: &[Attr]) -> Result<(), crate::Error> {
    match attrs.iter().find(|a| a.value_len() > MAX_ATTRIBUTE_LEN) {
        Some(too_large) => Err(crate::Error::AttributeTooLarge {
            nla_type: too_large.kind() & !NLA_F_NESTED,
            len: too_large.value_len(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(attrs: &[Attr]) -> Vec<u8> {
        let mut buffer = vec![0; attrs.buffer_len()];
        attrs.emit(&mut buffer);
        buffer
    }

    #[test]
    fn round_trip() {
        let attrs = vec![
            Attr::Data(b"abc".to_vec()),
            Attr::Group(3),
            Attr::Portid(7),
            Attr::Uid(65534),
            Attr::Stat(vec![
                StatAttr::Counter(Counter::Listeners),
                StatAttr::Group(2),
                StatAttr::Value(1 << 40),
            ]),
            Attr::Other(DefaultNla::new(9, b"y".to_vec())),
        ];
        assert_eq!(parse_attrs(&emitted(&attrs)).unwrap(), attrs);
    }

    #[test]
    fn layout_of_data_and_group() {
        let bytes = emitted(&[Attr::Data(b"hi".to_vec()), Attr::Group(2)]);
        assert_eq!(&bytes[..8], &[6, 0, attrs::DATA as u8, 0, b'h', b'i', 0, 0]);
        assert_eq!(&bytes[8..12], &[8, 0, attrs::GROUP as u8, 0]);
        assert_eq!(u32::from_ne_bytes(bytes[12..16].try_into().unwrap()), 2);
    }

    #[test]
    fn uint_takes_4_bytes_while_it_fits() {
        let small = emitted(&[Attr::Stat(vec![StatAttr::Value(2)])]);
        let large = emitted(&[Attr::Stat(vec![StatAttr::Value(1 << 32)])]);
        assert_eq!(small.len(), 4 + 8);
        assert_eq!(large.len(), 4 + 12);
    }

    #[test]
    fn refuses_values_of_the_wrong_size() {
        let group = emitted(&[Attr::Other(DefaultNla::new(attrs::GROUP, vec![1, 0]))]);
        assert!(parse_attrs(&group).is_err());
        let short = emitted(&[Attr::Stat(vec![
            StatAttr::Counter(Counter::Requests),
            StatAttr::Other(DefaultNla::new(stat_attrs::VALUE, vec![1, 0])),
        ])]);
        assert!(parse_attrs(&short).is_err());
        let unknown = emitted(&[Attr::Stat(vec![StatAttr::Other(DefaultNla::new(
            stat_attrs::COUNTER,
            99u32.to_ne_bytes().to_vec(),
        ))])]);
        assert!(parse_attrs(&unknown).is_err());
    }
}
