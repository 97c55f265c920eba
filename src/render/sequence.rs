//! An album's timeline: where each track lies (its audio, its INDEX 00 and 01 on the CD's
//! 1/75 s frame grid), fades, and the tracks summed into one image, crossfades included.
//! Positions are exact to the sample: the image is the pregap, then each track, the gaps added
//! and the crossfades overlapped — nothing rounded but the indices, which lie on the frame at or
//! before what they mark.
use std::f64::consts::FRAC_PI_2;

use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::model::album::FadeCurve;

/// CUE sheet positions are in frames of 1/75 s (588 samples at 44.1 kHz).
pub const FRAMES_PER_S: u32 = 75;

/// How a track joins the one before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Join {
    /// Silence before the track, samples (track 1: the album's pregap plus its own gap).
    pub gap: usize,
    /// Overlap with the previous track, samples (0: none).
    pub crossfade: usize,
    pub crossfade_curve: FadeCurve,
}

/// Where a track lies on the timeline, samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Its first sample of audio.
    pub start: usize,
    pub frames: usize,
    /// Where its pregap starts (the gap before it), when it has one of at least a frame.
    pub index_00: Option<usize>,
    /// Where it starts for a player: `start` floored to the frame grid.
    pub index_01: usize,
}

impl Placement {
    pub fn end(&self) -> usize {
        self.start + self.frames
    }
}

/// The samples in a CUE frame at `sample_rate_hz` (every common rate is a multiple of 75).
pub fn frame_len(sample_rate_hz: u32) -> Result<usize> {
    if !sample_rate_hz.is_multiple_of(FRAMES_PER_S) {
        return Err(Error::InvalidSetting(format!(
            "{sample_rate_hz} Hz has no whole number of samples in a CUE frame (1/75 s)"
        )));
    }
    Ok((sample_rate_hz / FRAMES_PER_S) as usize)
}

/// Lays out tracks of `lengths` samples joined as `joins` say (one per track); returns the
/// placements and the image's length.
pub fn layout(lengths: &[usize], joins: &[Join], frame: usize) -> Result<(Vec<Placement>, usize)> {
    let mut placements: Vec<Placement> = Vec::with_capacity(lengths.len());
    for (i, (&frames, join)) in lengths.iter().zip(joins).enumerate() {
        let previous_end = placements.last().map_or(0, Placement::end);
        let start = if join.crossfade > 0 {
            let shorter = frames.min(placements.last().map_or(0, |p| p.frames));
            if join.crossfade > shorter {
                return Err(Error::InvalidSetting(format!(
                    "track {}: a crossfade of {} samples is longer than a track it joins ({shorter})",
                    i + 1,
                    join.crossfade
                )));
            }
            previous_end - join.crossfade
        } else {
            previous_end + join.gap
        };
        let index_01 = start / frame * frame;
        let gap_start = (previous_end / frame * frame).max(placements.last().map_or(0, |p| p.index_01 + frame));
        let index_00 = (join.crossfade == 0 && join.gap > 0 && gap_start < index_01).then_some(gap_start);
        placements.push(Placement { start, frames, index_00, index_01 });
    }
    let total = placements.last().map_or(0, Placement::end);
    Ok((placements, total))
}

/// The gain of a fade in at `t` (0 … 1 through it); a fade out is its mirror.
pub fn fade_in_gain(curve: FadeCurve, t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    match curve {
        FadeCurve::Linear => t,
        FadeCurve::EqualPower => (FRAC_PI_2 * t).sin(),
    }
}

/// Fades `buffer` in over its first `fade_in` samples and out over its last `fade_out`.
pub fn apply_fades(buffer: &mut AudioBuffer, fade_in: usize, fade_out: usize, curve: FadeCurve) {
    let n = buffer.frames();
    for ch in &mut buffer.channels {
        for (i, x) in ch.iter_mut().take(fade_in.min(n)).enumerate() {
            *x *= fade_in_gain(curve, (i as f64 + 0.5) / fade_in as f64) as f32;
        }
        let from = n - fade_out.min(n);
        for (i, x) in ch[from..].iter_mut().enumerate() {
            *x *= fade_in_gain(curve, 1.0 - (i as f64 + 0.5) / fade_out as f64) as f32;
        }
    }
}

