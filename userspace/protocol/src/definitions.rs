// SPDX-License-Identifier: GPL-2.0

// The NETLINK_TEST protocol, written once. The kernel module includes this file
// as a module (`rust/nltest_main.rs`) and the userspace crates through
// `nltest-protocol`, so it holds plain constants only: no crate attributes, no
// `use` of anything outside `core`.

/// Netlink protocol unit of the service: `NETLINK_TEST` in the seed's examples.
/// The module's `unit` parameter can move it to another free unit.
pub const NETLINK_TEST: u32 = 17;

/// Multicast group on which the module broadcasts every payload it echoes.
pub const ECHO_GROUP: u32 = 1;

/// Number of multicast groups the module registers (groups are numbered from 1).
pub const GROUP_COUNT: u32 = 1;
