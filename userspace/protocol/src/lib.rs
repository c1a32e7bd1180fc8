// SPDX-License-Identifier: GPL-2.0

//! The NETLINK_TEST protocol shared by the kernel module and its userspace
//! peer. The definitions live in `definitions.rs`, which the module includes
//! directly.

#![no_std]

mod definitions;

pub use definitions::*;
