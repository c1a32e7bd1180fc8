//! Every allocation failed once, as syzkaller injects faults: for each kind of
//! request, `/proc/thread-self/fail-nth` fails the 1st fault-injectable
//! allocation of the exchange (the syscalls that send the request and read
//! its answer, in the netlink core and in the module), then the 2nd, and so
//! on until the exchange goes through with the fault unused. Each time the
//! client must get a clear answer (an error, or nothing, never a hang) and
//! the next request must be answered correctly; the debug run's kmemleak scan
//! then checks that nothing leaked. Run with `--faults` on the debug kernel.

use crate::Test;
use crate::{coverage, guest};
use anyhow::{bail, ensure, Context, Result};
use nltest_client::{protocol::*, Error, ModuleSocket, RawMessage, Request, Transport};
use std::os::unix::fs::FileExt;
use std::time::Duration;

/// Run with `--faults`.
pub fn faults() -> Vec<Test> {
    tests! {
        fail_nth_raw_echo,
        fail_nth_batch_of_raw_echoes,
        fail_nth_typed_echo,
        fail_nth_broadcast,
        fail_nth_get_stats,
        fail_nth_get_stats_dump,
        genl_fail_nth_typed_echo,
        genl_fail_nth_broadcast,
        genl_fail_nth_get_stats,
        genl_fail_nth_get_stats_dump_across_reads,
        fail_nth_module_load,
    }
}

fn fail_nth_raw_echo() -> Result<()> {
    each_allocation(Path::RawEcho)
}

fn fail_nth_batch_of_raw_echoes() -> Result<()> {
    each_allocation(Path::RawBatch)
}

fn fail_nth_typed_echo() -> Result<()> {
    each_allocation(Path::Typed(unit(), Kind::Echo))
}

fn fail_nth_broadcast() -> Result<()> {
    each_allocation(Path::Typed(unit(), Kind::Broadcast))
}

fn fail_nth_get_stats() -> Result<()> {
    each_allocation(Path::Typed(unit(), Kind::Stats))
}

fn fail_nth_get_stats_dump() -> Result<()> {
    each_allocation(Path::Typed(unit(), Kind::Dump))
}

fn genl_fail_nth_typed_echo() -> Result<()> {
    each_allocation(Path::Typed(Transport::Genl, Kind::Echo))
}

fn genl_fail_nth_broadcast() -> Result<()> {
    each_allocation(Path::Typed(Transport::Genl, Kind::Broadcast))
}

fn genl_fail_nth_get_stats() -> Result<()> {
    each_allocation(Path::Typed(Transport::Genl, Kind::Stats))
}

fn genl_fail_nth_get_stats_dump_across_reads() -> Result<()> {
    each_allocation(Path::Typed(Transport::Genl, Kind::Dump))
}

fn fail_nth_module_load() -> Result<()> {
    each_allocation_of_the_module_load()
}

fn unit() -> Transport {
    Transport::Unit(crate::unit())
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Echo,
    Broadcast,
    Stats,
    Dump,
}

#[derive(Clone, Copy, Debug)]
enum Path {
    /// One raw echo, with a listener on group 1.
    RawEcho,
    /// Eight raw echoes in one `sendmsg`, with a listener on group 1.
    RawBatch,
    /// A typed request on a transport (with a listener for events).
    Typed(Transport, Kind),
}

const FAIL_NTH: &str = "/proc/thread-self/fail-nth";
/// More sites than any path has: a path that never completes fault-free
/// within this many is reported.
const MOST_SITES: u32 = 200;

/// `/proc/thread-self/fail-nth` of the calling thread, opened once: opening
/// it allocates, which would take the armed fault. Reading and writing an
/// open one does not.
struct FailNth(std::fs::File);

impl FailNth {
    fn open() -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(FAIL_NTH)
            .with_context(|| format!("opening {FAIL_NTH} (the debug kernel has it)"))?;
        Ok(Self(file))
    }

    /// The `n`-th fault-injectable call of this thread from now fails.
    fn arm(&self, n: u32) -> Result<()> {
        self.0
            .write_at(n.to_string().as_bytes(), 0)
            .with_context(|| format!("writing {FAIL_NTH}"))?;
        Ok(())
    }

    /// Disarms; whether the armed fault was injected (the count reached 0).
    fn disarm(&self) -> Result<bool> {
        let mut left = [0u8; 16];
        let len = self
            .0
            .read_at(&mut left, 0)
            .with_context(|| format!("reading {FAIL_NTH}"))?;
        let left: u32 = std::str::from_utf8(&left[..len])
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .context("fail-nth is not a number")?;
        self.0
            .write_at(b"0", 0)
            .with_context(|| format!("writing {FAIL_NTH}"))?;
        Ok(left == 0)
    }
}

/// The fault injection attributes fail-nth goes through: let them fail
/// allocations that may sleep (GFP_KERNEL), as the module's are.
fn allow_sleeping_allocations_to_fail() -> Result<()> {
    for dir in [
        "/sys/kernel/debug/failslab",
        "/sys/kernel/debug/fail_page_alloc",
    ] {
        if !std::path::Path::new(dir).exists() {
            bail!("{dir} is missing: this needs the debug kernel with debugfs mounted");
        }
        std::fs::write(format!("{dir}/ignore-gfp-wait"), "N")
            .with_context(|| format!("writing {dir}/ignore-gfp-wait"))?;
        // fail-nth counts every site; probability 0 keeps random faults off.
        std::fs::write(format!("{dir}/probability"), "0")?;
    }
    Ok(())
}

