// SPDX-License-Identifier: GPL-2.0

//! Netlink kernel sockets.

use super::command::serve_unit_request;
use super::message::Message;
use super::pernet::{state_of, state_of_net, Service};
use super::replies::{Replies, Sent};
use super::request::{Request, Served, Transport};
use super::skb::{OutBuffer, OutMessage, ReceivedSkb};
use super::to_result;
use crate::bindings;
use core::{ops::Deref, ptr::NonNull};
use kernel::{ffi, prelude::*, types::Opaque};

/// How the kernel sockets of a service are set up.
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
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
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

    pub(super) fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get()
    }

    /// Whether some socket has joined multicast `group`.
    #[inline]
    pub(crate) fn has_listeners(&self, group: u32) -> bool {
        // SAFETY: the socket is valid by the type invariant.
        unsafe { bindings::netlink_has_listeners(self.0.get(), group) != 0 }
    }
}

/// The netlink input callback of service `S`: serves the messages of a
/// datagram in order.
///
/// Requests get `netlink_rcv_skb`'s semantics, and the loop is its loop
/// (skipping what it skips, acking what it acks, stopping where it stops),
/// with one addition that `netlink_rcv_skb` has no hook for: the replies
/// queued so far are sent before each ack, so that the sender reads every
/// answer in order although replies share datagrams.
///
/// # Safety
///
/// Only the netlink core may call it, as the `input` of a kernel socket of
/// service `S`.
unsafe extern "C" fn input_callback<S: Service>(skb: *mut bindings::sk_buff) {
    // SAFETY: the netlink core passes a valid skb that it owns and does not
    // modify until we return; `skb->sk` is the kernel socket it was sent to
    // (`netlink_unicast_kernel`), which lives at least as long, in a
    // namespace where the service is set up.
    let (sock, received) = unsafe { ((*skb).sk, ReceivedSkb::from_raw(skb)) };
    // SAFETY: as above.
    let (socket, state) = unsafe { (Socket::from_raw(sock), state_of::<S>(sock)) };
    let count_sent = |sent: Sent| S::sent(state, sent);
    let replies = Replies::new(socket, received.sender_portid(), &count_sent);
    // One extended ack for the datagram's messages, made when the first
    // needs it and emptied for each.
    let mut extack = None;
    let mut messages = received.messages();
    while let Some(message) = messages.next() {
        match message {
            Ok(message) => {
                replies.set_more_follow(!messages.is_empty());
                serve_message::<S>(&replies, state, received, &mut extack, &message);
            }
            // The iterator ends here: what follows cannot be framed.
            Err(malformed) => S::malformed(&replies, state, malformed),
        }
    }
    // Dropping `replies` sends what it holds.
}

/// Serves one well-formed message of a datagram that `received` holds;
/// `extack` holds the datagram's extended ack once a message needed one.
#[inline]
fn serve_message<S: Service>(
    replies: &Replies<'_>,
    state: &S::State,
    received: &ReceivedSkb,
    extack: &mut Option<bindings::netlink_ext_ack>,
    message: &Message<'_>,
) {
    let wants_ack = u32::from(message.header().flags) & bindings::NLM_F_ACK != 0;
    if !is_request(message) {
        if is_raw(message) {
            S::raw_message(replies, state, message);
        }
        if wants_ack {
            replies.flush();
            received.ack(message, 0, fresh_extack(extack));
        }
        return;
    }
    let extack = fresh_extack(extack);
    // INVARIANT: `netlink_rcv_skb` would pass this header: its length was
    // checked, and it lies in the skb, which outlives the request; `extack`
    // outlives it too.
    let request = Request {
        transport: Transport::Unit { replies },
        skb: received,
        header: message.header_ptr(),
        extack,
    };
    let error = match serve_unit_request::<S>(state, &request) {
        Ok(Served::Done) => 0,
        // It ends with `NLMSG_DONE` instead of an ack.
        Ok(Served::DumpStarted) => return,
        Err(error) => error.to_errno(),
    };
    if error != 0 || wants_ack {
        replies.flush();
        received.ack(message, error, extack);
    }
}

