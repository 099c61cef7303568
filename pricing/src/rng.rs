//! Deterministic random streams.
//!
//! Every random number is a pure function of (seed, instrument, phase, batch): each batch
//! gets its own generator seeded from a hash of that tuple, so results do not depend on
//! which thread or node ran a batch, nor in what order.

/// The two independent passes of Longstaff–Schwartz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    Training,
    Pricing,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Training => "training",
            Phase::Pricing => "pricing",
        }
    }

    fn tag(self) -> u64 {
        match self {
            Phase::Training => 0x7261_696e,
            Phase::Pricing => 0x7072_6963,
        }
    }
}

/// SplitMix64: advances `state` and returns its next output.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Key of one batch's stream: a hash of (seed, instrument, phase, batch).
pub fn stream_key(seed: u64, instrument: u32, phase: Phase, batch: u64) -> u64 {
    let mut s = seed;
    let mut h = splitmix64(&mut s);
    for word in [u64::from(instrument), phase.tag(), batch] {
        let mut t = h ^ word;
        h = splitmix64(&mut t);
    }
    h
}

/// xoshiro256++: small state, fast, statistically strong; one per batch.
#[derive(Debug, Clone)]
pub struct StreamRng {
    s: [u64; 4],
}

impl StreamRng {
    pub fn from_key(key: u64) -> Self {
        let mut sm = key;
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        StreamRng { s }
    }

    pub fn for_batch(seed: u64, instrument: u32, phase: Phase, batch: u64) -> Self {
        Self::from_key(stream_key(seed, instrument, phase, batch))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fills `out` with standard normal draws (Marsaglia's polar method, two per accepted pair).
    pub fn fill_standard_normal(&mut self, out: &mut [f64]) {
        let mut i = 0;
        while i < out.len() {
            let (a, b) = self.normal_pair();
            out[i] = a;
            if i + 1 < out.len() {
                out[i + 1] = b;
            }
            i += 2;
        }
    }

    #[inline]
    fn normal_pair(&mut self) -> (f64, f64) {
        loop {
            let u = 2.0 * self.next_f64() - 1.0;
            let v = 2.0 * self.next_f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * libm::log(s) / s).sqrt();
                return (u * f, v * f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_every_key_component() {
        let base = stream_key(1, 0, Phase::Training, 0);
        assert_ne!(base, stream_key(2, 0, Phase::Training, 0));
        assert_ne!(base, stream_key(1, 1, Phase::Training, 0));
        assert_ne!(base, stream_key(1, 0, Phase::Pricing, 0));
        assert_ne!(base, stream_key(1, 0, Phase::Training, 1));
        assert_eq!(base, stream_key(1, 0, Phase::Training, 0));
    }

    #[test]
    fn normals_have_unit_moments() {
        let mut rng = StreamRng::for_batch(7, 0, Phase::Pricing, 3);
        let mut z = vec![0.0; 200_000];
        rng.fill_standard_normal(&mut z);
        let n = z.len() as f64;
        let mean = z.iter().sum::<f64>() / n;
        let var = z.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        // 5 standard errors: mean s.e. = 1/sqrt(n), variance s.e. = sqrt(2/n)
        assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "var {var}");
    }
}
