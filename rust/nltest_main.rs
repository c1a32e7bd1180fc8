// SPDX-License-Identifier: GPL-2.0

//! nltest: a netlink service, in every network namespace.
//!
//! Registers netlink protocol `NETLINK_TEST` (17, or the `unit` parameter)
//! and speaks two protocols on it, told apart by each message's header:
//!
//! - requests (type at or above `NLMSG_MIN_TYPE` with `NLM_F_REQUEST`):
//!   `ECHO`, `BROADCAST` and `GET_STATS`, with attributes checked against a
//!   strict policy, acks and extended errors as the kernel's own netlink
//!   families do (`netlink_rcv_skb`'s rules);
//! - anything else but control messages: raw echo, as in the classic
//!   tutorials. The message comes back to its sender unchanged (type,
//!   sequence number, payload) and is broadcast to group 1.
//!
//! The typed service is also a generic netlink family, `nltest`, with the
//! same commands and per-namespace counters. The YNL specs in specs/
//! describe both typed transports (the numbers and policies below come from
//! them, through specs/generated/nltest.rs), docs/protocol.md all three.

mod bindings;
mod compat;
mod netlink;

// Generated from the specs, shared with the userspace crates
// (`nltest-protocol`), which use all of it.
#[allow(dead_code, unreachable_pub)]
#[path = "../specs/generated/nltest.rs"]
mod protocol;

use compat::{module, Zeroable};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use kernel::prelude::*;
use netlink::{
    attribute_size, split_ops_len, AttrTable, Attributes, Command, DumpWriter, Family,
    FamilyRegistration, Groups, Malformed, Message, MessageType, MessageWriter, NetId, OutMessage,
    Outcome, Registration, Replies, Request, Sent, Service, SocketConfig, SplitOps,
};
use protocol::{attrs, genl, raw, stat_attrs, Counter, ECHO_GROUP, GROUP_COUNT};

module! {
    type: NlTest,
    name: "nltest",
    authors: ["nltest authors"],
    description: "Netlink echo service (NETLINK_TEST) written in Rust",
    license: "GPL",
    params: {
        unit: i32 {
            default: crate::protocol::DEFAULT_UNIT as i32,
            description: "netlink protocol unit to register (default: NETLINK_TEST)",
        },
        nonroot_listen: bool {
            default: false,
            description: "let sockets without CAP_NET_ADMIN join the multicast groups (default: no)",
        },
        max_payload: u32 {
            default: crate::protocol::DEFAULT_MAX_PAYLOAD,
            description: "largest DATA attribute of a typed request, in bytes",
        },
        dump_batch: u32 {
            default: 0,
            description: "at most this many parts per round of a dump (0: as many as fit); small values make dumps span many reads",
        },
    },
}

const GROUPS: usize = GROUP_COUNT as usize;
// The protocol unit's groups are those of its spec.
const _: () = assert!(raw::MCAST_GROUPS.len() == GROUPS);
// The family's one group is the unit's group 1, `events`.
const _: () = assert!(genl::MCAST_GROUPS.len() == 1 && ECHO_GROUP == raw::mcgrp::EVENTS);

/// Counters of one network namespace.
struct Counters {
    requests: AtomicU64,
    echoes: AtomicU64,
    broadcasts: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    listeners: [AtomicU64; GROUPS],
}

// SAFETY: atomics are valid all-zero.
unsafe impl Zeroable for Counters {}

#[inline]
fn add(counter: &AtomicU64, value: u64) {
    counter.fetch_add(value, Ordering::Relaxed);
}

impl Counters {
    /// Every counter as (counter, group or 0, value), in dump order.
    fn entry(&self, index: usize) -> Option<(Counter, u32, u64)> {
        let plain = [
            (Counter::Requests, &self.requests),
            (Counter::Echoes, &self.echoes),
            (Counter::Broadcasts, &self.broadcasts),
            (Counter::Bytes, &self.bytes),
            (Counter::Errors, &self.errors),
            (Counter::Dropped, &self.dropped),
        ];
        if let Some((stat, counter)) = plain.get(index) {
            return Some((*stat, 0, counter.load(Ordering::Relaxed)));
        }
        let group = index - plain.len();
        let listeners = self.listeners.get(group)?;
        Some((
            Counter::Listeners,
            group as u32 + 1,
            listeners.load(Ordering::Relaxed),
        ))
    }

