//! Payoffs, evaluated over a batch of paths laid out as one slice per asset.

/// A validated payoff. Weights are resolved (equal weights for baskets without them).
#[derive(Debug, Clone, PartialEq)]
pub enum Payoff {
    Put { strike: f64, weights: Option<Vec<f64>> },
    Call { strike: f64, weights: Option<Vec<f64>> },
    MaxCall { strike: f64 },
    MinPut { strike: f64 },
}

impl Payoff {
    pub fn strike(&self) -> f64 {
        match self {
            Payoff::Put { strike, .. }
            | Payoff::Call { strike, .. }
            | Payoff::MaxCall { strike }
            | Payoff::MinPut { strike } => *strike,
        }
    }

    /// (is call, strike) of this payoff on `assets` assets, if it is a one-asset put or call:
    /// the options with a Black–Scholes closed form, a dual bound and an exercise boundary.
    /// The one place that decides it ([`crate::Instrument::vanilla`] asks it).
    pub fn vanilla_on(&self, assets: usize) -> Option<(bool, f64)> {
        self.vanilla_shape().filter(|_| assets == 1)
    }

    /// The vanilla put/call shape, whatever the asset count (see [`Self::vanilla_on`]).
    fn vanilla_shape(&self) -> Option<(bool, f64)> {
        match self {
            Payoff::Put { strike, weights: None } => Some((false, *strike)),
            Payoff::Call { strike, weights: None } => Some((true, *strike)),
            _ => None,
        }
    }

    /// Payoff of one path given its asset values.
    #[inline]
    pub fn value(&self, s: &[f64]) -> f64 {
        match self {
            Payoff::Put { strike, weights } => (strike - underlying(s, weights.as_deref())).max(0.0),
            Payoff::Call { strike, weights } => (underlying(s, weights.as_deref()) - strike).max(0.0),
            Payoff::MaxCall { strike } => (s.iter().copied().fold(f64::NEG_INFINITY, f64::max) - strike).max(0.0),
            Payoff::MinPut { strike } => (strike - s.iter().copied().fold(f64::INFINITY, f64::min)).max(0.0),
        }
    }

    /// Payoff of every path: `assets[a][i]` is asset `a` on path `i`. Inlined into the
    /// kernels, so that it is compiled for their vector width ([`crate::simd`]).
    #[inline(always)]
    pub fn evaluate(&self, assets: &[&[f64]], out: &mut [f64]) {
        match (self, assets) {
            // The common one-asset case runs as a tight, vectorisable loop.
            (Payoff::Put { strike, weights: None }, [s]) => {
                for (o, &x) in out.iter_mut().zip(s.iter()) {
                    *o = (strike - x).max(0.0);
                }
            }
            (Payoff::Call { strike, weights: None }, [s]) => {
                for (o, &x) in out.iter_mut().zip(s.iter()) {
                    *o = (x - strike).max(0.0);
                }
            }
            _ => {
                let mut row = vec![0.0; assets.len()];
                for (i, o) in out.iter_mut().enumerate() {
                    for (r, a) in row.iter_mut().zip(assets) {
                        *r = a[i];
                    }
                    *o = self.value(&row);
                }
            }
        }
    }
}

#[inline]
fn underlying(s: &[f64], weights: Option<&[f64]>) -> f64 {
    match weights {
        Some(w) => s.iter().zip(w).map(|(x, w)| x * w).sum(),
        None => s.first().copied().unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payoffs() {
        assert_eq!(Payoff::Put { strike: 40.0, weights: None }.value(&[36.0]), 4.0);
        assert_eq!(Payoff::Call { strike: 40.0, weights: None }.value(&[36.0]), 0.0);
        assert_eq!(Payoff::MaxCall { strike: 100.0 }.value(&[90.0, 110.0]), 10.0);
        assert_eq!(Payoff::MinPut { strike: 100.0 }.value(&[90.0, 110.0]), 10.0);
        let basket = Payoff::Put { strike: 100.0, weights: Some(vec![0.5, 0.5]) };
        assert_eq!(basket.value(&[90.0, 100.0]), 5.0);
    }
}
