//! End-to-end tests of the typed protocol, on the module's protocol unit and
//! through its generic netlink family: requests, acks, extended errors,
//! stats and dumps, network namespaces and permissions; the family as the
//! controller shows it, and rmmod with its listeners attached.

use crate::guest::{self, first_line, run, wait_with_limit};
use crate::Test;
use anyhow::{bail, ensure, Context, Result};
use nltest_client::message::{encode, ExtAck, HEADER_LEN};
use nltest_client::{
    protocol::*, Broadcast, EchoSocket, Error, Event, RawMessage, Reply, Request, Response, Stat,
    Transport,
};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The typed service's tests that run once, not on each transport.
pub const SINGLE: &[Test] = &[
    (
        "control_messages_are_never_echoed",
        control_messages_are_never_echoed,
    ),
    (
        "answers_to_one_datagram_come_in_order",
        answers_to_one_datagram_come_in_order,
    ),
    ("genl_ctrl_shows_the_family", genl_ctrl_shows_the_family),
    (
        "genl_controller_shows_what_the_spec_says",
        genl_controller_shows_what_the_spec_says,
    ),
    ("genl_pyroute2_client", genl_pyroute2_client),
    ("genl_libnl_client", genl_libnl_client),
    (
        "genl_family_declares_ops_policies_and_permissions",
        genl_family_declares_ops_policies_and_permissions,
    ),
    (
        "genl_rmmod_with_listeners_attached",
        genl_rmmod_with_listeners_attached,
    ),
];

/// Each test of the typed service, on the module's protocol unit and again
/// through its generic netlink family (named `genl_...`).
pub const ALL: &[Test] = on_both_transports! {
    "typed_echo_replies_then_acks" => typed_echo_replies_then_acks,
    "typed_echo_publishes_an_event" => typed_echo_publishes_an_event,
    "sender_gets_its_event_only_with_nlm_f_echo" => sender_gets_its_event_only_with_nlm_f_echo,
    "unknown_command" => unknown_command,
    "unknown_attribute_points_at_it" => unknown_attribute_points_at_it,
    "malformed_attribute_points_at_it" => malformed_attribute_points_at_it,
    "group_out_of_range" => group_out_of_range,
    "out_of_range_error_describes_the_policy" => out_of_range_error_describes_the_policy,
    "missing_attribute_is_named" => missing_attribute_is_named,
    "payload_over_the_limit" => payload_over_the_limit,
    "max_payload_parameter" => max_payload_parameter,
    "broadcast_reaches_the_chosen_group" => broadcast_reaches_the_chosen_group,
    "stats_count_what_happened" => stats_count_what_happened,
    "dump_matches_the_single_answer" => dump_matches_the_single_answer,
    "dump_resumes_across_small_reads" => dump_resumes_across_small_reads,
    "unprivileged_user_echoes_but_cannot_broadcast_or_listen" => unprivileged_user,
    "nonroot_listen_lets_anyone_listen" => nonroot_listen_lets_anyone_listen,
    "namespaces_keep_traffic_and_counters_apart" => namespaces_keep_traffic_and_counters_apart,
    "namespace_churn_while_clients_run" => namespace_churn_while_clients_run,
    "rmmod_with_namespaces_alive" => rmmod_with_namespaces_alive,
    "kernel_ynl_client_drives_every_operation" => kernel_ynl_client_drives_every_operation,
};

const LIMIT: Duration = Duration::from_secs(20);
/// For an interpreter started from the host's file system: python3 imports
/// its modules over 9p, which took 7 to 14 s under TCG and 30 to 81 s on the
/// KASAN kernel.
const INTERPRETER_LIMIT: Duration = Duration::from_secs(300);
const SHORT: Duration = Duration::from_millis(300);
/// For iproute2's `ip` and `genl` and for `bash`, started from the host's
/// file system with their shared libraries over 9p: beyond 20 s on the KASAN
/// kernel when the host is busy.
const HOST_PROGRAM_LIMIT: Duration = Duration::from_secs(120);

fn unit() -> Result<EchoSocket> {
    Ok(EchoSocket::connect(crate::unit())?)
}

fn echo(data: &[u8]) -> Request {
    Request::Echo {
        data: data.to_vec(),
    }
}

