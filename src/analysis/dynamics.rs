//! Per-band dynamics and stereo image: how a track moves in each of the dynamics bands
//! ([`super::spectrum::DYNAMICS_CROSSOVERS_HZ`]) and how wide each band is. The short-term band
//! levels come from the frame-by-frame band powers of the gated STFT (CPU or GPU alike); the render
//! measures its own output with the same statistics ([`short_term_levels`]), so the closed loop and the
//! profiles speak the same language.
use super::bands::{has_information, BandGrid};
use super::spectrum::GatedSpectra;
use crate::model::{BandDynamics, DynamicsProfile};

/// Short-term window, as EBU R128's short-term loudness (3 s).
pub const SHORT_TERM_S: f64 = 3.0;
/// Windows quieter (all bands together) than the mean window by more than this are left out, as the
/// −20 LU relative gate of loudness range (EBU Tech 3342) does.
const RELATIVE_GATE_DB: f64 = -20.0;
/// Side this far under mid counts as mono (further up, the per-band width correction does the job).
const MONO_WIDTH_DB: f64 = -30.0;
/// The lowest band looked at for mono low end, and the highest a mono low end may reach.
const MONO_SCAN_HZ: (f64, f64) = (30.0, 400.0);

/// Short-term (≈ 3 s) level of every band in dB re FS² (mean-square power), over windows of
/// `window` blocks stepped one block at a time, from per-block band powers (`power`: blocks × `bands`,
/// each a mean over the block). Windows under the relative gate are dropped; each band's levels come
/// back sorted ascending.
pub fn short_term_levels(power: &[f32], bands: usize, window: usize) -> Vec<Vec<f64>> {
    let (windows, kept) = short_term_windows(power, bands, window, None);
    levels_of(&windows, &kept, bands)
}

/// Each band's levels (dB, ascending) over the kept windows.
pub fn levels_of(windows: &[Vec<f64>], kept: &[bool], bands: usize) -> Vec<Vec<f64>> {
    (0..bands)
        .map(|b| {
            let mut levels: Vec<f64> =
                windows.iter().zip(kept).filter(|(_, &k)| k).map(|(w, _)| 10.0 * w[b].max(1e-20).log10()).collect();
            levels.sort_by(f64::total_cmp);
            levels
        })
        .collect()
}

/// The short-term windows' mean band powers and which of them the relative gate keeps — or, with
/// `gate` given, that gate (so a processed signal is judged on the same windows as the original).
pub fn short_term_windows(
    power: &[f32],
    bands: usize,
    window: usize,
    gate: Option<&[bool]>,
) -> (Vec<Vec<f64>>, Vec<bool>) {
    let blocks = power.len() / bands;
    let window = window.clamp(1, blocks.max(1));
    let count = blocks + 1 - window.min(blocks).max(1);
    // Running sums in f64 over the window, one per band.
    let mut sums = vec![0.0f64; bands];
    let mut windows: Vec<Vec<f64>> = Vec::with_capacity(count);
    for i in 0..blocks {
        for (b, s) in sums.iter_mut().enumerate() {
            *s += f64::from(power[i * bands + b]);
            if i >= window {
                *s -= f64::from(power[(i - window) * bands + b]);
            }
        }
        if i + 1 >= window {
            windows.push(sums.iter().map(|s| s.max(0.0) / window as f64).collect());
        }
    }
    if let Some(gate) = gate {
        return (windows, gate.to_vec());
    }
    let totals: Vec<f64> = windows.iter().map(|w| w.iter().sum()).collect();
    let mean = totals.iter().sum::<f64>() / totals.len().max(1) as f64;
    let threshold = mean * 10f64.powf(RELATIVE_GATE_DB / 10.0);
    let kept = totals.iter().map(|&t| t > 0.0 && t >= threshold).collect();
    (windows, kept)
}

