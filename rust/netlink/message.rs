// SPDX-License-Identifier: GPL-2.0

//! Netlink message framing: a header parser and an iterator over the messages
//! of a datagram. Plain safe Rust over a byte slice: nothing here reads past
//! the end of the datagram, whatever its length fields say.

use crate::bindings;

/// Size of `struct nlmsghdr` (`NLMSG_HDRLEN`).
pub(crate) const HEADER_LEN: usize = core::mem::size_of::<bindings::nlmsghdr>();

/// Alignment of messages in a datagram (`NLMSG_ALIGNTO`).
const ALIGN_TO: usize = 4;

/// Rounds a length up to the message alignment (`NLMSG_ALIGN`).
pub(super) const fn align(len: usize) -> usize {
    (len + ALIGN_TO - 1) & !(ALIGN_TO - 1)
}

/// The fields of a `struct nlmsghdr`, in host byte order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    /// Length of the message, header included.
    pub(crate) nlmsg_len: u32,
    pub(crate) nlmsg_type: u16,
    pub(crate) nlmsg_flags: u16,
    pub(crate) nlmsg_seq: u32,
    /// What the sender wrote; never trusted as an address.
    pub(crate) nlmsg_pid: u32,
}

impl Header {
    #[inline]
    fn parse(bytes: &[u8; HEADER_LEN]) -> Self {
        let u32_at = |at: usize| {
            u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let u16_at = |at: usize| u16::from_ne_bytes([bytes[at], bytes[at + 1]]);
        Self {
            nlmsg_len: u32_at(0),
            nlmsg_type: u16_at(4),
            nlmsg_flags: u16_at(6),
            nlmsg_seq: u32_at(8),
            nlmsg_pid: u32_at(12),
        }
    }

    /// The header as it is laid out in a datagram.
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..4].copy_from_slice(&self.nlmsg_len.to_ne_bytes());
        bytes[4..6].copy_from_slice(&self.nlmsg_type.to_ne_bytes());
        bytes[6..8].copy_from_slice(&self.nlmsg_flags.to_ne_bytes());
        bytes[8..12].copy_from_slice(&self.nlmsg_seq.to_ne_bytes());
        bytes[12..16].copy_from_slice(&self.nlmsg_pid.to_ne_bytes());
        bytes
    }
}

/// One well-formed message of a datagram.
pub(crate) struct Message<'a> {
    /// The message's header, as it lies in the datagram: its fields are
    /// read where they are used rather than copied, every message.
    header: &'a [u8; HEADER_LEN],
    /// The `nlmsg_len - NLMSG_HDRLEN` bytes after the header.
    pub(crate) payload: &'a [u8],
}

impl Message<'_> {
    /// The message's header.
    #[inline]
    pub(crate) fn header(&self) -> Header {
        Header::parse(self.header)
    }

    /// The message's header where it lies in the datagram.
    #[inline]
    pub(super) fn header_ptr(&self) -> *const bindings::nlmsghdr {
        self.header.as_ptr().cast()
    }
}

/// Why the rest of a datagram could not be read as messages.
pub(crate) enum Malformed {
    /// Fewer bytes than a header were left.
    Truncated,
    /// The header's `nlmsg_len` is shorter than a header or longer than what
    /// is left of the datagram.
    BadLength(Header),
}

/// Iterator over the messages of a datagram, in order.
///
/// Like the kernel's `netlink_rcv_skb`, it stops at the first malformed
/// message, which it reports once: what follows a wrong length cannot be
/// framed.
pub(crate) struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    #[inline]
    pub(crate) fn new(datagram: &'a [u8]) -> Self {
        Self { rest: datagram }
    }

    /// Whether the datagram has bytes left after the messages iterated so
    /// far.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, Malformed>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        let Some((header_bytes, _)) = rest.split_first_chunk::<HEADER_LEN>() else {
            return Some(Err(Malformed::Truncated));
        };
        let header = Header::parse(header_bytes);
        let len = header.nlmsg_len as usize;
        if len < HEADER_LEN || len > rest.len() {
            return Some(Err(Malformed::BadLength(header)));
        }
        self.rest = rest.get(align(len)..).unwrap_or_default();
        Some(Ok(Message {
            header: header_bytes,
            payload: &rest[HEADER_LEN..len],
        }))
    }
}
