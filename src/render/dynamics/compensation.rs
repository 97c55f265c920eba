//! What keeps the stage from moving the balance the EQ set: a static compensation EQ for the
//! long-term spectrum, and a side gain per band for its width.
use super::DynamicsStage;
use crate::analysis::bands::{has_information, smooth, BandGrid};
use crate::dsp::linear_phase_eq::EqCurve;
use crate::dsp::stft::{add_to_totals, Stft};
use crate::model::EqPlan;

impl DynamicsStage {
    /// The static mid and side EQ that keeps the long-term spectrum the EQ set. Time-varying gains
    /// reweigh the moments of the track against each other, and with them the spectra those moments
    /// have (a band compressed where its loud passages are brighter comes out darker; a limiter that
    /// works hardest in bass-heavy choruses thins the bass), which per-band make-up cannot see. With
    /// gains slow against a frame, the output in bin k of frame t is X(k, t) · Σ_b A_b(k) g_b(t) ·
    /// l(t) (A_b: the bands' responses, summing to 1; l: the limiter), so one pass over the input's
    /// spectra gives the long-term spectrum before and after; their ratio per 1/12 octave, its mean
    /// removed (loudness is set later), smoothed and bounded to ±6 dB, is the EQ. `None` when nothing
    /// changes by 0.05 dB.
    /// `channels`: the stage's input in mid/side (or mono); `side_scale`: each band's side gain.
    pub(super) fn compensation(
        &self,
        channels: &[Vec<f32>],
        fs: u32,
        limiter_sq: &[f32],
        side_scale: &[f32],
    ) -> Option<EqPlan> {
        let n = ((4096.0 * f64::from(fs) / 48_000.0).round() as usize).next_power_of_two();
        let stft = Stft::new(n);
        let (bins, bin_hz) = (stft.bins(), f64::from(fs) / n as f64);
        let response = self.mb.band_magnitudes(n);
        // Per channel: Σ|X|² and Σ|X|²·|G|², per bin.
        let blocks = self.env.power[0].len();
        let frames: Vec<usize> = (0..channels[0].len() / n).collect();
        let mut sums = vec![[vec![0.0f64; bins], vec![0.0f64; bins]]; channels.len()];
        stft.grouped(
            &frames,
            || (stft.frame(), vec![0.0f32; bins]),
            |(frame, gain), group| {
                let mut part = vec![[vec![0.0f32; bins], vec![0.0f32; bins]]; channels.len()];
                for &f in group {
                    let block = ((f * n + n / 2) / self.mb.block()).min(blocks - 1);
                    let limiter = limiter_sq.get(block).copied().unwrap_or(1.0);
                    for (c, (ch, [before, after])) in channels.iter().zip(&mut part).enumerate() {
                        let spectrum = stft.of_slice(frame, ch, f * n);
                        gain.fill(0.0);
                        for (b, a) in response.iter().enumerate() {
                            let g = self.gains[b].as_ref().map_or(1.0, |g| g[block])
                                * if c == 1 { side_scale[b] } else { 1.0 };
                            for (acc, a) in gain.iter_mut().zip(a) {
                                *acc += a * g;
                            }
                        }
                        for (((x, g), b), a) in
                            spectrum.iter().zip(gain.iter()).zip(before.iter_mut()).zip(after.iter_mut())
                        {
                            let p = x.norm_sqr();
                            *b += p;
                            *a += p * (g * g * limiter);
                        }
                    }
                }
                part
            },
            |part| {
                for (total, part) in sums.iter_mut().flatten().zip(part.iter().flatten()) {
                    add_to_totals(total, part);
                }
            },
        );
        let grid = BandGrid::standard();
        let curves: Vec<Vec<f64>> = sums
            .iter()
            .map(|[before, after]| {
                let (b, a) = (grid.levels_db(before, bin_hz), grid.levels_db(after, bin_hz));
                let change: Vec<Option<f64>> = b
                    .iter()
                    .zip(&a)
                    .map(|(&b, &a)| (has_information(b) && has_information(a)).then_some(b - a))
                    .collect();
                let known: Vec<f64> = change.iter().flatten().copied().collect();
                let mean = known.iter().sum::<f64>() / known.len().max(1) as f64;
                let centred: Vec<Option<f64>> = change.iter().map(|c| c.map(|c| c - mean)).collect();
                smooth(&grid.centers_hz, &centred, COMPENSATION_SMOOTHING_OCT)
                    .into_iter()
                    .map(|c| c.unwrap_or(0.0).clamp(-MAX_COMPENSATION_DB, MAX_COMPENSATION_DB))
                    .collect()
            })
            .collect();
        if curves.iter().flatten().all(|c| c.abs() < 0.05) {
            return None;
        }
        let curve = |g: &Vec<f64>| EqCurve { freqs_hz: grid.centers_hz.clone(), gain_db: g.clone() };
        Some(EqPlan {
            mid: curve(&curves[0]),
            side: curves.get(1).map_or_else(|| EqCurve::flat(grid.centers_hz.clone()), curve),
        })
    }
}

/// The compensation EQ's smoothing (Gaussian σ along log frequency, octaves) and bound.
const COMPENSATION_SMOOTHING_OCT: f64 = 1.0 / 12.0;
const MAX_COMPENSATION_DB: f64 = 6.0;

/// Largest side correction that keeps a band's width where it was, dB.
const MAX_SIDE_GAIN_DB: f64 = 6.0;

/// The side gain that keeps a band's width (Σ|S|² / Σ|M|²) through time-varying `gains`: where mid
/// and side move differently over time (a wide chorus after a narrow verse), the gains reweigh them,
/// and the width the EQ matched would drift.
pub(super) fn width_compensation_db(mid: &[f32], side: &[f32], gains: &[f32]) -> f64 {
    let sums = |x: &[f32]| {
        x.iter().zip(gains).fold((0.0f64, 0.0f64), |(a, b), (&p, &g)| (a + f64::from(p), b + f64::from(g * g * p)))
    };
    let ((m0, m1), (s0, s1)) = (sums(mid), sums(side));
    if m0 <= 0.0 || m1 <= 0.0 || s0 <= 0.0 || s1 <= 0.0 {
        return 0.0;
    }
    (10.0 * ((s0 / m0) / (s1 / m1)).log10()).clamp(-MAX_SIDE_GAIN_DB, MAX_SIDE_GAIN_DB)
}
