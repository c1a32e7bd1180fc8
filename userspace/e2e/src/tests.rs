//! The end-to-end tests of the raw echo protocol.

use crate::capture::{Capture, Datagram, Message};
use crate::guest::{self, first_line, run, wait_with_limit};
use crate::Test;
use anyhow::{bail, ensure, Context, Result};
use nltest_client::{message::ExtAck, protocol::*, Error, ModuleSocket, RawMessage, Reply};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The raw echo protocol's tests, the module's life cycle and parameters, the
/// CLI and captures.
pub fn tests() -> Vec<Test> {
    tests! {
        #[portable] echo_payload_sizes,
        #[portable] echo_largest_datagram,
        #[portable] datagram_over_the_socket_limit_is_refused,
        #[portable] thousand_sequential_echoes,
        #[portable] several_messages_in_one_sendmsg,
        echoes_of_one_datagram_share_datagrams_in_order,
        #[portable] echo_keeps_type_and_ignores_header_pid,
        #[portable] seed_unicast_client,
        #[portable] seed_multicast_listener,
        #[portable] two_clients_get_only_their_own_echoes,
        #[portable] group_listener_sees_broadcasts,
        #[portable] raw_echo_broadcast_skips_the_sender,
        #[portable] malformed_lengths_are_answered_without_harm,
        #[portable] empty_datagram_never_reaches_the_module,
        #[portable] slow_reader_gets_enobufs_and_never_stalls,
        cli_echo_and_listen,
        cli_bench_counts_its_syscalls,
        module_absent_gives_a_clear_error,
        silence_on_another_unit_names_the_unit,
        taken_unit_refuses_to_load,
        taken_family_name_refuses_to_load,
        other_unit_parameter,
        rmmod_insmod_cycles,
        open_socket_pins_the_module,
        rmmod_while_clients_send,
        capture_holds_a_genl_echo_and_its_reply,
        capture_holds_a_raw_echo_on_netlink_usersock,
        kernel_log_is_clean,
    }
}

const SHORT: Duration = Duration::from_millis(300);
const LIMIT: Duration = Duration::from_secs(20);

fn raw(data: &[u8]) -> RawMessage {
    RawMessage {
        nlmsg_type: 0,
        data: data.to_vec(),
    }
}

/// A payload whose every byte depends on its position and on `tag`.
fn pattern(len: usize, tag: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ tag).collect()
}

fn connect() -> Result<ModuleSocket> {
    Ok(ModuleSocket::connect(crate::unit())?)
}

/// Receives until one datagram brings something, failing after the timeout.
fn recv_one(socket: &mut ModuleSocket) -> Result<Vec<Reply>> {
    Ok(socket.recv()?)
}

/// Asserts that nothing arrives within `SHORT`.
fn expect_silence(socket: &mut ModuleSocket) -> Result<()> {
    socket.set_timeout(SHORT)?;
    match socket.recv() {
        Err(Error::Timeout(_)) => Ok(()),
        Ok(replies) => bail!("expected nothing, got {replies:?}"),
        Err(error) => Err(error.into()),
    }
}

/// The largest datagram a socket may send: `sk_sndbuf - 32`
/// (`netlink_sendmsg`), the send buffer being `net.core.wmem_default`.
fn largest_datagram() -> Result<usize> {
    let wmem: usize = std::fs::read_to_string("/proc/sys/net/core/wmem_default")?
        .trim()
        .parse()?;
    Ok(wmem - 32)
}

fn echo_payload_sizes() -> Result<()> {
    let mut socket = connect()?;
    for len in [
        0, 1, 2, 3, 4, 5, 15, 16, 17, 255, 1024, 4093, 4096, 65536, 100_000,
    ] {
        socket
            .echo(raw(&pattern(len, 0x5a)))
            .with_context(|| format!("{len}-byte payload"))?;
    }
    Ok(())
}

fn echo_largest_datagram() -> Result<()> {
    let mut socket = connect()?;
    let payload = largest_datagram()? - 16;
    socket
        .echo(raw(&pattern(payload, 1)))
        .with_context(|| format!("{payload}-byte payload"))?;
    socket
        .echo(raw(b"still there"))
        .context("after the largest echo")?;
    Ok(())
}

