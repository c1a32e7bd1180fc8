//! The generic netlink family as the controller shows it (iproute2's `genl`,
//! its operations, flags and policies), and rmmod with its listeners attached.

use super::{echo, HOST_PROGRAM_LIMIT};
use crate::guest::{self, run};
use crate::Test;
use anyhow::{bail, ensure, Context, Result};
use nltest_client::{protocol::*, Broadcast, Error, ModuleSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

pub fn tests() -> Vec<Test> {
    tests! {
        genl_ctrl_shows_the_family,
        genl_family_declares_ops_policies_and_permissions,
        genl_rmmod_with_listeners_attached,
    }
}

/// Where iproute2's `genl` is on the host, shared into the guest.
fn genl_program() -> Option<&'static str> {
    ["/usr/sbin/genl", "/usr/bin/genl", "/sbin/genl", "/bin/genl"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
}

fn genl_ctrl_shows_the_family() -> Result<()> {
    let Some(genl) = genl_program() else {
        println!("skip   genl_ctrl_shows_the_family: iproute2's genl is not installed on the host");
        return Ok(());
    };
    let (ok, output) = run(
        genl,
        &["ctrl", "get", "name", genl::FAMILY_NAME],
        HOST_PROGRAM_LIMIT,
    )?;
    ensure!(ok, "genl ctrl get: {output}");
    let mut expected = vec![
        format!("Name: {}", genl::FAMILY_NAME),
        format!("Version: {:#x}", genl::FAMILY_VERSION),
        format!("max attribs: {}", attrs::MAX),
        format!("name: {}", genl::mcgrp::EVENTS),
    ];
    for cmd in [genl::cmd::ECHO, genl::cmd::BROADCAST, genl::cmd::GET_STATS] {
        expected.push(format!("ID-{cmd:#x}"));
    }
    for text in &expected {
        ensure!(output.contains(text.as_str()), "no {text:?} in:\n{output}");
    }
    // The family id it shows is the one the client resolved.
    let family = ModuleSocket::connect_genl()?
        .genl_family()
        .cloned()
        .context("no family")?;
    ensure!(
        output.contains(&format!("ID: {:#x}", family.id)),
        "family id {:#x} not in:\n{output}",
        family.id
    );
    Ok(())
}

/// The operation flags as the controller reports them (iproute2's genl
/// 6.1 does not print them for this family, version 1, though it does for
/// nlctrl, version 2).
fn genl_family_declares_ops_policies_and_permissions() -> Result<()> {
    use nltest_client::genl::*;
    let socket = ModuleSocket::connect_genl()?;
    let family = socket.genl_family().context("no family")?;
    ensure!(
        family.version == u32::from(genl::FAMILY_VERSION),
        "version {}",
        family.version
    );
    // Every operation of the spec but the event, with the flags its modes
    // and permissions give; every one has a policy.
    let expected: Vec<(u32, u32)> = genl::OPERATIONS
        .iter()
        .filter(|op| op.event.is_none())
        .map(|op| {
            let mut flags = GENL_CMD_CAP_HASPOL;
            for (has, flag) in [
                (op.doit.is_some(), GENL_CMD_CAP_DO),
                (op.dumpit.is_some(), GENL_CMD_CAP_DUMP),
                (op.admin_perm, GENL_ADMIN_PERM),
                (op.uns_admin_perm, GENL_UNS_ADMIN_PERM),
            ] {
                if has {
                    flags |= flag;
                }
            }
            (u32::from(op.value), flags)
        })
        .collect();
    ensure!(family.ops == expected, "operations {:#x?}", family.ops);

    // The policies, as the controller dumps them: each operation's request
    // attributes with the spec's checks.
    let policies = ModuleSocket::connect_genl()?.genl_policies()?;
    for op in genl::OPERATIONS.iter().filter(|op| op.event.is_none()) {
        let request = op.doit.map_or(&[][..], |mode| mode.request);
        let mut expected: Vec<AttrPolicyInfo> = request
            .iter()
            .map(|spec| AttrPolicyInfo {
                attr: spec.value,
                attr_type: format!("{:?}", spec.kind),
                min: spec.min.map(i128::from),
                max: spec.max.map(i128::from),
            })
            .collect();
        expected.sort_by_key(|a| a.attr);
        let mut got = policies.get(&op.value).cloned().unwrap_or_default();
        got.sort_by_key(|a| a.attr);
        ensure!(
            got == expected,
            "{}: {got:#?}, expected {expected:#?}",
            op.name
        );
    }
    Ok(())
}

fn genl_rmmod_with_listeners_attached() -> Result<()> {
    // Generic netlink sockets do not pin the module: rmmod goes through with
    // listeners attached and a client sending, and takes the family away.
    let mut listeners = (0..4)
        .map(|_| ModuleSocket::listen_genl())
        .collect::<Result<Vec<_>, _>>()?;
    let mut sender = ModuleSocket::connect_genl()?;
    sender.request(&echo(b"before rmmod"), false)?;
    for listener in &mut listeners {
        ensure!(listener.recv_broadcasts()?.len() == 1);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        thread::spawn(move || {
            let (mut answered, mut refused) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                match sender.request(&echo(b"during rmmod"), false) {
                    Ok(_) => answered += 1,
                    Err(_) => refused += 1,
                }
            }
            (answered, refused)
        })
    };
    thread::sleep(Duration::from_millis(200));
    guest::unload_within(Duration::from_secs(5)).context("rmmod with genl listeners")?;
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let (answered, refused) = client
        .join()
        .map_err(|_| anyhow::anyhow!("client panicked"))?;
    ensure!(
        answered > 0,
        "nothing answered before rmmod ({refused} refused)"
    );
    match ModuleSocket::connect_genl() {
        Err(Error::FamilyNotRegistered { .. }) => {}
        Err(other) => bail!("without the module, resolving the family failed with {other:?}"),
        Ok(_) => bail!("the family is still registered after rmmod"),
    }
    // The old listeners lost their membership; reading them is harmless.
    for listener in &mut listeners {
        listener.set_nonblocking(true)?;
        while let Ok(broadcasts) = listener.recv_broadcasts() {
            ensure!(
                broadcasts
                    .iter()
                    .all(|b| matches!(b, Broadcast::Event { .. })),
                "{broadcasts:?}"
            );
        }
    }
    drop(listeners);
    guest::load(&[])?;
    let mut listener = ModuleSocket::listen_genl()?;
    ModuleSocket::connect_genl()?.request(&echo(b"after reload"), false)?;
    ensure!(listener.recv_broadcasts()?.len() == 1);
    guest::ensure_kernel_log_clean()
}
