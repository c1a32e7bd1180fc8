//! What the tests do to the guest: load and unload the module, run programs
//! with a time limit, read the kernel log.

use crate::coverage;
use anyhow::{bail, ensure, Context, Result};
use std::ffi::CString;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Where qemu/run puts the module in the guest.
pub const MODULE: &str = "/modules/nltest.ko";

pub fn is_loaded() -> Result<bool> {
    let modules = std::fs::read_to_string("/proc/modules").context("reading /proc/modules")?;
    Ok(modules.lines().any(|line| line.starts_with("nltest ")))
}

/// Loads the module with `params`, as insmod does (`finit_module`), from
/// the calling thread, so that a coverage trace of it sees the module's
/// init; `Err` is the kernel's refusal.
pub fn insmod(params: &[&str]) -> std::io::Result<()> {
    insmod_file(&std::fs::File::open(MODULE)?, params)
}

/// [`insmod`] from the module's open file.
pub fn insmod_file(module: &std::fs::File, params: &[&str]) -> std::io::Result<()> {
    let watch = coverage::module_loading();
    let outcome = finit_module(module, params);
    coverage::module_loaded(watch, outcome.is_ok());
    outcome
}

/// The `finit_module` call alone, for a caller that arms a fault for it and
/// tells the coverage trace itself (`coverage::module_loading` before,
/// `coverage::module_loaded` after): nothing else runs in between.
pub fn finit_module(module: &std::fs::File, params: &[&str]) -> std::io::Result<()> {
    let params = CString::new(params.join(" ")).map_err(std::io::Error::other)?;
    // SAFETY: finit_module reads the descriptor and the NUL-terminated
    // parameter string, both alive for the call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            module.as_raw_fd(),
            params.as_ptr(),
            0,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub fn load(params: &[&str]) -> Result<()> {
    insmod(params).with_context(|| format!("insmod {MODULE} {} failed", params.join(" ")))
}

/// Unloads the module once, as rmmod does (`delete_module`, not waiting
/// while it is in use), from the calling thread: a coverage trace sees the
/// module's exit.
fn delete_module() -> std::io::Result<()> {
    let sections = coverage::module_unloading();
    let outcome = delete_module_named(c"nltest");
    coverage::module_unloaded(sections);
    outcome
}

/// Unloads module `name` once (`delete_module`, not waiting while it is in
/// use): for modules other than nltest, which coverage does not follow.
pub fn delete_module_named(name: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: the name is NUL-terminated and alive for the call.
    let result = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Unloads the module, retrying while open sockets of its protocol still hold
/// it (rmmod fails with EBUSY until they are closed).
pub fn unload() -> Result<()> {
    unload_within(Duration::from_secs(20))
}

/// Tries rmmod once: whether the module was unloaded.
pub fn try_unload() -> Result<bool> {
    Ok(delete_module().is_ok())
}

/// [`unload`], giving up after `limit`.
pub fn unload_within(limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let error = match delete_module() {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        if Instant::now() > deadline {
            bail!("rmmod nltest kept failing: {error}");
        }
        sleep(Duration::from_millis(2));
    }
}

pub fn ensure_loaded() -> Result<()> {
    if !is_loaded()? {
        load(&[])?;
    }
    Ok(())
}

pub fn dmesg() -> Result<String> {
    let output = Command::new("dmesg").output().context("running dmesg")?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Kernel log lines that mean the kernel found a bug.
/// Fails, quoting them, when the kernel log holds reports.
pub fn ensure_kernel_log_clean() -> Result<()> {
    let log = dmesg()?;
    let complaints = kernel_complaints(&log);
    ensure!(
        complaints.is_empty(),
        "kernel log:\n{}",
        complaints.join("\n")
    );
    Ok(())
}

pub fn kernel_complaints(log: &str) -> Vec<&str> {
    // The same signs scripts/check-console.sh looks for: the headers of
    // reports, not words ("kmemleak: ... leak detector initialized" is fine).
    const SIGNS: [&str; 9] = [
        "BUG:",
        "WARNING:",
        "Oops",
        "general protection",
        "Kernel panic",
        "unreferenced object",
        "suspected memory leak",
        "panicked at",
        "UBSAN:",
    ];
    log.lines()
        .filter(|line| SIGNS.iter().any(|sign| line.contains(sign)))
        .collect()
}

/// Waits for `child` to exit within `limit`, killing it otherwise; returns
/// whether it succeeded and its standard output, then its standard error.
pub fn wait_with_limit(mut child: Child, limit: Duration) -> Result<(bool, String)> {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("still running after {limit:?}, killed");
        }
        sleep(Duration::from_millis(10));
    };
    let mut output = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut output)?;
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut output)?;
    }
    Ok((status.success(), output))
}

/// Runs a program with a time limit, capturing its output.
pub fn run(program: &str, args: &[&str], limit: Duration) -> Result<(bool, String)> {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    wait_with_limit(child, limit)
}

/// Reads the first line of a child's standard output (e.g. "listening").
pub fn first_line(child: &mut Child) -> Result<String> {
    let out = child.stdout.as_mut().context("no stdout")?;
    let mut line = Vec::new();
    let mut byte = [0u8];
    while out.read(&mut byte)? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Waits for every client thread; the first failure, or panic, is the result.
pub fn join_clients(clients: Vec<std::thread::JoinHandle<Result<()>>>) -> Result<()> {
    for client in clients {
        client
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
    }
    Ok(())
}
