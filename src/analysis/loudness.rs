//! Loudness per ITU-R BS.1770-4 / EBU R128 / EBU Tech 3342: K-weighting, 100 ms sub-block energies,
//! and from them integrated loudness (400 ms blocks, 75 % overlap, −70 LUFS absolute and −10 LU relative
//! gates), short-term loudness (3 s) and loudness range (P95 − P10 of gated short-term values).
//!
//! Why not the `ebur128` crate here: it re-sums every 400 ms block from scratch at each 100 ms step,
//! which made metering a third of a master's run time (the render meters its output several times).
//! Summing each 100 ms sub-block once gives the same gating blocks; the tests check this meter
//! against `ebur128` and against the EBU Tech 3341/3342 cases.
use rayon::prelude::*;

use crate::dsp::simd::simd_versions;

/// Hop of the stored short-term loudness series (EBU Tech 3341: ≥ 10 Hz updates).
pub const SHORT_TERM_HOP_S: f64 = 0.1;
/// The short-term meter's window (EBU Tech 3341: 3 s), 30 hops.
pub const SHORT_TERM_WINDOW_S: f64 = 3.0;
/// BS.1770 absolute gate; also the floor for stored short-term values (JSON has no −∞).
pub const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// −0.691 dB offset of BS.1770 (makes a 997 Hz full-scale sine on one channel read −3.01 LUFS).
pub(crate) const LUFS_OFFSET_DB: f64 = -0.691;

/// BS.1770-4 K-weighting: the stage-1 high shelf (+4 dB, ~1.7 kHz) and the stage-2 RLB high-pass
/// (~38 Hz), recomputed for any sample rate from their analog prototypes by the bilinear transform
/// with prewarping (the parameters libebur128 derives from the 48 kHz coefficients of the standard).
#[derive(Debug, Clone, Copy)]
pub struct KWeighting {
    /// Stage 1 (shelf) and stage 2 (high-pass), each (b0, b1, b2, a1, a2) with a0 = 1.
    stages: [[f64; 5]; 2],
}

impl KWeighting {
    pub fn new(sample_rate: u32) -> Self {
        let fs = f64::from(sample_rate);
        let (f0, g, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
        let k = (std::f64::consts::PI * f0 / fs).tan();
        let vh = 10f64.powf(g / 20.0);
        let vb = vh.powf(0.4996667741545416);
        let a0 = 1.0 + k / q + k * k;
        let shelf = [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
            2.0 * (k * k - 1.0) / a0,
            (1.0 - k / q + k * k) / a0,
        ];
        let (f0, q) = (38.13547087602444, 0.5003270373238773);
        let k = (std::f64::consts::PI * f0 / fs).tan();
        let a0 = 1.0 + k / q + k * k;
        let high_pass = [1.0, -2.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0];
        KWeighting { stages: [shelf, high_pass] }
    }

    /// Analytic magnitude response in dB at `freq_hz`.
    pub fn response_db(&self, freq_hz: f64, sample_rate: u32) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq_hz / f64::from(sample_rate);
        let mag = |c: [f64; 3]| {
            let re = c[0] + c[1] * w.cos() + c[2] * (2.0 * w).cos();
            let im = c[1] * w.sin() + c[2] * (2.0 * w).sin();
            (re * re + im * im).sqrt()
        };
        self.stages.iter().map(|s| 20.0 * (mag([s[0], s[1], s[2]]) / mag([1.0, s[3], s[4]])).log10()).sum()
    }

    /// K-weighted energy Σ y² of `pre · gain[n] · x[n]`, summed over `channels`, over consecutive
    /// blocks of `block_len` samples (a final partial block is dropped).
    ///
    /// The recursion is latency-bound, so the blocks are cut into `GROUPS` parts (run in
    /// parallel), and each part's channels into segments at block boundaries, filtered side by side
    /// in `LANES` SIMD lanes (channel c's segments in lanes c·S … c·S + S − 1, S = LANES /
    /// channels). Each lane first runs over the `SETTLE_S` before its segment: the filter forgets
    /// its zero start state far below f64 precision, and the segmentation is fixed, so the result
    /// depends on neither thread count nor CPU.
    pub fn block_energies(
        &self,
        channels: &[&[f32]],
        gain: Option<&[f32]>,
        pre: f32,
        block_len: usize,
        sample_rate: u32,
    ) -> Vec<f64> {
        assert!((1..=LANES).contains(&channels.len()));
        let count = channels[0].len() / block_len;
        let mut energies = vec![0.0f64; count];
        let settle = (SETTLE_S * f64::from(sample_rate)) as usize;
        let segments = LANES / channels.len();
        let per_segment = count.div_ceil(GROUPS * segments).max(1);
        energies.par_chunks_mut(per_segment * segments).enumerate().for_each(|(g, out)| {
            let job = LaneJob {
                channels,
                gain,
                pre,
                block_len,
                settle,
                first_block: g * per_segment * segments,
                per_segment,
                segments,
            };
            job.run(&self.stages, out);
        });
        energies
    }
}

