//! `nltest-e2e`: the end-to-end suite, run inside the test guest with the
//! module loaded (see qemu/run). Prints one line per test and closes with
//! `N passed, N failed`; exits with 0 only when every test passed.

/// The tests of a module, in order, each named after its function:
/// `tests! { #[portable] echo_payload_sizes, #[on_both_transports] unknown_command }`.
///
/// - `#[portable]`: the test needs nothing but the raw echo and the typed
///   `ECHO`, so `--reference` runs it against the C reference module.
/// - `#[on_both_transports]`: the function takes a `Transport` and runs on
///   the module's protocol unit (named after the function), then through its
///   generic netlink family (`genl_` and the function's name). `#[portable]`
///   applies to the unit's run only: the C reference has no family.
macro_rules! tests {
    ($($(#[$tag:ident])* $test:ident),* $(,)?) => {
        [$(tests!(@register $test, false, false, $($tag)*)),*].concat()
    };
    (@register $test:ident, $portable:tt, $both:tt, portable $($tag:ident)*) => {
        tests!(@register $test, true, $both, $($tag)*)
    };
    (@register $test:ident, $portable:tt, $both:tt, on_both_transports $($tag:ident)*) => {
        tests!(@register $test, $portable, true, $($tag)*)
    };
    (@register $test:ident, $portable:tt, false,) => {
        vec![crate::Test {
            name: stringify!($test),
            portable: $portable,
            run: $test,
        }]
    };
    (@register $test:ident, $portable:tt, true,) => {
        vec![
            crate::Test {
                name: stringify!($test),
                portable: $portable,
                run: || $test(nltest_client::Transport::Unit(crate::unit())),
            },
            crate::Test {
                name: concat!("genl_", stringify!($test)),
                portable: false,
                run: || $test(nltest_client::Transport::Genl),
            },
        ]
    };
}

mod capture;
mod coverage;
mod dump_tests;
mod fail_nth_tests;
mod guest;
mod service_tests;
mod stress_tests;
mod tests;

use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Instant;

/// A test of the suite, as [`tests!`] registers it.
#[derive(Clone, Copy)]
pub struct Test {
    /// Its name in the output and for the name filters.
    pub name: &'static str,
    /// Whether `--reference` runs it: it needs nothing but the raw echo and
    /// the typed `ECHO`.
    pub portable: bool,
    /// Its body, which fails by returning an error.
    pub run: fn() -> anyhow::Result<()>,
}

static REFERENCE_UNIT: OnceLock<u32> = OnceLock::new();

/// The protocol unit under test: nltest.ko's, or with `--reference UNIT`
/// another module's that implements the same raw echo and typed `ECHO`
/// (bench/c-reference).
pub fn unit() -> u32 {
    *REFERENCE_UNIT
        .get()
        .unwrap_or(&nltest_client::protocol::DEFAULT_UNIT)
}

/// Whether the unit under test is nltest.ko's, with counters, `BROADCAST`
/// and the rest of the service.
pub fn testing_nltest() -> bool {
    REFERENCE_UNIT.get().is_none()
}

/// Every test, in the order they run: the default suite, then with `stress`
/// and `faults` those of `--stress` and `--faults`.
fn registered(stress: bool, faults: bool) -> Vec<Test> {
    let mut all = [tests::tests(), service_tests::tests(), dump_tests::tests()].concat();
    if stress {
        all.extend(stress_tests::stress());
    }
    if faults {
        all.extend(stress_tests::faults());
        all.extend(fail_nth_tests::faults());
    }
    all
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take_flag = |flag: &str| {
        let given = args.iter().any(|a| a == flag);
        args.retain(|a| a != flag);
        given
    };
    let stress = take_flag("--stress");
    let faults = take_flag("--faults");
    let list = take_flag("--list");
    let mut skipped = Vec::new();
    while let Some(at) = args.iter().position(|a| a == "--skip") {
        let Some(filter) = args.get(at + 1).cloned() else {
            eprintln!("nltest-e2e: --skip needs a name filter");
            return ExitCode::from(2);
        };
        skipped.push(filter);
        args.drain(at..at + 2);
    }
    if let Some(at) = args.iter().position(|a| a == "--reference") {
        let Some(unit) = args.get(at + 1).and_then(|unit| unit.parse().ok()) else {
            eprintln!("nltest-e2e: --reference needs a protocol unit");
            return ExitCode::from(2);
        };
        let _ = REFERENCE_UNIT.set(unit);
        args.drain(at..at + 2);
    }
    if let Some(at) = args.iter().position(|a| a == "--coverage") {
        let Some(output) = args.get(at + 1).cloned() else {
            eprintln!("nltest-e2e: --coverage needs a file to write the points reached to");
            return ExitCode::from(2);
        };
        if let Err(error) = coverage::start(output.into()) {
            eprintln!("nltest-e2e: {error:#}");
            return ExitCode::from(2);
        }
        args.drain(at..at + 2);
    }
    if args.iter().any(|a| a.starts_with('-')) {
        eprintln!(
            "usage: nltest-e2e [--stress] [--faults] [--reference UNIT] [--coverage FILE] [--list] [--skip NAME-FILTER]... [NAME-FILTER]..."
        );
        return ExitCode::from(2);
    }
    let filter = args;
    let selected = registered(stress, faults)
        .into_iter()
        .filter(|test| testing_nltest() || test.portable)
        .filter(|test| filter.is_empty() || filter.iter().any(|f| test.name.contains(f.as_str())))
        .filter(|test| !skipped.iter().any(|f| test.name.contains(f.as_str())));
    if list {
        // What would run, without running it (the module need not be loaded).
        for test in selected {
            println!("{}", test.name);
        }
        return ExitCode::SUCCESS;
    }
    let (mut passed, mut failed) = (0, 0);
    for Test { name, run, .. } in selected {
        let start = Instant::now();
        let outcome = match coverage::trace(name, || panic::catch_unwind(AssertUnwindSafe(run))) {
            Ok(outcome) => outcome,
            Err(error) => {
                println!("FAILED cannot trace {name}'s coverage: {error:#}");
                failed += 1;
                break;
            }
        };
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
    if let Err(error) = coverage::finish() {
        println!("FAILED coverage: {error:#}");
        failed += 1;
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod registration {
    use super::*;

    #[test]
    fn every_test_has_a_name_of_its_own() {
        let all = registered(true, true);
        let mut names: Vec<&str> = all.iter().map(|test| test.name).collect();
        names.sort_unstable();
        let repeated: Vec<&[&str]> = names
            .chunk_by(|a, b| a == b)
            .filter(|c| c.len() > 1)
            .collect();
        assert!(
            repeated.is_empty(),
            "registered more than once: {repeated:?}"
        );
    }

    #[test]
    fn only_unit_runs_are_portable() {
        // The C reference module has no generic netlink family.
        let genl_portable: Vec<&str> = registered(true, true)
            .iter()
            .filter(|test| test.portable && test.name.starts_with("genl_"))
            .map(|test| test.name)
            .collect();
        assert!(genl_portable.is_empty(), "{genl_portable:?}");
    }
}
