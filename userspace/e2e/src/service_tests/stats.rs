//! `GET_STATS`: the counters, answered at once or dumped in parts that
//! resume across reads.

use super::{echo, stats, unit, value, SHORT};
use crate::guest::{self};
use crate::tests::read_through_overrun;
use crate::Test;
use anyhow::{bail, ensure, Result};
use nltest_client::{
    protocol::*, Command, Error, Message, ModuleSocket, RawMessage, Reply, Request, Response,
    Transport,
};

pub fn tests() -> Vec<Test> {
    tests! {
        #[on_both_transports] stats_count_what_happened,
        #[on_both_transports] dump_matches_the_single_answer,
        #[on_both_transports] dump_resumes_across_small_reads,
        #[on_both_transports] typed_replies_to_a_full_queue_are_dropped_and_counted,
        #[on_both_transports] replies_to_a_socket_connected_elsewhere_are_refused_and_counted,
        a_group_beyond_the_protocols_can_be_joined_and_is_not_counted,
    }
}

fn stats_count_what_happened(t: Transport) -> Result<()> {
    // The counters are the namespace's, whichever transport reads them.
    let mut socket = t.connect()?;
    let mut raw = unit()?;
    let before = stats(&mut socket, false)?;
    let _listener = ModuleSocket::listen(DEFAULT_UNIT, 3)?;
    for data in [&b"ab"[..], b"cde", b""] {
        socket.request(&echo(data), false)?;
    }
    raw.echo(RawMessage {
        nlmsg_type: 0,
        data: b"raw".to_vec(),
    })?;
    let _ = socket.request(
        &Request::Custom(Message::new(Command::Other(0x1f), vec![])),
        false,
    );
    let after = stats(&mut socket, false)?;
    let delta = |stat, group| value(&after, stat, group).wrapping_sub(value(&before, stat, group));
    // 3 echoes, the unknown command and the second GET_STATS; the generic
    // netlink core refuses the unknown command before the module sees it.
    let unknown = if t.is_genl() { 0 } else { 1 };
    ensure!(
        delta(Counter::Requests, None) == 4 + unknown,
        "requests: {before:?} -> {after:?}"
    );
    ensure!(
        delta(Counter::Echoes, None) == 4,
        "echoes: {before:?} -> {after:?}"
    );
    ensure!(
        delta(Counter::Bytes, None) == 8,
        "bytes: {before:?} -> {after:?}"
    );
    ensure!(
        delta(Counter::Errors, None) == unknown,
        "errors: {before:?} -> {after:?}"
    );
    ensure!(
        delta(Counter::Listeners, Some(3)) == 1,
        "listeners: {before:?} -> {after:?}"
    );
    ensure!(
        value(&after, Counter::Listeners, Some(4)) == 0,
        "listeners of group 4: {after:?}"
    );
    Ok(())
}

fn dump_matches_the_single_answer(t: Transport) -> Result<()> {
    let mut socket = t.connect()?;
    let dumped = stats(&mut socket, true)?;
    let single = stats(&mut socket, false)?;
    // Every counter, listeners once per group.
    let expected = Counter::ALL.len() - 1 + GROUP_COUNT as usize;
    ensure!(
        dumped.len() == expected,
        "{} parts, expected {expected}: {dumped:?}",
        dumped.len()
    );
    // The same counters in the same order; the second request counted itself.
    for (dumped, single) in dumped.iter().zip(&single) {
        ensure!(
            (dumped.counter, dumped.group) == (single.counter, single.group),
            "{dumped:?} vs {single:?}"
        );
    }
    ensure!(value(&single, Counter::Requests, None) == value(&dumped, Counter::Requests, None) + 1);
    Ok(())
}

fn dump_resumes_across_small_reads(t: Transport) -> Result<()> {
    guest::unload()?;
    guest::load(&["dump_batch=3"])?;
    let mut socket = t.connect()?;
    socket.set_recv_buffer_len(1024);
    let mut datagram = Vec::new();
    socket.encode_request(&mut datagram, 77, false, &Request::GetStats { dump: true })?;
    socket.send_bytes(&datagram)?;
    let (mut datagrams, mut parts, mut done) = (0, Vec::new(), false);
    while !done {
        let replies = socket.recv()?;
        datagrams += 1;
        for reply in replies {
            match reply {
                Reply::Typed { seq: 77, message } if message.command == Command::GetStats => {
                    parts.push(Response::try_from(&message)?)
                }
                Reply::Control {
                    seq: 77,
                    nlmsg_type: 3,
                } => done = true,
                other => bail!("unexpected {other:?}"),
            }
        }
    }
    let expected = 6 + GROUP_COUNT as usize;
    ensure!(
        parts.len() == expected,
        "{} parts, expected {expected}",
        parts.len()
    );
    // 3 parts per round, then NLMSG_DONE on its own.
    ensure!(datagrams == expected.div_ceil(3) + 1, "{datagrams} reads");
    let stats: Vec<(Counter, Option<u32>)> = parts
        .iter()
        .flat_map(|p| match p {
            Response::Stats(s) => s.iter().map(|s| (s.counter, s.group)).collect(),
            _ => vec![],
        })
        .collect();
    let mut sorted = stats.clone();
    sorted.sort();
    sorted.dedup();
    ensure!(
        sorted.len() == expected && sorted == stats,
        "parts out of order or repeated: {stats:?}"
    );
    drop(socket);
    guest::unload()
}

