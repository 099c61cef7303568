//! Path generation: exact GBM log-steps, correlated through a Cholesky factor,
//! antithetic pairs in one batch, laid out as structure of arrays.

use crate::fastmath;
use crate::normal;
use crate::problem::Problem;
use crate::rng::{Phase, StreamRng};
use crate::simd;

/// Advances a batch of paths date by date. `state[a * n + i]` is asset `a` on path `i`.
/// Training and pricing both draw through this type, so a training batch regenerated
/// on another node consumes its stream exactly as the first time.
#[derive(Debug)]
pub struct PathStepper<'p> {
    problem: &'p Problem,
    rng: StreamRng,
    n: usize,
    /// Simulation steps taken so far.
    steps_taken: usize,
    state: Vec<f64>,
    /// ln of the first asset per path, kept beside `state` when the caller asks for it (the
    /// European basis term reads its table by log-spot): two additions per path-step instead
    /// of a logarithm per path and date.
    logs: Vec<f64>,
    normals: Vec<f64>,
    /// Scratch for the random words behind the normals.
    words: Vec<u64>,
}

impl<'p> PathStepper<'p> {
    pub fn new(problem: &'p Problem, phase: Phase, batch: u64, n: usize) -> Self {
        let model = &problem.instrument.model;
        let d = model.assets();
        let mut state = Vec::with_capacity(d * n);
        for &s0 in &model.spot {
            state.extend(std::iter::repeat_n(s0, n));
        }
        let rng = StreamRng::for_batch(problem.settings.seed, problem.instrument.stream, phase, batch);
        let half = if problem.settings.antithetic { n.div_ceil(2) } else { n };
        PathStepper {
            problem,
            rng,
            n,
            steps_taken: 0,
            state,
            logs: Vec::new(),
            normals: vec![0.0; d * half],
            words: Vec::new(),
        }
    }

    /// Also keeps the log of the first asset, for [`Self::logs`].
    pub fn with_logs(mut self) -> Self {
        let s0 = self.problem.instrument.model.spot.first().copied().unwrap_or(1.0);
        self.logs = vec![libm::log(s0); self.n];
        self
    }

    pub fn paths(&self) -> usize {
        self.n
    }

    /// Simulates up to the next exercise date and returns the asset values there (`[a * n + i]`).
    pub fn advance(&mut self) -> &[f64] {
        self.advance_with_logs().0
    }

    /// [`Self::advance`], returning also the log of the first asset per path (empty without
    /// [`Self::with_logs`]).
    pub fn advance_with_logs(&mut self) -> (&[f64], &[f64]) {
        for _ in 0..self.problem.instrument.substeps.max(1) {
            simd::run(Step(self));
        }
        (&self.state, &self.logs)
    }

    /// One simulation step: normals from the stream, correlated, then the exact GBM step.
    #[inline(always)]
    fn step(&mut self) {
        let p = self.problem;
        let d = p.instrument.model.assets();
        let n = self.n;
        let antithetic = p.settings.antithetic;
        let half = if antithetic { n.div_ceil(2) } else { n };
        let z = &mut self.normals;
        normal::fill(&mut self.rng, &mut self.words, z);
        if let Some(l) = &p.instrument.model.chol {
            // w = L z, in place: row a needs z_b for b <= a only, so go from the last row up.
            for a in (0..d).rev() {
                for i in 0..half {
                    let mut w = 0.0;
                    for b in 0..=a {
                        w += l[a * d + b] * z[b * half + i];
                    }
                    z[a * half + i] = w;
                }
            }
        }
        let k = self.steps_taken;
        for a in 0..d {
            let mu = p.drift[k * d + a];
            let sig = p.step_vol[k * d + a];
            let zs = &z[a * half..(a + 1) * half];
            let s = &mut self.state[a * n..(a + 1) * n];
            let (up, down) = s.split_at_mut(half.min(n));
            if antithetic {
                // exp(μ − σz) = e^{2μ} / exp(μ + σz): one exponential per antithetic pair.
                let e2mu = libm::exp(2.0 * mu);
                for ((x, y), &w) in up.iter_mut().zip(down.iter_mut()).zip(zs) {
                    let g = fastmath::exp(mu + sig * w);
                    *x *= g;
                    *y *= e2mu / g;
                }
            } else {
                for (x, &w) in up.iter_mut().zip(zs) {
                    *x *= fastmath::exp(mu + sig * w);
                }
            }
            if a == 0 && !self.logs.is_empty() {
                let (up, down) = self.logs.split_at_mut(half.min(n));
                for (x, &w) in up.iter_mut().zip(zs) {
                    *x += mu + sig * w;
                }
                if antithetic {
                    for (y, &w) in down.iter_mut().zip(zs) {
                        *y += mu - sig * w;
                    }
                }
            }
        }
        self.steps_taken += 1;
    }
}

/// [`PathStepper::step`] as a [`simd::run`] operation.
struct Step<'a, 'p>(&'a mut PathStepper<'p>);

impl pulp::WithSimd for Step<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        self.0.step()
    }
}
