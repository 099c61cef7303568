//! From the instruments a user asked for to the legs the engine runs, and back.
//!
//! A Longstaff–Schwartz price is low-biased twice over: it prices a Bermudan option on a
//! finite set of dates (below the American value), under an exercise rule learnt from
//! finitely many training paths (below the Bermudan value). pathgrid estimates both gaps
//! by running each option as a few legs on **common random numbers** (the same streams,
//! so the differences between legs are nearly free of Monte Carlo noise):
//!
//! - `main`: the option on its exercise dates, as specified;
//! - `coarse` (American only): every other date of `main`. A Bermudan price converges to the
//!   American one at first order in the date spacing, so `main − coarse` estimates the value
//!   still missing from `main` (Richardson extrapolation);
//! - `half` (American and Bermudan, several assets or exotic payoffs): `main` with half the
//!   training paths. The policy's low bias falls roughly as one over the training paths, so
//!   `main − half` estimates what is left of it in `main`. One-asset puts and calls instead
//!   carry a dual upper bound ([`crate::dual`]), which measures it directly.
//!
//! Each leg is an ordinary instrument for the runners (local threads or the cluster); only
//! [`crate::combine`] knows how their results make one answer. See docs/ACCURACY.md.

use crate::job::{Instrument, Style};

/// Which leg of an output an instrument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegKind {
    Main,
    Coarse,
    Half,
}

impl LegKind {
    /// Suffix of the leg's id (the main leg keeps the user's id).
    pub fn suffix(self) -> &'static str {
        match self {
            LegKind::Main => "",
            LegKind::Coarse => "#coarse",
            LegKind::Half => "#half-training",
        }
    }
}

/// One option the user asked for, and the legs (indices into [`crate::Job::instruments`])
/// that price it.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub id: String,
    pub style: Style,
    pub main: usize,
    pub coarse: Option<usize>,
    pub half: Option<usize>,
}

/// Default number of exercise dates of an `american` option without `steps`: 50 a year,
/// at least [`MIN_AMERICAN_DATES`], always even so that the coarse leg nests in it.
pub fn default_american_dates(maturity: f64) -> u64 {
    let per_year = (maturity * 50.0).ceil();
    let n = if per_year.is_finite() && per_year > 0.0 { per_year.min(1e9) as u64 } else { 1 };
    even(n.max(MIN_AMERICAN_DATES))
}

/// Fewest dates an American option is priced on by default: short-dated options need them
/// most, as their early-exercise premium is earned over few days.
pub const MIN_AMERICAN_DATES: u64 = 32;

/// `n` rounded up to an even number (≥ 2).
pub fn even(n: u64) -> u64 {
    (n + n % 2).max(2)
}

/// Expands validated instruments into legs. `training_paths` is the job's setting; the
/// half-training leg gets half of it (even, at least 2), when that is fewer.
pub fn expand(instruments: Vec<Instrument>, training_paths: u64) -> (Vec<Instrument>, Vec<Output>) {
    let mut legs = Vec::with_capacity(instruments.len() * 3);
    let mut outputs = Vec::with_capacity(instruments.len());
    let half_training = even(training_paths / 2);
    for (i, inst) in instruments.into_iter().enumerate() {
        let stream = i as u32;
        let id = inst.id.clone();
        let style = inst.style;
        let main = Instrument { stream, ..inst };
        let early_exercise = style != Style::European && main.dates.len() > 1;
        let coarse =
            (style == Style::American && main.dates.len() >= 2 && main.dates.len().is_multiple_of(2)).then(|| {
                // Dates 2, 4, … of the main leg, each reached in two simulation steps through the
                // date in between, so both legs see the same Brownian paths.
                let dates = main.dates.iter().skip(1).step_by(2).copied().collect();
                Instrument {
                    id: format!("{id}{}", LegKind::Coarse.suffix()),
                    dates,
                    substeps: 2,
                    leg: LegKind::Coarse,
                    ..main.clone()
                }
            });
        // A one-asset put or call gets a dual upper bound instead (crate::dual), which
        // measures the policy's bias directly.
        let dual = main.vanilla().is_some();
        let half = (early_exercise && !dual && half_training < training_paths).then(|| Instrument {
            id: format!("{id}{}", LegKind::Half.suffix()),
            leg: LegKind::Half,
            training_paths: Some(half_training),
            ..main.clone()
        });
        let m = legs.len();
        legs.push(main);
        let coarse = coarse.map(|c| {
            legs.push(c);
            legs.len() - 1
        });
        let half = half.map(|h| {
            legs.push(h);
            legs.len() - 1
        });
        outputs.push(Output { id, style, main: m, coarse, half });
    }
    (legs, outputs)
}
