// SPDX-License-Identifier: GPL-2.0

// The NETLINK_TEST protocol, written once. The kernel module includes this file
// as a module (`rust/nltest_main.rs`) and the userspace crates through
// `nltest-protocol`, so it holds plain constants only: no crate attributes, no
// `use` of anything outside `core`. docs/protocol.md describes the protocol.

/// Netlink protocol unit of the service: `NETLINK_TEST` in the seed's examples.
/// The module's `unit` parameter can move it to another free unit.
pub const NETLINK_TEST: u32 = 17;

/// Multicast group on which the module broadcasts every raw echo and
/// publishes an `EVENT` for every typed `ECHO`.
pub const ECHO_GROUP: u32 = 1;

/// Number of multicast groups the module registers (numbered from 1).
/// `BROADCAST` may send to any of them.
pub const GROUP_COUNT: u32 = 8;

// Typed requests: `nlmsg_type` at or above `NLMSG_MIN_TYPE` (0x10) and the
// `NLM_F_REQUEST` flag. A reply carries its request's type. Any other message
// but the control messages (types 1 to 15) is a raw echo.

/// Echo the `DATA` attribute back; publish an `EVENT` on `ECHO_GROUP`.
pub const MSG_ECHO: u16 = 0x10;
/// Send the `DATA` attribute to multicast `GROUP` (needs `CAP_NET_ADMIN`).
pub const MSG_BROADCAST: u16 = 0x11;
/// Read the counters of the sender's network namespace; dumpable.
pub const MSG_GET_STATS: u16 = 0x12;
/// From the module only: what `ECHO` publishes, and what `BROADCAST` sends.
pub const MSG_EVENT: u16 = 0x13;

// Attributes (`struct nlattr`), the same numbering in every message.

/// Binary payload: `ECHO`, `BROADCAST` and `EVENT`.
pub const ATTR_DATA: u16 = 1;
/// u32, multicast group (1 to `GROUP_COUNT`): `BROADCAST`.
pub const ATTR_GROUP: u16 = 2;
/// u32, port id of the request's sender: `EVENT`.
pub const ATTR_PORTID: u16 = 3;
/// u32, uid of the request's sender, in the namespace's user namespace: `EVENT`.
pub const ATTR_UID: u16 = 4;
/// u32, which counter (one of `STAT_*`): `GET_STATS` replies.
pub const ATTR_STAT: u16 = 5;
/// u64, the counter's value: `GET_STATS` replies.
pub const ATTR_VALUE: u16 = 6;
/// Highest attribute number.
pub const ATTR_MAX: u16 = 6;

// Counters of `GET_STATS`, one message per counter in a dump. `STAT_LISTENERS`
// comes once per group, with `ATTR_GROUP`.

/// Typed requests received.
pub const STAT_REQUESTS: u32 = 1;
/// Echoes sent, raw and typed.
pub const STAT_ECHOES: u32 = 2;
/// `BROADCAST` messages sent.
pub const STAT_BROADCASTS: u32 = 3;
/// Payload bytes echoed or broadcast.
pub const STAT_BYTES: u32 = 4;
/// Requests answered with an error.
pub const STAT_ERRORS: u32 = 5;
/// Messages dropped because a receiver's queue was full.
pub const STAT_DROPPED: u32 = 6;
/// Sockets that joined a group (with `ATTR_GROUP`).
pub const STAT_LISTENERS: u32 = 7;

/// Default of the module's `max_payload` parameter: largest `DATA` attribute.
pub const DEFAULT_MAX_PAYLOAD: u32 = 32768;

/// Largest datagram of replies the module sends. The replies to the
/// messages of one datagram share datagrams, in order, of the kernel's
/// `NLMSG_GOODSIZE` bytes, which is at most this whatever the page size. A
/// reply bigger than that comes alone, in a datagram of its own size.
pub const REPLY_DATAGRAM_MAX: usize = 8192;

// The same service over generic netlink: a family the controller
// (`CTRL_CMD_GETFAMILY`) resolves by name, whose commands take the same
// attributes with the same policies. A message's type is the family's id;
// the command is in the generic netlink header (`struct genlmsghdr`).

/// Name of the generic netlink family.
pub const GENL_FAMILY_NAME: &str = "nltest";
/// Version of the generic netlink family (`genlmsghdr.version`).
pub const GENL_VERSION: u8 = 1;
/// The family's multicast group: what `ECHO_GROUP` is on the unit. It is the
/// family's only group, so `BROADCAST` over generic netlink takes `GROUP` 1.
pub const GENL_EVENTS_GROUP: &str = "events";
/// Number of multicast groups of the family.
pub const GENL_GROUP_COUNT: u32 = 1;

/// `ECHO` over generic netlink (`genlmsghdr.cmd`).
pub const GENL_CMD_ECHO: u8 = 1;
/// `BROADCAST` over generic netlink.
pub const GENL_CMD_BROADCAST: u8 = 2;
/// `GET_STATS` over generic netlink; dumpable.
pub const GENL_CMD_GET_STATS: u8 = 3;
/// `EVENT` over generic netlink, from the module only.
pub const GENL_CMD_EVENT: u8 = 4;
