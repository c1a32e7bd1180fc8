// SPDX-License-Identifier: GPL-2.0

//! Netlink kernel sockets.

use super::skb::{OutMessage, ReceivedSkb};
use crate::bindings;
use core::{ops::Deref, ptr::NonNull};
use kernel::{error::to_result, prelude::*, types::Opaque};

/// What a kernel socket does with each datagram userspace sends to it.
pub(crate) trait InputHandler {
    /// Called by the netlink core in the sending process's context, possibly
    /// on several CPUs at once, for each datagram sent to `socket`.
    fn input(socket: &Socket, skb: &ReceivedSkb);
}

/// A netlink kernel socket, borrowed.
///
/// # Invariants
///
/// The wrapped `sock` is a valid netlink kernel socket for the lifetime of the
/// reference.
#[repr(transparent)]
pub(crate) struct Socket(Opaque<bindings::sock>);

impl Socket {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a netlink kernel socket that stays valid for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: `Socket` is a transparent wrapper of `sock`; the caller
        // guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Sends `message` to the socket bound to `portid` without blocking. When
    /// that socket's receive queue is full the message is dropped, the netlink
    /// core reports `ENOBUFS` to that socket, and this returns `EAGAIN`.
    pub(crate) fn unicast(&self, message: OutMessage, portid: u32) -> Result {
        // SAFETY: the socket is valid by the type invariant; `nlmsg_unicast`
        // consumes the skb, whose ownership `into_raw` hands over.
        to_result(unsafe { bindings::nlmsg_unicast(self.0.get(), message.into_raw(), portid) })
    }

    /// Sends `message` to every socket that joined multicast `group`. Fails
    /// with `ESRCH` when no one received it.
    pub(crate) fn broadcast(&self, message: OutMessage, group: u32) -> Result {
        // SAFETY: the socket is valid by the type invariant;
        // `netlink_broadcast` consumes the skb, whose ownership `into_raw`
        // hands over. `GFP_KERNEL` is allowed in process context.
        to_result(unsafe {
            bindings::netlink_broadcast(
                self.0.get(),
                message.into_raw(),
                0,
                group,
                bindings::GFP_KERNEL,
            )
        })
    }

    /// Whether some socket has joined multicast `group`.
    pub(crate) fn has_listeners(&self, group: u32) -> bool {
        // SAFETY: the socket is valid by the type invariant.
        unsafe { bindings::netlink_has_listeners(self.0.get(), group) != 0 }
    }
}

/// The netlink input callback, for handler `H`.
///
/// # Safety
///
/// Only the netlink core may call it, as the `input` of a kernel socket.
unsafe extern "C" fn input_callback<H: InputHandler>(skb: *mut bindings::sk_buff) {
    // SAFETY: the netlink core passes a valid skb that it owns and does not
    // modify until we return; `skb->sk` is the kernel socket it was sent to
    // (`netlink_unicast_kernel`), which lives at least as long.
    let (socket, skb) = unsafe {
        (
            Socket::from_raw(bindings::nltest_skb_sock(skb)),
            ReceivedSkb::from_raw(skb),
        )
    };
    H::input(socket, skb);
}

/// A netlink kernel socket in the initial network namespace, released on drop.
///
/// # Invariants
///
/// `sock` was returned by `netlink_kernel_create` and is released only by
/// `drop`.
pub(crate) struct KernelSocket {
    sock: NonNull<bindings::sock>,
}

// SAFETY: the netlink functions used on the socket can be called from any
// thread; the socket is not tied to the thread that created it.
unsafe impl Send for KernelSocket {}
// SAFETY: all methods of `Socket` take `&self` and the netlink core serialises
// what needs it internally.
unsafe impl Sync for KernelSocket {}

impl KernelSocket {
    /// Registers netlink protocol `unit` with `groups` multicast groups; `H`
    /// handles what userspace sends. Fails with `EINVAL` for a unit out of
    /// range and `EADDRINUSE` when another kernel socket holds the unit.
    pub(crate) fn new<H: InputHandler>(unit: i32, groups: u32) -> Result<Self> {
        if !(0..bindings::MAX_LINKS as i32).contains(&unit) {
            return Err(EINVAL);
        }
        let mut cfg = bindings::netlink_kernel_cfg {
            groups,
            input: Some(input_callback::<H>),
            ..Default::default()
        };
        // SAFETY: `init_net` lives as long as the kernel; `cfg` is valid for
        // the call, which copies what it needs of it. The wrapper passes this
        // module's `THIS_MODULE`, so userspace sockets of the unit pin the
        // module while they are open.
        let sock = unsafe {
            bindings::netlink_kernel_create(
                core::ptr::addr_of_mut!(bindings::init_net),
                unit,
                &mut cfg,
            )
        };
        // INVARIANT: a non-null result is a new kernel socket.
        // A valid unit fails only when its port 0 is taken in the namespace,
        // that is, when another kernel socket registered it.
        NonNull::new(sock)
            .map(|sock| Self { sock })
            .ok_or_else(super::code::eaddrinuse)
    }
}

impl Deref for KernelSocket {
    type Target = Socket;

    fn deref(&self) -> &Socket {
        // SAFETY: by the type invariant the socket is valid until `drop`.
        unsafe { Socket::from_raw(self.sock.as_ptr()) }
    }
}

impl Drop for KernelSocket {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the socket is ours to release, once.
        unsafe { bindings::netlink_kernel_release(self.sock.as_ptr()) };
    }
}