/// Parallel parts of [`KWeighting::block_energies`] (each a fixed share of the signal).
const GROUPS: usize = 4;
/// Segments filtered at once: one AVX2 vector of f64 (eight, in two vectors, spilled registers and ran slower).
const LANES: usize = 4;
/// Pre-roll of each segment. The slowest pole pair, the 38 Hz high-pass's (near-critically damped,
/// radius ≈ 1 − 2π·38/fs), decays as n·rⁿ: below 1e-25 after 0.3 s at any sample rate.
const SETTLE_S: f64 = 0.3;

/// Filter state of every lane.
#[derive(Default, Clone, Copy)]
struct LaneState {
    x1: [f64; LANES],
    x2: [f64; LANES],
    y1: [f64; LANES],
    y2: [f64; LANES],
    z1: [f64; LANES],
    z2: [f64; LANES],
}

/// One part of [`KWeighting::block_energies`]: blocks `first_block …` of every channel, in
/// `segments` segments of `per_segment` blocks per channel.
struct LaneJob<'a> {
    channels: &'a [&'a [f32]],
    gain: Option<&'a [f32]>,
    pre: f32,
    block_len: usize,
    settle: usize,
    first_block: usize,
    per_segment: usize,
    segments: usize,
}

impl LaneJob<'_> {
    /// The part's energies (summed over channels) into `out`, its blocks.
    fn run(&self, stages: &[[f64; 5]; 2], out: &mut [f64]) {
        let (count, block_len) = (out.len(), self.block_len);
        // Lane l: channel l / segments, that channel's segment l % segments (blocks relative to the
        // part); lanes past the channels idle on silence.
        let lanes = self.channels.len() * self.segments;
        let first: [usize; LANES] = std::array::from_fn(|l| ((l % self.segments) * self.per_segment).min(count));
        let end: [usize; LANES] =
            std::array::from_fn(|l| if l < lanes { (first[l] + self.per_segment).min(count) } else { first[l] });
        let origin = self.first_block * block_len;
        // Lane l's input from `offset` on (relative to its segment's start; negative: the pre-roll,
        // which reads the signal before the segment) into `buf`, zero before the signal and after
        // the segment. Where every lane reads the signal (all but the edges), one pass writes all
        // four lanes of each step: filling them lane by lane were strided scalar stores, which cost
        // as much as the filter itself.
        let fill = |buf: &mut [[f32; LANES]], offset: isize| {
            // Per lane: the range of `buf` it reads the signal into, and where that starts in it.
            let spans: [(usize, usize, usize); LANES] = std::array::from_fn(|l| {
                let start = (origin + first[l] * block_len) as isize + offset;
                let lo = (-start).clamp(0, buf.len() as isize) as usize;
                let hi =
                    ((origin + end[l] * block_len) as isize - start).clamp(lo as isize, buf.len() as isize) as usize;
                (lo, hi, (start + lo as isize).max(0) as usize)
            });
            let channel = |l: usize| self.channels[(l / self.segments).min(self.channels.len() - 1)];
            let pre = self.pre;
            // [lo, hi): every lane's own span covers it.
            let lo = spans.iter().map(|s| s.0).max().unwrap_or(0);
            let hi = spans.iter().map(|s| s.1).min().unwrap_or(0).max(lo);
            for (l, &(a, b, k)) in spans.iter().enumerate() {
                let x = channel(l);
                let (head, rest) = buf.split_at_mut(a);
                let (mid, tail) = rest.split_at_mut(b - a);
                head.iter_mut().chain(tail).for_each(|v| v[l] = 0.0);
                // The lane's own span, but for the shared part.
                for (from, to) in [(a, lo.min(b)), (hi.max(a), b)] {
                    if from >= to {
                        continue;
                    }
                    let (dst, src) = (&mut mid[from - a..to - a], &x[k + from - a..k + to - a]);
                    match self.gain {
                        Some(g) => {
                            dst.iter_mut().zip(src).zip(&g[k + from - a..]).for_each(|((v, &x), &g)| v[l] = x * pre * g)
                        }
                        None => dst.iter_mut().zip(src).for_each(|(v, &x)| v[l] = x * pre),
                    }
                }
            }
            if lo < hi {
                let src: [&[f32]; LANES] =
                    std::array::from_fn(|l| &channel(l)[spans[l].2 + lo - spans[l].0..][..hi - lo]);
                let dst = &mut buf[lo..hi];
                match self.gain {
                    Some(g) => {
                        let gains: [&[f32]; LANES] =
                            std::array::from_fn(|l| &g[spans[l].2 + lo - spans[l].0..][..hi - lo]);
                        fill_lanes_scaled(dst, &src, &gains, pre);
                    }
                    None => fill_lanes(dst, &src, pre),
                }
            }
        };
        let mut state = LaneState::default();
        // Whole blocks per call, about 4096 steps.
        let blocks_per_call = 4096usize.div_ceil(block_len);
        let mut buf = vec![[0.0f32; LANES]; self.settle.max(blocks_per_call * block_len)];
        let mut energies = vec![[0.0f64; LANES]; blocks_per_call];
        fill(&mut buf[..self.settle], -(self.settle as isize));
        filter_lanes(stages, &mut state, &buf[..self.settle], self.settle.max(1), &mut []);
        out.fill(0.0);
        for first_block in (0..self.per_segment.min(count)).step_by(blocks_per_call) {
            let blocks = blocks_per_call.min(self.per_segment - first_block);
            fill(&mut buf[..blocks * block_len], (first_block * block_len) as isize);
            filter_lanes(stages, &mut state, &buf[..blocks * block_len], block_len, &mut energies[..blocks]);
            // Channels in order, so the sum does not depend on the lanes' schedule.
            for (b, energy) in energies[..blocks].iter().enumerate() {
                for l in 0..lanes {
                    let block = first[l] + first_block + b;
                    if block < end[l] {
                        out[block] += energy[l];
                    }
                }
            }
        }
    }
}

