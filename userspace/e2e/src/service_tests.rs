//! End-to-end tests of the typed protocol: requests, acks, extended errors,
//! stats and dumps, network namespaces and permissions.

use crate::guest::{self, first_line, run, wait_with_limit};
use crate::Test;
use anyhow::{bail, ensure, Context, Result};
use nltest_client::message::encode;
use nltest_client::service::encode_request;
use nltest_client::{
    protocol::*, Broadcast, EchoSocket, Error, Event, RawMessage, Reply, Request, Response, Stat,
};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

pub const ALL: &[Test] = &[
    ("typed_echo_replies_then_acks", typed_echo_replies_then_acks),
    (
        "typed_echo_publishes_an_event",
        typed_echo_publishes_an_event,
    ),
    (
        "control_messages_are_never_echoed",
        control_messages_are_never_echoed,
    ),
    ("unknown_command", unknown_command),
    (
        "unknown_attribute_points_at_it",
        unknown_attribute_points_at_it,
    ),
    (
        "malformed_attribute_points_at_it",
        malformed_attribute_points_at_it,
    ),
    ("group_out_of_range", group_out_of_range),
    (
        "out_of_range_error_describes_the_policy",
        out_of_range_error_describes_the_policy,
    ),
    ("missing_data", missing_data),
    ("payload_over_the_limit", payload_over_the_limit),
    ("max_payload_parameter", max_payload_parameter),
    (
        "broadcast_reaches_the_chosen_group",
        broadcast_reaches_the_chosen_group,
    ),
    ("stats_count_what_happened", stats_count_what_happened),
    (
        "dump_matches_the_single_answer",
        dump_matches_the_single_answer,
    ),
    (
        "dump_resumes_across_small_reads",
        dump_resumes_across_small_reads,
    ),
    (
        "unprivileged_user_echoes_but_cannot_broadcast_or_listen",
        unprivileged_user,
    ),
    (
        "nonroot_listen_lets_anyone_listen",
        nonroot_listen_lets_anyone_listen,
    ),
    (
        "namespaces_keep_traffic_and_counters_apart",
        namespaces_keep_traffic_and_counters_apart,
    ),
    (
        "namespace_churn_while_clients_run",
        namespace_churn_while_clients_run,
    ),
    ("rmmod_with_namespaces_alive", rmmod_with_namespaces_alive),
];

const LIMIT: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(300);

fn connect() -> Result<EchoSocket> {
    Ok(EchoSocket::connect(crate::unit())?)
}

fn echo(data: &[u8]) -> Request {
    Request::Echo {
        data: data.to_vec(),
    }
}

/// Expects `request` to fail with `errno` and the extended ack `message`,
/// pointing at `offset` when given; returns the ack.
fn expect_error(request: &Request, errno: i32, message: &str, offset: Option<u32>) -> Result<()> {
    match connect()?.request(request, false) {
        Err(Error::Kernel {
            errno: got, ack, ..
        }) => {
            ensure!(got == errno, "errno {got} instead of {errno} ({ack:?})");
            ensure!(
                ack.message.as_deref() == Some(message),
                "extended ack {ack:?}, expected {message:?}"
            );
            if offset.is_some() {
                ensure!(
                    ack.offset == offset,
                    "offset {:?} instead of {offset:?}",
                    ack.offset
                );
            }
            Ok(())
        }
        other => bail!("expected errno {errno}, got {other:?}"),
    }
}

fn stats(socket: &mut EchoSocket, dump: bool) -> Result<Vec<Stat>> {
    let responses = socket.request(&Request::GetStats { dump }, false)?;
    let mut stats = Vec::new();
    for response in responses {
        match response {
            Response::Stats(part) => stats.extend(part),
            other => bail!("unexpected {other:?}"),
        }
    }
    Ok(stats)
}

fn value(stats: &[Stat], stat: u32, group: Option<u32>) -> u64 {
    stats
        .iter()
        .find(|s| s.stat == stat && s.group == group)
        .map_or(u64::MAX, |s| s.value)
}

fn in_new_network_namespace<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    thread::spawn(move || {
        // Namespaces belong to the thread: this one moves alone.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            bail!("unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
        }
        work()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("namespace thread panicked"))?
}

