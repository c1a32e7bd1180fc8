// SPDX-License-Identifier: GPL-2.0

//! Socket buffers: the ones the netlink core lends to the input callback, and
//! the ones the module builds to send.

use super::message::{align, Header, Message, Messages, HEADER_LEN};
use crate::bindings;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{prelude::*, types::Opaque};

/// `kernel::error::to_result`, inlined: it is called on every message sent
/// and the kernel crate's is an out-of-line call. The error path stays
/// out of line, and is known to be an error where it is inlined: after an
/// out-of-line `to_result`, the compiler would keep an `Ok` path that no
/// negative errno takes.
#[inline]
pub(crate) fn to_result(errno: kernel::ffi::c_int) -> Result {
    if errno < 0 {
        Err(Error::from_errno(errno))
    } else {
        Ok(())
    }
}

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
    #[inline]
    pub(crate) fn sender_portid(&self) -> u32 {
        // SAFETY: by the type invariant the skb is valid; its control block,
        // 8-byte aligned and 48 bytes long, is the netlink one (`NETLINK_CB`)
        // as it came through the netlink core, which filled it in.
        unsafe {
            let control = (*self.0.get())
                .cb
                .as_ptr()
                .cast::<bindings::netlink_skb_parms>();
            (*control).portid
        }
    }

    /// The sender's uid, in the user namespace of the sending socket.
    pub(crate) fn sender_uid(&self) -> u32 {
        // SAFETY: by the type invariant the skb is valid, with the netlink
        // control block the netlink core filled in.
        unsafe { bindings::nltest_skb_sender_uid(self.0.get()) }
    }

    /// Whether the sender has `capability` in the user namespace that owns
    /// the network namespace of the socket (`netlink_net_capable`).
    pub(crate) fn sender_has_net_capability(&self, capability: i32) -> bool {
        // SAFETY: by the type invariant the skb is valid.
        unsafe { bindings::netlink_net_capable(self.0.get(), capability) }
    }

    pub(super) fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// Acknowledges `message`, one of the datagram's, as `netlink_rcv_skb`
    /// does: `NLMSG_ERROR` with `error` (0 or a negative errno) and the
    /// extended ack, to the sender.
    pub(super) fn ack(
        &self,
        message: &Message<'_>,
        error: i32,
        extack: &bindings::netlink_ext_ack,
    ) {
        // SAFETY: by the type invariant the skb is valid; the message's header
        // lies in it, with a checked length; `netlink_ack` only reads them and
        // `extack`, and copies what it sends.
        unsafe {
            bindings::netlink_ack(self.0.get(), message.header_ptr().cast_mut(), error, extack)
        }
    }

    /// The datagram's bytes: the linear part of the buffer, which is all of it
    /// for netlink datagrams.
    #[inline]
    fn data(&self) -> &[u8] {
        let skb = self.0.get();
        // SAFETY: by the type invariant the skb is valid and unmodified while
        // `self` is borrowed; `data` points to `skb_headlen` (`len -
        // data_len`) readable bytes.
        unsafe {
            let headlen = (*skb).len - (*skb).data_len;
            core::slice::from_raw_parts((*skb).data, headlen as usize)
        }
    }

    /// The netlink messages of the datagram, in order.
    #[inline]
    pub(crate) fn messages(&self) -> Messages<'_> {
        Messages::new(self.data())
    }
}

/// A socket buffer the module owns, to send as one datagram: one netlink
/// message or several.
///
/// # Invariants
///
/// `skb` points to a valid, linear `sk_buff` owned by this object: it is
/// freed on drop unless a send function consumed it through
/// [`OutBuffer::into_raw`].
pub(crate) struct OutBuffer {
    skb: NonNull<bindings::sk_buff>,
}

