//! Coverage of the nltest module through KCOV (`/sys/kernel/debug/kcov`).
//!
//! KCOV traces one thread: while a [`Kcov`] is enabled, the kernel appends
//! to a shared buffer the address of every coverage point that thread's
//! system calls reach in instrumented code. Only nltest.ko is instrumented
//! on the debug kernel (`KCOV_INSTRUMENT_ALL` is off), and the module does
//! its work in its callers' tasks (the input callback runs in `sendmsg`,
//! dumps in `recvmsg`), so a client's own thread sees the module's code.
//!
//! Addresses are turned into offsets in the module's sections
//! ([`ModuleSections`]) as soon as they are read, since the module may be
//! reloaded at another address later; [`Reached`] is the set of such
//! offsets, written in the text format `scripts/coverage-report.py` reads.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::ptr::NonNull;

/// `_IOR('c', 1, unsigned long)`: sets the buffer size in 64-bit words.
const KCOV_INIT_TRACE: libc::c_ulong = 0x8008_6301;
/// `_IO('c', 100)`: starts tracing the calling thread.
const KCOV_ENABLE: libc::c_ulong = 0x6364;
/// `_IO('c', 101)`: stops it.
const KCOV_DISABLE: libc::c_ulong = 0x6365;
/// `KCOV_TRACE_PC`: record the address of each coverage point reached.
const KCOV_TRACE_PC: libc::c_ulong = 0;

const DEVICE: &str = "/sys/kernel/debug/kcov";

/// Whether the running kernel offers KCOV (debugfs must be mounted).
pub fn available() -> bool {
    Path::new(DEVICE).exists()
}

/// A KCOV trace buffer, enabled for at most one thread at a time.
///
/// # Invariants
///
/// `area` points to `words` 64-bit words mapped shared from `file`, which
/// stays open as long as the mapping.
pub struct Kcov {
    file: File,
    area: NonNull<u64>,
    words: usize,
    enabled: bool,
}

// SAFETY: the mapping belongs to the buffer, not to a thread; the kernel
// writes it only while tracing the thread that enabled it, and `Kcov`'s
// methods take `&mut self` or read a snapshot.
unsafe impl Send for Kcov {}

