//! The results `nltest bench --json` (or `--json-file`) writes, read back:
//! echoes per second of each case, for the module under test and the
//! baseline module, one at a time and batched, median and spread over the
//! rounds.

use crate::Error;
use serde::Deserialize;
use serde_json::Value;

/// Median and spread of one figure over the rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// Of the finite `values` (a run that did not take place has none);
    /// `None` without any. The median is the one `nltest bench` prints, the
    /// middle value (of an even count, the upper one), so that a bar is the
    /// table's figure.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        values.sort_by(f64::total_cmp);
        Some(Self {
            median: *values.get(values.len() / 2)?,
            min: values[0],
            max: values[values.len() - 1],
        })
    }
}

/// How a run sends its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One request per `sendmsg`, waiting for its echo.
    OneAtATime,
    /// A batch of requests per `sendmsg`.
    Batched,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::OneAtATime, Mode::Batched];
}

/// Echoes per second of one module in one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub one_at_a_time: Option<Spread>,
    pub batched: Option<Spread>,
}

impl Figures {
    pub fn get(&self, mode: Mode) -> Option<Spread> {
        match mode {
            Mode::OneAtATime => self.one_at_a_time,
            Mode::Batched => self.batched,
        }
    }
}

/// One case: a protocol and a payload size.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `raw`, `typed` or `genl`.
    pub protocol: String,
    /// Payload bytes per echo.
    pub size: usize,
    /// Requests per `sendmsg` in the batched run.
    pub batch: u32,
    /// The module under test (`--unit`).
    pub subject: Figures,
    /// The baseline module (`--baseline-unit`), when there was one.
    pub baseline: Option<Figures>,
    /// Subject / baseline, over the rounds (each round's ratio: the figure
    /// the bench's table prints), when there was a baseline.
    pub ratio: Option<Figures>,
}

/// The cases of one or more `nltest bench` runs on one kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// `uname -r` in the guest; older results do not say.
    pub kernel_release: Option<String>,
    /// Rounds of the first run.
    pub rounds: u32,
    pub cases: Vec<Case>,
}

/// The protocols in the order the benchmark lists them; others follow.
const PROTOCOL_ORDER: [&str; 3] = ["raw", "typed", "genl"];

impl Results {
    /// Reads one run's results (a JSON object) or several (an array of
    /// them, e.g. the modules side by side, then the unit against the
    /// generic netlink family). A case measured by several runs is taken
    /// from the first that has a baseline, else from the first.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(json)?;
        let documents: Vec<Document> = match value {
            Value::Array(items) => items
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<_, _>>()?,
            other => vec![serde_json::from_value(other)?],
        };
        let mut documents = documents.into_iter();
        let first = documents.next().ok_or(Error::NoCases)?;
        let mut results = Self {
            kernel_release: first.kernel_release.clone(),
            rounds: first.rounds,
            cases: Vec::new(),
        };
        for document in std::iter::once(first).chain(documents) {
            if document.kernel_release != results.kernel_release {
                return Err(Error::KernelsDiffer(
                    results.kernel_release.unwrap_or_default(),
                    document.kernel_release.unwrap_or_default(),
                ));
            }
            for case in document.cases {
                results.add(case.into_case());
            }
        }
        if results.cases.is_empty() {
            return Err(Error::NoCases);
        }
        Ok(results)
    }

    fn add(&mut self, case: Case) {
        match self
            .cases
            .iter_mut()
            .find(|c| c.protocol == case.protocol && c.size == case.size)
        {
            Some(known) if known.baseline.is_none() && case.baseline.is_some() => *known = case,
            Some(_) => {}
            None => self.cases.push(case),
        }
    }

    /// The payload sizes measured, smallest first.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes: Vec<usize> = self.cases.iter().map(|c| c.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }

    /// The protocols measured: raw, typed, genl, then any other in the
    /// order they came.
    pub fn protocols(&self) -> Vec<&str> {
        let mut protocols: Vec<&str> = Vec::new();
        for case in &self.cases {
            if !protocols.contains(&case.protocol.as_str()) {
                protocols.push(&case.protocol);
            }
        }
        protocols.sort_by_key(|p| {
            PROTOCOL_ORDER
                .iter()
                .position(|known| known == p)
                .unwrap_or(PROTOCOL_ORDER.len())
        });
        protocols
    }

    pub fn case(&self, protocol: &str, size: usize) -> Option<&Case> {
        self.cases
            .iter()
            .find(|c| c.protocol == protocol && c.size == size)
    }

    /// Whether any case has a run of this mode.
    pub fn has(&self, mode: Mode) -> bool {
        self.cases.iter().any(|c| c.subject.get(mode).is_some())
    }
}

