//! The chart: a grid of panels, one row per way of sending (one at a time,
//! batched), one column per payload size; in each, a group of bars per
//! protocol, the module under test beside the baseline module.
//!
//! Each panel has its own linear scale from zero: echoes per second span
//! two orders of magnitude between a batched 16-byte echo and a 16 KiB one,
//! and on one scale the small cases' bars, and the few percent between the
//! two modules, would not show.

use crate::results::{Case, Mode, Results, Spread};
use crate::Error;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

/// What the chart says beside the figures.
#[derive(Debug, Clone)]
pub struct Style {
    /// The whole title; default: what is measured, and on which kernel.
    pub title: Option<String>,
    /// Appended to the line under the title (how the figures were taken).
    pub note: Option<String>,
    /// Names of the module under test and the baseline module.
    pub subject: String,
    pub baseline: String,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            title: None,
            note: None,
            subject: "Rust module".into(),
            baseline: "C reference module".into(),
        }
    }
}

const FONT: &str = "sans-serif";
const SUBJECT_COLOR: RGBColor = RGBColor(0xc4, 0x5a, 0x1c);
const BASELINE_COLOR: RGBColor = RGBColor(0x3b, 0x6e, 0xa5);
const WHISKER_COLOR: RGBColor = RGBColor(0x20, 0x20, 0x20);
const NOTE_COLOR: RGBColor = RGBColor(0x50, 0x50, 0x50);
const GRID_COLOR: RGBColor = RGBColor(0xe0, 0xe0, 0xe0);
const PANEL_WIDTH: u32 = 400;
const PANEL_HEIGHT: u32 = 320;
const HEADER_HEIGHT: u32 = 100;

/// The chart of `results`, as an SVG document.
pub fn render(results: &Results, style: &Style) -> Result<String, Error> {
    let sizes = results.sizes();
    let modes: Vec<Mode> = Mode::ALL
        .into_iter()
        .filter(|&mode| results.has(mode))
        .collect();
    let width = PANEL_WIDTH * sizes.len().max(2) as u32;
    let height = HEADER_HEIGHT + PANEL_HEIGHT * modes.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let (header, body) = root.split_vertically(HEADER_HEIGHT);
        draw_header(&header, results, style)?;
        let panels = body.split_evenly((modes.len(), sizes.len()));
        for (row, &mode) in modes.iter().enumerate() {
            for (column, &size) in sizes.iter().enumerate() {
                let panel = &panels[row * sizes.len() + column];
                draw_panel(panel, results, mode, size, column == 0)?;
            }
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

fn failed(error: impl std::fmt::Display) -> Error {
    Error::Draw(error.to_string())
}

/// Title, the note on how to read the figures, and the legend.
fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    results: &Results,
    style: &Style,
) -> Result<(), Error> {
    let with_baseline = results.cases.iter().any(|c| c.baseline.is_some());
    let title = style.title.clone().unwrap_or_else(|| {
        let modules = if with_baseline {
            format!("{} and {}", style.subject, style.baseline)
        } else {
            style.subject.clone()
        };
        let kernel = results
            .kernel_release
            .as_ref()
            .map_or(String::new(), |release| format!(", Linux {release}"));
        format!("nltest echo throughput: {modules}{kernel}")
    });
    let mut note = format!(
        "echoes per second; bars: median of {} rounds, whiskers: min to max",
        results.rounds
    );
    if let Some(more) = &style.note {
        note = format!("{note}; {more}");
    }
    let text = |size: u32, color: &RGBColor| (FONT, size).into_font().color(color);
    area.draw(&Text::new(
        title,
        (16, 12),
        (FONT, 22).into_font().style(FontStyle::Bold),
    ))
    .map_err(failed)?;
    area.draw(&Text::new(note, (16, 44), text(14, &NOTE_COLOR)))
        .map_err(failed)?;

    let mut x = 16;
    let swatch = |label: &str, color: RGBColor, x: &mut i32| -> Result<(), Error> {
        area.draw(&Rectangle::new([(*x, 70), (*x + 14, 84)], color.filled()))
            .map_err(failed)?;
        area.draw(&Text::new(
            label.to_string(),
            (*x + 20, 70),
            text(14, &BLACK),
        ))
        .map_err(failed)?;
        *x += 40 + 7 * label.len() as i32;
        Ok(())
    };
    swatch(&style.subject, SUBJECT_COLOR, &mut x)?;
    if with_baseline {
        swatch(&style.baseline, BASELINE_COLOR, &mut x)?;
        let mut key = format!(
            "number above a pair: {} / {}, median of the rounds' ratios",
            style.subject, style.baseline
        );
        if results.cases.iter().any(|c| c.baseline.is_none()) {
            key = format!("{key}; a bar alone: {} only", style.subject);
        }
        area.draw(&Text::new(key, (x, 70), text(14, &NOTE_COLOR)))
            .map_err(failed)?;
    }
    Ok(())
}

/// The bars of one way of sending and one payload size.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    results: &Results,
    mode: Mode,
    size: usize,
    first_column: bool,
) -> Result<(), Error> {
    let cases: Vec<&Case> = results
        .protocols()
        .into_iter()
        .filter_map(|protocol| results.case(protocol, size))
        .collect();
    let spreads = |case: &Case| {
        let baseline = case.baseline.and_then(|b| b.get(mode));
        [case.subject.get(mode), baseline]
    };
    let highest = cases
        .iter()
        .flat_map(|case| spreads(case))
        .flatten()
        .map(|spread| spread.max)
        .fold(0.0, f64::max);
    // Room above the bars for the ratios.
    let top = if highest > 0.0 { highest * 1.15 } else { 1.0 };
    let caption = match mode {
        Mode::OneAtATime => format!("{}, one at a time", size_name(size)),
        Mode::Batched => format!(
            "{}, batched ({} per sendmsg)",
            size_name(size),
            cases.first().map_or(0, |case| case.batch)
        ),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 16))
        .margin(10)
        .x_label_area_size(28)
        .y_label_area_size(if first_column { 70 } else { 50 })
        .build_cartesian_2d(Groups(cases.len().max(1)), 0.0..top)
        .map_err(failed)?;
    let name_at = |x: &f64| {
        cases
            .get(x.floor() as usize)
            .map_or(String::new(), |case| case.protocol.clone())
    };
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_label_formatter(&name_at)
        .y_labels(6)
        .y_label_formatter(&|y| si(*y))
        .bold_line_style(GRID_COLOR)
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 13));
    if first_column {
        mesh.y_desc("echoes per second");
    }
    mesh.draw().map_err(failed)?;

    for (i, case) in cases.iter().enumerate() {
        let left = i as f64;
        let bars: Vec<(f64, f64, Spread, RGBColor)> = match spreads(case) {
            [Some(subject), Some(baseline)] => vec![
                (left + 0.12, left + 0.48, subject, SUBJECT_COLOR),
                (left + 0.52, left + 0.88, baseline, BASELINE_COLOR),
            ],
            // Alone (no baseline, e.g. the generic netlink family): centred.
            [Some(subject), None] => vec![(left + 0.32, left + 0.68, subject, SUBJECT_COLOR)],
            _ => Vec::new(),
        };
        for &(from, to, spread, color) in &bars {
            let middle = (from + to) / 2.0;
            let cap = (to - from) / 5.0;
            chart
                .draw_series([Rectangle::new(
                    [(from, 0.0), (to, spread.median)],
                    color.filled(),
                )])
                .map_err(failed)?;
            chart
                .draw_series([
                    PathElement::new(
                        vec![(middle, spread.min), (middle, spread.max)],
                        WHISKER_COLOR,
                    ),
                    PathElement::new(
                        vec![(middle - cap, spread.min), (middle + cap, spread.min)],
                        WHISKER_COLOR,
                    ),
                    PathElement::new(
                        vec![(middle - cap, spread.max), (middle + cap, spread.max)],
                        WHISKER_COLOR,
                    ),
                ])
                .map_err(failed)?;
        }
        let ratio = case.ratio.and_then(|ratio| ratio.get(mode));
        if let (Some(ratio), 2) = (ratio, bars.len()) {
            let above = bars[0].2.max.max(bars[1].2.max) + top * 0.015;
            chart
                .draw_series([Text::new(
                    format!("{:.3}", ratio.median),
                    (left + 0.5, above),
                    (FONT, 13)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )])
                .map_err(failed)?;
        }
    }
    Ok(())
}

