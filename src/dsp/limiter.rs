//! Offline look-ahead true-peak limiter. From a linked 8× true-peak envelope it computes one gain per
//! sample that never lets a detected peak exceed the ceiling, reaches full reduction *at* the peak
//! without clicks, and releases program-dependently. Render is offline, so "look-ahead" costs no
//! latency: the gain at n may depend on samples after n.
//!
//! Steps (each O(n)):
//! 1. forward sliding maximum of the envelope over the look-ahead window, P\[n\] = max env[n .. n+L)
//!    (van Herk 1992, Gil & Werman 1993), once per render;
//! 2. the forward minimum of the required gain: m\[n\] = min(1, ceiling / (pre_gain · P\[n\]));
//! 3. release: a fast path and a slow "sustain" path that charges only under sustained reduction;
//!    the gain is the lower of the two, so releases after long overloads are slow and after
//!    transients fast (the max-of-two-release-paths idea in Giannoulis, Massberg & Reiss, JAES 2012);
//! 4. attack: a moving average of length L. Every value averaged for n lies in a window containing n,
//!    so each is ≤ r\[n\] and so is their mean: no overshoot by construction.
use rayon::prelude::*;

use super::simd::{fast_max, simd_versions};
use super::{from_db, one_pole};
use crate::error::Result;
pub use crate::model::settings::LimiterSettings;
use crate::parallel::GRAIN;

#[derive(Clone)]
pub struct TruePeakLimiter {
    ceiling: f32,
    lookahead: usize,
    release_coef: f32,
    sustained_release_coef: f32,
    sustain_coef: f32,
    /// Samples each piece of the gain curve runs before its own start (see [`Self::gain_curve`]).
    warmup: usize,
    /// The attack average's ring buffers: L rows of [`LANES`] per group of pieces.
    history: Vec<[f32; LANES]>,
}

/// A piece's warm-up, in the longest of the release and sustain time constants: the recursions
/// contract by at least e^(-1/τ) a sample, so the warm-up's arbitrary start has faded to e^(-16)
/// (below f32 resolution) by the piece's first sample.
const WARMUP_TIME_CONSTANTS: f64 = 16.0;

/// The limiter aims this far below the ceiling, so that dither and the gain's own modulation
/// (which the envelope of the unlimited signal cannot see) do not end above it.
pub const CEILING_MARGIN_DB: f64 = 0.02;

impl TruePeakLimiter {
    pub fn new(settings: &LimiterSettings, sample_rate: u32) -> Result<Self> {
        settings.validate()?;
        let fs = f64::from(sample_rate);
        let coef = |ms: f64| one_pole(ms, sample_rate) as f32;
        let lookahead = ((settings.lookahead_ms * 1e-3 * fs).round() as usize).max(1);
        let longest_s = settings.release_ms.max(settings.sustained_release_ms).max(settings.sustain_ms) * 1e-3;
        Ok(TruePeakLimiter {
            warmup: lookahead + (WARMUP_TIME_CONSTANTS * longest_s * fs).ceil() as usize,
            ceiling: from_db(settings.ceiling_dbtp - CEILING_MARGIN_DB) as f32,
            lookahead,
            release_coef: coef(settings.release_ms),
            sustained_release_coef: coef(settings.sustained_release_ms),
            sustain_coef: coef(settings.sustain_ms),
            history: vec![[0.0; LANES]; lookahead * GAIN_PIECES / LANES],
        })
    }

    /// Look-ahead length in samples.
    pub fn lookahead(&self) -> usize {
        self.lookahead
    }