/// dst[i][l] = src[l][i]·pre, every lane in one pass (a 4 × 4 transpose the compiler vectorises).
fn fill_lanes(dst: &mut [[f32; LANES]], src: &[&[f32]; LANES], pre: f32) {
    let [a, b, c, d] = *src;
    for ((v, (&a, &b)), (&c, &d)) in dst.iter_mut().zip(a.iter().zip(b)).zip(c.iter().zip(d)) {
        *v = [a * pre, b * pre, c * pre, d * pre];
    }
}

/// dst[i][l] = src[l][i]·pre·gain[l][i], as [`fill_lanes`].
fn fill_lanes_scaled(dst: &mut [[f32; LANES]], src: &[&[f32]; LANES], gain: &[&[f32]; LANES], pre: f32) {
    let [a, b, c, d] = *src;
    let [ga, gb, gc, gd] = *gain;
    let lanes = a.iter().zip(ga).zip(b.iter().zip(gb)).zip(c.iter().zip(gc).zip(d.iter().zip(gd)));
    for (v, ((a, b), (c, d))) in dst.iter_mut().zip(lanes) {
        *v = [a.0 * pre * a.1, b.0 * pre * b.1, c.0 * pre * c.1, d.0 * pre * d.1];
    }
}

simd_versions! {
    /// Two direct-form-I biquads in f64 per lane over `input` (the second with numerator (1, −2, 1)),
    /// writing Σ y² per lane for each block of `block_len` steps into `energies` (input beyond them is
    /// filtered, not summed). Arranged so the only recursive step per stage is one multiply and
    /// subtract on y[n−1] (the other terms do not wait for it); the state stays in registers through
    /// the loop.
    fn filter_lanes(
        stages: &[[f64; 5]; 2],
        state: &mut LaneState,
        input: &[[f32; LANES]],
        block_len: usize,
        energies: &mut [[f64; LANES]],
    ) {
        let [[b0, b1, b2, a1, a2], [c0, c1, c2, d1, d2]] = *stages;
        // The high-pass's numerator is (1, −2, 1) at every rate: its products are exact, so sums and
        // differences give the same bits with two multiplies fewer a step.
        assert!([c0, c1, c2] == [1.0, -2.0, 1.0], "the stage-2 numerator of BS.1770");
        let LaneState { mut x1, mut x2, mut y1, mut y2, mut z1, mut z2 } = *state;
        for (i, block) in input.chunks(block_len).enumerate() {
            let mut energy = [0.0f64; LANES];
            for x in block {
                let x0: [f64; LANES] = std::array::from_fn(|l| f64::from(x[l]));
                let mut y0 = [0.0f64; LANES];
                let mut z0 = [0.0f64; LANES];
                for l in 0..LANES {
                    y0[l] = (b0 * x0[l] + b1 * x1[l] + b2 * x2[l] - a2 * y2[l]) - a1 * y1[l];
                    z0[l] = (y0[l] - (y1[l] + y1[l]) + y2[l] - d2 * z2[l]) - d1 * z1[l];
                    energy[l] += z0[l] * z0[l];
                }
                (x2, x1, y2, y1, z2, z1) = (x1, x0, y1, y0, z1, z0);
            }
            if let Some(e) = energies.get_mut(i) {
                *e = energy;
            }
        }
        *state = LaneState { x1, x2, y1, y2, z1, z2 };
    }
}

