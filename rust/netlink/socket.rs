// SPDX-License-Identifier: GPL-2.0

//! Netlink kernel sockets.

use super::skb::{to_result, OutBuffer, OutMessage};
use crate::bindings;
use core::{ops::Deref, ptr::NonNull};
use kernel::{ffi, prelude::*, types::Opaque};

/// The callbacks of a kernel socket, as the netlink core calls them
/// (`netlink_kernel_cfg`).
pub(crate) struct SocketCallbacks {
    /// A datagram sent to the kernel socket (`input`).
    pub(crate) input: unsafe extern "C" fn(*mut bindings::sk_buff),
    /// A socket joins a group (`bind`); an error refuses it.
    pub(crate) bind: unsafe extern "C" fn(*mut bindings::net, ffi::c_int) -> ffi::c_int,
    /// A socket leaves a group, or closes (`unbind`).
    pub(crate) unbind: unsafe extern "C" fn(*mut bindings::net, ffi::c_int),
}

/// How a kernel socket is set up.
pub(crate) struct SocketConfig {
    /// Netlink protocol unit, 0 to `MAX_LINKS - 1`.
    pub(crate) unit: i32,
    /// Number of multicast groups, numbered from 1.
    pub(crate) groups: u32,
    /// Whether sockets without `CAP_NET_ADMIN` may join the groups
    /// (`NL_CFG_F_NONROOT_RECV`).
    pub(crate) nonroot_listen: bool,
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
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: `Socket` is a transparent wrapper of `sock`; the caller
        // guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Sends `message` (one message or a buffer of them) as one datagram to
    /// the socket bound to `portid`, without blocking. When that socket's
    /// receive queue is full the datagram is dropped, the netlink core
    /// reports `ENOBUFS` to that socket, and this returns `EAGAIN`.
    #[inline]
    pub(crate) fn unicast(&self, message: impl Into<OutBuffer>, portid: u32) -> Result {
        let skb = message.into().into_raw();
        // SAFETY: the socket is valid by the type invariant; `nlmsg_unicast`
        // consumes the skb, whose ownership `into_raw` handed over.
        to_result(unsafe { bindings::nlmsg_unicast(self.0.get(), skb, portid) })
    }

    /// Sends `message` to every socket that joined multicast `group` but
    /// the one bound to `exclude_portid` (0: none is left out), with the
    /// group as its source address (`NETLINK_CB(skb).dst_group`). Fails with
    /// `ESRCH` when no one received it.
    pub(crate) fn multicast(&self, message: OutMessage, exclude_portid: u32, group: u32) -> Result {
        // SAFETY: the socket is valid by the type invariant; `nlmsg_multicast`
        // consumes the skb, whose ownership `into_raw` hands over.
        // `GFP_KERNEL` is allowed in process context.
        to_result(unsafe {
            bindings::nlmsg_multicast(
                self.0.get(),
                message.into_raw(),
                exclude_portid,
                group,
                bindings::GFP_KERNEL,
            )
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get()
    }

    /// Whether some socket has joined multicast `group`.
    #[inline]
    pub(crate) fn has_listeners(&self, group: u32) -> bool {
        // SAFETY: the socket is valid by the type invariant.
        unsafe { bindings::netlink_has_listeners(self.0.get(), group) != 0 }
    }
}

/// A netlink kernel socket, released on drop.
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
    /// Registers protocol unit `config.unit` in namespace `net`, served by
    /// `callbacks`. Fails with `EINVAL` for a unit out of range and
    /// `EADDRINUSE` when another kernel socket holds the unit there.
    ///
    /// # Safety
    ///
    /// `net` must be a valid namespace outliving the socket, and `callbacks`
    /// sound to call for this socket, in this namespace, as the netlink core
    /// calls them, until the socket is released.
    pub(crate) unsafe fn new(
        net: *mut bindings::net,
        config: SocketConfig,
        callbacks: SocketCallbacks,
    ) -> Result<Self> {
        if !(0..bindings::MAX_LINKS as i32).contains(&config.unit) {
            return Err(EINVAL);
        }
        let mut cfg = bindings::netlink_kernel_cfg {
            groups: config.groups,
            flags: if config.nonroot_listen {
                bindings::NL_CFG_F_NONROOT_RECV
            } else {
                0
            },
            input: Some(callbacks.input),
            bind: Some(callbacks.bind),
            unbind: Some(callbacks.unbind),
            ..Default::default()
        };
        // SAFETY: `net` is valid (caller); `cfg` is valid for the call, which
        // copies what it needs of it. The wrapper passes this module's
        // `THIS_MODULE`, so userspace sockets of the unit pin the module
        // while they are open.
        let sock = unsafe { bindings::netlink_kernel_create(net, config.unit, &mut cfg) };
        // INVARIANT: a non-null result is a new kernel socket.
        // A valid unit fails only when its port 0 is taken in the namespace,
        // that is, when another kernel socket registered it.
        NonNull::new(sock)
            .map(|sock| Self { sock })
            .ok_or_else(crate::compat::code::eaddrinuse)
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
