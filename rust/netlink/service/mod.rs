// SPDX-License-Identifier: GPL-2.0

//! The service framework: a [`Service`] declares its commands (from the YNL
//! specs, [`Command::new`]), its per-namespace state and its raw protocol;
//! the framework registers a kernel socket in every network namespace
//! ([`Registration`]) and a generic netlink family ([`Family`]), and serves
//! the one command table on both: the unit's input loop (`unit`) does what
//! the generic netlink core does for the family (`family`), so that a
//! command handler never learns which transport it serves.
//!
//! The files depend on each other in one direction only, each on those
//! listed before it (and on the primitives of [`super`]):
//!
//! - `net_id`: the id of a service's storage in every namespace;
//! - `replies`: the replies to one datagram, packed into shared datagrams;
//! - `transport`: the one place that tells the two transports apart;
//! - `request`: a typed request, its extended ack, replies, notifications;
//! - `dump`: the writer of one round of a dump;
//! - `command`: the [`Service`] trait and its [`Command`] table;
//! - `pernet`: the service's storage in each namespace, and its lookup;
//! - `unit`: the protocol unit's input loop and request adapter;
//! - `registration`: the kernel socket of every namespace;
//! - `family`: the generic netlink family.

mod command;
mod dump;
mod family;
mod net_id;
mod pernet;
mod registration;
mod replies;
mod request;
mod transport;
mod unit;

pub(crate) use command::{command, do_request, Command, Service};
pub(crate) use dump::DumpWriter;
pub(crate) use family::{split_ops_len, Family, FamilyRegistration, Groups, SplitOps};
pub(crate) use net_id::NetId;
pub(crate) use registration::Registration;
pub(crate) use replies::{Replies, Sent};
pub(crate) use request::{Outcome, Request};
pub(crate) use transport::MessageType;