    /// Counts `messages` sent, of `bytes` payload bytes in all, as
    /// `counter` when `result` is `Ok`.
    #[inline]
    fn count_send(&self, counter: &AtomicU64, messages: u32, bytes: usize, result: Result) {
        let messages = u64::from(messages);
        match result {
            Ok(()) => {
                add(counter, messages);
                add(&self.bytes, bytes as u64);
            }
            Err(error) if error == EAGAIN => add(&self.dropped, messages),
            Err(_) => add(&self.errors, messages),
        }
    }
}

/// Writes one counter: a `STAT` nest of `COUNTER`, `GROUP` (listeners only)
/// and `VALUE`.
fn put_stat(
    writer: &mut MessageWriter<'_>,
    (counter, group, value): (Counter, u32, u64),
) -> Result {
    writer.nest(attrs::STAT, |stat| {
        stat.put_u32(stat_attrs::COUNTER, counter.into())?;
        if group != 0 {
            stat.put_u32(stat_attrs::GROUP, group)?;
        }
        stat.put_uint(stat_attrs::VALUE, value)
    })
}

/// Size of one `STAT` nest, at most.
const STAT_SIZE: usize = attribute_size(2 * attribute_size(4) + attribute_size(8));
const STAT_COUNT: usize = Counter::ALL.len() - 1 + GROUPS;

struct NlTestService;

static NET_ID: NetId = NetId::new();

/// The `nltest` generic netlink family: the commands of the service, a do
/// for each and a dump for `GET_STATS`.
static FAMILY: Family<NlTestService> = Family::new(genl::FAMILY_NAME, genl::FAMILY_VERSION, &OPS);
static OPS: SplitOps<{ split_ops_len(NlTestService::COMMANDS) }> = SplitOps::new::<NlTestService>();
/// The family's groups (`events`): joining is privileged unless
/// `nonroot_listen=1`, as for the groups of the unit (group flags are fixed
/// at registration).
static FAMILY_GROUPS: Groups<{ genl::MCAST_GROUPS.len() }> = Groups::new(genl::MCAST_GROUPS, false);
static FAMILY_GROUPS_NONROOT: Groups<{ genl::MCAST_GROUPS.len() }> =
    Groups::new(genl::MCAST_GROUPS, true);

/// What `ECHO` publishes and `BROADCAST` sends, on each transport.
const EVENT: MessageType = MessageType::of(&raw::EVENT, &genl::EVENT);

impl Service for NlTestService {
    type State = Counters;