fn datagram_over_the_socket_limit_is_refused() -> Result<()> {
    let mut socket = connect()?;
    let payload = largest_datagram()? - 16 + 1;
    match socket.send(0, [raw(&pattern(payload, 2))]) {
        Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EMSGSIZE) => {}
        other => bail!("sending {payload} bytes: expected EMSGSIZE, got {other:?}"),
    }
    socket.echo(raw(b"after EMSGSIZE"))?;
    Ok(())
}

fn thousand_sequential_echoes() -> Result<()> {
    let mut socket = connect()?;
    for i in 0..1000u32 {
        let data = format!("echo number {i}").into_bytes();
        let echoed = socket
            .echo(raw(&data))
            .with_context(|| format!("echo {i}"))?;
        ensure!(echoed.seq == i + 1, "echo {i} has seq {}", echoed.seq);
    }
    Ok(())
}

/// Checks that `echoed` are the echoes of `sent`, in order, the first with
/// sequence number `first`.
fn ensure_echoes(first: u32, sent: &[RawMessage], echoed: &[Reply]) -> Result<()> {
    ensure!(
        echoed.len() == sent.len(),
        "{} echoes of {} messages",
        echoed.len(),
        sent.len()
    );
    for (i, (sent, reply)) in sent.iter().zip(echoed).enumerate() {
        let expected = Reply::Raw {
            seq: first + i as u32,
            message: sent.clone(),
        };
        ensure!(
            *reply == expected,
            "echo {i}: expected {expected:?}, got {reply:?}"
        );
    }
    Ok(())
}

fn several_messages_in_one_sendmsg() -> Result<()> {
    let mut socket = connect()?;
    let sent: Vec<RawMessage> = (0..16)
        .map(|i| RawMessage {
            nlmsg_type: 0x20 + i as u16,
            data: pattern(i * 37, i as u8),
        })
        .collect();
    let first = socket.send(0, sent.clone())?;
    let mut echoed = Vec::new();
    while echoed.len() < sent.len() {
        echoed.extend(recv_one(&mut socket)?);
    }
    ensure_echoes(first, &sent, &echoed)?;
    expect_silence(&mut socket)
}

fn echoes_of_one_datagram_share_datagrams_in_order() -> Result<()> {
    let mut socket = connect()?;
    // Whatever does not fit this buffer fails to decode.
    socket.set_recv_buffer_len(REPLY_DATAGRAM_MAX as usize);
    // Small echoes, larger ones, one too big to share a datagram, small again.
    let sizes = [vec![16; 100], vec![1000; 20], vec![12_000], vec![16; 5]].concat();
    let sent: Vec<RawMessage> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| raw(&pattern(size, i as u8)))
        .collect();
    let first = socket.send(0, sent.clone())?;
    let (mut echoed, mut datagrams) = (Vec::new(), 0);
    while echoed.len() < sent.len() {
        // The one large echo comes alone, in a datagram of its own size.
        let big = sizes[echoed.len()] > REPLY_DATAGRAM_MAX as usize;
        socket.set_recv_buffer_len(if big {
            64 * 1024
        } else {
            REPLY_DATAGRAM_MAX as usize
        });
        let replies = recv_one(&mut socket)
            .with_context(|| format!("the datagram after {} echoes", echoed.len()))?;
        ensure!(
            !big || replies.len() == 1,
            "the {}-byte echo shares its datagram",
            sizes[echoed.len()]
        );
        echoed.extend(replies);
        datagrams += 1;
    }
    ensure_echoes(first, &sent, &echoed)?;
    // 100 small echoes fit in one datagram; 1016-byte ones, 3 to a datagram.
    ensure!(
        datagrams <= 12,
        "{} echoes came in {datagrams} datagrams",
        sent.len()
    );
    expect_silence(&mut socket)
}

