//! The typed service over generic netlink, as `netlink-packet-generic`
//! models a family: [`NlTestMessage`], the family's payload (a command in
//! the generic header, then the attributes), its encoder and decoder; and
//! the family's id and group, resolved by name through the controller
//! (`CTRL_CMD_GETFAMILY`, encoded and decoded by `netlink-packet-generic`).

use crate::attr::{check_lengths, parse_attrs};
use crate::message::{decode_with, encode_inner, messages, Reply};
use crate::service::{Command, Message};
use crate::Error;
use netlink_packet_core::{
    DecodeError, Emitable, ErrorContext, NetlinkPayload, ParseableParametrized, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::{
    GenlCtrlAttrs, McastGrpAttrs, NlPolicyTypeAttrs, OpAttrs, OppolicyIndexAttr,
};
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use nltest_protocol::*;
use std::collections::BTreeMap;

/// Size of `struct genlmsghdr`, between the netlink header and the
/// attributes.
pub use netlink_packet_generic::constants::GENL_HDRLEN;

/// The payload of a message of the `nltest` family: a message of the
/// service, its command in the generic header (`genlmsghdr.cmd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NlTestMessage(pub Message);

impl GenlFamily for NlTestMessage {
    fn family_name() -> &'static str {
        genl::FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.0.command.cmd()
    }

    fn version(&self) -> u8 {
        genl::FAMILY_VERSION
    }
}

impl Emitable for NlTestMessage {
    fn buffer_len(&self) -> usize {
        self.0.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.0.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for NlTestMessage {
    fn parse_with_param(payload: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let command = Command::from_cmd(header.cmd);
        let attrs = parse_attrs(payload).context(format!("attributes of {command:?}"))?;
        Ok(Self(Message { command, attrs }))
    }
}

/// Appends `message` to `datagram` as a message of the family whose id is
/// `family_id`, with `flags` (`NLM_F_REQUEST` is the caller's to set);
/// fails when an attribute is too large for netlink's 16-bit attribute
/// length.
pub fn encode(
    datagram: &mut Vec<u8>,
    seq: u32,
    flags: u16,
    message: Message,
    family_id: u16,
) -> Result<(), Error> {
    check_lengths(&message.attrs)?;
    let mut message = GenlMessage::from_payload(NlTestMessage(message));
    message.set_resolved_family_id(family_id);
    encode_inner(datagram, seq, flags, message);
    Ok(())
}

/// Decodes every message of a datagram from a generic netlink socket: the
/// messages of the family whose id is `family_id` as its messages (the
/// command from the generic header), those of any other as raw ones.
pub fn decode(datagram: &[u8], family_id: u16) -> Result<Vec<Reply>, Error> {
    decode_with(datagram, |seq, nlmsg_type, payload| {
        Ok(if nlmsg_type == family_id {
            let message = GenlMessage::<NlTestMessage>::parse_with_param(payload, nlmsg_type)?;
            Reply::Typed {
                seq,
                message: message.payload.0,
            }
        } else {
            Reply::raw(seq, nlmsg_type, payload)
        })
    })
}

/// The module's family as the controller describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyInfo {
    /// The family's id: the `nlmsg_type` of its messages.
    pub id: u16,
    /// Its version.
    pub version: u32,
    /// The id of its `events` group, to join with `NETLINK_ADD_MEMBERSHIP`.
    pub events_group: u32,
    /// Its operations: command and `GENL_*` flags (`GENL_CMD_CAP_DO`,
    /// `GENL_CMD_CAP_DUMP`, `GENL_CMD_CAP_HASPOL`, `GENL_UNS_ADMIN_PERM`...).
    pub ops: Vec<(u32, u32)>,
}

/// Flags of an operation, as the controller reports them.
pub const GENL_ADMIN_PERM: u32 = 0x01;
pub const GENL_CMD_CAP_DO: u32 = 0x02;
pub const GENL_CMD_CAP_DUMP: u32 = 0x04;
pub const GENL_CMD_CAP_HASPOL: u32 = 0x08;
pub const GENL_UNS_ADMIN_PERM: u32 = 0x10;

/// Appends a `CTRL_CMD_GETFAMILY` request for family `name`.
pub(crate) fn encode_get_family(datagram: &mut Vec<u8>, seq: u32, name: &str) {
    let mut message = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_string())],
    });
    message.finalize();
    encode_inner(datagram, seq, NLM_F_REQUEST, message);
}