/// One `nltest bench` run's JSON, the fields the chart needs.
#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    kernel_release: Option<String>,
    rounds: u32,
    cases: Vec<CaseJson>,
}

#[derive(Deserialize)]
struct CaseJson {
    protocol: String,
    size: usize,
    batch: u32,
    subject: SummaryJson,
    #[serde(default)]
    baseline: Option<SummaryJson>,
    #[serde(default)]
    ratio_single: Option<SpreadJson>,
    #[serde(default)]
    ratio_batched: Option<SpreadJson>,
}

/// Median and spread; `null` when not finite.
#[derive(Deserialize)]
struct SpreadJson {
    median: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
}

impl SpreadJson {
    fn spread(&self) -> Option<Spread> {
        Some(Spread {
            median: self.median?,
            min: self.min?,
            max: self.max?,
        })
    }
}

#[derive(Deserialize)]
struct SummaryJson {
    single: RunJson,
    batched: RunJson,
}

#[derive(Deserialize)]
struct RunJson {
    echoes: f64,
    /// The median; `null` when not finite.
    echoes_per_second: Option<f64>,
    /// Every round's figure (`null` when not finite); absent from results
    /// of before it was added, which then show the median alone.
    #[serde(default)]
    echoes_per_second_rounds: Vec<Option<f64>>,
}

impl RunJson {
    fn spread(&self) -> Option<Spread> {
        // `--batched-only` leaves the run one at a time out: no echoes.
        if self.echoes <= 0.0 {
            return None;
        }
        let rounds: Vec<f64> = self
            .echoes_per_second_rounds
            .iter()
            .flatten()
            .copied()
            .collect();
        if rounds.is_empty() {
            return Spread::of(&[self.echoes_per_second?]);
        }
        Spread::of(&rounds)
    }
}

impl SummaryJson {
    fn figures(&self) -> Figures {
        Figures {
            one_at_a_time: self.single.spread(),
            batched: self.batched.spread(),
        }
    }
}

impl CaseJson {
    fn into_case(self) -> Case {
        Case {
            subject: self.subject.figures(),
            baseline: self.baseline.as_ref().map(SummaryJson::figures),
            ratio: self.baseline.as_ref().map(|_| Figures {
                one_at_a_time: self.ratio_single.as_ref().and_then(SpreadJson::spread),
                batched: self.ratio_batched.as_ref().and_then(SpreadJson::spread),
            }),
            protocol: self.protocol,
            size: self.size,
            batch: self.batch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's JSON as `nltest bench` writes it (trimmed to what matters).
    fn run(rounds: &[f64]) -> String {
        let median = Spread::of(rounds).map_or(0.0, |s| s.median);
        format!(
            r#"{{"echoes": 30000.0, "echoes_per_second": {median}, "echoes_per_second_rounds": {rounds:?},
                "syscalls_per_echo": 2.0}}"#
        )
    }

