//! The soft clipper's share of the peak reduction. Under deep reduction a limiter alone stops
//! making the output louder: its gain, smooth over milliseconds, turns whole passages down with
//! their peaks, so the output tends to a fixed density whatever the gain. A clipper bends the
//! waveform's peaks themselves and so makes it denser. The limiter takes the first
//! [`LIMITER_ALONE_DB`] of the reduction at the highest peak alone (masters that need no more
//! pass the clipper untouched), and of any more the clipper takes [`CLIPPER_SHARE`]: its
//! threshold sits that far below the signal's highest true peak, and moves with the gain the
//! loudness search finds until the two agree.
use rayon::prelude::*;

use crate::audio::AudioBuffer;
use crate::dsp::soft_clipper::{ClipStats, ClipperSettings, SoftClipper};
use crate::error::{Error, Result};
use crate::model::MasteringPlan;
use crate::render::limiter_stage::LimiterStage;
use crate::render::loudness_search::{search_loudness, LevelerJob, Search};
use crate::render::report::{ClipReport, ShortfallReason};

/// Peak reduction the limiter takes alone, dB.
pub(crate) const LIMITER_ALONE_DB: f64 = 6.0;
/// The clipper's part of the reduction beyond [`LIMITER_ALONE_DB`].
pub(crate) const CLIPPER_SHARE: f64 = 0.5;
/// The clipper's curve bends from this far below its threshold, dB.
const CLIPPER_KNEE_DB: f64 = 3.0;
/// Searches with the clipper in place at most; each moves its threshold to the last one's gain.
const MAX_ROUNDS: usize = 6;
/// The clipper's share is settled once a round moves it less than this, dB.
const SHARE_TOLERANCE_DB: f64 = 0.25;

/// The loudness search (see [`search_loudness`]) with the soft clipper ahead of the limiter where
/// the reduction needs it: `buffer` comes back clipped, with the limiter stage and the search for
/// it, and what the clipper did.
pub(crate) fn search_and_clip(
    buffer: &mut AudioBuffer,
    plan: &MasteringPlan,
    leveler: Option<LevelerJob>,
    silent: impl Fn() -> Error + Copy,
) -> Result<(LimiterStage, Search, Option<ClipReport>)> {
    let (stage, first) = search_loudness(buffer, plan, leveler, None, silent)?;
    // The chain's reduction at the highest peak is gain + peak − ceiling.
    let share = |gain_db: f64| {
        ((gain_db + first.peak_db - plan.limiter.ceiling_dbtp - LIMITER_ALONE_DB) * CLIPPER_SHARE).max(0.0)
    };
    let mut share_db = share(first.gain_db);
    if share_db <= 0.0 {
        return Ok((stage, first, None));
    }
    drop(stage);
    // The leveller (fitted by the first search) is in the samples; the clipper acts after it.
    let levelled = buffer.clone();
    let mut iterations = first.iterations;
    for round in 1..=MAX_ROUNDS {
        let stats = clip(&levelled, buffer, first.peak_db - share_db)?;
        let (stage, mut search) = search_loudness(buffer, plan, None, Some(first.peak_db), silent)?;
        iterations += search.iterations;
        // The share only grows: to the rule's for the gain found, and where the limiter still
        // saturated (its part growing with the gain as fast as the loudness) or the gain reached
        // its bound, by two dB per LU missing, at least one, so the clipper takes more at the
        // same gain and the output gets denser.
        let next = match search.stopped {
            Some(ShortfallReason::Saturated | ShortfallReason::GainBound) => {
                share_db + (2.0 * (plan.loudness.target_lufs - search.lufs)).max(1.0)
            }
            _ => share(search.gain_db).max(share_db),
        };
        let settled = search.reached && next - share_db <= SHARE_TOLERANCE_DB;
        let stuck = search.stopped == Some(ShortfallReason::MaxLimiting);
        if settled || stuck || round == MAX_ROUNDS {
            search.iterations = iterations;
            search.leveler = first.leveler;
            search.leveler_gain = first.leveler_gain;
            let report = ClipReport {
                share_db,
                max_reduction_db: stats.max_reduction_db,
                seconds_above_3db: stats.seconds_above_3db,
            };
            return Ok((stage, search, Some(report)));
        }
        share_db = next;
    }
    unreachable!("the last round returns")
}

/// `input` soft-clipped at `threshold_db` into `output`, channel by channel; the deepest reduction
/// and the longest time above 3 dB of any channel.
fn clip(input: &AudioBuffer, output: &mut AudioBuffer, threshold_db: f64) -> Result<ClipStats> {
    let clipper = SoftClipper::new(&ClipperSettings { threshold_db, knee_db: CLIPPER_KNEE_DB }, input.sample_rate)?;
    let stats: Vec<ClipStats> =
        input.channels.par_iter().zip(output.channels.par_iter_mut()).map(|(x, y)| clipper.process(x, y)).collect();
    Ok(stats.into_iter().fold(ClipStats::default(), |a, b| ClipStats {
        max_reduction_db: a.max_reduction_db.max(b.max_reduction_db),
        seconds_above_3db: a.seconds_above_3db.max(b.seconds_above_3db),
    }))
}
