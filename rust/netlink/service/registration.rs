// SPDX-License-Identifier: GPL-2.0

//! A service registered in every network namespace: a kernel socket of its
//! protocol unit per namespace, with the service's state beside it.

use super::command::Service;
use super::net_id::NetId;
use super::pernet::{per_net, PerNet};
use super::unit::callbacks;
use crate::bindings;
use crate::netlink::socket::KernelSocket;
use core::{marker::PhantomData, sync::atomic::Ordering};
use kernel::{ffi, prelude::*};

/// The `init` of the service's `pernet_operations`: creates the kernel
/// socket of a new namespace.
///
/// # Safety
///
/// Only the kernel may call it, for the registration of `S`.
unsafe extern "C" fn net_init<S: Service>(net: *mut bindings::net) -> ffi::c_int {
    // SAFETY: the kernel calls `init` with a namespace being set up, whose
    // `PerNet` storage is allocated. The unit's callbacks find the state of
    // `S` in the namespace of the socket, which is this one: set up for `S`
    // until `net_exit` releases the socket.
    unsafe {
        let per_net = per_net::<S>(net);
        match KernelSocket::new(net, S::socket_config(), callbacks::<S>()) {
            Ok(socket) => {
                core::ptr::addr_of_mut!((*per_net).socket).write(Some(socket));
                0
            }
            Err(error) => error.to_errno(),
        }
    }
}

/// The `exit` of the service's `pernet_operations`: releases the kernel
/// socket of a namespace that goes away.
///
/// # Safety
///
/// Only the kernel may call it, for the registration of `S`.
unsafe extern "C" fn net_exit<S: Service>(net: *mut bindings::net) {
    // SAFETY: the kernel calls `exit` once for a namespace `init` succeeded
    // for; no userspace socket is left in it, so nothing else uses `socket`.
    let socket = unsafe { (*core::ptr::addr_of_mut!((*per_net::<S>(net)).socket)).take() };
    drop(socket);
}

/// Service `S` registered in every network namespace, present and future;
/// unregistered (every kernel socket released) on drop.
///
/// # Invariants
///
/// `net_id` is `S::net_id()`, claimed by this registration, and its
/// `pernet_operations` are registered.
pub(crate) struct Registration<S: Service> {
    net_id: &'static NetId,
    _service: PhantomData<fn() -> S>,
}

impl<S: Service> Registration<S> {
    /// Registers the service: creates its kernel socket in every namespace.
    /// Fails with `EBUSY` while another registration of the service lives:
    /// its id is the service's own, and registering writes it.
    pub(crate) fn new() -> Result<Self> {
        #[allow(clippy::let_unit_value)]
        let () = Self::STATE_NEEDS_NO_DROP;
        let net_id = S::net_id();
        if net_id.claimed.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let ops = net_id.ops.get();
        // SAFETY: claimed by this call, the operations are ours to write
        // (type invariant of `NetId`); they are static, so they stay at
        // their address until unregistered in `drop`. `net_init` and
        // `net_exit` are those of `S`, whose storage is a `PerNet<S>` under
        // this id.
        let errno = unsafe {
            (*ops).init = Some(net_init::<S>);
            (*ops).exit = Some(net_exit::<S>);
            (*ops).id = net_id.id.get();
            (*ops).size = core::mem::size_of::<PerNet<S>>();
            bindings::register_pernet_subsys(ops)
        };
        if let Err(error) = kernel::error::to_result(errno) {
            net_id.claimed.store(false, Ordering::Release);
            return Err(error);
        }
        // INVARIANT: claimed and registered.
        Ok(Self {
            net_id,
            _service: PhantomData,
        })
    }

    /// Fails the build for a `State` with a destructor: the kernel frees the
    /// per-namespace storage without running it.
    const STATE_NEEDS_NO_DROP: () = assert!(
        !core::mem::needs_drop::<S::State>(),
        "a Service::State with a destructor would never be dropped"
    );
}

impl<S: Service> Drop for Registration<S> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); after unregistering, the
        // kernel no longer uses the operations.
        unsafe { bindings::unregister_pernet_subsys(self.net_id.ops.get()) };
        self.net_id.claimed.store(false, Ordering::Release);
    }
}
