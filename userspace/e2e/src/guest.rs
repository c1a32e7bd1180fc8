//! What the tests do to the guest: load and unload the module, run programs
//! with a time limit, read the kernel log.

use anyhow::{bail, ensure, Context, Result};
use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Where qemu/run puts the module in the guest.
const MODULE: &str = "/modules/nltest.ko";

pub fn is_loaded() -> Result<bool> {
    let modules = std::fs::read_to_string("/proc/modules").context("reading /proc/modules")?;
    Ok(modules.lines().any(|line| line.starts_with("nltest ")))
}

pub fn insmod(params: &[&str]) -> Result<Output> {
    Command::new("insmod")
        .arg(MODULE)
        .args(params)
        .output()
        .context("running insmod")
}

pub fn load(params: &[&str]) -> Result<()> {
    let output = insmod(params)?;
    ensure!(
        output.status.success(),
        "insmod failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Unloads the module, retrying while open sockets of its protocol still hold
/// it (rmmod fails with EBUSY until they are closed).
pub fn unload() -> Result<()> {
    unload_within(Duration::from_secs(20))
}

/// Tries rmmod once: whether the module was unloaded.
pub fn try_unload() -> Result<bool> {
    let output = Command::new("rmmod")
        .arg("nltest")
        .output()
        .context("running rmmod")?;
    Ok(output.status.success())
}

/// [`unload`], giving up after `limit`.
pub fn unload_within(limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let output = Command::new("rmmod")
            .arg("nltest")
            .output()
            .context("running rmmod")?;
        if output.status.success() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "rmmod kept failing: {}",
                String::from_utf8_lossy(&output.stderr)
            );
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
