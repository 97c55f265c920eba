//! Loudness per ITU-R BS.1770-4 / EBU R128 / EBU Tech 3342: K-weighting, 100 ms sub-block energies,
//! and from them integrated loudness (400 ms blocks, 75 % overlap, −70 LUFS absolute and −10 LU relative
//! gates), short-term loudness (3 s) and loudness range (P95 − P10 of gated short-term values).
//!
//! Why not the `ebur128` crate here: it re-sums every 400 ms block from scratch at each 100 ms step,
//! which made metering a third of a master's run time (the render meters its output several times).
//! Summing each 100 ms sub-block once gives the same gating blocks; the tests check this meter
//! against `ebur128` and against the EBU Tech 3341/3342 cases.
use rayon::prelude::*;

/// Hop of the stored short-term loudness series (EBU Tech 3341: ≥ 10 Hz updates).
pub const SHORT_TERM_HOP_S: f64 = 0.1;
/// BS.1770 absolute gate; also the floor for stored short-term values (JSON has no −∞).
pub const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// −0.691 dB offset of BS.1770 (makes a 997 Hz full-scale sine on one channel read −3.01 LUFS).
const LUFS_OFFSET_DB: f64 = -0.691;

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

    /// Filters `x`, calling `sink(i, y)` for each output: two direct-form-I biquads in f64, arranged
    /// so the only recursive step per stage is one multiply-add on y[n−1] (the sum of the other
    /// terms does not wait for it), which keeps the loop's dependency chain short.
    fn run(&self, x: impl Iterator<Item = f32>, mut sink: impl FnMut(usize, f64)) {
        let [[b0, b1, b2, a1, a2], [c0, c1, c2, d1, d2]] = self.stages;
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        let (mut z1, mut z2) = (0.0, 0.0);
        for (i, xi) in x.enumerate() {
            let x0 = f64::from(xi);
            let y0 = (b0 * x0 + b1 * x1 + b2 * x2 - a2 * y2) - a1 * y1;
            let z0 = (c0 * y0 + c1 * y1 + c2 * y2 - d2 * z2) - d1 * z1;
            (x2, x1, y2, y1, z2, z1) = (x1, x0, y1, y0, z1, z0);
            sink(i, z0);
        }
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
    let len = sub_block_len(sample_rate);
    let count = channels[0].len() / len;
    let k = KWeighting::new(sample_rate);
    let per_channel: Vec<Vec<f64>> = channels
        .par_iter()
        .map(|ch| {
            let mut e = vec![0.0f64; count];
            let (mut block, mut filled, mut acc) = (0usize, 0usize, 0.0f64);
            let sink = |_: usize, y: f64| {
                acc += y * y;
                filled += 1;
                if filled == len {
                    e[block] = acc;
                    (block, filled, acc) = (block + 1, 0, 0.0);
                }
            };
            let x = &ch[..count * len];
            match gain {
                Some(g) => k.run(x.iter().zip(g).map(|(&x, &g)| x * pre * g), sink),
                None => k.run(x.iter().map(|&x| x * pre), sink),
            }
            e
        })
        .collect();
    (0..count).map(|j| per_channel.iter().map(|e| e[j]).sum()).collect()
}

/// Per-sample K-weighted power summed over channels: with it, the loudness of the signal times a
/// slowly varying gain g[n] is metered as Σ g²·p without filtering again.
pub fn k_weighted_power(channels: &[&[f32]], sample_rate: u32) -> Vec<f32> {
    let k = KWeighting::new(sample_rate);
    let mut parts: Vec<Vec<f32>> = channels
        .par_iter()
        .map(|ch| {
            let mut p = vec![0.0f32; ch.len()];
            k.run(ch.iter().copied(), |i, y| p[i] = (y * y) as f32);
            p
        })
        .collect();
    let mut total = parts.remove(0);
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
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
            if ms > 0.0 { (LUFS_OFFSET_DB + 10.0 * ms.log10()).max(ABSOLUTE_GATE_LUFS) } else { ABSOLUTE_GATE_LUFS }
        })
        .collect()
}

/// EBU Tech 3342 loudness range: short-term values above −70 LUFS and above (their power mean − 20 LU);
/// P95 − P10 of those (0 when none).
pub fn loudness_range(short_term: &[f64]) -> f64 {
    let abs: Vec<f64> = short_term.iter().copied().filter(|&l| l > ABSOLUTE_GATE_LUFS).collect();
    if abs.is_empty() {
        return 0.0;
    }
    let mean_power = abs.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>() / abs.len() as f64;
    let gate = 10.0 * mean_power.log10() - 20.0;
    let mut v: Vec<f64> = abs.into_iter().filter(|&l| l >= gate).collect();
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    pct(0.95) - pct(0.10)
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
