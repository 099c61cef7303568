//! Validated job: what the engine actually runs. Built only by [`crate::validate`].

use crate::basis::Basis;
use crate::model::Gbm;
use crate::payoff::Payoff;
use crate::plan::{LegKind, Output};
use serde::{Deserialize, Serialize};

/// Simulation settings shared by all instruments of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub seed: u64,
    /// Pricing-pass paths (rounded up to even when antithetic).
    pub paths: u64,
    /// Training-pass paths (rounded up to even when antithetic).
    pub training_paths: u64,
    /// Paths per batch (even when antithetic).
    pub batch_size: u64,
    pub antithetic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Style {
    American,
    Bermudan,
    European,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    pub id: String,
    pub model: Gbm,
    pub payoff: Payoff,
    pub style: Style,
    /// Exercise dates in years, strictly increasing, the last one is the maturity.
    pub dates: Vec<f64>,
    pub basis: Basis,
    /// Position of the user's instrument in the job: the key of its random streams, shared by
    /// all legs of one option so that they see the same paths (see [`crate::plan`]).
    pub stream: u32,
    /// Simulation steps per exercise interval (equal sub-steps): 2 on a coarse leg, whose
    /// paths pass through the dates of the main leg it skips.
    pub substeps: u32,
    /// Training paths of this leg when not the job's setting.
    pub training_paths: Option<u64>,
    /// The user asked for a call; this is the put it equals ([`crate::symmetry`]).
    pub by_symmetry: bool,
    /// Which leg of its option this is ([`crate::plan`]).
    pub leg: LegKind,
}

impl Instrument {
    pub fn maturity(&self) -> f64 {
        self.dates.last().copied().unwrap_or(0.0)
    }

    /// (is call, strike) of a one-asset put or call ([`crate::payoff::Payoff::vanilla_on`]).
    pub fn vanilla(&self) -> Option<(bool, f64)> {
        self.payoff.vanilla_on(self.model.assets())
    }

    /// Training paths of this leg under the job's `settings`.
    pub fn training_paths(&self, settings: &Settings) -> u64 {
        self.training_paths.unwrap_or(settings.training_paths)
    }

    /// Today's Black–Scholes price of the European option with this payoff and maturity,
    /// where it has a closed form (a one-asset put or call).
    pub fn closed_form_european(&self) -> Option<f64> {
        let m = &self.model;
        let (call, strike) = self.vanilla()?;
        Some(crate::black_scholes::price(call, m.spot[0], strike, m.rate, m.dividend[0], m.vol[0], self.maturity()))
    }

    /// Simulation steps of one path.
    pub fn path_steps(&self) -> u64 {
        self.dates.len() as u64 * u64::from(self.substeps.max(1))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: String,
    pub settings: Settings,
    /// What the engine runs: the legs of every option, in order ([`crate::plan`]).
    pub instruments: Vec<Instrument>,
    /// What the user asked for: one per spec instrument, in spec order, naming its legs.
    pub outputs: Vec<Output>,
}

impl Job {
    /// Path-steps of the whole job, training and pricing passes together.
    pub fn path_steps(&self) -> u64 {
        let s = &self.settings;
        self.instruments
            .iter()
            .map(|i| (s.paths + i.training_paths(s)).saturating_mul(i.path_steps()))
            .fold(0u64, u64::saturating_add)
    }
}
