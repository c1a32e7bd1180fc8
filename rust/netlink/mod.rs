// SPDX-License-Identifier: GPL-2.0

//! Safe netlink for the module: a service with a kernel socket in every
//! network namespace (released on drop) and, beside it, a generic netlink
//! family; commands declared as data (policies, permissions) that both
//! transports serve; the socket buffers it receives and sends, requests with
//! their attributes and extended acks, and dumps.
//!
//! All raw FFI of the module lives in this layer (and, on 6.12 only, in the
//! module parameters of `compat.rs`); the logic above it is safe Rust.
//!
//! C headers: [`include/linux/netlink.h`](srctree/include/linux/netlink.h),
//! [`include/net/netlink.h`](srctree/include/net/netlink.h),
//! [`include/net/genetlink.h`](srctree/include/net/genetlink.h),
//! [`include/net/net_namespace.h`](srctree/include/net/net_namespace.h).

mod attr;
mod command;
mod dump;
mod genl;
mod message;
mod pernet;
mod replies;
mod request;
mod skb;
mod socket;

pub(crate) use attr::Attributes;
pub(crate) use command::{Command, MessageType};
pub(crate) use dump::DumpWriter;
pub(crate) use genl::{Family, FamilyConfig, Group};
pub(crate) use message::{Malformed, Message};
pub(crate) use pernet::{NetId, Registration, Service};
pub(crate) use replies::{Replies, Sent};
pub(crate) use request::Request;
pub(crate) use skb::{attribute_size, MessageWriter, OutMessage};
pub(crate) use socket::SocketConfig;

/// `kernel::error::to_result`, inlined: it is called on every message sent
/// and the kernel crate's is an out-of-line call. The error path stays
/// out of line.
#[inline]
pub(crate) fn to_result(errno: kernel::ffi::c_int) -> kernel::error::Result {
    if errno < 0 {
        kernel::error::to_result(errno)
    } else {
        Ok(())
    }
}
