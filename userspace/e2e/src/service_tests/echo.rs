//! Typed echoes: the reply, then the ack when asked; what the unit never
//! echoes; the order of the answers to one datagram.

use super::{echo, unit, SHORT};
use crate::Test;
use anyhow::{bail, ensure, Result};
use nltest_client::message::{encode, ExtAck, HEADER_LEN};
use nltest_client::{
    Attr, Command, Error, Message, RawMessage, Reply, Request, Response, Transport,
};

pub fn tests() -> Vec<Test> {
    tests! {
        #[portable] #[on_both_transports] typed_echo_replies_then_acks,
        #[portable] control_messages_are_never_echoed,
        answers_to_one_datagram_come_in_order,
    }
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
        [Reply::Typed { seq: 41, message }, Reply::Error {
            seq: 41, errno: 0, ..
        }] if message.command == Command::Echo => {
            let response = Response::try_from(message)?;
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

fn control_messages_are_never_echoed() -> Result<()> {
    let mut socket = unit()?;
    for nlmsg_type in 1..16u16 {
        for flags in [0, 1] {
            let mut datagram = Vec::new();
            encode(
                &mut datagram,
                u32::from(nlmsg_type),
                flags,
                RawMessage {
                    nlmsg_type,
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
        nlmsg_type: 0,
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
        nlmsg_type: 0,
        data: data.to_vec(),
    };
    let bad = Request::Custom(Message::new(
        Command::Echo,
        vec![Attr::Data(b"x".to_vec()), Attr::other(9, b"y".to_vec())],
    ));
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
            Reply::Raw { seq, .. } | Reply::Typed { seq, .. } => {
                (seq, "reply", 0, ExtAck::default())
            }
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
