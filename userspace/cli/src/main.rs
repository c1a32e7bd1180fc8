//! `nltest`: command-line peer of the nltest kernel module.

mod bench;

use clap::{Parser, Subcommand, ValueEnum};
use nltest_bench::Protocol;
use nltest_client::{
    protocol, Broadcast, Error, ModuleSocket, RawMessage, Request, Response, Stat, Transport,
};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(version, about = "Talk to the nltest kernel module over netlink")]
struct Cli {
    /// Netlink protocol unit the module registered (its `unit` parameter)
    #[arg(long, global = true, default_value_t = protocol::DEFAULT_UNIT)]
    unit: u32,

    /// Use the module's generic netlink family (nltest) instead of its
    /// protocol unit: typed echo, broadcast, stats and listen
    #[arg(long, global = true)]
    genl: bool,

    /// Seconds to wait for the module before giving up
    #[arg(long, global = true, default_value_t = 5.0, value_name = "SECS")]
    timeout: f64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send TEXT, wait for its echo, check it and print the round-trip time
    ///
    /// Uses the raw protocol (as the classic C examples do) unless --typed or
    /// --ack asks for the typed ECHO request.
    Echo {
        /// What to send
        #[arg(default_value = "Hello you!")]
        text: String,
        /// Send a payload of BYTES bytes (a repeating pattern) instead of TEXT
        #[arg(long, value_name = "BYTES")]
        size: Option<usize>,
        /// How many echoes to send, one after the other
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// nlmsg_type of a raw request (the seed's examples use 0)
        #[arg(long = "type", default_value_t = 0, conflicts_with_all = ["typed", "ack"])]
        nlmsg_type: u16,
        /// Send a typed ECHO request (DATA attribute) instead of a raw message
        #[arg(long)]
        typed: bool,
        /// Ask for an acknowledgement (a typed ECHO with NLM_F_ACK)
        #[arg(long)]
        ack: bool,
    },
    /// Send TEXT to a multicast group (needs CAP_NET_ADMIN)
    Broadcast {
        /// Multicast group, 1 to the module's group count (1, events, with
        /// --genl)
        #[arg(long, default_value_t = protocol::ECHO_GROUP)]
        group: u32,
        /// What to send
        text: String,
    },
    /// Print the counters of this network namespace
    Stats {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Ask for a multipart dump instead of a single answer
        #[arg(long)]
        dump: bool,
    },
    /// Fuzz the module: send seeded, structure-aware random datagrams
    /// (valid, nearly valid and garbage) and check it keeps answering
    ///
    /// On the debug kernel (KCOV) the campaign measures the module's
    /// coverage; --guided keeps the datagrams that reach new code and
    /// mutates them, as coverage-guided fuzzers do.
    Fuzz {
        /// Seed of the campaign: the same seed sends the same datagrams
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many datagrams to send
        #[arg(long, default_value_t = 10_000)]
        iterations: u64,
        /// Check the module with a raw and a typed echo every N datagrams
        #[arg(long, default_value_t = 500)]
        check_every: u64,
        /// Send each datagram to the protocol unit or the generic netlink
        /// family, at random (instead of one of them, as --genl picks)
        #[arg(long, conflicts_with = "genl")]
        both: bool,
        /// Guide the campaign by coverage (needs KCOV: the debug kernel)
        #[arg(long)]
        guided: bool,
        /// Measure coverage (KCOV) and write the points reached to FILE,
        /// for scripts/coverage-report.py
        #[arg(long, value_name = "FILE")]
        coverage: Option<std::path::PathBuf>,
        /// Write the coverage curve (datagrams,points per progress line) to
        /// FILE as CSV
        #[arg(long, value_name = "FILE", requires = "coverage")]
        curve: Option<std::path::PathBuf>,
        /// Print a progress line every N datagrams (0: none)
        #[arg(long, default_value_t = 0, value_name = "N")]
        progress_every: u64,
        /// The loaded module's object file, for its sections' sizes (where
        /// qemu/run puts it)
        #[arg(long, default_value = "/modules/nltest.ko", value_name = "PATH")]
        module_object: std::path::PathBuf,
    },
    /// Measure echo latency and throughput, one at a time and batched
    ///
    /// With --baseline-unit, a second module (for example the C reference
    /// module) is measured in alternation with the first, round after round,
    /// and the throughput ratios are printed. Under QEMU's TCG emulation the
    /// absolute figures are not hardware figures: compare ratios.
    Bench {
        /// Payload sizes in bytes
        #[arg(long, value_delimiter = ',', default_value = "16,1024,16384")]
        sizes: Vec<usize>,
        /// Protocols to measure
        #[arg(long, value_delimiter = ',', default_value = "raw,typed")]
        protocols: Vec<BenchProtocol>,
        /// Echoes per case, one at a time and again batched (default: 30000
        /// up to 1 KiB, 4000 above, so that each run lasts long enough to
        /// average out the noise of an emulated machine)
        #[arg(long)]
        count: Option<u32>,
        /// Requests per sendmsg in the batched runs (fewer for large
        /// payloads, so that a batch fits the socket buffers)
        #[arg(long, default_value_t = 64)]
        batch: u32,
        /// Protocol unit of a baseline module, measured in alternation
        #[arg(long, value_name = "UNIT")]
        baseline_unit: Option<u32>,
        /// Rounds of the alternation
        #[arg(long, default_value_t = 1)]
        rounds: u32,
        /// A reference client run against the baseline module too, to show
        /// whether this client is the bottleneck; it takes --unit --size
        /// --count --batch --json and prints {"echoes_per_second": ...}
        #[arg(long, value_name = "PATH", requires = "baseline_unit")]
        reference_client: Option<std::path::PathBuf>,
        /// Print JSON instead of tables
        #[arg(long)]
        json: bool,
        /// Also write the results as JSON to PATH (what `nltest-chart`
        /// draws), while the tables print as usual
        #[arg(long, value_name = "PATH")]
        json_file: Option<std::path::PathBuf>,
        /// Only the batched runs: no warm-up, no run one message at a time
        /// (to profile the batched path alone)
        #[arg(long, conflicts_with = "baseline_unit")]
        batched_only: bool,
    },
    /// Join a multicast group and print what arrives: raw echoes and events
    Listen {
        /// Stop after N messages (default: run until the timeout)
        #[arg(long)]
        count: Option<u64>,
        /// Multicast group to join (with --genl: 1, the family's events group)
        #[arg(long, default_value_t = protocol::ECHO_GROUP)]
        group: u32,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchProtocol {
    Raw,
    Typed,
    Genl,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let unit = (!cli.genl).then_some(cli.unit);
    let listening = matches!(cli.command, Command::Listen { .. });
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error}");
            if let Some(hint) = hint(&error, unit, listening) {
                eprintln!("Hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// What to do about an error whose message alone does not say it: on the
/// protocol unit `unit` (`None` for the generic netlink family).
fn hint(error: &Error, unit: Option<u32>, listening: bool) -> Option<String> {
    match error {
        Error::Timeout(_) if listening => None,
        Error::Timeout(_) => Some(match unit {
            Some(unit) => format!(
                "nothing answered on protocol {unit}; nltest.ko serves protocol {} \
                 unless loaded with unit=N (then pass --unit N); --timeout SECS waits longer",
                protocol::DEFAULT_UNIT
            ),
            None => "--timeout SECS waits longer".into(),
        }),
        Error::Kernel { errno, ack, .. } if *errno == libc::EPERM && ack.message.is_none() => Some(
            "this needs CAP_NET_ADMIN in the user namespace that owns the network namespace".into(),
        ),
        Error::Kernel { errno, .. } if *errno == libc::EMSGSIZE => Some(format!(
            "the module's max_payload parameter limits DATA (default {} bytes): \
             load it with max_payload=BYTES to allow more",
            protocol::DEFAULT_MAX_PAYLOAD
        )),
        _ => None,
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let timeout = Duration::from_secs_f64(cli.timeout.max(0.001));
    let transport = if cli.genl {
        Transport::Genl
    } else {
        Transport::Unit(cli.unit)
    };
    let unit_only = |what: &str| -> Result<(), Error> {
        if cli.genl {
            return Err(Error::Io {
                context: "the generic netlink family serves typed requests only",
                source: std::io::Error::other(format!("{what} needs the protocol unit")),
            });
        }
        Ok(())
    };
    let connect = || -> Result<ModuleSocket, Error> {
        let mut socket = transport.connect()?;
        socket.set_timeout(timeout)?;
        Ok(socket)
    };
    match cli.command {
        Command::Echo {
            text,
            size,
            count,
            nlmsg_type,
            typed,
            ack,
        } => {
            let data: Vec<u8> = match size {
                Some(size) => (0..size).map(|i| (i % 251) as u8).collect(),
                None => text.into_bytes(),
            };
            if cli.genl && nlmsg_type != 0 {
                unit_only("a raw echo (--type)")?;
            }
            let mut socket = connect()?;
            for _ in 0..count {
                if typed || ack || cli.genl {
                    typed_echo(&mut socket, &data, ack)?;
                } else {
                    let echoed = socket.echo(RawMessage {
                        nlmsg_type,
                        data: data.clone(),
                    })?;
                    println!(
                        "echo seq={} {} bytes {} round trip {:.1} us",
                        echoed.seq,
                        data.len(),
                        preview(&data),
                        echoed.round_trip.as_secs_f64() * 1e6
                    );
                }
            }
            Ok(())
        }
        Command::Broadcast { group, text } => {
            let request = Request::Broadcast {
                group,
                data: text.into_bytes(),
            };
            connect()?.request(&request, true)?;
            println!("broadcast to group {group}");
            Ok(())
        }
        Command::Stats { json, dump } => {
            let responses = connect()?.request(&Request::GetStats { dump }, false)?;
            let mut stats: Vec<Stat> = responses
                .into_iter()
                .flat_map(|response| match response {
                    Response::Stats(stats) => stats,
                    _ => Vec::new(),
                })
                .collect();
            stats.sort();
            print_stats(&stats, json);
            Ok(())
        }
        Command::Fuzz {
            seed,
            iterations,
            check_every,
            both,
            guided,
            coverage,
            curve,
            progress_every,
            module_object,
        } => {
            let target = if both {
                nltest_fuzz::Target::Both(cli.unit)
            } else if cli.genl {
                nltest_fuzz::Target::Genl
            } else {
                nltest_fuzz::Target::Unit(cli.unit)
            };
            let options = nltest_fuzz::Options {
                seed,
                datagrams: iterations,
                check_every,
                guided,
                progress_every,
            };
            let mut measured = if guided || coverage.is_some() {
                Some(
                    nltest_fuzz::Coverage::start("nltest", &module_object).map_err(|source| {
                        Error::Io {
                            context: "cannot measure coverage",
                            source,
                        }
                    })?,
                )
            } else {
                None
            };
            let start = Instant::now();
            let report = nltest_fuzz::run(target, options, measured.as_mut())
                .inspect_err(|_| eprintln!("fuzz: seed {seed}: the module failed a check"))?;
            let points = measured
                .as_ref()
                .map(|measured| format!(", {} coverage points", measured.reached.len()))
                .unwrap_or_default();
            let corpus = if guided {
                format!(", corpus {}", report.corpus)
            } else {
                String::new()
            };
            println!(
                "fuzz: seed {seed}: {} datagrams ({} bytes), {} replies read, {} health checks passed, \
                 send errors {:?}{points}{corpus}, {:.1} s",
                report.datagrams,
                report.bytes,
                report.replies,
                report.checks,
                report.send_errors,
                start.elapsed().as_secs_f64()
            );
            if let (Some(measured), Some(path)) = (&measured, &coverage) {
                measured.reached.write(path).map_err(|source| Error::Io {
                    context: "cannot write the --coverage file",
                    source,
                })?;
            }
            if let (Some(measured), Some(path)) = (&measured, &curve) {
                let csv: String = std::iter::once("datagrams,points\n".to_string())
                    .chain(measured.curve.iter().map(|(d, p)| format!("{d},{p}\n")))
                    .collect();
                std::fs::write(path, csv).map_err(|source| Error::Io {
                    context: "cannot write the --curve file",
                    source,
                })?;
            }
            Ok(())
        }
        Command::Bench {
            sizes,
            protocols,
            count,
            batch,
            baseline_unit,
            rounds,
            reference_client,
            json,
            json_file,
            batched_only,
        } => {
            unit_only("bench (measure the family with --protocols genl)")?;
            bench::run(bench::Options {
                unit: cli.unit,
                baseline_unit,
                reference_client,
                sizes,
                protocols: protocols
                    .into_iter()
                    .map(|protocol| match protocol {
                        BenchProtocol::Raw => Protocol::Raw,
                        BenchProtocol::Typed => Protocol::Typed,
                        BenchProtocol::Genl => Protocol::Genl,
                    })
                    .collect(),
                count: count.map(|count| count.max(1)),
                batch,
                rounds: rounds.max(1),
                json,
                json_file,
                batched_only,
                timeout,
            })
        }
        Command::Listen { count, group } => {
            let mut socket = transport.listen(group)?;
            socket.set_timeout(timeout)?;
            match socket.genl_family() {
                Some(family) => println!(
                    "listening on generic netlink family {} group {} (id {})",
                    protocol::genl::FAMILY_NAME,
                    protocol::genl::mcgrp::EVENTS,
                    family.events_group
                ),
                None => println!("listening on protocol {} group {group}", cli.unit),
            }
            let mut received = 0;
            while count.is_none_or(|count| received < count) {
                for broadcast in socket.recv_broadcasts()? {
                    received += 1;
                    print_broadcast(&broadcast);
                }
            }
            Ok(())
        }
    }
}

fn typed_echo(socket: &mut ModuleSocket, data: &[u8], ack: bool) -> Result<(), Error> {
    let start = Instant::now();
    let responses = socket.request(
        &Request::Echo {
            data: data.to_vec(),
        },
        ack,
    )?;
    match responses.as_slice() {
        [Response::Echo { data: echoed }] if echoed == data => {}
        _ => {
            return Err(Error::Decode(format!(
                "unexpected answer to ECHO: {responses:?}"
            )))
        }
    }
    println!(
        "echo (typed{}) {} bytes {} round trip {:.1} us",
        if ack { ", acked" } else { "" },
        data.len(),
        preview(data),
        start.elapsed().as_secs_f64() * 1e6
    );
    Ok(())
}

fn print_broadcast(broadcast: &Broadcast) {
    match broadcast {
        Broadcast::Raw { seq, message } => println!(
            "broadcast seq={seq} type={} {} bytes {}",
            message.nlmsg_type,
            message.data.len(),
            preview(&message.data)
        ),
        Broadcast::Event { seq, event } => println!(
            "event seq={seq} from port {} uid {}: {} bytes {}",
            event.portid,
            event.uid,
            event.data.len(),
            preview(&event.data)
        ),
    }
}

fn print_stats(stats: &[Stat], json: bool) {
    if json {
        let mut object = serde_json::Map::new();
        let mut listeners = serde_json::Map::new();
        for stat in stats {
            match stat.group {
                Some(group) => listeners.insert(group.to_string(), stat.value.into()),
                None => object.insert(stat.name().to_string(), stat.value.into()),
            };
        }
        object.insert("listeners".to_string(), listeners.into());
        println!("{}", serde_json::Value::Object(object));
    } else {
        for stat in stats {
            let name = match stat.group {
                Some(group) => format!("{} (group {group})", stat.name()),
                None => stat.name().to_string(),
            };
            println!("{name:<22} {:>12}", stat.value);
        }
    }
}

/// The payload as text when it is text (up to its first NUL, as C clients
/// print it), else its size.
fn preview(data: &[u8]) -> String {
    let text = data.split(|&b| b == 0).next().unwrap_or_default();
    match std::str::from_utf8(text) {
        Ok(text) if text.len() <= 64 && text.chars().all(|c| !c.is_control()) => {
            format!("{text:?}")
        }
        _ => "(binary)".to_string(),
    }
}
