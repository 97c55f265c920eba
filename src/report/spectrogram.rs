//! A spectrogram small enough for a report whatever the input's length: at most [`MAX_COLUMNS`]
//! time columns by [`ROWS`] log-spaced frequency rows. Each column averages the power spectra of up
//! to [`FRAMES_PER_COLUMN`] Hann-windowed frames spread evenly across its span, so an hour costs what
//! a few minutes cost (a picture of the track, not a measurement; the profiles measure).
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::dsp::stft::Stft;

pub const MAX_COLUMNS: usize = 600;
pub const ROWS: usize = 160;
pub const FRAMES_PER_COLUMN: usize = 8;
/// Levels are stored in steps of this (dB) above [`Spectrogram::floor_db`], as bytes.
pub const STEP_DB: f64 = 0.5;
const LOW_HZ: f64 = 20.0;
const HIGH_HZ: f64 = 20_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spectrogram {
    /// Seconds per column.
    pub column_s: f64,
    pub columns: usize,
    /// Row centres, low to high (log-spaced).
    pub freqs_hz: Vec<f64>,
    /// Level of row r, column c at `levels[r * columns + c]`: `floor_db + STEP_DB · value`, in dB
    /// re a full-scale sine (a 0 dBFS sine on a bin reads 0 dB); 0 means at or below the floor.
    pub floor_db: f64,
    pub levels: Vec<u8>,
}

impl Spectrogram {
    /// Level in dB of row `row`, column `col`.
    pub fn level_db(&self, row: usize, col: usize) -> f64 {
        self.floor_db + STEP_DB * f64::from(self.levels[row * self.columns + col])
    }

    /// The spectrogram of (L² + R²)/2 (or the one channel), FFT size scaled with the rate (4096 at
    /// 44.1/48 kHz: 11 Hz bins, 93 ms frames).
    pub fn of(buffer: &AudioBuffer) -> Spectrogram {
        let fs = f64::from(buffer.sample_rate);
        let n = (4096.0 * fs / 48_000.0).round().max(256.0) as usize;
        let n = n.next_power_of_two();
        let frames = buffer.frames();
        let columns = frames.div_ceil(n / 2).clamp(1, MAX_COLUMNS);
        let span = frames as f64 / columns as f64;
        let stft = Stft::new(n);
        // |X|² of a full-scale sine on a bin is (Σw / 2)²: scale so that it reads 0 dB.
        let scale = 4.0 / (stft.window().iter().map(|&w| f64::from(w)).sum::<f64>().powi(2));
        let bin_hz = fs / n as f64;
        let top = HIGH_HZ.min(0.5 * fs * 0.98);
        let freqs_hz: Vec<f64> =
            (0..ROWS).map(|r| LOW_HZ * (top / LOW_HZ).powf((r as f64 + 0.5) / ROWS as f64)).collect();
        // Each row averages the bins inside its edges, or takes the bin nearest its centre where it
        // is narrower than a bin.
        let row_bins: Vec<(usize, usize)> = (0..ROWS)
            .map(|r| {
                let edge = |e: f64| LOW_HZ * (top / LOW_HZ).powf(e / ROWS as f64) / bin_hz;
                let (lo, hi) = (edge(r as f64).ceil() as usize, edge(r as f64 + 1.0).ceil() as usize);
                if hi > lo {
                    (lo, hi)
                } else {
                    let k = (freqs_hz[r] / bin_hz).round() as usize;
                    (k, k + 1)
                }
            })
            .collect();
        let power: Vec<Vec<f64>> = (0..columns)
            .into_par_iter()
            .map_init(
                || stft.frame(),
                |frame, c| {
                    let (start, end) = ((c as f64 * span) as usize, ((c + 1) as f64 * span) as usize);
                    let count = if end - start > n { FRAMES_PER_COLUMN } else { 1 };
                    let mut acc = vec![0.0f64; n / 2 + 1];
                    for f in 0..count {
                        // Frames spread evenly over the column (one centred on it when it is short).
                        let centre = if count == 1 {
                            (start + end) / 2
                        } else {
                            start + n / 2 + f * (end - start - n) / (count - 1)
                        };
                        let first = centre.saturating_sub(n / 2);
                        for ch in &buffer.channels {
                            for (a, z) in acc.iter_mut().zip(stft.of_slice(frame, ch, first)) {
                                *a += f64::from(z.norm_sqr());
                            }
                        }
                    }
                    let norm = scale / (count * buffer.channels.len()) as f64;
                    row_bins
                        .iter()
                        .map(|&(lo, hi)| {
                            acc[lo.min(n / 2)..hi.min(n / 2 + 1)].iter().sum::<f64>() / (hi - lo) as f64 * norm
                        })
                        .collect()
                },
            )
            .collect();
        // The floor: 120 dB under the loudest cell (byte steps of 0.5 dB cover 127.5 dB).
        let loudest = power.iter().flatten().fold(1e-30f64, |m, &p| m.max(p));
        let floor_db = (10.0 * loudest.log10()).ceil() - 120.0;
        let mut levels = vec![0u8; ROWS * columns];
        for (c, col) in power.iter().enumerate() {
            for (r, &p) in col.iter().enumerate() {
                let db = 10.0 * p.max(1e-30).log10();
                levels[r * columns + c] = ((db - floor_db) / STEP_DB).round().clamp(0.0, 255.0) as u8;
            }
        }
        Spectrogram { column_s: span / fs, columns, freqs_hz, floor_db, levels }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full-scale sine on a bin (8 · 48000/4096 Hz, where rows are narrower than bins) reads 0 dB
    /// in its row in the first half-second, the silent second half sits at the floor, and the column
    /// count is bounded for long inputs.
    #[test]
    fn a_sine_lands_in_its_row_at_full_scale() {
        let fs = 48_000u32;
        let f0 = 8.0 * 48_000.0 / 4096.0;
        let x: Vec<f32> = (0..fs as usize)
            .map(|i| {
                if i < fs as usize / 2 {
                    (2.0 * std::f64::consts::PI * f0 * i as f64 / f64::from(fs)).sin() as f32
                } else {
                    0.0
                }
            })
            .collect();
        let s = Spectrogram::of(&AudioBuffer::new(fs, vec![x]));
        let row = s
            .freqs_hz
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 / f0).ln().abs().total_cmp(&(b.1 / f0).ln().abs()))
            .unwrap()
            .0;
        assert!(s.columns > 10);
        let early = s.level_db(row, 2);
        assert!((early - 0.0).abs() < 0.6, "sine row reads {early} dB");
        assert!(s.level_db(row, s.columns - 1) <= s.floor_db + 0.5);
        // Rows an octave away hold only the window's leakage.
        let far = s.freqs_hz.iter().position(|&f| f > 2.0 * f0).unwrap();
        assert!(s.level_db(far, 2) < -60.0, "leakage {}", s.level_db(far, 2));
        let long = AudioBuffer::new(8000, vec![vec![0.1; 8000 * 3600]]);
        assert_eq!(Spectrogram::of(&long).columns, MAX_COLUMNS);
    }
}
