//! Stress, fuzzing and fault injection, run with `--stress` and `--faults`.

use crate::guest;
use crate::Test;
use anyhow::{bail, ensure, Context, Result};
use nltest_client::{
    protocol::*, Error, ModuleSocket, RawMessage, Request, Response, Stat, Transport,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::Duration;

/// Run with `--stress`.
pub fn stress() -> Vec<Test> {
    tests! {
        eight_clients_in_parallel_every_reply_checked,
        slow_reader_drops_are_counted_exactly,
        insmod_rmmod_100_times_under_load,
        fuzz_campaign,
        genl_and_unit_clients_share_the_counters_exactly,
        genl_fuzz_campaign,
        genl_rmmod_insmod_50_times_under_load,
    }
}

/// Run with `--faults`.
pub fn faults() -> Vec<Test> {
    tests![
        failslab_in_the_module_paths,
        fail_page_alloc_in_the_module_paths,
    ]
}

/// Echoes per client (`NLTEST_STRESS_ECHOES`, default 100000).
fn echoes_per_client() -> u64 {
    std::env::var("NLTEST_STRESS_ECHOES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn raw(data: Vec<u8>) -> RawMessage {
    RawMessage {
        nlmsg_type: 0,
        data,
    }
}

fn stat(stats: &[Stat], which: Counter) -> u64 {
    stats
        .iter()
        .find(|s| s.counter == which && s.group.is_none())
        .map_or(0, |s| s.value)
}

fn stats() -> Result<Vec<Stat>> {
    let mut socket = ModuleSocket::connect(DEFAULT_UNIT)?;
    let mut stats = Vec::new();
    for response in socket.request(&Request::GetStats { dump: false }, false)? {
        if let Response::Stats(part) = response {
            stats.extend(part);
        }
    }
    Ok(stats)
}

/// Who sent it and which one it is: 1 to 64 bytes of the client's number,
/// then the echo's index.
fn client_payload(client: u8, i: u64) -> Vec<u8> {
    let mut data = vec![client; 1 + (i % 64) as usize];
    data.extend_from_slice(&i.to_ne_bytes());
    data
}

fn eight_clients_in_parallel_every_reply_checked() -> Result<()> {
    let count = echoes_per_client();
    let clients: Vec<_> = (0..8u8)
        .map(|client| {
            thread::spawn(move || -> Result<()> {
                let mut socket = ModuleSocket::connect(DEFAULT_UNIT)?;
                for i in 0..count {
                    // Who sent it and which one it is, in every payload: a
                    // reply of another client or out of order fails `echo`.
                    socket
                        .echo(raw(client_payload(client, i)))
                        .with_context(|| format!("client {client}, echo {i}"))?;
                }
                Ok(())
            })
        })
        .collect();
    guest::join_clients(clients)?;
    Ok(())
}

fn slow_reader_drops_are_counted_exactly() -> Result<()> {
    let before = stats()?;
    let mut socket = ModuleSocket::connect(DEFAULT_UNIT)?;
    socket2::SockRef::from(&socket).set_recv_buffer_size(8192)?;
    let (batches, per_batch) = (40, 50);
    for batch in 0..batches {
        socket
            .send(0, (0..per_batch).map(|_| raw(vec![batch as u8; 500])))
            .with_context(|| format!("batch {batch}: the sender must never block or fail"))?;
    }
    let sent = (batches * per_batch) as u64;
    socket.set_nonblocking(true)?;
    let (mut received, mut overruns) = (0u64, 0);
    loop {
        match socket.recv() {
            Ok(replies) => received += replies.len() as u64,
            Err(Error::Overrun) => overruns += 1,
            Err(Error::Timeout(_)) => break,
            Err(error) => return Err(error.into()),
        }
    }
    ensure!(
        overruns > 0,
        "no ENOBUFS after {sent} echoes into an 8 KiB receive buffer"
    );
    let after = stats()?;
    let dropped = stat(&after, Counter::Dropped) - stat(&before, Counter::Dropped);
    ensure!(
        dropped == sent - received,
        "the module counted {dropped} drops; {sent} sent, {received} received, so {} lost",
        sent - received
    );
    Ok(())
}

fn insmod_rmmod_100_times_under_load() -> Result<()> {
    // Every open socket of the protocol pins the module (netlink_create takes
    // a reference), so rmmod only succeeds between two clients' sockets. When
    // that gap does not come within half a second (a slow kernel), the unloader
    // closes the gate: clients finish their current socket and wait.
    let gate = Arc::new(RwLock::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, gate) = (stop.clone(), gate.clone());
            thread::spawn(move || {
                let mut echoes = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let _open = gate.read().unwrap_or_else(|e| e.into_inner());
                    if let Ok(mut socket) = ModuleSocket::connect(DEFAULT_UNIT) {
                        let _ = socket.set_timeout(Duration::from_millis(500));
                        for _ in 0..5 {
                            if socket.echo(raw(vec![1; 64])).is_ok() {
                                echoes += 1;
                            }
                            let _ = socket.request(&Request::GetStats { dump: true }, false);
                        }
                    }
                    drop(_open);
                    thread::sleep(Duration::from_millis(5));
                }
                echoes
            })
        })
        .collect();
    let mut gated = 0;
    let cycles = (|| -> Result<()> {
        for cycle in 0..100 {
            if guest::unload_within(Duration::from_millis(500)).is_err() {
                let _closed = gate.write().unwrap_or_else(|e| e.into_inner());
                gated += 1;
                guest::unload().with_context(|| format!("cycle {cycle}"))?;
            }
            guest::load(&[]).with_context(|| format!("cycle {cycle}"))?;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let echoes: u64 = clients.into_iter().map(|c| c.join().unwrap_or(0)).sum();
    cycles?;
    println!("       {echoes} echoes during the cycles; {gated} of 100 unloads waited for clients to pause");
    ensure!(echoes > 0, "the clients got no echo at all");
    nltest_fuzz::health_check(DEFAULT_UNIT, 0)?;
    Ok(())
}

/// A blind campaign from seed 1, checked every 500 datagrams.
fn campaign_options(datagrams: u64) -> nltest_fuzz::Options {
    nltest_fuzz::Options {
        seed: 1,
        datagrams,
        check_every: 500,
        guided: false,
        progress_every: 0,
    }
}

fn fuzz_campaign() -> Result<()> {
    let iterations = std::env::var("NLTEST_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let report = nltest_fuzz::run(
        nltest_fuzz::Target::Unit(DEFAULT_UNIT),
        campaign_options(iterations),
        None,
    )?;
    println!(
        "       fuzz: seed 1: {} datagrams, {} replies read, {} health checks passed, send errors {:?}",
        report.datagrams, report.replies, report.checks, report.send_errors
    );
    ensure!(
        report.replies > 0,
        "the module answered none of {} datagrams",
        report.datagrams
    );
    Ok(())
}

fn genl_fuzz_campaign() -> Result<()> {
    let iterations = std::env::var("NLTEST_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000u64)
        / 2;
    let report = nltest_fuzz::run(
        nltest_fuzz::Target::Genl,
        campaign_options(iterations),
        None,
    )?;
    println!(
        "       genl fuzz: seed 1: {} datagrams, {} replies read, {} health checks passed, send errors {:?}",
        report.datagrams, report.replies, report.checks, report.send_errors
    );
    ensure!(
        report.replies > 0,
        "nothing answered {} datagrams",
        report.datagrams
    );
    Ok(())
}

/// A typed echo of `data`, its answer checked.
fn typed_echo(socket: &mut ModuleSocket, data: Vec<u8>) -> Result<()> {
    let responses = socket.request(&Request::Echo { data: data.clone() }, false)?;
    ensure!(
        responses == [Response::Echo { data }],
        "unexpected answer {responses:?}"
    );
    Ok(())
}

fn genl_and_unit_clients_share_the_counters_exactly() -> Result<()> {
    // Typed echoes over both transports at once: every answer checked, and
    // the namespace's counters, shared by both, count each exactly once.
    let count = (echoes_per_client() / 10).max(100);
    let before = stats()?;
    let clients: Vec<_> = (0..8u8)
        .map(|client| {
            let transport = if client % 2 == 0 {
                Transport::Genl
            } else {
                Transport::UNIT
            };
            thread::spawn(move || -> Result<()> {
                let mut socket = transport.connect()?;
                for i in 0..count {
                    typed_echo(&mut socket, client_payload(client, i))
                        .with_context(|| format!("client {client} ({transport:?}), echo {i}"))?;
                }
                Ok(())
            })
        })
        .collect();
    guest::join_clients(clients)?;
    let after = stats()?;
    let delta = |which| stat(&after, which) - stat(&before, which);
    let echoes = 8 * count;
    ensure!(
        delta(Counter::Echoes) == echoes,
        "{} echoes counted, {echoes} answered",
        delta(Counter::Echoes)
    );
    // The echoes and the second GET_STATS.
    ensure!(
        delta(Counter::Requests) == echoes + 1,
        "{} requests counted, {} sent",
        delta(Counter::Requests),
        echoes + 1
    );
    ensure!(
        delta(Counter::Errors) == 0,
        "{} errors",
        delta(Counter::Errors)
    );
    println!("       {echoes} typed echoes, half through the generic netlink family, all counted");
    Ok(())
}

fn genl_rmmod_insmod_50_times_under_load() -> Result<()> {
    // Generic netlink sockets do not pin the module: rmmod goes through
    // while clients send, except during a dump (which pins it). Clients
    // resolve the family again after it went away.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                let (mut echoes, mut reconnects) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut socket) = ModuleSocket::connect_genl() else {
                        thread::sleep(Duration::from_millis(1));
                        continue;
                    };
                    reconnects += 1;
                    let _ = socket.set_timeout(Duration::from_millis(500));
                    let _listener = ModuleSocket::listen_genl();
                    while !stop.load(Ordering::Relaxed) {
                        if typed_echo(&mut socket, vec![2; 64]).is_err() {
                            break;
                        }
                        echoes += 1;
                        if socket
                            .request(&Request::GetStats { dump: true }, false)
                            .is_err()
                        {
                            break;
                        }
                    }
                }
                (echoes, reconnects)
            })
        })
        .collect();
    let cycles = (|| -> Result<()> {
        for cycle in 0..50 {
            thread::sleep(Duration::from_millis(20));
            guest::unload().with_context(|| format!("cycle {cycle}"))?;
            guest::load(&[]).with_context(|| format!("cycle {cycle}"))?;
        }
        Ok(())
    })();
    thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let (echoes, reconnects) = clients
        .into_iter()
        .map(|c| c.join().unwrap_or((0, 0)))
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    cycles?;
    println!("       {echoes} generic netlink echoes during 50 cycles, {reconnects} connections");
    ensure!(echoes > 0, "the clients got no echo at all");
    typed_echo(
        &mut ModuleSocket::connect_genl()?,
        b"after the cycles".to_vec(),
    )?;
    guest::ensure_kernel_log_clean()
}