fn echo_keeps_type_and_ignores_header_pid() -> Result<()> {
    // nlmsg_pid is the sender's to write: a forged one must not redirect
    // the echo. The echo comes back from the kernel (pid 0).
    let mut victim = connect()?;
    let mut sender = connect()?;
    let mut datagram = Vec::new();
    nltest_client::message::encode(
        &mut datagram,
        99,
        0,
        RawMessage {
            nlmsg_type: 0x1234,
            data: b"x".to_vec(),
        },
    );
    datagram[12..16].copy_from_slice(&victim.port_id().to_ne_bytes());
    sender.send_bytes(&datagram)?;
    let replies = recv_one(&mut sender)?;
    ensure!(
        replies
            == [Reply::Raw {
                seq: 99,
                message: RawMessage {
                    nlmsg_type: 0x1234,
                    data: b"x".to_vec()
                }
            }],
        "unexpected {replies:?}"
    );
    expect_silence(&mut victim)
}

fn seed_unicast_client() -> Result<()> {
    let (ok, output) = run("seed-unicast", &[&crate::unit().to_string()], LIMIT)?;
    ensure!(ok, "seed-unicast failed: {output}");
    ensure!(
        output.contains(" Received message payload: Hello you!\n"),
        "output: {output}"
    );
    // NLMSG_SPACE(1024) comes back whole, from the kernel.
    ensure!(
        output.contains("nlmsg_len=1040 nlmsg_type=0 nlmsg_pid=0"),
        "output: {output}"
    );
    Ok(())
}

