use std::time::Duration;

/// What can go wrong talking to the module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "netlink protocol {unit} is not registered: load the module first (insmod nltest.ko{})",
        if *unit == nltest_protocol::NETLINK_TEST { String::new() } else { format!(" unit={unit}") }
    )]
    ModuleNotLoaded { unit: u32 },

    #[error("no reply from the module within {0:?}")]
    Timeout(Duration),

    #[error(
        "the kernel dropped messages for this socket because its receive queue \
         was full (ENOBUFS): read faster or enlarge the receive buffer"
    )]
    Overrun,

    #[error("the module answered request {seq} with an error: {source}")]
    Kernel { seq: u32, source: std::io::Error },

    #[error("echo {seq} came back changed: sent {sent} bytes, got {received} bytes{detail}")]
    Mismatch {
        seq: u32,
        sent: usize,
        received: usize,
        detail: String,
    },

    #[error("cannot decode a message from the module: {0}")]
    Decode(String),

    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { context, source }
    }
}
