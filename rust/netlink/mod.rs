// SPDX-License-Identifier: GPL-2.0

//! Safe netlink for the module: a kernel socket released on drop, the socket
//! buffers it receives and sends, and the messages in them.
//!
//! All raw FFI of the module lives in this layer (and in `parameters.rs`); the
//! logic above it is safe Rust.
//!
//! C headers: [`include/linux/netlink.h`](srctree/include/linux/netlink.h),
//! [`include/net/netlink.h`](srctree/include/net/netlink.h).

mod message;
mod skb;
mod socket;

pub(crate) use message::{Malformed, Message};
pub(crate) use skb::{OutMessage, ReceivedSkb};
pub(crate) use socket::{InputHandler, KernelSocket, Socket};

/// Error codes that `kernel::error::code` of 6.12 does not declare.
pub(crate) mod code {
    use crate::bindings;
    use kernel::error::Error;

    /// `EMSGSIZE`: the message does not fit.
    pub(crate) fn emsgsize() -> Error {
        Error::from_errno(-(bindings::EMSGSIZE as i32))
    }

    /// `EADDRINUSE`: the protocol unit is taken.
    pub(crate) fn eaddrinuse() -> Error {
        Error::from_errno(-(bindings::EADDRINUSE as i32))
    }
}
