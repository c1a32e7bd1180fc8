// SPDX-License-Identifier: GPL-2.0

//! Dumps: multipart answers the netlink core pulls as the reader reads.

use crate::bindings;
use crate::netlink::skb::{MessageWriter, ReceivedSkb};
use core::marker::PhantomData;
use kernel::{ffi, prelude::*};

/// How the parts of a dump start.
#[derive(Clone, Copy)]
pub(super) enum Framing {
    /// On the protocol unit: a netlink header of type `nlmsg_type`.
    Unit { nlmsg_type: u16 },
    /// In a generic netlink family: a netlink header of the family's type,
    /// then a generic netlink header with command `cmd`.
    Generic {
        family: *const bindings::genl_family,
        cmd: u8,
    },
}

/// The socket buffer of one round of a dump, and where the dump stands.
///
/// # Invariants
///
/// `skb` and `cb` are the buffer and the callback state the netlink core
/// passed to the dump callback, valid and exclusively ours for `'a`; a
/// `Framing::Generic` family is the registered family of the dump.
pub(crate) struct DumpWriter<'a> {
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
    framing: Framing,
    _round: PhantomData<&'a mut ()>,
}

impl DumpWriter<'_> {
    /// How many parts earlier rounds wrote (`cb->args[0]`).
    pub(crate) fn cursor(&self) -> usize {
        // SAFETY: `cb` is valid (type invariant); `args` is the part of the
        // union this module uses (generic netlink keeps its own state in
        // `cb->data`).
        unsafe { (*self.cb).__bindgen_anon_1.args[0] as usize }
    }

    /// Appends one part (`NLM_F_MULTI`), whose attributes `fill` writes, and
    /// moves the cursor past it. Returns `false`, leaving the buffer as it
    /// was, when the part does not fit: the rest goes into the next round.
    pub(crate) fn part(&mut self, fill: impl FnOnce(&mut MessageWriter<'_>) -> Result) -> bool {
        // SAFETY: `cb` is valid (type invariant); its `skb` is the request,
        // whose control block holds the reader's port id, and `nlh` the
        // request's header.
        let (portid, seq) = unsafe {
            let cb = &*self.cb;
            (
                ReceivedSkb::from_raw(cb.skb).sender_portid(),
                (*cb.nlh).nlmsg_seq,
            )
        };
        let flags = bindings::NLM_F_MULTI as i32;
        let header = match self.framing {
            // SAFETY: the skb is ours to write this round (type invariant);
            // `nlmsg_put` checks its tailroom.
            Framing::Unit { nlmsg_type } => unsafe {
                bindings::nlmsg_put(self.skb, portid, seq, nlmsg_type.into(), 0, flags)
            },
            // SAFETY: as above, and the family is registered (type
            // invariant); `genlmsg_put` checks the tailroom and returns the
            // user header, right after the netlink and generic headers.
            Framing::Generic { family, cmd } => unsafe {
                let user = bindings::genlmsg_put(self.skb, portid, seq, family, flags, cmd);
                if user.is_null() {
                    core::ptr::null_mut()
                } else {
                    bindings::genlmsg_nlhdr(user)
                }
            },
        };
        if header.is_null() {
            return false;
        }
        // SAFETY: `header` is the last message of the round's skb, which the
        // writer borrows through `self`.
        let mut writer = unsafe { MessageWriter::new(self.skb, header) };
        if fill(&mut writer).is_err() {
            // SAFETY: `header` is the last message of the skb.
            unsafe { bindings::nlmsg_cancel(self.skb, header) };
            return false;
        }
        // SAFETY: `cb` is valid (type invariant).
        unsafe { (*self.cb).__bindgen_anon_1.args[0] += 1 };
        true
    }
}

/// What a command does in each round of its dump, for state `T`.
pub(crate) type DumpIt<T> = fn(&T, &mut DumpWriter<'_>) -> Result;

/// One round of a dump, for either transport: `dumpit` writes it.
///
/// # Safety
///
/// `skb` and `cb` must be what the netlink core passed to a dump callback,
/// and `framing` match the transport (a generic family being the dump's,
/// registered).
#[inline]
pub(super) unsafe fn dump_round<T>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
    framing: Framing,
    state: &T,
    dumpit: DumpIt<T>,
) -> ffi::c_int {
    // INVARIANT: the netlink core lends `skb` and `cb` for this call; the
    // caller vouches for `framing`.
    let mut writer = DumpWriter {
        skb,
        cb,
        framing,
        _round: PhantomData,
    };
    match dumpit(state, &mut writer) {
        // A round that wrote nothing ends the dump (`NLMSG_DONE`).
        // SAFETY: `skb` is valid for the call.
        Ok(()) => unsafe { (*skb).len as ffi::c_int },
        Err(error) => error.to_errno(),
    }
}