/// Fault injection through debugfs, for the calling thread only
/// (`task-filter` and `make-it-fail`).
struct FaultInjection {
    dir: &'static str,
}

impl FaultInjection {
    fn arm(dir: &'static str, percent: u32) -> Result<Self> {
        let write = |file: &str, value: &str| {
            std::fs::write(format!("{dir}/{file}"), value)
                .with_context(|| format!("writing {dir}/{file}"))
        };
        if !std::path::Path::new(dir).exists() {
            bail!("{dir} is missing: this needs the debug kernel with debugfs mounted");
        }
        write("ignore-gfp-wait", "N")?;
        write("task-filter", "Y")?;
        write("interval", "1")?;
        write("times", "-1")?;
        write("verbose", "0")?;
        write("probability", &percent.to_string())?;
        std::fs::write("/proc/thread-self/make-it-fail", "1").context("make-it-fail")?;
        Ok(Self { dir })
    }
}

impl Drop for FaultInjection {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/thread-self/make-it-fail", "0");
        let _ = std::fs::write(format!("{}/probability", self.dir), "0");
    }
}

/// Echoes (raw and typed) of `size` bytes with allocations failing at random
/// in this thread; the module must answer, refuse or drop, never crash.
fn echoes_under_faults(dir: &'static str, size: usize) -> Result<()> {
    let outcome = thread::spawn(move || -> Result<(u32, u32)> {
        let mut socket = ModuleSocket::connect(DEFAULT_UNIT)?;
        socket.set_timeout(Duration::from_millis(200))?;
        let _faults = FaultInjection::arm(dir, 20)?;
        let (mut ok, mut failed) = (0, 0);
        for i in 0..1000u32 {
            let mut data = vec![0; size];
            data[..4].copy_from_slice(&i.to_ne_bytes());
            let result = if i % 2 == 0 {
                socket.echo(raw(data)).map(|_| ())
            } else {
                socket
                    .request(&Request::Echo { data }, i % 4 == 1)
                    .map(|_| ())
            };
            match result {
                Ok(()) => ok += 1,
                Err(
                    Error::Timeout(_) | Error::Kernel { .. } | Error::Io { .. } | Error::Overrun,
                ) => failed += 1,
                Err(Error::Mismatch { .. }) => bail!("echo {i} came back wrong under faults"),
                Err(error) => return Err(error.into()),
            }
        }
        Ok((ok, failed))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("fault thread panicked"))?;
    let (ok, failed) = outcome?;
    ensure!(
        failed > 0,
        "no echo failed: fault injection did not act ({ok} succeeded)"
    );
    ensure!(ok > 0, "every echo failed under 20% allocation failures");
    nltest_fuzz::health_check(DEFAULT_UNIT, 0).context("after the faults")?;
    println!("       {dir}: {ok} echoes answered, {failed} refused or dropped");
    Ok(())
}

fn failslab_in_the_module_paths() -> Result<()> {
    echoes_under_faults("/sys/kernel/debug/failslab", 64)
}

fn fail_page_alloc_in_the_module_paths() -> Result<()> {
    // Socket buffers with 16 KiB of data come from the page allocator
    // (kmalloc hands sizes over 8 KiB to it), in orders fail_page_alloc
    // fails (min-order 1).
    echoes_under_faults("/sys/kernel/debug/fail_page_alloc", 16 * 1024)
}
