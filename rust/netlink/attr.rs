// SPDX-License-Identifier: GPL-2.0

//! Attribute policies, built from the attribute lists a YNL spec gives each
//! operation, and parsed attributes.

use crate::bindings;
use crate::protocol::ynl::{AttrSpec, AttrType};
use core::mem::MaybeUninit;

/// Size of an attribute's header, aligned (`NLA_HDRLEN`).
pub(super) const ATTR_HEADER_LEN: usize = (core::mem::size_of::<bindings::nlattr>() + 3) & !3;

/// A strict attribute policy: the attributes a command takes, among types
/// `1..=max_attr`, with the types and `checks` of their spec. Type 0, types
/// not listed and types above `max_attr` are rejected. The same policy serves
/// both transports: the module validates the requests of its own unit with
/// it, and the generic netlink core those of the family (where `genl ctrl`
/// shows it).
///
/// The kernel's form of the policy, a [`PolicyTable`], is built in constant
/// context and lives in static memory: the netlink core keeps a pointer to
/// the policy entry a bad attribute broke (`extack->policy`) and reads it
/// after the request callback has returned, to describe it in the ack.
#[derive(Clone, Copy)]
pub(crate) struct Policy {
    /// Entries `0..=max_attr`.
    table: &'static [bindings::nla_policy],
}

impl Policy {
    /// The highest attribute type the policy covers.
    #[inline]
    pub(crate) const fn max_attr(&self) -> u16 {
        (self.table.len() - 1) as u16
    }

    /// The kernel's form of the policy (`struct nla_policy[]`), of
    /// `max_attr + 1` entries.
    #[inline]
    pub(crate) const fn as_ptr(&self) -> *const bindings::nla_policy {
        self.table.as_ptr()
    }
}

/// A policy as the kernel reads it, for attribute types up to `N - 1`:
/// built in constant context from a spec's attribute list, as YNL-generated
/// C declares `nla_policy` arrays of `ATTR_MAX + 1` entries.
pub(crate) struct PolicyTable<const N: usize>([bindings::nla_policy; N]);

// SAFETY: a policy table is not written after its construction, and the
// pointers of its unions are all null: sharing it between threads is sound.
unsafe impl<const N: usize> Sync for PolicyTable<N> {}

impl<const N: usize> PolicyTable<N> {
    /// A policy for attribute types up to `N - 1` that accepts `attrs`, as
    /// a YNL spec describes them. In constant context an attribute type the
    /// kernel's policies cannot check here, or one above `N - 1`, fails the
    /// build.
    pub(crate) const fn new(attrs: &[AttrSpec]) -> Self {
        assert!(
            N >= 1 && N <= u16::MAX as usize,
            "a policy has 1 to 65535 entries"
        );
        // SAFETY: `nla_policy` holds integers, and unions of integers and
        // pointers: all-zero is valid, and means `NLA_UNSPEC` with no
        // validation, which a strict parse rejects.
        let mut table: [bindings::nla_policy; N] = unsafe { core::mem::zeroed() };
        let mut i = 0;
        while i < attrs.len() {
            assert!(attrs[i].value != 0 && (attrs[i].value as usize) < N);
            set(&mut table[attrs[i].value as usize], &attrs[i]);
            i += 1;
        }
        Self(table)
    }

    /// The policy, for a table in static memory.
    pub(crate) const fn policy(&'static self) -> Policy {
        Policy { table: &self.0 }
    }
}

/// Makes `entry` accept `attr`: binary attributes of any length, u32
/// attributes within the spec's `min`/`max` (`NLA_VALIDATE_RANGE`, whose
/// bounds are `s16`).
// Mutable references and pointer writes in `const fn` need Rust 1.83,
// newer than the kernel's minimum (1.78): the module needs 1.83.
#[allow(clippy::incompatible_msrv)]
// Called in constant context only: inlined, it is never compiled as code.
#[inline]
const fn set(entry: &mut bindings::nla_policy, attr: &AttrSpec) {
    match attr.kind {
        AttrType::Binary => entry.type_ = bindings::NLA_BINARY as u8,
        AttrType::U32 => {
            entry.type_ = bindings::NLA_U32 as u8;
            if attr.min.is_none() && attr.max.is_none() {
                return;
            }
            let min = match attr.min {
                Some(min) => min,
                None => 0,
            };
            let max = match attr.max {
                Some(max) => max,
                None => i16::MAX as i64,
            };
            assert!(min >= 0 && min <= max && max <= i16::MAX as i64);
            entry.validation_type = bindings::nla_policy_validation_NLA_VALIDATE_RANGE as u8;
            let range = bindings::nla_policy__bindgen_ty_1__bindgen_ty_1 {
                min: min as i16,
                max: max as i16,
            };
            let union = core::ptr::addr_of_mut!(entry.__bindgen_anon_1)
                .cast::<bindings::nla_policy__bindgen_ty_1__bindgen_ty_1>();
            // SAFETY: `union` points to the union in `entry`, which is
            // large enough for each of its variants; `min`/`max` is the
            // variant range validation of a u32 reads.
            unsafe { union.write(range) };
        }
        _ => panic!("an attribute type requests cannot carry here"),
    }
}

