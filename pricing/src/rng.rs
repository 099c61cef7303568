//! Deterministic random streams.
//!
//! Every random number is a pure function of (seed, instrument, phase, batch): each batch
//! gets its own generator seeded from a hash of that tuple, so results do not depend on
//! which thread or node ran a batch, nor in what order. The generator is built for vector
//! units: [`LANES`] xoshiro256++ generators advance side by side. Normal draws are in
//! [`crate::normal`].

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

/// Independent xoshiro256++ generators interleaved in one stream, so that a vector unit
/// advances all of them in one go.
pub const LANES: usize = 8;

/// The random stream of one batch: [`LANES`] xoshiro256++ generators side by side. Word `w`
/// of the stream is word `w / LANES` of generator `w % LANES`, so the stream is one fixed
/// sequence of `u64`s however it is read (a word at a time through [`rand_core::Rng`], or
/// a block at a time by [`StreamRng::fill_u64`]).
#[derive(Debug, Clone)]
pub struct StreamRng {
    /// `s[w][lane]`: word `w` of the state of generator `lane` (structure of arrays).
    s: [[u64; LANES]; 4],
    /// The block being read a word at a time, and the next word in it.
    block: [u64; LANES],
    next: usize,
}

impl StreamRng {
    /// Seeds the generators from a 64-bit key: SplitMix64 expands it into the 4 × 8 state
    /// words, generator by generator (the seeding recommended for the xoshiro family).
    pub fn from_key(key: u64) -> Self {
        let mut sm = key;
        let mut s = [[0u64; LANES]; 4];
        for lane in 0..LANES {
            for word in &mut s {
                word[lane] = splitmix64(&mut sm);
            }
        }
        StreamRng { s, block: [0; LANES], next: LANES }
    }

    pub fn for_batch(seed: u64, instrument: u32, phase: Phase, batch: u64) -> Self {
        Self::from_key(stream_key(seed, instrument, phase, batch))
    }

    /// Advances every generator once and returns their outputs.
    #[inline(always)]
    fn next_block(&mut self) -> [u64; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0u64; LANES];
        for l in 0..LANES {
            out[l] = s0[l].wrapping_add(s3[l]).rotate_left(23).wrapping_add(s0[l]);
            let t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = s3[l].rotate_left(45);
        }
        out
    }

    /// Fills `out` with the next words of the stream.
    #[inline(always)]
    pub fn fill_u64(&mut self, out: &mut [u64]) {
        let mut i = 0;
        while self.next < LANES && i < out.len() {
            out[i] = self.block[self.next];
            self.next += 1;
            i += 1;
        }
        let mut chunks = out[i..].chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_block());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            self.block = self.next_block();
            rest.copy_from_slice(&self.block[..rest.len()]);
            self.next = rest.len();
        }
    }

    #[inline]
    fn next_word(&mut self) -> u64 {
        if self.next == LANES {
            self.block = self.next_block();
            self.next = 0;
        }
        let w = self.block[self.next];
        self.next += 1;
        w
    }
}

/// The stream as a `rand` generator, for scalar draws (e.g. `rand_distr::StandardNormal`).
impl rand_core::TryRng for StreamRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next_word() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next_word())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        rand_core::utils::fill_bytes_via_next_word(dst, || Ok::<u64, Self::Error>(self.next_word()))
    }
}

/// The seed is the 64-bit stream key, little-endian; [`stream_key`] derives it for a batch.
impl rand_core::SeedableRng for StreamRng {
    type Seed = [u8; 8];

    fn from_seed(seed: Self::Seed) -> Self {
        StreamRng::from_key(u64::from_le_bytes(seed))
    }

    fn seed_from_u64(state: u64) -> Self {
        StreamRng::from_key(state)
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
    fn block_and_word_reads_give_one_stream() {
        use rand_core::Rng;
        let mut a = StreamRng::from_key(99);
        let mut b = a.clone();
        let words: Vec<u64> = (0..37).map(|_| a.next_u64()).collect();
        let mut filled = vec![0u64; 37];
        b.fill_u64(&mut filled[..3]);
        b.fill_u64(&mut filled[3..20]);
        b.fill_u64(&mut filled[20..]);
        assert_eq!(words, filled);
        // Lane l of block j is word j * LANES + l; lanes are distinct generators.
        assert_ne!(words[0], words[1]);
    }

    #[test]
    fn stream_format_is_pinned() {
        // Golden bits: changing the generator, its seeding or the interleaving changes every
        // price, so it must be a deliberate change of this test too.
        use rand_core::Rng;
        let mut rng = StreamRng::for_batch(42, 0, Phase::Training, 0);
        let first: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert_eq!(first, GOLDEN_WORDS);
    }

    /// The first word of generators 0–3, computed independently of this code by a plain
    /// transcription of SplitMix64 and xoshiro256++ (Python integers, masked to 64 bits).
    const GOLDEN_WORDS: [u64; 4] =
        [0xca60_8296_dd62_8ae7, 0x4a09_2f2e_560a_b1bb, 0xd58f_e226_635d_a37d, 0xab96_e30e_b16d_70cc];
}
