//! Netlink captures in the guest: an `nlmon` device (the kernel's netlink
//! monitor), tcpdump recording it, and a reader of the pcap file tcpdump
//! writes.
//!
//! The kernel copies to `nlmon` devices the messages of its own protocols
//! only (`netlink_filter_tap`: rtnetlink, `NETLINK_USERSOCK`, sock_diag,
//! NFLOG, xfrm, FIB lookup, netfilter and generic netlink), so the module's generic netlink family
//! is in a capture and its raw unit 17 is not.

use crate::guest::{self, wait_with_limit};
use anyhow::{bail, ensure, Context, Result};
use nltest_client::message::align;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// iproute2's `ip`, from the host: busybox's cannot create `nlmon` devices.
const IP: &str = "/usr/bin/ip";
/// tcpdump and ip load their shared libraries over 9p: seconds under TCG,
/// far more on the KASAN kernel when the host is busy.
const START_LIMIT: Duration = Duration::from_secs(120);
const LIMIT: Duration = Duration::from_secs(20);

/// The pcap link type of `nlmon` captures (`LINKTYPE_NETLINK`).
pub const LINKTYPE_NETLINK: u32 = 253;
/// `ARPHRD_NETLINK`, the hardware type in each packet's cooked header.
const ARPHRD_NETLINK: u16 = 824;
/// libpcap's header in front of each netlink datagram (like `LINKTYPE_LINUX_SLL`'s).
const COOKED_HEADER_LEN: usize = 16;
const NLMSG_HEADER_LEN: usize = 16;
pub const NLM_F_REQUEST: u16 = 0x1;

/// Netlink attributes: (type, value).
pub type Attributes = Vec<(u16, Vec<u8>)>;

/// One netlink message as the kernel saw it.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    /// What follows the netlink header.
    pub payload: Vec<u8>,
}

/// The payload as text, for failure messages: the tests' payloads are text.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("kind", &self.kind)
            .field("flags", &self.flags)
            .field("seq", &self.seq)
            .field("pid", &self.pid)
            .field("payload", &String::from_utf8_lossy(&self.payload))
            .finish()
    }
}

impl Message {
    /// Requests go to the kernel; what the kernel sends never has
    /// `NLM_F_REQUEST` (nlmon marks every packet as outgoing, so the flag is
    /// what tells the direction).
    pub fn is_request(&self) -> bool {
        self.flags & NLM_F_REQUEST != 0
    }

    /// The generic netlink command and the attributes after it, as (type,
    /// value).
    pub fn genl(&self) -> Option<(u8, Attributes)> {
        let cmd = *self.payload.first()?;
        Some((cmd, attributes(self.payload.get(4..)?)))
    }

    /// The value of this generic netlink message's attribute `kind`.
    pub fn genl_attribute(&self, kind: u16) -> Option<Vec<u8>> {
        let (_, attributes) = self.genl()?;
        attributes
            .into_iter()
            .find(|(found, _)| *found == kind)
            .map(|(_, value)| value)
    }
}

/// One datagram: its netlink protocol (the unit: 16 is generic netlink) and
/// its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub protocol: u16,
    pub messages: Vec<Message>,
}

/// Netlink attributes, as (type without the nested and byte order bits, value).
fn attributes(mut bytes: &[u8]) -> Attributes {
    let mut found = Vec::new();
    while let Some(header) = bytes.first_chunk::<4>() {
        let len = u16::from_ne_bytes([header[0], header[1]]) as usize;
        let kind = u16::from_ne_bytes([header[2], header[3]]) & 0x3fff;
        let Some(value) = bytes.get(4..len.max(4)) else {
            break;
        };
        found.push((kind, value.to_vec()));
        bytes = bytes.get(align(len.max(4))..).unwrap_or_default();
    }
    found
}

