//! Parsing and validation: from untrusted text or a [`JobSpec`] to a runnable [`Job`].
//!
//! Validation collects every problem with the JSON path of the field at fault, so a user
//! fixes a spec in one go. Nothing here panics, whatever the input.
//!
//! Slightly over 500 lines on purpose: one validator walks the whole spec (job, model,
//! payoff, exercise, basis) so that every issue carries its JSON path; splitting it by
//! section would pass that walker's state around for no gain.

use crate::basis::{self, Basis, MAX_BASIS_LEN};
use crate::error::{SpecErrors, SpecIssue};
use crate::job::{Instrument, Job, Settings, Style};
use crate::model::{Gbm, correlation_factor};
use crate::payoff::Payoff;
use crate::plan;
use crate::spec::{BasisKind, BasisSpec, ExerciseStyle, InstrumentSpec, JobSpec, ModelSpec, PayoffSpec, Scalars};

/// Upper bound on paths × dates × assets over a job: beyond this a job is a typo, not a plan.
pub const MAX_WORK: f64 = 1e13;
pub const MAX_ASSETS: usize = 32;
pub const MAX_DATES: u64 = 100_000;
pub const MAX_BATCH_SIZE: u64 = 1 << 20;
pub const MAX_INSTRUMENTS: usize = 100_000;
/// Longest job name, in bytes of UTF-8 (names become parts of file and object names).
pub const MAX_NAME_BYTES: usize = 128;
pub const DEFAULT_BATCH_SIZE: u64 = 8192;
/// Range of spots and strikes, in any currency unit. Beyond it the simulated values, their
/// squares and their basis powers leave the range of f64; no real price lies outside it.
pub const MIN_PRICE: f64 = 1e-6;
pub const MAX_PRICE: f64 = 1e9;
/// Largest basket weight in absolute value.
pub const MAX_WEIGHT: f64 = 1e6;
/// Natural log of the largest sum the kernels may build (f64 overflows at e^709.78): what
/// validation allows keeps every statistic below it with room to spare.
const MAX_LN_SUM: f64 = 690.0;
/// A move of this many standard deviations bounds every simulated path in practice (the
/// largest of 10^13 normal draws is about 7.7).
const TAIL_SIGMAS: f64 = 9.0;

/// Parses a JSON job spec; errors carry the JSON path of the offending field.
///
/// A leading UTF-8 byte order mark is skipped (editors on Windows write one), and anything
/// but whitespace after the document is refused: a second document appended by mistake
/// must not be dropped without a word.
pub fn parse_spec(text: &str) -> Result<JobSpec, SpecErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let de = &mut serde_json::Deserializer::from_str(text);
    let spec: JobSpec = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        SpecErrors::single(path, e.into_inner().to_string())
    })?;
    de.end().map_err(|e| {
        SpecErrors::single("", format!("unexpected content after the JSON document ({e}); a file holds one spec"))
    })?;
    Ok(spec)
}

/// Parses and validates in one step.
pub fn parse_job(text: &str) -> Result<Job, SpecErrors> {
    parse_spec(text)?.validate()
}

