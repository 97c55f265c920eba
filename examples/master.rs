//! Masters one mix against one reference with the library's facade:
//! decode → analyze → match → render → write.
//!
//! `cargo run --release --example master -- MIX REFERENCE OUT.wav`
use std::path::PathBuf;

use automaster::{analyze, decode_file, match_profiles, render, write_wav, BitDepth, MatchSettings, NoProgress};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [mix, reference, out] = args.as_slice() else {
        return Err("usage: master MIX REFERENCE OUT.wav".into());
    };
    let mix_audio = decode_file(mix, &NoProgress)?;
    let target = analyze(&mix_audio, &mix.display().to_string(), &NoProgress)?;
    let reference = analyze(&decode_file(reference, &NoProgress)?, &reference.display().to_string(), &NoProgress)?;
    let plan = match_profiles(&target, &reference, &MatchSettings::default())?;
    let (mastered, report) = render(mix_audio, &plan, BitDepth::Int24, "mix", &NoProgress)?;
    write_wav(out, &mastered, BitDepth::Int24)?;
    println!(
        "{:.2} LUFS → {:.2} LUFS (target {:.2}), true peak {:.2} dBTP",
        target.loudness.integrated_lufs,
        report.output_lufs,
        plan.loudness.target_lufs,
        report.limit.output_true_peak_dbtp
    );
    Ok(())
}
