//! `nltest bench`: runs the echo benchmark, optionally against a baseline
//! module and a reference client in alternation, and prints the figures.

use nltest_bench::{batch_that_fits, median_and_spread, run_case, Case, CaseResult, Protocol, Run};
use nltest_client::Error;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct Options {
    pub unit: u32,
    pub baseline_unit: Option<u32>,
    pub reference_client: Option<PathBuf>,
    pub sizes: Vec<usize>,
    pub protocols: Vec<Protocol>,
    /// Echoes per case; default: [`default_count`].
    pub count: Option<u32>,
    pub batch: u32,
    pub rounds: u32,
    pub json: bool,
    /// Also write the JSON results here (the tables still print).
    pub json_file: Option<PathBuf>,
    /// No run one message at a time: its figures are left out.
    pub batched_only: bool,
    pub timeout: Duration,
}

/// Every round's results of one case, for the module under test (`subject`),
/// the baseline module and the reference client.
struct CaseRounds {
    case: Case,
    subject: Vec<CaseResult>,
    baseline: Vec<CaseResult>,
    /// (our client on the baseline, reference client on the baseline)
    /// echoes per second: one at a time, then batched.
    reference: Vec<[(f64, f64); 2]>,
}

/// Echoes per run: enough for about half a second under emulation.
fn default_count(size: usize) -> u32 {
    if size <= 1024 {
        30_000
    } else {
        4_000
    }
}

pub fn run(options: Options) -> Result<(), Error> {
    if options.baseline_unit.is_some() && options.protocols.contains(&Protocol::Genl) {
        return Err(Error::Io {
            context: "--baseline-unit compares modules on their protocol units",
            source: std::io::Error::other("leave genl out of --protocols"),
        });
    }
    let mut cases: Vec<CaseRounds> = Vec::new();
    for &protocol in &options.protocols {
        for &size in &options.sizes {
            cases.push(CaseRounds {
                case: Case {
                    protocol,
                    size,
                    count: options.count.unwrap_or_else(|| default_count(size)),
                    batch: batch_that_fits(size, options.batch),
                    one_at_a_time: !options.batched_only,
                },
                subject: Vec::new(),
                baseline: Vec::new(),
                reference: Vec::new(),
            });
        }
    }
    for round in 1..=options.rounds {
        for rounds in &mut cases {
            let case = rounds.case;
            if !options.json {
                eprintln!(
                    "bench: round {round}/{}: {} {} B",
                    options.rounds,
                    case.protocol.name(),
                    case.size
                );
            }
            // A B, then B A in the next round: the module under test and the
            // baseline take turns, and neither always runs first, so that a
            // drift of the machine's speed hits both alike.
            let subject_first = round % 2 == 1;
            if subject_first || options.baseline_unit.is_none() {
                rounds
                    .subject
                    .push(run_case(options.unit, case, options.timeout)?);
            }
            if let Some(baseline) = options.baseline_unit {
                let ours = run_case(baseline, case, options.timeout)?;
                if let (Some(client), Protocol::Raw) = (&options.reference_client, case.protocol) {
                    let theirs = [
                        reference_client(client, baseline, case.size, case.count, 1)?,
                        reference_client(client, baseline, case.size, case.count, case.batch)?,
                    ];
                    rounds.reference.push([
                        (ours.single.echoes_per_second(), theirs[0]),
                        (ours.batched.echoes_per_second(), theirs[1]),
                    ]);
                }
                rounds.baseline.push(ours);
                if !subject_first {
                    rounds
                        .subject
                        .push(run_case(options.unit, case, options.timeout)?);
                }
            }
        }
    }
    if options.json || options.json_file.is_some() {
        let results = json!({
            "kernel_release": kernel_release(),
            "unit": options.unit,
            "baseline_unit": options.baseline_unit,
            "rounds": options.rounds,
            "cases": cases.iter().map(case_json).collect::<Vec<Value>>(),
        });
        if options.json {
            println!("{results}");
        }
        if let Some(path) = &options.json_file {
            std::fs::write(path, format!("{results}\n")).map_err(|source| Error::Io {
                context: "cannot write the --json-file",
                source,
            })?;
        }
    }
    if !options.json {
        print_tables(&options, &cases);
    }
    Ok(())
}