impl OutBuffer {
    /// Allocates room for at least `capacity` bytes of messages, headers
    /// included. Called in process context: it may sleep.
    #[inline]
    pub(super) fn with_capacity(capacity: usize) -> Result<Self> {
        let payload = capacity.saturating_sub(HEADER_LEN);
        // SAFETY: `nlmsg_new` only allocates; `GFP_KERNEL` is allowed in the
        // process context the callbacks run in.
        let skb = unsafe { bindings::nlmsg_new(payload, bindings::GFP_KERNEL) };
        // INVARIANT: a fresh, linear skb that we own.
        Ok(Self {
            skb: NonNull::new(skb).ok_or(ENOMEM)?,
        })
    }

    /// Bytes that can still be appended (`skb_tailroom`).
    #[inline]
    pub(super) fn room(&self) -> usize {
        // SAFETY: the skb is valid (type invariant) and linear, so its
        // tailroom is `end - tail`, never negative.
        unsafe {
            let skb = self.skb.as_ptr();
            (*skb).end.wrapping_sub((*skb).tail) as usize
        }
    }

    /// Appends a message header (`nlmsg_pid` 0: from the kernel) and room for
    /// `payload_len` bytes after it; fails with `EMSGSIZE` when they do not
    /// fit.
    #[inline]
    pub(super) fn put(
        &mut self,
        nlmsg_type: u16,
        flags: u16,
        seq: u32,
        payload_len: usize,
    ) -> Result<NonNull<bindings::nlmsghdr>> {
        // `nlmsg_put`, with its tailroom check written here: the C inline
        // would cost a call to its wrapper for every reply.
        if self.room() < align(HEADER_LEN + payload_len) {
            return Err(crate::compat::code::emsgsize());
        }
        // SAFETY: the skb is valid and ours (type invariant), with room for
        // the message (checked above, so `payload_len` fits an `int`), which
        // `__nlmsg_put` appends.
        let header = unsafe {
            bindings::__nlmsg_put(
                self.skb.as_ptr(),
                0,
                seq,
                nlmsg_type.into(),
                payload_len as i32,
                flags.into(),
            )
        };
        NonNull::new(header).ok_or_else(crate::compat::code::emsgsize)
    }

    /// Appends a message whose payload is a copy of `payload`.
    #[inline]
    pub(super) fn put_copy(
        &mut self,
        nlmsg_type: u16,
        flags: u16,
        seq: u32,
        payload: &[u8],
    ) -> Result<NonNull<bindings::nlmsghdr>> {
        let header = self.put(nlmsg_type, flags, seq, payload.len())?;
        // SAFETY: `nlmsg_put` reserved `payload.len()` bytes right after the
        // header (`nlmsg_data`: `NLMSG_HDRLEN` bytes on), which cannot overlap
        // the caller's slice.
        unsafe {
            core::ptr::copy_nonoverlapping(
                payload.as_ptr(),
                header.as_ptr().cast::<u8>().add(HEADER_LEN),
                payload.len(),
            )
        };
        Ok(header)
    }

    /// Appends a message whose attributes `fill` writes; on error nothing of
    /// it is left in the buffer.
    #[inline]
    pub(super) fn put_with(
        &mut self,
        nlmsg_type: u16,
        flags: u16,
        seq: u32,
        fill: impl FnOnce(&mut MessageWriter<'_>) -> Result,
    ) -> Result {
        let header = self.put(nlmsg_type, flags, seq, 0)?;
        // SAFETY: `header` is the buffer's last message, and the writer
        // borrows the buffer.
        let mut writer = unsafe { MessageWriter::new(self.skb.as_ptr(), header.as_ptr()) };
        fill(&mut writer).inspect_err(|_| {
            // SAFETY: `header` is the last message of the skb, which is ours.
            unsafe { bindings::nlmsg_cancel(self.skb.as_ptr(), header.as_ptr()) }
        })
    }

    /// Gives up ownership of the skb to a function that consumes it.
    #[inline]
    pub(super) fn into_raw(self) -> *mut bindings::sk_buff {
        let skb = self.skb.as_ptr();
        core::mem::forget(self);
        skb
    }
}

impl Drop for OutBuffer {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the skb and nothing else uses it.
        unsafe { bindings::kfree_skb(self.skb.as_ptr()) };
    }
}

