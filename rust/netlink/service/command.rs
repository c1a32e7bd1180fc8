// SPDX-License-Identifier: GPL-2.0

//! What a service is: its commands, declared once as data and served over
//! both transports (the service's own protocol unit and its generic netlink
//! family), and what it does besides (the raw protocol, delivery reports,
//! group joins).

use super::dump::DumpIt;
use super::net_id::NetId;
use super::replies::{DeliveryReport, Replies, Sent};
use super::request::{Outcome, Request};
use super::transport::MessageType;
use crate::compat::Zeroable;
use crate::netlink::attr::{Attributes, ParseTable, Policy};
use crate::netlink::message::{Malformed, Message};
use crate::netlink::socket::SocketConfig;
use crate::protocol::ynl::{AttrSpec, Operation};
use kernel::prelude::*;

/// What a netlink service does; the layer calls it for each namespace's
/// kernel socket and for its generic netlink family, possibly on several
/// CPUs at once.
pub(crate) trait Service: 'static {
    /// What the service keeps per network namespace. The kernel allocates it
    /// zero-filled and frees it without dropping it: all-zero must be a valid
    /// value, and a state with a destructor fails the build
    /// ([`super::Registration::new`]).
    type State: Zeroable + Sync;

    /// The typed commands, served on the protocol unit and, when the service
    /// registers a [`super::Family`], over generic netlink.
    const COMMANDS: &'static [Command<Self::State>];

    /// What the protocol unit parses a request's attributes into: an
    /// [`AttrTable`](crate::netlink::AttrTable) of the commands' attribute
    /// set, `ATTR_MAX + 1` entries. A command whose policy covers more fails
    /// the build.
    type AttrTable: ParseTable;

    /// The service's own id for its per-namespace state: a `static` of the
    /// service, which no other service uses.
    fn net_id() -> &'static NetId;

    /// The protocol unit, groups and flags of the kernel sockets.
    fn socket_config() -> SocketConfig;

    /// A message that is not a request (`netlink_rcv_skb` skips it) nor a
    /// control message: the raw protocol. `replies` go to its sender.
    fn raw_message(replies: &Replies<'_>, state: &Self::State, message: &Message<'_>);

    /// A message whose length is wrong; the rest of its datagram is skipped.
    fn malformed(replies: &Replies<'_>, state: &Self::State, malformed: Malformed);

    /// The delivery report of a datagram of replies queued with
    /// [`Replies::copy`] or [`Request::reply_with`], whose sending the layer
    /// deferred: how many, their tallies, and the send's result.
    fn sent(state: &Self::State, sent: Sent);

    /// Serves one typed request: `dispatch` is what the layer does with it
    /// (on the protocol unit: find the command, check the permission, parse
    /// the attributes, run the command or start its dump; over generic
    /// netlink, where the core did the rest: run the command, or start the
    /// dump). A service that observes its requests wraps `dispatch` here;
    /// by default it is called, and nothing else.
    #[inline]
    fn serve(state: &Self::State, dispatch: impl FnOnce() -> Outcome) -> Outcome {
        let _ = state;
        dispatch()
    }

    /// A socket joined multicast `group` of the protocol unit; an error
    /// refuses it. (Generic netlink tells a family which group, not in which
    /// namespace: joins of the family's groups are not reported.)
    fn bind(state: &Self::State, group: u32) -> Result;

    /// A socket left multicast `group` of the protocol unit, or was closed.
    fn unbind(state: &Self::State, group: u32);
}

/// The delivery report of service `S`, for its state in one namespace:
/// [`Service::sent`].
pub(super) struct ReportTo<'a, S: Service>(pub(super) &'a S::State);

impl<S: Service> DeliveryReport for ReportTo<'_, S> {
    #[inline]
    fn sent(&self, sent: Sent) {
        S::sent(self.0, sent)
    }
}

/// The request attributes of an operation's `do`, as its spec lists them.
pub(crate) const fn do_request(operation: &Operation<impl Copy>) -> &'static [AttrSpec] {
    match operation.doit {
        Some(mode) => mode.request,
        None => &[],
    }
}

