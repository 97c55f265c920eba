//! Linear-phase FIR equaliser: designed from a gain curve by frequency sampling, windowed, and applied
//! by overlap-save FFT convolution with its latency removed (output sample n aligns with input n).
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

use super::overlap_save::{BlockScratch, OverlapSave};
use super::window::kaiser;
use crate::error::{Error, Result};
pub use crate::model::settings::EqCurve;

/// Kaiser β of the design window: sidelobes near −75 dB keep deep cuts accurate.
const DESIGN_BETA: f64 = 7.0;

pub struct LinearPhaseEq {
    fir: SymmetricFir,
}

impl LinearPhaseEq {
    /// Designs the filter for `sample_rate`: ~0.37 s of taps (16383 at 44.1/48 kHz). Its resolution
    /// (the Kaiser window's main lobe, about ±7 Hz) lets a change a third of an octave wide at
    /// 100 Hz (23 Hz) come back within a third of a dB; half as many taps left 0.6 dB.
    pub fn new(curve: &EqCurve, sample_rate: u32) -> Result<Self> {
        curve.validate("EQ curve")?;
        if sample_rate < 8000 {
            return Err(Error::InvalidSetting(format!("sample rate {sample_rate} Hz is too low")));
        }
        let design_size = ((f64::from(sample_rate) * 0.34) as usize).next_power_of_two();
        Ok(LinearPhaseEq { fir: SymmetricFir::new(design(curve, sample_rate, design_size)) })
    }

    /// Group delay in samples (the taps are symmetric about it).
    pub fn latency(&self) -> usize {
        self.fir.latency()
    }

    pub fn taps(&self) -> &[f32] {
        &self.fir.taps
    }

    /// The analytic magnitude response (dB) of the designed taps.
    pub fn response_db(&self, freq_hz: f64, sample_rate: u32) -> f64 {
        self.fir.response_db(freq_hz, sample_rate)
    }

    /// Filters `input` into `output` (same length), latency removed.
    pub fn process(&self, input: &[f32], output: &mut [f32]) {
        self.fir.process(input, output);
    }

    /// As [`Self::process`], the output written over the input (bit-identical to it).
    pub fn process_in_place(&self, x: &mut [f32]) {
        self.fir.process_in_place(x);
    }
}

/// A symmetric (linear-phase) FIR of odd length applied by overlap-save with its latency removed:
/// the equaliser's and the band split's filters.
pub(crate) struct SymmetricFir {
    pub(crate) taps: Vec<f32>,
    pub(crate) conv: OverlapSave,
    pub(crate) spectrum: Vec<Complex<f32>>,
}

impl SymmetricFir {
    pub(crate) fn new(taps: Vec<f32>) -> Self {
        let conv = OverlapSave::new(taps.len(), 4 * (taps.len() + 1).next_power_of_two());
        let spectrum = conv.filter_spectrum(&taps);
        SymmetricFir { taps, conv, spectrum }
    }

    pub(crate) fn latency(&self) -> usize {
        (self.taps.len() - 1) / 2
    }

    /// |Σ h[k] e^{−jωk}|, in dB: for symmetric taps H(ω) = e^{−jωc} Σ h[k] cos(ω(k − c)).
    pub(crate) fn response_db(&self, freq_hz: f64, sample_rate: u32) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq_hz / f64::from(sample_rate);
        let c = self.latency() as f64;
        let a: f64 = self.taps.iter().enumerate().map(|(k, &h)| f64::from(h) * (w * (k as f64 - c)).cos()).sum();
        20.0 * a.abs().max(1e-12).log10()
    }

    pub(crate) fn process(&self, input: &[f32], output: &mut [f32]) {
        assert_eq!(input.len(), output.len());
        self.conv.run(input, self.latency(), output, || (), |s, _, _, out| self.copy_filtered(s, out));
    }

    pub(crate) fn process_in_place(&self, x: &mut [f32]) {
        self.conv.run_aligned_in_place(x, self.latency(), 1, || (), |s, _, _, out| self.copy_filtered(s, out));
    }

    fn copy_filtered(&self, s: &mut BlockScratch, out: &mut [f32]) {
        self.conv.filtered(s, &self.spectrum, |y| out.copy_from_slice(&y[..out.len()]));
    }
}

/// Frequency-sampling design (Oppenheim & Schafer, Discrete-Time Signal Processing, §7.6): sample the
/// desired zero-phase magnitude on `n` bins, inverse FFT in f64, centre, and taper with a Kaiser window
/// to n − 1 symmetric taps.
fn design(curve: &EqCurve, sample_rate: u32, n: usize) -> Vec<f32> {
    let mut planner = RealFftPlanner::<f64>::new();
    let inverse = planner.plan_fft_inverse(n);
    let bin_hz = f64::from(sample_rate) / n as f64;
    let mut spec: Vec<Complex<f64>> = (0..=n / 2)
        .map(|k| Complex::new(10f64.powf(curve.gain_db_at((k as f64 * bin_hz).max(1e-3)) / 20.0), 0.0))
        .collect();
    let mut impulse = inverse.make_output_vec();
    inverse.process(&mut spec, &mut impulse).expect("sizes match the plan");
    let len = n - 1;
    let centre = (len - 1) / 2;
    (0..len)
        .map(|i| {
            let circ = impulse[(i + n - centre) % n] / n as f64;
            let t = (i as f64 - centre as f64) / centre as f64;
            (circ * kaiser(t, DESIGN_BETA)) as f32
        })
        .collect()
}
