// SPDX-License-Identifier: GPL-2.0

//! The two transports a request can come through, and the one place that
//! tells them apart: how a message of the service is made, sent to the
//! sender and multicast on each.

use super::replies::{DeliveryReport, Replies, Sent};
use crate::netlink::genl::GenlInfo;
use crate::netlink::skb::{MessageWriter, OutMessage};
use kernel::prelude::*;

/// One message, as it is identified on each transport: its `nlmsg_type` on
/// the protocol unit, its command (`genlmsghdr.cmd`) in the family.
#[derive(Clone, Copy)]
pub(crate) struct MessageType {
    /// `nlmsg_type` on the service's protocol unit.
    pub(crate) nlmsg_type: u16,
    /// Command of the generic netlink family.
    pub(crate) cmd: u8,
}

impl MessageType {
    /// The numbers of one operation in the specs of both transports.
    pub(crate) const fn of(
        unit: &crate::protocol::ynl::Operation<u16>,
        genl: &crate::protocol::ynl::Operation<u8>,
    ) -> Self {
        Self {
            nlmsg_type: unit.value,
            cmd: genl.value,
        }
    }
}

/// Where a request came from, and so how to answer it.
#[derive(Clone, Copy)]
pub(super) enum Transport<'a> {
    /// The service's own protocol unit: the replies to the request's
    /// datagram, through the namespace's kernel socket.
    Unit { replies: &'a Replies<'a> },
    /// The service's generic netlink family; `on_sent` hears of each reply
    /// sent through [`Transport::reply_with`].
    Generic {
        info: &'a GenlInfo,
        on_sent: &'a dyn DeliveryReport,
    },
}

impl Transport<'_> {
    /// A message of `message_type` (on this transport), with sequence
    /// number `seq` and room for `payload_len` bytes of attributes.
    #[inline]
    pub(super) fn new_message(
        self,
        message_type: MessageType,
        seq: u32,
        payload_len: usize,
    ) -> Result<OutMessage> {
        match self {
            Self::Unit { .. } => {
                OutMessage::with_attributes(message_type.nlmsg_type, 0, seq, payload_len)
            }
            Self::Generic { info, .. } => info.new_message(message_type.cmd, seq, payload_len),
        }
    }

    /// The type of the request's replies, its own: `nlmsg_type` is the
    /// request's.
    #[inline]
    pub(super) fn reply_type(self, nlmsg_type: u16) -> MessageType {
        let cmd = match self {
            Self::Unit { .. } => 0,
            Self::Generic { info, .. } => info.cmd(),
        };
        MessageType { nlmsg_type, cmd }
    }

    /// Replies to `portid` with a message of `message_type`, with room for
    /// `attributes_len` bytes of attributes that `fill` writes; the delivery
    /// is reported with `tally` (on the unit, possibly later, in one datagram
    /// with other replies).
    #[inline]
    pub(super) fn reply_with(
        self,
        message_type: MessageType,
        seq: u32,
        portid: u32,
        attributes_len: usize,
        tally: usize,
        fill: impl FnOnce(&mut MessageWriter<'_>) -> Result,
    ) -> Result {
        match self {
            Self::Unit { replies } => {
                replies.build(message_type.nlmsg_type, seq, attributes_len, tally, fill)
            }
            Self::Generic { info, on_sent } => {
                let mut message = info.new_message(message_type.cmd, seq, attributes_len)?;
                fill(&mut message.writer())?;
                on_sent.sent(Sent {
                    messages: 1,
                    tally,
                    result: info.unicast(message, portid),
                });
                Ok(())
            }
        }
    }

    /// Sends `message` to `portid`, in a datagram of its own, after the
    /// replies queued before it.
    #[inline]
    pub(super) fn send(self, message: OutMessage, portid: u32) -> Result {
        match self {
            Self::Unit { replies } => replies.send_now(message),
            Self::Generic { info, .. } => info.unicast(message, portid),
        }
    }

    /// Sends the message `build` makes to the sockets of the request's
    /// namespace that joined `group`, but the one bound to
    /// `exclude_portid`. Builds nothing, and fails with `ESRCH`, when none
    /// joined it (or the transport has no such group).
    #[inline]
    pub(super) fn multicast(
        self,
        group: u32,
        exclude_portid: u32,
        build: impl FnOnce() -> Result<OutMessage>,
    ) -> Result {
        match self {
            Self::Unit { replies } => {
                let socket = replies.socket();
                if !socket.has_listeners(group) {
                    return Err(ESRCH);
                }
                socket.multicast(build()?, exclude_portid, group)
            }
            Self::Generic { info, .. } => {
                let Some(group) = info.group(group) else {
                    return Err(ESRCH);
                };
                if !group.has_listeners() {
                    return Err(ESRCH);
                }
                group.multicast(build()?, exclude_portid)
            }
        }
    }
}
