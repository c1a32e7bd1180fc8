// SPDX-License-Identifier: GPL-2.0

//! The nltest protocol shared by the kernel module and its userspace peer:
//! constants, the counters, attribute and operation numbers, and each
//! transport's policies, as the YNL specs (specs/nltest.yaml,
//! specs/nltest-raw.yaml) define them. `scripts/ynl-gen-rust.py` generates
//! the file from the specs; the module includes the same file.

#![no_std]

#[path = "../../../specs/generated/nltest.rs"]
mod nltest;

pub use nltest::*;
