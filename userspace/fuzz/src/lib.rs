//! Fuzzing of the nltest module: seeded, structure-aware datagrams on its
//! protocol unit and through its generic netlink family, with the module's
//! health checked as the campaign goes.
//!
//! A campaign is blind (every datagram fresh from the [`Generator`]) or
//! guided by coverage (KCOV, on the debug kernel): datagrams that reach
//! module code no earlier one reached join a corpus, and most later
//! datagrams are [`mutate`]d from it, the way syzkaller grows its corpus.

mod campaign;
mod generator;
mod mutate;

pub use campaign::{genl_health_check, health_check, run, Coverage, Options, Report, Target};
pub use generator::Generator;
pub use mutate::{mutate, Datagram, Via};
