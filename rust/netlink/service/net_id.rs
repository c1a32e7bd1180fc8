// SPDX-License-Identifier: GPL-2.0

//! The id of a service's storage in every network namespace, and the
//! `pernet_operations` that registers it, in the service's `static`.

use crate::bindings;
use core::{cell::UnsafeCell, sync::atomic::AtomicBool};
use kernel::{ffi, types::Opaque};

/// The id under which the kernel keeps a service's `PerNet` (`net_generic`),
/// and the `pernet_operations` that set it up, declared by the service as a
/// `static` ([`super::Service::net_id`]).
///
/// # Invariants
///
/// `ops` is written only by the one [`super::Registration`] that claimed
/// the id (`claimed`), before it registers them, and then by the kernel
/// under its locks; `id` is written only by `register_pernet_subsys`, called
/// by that registration, before any reader runs; it is read only while that
/// registration lives.
pub(crate) struct NetId {
    pub(super) id: UnsafeCell<ffi::c_uint>,
    pub(super) ops: Opaque<bindings::pernet_operations>,
    pub(super) claimed: AtomicBool,
}

// SAFETY: `id` and `ops` are written by the registration that claimed them,
// before any reader can run, and then by the kernel under its locks (type
// invariant); `claimed` is atomic.
unsafe impl Sync for NetId {}

impl NetId {
    /// An id for one service, not yet registered.
    pub(crate) const fn new() -> Self {
        Self {
            id: UnsafeCell::new(0),
            // SAFETY: `pernet_operations` holds a list head, options of
            // functions, a pointer and integers: all-zero is valid.
            ops: Opaque::new(unsafe { core::mem::zeroed() }),
            claimed: AtomicBool::new(false),
        }
    }

    /// The id, as the registration's `register_pernet_subsys` wrote it.
    pub(super) fn get(&self) -> ffi::c_uint {
        // SAFETY: read while the registration lives, after it was written
        // (type invariant).
        unsafe { *self.id.get() }
    }
}
