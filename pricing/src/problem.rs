//! One instrument of a job, prepared for simulation: time grid, drifts, discount
//! factors and the batch plan. Everything a batch kernel needs, computed once.

use crate::error::Error;
use crate::job::{Instrument, Job, Settings, Style};
use crate::rng::Phase;

#[derive(Debug, Clone)]
pub struct Problem {
    pub instrument: Instrument,
    /// Position of the instrument in its job: part of every stream key.
    pub index: u32,
    pub settings: Settings,
    /// Per date k and asset a (index k * assets + a): log-drift and log-vol of the step
    /// from the previous date to date k.
    pub(crate) drift: Vec<f64>,
    pub(crate) step_vol: Vec<f64>,
    /// Discount factor e^{-r t_k} per date.
    pub(crate) discount: Vec<f64>,
}

impl Problem {
    pub fn new(job: &Job, index: usize) -> Result<Problem, Error> {
        let instrument = job.instruments.get(index).cloned().ok_or(Error::DateOutOfRange {
            date: index,
            dates: job.instruments.len(),
        })?;
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
        let m = &instrument.model;
        let d = m.assets();
        let mut drift = Vec::with_capacity(instrument.dates.len() * d);
        let mut step_vol = Vec::with_capacity(instrument.dates.len() * d);
        let mut prev = 0.0;
        for &t in &instrument.dates {
            let dt = t - prev;
            for a in 0..d {
                let v = m.vol[a];
                drift.push((m.rate - m.dividend[a] - 0.5 * v * v) * dt);
                step_vol.push(v * dt.sqrt());
            }
            prev = t;
        }
        let discount = instrument.dates.iter().map(|t| (-m.rate * t).exp()).collect();
        Problem { instrument, index, settings, drift, step_vol, discount }
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

    /// Memory a stored training batch of `n` paths needs, in bytes.
    pub fn training_batch_bytes(&self, n: usize) -> usize {
        (self.dates() * self.instrument.model.assets() + 1) * n * std::mem::size_of::<f64>()
    }
}