/// Typed echoes to a socket that does not read, past what its 4 KiB
/// receive queue holds: the module never blocks on the full queue (every
/// send returns), the replies it cannot deliver are counted as dropped, and
/// the socket works again once read.
fn typed_replies_to_a_full_queue_are_dropped_and_counted(t: Transport) -> Result<()> {
    let mut reader = t.connect()?;
    let before = value(&stats(&mut reader, false)?, Counter::Dropped, None);
    let mut socket = t.connect()?;
    socket2::SockRef::from(&socket).set_recv_buffer_size(4096)?;
    let mut datagram = Vec::new();
    for seq in 0..32 {
        socket.encode_request(&mut datagram, seq, false, &echo(&[5; 1000]))?;
    }
    for _ in 0..4 {
        socket.send_bytes(&datagram)?;
    }
    ensure!(
        read_through_overrun(&mut socket)?.is_some(),
        "no ENOBUFS after 128 typed echoes of 1000 bytes to a 4 KiB receive buffer"
    );
    socket.request(&echo(b"after the overrun"), false)?;
    let after = value(&stats(&mut reader, false)?, Counter::Dropped, None);
    ensure!(
        after > before,
        "the dropped counter stayed at {before} after an overrun"
    );
    Ok(())
}

/// A socket connected to another port (`connect(2)`) refuses what the kernel
/// sends it (`ECONNREFUSED`), while it still sends to the module by
/// address. Every reply the module sends it is then a failed delivery: an
/// error in the counters, not an echo, nor a drop (its queue is not full).
/// A dump is the exception: the netlink core queues its parts on the
/// reader's socket directly.
fn replies_to_a_socket_connected_elsewhere_are_refused_and_counted(t: Transport) -> Result<()> {
    let mut reader = t.connect()?;
    let before = stats(&mut reader, false)?;
    let mut socket = t.connect()?;
    let mut peer = t.connect()?;
    socket.connect_to_port(peer.port_id())?;
    let ack = libc::NLM_F_ACK as u16;
    let send = |socket: &ModuleSocket, requests: &[(u16, Request)]| -> Result<()> {
        let mut datagram = Vec::new();
        for (seq, (flags, request)) in (1..).zip(requests) {
            socket.encode_request_with_flags(&mut datagram, seq, *flags, request)?;
        }
        Ok(socket.send_bytes(&datagram)?)
    };
    let stats_request = Request::GetStats { dump: false };
    // A reply sent alone, one too large to share a datagram, then a batch:
    // the replies before an ack go first, and GET_STATS's reply after the
    // replies queued before it. Each reply datagram counts its messages.
    send(&socket, &[(0, echo(b"refused"))])?;
    send(&socket, &[(0, echo(&vec![3; 16 * 1024]))])?;
    send(
        &socket,
        &[
            (0, echo(b"one")),
            (ack, echo(b"two")),
            (0, echo(b"three")),
            (0, stats_request.clone()),
        ],
    )?;
    // An echo queued before a dump goes out before its first part.
    send(
        &socket,
        &[(0, echo(b"four")), (0, Request::GetStats { dump: true })],
    )?;
    let mut parts = 0;
    loop {
        match socket.recv()?.as_slice() {
            [] => {}
            [.., Reply::Control { nlmsg_type, .. }] if *nlmsg_type == libc::NLMSG_DONE as u16 => {
                break
            }
            replies => parts += replies.len(),
        }
    }
    ensure!(parts > 0, "the dump had no part before NLMSG_DONE");
    // Echo, echo, the two before the ack, the one before GET_STATS, GET_STATS
    // failing, the echo before the dump.
    let mut errors = 7;
    if !t.is_genl() {
        // Raw echoes: alone, too large to share, and two with acks, each
        // sent before its ack.
        let raw = |len: usize| RawMessage {
            nlmsg_type: 0,
            data: vec![1; len],
        };
        socket.send(0, [raw(8)])?;
        socket.send(0, [raw(16 * 1024)])?;
        socket.send(ack, [raw(8), raw(8)])?;
        errors += 4;
    }
    socket.set_timeout(SHORT)?;
    let got = socket.recv();
    ensure!(
        matches!(got, Err(Error::Timeout(_))),
        "a refused reply arrived: {got:?}"
    );
    peer.set_timeout(SHORT)?;
    let got = peer.recv();
    ensure!(
        matches!(got, Err(Error::Timeout(_))),
        "the connected peer got {got:?}"
    );
    let after = stats(&mut reader, false)?;
    let delta = |counter| value(&after, counter, None).wrapping_sub(value(&before, counter, None));
    ensure!(
        delta(Counter::Errors) == errors
            && delta(Counter::Echoes) == 0
            && delta(Counter::Dropped) == 0,
        "expected {errors} errors, no echo and no drop: {before:?} -> {after:?}"
    );
    Ok(())
}

/// The unit's kernel socket has the netlink core's least number of groups,
/// 32, more than the protocol's. As generic netlink lets a socket join a
/// group no family has, a socket may join those: it is let in, and the
/// listeners are counted for the protocol's groups only, joining and
/// leaving.
fn a_group_beyond_the_protocols_can_be_joined_and_is_not_counted() -> Result<()> {
    let listeners = |stats: &[nltest_client::Stat]| -> Vec<(Option<u32>, u64)> {
        stats
            .iter()
            .filter(|stat| stat.counter == Counter::Listeners)
            .map(|stat| (stat.group, stat.value))
            .collect()
    };
    let mut socket = unit()?;
    let before = listeners(&stats(&mut socket, false)?);
    ensure!(
        before.len() == GROUP_COUNT as usize,
        "listeners of {} groups: {before:?}",
        before.len()
    );
    let beyond = ModuleSocket::listen(crate::unit(), 32)?;
    let during = listeners(&stats(&mut socket, false)?);
    drop(beyond);
    let after = listeners(&stats(&mut socket, false)?);
    ensure!(
        during == before && after == before,
        "joining and leaving group 32 changed the listeners: {before:?} -> {during:?} -> {after:?}"
    );
    Ok(())
}
