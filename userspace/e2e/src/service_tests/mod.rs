//! End-to-end tests of the typed protocol, on the module's protocol unit and
//! through its generic netlink family, by concern; the helpers they share.

mod clients;
mod echo;
mod errors;
mod events;
mod family;
mod namespaces;
mod permissions;
mod stats;

use crate::Test;
use anyhow::{bail, Result};
use nltest_client::{protocol::*, ModuleSocket, Request, Response, Stat, Transport};
use std::time::Duration;

/// The typed service's tests, concern by concern.
pub fn tests() -> Vec<Test> {
    [
        echo::tests(),
        errors::tests(),
        events::tests(),
        stats::tests(),
        permissions::tests(),
        namespaces::tests(),
        family::tests(),
        clients::tests(),
    ]
    .concat()
}

pub(super) const LIMIT: Duration = Duration::from_secs(20);

pub(super) const SHORT: Duration = Duration::from_millis(300);

/// For iproute2's `ip` and `genl` and for `bash`, started from the host's
/// file system with their shared libraries over 9p: beyond 20 s on the KASAN
/// kernel when the host is busy.
pub(super) const HOST_PROGRAM_LIMIT: Duration = Duration::from_secs(120);

pub(super) fn unit() -> Result<ModuleSocket> {
    Ok(ModuleSocket::connect(crate::unit())?)
}

pub(super) fn echo(data: &[u8]) -> Request {
    Request::Echo {
        data: data.to_vec(),
    }
}

/// The arguments that select `t` in the nltest CLI.
pub(super) fn cli_args(t: Transport) -> &'static [&'static str] {
    if t.is_genl() {
        &["--genl"]
    } else {
        &[]
    }
}

pub(super) fn stats(socket: &mut ModuleSocket, dump: bool) -> Result<Vec<Stat>> {
    let responses = socket.request(&Request::GetStats { dump }, false)?;
    let mut stats = Vec::new();
    for response in responses {
        match response {
            Response::Stats(part) => stats.extend(part),
            other => bail!("unexpected {other:?}"),
        }
    }
    Ok(stats)
}

pub(super) fn value(stats: &[Stat], counter: Counter, group: Option<u32>) -> u64 {
    stats
        .iter()
        .find(|s| s.counter == counter && s.group == group)
        .map_or(u64::MAX, |s| s.value)
}
