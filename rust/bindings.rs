// SPDX-License-Identifier: GPL-2.0

//! Everything of `kernel::bindings`, plus what it lacks for netlink, generated
//! by bindgen from `bindings_helper.h` during the module's build.

#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    unsafe_op_in_unsafe_fn
)]

pub(crate) use kernel::bindings::*;

include!("bindings_generated.rs");