/// The album's image, assembled a track at a time (so no more than one rendered track is held
/// beside it): each added at its placement, where it crossfades in its head rising and the
/// previous track's tail falling along the join's curve.
pub struct Timeline {
    channels: Vec<Vec<f32>>,
    placements: Vec<Placement>,
    joins: Vec<Join>,
}

impl Timeline {
    /// Silence of `total` samples in `channels` channels for tracks laid out as `placements`
    /// (joined as `joins`, one per track).
    pub fn new(channels: usize, placements: Vec<Placement>, joins: Vec<Join>, total: usize) -> Self {
        Timeline { channels: vec![vec![0.0; total]; channels], placements, joins }
    }

    /// Adds track `i`, which must be as long as its placement says; a mono track goes to both
    /// channels of a stereo image.
    pub fn add(&mut self, i: usize, track: &AudioBuffer) -> Result<()> {
        let p = self.placements[i];
        if track.frames() != p.frames {
            return Err(Error::InvalidSetting(format!(
                "track {} rendered {} samples long, laid out for {}",
                i + 1,
                track.frames(),
                p.frames
            )));
        }
        let (head, tail) = (self.joins[i].crossfade, self.joins.get(i + 1).map_or(0, |j| j.crossfade));
        let (head_curve, tail_curve) =
            (self.joins[i].crossfade_curve, self.joins.get(i + 1).map_or(FadeCurve::Linear, |j| j.crossfade_curve));
        for (c, out) in self.channels.iter_mut().enumerate() {
            let x = &track.channels[c.min(track.num_channels() - 1)];
            for (k, (&s, o)) in x.iter().zip(&mut out[p.start..p.end()]).enumerate() {
                let mut g = 1.0;
                if k < head {
                    g *= fade_in_gain(head_curve, (k as f64 + 0.5) / head as f64);
                }
                if k + tail >= x.len() {
                    let t = (k + tail - x.len()) as f64 + 0.5;
                    g *= fade_in_gain(tail_curve, 1.0 - t / tail as f64);
                }
                *o += s * g as f32;
            }
        }
        Ok(())
    }

    pub fn into_buffer(self, sample_rate: u32) -> AudioBuffer {
        AudioBuffer::new(sample_rate, self.channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(gap: usize, crossfade: usize) -> Join {
        Join { gap, crossfade, crossfade_curve: FadeCurve::EqualPower }
    }

    #[test]
    fn layout_adds_gaps_overlaps_crossfades_and_floors_indices() {
        let (p, total) = layout(&[10_000, 8_000, 6_000], &[join(1_176, 0), join(1_000, 0), join(0, 500)], 588).unwrap();
        assert_eq!(total, 1_176 + 10_000 + 1_000 + 8_000 - 500 + 6_000);
        assert_eq!(p[0].start, 1_176);
        assert_eq!((p[0].index_00, p[0].index_01), (Some(0), 1_176));
        assert_eq!(p[1].start, 12_176);
        assert_eq!(p[1].index_01, 12_176 / 588 * 588);
        assert_eq!(p[1].index_00, Some(11_176 / 588 * 588));
        assert_eq!((p[2].start, p[2].index_00), (19_676, None));
        assert!(layout(&[1_000, 800], &[join(0, 0), join(0, 900)], 588).is_err());
    }

    #[test]
    fn an_equal_power_crossfade_keeps_the_power_of_uncorrelated_tracks() {
        // Constant tracks: the two gains' squares sum to 1 at every sample of the overlap.
        let a = AudioBuffer::new(44_100, vec![vec![1.0; 1_000]]);
        let joins = [join(0, 0), join(0, 400)];
        let (p, total) = layout(&[1_000, 1_000], &joins, 588).unwrap();
        let assemble = |tracks: [&AudioBuffer; 2]| {
            let mut t = Timeline::new(1, p.clone(), joins.to_vec(), total);
            tracks.iter().enumerate().for_each(|(i, track)| t.add(i, track).unwrap());
            t.into_buffer(44_100)
        };
        let silence = AudioBuffer::new(44_100, vec![vec![0.0; 1_000]]);
        let (g_out, g_in) = (assemble([&a, &silence]), assemble([&silence, &a]));
        for k in 600..1_000 {
            let (o, i) = (g_out.channels[0][k], g_in.channels[0][k]);
            assert!((o * o + i * i - 1.0).abs() < 1e-5, "{k}: {o} {i}");
        }
        assert_eq!(g_out.channels[0][599], 1.0);
        assert_eq!(g_in.channels[0][1_000], 1.0);
    }
}
