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
            BasisKind::Laguerre | BasisKind::Monomial => own_len(self.kind, self.degree, 1),
            // constant + monomials + payoff: `own_len`'s count, which built `terms`
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

    /// [`Basis::evaluate`] for a whole batch, column by column: `out[j * n + i]` is function
    /// `j` at path `i`, from `values[a * n + i]` (asset `a` of path `i`) and `pay[i]`. The same
    /// operations per path as the row form, so the same bits; the loops run over contiguous
    /// columns, which the vector units take whole. `sorted` is scratch for the order
    /// statistics. The European term, if any, is left to the caller.
    #[inline(always)]
    pub fn evaluate_columns(&self, values: &[f64], pay: &[f64], n: usize, sorted: &mut Vec<f64>, out: &mut [f64]) {
        let out = &mut out[..self.own_len() * n];
        match self.kind {
            BasisKind::Laguerre => {
                let x = &values[..n];
                let inv = self.inv_scale;
                let (c0, rest) = out.split_at_mut(n);
                c0.fill(1.0);
                if rest.is_empty() {
                    return;
                }
                for (o, &s) in rest[..n].iter_mut().zip(x) {
                    *o = 1.0 - s * inv;
                }
                for k in 1..self.degree as usize {
                    let (done, next) = out.split_at_mut((k + 1) * n);
                    let (prev, cur) = (&done[(k - 1) * n..k * n], &done[k * n..]);
                    for (((o, &p), &c), &s) in next[..n].iter_mut().zip(prev).zip(cur).zip(x) {
                        *o = laguerre_next(k, s * inv, c, p);
                    }
                }
            }
            BasisKind::Monomial => {
                let x = &values[..n];
                out[..n].fill(1.0);
                for k in 1..=self.degree as usize {
                    let (done, next) = out.split_at_mut(k * n);
                    for ((o, &p), &s) in next[..n].iter_mut().zip(&done[(k - 1) * n..]).zip(x) {
                        *o = p * (s * self.inv_scale);
                    }
                }
            }
            BasisKind::Polynomial if self.sorted => {
                let d = values.len() / n.max(1);
                sorted.resize(values.len(), 0.0);
                let mut buf = [0.0; crate::validate::MAX_ASSETS];
                let row = &mut buf[..d.min(crate::validate::MAX_ASSETS)];
                for i in 0..n {
                    for (a, r) in row.iter_mut().enumerate() {
                        *r = values[a * n + i];
                    }
                    row.sort_unstable_by(|a, b| b.total_cmp(a));
                    for (a, r) in row.iter().enumerate() {
                        sorted[a * n + i] = *r;
                    }
                }
                self.polynomial_columns(sorted, pay, n, out);
            }
            BasisKind::Polynomial => self.polynomial_columns(values, pay, n, out),
        }
    }

    #[inline(always)]
    fn polynomial_columns(&self, values: &[f64], pay: &[f64], n: usize, out: &mut [f64]) {
        out[..n].fill(1.0);
        for (t, &(parent, asset)) in self.terms.iter().enumerate() {
            let (done, next) = out.split_at_mut((t + 1) * n);
            let src = &done[parent as usize * n..][..n];
            let s = &values[asset as usize * n..][..n];
            for ((o, &p), &x) in next[..n].iter_mut().zip(src).zip(s) {
                *o = p * x * self.inv_scale;
            }
        }
        let last = self.own_len() - 1;
        for (o, &y) in out[last * n..][..n].iter_mut().zip(pay) {
            *o = y * self.inv_scale;
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
        out[k + 1] = laguerre_next(k, x, out[k], out[k - 1]);
    }
}

/// L₍ₖ₊₁₎(x) from Lₖ(x) and L₍ₖ₋₁₎(x): ((2k + 1 − x) Lₖ − k L₍ₖ₋₁₎) / (k + 1), with the
/// division as a multiplication by the reciprocal (a division costs as much as a dozen
/// multiplications in a vector unit). The row and column forms both call this.
#[inline(always)]
fn laguerre_next(k: usize, x: f64, cur: f64, prev: f64) -> f64 {
    let kf = k as f64;
    ((2.0 * kf + 1.0 - x) * cur - kf * prev) * (1.0 / (kf + 1.0))
}

/// Count of basis functions of a basis of `kind` and `degree` on `assets` assets, without the
/// European term and without building it (saturating, so validation can refuse a huge
/// request before anything is allocated). The one statement of the rule: [`Basis`] has
/// exactly this many (a test checks it).
pub fn own_len(kind: BasisKind, degree: u32, assets: usize) -> usize {
    match kind {
        BasisKind::Laguerre | BasisKind::Monomial => degree as usize + 1,
        BasisKind::Polynomial => polynomial_len(assets, degree),
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
    fn columns_match_rows_bit_for_bit() {
        let n = 5;
        let values: Vec<f64> = (0..3 * n).map(|i| 80.0 + 7.3 * i as f64).collect();
        let pay: Vec<f64> = (0..n).map(|i| 1.5 * i as f64).collect();
        let bases = [
            Basis::new(BasisKind::Laguerre, 3, 1, 40.0),
            Basis::new(BasisKind::Monomial, 2, 1, 40.0),
            Basis::new(BasisKind::Polynomial, 2, 3, 100.0),
            Basis::new(BasisKind::Polynomial, 2, 3, 100.0).map(|b| b.with_sorted_assets(true)),
        ];
        for b in bases.into_iter().flatten() {
            let d = if b.kind == BasisKind::Polynomial { 3 } else { 1 };
            let v = &values[..d * n];
            let mut cols = vec![0.0; b.len() * n];
            b.evaluate_columns(v, &pay, n, &mut Vec::new(), &mut cols);
            let mut row = vec![0.0; b.len()];
            for i in 0..n {
                let s: Vec<f64> = (0..d).map(|a| v[a * n + i]).collect();
                b.evaluate(&s, pay[i], &mut row);
                for (j, r) in row.iter().enumerate() {
                    assert_eq!(cols[j * n + i].to_bits(), r.to_bits(), "{:?} function {j} path {i}", b.kind);
                }
            }
        }
    }

    #[test]
    fn polynomial_counts_terms() {
        let b = Basis::new(BasisKind::Polynomial, 2, 5, 100.0).unwrap();
        assert_eq!(b.len(), 1 + 5 + 15 + 1);
        assert_eq!(polynomial_len(5, 2), b.len());
        for (kind, assets) in [(BasisKind::Laguerre, 1), (BasisKind::Monomial, 1), (BasisKind::Polynomial, 3)] {
            for degree in 0..6 {
                let b = Basis::new(kind, degree, assets, 1.0).unwrap();
                assert_eq!(b.len(), own_len(kind, degree, assets), "{kind:?} {degree}");
                assert_eq!(b.with_european_term(true).len(), own_len(kind, degree, assets) + 1);
            }
        }
        let mut out = vec![0.0; b.len()];
        b.evaluate(&[100.0, 200.0, 100.0, 100.0, 100.0], 50.0, &mut out);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[2], 2.0); // x_1
        assert_eq!(out[1 + 5 + 5], 4.0); // x_1^2 comes after the 5 terms x_0*x_a
        assert_eq!(*out.last().unwrap(), 0.5);
    }
}