/// What a command does with a request whose attributes passed its policy,
/// for state `T`.
pub(crate) type DoIt<T> = fn(&T, &Request<'_>, &Attributes<'_>) -> Result;

/// A typed command of a service whose per-namespace state is `T`.
pub(crate) struct Command<T: 'static> {
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
    pub(crate) doit: DoIt<T>,
    /// One round of a dump (`NLM_F_DUMP`), when the command has dumps.
    pub(crate) dumpit: Option<DumpIt<T>>,
}

impl<T: 'static> Command<T> {
    /// The command that one operation of the specs describes, on the
    /// protocol unit (`unit`) and in the generic netlink family (`genl`):
    /// its numbers, each transport's policy (the attributes of its `do`
    /// request, with that transport's `checks`: [`command!`] builds them),
    /// its permission. Fails the build when the specs and the handlers
    /// disagree on dumps or the policies do not cover the operations'
    /// attribute sets.
    pub(crate) const fn new(
        unit: &Operation<u16>,
        genl: &Operation<u8>,
        unit_policy: Policy,
        genl_policy: Policy,
        doit: DoIt<T>,
        dumpit: Option<DumpIt<T>>,
    ) -> Self {
        assert!(unit.doit.is_some() && genl.doit.is_some());
        assert!(unit.dumpit.is_some() == dumpit.is_some());
        assert!(genl.dumpit.is_some() == dumpit.is_some());
        assert!(unit_policy.max_attr() == unit.attr_max && genl_policy.max_attr() == genl.attr_max);
        Self {
            name: genl.name,
            message_type: MessageType::of(unit, genl),
            unit_policy,
            genl_policy,
            // The netlink-raw spec format has no permission flags: the
            // family's spec speaks for both transports.
            uns_admin_perm: genl.uns_admin_perm,
            doit,
            dumpit,
        }
    }
}

/// Whether an attribute table of `len` entries holds the attributes that
/// each of `commands` takes on the protocol unit.
pub(super) const fn unit_attrs_fit<T>(commands: &[Command<T>], len: usize) -> bool {
    let mut i = 0;
    while i < commands.len() {
        if commands[i].unit_policy.max_attr() as usize >= len {
            return false;
        }
        i += 1;
    }
    true
}

/// The command of `commands` whose `nlmsg_type` on the unit is `nlmsg_type`.
#[inline]
pub(super) fn by_nlmsg_type<T>(
    commands: &'static [Command<T>],
    nlmsg_type: u16,
) -> Option<&'static Command<T>> {
    commands
        .iter()
        .find(|command| command.message_type.nlmsg_type == nlmsg_type)
}

/// The command of `commands` whose generic netlink command is `cmd`.
#[inline]
pub(super) fn by_genl_cmd<T>(
    commands: &'static [Command<T>],
    cmd: u8,
) -> Option<&'static Command<T>> {
    commands
        .iter()
        .find(|command| command.message_type.cmd == cmd)
}

/// The [`Command`] that operation `$unit` of the protocol unit's spec and
/// `$genl` of the family's describe, served by `$doit` and, for dumps,
/// `$dumpit` (an `Option`), with each transport's policy in static memory,
/// `attr_max + 1` entries each.
macro_rules! command {
    ($unit:path, $genl:path, $doit:expr, $dumpit:expr $(,)?) => {
        $crate::netlink::Command::new(
            &$unit,
            &$genl,
            const {
                &$crate::netlink::PolicyTable::<{ $unit.attr_max as usize + 1 }>::new(
                    $crate::netlink::do_request(&$unit),
                )
            }
            .policy(),
            const {
                &$crate::netlink::PolicyTable::<{ $genl.attr_max as usize + 1 }>::new(
                    $crate::netlink::do_request(&$genl),
                )
            }
            .policy(),
            $doit,
            $dumpit,
        )
    };
}
pub(crate) use command;