/// Nearest-rank percentile `p` (0–100) of ascending `sorted` values; −200 when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return -200.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The dynamics section of a profile. `width_db` is the per-1/12-octave side − mid level of the
/// profile's stereo section (for the mono low end), `true_peak_dbtp` and `max_short_term_lufs` give
/// the PSR.
pub fn dynamics_profile(
    spectra: &GatedSpectra,
    sample_rate: u32,
    grid: &BandGrid,
    width_db: &[f64],
    mid_db: &[f64],
    psr_db: f64,
) -> DynamicsProfile {
    let edges = &spectra.band_bins;
    let bands = edges.len() - 1;
    let window = (SHORT_TERM_S / spectra.hop_s).round() as usize;
    let levels = short_term_levels(&spectra.band_power, bands, window);
    let bin_hz = spectra.bin_hz;
    let band_stats = (0..bands)
        .map(|b| {
            let frames: Vec<f64> =
                spectra.band_power.chunks_exact(bands).map(|f| f64::from(f[b])).filter(|&p| p > 0.0).collect();
            let mean = frames.iter().sum::<f64>() / frames.len().max(1) as f64;
            let peak = frames.iter().fold(0.0f64, |m, &p| m.max(p));
            let range = edges[b]..edges[b + 1];
            let (mm, ss, ms) = (
                sum(&spectra.mid_psd[range.clone()]),
                sum(&spectra.side_psd[range.clone()]),
                sum(&spectra.cross_psd[range]),
            );
            BandDynamics {
                low_hz: edges[b] as f64 * bin_hz,
                high_hz: (edges[b + 1] as f64 * bin_hz).min(f64::from(sample_rate) / 2.0),
                short_term_p10_db: percentile(&levels[b], 10.0),
                short_term_p50_db: percentile(&levels[b], 50.0),
                short_term_p95_db: percentile(&levels[b], 95.0),
                crest_db: if mean > 0.0 { 10.0 * (peak / mean).log10() } else { 0.0 },
                width_db: if mm > 0.0 { 10.0 * (ss.max(mm * 1e-12) / mm).log10() } else { 0.0 },
                correlation: super::lr_correlation(mm, ss, ms),
            }
        })
        .collect();
    DynamicsProfile { bands: band_stats, psr_db, mono_below_hz: mono_below_hz(grid, width_db, mid_db) }
}

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}

/// The frequency below which the track's low end is mono: scanning up from 30 Hz, the upper edge of
/// the last band whose side stays 30 dB under its mid; `None` when the lowest band is
/// already wider (or there is no low end to judge).
pub fn mono_below_hz(grid: &BandGrid, width_db: &[f64], mid_db: &[f64]) -> Option<f64> {
    let mut below = None;
    for (i, &f) in grid.centers_hz.iter().enumerate() {
        if f < MONO_SCAN_HZ.0 || !has_information(mid_db[i]) {
            continue;
        }
        if f > MONO_SCAN_HZ.1 || width_db[i] > MONO_WIDTH_DB {
            break;
        }
        below = Some(grid.edges(i).1);
    }
    below
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_term_levels_are_window_means_gated_and_sorted() {
        // One band; 10 blocks at power 1, then 10 at 100; windows of 5 blocks.
        let power: Vec<f32> = (0..20).map(|i| if i < 10 { 1.0 } else { 100.0 }).collect();
        let levels = short_term_levels(&power, 1, 5);
        assert_eq!(levels[0].len(), 16);
        assert!((levels[0][0] - 0.0).abs() < 1e-9 && (levels[0][15] - 20.0).abs() < 1e-9);
        // A window of silence (all zero) and a −40 dB one are gated out.
        let mut power = vec![1.0f32; 10];
        power.extend([1e-4f32; 10]);
        let levels = short_term_levels(&power, 1, 1);
        assert_eq!(levels[0].len(), 10, "the −40 dB blocks are under the −20 dB relative gate");
        assert_eq!(percentile(&levels[0], 50.0), 0.0);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 10.0), 10.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&[], 50.0), -200.0);
    }

    #[test]
    fn mono_low_end_found_where_side_is_30_db_under_mid() {
        let grid = BandGrid::standard();
        let mid = vec![-60.0; grid.centers_hz.len()];
        let width: Vec<f64> = grid.centers_hz.iter().map(|&f| if f < 150.0 { -35.0 } else { -6.0 }).collect();
        let below = mono_below_hz(&grid, &width, &mid).unwrap();
        assert!(below > 140.0 && below < 160.0, "{below}");
        let wide = vec![-6.0; grid.centers_hz.len()];
        assert_eq!(mono_below_hz(&grid, &wide, &mid), None);
    }
}
