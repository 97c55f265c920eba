// Framing shared by the STFT stages: mid (sign +1) or side (sign −1) of the chunk's planar samples,
// (L ± R)/2, or the mono channel itself; zero past the chunk's valid length (the last frame is
// zero-padded). Expects the `params` and `samples` bindings.

// Keep in sync with StftParams in src/gpu/stft.rs.
struct Params {
    // Samples per channel in the chunk (right channel at offset len).
    len: u32,
    stereo: u32,
    // frame_power: frames in the chunk; stft_power: gated frames listed in frame_starts.
    frames: u32,
    hop: u32,
    groups: u32,
    // Workgroups per dispatch row.
    row: u32,
    // frame_power: index of the chunk's first frame in the output; stft_power: row of the chunk's
    // first gated frame in band_power.
    first: u32,
    // stft_power: dynamics bands (≤ 4).
    bands: u32,
}


fn mid_or_side(i: u32, sign: f32) -> f32 {
    if i >= params.len {
        return 0.0;
    }
    let l = samples[i];
    if params.stereo == 0u {
        return l;
    }
    return 0.5 * (l + sign * samples[params.len + i]);
}

// Workgroup index of a dispatch laid out in rows of `row` workgroups (the x dimension is limited to
// 65535, so long jobs use y as well).
fn flat_workgroup(id: vec3<u32>, row: u32) -> u32 {
    return id.x + id.y * row;
}
