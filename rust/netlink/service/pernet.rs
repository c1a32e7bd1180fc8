// SPDX-License-Identifier: GPL-2.0

//! A netlink service with one kernel socket per network namespace, and
//! state per namespace that its generic netlink family shares.

use super::command::Command;
use super::replies::{Replies, Sent};
use crate::bindings;
use crate::compat::Zeroable;
use crate::netlink::message::{Malformed, Message};
use crate::netlink::socket::{KernelSocket, SocketConfig};
use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{ffi, prelude::*};

/// What a netlink service does; the layer calls it for each namespace's
/// kernel socket, possibly on several CPUs at once.
pub(crate) trait Service: 'static {
    /// What the service keeps per network namespace. The kernel allocates it
    /// zero-filled and frees it without dropping it: all-zero must be a valid
    /// value, and a state with a destructor fails the build
    /// ([`Registration::new`]).
    type State: Zeroable + Sync;

    /// The typed commands, served on the protocol unit and, when the service
    /// registers a [`super::Family`], over generic netlink.
    const COMMANDS: &'static [Command<Self>];

    /// The service's own id for its per-namespace state: a `static` of the
    /// service, which no other service uses.
    fn net_id() -> &'static NetId;

    /// The protocol unit, groups and flags of the kernel sockets.
    fn socket_config() -> SocketConfig;

    /// A message that is not a request (`netlink_rcv_skb` skips it) nor a
    /// control message: the raw protocol. `replies` go to its sender.
    fn raw_message(replies: &Replies<'_>, state: &Self::State, message: &Message<'_>);

    /// A message whose length is wrong; the rest of its datagram is skipped.
    fn malformed(replies: &Replies<'_>, state: &Self::State, malformed: Malformed);

    /// A datagram of replies queued with [`Replies::copy`] or
    /// [`super::Request::reply_with`] was sent, or failed.
    fn sent(state: &Self::State, sent: Sent);

    /// A typed request arrived: on the protocol unit, every one; over
    /// generic netlink, those the core passed on (known command, allowed,
    /// attributes within the policy). Called before the command runs.
    fn requested(state: &Self::State);

    /// A request [`Service::requested`] announced failed with `error` (a
    /// dump that started did not fail).
    fn failed(state: &Self::State, error: Error);

    /// A socket joined multicast `group` of the protocol unit; an error
    /// refuses it. (Generic netlink tells a family which group, not in which
    /// namespace: joins of the family's groups are not reported.)
    fn bind(state: &Self::State, group: u32) -> Result;

    /// A socket left multicast `group` of the protocol unit, or was closed.
    fn unbind(state: &Self::State, group: u32);
}

/// What the kernel keeps for the service in each network namespace.
#[repr(C)]
struct PerNet<S: Service> {
    /// Written by the namespace's init and exit only.
    socket: Option<KernelSocket>,
    state: S::State,
}

/// The id under which the kernel keeps a service's `PerNet` (`net_generic`),
/// declared by the service as a `static` ([`Service::net_id`]).
///
/// # Invariants
///
/// `id` is written only by `register_pernet_subsys`, called by the one
/// [`Registration`] that claimed the id (`claimed`), before any reader runs;
/// it is read only while that registration lives.
pub(crate) struct NetId {
    id: UnsafeCell<ffi::c_uint>,
    claimed: AtomicBool,
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
    fn get(&self) -> ffi::c_uint {
        // SAFETY: read while the registration lives, after it was written
        // (type invariant).
        unsafe { *self.id.get() }
    }
}

/// The state of service `S` in the namespace of a kernel socket.
///
/// # Safety
///
/// `sock` must be a kernel socket of service `S`, registered with
/// [`Registration`], and stay valid for `'a`.
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
    // allocated for this registration (size set in `Registration::new`);
    // `state` is valid zeroed (`Zeroable`) and only read through shared
    // references; the caller guarantees the namespace outlives `'a`.
    unsafe {
        let per_net = bindings::net_generic(net, S::net_id().get()).cast::<PerNet<S>>();
        &*core::ptr::addr_of!((*per_net).state)
    }
}

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
        let per_net = bindings::net_generic(net, S::net_id().get()).cast::<PerNet<S>>();
        match KernelSocket::new(net, S::socket_config(), super::unit::callbacks::<S>()) {
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
    let socket = unsafe {
        let per_net = bindings::net_generic(net, S::net_id().get()).cast::<PerNet<S>>();
        (*core::ptr::addr_of_mut!((*per_net).socket)).take()
    };
    drop(socket);
}

/// Service `S` registered in every network namespace, present and future;
/// unregistered (every kernel socket released) on drop.
///
/// # Invariants
///
/// `ops` is a registered `pernet_operations` this object owns, whose id is
/// `S::net_id()`, claimed by this registration.
pub(crate) struct Registration<S: Service> {
    ops: NonNull<bindings::pernet_operations>,
    _service: PhantomData<S>,
}

// SAFETY: the registration is only used to unregister, from any thread.
unsafe impl<S: Service> Send for Registration<S> {}
// SAFETY: no method takes `&self`.
unsafe impl<S: Service> Sync for Registration<S> {}

impl<S: Service> Registration<S> {
    /// Registers the service: creates its kernel socket in every namespace.
    /// Fails with `EBUSY` while another registration of the service lives:
    /// its id is the service's own, and registering writes it.
    pub(crate) fn new() -> Result<Self> {
        let net_id = S::net_id();
        if net_id.claimed.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        Self::register(net_id).inspect_err(|_| net_id.claimed.store(false, Ordering::Release))
    }

    /// Fails the build for a `State` with a destructor: the kernel frees the
    /// per-namespace storage without running it.
    const STATE_NEEDS_NO_DROP: () = assert!(
        !core::mem::needs_drop::<S::State>(),
        "a Service::State with a destructor would never be dropped"
    );

    fn register(net_id: &'static NetId) -> Result<Self> {
        #[allow(clippy::let_unit_value)]
        let () = Self::STATE_NEEDS_NO_DROP;
        let ops = KBox::new(
            bindings::pernet_operations {
                init: Some(net_init::<S>),
                exit: Some(net_exit::<S>),
                id: net_id.id.get(),
                size: core::mem::size_of::<PerNet<S>>(),
                ..Default::default()
            },
            GFP_KERNEL,
        )?;
        let ops = NonNull::from(KBox::leak(ops));
        // SAFETY: `ops` is valid and stays at its address until unregistered
        // in `drop`.
        let errno = unsafe { bindings::register_pernet_subsys(ops.as_ptr()) };
        if let Err(error) = kernel::error::to_result(errno) {
            // SAFETY: not registered: the box is ours again.
            drop(unsafe { KBox::from_raw(ops.as_ptr()) });
            return Err(error);
        }
        Ok(Self {
            ops,
            _service: PhantomData,
        })
    }
}

impl<S: Service> Drop for Registration<S> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); after unregistering, the
        // kernel no longer uses `ops`, which came from `KBox::leak`.
        unsafe {
            bindings::unregister_pernet_subsys(self.ops.as_ptr());
            drop(KBox::from_raw(self.ops.as_ptr()));
        }
        S::net_id().claimed.store(false, Ordering::Release);
    }
}
