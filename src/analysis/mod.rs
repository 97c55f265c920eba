//! decode → **analysis** → `Profile`. The gated spectra come from the CPU (`spectrum`) or, batched,
//! from the GPU (`device`, `crate::analysis::gpu`); everything else is computed here on the CPU.
pub mod bands;
pub mod device;
pub mod dynamics;
pub mod gpu;
pub mod loudness;
pub mod spectrum;

use crate::audio::AudioBuffer;
use crate::dsp::to_db;
use crate::dsp::true_peak::bs1770_peaks;
use crate::error::{Error, Result};
use crate::model::{LoudnessProfile, Profile, SpectralProfile, StereoProfile, PROFILE_SCHEMA_VERSION};
use crate::progress::Progress;
use bands::{has_information, BandGrid};
use spectrum::{gated_spectra, StftSettings};

/// Analyses a decoded track into a [`Profile`]. `name` identifies it in the profile and in errors.
pub fn analyze(buffer: &AudioBuffer, name: &str, progress: &dyn Progress) -> Result<Profile> {
    analyze_with_spectra(buffer, name, None, progress)
}

/// As [`analyze`], with the gated spectra already computed (by the GPU) when `spectra` is given.
pub fn analyze_with_spectra(
    buffer: &AudioBuffer,
    name: &str,
    spectra: Option<spectrum::GatedSpectra>,
    progress: &dyn Progress,
) -> Result<Profile> {
    if buffer.is_silent() {
        return Err(Error::Silent { path: name.into(), what: "analyse" });
    }
    let task = progress.start(&format!("analyse {name}"), 3);
    let fs = buffer.sample_rate;
    let channels: Vec<&[f32]> = buffer.channels.iter().map(Vec::as_slice).collect();
    let stft = StftSettings::for_rate(fs);
    let ((loud, peaks), spectra) = rayon::join(
        || {
            let loud = loudness::loudness_stats(&channels, fs);
            task.inc(1);
            let peaks = bs1770_peaks(&channels);
            task.inc(1);
            (loud, peaks)
        },
        || spectra.unwrap_or_else(|| gated_spectra(&channels, fs, &stft)),
    );
    task.inc(1);
    drop(task);
    let integrated = loud.integrated_lufs.ok_or_else(|| Error::no_loudness(name, buffer.duration_s(), "analyse"))?;

    let grid = BandGrid::standard();
    let mid_db = grid.levels_db(&spectra.mid_psd, spectra.bin_hz);
    let side_db = if buffer.num_channels() == 2 {
        grid.levels_db(&spectra.side_psd, spectra.bin_hz)
    } else {
        vec![bands::LEVEL_FLOOR_DB; grid.centers_hz.len()]
    };
    let width_db: Vec<f64> = mid_db
        .iter()
        .zip(&side_db)
        .map(|(&m, &s)| if has_information(m) { s.max(m - 120.0) - m } else { 0.0 })
        .collect();
    let correlation = band_correlation(&grid, &spectra);
    let (m_tot, s_tot, c_tot) = (sum(&spectra.mid_psd), sum(&spectra.side_psd), sum(&spectra.cross_psd));
    let true_peak_dbtp = to_db(f64::from(peaks.true_peak));
    let loudest = loud.short_term_lufs.iter().fold(f64::from(f32::MIN), |m, &v| m.max(f64::from(v)));
    let dynamics = dynamics::dynamics_profile(&spectra, fs, &grid, &width_db, &mid_db, true_peak_dbtp - loudest);
    Ok(Profile {
        schema_version: PROFILE_SCHEMA_VERSION,
        source: name.to_string(),
        sample_rate: fs,
        channels: buffer.num_channels() as u16,
        duration_s: buffer.duration_s(),
        loudness: LoudnessProfile {
            integrated_lufs: integrated,
            loudness_range_lu: loud.loudness_range_lu,
            true_peak_dbtp,
            sample_peak_dbfs: to_db(f64::from(peaks.sample_peak)),
            plr_db: true_peak_dbtp - integrated,
            short_term_hop_s: loudness::SHORT_TERM_HOP_S,
            short_term_lufs: loud.short_term_lufs,
        },
        spectrum: SpectralProfile {
            bands_per_octave: grid.bands_per_octave,
            centers_hz: grid.centers_hz,
            mid_db,
            side_db,
            fft_size: stft.fft_size,
            frames_used: spectra.frames_used,
            frames_total: spectra.frames_total,
        },
        stereo: StereoProfile {
            width_db,
            correlation,
            side_to_mid_db: 10.0 * (s_tot.max(1e-30) / m_tot.max(1e-30)).log10(),
            overall_correlation: lr_correlation(m_tot, s_tot, c_tot),
        },
        dynamics,
    })
}

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}

/// L/R correlation from mid/side powers and cross term: with L = M+S, R = M−S,
/// ΣLR = ΣM² − ΣS², ΣL² = ΣM² + ΣS² + 2ΣMS, ΣR² = ΣM² + ΣS² − 2ΣMS.
pub(crate) fn lr_correlation(mm: f64, ss: f64, ms: f64) -> f64 {
    let ll = mm + ss + 2.0 * ms;
    let rr = mm + ss - 2.0 * ms;
    if ll <= 0.0 || rr <= 0.0 {
        return 1.0;
    }
    ((mm - ss) / (ll * rr).sqrt()).clamp(-1.0, 1.0)
}

fn band_correlation(grid: &BandGrid, s: &spectrum::GatedSpectra) -> Vec<f64> {
    (0..grid.centers_hz.len())
        .map(|i| {
            let (lo, hi) = grid.edges(i);
            let k0 = ((lo / s.bin_hz) + 0.5).floor() as usize;
            let k1 = (((hi / s.bin_hz) + 0.5).floor() as usize).min(s.mid_psd.len() - 1);
            let (mut mm, mut ss, mut ms) = (0.0, 0.0, 0.0);
            for k in k0..=k1.max(k0).min(s.mid_psd.len() - 1) {
                mm += s.mid_psd[k];
                ss += s.side_psd[k];
                ms += s.cross_psd[k];
            }
            lr_correlation(mm, ss, ms)
        })
        .collect()
}
