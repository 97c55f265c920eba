// Gate input of the gated STFT: the windowed power Σ w²·(m² + s²) of every frame of a chunk. One
// workgroup per frame; each invocation sums a strided share of the frame, then a tree reduction in
// workgroup memory. CPU port: src/gpu/cpu/frame_power.rs.
// import shared/stft_frame.wgsl

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> samples: array<f32>;
@group(0) @binding(2) var<storage, read> window: array<f32>;
@group(0) @binding(3) var<storage, read_write> power: array<f32>;

const POWER_THREADS: u32 = 256u;
var<workgroup> partial: array<f32, POWER_THREADS>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let frame = flat_workgroup(wid, params.row);
    // Uniform per workgroup: the whole workgroup returns together, before any barrier.
    if frame >= params.frames {
        return;
    }
    let start = frame * params.hop;
    var acc = 0.0;
    for (var j = t; j < FFT_SIZE; j += POWER_THREADS) {
        let w = window[j];
        let m = mid_or_side(start + j, 1.0);
        var s = 0.0;
        if params.stereo != 0u {
            s = mid_or_side(start + j, -1.0);
        }
        acc += w * w * (m * m + s * s);
    }
    partial[t] = acc;
    workgroupBarrier();
    for (var width = POWER_THREADS / 2u; width > 0u; width /= 2u) {
        if t < width {
            partial[t] += partial[t + width];
        }
        workgroupBarrier();
    }
    if t == 0u {
        power[params.first + frame] = partial[0];
    }
}