/// A socket buffer the module owns, holding one netlink message to send.
///
/// # Invariants
///
/// `header` is the last message of `buffer`.
pub(crate) struct OutMessage {
    buffer: OutBuffer,
    header: NonNull<bindings::nlmsghdr>,
}

impl OutMessage {
    /// A message with the given header fields and payload bytes.
    #[inline]
    pub(crate) fn new(nlmsg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Result<Self> {
        let mut buffer = OutBuffer::with_capacity(HEADER_LEN + payload.len())?;
        let header = buffer.put_copy(nlmsg_type, flags, seq, payload)?;
        // INVARIANT: the one message of the buffer.
        Ok(Self { buffer, header })
    }

    /// A message with no payload yet, with room for `attributes_len` bytes of
    /// attributes, added with the `put_*` methods.
    #[inline]
    pub(crate) fn with_attributes(
        nlmsg_type: u16,
        flags: u16,
        seq: u32,
        attributes_len: usize,
    ) -> Result<Self> {
        let mut buffer = OutBuffer::with_capacity(HEADER_LEN + attributes_len)?;
        let header = buffer.put(nlmsg_type, flags, seq, 0)?;
        // INVARIANT: the one message of the buffer.
        Ok(Self { buffer, header })
    }

    /// A message of generic netlink `family` with command `cmd` (the
    /// family's id as `nlmsg_type`, then a generic netlink header), with room
    /// for `attributes_len` bytes of attributes, added with the `put_*`
    /// methods. Called in process context: it may sleep.
    ///
    /// # Safety
    ///
    /// `family` must point to a registered generic netlink family.
    pub(super) unsafe fn generic(
        family: *const bindings::genl_family,
        cmd: u8,
        seq: u32,
        attributes_len: usize,
    ) -> Result<Self> {
        // As `genlmsg_new`.
        let buffer =
            OutBuffer::with_capacity(HEADER_LEN + bindings::NLTEST_GENL_HDRLEN + attributes_len)?;
        // SAFETY: the skb is valid and ours; `genlmsg_put` checks its
        // tailroom, reads the family (registered: the caller guarantees it)
        // and returns the user header, which follows the netlink header and
        // the generic netlink header.
        let header = unsafe {
            let user = bindings::genlmsg_put(buffer.skb.as_ptr(), 0, seq, family, 0, cmd);
            if user.is_null() {
                core::ptr::null_mut()
            } else {
                bindings::genlmsg_nlhdr(user)
            }
        };
        let header = NonNull::new(header).ok_or_else(crate::compat::code::emsgsize)?;
        // INVARIANT: the one message of the buffer.
        Ok(Self { buffer, header })
    }

    /// An `NLMSG_ERROR` message answering the request whose header is given,
    /// with the negative errno `error` (a `struct nlmsgerr`).
    pub(crate) fn error(request: Header, error: Error) -> Result<Self> {
        let mut payload = [0u8; 4 + HEADER_LEN];
        payload[..4].copy_from_slice(&error.to_errno().to_ne_bytes());
        payload[4..].copy_from_slice(&request.to_bytes());
        Self::new(bindings::NLMSG_ERROR as u16, 0, request.nlmsg_seq, &payload)
    }

    /// The message, to append attributes to.
    #[inline]
    pub(crate) fn writer(&mut self) -> MessageWriter<'_> {
        // SAFETY: the message is the buffer's one (type invariant), which the
        // writer borrows mutably.
        unsafe { MessageWriter::new(self.buffer.skb.as_ptr(), self.header.as_ptr()) }
    }

    /// Gives up ownership of the skb to a function that consumes it.
    #[inline]
    pub(super) fn into_raw(self) -> *mut bindings::sk_buff {
        self.buffer.into_raw()
    }
}

impl From<OutMessage> for OutBuffer {
    #[inline]
    fn from(message: OutMessage) -> Self {
        message.buffer
    }
}

