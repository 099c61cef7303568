//! One instrument of a job, prepared for simulation: time grid, drifts, discount
//! factors and the batch plan. Everything a batch kernel needs, computed once.

use crate::black_scholes;
use crate::error::Error;
use crate::fastmath;
use crate::job::{Instrument, Job, Settings, Style};
use crate::rng::Phase;

#[derive(Debug, Clone)]
pub struct Problem {
    pub instrument: Instrument,
    /// Position of the leg in its job (the streams are keyed by `instrument.stream`).
    pub index: u32,
    pub settings: Settings,
    /// Per simulation step j and asset a (index j * assets + a): log-drift and log-vol of
    /// the step. There are `substeps` equal steps from one exercise date to the next.
    pub(crate) drift: Vec<f64>,
    pub(crate) step_vol: Vec<f64>,
    /// Discount factor e^{-r t_k} per date.
    pub(crate) discount: Vec<f64>,
    /// (is call, strike) of a single-asset vanilla with early exercise: its European
    /// value has a closed form, used as a control variate and as a floor of continuation.
    european: Option<(bool, f64)>,
    /// Per date, the spot beyond which the payoff exceeds the European value of the
    /// remainder (below it for a put, above it for a call); `None` where it never does.
    /// The European value is monotone in the spot against the payoff, so the floor of
    /// the exercise rule reduces to one comparison instead of a Black–Scholes evaluation.
    exercise_floor: Vec<Option<f64>>,
    /// The European basis term tabulated per date (see [`EuropeanTable`]).
    european_table: Option<EuropeanTable>,
}

/// Points per date of the tabulated European value.
const TABLE_POINTS: usize = 256;

/// The European value of the remaining option per date on a grid in log-spot, read by
/// linear interpolation: a basis function only has to be a fixed function of the state,
/// so the table serves as well as the closed form at a fraction of its cost.
#[derive(Debug, Clone)]
struct EuropeanTable {
    x0: f64,
    inv_h: f64,
    values: Vec<f64>,
}

impl EuropeanTable {
    /// Where `spot` falls on the table, in grid steps. Split from [`Self::interpolate`] so
    /// that a batch's logarithms run in vector registers, apart from the table reads.
    #[inline(always)]
    fn position(&self, spot: f64) -> f64 {
        self.position_of_log(fastmath::ln(spot))
    }

    #[inline(always)]
    fn position_of_log(&self, log_spot: f64) -> f64 {
        (log_spot - self.x0) * self.inv_h
    }

    /// The cell of grid position `x` and the fraction into it, NaN off the table (the
    /// caller then uses the closed form).
    #[inline(always)]
    fn cell(x: f64) -> (usize, f64) {
        let inside = x >= 0.0 && x < (TABLE_POINTS - 1) as f64;
        let i = (x.clamp(0.0, (TABLE_POINTS - 2) as f64) as i32 as usize).min(TABLE_POINTS - 2);
        let f = x - i as f64;
        (i, if inside { f } else { f64::NAN })
    }

    /// The linear interpolation in cell `i` of a row (NaN stays NaN).
    #[inline(always)]
    fn lerp(row: &[f64; TABLE_POINTS], i: usize, f: f64) -> f64 {
        let i = i.min(TABLE_POINTS - 2);
        row[i] + f * (row[i + 1] - row[i])
    }

    fn row(&self, k: usize) -> Option<&[f64; TABLE_POINTS]> {
        self.values.get(k * TABLE_POINTS..(k + 1) * TABLE_POINTS)?.try_into().ok()
    }
}

/// Where the exercise rule allows exercise at one date, whatever the regression says:
/// spots in `[lo, hi]`. For a one-asset vanilla with a closed form, the payoff must beat the
/// European value of the remainder ([`Problem::floor_spot`]); for other options every spot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExerciseBand {
    lo: f64,
    hi: f64,
}

impl ExerciseBand {
    const ALL: ExerciseBand = ExerciseBand { lo: f64::NEG_INFINITY, hi: f64::INFINITY };
    const NONE: ExerciseBand = ExerciseBand { lo: f64::INFINITY, hi: f64::NEG_INFINITY };

    /// The exercise rule: exercise when the discounted payoff `now` is not below the
    /// estimated continuation value, and the spot is in the band.
    #[inline(always)]
    pub fn exercise(self, spot: f64, now: f64, continuation: f64) -> bool {
        now >= continuation && self.lo <= spot && spot <= self.hi
    }
}

impl Problem {
    pub fn new(job: &Job, index: usize) -> Result<Problem, Error> {
        let instrument = job
            .instruments
            .get(index)
            .cloned()
            .ok_or(Error::InstrumentOutOfRange { instrument: index, instruments: job.instruments.len() })?;
        Ok(Problem::for_instrument(instrument, index as u32, job.settings))
    }

