// SPDX-License-Identifier: GPL-2.0

//! Attribute policies and parsed attributes.

use crate::bindings;
use core::marker::PhantomData;

/// A strict attribute policy (`struct nla_policy[N]`) for attributes `1..N`;
/// type 0 and any attribute not given a type are rejected.
///
/// Policies are built in constant context and kept in `static`s: the netlink
/// core keeps a pointer to the policy in the extended ack of a failed
/// validation (`extack->policy`) and reads it after the request callback has
/// returned, when it writes the ack.
pub(crate) struct Policy<const N: usize>(pub(super) [bindings::nla_policy; N]);

// SAFETY: a policy is never written after its construction, and the pointers
// of its unions are all null: sharing it between threads is sound.
unsafe impl<const N: usize> Sync for Policy<N> {}

impl<const N: usize> Policy<N> {
    /// A policy that accepts no attribute.
    pub(crate) const fn new() -> Self {
        // SAFETY: `nla_policy` holds integers, and unions of integers and
        // pointers: all-zero is valid, and means `NLA_UNSPEC` with no
        // validation, which a strict parse rejects.
        Self(unsafe { core::mem::zeroed() })
    }

    /// `attr` is a binary blob of any length.
    pub(crate) const fn binary(mut self, attr: u16) -> Self {
        self.0[attr as usize].type_ = bindings::NLA_BINARY as u8;
        self
    }

    /// `attr` is a u32 between `min` and `max`, inclusive.
    // Mutable references and pointer writes in `const fn` need Rust 1.83,
    // newer than the kernel's minimum (1.78): the module needs 1.83.
    #[allow(clippy::incompatible_msrv)]
    pub(crate) const fn u32_range(mut self, attr: u16, min: i16, max: i16) -> Self {
        let entry = &mut self.0[attr as usize];
        entry.type_ = bindings::NLA_U32 as u8;
        entry.validation_type = bindings::nla_policy_validation_NLA_VALIDATE_RANGE as u8;
        let range = bindings::nla_policy__bindgen_ty_1__bindgen_ty_1 { min, max };
        let union = core::ptr::addr_of_mut!(entry.__bindgen_anon_1)
            .cast::<bindings::nla_policy__bindgen_ty_1__bindgen_ty_1>();
        // SAFETY: `union` points to the union in `entry`, which is large
        // enough for each of its variants; `min`/`max` is the variant range
        // validation of a u32 reads.
        unsafe { union.write(range) };
        self
    }

    /// The highest attribute type the policy covers.
    pub(super) const fn max_type() -> usize {
        N - 1
    }
}

/// One attribute of a request, valid for the request's lifetime.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    pub(super) ptr: *const bindings::nlattr,
    _request: PhantomData<&'a ()>,
}

impl<'a> Attr<'a> {
    /// The attribute's payload.
    pub(crate) fn bytes(self) -> &'a [u8] {
        // SAFETY: `__nla_parse` checked that the attribute and its payload
        // lie within the request, which outlives `'a`.
        unsafe {
            let len = bindings::nla_len(self.ptr) as usize;
            core::slice::from_raw_parts(bindings::nla_data(self.ptr).cast::<u8>(), len)
        }
    }

    /// The attribute's payload as a u32 (a policy of type u32 checked its size).
    pub(crate) fn u32(self) -> Option<u32> {
        self.bytes()
            .first_chunk()
            .map(|bytes| u32::from_ne_bytes(*bytes))
    }
}

/// The attributes of a request, indexed by type, checked against a policy.
pub(crate) struct Attributes<'a, const N: usize> {
    pub(super) table: [*mut bindings::nlattr; N],
    pub(super) _request: PhantomData<&'a ()>,
}

impl<'a, const N: usize> Attributes<'a, N> {
    /// The attribute of type `attr`, if the request has it.
    pub(crate) fn get(&self, attr: u16) -> Option<Attr<'a>> {
        let ptr = *self.table.get(usize::from(attr))?;
        (!ptr.is_null()).then_some(Attr {
            ptr,
            _request: PhantomData,
        })
    }
}