impl JobSpec {
    /// Checks every field and resolves defaults.
    pub fn validate(&self) -> Result<Job, SpecErrors> {
        let mut v = Validator::default();
        let name = self.name.trim();
        if name.is_empty() {
            v.push("name", "must not be empty");
        } else if name.len() > MAX_NAME_BYTES || name.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
            v.push(
                "name",
                format!("must be at most {MAX_NAME_BYTES} bytes of UTF-8 without '/', '\\' or control characters"),
            );
        }
        let antithetic = self.antithetic.unwrap_or(true);
        let round = |n: u64| if antithetic { n.saturating_add(n % 2) } else { n };
        // A standard error needs two independent samples; an antithetic pair is one sample.
        let min_paths = if antithetic { 4 } else { 2 };
        if self.paths < min_paths {
            v.push(
                "paths",
                format!(
                    "must be at least {min_paths}: a standard error needs 2 independent samples{}",
                    if antithetic { " (an antithetic pair is one)" } else { "" }
                ),
            );
        }
        let training_paths = self.training_paths.unwrap_or((self.paths / 2).max(2));
        if training_paths == 0 {
            v.push("training_paths", "must be at least 1");
        }
        let batch_size = self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 || batch_size > MAX_BATCH_SIZE {
            v.push("batch_size", format!("must be between 1 and {MAX_BATCH_SIZE}"));
        } else if antithetic && batch_size % 2 == 1 {
            v.push("batch_size", "must be even with antithetic variates (pairs live in one batch)");
        }
        if self.instruments.is_empty() {
            v.push("instruments", "must list at least one instrument");
        } else if self.instruments.len() > MAX_INSTRUMENTS {
            v.push("instruments", format!("at most {MAX_INSTRUMENTS} instruments per job"));
        }
        let settings = Settings {
            seed: self.seed,
            paths: round(self.paths),
            training_paths: round(training_paths),
            batch_size,
            antithetic,
        };
        let mut instruments = Vec::with_capacity(self.instruments.len());
        // Position in the spec of each instrument that validated.
        let mut inst_index = Vec::with_capacity(self.instruments.len());
        let mut work = 0.0;
        // A set, not a scan of the earlier ids: a book of 100,000 instruments is allowed.
        let mut seen = std::collections::HashSet::with_capacity(self.instruments.len());
        for (i, spec) in self.instruments.iter().enumerate() {
            let path = format!("instruments[{i}]");
            if !seen.insert(spec.id.as_str()) {
                v.push(format!("{path}.id"), format!("duplicate id {:?}", spec.id));
            }
            if let Some(inst) = v.instrument(&path, spec, self.basis) {
                instruments.push(inst);
                inst_index.push(i);
            }
        }
        let all_paths = settings.paths as f64 + settings.training_paths as f64;
        for (i, inst) in instruments.iter().enumerate() {
            if let Some(message) = overflow(inst, all_paths) {
                v.push(format!("instruments[{}]", inst_index[i]), message);
            }
        }
        let (instruments, outputs) = plan::expand(instruments, settings.training_paths);
        for inst in &instruments {
            let paths = settings.paths as f64 + inst.training_paths(&settings) as f64;
            work += paths * inst.path_steps() as f64 * inst.model.assets() as f64;
        }
        if work > MAX_WORK {
            v.push(
                "paths",
                format!("job too large: {work:.3e} path-steps × assets exceeds the limit of {MAX_WORK:.0e}"),
            );
        }
        v.finish(Job { name: name.to_string(), settings, instruments, outputs })
    }
}

const PRICE_RANGE: &str = "must lie in [1e-6, 1e9] (the range of spots and strikes the engine supports)";
const WEIGHT_RANGE: &str = "must lie in [-1e6, 1e6]";

/// Refuses an instrument whose simulated values could overflow a statistic: each field may
/// lie in its range while the combination does not (a spot 10^15 times the strike, raised to
/// the basis degree and squared). Bounds, in natural logs: the largest asset value over the
/// strike `x` (a [`TAIL_SIGMAS`] move plus the drift), the payoff over the strike (at most
/// 1 + Σ|w|·x), the basis functions (at most (1 + x)^degree), the discounted payoff, and the
/// sums of their squares and products over every path of the job.
fn overflow(inst: &Instrument, paths: f64) -> Option<String> {
    let m = &inst.model;
    let t = inst.maturity();
    let strike = inst.payoff.strike();
    // The largest vol and the smallest dividend over the assets bound every asset's growth,
    // without indexing one array by another's length (they may differ when another field of
    // this instrument was refused).
    let vol = m.vol.iter().copied().fold(0.0, f64::max);
    let dividend = m.dividend.iter().copied().fold(f64::INFINITY, f64::min);
    let drift = (m.rate - if dividend.is_finite() { dividend } else { 0.0 }).max(0.0) * t;
    // sup over σ√t of (zσ√t − σ²t/2) is z²/2: the Itô term caps any vol's reach.
    let growth = drift + (TAIL_SIGMAS * vol * t.sqrt()).min(0.5 * TAIL_SIGMAS * TAIL_SIGMAS);
    let spot = m.spot.iter().copied().fold(0.0, f64::max);
    let ln_x = (spot / strike).ln() + growth;
    let weight: f64 = match &inst.payoff {
        Payoff::Put { weights: Some(w), .. } | Payoff::Call { weights: Some(w), .. } => {
            w.iter().map(|x| x.abs()).sum::<f64>().max(1.0)
        }
        _ => 1.0,
    };
    let ln_payoff = (weight.ln() + ln_x).max(0.0) + std::f64::consts::LN_2;
    let ln_discounted = strike.ln() + ln_payoff + (-m.rate).max(0.0) * t;
    let degree = f64::from(inst.basis.degree().max(1));
    let ln_row = (degree * (ln_x.max(0.0) + std::f64::consts::LN_2)).max(ln_payoff);
    let worst = (2.0 * ln_row).max(ln_row + ln_discounted).max(2.0 * ln_discounted) + paths.max(1.0).ln();
    (worst > MAX_LN_SUM).then(|| {
        format!(
            "values out of range: simulated prices can reach {:.1e} times the strike, and their sums over \
             the paths (squared, and to the basis degree {}) would overflow; bring spot and strike closer, \
             or lower vol, maturity, rate − dividend or the basis degree",
            ln_x.exp(),
            inst.basis.degree()
        )
    })
}

