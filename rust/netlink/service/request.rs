// SPDX-License-Identifier: GPL-2.0

//! Typed requests, from either transport, with their extended
//! acknowledgement, their replies and the events they publish.

use super::transport::{MessageType, Transport};
use crate::bindings;
use crate::compat::CStrExt;
use crate::netlink::attr::{Attr, Attributes, ParseTable, Policy};
use crate::netlink::skb::{MessageWriter, OutMessage, ReceivedSkb};
use core::{ffi::CStr, fmt::Write};
use kernel::{ffi, prelude::*};

/// A typed request, as the input loop (on the protocol unit) or the
/// generic netlink core (doit) hands it over. Both transports offer the same:
/// the sender, the extended ack, replies, and events to publish.
///
/// # Invariants
///
/// `header` points to the message of `skb` that holds the request, whose
/// `nlmsg_len` the input loop or the generic netlink core checked, and
/// `extack` to the extended ack sent with the answer; both are valid for
/// `'a`.
pub(crate) struct Request<'a> {
    transport: Transport<'a>,
    skb: &'a ReceivedSkb,
    header: *const bindings::nlmsghdr,
    extack: *mut bindings::netlink_ext_ack,
}

impl<'a> Request<'a> {
    /// The request whose message `header` is in `skb`, to be answered on
    /// `transport` with `extack`.
    ///
    /// # Safety
    ///
    /// `header` must point to a message of `skb` whose `nlmsg_len` the input
    /// loop or the generic netlink core checked, and `extack` to the extended
    /// ack sent with the answer, used by nothing else meanwhile; both valid
    /// for `'a`.
    #[inline]
    pub(super) unsafe fn new(
        transport: Transport<'a>,
        skb: &'a ReceivedSkb,
        header: *const bindings::nlmsghdr,
        extack: *mut bindings::netlink_ext_ack,
    ) -> Self {
        // INVARIANT: the caller guarantees it.
        Self {
            transport,
            skb,
            header,
            extack,
        }
    }

    /// `nlmsg_type` (on the protocol unit: the command).
    #[inline]
    pub(super) fn nlmsg_type(&self) -> u16 {
        // SAFETY: `header` is valid by the type invariant.
        unsafe { (*self.header).nlmsg_type }
    }

    /// `nlmsg_flags`.
    #[inline]
    fn flags(&self) -> u16 {
        // SAFETY: `header` is valid by the type invariant.
        unsafe { (*self.header).nlmsg_flags }
    }

    /// `nlmsg_seq`.
    #[inline]
    pub(crate) fn seq(&self) -> u32 {
        // SAFETY: `header` is valid by the type invariant.
        unsafe { (*self.header).nlmsg_seq }
    }

    /// Whether the request asks for copies of the notifications it causes
    /// (`NLM_F_ECHO`, `nlmsg_report`).
    #[inline]
    fn wants_echo(&self) -> bool {
        u32::from(self.flags()) & bindings::NLM_F_ECHO != 0
    }

    /// Whether the request asks for a dump (`NLM_F_DUMP`).
    #[inline]
    pub(super) fn is_dump(&self) -> bool {
        u32::from(self.flags()) & bindings::NLM_F_DUMP == bindings::NLM_F_DUMP
    }

    /// The sender's port id, from the netlink core.
    #[inline]
    pub(crate) fn sender_portid(&self) -> u32 {
        self.skb.sender_portid()
    }

    /// The sender's uid, in the user namespace of the sending socket.
    pub(crate) fn sender_uid(&self) -> u32 {
        self.skb.sender_uid()
    }

    /// Whether the sender has `CAP_NET_ADMIN` in the user namespace that owns
    /// the network namespace of the socket.
    pub(super) fn sender_is_net_admin(&self) -> bool {
        self.skb
            .sender_has_net_capability(bindings::CAP_NET_ADMIN as i32)
    }