    /// Writes into `peaks` the forward window maximum of the true-peak envelope, P\[n\] = max env[n ..
    /// n+L), by van Herk / Gil–Werman (block suffix and prefix maxima: ~3 comparisons a sample), in
    /// parallel chunks that each read L − 1 samples past their end. The required gain min(1,
    /// c/(g·env)) falls as env rises, so the forward minimum of the required gain is min(1, c/(g·P))
    /// for every pre-gain g: this is done once per render, not once per loudness iteration.
    pub fn window_peaks(&self, env: &[f32], peaks: &mut [f32]) {
        assert_eq!(env.len(), peaks.len());
        let (n, l) = (env.len(), self.lookahead);
        peaks.par_chunks_mut(GRAIN).enumerate().for_each_init(
            || (Vec::new(), Vec::new()),
            |(suffix, prefix): &mut (Vec<f32>, Vec<f32>), (c, out)| {
                let seg = &env[c * GRAIN..(c * GRAIN + out.len() + l - 1).min(n)];
                // Blocks of L from the segment's start: suffix[j] = max seg[j .. end of j's block),
                // prefix[j] = max seg[start of j's block ..= j].
                suffix.resize(seg.len(), 0.0);
                prefix.resize(seg.len(), 0.0);
                for (block, (s, p)) in seg.chunks(l).zip(suffix.chunks_mut(l).zip(prefix.chunks_mut(l))) {
                    let mut m = 0.0f32;
                    for (v, s) in block.iter().zip(s.iter_mut()).rev() {
                        m = fast_max(m, *v);
                        *s = m;
                    }
                    m = 0.0;
                    for (v, p) in block.iter().zip(p.iter_mut()) {
                        m = fast_max(m, *v);
                        *p = m;
                    }
                }
                // The window [i, i + L) clipped to the segment: i's block to its end, then the next
                // block up to the window's last sample, i + L − 1 (the segment's last when clipped);
                // a window starting a block is that block.
                let last = seg.len() - 1;
                for (start, o) in (0..out.len()).step_by(l).zip(out.chunks_mut(l)) {
                    o[0] = suffix[start];
                    let whole = o.len().min((last + 2).saturating_sub(start + l));
                    for ((o, &s), &p) in o[1..whole.max(1)]
                        .iter_mut()
                        .zip(&suffix[start + 1..])
                        .zip(prefix.get(start + l..).unwrap_or_default())
                    {
                        *o = fast_max(s, p);
                    }
                    for (i, o) in o.iter_mut().enumerate().skip(whole.max(1)) {
                        let end = (start + i + l - 1).min(last);
                        *o = if end < start + l { suffix[start + i] } else { fast_max(suffix[start + i], prefix[end]) };
                    }
                }
            },
        );
    }

    /// Writes into `gain` the per-sample gain to apply after `pre_gain`, from the window peaks of
    /// [`Self::window_peaks`]: required gain, release, attack average. The release is a recursion:
    /// the curve is cut into `GAIN_PIECES` pieces that run in lockstep, one per SIMD lane, in
    /// groups of `LANES` side by side; each piece starts `Self::warmup` samples before its
    /// first (the first piece exactly at the start).
    pub fn gain_curve(&mut self, window_peaks: &[f32], pre_gain: f32, gain: &mut [f32]) {
        assert_eq!(window_peaks.len(), gain.len());
        let piece = gain.len().div_ceil(GAIN_PIECES).max(self.warmup).max(1);
        let mut history = std::mem::take(&mut self.history);
        gain.par_chunks_mut(piece * LANES)
            .zip(history.par_chunks_mut(self.lookahead))
            .enumerate()
            .for_each(|(g, (out, ring))| self.pieces(window_peaks, pre_gain, g * piece * LANES, piece, ring, out));
        self.history = history;
    }

