//! The unit tests' one pseudo-random generator (xorshift64*): reproducible test signals and
//! random block sizes without a dependency.

/// Small deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (made odd, so never the all-zero state).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A generator whose seed is first spread over all bits (golden-ratio multiply), so nearby
    /// small seeds start far apart.
    pub fn mixed(seed: u64) -> Self {
        Self::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// A generator starting from exactly `state` (0 becomes 1).
    pub fn from_state(state: u64) -> Self {
        Self(state.max(1))
    }

    /// Next raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform value in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform value in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in [0, n) (0 for n = 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n.max(1)
    }
}
