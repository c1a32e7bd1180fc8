// SPDX-License-Identifier: GPL-2.0

//! The id of a service's storage in every network namespace.

use core::{cell::UnsafeCell, sync::atomic::AtomicBool};
use kernel::ffi;

/// The id under which the kernel keeps a service's `PerNet` (`net_generic`),
/// declared by the service as a `static` ([`super::Service::net_id`]).
///
/// # Invariants
///
/// `id` is written only by `register_pernet_subsys`, called by the one
/// [`super::Registration`] that claimed the id (`claimed`), before any
/// reader runs; it is read only while that registration lives.
pub(crate) struct NetId {
    pub(super) id: UnsafeCell<ffi::c_uint>,
    pub(super) claimed: AtomicBool,
}

// SAFETY: `id` is written once, during the registration that claimed it,
// before any reader can run (type invariant); `claimed` is atomic.
unsafe impl Sync for NetId {}

impl NetId {
    /// An id for one service, not yet registered.
    pub(crate) const fn new() -> Self {
        Self {
            id: UnsafeCell::new(0),
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