/// Reads a pcap file of an `nlmon` device: the global header (either byte
/// order, microsecond or nanosecond timestamps, link type
/// `LINKTYPE_NETLINK`), then each packet's record header, libpcap's cooked
/// header and the datagram's netlink messages (in host byte order, as the
/// kernel saw them).
pub fn parse_pcap(bytes: &[u8]) -> Result<Vec<Datagram>> {
    let header = bytes
        .first_chunk::<24>()
        .context("shorter than a pcap header")?;
    let magic = [header[0], header[1], header[2], header[3]];
    let big_endian = match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => false,
        _ if matches!(u32::from_be_bytes(magic), 0xa1b2_c3d4 | 0xa1b2_3c4d) => true,
        other => bail!("not a pcap file (magic {other:#010x})"),
    };
    let u32_at = |bytes: &[u8], at: usize| {
        let field = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if big_endian {
            u32::from_be_bytes(field)
        } else {
            u32::from_le_bytes(field)
        }
    };
    let link_type = u32_at(header, 20);
    ensure!(
        link_type == LINKTYPE_NETLINK,
        "link type {link_type}, not LINKTYPE_NETLINK ({LINKTYPE_NETLINK}): not an nlmon capture"
    );
    let mut datagrams = Vec::new();
    let mut rest = &bytes[24..];
    while !rest.is_empty() {
        let record = rest
            .first_chunk::<16>()
            .with_context(|| format!("packet {}: record header cut short", datagrams.len() + 1))?;
        let (captured, original) = (u32_at(record, 8) as usize, u32_at(record, 12) as usize);
        let data = rest.get(16..16 + captured).with_context(|| {
            format!(
                "packet {}: {captured} bytes announced, fewer in the file",
                datagrams.len() + 1
            )
        })?;
        datagrams.push(
            parse_datagram(data, captured < original)
                .with_context(|| format!("packet {}", datagrams.len() + 1))?,
        );
        rest = &rest[16 + captured..];
    }
    Ok(datagrams)
}

/// One packet: the cooked header (big-endian), then netlink messages. A
/// packet cut by the snapshot length keeps the messages that fit.
fn parse_datagram(data: &[u8], cut: bool) -> Result<Datagram> {
    let cooked = data
        .first_chunk::<COOKED_HEADER_LEN>()
        .context("shorter than its cooked header")?;
    let hardware = u16::from_be_bytes([cooked[2], cooked[3]]);
    ensure!(
        hardware == ARPHRD_NETLINK,
        "hardware type {hardware}, not ARPHRD_NETLINK"
    );
    let protocol = u16::from_be_bytes([cooked[14], cooked[15]]);
    let mut messages = Vec::new();
    let mut rest = &data[COOKED_HEADER_LEN..];
    while !rest.is_empty() {
        let fits = rest.first_chunk::<NLMSG_HEADER_LEN>().and_then(|header| {
            let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
            (len >= NLMSG_HEADER_LEN && len <= rest.len()).then_some((header, len))
        });
        let Some((header, len)) = fits else {
            ensure!(
                cut,
                "broken netlink framing after {} messages",
                messages.len()
            );
            break;
        };
        messages.push(Message {
            kind: u16::from_ne_bytes([header[4], header[5]]),
            flags: u16::from_ne_bytes([header[6], header[7]]),
            seq: u32::from_ne_bytes([header[8], header[9], header[10], header[11]]),
            pid: u32::from_ne_bytes([header[12], header[13], header[14], header[15]]),
            payload: rest[NLMSG_HEADER_LEN..len].to_vec(),
        });
        rest = rest.get(align(len)..).unwrap_or_default();
    }
    Ok(Datagram { protocol, messages })
}

/// An `nlmon` device, up, deleted on drop.
struct NlmonDevice(String);

impl NlmonDevice {
    fn create(name: &str) -> Result<Self> {
        ip(&["link", "add", name, "type", "nlmon"])?;
        let device = Self(name.to_string());
        ip(&["link", "set", name, "up"])?;
        Ok(device)
    }
}