#[derive(Default)]
struct Validator {
    issues: Vec<SpecIssue>,
}

impl Validator {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(SpecIssue { path: path.into(), message: message.into() });
    }

    fn finish<T>(self, value: T) -> Result<T, SpecErrors> {
        if self.issues.is_empty() { Ok(value) } else { Err(SpecErrors(self.issues)) }
    }

    fn finite(&mut self, path: &str, x: f64) -> bool {
        if x.is_finite() {
            true
        } else {
            self.push(path, "must be a finite number");
            false
        }
    }

    /// Checks a per-asset field and broadcasts it to `assets` values.
    fn per_asset(
        &mut self,
        path: &str,
        s: &Scalars,
        assets: usize,
        check: impl Fn(f64) -> Option<&'static str>,
    ) -> Vec<f64> {
        if s.len() != assets && s.len() != 1 {
            self.push(path, format!("expected 1 or {assets} values, got {}", s.len()));
        }
        // Check the values as written (a broadcast number once, under its own path), then
        // broadcast.
        let written = s.broadcast(s.len());
        for (j, &x) in written.iter().enumerate() {
            let p = match s {
                Scalars::One(_) => path.to_string(),
                Scalars::Many(_) => format!("{path}[{j}]"),
            };
            if self.finite(&p, x)
                && let Some(msg) = check(x)
            {
                self.push(p, msg);
            }
        }
        s.broadcast(assets)
    }

    fn instrument(&mut self, path: &str, spec: &InstrumentSpec, job_basis: Option<BasisSpec>) -> Option<Instrument> {
        let before = self.issues.len();
        if spec.id.is_empty() || spec.id.len() > 256 || spec.id.chars().any(char::is_control) {
            self.push(format!("{path}.id"), "must be 1 to 256 characters without control characters");
        }
        let model = self.model(&format!("{path}.model"), &spec.model);
        let assets = model.as_ref().map_or(1, Gbm::assets);
        let payoff = self.payoff(&format!("{path}.payoff"), &spec.payoff, assets);
        let (style, dates) = self.exercise(path, spec)?;
        // Early-exercise calls are priced as the put they equal (see crate::symmetry).
        let symmetric = match (&model, &payoff) {
            (Some(m), Some(p)) if style != Style::European => crate::symmetry::call_as_put(m, p),
            _ => None,
        };
        let by_symmetry = symmetric.is_some();
        let (model, payoff) = match symmetric {
            Some((m, p)) => (Some(m), Some(p)),
            None => (model, payoff),
        };
        let strike = payoff.as_ref().map_or(1.0, Payoff::strike);
        let order_statistic = matches!(payoff, Some(Payoff::MaxCall { .. } | Payoff::MinPut { .. }));
        // A one-asset put or call with early exercise regresses on its European value too.
        let european_term = style != Style::European && payoff.as_ref().is_some_and(|p| p.vanilla_on(assets).is_some());
        let basis = self.basis(path, job_basis, assets, strike, order_statistic, european_term);
        let (model, payoff, basis) = (model?, payoff?, basis?);
        if self.issues.len() > before {
            return None;
        }
        Some(Instrument {
            id: spec.id.clone(),
            model,
            payoff,
            style,
            dates,
            basis,
            stream: 0,
            substeps: 1,
            training_paths: None,
            by_symmetry,
            leg: crate::plan::LegKind::Main,
        })
    }

    fn model(&mut self, path: &str, spec: &ModelSpec) -> Option<Gbm> {
        let ModelSpec::Gbm { spot, vol, rate, dividend, correlation } = spec;
        let assets = [spot.len(), vol.len(), dividend.len()].into_iter().max().unwrap_or(1);
        if assets == 0 || assets > MAX_ASSETS {
            self.push(format!("{path}.spot"), format!("between 1 and {MAX_ASSETS} assets are supported, got {assets}"));
            return None;
        }
        let before = self.issues.len();
        let spot = self.per_asset(&format!("{path}.spot"), spot, assets, |x| {
            (x <= 0.0).then_some("must be > 0").or((!(MIN_PRICE..=MAX_PRICE).contains(&x)).then_some(PRICE_RANGE))
        });
        let vol = self.per_asset(&format!("{path}.vol"), vol, assets, |x| {
            (x < 0.0).then_some("must be >= 0").or((x > 10.0).then_some("must be at most 10 (1000%)"))
        });
        let dividend = self.per_asset(&format!("{path}.dividend"), dividend, assets, |x| {
            (x.abs() > 1.0).then_some("must lie in [-1, 1]")
        });
        if self.finite(&format!("{path}.rate"), *rate) && rate.abs() > 1.0 {
            self.push(format!("{path}.rate"), "must lie in [-1, 1] (continuously compounded, per year)");
        }
        let chol = match correlation {
            None => None,
            Some(c) => match correlation_factor(c) {
                Ok(l) => l,
                Err(problem) => {
                    self.push(format!("{path}.correlation"), problem.message(assets));
                    None
                }
            },
        };
        if let Some(c) = correlation
            && c.len() != assets
            && self.issues.len() == before
        {
            self.push(format!("{path}.correlation"), format!("must be a {assets}x{assets} matrix"));
        }
        (self.issues.len() == before).then_some(Gbm { spot, vol, dividend, rate: *rate, chol })
    }

    fn payoff(&mut self, path: &str, spec: &PayoffSpec, assets: usize) -> Option<Payoff> {
        let (strike, weights, kind) = match spec {
            PayoffSpec::Put { strike, weights } => (*strike, weights.as_ref(), "put"),
            PayoffSpec::Call { strike, weights } => (*strike, weights.as_ref(), "call"),
            PayoffSpec::BasketPut { strike, weights } => (*strike, weights.as_ref(), "basket_put"),
            PayoffSpec::BasketCall { strike, weights } => (*strike, weights.as_ref(), "basket_call"),
            PayoffSpec::MaxCall { strike } => (*strike, None, "max_call"),
            PayoffSpec::MinPut { strike } => (*strike, None, "min_put"),
        };
        let before = self.issues.len();
        if self.finite(&format!("{path}.strike"), strike) {
            if strike <= 0.0 {
                self.push(format!("{path}.strike"), "must be > 0");
            } else if !(MIN_PRICE..=MAX_PRICE).contains(&strike) {
                self.push(format!("{path}.strike"), PRICE_RANGE);
            }
        }
        if let Some(w) = weights {
            if w.len() != assets {
                self.push(format!("{path}.weights"), format!("expected {assets} weights, got {}", w.len()));
            }
            for (j, &x) in w.iter().enumerate() {
                if self.finite(&format!("{path}.weights[{j}]"), x) && x.abs() > MAX_WEIGHT {
                    self.push(format!("{path}.weights[{j}]"), WEIGHT_RANGE);
                }
            }
        }
        let basket = |w: Option<&Vec<f64>>| Some(w.cloned().unwrap_or_else(|| vec![1.0 / assets as f64; assets]));
        let payoff = match kind {
            "put" | "call" if weights.is_none() && assets > 1 => {
                self.push(
                    format!("{path}.type"),
                    format!("{kind} on {assets} assets needs `weights` (or use basket_{kind})"),
                );
                return None;
            }
            "put" => Payoff::Put { strike, weights: weights.cloned() },
            "call" => Payoff::Call { strike, weights: weights.cloned() },
            "basket_put" => Payoff::Put { strike, weights: basket(weights) },
            "basket_call" => Payoff::Call { strike, weights: basket(weights) },
            "max_call" => Payoff::MaxCall { strike },
            _ => Payoff::MinPut { strike },
        };
        (self.issues.len() == before).then_some(payoff)
    }

    fn exercise(&mut self, ipath: &str, spec: &InstrumentSpec) -> Option<(Style, Vec<f64>)> {
        let path = format!("{ipath}.exercise");
        let ex = &spec.exercise;
        let t = ex.maturity;
        if !self.finite(&format!("{path}.maturity"), t) {
            return None;
        }
        if t <= 0.0 || t > 100.0 {
            self.push(format!("{path}.maturity"), "must be > 0 and at most 100 years");
            return None;
        }
        let steps = |v: &mut Validator| -> Option<Vec<f64>> {
            let requested = match (ex.steps, &ex.style) {
                // American means continuous exercise: the engine picks the dates (and
                // extrapolates over their number, see crate::plan); `steps` is a hint.
                (None, ExerciseStyle::American) => Some(plan::default_american_dates(t)),
                (Some(n), ExerciseStyle::American) if n > 0 && n <= MAX_DATES => Some(plan::even(n).min(MAX_DATES)),
                (other, _) => other,
            };
            match requested {
                None => {
                    v.push(format!("{path}.steps"), "required: the number of equally spaced exercise dates");
                    None
                }
                Some(0) => {
                    v.push(format!("{path}.steps"), "must be at least 1");
                    None
                }
                Some(n) if n > MAX_DATES => {
                    v.push(format!("{path}.steps"), format!("at most {MAX_DATES}"));
                    None
                }
                Some(n) => Some((1..=n).map(|i| t * i as f64 / n as f64).collect()),
            }
        };
        match ex.style {
            ExerciseStyle::American => {
                if ex.dates.is_some() {
                    self.push(
                        format!("{path}.dates"),
                        "american exercise is continuous (`steps` optionally sets the grid); use style bermudan for explicit dates",
                    );
                    return None;
                }
                Some((Style::American, steps(self)?))
            }
            ExerciseStyle::European => {
                if ex.dates.is_some() {
                    self.push(format!("{path}.dates"), "european exercise has no dates besides the maturity");
                    return None;
                }
                Some((Style::European, vec![t]))
            }
            ExerciseStyle::Bermudan => match (&ex.dates, ex.steps) {
                (Some(_), Some(_)) => {
                    self.push(format!("{path}.dates"), "give either `dates` or `steps`, not both");
                    None
                }
                (None, _) => Some((Style::Bermudan, steps(self)?)),
                (Some(dates), None) => {
                    if dates.is_empty() || dates.len() as u64 > MAX_DATES {
                        self.push(format!("{path}.dates"), format!("must list 1 to {MAX_DATES} dates"));
                        return None;
                    }
                    let before = self.issues.len();
                    for (j, &d) in dates.iter().enumerate() {
                        let p = format!("{path}.dates[{j}]");
                        if !self.finite(&p, d) {
                            continue;
                        }
                        if d <= 0.0 || d > t {
                            self.push(p, "must lie in (0, maturity]");
                        } else if j > 0 && d <= dates[j - 1] {
                            self.push(p, "dates must be strictly increasing");
                        }
                    }
                    if self.issues.len() > before {
                        return None;
                    }
                    let mut d = dates.clone();
                    if d.last().is_some_and(|&last| last < t) {
                        d.push(t);
                    }
                    Some((Style::Bermudan, d))
                }
            },
        }
    }

    fn basis(
        &mut self,
        ipath: &str,
        spec: Option<BasisSpec>,
        assets: usize,
        strike: f64,
        order_statistic: bool,
        european_term: bool,
    ) -> Option<Basis> {
        let spec = spec.unwrap_or(if assets == 1 {
            BasisSpec { kind: BasisKind::Laguerre, degree: 3 }
        } else {
            BasisSpec { kind: BasisKind::Polynomial, degree: 2 }
        });
        let len = basis::own_len(spec.kind, spec.degree, assets);
        if len > MAX_BASIS_LEN || spec.degree > 12 {
            self.push(
                "basis.degree",
                format!("basis of {len} functions for {assets} assets is too large (max {MAX_BASIS_LEN}, degree ≤ 12)"),
            );
            return None;
        }
        match Basis::new(spec.kind, spec.degree, assets, strike) {
            Some(b) => Some(b.with_sorted_assets(order_statistic).with_european_term(european_term)),
            None => {
                self.push(
                    "basis.kind",
                    format!("{:?} basis needs a single asset, but {ipath} has {assets}; use polynomial", spec.kind)
                        .to_lowercase(),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LS: &str = r#"{"name":"ls","seed":1,"paths":1000,
      "instruments":[{"id":"p","model":{"type":"gbm","spot":36,"vol":0.2,"rate":0.06},
      "payoff":{"type":"put","strike":40},"exercise":{"style":"american","maturity":1,"steps":50}}]}"#;

    #[test]
    fn parses_and_defaults() {
        let job = parse_job(LS).unwrap();
        assert_eq!(job.settings.training_paths, 500);
        assert_eq!(job.settings.batch_size, 8192);
        assert!(job.settings.antithetic);
        assert_eq!(job.instruments[0].dates.len(), 50);
        // Laguerre 3 (4 functions) plus the European value of the remaining option
        assert_eq!(job.instruments[0].basis.len(), 5);
    }

    #[test]
    fn names_every_bad_field() {
        let bad = LS.replace("\"spot\":36", "\"spot\":-1").replace("\"steps\":50", "\"steps\":0");
        let err = parse_job(&bad).unwrap_err();
        assert!(err.mentions("instruments[0].model.spot"), "{err}");
        assert!(err.mentions("instruments[0].exercise.steps"), "{err}");
    }

    #[test]
    fn one_element_arrays_broadcast_to_every_asset() {
        // Found by the spec_json fuzz target: `"vol": [v]` on two assets validated but left
        // the model one volatility short, and building the problem indexed past it.
        let spec = r#"{"name":"m","seed":1,"paths":100,
          "instruments":[{"id":"m","model":{"type":"gbm","spot":[100,100],"vol":[0.2],"rate":0.05,
          "dividend":[0.1]},"payoff":{"type":"max_call","strike":100},
          "exercise":{"style":"bermudan","maturity":1,"steps":3}}]}"#;
        let job = parse_job(spec).unwrap();
        assert_eq!(job.instruments[0].model.vol, vec![0.2, 0.2]);
        assert_eq!(job.instruments[0].model.dividend, vec![0.1, 0.1]);
        assert!(crate::price_job_sequential(&job).is_ok());
        let bad = spec.replace("\"vol\":[0.2]", "\"vol\":[-0.2]");
        let err = parse_job(&bad).unwrap_err();
        assert!(err.mentions("instruments[0].model.vol[0]"), "{err}");
        assert_eq!(err.to_string().matches("vol[0]").count(), 1, "reported once: {err}");
    }

    #[test]
    fn unknown_field_has_path() {
        let bad = LS.replace("\"strike\":40", "\"strike\":40,\"strik\":1");
        let err = parse_spec(&bad).unwrap_err();
        assert!(err.to_string().contains("instruments[0].payoff"), "{err}");
        assert!(err.to_string().contains("strik"), "{err}");
    }

    #[test]
    fn huge_jobs_are_refused() {
        let bad = LS.replace("\"paths\":1000", "\"paths\":100000000000000");
        let err = parse_job(&bad).unwrap_err();
        assert!(err.mentions("paths"), "{err}");
    }
}