    /// The typed service, on the protocol unit and as the `nltest` generic
    /// netlink family: numbers, policies and permissions as the specs give
    /// them.
    const COMMANDS: &'static [Command<Counters>] = &[
        netlink::command!(raw::ECHO, genl::ECHO, echo, None),
        netlink::command!(raw::BROADCAST, genl::BROADCAST, broadcast, None),
        netlink::command!(raw::GET_STATS, genl::GET_STATS, get_stats, Some(dump_stats)),
    ];

    type AttrTable = AttrTable<{ attrs::MAX as usize + 1 }>;

    fn net_id() -> &'static NetId {
        &NET_ID
    }

    fn socket_config() -> SocketConfig {
        SocketConfig {
            unit: UNIT.load(Ordering::Relaxed),
            groups: GROUP_COUNT,
            nonroot_listen: NONROOT_LISTEN.load(Ordering::Relaxed),
        }
    }

    fn raw_message(replies: &Replies<'_>, counters: &Counters, message: &Message<'_>) {
        let header = message.header();
        let payload = message.payload;
        // The echo's delivery report counts its payload's bytes.
        if replies
            .copy(header.nlmsg_type, header.nlmsg_seq, payload, payload.len())
            .is_err()
        {
            add(&counters.errors, 1);
        }
        let socket = replies.socket();
        if socket.has_listeners(ECHO_GROUP) {
            // Best effort: a listener that does not keep up loses broadcasts,
            // and the netlink core tells it so with ENOBUFS. The sender has
            // its echo already.
            if let Ok(event) = OutMessage::new(header.nlmsg_type, 0, header.nlmsg_seq, payload) {
                let _ = socket.multicast(event, replies.portid(), ECHO_GROUP);
            }
        }
    }

    fn malformed(replies: &Replies<'_>, counters: &Counters, malformed: Malformed) {
        add(&counters.errors, 1);
        if let Malformed::BadLength(header) = malformed {
            if let Ok(reply) = OutMessage::error(header, EINVAL) {
                let _ = replies.send_now(reply);
            }
        }
    }

    /// Replies are echoes: raw ones and `ECHO`'s, each tallied with the
    /// bytes of its payload.
    fn sent(counters: &Counters, sent: Sent) {
        counters.count_send(&counters.echoes, sent.messages, sent.tally, sent.result);
    }

    /// Every typed request is counted, and those that fail as errors (a
    /// dump that started did not fail). On the unit that includes unknown
    /// commands, refused permissions and attributes the policy rejects;
    /// over generic netlink the core answers those itself.
    #[inline]
    fn serve(counters: &Counters, dispatch: impl FnOnce() -> Outcome) -> Outcome {
        add(&counters.requests, 1);
        let outcome = dispatch();
        if outcome.failed() {
            add(&counters.errors, 1);
        }
        outcome
    }

    /// Listeners are counted for the protocol's groups. The unit's kernel
    /// socket has 32 (the netlink core's least), and, as generic netlink
    /// does for groups no family has, a socket may join the others: it is
    /// let in, and not counted.
    fn bind(counters: &Counters, group: u32) -> Result {
        if let Some(listeners) = counters.listeners.get(group as usize - 1) {
            add(listeners, 1);
        }
        Ok(())
    }

    fn unbind(counters: &Counters, group: u32) {
        if let Some(listeners) = counters.listeners.get(group as usize - 1) {
            listeners.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The module's parameters, as read at load time, before any socket
/// exists. Every datagram and request reads some of them: a relaxed load is
/// one instruction, while 7.3's `ModuleParamAccess::value` goes through
/// `SetOnce` and an out-of-line C helper (15 instructions of a batched 16 B
/// typed echo's 850 for `max_payload` alone).
static UNIT: AtomicI32 = AtomicI32::new(0);
static NONROOT_LISTEN: AtomicBool = AtomicBool::new(false);
static MAX_PAYLOAD: AtomicUsize = AtomicUsize::new(0);
static DUMP_BATCH: AtomicUsize = AtomicUsize::new(0);

fn load_parameters() {
    use module_parameters::{dump_batch, max_payload, nonroot_listen, unit};
    UNIT.store(unit.value(), Ordering::Relaxed);
    NONROOT_LISTEN.store(nonroot_listen.value(), Ordering::Relaxed);
    MAX_PAYLOAD.store(max_payload.value() as usize, Ordering::Relaxed);
    DUMP_BATCH.store(dump_batch.value() as usize, Ordering::Relaxed);
}

/// The `DATA` attribute of a request, within the `max_payload` limit.
#[inline]
fn data<'a>(request: &Request<'a>, attributes: &Attributes<'a>) -> Result<&'a [u8]> {
    let attr = request.require(attributes, attrs::DATA)?;
    let data = attr.bytes();
    let limit = MAX_PAYLOAD.load(Ordering::Relaxed);
    if data.len() > limit {
        request.set_attr_error(attr, c"DATA is larger than max_payload");
        request.set_error_fmt(format_args!(
            "DATA is {} bytes, more than max_payload ({limit})",
            data.len()
        ));
        return Err(compat::code::emsgsize());
    }
    Ok(data)
}

/// An `EVENT` carrying `data` and who sent it.
fn event(request: &Request<'_>, data: &[u8]) -> Result<OutMessage> {
    let size = attribute_size(data.len()) + 2 * attribute_size(4);
    let mut event = request.new_notification(EVENT, size)?;
    let mut writer = event.writer();
    writer.put_bytes(attrs::DATA, data)?;
    writer.put_u32(attrs::PORTID, request.sender_portid())?;
    writer.put_u32(attrs::UID, request.sender_uid())?;
    Ok(event)
}

fn echo(_counters: &Counters, request: &Request<'_>, attributes: &Attributes<'_>) -> Result {
    let data = data(request, attributes)?;
    request.reply_with(attribute_size(data.len()), data.len(), |reply| {
        reply.put_bytes(attrs::DATA, data)
    })?;
    // Best effort, as the raw echo's broadcast: the reply went out.
    let _ = request.notify(ECHO_GROUP, || event(request, data));
    Ok(())
}

fn broadcast(counters: &Counters, request: &Request<'_>, attributes: &Attributes<'_>) -> Result {
    let data = data(request, attributes)?;
    // The policy checked its size and its range, which is the transport's.
    let group = request
        .require(attributes, attrs::GROUP)?
        .u32()
        .ok_or(EINVAL)?;
    let result = match request.notify(group, || event(request, data)) {
        // Nobody listening is not the sender's error.
        Err(error) if error == ESRCH => Ok(()),
        result => result,
    };
    counters.count_send(&counters.broadcasts, 1, data.len(), result);
    Ok(())
}

fn get_stats(counters: &Counters, request: &Request<'_>, _attributes: &Attributes<'_>) -> Result {
    let mut reply = request.new_reply(STAT_COUNT * STAT_SIZE)?;
    put_stats(&mut reply.writer(), counters)?;
    request.reply(reply)
}

/// Every counter, a `STAT` nest each.
fn put_stats(writer: &mut MessageWriter<'_>, counters: &Counters) -> Result {
    let mut index = 0;
    while let Some(entry) = counters.entry(index) {
        put_stat(writer, entry)?;
        index += 1;
    }
    Ok(())
}

/// One round of the `GET_STATS` dump: one part per counter.
fn dump_stats(counters: &Counters, writer: &mut DumpWriter<'_>) -> Result {
    let batch = match DUMP_BATCH.load(Ordering::Relaxed) {
        0 => usize::MAX,
        batch => batch,
    };
    for _ in 0..batch {
        let Some(entry) = counters.entry(writer.cursor()) else {
            break;
        };
        if !writer.part(|message| put_stat(message, entry)) {
            break;
        }
    }
    Ok(())
}

struct NlTest {
    /// The family, which owns the per-namespace registration.
    _family: FamilyRegistration<NlTestService>,
}

impl kernel::Module for NlTest {
    fn init(module: &'static ThisModule) -> Result<Self> {
        load_parameters();
        // A module built with NLTEST_SELFTEST=1 tests its netlink layer
        // first, and refuses to load when a test fails.
        #[cfg(nltest_selftest)]
        netlink::selftest::run()?;
        let unit = UNIT.load(Ordering::Relaxed);
        let service = Registration::<NlTestService>::new().inspect_err(|&error| {
            if error == EINVAL {
                pr_err!("unit={unit} is not a netlink protocol unit (0 to 31)\n");
            } else {
                pr_err!("netlink protocol unit {unit} is already registered by another kernel socket; pick a free one with unit=N\n");
            }
        })?;
        let groups = if NONROOT_LISTEN.load(Ordering::Relaxed) {
            &FAMILY_GROUPS_NONROOT
        } else {
            &FAMILY_GROUPS
        };
        // A module's init must not fail with EEXIST, which finit_module
        // keeps for "loaded already" (7.3 turns it into EBUSY; 6.12 passes
        // it on): a taken name is EBUSY on every kernel.
        let family = FAMILY
            .register(module, service, groups)
            .map_err(|error| {
                if error != EEXIST {
                    return error;
                }
                pr_err!(
                    "generic netlink family {} is already registered by another module; unload that one first\n",
                    genl::FAMILY_NAME
                );
                EBUSY
            })?;
        pr_info!(
            "netlink protocol {unit} registered in every network namespace, {GROUP_COUNT} multicast groups; generic netlink family {}\n",
            genl::FAMILY_NAME
        );
        Ok(Self { _family: family })
    }
}
