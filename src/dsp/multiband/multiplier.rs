//! A band's gain at the sample rate, interpolated from the control rate.

/// A band's multiplier at the sample rate: its control-rate gains (linearly interpolated: block
/// c's value at its first sample, reaching block c + 1's at the next block's) times its scale, or
/// 1 for a band without gains.
#[derive(Clone, Copy)]
pub(super) struct Multiplier<'a> {
    pub(super) gains: Option<&'a [f32]>,
    pub(super) scale: f32,
    /// k / block for k = 0 … block − 1 (see [`Self::ramp`]); its length is the control block.
    pub(super) ramp: &'a [f32],
}

impl Multiplier<'_> {
    /// The interpolation's weights for a control block of `block` samples, computed once: the
    /// per-sample conversion and division kept the fill loop from vectorising.
    pub(super) fn ramp(block: usize) -> Vec<f32> {
        (0..block).map(|k| k as f32 / block as f32).collect()
    }

    pub(super) fn at(&self, n: usize) -> f32 {
        match self.gains {
            None => 1.0,
            Some(g) => {
                let block = self.ramp.len();
                let c = (n / block).min(g.len() - 1);
                let (g0, g1) = (g[c], *g.get(c + 1).unwrap_or(&g[c]));
                self.scale * (g0 + (g1 - g0) * self.ramp[n - c * block])
            }
        }
    }

    /// [`Self::at`] for n = start, start + 1, … into `out`; `start` on a block boundary.
    pub(super) fn fill(&self, start: usize, out: &mut [f32]) {
        match self.gains {
            None => out.fill(1.0),
            Some(g) => {
                let block = self.ramp.len();
                for (c, chunk) in (start / block..).zip(out.chunks_mut(block)) {
                    let c = c.min(g.len() - 1);
                    let (g0, g1) = (g[c], *g.get(c + 1).unwrap_or(&g[c]));
                    for (o, &t) in chunk.iter_mut().zip(self.ramp) {
                        *o = self.scale * (g0 + (g1 - g0) * t);
                    }
                }
            }
        }
    }
}
