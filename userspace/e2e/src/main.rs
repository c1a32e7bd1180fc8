//! `nltest-e2e`: the end-to-end suite, run inside the test guest with the
//! module loaded (see qemu/run). Prints one line per test and closes with
//! `N passed, N failed`; exits with 0 only when every test passed.

/// The tests `test(transport)` listed, each on the module's protocol unit (as
/// NAME) and through its generic netlink family (as `genl_NAME`).
macro_rules! on_both_transports {
    ($($name:literal => $test:ident,)*) => {
        &[
            $(
                ($name, || $test(nltest_client::Transport::Unit(crate::unit()))),
                (concat!("genl_", $name), || $test(nltest_client::Transport::Genl)),
            )*
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

/// A test: its name and its body, which fails by returning an error.
pub type Test = (&'static str, fn() -> anyhow::Result<()>);

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

/// The tests that need nothing but the raw echo and the typed `ECHO`: the
/// ones `--reference` runs.
const PORTABLE: &[&str] = &[
    "echo_payload_sizes",
    "echo_largest_datagram",
    "datagram_over_the_socket_limit_is_refused",
    "thousand_sequential_echoes",
    "several_messages_in_one_sendmsg",
    "echo_keeps_type_and_ignores_header_pid",
    "seed_unicast_client",
    "seed_multicast_listener",
    "two_clients_get_only_their_own_echoes",
    "group_listener_sees_broadcasts",
    "raw_echo_broadcast_skips_the_sender",
    "malformed_lengths_are_answered_without_harm",
    "slow_reader_gets_enobufs_and_never_stalls",
    "typed_echo_replies_then_acks",
    "typed_echo_publishes_an_event",
    "sender_gets_its_event_only_with_nlm_f_echo",
    "missing_attribute_is_named",
    "control_messages_are_never_echoed",
    "unknown_attribute_points_at_it",
    "payload_over_the_limit",
];

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take_flag = |flag: &str| {
        let given = args.iter().any(|a| a == flag);
        args.retain(|a| a != flag);
        given
    };
    let stress = take_flag("--stress");
    let faults = take_flag("--faults");
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
            "usage: nltest-e2e [--stress] [--faults] [--reference UNIT] [--coverage FILE] [--skip NAME-FILTER]... [NAME-FILTER]..."
        );
        return ExitCode::from(2);
    }
    let filter = args;
    let selected = tests::ALL
        .iter()
        .chain(service_tests::ALL)
        .chain(service_tests::SINGLE)
        .chain(dump_tests::ALL)
        .chain(if stress { stress_tests::STRESS } else { &[] })
        .chain(if faults { stress_tests::FAULTS } else { &[] })
        .chain(if faults { fail_nth_tests::FAULTS } else { &[] })
        .filter(|(name, _)| testing_nltest() || PORTABLE.contains(name))
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())))
        .filter(|(name, _)| !skipped.iter().any(|f| name.contains(f.as_str())));
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in selected {
        let start = Instant::now();
        let outcome = match coverage::trace(name, || panic::catch_unwind(AssertUnwindSafe(test))) {
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