/// The running kernel's release (`uname -r`), which the figures belong to.
fn kernel_release() -> Option<String> {
    // SAFETY: `utsname` is plain data for which all-zero is valid.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is valid for writes.
    if unsafe { libc::uname(&mut name) } != 0 {
        return None;
    }
    // SAFETY: uname NUL-terminates each field within its array.
    let release = unsafe { std::ffi::CStr::from_ptr(name.release.as_ptr()) };
    Some(release.to_string_lossy().into_owned())
}

/// Runs the reference client (`--unit --size --count --batch --json`) and
/// reads its `echoes_per_second`.
fn reference_client(
    path: &PathBuf,
    unit: u32,
    size: usize,
    count: u32,
    batch: u32,
) -> Result<f64, Error> {
    let output = Command::new(path)
        .args(["--unit", &unit.to_string(), "--size", &size.to_string()])
        .args(["--count", &count.to_string(), "--batch", &batch.to_string()])
        .arg("--json")
        .output()
        .map_err(|source| Error::Io {
            context: "cannot run the reference client",
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Error::Decode(format!(
            "the reference client {} failed ({}): {}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    serde_json::from_str::<Value>(stdout.trim())
        .ok()
        .and_then(|value| value["echoes_per_second"].as_f64())
        .ok_or_else(|| {
            Error::Decode(format!(
                "the reference client printed no echoes_per_second: {}",
                stdout.trim()
            ))
        })
}

/// Median over rounds of one figure.
fn median(results: &[CaseResult], figure: impl Fn(&CaseResult) -> f64) -> f64 {
    let mut values: Vec<f64> = results.iter().map(figure).collect();
    median_and_spread(&mut values).0
}

/// Median and spread over rounds of subject / baseline.
fn ratio(rounds: &CaseRounds, figure: impl Fn(&Run) -> f64, batched: bool) -> (f64, f64, f64) {
    let pick = |result: &CaseResult| {
        if batched {
            figure(&result.batched)
        } else {
            figure(&result.single)
        }
    };
    let mut ratios: Vec<f64> = rounds
        .subject
        .iter()
        .zip(&rounds.baseline)
        .map(|(a, b)| pick(a) / pick(b))
        .collect();
    median_and_spread(&mut ratios)
}

fn reference_ratio(rounds: &CaseRounds, batched: bool) -> Option<(f64, f64, f64)> {
    if rounds.reference.is_empty() {
        return None;
    }
    let mut ratios: Vec<f64> = rounds
        .reference
        .iter()
        .map(|pair| {
            let (ours, theirs) = pair[usize::from(batched)];
            ours / theirs
        })
        .collect();
    Some(median_and_spread(&mut ratios))
}

fn summary_json(results: &[CaseResult]) -> Value {
    let run = |batched: bool| {
        let pick = move |r: &CaseResult| if batched { r.batched } else { r.single };
        json!({
            "echoes": median(results, |r| pick(r).echoes as f64),
            "echoes_per_second": median(results, |r| pick(r).echoes_per_second()),
            // Every round's figure, in the order the rounds ran: the spread
            // a chart shows around the median.
            "echoes_per_second_rounds": results
                .iter()
                .map(|r| pick(r).echoes_per_second())
                .collect::<Vec<f64>>(),
            "syscalls_per_echo": median(results, |r| pick(r).syscalls_per_echo()),
            "user_us_per_echo": median(results, |r| pick(r).user_us_per_echo()),
            "system_us_per_echo": median(results, |r| pick(r).system_us_per_echo()),
        })
    };
    json!({
        "latency_median_us": median(results, |r| r.latency_median.as_secs_f64() * 1e6),
        "latency_p99_us": median(results, |r| r.latency_p99.as_secs_f64() * 1e6),
        "single": run(false),
        "batched": run(true),
    })
}

fn spread_json((median, min, max): (f64, f64, f64)) -> Value {
    json!({ "median": median, "min": min, "max": max })
}

fn case_json(rounds: &CaseRounds) -> Value {
    let mut value = json!({
        "protocol": rounds.case.protocol.name(),
        "size": rounds.case.size,
        "batch": rounds.case.batch,
        "count": rounds.case.count,
        "subject": summary_json(&rounds.subject),
    });
    if !rounds.baseline.is_empty() {
        value["baseline"] = summary_json(&rounds.baseline);
        value["ratio_single"] = spread_json(ratio(rounds, Run::echoes_per_second, false));
        value["ratio_batched"] = spread_json(ratio(rounds, Run::echoes_per_second, true));
    }
    if let Some(single) = reference_ratio(rounds, false) {
        value["client_vs_reference_single"] = spread_json(single);
        value["client_vs_reference_batched"] =
            spread_json(reference_ratio(rounds, true).expect("both or neither"));
    }
    value
}

fn print_summary(
    title: &str,
    unit: u32,
    cases: &[CaseRounds],
    pick: fn(&CaseRounds) -> &[CaseResult],
) {
    println!("{title} (protocol unit {unit}), medians over rounds:");
    println!(
        "{:<6} {:>6} | {:>9} {:>9} | {:>10} {:>8} {:>7} {:>7} | {:>5} {:>10} {:>8} {:>7} {:>7}",
        "", "", "latency", "", "one at a", "time", "", "", "", "batched", "", "", ""
    );
    println!(
        "{:<6} {:>6} | {:>9} {:>9} | {:>10} {:>8} {:>7} {:>7} | {:>5} {:>10} {:>8} {:>7} {:>7}",
        "proto",
        "bytes",
        "median",
        "p99",
        "echoes/s",
        "calls/e",
        "user",
        "kernel",
        "batch",
        "echoes/s",
        "calls/e",
        "user",
        "kernel"
    );
    for rounds in cases {
        let results = pick(rounds);
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let one_at_a_time = if rounds.case.one_at_a_time {
            format!(
                "{:>7.1}us {:>7.1}us | {:>10.0} {:>8.2} {:>5.1}us {:>5.1}us",
                median(results, |r| us(r.latency_median)),
                median(results, |r| us(r.latency_p99)),
                median(results, |r| r.single.echoes_per_second()),
                median(results, |r| r.single.syscalls_per_echo()),
                median(results, |r| r.single.user_us_per_echo()),
                median(results, |r| r.single.system_us_per_echo()),
            )
        } else {
            format!(
                "{:>9} {:>9} | {:>10} {:>8} {:>7} {:>7}",
                "-", "-", "-", "-", "-", "-"
            )
        };
        println!(
            "{:<6} {:>6} | {one_at_a_time} | {:>5} {:>10.0} {:>8.2} {:>5.1}us {:>5.1}us",
            rounds.case.protocol.name(),
            rounds.case.size,
            rounds.case.batch,
            median(results, |r| r.batched.echoes_per_second()),
            median(results, |r| r.batched.syscalls_per_echo()),
            median(results, |r| r.batched.user_us_per_echo()),
            median(results, |r| r.batched.system_us_per_echo()),
        );
    }
    println!();
}

fn print_tables(options: &Options, cases: &[CaseRounds]) {
    println!(
        "{} round(s); per case and way of sending {}; user and kernel: CPU time per echo",
        options.rounds,
        match options.count {
            Some(count) => format!("{count} echoes"),
            None => "30000 echoes up to 1 KiB, 4000 above".to_string(),
        }
    );
    println!();
    print_summary("module under test", options.unit, cases, |r| &r.subject);
    let Some(baseline) = options.baseline_unit else {
        return;
    };
    print_summary("baseline module", baseline, cases, |r| &r.baseline);
    let show = |(median, min, max): (f64, f64, f64)| format!("{median:.3} [{min:.3}..{max:.3}]");
    println!("throughput ratio, module under test / baseline (median [min..max] over rounds):");
    println!(
        "{:<6} {:>6}   {:<22} {:<22}",
        "proto", "bytes", "one at a time", "batched"
    );
    for rounds in cases {
        println!(
            "{:<6} {:>6}   {:<22} {:<22}",
            rounds.case.protocol.name(),
            rounds.case.size,
            show(ratio(rounds, Run::echoes_per_second, false)),
            show(ratio(rounds, Run::echoes_per_second, true)),
        );
    }
    println!();
    println!("batched / one at a time, module under test:");
    for rounds in cases {
        println!(
            "{:<6} {:>6}   {:.2}x (batch {})",
            rounds.case.protocol.name(),
            rounds.case.size,
            median(&rounds.subject, |r| r.batched.echoes_per_second()
                / r.single.echoes_per_second()),
            rounds.case.batch
        );
    }
    if options.reference_client.is_some() {
        println!();
        println!("this client / reference C client, both on the baseline module:");
        for rounds in cases.iter().filter(|r| !r.reference.is_empty()) {
            println!(
                "{:<6} {:>6}   {:<22} {:<22}",
                rounds.case.protocol.name(),
                rounds.case.size,
                show(reference_ratio(rounds, false).expect("reference rounds")),
                show(reference_ratio(rounds, true).expect("reference rounds")),
            );
        }
    }
}