impl Kcov {
    /// Opens a trace buffer of `words` entries (the first holds the count).
    pub fn open(words: usize) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(DEVICE)
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!(
                        "cannot open {DEVICE}: {error} (KCOV needs the debug kernel, \
                         qemu/run --kernel 7.3-debug, and debugfs mounted)"
                    ),
                )
            })?;
        // SAFETY: KCOV_INIT_TRACE takes the size by value.
        if unsafe { libc::ioctl(file.as_raw_fd(), KCOV_INIT_TRACE, words as libc::c_ulong) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let len = words * size_of::<u64>();
        // SAFETY: maps the buffer KCOV_INIT_TRACE sized; the kernel requires
        // a shared, readable and writable mapping of exactly that size.
        let area = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if area == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let area = NonNull::new(area.cast::<u64>()).expect("mmap does not return null on success");
        Ok(Self {
            file,
            area,
            words,
            enabled: false,
        })
    }

    /// Starts tracing the calling thread, from an empty buffer.
    pub fn enable(&mut self) -> io::Result<()> {
        self.reset();
        // SAFETY: plain ioctl on our descriptor.
        if unsafe { libc::ioctl(self.file.as_raw_fd(), KCOV_ENABLE, KCOV_TRACE_PC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        self.enabled = true;
        Ok(())
    }

    /// Stops tracing (from the thread that enabled it).
    pub fn disable(&mut self) -> io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        // SAFETY: plain ioctl on our descriptor.
        if unsafe { libc::ioctl(self.file.as_raw_fd(), KCOV_DISABLE, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        self.enabled = false;
        Ok(())
    }

    /// Empties the buffer: what is traced next starts at its beginning.
    pub fn reset(&mut self) {
        // SAFETY: the first word is in the mapping (invariant); the kernel
        // reads it with READ_ONCE, so a volatile store is what it expects.
        unsafe { self.area.as_ptr().write_volatile(0) };
    }

    /// The addresses traced since the last reset, in order, repeats
    /// included, and whether the buffer filled up (later ones were lost).
    pub fn addresses(&self) -> (Vec<u64>, bool) {
        // SAFETY: the count and then up to `words - 1` entries are in the
        // mapping (invariant); the kernel writes the entries before the
        // count, and volatile reads see what it wrote.
        unsafe {
            let count = (self.area.as_ptr().read_volatile() as usize).min(self.words - 1);
            let addresses = (1..=count)
                .map(|index| self.area.as_ptr().add(index).read_volatile())
                .collect();
            (addresses, count == self.words - 1)
        }
    }
}

impl Drop for Kcov {
    fn drop(&mut self) {
        let _ = self.disable();
        // SAFETY: unmaps what `open` mapped, with its size; nothing borrows
        // it past `self`.
        unsafe {
            libc::munmap(self.area.as_ptr().cast(), self.words * size_of::<u64>());
        }
    }
}

/// Where the module's code sections are loaded, from
/// `/sys/module/MODULE/sections`, and how long they are, from the module's
/// object file ([`ModuleObject`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleSections {
    /// (address, size, name), sorted by address.
    sections: Vec<(u64, u64, &'static str)>,
}

/// The sections that hold the module's code. sysfs keeps showing where
/// `.init.text` was once init has run and the kernel freed it, so what
/// init traced can still be placed; only the module's code is instrumented,
/// so nothing traced later falls in that range.
const CODE_SECTIONS: &[&str] = &[".text", ".init.text", ".exit.text"];

impl ModuleSections {
    /// Reads the load addresses of `module`'s code sections (root only: the
    /// kernel shows zeros to others); `object` is the module's `.ko` file.
    pub fn read(module: &str, object: &ModuleObject) -> io::Result<Self> {
        let mut sections = Vec::new();
        for name in CODE_SECTIONS {
            let path = format!("/sys/module/{module}/sections/{name}");
            let text = match fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) if error.kind() == io::ErrorKind::NotFound && *name != ".text" => {
                    continue
                }
                Err(error) => {
                    return Err(io::Error::new(
                        error.kind(),
                        format!("cannot read {path}: {error} (is {module} loaded?)"),
                    ))
                }
            };
            let address = u64::from_str_radix(text.trim().trim_start_matches("0x"), 16)
                .map_err(|_| io::Error::other(format!("{path}: not an address: {text}")))?;
            let size = object
                .sizes
                .iter()
                .find(|(section, _)| section == name)
                .map(|(_, size)| *size)
                .ok_or_else(|| io::Error::other(format!("the module object has no {name}")))?;
            sections.push((address, size, *name));
        }
        sections.sort();
        Ok(Self { sections })
    }

    /// The section and offset of `address`, if it is in one.
    fn locate(&self, address: u64) -> Option<(&'static str, u64)> {
        self.sections
            .iter()
            .find(|(start, size, _)| (*start..start + size).contains(&address))
            .map(|&(start, _, name)| (name, address - start))
    }
}

/// What coverage needs of a module's `.ko` file: the sizes of its
/// sections, read once (they do not change while it is loaded and
/// reloaded).
#[derive(Clone, Debug)]
pub struct ModuleObject {
    /// (name, size) of each section.
    sizes: Vec<(String, u64)>,
}

impl ModuleObject {
    /// Reads the object file at `path`, which must have a `.text`.
    pub fn read(path: &Path) -> io::Result<Self> {
        let bytes = fs::read(path).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot read {}: {error}", path.display()),
            )
        })?;
        Self::parse(&bytes)
            .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))
    }

    fn parse(object: &[u8]) -> io::Result<Self> {
        let sizes = section_sizes(object)?;
        if !sizes.iter().any(|(name, _)| name == ".text") {
            return Err(io::Error::other("the module object has no .text"));
        }
        Ok(Self { sizes })
    }
}

