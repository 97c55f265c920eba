//! Restoration as a job step (`automaster restore`, `master --restore`): the decoded input
//! restored in place, the plan that replays it, its report, and — where asked — what was taken
//! out, written as a file to listen to.
use std::path::Path;
use std::time::Instant;

use crate::audio::AudioBuffer;
use crate::error::Result;
use crate::io::encode::write_wav;
use crate::model::restore::{RestorePlan, RestoreRequest};
use crate::model::BitDepth;
use crate::render::restore::{find_and_repair, report, RestoreReport};

/// Restores `audio` in place as `request` asks; writes the residual (input − restored, 32-bit
/// float WAV) to `residual_out` when given.
pub fn restore(
    audio: &mut AudioBuffer,
    request: &RestoreRequest,
    residual_out: Option<&Path>,
) -> Result<(RestorePlan, RestoreReport)> {
    let t = Instant::now();
    let before = audio.clone();
    let plan = find_and_repair(audio, request)?;
    let mut report = report(request, &plan, &before, audio);
    if let Some(path) = residual_out {
        let mut residual = before;
        for (r, a) in residual.channels.iter_mut().zip(&audio.channels) {
            r.iter_mut().zip(a).for_each(|(r, &a)| *r -= a);
        }
        write_wav(path, &residual, BitDepth::Float32)?;
    }
    report.seconds = t.elapsed().as_secs_f64();
    Ok((plan, report))
}
