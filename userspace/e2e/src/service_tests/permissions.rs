//! Permissions: what an unprivileged user may do, and `nonroot_listen`.

use super::{cli_args, LIMIT};
use crate::guest::{self, first_line, run, wait_with_limit};
use crate::Test;
use anyhow::{ensure, Result};
use nltest_client::Transport;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

pub fn tests() -> Vec<Test> {
    tests! {
        #[on_both_transports] unprivileged_user_echoes_but_cannot_broadcast_or_listen,
        #[on_both_transports] nonroot_listen_lets_anyone_listen,
    }
}

/// Runs the nltest CLI as uid/gid 65534.
fn nobody(t: Transport, args: &[&str]) -> Result<(bool, String)> {
    let child = Command::new("nltest")
        .args(cli_args(t))
        .args(args)
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    wait_with_limit(child, LIMIT)
}

fn unprivileged_user_echoes_but_cannot_broadcast_or_listen(t: Transport) -> Result<()> {
    let (ok, output) = nobody(t, &["echo", "--typed", "from nobody"])?;
    ensure!(ok, "nobody could not echo: {output}");
    if !t.is_genl() {
        let (ok, output) = nobody(t, &["echo", "raw from nobody"])?;
        ensure!(ok, "nobody could not echo raw: {output}");
    }
    let (ok, output) = nobody(t, &["broadcast", "--group", "1", "x"])?;
    // The generic netlink core refuses it (GENL_UNS_ADMIN_PERM) without a
    // message; the CLI says what is missing.
    let refusal: &[&str] = if t.is_genl() {
        &[
            "Error: Operation not permitted",
            "Hint: this needs CAP_NET_ADMIN in the user namespace that owns the network \
             namespace",
        ]
    } else {
        &["Error: broadcast needs CAP_NET_ADMIN"]
    };
    ensure!(
        !ok && refusal.iter().all(|line| output.contains(line)),
        "broadcast: {output}"
    );
    let (ok, output) = nobody(t, &["listen", "--count", "1", "--timeout", "2"])?;
    let group = if t.is_genl() {
        "group events of generic netlink family nltest"
    } else {
        "multicast group 1 of protocol 17"
    };
    let refusal = format!(
        "Error: cannot join {group}: listening needs CAP_NET_ADMIN, unless the module \
         was loaded with nonroot_listen=1"
    );
    ensure!(!ok && output.contains(&refusal), "listen: {output}");
    Ok(())
}

fn nonroot_listen_lets_anyone_listen(t: Transport) -> Result<()> {
    guest::unload()?;
    guest::load(&["nonroot_listen=1"])?;
    let mut listener = Command::new("nltest")
        .args(cli_args(t))
        .args(["listen", "--count", "1", "--timeout", "10"])
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let line = first_line(&mut listener)?;
    let expected = if t.is_genl() {
        "listening on generic netlink family nltest group events"
    } else {
        "listening on protocol 17 group 1"
    };
    ensure!(
        line.starts_with(expected),
        "nobody's listener said {line:?}"
    );
    let mut args = cli_args(t).to_vec();
    args.extend(["echo", "--typed", "hello nobody"]);
    let (ok, output) = run("nltest", &args, LIMIT)?;
    ensure!(ok, "{output}");
    let (ok, output) = wait_with_limit(listener, LIMIT)?;
    ensure!(
        ok && output.contains("uid 0: 12 bytes \"hello nobody\""),
        "listener: {output}"
    );
    // Still no broadcasting for nobody.
    let (ok, _) = nobody(t, &["broadcast", "x"])?;
    ensure!(!ok, "nobody broadcast with nonroot_listen=1");
    guest::unload()
}