/// One attribute of a request, valid for the request's lifetime: its
/// header and payload, `nla_len` bytes.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    raw: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The attribute at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to an attribute that the netlink core checked
    /// (`nla_len` at least `NLA_HDRLEN`, all of it inside the request),
    /// inside a request that lives for `'a`.
    #[inline]
    unsafe fn from_ptr(ptr: *const bindings::nlattr) -> Self {
        // SAFETY: the caller guarantees an attribute header at `ptr`.
        let len = usize::from(unsafe { (*ptr).nla_len });
        // SAFETY: the caller guarantees `nla_len` readable bytes.
        let raw = unsafe { core::slice::from_raw_parts(ptr.cast::<u8>(), len) };
        Self { raw }
    }

    /// The attribute's header, where it lies in the request.
    #[inline]
    pub(crate) fn as_ptr(self) -> *const bindings::nlattr {
        self.raw.as_ptr().cast()
    }

    /// The attribute's payload (`nla_data`, `nla_len`).
    #[inline]
    pub(crate) fn bytes(self) -> &'a [u8] {
        self.raw.get(ATTR_HEADER_LEN..).unwrap_or_default()
    }

    /// The attribute's payload as a u32 (a policy of type u32 checked its size).
    #[inline]
    pub(crate) fn u32(self) -> Option<u32> {
        self.bytes()
            .first_chunk()
            .map(|bytes| u32::from_ne_bytes(*bytes))
    }
}

/// Room for a request's attributes by type, `0..N` (`struct nlattr *tb[N]`),
/// which [`Attributes::parse`] fills: sized for an attribute set,
/// `ATTR_MAX + 1` entries, as YNL-generated C sizes it. Left uninitialized:
/// `__nla_parse` clears the entries of the policy's types before it fills
/// them, and only those are read.
pub(crate) struct AttrTable<const N: usize>([MaybeUninit<*mut bindings::nlattr>; N]);

/// What a protocol unit parses a request's attributes into: an
/// [`AttrTable`] of some size (the trait is for naming one in a service's
/// declaration; `AttrTable` is its only implementation).
pub(crate) trait ParseTable {
    /// Its number of entries.
    const LEN: usize;

    /// A table whose entries are not initialized.
    fn new() -> Self;

    /// Its first entry, of [`Self::LEN`].
    fn as_mut_ptr(&mut self) -> *mut *mut bindings::nlattr;
}

impl<const N: usize> ParseTable for AttrTable<N> {
    const LEN: usize = N;

    #[inline]
    fn new() -> Self {
        Self([const { MaybeUninit::uninit() }; N])
    }

    #[inline]
    fn as_mut_ptr(&mut self) -> *mut *mut bindings::nlattr {
        self.0.as_mut_ptr().cast()
    }
}

/// The attributes of a request, checked against its command's policy and
/// indexed by type.
///
/// # Invariants
///
/// Each entry of `table` is null or an attribute that the netlink core
/// checked (`__nla_parse`), inside a request that lives for `'a`.
pub(crate) struct Attributes<'a> {
    table: &'a [*mut bindings::nlattr],
}

impl<'a> Attributes<'a> {
    /// The attributes of a parse result: the first `len` entries of `table`,
    /// used in place.
    ///
    /// # Safety
    ///
    /// `table` must point to `len` entries, each null or an attribute the
    /// netlink core checked, inside a request that lives for `'a`, and the
    /// table must live for `'a` too.
    #[inline]
    pub(super) unsafe fn parsed(table: *const *mut bindings::nlattr, len: usize) -> Self {
        // SAFETY: the caller guarantees `len` readable entries for `'a`.
        let table = unsafe { core::slice::from_raw_parts(table, len) };
        // INVARIANT: the entries come from the caller's checked table.
        Self { table }
    }

    /// Parses `stream`, the attributes of a request, into `table` against
    /// `policy`, strictly (`__nla_parse` with `NL_VALIDATE_STRICT`), as the
    /// generic netlink core parses a family's requests: unknown, malformed
    /// or out-of-range attributes, and trailing bytes, fail with the
    /// kernel's own errno and extended ack, which points at the attribute
    /// (and, through `extack->policy`, at the policy's entry: the policy is
    /// `'static`).
    ///
    /// # Safety
    ///
    /// `policy.max_attr()` must be below `T::LEN`; `extack` must be valid,
    /// and used by nothing else during the call.
    #[inline]
    pub(super) unsafe fn parse<T: ParseTable>(
        table: &'a mut T,
        stream: &'a [u8],
        policy: Policy,
        extack: *mut bindings::netlink_ext_ack,
    ) -> kernel::error::Result<Self> {
        // The length is an `int`, as `nlmsg_attrlen` computes it: no
        // datagram that long reaches a socket (`netlink_sendmsg` refuses one
        // larger than `sk_sndbuf`, an `int`), and clamping needs no branch.
        let len = stream.len().min(i32::MAX as usize) as i32;
        // SAFETY: `table` has `T::LEN` entries, more than `max_attr`, as the
        // caller guarantees; `stream` is at least `len` readable bytes; the
        // policy has `max_attr + 1` entries in static memory; the caller
        // vouches for `extack`.
        super::skb::to_result(unsafe {
            bindings::__nla_parse(
                table.as_mut_ptr(),
                policy.max_attr().into(),
                stream.as_ptr().cast(),
                len,
                policy.as_ptr(),
                bindings::NLTEST_VALIDATE_STRICT,
                extack,
            )
        })?;
        // SAFETY: `__nla_parse` filled the table's first `max_attr + 1`
        // entries with null or checked attributes of `stream`; both live for
        // `'a`.
        Ok(unsafe { Self::parsed(table.as_mut_ptr(), usize::from(policy.max_attr()) + 1) })
    }

    /// The attribute of type `attr`, if the request has it (the last one,
    /// as `__nla_parse` keeps, when it has several).
    #[inline]
    pub(crate) fn get(&self, attr: u16) -> Option<Attr<'a>> {
        let ptr = *self.table.get(usize::from(attr))?;
        // SAFETY: a non-null entry is a checked attribute of the request
        // (type invariant).
        (!ptr.is_null()).then(|| unsafe { Attr::from_ptr(ptr) })
    }
}
