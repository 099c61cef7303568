//! The job spec: the JSON contract users write (README, "Job spec"; docs/ARCHITECTURE.md).
//!
//! These types mirror the JSON exactly and carry no invariants; [`crate::validate`]
//! turns a [`JobSpec`] into a [`crate::Job`] whose fields are known to be sane.

use serde::{Deserialize, Serialize};

/// A whole job as submitted: simulation settings plus the instruments to price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub name: String,
    #[serde(default, deserialize_with = "count::de")]
    pub seed: u64,
    #[serde(deserialize_with = "count::de")]
    pub paths: u64,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "count::de_opt")]
    pub training_paths: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "count::de_opt")]
    pub batch_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub antithetic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<BasisSpec>,
    pub instruments: Vec<InstrumentSpec>,
}

/// Regression basis for the continuation value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasisSpec {
    pub kind: BasisKind,
    pub degree: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BasisKind {
    /// Laguerre polynomials in S/K (one asset).
    Laguerre,
    /// Powers of S/K (one asset).
    Monomial,
    /// All monomials in the assets up to `degree`, plus the payoff (any number of assets).
    Polynomial,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    pub id: String,
    pub model: ModelSpec,
    pub payoff: PayoffSpec,
    pub exercise: ExerciseSpec,
}

/// A number for one asset, or an array with one entry per asset.
///
/// Deserialized by hand rather than as an untagged enum, so a wrong value says what was
/// expected ("a number or an array of numbers") instead of naming an internal type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Scalars {
    One(f64),
    Many(Vec<f64>),
}

impl Scalars {
    pub fn len(&self) -> usize {
        match self {
            Scalars::One(_) => 1,
            Scalars::Many(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values, with a single number — written bare or as a one-element array — broadcast
    /// to `assets` entries. (Validation accepts both forms, so both must broadcast: a
    /// one-element array left as it was would give a model fewer values than assets.)
    pub fn broadcast(&self, assets: usize) -> Vec<f64> {
        match self {
            Scalars::One(x) => vec![*x; assets],
            Scalars::Many(v) if v.len() == 1 => vec![v[0]; assets],
            Scalars::Many(v) => v.clone(),
        }
    }
}

/// Written as `{"type": "gbm", ...}`. Read through [`raw::Model`], a plain struct: serde
/// buffers internally tagged enums and loses the field path inside them, so an error in
/// `vol` would only name `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields, from = "raw::Model")]
pub enum ModelSpec {
    /// Geometric Brownian motion, one or several correlated assets.
    Gbm {
        spot: Scalars,
        vol: Scalars,
        rate: f64,
        #[serde(default = "zero_dividend")]
        dividend: Scalars,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        correlation: Option<Vec<Vec<f64>>>,
    },
}

fn zero_dividend() -> Scalars {
    Scalars::One(0.0)
}

/// Written as `{"type": "put", "strike": ...}`; read through [`raw::Payoff`] for the
/// same reason as [`ModelSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields, try_from = "raw::Payoff")]
pub enum PayoffSpec {
    Put {
        strike: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<Vec<f64>>,
    },
    Call {
        strike: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<Vec<f64>>,
    },
    MaxCall {
        strike: f64,
    },
    MinPut {
        strike: f64,
    },
    BasketPut {
        strike: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<Vec<f64>>,
    },
    BasketCall {
        strike: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<Vec<f64>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExerciseStyle {
    American,
    Bermudan,
    European,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseSpec {
    pub style: ExerciseStyle,
    pub maturity: f64,
    /// Equally spaced exercise dates. Optional for `american` (the engine picks them).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "count::de_opt")]
    pub steps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dates: Option<Vec<f64>>,
}

impl<'de> Deserialize<'de> for Scalars {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, SeqAccess, Visitor};
        use std::fmt;

        struct ScalarsVisitor;

        impl<'de> Visitor<'de> for ScalarsVisitor {
            type Value = Scalars;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or an array of numbers")
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalars, E> {
                Ok(Scalars::One(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalars, E> {
                Ok(Scalars::One(v as f64))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalars, E> {
                Ok(Scalars::One(v as f64))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalars, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(x) = seq.next_element::<f64>()? {
                    values.push(x);
                }
                Ok(Scalars::Many(values))
            }
        }

        d.deserialize_any(ScalarsVisitor)
    }
}

/// The shapes the JSON of tagged specs is read into: plain structs, whose fields serde
/// tracks by path, turned into the enums afterwards.
mod raw {
    use super::{ModelSpec, PayoffSpec, Scalars, zero_dividend};
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum ModelKind {
        Gbm,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Model {
        #[serde(rename = "type")]
        kind: ModelKind,
        spot: Scalars,
        vol: Scalars,
        rate: f64,
        #[serde(default = "zero_dividend")]
        dividend: Scalars,
        #[serde(default)]
        correlation: Option<Vec<Vec<f64>>>,
    }

    impl From<Model> for ModelSpec {
        fn from(m: Model) -> ModelSpec {
            match m.kind {
                ModelKind::Gbm => ModelSpec::Gbm {
                    spot: m.spot,
                    vol: m.vol,
                    rate: m.rate,
                    dividend: m.dividend,
                    correlation: m.correlation,
                },
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum PayoffKind {
        Put,
        Call,
        MaxCall,
        MinPut,
        BasketPut,
        BasketCall,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Payoff {
        #[serde(rename = "type")]
        kind: PayoffKind,
        strike: f64,
        #[serde(default)]
        weights: Option<Vec<f64>>,
    }

    impl TryFrom<Payoff> for PayoffSpec {
        type Error = &'static str;

        fn try_from(p: Payoff) -> Result<PayoffSpec, &'static str> {
            let Payoff { kind, strike, weights } = p;
            Ok(match kind {
                PayoffKind::Put => PayoffSpec::Put { strike, weights },
                PayoffKind::Call => PayoffSpec::Call { strike, weights },
                PayoffKind::BasketPut => PayoffSpec::BasketPut { strike, weights },
                PayoffKind::BasketCall => PayoffSpec::BasketCall { strike, weights },
                PayoffKind::MaxCall if weights.is_some() => {
                    return Err("unknown field `weights`: max_call takes no weights");
                }
                PayoffKind::MinPut if weights.is_some() => {
                    return Err("unknown field `weights`: min_put takes no weights");
                }
                PayoffKind::MaxCall => PayoffSpec::MaxCall { strike },
                PayoffKind::MinPut => PayoffSpec::MinPut { strike },
            })
        }
    }
}

/// Counts in the spec: whole numbers, also when written as integral floats (`50.0`), which
/// scripts produce. Anything else is an error that names the value.
mod count {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    struct Count;

    impl Visitor<'_> for Count {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a non-negative whole number")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("expected a non-negative whole number, got {v}")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            // 2^64 is exactly representable; anything at or beyond it does not fit.
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 18_446_744_073_709_551_616.0 {
                Ok(v as u64)
            } else {
                Err(E::custom(format!("expected a non-negative whole number, got {v}")))
            }
        }
    }

    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(Count)
    }

    struct Wrapped(u64);

    impl<'de> serde::Deserialize<'de> for Wrapped {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            de(d).map(Wrapped)
        }
    }

    /// An optional count: absent or `null` is `None`.
    pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        <Option<Wrapped> as serde::Deserialize>::deserialize(d).map(|o| o.map(|w| w.0))
    }
}
