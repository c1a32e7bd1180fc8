//! The typed service, whichever transport carries it: its operations
//! ([`Command`], from the specs' operation tables), a message of it
//! ([`Message`]: a command and its attributes), and the requests and
//! answers built on them. [`crate::unit`] and [`crate::genl`] encode and
//! decode a [`Message`], each as its transport frames it.

use crate::attr::{Attr, StatAttr};
use crate::Error;
use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use nltest_protocol::{genl, raw, ynl, Counter};

/// An operation of the service: the same operation in both specs, named
/// as they name it, numbered by each (`genlmsghdr.cmd` in the family,
/// `nlmsg_type` on the unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `echo`.
    Echo,
    /// `broadcast`.
    Broadcast,
    /// `get-stats`.
    GetStats,
    /// `event`, which the module only sends.
    Event,
    /// A number no operation of the specs has, sent as it is (the command
    /// in the family, the `nlmsg_type` on the unit), to see how the module
    /// refuses it; also what the family's decoder makes of a command it
    /// does not know.
    Other(u8),
}

impl Command {
    /// Every operation of the specs, in their order.
    pub const ALL: [Self; 4] = [Self::Echo, Self::Broadcast, Self::GetStats, Self::Event];

    /// The operation in the family's spec (`specs/nltest.yaml`).
    pub const fn genl(self) -> Option<&'static ynl::Operation<u8>> {
        match self {
            Self::Echo => Some(&genl::ECHO),
            Self::Broadcast => Some(&genl::BROADCAST),
            Self::GetStats => Some(&genl::GET_STATS),
            Self::Event => Some(&genl::EVENT),
            Self::Other(_) => None,
        }
    }

    /// The operation in the unit's spec (`specs/nltest-raw.yaml`).
    pub const fn raw(self) -> Option<&'static ynl::Operation<u16>> {
        match self {
            Self::Echo => Some(&raw::ECHO),
            Self::Broadcast => Some(&raw::BROADCAST),
            Self::GetStats => Some(&raw::GET_STATS),
            Self::Event => Some(&raw::EVENT),
            Self::Other(_) => None,
        }
    }

    /// The operation's name in the specs.
    pub fn name(self) -> Option<&'static str> {
        self.genl().map(|op| op.name)
    }

    /// The command in the family (`genlmsghdr.cmd`).
    pub fn cmd(self) -> u8 {
        match (self, self.genl()) {
            (Self::Other(number), _) => number,
            (_, op) => op.map_or(0, |op| op.value),
        }
    }

    /// The `nlmsg_type` on the unit.
    pub fn nlmsg_type(self) -> u16 {
        match (self, self.raw()) {
            (Self::Other(number), _) => number.into(),
            (_, op) => op.map_or(0, |op| op.value),
        }
    }

    /// The operation of command `cmd` in the family, or [`Command::Other`].
    pub fn from_cmd(cmd: u8) -> Self {
        Self::ALL
            .into_iter()
            .find(|command| command.cmd() == cmd)
            .unwrap_or(Self::Other(cmd))
    }

    /// The operation of `nlmsg_type` on the unit, if it is one's.
    pub fn from_nlmsg_type(nlmsg_type: u16) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|command| command.nlmsg_type() == nlmsg_type)
    }
}

/// A message of the typed service, whichever transport carries it: an
/// operation and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub command: Command,
    pub attrs: Vec<Attr>,
}

impl Message {
    pub fn new(command: Command, attrs: Vec<Attr>) -> Self {
        Self { command, attrs }
    }

    /// The value of its `data` attribute, if it has one.
    pub fn data(&self) -> Option<&[u8]> {
        self.attrs.iter().find_map(|attr| match attr {
            Attr::Data(data) => Some(&data[..]),
            _ => None,
        })
    }
}

/// A typed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Echo `data` back, and publish an event on group 1.
    Echo { data: Vec<u8> },
    /// Send `data` to multicast `group` (needs `CAP_NET_ADMIN`).
    Broadcast { group: u32, data: Vec<u8> },
    /// Read the counters of the namespace; `dump` asks for a multipart answer.
    GetStats { dump: bool },
    /// Any command and attributes, for testing how the module rejects them.
    Custom(Message),
}

