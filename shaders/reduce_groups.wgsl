// Adds the per-group sums of stft_power.wgsl in group order (a fixed order, as the CPU path does):
// one invocation per value of the 3·BINS per track. CPU port: src/gpu/cpu/reduce_groups.rs.

// Keep in sync with ReduceParams in src/gpu/stft.rs.
struct Params {
    values: u32,
    groups: u32,
    // Nonzero: add onto the totals of earlier chunks of the same track.
    accumulate: u32,
    // Where this track's totals start in the output.
    offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> totals: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.values {
        return;
    }
    var acc = 0.0;
    if params.accumulate != 0u {
        acc = totals[params.offset + i];
    }
    for (var g = 0u; g < params.groups; g++) {
        acc += partials[g * params.values + i];
    }
    totals[params.offset + i] = acc;
}
