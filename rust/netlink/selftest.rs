// SPDX-License-Identifier: GPL-2.0

//! Tests of the layer's pure parts, run at load by a module built with
//! `NLTEST_SELFTEST=1` (Kbuild sets `--cfg nltest_selftest`): message
//! framing over a byte slice, attribute streams, the policy builder, and
//! and parsing against a policy by the kernel's own `__nla_parse`. The
//! test kernels have no KUnit; these run on every supported kernel without
//! rebuilding it. [`run`] reports `N passed, M failed` in the kernel log.

use super::attr::{AttrTable, Attributes, ParseTable, PolicyTable, ATTR_HEADER_LEN};
use super::message::{align, Header, Malformed, Messages, HEADER_LEN};
use super::skb::attribute_size;
use crate::bindings;
use crate::protocol::{attrs, raw};
use kernel::prelude::*;

/// One test: `Err` says what went wrong.
type Test = fn() -> core::result::Result<(), &'static str>;

macro_rules! check {
    ($condition:expr) => {
        if !$condition {
            return Err(stringify!($condition));
        }
    };
}

/// A message header of `nlmsg_len` and `nlmsg_type`, as bytes.
fn header(nlmsg_len: u32, nlmsg_type: u16) -> [u8; HEADER_LEN] {
    Header {
        nlmsg_len,
        nlmsg_type,
        nlmsg_flags: 0,
        nlmsg_seq: 7,
        nlmsg_pid: 0,
    }
    .to_bytes()
}

/// An attribute header of `len` (`nla_len`) and type `kind`, as bytes.
fn attr_header(len: u16, kind: u16) -> [u8; 4] {
    let [a, b] = len.to_ne_bytes();
    let [c, d] = kind.to_ne_bytes();
    [a, b, c, d]
}

fn empty_datagram_has_no_messages() -> core::result::Result<(), &'static str> {
    check!(Messages::new(&[]).next().is_none());
    Ok(())
}

fn header_only_message() -> core::result::Result<(), &'static str> {
    let datagram = header(HEADER_LEN as u32, 0x10);
    let mut messages = Messages::new(&datagram);
    let Some(Ok(message)) = messages.next() else {
        return Err("no message");
    };
    check!(message.payload.is_empty());
    check!(message.header().nlmsg_type == 0x10 && message.header().nlmsg_seq == 7);
    check!(messages.next().is_none());
    Ok(())
}

fn messages_are_aligned() -> core::result::Result<(), &'static str> {
    // 17 bytes, 3 of padding, then a message of 16.
    let mut datagram = [0u8; 36];
    datagram[..16].copy_from_slice(&header(17, 0x10));
    datagram[16] = 0xaa;
    datagram[20..].copy_from_slice(&header(16, 0x11));
    let mut messages = Messages::new(&datagram);
    let Some(Ok(first)) = messages.next() else {
        return Err("no first message");
    };
    check!(first.payload == [0xaa]);
    let Some(Ok(second)) = messages.next() else {
        return Err("no second message");
    };
    check!(second.header().nlmsg_type == 0x11);
    check!(messages.next().is_none() && messages.is_empty());
    Ok(())
}

fn last_message_may_lack_padding() -> core::result::Result<(), &'static str> {
    let mut datagram = [0u8; 18];
    datagram[..16].copy_from_slice(&header(18, 0));
    let mut messages = Messages::new(&datagram);
    check!(matches!(messages.next(), Some(Ok(m)) if m.payload.len() == 2));
    check!(messages.next().is_none());
    Ok(())
}

fn truncated_header() -> core::result::Result<(), &'static str> {
    let mut messages = Messages::new(&[0u8; 10]);
    check!(matches!(messages.next(), Some(Err(Malformed::Truncated))));
    check!(messages.next().is_none());
    Ok(())
}