/// A panel's x axis: `.0` groups of bars, one unit wide each, labelled at
/// their centres (an `f64` axis of its own would put its ticks at round
/// numbers, between the groups).
struct Groups(usize);

impl Ranged for Groups {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (from, to): (i32, i32)) -> i32 {
        from + (f64::from(to - from) * value / self.0 as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.0).map(|group| group as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.0 as f64
    }
}

/// A payload size as the README writes it: 16 B, 1 KiB, 16 KiB.
pub(crate) fn size_name(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// An axis figure, short: 150k, 2.5M.
pub(crate) fn si(value: f64) -> String {
    let (scaled, suffix) = if value.abs() >= 1e6 {
        (value / 1e6, "M")
    } else if value.abs() >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let digits = format!("{scaled:.2}");
    let digits = digits.trim_end_matches('0').trim_end_matches('.');
    format!("{digits}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Figures;

    #[test]
    fn axis_figures_are_short() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(500.0), "500");
        assert_eq!(si(2500.0), "2.5k");
        assert_eq!(si(150_000.0), "150k");
        assert_eq!(si(1_000_000.0), "1M");
        assert_eq!(si(1_250_000.0), "1.25M");
    }

    #[test]
    fn sizes_are_named_in_bytes_or_kib() {
        assert_eq!(size_name(16), "16 B");
        assert_eq!(size_name(1024), "1 KiB");
        assert_eq!(size_name(16384), "16 KiB");
        assert_eq!(size_name(1000), "1000 B");
    }

    fn spread(median: f64) -> Option<Spread> {
        Some(Spread {
            median,
            min: median * 0.99,
            max: median * 1.01,
        })
    }

    #[test]
    fn the_chart_names_the_kernel_every_case_and_both_modules() {
        let figures = |single, batched| Figures {
            one_at_a_time: spread(single),
            batched: spread(batched),
        };
        let case = |protocol: &str, size, baseline: bool| Case {
            protocol: protocol.into(),
            size,
            batch: 64,
            subject: figures(150e3, 2e6),
            baseline: baseline.then(|| figures(155e3, 2.1e6)),
            ratio: baseline.then(|| figures(0.968, 0.952)),
        };
        let results = Results {
            kernel_release: Some("7.3.4".into()),
            rounds: 3,
            cases: vec![
                case("raw", 16, true),
                case("typed", 16, true),
                case("genl", 16, false),
                case("raw", 1024, true),
            ],
        };
        let svg = render(&results, &Style::default()).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for text in [
            "Linux 7.3.4",
            "Rust module",
            "C reference module",
            "a bar alone: Rust module only",
            "median of 3 rounds",
            "16 B, one at a time",
            "1 KiB, batched (64 per sendmsg)",
            "genl",
            "0.968",
            "0.952",
            "echoes per second",
        ] {
            assert!(svg.contains(text), "no {text:?} in the chart");
        }
    }
}