/// Length of a 100 ms sub-block in samples.
pub fn sub_block_len(sample_rate: u32) -> usize {
    (f64::from(sample_rate) * 0.1).round() as usize
}

/// K-weighted energy of every complete 100 ms sub-block, summed over channels (channel weights are 1
/// for mono, left and right).
pub fn sub_block_energies(channels: &[&[f32]], sample_rate: u32) -> Vec<f64> {
    sub_block_energies_scaled(channels, None, 1.0, sample_rate)
}

/// As [`sub_block_energies`], for the signal `pre · gain[n] · x[n]` (never stored whole).
pub fn sub_block_energies_scaled(channels: &[&[f32]], gain: Option<&[f32]>, pre: f32, sample_rate: u32) -> Vec<f64> {
    summed_block_energies(channels, gain, pre, sub_block_len(sample_rate), sample_rate)
}

/// K-weighted power summed over channels and over blocks of `step` samples (a final partial block is
/// dropped): with it, the loudness of the signal times a slowly varying gain g is metered as Σ g²·p
/// without filtering again.
pub fn k_weighted_power(channels: &[&[f32]], sample_rate: u32, step: usize) -> Vec<f32> {
    summed_block_energies(channels, None, 1.0, step, sample_rate).into_iter().map(|e| e as f32).collect()
}

fn summed_block_energies(
    channels: &[&[f32]],
    gain: Option<&[f32]>,
    pre: f32,
    block_len: usize,
    sample_rate: u32,
) -> Vec<f64> {
    KWeighting::new(sample_rate).block_energies(channels, gain, pre, block_len, sample_rate)
}

/// Integrated loudness from sub-block energies (`sub_len` samples each), or None when every block lies
/// below the absolute gate.
pub fn gated_integrated(sub_blocks: &[f64], sub_len: usize) -> Option<f64> {
    let blocks: Vec<f64> = sub_blocks.windows(4).map(|w| w.iter().sum::<f64>() / (4 * sub_len) as f64).collect();
    let lufs = |ms: f64| LUFS_OFFSET_DB + 10.0 * ms.log10();
    let above = |th: f64| blocks.iter().copied().filter(move |&b| b > 0.0 && lufs(b) > th);
    let abs: Vec<f64> = above(ABSOLUTE_GATE_LUFS).collect();
    if abs.is_empty() {
        return None;
    }
    let relative = lufs(abs.iter().sum::<f64>() / abs.len() as f64) - 10.0;
    let gated: Vec<f64> = above(ABSOLUTE_GATE_LUFS.max(relative)).collect();
    Some(lufs(gated.iter().sum::<f64>() / gated.len() as f64))
}

/// Short-term (3 s) loudness every 100 ms, from the first complete window on (none for shorter
/// signals); silence reads as the absolute gate.
pub fn short_term_series(sub_blocks: &[f64], sub_len: usize) -> Vec<f64> {
    sub_blocks
        .windows(30)
        .map(|w| {
            let ms = w.iter().sum::<f64>() / (30 * sub_len) as f64;
            if ms > 0.0 {
                (LUFS_OFFSET_DB + 10.0 * ms.log10()).max(ABSOLUTE_GATE_LUFS)
            } else {
                ABSOLUTE_GATE_LUFS
            }
        })
        .collect()
}