fn typed_echo_replies_then_acks() -> Result<()> {
    let mut socket = connect()?;
    let mut datagram = Vec::new();
    encode_request(&mut datagram, 41, true, &echo(b"typed"))?;
    socket.send_bytes(&datagram)?;
    let mut replies = Vec::new();
    while replies.len() < 2 {
        replies.extend(socket.recv()?);
    }
    match replies.as_slice() {
        [Reply::Echo { seq: 41, message }, Reply::Error {
            seq: 41, errno: 0, ..
        }] if message.kind == MSG_ECHO => {
            let response = nltest_client::service::decode_response(message.kind, &message.data)?;
            ensure!(
                response
                    == Response::Echo {
                        data: b"typed".to_vec()
                    },
                "{response:?}"
            );
        }
        other => bail!("expected the echo then the ack, got {other:?}"),
    }
    // Without NLM_F_ACK: the reply only.
    let responses = socket.request(&echo(b"again"), false)?;
    ensure!(
        responses
            == [Response::Echo {
                data: b"again".to_vec()
            }],
        "{responses:?}"
    );
    socket.set_timeout(SHORT)?;
    ensure!(
        matches!(socket.recv(), Err(Error::Timeout(_))),
        "something after the reply"
    );
    Ok(())
}

fn typed_echo_publishes_an_event() -> Result<()> {
    let mut listener = EchoSocket::listen(crate::unit(), ECHO_GROUP)?;
    let mut sender = connect()?;
    sender.request(&echo(b"who am I"), false)?;
    let broadcasts = listener.recv_broadcasts()?;
    let expected = Event {
        data: b"who am I".to_vec(),
        portid: sender.port_id(),
        uid: 0,
    };
    ensure!(
        matches!(broadcasts.as_slice(), [Broadcast::Event { event, .. }] if *event == expected),
        "expected {expected:?}, got {broadcasts:?}"
    );
    Ok(())
}

fn control_messages_are_never_echoed() -> Result<()> {
    let mut socket = connect()?;
    for kind in 1..16u16 {
        for flags in [0, 1] {
            let mut datagram = Vec::new();
            encode(
                &mut datagram,
                u32::from(kind),
                flags,
                RawMessage {
                    kind,
                    data: vec![0; 20],
                },
            );
            socket.send_bytes(&datagram)?;
        }
    }
    socket.set_timeout(SHORT)?;
    match socket.recv() {
        Err(Error::Timeout(_)) => {}
        other => bail!("control messages were answered: {other:?}"),
    }
    socket.set_timeout(nltest_client::DEFAULT_TIMEOUT)?;
    socket.echo(RawMessage {
        kind: 0,
        data: b"raw still works".to_vec(),
    })?;
    Ok(())
}

fn unknown_command() -> Result<()> {
    let request = Request::Custom {
        kind: 0x1f,
        attributes: vec![],
    };
    expect_error(&request, libc::EOPNOTSUPP, "unknown command", None)
}

fn unknown_attribute_points_at_it() -> Result<()> {
    // DATA "x" takes 8 bytes after the 16-byte header: attribute 9 is at 24.
    let request = Request::Custom {
        kind: MSG_ECHO,
        attributes: vec![(ATTR_DATA, b"x".to_vec()), (9, b"y".to_vec())],
    };
    expect_error(&request, libc::EINVAL, "Unknown attribute type", Some(24))
}

fn malformed_attribute_points_at_it() -> Result<()> {
    let request = Request::Custom {
        kind: MSG_BROADCAST,
        attributes: vec![(ATTR_DATA, b"x".to_vec()), (ATTR_GROUP, vec![1, 0])],
    };
    expect_error(&request, libc::EINVAL, "invalid attribute length", Some(24))
}

fn group_out_of_range() -> Result<()> {
    for group in [0, GROUP_COUNT + 1] {
        let request = Request::Broadcast {
            group,
            data: b"x".to_vec(),
        };
        expect_error(&request, libc::ERANGE, "integer out of range", Some(24))
            .with_context(|| format!("group {group}"))?;
    }
    Ok(())
}