fn lengths_short_or_past_the_end() -> core::result::Result<(), &'static str> {
    for len in [0, 15, 33, u32::MAX] {
        let mut datagram = [0u8; 32];
        datagram[..16].copy_from_slice(&header(len, 0x10));
        let mut messages = Messages::new(&datagram);
        check!(matches!(messages.next(), Some(Err(Malformed::BadLength(h))) if h.nlmsg_len == len));
        // Nothing after a wrong length can be framed.
        check!(messages.next().is_none());
    }
    Ok(())
}

fn zero_length_attribute() -> core::result::Result<(), &'static str> {
    let stream = attr_header(4, attrs::DATA);
    let mut table = AttrTable::new();
    let found = parse(&mut table, &stream).map_err(|_| "refused")?;
    check!(matches!(found.get(attrs::DATA), Some(a) if a.bytes().is_empty()));
    Ok(())
}

fn attributes_are_aligned_and_byte_order_masked() -> core::result::Result<(), &'static str> {
    // 5 bytes (1 of payload, 3 of padding), then a u32 flagged
    // NLA_F_NET_BYTEORDER, which is not part of its type.
    let mut stream = [0u8; 16];
    stream[..4].copy_from_slice(&attr_header(5, attrs::DATA));
    stream[4] = 0x5a;
    stream[8..12].copy_from_slice(&attr_header(8, attrs::GROUP | (1 << 14)));
    stream[12..].copy_from_slice(&3u32.to_ne_bytes());
    let mut table = AttrTable::new();
    let found = parse(&mut table, &stream).map_err(|_| "refused")?;
    check!(matches!(found.get(attrs::DATA), Some(a) if a.bytes() == [0x5a]));
    check!(found.get(attrs::GROUP).and_then(|a| a.u32()) == Some(3));
    // NLA_F_NESTED on an attribute that is no nest is refused.
    stream[8..12].copy_from_slice(&attr_header(8, attrs::GROUP | (1 << 15)));
    check!(parse(&mut AttrTable::new(), &stream).is_err());
    Ok(())
}

fn attribute_lengths_short_or_past_the_end() -> core::result::Result<(), &'static str> {
    for len in [0, 3, 9, u16::MAX] {
        let mut stream = [0u8; 8];
        stream[..4].copy_from_slice(&attr_header(len, attrs::DATA));
        check!(parse(&mut AttrTable::new(), &stream).is_err());
    }
    // Fewer bytes than a header.
    check!(parse(&mut AttrTable::new(), &[4, 0, 1]).is_err());
    Ok(())
}

fn maximal_attribute() -> core::result::Result<(), &'static str> {
    let len = usize::from(u16::MAX);
    // 65535 rounds up to 65536: the next attribute starts there.
    let mut stream = KVec::from_elem(0u8, len + 1 + 8, GFP_KERNEL).map_err(|_| "no memory")?;
    stream[..4].copy_from_slice(&attr_header(u16::MAX, attrs::DATA));
    stream[len + 1..len + 5].copy_from_slice(&attr_header(8, attrs::GROUP));
    stream[len + 5..].copy_from_slice(&4u32.to_ne_bytes());
    let mut table = AttrTable::new();
    let found = parse(&mut table, &stream).map_err(|_| "refused")?;
    check!(matches!(found.get(attrs::DATA), Some(a) if a.bytes().len() == len - 4));
    check!(found.get(attrs::GROUP).and_then(|a| a.u32()) == Some(4));
    Ok(())
}

fn nested_attributes() -> core::result::Result<(), &'static str> {
    // DATA { GROUP = 2, DATA = [] }: a nest's payload is a stream of its
    // own, parsed with its own table.
    let mut stream = [0u8; 20];
    stream[..4].copy_from_slice(&attr_header(16, attrs::DATA));
    stream[4..8].copy_from_slice(&attr_header(8, attrs::GROUP));
    stream[8..12].copy_from_slice(&2u32.to_ne_bytes());
    stream[12..16].copy_from_slice(&attr_header(4, attrs::DATA));
    let mut outer = AttrTable::new();
    let found = parse(&mut outer, &stream[..16]).map_err(|_| "outer refused")?;
    let nest = found.get(attrs::DATA).ok_or("no nest")?;
    check!(found.get(attrs::GROUP).is_none());
    let mut inner = AttrTable::new();
    let inside = parse(&mut inner, nest.bytes()).map_err(|_| "inner refused")?;
    check!(inside.get(attrs::GROUP).and_then(|a| a.u32()) == Some(2));
    check!(matches!(inside.get(attrs::DATA), Some(a) if a.bytes().is_empty()));
    Ok(())
}