    /// All instruments of a job, in order.
    pub fn all(job: &Job) -> Vec<Problem> {
        job.instruments
            .iter()
            .enumerate()
            .map(|(i, inst)| Problem::for_instrument(inst.clone(), i as u32, job.settings))
            .collect()
    }

    pub fn for_instrument(instrument: Instrument, index: u32, settings: Settings) -> Problem {
        let settings = Settings { training_paths: instrument.training_paths(&settings), ..settings };
        let m = &instrument.model;
        let d = m.assets();
        let sub = instrument.substeps.max(1);
        let steps = instrument.path_steps() as usize;
        let mut drift = Vec::with_capacity(steps * d);
        let mut step_vol = Vec::with_capacity(steps * d);
        let mut prev = 0.0;
        for &t in &instrument.dates {
            let dt = (t - prev) / f64::from(sub);
            for _ in 0..sub {
                for a in 0..d {
                    let v = m.vol[a];
                    drift.push((m.rate - m.dividend[a] - 0.5 * v * v) * dt);
                    step_vol.push(v * dt.sqrt());
                }
            }
            prev = t;
        }
        let discount = instrument.dates.iter().map(|t| libm::exp(-m.rate * t)).collect();
        let european = if instrument.style == Style::European { None } else { instrument.vanilla() };
        let mut problem = Problem {
            instrument,
            index,
            settings,
            drift,
            step_vol,
            discount,
            european,
            exercise_floor: Vec::new(),
            european_table: None,
        };
        problem.exercise_floor = (0..problem.dates()).map(|k| problem.floor_spot(k)).collect();
        if problem.instrument.basis.has_european_term() {
            problem.european_table = Some(problem.tabulate_european());
        }
        problem
    }

    /// Evaluates the regression basis at date `k` for one path.
    #[inline]
    pub fn basis_row(&self, k: usize, s: &[f64], payoff: f64, row: &mut [f64]) {
        self.instrument.basis.evaluate(s, payoff, row);
        if let (Some(last), Some(s0)) = (row.last_mut(), s.first())
            && self.instrument.basis.has_european_term()
        {
            self.european_column(k, std::slice::from_ref(s0), None, std::slice::from_mut(last));
        }
    }

    /// The European basis term of every path (first asset's spots `s0`, and their logs if
    /// the caller kept them, which spares a logarithm per path) at date `k`. The row form
    /// ([`Self::basis_row`]) and the batch kernels ([`crate::block`]) both call this.
    #[inline(always)]
    pub(crate) fn european_column(&self, k: usize, s0: &[f64], logs: Option<&[f64]>, col: &mut [f64]) {
        match self.european_table.as_ref().and_then(|t| Some((t, t.row(k)?))) {
            Some((table, row)) => {
                // The logarithms in vector registers, then the table reads, which only
                // scalar code does.
                match logs {
                    Some(logs) => {
                        for (o, &x) in col.iter_mut().zip(logs) {
                            *o = table.position_of_log(x);
                        }
                    }
                    None => {
                        for (o, &s) in col.iter_mut().zip(s0) {
                            *o = table.position(s);
                        }
                    }
                }
                for o in col.iter_mut() {
                    let (i, f) = EuropeanTable::cell(*o);
                    *o = EuropeanTable::lerp(row, i, f);
                }
            }
            None => col.fill(f64::NAN),
        }
        // Off the table (rare: beyond 8 standard deviations): the closed form.
        for (o, &s) in col.iter_mut().zip(s0) {
            if o.is_nan() {
                *o = self.european_term_exact(k, s);
            }
        }
    }

    /// The European basis term (undiscounted value over strike), computed exactly.
    fn european_term_exact(&self, k: usize, spot: f64) -> f64 {
        match (self.european_at(k, spot), self.european) {
            (Some(v), Some((_, strike))) => v / strike,
            _ => 0.0,
        }
    }

    /// Black–Scholes value at date `k` (in date-`k` money) of the European option with the
    /// instrument's maturity; `None` without a closed form.
    #[inline]
    fn european_at(&self, k: usize, spot: f64) -> Option<f64> {
        let (call, strike) = self.european?;
        let m = &self.instrument.model;
        let tau = self.instrument.maturity() - self.instrument.dates[k];
        Some(black_scholes::price(call, spot, strike, m.rate, m.dividend[0], m.vol[0], tau))
    }

    /// Whether the European value of the remaining option has a closed form here.
    pub fn has_european_closed_form(&self) -> bool {
        self.european.is_some()
    }

