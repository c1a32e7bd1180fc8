// SPDX-License-Identifier: GPL-2.0

//! Socket buffers: the ones the netlink core lends to the input callback, and
//! the ones the module builds to send.

use super::message::{Header, Messages, HEADER_LEN};
use crate::bindings;
use core::ptr::NonNull;
use kernel::{prelude::*, types::Opaque};

/// A socket buffer holding a datagram that a userspace socket sent to a
/// kernel socket, lent by the netlink core for the duration of the input
/// callback.
///
/// # Invariants
///
/// The wrapped `sk_buff` is valid and not modified for the lifetime of the
/// reference.
#[repr(transparent)]
pub(crate) struct ReceivedSkb(Opaque<bindings::sk_buff>);

impl ReceivedSkb {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `sk_buff` that nothing modifies or frees
    /// for the lifetime `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a Self {
        // SAFETY: `ReceivedSkb` is a transparent wrapper of `sk_buff`; the
        // caller guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// The port id of the socket that sent the datagram (`NETLINK_CB(skb).portid`),
    /// set by the netlink core; unlike `nlmsg_pid`, the sender cannot forge it.
    pub(crate) fn sender_portid(&self) -> u32 {
        // SAFETY: by the type invariant the skb is valid; its control block is
        // the netlink one as it came through the netlink core.
        unsafe { bindings::nltest_skb_sender_portid(self.0.get()) }
    }

    /// The datagram's bytes: the linear part of the buffer, which is all of it
    /// for netlink datagrams.
    fn data(&self) -> &[u8] {
        let skb = self.0.get();
        // SAFETY: by the type invariant the skb is valid and unmodified while
        // `self` is borrowed; `data` points to `skb_headlen` readable bytes.
        unsafe { core::slice::from_raw_parts((*skb).data, bindings::skb_headlen(skb) as usize) }
    }

    /// The netlink messages of the datagram, in order.
    pub(crate) fn messages(&self) -> Messages<'_> {
        Messages::new(self.data())
    }
}

/// A socket buffer the module owns, holding one netlink message to send.
///
/// # Invariants
///
/// `skb` points to a valid `sk_buff` owned by this object: it is freed on drop
/// unless a send function consumed it through [`OutMessage::into_raw`].
pub(crate) struct OutMessage {
    skb: NonNull<bindings::sk_buff>,
}

impl OutMessage {
    /// Allocates a message with the given header fields and payload, from the
    /// kernel (`nlmsg_pid` 0). Called in process context: it may sleep.
    pub(crate) fn new(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Result<Self> {
        let len = i32::try_from(payload.len()).map_err(|_| super::code::emsgsize())?;
        // SAFETY: `nlmsg_new` only allocates; `GFP_KERNEL` is allowed in the
        // process context the input callback runs in.
        let skb = unsafe { bindings::nlmsg_new(payload.len(), bindings::GFP_KERNEL) };
        // INVARIANT: a non-null result is a fresh skb that we own.
        let message = Self {
            skb: NonNull::new(skb).ok_or(ENOMEM)?,
        };
        // SAFETY: the skb is valid and ours; `nlmsg_put` checks its tailroom.
        let header = unsafe { bindings::nlmsg_put(skb, 0, seq, kind.into(), len, flags.into()) };
        if header.is_null() {
            return Err(super::code::emsgsize());
        }
        // SAFETY: `nlmsg_put` reserved `len` bytes of payload right after the
        // header, which cannot overlap the caller's slice.
        unsafe {
            core::ptr::copy_nonoverlapping(
                payload.as_ptr(),
                bindings::nlmsg_data(header).cast::<u8>(),
                payload.len(),
            )
        };
        Ok(message)
    }

    /// An `NLMSG_ERROR` message answering the request whose header is given,
    /// with the negative errno `error` (a `struct nlmsgerr`).
    pub(crate) fn error(request: Header, error: Error) -> Result<Self> {
        let mut payload = [0u8; 4 + HEADER_LEN];
        payload[..4].copy_from_slice(&error.to_errno().to_ne_bytes());
        payload[4..].copy_from_slice(&request.to_bytes());
        Self::new(bindings::NLMSG_ERROR as u16, 0, request.seq, &payload)
    }

    /// Gives up ownership of the skb to a function that consumes it.
    pub(super) fn into_raw(self) -> *mut bindings::sk_buff {
        let skb = self.skb.as_ptr();
        core::mem::forget(self);
        skb
    }
}

impl Drop for OutMessage {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the skb and nothing else uses it.
        unsafe { bindings::kfree_skb(self.skb.as_ptr()) };
    }
}
