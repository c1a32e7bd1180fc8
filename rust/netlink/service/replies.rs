// SPDX-License-Identifier: GPL-2.0

//! The replies to one datagram, packed into shared datagrams.
//!
//! A client that sends many requests in one `sendmsg` reads many replies;
//! one datagram per reply would cost an allocation, a queueing, a wakeup
//! and a `recvmsg` each. So the replies to the messages of one datagram
//! share socket buffers of `NLMSG_GOODSIZE` bytes, as the parts of a dump
//! do, in order. A datagram of one message gets one reply datagram of
//! exactly its size, as before.

use crate::bindings;
use crate::netlink::message::{align, HEADER_LEN};
use crate::netlink::skb::{MessageWriter, OutBuffer, OutMessage};
use crate::netlink::socket::Socket;
use core::cell::Cell;
use kernel::prelude::*;

// The protocol promises readers no larger shared datagram.
const _: () =
    assert!(bindings::NLTEST_NLMSG_GOODSIZE <= crate::protocol::REPLY_DATAGRAM_MAX as usize);

/// What one reply datagram carried, and what became of it: the delivery
/// report of replies whose sending the layer deferred.
pub(crate) struct Sent {
    /// Messages in the datagram.
    pub(crate) messages: u32,
    /// The sum of the tallies the service gave its messages when it queued
    /// them; the layer gives them no meaning.
    pub(crate) tally: usize,
    /// `Ok`, or `EAGAIN` when the receiver's queue was full (the netlink core
    /// then reports `ENOBUFS` to the receiver), or another send error.
    pub(crate) result: Result,
}

/// Hears what became of each reply datagram whose sending the layer
/// deferred. One method, so that a `&dyn DeliveryReport` costs one indirect
/// call and its vtable no `FnOnce` entry, as a `&dyn Fn(Sent)` would.
pub(crate) trait DeliveryReport {
    fn sent(&self, sent: Sent);
}

/// The replies to the sender of one datagram, sent in order: queued
/// replies are sent when the buffer is full, before any message sent
/// directly ([`Replies::send_now`], acks), and at the latest when this is
/// dropped.
///
/// # Invariants
///
/// Between calls, `messages` and `tally` count the messages `pending` holds
/// (0 when it is `None`), and `pending` holds no empty buffer.
pub(crate) struct Replies<'a> {
    socket: &'a Socket,
    portid: u32,
    /// Whether messages of the datagram follow the one being served; then a
    /// new reply buffer gets room for more replies.
    more_follow: Cell<bool>,
    /// The reply datagram being filled.
    pending: Cell<Option<OutBuffer>>,
    messages: Cell<u32>,
    tally: Cell<usize>,
    on_sent: &'a dyn DeliveryReport,
}

impl<'a> Replies<'a> {
    /// Replies to `portid` through `socket`; `on_sent` hears about each
    /// datagram sent.
    #[inline]
    pub(super) fn new(socket: &'a Socket, portid: u32, on_sent: &'a dyn DeliveryReport) -> Self {
        Self {
            socket,
            portid,
            more_follow: Cell::new(false),
            pending: Cell::new(None),
            messages: Cell::new(0),
            tally: Cell::new(0),
            on_sent,
        }
    }

    /// The port id of the datagram's sender, to which the replies go.
    #[inline]
    pub(crate) fn portid(&self) -> u32 {
        self.portid
    }

    /// The kernel socket the datagram came to.
    #[inline]
    pub(crate) fn socket(&self) -> &'a Socket {
        self.socket
    }

    #[inline]
    pub(super) fn set_more_follow(&self, more_follow: bool) {
        self.more_follow.set(more_follow);
    }

    /// Queues a reply whose payload is a copy of `payload` (`nlmsg_flags`
    /// 0), reported with `tally`.
    #[inline]
    pub(crate) fn copy(&self, nlmsg_type: u16, seq: u32, payload: &[u8], tally: usize) -> Result {
        self.push(HEADER_LEN + payload.len(), tally, |buffer| {
            buffer.put_copy(nlmsg_type, 0, seq, payload).map(|_| ())
        })
    }

    /// Queues a reply with room for `attributes_len` bytes of attributes,
    /// which `fill` writes, reported with `tally`.
    #[inline]
    pub(super) fn build(
        &self,
        nlmsg_type: u16,
        seq: u32,
        attributes_len: usize,
        tally: usize,
        fill: impl FnOnce(&mut MessageWriter<'_>) -> Result,
    ) -> Result {
        self.push(HEADER_LEN + attributes_len, tally, |buffer| {
            buffer.put_with(nlmsg_type, 0, seq, fill)
        })
    }

    /// Appends a message of at most `len` bytes, which `put` writes.
    #[inline]
    fn push(&self, len: usize, tally: usize, put: impl FnOnce(&mut OutBuffer) -> Result) -> Result {
        let len = align(len);
        let mut buffer = match self.pending.take() {
            Some(buffer) if buffer.room() >= len => buffer,
            full => {
                if let Some(full) = full {
                    self.send(full);
                }
                let capacity = if self.more_follow.get() {
                    len.max(bindings::NLTEST_NLMSG_GOODSIZE)
                } else {
                    len
                };
                OutBuffer::with_capacity(capacity)?
            }
        };
        if let Err(error) = put(&mut buffer) {
            // Nothing of the message is in the buffer.
            if self.messages.get() != 0 {
                self.keep(buffer);
            }
            // INVARIANT: `pending` holds no empty buffer.
            return Err(error);
        }
        // At most one message per 16 bytes of a datagram: no overflow.
        self.messages.set(self.messages.get().wrapping_add(1));
        self.tally.set(self.tally.get().wrapping_add(tally));
        if len > bindings::NLTEST_NLMSG_GOODSIZE {
            // Too large to share: sent at once, alone.
            self.send(buffer);
        } else {
            self.keep(buffer);
        }
        Ok(())
    }

    /// Puts `buffer` back as the pending one: `push` took it (or found
    /// none) before filling it.
    #[inline]
    fn keep(&self, buffer: OutBuffer) {
        let previous = self.pending.replace(Some(buffer));
        // `pending` is empty (taken in `push`): `previous` is `None`, and
        // forgetting it spares the drop code of a buffer that is never
        // there. Were it one, it would leak, never be freed twice.
        core::mem::forget(previous);
    }

    /// Sends the queued replies.
    #[inline]
    pub(super) fn flush(&self) {
        if let Some(buffer) = self.pending.take() {
            self.send(buffer);
        }
    }

    /// Sends `message` after the queued replies, in a datagram of its own;
    /// it is not reported.
    pub(crate) fn send_now(&self, message: OutMessage) -> Result {
        self.flush();
        self.socket.unicast(message, self.portid)
    }

    /// Sends `buffer`, which holds the messages queued so far, and reports it.
    #[inline]
    fn send(&self, buffer: OutBuffer) {
        let result = self.socket.unicast(buffer, self.portid);
        self.on_sent.sent(Sent {
            messages: self.messages.replace(0),
            tally: self.tally.replace(0),
            result,
        });
    }
}

impl Drop for Replies<'_> {
    #[inline]
    fn drop(&mut self) {
        self.flush();
    }
}
