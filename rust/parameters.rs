// SPDX-License-Identifier: GPL-2.0

//! Module parameters, declared in `params.c`.
//!
//! All are read-only (0444): written only while the module's parameters are
//! parsed, before `init`, so reading them needs no lock.

use crate::bindings;

/// `unit`: the netlink protocol unit to register.
pub(crate) fn unit() -> i32 {
    // SAFETY: read-only parameter, see the module documentation.
    unsafe { bindings::nltest_param_unit }
}

/// `nonroot_listen`: whether sockets without `CAP_NET_ADMIN` may listen.
pub(crate) fn nonroot_listen() -> bool {
    // SAFETY: read-only parameter, see the module documentation.
    unsafe { bindings::nltest_param_nonroot_listen }
}

/// `max_payload`: the largest `DATA` attribute of a typed request.
pub(crate) fn max_payload() -> usize {
    // SAFETY: read-only parameter, see the module documentation.
    unsafe { bindings::nltest_param_max_payload as usize }
}

/// `dump_batch`: at most this many parts per round of a dump, 0 for no limit.
pub(crate) fn dump_batch() -> usize {
    // SAFETY: read-only parameter, see the module documentation.
    unsafe { bindings::nltest_param_dump_batch as usize }
}
