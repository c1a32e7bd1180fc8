// SPDX-License-Identifier: GPL-2.0

//! The service as a generic netlink family: one family for every network
//! namespace (`netnsok`), found by name through the controller, whose
//! operations are the service's [`Command`]s with their policies and
//! permissions. The family, its split operations (`genl_split_ops`, a do
//! for each command and a dump for each that has one, each with its
//! policy, as YNL-generated C declares them) and its multicast groups are
//! `static` data built in constant context, sized by the command table and
//! the spec's groups.
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h).

use super::command::{by_genl_cmd, Command, ReportTo, Service};
use super::dump::{dump_round, Framing};
use super::pernet::{state_of, state_of_net};
use super::registration::Registration;
use super::request::{Outcome, Request, Served};
use super::transport::Transport;
use crate::bindings;
use crate::netlink::attr::Attributes;
use crate::netlink::genl::GenlInfo;
use crate::netlink::skb::{to_result, ReceivedSkb};
use crate::protocol::ynl::McastGroup;
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{ffi, prelude::*, types::Opaque, ThisModule};

/// The doit of every operation of service `S`.
///
/// # Safety
///
/// Only the generic netlink core may call it, for a family registered by
/// [`Family<S>`].
unsafe extern "C" fn doit_callback<S: Service>(
    skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> ffi::c_int {
    // SAFETY: the core passes the request's skb, which it owns and does not
    // modify until we return, and the `genl_info` it filled for it, in a
    // namespace where the service is set up (the pernet registration
    // outlives the family).
    let (info, skb) = unsafe { (GenlInfo::from_raw(info), ReceivedSkb::from_raw(skb)) };
    // The core calls the doit of registered commands only.
    let Some(command) = by_genl_cmd(S::COMMANDS, info.cmd()) else {
        return crate::compat::code::eopnotsupp().to_errno();
    };
    let (table, len) = (
        info.raw().attrs,
        usize::from(command.genl_policy.max_attr()) + 1,
    );
    // SAFETY: the core parsed the attributes with the command's policy (its
    // `maxattr`, at least 1: `SplitOps::new` asserts it) into a table of
    // `len` entries it allocated, which lives until the doit returns.
    let attributes = unsafe { Attributes::parsed(table, len) };
    // SAFETY: the namespace is set up for the service (see above).
    let state = unsafe { state_of_net::<S>(info.net()) };
    let report = ReportTo::<S>(state);
    let transport = Transport::Generic {
        info,
        on_sent: &report,
    };
    // SAFETY: `nlhdr` is the request the core checked, `extack` its ack,
    // both valid until the doit returns.
    let request = unsafe { Request::new(transport, skb, info.raw().nlhdr, info.raw().extack) };
    let dispatch =
        || Outcome::from((command.doit)(state, &request, &attributes).map(|()| Served::Done));
    S::serve(state, dispatch).errno()
}

/// The start of a dump of service `S`, which the service sees served.
///
/// # Safety
///
/// Only the generic netlink core may call it, for a family registered by
/// [`Family<S>`].
unsafe extern "C" fn start_callback<S: Service>(cb: *mut bindings::netlink_callback) -> ffi::c_int {
    // SAFETY: the core passes a valid callback state whose `skb` is the
    // request, sent to the generic netlink socket of a namespace where the
    // service is set up.
    let state = unsafe { state_of::<S>((*(*cb).skb).sk) };
    S::serve(state, || Outcome::from(Ok(Served::DumpStarted))).errno()
}

/// The dumpit of every dumpable operation of service `S`.
///
/// # Safety
///
/// Only the generic netlink core may call it, for a family registered by
/// [`Family<S>`].
unsafe extern "C" fn dumpit_callback<S: Service>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> ffi::c_int {
    // SAFETY: for a dump it started, the core keeps the request's
    // `genl_info` in `cb->data`, valid during the dump, with the registered
    // family and the request's generic header.
    let (family, cmd) = unsafe {
        let info = bindings::genl_info_dump(cb);
        ((*info).family, (*(*info).genlhdr).cmd)
    };
    let Some(dumpit) = by_genl_cmd(S::COMMANDS, cmd).and_then(|command| command.dumpit) else {
        return EINVAL.to_errno();
    };
    // SAFETY: the core passes a valid callback state whose `skb` is the
    // request, sent to the generic netlink socket of a namespace where the
    // service is set up, which lives as long as the reader's socket.
    let state = unsafe { state_of::<S>((*(*cb).skb).sk) };
    // SAFETY: called by the core for a dump of the family, whose framing
    // this is.
    unsafe { dump_round(skb, cb, Framing::Generic { family, cmd }, state, dumpit) }
}

/// How many split operations the commands of a table make: a do for each,
/// and a dump for each that has one.
pub(crate) const fn split_ops_len<T>(commands: &[Command<T>]) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < commands.len() {
        len += if commands[i].dumpit.is_some() { 2 } else { 1 };
        i += 1;
    }
    len
}