/// Bytes an attribute with `payload_len` bytes of payload takes in a message
/// (`nla_total_size`). A length within 7 of `usize::MAX` saturates to a
/// size no buffer has, instead of overflowing.
#[inline]
pub(crate) const fn attribute_size(payload_len: usize) -> usize {
    payload_len.saturating_add(4 + 3) & !3
}

/// Appends attributes to the last message of a socket buffer.
///
/// # Invariants
///
/// `header` is the last message of `skb`, and both stay valid and exclusively
/// borrowed for `'a`.
pub(crate) struct MessageWriter<'a> {
    skb: *mut bindings::sk_buff,
    header: *mut bindings::nlmsghdr,
    _message: PhantomData<&'a mut ()>,
}

impl MessageWriter<'_> {
    /// A writer of the attributes of message `header`, in `skb`.
    ///
    /// # Safety
    ///
    /// `header` must be the last message of `skb`, and both valid and
    /// borrowed by nothing else while the writer lives.
    #[inline]
    pub(crate) unsafe fn new(skb: *mut bindings::sk_buff, header: *mut bindings::nlmsghdr) -> Self {
        // INVARIANT: the caller guarantees it.
        Self {
            skb,
            header,
            _message: PhantomData,
        }
    }

    /// Appends attribute `attr` with payload `data`; fails with `EMSGSIZE`
    /// when the buffer is full.
    #[inline]
    pub(crate) fn put_bytes(&mut self, attr: u16, data: &[u8]) -> Result {
        let len = i32::try_from(data.len()).map_err(|_| crate::compat::code::emsgsize())?;
        // SAFETY: the skb is valid and ours to write (type invariant);
        // `nla_put` checks its tailroom and copies `len` bytes from `data`.
        to_result(unsafe { bindings::nla_put(self.skb, attr.into(), len, data.as_ptr().cast()) })?;
        self.end();
        Ok(())
    }

    /// Sets the message's length to what it holds (`nlmsg_end`, inlined:
    /// it runs for every attribute of every reply).
    #[inline]
    fn end(&mut self) {
        // SAFETY: the skb is valid and `header` its last message (type
        // invariant), so the skb's tail, `tail` bytes after its head (an
        // offset, on 64-bit), lies at or after the header, within the
        // buffer.
        unsafe {
            let skb = self.skb;
            let tail = (*skb).head.add((*skb).tail as usize);
            (*self.header).nlmsg_len = tail.offset_from(self.header.cast::<u8>()) as u32;
        }
    }

    /// Appends a u32 attribute.
    #[inline]
    pub(crate) fn put_u32(&mut self, attr: u16, value: u32) -> Result {
        self.put_bytes(attr, &value.to_ne_bytes())
    }

    /// Appends an unsigned attribute of variable width (`NLA_UINT`, as
    /// `nla_put_uint`): 4 bytes while the value fits, 8 beyond.
    #[inline]
    pub(crate) fn put_uint(&mut self, attr: u16, value: u64) -> Result {
        match u32::try_from(value) {
            Ok(value) => self.put_u32(attr, value),
            Err(_) => self.put_bytes(attr, &value.to_ne_bytes()),
        }
    }
}

impl MessageWriter<'_> {
    /// Appends a nested attribute `attr` whose attributes `fill` writes;
    /// on error nothing of it is left in the message.
    pub(crate) fn nest(&mut self, attr: u16, fill: impl FnOnce(&mut Self) -> Result) -> Result {
        // SAFETY: the skb is ours to write (type invariant); `nla_nest_start`
        // checks its tailroom.
        let start = unsafe { bindings::nla_nest_start(self.skb, attr.into()) };
        if start.is_null() {
            return Err(crate::compat::code::emsgsize());
        }
        if let Err(error) = fill(self) {
            // SAFETY: `start` is the nest just opened in this skb.
            unsafe { bindings::nla_nest_cancel(self.skb, start) };
            return Err(error);
        }
        // SAFETY: `start` is the nest opened above, `header` the last message.
        unsafe {
            bindings::nla_nest_end(self.skb, start);
        }
        self.end();
        Ok(())
    }
}
