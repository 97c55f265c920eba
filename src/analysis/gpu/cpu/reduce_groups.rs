//! CPU port of shaders/reduce_groups.wgsl.
use crate::analysis::gpu::stft::ReduceParams;

pub fn reduce_groups(params: &ReduceParams, partials: &[f32], totals: &mut [f32]) {
    for i in 0..params.values {
        let out = (params.offset + i) as usize;
        let mut acc = if params.accumulate != 0 { totals[out] } else { 0.0 };
        for g in 0..params.groups {
            acc += partials[(g * params.values + i) as usize];
        }
        totals[out] = acc;
    }
}
