//! Geometric Brownian motion for one or several correlated assets.

/// Correlated GBM under the risk-neutral measure. `chol` is a lower-triangular factor
/// `L` (row-major, `assets × assets`) with `L Lᵀ = correlation`; `None` means independent.
#[derive(Debug, Clone, PartialEq)]
pub struct Gbm {
    pub spot: Vec<f64>,
    pub vol: Vec<f64>,
    pub dividend: Vec<f64>,
    pub rate: f64,
    pub chol: Option<Vec<f64>>,
}

impl Gbm {
    pub fn assets(&self) -> usize {
        self.spot.len()
    }
}

/// Why a correlation matrix was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum CorrelationProblem {
    Shape,
    NonFinite,
    Diagonal,
    OutOfRange,
    Asymmetric,
    NotPositiveSemidefinite,
}

impl CorrelationProblem {
    pub fn message(&self, assets: usize) -> String {
        match self {
            Self::Shape => format!("must be a {assets}x{assets} matrix"),
            Self::NonFinite => "entries must be finite numbers".into(),
            Self::Diagonal => "diagonal entries must be 1".into(),
            Self::OutOfRange => "entries must lie in [-1, 1]".into(),
            Self::Asymmetric => "must be symmetric".into(),
            Self::NotPositiveSemidefinite => "must be positive semi-definite".into(),
        }
    }
}

/// Cholesky factor of a correlation matrix that may be singular (positive semi-definite):
/// a pivot that is zero within tolerance gives a zero column instead of a division by zero.
/// Returns `None` for the identity (independent assets, the fast path).
pub fn correlation_factor(c: &[Vec<f64>]) -> Result<Option<Vec<f64>>, CorrelationProblem> {
    let d = c.len();
    if c.iter().any(|row| row.len() != d) {
        return Err(CorrelationProblem::Shape);
    }
    if c.iter().flatten().any(|x| !x.is_finite()) {
        return Err(CorrelationProblem::NonFinite);
    }
    let mut identity = true;
    for (i, row) in c.iter().enumerate() {
        if (row[i] - 1.0).abs() > 1e-12 {
            return Err(CorrelationProblem::Diagonal);
        }
        for (j, &x) in row.iter().enumerate() {
            if x.abs() > 1.0 + 1e-12 {
                return Err(CorrelationProblem::OutOfRange);
            }
            if (x - c[j][i]).abs() > 1e-10 {
                return Err(CorrelationProblem::Asymmetric);
            }
            if i != j && x != 0.0 {
                identity = false;
            }
        }
    }
    if identity {
        return Ok(None);
    }
    const TOL: f64 = 1e-10;
    let mut l = vec![0.0; d * d];
    for j in 0..d {
        let mut diag = c[j][j];
        for k in 0..j {
            diag -= l[j * d + k] * l[j * d + k];
        }
        if diag < -TOL {
            return Err(CorrelationProblem::NotPositiveSemidefinite);
        }
        if diag <= TOL {
            // Semi-definite direction: the column is a combination of earlier ones.
            // Its remaining entries must then vanish too, otherwise the matrix is not PSD.
            for i in (j + 1)..d {
                let mut s = c[i][j];
                for k in 0..j {
                    s -= l[i * d + k] * l[j * d + k];
                }
                if s.abs() > 1e-8 {
                    return Err(CorrelationProblem::NotPositiveSemidefinite);
                }
            }
            continue;
        }
        let ljj = diag.sqrt();
        l[j * d + j] = ljj;
        for i in (j + 1)..d {
            let mut s = c[i][j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            l[i * d + j] = s / ljj;
        }
    }
    Ok(Some(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_reproduces_matrix() {
        let c = vec![vec![1.0, 0.5, 0.2], vec![0.5, 1.0, 0.3], vec![0.2, 0.3, 1.0]];
        let l = correlation_factor(&c).unwrap().unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - c[i][j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn perfectly_correlated_is_accepted() {
        let c = vec![vec![1.0, 1.0], vec![1.0, 1.0]];
        let l = correlation_factor(&c).unwrap().unwrap();
        assert_eq!(l, vec![1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn indefinite_is_rejected() {
        let c = vec![vec![1.0, 0.9, -0.9], vec![0.9, 1.0, 0.9], vec![-0.9, 0.9, 1.0]];
        assert_eq!(correlation_factor(&c), Err(CorrelationProblem::NotPositiveSemidefinite));
    }

    #[test]
    fn identity_is_fast_path() {
        let c = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        assert_eq!(correlation_factor(&c), Ok(None));
    }
}
