//! Events and multicast groups: what `ECHO` publishes, who gets a copy
//! (`NLM_F_ECHO`), and `BROADCAST` to a chosen group.

use super::{echo, stats, value, LIMIT, SHORT};
use crate::Test;
use anyhow::{bail, ensure, Result};
use nltest_client::{
    protocol::*, Broadcast, Command, Error, Event, ModuleSocket, RawMessage, Reply, Request,
    Response, Transport,
};

pub fn tests() -> Vec<Test> {
    tests! {
        #[portable] #[on_both_transports] typed_echo_publishes_an_event,
        #[portable] #[on_both_transports] sender_gets_its_event_only_with_nlm_f_echo,
        #[on_both_transports] broadcast_reaches_the_chosen_group,
        #[on_both_transports] a_sender_alone_in_its_group_gets_no_copy,
    }
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
        [Reply::Typed {
            seq: 51,
            message: reply,
        }, Reply::Typed {
            seq: 0,
            message: copy,
        }, Reply::Error {
            seq: 51, errno: 0, ..
        }] if reply.command == Command::Echo && copy.command == Command::Event => {
            let copy = Response::try_from(copy)?;
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
                [Reply::Typed { seq: 0, message }, Reply::Error { seq: 52, errno: 0, .. }]
                    if message.command == Command::Event
            ),
            "BROADCAST with NLM_F_ECHO: {answers:?}"
        );
        ensure!(other.recv_broadcasts()?.len() == 1);
    }
    Ok(())
}

fn broadcast_reaches_the_chosen_group(t: Transport) -> Result<()> {
    // The family has one group, `events`: the unit's group 1.
    let group = if t.is_genl() { ECHO_GROUP } else { 5 };
    let mut listener = t.listen(group)?;
    // Another group of the unit, or the same number on the other transport.
    let mut elsewhere = ModuleSocket::listen(DEFAULT_UNIT, ECHO_GROUP)?;
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

/// A sender that is its group's only listener: the module finds the group
/// listened to, and the netlink core, leaving the sender out, delivers the
/// notification to no one (`ESRCH`). That is no error of the request: the
/// sender gets its answers and no copy, and `BROADCAST` counts as sent.
fn a_sender_alone_in_its_group_gets_no_copy(t: Transport) -> Result<()> {
    let mut reader = t.connect()?;
    let before = stats(&mut reader, false)?;
    let mut sender = t.listen(ECHO_GROUP)?;
    let responses = sender.request(&echo(b"alone"), true)?;
    ensure!(
        matches!(responses.as_slice(), [Response::Echo { data }] if data == b"alone"),
        "ECHO answered {responses:?}"
    );
    let broadcast = Request::Broadcast {
        group: ECHO_GROUP,
        data: b"alone".to_vec(),
    };
    let responses = sender.request(&broadcast, true)?;
    ensure!(responses.is_empty(), "BROADCAST answered {responses:?}");
    if !t.is_genl() {
        sender.echo(RawMessage {
            nlmsg_type: 0,
            data: b"alone".to_vec(),
        })?;
    }
    sender.set_timeout(SHORT)?;
    let extra = sender.recv();
    ensure!(
        matches!(extra, Err(Error::Timeout(_))),
        "the sender got a copy through its group: {extra:?}"
    );
    let after = stats(&mut reader, false)?;
    let delta = |counter| value(&after, counter, None).wrapping_sub(value(&before, counter, None));
    ensure!(
        delta(Counter::Broadcasts) == 1 && delta(Counter::Errors) == 0,
        "BROADCAST to no one but its sender: {before:?} -> {after:?}"
    );
    Ok(())
}
