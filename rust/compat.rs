// SPDX-License-Identifier: GPL-2.0

//! What the module uses of Linux 7.3's Rust API, supplied on the older
//! kernels it supports.
//!
//! The module is written against 7.3. This is the only file that knows
//! kernel versions: Kbuild sets `nltest_kernel` to the version of the tree
//! it builds against (`"7.3"` for 7.3 and newer, `"6.12"`), and on 6.12 the
//! items below stand in for what 6.12's `kernel` crate and `macros` lack.
//! The rest of the module imports them from here and never looks at the
//! version.

#[cfg(not(nltest_kernel = "6.12"))]
pub(crate) use kernel::{
    prelude::{module, Zeroable},
    str::CStrExt,
};

#[cfg(nltest_kernel = "6.12")]
pub(crate) use kernel::init::Zeroable;
#[cfg(nltest_kernel = "6.12")]
pub(crate) use linux_6_12::{
    modinfo, module, nul_terminated, param_ops, CStrExt, KernelParam, ModuleParamAccess,
};

/// Error codes 6.12's `kernel::error::code` lacks, as functions, since
/// 6.12's `Error` has no const constructor: `code::emsgsize()` is 7.3's
/// `EMSGSIZE`.
pub(crate) mod code {
    #[cfg(not(nltest_kernel = "6.12"))]
    macro_rules! error {
        ($errno:ident) => {
            kernel::error::code::$errno
        };
    }

    #[cfg(nltest_kernel = "6.12")]
    macro_rules! error {
        ($errno:ident) => {
            kernel::error::Error::from_errno(-(crate::bindings::$errno as i32))
        };
    }

    macro_rules! codes {
        ($($name:ident = $errno:ident;)*) => {$(
            #[doc = concat!("`", stringify!($errno), "`.")]
            #[inline]
            pub(crate) fn $name() -> kernel::error::Error {
                error!($errno)
            }
        )*};
    }

    codes! {
        emsgsize = EMSGSIZE;
        eaddrinuse = EADDRINUSE;
        eopnotsupp = EOPNOTSUPP;
    }
}

#[cfg(nltest_kernel = "6.12")]
mod linux_6_12 {
    //! 6.12's `module!` takes one `author:` and no `params:`; its `CStr` is
    //! the kernel crate's own, so `core::ffi::CStr` lacks the kernel's
    //! methods.

    use crate::bindings;
    use core::{cell::UnsafeCell, ffi::CStr};

    /// 7.3's `kernel::str::CStrExt`, the part the module uses.
    pub(crate) trait CStrExt {
        /// A C pointer to the string, of the kernel's (unsigned) `char`.
        fn as_char_ptr(&self) -> *const kernel::ffi::c_char;
    }

    impl CStrExt for CStr {
        fn as_char_ptr(&self) -> *const kernel::ffi::c_char {
            self.as_ptr().cast()
        }
    }

    /// 7.3's `module!`, with its `authors:` and `params:` fields, on 6.12.
    ///
    /// The parameters are registered as 7.3's macro registers them (a
    /// `kernel_param` in the `__param` section and `parm`/`parmtype`
    /// `.modinfo` entries, not shown in sysfs) with the C parameter
    /// operations of their type, and read as 7.3's are:
    /// `module_parameters::NAME.value()`.
    macro_rules! module {
        (
            type: $type:tt,
            name: $name:tt,
            authors: [$author:tt $(,)?],
            description: $description:tt,
            license: $license:tt,
            params: {
                $($param:ident: $ptype:ident {
                    default: $default:expr,
                    description: $param_description:tt $(,)?
                }),* $(,)?
            } $(,)?
        ) => {
            ::kernel::prelude::module! {
                type: $type,
                name: $name,
                author: $author,
                description: $description,
                license: $license,
            }

            mod module_parameters {
                $(
                    #[allow(non_upper_case_globals)]
                    pub(crate) static $param: $crate::compat::ModuleParamAccess<$ptype> =
                        $crate::compat::ModuleParamAccess::new($default);

                    const _: () = {
                        #[link_section = "__param"]
                        #[used]
                        static PARAM: $crate::compat::KernelParam =
                            $crate::compat::KernelParam::new(
                                concat!(stringify!($param), "\0").as_bytes(),
                                // SAFETY: the C operations are static and
                                // immutable; only their address is taken.
                                unsafe { &$crate::compat::param_ops!($ptype) },
                                $param.as_void_ptr(),
                                crate::THIS_MODULE.as_ptr(),
                            );
                        $crate::compat::modinfo!(
                            concat!("parmtype=", stringify!($param), ":", stringify!($ptype))
                        );
                        $crate::compat::modinfo!(
                            concat!("parm=", stringify!($param), ":", $param_description)
                        );
                    };
                )*
            }
        };
    }
    pub(crate) use module;