/// One exchange of `path`: the answer, or the clear failure the client saw.
fn exchange(path: Path, socket: &mut ModuleSocket, round: u32) -> Result<(), Error> {
    let data = format!("fail-nth round {round}").into_bytes();
    let raw = |data: Vec<u8>| RawMessage {
        nlmsg_type: 0,
        data,
    };
    match path {
        Path::RawEcho => socket.echo(raw(data)).map(|_| ()),
        Path::RawBatch => {
            let first = socket.send(0, (0..8).map(|_| raw(data.clone())))?;
            let mut echoed = 0;
            while echoed < 8 {
                echoed += socket
                    .recv()?
                    .iter()
                    .filter(|reply| reply.seq().wrapping_sub(first) < 8)
                    .count();
            }
            Ok(())
        }
        Path::Typed(_, kind) => {
            let request = match kind {
                Kind::Echo => Request::Echo { data },
                Kind::Broadcast => Request::Broadcast {
                    group: ECHO_GROUP,
                    data,
                },
                Kind::Stats => Request::GetStats { dump: false },
                Kind::Dump => Request::GetStats { dump: true },
            };
            socket.request(&request, true).map(|_| ())
        }
    }
}

impl Path {
    /// The transport the path's requests take.
    fn transport(self) -> Transport {
        match self {
            Path::Typed(transport, _) => transport,
            Path::RawEcho | Path::RawBatch => unit(),
        }
    }
}

fn connect(path: Path) -> Result<ModuleSocket> {
    Ok(path.transport().connect()?)
}

/// Fails each allocation of `path`'s exchange once, in order; prints how
/// many sites the exchange has.
fn each_allocation(path: Path) -> Result<()> {
    allow_sleeping_allocations_to_fail()?;
    if matches!(path, Path::Typed(_, Kind::Dump)) {
        // A dump across several reads: each read's round allocates.
        guest::unload()?;
        guest::load(&["dump_batch=4"])?;
    }
    // Someone listens, so that events and broadcasts are built and sent.
    let mut listener = path.transport().listen(ECHO_GROUP)?;
    listener.set_nonblocking(true)?;
    let mut socket = connect(path)?;
    socket.set_timeout(Duration::from_millis(300))?;
    let fail_nth = FailNth::open()?;
    let (mut refused, mut lost) = (0, 0);
    let mut n = 1;
    loop {
        ensure!(
            n <= MOST_SITES,
            "{path:?} still hit a fault at site {MOST_SITES}"
        );
        fail_nth.arm(n)?;
        let outcome = exchange(path, &mut socket, n);
        let injected = fail_nth.disarm()?;
        match outcome {
            Ok(()) => {}
            Err(Error::Kernel { .. } | Error::Io { .. } | Error::Overrun) => refused += 1,
            Err(Error::Timeout(_)) => lost += 1,
            Err(other) => bail!("{path:?}, allocation {n} failed: the client saw {other:?}"),
        }
        // Whatever the fault did, the next exchange is answered: a fresh
        // socket, since a fault may have left a dump half read on the old one.
        while listener.recv().is_ok() {}
        socket = connect(path)?;
        socket.set_timeout(Duration::from_secs(10))?;
        exchange(path, &mut socket, 0)
            .with_context(|| format!("{path:?}: the exchange after failing allocation {n}"))?;
        socket.set_timeout(Duration::from_millis(300))?;
        if !injected {
            break;
        }
        n += 1;
    }
    let sites = n - 1;
    ensure!(sites > 0, "{path:?}: no allocation could be failed");
    println!("       {path:?}: {sites} allocation sites, each failed once: {refused} refused, {lost} unanswered");
    drop(socket);
    drop(listener);
    if matches!(path, Path::Typed(_, Kind::Dump)) {
        guest::unload()?;
    }
    guest::ensure_kernel_log_clean()
}

/// Loads the module with each allocation of the load failed once, in
/// order (the kernel's module loader, then the module's init: its kernel
/// socket, per-namespace state and generic netlink family), until it loads
/// with the fault unused. Each failed load must be refused with an error and
/// leave nothing behind: the next load without a fault works and answers,
/// and the debug run's kmemleak scan finds nothing.
fn each_allocation_of_the_module_load() -> Result<()> {
    allow_sleeping_allocations_to_fail()?;
    guest::unload()?;
    let module = std::fs::File::open(guest::MODULE).context("opening the module")?;
    let fail_nth = FailNth::open()?;
    let mut n = 1;
    let mut refused = 0;
    loop {
        ensure!(
            n <= 20 * MOST_SITES,
            "the module load still hit a fault at site {n}"
        );
        // The watch's thread and the trace's bookkeeping (system calls that
        // allocate in the kernel) stay outside the armed window: only the
        // load's own allocations count.
        let watch = coverage::module_loading();
        fail_nth.arm(n)?;
        let outcome = guest::finit_module(&module, &[]);
        let injected = fail_nth.disarm()?;
        coverage::module_loaded(watch, outcome.is_ok());
        match outcome {
            Ok(()) if !injected => break,
            Ok(()) => guest::unload()?,
            Err(_) => refused += 1,
        }
        ensure!(
            !guest::is_loaded()?,
            "a load failed at allocation {n} left the module loaded"
        );
        guest::load(&[]).with_context(|| format!("loading after failing allocation {n}"))?;
        let mut socket = ModuleSocket::connect(DEFAULT_UNIT)?;
        socket
            .echo(RawMessage {
                nlmsg_type: 0,
                data: format!("after failing allocation {n} of a load").into_bytes(),
            })
            .with_context(|| format!("the echo after failing allocation {n} of a load"))?;
        drop(socket);
        guest::unload()?;
        n += 1;
    }
    let sites = n - 1;
    println!(
        "       module load: {sites} allocation sites, each failed once: {refused} loads refused"
    );
    guest::ensure_kernel_log_clean()
}
