// SPDX-License-Identifier: GPL-2.0

//! Dumps: multipart answers the netlink core pulls as the reader reads.

use super::pernet::{state_of, Service};
use super::skb::MessageWriter;
use crate::bindings;
use core::marker::PhantomData;
use kernel::{ffi, prelude::*};

/// The socket buffer of one round of a dump, and where the dump stands.
///
/// # Invariants
///
/// `skb` and `cb` are the buffer and the callback state the netlink core
/// passed to the dump callback, valid and exclusively ours for `'a`.
pub(crate) struct DumpWriter<'a> {
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
    _round: PhantomData<&'a mut ()>,
}

impl DumpWriter<'_> {
    /// How many parts earlier rounds wrote (`cb->args[0]`).
    pub(crate) fn cursor(&self) -> usize {
        // SAFETY: `cb` is valid (type invariant); `args` is the part of the
        // union this module uses.
        unsafe { (*self.cb).__bindgen_anon_1.args[0] as usize }
    }

    /// Appends one part (`NLM_F_MULTI`) of type `kind`, whose attributes
    /// `fill` writes, and moves the cursor past it. Returns `false`, leaving
    /// the buffer as it was, when the part does not fit: the rest goes into
    /// the next round.
    pub(crate) fn part(
        &mut self,
        kind: u16,
        fill: impl FnOnce(&mut MessageWriter<'_>) -> Result,
    ) -> bool {
        // SAFETY: `cb` is valid (type invariant); its `skb` is the request,
        // whose control block holds the reader's port id, and `nlh` the
        // request's header.
        let (portid, seq) = unsafe {
            let cb = &*self.cb;
            (
                bindings::nltest_skb_sender_portid(cb.skb),
                (*cb.nlh).nlmsg_seq,
            )
        };
        let flags = bindings::NLM_F_MULTI as i32;
        // SAFETY: the skb is ours to write this round (type invariant);
        // `nlmsg_put` checks its tailroom.
        let header = unsafe { bindings::nlmsg_put(self.skb, portid, seq, kind.into(), 0, flags) };
        if header.is_null() {
            return false;
        }
        let mut writer = MessageWriter {
            skb: self.skb,
            header,
            _message: PhantomData,
        };
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

/// The dump callback of service `S`.
///
/// # Safety
///
/// Only the netlink core may call it, as the `dump` of a dump started by
/// [`super::Request::start_dump`].
pub(super) unsafe extern "C" fn dump_callback<S: Service>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> ffi::c_int {
    // SAFETY: the netlink core passes a valid callback state whose `skb` is
    // the request, sent to a kernel socket of this service, in a network
    // namespace that lives as long as the reader's socket.
    let state = unsafe { state_of::<S>(bindings::nltest_skb_sock((*cb).skb)) };
    // INVARIANT: the netlink core lends `skb` and `cb` for this call.
    let mut writer = DumpWriter {
        skb,
        cb,
        _round: PhantomData,
    };
    match S::dump(state, &mut writer) {
        // A round that wrote nothing ends the dump (`NLMSG_DONE`).
        // SAFETY: `skb` is valid for the call.
        Ok(()) => unsafe { (*skb).len as ffi::c_int },
        Err(error) => error.to_errno(),
    }
}
