// SPDX-License-Identifier: GPL-2.0

//! What a service keeps in each network namespace (its kernel socket and
//! its state), under an id of its own, and how the callbacks of either
//! transport find it. [`super::Registration`] sets it up.

use super::command::Service;
use crate::bindings;
use crate::netlink::socket::KernelSocket;

/// What the kernel keeps for the service in each network namespace.
#[repr(C)]
pub(super) struct PerNet<S: Service> {
    /// Written by the namespace's init and exit only.
    pub(super) socket: Option<KernelSocket>,
    pub(super) state: S::State,
}

/// The state of service `S` in the namespace of a kernel socket.
///
/// # Safety
///
/// `sock` must be a kernel socket of service `S`, registered with
/// [`super::Registration`], and stay valid for `'a`.
pub(super) unsafe fn state_of<'a, S: Service>(sock: *mut bindings::sock) -> &'a S::State {
    // SAFETY: the caller guarantees a valid socket of the service.
    unsafe { state_of_net::<S>(bindings::nltest_sock_net(sock)) }
}

/// The state of service `S` in namespace `net`.
///
/// # Safety
///
/// `net` must be a namespace the registration of `S` initialised and not yet
/// exited, alive for `'a`.
pub(super) unsafe fn state_of_net<'a, S: Service>(net: *mut bindings::net) -> &'a S::State {
    // SAFETY: `net_generic` returns the zero-filled `PerNet<S>` the kernel
    // allocated for this registration (its size set by `Registration::new`);
    // `state` is valid zeroed (`Zeroable`) and only read through shared
    // references; the caller guarantees the namespace outlives `'a`.
    unsafe { &*core::ptr::addr_of!((*per_net::<S>(net)).state) }
}

/// The `PerNet` of service `S` in namespace `net` (`net_generic`).
///
/// # Safety
///
/// `net` must be a valid namespace where the registration of `S` allocated
/// its storage: from its `init` on, until its `exit` returned.
pub(super) unsafe fn per_net<S: Service>(net: *mut bindings::net) -> *mut PerNet<S> {
    // SAFETY: the caller guarantees a namespace with the service's storage,
    // under the id the registration claimed.
    unsafe { bindings::net_generic(net, S::net_id().get()).cast::<PerNet<S>>() }
}