fn sizes_and_alignment() -> core::result::Result<(), &'static str> {
    check!(ATTR_HEADER_LEN == 4 && HEADER_LEN == 16);
    check!(attribute_size(0) == 4 && attribute_size(1) == 8 && attribute_size(4) == 8);
    check!(attribute_size(5) == 12 && align(0) == 0 && align(17) == 20 && align(20) == 20);
    Ok(())
}

const BROADCAST_REQUEST: &[crate::protocol::ynl::AttrSpec] = match raw::BROADCAST.doit {
    Some(mode) => mode.request,
    None => &[],
};

/// The unit's `BROADCAST` policy, as the module's is built.
static BROADCAST_POLICY: PolicyTable<{ attrs::MAX as usize + 1 }> =
    PolicyTable::new(BROADCAST_REQUEST);

fn policy_table_from_the_spec() -> core::result::Result<(), &'static str> {
    let policy = BROADCAST_POLICY.policy();
    check!(policy.max_attr() == attrs::MAX);
    let len = usize::from(policy.max_attr()) + 1;
    // SAFETY: the policy has `max_attr + 1` entries.
    let entries = unsafe { core::slice::from_raw_parts(policy.as_ptr(), len) };
    check!(entries[0].type_ == 0 && entries[3].type_ == 0 && entries[5].type_ == 0);
    check!(u32::from(entries[1].type_) == bindings::NLA_BINARY);
    check!(u32::from(entries[2].type_) == bindings::NLA_U32);
    check!(
        u32::from(entries[2].validation_type) == bindings::nla_policy_validation_NLA_VALIDATE_RANGE
    );
    // SAFETY: a range-validated u32 entry holds the `min`/`max` variant of
    // its union, which the pointer reads (as the policy builder writes it).
    let range = unsafe {
        core::ptr::addr_of!(entries[2].__bindgen_anon_1)
            .cast::<bindings::nla_policy__bindgen_ty_1__bindgen_ty_1>()
            .read()
    };
    check!(range.min == 1 && range.max == 8);
    Ok(())
}

/// The table a request of the unit's attribute set is parsed into.
type Table = AttrTable<{ attrs::MAX as usize + 1 }>;

/// Parses `stream` into `table` against the unit's `BROADCAST` policy.
fn parse<'a>(table: &'a mut Table, stream: &'a [u8]) -> Result<Attributes<'a>> {
    // SAFETY: all-zero is a valid, empty extended ack.
    let mut extack: bindings::netlink_ext_ack = unsafe { core::mem::zeroed() };
    // SAFETY: the policy's `max_attr` is `attrs::MAX`, below the table's
    // length; `extack` is valid and used by nothing else during the call.
    unsafe { Attributes::parse(table, stream, BROADCAST_POLICY.policy(), &mut extack) }
}

/// Parses `stream` against the unit's `BROADCAST` policy, into a table
/// that lives as long as the test.
fn validate(stream: &[u8]) -> Result<()> {
    parse(&mut AttrTable::new(), stream).map(|_| ())
}

/// `DATA` of `data_len` bytes, then `GROUP` as `group_len` bytes of `group`.
fn broadcast(data_len: u16, group: u32, group_len: u16) -> [u8; 20] {
    let mut stream = [0u8; 20];
    stream[..4].copy_from_slice(&attr_header(4 + data_len, attrs::DATA));
    let at = usize::from(4 + data_len + 3) & !3;
    stream[at..at + 4].copy_from_slice(&attr_header(4 + group_len, attrs::GROUP));
    stream[at + 4..at + 8].copy_from_slice(&group.to_ne_bytes());
    stream
}