/// EBU Tech 3342 loudness range: P95 − P10 of the short-term values `range_gated` keeps (0 when
/// none).
pub fn loudness_range(short_term: &[f64]) -> f64 {
    range_gated(short_term).map_or(0.0, |(v, _)| nearest_rank(&v, 0.95) - nearest_rank(&v, 0.10))
}

/// The short-term values EBU Tech 3342 keeps for the loudness range — above −70 LUFS and above
/// their power mean − 20 LU — ascending, with that relative gate; `None` when none is above −70.
pub(crate) fn range_gated(short_term: &[f64]) -> Option<(Vec<f64>, f64)> {
    let abs: Vec<f64> = short_term.iter().copied().filter(|&l| l > ABSOLUTE_GATE_LUFS).collect();
    if abs.is_empty() {
        return None;
    }
    let mean_power = abs.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>() / abs.len() as f64;
    let gate = 10.0 * mean_power.log10() - 20.0;
    let mut v: Vec<f64> = abs.into_iter().filter(|&l| l >= gate).collect();
    v.sort_by(f64::total_cmp);
    Some((v, gate))
}

/// The `p` quantile (0 … 1) of ascending `sorted` by nearest rank.
pub(crate) fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    sorted[((p * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

pub struct LoudnessStats {
    /// None when everything lies below the absolute gate.
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: f64,
    pub short_term_lufs: Vec<f32>,
}

/// Integrated loudness, loudness range and the short-term series of planar `channels`.
pub fn loudness_stats(channels: &[&[f32]], sample_rate: u32) -> LoudnessStats {
    let len = sub_block_len(sample_rate);
    let subs = sub_block_energies(channels, sample_rate);
    let short_term = short_term_series(&subs, len);
    LoudnessStats {
        integrated_lufs: gated_integrated(&subs, len),
        loudness_range_lu: loudness_range(&short_term),
        short_term_lufs: short_term.iter().map(|&v| v as f32).collect(),
    }
}

/// Integrated loudness alone.
pub fn integrated_lufs(channels: &[&[f32]], sample_rate: u32) -> Option<f64> {
    gated_integrated(&sub_block_energies(channels, sample_rate), sub_block_len(sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lane-parallel filter against the plain sequential recursion, on one channel and on two
    /// (summed): the segments' pre-roll on the preceding signal makes them agree far below any
    /// metering precision (a segment started from silence instead would be off by the filter's
    /// transient).
    #[test]
    fn segmented_lanes_match_the_sequential_filter() {
        let fs = 48_000;
        let mut rng = crate::testing::Rng::new(7);
        let mut noise = |len: usize, f: f32| -> Vec<f32> {
            (0..len).map(|i| 0.3 * (rng.unit() as f32 - 0.5) + 0.5 * (i as f32 * f).sin()).collect()
        };
        let len = fs as usize * 7 + 123;
        let (left, right) = (noise(len, 0.0031), noise(len, 0.0173));
        let gain: Vec<f32> = (0..len).map(|i| 0.5 + 0.4 * (i as f32 * 1e-4).cos()).collect();
        let k = KWeighting::new(fs);
        let block = 4800;
        for channels in [vec![&left[..]], vec![&left[..], &right[..]]] {
            for g in [None, Some(gain.as_slice())] {
                let lanes = k.block_energies(&channels, g, 1.5, block, fs);
                let mut expected = vec![0.0f64; len / block];
                for x in &channels {
                    let mut s = [[0.0f64; 4]; 2]; // per stage: x1, x2, y1, y2
                    for (n, &v) in x.iter().enumerate() {
                        let mut v = f64::from(v * 1.5 * g.map_or(1.0, |g| g[n]));
                        for (st, [b0, b1, b2, a1, a2]) in s.iter_mut().zip(k.stages) {
                            let y = b0 * v + b1 * st[0] + b2 * st[1] - a1 * st[2] - a2 * st[3];
                            *st = [v, st[0], y, st[2]];
                            v = y;
                        }
                        if let Some(e) = expected.get_mut(n / block) {
                            *e += v * v;
                        }
                    }
                }
                assert_eq!(lanes.len(), expected.len());
                for (i, (a, b)) in lanes.iter().zip(&expected).enumerate() {
                    assert!((a - b).abs() <= 1e-9 * b, "{} channels, block {i}: {a} vs {b}", channels.len());
                }
            }
        }
    }
}
