// SPDX-License-Identifier: GPL-2.0

//! Safe netlink for the module, in two parts with arrows in one direction:
//!
//! - the primitives, which know nothing of any service: attributes and
//!   policies (`attr`), message framing (`message`), socket buffers received
//!   and built (`skb`), kernel sockets of a protocol unit (`socket`), and the
//!   request information of generic netlink (`genl`);
//! - the service framework on top ([`service`]): commands declared as data
//!   from the YNL specs, requests and replies, dumps, per-namespace
//!   registration, and one command table served on both transports.
//!
//! All raw FFI of the module lives in this layer (and, on 6.12 only, in the
//! module parameters of `compat.rs`); the logic above it is safe Rust.
//!
//! C headers: [`include/linux/netlink.h`](srctree/include/linux/netlink.h),
//! [`include/net/netlink.h`](srctree/include/net/netlink.h),
//! [`include/net/genetlink.h`](srctree/include/net/genetlink.h),
//! [`include/net/net_namespace.h`](srctree/include/net/net_namespace.h).

mod attr;
mod genl;
mod message;
#[cfg(nltest_selftest)]
pub(crate) mod selftest;
mod service;
mod skb;
mod socket;

pub(crate) use attr::{AttrTable, Attributes, PolicyTable};
pub(crate) use message::{Malformed, Message};
pub(crate) use service::{
    command, do_request, split_ops_len, Command, DumpWriter, Family, FamilyRegistration, Groups,
    MessageType, NetId, Outcome, Registration, Replies, Request, Sent, Service, SplitOps,
};
pub(crate) use skb::{attribute_size, MessageWriter, OutMessage};
pub(crate) use socket::SocketConfig;