/// Expects `request` to fail with `errno` and the extended ack `message`
/// (none when `None`), pointing at `offset` from the attributes' start
/// when given.
fn expect_error(
    t: Transport,
    request: &Request,
    errno: i32,
    message: Option<&str>,
    offset: Option<u32>,
) -> Result<()> {
    match t.connect()?.request(request, false) {
        Err(Error::Kernel {
            errno: got, ack, ..
        }) => {
            ensure!(got == errno, "errno {got} instead of {errno} ({ack:?})");
            ensure!(
                ack.message.as_deref() == message,
                "extended ack {ack:?}, expected {message:?}"
            );
            if let Some(offset) = offset {
                let offset = t.attributes_offset() + offset;
                ensure!(
                    ack.offset == Some(offset),
                    "offset {:?} instead of {offset}",
                    ack.offset
                );
            }
            Ok(())
        }
        other => bail!("expected errno {errno}, got {other:?}"),
    }
}

/// Runs the nltest CLI on `t`, the protocol unit under test or the family.
fn cli(t: Transport, args: &[&str]) -> Result<(bool, String)> {
    let unit = match t {
        Transport::Unit(unit) => unit.to_string(),
        Transport::Genl => String::new(),
    };
    let mut all = if t.is_genl() {
        vec!["--genl"]
    } else {
        vec!["--unit", &unit]
    };
    all.extend(args);
    run("nltest", &all, LIMIT)
}

