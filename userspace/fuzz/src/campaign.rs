//! A campaign: datagrams sent to the module, whatever comes back read, the
//! module's health checked as it goes, and, on a kernel with KCOV, the
//! coverage it reaches.

use crate::generator::Generator;
use crate::mutate::{mutate, Datagram, Via};
use nltest_client::{Error, FamilyInfo, ModuleSocket, RawMessage, Request, Response};
use nltest_kcov::{Kcov, ModuleObject, ModuleSections, Reached};
use rand::Rng;
use std::collections::BTreeMap;
use std::time::Instant;

/// Where a campaign sends its datagrams.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// The module's protocol unit.
    Unit(u32),
    /// Its generic netlink family.
    Genl,
    /// Both, each datagram one way or the other.
    Both(u32),
}

/// How a campaign runs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub seed: u64,
    pub datagrams: u64,
    /// A raw and a typed echo, verified, every this many datagrams.
    pub check_every: u64,
    /// Mutate datagrams that reached new code (needs coverage).
    pub guided: bool,
    /// Print a progress line every this many datagrams (0: never).
    pub progress_every: u64,
}

/// The coverage a campaign measures, from the thread that runs it.
pub struct Coverage {
    kcov: Kcov,
    sections: ModuleSections,
    pub reached: Reached,
    /// (datagrams sent, coverage points reached) at each progress step.
    pub curve: Vec<(u64, usize)>,
}

/// KCOV entries per datagram: more than any datagram reaches.
const TRACE_WORDS: usize = 1 << 20;

impl Coverage {
    /// Starts measuring, for the calling thread, the coverage of `module`,
    /// loaded from the object file `object`.
    pub fn start(module: &str, object: &std::path::Path) -> std::io::Result<Self> {
        let object = ModuleObject::read(object)?;
        let sections = ModuleSections::read(module, &object)?;
        let mut kcov = Kcov::open(TRACE_WORDS)?;
        kcov.enable()?;
        Ok(Self {
            kcov,
            sections,
            reached: Reached::default(),
            curve: Vec::new(),
        })
    }

    /// How many points what was traced since the last call added.
    fn take_new(&mut self) -> usize {
        let (addresses, _) = self.kcov.addresses();
        self.kcov.reset();
        self.reached.add(&addresses, &self.sections)
    }
}

/// What a campaign did.
#[derive(Debug, Default)]
pub struct Report {
    pub datagrams: u64,
    pub bytes: u64,
    pub replies: u64,
    /// Health checks (a raw and a typed echo, verified) that passed.
    pub checks: u64,
    /// Send errors by errno: the kernel refusing a datagram is expected.
    pub send_errors: BTreeMap<i32, u64>,
    /// Datagrams kept for reaching new code (guided campaigns).
    pub corpus: usize,
}

/// Checks that the module answers a raw and a typed echo correctly, on a
/// fresh socket.
pub fn health_check(unit: u32, iteration: u64) -> Result<(), Error> {
    let mut socket = ModuleSocket::connect(unit)?;
    let data = format!("health check after {iteration} datagrams").into_bytes();
    socket.echo(RawMessage {
        nlmsg_type: 0,
        data: data.clone(),
    })?;
    typed_echo(&mut socket, data)
}

/// Checks that the module answers a typed echo correctly through its generic
/// netlink family, on a fresh socket.
pub fn genl_health_check(iteration: u64) -> Result<(), Error> {
    let mut socket = ModuleSocket::connect_genl()?;
    let data = format!("health check after {iteration} datagrams").into_bytes();
    typed_echo(&mut socket, data)
}

fn typed_echo(socket: &mut ModuleSocket, data: Vec<u8>) -> Result<(), Error> {
    match socket
        .request(&Request::Echo { data: data.clone() }, true)?
        .as_slice()
    {
        [Response::Echo { data: echoed }] if *echoed == data => Ok(()),
        other => Err(Error::Decode(format!("typed echo answered {other:?}"))),
    }
}

/// The sockets of a campaign, one per way.
struct Sockets {
    unit: Option<(u32, ModuleSocket)>,
    genl: Option<(FamilyInfo, ModuleSocket)>,
}

impl Sockets {
    fn open(target: Target) -> Result<Self, Error> {
        let unit = match target {
            Target::Unit(unit) | Target::Both(unit) => {
                let mut socket = ModuleSocket::connect(unit)?;
                socket.set_nonblocking(true)?;
                Some((unit, socket))
            }
            Target::Genl => None,
        };
        let genl = match target {
            Target::Genl | Target::Both(_) => {
                let mut socket = ModuleSocket::connect_genl()?;
                let family = socket
                    .genl_family()
                    .cloned()
                    .ok_or_else(|| Error::Decode("no family".into()))?;
                socket.set_nonblocking(true)?;
                Some((family, socket))
            }
            Target::Unit(_) => None,
        };
        Ok(Self { unit, genl })
    }

