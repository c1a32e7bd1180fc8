//! `nltest-chart`: draws the results of `nltest bench --json` as an SVG chart.

use clap::Parser;
use nltest_chart::{render, Results, Style};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Draw `nltest bench` results (JSON) as an SVG chart",
    long_about = "Draw `nltest bench` results (JSON) as an SVG chart: echoes per second of \
                  each case, the module under test beside the baseline module, one at a time \
                  and batched, with the spread of the rounds.\n\n\
                  `make bench` runs it on build/bench/bench-KERNEL.json."
)]
struct Cli {
    /// Results: the JSON of one `nltest bench --json` run, or an array of
    /// several runs' (as `make bench` writes); `-` reads standard input
    results: PathBuf,
    /// Where to write the SVG
    #[arg(short, long, value_name = "FILE.svg")]
    output: PathBuf,
    /// Title (default: what is measured, and on which kernel)
    #[arg(long)]
    title: Option<String>,
    /// More about how the figures were taken, under the title
    #[arg(long)]
    note: Option<String>,
    /// Name of the module under test
    #[arg(long, default_value = "Rust module")]
    subject: String,
    /// Name of the baseline module
    #[arg(long, default_value = "C reference module")]
    baseline: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nltest-chart: error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let stdin = cli.results.as_os_str() == "-";
    let source = if stdin {
        "standard input".to_string()
    } else {
        cli.results.display().to_string()
    };
    let json = if stdin {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&cli.results)
    }
    .map_err(|error| {
        format!("cannot read {source}: {error} (`make bench` writes build/bench/bench-KERNEL.json)")
    })?;
    let results = Results::parse(&json).map_err(|error| format!("{source}: {error}"))?;
    let style = Style {
        title: cli.title.clone(),
        note: cli.note.clone(),
        subject: cli.subject.clone(),
        baseline: cli.baseline.clone(),
    };
    let svg = render(&results, &style).map_err(|error| error.to_string())?;
    std::fs::write(&cli.output, svg)
        .map_err(|error| format!("cannot write {}: {error}", cli.output.display()))
}
