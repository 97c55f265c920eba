//! The analysis throughput bench command (issue: GPU analysis): gated STFT of 1, 10 and 100
//! three-minute stereo tracks at 44.1 kHz, FFT 4096 with 75 % overlap, on the CPU path and on the
//! GPU, decode excluded (tracks in memory) and included (16-bit WAV files decoded first).
//!
//!     cargo bench --bench analysis -- [--tracks 1,10,100] [--device cpu,gpu] [--seconds 180]
//!
//! Prints tracks/s and effective GB/s (f32 input bytes analysed per second), and checks that both
//! devices' spectra agree.
use std::time::Instant;

use automaster::internals::analysis::gpu::stft::Track;
use automaster::internals::analysis::gpu::{DeviceChoice, GpuContext};
use automaster::internals::analysis::spectrum::{gated_spectra, GatedSpectra, StftSettings};
use automaster::internals::io::decode::decode_file;
use automaster::internals::progress::NoProgress;

const FS: u32 = 44_100;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

/// A deterministic stereo track: filtered noise with a slow level contour, partly correlated.
fn track(seconds: f64, seed: u64) -> Vec<Vec<f32>> {
    let n = (seconds * f64::from(FS)) as usize;
    let mut rng = automaster::internals::testing::Rng::new(seed);
    let mut next = move || rng.unit() as f32 - 0.5;
    let (mut l, mut r) = (vec![0.0f32; n], vec![0.0f32; n]);
    let (mut a, mut b) = (0.0f32, 0.0f32);
    for i in 0..n {
        let level = 0.3 + 0.25 * ((i as f32 / FS as f32) * 0.7).sin();
        let common = next();
        a = 0.95 * a + 0.05 * common;
        b = 0.6 * b + 0.4 * next();
        l[i] = level * (a * 4.0 + 0.3 * b);
        r[i] = level * (a * 4.0 - 0.3 * b + 0.1 * next());
    }
    vec![l, r]
}

fn write_wav(path: &std::path::Path, channels: &[Vec<f32>]) {
    let spec =
        hound::WavSpec { channels: 2, sample_rate: FS, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample((ch[i].clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn analyse(
    device: &str,
    gpu: Option<&GpuContext>,
    tracks: &[Vec<Vec<f32>>],
    settings: &StftSettings,
) -> Vec<GatedSpectra> {
    let refs: Vec<Vec<&[f32]>> = tracks.iter().map(|t| t.iter().map(Vec::as_slice).collect()).collect();
    match device {
        "gpu" => {
            let batch: Vec<Track> =
                refs.iter().map(|c| Track { channels: c, sample_rate: FS, settings: settings.clone() }).collect();
            gpu.expect("GPU opened").gated_spectra(&batch, None).expect("GPU analysis")
        }
        _ => refs.iter().map(|c| gated_spectra(c, FS, settings)).collect(),
    }
}

fn main() {
    // As the binary runs (see `automaster::internals::fpenv`).
    automaster::internals::fpenv::flush_subnormals_everywhere().expect("rayon's pool not yet built");
    let counts: Vec<usize> = arg("--tracks", "1,10,100").split(',').map(|v| v.parse().expect("track count")).collect();
    let devices: Vec<String> = arg("--device", "cpu,gpu").split(',').map(str::to_string).collect();
    let seconds: f64 = arg("--seconds", "180").parse().expect("seconds");
    let settings = StftSettings { fft_size: 4096, hop: 1024, relative_gate_db: -20.0 };
    let gpu = if devices.iter().any(|d| d == "gpu") {
        GpuContext::new(DeviceChoice::Gpu).expect("a GPU adapter")
    } else {
        None
    };
    println!(
        "machine: {} cores; GPU: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        gpu.as_ref().map_or("-".into(), GpuContext::describe)
    );
    println!("{seconds} s stereo tracks at {FS} Hz, FFT {} hop {}", settings.fft_size, settings.hop);
    println!("| device | tracks | decode | wall s | tracks/s | GB/s (f32 in) |");
    println!("|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().expect("temp dir");
    let max = *counts.iter().max().unwrap_or(&1);
    let tracks: Vec<Vec<Vec<f32>>> = (0..max).map(|i| track(seconds, i as u64 + 1)).collect();
    let paths: Vec<std::path::PathBuf> = (0..max).map(|i| dir.path().join(format!("t{i}.wav"))).collect();
    for (t, p) in tracks.iter().zip(&paths) {
        write_wav(p, t);
    }
    let bytes_per_track = seconds * f64::from(FS) * 2.0 * 4.0;
    let mut reference: Option<Vec<GatedSpectra>> = None;
    for &count in &counts {
        for device in &devices {
            let t = Instant::now();
            let spectra = analyse(device, gpu.as_ref(), &tracks[..count], &settings);
            let wall = t.elapsed().as_secs_f64();
            println!(
                "| {device} | {count} | excluded | {wall:.3} | {:.2} | {:.3} |",
                count as f64 / wall,
                count as f64 * bytes_per_track / wall / 1e9
            );
            // Decode included: the files are decoded (on the CPU) and analysed in batches of 8.
            let t = Instant::now();
            for batch in paths[..count].chunks(8) {
                let decoded: Vec<Vec<Vec<f32>>> =
                    batch.iter().map(|p| decode_file(p, &NoProgress).expect("decode").channels).collect();
                analyse(device, gpu.as_ref(), &decoded, &settings);
            }
            let wall = t.elapsed().as_secs_f64();
            println!(
                "| {device} | {count} | included | {wall:.3} | {:.2} | {:.3} |",
                count as f64 / wall,
                count as f64 * bytes_per_track / wall / 1e9
            );
            match &reference {
                Some(r) => {
                    // Per bin, relative to the track's peak (the tests hold 2e-5; this is a sanity check).
                    for (a, b) in r.iter().zip(&spectra) {
                        let peak = a.mid_psd.iter().fold(0.0f64, |m, &v| m.max(v));
                        let worst =
                            a.mid_psd.iter().zip(&b.mid_psd).map(|(x, y)| (x - y).abs() / peak).fold(0.0f64, f64::max);
                        assert!(worst < 1e-4, "devices disagree by {worst} of the peak");
                    }
                }
                None => reference = Some(spectra),
            }
        }
    }
}
