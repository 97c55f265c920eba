//! The one seeded PRNG of the tests and benches (not of the product: the dither has its own
//! generator, part of the output's definition). A 64-bit LCG (Knuth's MMIX constants) whose top
//! bits are taken: plenty for test noise, and the same sequence on every platform.

/// Deterministic uniform noise from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The seed is spread (Fibonacci hashing) so that small neighbouring seeds start far apart.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [−1, 1).
    pub fn signed(&mut self) -> f64 {
        2.0 * self.unit() - 1.0
    }

    /// `len` samples uniform in [−amplitude, amplitude).
    pub fn noise(&mut self, len: usize, amplitude: f32) -> Vec<f32> {
        (0..len).map(|_| amplitude * self.signed() as f32).collect()
    }
}
