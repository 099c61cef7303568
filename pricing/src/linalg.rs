//! Small dense symmetric solves in plain Rust, with a fixed order of operations.
//!
//! The regression systems are at most a few dozen wide. A BLAS/LAPACK library would pick its
//! kernels from the CPU it runs on (OpenBLAS also from `OPENBLAS_CORETYPE`), and different
//! kernels round differently: the coefficients, and through them exercise decisions and
//! prices, would then depend on the machine. Every loop here runs in one fixed order with
//! plain IEEE operations (no fused multiply-add, no lane-dependent reduction), so the same
//! inputs give the same bits on every CPU. See docs/ARCHITECTURE.md, "Determinism".

/// A symmetric n×n matrix stored densely, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct SymMatrix {
    n: usize,
    a: Vec<f64>,
}

impl SymMatrix {
    /// Builds the matrix from its upper triangle packed row by row
    /// (entry (i, j), i ≤ j, at `i * n - i * (i + 1) / 2 + j`); `None` if the length is wrong.
    pub fn from_packed_upper(n: usize, packed: &[f64]) -> Option<SymMatrix> {
        if packed.len() != n * (n + 1) / 2 {
            return None;
        }
        let mut a = vec![0.0; n * n];
        let mut idx = 0;
        for i in 0..n {
            for j in i..n {
                a[i * n + j] = packed[idx];
                a[j * n + i] = packed[idx];
                idx += 1;
            }
        }
        Some(SymMatrix { n, a })
    }

    pub fn dim(&self) -> usize {
        self.n
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.a[i * self.n + j]
    }

    /// Largest diagonal entry (0 for an empty matrix).
    pub fn max_diagonal(&self) -> f64 {
        (0..self.n).map(|i| self.at(i, i)).fold(0.0, f64::max)
    }

    /// The same matrix with `ridge` added to every diagonal entry.
    pub fn with_ridge(&self, ridge: f64) -> SymMatrix {
        let mut out = self.clone();
        for i in 0..self.n {
            out.a[i * self.n + i] += ridge;
        }
        out
    }

    /// Solves `self · x = b` by Cholesky factorisation; `None` unless the matrix is
    /// numerically positive definite.
    pub fn cholesky_solve(&self, b: &[f64]) -> Option<Vec<f64>> {
        let n = self.n;
        if b.len() != n {
            return None;
        }
        // Lower factor L, row-major: self = L Lᵀ.
        let mut l = vec![0.0; n * n];
        for j in 0..n {
            let mut diag = self.at(j, j);
            for k in 0..j {
                diag -= l[j * n + k] * l[j * n + k];
            }
            if diag.is_nan() || diag <= 0.0 || !diag.is_finite() {
                return None;
            }
            let ljj = diag.sqrt();
            l[j * n + j] = ljj;
            for i in (j + 1)..n {
                let mut s = self.at(i, j);
                for k in 0..j {
                    s -= l[i * n + k] * l[j * n + k];
                }
                l[i * n + j] = s / ljj;
            }
        }
        // Forward substitution L z = b, then back substitution Lᵀ x = z.
        let mut z = vec![0.0; n];
        for i in 0..n {
            let mut s = b[i];
            for k in 0..i {
                s -= l[i * n + k] * z[k];
            }
            z[i] = s / l[i * n + i];
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            let mut s = z[i];
            for k in (i + 1)..n {
                s -= l[k * n + i] * x[k];
            }
            x[i] = s / l[i * n + i];
        }
        x.iter().all(|v| v.is_finite()).then_some(x)
    }