    fn case(protocol: &str, size: usize, subject: &[f64], baseline: Option<&[f64]>) -> String {
        let summary = |r: &[f64]| {
            format!(
                r#"{{"latency_median_us": 6.0, "single": {}, "batched": {}}}"#,
                run(r),
                run(&r.iter().map(|v| v * 10.0).collect::<Vec<_>>())
            )
        };
        let baseline = baseline.map_or(String::new(), |b| {
            format!(
                r#", "baseline": {}, "ratio_single": {{"median": 1.0, "min": 0.9, "max": 1.1}},
                   "ratio_batched": {{"median": 0.5, "min": 0.5, "max": 0.5}}"#,
                summary(b)
            )
        });
        format!(
            r#"{{"protocol": "{protocol}", "size": {size}, "batch": 64, "count": 30000,
                "subject": {}{baseline}}}"#,
            summary(subject)
        )
    }

    fn document(kernel: &str, cases: &[String]) -> String {
        format!(
            r#"{{"kernel_release": "{kernel}", "unit": 17, "baseline_unit": 23, "rounds": 3,
                "cases": [{}]}}"#,
            cases.join(",")
        )
    }

    #[test]
    fn the_median_is_the_middle_round_and_the_spread_its_extremes() {
        let spread = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            spread,
            Spread {
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        // Of an even count, the upper middle value, as the bench's table.
        assert_eq!(Spread::of(&[4.0, 1.0, 3.0, 2.0]).unwrap().median, 3.0);
        assert_eq!(Spread::of(&[f64::NAN, 5.0]).unwrap().median, 5.0);
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[f64::INFINITY]), None);
    }

    #[test]
    fn one_document_gives_every_case_with_both_modules() {
        let json = document(
            "7.3.4",
            &[
                case(
                    "raw",
                    16,
                    &[100.0, 120.0, 110.0],
                    Some(&[105.0, 101.0, 103.0]),
                ),
                case(
                    "typed",
                    1024,
                    &[50.0, 52.0, 51.0],
                    Some(&[53.0, 54.0, 55.0]),
                ),
            ],
        );
        let results = Results::parse(&json).unwrap();
        assert_eq!(results.kernel_release.as_deref(), Some("7.3.4"));
        assert_eq!(results.rounds, 3);
        assert_eq!(results.sizes(), [16, 1024]);
        assert_eq!(results.protocols(), ["raw", "typed"]);
        let raw = results.case("raw", 16).unwrap();
        assert_eq!(
            raw.subject.one_at_a_time,
            Some(Spread {
                median: 110.0,
                min: 100.0,
                max: 120.0
            })
        );
        assert_eq!(raw.subject.batched.unwrap().median, 1100.0);
        assert_eq!(raw.baseline.unwrap().one_at_a_time.unwrap().median, 103.0);
        let ratio = raw.ratio.unwrap();
        assert_eq!(ratio.one_at_a_time.unwrap().min, 0.9);
        assert_eq!(ratio.batched.unwrap().median, 0.5);
        assert!(results.has(Mode::OneAtATime) && results.has(Mode::Batched));
    }

    #[test]
    fn several_documents_merge_and_a_case_with_a_baseline_wins() {
        let modules = document(
            "7.3.4",
            &[
                case("typed", 16, &[10.0], Some(&[11.0])),
                case("raw", 16, &[20.0], Some(&[21.0])),
            ],
        );
        let family = document(
            "7.3.4",
            &[
                case("typed", 16, &[99.0], None),
                case("genl", 16, &[8.0], None),
            ],
        );
        // Whichever comes first, the typed case keeps its baseline.
        for json in [
            format!("[{modules},{family}]"),
            format!("[{family},{modules}]"),
        ] {
            let results = Results::parse(&json).unwrap();
            assert_eq!(results.protocols(), ["raw", "typed", "genl"]);
            let typed = results.case("typed", 16).unwrap();
            assert_eq!(typed.subject.one_at_a_time.unwrap().median, 10.0);
            assert!(typed.baseline.is_some());
            let genl = results.case("genl", 16).unwrap();
            assert!(genl.baseline.is_none() && genl.ratio.is_none());
        }
    }

    #[test]
    fn results_of_two_kernels_do_not_mix() {
        let json = format!(
            "[{},{}]",
            document("7.3.4", &[case("raw", 16, &[1.0], None)]),
            document("6.12.117", &[case("raw", 16, &[1.0], None)])
        );
        assert!(matches!(
            Results::parse(&json),
            Err(Error::KernelsDiffer(..))
        ));
    }

    #[test]
    fn runs_left_out_and_older_results_are_understood() {
        // `--batched-only`: no echoes one at a time, a median of null (NaN).
        let json = r#"{"rounds": 1, "cases": [{"protocol": "raw", "size": 16, "batch": 64,
            "subject": {"single": {"echoes": 0.0, "echoes_per_second": null,
                                   "echoes_per_second_rounds": [null]},
                        "batched": {"echoes": 30016.0, "echoes_per_second": 2000000.0}}}]}"#;
        let results = Results::parse(json).unwrap();
        assert_eq!(results.kernel_release, None);
        let figures = results.cases[0].subject;
        assert_eq!(figures.one_at_a_time, None);
        // Without every round's figure, the median alone.
        assert_eq!(
            figures.batched,
            Some(Spread {
                median: 2e6,
                min: 2e6,
                max: 2e6
            })
        );
        assert!(!results.has(Mode::OneAtATime));
    }

    #[test]
    fn broken_input_is_refused() {
        assert!(matches!(Results::parse("[]"), Err(Error::NoCases)));
        assert!(matches!(
            Results::parse(r#"{"rounds": 1, "cases": []}"#),
            Err(Error::NoCases)
        ));
        assert!(matches!(
            Results::parse(r#"{"cases": []}"#),
            Err(Error::Json(_))
        ));
        assert!(matches!(
            Results::parse("bench: round 1/3"),
            Err(Error::Json(_))
        ));
    }
}