impl Drop for NlmonDevice {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.0]);
    }
}

/// tcpdump recording an `nlmon` device into a pcap file, from
/// [`start`](Self::start) to [`stop`](Self::stop). Dropping it without
/// stopping kills tcpdump; either way the device is deleted.
pub struct Capture {
    file: PathBuf,
    tcpdump: Option<Child>,
    /// tcpdump's standard error, line by line.
    stderr: Receiver<String>,
    // Dropped after tcpdump is stopped (fields drop after `drop`).
    _device: NlmonDevice,
}

impl Capture {
    /// Creates the `nlmon` device `device`, starts tcpdump on it writing
    /// `file`, and returns once tcpdump listens: every message from then on
    /// is recorded.
    pub fn start(device: &str, file: &Path) -> Result<Self> {
        let nlmon = NlmonDevice::create(device)?;
        // -U writes each packet as it is read, --immediate-mode hands it
        // over as it arrives; -Z root: the guest has no tcpdump user to
        // drop privileges to.
        let mut tcpdump = Command::new("tcpdump")
            .args(["-Z", "root", "-i", device, "-U", "--immediate-mode", "-w"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting tcpdump (the host's, through /host/usr)")?;
        let stderr = tcpdump.stderr.take().context("no stderr")?;
        let (lines, stderr_lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let capture = Self {
            file: file.to_path_buf(),
            tcpdump: Some(tcpdump),
            stderr: stderr_lines,
            _device: nlmon,
        };
        // tcpdump says so once its socket is bound.
        let deadline = Instant::now() + START_LIMIT;
        let mut said = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match capture.stderr.recv_timeout(left) {
                Ok(line) if line.starts_with("tcpdump: listening on") => return Ok(capture),
                Ok(line) => said.push(line),
                Err(_) => bail!(
                    "tcpdump did not start listening on {device} within {START_LIMIT:?}: {}",
                    said.join(" | ")
                ),
            }
        }
    }

    /// Waits until what tcpdump has written so far is `wanted`; fails after
    /// [`LIMIT`]. The file is read while tcpdump writes it, so one cut in
    /// the middle of a record is read again.
    pub fn wait_for(&self, wanted: impl Fn(&[Datagram]) -> bool) -> Result<()> {
        let deadline = Instant::now() + LIMIT;
        loop {
            let bytes = std::fs::read(&self.file)
                .with_context(|| format!("reading {}", self.file.display()))?;
            let parsed = parse_pcap(&bytes);
            if parsed.as_deref().is_ok_and(&wanted) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let holds = match parsed {
                    Ok(datagrams) => format!("{} datagrams", datagrams.len()),
                    Err(error) => format!("{error:#}"),
                };
                bail!("not in the capture after {LIMIT:?} (it holds {holds})");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops tcpdump with SIGINT (it closes the file and exits 0), waits for
    /// it, and reads the whole capture.
    pub fn stop(mut self) -> Result<Vec<Datagram>> {
        let tcpdump = self.tcpdump.take().context("tcpdump not running")?;
        // SAFETY: kill has no memory effects; tcpdump is our child, not yet
        // reaped, so its pid is still its own.
        let sent = unsafe { libc::kill(tcpdump.id() as libc::pid_t, libc::SIGINT) };
        ensure!(
            sent == 0,
            "cannot send SIGINT to tcpdump: {}",
            std::io::Error::last_os_error()
        );
        let (ok, _) = wait_with_limit(tcpdump, LIMIT).context("stopping tcpdump")?;
        let said: Vec<String> = self.stderr.try_iter().collect();
        ensure!(ok, "tcpdump failed: {}", said.join(" | "));
        let bytes = std::fs::read(&self.file)
            .with_context(|| format!("reading {}", self.file.display()))?;
        parse_pcap(&bytes).with_context(|| format!("reading {}", self.file.display()))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut tcpdump) = self.tcpdump.take() {
            let _ = tcpdump.kill();
            let _ = tcpdump.wait();
        }
    }
}

fn ip(args: &[&str]) -> Result<()> {
    let (ok, output) = guest::run(IP, args, START_LIMIT)?;
    ensure!(ok, "ip {}: {output}", args.join(" "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pcap file as tcpdump writes it for an nlmon device: header, then
    /// each datagram behind its record header and cooked header.
    fn pcap(big_endian: bool, datagrams: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let u32_bytes = |value: u32| {
            if big_endian {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            }
        };
        let mut file = Vec::new();
        file.extend(u32_bytes(0xa1b2_c3d4));
        file.extend(if big_endian {
            [0, 2, 0, 4]
        } else {
            [2, 0, 4, 0]
        });
        file.extend([0; 8]);
        file.extend(u32_bytes(262_144));
        file.extend(u32_bytes(LINKTYPE_NETLINK));
        for (protocol, datagram) in datagrams {
            let len = (COOKED_HEADER_LEN + datagram.len()) as u32;
            file.extend([0; 8]);
            file.extend(u32_bytes(len));
            file.extend(u32_bytes(len));
            file.extend([0, 4, 3, 0x38]); // PACKET_OUTGOING, ARPHRD_NETLINK
            file.extend([0; 10]);
            file.extend(protocol.to_be_bytes());
            file.extend(datagram);
        }
        file
    }

    fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(((NLMSG_HEADER_LEN + payload.len()) as u32).to_ne_bytes());
        bytes.extend(kind.to_ne_bytes());
        bytes.extend(flags.to_ne_bytes());
        bytes.extend(seq.to_ne_bytes());
        bytes.extend(0u32.to_ne_bytes());
        bytes.extend(payload);
        bytes.resize(align(bytes.len()), 0);
        bytes
    }

    /// `CTRL_CMD_GETFAMILY` for "nltest", as the captures show it.
    fn get_family() -> Vec<u8> {
        let mut payload = vec![3, 2, 0, 0];
        payload.extend(11u16.to_ne_bytes());
        payload.extend(2u16.to_ne_bytes());
        payload.extend(b"nltest\0\0");
        message(0x10, NLM_F_REQUEST, 1, &payload)
    }

    #[test]
    fn reads_datagrams_in_either_byte_order() {
        for big_endian in [false, true] {
            let two = [message(0, 0, 7, b"first"), message(0, 0, 8, b"second")].concat();
            let file = pcap(big_endian, &[(16, get_family()), (2, two)]);
            let datagrams = parse_pcap(&file).unwrap();
            assert_eq!(datagrams.len(), 2);
            assert_eq!(datagrams[0].protocol, 16);
            let request = &datagrams[0].messages[0];
            assert!(request.is_request());
            assert_eq!((request.kind, request.seq), (0x10, 1));
            assert_eq!(request.genl_attribute(2).as_deref(), Some(&b"nltest\0"[..]));
            assert_eq!(datagrams[1].protocol, 2);
            let payloads: Vec<_> = datagrams[1]
                .messages
                .iter()
                .map(|m| &m.payload[..])
                .collect();
            assert_eq!(payloads, [&b"first"[..], b"second"]);
        }
    }

    #[test]
    fn refuses_what_is_not_a_whole_nlmon_capture() {
        let file = pcap(false, &[(16, get_family())]);
        assert!(
            parse_pcap(&file[..file.len() - 1]).is_err(),
            "record cut short"
        );
        assert!(parse_pcap(&file[..20]).is_err(), "header cut short");
        let mut ethernet = file.clone();
        ethernet[20] = 1; // LINKTYPE_ETHERNET
        assert!(parse_pcap(&ethernet).is_err(), "another link type");
        let mut broken = file.clone();
        let nlmsg_len = 24 + 16 + 16;
        broken[nlmsg_len..nlmsg_len + 4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse_pcap(&broken).is_err(), "nlmsg_len past the datagram");
    }
}