/// The split operations of the commands of service `S`, `N` of them
/// ([`split_ops_len`]), in the order the generic netlink core requires:
/// by command, a command's do before its dump.
#[repr(transparent)]
pub(crate) struct SplitOps<const N: usize>([bindings::genl_split_ops; N]);

// SAFETY: the operations are not written after their construction; their
// pointers are to functions and to policies in static memory.
unsafe impl<const N: usize> Sync for SplitOps<N> {}

impl<const N: usize> SplitOps<N> {
    /// The operations of the commands of `S`: their policies (the policy of
    /// the do request, which is the dump's too) and permissions
    /// (`GENL_UNS_ADMIN_PERM`). Fails the build when `N` is not
    /// [`split_ops_len`] of the table or the commands are not in increasing
    /// order.
    pub(crate) const fn new<S: Service>() -> Self {
        let commands: &'static [Command<S::State>] = S::COMMANDS;
        assert!(
            N == split_ops_len(commands),
            "N is not split_ops_len(S::COMMANDS)"
        );
        let mut ops = [const { empty_split_op() }; N];
        let (mut i, mut op) = (0, 0);
        while i < commands.len() {
            let command = &commands[i];
            assert!(i == 0 || commands[i - 1].message_type.cmd < command.message_type.cmd);
            let policy = &command.genl_policy;
            // The core parses the attributes of an operation with a
            // `maxattr` into a table it allocates, and passes none without.
            assert!(policy.max_attr() >= 1, "an operation takes attributes");
            let perm = if command.uns_admin_perm {
                bindings::GENL_UNS_ADMIN_PERM as u8
            } else {
                0
            };
            ops[op] = bindings::genl_split_ops {
                __bindgen_anon_1: bindings::genl_split_ops__bindgen_ty_1 {
                    __bindgen_anon_1: bindings::genl_split_ops__bindgen_ty_1__bindgen_ty_1 {
                        pre_doit: None,
                        doit: Some(doit_callback::<S>),
                        post_doit: None,
                    },
                },
                policy: policy.as_ptr(),
                maxattr: policy.max_attr() as ffi::c_uint,
                cmd: command.message_type.cmd,
                flags: bindings::NLTEST_GENL_CMD_CAP_DO | perm,
                ..empty_split_op()
            };
            op += 1;
            if command.dumpit.is_some() {
                ops[op] = bindings::genl_split_ops {
                    __bindgen_anon_1: bindings::genl_split_ops__bindgen_ty_1 {
                        __bindgen_anon_2: bindings::genl_split_ops__bindgen_ty_1__bindgen_ty_2 {
                            start: Some(start_callback::<S>),
                            dumpit: Some(dumpit_callback::<S>),
                            done: None,
                        },
                    },
                    policy: policy.as_ptr(),
                    maxattr: policy.max_attr() as ffi::c_uint,
                    cmd: command.message_type.cmd,
                    flags: bindings::NLTEST_GENL_CMD_CAP_DUMP | perm,
                    ..empty_split_op()
                };
                op += 1;
            }
            i += 1;
        }
        Self(ops)
    }
}

/// A split operation with no callback, policy or flags.
const fn empty_split_op() -> bindings::genl_split_ops {
    bindings::genl_split_ops {
        __bindgen_anon_1: bindings::genl_split_ops__bindgen_ty_1 {
            __bindgen_anon_1: bindings::genl_split_ops__bindgen_ty_1__bindgen_ty_1 {
                pre_doit: None,
                doit: None,
                post_doit: None,
            },
        },
        policy: core::ptr::null(),
        maxattr: 0,
        cmd: 0,
        internal_flags: 0,
        flags: 0,
        validate: 0,
    }
}

/// `name` as a NUL-terminated C array; fails the build when it does not fit.
const fn c_name(name: &str) -> [ffi::c_char; bindings::GENL_NAMSIZ as usize] {
    let bytes = name.as_bytes();
    assert!(!bytes.is_empty() && bytes.len() < bindings::GENL_NAMSIZ as usize);
    let mut array = [0; bindings::GENL_NAMSIZ as usize];
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i] != 0);
        array[i] = bytes[i] as ffi::c_char;
        i += 1;
    }
    array
}

/// The multicast groups of a family, `N` of them, as the spec gives them;
/// group `n` (from 1) of the commands is the `n`-th.
#[repr(transparent)]
pub(crate) struct Groups<const N: usize>([bindings::genl_multicast_group; N]);

// SAFETY: the groups are not written after their construction.
unsafe impl<const N: usize> Sync for Groups<N> {}

