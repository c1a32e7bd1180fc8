//! Network namespaces: traffic and counters of their own, namespaces created
//! and destroyed while clients run, rmmod with namespaces alive.

use super::{cli_args, echo, stats, unit, value, HOST_PROGRAM_LIMIT, SHORT};
use crate::guest::{self, run};
use crate::Test;
use anyhow::{bail, ensure, Context, Result};
use nltest_client::{protocol::*, Error, RawMessage, Transport};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

pub fn tests() -> Vec<Test> {
    tests! {
        #[on_both_transports] namespaces_keep_traffic_and_counters_apart,
        #[on_both_transports] namespace_churn_while_clients_run,
        #[on_both_transports] rmmod_with_namespaces_alive,
    }
}

fn in_new_network_namespace<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    thread::spawn(move || {
        // Namespaces belong to the thread: this one moves alone.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            bail!("unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
        }
        work()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("namespace thread panicked"))?
}

fn namespaces_keep_traffic_and_counters_apart(t: Transport) -> Result<()> {
    let mut outside_listener = t.listen(ECHO_GROUP)?;
    let mut outside = t.connect()?;
    let outside_before = stats(&mut outside, false)?;
    let inside = in_new_network_namespace(move || {
        let mut listener = t.listen(ECHO_GROUP)?;
        let mut socket = t.connect()?;
        let fresh = stats(&mut socket, false)?;
        socket.request(&echo(b"inside"), false)?;
        unit()?.echo(RawMessage {
            nlmsg_type: 0,
            data: b"inside raw".to_vec(),
        })?;
        // The unit's group 1 also gets the raw echo; the family's events
        // only the typed one.
        let mut events = listener.recv_broadcasts()?.len();
        if !t.is_genl() {
            events += listener.recv_broadcasts()?.len();
        }
        let after = stats(&mut socket, false)?;
        Ok((fresh, after, events))
    })?;
    let (fresh, inside_after, inside_events) = inside;
    ensure!(
        value(&fresh, Counter::Echoes, None) == 0,
        "a new namespace starts at zero: {fresh:?}"
    );
    ensure!(
        value(&inside_after, Counter::Echoes, None) == 2,
        "inside: {inside_after:?}"
    );
    let expected_events = if t.is_genl() { 1 } else { 2 };
    ensure!(
        inside_events == expected_events,
        "the inside listener got {inside_events} broadcasts"
    );
    outside_listener.set_timeout(SHORT)?;
    ensure!(
        matches!(outside_listener.recv(), Err(Error::Timeout(_))),
        "a broadcast crossed namespaces"
    );
    let outside_after = stats(&mut outside, false)?;
    ensure!(
        value(&outside_after, Counter::Echoes, None)
            == value(&outside_before, Counter::Echoes, None),
        "outside counters moved: {outside_before:?} -> {outside_after:?}"
    );
    Ok(())
}

fn namespace_churn_while_clients_run(t: Transport) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        thread::spawn(move || -> Result<u64> {
            let mut socket = t.connect()?;
            let mut echoes = 0;
            while !stop.load(Ordering::Relaxed) {
                socket.request(&echo(b"steady"), false)?;
                echoes += 1;
            }
            Ok(echoes)
        })
    };
    let churn = (|| -> Result<()> {
        for round in 0..30 {
            in_new_network_namespace(move || {
                let mut socket = t.connect()?;
                let _listener = t.listen(ECHO_GROUP)?;
                socket.request(&echo(format!("round {round}").as_bytes()), true)?;
                Ok(())
            })
            .with_context(|| format!("namespace {round}"))?;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let echoes = client
        .join()
        .map_err(|_| anyhow::anyhow!("client panicked"))??;
    churn?;
    ensure!(echoes > 0, "the steady client echoed nothing");
    Ok(())
}

fn rmmod_with_namespaces_alive(t: Transport) -> Result<()> {
    // Namespaces kept alive by a bind mount, as `ip netns add` does, hold
    // the module's kernel sockets; rmmod must release them all. Names of
    // their own per transport: a failed run cannot leave them to the other.
    let genl = cli_args(t).join(" ");
    let (a, b) = if t.is_genl() {
        ("genl-a", "genl-b")
    } else {
        ("unit-a", "unit-b")
    };
    let (ok, output) = run(
        "sh",
        &[
            "-c",
            &format!("/usr/bin/ip netns add {a} && /usr/bin/ip netns add {b} && /usr/bin/ip netns exec {a} nltest {genl} echo --typed in-a"),
        ],
        HOST_PROGRAM_LIMIT,
    )?;
    ensure!(ok, "{output}");
    guest::unload()?;
    guest::load(&[])?;
    let mut args = vec!["netns", "exec", b, "nltest"];
    args.extend(cli_args(t));
    args.extend(["stats", "--json"]);
    let (ok, output) = run("ip", &args, HOST_PROGRAM_LIMIT)?;
    ensure!(
        ok && output.contains("\"requests\":1"),
        "after reload, namespace {b}: {output}"
    );
    let (ok, output) = run(
        "sh",
        &[
            "-c",
            &format!("/usr/bin/ip netns del {a} && /usr/bin/ip netns del {b}"),
        ],
        HOST_PROGRAM_LIMIT,
    )?;
    ensure!(ok, "{output}");
    Ok(())
}