/// The arguments that select `t` in the nltest CLI.
fn cli_args(t: Transport) -> &'static [&'static str] {
    if t.is_genl() {
        &["--genl"]
    } else {
        &[]
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

fn value(stats: &[Stat], counter: Counter, group: Option<u32>) -> u64 {
    stats
        .iter()
        .find(|s| s.counter == counter && s.group == group)
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

fn typed_echo_replies_then_acks(t: Transport) -> Result<()> {
    let mut socket = t.connect()?;
    let mut datagram = Vec::new();
    socket.encode_request(&mut datagram, 41, true, &echo(b"typed"))?;
    socket.send_bytes(&datagram)?;
    let mut replies = Vec::new();
    while replies.len() < 2 {
        replies.extend(socket.recv()?);
    }
    match replies.as_slice() {
        [Reply::Echo { seq: 41, message }, Reply::Error {
            seq: 41, errno: 0, ..
        }] if message.kind == raw::msg::ECHO => {
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

/// Events are notifications: sequence number 0, whatever the request's.
fn typed_echo_publishes_an_event(t: Transport) -> Result<()> {
    let mut listener = t.listen(ECHO_GROUP)?;
    let mut sender = t.connect()?;
    sender.request(&echo(b"who am I"), false)?;
    let broadcasts = listener.recv_broadcasts()?;
    let expected = Event {
        data: b"who am I".to_vec(),
        portid: sender.port_id(),
        uid: 0,
    };
    ensure!(
        matches!(broadcasts.as_slice(), [Broadcast::Event { seq: 0, event }] if *event == expected),
        "expected {expected:?} with sequence number 0, got {broadcasts:?}"
    );
    Ok(())
}

/// As `nlmsg_notify` with `NLM_F_ECHO`: a sender that listens gets no copy
/// of its own event through the group; with `NLM_F_ECHO` it gets one, after
/// its reply and before its ack, on both transports. Other listeners get
/// the event once either way.
fn sender_gets_its_event_only_with_nlm_f_echo(t: Transport) -> Result<()> {
    let mut sender = t.listen(ECHO_GROUP)?;
    let mut other = t.listen(ECHO_GROUP)?;
    let portid = sender.port_id();
    let expected = |data: &[u8]| Event {
        data: data.to_vec(),
        portid,
        uid: 0,
    };
    let responses = sender.request(&echo(b"no copy"), true)?;
    ensure!(responses.len() == 1, "{responses:?}");
    sender.set_timeout(SHORT)?;
    ensure!(
        matches!(sender.recv(), Err(Error::Timeout(_))),
        "the sender got its own event through the group"
    );
    let broadcasts = other.recv_broadcasts()?;
    let no_copy = expected(b"no copy");
    ensure!(
        matches!(broadcasts.as_slice(), [Broadcast::Event { seq: 0, event }] if *event == no_copy),
        "the other listener got {broadcasts:?}"
    );

    sender.set_timeout(LIMIT)?;
    let mut datagram = Vec::new();
    let flags = (libc::NLM_F_ACK | libc::NLM_F_ECHO) as u16;
    sender.encode_request_with_flags(&mut datagram, 51, flags, &echo(b"copy"))?;
    sender.send_bytes(&datagram)?;
    let mut answers = Vec::new();
    while answers.len() < 3 {
        answers.extend(sender.recv()?);
    }
    match answers.as_slice() {
        [Reply::Echo {
            seq: 51,
            message: reply,
        }, Reply::Echo {
            seq: 0,
            message: copy,
        }, Reply::Error {
            seq: 51, errno: 0, ..
        }] if reply.kind == raw::msg::ECHO && copy.kind == raw::msg::EVENT => {
            let copy = nltest_client::service::decode_response(copy.kind, &copy.data)?;
            let wanted = Response::Event(expected(b"copy"));
            ensure!(copy == wanted, "the copy is {copy:?}, expected {wanted:?}");
        }
        other => bail!("expected the reply, the event (seq 0), then the ack; got {other:?}"),
    }
    sender.set_timeout(SHORT)?;
    ensure!(
        matches!(sender.recv(), Err(Error::Timeout(_))),
        "the sender got its event twice"
    );
    let broadcasts = other.recv_broadcasts()?;
    ensure!(
        broadcasts.len() == 1,
        "the other listener got {broadcasts:?}"
    );
    if crate::testing_nltest() {
        // BROADCAST's event follows the same rule, with its ack only.
        let mut datagram = Vec::new();
        let request = Request::Broadcast {
            group: ECHO_GROUP,
            data: b"sent".to_vec(),
        };
        sender.set_timeout(LIMIT)?;
        sender.encode_request_with_flags(&mut datagram, 52, flags, &request)?;
        sender.send_bytes(&datagram)?;
        let mut answers = Vec::new();
        while answers.len() < 2 {
            answers.extend(sender.recv()?);
        }
        ensure!(
            matches!(
                answers.as_slice(),
                [Reply::Echo { seq: 0, message }, Reply::Error { seq: 52, errno: 0, .. }]
                    if message.kind == raw::msg::EVENT
            ),
            "BROADCAST with NLM_F_ECHO: {answers:?}"
        );
        ensure!(other.recv_broadcasts()?.len() == 1);
    }
    Ok(())
}

fn control_messages_are_never_echoed() -> Result<()> {
    let mut socket = unit()?;
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

/// Replies share datagrams, acks do not: each ack must still come after the
/// replies to the messages before it. An error's extended ack stays with it:
/// the acks after it carry none.
fn answers_to_one_datagram_come_in_order() -> Result<()> {
    let mut socket = unit()?;
    let raw = |data: &[u8]| RawMessage {
        kind: 0,
        data: data.to_vec(),
    };
    let bad = Request::Custom {
        kind: raw::msg::ECHO,
        attributes: vec![(attrs::DATA, b"x".to_vec()), (9, b"y".to_vec())],
    };
    let mut datagram = Vec::new();
    socket.encode_request(&mut datagram, 1, false, &echo(b"a"))?;
    encode(&mut datagram, 2, 0, raw(b"r"));
    socket.encode_request(&mut datagram, 3, true, &echo(b"b"))?;
    socket.encode_request(&mut datagram, 4, false, &bad)?;
    encode(&mut datagram, 5, libc::NLM_F_ACK as u16, raw(b"s"));
    socket.encode_request(&mut datagram, 6, false, &echo(b"c"))?;
    socket.send_bytes(&datagram)?;

    let mut answers = Vec::new();
    while answers.len() < 8 {
        answers.extend(socket.recv()?.into_iter().map(|reply| match reply {
            Reply::Echo { seq, .. } => (seq, "reply", 0, ExtAck::default()),
            Reply::Error { seq, errno: 0, ack } => (seq, "ack", 0, ack),
            Reply::Error { seq, errno, ack } => (seq, "error", errno, ack),
            _ => (0, "other", 0, ExtAck::default()),
        }));
    }
    let none = ExtAck::default;
    // Attribute 9 follows the header and DATA "x".
    let unknown = ExtAck {
        message: Some("Unknown attribute type".to_string()),
        offset: Some(HEADER_LEN as u32 + 8),
        ..ExtAck::default()
    };
    let expected = [
        (1, "reply", 0, none()),
        (2, "reply", 0, none()),
        (3, "reply", 0, none()),
        (3, "ack", 0, none()),
        (4, "error", libc::EINVAL, unknown),
        (5, "reply", 0, none()),
        (5, "ack", 0, none()),
        (6, "reply", 0, none()),
    ];
    ensure!(answers == expected, "got {answers:?}");
    socket.set_timeout(SHORT)?;
    ensure!(
        matches!(socket.recv(), Err(Error::Timeout(_))),
        "something after the last reply"
    );
    Ok(())
}

fn unknown_command(t: Transport) -> Result<()> {
    let request = Request::Custom {
        kind: 0x1f,
        attributes: vec![],
    };
    // The generic netlink core refuses it without a message.
    let message = (!t.is_genl()).then_some("unknown command");
    expect_error(t, &request, libc::EOPNOTSUPP, message, None)
}

fn unknown_attribute_points_at_it(t: Transport) -> Result<()> {
    // DATA "x" takes 8 bytes: attribute 9 is 8 bytes into the attributes.
    let request = Request::Custom {
        kind: raw::msg::ECHO,
        attributes: vec![(attrs::DATA, b"x".to_vec()), (9, b"y".to_vec())],
    };
    expect_error(
        t,
        &request,
        libc::EINVAL,
        Some("Unknown attribute type"),
        Some(8),
    )
}

fn malformed_attribute_points_at_it(t: Transport) -> Result<()> {
    let request = Request::Custom {
        kind: raw::msg::BROADCAST,
        attributes: vec![(attrs::DATA, b"x".to_vec()), (attrs::GROUP, vec![1, 0])],
    };
    expect_error(
        t,
        &request,
        libc::EINVAL,
        Some("invalid attribute length"),
        Some(8),
    )
}

/// `GROUP`'s range on transport `t`, as its spec's policy gives it: the
/// family has one group, the unit eight.
fn group_range(t: Transport) -> (u32, u32) {
    let spec = if t.is_genl() {
        genl::policy::GROUP
    } else {
        raw::policy::GROUP
    };
    let bound = |bound: Option<i64>| bound.and_then(|b| u32::try_from(b).ok()).unwrap_or(0);
    (bound(spec.min), bound(spec.max))
}

fn group_out_of_range(t: Transport) -> Result<()> {
    let (min, max) = group_range(t);
    ensure!(
        (min, max) == (1, if t.is_genl() { 1 } else { GROUP_COUNT }),
        "GROUP takes {min} to {max} on {t:?}"
    );
    for group in [min - 1, max + 1] {
        let request = Request::Broadcast {
            group,
            data: b"x".to_vec(),
        };
        expect_error(
            t,
            &request,
            libc::ERANGE,
            Some("integer out of range"),
            Some(8),
        )
        .with_context(|| format!("group {group}"))?;
    }
    Ok(())
}

/// The netlink core describes the broken policy in the ack from a pointer it
/// keeps past the request callback: the policy must outlive the callback.
fn out_of_range_error_describes_the_policy(t: Transport) -> Result<()> {
    const NL_POLICY_TYPE_ATTR_TYPE: u16 = 1;
    const NL_POLICY_TYPE_ATTR_MIN_VALUE_U: u16 = 4;
    const NL_POLICY_TYPE_ATTR_MAX_VALUE_U: u16 = 5;
    const NL_ATTR_TYPE_U32: u32 = 4;
    let (min, max) = group_range(t);
    let request = Request::Broadcast {
        group: max + 1,
        data: b"x".to_vec(),
    };
    let ack = match t.connect()?.request(&request, false) {
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
            && value(NL_POLICY_TYPE_ATTR_MIN_VALUE_U) == Some(min.into())
            && value(NL_POLICY_TYPE_ATTR_MAX_VALUE_U) == Some(max.into()),
        "the ack does not describe GROUP's policy (u32, {min} to {max}): {:?}",
        ack.policy
    );
    Ok(())
}

/// As `GENL_REQ_ATTR_CHECK`: `EINVAL`, and the extended ack names the
/// missing attribute (`NLMSGERR_ATTR_MISS_TYPE`, no nest).
fn missing_attribute_is_named(t: Transport) -> Result<()> {
    let mut cases = vec![(raw::msg::ECHO, vec![], attrs::DATA)];
    if crate::testing_nltest() {
        cases.push((
            raw::msg::BROADCAST,
            vec![(attrs::DATA, vec![1])],
            attrs::GROUP,
        ));
        cases.push((
            raw::msg::BROADCAST,
            vec![(attrs::GROUP, 1u32.to_ne_bytes().to_vec())],
            attrs::DATA,
        ));
    }
    for (kind, attributes, missing) in cases {
        let request = Request::Custom { kind, attributes };
        match t.connect()?.request(&request, false) {
            Err(Error::Kernel { errno, ack, .. }) => ensure!(
                errno == libc::EINVAL
                    && ack.missing_type == Some(missing.into())
                    && ack.missing_nest.is_none()
                    && ack.message.is_none(),
                "{request:?}: errno {errno}, {ack:?}; expected EINVAL, missing type {missing}"
            ),
            other => bail!("{request:?}: expected an error, got {other:?}"),
        }
    }
    Ok(())
}

fn payload_over_the_limit(t: Transport) -> Result<()> {
    let limit = DEFAULT_MAX_PAYLOAD as usize;
    t.connect()?
        .request(&echo(&vec![7; limit]), false)
        .context("at the limit")?;
    let message = format!(
        "DATA is {} bytes, more than max_payload ({limit})",
        limit + 1
    );
    expect_error(
        t,
        &echo(&vec![7; limit + 1]),
        libc::EMSGSIZE,
        Some(&message),
        Some(0),
    )?;
    // The CLI says where the limit comes from.
    let size = (limit + 1).to_string();
    let (ok, output) = cli(t, &["echo", "--typed", "--size", &size])?;
    ensure!(
        !ok && output.contains(&format!("Error: {message}"))
            && output.contains(
                "Hint: the module's max_payload parameter limits DATA (default 32768 bytes): \
                 load it with max_payload=BYTES to allow more"
            ),
        "nltest echo --typed --size {size}: {output}"
    );
    Ok(())
}

fn max_payload_parameter(t: Transport) -> Result<()> {
    guest::unload()?;
    guest::load(&["max_payload=100"])?;
    t.connect()?.request(&echo(&[1; 100]), false)?;
    let message = "DATA is 101 bytes, more than max_payload (100)";
    expect_error(t, &echo(&[1; 101]), libc::EMSGSIZE, Some(message), Some(0))?;
    guest::unload()
}

fn broadcast_reaches_the_chosen_group(t: Transport) -> Result<()> {
    // The family has one group, `events`: the unit's group 1.
    let group = if t.is_genl() { ECHO_GROUP } else { 5 };
    let mut listener = t.listen(group)?;
    // Another group of the unit, or the same number on the other transport.
    let mut elsewhere = EchoSocket::listen(DEFAULT_UNIT, ECHO_GROUP)?;
    let mut sender = t.connect()?;
    sender.request(
        &Request::Broadcast {
            group,
            data: b"to the group".to_vec(),
        },
        false,
    )?;
    let broadcasts = listener.recv_broadcasts()?;
    let expected = Event {
        data: b"to the group".to_vec(),
        portid: sender.port_id(),
        uid: 0,
    };
    ensure!(
        matches!(broadcasts.as_slice(), [Broadcast::Event { event, .. }] if *event == expected),
        "got {broadcasts:?}"
    );
    elsewhere.set_timeout(SHORT)?;
    ensure!(
        matches!(elsewhere.recv(), Err(Error::Timeout(_))),
        "the unit's group 1 got the broadcast to {group} over {t:?}"
    );
    // Nobody in the group: still a success.
    drop(listener);
    sender.request(
        &Request::Broadcast {
            group,
            data: b"nobody".to_vec(),
        },
        false,
    )?;
    Ok(())
}

fn stats_count_what_happened(t: Transport) -> Result<()> {
    // The counters are the namespace's, whichever transport reads them.
    let mut socket = t.connect()?;
    let mut raw = unit()?;
    let before = stats(&mut socket, false)?;
    let _listener = EchoSocket::listen(DEFAULT_UNIT, 3)?;
    for data in [&b"ab"[..], b"cde", b""] {
        socket.request(&echo(data), false)?;
    }
    raw.echo(RawMessage {
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
                Reply::Echo { seq: 77, message } if message.kind == raw::msg::GET_STATS => parts
                    .push(nltest_client::service::decode_response(
                        message.kind,
                        &message.data,
                    )?),
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

/// Runs the nltest CLI as uid/gid 65534.
fn nobody(t: Transport, args: &[&str]) -> Result<(bool, String)> {
    let child = Command::new("nltest")
        .args(cli_args(t))
        .args(args)
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    wait_with_limit(child, LIMIT)
}

fn unprivileged_user(t: Transport) -> Result<()> {
    let (ok, output) = nobody(t, &["echo", "--typed", "from nobody"])?;
    ensure!(ok, "nobody could not echo: {output}");
    if !t.is_genl() {
        let (ok, output) = nobody(t, &["echo", "raw from nobody"])?;
        ensure!(ok, "nobody could not echo raw: {output}");
    }
    let (ok, output) = nobody(t, &["broadcast", "--group", "1", "x"])?;
    // The generic netlink core refuses it (GENL_UNS_ADMIN_PERM) without a
    // message; the CLI says what is missing.
    let refusal: &[&str] = if t.is_genl() {
        &[
            "Error: Operation not permitted",
            "Hint: this needs CAP_NET_ADMIN in the user namespace that owns the network \
             namespace",
        ]
    } else {
        &["Error: broadcast needs CAP_NET_ADMIN"]
    };
    ensure!(
        !ok && refusal.iter().all(|line| output.contains(line)),
        "broadcast: {output}"
    );
    let (ok, output) = nobody(t, &["listen", "--count", "1", "--timeout", "2"])?;
    let group = if t.is_genl() {
        "group events of generic netlink family nltest"
    } else {
        "multicast group 1 of protocol 17"
    };
    let refusal = format!(
        "Error: cannot join {group}: listening needs CAP_NET_ADMIN, unless the module \
         was loaded with nonroot_listen=1"
    );
    ensure!(!ok && output.contains(&refusal), "listen: {output}");
    Ok(())
}

fn nonroot_listen_lets_anyone_listen(t: Transport) -> Result<()> {
    guest::unload()?;
    guest::load(&["nonroot_listen=1"])?;
    let mut listener = Command::new("nltest")
        .args(cli_args(t))
        .args(["listen", "--count", "1", "--timeout", "10"])
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let line = first_line(&mut listener)?;
    let expected = if t.is_genl() {
        "listening on generic netlink family nltest group events"
    } else {
        "listening on protocol 17 group 1"
    };
    ensure!(
        line.starts_with(expected),
        "nobody's listener said {line:?}"
    );
    let mut args = cli_args(t).to_vec();
    args.extend(["echo", "--typed", "hello nobody"]);
    let (ok, output) = run("nltest", &args, LIMIT)?;
    ensure!(ok, "{output}");
    let (ok, output) = wait_with_limit(listener, LIMIT)?;
    ensure!(
        ok && output.contains("uid 0: 12 bytes \"hello nobody\""),
        "listener: {output}"
    );
    // Still no broadcasting for nobody.
    let (ok, _) = nobody(t, &["broadcast", "x"])?;
    ensure!(!ok, "nobody broadcast with nonroot_listen=1");
    guest::unload()
}

fn namespaces_keep_traffic_and_counters_apart(t: Transport) -> Result<()> {
    let mut outside_listener = t.listen(ECHO_GROUP)?;
    let mut outside = t.connect()?;
    let outside_before = stats(&mut outside, false)?;
    let inside = in_new_network_namespace(move || {
        let mut listener = t.listen(ECHO_GROUP)?;
        let mut socket = t.connect()?;
        let fresh = stats(&mut socket, false)?;
        socket.request(&echo(b"inside"), false)?;
        unit()?.echo(RawMessage {
            kind: 0,
            data: b"inside raw".to_vec(),
        })?;
        // The unit's group 1 also gets the raw echo; the family's events
        // only the typed one.
        let mut events = listener.recv_broadcasts()?.len();
        if !t.is_genl() {
            events += listener.recv_broadcasts()?.len();
        }
        let after = stats(&mut socket, false)?;
        Ok((fresh, after, events))
    })?;
    let (fresh, inside_after, inside_events) = inside;
    ensure!(
        value(&fresh, Counter::Echoes, None) == 0,
        "a new namespace starts at zero: {fresh:?}"
    );
    ensure!(
        value(&inside_after, Counter::Echoes, None) == 2,
        "inside: {inside_after:?}"
    );
    let expected_events = if t.is_genl() { 1 } else { 2 };
    ensure!(
        inside_events == expected_events,
        "the inside listener got {inside_events} broadcasts"
    );
    outside_listener.set_timeout(SHORT)?;
    ensure!(
        matches!(outside_listener.recv(), Err(Error::Timeout(_))),
        "a broadcast crossed namespaces"
    );
    let outside_after = stats(&mut outside, false)?;
    ensure!(
        value(&outside_after, Counter::Echoes, None)
            == value(&outside_before, Counter::Echoes, None),
        "outside counters moved: {outside_before:?} -> {outside_after:?}"
    );
    Ok(())
}

fn namespace_churn_while_clients_run(t: Transport) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        thread::spawn(move || -> Result<u64> {
            let mut socket = t.connect()?;
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
                let mut socket = t.connect()?;
                let _listener = t.listen(ECHO_GROUP)?;
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

fn rmmod_with_namespaces_alive(t: Transport) -> Result<()> {
    // Namespaces kept alive by a bind mount, as `ip netns add` does, hold
    // the module's kernel sockets; rmmod must release them all. Names of
    // their own per transport: a failed run cannot leave them to the other.
    let genl = cli_args(t).join(" ");
    let (a, b) = if t.is_genl() {
        ("genl-a", "genl-b")
    } else {
        ("unit-a", "unit-b")
    };
    let (ok, output) = run(
        "sh",
        &[
            "-c",
            &format!("/usr/bin/ip netns add {a} && /usr/bin/ip netns add {b} && /usr/bin/ip netns exec {a} nltest {genl} echo --typed in-a"),
        ],
        HOST_PROGRAM_LIMIT,
    )?;
    ensure!(ok, "{output}");
    guest::unload()?;
    guest::load(&[])?;
    let mut args = vec!["netns", "exec", b, "nltest"];
    args.extend(cli_args(t));
    args.extend(["stats", "--json"]);
    let (ok, output) = run("ip", &args, HOST_PROGRAM_LIMIT)?;
    ensure!(
        ok && output.contains("\"requests\":1"),
        "after reload, namespace {b}: {output}"
    );
    let (ok, output) = run(
        "sh",
        &[
            "-c",
            &format!("/usr/bin/ip netns del {a} && /usr/bin/ip netns del {b}"),
        ],
        HOST_PROGRAM_LIMIT,
    )?;
    ensure!(ok, "{output}");
    Ok(())
}

/// Where iproute2's `genl` is on the host, shared into the guest.
fn genl_program() -> Option<&'static str> {
    ["/usr/sbin/genl", "/usr/bin/genl", "/sbin/genl", "/bin/genl"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
}

fn genl_ctrl_shows_the_family() -> Result<()> {
    let Some(genl) = genl_program() else {
        println!("skip   genl_ctrl_shows_the_family: iproute2's genl is not installed on the host");
        return Ok(());
    };
    let (ok, output) = run(
        genl,
        &["ctrl", "get", "name", genl::FAMILY_NAME],
        HOST_PROGRAM_LIMIT,
    )?;
    ensure!(ok, "genl ctrl get: {output}");
    let mut expected = vec![
        format!("Name: {}", genl::FAMILY_NAME),
        format!("Version: {:#x}", genl::FAMILY_VERSION),
        format!("max attribs: {}", attrs::MAX),
        format!("name: {}", genl::mcgrp::EVENTS),
    ];
    for cmd in [genl::cmd::ECHO, genl::cmd::BROADCAST, genl::cmd::GET_STATS] {
        expected.push(format!("ID-{cmd:#x}"));
    }
    for text in &expected {
        ensure!(output.contains(text.as_str()), "no {text:?} in:\n{output}");
    }
    // The family id it shows is the one the client resolved.
    let family = EchoSocket::connect_genl()?
        .genl_family()
        .cloned()
        .context("no family")?;
    ensure!(
        output.contains(&format!("ID: {:#x}", family.id)),
        "family id {:#x} not in:\n{output}",
        family.id
    );
    Ok(())
}

/// Runs a client written with another netlink library (userspace/e2e/clients/),
/// which prints `ok NAME` or `FAILED NAME: why` per check and fails when one
/// did; the test fails with the failed checks.
fn foreign_client(program: &str, args: &[&str], limit: Duration) -> Result<()> {
    let (ok, output) = run(program, args, limit)?;
    let checks = output
        .lines()
        .filter(|line| line.starts_with("ok "))
        .count();
    let failed: Vec<&str> = output
        .lines()
        .filter(|line| line.starts_with("FAILED"))
        .collect();
    ensure!(
        ok && failed.is_empty() && checks > 0,
        "{program} {}: {}",
        args.join(" "),
        if failed.is_empty() {
            output.trim().to_string()
        } else {
            failed.join("; ")
        }
    );
    Ok(())
}

/// A Python client in userspace/e2e/clients/, from the project's tree as
/// the guest sees it.
fn python_client(script: &str, args: &[&str]) -> Result<()> {
    let top = std::env::var("NLTEST_TOP")
        .context("NLTEST_TOP is unset: run the suite through qemu/run")?;
    let script = format!("{top}/userspace/e2e/clients/{script}");
    let mut all = vec![script.as_str()];
    all.extend_from_slice(args);
    foreign_client("python3", &all, INTERPRETER_LIMIT)
}

/// The kernel's own YNL (its CLI and its Python library, from the running
/// kernel's tree) drives every operation over the transport with the
/// committed spec, schema validation on: echo, broadcast, stats (do and
/// dump), events, and each error with its extended ack decoded by name
/// (userspace/e2e/clients/ynl_nltest.py).
fn kernel_ynl_client_drives_every_operation(t: Transport) -> Result<()> {
    python_client("ynl_nltest.py", &[if t.is_genl() { "genl" } else { "raw" }])
}

/// As the kernel's selftest nl_nlctrl.py: the controller's view of the family
/// (operations, their flags, their policies, the group) is what the spec
/// says, computed from the spec (userspace/e2e/clients/nlctrl_family.py).
fn genl_controller_shows_what_the_spec_says() -> Result<()> {
    python_client("nlctrl_family.py", &[])
}

/// A pyroute2 client (userspace/e2e/clients/pyroute2_nltest.py): replies
/// matched by sequence number, stats through one attribute map, events.
fn genl_pyroute2_client() -> Result<()> {
    python_client("pyroute2_nltest.py", &[])
}

/// A libnl client (userspace/e2e/clients/libnl_nltest.c): echo matched by
/// libnl's sequence check, stats through one policy, events with sequence
/// number 0, a missing attribute named in the extended ack.
fn genl_libnl_client() -> Result<()> {
    foreign_client("libnl-nltest", &[], LIMIT)
}

/// The operation flags as the controller reports them (iproute2's genl
/// 6.1 does not print them for this family, version 1, though it does for
/// nlctrl, version 2).
fn genl_family_declares_ops_policies_and_permissions() -> Result<()> {
    use nltest_client::genl::*;
    let socket = EchoSocket::connect_genl()?;
    let family = socket.genl_family().context("no family")?;
    ensure!(
        family.version == u32::from(genl::FAMILY_VERSION),
        "version {}",
        family.version
    );
    // Every operation of the spec but the event, with the flags its modes
    // and permissions give; every one has a policy.
    let expected: Vec<(u32, u32)> = genl::OPERATIONS
        .iter()
        .filter(|op| op.event.is_none())
        .map(|op| {
            let mut flags = GENL_CMD_CAP_HASPOL;
            for (has, flag) in [
                (op.doit.is_some(), GENL_CMD_CAP_DO),
                (op.dumpit.is_some(), GENL_CMD_CAP_DUMP),
                (op.admin_perm, GENL_ADMIN_PERM),
                (op.uns_admin_perm, GENL_UNS_ADMIN_PERM),
            ] {
                if has {
                    flags |= flag;
                }
            }
            (u32::from(op.value), flags)
        })
        .collect();
    ensure!(family.ops == expected, "operations {:#x?}", family.ops);

    // The policies, as the controller dumps them: each operation's request
    // attributes with the spec's checks.
    let policies = EchoSocket::connect_genl()?.genl_policies()?;
    for op in genl::OPERATIONS.iter().filter(|op| op.event.is_none()) {
        let request = op.doit.map_or(&[][..], |mode| mode.request);
        let mut expected: Vec<AttrPolicyInfo> = request
            .iter()
            .map(|spec| AttrPolicyInfo {
                attr: spec.value,
                kind: format!("{:?}", spec.kind),
                min: spec.min.map(i128::from),
                max: spec.max.map(i128::from),
            })
            .collect();
        expected.sort_by_key(|a| a.attr);
        let mut got = policies.get(&op.value).cloned().unwrap_or_default();
        got.sort_by_key(|a| a.attr);
        ensure!(
            got == expected,
            "{}: {got:#?}, expected {expected:#?}",
            op.name
        );
    }
    Ok(())
}

fn genl_rmmod_with_listeners_attached() -> Result<()> {
    // Generic netlink sockets do not pin the module: rmmod goes through with
    // listeners attached and a client sending, and takes the family away.
    let mut listeners = (0..4)
        .map(|_| EchoSocket::listen_genl())
        .collect::<Result<Vec<_>, _>>()?;
    let mut sender = EchoSocket::connect_genl()?;
    sender.request(&echo(b"before rmmod"), false)?;
    for listener in &mut listeners {
        ensure!(listener.recv_broadcasts()?.len() == 1);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        thread::spawn(move || {
            let (mut answered, mut refused) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                match sender.request(&echo(b"during rmmod"), false) {
                    Ok(_) => answered += 1,
                    Err(_) => refused += 1,
                }
            }
            (answered, refused)
        })
    };
    thread::sleep(Duration::from_millis(200));
    guest::unload_within(Duration::from_secs(5)).context("rmmod with genl listeners")?;
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let (answered, refused) = client
        .join()
        .map_err(|_| anyhow::anyhow!("client panicked"))?;
    ensure!(
        answered > 0,
        "nothing answered before rmmod ({refused} refused)"
    );
    match EchoSocket::connect_genl() {
        Err(Error::FamilyNotRegistered { .. }) => {}
        Err(other) => bail!("without the module, resolving the family failed with {other:?}"),
        Ok(_) => bail!("the family is still registered after rmmod"),
    }
    // The old listeners lost their membership; reading them is harmless.
    for listener in &mut listeners {
        listener.set_nonblocking(true)?;
        while let Ok(broadcasts) = listener.recv_broadcasts() {
            ensure!(
                broadcasts
                    .iter()
                    .all(|b| matches!(b, Broadcast::Event { .. })),
                "{broadcasts:?}"
            );
        }
    }
    drop(listeners);
    guest::load(&[])?;
    let mut listener = EchoSocket::listen_genl()?;
    EchoSocket::connect_genl()?.request(&echo(b"after reload"), false)?;
    ensure!(listener.recv_broadcasts()?.len() == 1);
    guest::ensure_kernel_log_clean()
}