    /// Parses `attributes`, the request's own, into `table` against
    /// `policy`, as [`Attributes::parse`] does. (The generic netlink core
    /// does the same for the family.)
    ///
    /// # Safety
    ///
    /// `policy.max_attr()` must be below `T::LEN`.
    #[inline]
    pub(super) unsafe fn parse<T: ParseTable>(
        &self,
        table: &'a mut T,
        policy: Policy,
        attributes: &'a [u8],
    ) -> Result<Attributes<'a>> {
        // SAFETY: the caller guarantees the table's size; `extack` is valid
        // and the request's alone (type invariant).
        unsafe { Attributes::parse(table, attributes, policy, self.extack) }
    }

    /// The attribute `attr`, which the operation requires: when the request
    /// lacks it, fails with `EINVAL` and names it in the extended ack
    /// (`NLMSGERR_ATTR_MISS_TYPE`), as `GENL_REQ_ATTR_CHECK` does.
    #[inline]
    pub(crate) fn require(&self, attributes: &Attributes<'a>, attr: u16) -> Result<Attr<'a>> {
        match attributes.get(attr) {
            Some(found) => Ok(found),
            None => Err(self.missing(attr)),
        }
    }

    /// `NL_SET_ERR_ATTR_MISS(extack, NULL, attr)`: a top-level attribute is
    /// missing.
    #[cold]
    fn missing(&self, attr: u16) -> Error {
        // SAFETY: `extack` is valid by the type invariant.
        unsafe {
            (*self.extack).miss_nest = core::ptr::null();
            (*self.extack).miss_type = attr;
        }
        EINVAL
    }

    /// Sets the extended ack message sent with the error, like
    /// `NL_SET_ERR_MSG`: the `netlink:netlink_extack` trace event sees it too.
    pub(crate) fn set_error_message(&self, message: &'static CStr) {
        // SAFETY: the message is a valid C string; the tracepoint copies it.
        unsafe { bindings::do_trace_netlink_extack(message.as_char_ptr()) };
        // SAFETY: `extack` is valid by the type invariant; the message is
        // static, as `_msg` requires.
        unsafe { (*self.extack)._msg = message.as_char_ptr() };
    }

    /// Sets the extended ack message and points it at `attr`.
    pub(crate) fn set_attr_error(&self, attr: Attr<'a>, message: &'static CStr) {
        self.set_error_message(message);
        // SAFETY: `extack` is valid by the type invariant; `attr` lies in the
        // request, which lives until the ack is sent.
        unsafe { (*self.extack).bad_attr = attr.as_ptr() };
    }

    /// Sets a formatted extended ack message (at most 79 bytes are kept),
    /// like `NL_SET_ERR_MSG_FMT`.
    pub(crate) fn set_error_fmt(&self, args: core::fmt::Arguments<'_>) {
        // SAFETY: `extack` is valid by the type invariant and nothing else
        // uses its message buffer while the request is processed.
        let extack = unsafe { &mut *self.extack };
        // INVARIANT: the buffer is not empty.
        const { assert!(bindings::NETLINK_MAX_FMTMSG_LEN > 0) };
        let mut writer = MessageBuffer {
            buffer: &mut extack._msg_buf,
            len: 0,
        };
        let _ = writer.write_fmt(args);
        extack._msg = extack._msg_buf.as_ptr();
        // SAFETY: `_msg_buf` holds a NUL-terminated message (the writer keeps
        // its last byte 0); the tracepoint copies it.
        unsafe { bindings::do_trace_netlink_extack(extack._msg) };
    }

    /// A notification of type `message_type` (on this request's
    /// transport), to which attributes of `payload_len` bytes in all can be
    /// added. Its sequence number is 0, as for every notification: it
    /// answers no request of the socket that receives it.
    pub(crate) fn new_notification(
        &self,
        message_type: MessageType,
        payload_len: usize,
    ) -> Result<OutMessage> {
        self.transport.new_message(message_type, 0, payload_len)
    }

    /// The type of the request's replies: its own.
    #[inline]
    fn reply_type(&self) -> MessageType {
        self.transport.reply_type(self.nlmsg_type())
    }

    /// A reply: a message of the request's own type.
    #[inline]
    pub(crate) fn new_reply(&self, payload_len: usize) -> Result<OutMessage> {
        self.transport
            .new_message(self.reply_type(), self.seq(), payload_len)
    }

    /// Replies with a message of the request's own type, with room for
    /// `attributes_len` bytes of attributes, which `fill` writes. The reply
    /// is sent without blocking, possibly in one datagram with other replies
    /// to the same datagram; the datagram's delivery report
    /// ([`super::Service::sent`]) carries `tally` for it.
    #[inline]
    pub(crate) fn reply_with(
        &self,
        attributes_len: usize,
        tally: usize,
        fill: impl FnOnce(&mut MessageWriter<'_>) -> Result,
    ) -> Result {
        self.transport.reply_with(
            self.reply_type(),
            self.seq(),
            self.sender_portid(),
            attributes_len,
            tally,
            fill,
        )
    }

    /// Sends `message` to the sender, without blocking, in a datagram of its
    /// own, after the replies queued before it; it is not reported.
    pub(crate) fn reply(&self, message: OutMessage) -> Result {
        self.transport.send(message, self.sender_portid())
    }

    /// Sends a notification that `build` makes (with
    /// [`Request::new_notification`]) as `nlmsg_notify` does with
    /// `NLM_F_ECHO`: to the sockets of the request's namespace that joined
    /// multicast `group` (1 to the transport's group count) but the sender's,
    /// and, when the request asks for it with `NLM_F_ECHO`, to the sender,
    /// after the replies sent so far. The sender never gets it through the
    /// group: without `NLM_F_ECHO`, its reply is all it needs.
    ///
    /// Fails with `ESRCH` when no one received the multicast (nobody but
    /// the sender listens). The notification is built only when someone is
    /// to receive it.
    #[inline]
    pub(crate) fn notify(&self, group: u32, build: impl Fn() -> Result<OutMessage>) -> Result {
        let sender = self.sender_portid();
        let multicast = self.transport.multicast(group, sender, &build);
        if self.wants_echo() {
            self.reply(build()?)?;
        }
        multicast
    }
}

/// How a request was served, when it did not fail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Served {
    /// Answered: an ack follows when the request asked for one.
    Done,
    /// A dump started: it ends with `NLMSG_DONE`, not with an ack.
    DumpStarted,
}

