// SPDX-License-Identifier: GPL-2.0

//! The service on its protocol unit: the kernel socket's input loop, which
//! serves the messages of each datagram as `netlink_rcv_skb` would; the
//! adapter that does for each typed request what the generic netlink core
//! does for the family (find the command, check the permission, parse the
//! attributes with the command's policy, start a dump); the dump callback;
//! the bind and unbind callbacks.

use super::command::{by_nlmsg_type, unit_attrs_fit, ReportTo, Service};
use super::dump::{dump_round, Framing};
use super::pernet::{state_of, state_of_net};
use super::replies::Replies;
use super::request::{Outcome, Request, Served};
use super::transport::Transport;
use crate::bindings;
use crate::netlink::attr::ParseTable;
use crate::netlink::message::Message;
use crate::netlink::skb::ReceivedSkb;
use crate::netlink::socket::{Socket, SocketCallbacks};
use kernel::{ffi, prelude::*};

/// The callbacks of the kernel sockets of service `S`.
pub(super) fn callbacks<S: Service>() -> SocketCallbacks {
    SocketCallbacks {
        input: input_callback::<S>,
        bind: bind_callback::<S>,
        unbind: unbind_callback::<S>,
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
    let report = ReportTo::<S>(state);
    let replies = Replies::new(socket, received.sender_portid(), &report);
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
    let wants_ack = u32::from(message.header().nlmsg_flags) & bindings::NLM_F_ACK != 0;
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
    // SAFETY: `netlink_rcv_skb` would pass this header: its length was
    // checked, and it lies in the skb, which outlives the request; `extack`
    // outlives it too and is the request's alone.
    let request = unsafe {
        Request::new(
            Transport::Unit { replies },
            received,
            message.header_ptr(),
            extack,
        )
    };
    let dispatch = || Outcome::from(dispatch::<S>(state, &request, replies, received, message));
    let outcome = S::serve(state, dispatch);
    if outcome.dump_started() {
        // It ends with `NLMSG_DONE` instead of an ack.
        return;
    }
    let error = outcome.errno();
    if error != 0 || wants_ack {
        replies.flush();
        received.ack(message, error, extack);
    }
}

/// What the generic netlink core does for a request to the family, done
/// for a request of the protocol unit: find the command, check the
/// permission (`GENL_UNS_ADMIN_PERM`), parse the attributes with the
/// command's policy, start a dump or run the command.
#[inline]
fn dispatch<S: Service>(
    state: &S::State,
    request: &Request<'_>,
    replies: &Replies<'_>,
    received: &ReceivedSkb,
    message: &Message<'_>,
) -> Result<Served> {
    let Some(command) = by_nlmsg_type(S::COMMANDS, message.header().nlmsg_type) else {
        request.set_error_message(c"unknown command");
        return Err(crate::compat::code::eopnotsupp());
    };
    if command.uns_admin_perm && !request.sender_is_net_admin() {
        request.set_error_fmt(format_args!("{} needs CAP_NET_ADMIN", command.name));
        return Err(EPERM);
    }
    const { assert!(unit_attrs_fit(S::COMMANDS, S::AttrTable::LEN)) };
    let mut table = S::AttrTable::new();
    // SAFETY: every command's policy fits the table (asserted above).
    let attributes = unsafe { request.parse(&mut table, command.unit_policy, message.payload)? };
    if request.is_dump() && command.dumpit.is_some() {
        return start_dump::<S>(replies, received, message).map(|()| Served::DumpStarted);
    }
    (command.doit)(state, request, &attributes).map(|()| Served::Done)
}

/// Starts a dump answering `message`, a request of the protocol unit that
/// `received` holds: the netlink core calls the command's dumpit each time
/// the sender reads, until it reports the end.
///
/// `netlink_dump_start` tells a started dump by `-EINTR`, which
/// `netlink_rcv_skb` takes as "no ack" (the dump ends with `NLMSG_DONE`
/// instead); here it is `Ok`, and errors are errors: `Ok` is always a dump
/// started, so the caller's outcome needs no test of which.
fn start_dump<S: Service>(
    replies: &Replies<'_>,
    received: &ReceivedSkb,
    message: &Message<'_>,
) -> Result {
    // The dump's first part is sent right away: after the replies queued
    // before it.
    replies.flush();
    let mut control = bindings::netlink_dump_control {
        dump: Some(dump_callback::<S>),
        ..Default::default()
    };
    // SAFETY: the socket and skb are valid while the input callback runs,
    // and the message's header lies in the skb with a checked length;
    // `control` is read during the call only. The wrapper sets
    // `control.module` to this module, which the dump pins.
    let errno = unsafe {
        bindings::netlink_dump_start(
            replies.socket().as_ptr(),
            received.as_ptr(),
            message.header_ptr().cast_mut(),
            &mut control,
        )
    };
    // It never returns 0: a dump that does not start is an error.
    match errno {
        errno if errno == -(bindings::EINTR as i32) => Ok(()),
        errno => Err(Error::from_errno(errno)),
    }
}

/// The dump callback of service `S` on its protocol unit.
///
/// # Safety
///
/// Only the netlink core may call it, as the `dump` of a dump started by
/// [`start_dump`].
unsafe extern "C" fn dump_callback<S: Service>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> ffi::c_int {
    // SAFETY: the netlink core passes a valid callback state; `nlh` is the
    // request's header, and its `skb` the request, sent to the kernel socket
    // of a namespace where the service is set up, which lives as long as the
    // reader's socket.
    let (nlmsg_type, state) = unsafe { ((*(*cb).nlh).nlmsg_type, state_of::<S>((*(*cb).skb).sk)) };
    let Some(dumpit) = by_nlmsg_type(S::COMMANDS, nlmsg_type).and_then(|command| command.dumpit)
    else {
        return EINVAL.to_errno();
    };
    // SAFETY: called by the netlink core for a dump of the unit, whose
    // framing this is.
    unsafe { dump_round(skb, cb, Framing::Unit { nlmsg_type }, state, dumpit) }
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
    u32::from(header.nlmsg_flags) & bindings::NLM_F_REQUEST != 0
        && header.nlmsg_type >= bindings::NLMSG_MIN_TYPE as u16
}

/// Whether a message belongs to the raw protocol: neither a request nor a
/// control message (types 1 to 15).
#[inline]
fn is_raw(message: &Message<'_>) -> bool {
    let nlmsg_type = message.header().nlmsg_type;
    !is_request(message) && (nlmsg_type == 0 || nlmsg_type >= bindings::NLMSG_MIN_TYPE as u16)
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
