//! Charts of `nltest bench` results: echoes per second of every case, the
//! module under test beside the baseline module, one at a time and batched,
//! with the spread of the rounds, drawn as SVG with `plotters`.

pub mod results;
mod svg;

pub use results::{Case, Figures, Mode, Results, Spread};
pub use svg::{render, Style};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not the JSON of `nltest bench --json`: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the results hold no case")]
    NoCases,
    #[error("results of two kernels ({0:?} and {1:?}): chart each kernel's apart")]
    KernelsDiffer(String, String),
    #[error("cannot draw the chart: {0}")]
    Draw(String),
}
