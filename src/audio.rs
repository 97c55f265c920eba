//! Planar f32 audio, the form every stage works on.
use rayon::prelude::*;

use crate::parallel::GRAIN;

/// Planar audio: one `Vec<f32>` per channel, all of the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl AudioBuffer {
    pub fn new(sample_rate: u32, channels: Vec<Vec<f32>>) -> Self {
        debug_assert!(channels.windows(2).all(|w| w[0].len() == w[1].len()));
        AudioBuffer { sample_rate, channels }
    }

    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate)
    }

    /// Every sample zero (stops at the first that is not).
    pub fn is_silent(&self) -> bool {
        self.channels.iter().flatten().all(|&x| x == 0.0)
    }

    /// First non-finite sample as (channel, frame).
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        first_non_finite(self.channels.iter().map(Vec::as_slice))
    }
}

/// Converts stereo left/right in place to mid/side: M = (L+R)/2, S = (L−R)/2.
pub fn to_mid_side(left: &mut [f32], right: &mut [f32]) {
    in_pairs(left, right, |l, r| ((l + r) * 0.5, (l - r) * 0.5));
}

/// Inverse of [`to_mid_side`]: L = M+S, R = M−S.
pub fn to_left_right(mid: &mut [f32], side: &mut [f32]) {
    in_pairs(mid, side, |m, s| (m + s, m - s));
}

/// (a, b) ← f(a, b) sample by sample, in parallel chunks: a full pass over two whole-track channels
/// is memory-bound work for both cores.
fn in_pairs(a: &mut [f32], b: &mut [f32], f: impl Fn(f32, f32) -> (f32, f32) + Sync) {
    a.par_chunks_mut(GRAIN).zip(b.par_chunks_mut(GRAIN)).for_each(|(a, b)| {
        for (a, b) in a.iter_mut().zip(b) {
            (*a, *b) = f(*a, *b);
        }
    });
}

/// First non-finite sample of `channels` as (channel, index): channel by channel, each from its start.
pub(crate) fn first_non_finite<'a>(channels: impl IntoIterator<Item = &'a [f32]>) -> Option<(usize, usize)> {
    channels.into_iter().enumerate().find_map(|(c, ch)| ch.iter().position(|x| !x.is_finite()).map(|i| (c, i)))
}
