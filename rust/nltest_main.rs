// SPDX-License-Identifier: GPL-2.0

//! nltest: a netlink echo service.
//!
//! Registers netlink protocol `NETLINK_TEST` (17, or the `unit` parameter).
//! Every message a userspace socket sends is echoed back to that socket,
//! with the request's type, sequence number and payload, and the payload is
//! broadcast to multicast group 1 when someone listens there.

mod bindings;
mod netlink;
mod parameters;

// Shared with the userspace crates (`nltest-protocol`), which use all of it.
#[allow(dead_code, unreachable_pub)]
#[path = "../userspace/protocol/src/definitions.rs"]
mod protocol;

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;
use netlink::{InputHandler, KernelSocket, Malformed, Message, OutMessage, ReceivedSkb, Socket};

module! {
    type: NlTest,
    name: "nltest",
    author: "nltest authors",
    description: "Netlink echo service (NETLINK_TEST) written in Rust",
    license: "GPL",
}

/// What the service did since it was loaded, reported when it unloads.
struct Counters {
    echoed: AtomicU64,
    /// Echoes dropped because the sender's receive queue was full.
    dropped: AtomicU64,
    /// Malformed messages, and echoes that could not be built or sent.
    errors: AtomicU64,
}

static COUNTERS: Counters = Counters {
    echoed: AtomicU64::new(0),
    dropped: AtomicU64::new(0),
    errors: AtomicU64::new(0),
};

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The echo service: the input handler of the kernel socket.
struct Echo;

impl InputHandler for Echo {
    fn input(socket: &Socket, skb: &ReceivedSkb) {
        // The sender's address comes from the netlink core, not from the
        // header's `nlmsg_pid`, which the sender may set to anything.
        let sender = skb.sender_portid();
        for message in skb.messages() {
            match message {
                Ok(message) => echo(socket, sender, &message),
                Err(malformed) => reject(socket, sender, malformed),
            }
        }
    }
}

fn echo(socket: &Socket, sender: u32, message: &Message<'_>) {
    let header = message.header;
    let reply = OutMessage::new(header.kind, 0, header.seq, message.payload);
    match reply.and_then(|reply| socket.unicast(reply, sender)) {
        Ok(()) => count(&COUNTERS.echoed),
        Err(error) if error == EAGAIN => count(&COUNTERS.dropped),
        Err(_) => count(&COUNTERS.errors),
    }
    if socket.has_listeners(protocol::ECHO_GROUP) {
        // Best effort: a listener that does not keep up loses broadcasts,
        // and the netlink core tells it so with ENOBUFS.
        if let Ok(event) = OutMessage::new(header.kind, 0, header.seq, message.payload) {
            let _ = socket.broadcast(event, protocol::ECHO_GROUP);
        }
    }
}

/// Answers a message whose length is wrong with `EINVAL`, when its header
/// could be read; the rest of the datagram is not read.
fn reject(socket: &Socket, sender: u32, malformed: Malformed) {
    count(&COUNTERS.errors);
    if let Malformed::BadLength(header) = malformed {
        if let Ok(reply) = OutMessage::error(header, EINVAL) {
            let _ = socket.unicast(reply, sender);
        }
    }
}

struct NlTest {
    _socket: KernelSocket,
}

impl kernel::Module for NlTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let unit = parameters::unit();
        let socket = KernelSocket::new::<Echo>(unit, protocol::GROUP_COUNT).inspect_err(|&error| {
            if error == EINVAL {
                pr_err!("unit={unit} is not a netlink protocol unit (0 to 31)\n");
            } else {
                pr_err!("netlink protocol unit {unit} is already registered by another kernel socket; pick a free one with unit=N\n");
            }
        })?;
        pr_info!(
            "netlink protocol {unit} registered, echo broadcast on multicast group {}\n",
            protocol::ECHO_GROUP
        );
        Ok(Self { _socket: socket })
    }
}

impl Drop for NlTest {
    fn drop(&mut self) {
        pr_info!(
            "unloaded: {} echoed, {} dropped on a full receive queue, {} errors\n",
            COUNTERS.echoed.load(Ordering::Relaxed),
            COUNTERS.dropped.load(Ordering::Relaxed),
            COUNTERS.errors.load(Ordering::Relaxed),
        );
    }
}
