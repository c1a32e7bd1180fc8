//! `nltest`: command-line peer of the nltest kernel module.

use clap::{Parser, Subcommand};
use nltest_client::{protocol, EchoSocket, Error, RawMessage, Reply};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(version, about = "Talk to the nltest kernel module over netlink")]
struct Cli {
    /// Netlink protocol unit the module registered (its `unit` parameter)
    #[arg(long, global = true, default_value_t = protocol::NETLINK_TEST)]
    unit: u32,

    /// Seconds to wait for the module before giving up
    #[arg(long, global = true, default_value_t = 5.0, value_name = "SECS")]
    timeout: f64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send TEXT, wait for its echo, check it and print the round-trip time
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
        /// nlmsg_type of the request (the seed's examples use 0)
        #[arg(long = "type", default_value_t = 0)]
        kind: u16,
    },
    /// Join multicast group 1 and print each broadcast
    Listen {
        /// Stop after N broadcasts (default: run until the timeout)
        #[arg(long)]
        count: Option<u64>,
        /// Multicast group to join
        #[arg(long, default_value_t = protocol::ECHO_GROUP)]
        group: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nltest: error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let timeout = Duration::from_secs_f64(cli.timeout.max(0.001));
    match cli.command {
        Command::Echo {
            text,
            size,
            count,
            kind,
        } => {
            let data = match size {
                Some(size) => (0..size).map(|i| (i % 251) as u8).collect(),
                None => text.into_bytes(),
            };
            let mut socket = EchoSocket::connect(cli.unit)?;
            socket.set_timeout(timeout)?;
            for _ in 0..count {
                let echoed = socket.echo(RawMessage {
                    kind,
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
            Ok(())
        }
        Command::Listen { count, group } => {
            let mut socket = EchoSocket::listen(cli.unit, group)?;
            socket.set_timeout(timeout)?;
            println!("listening on protocol {} group {group}", cli.unit);
            let mut received = 0;
            while count.is_none_or(|count| received < count) {
                for reply in socket.recv()? {
                    if let Reply::Echo { seq, message } = reply {
                        received += 1;
                        println!(
                            "broadcast seq={seq} type={} {} bytes {}",
                            message.kind,
                            message.data.len(),
                            preview(&message.data)
                        );
                    }
                }
            }
            Ok(())
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
