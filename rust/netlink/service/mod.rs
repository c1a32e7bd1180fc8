// SPDX-License-Identifier: GPL-2.0

//! The service framework: a [`Service`] declares its commands (from the YNL
//! specs, [`Command::new`]), its per-namespace state and its raw protocol;
//! the framework registers a kernel socket in every network namespace
//! ([`Registration`]) and a generic netlink family ([`Family`]), and serves
//! the one command table on both: the unit's input loop (`unit`) does what
//! the generic netlink core does for the family (`family`), so that a
//! command handler never learns which transport it serves.

mod command;
mod dump;
mod family;
mod pernet;
mod replies;
mod request;
mod unit;

pub(crate) use command::{Command, MessageType};
pub(crate) use dump::DumpWriter;
pub(crate) use family::{Family, FamilyConfig, Group};
pub(crate) use pernet::{NetId, Registration, Service};
pub(crate) use replies::{Replies, Sent};
pub(crate) use request::Request;