fn seed_multicast_listener() -> Result<()> {
    let mut listener = Command::new("seed-multicast")
        .arg(crate::unit().to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    let line = first_line(&mut listener)?;
    ensure!(line == " listening", "seed-multicast said {line:?}");
    connect()?.echo(raw(b"Hello listeners!\0"))?;
    let (ok, output) = wait_with_limit(listener, LIMIT)?;
    ensure!(ok, "seed-multicast failed: {output}");
    ensure!(
        output.contains(" Received message payload: Hello listeners!"),
        "output: {output}"
    );
    Ok(())
}

fn two_clients_get_only_their_own_echoes() -> Result<()> {
    let clients: Vec<_> = (0..2u8)
        .map(|tag| {
            thread::spawn(move || -> Result<()> {
                let mut socket = connect()?;
                for i in 0..300usize {
                    let mut data = pattern(1 + i % 64, tag);
                    data.insert(0, tag);
                    socket
                        .echo(raw(&data))
                        .with_context(|| format!("client {tag} echo {i}"))?;
                }
                // A stray echo of the other client would be left in the queue.
                expect_silence(&mut socket)
            })
        })
        .collect();
    guest::join_clients(clients)?;
    Ok(())
}

fn group_listener_sees_broadcasts() -> Result<()> {
    let mut listener = ModuleSocket::listen(crate::unit(), ECHO_GROUP)?;
    let mut sender = connect()?;
    for i in 0..10u32 {
        let data = format!("broadcast {i}").into_bytes();
        let echoed = sender.echo(raw(&data))?;
        let replies = recv_one(&mut listener)?;
        let expected = Reply::Raw {
            seq: echoed.seq,
            message: raw(&data),
        };
        ensure!(
            replies == [expected.clone()],
            "expected {expected:?}, got {replies:?}"
        );
    }
    // The sender is not in the group: it gets echoes only.
    expect_silence(&mut sender)
}

/// A sender that listens to group 1 too gets its raw echo once: the
/// broadcast skips its socket. Other listeners still get it.
fn raw_echo_broadcast_skips_the_sender() -> Result<()> {
    let mut sender = ModuleSocket::listen(crate::unit(), ECHO_GROUP)?;
    let mut other = ModuleSocket::listen(crate::unit(), ECHO_GROUP)?;
    let echoed = sender.echo(raw(b"once"))?;
    let expected = Reply::Raw {
        seq: echoed.seq,
        message: raw(b"once"),
    };
    let replies = recv_one(&mut other)?;
    ensure!(
        replies == [expected.clone()],
        "the other listener got {replies:?}"
    );
    expect_silence(&mut sender).context("the sender's socket got its echo twice")
}

fn malformed_lengths_are_answered_without_harm() -> Result<()> {
    let mut socket = connect()?;
    let header = |len: u32, seq: u32| {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&len.to_ne_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes.extend_from_slice(&seq.to_ne_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes
    };
    // nlmsg_len shorter than a header, then longer than the datagram.
    for (len, seq) in [
        (0u32, 1u32),
        (8, 2),
        (15, 3),
        (17, 4),
        (1 << 20, 5),
        (u32::MAX, 6),
    ] {
        socket.send_bytes(&header(len, seq))?;
        let replies = recv_one(&mut socket)?;
        ensure!(
            replies
                == [Reply::Error {
                    seq,
                    errno: libc::EINVAL,
                    ack: ExtAck::default()
                }],
            "nlmsg_len {len}: expected EINVAL for seq {seq}, got {replies:?}"
        );
    }
    // Fewer bytes than a header: dropped without an answer.
    for len in [1, 4, 15] {
        socket.send_bytes(&vec![0xff; len])?;
        expect_silence(&mut socket).with_context(|| format!("{len}-byte datagram"))?;
    }
    socket.set_timeout(nltest_client::DEFAULT_TIMEOUT)?;
    // A good message, then a bad one: the first is echoed, the second answered.
    let mut datagram = Vec::new();
    nltest_client::message::encode(&mut datagram, 7, 0, raw(b"good"));
    datagram.extend_from_slice(&header(1000, 8));
    socket.send_bytes(&datagram)?;
    let mut replies = recv_one(&mut socket)?;
    replies.extend(recv_one(&mut socket)?);
    ensure!(
        replies
            == [
                Reply::Raw {
                    seq: 7,
                    message: raw(b"good")
                },
                Reply::Error {
                    seq: 8,
                    errno: libc::EINVAL,
                    ack: ExtAck::default()
                }
            ],
        "got {replies:?}"
    );
    socket.echo(raw(b"still serving"))?;
    Ok(())
}

/// An empty datagram never reaches the module: `netlink_sendmsg` refuses
/// it (`ENODATA`), and the module serves the next message.
fn empty_datagram_never_reaches_the_module() -> Result<()> {
    let mut socket = connect()?;
    match socket.send_bytes(&[]) {
        Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::ENODATA) => {}
        other => bail!("sending an empty datagram: {other:?} instead of ENODATA"),
    }
    expect_silence(&mut socket)?;
    socket.set_timeout(nltest_client::DEFAULT_TIMEOUT)?;
    socket.echo(raw(b"after an empty datagram"))?;
    Ok(())
}

/// Reads `socket` until the kernel reports that its receive queue overran
/// (`ENOBUFS`), then drains what the queue still holds: how many replies
/// came before the overrun, or `None` when a read timed out first.
pub(crate) fn read_through_overrun(socket: &mut ModuleSocket) -> Result<Option<usize>> {
    let mut received = 0;
    loop {
        match socket.recv() {
            Ok(replies) => received += replies.len(),
            Err(Error::Overrun) => break,
            Err(Error::Timeout(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
    }
    socket.set_timeout(SHORT)?;
    while socket.recv().is_ok() {}
    socket.set_timeout(nltest_client::DEFAULT_TIMEOUT)?;
    Ok(Some(received))
}

fn slow_reader_gets_enobufs_and_never_stalls() -> Result<()> {
    let mut socket = connect()?;
    socket2::SockRef::from(&socket).set_recv_buffer_size(4096)?;
    // Far more echoes than the receive queue holds, without reading: every
    // send returns, because the module never blocks on a full queue.
    let batch: Vec<RawMessage> = (0..64).map(|_| raw(&[7u8; 1000])).collect();
    for _ in 0..8 {
        socket.send(0, batch.clone())?;
    }
    let Some(received) = read_through_overrun(&mut socket)? else {
        bail!("no ENOBUFS after sending 512 echoes to a 4 KiB receive buffer");
    };
    ensure!(
        received < 512,
        "received all {received} echoes through a 4 KiB buffer"
    );
    // The socket keeps working once the queue is drained.
    socket.echo(raw(b"after the overrun"))?;
    if !crate::testing_nltest() {
        return Ok(());
    }
    // The module counted what it could not deliver.
    let dropped = socket
        .request(&nltest_client::Request::GetStats { dump: false }, false)?
        .into_iter()
        .flat_map(|response| match response {
            nltest_client::Response::Stats(stats) => stats,
            _ => vec![],
        })
        .find(|stat| stat.counter == Counter::Dropped)
        .map_or(0, |stat| stat.value);
    ensure!(dropped > 0, "the dropped counter did not move");
    Ok(())
}

fn cli_echo_and_listen() -> Result<()> {
    let mut listener = Command::new("nltest")
        .args(["listen", "--count", "2", "--timeout", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let line = first_line(&mut listener)?;
    ensure!(
        line == "listening on protocol 17 group 1",
        "nltest listen said {line:?}"
    );
    let (ok, output) = run(
        "nltest",
        &["echo", "--count", "2", "hello from the CLI"],
        LIMIT,
    )?;
    ensure!(ok, "nltest echo failed: {output}");
    for seq in [1, 2] {
        let expected = format!("echo seq={seq} 18 bytes \"hello from the CLI\" round trip ");
        ensure!(output.contains(&expected), "nltest echo output: {output}");
    }
    let (ok, output) = wait_with_limit(listener, LIMIT)?;
    ensure!(ok, "nltest listen failed: {output}");
    ensure!(
        output.contains("broadcast seq=2 type=0 18 bytes \"hello from the CLI\""),
        "nltest listen output: {output}"
    );
    Ok(())
}

/// `nltest bench` on both protocols: one `sendmsg` and one `recv` per echo
/// one at a time, one `sendmsg` and one `recvmmsg` per batch of 64 (their
/// echoes share datagrams); `--batched-only` leaves the first run out.
fn cli_bench_counts_its_syscalls() -> Result<()> {
    for batched_only in [false, true] {
        let mut args = vec!["bench", "--protocols", "raw,typed", "--sizes", "16"];
        args.extend(["--count", "640", "--batch", "64", "--json"]);
        if batched_only {
            args.push("--batched-only");
        }
        let (ok, output) = run("nltest", &args, LIMIT)?;
        ensure!(ok, "nltest bench failed: {output}");
        let report: serde_json::Value =
            serde_json::from_str(&output).with_context(|| format!("not JSON: {output}"))?;
        let cases = report["cases"].as_array().context("no cases")?;
        ensure!(cases.len() == 2, "{} cases instead of 2", cases.len());
        for case in cases {
            let figures = &case["subject"];
            let single = figures["single"]["syscalls_per_echo"].as_f64();
            let expected = (!batched_only).then_some(2.0);
            ensure!(
                single == expected,
                "one at a time: {single:?} syscalls per echo"
            );
            let batched = figures["batched"]["syscalls_per_echo"].as_f64();
            ensure!(
                batched == Some(2.0 / 64.0),
                "batched: {batched:?} syscalls per echo"
            );
            let rate = figures["batched"]["echoes_per_second"].as_f64();
            ensure!(rate.is_some_and(|rate| rate > 0.0), "batched rate {rate:?}");
        }
    }
    Ok(())
}

fn module_absent_gives_a_clear_error() -> Result<()> {
    guest::unload()?;
    let (ok, output) = run("nltest", &["echo"], LIMIT)?;
    ensure!(!ok, "nltest echo succeeded without the module");
    ensure!(
        output.contains(
            "netlink protocol 17 is not registered: load the module first (insmod nltest.ko)"
        ),
        "nltest echo said: {output}"
    );
    match ModuleSocket::connect(DEFAULT_UNIT) {
        Err(Error::ModuleNotLoaded { unit: 17 }) => {}
        other => bail!("expected ModuleNotLoaded, got {:?}", other.map(|_| ())),
    }
    let (ok, output) = run("nltest", &["--genl", "echo"], LIMIT)?;
    ensure!(!ok, "nltest --genl echo succeeded without the module");
    ensure!(
        output.contains(
            "Error: generic netlink family nltest is not registered: load the module first \
             (insmod nltest.ko)"
        ),
        "nltest --genl echo said: {output}"
    );
    Ok(())
}

/// A raw echo sent to a unit where another protocol lives (0 is
/// NETLINK_ROUTE, which ignores it) gets no answer: the CLI says which unit
/// it asked and how to pick the module's.
fn silence_on_another_unit_names_the_unit() -> Result<()> {
    let (ok, output) = run(
        "nltest",
        &["--unit", "0", "--timeout", "1", "echo", "hello"],
        LIMIT,
    )?;
    ensure!(
        !ok && output.contains("Error: no reply from the module within 1s")
            && output.contains(
                "Hint: nothing answered on protocol 0; nltest.ko serves protocol 17 unless \
                 loaded with unit=N (then pass --unit N); --timeout SECS waits longer"
            ),
        "nltest --unit 0 echo said: {output}"
    );
    Ok(())
}

fn taken_unit_refuses_to_load() -> Result<()> {
    guest::unload()?;
    // Unit 0 is NETLINK_ROUTE, which the kernel itself registered.
    ensure!(
        guest::insmod(&["unit=0"]).is_err(),
        "insmod unit=0 succeeded"
    );
    let log = guest::dmesg()?;
    ensure!(
        log.contains(
            "nltest: netlink protocol unit 0 is already registered by another kernel socket"
        ),
        "no clear kernel log line; dmesg ends with: {}",
        log.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
    );
    ensure!(
        guest::insmod(&["unit=32"]).is_err(),
        "insmod unit=32 succeeded"
    );
    ensure!(guest::dmesg()?.contains("nltest: unit=32 is not a netlink protocol unit (0 to 31)"));
    Ok(())
}

/// The suite's fixture genl_squatter.ko registers a generic netlink family
/// named nltest, as another module could. Then the load fails with EBUSY
/// (not the family's EEXIST, which `finit_module` keeps for a module loaded
/// already), says why, and leaves nothing behind: the protocol unit it had
/// registered in every namespace is gone again. Once the other module is
/// unloaded, the module loads and answers over generic netlink.
fn taken_family_name_refuses_to_load() -> Result<()> {
    const SQUATTER: &str = "/added/genl_squatter.ko";
    let squatter = std::fs::File::open(SQUATTER).with_context(|| {
        format!("opening {SQUATTER} (qemu/run --add build/linux-KERNEL/fixtures/genl_squatter.ko)")
    })?;
    guest::unload()?;
    guest::finit_module(&squatter, &[]).context("loading genl_squatter.ko")?;
    let refused = guest::insmod(&[]);
    let unit_left = ModuleSocket::connect(DEFAULT_UNIT).is_ok();
    guest::delete_module_named(c"genl_squatter").context("unloading genl_squatter.ko")?;
    ensure!(
        matches!(&refused, Err(error) if error.raw_os_error() == Some(libc::EBUSY)),
        "insmod with the family name taken: {refused:?}, expected EBUSY"
    );
    ensure!(
        guest::dmesg()?.contains("nltest: generic netlink family nltest is already registered by another module; unload that one first"),
        "no clear kernel log line for the taken family name"
    );
    ensure!(
        !unit_left,
        "the refused load left protocol unit {DEFAULT_UNIT} registered"
    );
    guest::load(&[])?;
    let mut socket = ModuleSocket::connect_genl()?;
    match socket
        .request(
            &nltest_client::Request::Echo {
                data: b"after".to_vec(),
            },
            false,
        )?
        .as_slice()
    {
        [nltest_client::Response::Echo { data }] if data == b"after" => Ok(()),
        other => bail!("the echo after the refused load answered {other:?}"),
    }
}

fn other_unit_parameter() -> Result<()> {
    guest::unload()?;
    guest::load(&["unit=22"])?;
    let mut socket = ModuleSocket::connect(22)?;
    socket.echo(raw(b"on unit 22"))?;
    ensure!(matches!(
        ModuleSocket::connect(DEFAULT_UNIT),
        Err(Error::ModuleNotLoaded { unit: 17 })
    ));
    drop(socket);
    guest::unload()
}

fn rmmod_insmod_cycles() -> Result<()> {
    for cycle in 0..10 {
        guest::unload()?;
        ensure!(
            matches!(
                ModuleSocket::connect(DEFAULT_UNIT),
                Err(Error::ModuleNotLoaded { .. })
            ),
            "cycle {cycle}: protocol still registered after rmmod"
        );
        guest::load(&[])?;
        connect()?.echo(raw(format!("cycle {cycle}").as_bytes()))?;
    }
    Ok(())
}

fn open_socket_pins_the_module() -> Result<()> {
    // A userspace socket of the protocol holds a reference on the module
    // (netlink_create takes it), so rmmod cannot pull the input callback
    // from under a sender.
    let socket = connect()?;
    let output = Command::new("rmmod").arg("nltest").output()?;
    ensure!(
        !output.status.success(),
        "rmmod succeeded with a socket open"
    );
    ensure!(guest::is_loaded()?, "module gone with a socket open");
    drop(socket);
    guest::unload()?;
    guest::load(&[])
}

fn rmmod_while_clients_send() -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    // An open socket pins the module, so rmmod succeeds only in a moment
    // when no client holds one. On a slow (debug) kernel such moments can
    // be too rare: after a second of trying, the clients pause.
    let pause = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            let pause = pause.clone();
            thread::spawn(move || {
                let mut echoes = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if pause.load(Ordering::Relaxed) {
                        thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    // Fails while the module is away; that is expected.
                    if let Ok(mut socket) = ModuleSocket::connect(DEFAULT_UNIT) {
                        let _ = socket.set_timeout(Duration::from_millis(500));
                        for _ in 0..5 {
                            if socket.echo(raw(&[1u8; 64])).is_ok() {
                                echoes += 1;
                            }
                        }
                    }
                    // Gaps between connections, in which rmmod can succeed.
                    thread::sleep(Duration::from_millis(10));
                }
                echoes
            })
        })
        .collect();
    let result = (|| -> Result<()> {
        for _ in 0..5 {
            thread::sleep(Duration::from_millis(100));
            if guest::unload_within(Duration::from_secs(1)).is_err() {
                pause.store(true, Ordering::Relaxed);
                let unloaded = guest::unload();
                pause.store(false, Ordering::Relaxed);
                unloaded?;
            }
            guest::load(&[])?;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let echoes: u64 = clients.into_iter().map(|c| c.join().unwrap_or(0)).sum();
    result?;
    ensure!(echoes > 0, "the clients got no echo at all");
    connect()?.echo(raw(b"after the storm"))?;
    Ok(())
}

/// A payload no earlier run or test sent: `what` and the time in nanoseconds.
fn unique_payload(what: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{what} at {}", now.as_nanos()).into_bytes()
}

/// Every message of the capture with its datagram's protocol.
fn captured_messages(datagrams: &[Datagram]) -> impl Iterator<Item = (u16, &Message)> {
    datagrams
        .iter()
        .flat_map(|datagram| datagram.messages.iter().map(|m| (datagram.protocol, m)))
}

/// The controller's id (`GENL_ID_CTRL`), its `CTRL_CMD_NEWFAMILY` (its
/// answer) and `CTRL_CMD_GETFAMILY`, and the attributes `CTRL_ATTR_FAMILY_ID`
/// and `CTRL_ATTR_FAMILY_NAME`.
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_NEWFAMILY: u8 = 1;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NETLINK_GENERIC: u16 = 16;

/// An nlmon capture of a typed echo through the family holds the request
/// and the reply with the payload, after the controller's exchange that
/// resolved the family (what lets tshark name the family). The raw echo on
/// unit 17 sent just before is not in it: the kernel copies to nlmon its
/// own protocols only.
fn capture_holds_a_genl_echo_and_its_reply() -> Result<()> {
    let file = Path::new("/tmp/e2e-genl.pcap");
    let capture = Capture::start("nlmon-e2e", file)?;
    let untapped = unique_payload("raw echo on unit 17");
    connect()?.echo(raw(&untapped))?;
    let payload = unique_payload("typed echo through the family");
    let mut socket = ModuleSocket::connect_genl()?;
    let family = socket.genl_family().context("no family resolved")?.id;
    socket.request(
        &nltest_client::Request::Echo {
            data: payload.clone(),
        },
        false,
    )?;
    let echo_of = |message: &Message, request: bool| {
        message.kind == family
            && message.is_request() == request
            && message
                .genl()
                .is_some_and(|(cmd, _)| cmd == genl::cmd::ECHO)
            && message.genl_attribute(attrs::DATA).as_deref() == Some(&payload[..])
    };
    capture
        .wait_for(|datagrams| captured_messages(datagrams).any(|(_, m)| echo_of(m, false)))
        .context("the reply to the typed echo")?;
    let datagrams = capture.stop()?;
    let messages: Vec<_> = captured_messages(&datagrams).collect();

    let get_family = messages
        .iter()
        .find(|(protocol, m)| {
            *protocol == NETLINK_GENERIC
                && m.kind == GENL_ID_CTRL
                && m.is_request()
                && m.genl().is_some_and(|(cmd, _)| cmd == CTRL_CMD_GETFAMILY)
                && m.genl_attribute(CTRL_ATTR_FAMILY_NAME).as_deref() == Some(b"nltest\0")
        })
        .context("no CTRL_CMD_GETFAMILY for nltest in the capture")?;
    ensure!(
        messages.iter().any(|(_, m)| m.kind == GENL_ID_CTRL
            && !m.is_request()
            && m.seq == get_family.1.seq
            && m.genl().is_some_and(|(cmd, _)| cmd == CTRL_CMD_NEWFAMILY)
            && m.genl_attribute(CTRL_ATTR_FAMILY_ID) == Some(family.to_ne_bytes().to_vec())),
        "no answer of the controller with the family's id {family:#x}"
    );
    let request = messages
        .iter()
        .find(|(protocol, m)| *protocol == NETLINK_GENERIC && echo_of(m, true))
        .context("no typed echo request in the capture")?;
    ensure!(
        messages
            .iter()
            .any(|(protocol, m)| *protocol == NETLINK_GENERIC
                && echo_of(m, false)
                && m.seq == request.1.seq),
        "no reply with the request's sequence number {}",
        request.1.seq
    );
    let bytes = std::fs::read(file)?;
    ensure!(
        !bytes.windows(untapped.len()).any(|w| w == untapped),
        "the raw echo on unit 17 is in the capture: the kernel now taps every protocol \
         (README and qemu/run --help say it does not)"
    );
    Ok(())
}

/// The kernel taps `NETLINK_USERSOCK` (unit 2): the module loaded there has
/// its raw echoes captured, the request and then the echo, the same bytes
/// (the echo keeps type, flags, sequence number and payload; `nlmsg_pid` is
/// 0 in both).
fn capture_holds_a_raw_echo_on_netlink_usersock() -> Result<()> {
    const NETLINK_USERSOCK: u16 = 2;
    guest::unload()?;
    guest::load(&["unit=2"])?;
    let result = (|| -> Result<()> {
        let capture = Capture::start("nlmon-e2e", Path::new("/tmp/e2e-usersock.pcap"))?;
        let payload = unique_payload("raw echo on unit 2");
        let echoed = ModuleSocket::connect(NETLINK_USERSOCK.into())?.echo(raw(&payload))?;
        let copies = |datagrams: &[Datagram]| -> Vec<Message> {
            captured_messages(datagrams)
                .filter(|(protocol, m)| *protocol == NETLINK_USERSOCK && m.payload == payload)
                .map(|(_, m)| m.clone())
                .collect()
        };
        capture
            .wait_for(|datagrams| copies(datagrams).len() >= 2)
            .context("the request and the echo")?;
        let copies = copies(&capture.stop()?);
        let expected = Message {
            kind: 0,
            flags: 0,
            seq: echoed.seq,
            pid: 0,
            payload: payload.clone(),
        };
        ensure!(
            copies == [expected.clone(), expected],
            "expected the request and its echo, got {copies:?}"
        );
        Ok(())
    })();
    guest::unload()?;
    guest::load(&[])?;
    result
}

fn kernel_log_is_clean() -> Result<()> {
    guest::ensure_kernel_log_clean()
}
