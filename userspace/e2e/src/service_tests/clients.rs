//! Clients written with other netlink libraries (userspace/e2e/clients/): the
//! kernel's YNL, its nlctrl selftest's checks, pyroute2 and libnl.

use super::LIMIT;
use crate::guest::run;
use crate::Test;
use anyhow::{ensure, Context, Result};
use nltest_client::Transport;
use std::time::Duration;

pub fn tests() -> Vec<Test> {
    tests! {
        #[on_both_transports] kernel_ynl_client_drives_every_operation,
        genl_controller_shows_what_the_spec_says,
        genl_pyroute2_client,
        genl_libnl_client,
    }
}

/// For an interpreter started from the host's file system: python3 imports
/// its modules over 9p, which took 7 to 14 s under TCG and 30 to 81 s on the
/// KASAN kernel.
const INTERPRETER_LIMIT: Duration = Duration::from_secs(300);

/// Runs a client written with another netlink library (userspace/e2e/clients/),
/// which prints `ok NAME` or `FAILED NAME: why` per check and fails when one
/// did; the test fails with the failed checks.
fn foreign_client(program: &str, args: &[&str], limit: Duration) -> Result<()> {
    let (ok, output) = run(program, args, limit)?;
    let checks = output
        .lines()
        .filter(|line| line.starts_with("ok "))
        .count();
    let failed: Vec<&str> = output
        .lines()
        .filter(|line| line.starts_with("FAILED"))
        .collect();
    ensure!(
        ok && failed.is_empty() && checks > 0,
        "{program} {}: {}",
        args.join(" "),
        if failed.is_empty() {
            output.trim().to_string()
        } else {
            failed.join("; ")
        }
    );
    Ok(())
}

/// A Python client in userspace/e2e/clients/, from the project's tree as
/// the guest sees it.
fn python_client(script: &str, args: &[&str]) -> Result<()> {
    let top = std::env::var("NLTEST_TOP")
        .context("NLTEST_TOP is unset: run the suite through qemu/run")?;
    let script = format!("{top}/userspace/e2e/clients/{script}");
    let mut all = vec![script.as_str()];
    all.extend_from_slice(args);
    foreign_client("python3", &all, INTERPRETER_LIMIT)
}

/// The kernel's own YNL (its CLI and its Python library, from the running
/// kernel's tree) drives every operation over the transport with the
/// committed spec, schema validation on: echo, broadcast, stats (do and
/// dump), events, and each error with its extended ack decoded by name
/// (userspace/e2e/clients/ynl_nltest.py).
fn kernel_ynl_client_drives_every_operation(t: Transport) -> Result<()> {
    python_client("ynl_nltest.py", &[if t.is_genl() { "genl" } else { "raw" }])
}

/// As the kernel's selftest nl_nlctrl.py: the controller's view of the family
/// (operations, their flags, their policies, the group) is what the spec
/// says, computed from the spec (userspace/e2e/clients/nlctrl_family.py).
fn genl_controller_shows_what_the_spec_says() -> Result<()> {
    python_client("nlctrl_family.py", &[])
}

/// A pyroute2 client (userspace/e2e/clients/pyroute2_nltest.py): replies
/// matched by sequence number, stats through one attribute map, events.
fn genl_pyroute2_client() -> Result<()> {
    python_client("pyroute2_nltest.py", &[])
}

/// A libnl client (userspace/e2e/clients/libnl_nltest.c): echo matched by
/// libnl's sequence check, stats through one policy, events with sequence
/// number 0, a missing attribute named in the extended ack.
fn genl_libnl_client() -> Result<()> {
    foreign_client("libnl-nltest", &[], LIMIT)
}