    /// The gain of samples `first ..` into `out` (up to [`LANES`] pieces of `piece` samples), the
    /// pieces in lanes; `ring` is the attack average's history. Lane j's step t reads sample
    /// start_j + t − warmup, and writes it from step warmup on. The curve's first piece reads
    /// peaks of 0 before the start, which leave the fresh release state as it is; its attack
    /// history is then set to the start's required gain.
    fn pieces(
        &self,
        peaks: &[f32],
        pre_gain: f32,
        first: usize,
        piece: usize,
        ring: &mut [[f32; LANES]],
        out: &mut [f32],
    ) {
        let warmup = self.warmup;
        let k = self.ceiling / pre_gain;
        // Each lane's first sample and length.
        let lanes: [(usize, usize); LANES] =
            std::array::from_fn(|j| (first + j * piece, piece.min(out.len().saturating_sub(j * piece))));
        // The attack history starts empty (its sum 0) and fills in the warm-up.
        ring.fill([0.0; LANES]);
        let mut state = LaneState { fast: [0.0; LANES], slow: [0.0; LANES], sum: [0.0; LANES], slot: 0, ring };
        let mut tile = [[0.0f32; LANES]; TILE];
        // Warm-up steps (nothing written), then the pieces' own.
        for (begin, end) in [(0, warmup), (warmup, warmup + piece)] {
            if begin == warmup && first == 0 {
                let start = required(peaks[0], k);
                state.ring.iter_mut().for_each(|row| row[0] = start);
                state.sum[0] = f64::from(start) * state.ring.len() as f64;
            }
            for t0 in (begin..end).step_by(TILE) {
                let steps = TILE.min(end - t0);
                for (j, &(start, _)) in lanes.iter().enumerate() {
                    // Samples start + t0 − warmup … (+ steps); before 0 and past the end, 0.
                    let from = (start + t0).saturating_sub(warmup).min(peaks.len());
                    let to = (start + t0 + steps).saturating_sub(warmup).min(peaks.len());
                    let skip = (warmup + from).saturating_sub(start + t0).min(steps);
                    let rows = &mut tile[..steps];
                    let (before, rest) = rows.split_at_mut(skip);
                    let (inside, after) = rest.split_at_mut((to - from).min(rest.len()));
                    before.iter_mut().chain(after).for_each(|row| row[j] = 0.0);
                    for (row, &p) in inside.iter_mut().zip(&peaks[from..to]) {
                        row[j] = p;
                    }
                }
                gain_lanes(k, self.coefs(), &mut state, &mut tile[..steps]);
                if begin < warmup {
                    continue;
                }
                for (j, &(start, len)) in lanes.iter().enumerate() {
                    let hi = (warmup + len).saturating_sub(t0).min(steps);
                    let at = (start + t0 - warmup - first).min(out.len());
                    for (o, row) in out[at..].iter_mut().zip(&tile[..hi]) {
                        *o = row[j];
                    }
                }
            }
        }
    }

    fn coefs(&self) -> [f32; 3] {
        [self.release_coef, self.sustain_coef, self.sustained_release_coef]
    }
}

/// Pieces of the gain curve run in lockstep, one per SIMD lane (8 f32 lanes of AVX2).
const LANES: usize = 8;

/// The gain curve is computed in this many pieces, [`LANES`] at a time in two groups side by side
/// (fewer on short signals): a fixed number, so the result does not depend on the thread count.
const GAIN_PIECES: usize = 2 * LANES;

/// Steps of the lanes per tile (their peaks gathered in, their gains scattered out).
const TILE: usize = 256;

/// Per lane: the release paths as reductions r = 1 − gain, and the attack average's running sum
/// over the ring of the last L released gains.
struct LaneState<'a> {
    fast: [f32; LANES],
    slow: [f32; LANES],
    sum: [f64; LANES],
    slot: usize,
    ring: &'a mut [[f32; LANES]],
}

/// The required gain at window peak `p` for ceiling/pre-gain `k`: the forward minimum m.
fn required(p: f32, k: f32) -> f32 {
    if p > k {
        k / p
    } else {
        1.0
    }
}