    fn family(&self) -> FamilyInfo {
        match &self.genl {
            Some((family, _)) => family.clone(),
            // Unused without the family: mutations keep a datagram's way.
            None => FamilyInfo {
                id: 0,
                version: 0,
                events_group: 0,
                ops: vec![],
            },
        }
    }

    fn check(&self, iteration: u64) -> Result<(), Error> {
        if let Some((unit, _)) = &self.unit {
            health_check(*unit, iteration)?;
        }
        if self.genl.is_some() {
            genl_health_check(iteration)?;
        }
        Ok(())
    }
}

/// A fresh datagram, one way the target offers.
fn fresh(generator: &mut Generator, sockets: &Sockets, family: &FamilyInfo) -> Datagram {
    let via = match (&sockets.unit, &sockets.genl) {
        (Some(_), Some(_)) if generator.rng().gen_bool(0.5) => Via::Genl,
        (Some(_), _) => Via::Unit,
        _ => Via::Genl,
    };
    let bytes = match via {
        Via::Unit => generator.datagram(),
        Via::Genl => generator.genl_datagram(family),
    };
    Datagram::parse(via, &bytes)
}

/// Runs a campaign: `options.datagrams` datagrams from `options.seed` to
/// `target`, with a health check every `options.check_every` and at the
/// end. With `coverage`, each datagram's coverage is measured, and a guided
/// campaign keeps the datagrams that reached new code and mutates them.
pub fn run(
    target: Target,
    options: Options,
    mut coverage: Option<&mut Coverage>,
) -> Result<Report, Error> {
    if options.guided && coverage.is_none() {
        return Err(Error::Decode(
            "a guided campaign needs coverage (KCOV, on the debug kernel)".into(),
        ));
    }
    let mut generator = Generator::new(options.seed);
    let mut sockets = Sockets::open(target)?;
    let family = sockets.family();
    let mut corpus: Vec<Datagram> = Vec::new();
    let mut report = Report::default();
    let start = Instant::now();
    if let Some(coverage) = coverage.as_deref_mut() {
        coverage.take_new(); // what opening the sockets reached is not a datagram's
    }
    for iteration in 1..=options.datagrams {
        // Guided: mostly mutants of the corpus, some fresh datagrams so that
        // the generator's whole range stays in play.
        let datagram = if options.guided && !corpus.is_empty() && generator.rng().gen_bool(0.8) {
            let parent = corpus[generator.rng().gen_range(0..corpus.len())].clone();
            mutate(&mut generator, &parent, &corpus, &family)
        } else {
            fresh(&mut generator, &sockets, &family)
        };
        let socket = match datagram.via {
            Via::Unit => &mut sockets.unit.as_mut().expect("unit datagrams need it").1,
            Via::Genl => &mut sockets.genl.as_mut().expect("genl datagrams need it").1,
        };
        step(socket, &datagram.bytes(), &mut report)?;
        if let Some(coverage) = coverage.as_deref_mut() {
            if coverage.take_new() > 0 && options.guided {
                corpus.push(datagram);
            }
        }
        if iteration % options.check_every.max(1) == 0 || iteration == options.datagrams {
            sockets.check(iteration)?;
            report.checks += 1;
            if let Some(coverage) = coverage.as_deref_mut() {
                coverage.take_new(); // the checks' own code is not the campaign's
            }
        }
        if options.progress_every > 0
            && (iteration % options.progress_every == 0 || iteration == options.datagrams)
        {
            let elapsed = start.elapsed().as_secs_f64();
            let mut line = format!(
                "fuzz: {iteration}/{} datagrams, {:.0}/s",
                options.datagrams,
                iteration as f64 / elapsed.max(1e-3)
            );
            if let Some(coverage) = coverage.as_deref_mut() {
                coverage.curve.push((iteration, coverage.reached.len()));
                line += &format!(", {} coverage points", coverage.reached.len());
                if options.guided {
                    line += &format!(", corpus {}", corpus.len());
                }
            }
            eprintln!("{line}");
        }
    }
    report.corpus = corpus.len();
    Ok(report)
}

/// Sends one datagram and reads whatever comes back.
fn step(socket: &mut ModuleSocket, datagram: &[u8], report: &mut Report) -> Result<(), Error> {
    report.datagrams += 1;
    report.bytes += datagram.len() as u64;
    match socket.send_bytes(datagram) {
        Ok(()) => {}
        Err(Error::Io { source, .. }) => {
            *report
                .send_errors
                .entry(source.raw_os_error().unwrap_or(0))
                .or_default() += 1;
        }
        Err(error) => return Err(error),
    }
    // The replies are counted, not read: framed as the raw echo protocol
    // frames them, whatever their type.
    loop {
        match socket.recv_raw() {
            Ok(replies) => report.replies += replies.len() as u64,
            Err(Error::Timeout(_)) => break,
            // A full queue, or a reply we cannot decode: both are the
            // fuzzer's business, not the module's.
            Err(Error::Overrun | Error::Decode(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
