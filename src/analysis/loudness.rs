//! Loudness per ITU-R BS.1770-4 / EBU R128 through the `ebur128` crate (a port of libebur128, which
//! passes EBU Tech 3341/3342): integrated loudness, loudness range and the short-term series.
use ebur128::{EbuR128, Mode};

/// Hop of the stored short-term (3 s window) loudness series: EBU Tech 3341 asks for ≥ 10 Hz updates.
pub const SHORT_TERM_HOP_S: f64 = 0.1;
/// Short-term values below the absolute gate are stored as the gate (JSON has no −∞).
pub const ABSOLUTE_GATE_LUFS: f64 = -70.0;

pub struct LoudnessStats {
    /// None when everything lies below the absolute gate.
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: f64,
    pub short_term_lufs: Vec<f32>,
}

fn meter(channels: usize, sample_rate: u32, mode: Mode) -> EbuR128 {
    EbuR128::new(channels as u32, sample_rate, mode).expect("1–2 channels and a valid rate are checked at decode")
}

fn finite_or_none(v: f64) -> Option<f64> {
    (v.is_finite() && v > ABSOLUTE_GATE_LUFS).then_some(v)
}

/// Integrated loudness, LRA and the short-term series of planar `channels`.
pub fn loudness_stats(channels: &[&[f32]], sample_rate: u32) -> LoudnessStats {
    let mut m = meter(channels.len(), sample_rate, Mode::I | Mode::LRA | Mode::S);
    let hop = (f64::from(sample_rate) * SHORT_TERM_HOP_S).round() as usize;
    let len = channels[0].len();
    let mut short_term = Vec::with_capacity(len / hop + 1);
    for start in (0..len).step_by(hop) {
        let end = (start + hop).min(len);
        let chunk: Vec<&[f32]> = channels.iter().map(|c| &c[start..end]).collect();
        m.add_frames_planar_f32(&chunk).expect("channel count matches the meter");
        let st = m.loudness_shortterm().unwrap_or(f64::NEG_INFINITY);
        short_term.push(st.max(ABSOLUTE_GATE_LUFS) as f32);
    }
    LoudnessStats {
        integrated_lufs: finite_or_none(m.loudness_global().unwrap_or(f64::NEG_INFINITY)),
        loudness_range_lu: m.loudness_range().unwrap_or(0.0).max(0.0),
        short_term_lufs: short_term,
    }
}

/// Integrated loudness alone (the fast path used while rendering).
pub fn integrated_lufs(channels: &[&[f32]], sample_rate: u32) -> Option<f64> {
    let mut m = meter(channels.len(), sample_rate, Mode::I);
    m.add_frames_planar_f32(channels).expect("channel count matches the meter");
    finite_or_none(m.loudness_global().unwrap_or(f64::NEG_INFINITY))
}

/// Integrated loudness of a signal produced chunk by chunk (so it need not exist in memory whole):
/// `fill(start, chunk)` writes frames start.. into the per-channel chunk buffers.
pub fn integrated_lufs_streamed(
    num_channels: usize,
    len: usize,
    sample_rate: u32,
    mut fill: impl FnMut(usize, &mut [Vec<f32>]),
) -> Option<f64> {
    const CHUNK: usize = 1 << 16;
    let mut m = meter(num_channels, sample_rate, Mode::I);
    let mut bufs = vec![vec![0.0f32; CHUNK]; num_channels];
    for start in (0..len).step_by(CHUNK) {
        let n = CHUNK.min(len - start);
        for b in &mut bufs {
            b.truncate(n);
        }
        fill(start, &mut bufs);
        let chunk: Vec<&[f32]> = bufs.iter().map(Vec::as_slice).collect();
        m.add_frames_planar_f32(&chunk).expect("channel count matches the meter");
    }
    finite_or_none(m.loudness_global().unwrap_or(f64::NEG_INFINITY))
}