simd_versions! {
    /// One tile of the gain curve, in place: each row's window peaks (one per lane) become gains.
    /// In the reduction domain the fast release's recursion is one multiply and one max, the slow
    /// one's two multiplies and an add: short dependency chains, and the attack's running sum a third.
    fn gain_lanes(
        k: f32,
        coefs: [f32; 3],
        state: &mut LaneState,
        tile: &mut [[f32; LANES]],
    ) {
        let [release, sustain, sustained_release] = coefs;
        let LaneState { mut fast, mut slow, mut sum, mut slot, ref mut ring } = *state;
        let (sustain_in, inv_l) = (1.0 - sustain, 1.0 / ring.len() as f64);
        for row in tile {
            let mut released = [0.0f32; LANES];
            for l in 0..LANES {
                let m = required(row[l], k);
                let r = 1.0 - m;
                // Release: fast path never below r; slow path charges only under sustained reduction.
                let decayed = fast[l] * release;
                fast[l] = if decayed > r { decayed } else { r };
                slow[l] = if r > slow[l] { slow[l] * sustain + r * sustain_in } else { slow[l] * sustained_release };
                // min with m itself: exact, so no detected peak passes the ceiling by a rounding.
                let held = 1.0 - if fast[l] > slow[l] { fast[l] } else { slow[l] };
                released[l] = if held < m { held } else { m };
            }
            // Attack: moving average of length L. Every value averaged for n lies in a window
            // containing n, so each is ≤ m[n] and so is their mean: no overshoot.
            let old = std::mem::replace(&mut ring[slot], released);
            for l in 0..LANES {
                sum[l] += f64::from(released[l]) - f64::from(old[l]);
                row[l] = (sum[l] * inv_l) as f32;
            }
            slot = if slot + 1 == ring.len() { 0 } else { slot + 1 };
        }
        (state.fast, state.slow, state.sum, state.slot) = (fast, slow, sum, slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic, spiky envelope: quiet floor with random peaks of random height.
    fn envelope(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::testing::Rng::new(seed);
        (0..n)
            .map(|_| {
                let u = rng.unit() as f32;
                if u > 0.97 {
                    0.5 + 3.0 * (u - 0.97) / 0.03
                } else {
                    0.3 * u
                }
            })
            .collect()
    }

    #[test]
    fn gain_never_lets_a_detected_peak_exceed_the_ceiling_and_matches_brute_force_minimum() {
        let settings = LimiterSettings::default();
        for (fs, seed) in [(44_100, 1), (48_000, 2), (8_000, 3)] {
            let env = envelope(20_000, seed);
            let mut lim = TruePeakLimiter::new(&settings, fs).unwrap();
            let mut gain = vec![0.0; env.len()];
            let pre = 1.7f32;
            let mut peaks = vec![0.0; env.len()];
            lim.window_peaks(&env, &mut peaks);
            lim.gain_curve(&peaks, pre, &mut gain);
            let ceiling = from_db(settings.ceiling_dbtp - CEILING_MARGIN_DB) as f32;
            for (i, (&e, &g)) in env.iter().zip(&gain).enumerate() {
                assert!(pre * e * g <= ceiling * (1.0 + 1e-6), "over at {i}: {}", pre * e * g);
                assert!(g > 0.0 && g <= 1.0);
            }
            // With the release paths inert, the result is exactly the moving average of the brute-force
            // forward minimum.
            let fast = LimiterSettings {
                release_ms: 1.0,
                sustained_release_ms: 1.0,
                sustain_ms: 10_000.0,
                ..settings.clone()
            };
            let mut lim = TruePeakLimiter::new(&fast, fs).unwrap();
            lim.release_coef = 0.0;
            lim.sustained_release_coef = 0.0;
            lim.sustain_coef = 1.0;
            lim.gain_curve(&peaks, pre, &mut gain);
            let l = lim.lookahead;
            let req: Vec<f32> =
                env.iter().map(|&e| if pre * e > ceiling { ceiling / (pre * e) } else { 1.0 }).collect();
            let min: Vec<f32> =
                (0..env.len()).map(|i| req[i..(i + l).min(env.len())].iter().fold(1.0f32, |m, &v| m.min(v))).collect();
            for i in 0..env.len() {
                let avg: f64 =
                    (0..l).map(|k| f64::from(if i >= k { min[i - k] } else { min[0] })).sum::<f64>() / l as f64;
                assert!((f64::from(gain[i]) - avg).abs() < 1e-5, "sample {i}: {} vs {avg}", gain[i]);
            }
        }
    }

    /// The gain curve as one sequential loop from the start, sample by sample (the definition the
    /// pieces in lanes must reproduce).
    fn sequential_curve(lim: &TruePeakLimiter, peaks: &[f32], pre_gain: f32) -> Vec<f32> {
        let (l, k) = (lim.lookahead, lim.ceiling / pre_gain);
        let start = required(peaks[0], k);
        let mut history = vec![start; l];
        let mut sum = f64::from(start) * l as f64;
        let (mut fast, mut slow, mut slot) = (0.0f32, 0.0f32, 0);
        peaks
            .iter()
            .map(|&p| {
                let m = required(p, k);
                let r = 1.0 - m;
                fast = (fast * lim.release_coef).max(r);
                slow = if r > slow {
                    slow * lim.sustain_coef + r * (1.0 - lim.sustain_coef)
                } else {
                    slow * lim.sustained_release_coef
                };
                let released = (1.0 - fast.max(slow)).min(m);
                sum += f64::from(released) - f64::from(history[slot]);
                history[slot] = released;
                slot = (slot + 1) % l;
                (sum / l as f64) as f32
            })
            .collect()
    }

    #[test]
    fn pieces_side_by_side_give_the_one_sequential_curve() {
        // At 2 kHz a piece's warm-up is 16 · 600 ms = 19.2k samples: 390k samples make all 16
        // pieces (two groups of lanes), of 24 376 samples, the last one shorter. Sustained
        // overloads (which charge the slow release) straddle pieces' starts, one the second group's.
        let fs = 2_000;
        let mut env = envelope(390_001, 5);
        for start in [72_000, 194_000, 316_000] {
            env[start..start + 2_000].iter_mut().for_each(|e| *e = e.max(2.5));
        }
        let mut lim = TruePeakLimiter::new(&LimiterSettings::default(), fs).unwrap();
        let mut peaks = vec![0.0; env.len()];
        lim.window_peaks(&env, &mut peaks);
        let mut pieces = vec![0.0; env.len()];
        lim.gain_curve(&peaks, 1.3, &mut pieces);
        assert!(env.len().div_ceil(GAIN_PIECES) >= lim.warmup, "sixteen pieces");
        let sequential = sequential_curve(&lim, &peaks, 1.3);
        let worst = pieces.iter().zip(&sequential).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "pieces differ from the sequential curve by {worst}");
        assert!(sequential.iter().any(|&g| g < 0.5), "the overloads are limited");
    }

    #[test]
    fn window_peaks_are_the_brute_force_window_maximum_across_chunks() {
        // Long enough for several parallel chunks, with lookaheads that do and do not divide them.
        for (ms, fs) in [(2.0, 44_100), (1.5, 48_000), (0.1, 8_000)] {
            let lim = TruePeakLimiter::new(&LimiterSettings { lookahead_ms: ms, ..Default::default() }, fs).unwrap();
            let env = envelope(300_000, 9);
            let mut peaks = vec![0.0; env.len()];
            lim.window_peaks(&env, &mut peaks);
            let l = lim.lookahead;
            for (i, &p) in peaks.iter().enumerate() {
                let want = env[i..(i + l).min(env.len())].iter().fold(0.0f32, |m, &v| m.max(v));
                assert_eq!(p, want, "sample {i}, lookahead {l}");
            }
        }
    }

    #[test]
    fn release_is_slower_after_sustained_reduction_than_after_a_transient() {
        let fs = 48_000;
        let settings = LimiterSettings::default();
        let mut lim = TruePeakLimiter::new(&settings, fs).unwrap();
        let recovery = |burst_ms: usize, lim: &mut TruePeakLimiter| {
            let burst = burst_ms * 48;
            let mut env = vec![0.1f32; burst + fs as usize];
            env[..burst].fill(2.0); // 6 dB + over the ceiling
            let mut gain = vec![0.0; env.len()];
            let mut peaks = vec![0.0; env.len()];
            lim.window_peaks(&env, &mut peaks);
            lim.gain_curve(&peaks, 1.0, &mut gain);
            // samples after the burst until the gain is back within 1 dB of unity
            gain[burst..].iter().position(|&g| g > from_db(-1.0) as f32).unwrap()
        };
        let after_transient = recovery(2, &mut lim);
        let after_sustained = recovery(2000, &mut lim);
        assert!(after_sustained as f64 > 3.0 * after_transient as f64, "{after_sustained} vs {after_transient}");
    }
}
