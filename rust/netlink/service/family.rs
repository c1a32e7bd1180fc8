// SPDX-License-Identifier: GPL-2.0

//! The service as a generic netlink family: one family for every network
//! namespace (`netnsok`), found by name through the controller, whose
//! operations are the service's [`Command`]s with their policies and
//! permissions, and whose multicast groups are declared at registration.
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h).

use super::command::{by_genl_cmd, Command, Service};
use super::dump::{dump_round, Framing};
use super::pernet::{state_of, state_of_net};
use super::registration::Registration;
use super::request::{Request, Served};
use super::transport::Transport;
use crate::bindings;
use crate::netlink::attr::Attributes;
use crate::netlink::genl::GenlInfo;
use crate::netlink::skb::{to_result, ReceivedSkb};
use core::ptr::NonNull;
use kernel::{ffi, prelude::*, ThisModule};

/// Most commands a family can have here.
const MAX_OPS: usize = 8;
/// Most multicast groups a family can have here.
const MAX_GROUPS: usize = 4;

/// A multicast group of the family.
pub(crate) struct Group {
    /// Its name, which listeners resolve through the controller.
    pub(crate) name: &'static str,
    /// Whether joining it needs `CAP_NET_ADMIN` in the user namespace that
    /// owns the network namespace (`GENL_MCAST_CAP_NET_ADMIN`).
    pub(crate) admin_only: bool,
}

/// What the family is called and what it offers besides the commands.
pub(crate) struct FamilyConfig<'a> {
    /// The family's name (at most `GENL_NAMSIZ - 1` bytes).
    pub(crate) name: &'static str,
    /// Its version, in every generic netlink header it sends.
    pub(crate) version: u8,
    /// Its multicast groups; group `n` (from 1) of the commands is the
    /// `n`-th.
    pub(crate) groups: &'a [Group],
}

/// Copies `name` into a C array, NUL-terminated.
fn copy_name(name: &str, to: &mut [ffi::c_char; bindings::GENL_NAMSIZ as usize]) -> Result {
    if name.is_empty() || name.len() >= to.len() || name.bytes().any(|byte| byte == 0) {
        return Err(EINVAL);
    }
    for (to, byte) in to.iter_mut().zip(name.bytes()) {
        *to = byte as ffi::c_char;
    }
    Ok(())
}

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
    // `maxattr`) into a table of `len` entries (null when `maxattr` is 0),
    // which lives until the doit returns.
    let attributes = unsafe { Attributes::parsed(table, len) };
    // SAFETY: the namespace is set up for the service (see above).
    let state = unsafe { state_of_net::<S>(info.net()) };
    let count_sent = |sent| S::sent(state, sent);
    let transport = Transport::Generic {
        info,
        on_sent: &count_sent,
    };
    // SAFETY: `nlhdr` is the request the core checked, `extack` its ack,
    // both valid until the doit returns.
    let request = unsafe { Request::new(transport, skb, info.raw().nlhdr, info.raw().extack) };
    let dispatch = || (command.doit)(state, &request, &attributes).map(|()| Served::Done);
    match S::serve(state, dispatch) {
        Ok(_) => 0,
        Err(error) => error.to_errno(),
    }
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
    match S::serve(state, || Ok(Served::DumpStarted)) {
        Ok(_) => 0,
        Err(error) => error.to_errno(),
    }
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

/// What the kernel reads of a registered family: the family, its operations
/// and its groups, in one allocation that does not move while registered.
/// The operations' policies are the commands' own, in static memory.
struct FamilyStorage {
    family: bindings::genl_family,
    ops: [bindings::genl_ops; MAX_OPS],
    groups: [bindings::genl_multicast_group; MAX_GROUPS],
}

/// The commands of service `S` registered as a generic netlink family, in
/// every network namespace; unregistered on drop.
///
/// The family owns the service's per-namespace [`Registration`], through
/// which its callbacks find the namespace's state: it is registered after
/// it and unregistered before it.
///
/// # Invariants
///
/// `storage` came from `KBox::leak` and holds a registered family, with
/// `ops` and `groups` it points to, while `service` is registered.
pub(crate) struct Family<S: Service> {
    storage: NonNull<FamilyStorage>,
    service: core::mem::ManuallyDrop<Registration<S>>,
}

