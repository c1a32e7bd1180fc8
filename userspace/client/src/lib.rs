//! Userspace peer of the `nltest` kernel module.
//!
//! [`message`] (raw protocol) and [`service`] (typed requests) encode and
//! decode on top of
//! `netlink-packet-core`; [`ModuleSocket`] sends and receives them on a
//! `netlink-sys` socket, with timeouts and errors that say what went wrong.
//! The typed service is reachable on the module's protocol unit or through
//! its generic netlink family ([`genl`], [`Transport`]).

mod error;
pub mod genl;
pub mod message;
pub mod service;
mod socket;

pub use error::Error;
pub use genl::GenlFamily;
pub use message::{RawMessage, Reply};
pub use nltest_protocol as protocol;
pub use service::{Event, Request, Response, Stat};
pub use socket::{Broadcast, Echoed, ModuleSocket, Transport, DEFAULT_TIMEOUT};