/// What the controller answered to `CTRL_CMD_GETFAMILY` with sequence
/// number `seq`, in one datagram: the family, `Ok(None)` for another
/// message, or [`Error::FamilyNotRegistered`].
pub(crate) fn decode_family(datagram: &[u8], seq: u32) -> Result<Option<FamilyInfo>, Error> {
    for message in messages::<GenlMessage<GenlCtrl>>(datagram) {
        let message =
            message.map_err(|error| Error::Decode(format!("controller reply: {error}")))?;
        if message.header.sequence_number != seq {
            continue;
        }
        match message.payload {
            NetlinkPayload::InnerMessage(reply) => {
                let mut family = FamilyInfo {
                    id: 0,
                    version: 0,
                    events_group: 0,
                    ops: Vec::new(),
                };
                for attribute in reply.payload.nlas {
                    match attribute {
                        GenlCtrlAttrs::FamilyId(id) => family.id = id,
                        GenlCtrlAttrs::Version(version) => family.version = version,
                        GenlCtrlAttrs::Ops(ops) => {
                            for op in ops {
                                let (mut id, mut flags) = (0, 0);
                                for attribute in op {
                                    match attribute {
                                        OpAttrs::Id(value) => id = value,
                                        OpAttrs::Flags(value) => flags = value,
                                    }
                                }
                                family.ops.push((id, flags));
                            }
                        }
                        GenlCtrlAttrs::McastGroups(groups) => {
                            for group in groups {
                                let named = group.iter().any(|attribute| {
                                    matches!(attribute, McastGrpAttrs::Name(name) if name == genl::mcgrp::EVENTS)
                                });
                                for attribute in group {
                                    if let (true, McastGrpAttrs::Id(id)) = (named, attribute) {
                                        family.events_group = id;
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
                if family.id == 0 || family.events_group == 0 {
                    return Err(Error::Decode(format!(
                        "the controller describes {} without an id or an {} group: {family:?}",
                        genl::FAMILY_NAME,
                        genl::mcgrp::EVENTS
                    )));
                }
                return Ok(Some(family));
            }
            NetlinkPayload::Error(error) if error.raw_code() == -libc::ENOENT => {
                return Err(Error::FamilyNotRegistered {
                    name: genl::FAMILY_NAME,
                });
            }
            NetlinkPayload::Error(error) => {
                return Err(Error::Io {
                    context: "the controller refused CTRL_CMD_GETFAMILY",
                    source: std::io::Error::from_raw_os_error(-error.raw_code()),
                })
            }
            _ => {}
        }
    }
    Ok(None)
}

/// What the controller says one attribute of an operation's policy may
/// hold (`CTRL_CMD_GETPOLICY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPolicyInfo {
    /// The attribute type.
    pub attr: u16,
    /// Its netlink type (`Binary`, `U32`...).
    pub attr_type: String,
    /// The smallest and largest value, for integers with a range.
    pub min: Option<i128>,
    pub max: Option<i128>,
}

/// Appends a `CTRL_CMD_GETPOLICY` dump request for family `id`.
pub(crate) fn encode_get_policy(datagram: &mut Vec<u8>, seq: u32, id: u16) {
    let mut message = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetPolicy,
        nlas: vec![GenlCtrlAttrs::FamilyId(id)],
    });
    message.finalize();
    encode_inner(
        datagram,
        seq,
        NLM_F_REQUEST | netlink_packet_core::NLM_F_DUMP,
        message,
    );
}

/// The parts of a policy dump read so far: each command's doit policy
/// index, and each policy's attributes.
#[derive(Debug, Default)]
pub(crate) struct PolicyDump {
    pub(crate) ops: BTreeMap<u8, u32>,
    pub(crate) policies: BTreeMap<u32, Vec<AttrPolicyInfo>>,
}

impl PolicyDump {
    /// Adds the parts of one datagram of the dump `seq`; returns whether
    /// the dump ended.
    pub(crate) fn add(&mut self, datagram: &[u8], seq: u32) -> Result<bool, Error> {
        for message in messages::<GenlMessage<GenlCtrl>>(datagram) {
            let message =
                message.map_err(|error| Error::Decode(format!("policy dump: {error}")))?;
            if message.header.sequence_number != seq {
                continue;
            }
            match message.payload {
                NetlinkPayload::Done(_) => return Ok(true),
                NetlinkPayload::Error(error) => {
                    return Err(Error::Io {
                        context: "the controller refused CTRL_CMD_GETPOLICY",
                        source: std::io::Error::from_raw_os_error(-error.raw_code()),
                    })
                }
                NetlinkPayload::InnerMessage(part) => {
                    for attribute in part.payload.nlas {
                        match attribute {
                            GenlCtrlAttrs::OpPolicy(op) => {
                                for index in op.policy_idx {
                                    if let OppolicyIndexAttr::Do(index) = index {
                                        self.ops.insert(op.cmd, index);
                                    }
                                }
                            }
                            GenlCtrlAttrs::Policy(policy) => {
                                let mut info = AttrPolicyInfo {
                                    attr: policy.attr_policy.index,
                                    attr_type: String::new(),
                                    min: None,
                                    max: None,
                                };
                                for item in policy.attr_policy.policies {
                                    match item {
                                        NlPolicyTypeAttrs::Type(kind) => {
                                            info.attr_type = format!("{kind:?}")
                                        }
                                        NlPolicyTypeAttrs::MinValueSigned(v) => {
                                            info.min = Some(v.into())
                                        }
                                        NlPolicyTypeAttrs::MaxValueSigned(v) => {
                                            info.max = Some(v.into())
                                        }
                                        NlPolicyTypeAttrs::MinValueUnsigned(v) => {
                                            info.min = Some(v.into())
                                        }
                                        NlPolicyTypeAttrs::MaxValueUnsigned(v) => {
                                            info.max = Some(v.into())
                                        }
                                        _ => {}
                                    }
                                }
                                self.policies
                                    .entry(policy.index.into())
                                    .or_default()
                                    .push(info);
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::RawMessage;

    #[test]
    fn echo_request_layout() {
        let mut datagram = Vec::new();
        let message = Message::new(Command::Echo, vec![crate::Attr::Data(b"hi".to_vec())]);
        encode(&mut datagram, 5, NLM_F_REQUEST, message, 0x17).unwrap();
        // header, genl header (ECHO, version), DATA (4 + 2, padded to 8)
        assert_eq!(datagram.len(), 16 + 4 + 8);
        assert_eq!(u16::from_ne_bytes([datagram[4], datagram[5]]), 0x17);
        assert_eq!(
            &datagram[16..20],
            &[genl::cmd::ECHO, genl::FAMILY_VERSION, 0, 0]
        );
        assert_eq!(&datagram[20..26], &[6, 0, attrs::DATA as u8, 0, b'h', b'i']);
    }

    #[test]
    fn messages_of_the_family_decode_by_their_command() {
        use crate::attr::Attr;
        let event = Message::new(
            Command::Event,
            vec![Attr::Data(b"x".to_vec()), Attr::Portid(7), Attr::Uid(65534)],
        );
        let unknown = Message::new(Command::Other(0x1f), vec![]);
        let mut datagram = Vec::new();
        encode(&mut datagram, 0, 0, event.clone(), 0x17).unwrap();
        encode(&mut datagram, 1, 0, unknown.clone(), 0x17).unwrap();
        // Another family's message is not the family's.
        encode(&mut datagram, 2, 0, event.clone(), 0x18).unwrap();
        let replies = decode(&datagram, 0x17).unwrap();
        assert_eq!(
            replies[..2],
            [
                Reply::Typed {
                    seq: 0,
                    message: event
                },
                Reply::Typed {
                    seq: 1,
                    message: unknown
                },
            ]
        );
        assert!(matches!(
            &replies[2],
            Reply::Raw { seq: 2, message } if message.nlmsg_type == 0x18
        ));
    }

    #[test]
    fn a_message_without_a_generic_header_does_not_decode() {
        let mut datagram = Vec::new();
        crate::message::encode(
            &mut datagram,
            1,
            0,
            RawMessage {
                nlmsg_type: 0x17,
                data: vec![1, 1],
            },
        );
        assert!(matches!(decode(&datagram, 0x17), Err(Error::Decode(_))));
    }

    #[test]
    fn get_family_request_layout() {
        let mut datagram = Vec::new();
        encode_get_family(&mut datagram, 9, "nltest");
        // header, genl header (CTRL_CMD_GETFAMILY 3), CTRL_ATTR_FAMILY_NAME
        // "nltest\0" (4 + 7, padded to 12)
        assert_eq!(datagram.len(), 16 + 4 + 12);
        assert_eq!(u16::from_ne_bytes([datagram[4], datagram[5]]), 0x10);
        assert_eq!(datagram[16], 3);
        assert_eq!(&datagram[24..31], b"nltest\0");
    }

    #[test]
    fn get_policy_request_layout() {
        let mut datagram = Vec::new();
        encode_get_policy(&mut datagram, 4, 0x17);
        // header (a dump request), genl header (CTRL_CMD_GETPOLICY 10),
        // CTRL_ATTR_FAMILY_ID 0x17 (4 + 2, padded to 8; the length counts
        // the padding, as netlink-packet-core emits attributes)
        assert_eq!(datagram.len(), 16 + 4 + 8);
        assert_eq!(u32::from_ne_bytes(datagram[0..4].try_into().unwrap()), 28);
        assert_eq!(u16::from_ne_bytes([datagram[4], datagram[5]]), 0x10);
        assert_eq!(u16::from_ne_bytes([datagram[6], datagram[7]]), 0x301);
        assert_eq!(u32::from_ne_bytes(datagram[8..12].try_into().unwrap()), 4);
        assert_eq!(datagram[16], 10);
        assert_eq!(&datagram[20..26], &[6, 0, 1, 0, 0x17, 0]);
    }
}
