// SPDX-License-Identifier: GPL-2.0

//! Attribute policies, built from the attribute lists a YNL spec gives each
//! operation, and parsed attributes.

use crate::bindings;
use crate::protocol::ynl::{AttrSpec, AttrType};
use core::marker::PhantomData;

/// Room of every policy and attribute table: attribute types 0 to
/// `POLICY_LEN - 1`.
pub(crate) const POLICY_LEN: usize = 8;

/// Size of an attribute's header, aligned (`NLA_HDRLEN`).
const ATTR_HEADER_LEN: usize = (core::mem::size_of::<bindings::nlattr>() + 3) & !3;

/// A strict attribute policy: the attributes a command takes, among types
/// `1..=max_attr`, with the types and `checks` of their spec. Type 0, types
/// not listed and types above `max_attr` are rejected. The same policy serves both transports: the module parses the
/// requests of its own unit with it, and the generic netlink core those of
/// the family (where `genl ctrl` shows it).
///
/// The kernel's form of the policy is built in constant context, so that a
/// policy declared in a constant lives in static memory: the netlink core
/// keeps a pointer to the policy entry a bad attribute broke
/// (`extack->policy`) and reads it after the request callback has returned,
/// to describe it in the ack.
pub(crate) struct Policy {
    max_attr: u16,
    table: PolicyTable,
}

impl Policy {
    /// A policy for attribute types up to `max_attr` that accepts `attrs`,
    /// as a YNL spec describes them. In constant context an attribute type
    /// the kernel's policies cannot check here fails the build.
    pub(crate) const fn new(max_attr: u16, attrs: &'static [AttrSpec]) -> Self {
        assert!((max_attr as usize) < POLICY_LEN, "max_attr over POLICY_LEN");
        let mut table = PolicyTable::empty();
        let mut i = 0;
        while i < attrs.len() {
            assert!(attrs[i].value != 0 && attrs[i].value <= max_attr);
            table.set(&attrs[i]);
            i += 1;
        }
        Self { max_attr, table }
    }

    /// The highest attribute type the policy covers.
    pub(super) fn max_attr(&self) -> u16 {
        self.max_attr
    }

    /// The kernel's form of the policy (`struct nla_policy[]`).
    pub(super) fn table(&self) -> &PolicyTable {
        &self.table
    }
}

/// A policy as the kernel reads it: entries `0..=max_attr` are used.
pub(super) struct PolicyTable(pub(super) [bindings::nla_policy; POLICY_LEN]);

// SAFETY: a policy table is not written after its construction, and the
// pointers of its unions are all null: sharing it between threads is sound.
unsafe impl Sync for PolicyTable {}

impl PolicyTable {
    /// A policy that accepts no attribute.
    const fn empty() -> Self {
        // SAFETY: `nla_policy` holds integers, and unions of integers and
        // pointers: all-zero is valid, and means `NLA_UNSPEC` with no
        // validation, which a strict parse rejects.
        Self(unsafe { core::mem::zeroed() })
    }

    /// Accepts `attr`: binary attributes of any length, u32 attributes
    /// within the spec's `min`/`max` (`NLA_VALIDATE_RANGE`, whose bounds
    /// are `s16`).
    // Mutable references and pointer writes in `const fn` need Rust 1.83,
    // newer than the kernel's minimum (1.78): the module needs 1.83.
    #[allow(clippy::incompatible_msrv)]
    const fn set(&mut self, attr: &AttrSpec) {
        let entry = &mut self.0[attr.value as usize];
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
}

/// One attribute of a request, valid for the request's lifetime.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    pub(super) ptr: *const bindings::nlattr,
    _request: PhantomData<&'a ()>,
}

impl<'a> Attr<'a> {
    /// The attribute's payload (`nla_data`, `nla_len`, read here rather
    /// than through out-of-line wrappers of the C inlines: this is the hot
    /// path of every typed request).
    #[inline]
    pub(crate) fn bytes(self) -> &'a [u8] {
        // SAFETY: `__nla_parse` checked that the attribute, whose length
        // includes its header, and its payload lie within the request, which
        // outlives `'a`.
        unsafe {
            let len = usize::from((*self.ptr).nla_len).saturating_sub(ATTR_HEADER_LEN);
            core::slice::from_raw_parts(self.ptr.cast::<u8>().add(ATTR_HEADER_LEN), len)
        }
    }

    /// The attribute's payload as a u32 (a policy of type u32 checked its size).
    pub(crate) fn u32(self) -> Option<u32> {
        self.bytes()
            .first_chunk()
            .map(|bytes| u32::from_ne_bytes(*bytes))
    }
}

/// The attributes of a request, indexed by type, checked against its
/// command's policy.
///
/// # Invariants
///
/// Every entry of `table` is null or an attribute that `__nla_parse`
/// checked, inside a request that lives for `'a`.
pub(crate) struct Attributes<'a> {
    table: [*mut bindings::nlattr; POLICY_LEN],
    _request: PhantomData<&'a ()>,
}

impl<'a> Attributes<'a> {
    /// No attributes.
    #[inline]
    pub(super) fn empty() -> Self {
        // INVARIANT: every entry is null.
        Self {
            table: [core::ptr::null_mut(); POLICY_LEN],
            _request: PhantomData,
        }
    }

    /// Lets `parse` write the attributes into the table of `POLICY_LEN`
    /// entries, in place (a request's attributes are parsed on every
    /// request: moving the table would cost a copy); what it returns is
    /// returned. When it fails, no attributes are left.
    ///
    /// # Safety
    ///
    /// When `parse` succeeds, the entries must be null or attributes that
    /// `__nla_parse` checked, inside a request that lives for `'a`.
    #[inline]
    pub(super) unsafe fn parse_with(
        &mut self,
        parse: impl FnOnce(*mut *mut bindings::nlattr) -> kernel::error::Result,
    ) -> kernel::error::Result {
        // INVARIANT: the caller guarantees what `parse` wrote when it
        // succeeds; otherwise the table is emptied.
        parse(self.table.as_mut_ptr()).inspect_err(|_| *self = Self::empty())
    }

    /// The attributes of a parse result: the first `len` entries of `table`
    /// (none when it is null).
    ///
    /// # Safety
    ///
    /// `table` must be null or point to `len` entries, each null or an
    /// attribute `__nla_parse` checked, inside a request that lives for `'a`.
    pub(super) unsafe fn parsed(table: *const *mut bindings::nlattr, len: usize) -> Self {
        let mut this = Self::empty();
        if !table.is_null() {
            // SAFETY: the caller guarantees `len` readable entries.
            let entries = unsafe { core::slice::from_raw_parts(table, len) };
            for (slot, entry) in this.table.iter_mut().zip(entries) {
                *slot = *entry;
            }
        }
        // INVARIANT: the entries come from the caller's checked table.
        this
    }

    /// The attribute of type `attr`, if the request has it.
    #[inline]
    pub(crate) fn get(&self, attr: u16) -> Option<Attr<'a>> {
        let ptr = *self.table.get(usize::from(attr))?;
        (!ptr.is_null()).then_some(Attr {
            ptr,
            _request: PhantomData,
        })
    }
}
