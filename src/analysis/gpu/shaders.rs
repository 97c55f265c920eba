//! WGSL sources, assembled: `// import shared/NAME.wgsl` lines are replaced by that file, and each
//! stage gets the constants of its size prepended (WGSL has neither includes nor sized overrides
//! for everything we size). Validated by naga in the tests for every FFT size.

const SHARED: &[(&str, &str)] = &[
    ("shared/complex.wgsl", include_str!("../../../shaders/shared/complex.wgsl")),
    ("shared/stft_frame.wgsl", include_str!("../../../shaders/shared/stft_frame.wgsl")),
];

pub const FRAME_POWER: &str = include_str!("../../../shaders/frame_power.wgsl");
pub const STFT_POWER: &str = include_str!("../../../shaders/stft_power.wgsl");
pub const REDUCE_GROUPS: &str = include_str!("../../../shaders/reduce_groups.wgsl");

/// Invocations per workgroup of `stft_power` for an FFT of `fft_size` real points: 256, or fewer
/// so that each keeps at least four values (one radix-4 butterfly).
pub fn stft_threads(fft_size: usize) -> usize {
    (fft_size / 2 / 4).min(256)
}

/// Constants a stage is compiled with.
pub fn stft_constants(fft_size: usize) -> String {
    let half = fft_size / 2;
    let threads = stft_threads(fft_size);
    let per_thread = half / threads;
    format!(
        "const FFT_SIZE: u32 = {fft_size}u;\nconst HALF: u32 = {half}u;\nconst THREADS: u32 = {threads}u;\n\
         const PER_THREAD: u32 = {per_thread}u;\nconst PER_THREAD_BINS: u32 = {}u;\n",
        per_thread + 1
    )
}

/// `source` with its imports inlined and `constants` prepended.
pub fn assemble(source: &str, constants: &str) -> String {
    let mut out = String::from(constants);
    for line in source.lines() {
        match line.trim().strip_prefix("// import ") {
            Some(name) => {
                let (_, text) =
                    SHARED.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("unknown shader import {name}"));
                out.push_str(text);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(label: &str, source: &str) {
        let module =
            naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
    }

    /// A broken shader fails here, in CI, not in a user's run.
    #[test]
    fn every_stage_validates_at_every_fft_size() {
        for fft_size in [1024, 2048, 4096, 8192, 16384] {
            let c = stft_constants(fft_size);
            validate(&format!("frame_power {fft_size}"), &assemble(FRAME_POWER, &c));
            validate(&format!("stft_power {fft_size}"), &assemble(STFT_POWER, &c));
        }
        validate("reduce_groups", &assemble(REDUCE_GROUPS, ""));
    }
}
