//! `nltest-e2e`: the end-to-end suite, run inside the test guest with the
//! module loaded (see qemu/run). Prints one line per test and closes with
//! `N passed, N failed`; exits with 0 only when every test passed.

mod guest;
mod service_tests;
mod stress_tests;
mod tests;

use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

/// A test: its name and its body, which fails by returning an error.
pub type Test = (&'static str, fn() -> anyhow::Result<()>);

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take_flag = |flag: &str| {
        let given = args.iter().any(|a| a == flag);
        args.retain(|a| a != flag);
        given
    };
    let stress = take_flag("--stress");
    let faults = take_flag("--faults");
    if args.iter().any(|a| a.starts_with('-')) {
        eprintln!("usage: nltest-e2e [--stress] [--faults] [NAME-FILTER]...");
        return ExitCode::from(2);
    }
    let filter = args;
    let selected = tests::ALL
        .iter()
        .chain(service_tests::ALL)
        .chain(if stress { stress_tests::STRESS } else { &[] })
        .chain(if faults { stress_tests::FAULTS } else { &[] })
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())));
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in selected {
        let start = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(test));
        let elapsed = start.elapsed().as_secs_f64();
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(format!("{error:#}")),
            Err(panic) => Some(
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panicked".to_string()),
            ),
        };
        match failure {
            None => {
                passed += 1;
                println!("ok     {name} ({elapsed:.2} s)");
            }
            Some(failure) => {
                failed += 1;
                println!("FAILED {name} ({elapsed:.2} s): {failure}");
            }
        }
        // Every test starts with the module loaded, whatever the last one did.
        if let Err(error) = guest::ensure_loaded() {
            println!("FAILED cannot reload the module after {name}: {error:#}");
            failed += 1;
            break;
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
