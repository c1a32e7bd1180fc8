// SPDX-License-Identifier: GPL-2.0

//! Attribute policies and parsed attributes.

use crate::bindings;
use core::marker::PhantomData;

/// A strict attribute policy (`struct nla_policy[N]`) for attributes `1..N`;
/// type 0 and any attribute not given a type are rejected.
pub(crate) struct Policy<const N: usize>(pub(super) [bindings::nla_policy; N]);

impl<const N: usize> Policy<N> {
    /// A policy that accepts no attribute.
    pub(crate) fn new() -> Self {
        Self(core::array::from_fn(|_| bindings::nla_policy::default()))
    }

    /// `attr` is a binary blob of any length.
    pub(crate) fn binary(mut self, attr: u16) -> Self {
        self.0[usize::from(attr)].type_ = bindings::NLA_BINARY as u8;
        self
    }

    /// `attr` is a u32 between `min` and `max`, inclusive.
    pub(crate) fn u32_range(mut self, attr: u16, min: i16, max: i16) -> Self {
        let entry = &mut self.0[usize::from(attr)];
        entry.type_ = bindings::NLA_U32 as u8;
        entry.validation_type = bindings::nla_policy_validation_NLA_VALIDATE_RANGE as u8;
        let range = bindings::nla_policy__bindgen_ty_1__bindgen_ty_1 { min, max };
        // SAFETY: the union's storage is large enough for each of its
        // variants; `min`/`max` is the one range validation of a u32 reads.
        unsafe { *entry.__bindgen_anon_1.__bindgen_anon_1.as_mut() = range };
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
