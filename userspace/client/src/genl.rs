//! The typed service over generic netlink: the family's id and group,
//! resolved by name through the controller (`CTRL_CMD_GETFAMILY`, encoded
//! and decoded by `netlink-packet-generic`), and the mapping between the
//! unit's message types and the family's commands.

use crate::message::{encode_inner, messages};
use crate::Error;
use netlink_packet_core::{NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_generic::ctrl::nlas::{
    GenlCtrlAttrs, McastGrpAttrs, NlPolicyTypeAttrs, OpAttrs, OppolicyIndexAttr,
};
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use nltest_protocol::*;
use std::collections::BTreeMap;

/// Size of `struct genlmsghdr`, between the netlink header and the
/// attributes.
pub const GENL_HEADER_LEN: usize = 4;

/// The module's family as the controller describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenlFamily {
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

/// The family's command for the operation whose `nlmsg_type` on the unit is
/// `kind`: the operation of the same name in the other spec. Other types
/// are kept as they are (truncated), for tests of unknown commands.
pub fn command_of(kind: u16) -> u8 {
    raw::OPERATIONS
        .iter()
        .find(|op| op.value == kind)
        .and_then(|op| genl::OPERATIONS.iter().find(|g| g.name == op.name))
        .map_or(kind as u8, |op| op.value)
}

/// The `nlmsg_type` on the unit of a family command: the inverse of
/// [`command_of`].
pub fn kind_of(cmd: u8) -> u16 {
    genl::OPERATIONS
        .iter()
        .find(|op| op.value == cmd)
        .and_then(|op| raw::OPERATIONS.iter().find(|r| r.name == op.name))
        .map_or(cmd.into(), |op| op.value)
}

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
pub(crate) fn decode_family(datagram: &[u8], seq: u32) -> Result<Option<GenlFamily>, Error> {
    for message in messages::<GenlMessage<GenlCtrl>>(datagram) {
        let message =
            message.map_err(|error| Error::Decode(format!("controller reply: {error}")))?;
        if message.header.sequence_number != seq {
            continue;
        }
        match message.payload {
            NetlinkPayload::InnerMessage(reply) => {
                let mut family = GenlFamily {
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
    pub kind: String,
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
                                    kind: String::new(),
                                    min: None,
                                    max: None,
                                };
                                for item in policy.attr_policy.policies {
                                    match item {
                                        NlPolicyTypeAttrs::Type(kind) => {
                                            info.kind = format!("{kind:?}")
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

/// A typed request's attributes behind a generic netlink header.
pub(crate) struct GenlPayload<I> {
    pub(crate) family: u16,
    pub(crate) cmd: u8,
    pub(crate) version: u8,
    pub(crate) attributes: I,
}

impl<I: netlink_packet_core::NetlinkSerializable> netlink_packet_core::NetlinkSerializable
    for GenlPayload<I>
{
    fn message_type(&self) -> u16 {
        self.family
    }

    fn buffer_len(&self) -> usize {
        GENL_HEADER_LEN + self.attributes.buffer_len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer[0] = self.cmd;
        buffer[1] = self.version;
        buffer[2..4].fill(0);
        self.attributes.serialize(&mut buffer[GENL_HEADER_LEN..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_map_both_ways() {
        for kind in [
            raw::msg::ECHO,
            raw::msg::BROADCAST,
            raw::msg::GET_STATS,
            raw::msg::EVENT,
            0x1f,
        ] {
            assert_eq!(kind_of(command_of(kind)), kind);
        }
        assert_eq!(command_of(raw::msg::ECHO), genl::cmd::ECHO);
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
