//! `--codec-check`: the master as a platform streams it. The written samples are converted to the
//! codec's rate, encoded and decoded ([`opus_round_trip`]) and their true peak metered; a lossy
//! codec's band limiting and quantisation noise raise peaks above the limiter's ceiling, so where
//! the decoded peak is over the delivery's ceiling the render runs again with the limiter's
//! ceiling lowered by the overshoot and a margin (a few rounds at most). The decoded peak follows
//! the ceiling less than one for one — at the same loudness, harder limiting adds distortion the
//! codec rings on — and jitters by tenths of a dB from render to render (the codec's noise peaks),
//! so a step of the overshoot alone can fall short round after round: the margin doubles with
//! each round that still fails.
use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::dsp::resample::resample;
use crate::dsp::to_db;
use crate::dsp::true_peak::TruePeakDetector;
use crate::error::{Error, Result};
use crate::io::lossy::opus_round_trip;
use crate::io::ogg::OPUS_RATE_HZ;
use crate::model::platform::Codec;

/// Renders at most, the first included.
pub const MAX_ROUNDS: usize = 6;
/// Lowered past the measured overshoot by this much after the first round, dB, and twice as much
/// after each further one: the codec's peaks do not move exactly with the limiter's.
const MARGIN_DB: f64 = 0.1;
/// The limiter's ceiling goes no lower than this under the delivery's, dB.
const MAX_LOWERING_DB: f64 = 6.0;

/// One render and its transcode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodecRound {
    pub limiter_ceiling_dbtp: f64,
    /// The written output's (before the codec).
    pub true_peak_dbtp: f64,
    pub post_codec_true_peak_dbtp: f64,
}

/// What `--codec-check` found: the rounds, the last of which is the written output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodecCheck {
    pub codec: String,
    pub bitrate_kbps: u32,
    pub ceiling_dbtp: f64,
    pub rounds: Vec<CodecRound>,
    /// The last round's: the written output's peak after the codec, and whether it holds the ceiling.
    pub post_codec_true_peak_dbtp: f64,
    pub passed: bool,
}

impl CodecCheck {
    pub fn new(codec: Codec, ceiling_dbtp: f64) -> Self {
        CodecCheck {
            codec: codec.name.into(),
            bitrate_kbps: codec.bitrate_kbps,
            ceiling_dbtp,
            rounds: Vec::new(),
            post_codec_true_peak_dbtp: f64::NEG_INFINITY,
            passed: false,
        }
    }

    /// Meters `output` (rendered with the limiter at `limiter_ceiling_dbtp`, true peak
    /// `true_peak_dbtp`) after the codec; returns the limiter's ceiling for another round, or
    /// `None` when this one holds the ceiling or no other round would help.
    pub fn round(
        &mut self,
        codec: Codec,
        output: &AudioBuffer,
        limiter_ceiling_dbtp: f64,
        true_peak_dbtp: f64,
    ) -> Result<Option<f64>> {
        let peak = post_codec_true_peak(output, codec)?;
        self.rounds.push(CodecRound { limiter_ceiling_dbtp, true_peak_dbtp, post_codec_true_peak_dbtp: peak });
        self.post_codec_true_peak_dbtp = peak;
        self.passed = peak <= self.ceiling_dbtp;
        let floor = self.ceiling_dbtp - MAX_LOWERING_DB;
        let margin = MARGIN_DB * 2f64.powi(self.rounds.len() as i32 - 1);
        let next = (limiter_ceiling_dbtp - (peak - self.ceiling_dbtp) - margin).max(floor);
        Ok((!self.passed && self.rounds.len() < MAX_ROUNDS && next < limiter_ceiling_dbtp).then_some(next))
    }
}

/// The true peak (dBTP) of `output` as `codec` delivers it, at the codec's rate.
pub fn post_codec_true_peak(output: &AudioBuffer, codec: Codec) -> Result<f64> {
    let decoded = match codec.name {
        "opus" => opus_round_trip(&resample(output.clone(), OPUS_RATE_HZ)?, codec.bitrate_kbps)?,
        other => return Err(Error::Codec { codec: "codec check", reason: format!("no encoder for {other}") }),
    };
    // The limiter's own 8× detector: the check holds the ceiling the way verification does.
    Ok(to_db(f64::from(TruePeakDetector::new().true_peak(&decoded))))
}