/// The netlink core describes the broken policy in the ack from a pointer it
/// keeps past the request callback: the policy must outlive the callback.
fn out_of_range_error_describes_the_policy() -> Result<()> {
    const NL_POLICY_TYPE_ATTR_TYPE: u16 = 1;
    const NL_POLICY_TYPE_ATTR_MIN_VALUE_U: u16 = 4;
    const NL_POLICY_TYPE_ATTR_MAX_VALUE_U: u16 = 5;
    const NL_ATTR_TYPE_U32: u32 = 4;
    let request = Request::Broadcast {
        group: GROUP_COUNT + 1,
        data: b"x".to_vec(),
    };
    let ack = match connect()?.request(&request, false) {
        Err(Error::Kernel { ack, .. }) => ack,
        other => bail!("expected an error, got {other:?}"),
    };
    let value = |kind: u16| -> Option<u64> {
        let (_, bytes) = ack.policy.iter().find(|(k, _)| *k == kind)?;
        match bytes.len() {
            4 => Some(u32::from_ne_bytes(bytes[..4].try_into().ok()?).into()),
            8 => Some(u64::from_ne_bytes(bytes[..8].try_into().ok()?)),
            _ => None,
        }
    };
    ensure!(
        value(NL_POLICY_TYPE_ATTR_TYPE) == Some(NL_ATTR_TYPE_U32.into())
            && value(NL_POLICY_TYPE_ATTR_MIN_VALUE_U) == Some(1)
            && value(NL_POLICY_TYPE_ATTR_MAX_VALUE_U) == Some(GROUP_COUNT.into()),
        "the ack does not describe GROUP's policy (u32, 1 to {GROUP_COUNT}): {:?}",
        ack.policy
    );
    Ok(())
}

fn missing_data() -> Result<()> {
    let request = Request::Custom {
        kind: MSG_ECHO,
        attributes: vec![],
    };
    expect_error(&request, libc::ENODATA, "missing DATA attribute", None)?;
    let request = Request::Custom {
        kind: MSG_BROADCAST,
        attributes: vec![(ATTR_DATA, vec![1])],
    };
    expect_error(&request, libc::ENODATA, "missing GROUP attribute", None)
}

fn payload_over_the_limit() -> Result<()> {
    let limit = DEFAULT_MAX_PAYLOAD as usize;
    connect()?
        .request(&echo(&vec![7; limit]), false)
        .context("at the limit")?;
    let message = format!(
        "DATA is {} bytes, more than max_payload ({limit})",
        limit + 1
    );
    expect_error(
        &echo(&vec![7; limit + 1]),
        libc::EMSGSIZE,
        &message,
        Some(16),
    )
}

fn max_payload_parameter() -> Result<()> {
    guest::unload()?;
    guest::load(&["max_payload=100"])?;
    connect()?.request(&echo(&[1; 100]), false)?;
    let message = "DATA is 101 bytes, more than max_payload (100)";
    expect_error(&echo(&[1; 101]), libc::EMSGSIZE, message, Some(16))?;
    guest::unload()
}

fn broadcast_reaches_the_chosen_group() -> Result<()> {
    let mut listener = EchoSocket::listen(NETLINK_TEST, 5)?;
    let mut other_group = EchoSocket::listen(NETLINK_TEST, ECHO_GROUP)?;
    let mut sender = connect()?;
    sender.request(
        &Request::Broadcast {
            group: 5,
            data: b"to five".to_vec(),
        },
        false,
    )?;
    let broadcasts = listener.recv_broadcasts()?;
    let expected = Event {
        data: b"to five".to_vec(),
        portid: sender.port_id(),
        uid: 0,
    };
    ensure!(
        matches!(broadcasts.as_slice(), [Broadcast::Event { event, .. }] if *event == expected),
        "got {broadcasts:?}"
    );
    other_group.set_timeout(SHORT)?;
    ensure!(
        matches!(other_group.recv(), Err(Error::Timeout(_))),
        "group 1 got the broadcast to 5"
    );
    // Nobody in group 8: still a success.
    sender.request(
        &Request::Broadcast {
            group: 8,
            data: b"nobody".to_vec(),
        },
        false,
    )?;
    Ok(())
}