    /// Black–Scholes value at date `k` of the European option with the instrument's
    /// maturity, discounted to time 0; `None` without a closed form.
    #[inline]
    pub fn european_value(&self, k: usize, spot: f64) -> Option<f64> {
        Some(self.discount[k] * self.european_at(k, spot)?)
    }

    /// Where the exercise rule may exercise at date `k` (see [`ExerciseBand`]). The holder
    /// of an American option can always hold it to maturity, so continuation is worth at
    /// least the European value of what remains; regression noise would otherwise exercise
    /// some paths too early (e.g. calls without dividends, which should never be exercised
    /// early). The European value is monotone in the spot against the payoff, so that floor
    /// reduces to one comparison instead of a Black–Scholes evaluation.
    pub fn exercise_band(&self, k: usize) -> ExerciseBand {
        match self.european {
            None => ExerciseBand::ALL,
            Some((call, _)) => match self.exercise_floor.get(k).copied().flatten() {
                Some(edge) if call => ExerciseBand { lo: edge, hi: f64::INFINITY },
                Some(edge) => ExerciseBand { lo: f64::NEG_INFINITY, hi: edge },
                None => ExerciseBand::NONE,
            },
        }
    }

    /// Tabulates the European term over ±8 standard deviations of log-spot at maturity.
    fn tabulate_european(&self) -> EuropeanTable {
        let m = &self.instrument.model;
        let t = self.instrument.maturity();
        let sd = m.vol[0] * t.sqrt();
        let drift = (m.rate - m.dividend[0]).abs() * t;
        let half_width = (8.0 * sd + drift).max(1e-3);
        let x0 = libm::log(m.spot[0]) - half_width;
        let h = 2.0 * half_width / (TABLE_POINTS - 1) as f64;
        let mut values = Vec::with_capacity(self.dates() * TABLE_POINTS);
        for k in 0..self.dates() {
            values.extend((0..TABLE_POINTS).map(|j| self.european_term_exact(k, libm::exp(x0 + h * j as f64))));
        }
        EuropeanTable { x0, inv_h: 1.0 / h, values }
    }

    /// Solves payoff(S) = European value(S) at date `k` by bisection. For a put,
    /// (K − S) − P(S) falls strictly in S; for a call, (S − K) − C(S) rises strictly; so
    /// the crossing, when there is one, splits the spot axis in two.
    fn floor_spot(&self, k: usize) -> Option<f64> {
        let (call, strike) = self.european?;
        let df = self.discount[k];
        let gain = |s: f64| {
            let pay = if call { s - strike } else { strike - s };
            df * pay - self.european_value(k, s).unwrap_or(0.0)
        };
        // Exercise region for a put is (0, edge], for a call [edge, ∞).
        let (mut inside, mut outside) = if call { (strike * 1e6, strike) } else { (strike * 1e-9, strike) };
        if gain(inside) < 0.0 {
            return None;
        }
        for _ in 0..200 {
            let mid = 0.5 * (inside + outside);
            if gain(mid) >= 0.0 {
                inside = mid
            } else {
                outside = mid
            }
            if (inside - outside).abs() <= 1e-13 * strike {
                break;
            }
        }
        Some(inside)
    }

    pub fn dates(&self) -> usize {
        self.instrument.dates.len()
    }

    /// Dates at which a regression is solved: all but the maturity, none for European.
    pub fn regression_dates(&self) -> usize {
        match self.instrument.style {
            Style::European => 0,
            _ => self.dates() - 1,
        }
    }

    pub fn basis_len(&self) -> usize {
        self.instrument.basis.len()
    }

    pub fn phase_paths(&self, phase: Phase) -> u64 {
        match phase {
            Phase::Training => self.settings.training_paths,
            Phase::Pricing => self.settings.paths,
        }
    }

    pub fn batches(&self, phase: Phase) -> u64 {
        self.phase_paths(phase).div_ceil(self.settings.batch_size)
    }

    /// Paths in batch `b` of a phase; all batches are full but possibly the last.
    pub fn batch_len(&self, phase: Phase, batch: u64) -> Result<usize, Error> {
        let batches = self.batches(phase);
        if batch >= batches {
            return Err(Error::BatchOutOfRange { phase: phase.name(), batch, batches });
        }
        let start = batch * self.settings.batch_size;
        Ok((self.phase_paths(phase) - start).min(self.settings.batch_size) as usize)
    }

    /// Memory a stored training batch of `n` paths needs, in bytes: the paths (`f32` per
    /// date and asset), the cash flows and one date's European basis term (`f64` each).
    pub fn training_batch_bytes(&self, n: usize) -> usize {
        let paths = self.dates() * self.instrument.model.assets() * std::mem::size_of::<f32>();
        (paths + 2 * std::mem::size_of::<f64>()) * n
    }
}