/// (name, size) of each section of a 64-bit little-endian ELF object.
fn section_sizes(object: &[u8]) -> io::Result<Vec<(String, u64)>> {
    let malformed = || io::Error::other("not a 64-bit little-endian ELF object");
    let u16_at = |at: usize| -> io::Result<u64> {
        let bytes = object.get(at..at + 2).ok_or_else(malformed)?;
        Ok(u16::from_le_bytes(bytes.try_into().unwrap()).into())
    };
    let u32_at = |at: usize| -> io::Result<u64> {
        let bytes = object.get(at..at + 4).ok_or_else(malformed)?;
        Ok(u32::from_le_bytes(bytes.try_into().unwrap()).into())
    };
    let u64_at = |at: usize| -> io::Result<u64> {
        let bytes = object.get(at..at + 8).ok_or_else(malformed)?;
        Ok(u64::from_le_bytes(bytes.try_into().unwrap()))
    };
    if !object.starts_with(b"\x7fELF\x02\x01") {
        return Err(malformed());
    }
    let (table, entry, count, names) = (
        u64_at(0x28)? as usize,
        u16_at(0x3a)? as usize,
        u16_at(0x3c)? as usize,
        u16_at(0x3e)? as usize,
    );
    let header = |index: usize| table + index * entry;
    let names_at = u64_at(header(names) + 0x18)? as usize;
    let mut sections = Vec::with_capacity(count);
    for index in 0..count {
        let name_at = names_at + u32_at(header(index))? as usize;
        let name = object
            .get(name_at..)
            .and_then(|rest| rest.split(|&byte| byte == 0).next())
            .ok_or_else(malformed)?;
        let size = u64_at(header(index) + 0x20)?;
        sections.push((String::from_utf8_lossy(name).into_owned(), size));
    }
    Ok(sections)
}

/// Coverage points reached: offsets in the module's sections.
#[derive(Clone, Debug, Default)]
pub struct Reached {
    points: BTreeSet<(&'static str, u64)>,
}

impl Reached {
    /// Adds `addresses`, located in `sections`; returns how many points
    /// were new.
    pub fn add(&mut self, addresses: &[u64], sections: &ModuleSections) -> usize {
        let before = self.points.len();
        self.add_placed(addresses, sections);
        self.points.len() - before
    }

    /// Adds `addresses`, located in `sections`; returns how many of them
    /// were in one of the sections.
    pub fn add_placed(&mut self, addresses: &[u64], sections: &ModuleSections) -> usize {
        let mut placed = 0;
        for &address in addresses {
            if let Some(point) = sections.locate(address) {
                self.points.insert(point);
                placed += 1;
            }
        }
        placed
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Adds what another set reached.
    pub fn merge(&mut self, other: &Reached) {
        self.points.extend(other.points.iter().copied());
    }

    /// Writes one `SECTION OFFSET` line per point (offset in hex).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut out = io::BufWriter::new(File::create(path)?);
        for (section, offset) in &self.points {
            writeln!(out, "{section} {offset:#x}")?;
        }
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_sizes_of_an_elf_object() {
        // This test's own executable is a 64-bit little-endian ELF file.
        let object = fs::read(std::env::current_exe().unwrap()).unwrap();
        let sizes = section_sizes(&object).unwrap();
        assert!(sizes
            .iter()
            .any(|(name, size)| name == ".text" && *size > 0));
        assert!(ModuleObject::parse(&object).is_ok());
        assert!(ModuleObject::parse(b"\x7fELF\x02\x01 too short").is_err());
        assert!(ModuleObject::parse(b"#!/bin/sh").is_err());
    }

    #[test]
    fn addresses_become_offsets_in_their_section() {
        let sections = ModuleSections {
            sections: vec![(0x1000, 0x100, ".text"), (0x9000, 0x10, ".exit.text")],
        };
        let mut reached = Reached::default();
        let outside = [0x0800, 0x1100, 0x9010];
        assert_eq!(reached.add(&[0x1010, 0x1010, 0x9004], &sections), 2);
        assert_eq!(reached.add_placed(&outside, &sections), 0);
        assert_eq!(reached.add(&[0x1010, 0x1020], &sections), 1);
        let points: Vec<_> = reached.points.iter().copied().collect();
        assert_eq!(
            points,
            [(".exit.text", 4), (".text", 0x10), (".text", 0x20)]
        );
    }
}