fn stats_count_what_happened() -> Result<()> {
    let mut socket = connect()?;
    let before = stats(&mut socket, false)?;
    let _listener = EchoSocket::listen(NETLINK_TEST, 3)?;
    for data in [&b"ab"[..], b"cde", b""] {
        socket.request(&echo(data), false)?;
    }
    socket.echo(RawMessage {
        kind: 0,
        data: b"raw".to_vec(),
    })?;
    let _ = socket.request(
        &Request::Custom {
            kind: 0x1f,
            attributes: vec![],
        },
        false,
    );
    let after = stats(&mut socket, false)?;
    let delta = |stat, group| value(&after, stat, group).wrapping_sub(value(&before, stat, group));
    // 3 echoes, the unknown command and the second GET_STATS.
    ensure!(
        delta(STAT_REQUESTS, None) == 5,
        "requests: {before:?} -> {after:?}"
    );
    ensure!(
        delta(STAT_ECHOES, None) == 4,
        "echoes: {before:?} -> {after:?}"
    );
    ensure!(
        delta(STAT_BYTES, None) == 8,
        "bytes: {before:?} -> {after:?}"
    );
    ensure!(
        delta(STAT_ERRORS, None) == 1,
        "errors: {before:?} -> {after:?}"
    );
    ensure!(
        delta(STAT_LISTENERS, Some(3)) == 1,
        "listeners: {before:?} -> {after:?}"
    );
    ensure!(
        value(&after, STAT_LISTENERS, Some(4)) == 0,
        "listeners of group 4: {after:?}"
    );
    Ok(())
}

fn dump_matches_the_single_answer() -> Result<()> {
    let mut socket = connect()?;
    let dumped = stats(&mut socket, true)?;
    let single = stats(&mut socket, false)?;
    let expected = 6 + GROUP_COUNT as usize;
    ensure!(
        dumped.len() == expected,
        "{} parts, expected {expected}: {dumped:?}",
        dumped.len()
    );
    // The same counters in the same order; the second request counted itself.
    for (dumped, single) in dumped.iter().zip(&single) {
        ensure!(
            (dumped.stat, dumped.group) == (single.stat, single.group),
            "{dumped:?} vs {single:?}"
        );
    }
    ensure!(value(&single, STAT_REQUESTS, None) == value(&dumped, STAT_REQUESTS, None) + 1);
    Ok(())
}