    /// A `.modinfo` entry, as `MODULE_INFO` writes it.
    macro_rules! modinfo {
        ($entry:expr) => {
            const _: () = {
                const ENTRY: &str = $entry;
                #[link_section = ".modinfo"]
                #[used]
                static MODINFO: [u8; ENTRY.len() + 1] = $crate::compat::nul_terminated(ENTRY);
            };
        };
    }
    pub(crate) use modinfo;

    /// `entry` and a NUL byte, as an array of `N` bytes (its length + 1).
    pub(crate) const fn nul_terminated<const N: usize>(entry: &str) -> [u8; N] {
        let bytes = entry.as_bytes();
        let mut array = [0; N];
        let mut i = 0;
        while i < bytes.len() {
            array[i] = bytes[i];
            i += 1;
        }
        array
    }

    /// The C operations that parse a parameter of a type.
    macro_rules! param_ops {
        (i32) => {
            $crate::bindings::param_ops_int
        };
        (u32) => {
            $crate::bindings::param_ops_uint
        };
        // C's `bool` is Rust's.
        (bool) => {
            $crate::bindings::param_ops_bool
        };
    }
    pub(crate) use param_ops;

    /// The storage of a module parameter, as 7.3's `ModuleParamAccess`.
    ///
    /// # Invariants
    ///
    /// Written only by the parameter's operations while the module's
    /// arguments are parsed, before `init` (the parameter is not in sysfs),
    /// so reads need no lock.
    #[repr(transparent)]
    pub(crate) struct ModuleParamAccess<T>(UnsafeCell<T>);

    // SAFETY: no write after the module's arguments are parsed (type invariant).
    unsafe impl<T: Sync> Sync for ModuleParamAccess<T> {}

    impl<T: Copy> ModuleParamAccess<T> {
        /// A parameter holding `default` until the arguments are parsed.
        pub(crate) const fn new(default: T) -> Self {
            Self(UnsafeCell::new(default))
        }

        /// The parameter's value.
        pub(crate) fn value(&self) -> T {
            // SAFETY: no concurrent write (type invariant).
            unsafe { *self.0.get() }
        }

        /// Where the C operations write the value.
        pub(crate) const fn as_void_ptr(&'static self) -> *mut kernel::ffi::c_void {
            self.0.get().cast()
        }
    }

    /// A `struct kernel_param` of the `__param` section.
    #[repr(transparent)]
    pub(crate) struct KernelParam(bindings::kernel_param);

    // SAFETY: the kernel only reads it, and what it points to is static.
    unsafe impl Sync for KernelParam {}

    impl KernelParam {
        /// The parameter `name` (NUL-terminated) of `module`, parsed by
        /// `ops` into `arg`.
        pub(crate) const fn new(
            name: &'static [u8],
            ops: &'static bindings::kernel_param_ops,
            arg: *mut kernel::ffi::c_void,
            module: *mut bindings::module,
        ) -> Self {
            Self(bindings::kernel_param {
                name: name.as_ptr().cast(),
                mod_: module,
                ops,
                perm: 0,
                level: -1,
                flags: 0,
                __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 { arg },
            })
        }
    }
}
