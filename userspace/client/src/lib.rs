//! Userspace peer of the `nltest` kernel module.
//!
//! The typed service is modelled once, whichever transport carries it: a
//! [`Message`] is a [`Command`] (an operation of the specs) and its
//! attributes ([`Attr`], [`StatAttr`]: `netlink-packet-core` [`Nla`]s,
//! decoded through its buffer views). Each transport has one encoder and one
//! decoder of it: [`unit`] (the module's protocol unit, netlink-raw: the
//! operation is the `nlmsg_type`) and [`genl`] (its generic netlink family,
//! [`NlTestMessage`]: a `netlink-packet-generic` [`GenlFamily`], the
//! command in the generic header). [`message`] is the raw echo protocol and
//! what every netlink family answers (errors, extended acks).
//! [`ModuleSocket`] sends and receives them on a `netlink-sys` socket, with
//! timeouts and errors that say what went wrong; [`Transport`] picks the
//! unit or the family.
//!
//! [`Nla`]: netlink_packet_core::Nla
//! [`GenlFamily`]: netlink_packet_generic::GenlFamily

pub mod attr;
mod error;
pub mod genl;
pub mod message;
pub mod service;
mod socket;
pub mod unit;

pub use attr::{Attr, StatAttr};
pub use error::Error;
pub use genl::{FamilyInfo, NlTestMessage};
pub use message::{RawMessage, Reply};
pub use nltest_protocol as protocol;
pub use service::{Command, Event, Message, Request, Response, Stat};
pub use socket::{Broadcast, Echoed, ModuleSocket, Transport, DEFAULT_TIMEOUT};
pub use unit::UnitMessage;