fn dump_resumes_across_small_reads() -> Result<()> {
    guest::unload()?;
    guest::load(&["dump_batch=3"])?;
    let mut socket = connect()?;
    socket.set_recv_buffer_len(1024);
    let mut datagram = Vec::new();
    encode_request(&mut datagram, 77, false, &Request::GetStats { dump: true })?;
    socket.send_bytes(&datagram)?;
    let (mut datagrams, mut parts, mut done) = (0, Vec::new(), false);
    while !done {
        let replies = socket.recv()?;
        datagrams += 1;
        for reply in replies {
            match reply {
                Reply::Echo { seq: 77, message } if message.kind == MSG_GET_STATS => parts.push(
                    nltest_client::service::decode_response(message.kind, &message.data)?,
                ),
                Reply::Control { seq: 77, kind: 3 } => done = true,
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
    let stats: Vec<(u32, Option<u32>)> = parts
        .iter()
        .flat_map(|p| match p {
            Response::Stats(s) => s.iter().map(|s| (s.stat, s.group)).collect(),
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

/// Runs the nltest CLI as uid/gid 65534.
fn nobody(args: &[&str]) -> Result<(bool, String)> {
    let child = Command::new("nltest")
        .args(args)
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    wait_with_limit(child, LIMIT)
}

fn unprivileged_user() -> Result<()> {
    let (ok, output) = nobody(&["echo", "--typed", "from nobody"])?;
    ensure!(ok, "nobody could not echo: {output}");
    let (ok, output) = nobody(&["echo", "raw from nobody"])?;
    ensure!(ok, "nobody could not echo raw: {output}");
    let (ok, output) = nobody(&["broadcast", "--group", "2", "x"])?;
    ensure!(
        !ok && output.contains("Error: BROADCAST needs CAP_NET_ADMIN"),
        "broadcast: {output}"
    );
    let (ok, output) = nobody(&["listen", "--count", "1", "--timeout", "2"])?;
    ensure!(
        !ok && output.contains("Error: cannot join the multicast group: Operation not permitted"),
        "listen: {output}"
    );
    Ok(())
}

fn nonroot_listen_lets_anyone_listen() -> Result<()> {
    guest::unload()?;
    guest::load(&["nonroot_listen=1"])?;
    let mut listener = Command::new("nltest")
        .args(["listen", "--count", "1", "--timeout", "10"])
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let line = first_line(&mut listener)?;
    ensure!(
        line == "listening on protocol 17 group 1",
        "nobody's listener said {line:?}"
    );
    let (ok, output) = run("nltest", &["echo", "--typed", "hello nobody"], LIMIT)?;
    ensure!(ok, "{output}");
    let (ok, output) = wait_with_limit(listener, LIMIT)?;
    ensure!(
        ok && output.contains("uid 0: 12 bytes \"hello nobody\""),
        "listener: {output}"
    );
    // Still no broadcasting for nobody.
    let (ok, _) = nobody(&["broadcast", "x"])?;
    ensure!(!ok, "nobody broadcast with nonroot_listen=1");
    guest::unload()
}

fn namespaces_keep_traffic_and_counters_apart() -> Result<()> {
    let mut outside_listener = EchoSocket::listen(NETLINK_TEST, ECHO_GROUP)?;
    let mut outside = connect()?;
    let outside_before = stats(&mut outside, false)?;
    let inside = in_new_network_namespace(|| {
        let mut listener = EchoSocket::listen(NETLINK_TEST, ECHO_GROUP)?;
        let mut socket = EchoSocket::connect(NETLINK_TEST)?;
        let fresh = stats(&mut socket, false)?;
        socket.request(&echo(b"inside"), false)?;
        socket.echo(RawMessage {
            kind: 0,
            data: b"inside raw".to_vec(),
        })?;
        let events = listener.recv_broadcasts()?.len() + listener.recv_broadcasts()?.len();
        let after = stats(&mut socket, false)?;
        Ok((fresh, after, events))
    })?;
    let (fresh, inside_after, inside_events) = inside;
    ensure!(
        value(&fresh, STAT_ECHOES, None) == 0,
        "a new namespace starts at zero: {fresh:?}"
    );
    ensure!(
        value(&inside_after, STAT_ECHOES, None) == 2,
        "inside: {inside_after:?}"
    );
    ensure!(
        inside_events == 2,
        "the inside listener got {inside_events} broadcasts"
    );
    outside_listener.set_timeout(SHORT)?;
    ensure!(
        matches!(outside_listener.recv(), Err(Error::Timeout(_))),
        "a broadcast crossed namespaces"
    );
    let outside_after = stats(&mut outside, false)?;
    ensure!(
        value(&outside_after, STAT_ECHOES, None) == value(&outside_before, STAT_ECHOES, None),
        "outside counters moved: {outside_before:?} -> {outside_after:?}"
    );
    Ok(())
}

fn namespace_churn_while_clients_run() -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        thread::spawn(move || -> Result<u64> {
            let mut socket = EchoSocket::connect(NETLINK_TEST)?;
            let mut echoes = 0;
            while !stop.load(Ordering::Relaxed) {
                socket.request(&echo(b"steady"), false)?;
                echoes += 1;
            }
            Ok(echoes)
        })
    };
    let churn = (|| -> Result<()> {
        for round in 0..30 {
            in_new_network_namespace(move || {
                let mut socket = EchoSocket::connect(NETLINK_TEST)?;
                let _listener = EchoSocket::listen(NETLINK_TEST, ECHO_GROUP)?;
                socket.request(&echo(format!("round {round}").as_bytes()), true)?;
                Ok(())
            })
            .with_context(|| format!("namespace {round}"))?;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let echoes = client
        .join()
        .map_err(|_| anyhow::anyhow!("client panicked"))??;
    churn?;
    ensure!(echoes > 0, "the steady client echoed nothing");
    Ok(())
}

fn rmmod_with_namespaces_alive() -> Result<()> {
    // Namespaces kept alive by a bind mount, as `ip netns add` does, hold
    // the module's kernel sockets; rmmod must release them all.
    let (ok, output) = run(
        "sh",
        &[
            "-c",
            "/usr/bin/ip netns add a && /usr/bin/ip netns add b && /usr/bin/ip netns exec a nltest echo --typed in-a",
        ],
        LIMIT,
    )?;
    ensure!(ok, "{output}");
    guest::unload()?;
    guest::load(&[])?;
    let (ok, output) = run(
        "ip",
        &["netns", "exec", "b", "nltest", "stats", "--json"],
        LIMIT,
    )?;
    ensure!(
        ok && output.contains("\"requests\":1"),
        "after reload, namespace b: {output}"
    );
    let (ok, output) = run(
        "sh",
        &["-c", "/usr/bin/ip netns del a && /usr/bin/ip netns del b"],
        LIMIT,
    )?;
    ensure!(ok, "{output}");
    Ok(())
}
