//! Userspace peer of the `nltest` kernel module.
//!
//! [`message`] encodes requests and decodes replies on top of
//! `netlink-packet-core`; [`EchoSocket`] sends and receives them on a
//! `netlink-sys` socket, with timeouts and errors that say what went wrong.

mod error;
pub mod message;
mod socket;

pub use error::Error;
pub use message::{RawMessage, Reply};
pub use nltest_protocol as protocol;
pub use socket::{EchoSocket, Echoed, DEFAULT_TIMEOUT};