// SAFETY: the registration is only used to unregister, from any thread.
unsafe impl<S: Service> Send for Family<S> {}
// SAFETY: no method takes `&self`.
unsafe impl<S: Service> Sync for Family<S> {}

impl<S: Service> Family<S> {
    /// Registers the family of `service`: the commands of `S` become its
    /// operations, with their policies and permissions
    /// (`GENL_UNS_ADMIN_PERM`), dumpable ones with a dumpit. Fails with
    /// `EEXIST` when the name is taken (the service is then unregistered).
    pub(crate) fn register(
        module: &'static ThisModule,
        service: Registration<S>,
        config: FamilyConfig<'_>,
    ) -> Result<Self> {
        let commands: &[Command<S::State>] = S::COMMANDS;
        if commands.len() > MAX_OPS || config.groups.len() > MAX_GROUPS {
            return Err(EINVAL);
        }
        let mut storage = KBox::new(
            FamilyStorage {
                family: Default::default(),
                ops: core::array::from_fn(|_| Default::default()),
                groups: core::array::from_fn(|_| Default::default()),
            },
            GFP_KERNEL,
        )?;
        let FamilyStorage {
            family,
            ops,
            groups,
        } = &mut *storage;
        copy_name(config.name, &mut family.name)?;
        family.version = config.version.into();
        family.set_netnsok(1);
        // The commands share nothing but atomic counters.
        family.set_parallel_ops(1);
        family.module = module.as_ptr();
        for (command, op) in commands.iter().zip(ops.iter_mut()) {
            *op = bindings::genl_ops {
                doit: Some(doit_callback::<S>),
                policy: command.genl_policy.table().0.as_ptr(),
                maxattr: command.genl_policy.max_attr().into(),
                cmd: command.message_type.cmd,
                flags: if command.uns_admin_perm {
                    bindings::GENL_UNS_ADMIN_PERM as u8
                } else {
                    0
                },
                ..Default::default()
            };
            if command.dumpit.is_some() {
                op.start = Some(start_callback::<S>);
                op.dumpit = Some(dumpit_callback::<S>);
            }
            family.maxattr = family.maxattr.max(op.maxattr);
        }
        for (group, config) in groups.iter_mut().zip(config.groups) {
            copy_name(config.name, &mut group.name)?;
            group.flags = if config.admin_only {
                bindings::NLTEST_GENL_MCAST_CAP_NET_ADMIN
            } else {
                0
            };
        }
        family.ops = ops.as_ptr();
        family.n_ops = commands.len() as u8;
        family.mcgrps = groups.as_ptr();
        family.n_mcgrps = config.groups.len() as u8;

        let storage = NonNull::from(KBox::leak(storage));
        // SAFETY: the family and what it points to are valid and stay at
        // their address, in the leaked box, until unregistered in `drop`.
        let errno = unsafe {
            bindings::genl_register_family(core::ptr::addr_of_mut!((*storage.as_ptr()).family))
        };
        if let Err(error) = to_result(errno) {
            // SAFETY: not registered: the box is ours again.
            drop(unsafe { KBox::from_raw(storage.as_ptr()) });
            return Err(error);
        }
        // INVARIANT: registered, from `KBox::leak`, while `service` is.
        Ok(Self {
            storage,
            service: core::mem::ManuallyDrop::new(service),
        })
    }
}

impl<S: Service> Drop for Family<S> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant). `genl_unregister_family`
        // waits for running doits (it takes the core's locks), closes the
        // groups' memberships and returns when the kernel no longer uses the
        // storage; running dumps pin the module, so none is left either.
        // The box came from `KBox::leak`.
        unsafe {
            bindings::genl_unregister_family(core::ptr::addr_of!((*self.storage.as_ptr()).family));
            drop(KBox::from_raw(self.storage.as_ptr()));
        }
        // SAFETY: dropped once, here, after the family that used it.
        unsafe { core::mem::ManuallyDrop::drop(&mut self.service) };
    }
}