impl Request {
    /// The request as a message of the service.
    pub fn message(&self) -> Message {
        match self {
            Self::Echo { data } => Message::new(Command::Echo, vec![Attr::Data(data.clone())]),
            Self::Broadcast { group, data } => Message::new(
                Command::Broadcast,
                vec![Attr::Data(data.clone()), Attr::Group(*group)],
            ),
            Self::GetStats { .. } => Message::new(Command::GetStats, vec![]),
            Self::Custom(message) => message.clone(),
        }
    }

    /// `nlmsg_flags` for the request: `NLM_F_REQUEST`, plus `NLM_F_ACK` and
    /// `NLM_F_DUMP` as asked.
    pub fn flags(&self, ack: bool) -> u16 {
        let mut flags = NLM_F_REQUEST;
        if ack {
            flags |= NLM_F_ACK;
        }
        self.flags_with(flags)
    }

    /// `flags`, with `NLM_F_REQUEST`, and `NLM_F_DUMP` for a dump.
    pub fn flags_with(&self, mut flags: u16) -> u16 {
        flags |= NLM_F_REQUEST;
        if self.is_dump() {
            flags |= NLM_F_DUMP;
        }
        flags
    }

    pub fn is_dump(&self) -> bool {
        matches!(self, Self::GetStats { dump: true })
    }
}

/// One counter of `GET_STATS`: a `STAT` nest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stat {
    /// Which counter.
    pub counter: Counter,
    /// The group, for `Counter::Listeners`.
    pub group: Option<u32>,
    pub value: u64,
}

impl Stat {
    /// The counter's name, as the spec has it.
    pub fn name(&self) -> &'static str {
        self.counter.name()
    }

    /// The counter of a `STAT` nest's attributes.
    fn from_nest(nest: &[StatAttr]) -> Result<Self, Error> {
        let (mut counter, mut group, mut value) = (None, None, None);
        for attr in nest {
            match attr {
                StatAttr::Counter(c) => counter = Some(*c),
                StatAttr::Group(g) => group = Some(*g),
                StatAttr::Value(v) => value = Some(*v),
                StatAttr::Other(_) => {}
            }
        }
        match (counter, value) {
            (Some(counter), Some(value)) => Ok(Self {
                counter,
                group,
                value,
            }),
            _ => Err(Error::Decode("STAT without COUNTER or VALUE".into())),
        }
    }
}

/// What `ECHO` publishes and `BROADCAST` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub data: Vec<u8>,
    /// Port id of the request's sender.
    pub portid: u32,
    /// Uid of the request's sender.
    pub uid: u32,
}

/// A typed message from the module, as what it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The answer to `ECHO`.
    Echo { data: Vec<u8> },
    /// The answer to `GET_STATS`: all counters, or one part of a dump.
    Stats(Vec<Stat>),
    /// An `EVENT`, received as a member of a multicast group.
    Event(Event),
}

impl TryFrom<&Message> for Response {
    type Error = Error;