impl<const N: usize> Groups<N> {
    /// The groups of `spec` (all `N` of them); joining one needs
    /// `CAP_NET_ADMIN` in the user namespace that owns the network namespace
    /// (`GENL_MCAST_CAP_NET_ADMIN`) when the spec says so and `nonroot` is
    /// false.
    pub(crate) const fn new(spec: &[McastGroup], nonroot: bool) -> Self {
        assert!(spec.len() == N && N <= u8::MAX as usize);
        let mut groups = [const {
            bindings::genl_multicast_group {
                name: [0; bindings::GENL_NAMSIZ as usize],
                flags: 0,
            }
        }; N];
        let mut i = 0;
        while i < N {
            groups[i].name = c_name(spec[i].name);
            if spec[i].uns_admin_perm && !nonroot {
                groups[i].flags = bindings::NLTEST_GENL_MCAST_CAP_NET_ADMIN;
            }
            i += 1;
        }
        Self(groups)
    }
}

/// The commands of service `S` as a generic netlink family, for every
/// network namespace: a `static`, registered with [`Family::register`].
///
/// # Invariants
///
/// `family` points to `split_ops` of `S` in static memory. While `claimed`
/// is false it is written by nothing; the one [`FamilyRegistration`] that
/// claimed it writes it before registering it, after which only the
/// generic netlink core does.
pub(crate) struct Family<S: Service> {
    family: Opaque<bindings::genl_family>,
    claimed: AtomicBool,
    _service: PhantomData<S>,
}

// SAFETY: the family is written only by the registration that claimed it,
// before registering it, and then by the generic netlink core under its
// locks (type invariant).
unsafe impl<S: Service> Sync for Family<S> {}

impl<S: Service> Family<S> {
    /// The family `name`, of `version`, whose operations are `ops`.
    pub(crate) const fn new<const N: usize>(
        name: &str,
        version: u8,
        ops: &'static SplitOps<N>,
    ) -> Self {
        assert!(N <= u8::MAX as usize);
        let mut family: bindings::genl_family =
            // SAFETY: `genl_family` holds integers, pointers, options of
            // functions and a bitfield: all-zero is valid, and means "none".
            unsafe { core::mem::zeroed() };
        family.name = c_name(name);
        family.version = version as ffi::c_uint;
        family.split_ops = ops.0.as_ptr();
        family.n_split_ops = N as u8;
        let commands: &'static [Command<S::State>] = S::COMMANDS;
        let mut i = 0;
        while i < commands.len() {
            let max_attr = commands[i].genl_policy.max_attr() as ffi::c_uint;
            if max_attr > family.maxattr {
                family.maxattr = max_attr;
            }
            i += 1;
        }
        // INVARIANT: the operations are static; not claimed.
        Self {
            family: Opaque::new(family),
            claimed: AtomicBool::new(false),
            _service: PhantomData,
        }
    }

    /// Registers the family of `service` with `groups`, in every network
    /// namespace (`netnsok`), its commands run in parallel (they share
    /// nothing but the state of `S`, which is `Sync`). Fails with `EEXIST`
    /// when the name is taken, `EBUSY` while registered already; the service
    /// is then unregistered.
    pub(crate) fn register<const G: usize>(
        &'static self,
        module: &'static ThisModule,
        service: Registration<S>,
        groups: &'static Groups<G>,
    ) -> Result<FamilyRegistration<S>> {
        if self.claimed.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let family = self.family.get();
        // SAFETY: claimed by this call, the family is ours to write (type
        // invariant); `groups` is static. Once registered, it stays at its
        // address (a static) until unregistered in `drop`.
        let errno = unsafe {
            (*family).module = module.as_ptr();
            (*family).mcgrps = groups.0.as_ptr();
            (*family).n_mcgrps = G as u8;
            (*family).set_netnsok(1);
            (*family).set_parallel_ops(1);
            bindings::genl_register_family(family)
        };
        if let Err(error) = to_result(errno) {
            self.claimed.store(false, Ordering::Release);
            return Err(error);
        }
        // INVARIANT: registered, while `service` is.
        Ok(FamilyRegistration {
            family: self,
            service: ManuallyDrop::new(service),
        })
    }
}

/// A registered [`Family`], which owns the service's per-namespace
/// [`Registration`], through which its callbacks find the namespace's
/// state: it is registered after it and unregistered before it.
/// Unregistered on drop.
///
/// # Invariants
///
/// `family` is registered, claimed by this object, while `service` is.
pub(crate) struct FamilyRegistration<S: Service> {
    family: &'static Family<S>,
    service: ManuallyDrop<Registration<S>>,
}

impl<S: Service> Drop for FamilyRegistration<S> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant). `genl_unregister_family`
        // waits for running doits (it takes the core's locks), closes the
        // groups' memberships and returns when the kernel no longer uses the
        // family; running dumps pin the module, so none is left either.
        unsafe { bindings::genl_unregister_family(self.family.family.get()) };
        self.family.claimed.store(false, Ordering::Release);
        // SAFETY: dropped once, here, after the family that used it.
        unsafe { ManuallyDrop::drop(&mut self.service) };
    }
}
