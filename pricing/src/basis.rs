//! Regression bases for the continuation value.
//!
//! Inputs are scaled by the strike so the normal equations stay well conditioned
//! whatever the currency units of the instrument.

use crate::spec::BasisKind;

/// Largest basis the engine accepts: AᵀA grows with its square and travels per batch.
pub const MAX_BASIS_LEN: usize = 600;

#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    kind: BasisKind,
    degree: u32,
    inv_scale: f64,
    /// Multi-asset monomials, in graded order after the constant: term `t` is
    /// `term[parent] * x[asset]`, so each costs one multiplication.
    terms: Vec<(u32, u32)>,
    /// Evaluate on the asset values sorted in decreasing order: for payoffs on the
    /// maximum or minimum of the assets, the order statistics explain the continuation
    /// value far better than the assets by name.
    sorted: bool,
    /// One more function after the others: the European value of the remaining option,
    /// filled in by the caller ([`crate::Problem::basis_row`]). Continuation values of
    /// American options are close to it, so it removes most of the policy's bias.
    european_term: bool,
}

impl Basis {
    /// Builds a basis; `None` when the kind does not fit the asset count.
    pub fn new(kind: BasisKind, degree: u32, assets: usize, scale: f64) -> Option<Basis> {
        let inv_scale = 1.0 / scale;
        match kind {
            BasisKind::Laguerre | BasisKind::Monomial => (assets == 1).then_some(Basis {
                kind,
                degree,
                inv_scale,
                terms: Vec::new(),
                sorted: false,
                european_term: false,
            }),
            BasisKind::Polynomial => {
                let terms = graded_monomials(assets, degree);
                Some(Basis { kind, degree, inv_scale, terms, sorted: false, european_term: false })
            }
        }
    }

    /// Evaluates the polynomial on the order statistics of the assets.
    pub fn with_sorted_assets(mut self, sorted: bool) -> Basis {
        self.sorted = sorted && self.kind == BasisKind::Polynomial;
        self
    }

    /// Adds the European value of the remaining option as a basis function.
    pub fn with_european_term(mut self, on: bool) -> Basis {
        self.european_term = on;
        self
    }

    pub fn has_european_term(&self) -> bool {
        self.european_term
    }

    pub fn kind(&self) -> BasisKind {
        self.kind
    }

    pub fn degree(&self) -> u32 {
        self.degree
    }

    /// Number of basis functions.
    pub fn len(&self) -> usize {
        self.own_len() + usize::from(self.european_term)
    }

    fn own_len(&self) -> usize {
        match self.kind {
            BasisKind::Laguerre | BasisKind::Monomial => self.degree as usize + 1,
            // constant + monomials + payoff
            BasisKind::Polynomial => 1 + self.terms.len() + 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Evaluates the basis functions at one path's asset values and payoff; the
    /// European term, if any, is left to the caller.
    #[inline]
    pub fn evaluate(&self, s: &[f64], payoff: f64, out: &mut [f64]) {
        let out = &mut out[..self.own_len()];
        match self.kind {
            BasisKind::Laguerre => {
                let x = s[0] * self.inv_scale;
                laguerre(x, out);
            }
            BasisKind::Monomial => {
                let x = s[0] * self.inv_scale;
                let mut p = 1.0;
                for o in out.iter_mut() {
                    *o = p;
                    p *= x;
                }
            }
            BasisKind::Polynomial if self.sorted => {
                let mut buf = [0.0; crate::validate::MAX_ASSETS];
                let sorted = &mut buf[..s.len().min(crate::validate::MAX_ASSETS)];
                sorted.copy_from_slice(&s[..sorted.len()]);
                sorted.sort_unstable_by(|a, b| b.total_cmp(a));
                self.polynomial(sorted, payoff, out);
            }
            BasisKind::Polynomial => self.polynomial(s, payoff, out),
        }
    }

    #[inline]
    fn polynomial(&self, s: &[f64], payoff: f64, out: &mut [f64]) {
        out[0] = 1.0;
        for (t, &(parent, asset)) in self.terms.iter().enumerate() {
            out[t + 1] = out[parent as usize] * s[asset as usize] * self.inv_scale;
        }
        if let Some(last) = out.last_mut() {
            *last = payoff * self.inv_scale;
        }
    }
}

/// Laguerre polynomials L₀..Lₙ by their three-term recurrence.
#[inline]
fn laguerre(x: f64, out: &mut [f64]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    out[0] = 1.0;
    if n == 1 {
        return;
    }
    out[1] = 1.0 - x;
    for k in 1..n - 1 {
        let kf = k as f64;
        out[k + 1] = ((2.0 * kf + 1.0 - x) * out[k] - kf * out[k - 1]) / (kf + 1.0);
    }
}

/// Count of basis functions for the polynomial basis, without building it.
pub fn polynomial_len(assets: usize, degree: u32) -> usize {
    // C(assets + degree, degree) + 1 for the payoff; saturating to stay panic-free.
    let mut c: u128 = 1;
    for k in 1..=degree as u128 {
        c = c.saturating_mul(assets as u128 + k) / k;
        if c > 1_000_000 {
            return usize::MAX;
        }
    }
    (c as usize).saturating_add(1)
}

/// Monomials of degree 1..=degree in `assets` variables, each as (parent term, asset):
/// a term of degree k extends a term of degree k-1 by an asset index ≥ its last one,
/// which enumerates each monomial exactly once.
fn graded_monomials(assets: usize, degree: u32) -> Vec<(u32, u32)> {
    let mut terms = Vec::new();
    // (index in output incl. constant at 0, last asset used)
    let mut frontier: Vec<(usize, usize)> = vec![(0, 0)];
    for _ in 0..degree {
        let mut next = Vec::new();
        for &(idx, last) in &frontier {
            for a in last..assets {
                terms.push((idx as u32, a as u32));
                next.push((terms.len(), a));
            }
        }
        frontier = next;
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laguerre_matches_closed_form() {
        let x = 0.7;
        let mut out = [0.0; 4];
        laguerre(x, &mut out);
        let l2 = (x * x - 4.0 * x + 2.0) / 2.0;
        let l3 = (-x * x * x + 9.0 * x * x - 18.0 * x + 6.0) / 6.0;
        assert!((out[2] - l2).abs() < 1e-14);
        assert!((out[3] - l3).abs() < 1e-14);
    }

    #[test]
    fn polynomial_counts_terms() {
        let b = Basis::new(BasisKind::Polynomial, 2, 5, 100.0).unwrap();
        assert_eq!(b.len(), 1 + 5 + 15 + 1);
        assert_eq!(polynomial_len(5, 2), b.len());
        let mut out = vec![0.0; b.len()];
        b.evaluate(&[100.0, 200.0, 100.0, 100.0, 100.0], 50.0, &mut out);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[2], 2.0); // x_1
        assert_eq!(out[1 + 5 + 5], 4.0); // x_1^2 comes after the 5 terms x_0*x_a
        assert_eq!(*out.last().unwrap(), 0.5);
    }
}
