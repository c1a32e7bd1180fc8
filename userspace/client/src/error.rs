use crate::message::ExtAck;
use std::time::Duration;

fn kernel_error_text(errno: i32, ack: &ExtAck) -> String {
    let text = match &ack.message {
        Some(message) => message.clone(),
        None => std::io::Error::from_raw_os_error(errno).to_string(),
    };
    match ack.missing_type {
        Some(attr) => format!(
            "{text}: the request lacks the {} attribute",
            attr_name(attr)
        ),
        None => text,
    }
}

/// The spec's name of a top-level attribute, or its number.
fn attr_name(attr: u32) -> String {
    nltest_protocol::genl::policy::ATTRS
        .iter()
        .find(|spec| u32::from(spec.value) == attr)
        .map_or_else(|| format!("#{attr}"), |spec| spec.name.to_string())
}

/// What can go wrong talking to the module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "netlink protocol {unit} is not registered: load the module first (insmod nltest.ko{})",
        if *unit == nltest_protocol::DEFAULT_UNIT { String::new() } else { format!(" unit={unit}") }
    )]
    ModuleNotLoaded { unit: u32 },

    #[error(
        "generic netlink family {name} is not registered: load the module first (insmod nltest.ko)"
    )]
    FamilyNotRegistered { name: &'static str },

    #[error("no reply from the module within {0:?}")]
    Timeout(Duration),

    /// Joining a multicast group was refused (`EPERM`).
    #[error(
        "cannot join {group}: listening needs CAP_NET_ADMIN, unless the module \
         was loaded with nonroot_listen=1"
    )]
    JoinRefused { group: String },

    #[error(
        "the kernel dropped messages for this socket because its receive queue \
         was full (ENOBUFS): read faster or enlarge the receive buffer"
    )]
    Overrun,

    /// The module answered request `seq` with `NLMSG_ERROR`; shown as the
    /// extended ack message when there is one, as iproute2 does.
    #[error("{}", kernel_error_text(*.errno, .ack))]
    Kernel { seq: u32, errno: i32, ack: ExtAck },

    #[error("echo {seq} came back changed: sent {sent} bytes, got {received} bytes{detail}")]
    Mismatch {
        seq: u32,
        sent: usize,
        received: usize,
        detail: String,
    },

    #[error(
        "attribute {nla_type} of {len} bytes does not fit a netlink attribute \
         (at most {} bytes)",
        crate::attr::MAX_ATTRIBUTE_LEN
    )]
    AttributeTooLarge { nla_type: u16, len: usize },

    #[error("cannot decode a message from the module: {0}")]
    Decode(String),

    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: std::io::Error,
    },
}

impl Error {
    /// The errno the module answered with, for [`Error::Kernel`].
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { context, source }
    }
}
