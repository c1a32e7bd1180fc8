//! Errors and extended acks: unknown commands and attributes, malformed and
//! out-of-range values with the policy they broke, missing attributes named,
//! the payload limit and its parameter.

use super::{echo, LIMIT};
use crate::guest::{self, run};
use crate::Test;
use anyhow::{bail, ensure, Context, Result};
use nltest_client::{protocol::*, Attr, Command, Error, Message, Request, Transport};

pub fn tests() -> Vec<Test> {
    tests! {
        #[on_both_transports] unknown_command,
        #[portable] #[on_both_transports] unknown_attribute_points_at_it,
        #[on_both_transports] malformed_attribute_points_at_it,
        #[on_both_transports] group_out_of_range,
        #[on_both_transports] out_of_range_error_describes_the_policy,
        #[portable] #[on_both_transports] missing_attribute_is_named,
        #[portable] #[on_both_transports] payload_over_the_limit,
        #[on_both_transports] max_payload_parameter,
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

fn unknown_command(t: Transport) -> Result<()> {
    let request = Request::Custom(Message::new(Command::Other(0x1f), vec![]));
    // The generic netlink core refuses it without a message.
    let message = (!t.is_genl()).then_some("unknown command");
    expect_error(t, &request, libc::EOPNOTSUPP, message, None)
}

fn unknown_attribute_points_at_it(t: Transport) -> Result<()> {
    // DATA "x" takes 8 bytes: attribute 9 is 8 bytes into the attributes.
    let request = Request::Custom(Message::new(
        Command::Echo,
        vec![Attr::Data(b"x".to_vec()), Attr::other(9, b"y".to_vec())],
    ));
    expect_error(
        t,
        &request,
        libc::EINVAL,
        Some("Unknown attribute type"),
        Some(8),
    )
}

fn malformed_attribute_points_at_it(t: Transport) -> Result<()> {
    let request = Request::Custom(Message::new(
        Command::Broadcast,
        vec![
            Attr::Data(b"x".to_vec()),
            Attr::other(attrs::GROUP, vec![1, 0]),
        ],
    ));
    expect_error(
        t,
        &request,
        libc::EINVAL,
        Some("invalid attribute length"),
        Some(8),
    )
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
    let mut cases = vec![(Command::Echo, vec![], attrs::DATA)];
    if crate::testing_nltest() {
        cases.push((Command::Broadcast, vec![Attr::Data(vec![1])], attrs::GROUP));
        cases.push((Command::Broadcast, vec![Attr::Group(1)], attrs::DATA));
    }
    for (command, attrs, missing) in cases {
        let request = Request::Custom(Message::new(command, attrs));
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
    // BROADCAST's DATA has the same limit.
    let broadcast = Request::Broadcast {
        group: 1,
        data: vec![1; 101],
    };
    expect_error(t, &broadcast, libc::EMSGSIZE, Some(message), Some(0))?;
    guest::unload()
}