/// What became of a request: served (see [`Served`]) or failed with an
/// error, as [`Service::serve`](super::Service::serve) sees it. One `int`,
/// as the kernel's request callbacks return theirs, so that telling the
/// three apart is a comparison (a `Result<Served>` takes a tag and a payload).
///
/// # Invariants
///
/// `0` is [`Served::Done`], `1` is [`Served::DumpStarted`], and anything else
/// is the negative errno of an [`Error`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Outcome(ffi::c_int);

impl Outcome {
    /// Whether the request failed.
    #[inline]
    pub(crate) fn failed(self) -> bool {
        self.0 < 0
    }

    /// Whether a dump started, which answers the request in its place.
    #[inline]
    pub(super) fn dump_started(self) -> bool {
        self.0 == 1
    }

    /// The errno for the request's ack: 0 unless it failed.
    #[inline]
    pub(super) fn errno(self) -> ffi::c_int {
        // INVARIANT: negative values are errnos; 0 and 1 are successes.
        self.0.min(0)
    }
}

impl From<Result<Served>> for Outcome {
    #[inline]
    fn from(result: Result<Served>) -> Self {
        // INVARIANT: an `Error` is a negative errno; the clamp, which costs
        // no branch, tells the compiler so.
        Self(match result {
            Ok(Served::Done) => 0,
            Ok(Served::DumpStarted) => 1,
            Err(error) => error.to_errno().min(-1),
        })
    }
}

/// Writes a C string into `netlink_ext_ack::_msg_buf`, truncating, and
/// keeps it NUL-terminated.
///
/// # Invariants
///
/// `len < buffer.len()`: `buffer[len]` is the NUL's place.
struct MessageBuffer<'b> {
    buffer: &'b mut [ffi::c_char],
    len: usize,
}

impl Write for MessageBuffer<'_> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        // What fits before the buffer's last byte, then the NUL, which the
        // next text overwrites: no index, so no bounds check.
        let fits = text
            .len()
            .min(self.buffer.len().saturating_sub(self.len).saturating_sub(1));
        let bytes = Iterator::chain(text.bytes().take(fits), core::iter::once(0));
        for (slot, byte) in self.buffer.iter_mut().skip(self.len).zip(bytes) {
            *slot = byte as ffi::c_char;
        }
        // INVARIANT: at most `buffer.len() - 1`, the NUL's place.
        self.len = self.len.wrapping_add(fits);
        Ok(())
    }
}
