// SPDX-License-Identifier: GPL-2.0

//! The commands of a service, declared once as data and served over both
//! transports: the service's own protocol unit (its input loop) and its
//! generic netlink family (doit and dumpit operations).

use super::dump::DumpWriter;
use super::pernet::Service;
use super::request::{Request, Served};
use crate::netlink::attr::{Attributes, Policy};
use crate::protocol::ynl::{AttrSpec, Operation};
use kernel::prelude::*;

/// One message, as it is identified on each transport: its `nlmsg_type` on
/// the protocol unit, its command (`genlmsghdr.cmd`) in the family.
#[derive(Clone, Copy)]
pub(crate) struct MessageType {
    /// `nlmsg_type` on the service's protocol unit.
    pub(crate) nlmsg_type: u16,
    /// Command of the generic netlink family.
    pub(crate) cmd: u8,
}

impl MessageType {
    /// The numbers of one operation in the specs of both transports.
    pub(crate) const fn of(unit: &Operation<u16>, genl: &Operation<u8>) -> Self {
        Self {
            nlmsg_type: unit.value,
            cmd: genl.value,
        }
    }
}

/// The request attributes of an operation's `do`, as its spec lists them.
const fn do_request(operation: &Operation<impl Copy>) -> &'static [AttrSpec] {
    match operation.doit {
        Some(mode) => mode.request,
        None => &[],
    }
}

/// A typed command of service `S`.
pub(crate) struct Command<S: Service + ?Sized> {
    /// Its name, in error messages.
    pub(crate) name: &'static str,
    /// The request's type on each transport; its reply has the same.
    pub(crate) message_type: MessageType,
    /// The attributes it takes on the protocol unit; checked before `doit`
    /// is called.
    pub(crate) unit_policy: Policy,
    /// The attributes it takes in the generic netlink family, which the
    /// generic netlink core checks (and the controller shows).
    pub(crate) genl_policy: Policy,
    /// Whether the sender needs `CAP_NET_ADMIN` in the user namespace that
    /// owns the network namespace (`GENL_UNS_ADMIN_PERM` in the family).
    pub(crate) uns_admin_perm: bool,
    /// Serves a request whose attributes passed the policy.
    pub(crate) doit: fn(&S::State, &Request<'_>, &Attributes<'_>) -> Result,
    /// One round of a dump (`NLM_F_DUMP`), when the command has dumps.
    pub(crate) dumpit: Option<fn(&S::State, &mut DumpWriter<'_>) -> Result>,
}

impl<S: Service + ?Sized> Command<S> {
    /// The command that one operation of the specs describes, on the
    /// protocol unit (`unit`) and in the generic netlink family (`genl`):
    /// its numbers, each transport's policy (the attributes of its `do`
    /// request, with that transport's `checks`), its permission. Fails the
    /// build when the specs and the handlers disagree on dumps.
    pub(crate) const fn new(
        unit: &Operation<u16>,
        genl: &Operation<u8>,
        doit: fn(&S::State, &Request<'_>, &Attributes<'_>) -> Result,
        dumpit: Option<fn(&S::State, &mut DumpWriter<'_>) -> Result>,
    ) -> Self {
        assert!(unit.doit.is_some() && genl.doit.is_some());
        assert!(unit.dumpit.is_some() == dumpit.is_some());
        assert!(genl.dumpit.is_some() == dumpit.is_some());
        Self {
            name: genl.name,
            message_type: MessageType::of(unit, genl),
            unit_policy: Policy::new(unit.attr_max, do_request(unit)),
            genl_policy: Policy::new(genl.attr_max, do_request(genl)),
            // The netlink-raw spec format has no permission flags: the
            // family's spec speaks for both transports.
            uns_admin_perm: genl.uns_admin_perm,
            doit,
            dumpit,
        }
    }
}

/// The command of `S` whose `nlmsg_type` on the unit is `nlmsg_type`.
#[inline]
pub(super) fn by_nlmsg_type<S: Service>(nlmsg_type: u16) -> Option<&'static Command<S>> {
    S::COMMANDS
        .iter()
        .find(|command| command.message_type.nlmsg_type == nlmsg_type)
}

/// The command of `S` whose generic netlink command is `cmd`.
pub(super) fn by_genl_cmd<S: Service>(cmd: u8) -> Option<&'static Command<S>> {
    S::COMMANDS
        .iter()
        .find(|command| command.message_type.cmd == cmd)
}

/// Serves a request that came through the protocol unit: what the generic
/// netlink core does for the family (find the command, check the
/// permission, parse the attributes, start a dump), then the command.
pub(super) fn serve_unit_request<S: Service>(
    state: &S::State,
    request: &Request<'_>,
) -> Result<Served> {
    S::requested(state);
    unit_request::<S>(state, request).inspect_err(|&error| S::failed(state, error))
}

#[inline]
fn unit_request<S: Service>(state: &S::State, request: &Request<'_>) -> Result<Served> {
    let Some(command) = by_nlmsg_type::<S>(request.nlmsg_type()) else {
        request.set_error_message(c"unknown command");
        return Err(crate::compat::code::eopnotsupp());
    };
    if command.uns_admin_perm && !request.sender_is_net_admin() {
        request.set_error_fmt(format_args!("{} needs CAP_NET_ADMIN", command.name));
        return Err(EPERM);
    }
    let mut attributes = Attributes::empty();
    request.parse_into(&command.unit_policy, &mut attributes)?;
    if request.is_dump() && command.dumpit.is_some() {
        return request.start_dump::<S>();
    }
    (command.doit)(state, request, &attributes).map(|()| Served::Done)
}