    fn try_from(message: &Message) -> Result<Self, Error> {
        match message.command {
            Command::Echo => {
                let data = message
                    .data()
                    .ok_or_else(|| Error::Decode("ECHO reply without DATA".into()))?;
                Ok(Self::Echo {
                    data: data.to_vec(),
                })
            }
            // One STAT nest per counter: all of them in the single answer,
            // one in each part of a dump.
            Command::GetStats => message
                .attrs
                .iter()
                .filter_map(|attr| match attr {
                    Attr::Stat(nest) => Some(Stat::from_nest(nest)),
                    _ => None,
                })
                .collect::<Result<_, _>>()
                .map(Self::Stats),
            Command::Event => {
                let mut event = Event {
                    data: Vec::new(),
                    portid: 0,
                    uid: 0,
                };
                for attr in &message.attrs {
                    match attr {
                        Attr::Data(data) => event.data = data.clone(),
                        Attr::Portid(portid) => event.portid = *portid,
                        Attr::Uid(uid) => event.uid = *uid,
                        _ => {}
                    }
                }
                Ok(Self::Event(event))
            }
            other => Err(Error::Decode(format!(
                "unexpected {other:?} from the module"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::parse_attrs;
    use netlink_packet_core::{DefaultNla, Emitable};
    use nltest_protocol::{attrs, stat_attrs};

    #[test]
    fn commands_are_the_operations_of_both_specs() {
        let names: Vec<_> = Command::ALL.iter().map(|c| c.name().unwrap()).collect();
        let genl_names: Vec<_> = genl::OPERATIONS.iter().map(|op| op.name).collect();
        let raw_names: Vec<_> = raw::OPERATIONS.iter().map(|op| op.name).collect();
        assert_eq!(names, genl_names);
        assert_eq!(names, raw_names);
        for command in Command::ALL {
            assert_eq!(Command::from_cmd(command.cmd()), command);
            assert_eq!(
                Command::from_nlmsg_type(command.nlmsg_type()),
                Some(command)
            );
        }
        assert_eq!(Command::Echo.cmd(), genl::cmd::ECHO);
        assert_eq!(Command::Echo.nlmsg_type(), raw::msg::ECHO);
        assert_eq!(Command::from_cmd(0x1f), Command::Other(0x1f));
        assert_eq!(Command::Other(0x1f).nlmsg_type(), 0x1f);
        assert_eq!(Command::from_nlmsg_type(0x1f), None);
    }

    #[test]
    fn dump_flag_only_for_stats_dump() {
        assert_eq!(
            Request::GetStats { dump: true }.flags(false),
            NLM_F_REQUEST | NLM_F_DUMP
        );
        assert_eq!(Request::Echo { data: vec![] }.flags(false), NLM_F_REQUEST);
    }

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let nla = DefaultNla::new(kind, value.to_vec());
        let mut buffer = vec![0; nla.buffer_len()];
        nla.emit(&mut buffer);
        buffer
    }

    fn response(command: Command, payload: &[u8]) -> Result<Response, Error> {
        let attrs = parse_attrs(payload).map_err(|error| Error::Decode(error.to_string()))?;
        Response::try_from(&Message::new(command, attrs))
    }

    #[test]
    fn decodes_events_and_stats() {
        let mut payload = nla(attrs::DATA, b"x");
        payload.extend(nla(attrs::PORTID, &7u32.to_ne_bytes()));
        payload.extend(nla(attrs::UID, &65534u32.to_ne_bytes()));
        assert_eq!(
            response(Command::Event, &payload).unwrap(),
            Response::Event(Event {
                data: b"x".to_vec(),
                portid: 7,
                uid: 65534
            })
        );

        // A uint value of 4 bytes, then of 8.
        let mut listeners = nla(
            stat_attrs::COUNTER,
            &u32::from(Counter::Listeners).to_ne_bytes(),
        );
        listeners.extend(nla(stat_attrs::GROUP, &3u32.to_ne_bytes()));
        listeners.extend(nla(stat_attrs::VALUE, &2u32.to_ne_bytes()));
        let mut bytes = nla(
            stat_attrs::COUNTER,
            &u32::from(Counter::Bytes).to_ne_bytes(),
        );
        bytes.extend(nla(stat_attrs::VALUE, &(1u64 << 40).to_ne_bytes()));
        let expected = [
            Stat {
                counter: Counter::Listeners,
                group: Some(3),
                value: 2,
            },
            Stat {
                counter: Counter::Bytes,
                group: None,
                value: 1 << 40,
            },
        ];
        let part = nla(attrs::STAT, &listeners);
        assert_eq!(
            response(Command::GetStats, &part).unwrap(),
            Response::Stats(vec![expected[0]])
        );
        let mut both = part.clone();
        both.extend(nla(attrs::STAT, &bytes));
        assert_eq!(
            response(Command::GetStats, &both).unwrap(),
            Response::Stats(expected.to_vec())
        );
        // A value of 2 bytes is no uint.
        let mut short = nla(stat_attrs::COUNTER, &1u32.to_ne_bytes());
        short.extend(nla(stat_attrs::VALUE, &[1, 0]));
        assert!(response(Command::GetStats, &nla(attrs::STAT, &short)).is_err());
        // A counter without its value, an echo without data.
        let counter_only = nla(stat_attrs::COUNTER, &1u32.to_ne_bytes());
        assert!(response(Command::GetStats, &nla(attrs::STAT, &counter_only)).is_err());
        assert!(response(Command::Echo, &[]).is_err());
        assert!(response(Command::Other(9), &[]).is_err());
    }
}