    /// Eigenvalues and eigenvectors by the cyclic Jacobi method: rotations in a fixed
    /// (row, column) order, a fixed sweep limit. Returns the eigenvalues and the
    /// eigenvectors as the columns of a row-major n×n matrix.
    pub fn jacobi_eigen(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.n;
        let mut a = self.a.clone();
        let mut v = vec![0.0; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        const MAX_SWEEPS: usize = 64;
        for _ in 0..MAX_SWEEPS {
            let mut off = 0.0;
            let mut total = 0.0;
            for i in 0..n {
                for j in 0..n {
                    let x = a[i * n + j] * a[i * n + j];
                    total += x;
                    if i != j {
                        off += x;
                    }
                }
            }
            if off <= 1e-30 * total || off == 0.0 {
                break;
            }
            for p in 0..n {
                for q in (p + 1)..n {
                    let apq = a[p * n + q];
                    if apq == 0.0 {
                        continue;
                    }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                    let t = if theta.is_finite() { t } else { 0.0 };
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    // A ← Jᵀ A J with J the rotation in the (p, q) plane.
                    for k in 0..n {
                        let akp = a[k * n + p];
                        let akq = a[k * n + q];
                        a[k * n + p] = c * akp - s * akq;
                        a[k * n + q] = s * akp + c * akq;
                    }
                    for k in 0..n {
                        let apk = a[p * n + k];
                        let aqk = a[q * n + k];
                        a[p * n + k] = c * apk - s * aqk;
                        a[q * n + k] = s * apk + c * aqk;
                    }
                    for k in 0..n {
                        let vkp = v[k * n + p];
                        let vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        ((0..n).map(|i| a[i * n + i]).collect(), v)
    }

    /// Minimum-norm least-squares solution through the eigen-decomposition, dropping
    /// directions whose eigenvalue is below `rel_cutoff` times the largest: the graceful
    /// answer for singular normal equations. `None` if nothing is left or the input is bad.
    pub fn pseudo_inverse_solve(&self, b: &[f64], rel_cutoff: f64) -> Option<Vec<f64>> {
        let n = self.n;
        if b.len() != n {
            return None;
        }
        let (values, vectors) = self.jacobi_eigen();
        let max = values.iter().copied().fold(0.0_f64, f64::max);
        if max.is_nan() || max <= 0.0 || !max.is_finite() {
            return None;
        }
        let mut x = vec![0.0; n];
        for (k, &lambda) in values.iter().enumerate() {
            if lambda > max * rel_cutoff {
                let mut dot = 0.0;
                for i in 0..n {
                    dot += vectors[i * n + k] * b[i];
                }
                let coef = dot / lambda;
                for i in 0..n {
                    x[i] += coef * vectors[i * n + k];
                }
            }
        }
        x.iter().all(|v| v.is_finite()).then_some(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SymMatrix {
        // Packed upper triangle of [[4, 2, 0.6], [2, 5, 1], [0.6, 1, 3]].
        SymMatrix::from_packed_upper(3, &[4.0, 2.0, 0.6, 5.0, 1.0, 3.0]).unwrap()
    }

    fn mul(m: &SymMatrix, x: &[f64]) -> Vec<f64> {
        (0..m.n).map(|i| (0..m.n).map(|j| m.at(i, j) * x[j]).sum()).collect()
    }

    #[test]
    fn cholesky_solves_positive_definite() {
        let m = sample();
        let b = [1.0, -2.0, 0.5];
        let x = m.cholesky_solve(&b).unwrap();
        for (got, want) in mul(&m, &x).iter().zip(b) {
            assert!((got - want).abs() < 1e-12);
        }
    }

    #[test]
    fn cholesky_refuses_indefinite() {
        let m = SymMatrix::from_packed_upper(2, &[1.0, 2.0, 1.0]).unwrap();
        assert_eq!(m.cholesky_solve(&[1.0, 1.0]), None);
    }

    #[test]
    fn jacobi_diagonalises() {
        let m = sample();
        let (values, v) = m.jacobi_eigen();
        for k in 0..3 {
            let col: Vec<f64> = (0..3).map(|i| v[i * 3 + k]).collect();
            for (got, want) in mul(&m, &col).iter().zip(col.iter().map(|c| c * values[k])) {
                assert!((got - want).abs() < 1e-10, "{values:?}");
            }
        }
        let trace: f64 = values.iter().sum();
        assert!((trace - 12.0).abs() < 1e-12);
    }

    #[test]
    fn pseudo_inverse_gives_minimum_norm() {
        // [[1, 1], [1, 1]] x = [2, 2]: the minimum-norm solution is (1, 1).
        let m = SymMatrix::from_packed_upper(2, &[1.0, 1.0, 1.0]).unwrap();
        let x = m.pseudo_inverse_solve(&[2.0, 2.0], 1e-12).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12, "{x:?}");
    }

    #[test]
    fn same_bits_every_time() {
        let m = sample();
        let a = m.pseudo_inverse_solve(&[1.0, 2.0, 3.0], 1e-12).unwrap();
        let b = m.pseudo_inverse_solve(&[1.0, 2.0, 3.0], 1e-12).unwrap();
        assert_eq!(
            a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}
