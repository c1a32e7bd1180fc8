// SPDX-License-Identifier: GPL-2.0

//! Safe netlink for the module: a kernel socket released on drop, the socket
//! buffers it receives and sends, and the messages in them.
//!
//! All raw FFI of the module lives in this layer (and in `params.rs`); the
//! logic above it is safe Rust.
//!
//! C headers: [`include/linux/netlink.h`](srctree/include/linux/netlink.h),
//! [`include/net/netlink.h`](srctree/include/net/netlink.h).

mod message;
mod skb;
mod socket;

pub(crate) use message::{Header, Malformed, Message};
pub(crate) use skb::{OutMessage, ReceivedSkb};
pub(crate) use socket::{InputHandler, KernelSocket, Socket};
