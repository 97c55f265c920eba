//! CPU port of shaders/frame_power.wgsl.
use super::mid_or_side;
use crate::analysis::gpu::stft::StftParams;

const POWER_THREADS: u32 = 256;

pub fn frame_power(params: &StftParams, fft_size: u32, samples: &[f32], window: &[f32], power: &mut [f32]) {
    for frame in 0..params.frames {
        let start = frame * params.hop;
        let mut partial = [0.0f32; POWER_THREADS as usize];
        for t in 0..POWER_THREADS {
            let mut acc = 0.0f32;
            let mut j = t;
            while j < fft_size {
                let w = window[j as usize];
                let m = mid_or_side(params, samples, start + j, 1.0);
                let s = if params.stereo != 0 { mid_or_side(params, samples, start + j, -1.0) } else { 0.0 };
                acc += w * w * (m * m + s * s);
                j += POWER_THREADS;
            }
            partial[t as usize] = acc;
        }
        let mut width = POWER_THREADS / 2;
        while width > 0 {
            for t in 0..width {
                partial[t as usize] += partial[(t + width) as usize];
            }
            width /= 2;
        }
        power[(params.first + frame) as usize] = partial[0];
    }
}
