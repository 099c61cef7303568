//! Validated job: what the engine actually runs. Built only by [`crate::validate`].

use crate::basis::Basis;
use crate::model::Gbm;
use crate::payoff::Payoff;
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
}

impl Instrument {
    pub fn maturity(&self) -> f64 {
        self.dates.last().copied().unwrap_or(0.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: String,
    pub settings: Settings,
    pub instruments: Vec<Instrument>,
}

impl Job {
    /// Path-steps of the whole job, training and pricing passes together.
    pub fn path_steps(&self) -> u64 {
        let s = &self.settings;
        self.instruments
            .iter()
            .map(|i| (s.paths + s.training_paths).saturating_mul(i.dates.len() as u64))
            .fold(0u64, u64::saturating_add)
    }
}