/// The extended ack of a datagram, empty for the next message: zeroed the
/// first time, as `netlink_rcv_skb` does for each message, then cleared.
#[inline]
fn fresh_extack(slot: &mut Option<bindings::netlink_ext_ack>) -> &mut bindings::netlink_ext_ack {
    match slot {
        Some(extack) => {
            clear_extack(extack);
            extack
        }
        // SAFETY: all-zero is a valid `netlink_ext_ack`: no message, no
        // attribute, no cookie.
        None => slot.insert(unsafe { core::mem::zeroed() }),
    }
}

/// Empties `extack` field by field: a memset of the whole structure (136
/// bytes, most of them the message buffer) would be a call and a loop for
/// every request. The fields cleared are the ones `netlink_ack` reads; the
/// pattern names every field, so that a field added to the structure fails
/// the build here until it is considered.
#[inline]
fn clear_extack(extack: &mut bindings::netlink_ext_ack) {
    let bindings::netlink_ext_ack {
        _msg,
        bad_attr,
        policy,
        miss_nest,
        miss_type,
        // Read only up to `cookie_len`.
        cookie: _,
        cookie_len,
        // Read only through `_msg`, when a formatted message points to it.
        _msg_buf: _,
    } = extack;
    *_msg = core::ptr::null();
    *bad_attr = core::ptr::null();
    *policy = core::ptr::null_mut();
    *miss_nest = core::ptr::null();
    *miss_type = 0;
    *cookie_len = 0;
}

/// Whether a message is a request `netlink_rcv_skb` passes to its callback:
/// `NLM_F_REQUEST` and a type from `NLMSG_MIN_TYPE` on.
#[inline]
fn is_request(message: &Message<'_>) -> bool {
    let header = message.header();
    u32::from(header.flags) & bindings::NLM_F_REQUEST != 0
        && header.kind >= bindings::NLMSG_MIN_TYPE as u16
}

/// Whether a message belongs to the raw protocol: neither a request nor a
/// control message (types 1 to 15).
#[inline]
fn is_raw(message: &Message<'_>) -> bool {
    let kind = message.header().kind;
    !is_request(message) && (kind == 0 || kind >= bindings::NLMSG_MIN_TYPE as u16)
}

/// The bind callback of service `S`: a socket joins `group`.
///
/// # Safety
///
/// Only the netlink core may call it, as the `bind` of a kernel socket of
/// service `S`.
unsafe extern "C" fn bind_callback<S: Service>(
    net: *mut bindings::net,
    group: ffi::c_int,
) -> ffi::c_int {
    // SAFETY: the netlink core calls `bind` for a socket of the service's
    // unit in `net`, where the service is set up and which outlives the call.
    let state = unsafe { state_of_net::<S>(net) };
    match S::bind(state, group as u32) {
        Ok(()) => 0,
        Err(error) => error.to_errno(),
    }
}

/// The unbind callback of service `S`: a socket leaves `group`.
///
/// # Safety
///
/// Only the netlink core may call it, as the `unbind` of a kernel socket of
/// service `S`.
unsafe extern "C" fn unbind_callback<S: Service>(net: *mut bindings::net, group: ffi::c_int) {
    // SAFETY: as in `bind_callback`.
    let state = unsafe { state_of_net::<S>(net) };
    S::unbind(state, group as u32);
}

/// A netlink kernel socket of a service, released on drop.
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
    /// Registers the service's protocol unit in namespace `net`. Fails with
    /// `EINVAL` for a unit out of range and `EADDRINUSE` when another kernel
    /// socket holds the unit there.
    ///
    /// # Safety
    ///
    /// `net` must be a valid namespace in which service `S` is being set up
    /// (its per-namespace state allocated), outliving the socket.
    pub(super) unsafe fn new<S: Service>(
        net: *mut bindings::net,
        config: SocketConfig,
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
            input: Some(input_callback::<S>),
            bind: Some(bind_callback::<S>),
            unbind: Some(unbind_callback::<S>),
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
