//! Dumps and their sockets, as the kernel's own selftest
//! (tools/testing/selftests/net/netlink-dumps.c) tries them, on the module's
//! protocol unit and through its generic netlink family: a socket closed in
//! the middle of a dump, a second dump while one runs, dumps into a full
//! receive queue, and rmmod while a dump is open.

use crate::guest;
use crate::Test;
use anyhow::{bail, ensure, Context, Result};
use nltest_client::{protocol::*, Command, Error, Reply, Request, Transport};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Test> {
    tests! {
        #[on_both_transports] dump_socket_closed_midway_leaks_nothing,
        #[on_both_transports] second_dump_while_one_runs_is_ebusy,
        #[on_both_transports] dump_into_a_full_receive_queue,
        #[on_both_transports] rmmod_waits_for_an_open_dump,
    }
}

/// Parts of a whole `get-stats` dump: every counter, listeners per group.
const PARTS: usize = Counter::ALL.len() - 1 + GROUP_COUNT as usize;

/// Reloads the module with one dump part per round, so that a dump spans
/// as many reads as it has parts.
fn one_part_per_round() -> Result<()> {
    guest::unload()?;
    guest::load(&["dump_batch=1"])
}

/// Sends a `get-stats` dump request with sequence number `seq`.
fn start_dump(socket: &nltest_client::ModuleSocket, seq: u32) -> Result<()> {
    let mut datagram = Vec::new();
    socket.encode_request(&mut datagram, seq, false, &Request::GetStats { dump: true })?;
    socket.send_bytes(&datagram)?;
    Ok(())
}

/// What reading a socket until the dump `seq` ends gave: its parts and the
/// errors of other requests, by sequence number.
#[derive(Default)]
struct Drained {
    parts: usize,
    errors: Vec<(u32, i32)>,
}

fn drain_dump(socket: &mut nltest_client::ModuleSocket, seq: u32) -> Result<Drained> {
    let mut drained = Drained::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        ensure!(
            Instant::now() < deadline,
            "the dump did not end within 20 s"
        );
        let replies = match socket.recv() {
            Ok(replies) => replies,
            // An ack the full queue refused: the core reports it once.
            Err(Error::Overrun) => continue,
            Err(error) => return Err(error.into()),
        };
        for reply in replies {
            match reply {
                Reply::Typed { seq: s, message }
                    if s == seq && message.command == Command::GetStats =>
                {
                    drained.parts += 1
                }
                Reply::Control { seq: s, nlmsg_type }
                    if s == seq && nlmsg_type == libc::NLMSG_DONE as u16 =>
                {
                    return Ok(drained)
                }
                Reply::Error { seq, errno, .. } if errno != 0 => drained.errors.push((seq, errno)),
                other => bail!("unexpected {other:?} while dump {seq} runs"),
            }
        }
    }
}

/// Closing a socket whose dump has started, before reading anything or in
/// the middle, frees the dump: the module answers the next client and
/// unloads (a dump left behind would pin it; the debug kernel's kmemleak
/// would see what it leaked).
fn dump_socket_closed_midway_leaks_nothing(t: Transport) -> Result<()> {
    one_part_per_round()?;
    for read_before_close in [0, 1, PARTS / 2] {
        let mut socket = t.connect()?;
        start_dump(&socket, 1)?;
        for _ in 0..read_before_close {
            socket.recv()?;
        }
        drop(socket);
    }
    let mut socket = t.connect()?;
    start_dump(&socket, 2)?;
    let drained = drain_dump(&mut socket, 2)?;
    ensure!(
        drained.parts == PARTS,
        "{} parts after the closed dumps",
        drained.parts
    );
    drop(socket);
    guest::unload_within(Duration::from_secs(5)).context("rmmod after the closed dumps")
}

/// A dump request on a socket whose dump runs is refused with `EBUSY`, as
/// the netlink core answers; the running dump goes on to its end.
fn second_dump_while_one_runs_is_ebusy(t: Transport) -> Result<()> {
    one_part_per_round()?;
    let mut socket = t.connect()?;
    start_dump(&socket, 1)?;
    socket.recv()?;
    start_dump(&socket, 2)?;
    let drained = drain_dump(&mut socket, 1)?;
    ensure!(
        drained.errors == [(2, libc::EBUSY)],
        "errors {:?}, expected EBUSY for the second dump",
        drained.errors
    );
    // The first part was read before the second request.
    ensure!(
        drained.parts == PARTS - 1,
        "{} parts of {PARTS}",
        drained.parts + 1
    );
    // Once the dump ended, a new one starts.
    start_dump(&socket, 3)?;
    let again = drain_dump(&mut socket, 3)?;
    ensure!(
        again.parts == PARTS && again.errors.is_empty(),
        "{} parts",
        again.parts
    );
    drop(socket);
    guest::unload()
}

/// Many dump requests into a receive queue too small for their answers:
/// the reader learns of the refused answers (`ENOBUFS`, once), the requests
/// made while the first dump runs are refused (`EBUSY`, as far as the queue
/// takes the errors), and the dump finishes correctly when read. The socket
/// then serves a request as usual.
fn dump_into_a_full_receive_queue(t: Transport) -> Result<()> {
    let mut socket = t.connect()?;
    socket.set_receive_queue_limit(2048)?;
    socket.set_timeout(Duration::from_secs(5))?;
    let requests = 80;
    for seq in 1..=requests {
        start_dump(&socket, seq)?;
    }
    match socket.recv() {
        Err(Error::Overrun) => {}
        other => bail!("expected ENOBUFS first, got {other:?}"),
    }
    let drained = drain_dump(&mut socket, 1)?;
    ensure!(drained.parts == PARTS, "{} parts of {PARTS}", drained.parts);
    ensure!(
        drained
            .errors
            .iter()
            .all(|&(seq, errno)| seq > 1 && errno == libc::EBUSY),
        "errors {:?}",
        drained.errors
    );
    socket.set_timeout(Duration::from_millis(300))?;
    while socket.recv().is_ok() {}
    socket.set_timeout(Duration::from_secs(20))?;
    let answers = socket.request(
        &Request::Echo {
            data: b"after".to_vec(),
        },
        true,
    )?;
    ensure!(answers.len() == 1, "{answers:?}");
    Ok(())
}

/// A socket with an open dump pins the module (the dump's callbacks are the
/// module's code): rmmod fails while it is open, and succeeds once it is
/// closed.
fn rmmod_waits_for_an_open_dump(t: Transport) -> Result<()> {
    one_part_per_round()?;
    let mut socket = t.connect()?;
    start_dump(&socket, 1)?;
    socket.recv()?;
    ensure!(
        !guest::try_unload()?,
        "rmmod went through while a dump was open"
    );
    let drained = drain_dump(&mut socket, 1)?;
    ensure!(
        drained.parts == PARTS - 1,
        "{} parts after the refused rmmod",
        drained.parts + 1
    );
    start_dump(&socket, 2)?;
    socket.recv()?;
    drop(socket);
    guest::unload_within(Duration::from_secs(5)).context("rmmod once the dump's socket closed")
}
