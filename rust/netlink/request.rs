// SPDX-License-Identifier: GPL-2.0

//! Typed requests, as `netlink_rcv_skb` hands them over, with their extended
//! acknowledgement.

use super::attr::{Attr, Attributes, Policy};
use super::message::HEADER_LEN;
use super::skb::{OutMessage, ReceivedSkb};
use super::socket::Socket;
use crate::bindings;
use core::fmt::Write;
use core::marker::PhantomData;
use kernel::{error::to_result, ffi, prelude::*, str::CStr};

/// A request (a message with `NLM_F_REQUEST` and a type at or above
/// `NLMSG_MIN_TYPE`) being processed by `netlink_rcv_skb`.
///
/// # Invariants
///
/// `header` points to a message of `skb` whose `nlmsg_len` `netlink_rcv_skb`
/// checked, and `extack` to the extended ack it sends with the answer; both
/// are valid for `'a`.
pub(crate) struct Request<'a> {
    pub(super) socket: &'a Socket,
    pub(super) skb: &'a ReceivedSkb,
    pub(super) header: *mut bindings::nlmsghdr,
    pub(super) extack: *mut bindings::netlink_ext_ack,
    pub(super) _lifetime: PhantomData<&'a ()>,
}

impl<'a> Request<'a> {
    /// The kernel socket the request was sent to.
    pub(crate) fn socket(&self) -> &'a Socket {
        self.socket
    }

    /// `nlmsg_type`.
    pub(crate) fn kind(&self) -> u16 {
        // SAFETY: `header` is valid by the type invariant.
        unsafe { (*self.header).nlmsg_type }
    }

    /// `nlmsg_flags`.
    pub(crate) fn flags(&self) -> u16 {
        // SAFETY: `header` is valid by the type invariant.
        unsafe { (*self.header).nlmsg_flags }
    }

    /// `nlmsg_seq`.
    pub(crate) fn seq(&self) -> u32 {
        // SAFETY: `header` is valid by the type invariant.
        unsafe { (*self.header).nlmsg_seq }
    }

    /// Whether the request asks for a dump (`NLM_F_DUMP`).
    pub(crate) fn is_dump(&self) -> bool {
        u32::from(self.flags()) & bindings::NLM_F_DUMP == bindings::NLM_F_DUMP
    }

    /// The sender's port id, from the netlink core.
    pub(crate) fn sender_portid(&self) -> u32 {
        self.skb.sender_portid()
    }

    /// The sender's uid, in the user namespace of the sending socket.
    pub(crate) fn sender_uid(&self) -> u32 {
        self.skb.sender_uid()
    }

    /// Whether the sender has `CAP_NET_ADMIN` in the user namespace that owns
    /// the network namespace of the socket.
    pub(crate) fn sender_is_net_admin(&self) -> bool {
        self.skb
            .sender_has_net_capability(bindings::CAP_NET_ADMIN as i32)
    }

    /// Parses the request's attributes against `policy`, strictly: unknown,
    /// malformed or out-of-range attributes fail with the kernel's own errno
    /// and extended ack message, pointing at the attribute.
    pub(crate) fn parse<const N: usize>(
        &self,
        policy: &'static Policy<N>,
    ) -> Result<Attributes<'a, N>> {
        let mut table = [core::ptr::null_mut(); N];
        // SAFETY: `header` is valid and `nlmsg_len >= NLMSG_HDRLEN` (type
        // invariant), so the attributes span `nlmsg_len - NLMSG_HDRLEN` bytes
        // right after the header, inside the skb. `table` has room for
        // `max_type + 1` entries and `policy` as many.
        to_result(unsafe {
            let head = self
                .header
                .cast::<u8>()
                .add(HEADER_LEN)
                .cast::<bindings::nlattr>();
            let len = (*self.header).nlmsg_len as usize - HEADER_LEN;
            bindings::__nla_parse(
                table.as_mut_ptr(),
                Policy::<N>::max_type() as i32,
                head,
                len as i32,
                policy.0.as_ptr(),
                bindings::NLTEST_VALIDATE_STRICT,
                self.extack,
            )
        })?;
        Ok(Attributes {
            table,
            _request: PhantomData,
        })
    }

    /// Sets the extended ack message sent with the error.
    pub(crate) fn set_error_message(&self, message: &'static CStr) {
        // SAFETY: `extack` is valid by the type invariant; the message is
        // static, as `_msg` requires.
        unsafe { (*self.extack)._msg = message.as_char_ptr() };
    }

    /// Sets the extended ack message and points it at `attr`.
    pub(crate) fn set_attr_error(&self, attr: Attr<'a>, message: &'static CStr) {
        self.set_error_message(message);
        // SAFETY: `extack` is valid by the type invariant; `attr` lies in the
        // request, which lives until the ack is sent.
        unsafe { (*self.extack).bad_attr = attr.ptr };
    }

    /// Sets a formatted extended ack message (at most 79 bytes are kept),
    /// like `NL_SET_ERR_MSG_FMT`.
    pub(crate) fn set_error_fmt(&self, args: core::fmt::Arguments<'_>) {
        // SAFETY: `extack` is valid by the type invariant and nothing else
        // uses its message buffer while the request is processed.
        let extack = unsafe { &mut *self.extack };
        let mut writer = MessageBuffer {
            buffer: &mut extack._msg_buf,
            len: 0,
        };
        let _ = writer.write_fmt(args);
        extack._msg = extack._msg_buf.as_ptr();
    }

    /// Sends `message` to the sender, without blocking.
    pub(crate) fn reply(&self, message: OutMessage) -> Result {
        self.socket.unicast(message, self.sender_portid())
    }

    /// Starts a dump answering the request: the netlink core calls
    /// `S::dump` each time the sender reads, until it reports the end.
    ///
    /// Like `netlink_dump_start`, returns `Err(EINTR)` once the dump started:
    /// passed on to `netlink_rcv_skb`, it means "no ack" (the dump ends with
    /// `NLMSG_DONE` instead).
    pub(crate) fn start_dump<S: super::pernet::Service>(&self) -> Result {
        let mut control = bindings::netlink_dump_control {
            dump: Some(super::dump::dump_callback::<S>),
            ..Default::default()
        };
        // SAFETY: the socket, skb and header are valid (type invariants);
        // `control` is read during the call only. The wrapper sets
        // `control.module` to this module, which the dump pins.
        to_result(unsafe {
            bindings::netlink_dump_start(
                self.socket.as_ptr(),
                self.skb.as_ptr(),
                self.header,
                &mut control,
            )
        })
    }

    /// A reply message of the request's type and sequence number, to which
    /// attributes of `payload_len` bytes in all can be added.
    pub(crate) fn new_reply(&self, payload_len: usize) -> Result<OutMessage> {
        OutMessage::with_attributes(self.kind(), 0, self.seq(), payload_len)
    }
}

/// Writes a C string into `netlink_ext_ack::_msg_buf`, truncating, and
/// keeps it NUL-terminated.
struct MessageBuffer<'b> {
    buffer: &'b mut [ffi::c_char],
    len: usize,
}

impl Write for MessageBuffer<'_> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for &byte in text.as_bytes() {
            if self.len + 1 >= self.buffer.len() {
                break;
            }
            self.buffer[self.len] = byte as ffi::c_char;
            self.len += 1;
        }
        if let Some(end) = self.buffer.get_mut(self.len) {
            *end = 0;
        }
        Ok(())
    }
}
