//! CPU ports of the shaders, one per `.wgsl` stage and of the same name, mirroring them loop for
//! loop (a workgroup is run invocation by invocation between barriers). They are the oracles the
//! GPU is tested against, and are themselves tested against an f64 DFT.
pub mod frame_power;
pub mod reduce_groups;
pub mod stft_power;

use super::stft::StftParams;

/// `mid_or_side` of shaders/shared/stft_frame.wgsl.
pub(crate) fn mid_or_side(params: &StftParams, samples: &[f32], i: u32, sign: f32) -> f32 {
    if i >= params.len {
        return 0.0;
    }
    let l = samples[i as usize];
    if params.stereo == 0 {
        return l;
    }
    0.5 * (l + sign * samples[(params.len + i) as usize])
}
