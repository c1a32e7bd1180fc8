//! `nltest-e2e --coverage FILE`: the module's coverage points the suite's
//! tests reach from the suite's own thread (KCOV, on the debug kernel). The
//! suite loads and unloads the module from that thread too (guest.rs), so
//! the module's init and exit are traced; threads and processes a test
//! starts are not, and their requests go through the same code as the
//! suite's own.
//!
//! Addresses become offsets in the module's sections as soon as the module
//! is about to move: before each unload, after it with the sections it had,
//! and after each load. A load the kernel refuses (its init failed) leaves
//! no sections to read afterwards: while a load runs, another thread reads
//! the module's sections as soon as sysfs shows them (before init runs),
//! and what the refused load traced is placed in those; when that thread
//! saw none, it is counted as unplaced, never guessed.

use anyhow::{Context, Result};
use nltest_kcov::{Kcov, ModuleObject, ModuleSections, Reached};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// KCOV entries between two flushes: the longest test (the fuzz campaign)
/// traces about two million.
const TRACE_WORDS: usize = 1 << 23;

struct Tracer {
    kcov: Kcov,
    object: ModuleObject,
    reached: Reached,
    /// Addresses that fell in no section of the module: traced while it was
    /// loaded at an address the tracer never saw (another thread's reload).
    unplaced: usize,
    output: PathBuf,
}

static TRACER: Mutex<Option<Tracer>> = Mutex::new(None);

fn with_tracer<T>(f: impl FnOnce(&mut Tracer) -> T) -> Option<T> {
    let mut tracer = TRACER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tracer.as_mut().map(f)
}

impl Tracer {
    /// Where the module is loaded now, if it is.
    fn sections(&self) -> Option<ModuleSections> {
        ModuleSections::read("nltest", &self.object).ok()
    }

    /// Moves what was traced into `reached`, located in `sections`.
    fn flush(&mut self, sections: Option<&ModuleSections>, name: &str) {
        let (addresses, full) = self.kcov.addresses();
        self.kcov.reset();
        if full {
            println!("       coverage: {name} filled the trace buffer; later points were lost");
        }
        match sections {
            Some(sections) => {
                let placed = self.reached.add_placed(&addresses, sections);
                self.unplaced += addresses.len() - placed;
            }
            None => self.unplaced += addresses.len(),
        }
    }
}

/// Starts tracing; every test from now on runs traced.
pub fn start(output: PathBuf) -> Result<()> {
    let kcov = Kcov::open(TRACE_WORDS).context("--coverage")?;
    let object = ModuleObject::read(Path::new(crate::guest::MODULE))?;
    *TRACER.lock().unwrap() = Some(Tracer {
        kcov,
        object,
        reached: Reached::default(),
        unplaced: 0,
        output,
    });
    Ok(())
}

/// Runs `test` traced (when tracing), from the calling thread.
pub fn trace<T>(name: &str, test: impl FnOnce() -> T) -> Result<T> {
    if let Some(enabled) = with_tracer(|tracer| tracer.kcov.enable()) {
        enabled.context("KCOV_ENABLE")?;
    }
    let outcome = test();
    with_tracer(|tracer| {
        let sections = tracer.sections();
        tracer.flush(sections.as_ref(), name);
        tracer.kcov.disable()
    })
    .transpose()
    .context("KCOV_DISABLE")?;
    Ok(outcome)
}

/// Before an unload: places what was traced, and returns the sections the
/// module's exit will run in.
pub fn module_unloading() -> Option<ModuleSections> {
    with_tracer(|tracer| {
        let sections = tracer.sections();
        tracer.flush(sections.as_ref(), "an unload");
        sections
    })
    .flatten()
}

/// After an unload (or a refused one), with what `module_unloading` saw.
pub fn module_unloaded(sections: Option<ModuleSections>) {
    with_tracer(|tracer| tracer.flush(sections.as_ref(), "an unload"));
}

/// Reads the module's sections while a load runs, from a thread of its own
/// (which KCOV does not trace).
pub struct LoadWatch {
    done: Arc<AtomicBool>,
    watcher: JoinHandle<Option<ModuleSections>>,
}

/// Before a load: when tracing, starts watching for the module's sections.
pub fn module_loading() -> Option<LoadWatch> {
    let object = with_tracer(|tracer| tracer.object.clone())?;
    let done = Arc::new(AtomicBool::new(false));
    let watching = Arc::clone(&done);
    let watcher = std::thread::spawn(move || {
        while !watching.load(Ordering::Acquire) {
            if let Ok(sections) = ModuleSections::read("nltest", &object) {
                return Some(sections);
            }
            std::thread::yield_now();
        }
        None
    });
    Some(LoadWatch { done, watcher })
}

/// After a load: its init ran where the module now is, or, for a refused
/// load, where `watch` saw it while it was loading.
pub fn module_loaded(watch: Option<LoadWatch>, accepted: bool) {
    let seen = watch.and_then(|watch| {
        watch.done.store(true, Ordering::Release);
        watch.watcher.join().ok().flatten()
    });
    with_tracer(|tracer| {
        let sections = if accepted { tracer.sections() } else { seen };
        let name = if accepted { "a load" } else { "a refused load" };
        tracer.flush(sections.as_ref(), name);
    });
}

/// Writes the points reached; prints how many.
pub fn finish() -> Result<()> {
    let Some(tracer) = TRACER.lock().unwrap().take() else {
        return Ok(());
    };
    tracer
        .reached
        .write(&tracer.output)
        .with_context(|| format!("cannot write {}", tracer.output.display()))?;
    println!(
        "coverage: {} points reached, written to {} ({} traced addresses outside the module's known sections)",
        tracer.reached.len(),
        tracer.output.display(),
        tracer.unplaced
    );
    Ok(())
}
