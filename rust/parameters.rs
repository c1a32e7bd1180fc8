// SPDX-License-Identifier: GPL-2.0

//! Module parameters, declared in `params.c`.

use crate::bindings;

/// The `unit` parameter: the netlink protocol unit to register.
pub(crate) fn unit() -> i32 {
    // SAFETY: `nltest_param_unit` is a read-only (0444) module parameter: it is
    // written only while the module's parameters are parsed, before `init`.
    unsafe { bindings::nltest_param_unit }
}