fn validation_against_the_policy() -> core::result::Result<(), &'static str> {
    let good = broadcast(4, 8, 4);
    let mut table = AttrTable::new();
    let Ok(found) = parse(&mut table, &good[..16]) else {
        return Err("a valid request was refused");
    };
    check!(found.get(attrs::GROUP).and_then(|a| a.u32()) == Some(8));
    check!(found.get(attrs::DATA).map(|a| a.bytes().len()) == Some(4));
    check!(found.get(attrs::UID).is_none() && found.get(0).is_none());
    check!(found.get(u16::MAX).is_none());
    // Nothing at all is valid too.
    check!(validate(&[]).is_ok());
    Ok(())
}

fn validation_refuses_what_the_policy_does_not_take() -> core::result::Result<(), &'static str> {
    // GROUP out of its range, too short, and trailing bytes.
    check!(validate(&broadcast(4, 9, 4)[..16]).is_err());
    check!(validate(&broadcast(4, 0, 4)[..16]).is_err());
    check!(validate(&broadcast(4, 1, 2)[..16]).is_err());
    check!(validate(&broadcast(4, 1, 4)[..18]).is_err());
    // A type the policy does not list, type 0, a type above max_attr.
    for kind in [attrs::UID, 0, attrs::MAX + 1] {
        let stream = attr_header(4, kind);
        check!(validate(&stream).is_err());
    }
    // A length past the end.
    check!(validate(&attr_header(12, attrs::DATA)).is_err());
    Ok(())
}

fn the_last_of_repeated_attributes() -> core::result::Result<(), &'static str> {
    let mut stream = [0u8; 16];
    stream[..8].copy_from_slice(&broadcast(0, 2, 4)[4..12]);
    stream[8..].copy_from_slice(&broadcast(0, 5, 4)[4..12]);
    let mut table = AttrTable::new();
    let found = parse(&mut table, &stream).map_err(|_| "refused")?;
    // As `__nla_parse` keeps it.
    check!(found.get(attrs::GROUP).and_then(|a| a.u32()) == Some(5));
    Ok(())
}

const TESTS: &[(&str, Test)] = &[
    (
        "empty_datagram_has_no_messages",
        empty_datagram_has_no_messages,
    ),
    ("header_only_message", header_only_message),
    ("messages_are_aligned", messages_are_aligned),
    (
        "last_message_may_lack_padding",
        last_message_may_lack_padding,
    ),
    ("truncated_header", truncated_header),
    (
        "lengths_short_or_past_the_end",
        lengths_short_or_past_the_end,
    ),
    ("zero_length_attribute", zero_length_attribute),
    (
        "attributes_are_aligned_and_byte_order_masked",
        attributes_are_aligned_and_byte_order_masked,
    ),
    (
        "attribute_lengths_short_or_past_the_end",
        attribute_lengths_short_or_past_the_end,
    ),
    ("maximal_attribute", maximal_attribute),
    ("nested_attributes", nested_attributes),
    ("sizes_and_alignment", sizes_and_alignment),
    ("policy_table_from_the_spec", policy_table_from_the_spec),
    (
        "validation_against_the_policy",
        validation_against_the_policy,
    ),
    (
        "validation_refuses_what_the_policy_does_not_take",
        validation_refuses_what_the_policy_does_not_take,
    ),
    (
        "the_last_of_repeated_attributes",
        the_last_of_repeated_attributes,
    ),
];

/// Runs every test, reports each failure and the totals in the kernel log;
/// fails with `EINVAL` when a test failed.
pub(crate) fn run() -> Result {
    let mut failed = 0;
    for (name, test) in TESTS {
        if let Err(what) = test() {
            pr_err!("layer selftest {name} failed: {what}\n");
            failed += 1;
        }
    }
    pr_info!(
        "layer selftest: {} passed, {failed} failed\n",
        TESTS.len() - failed
    );
    if failed == 0 {
        Ok(())
    } else {
        Err(EINVAL)
    }
}
