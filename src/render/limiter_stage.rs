//! The render's last stages: pre-gain into the true-peak limiter, dither, and verification of the
//! very samples that will be written.

use rayon::prelude::*;

use crate::audio::AudioBuffer;
use crate::dsp::limiter::{LimiterSettings, TruePeakLimiter};
use crate::dsp::true_peak::TruePeakDetector;
use crate::dsp::{from_db, max_of, min_of, to_db};
use crate::error::Result;
use crate::model::OutputSpec;
use crate::render::dither::scale_and_quantize;
use crate::render::report::*;
use crate::render::slices;

/// Passes of re-limiting when gain modulation or dither left a new inter-sample over.
pub(crate) const MAX_VERIFY_PASSES: usize = 4;
/// The reduction whose duration the report counts, dB.
pub(crate) const COUNTED_REDUCTION_DB: f64 = 3.0;

/// Applies `gain_db` into the true-peak limiter, quantises as `spec` says (at the buffer's own rate)
/// and verifies the ceiling: the
/// last stage of [`render`](crate::render::render) on its own (used where the gain is fixed rather than found by loudness).
pub fn limit(
    mut buffer: AudioBuffer,
    gain_db: f64,
    settings: &LimiterSettings,
    spec: impl Into<OutputSpec>,
) -> Result<(AudioBuffer, LimitReport)> {
    let spec = spec.into();
    let mut stage = LimiterStage::new(&buffer, settings)?;
    let frames = buffer.frames();
    let (mut report, _) = stage.limit(&mut buffer, gain_db, spec, frames);
    let peak = stage.output_peak(&buffer);
    (report.verify_passes, report.output_true_peak_dbtp) = stage.verify(&mut buffer, spec, peak);
    Ok((buffer, report))
}

/// The limiter with its buffers: the look-ahead window peaks of the signal's 8× true-peak envelope
/// (computed once; they scale with any pre-gain) and the gain curve.
pub(crate) struct LimiterStage {
    pub(crate) detector: TruePeakDetector,
    pub(crate) limiter: TruePeakLimiter,
    pub(crate) ceiling: f32,
    pub(crate) peaks: Vec<f32>,
    pub(crate) gain: Vec<f32>,
    /// The pre-gain `gain` was computed for, if it is the curve for the current `peaks`.
    pub(crate) gain_pre: Option<f32>,
}

impl LimiterStage {
    pub(crate) fn new(buffer: &AudioBuffer, settings: &LimiterSettings) -> Result<Self> {
        let limiter = TruePeakLimiter::new(settings, buffer.sample_rate)?;
        let detector = TruePeakDetector::new();
        let n = buffer.frames();
        let (mut peaks, mut gain) = (vec![0.0f32; n], vec![0.0f32; n]);
        detector.envelope(&slices(buffer), &mut gain);
        limiter.window_peaks(&gain, &mut peaks);
        Ok(LimiterStage {
            detector,
            limiter,
            ceiling: from_db(settings.ceiling_dbtp) as f32,
            peaks,
            gain,
            gain_pre: None,
        })
    }

    pub(crate) fn gain_curve(&mut self, pre: f32) -> &[f32] {
        if self.gain_pre != Some(pre) {
            self.limiter.gain_curve(&self.peaks, pre, &mut self.gain);
            self.gain_pre = Some(pre);
        }
        &self.gain
    }

    /// Applies pre-gain and limiting and quantises; returns what the limiting did (the deepest
    /// reduction and its time above 3 dB; the verification's fields are left for
    /// [`Self::verify`]) and the limiter's gain trace at one point per `trace_hop` samples.
    /// [`Self::output_peak`] and [`Self::verify`] then check the very samples to be written.
    pub(crate) fn limit(
        &mut self,
        buffer: &mut AudioBuffer,
        gain_db: f64,
        spec: OutputSpec,
        trace_hop: usize,
    ) -> (LimitReport, Vec<f32>) {
        let pre = from_db(gain_db) as f32;
        self.gain_curve(pre);
        let trace = deepest_db(&self.gain, trace_hop);
        // `0.0 -` rather than negation: no reduction reads 0, not −0.
        let max_gain_reduction_db = 0.0 - to_db(f64::from(min_of(&self.gain).min(1.0)));
        let deep = from_db(-COUNTED_REDUCTION_DB) as f32;
        let above = self.gain.par_iter().filter(|&&g| g < deep).count();
        scale_and_quantize(buffer, Some((pre, &self.gain)), spec.bit_depth, spec.dither);
        let report = LimitReport {
            max_gain_reduction_db,
            seconds_above_3db: above as f64 / f64::from(buffer.sample_rate),
            verify_passes: 0,
            output_true_peak_dbtp: f64::NEG_INFINITY,
        };
        (report, trace)
    }

    /// The true peak (8×, linear) of `buffer` as it is; its envelope stays in the stage for
    /// [`Self::verify`].
    pub(crate) fn output_peak(&mut self, buffer: &AudioBuffer) -> f32 {
        // The envelope goes into `gain` (free until the next curve).
        self.detector.envelope(&slices(buffer), &mut self.gain);
        self.gain_pre = None;
        max_of(&self.gain)
    }

    /// Given the output's true peak `peak` from [`Self::output_peak`]: where gain modulation or
    /// dither made a new over, limits again (at most [`MAX_VERIFY_PASSES`] times) and meters again.
    /// Returns the passes taken and the final true peak, dBTP.
    pub(crate) fn verify(&mut self, buffer: &mut AudioBuffer, spec: OutputSpec, mut peak: f32) -> (usize, f64) {
        let mut passes = 0;
        while peak > self.ceiling && passes < MAX_VERIFY_PASSES {
            passes += 1;
            // The envelope from `output_peak` is in `gain`: its window peaks are the output's.
            self.limiter.window_peaks(&self.gain, &mut self.peaks);
            self.gain_curve(1.0);
            scale_and_quantize(buffer, Some((1.0, &self.gain)), spec.bit_depth, spec.dither);
            peak = self.output_peak(buffer);
        }
        (passes, to_db(f64::from(peak)))
    }
}
