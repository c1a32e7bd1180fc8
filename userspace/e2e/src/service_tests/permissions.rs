//! Permissions: what an unprivileged user may do, and `nonroot_listen`.

use super::{cli_args, LIMIT};
use crate::guest::{self, first_line, run, wait_with_limit};
use crate::Test;
use anyhow::{bail, ensure, Result};
use nltest_client::{Error, Request, Transport};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

pub fn tests() -> Vec<Test> {
    tests! {
        #[on_both_transports] unprivileged_user_echoes_but_cannot_broadcast_or_listen,
        #[on_both_transports] nonroot_listen_lets_anyone_listen,
        #[on_both_transports] broadcast_needs_cap_net_admin_in_the_sending_thread,
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

/// `CAP_NET_ADMIN` (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;

/// `struct __user_cap_header_struct`, `_LINUX_CAPABILITY_VERSION_3`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`; version 3 takes two of them.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Sets `CAP_NET_ADMIN` in the calling thread's effective set, or clears
/// it: capabilities belong to the thread, and it keeps the capability in
/// its permitted set to raise it again.
fn set_net_admin(effective: bool) -> Result<()> {
    let mut header = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two `CapData` for a version 3 header.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        bail!("capget: {}", std::io::Error::last_os_error());
    }
    if effective {
        data[0].effective |= 1 << CAP_NET_ADMIN;
    } else {
        data[0].effective &= !(1 << CAP_NET_ADMIN);
    }
    // SAFETY: capset reads the header and two `CapData`.
    if unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } != 0 {
        bail!("capset: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// The module (on its unit) and the generic netlink core (for the family)
/// check the capability of the sending thread at each request, whatever the
/// socket's opener had: from the suite's own thread, which a coverage trace
/// follows, without `CAP_NET_ADMIN` in its effective set.
fn broadcast_needs_cap_net_admin_in_the_sending_thread(t: Transport) -> Result<()> {
    let mut socket = t.connect()?;
    let broadcast = Request::Broadcast {
        group: 1,
        data: b"without CAP_NET_ADMIN".to_vec(),
    };
    set_net_admin(false)?;
    let refused = socket.request(&broadcast, false);
    let echoed = socket.request(
        &Request::Echo {
            data: b"x".to_vec(),
        },
        false,
    );
    set_net_admin(true)?;
    match refused {
        Err(Error::Kernel { errno, ack, .. }) => {
            ensure!(errno == libc::EPERM, "errno {errno} instead of EPERM");
            let message = (!t.is_genl()).then_some("broadcast needs CAP_NET_ADMIN");
            ensure!(
                ack.message.as_deref() == message,
                "extended ack {ack:?}, expected {message:?}"
            );
        }
        other => bail!("a broadcast without CAP_NET_ADMIN: {other:?}"),
    }
    ensure!(echoed.is_ok(), "an echo without CAP_NET_ADMIN: {echoed:?}");
    socket
        .request(&broadcast, false)
        .map_err(|error| anyhow::anyhow!("a broadcast with CAP_NET_ADMIN again: {error}"))?;
    Ok(())
}
