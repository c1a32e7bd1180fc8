// SPDX-License-Identifier: GPL-2.0

//! Generic netlink: the request information the core hands a family's
//! callbacks, and what a family can do with it (messages of the family,
//! unicast, its multicast groups in the request's namespace).
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h).

use super::skb::{to_result, OutMessage};
use crate::bindings;
use kernel::{prelude::*, types::Opaque};

/// The request information the generic netlink core passes to a doit or
/// keeps for a dump, borrowed.
///
/// # Invariants
///
/// The wrapped `genl_info` is valid for the lifetime of the reference; its
/// `family` is registered, its `genlhdr` and `nlhdr` point to the request,
/// and its namespace is alive.
#[repr(transparent)]
pub(crate) struct GenlInfo(Opaque<bindings::genl_info>);

impl GenlInfo {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a `genl_info` the generic netlink core filled for
    /// a request to a registered family, valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::genl_info) -> &'a Self {
        // SAFETY: `GenlInfo` is a transparent wrapper of `genl_info`; the
        // caller guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    pub(crate) fn raw(&self) -> &bindings::genl_info {
        // SAFETY: valid by the type invariant, and only read.
        unsafe { &*self.0.get() }
    }

    /// The request's namespace.
    pub(crate) fn net(&self) -> *mut bindings::net {
        // SAFETY: valid by the type invariant.
        unsafe { bindings::genl_info_net(self.0.get()) }
    }

    fn family(&self) -> *const bindings::genl_family {
        self.raw().family
    }

    /// The request's command.
    pub(crate) fn cmd(&self) -> u8 {
        // SAFETY: `genlhdr` points into the request (type invariant).
        unsafe { (*self.raw().genlhdr).cmd }
    }

    /// A message of the family with command `cmd`.
    pub(crate) fn new_message(&self, cmd: u8, seq: u32, payload_len: usize) -> Result<OutMessage> {
        // SAFETY: the family is registered (type invariant).
        unsafe { OutMessage::generic(self.family(), cmd, seq, payload_len) }
    }

    /// Sends `message` to the socket bound to `portid` in the request's
    /// namespace, without blocking (as [`super::Socket::unicast`]).
    pub(crate) fn unicast(&self, message: OutMessage, portid: u32) -> Result {
        // SAFETY: the namespace is valid (type invariant) and so is its
        // generic netlink socket; `genlmsg_unicast` consumes the skb, whose
        // ownership `into_raw` hands over.
        to_result(unsafe { bindings::genlmsg_unicast(self.net(), message.into_raw(), portid) })
    }

    /// The family's multicast `group` (from 1), if it has it.
    pub(crate) fn group(&self, group: u32) -> Option<FamilyGroup<'_>> {
        // SAFETY: the family is registered (type invariant).
        let count = u32::from(unsafe { (*self.family()).n_mcgrps });
        // INVARIANT: checked against the family's count.
        (1..=count).contains(&group).then(|| FamilyGroup {
            info: self,
            index: group - 1,
        })
    }
}

/// One of the multicast groups of the family of a request, in the
/// request's namespace.
///
/// # Invariants
///
/// `index` is below the `n_mcgrps` of `info`'s family.
#[derive(Clone, Copy)]
pub(crate) struct FamilyGroup<'a> {
    info: &'a GenlInfo,
    index: u32,
}

impl FamilyGroup<'_> {
    /// Whether some socket of the request's namespace joined the group.
    pub(crate) fn has_listeners(self) -> bool {
        // SAFETY: the family is registered and the namespace valid (type
        // invariant of `GenlInfo`); `index` is one of the family's groups
        // (type invariant).
        unsafe { bindings::genl_has_listeners(self.info.family(), self.info.net(), self.index) > 0 }
    }

    /// Sends `message` to the sockets of the request's namespace that joined
    /// the group, but the one bound to `exclude_portid` (0: none is left
    /// out). Fails with `ESRCH` when no one received it.
    pub(crate) fn multicast(self, message: OutMessage, exclude_portid: u32) -> Result {
        // SAFETY: the family is registered and the namespace valid (type
        // invariant of `GenlInfo`); `index` is one of the family's groups
        // (type invariant), so `genlmsg_multicast_netns` takes the skb,
        // whose ownership `into_raw` hands over, and consumes it.
        // `GFP_KERNEL` is allowed in process context.
        to_result(unsafe {
            bindings::genlmsg_multicast_netns(
                self.info.family(),
                self.info.net(),
                message.into_raw(),
                exclude_portid,
                self.index,
                bindings::GFP_KERNEL,
            )
        })
    }
}
