//! Delivery: sample-rate conversion and dither, measured with tones against exact f64 sines.
mod common;

use automaster::internals::audio::AudioBuffer;
use automaster::internals::dsp::resample::resample;
use automaster::internals::model::{BitDepth, Dither};
use automaster::internals::render::dither::quantize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RATES: [u32; 4] = [44_100, 48_000, 88_200, 96_000];

fn tone(freq_hz: f64, fs: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
    let n = (seconds * f64::from(fs)) as usize;
    (0..n).map(|i| (amplitude * (std::f64::consts::TAU * freq_hz * i as f64 / f64::from(fs)).sin()) as f32).collect()
}

/// The samples away from both ends (the resampler's filter rings in from the silence outside).
fn middle(x: &[f32]) -> &[f32] {
    &x[x.len() / 5..x.len() * 4 / 5]
}

/// Amplitude of `freq_hz` in `x` (offset `start` samples into its signal) by a least-squares fit of
/// a cosine and a sine: exact for a pure tone whatever the number of periods.
fn amplitude(x: &[f32], start: usize, freq_hz: f64, fs: u32) -> f64 {
    let w = std::f64::consts::TAU * freq_hz / f64::from(fs);
    let (mut cc, mut ss, mut cs, mut xc, mut xs) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let (s, c) = (w * (start + i) as f64).sin_cos();
        let v = f64::from(v);
        cc += c * c;
        ss += s * s;
        cs += c * s;
        xc += v * c;
        xs += v * s;
    }
    let det = cc * ss - cs * cs;
    let (a, b) = ((xc * ss - xs * cs) / det, (xs * cc - xc * cs) / det);
    a.hypot(b)
}

fn rms_db(x: &[f32]) -> f64 {
    let p = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64;
    10.0 * p.max(1e-40).log10()
}

/// Every pair among 44.1/48/88.2/96 kHz: flat within ±0.01 dB from 20 Hz to 20 kHz, a 997 Hz
/// tone's residual against the exact sine at the output rate ≤ −120 dB, tones above the output's
/// Nyquist (downsampling) gone to ≤ −120 dB, and the output exactly ⌈n·out/in⌉ frames long.
#[test]
fn conversion_between_every_rate_pair_is_flat_clean_and_aligned() {
    let (mut worst_pass, mut worst_residual, mut worst_alias) = (0.0f64, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &from in &RATES {
        for &to in &RATES {
            if from == to {
                continue;
            }
            let seconds = 0.5;
            for f in [20.0, 100.0, 997.0, 5_000.0, 10_000.0, 15_000.0, 19_000.0, 20_000.0] {
                let x = tone(f, from, seconds, 0.5);
                let y = resample(AudioBuffer::new(from, vec![x.clone()]), to).unwrap();
                assert_eq!(y.sample_rate, to);
                assert_eq!(y.frames(), (x.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize);
                let ch = &y.channels[0];
                let start = ch.len() / 5;
                let gain_db = 20.0 * (amplitude(middle(ch), start, f, to) / 0.5).log10();
                worst_pass = worst_pass.max(gain_db.abs());
                assert!(gain_db.abs() <= 0.01, "{from} → {to}: {f} Hz at {gain_db:+.4} dB");
                if f == 997.0 {
                    let ideal = tone(f, to, seconds, 0.5);
                    let residual: Vec<f32> = middle(ch).iter().zip(&ideal[start..]).map(|(&a, &b)| a - b).collect();
                    let db = rms_db(&residual) - rms_db(middle(&ideal));
                    worst_residual = worst_residual.max(db);
                    assert!(db <= -120.0, "{from} → {to}: 997 Hz residual {db:.1} dB");
                }
            }
            if to < from {
                let nyquist = f64::from(to) / 2.0;
                let mut f = nyquist * 1.005;
                while f < f64::from(from) / 2.0 * 0.98 {
                    let x = tone(f, from, seconds, 0.5);
                    let y = resample(AudioBuffer::new(from, vec![x]), to).unwrap();
                    let db = rms_db(middle(&y.channels[0])) - rms_db(&tone(997.0, to, seconds, 0.5));
                    worst_alias = worst_alias.max(db);
                    assert!(db <= -120.0, "{from} → {to}: {f:.0} Hz left {db:.1} dB");
                    f *= 1.15;
                }
            } else {
                // Upsampling makes no images above the input's band.
                let x = tone(15_000.0, from, seconds, 0.5);
                let y = resample(AudioBuffer::new(from, vec![x]), to).unwrap();
                let image = f64::from(from) - 15_000.0;
                let amp = amplitude(middle(&y.channels[0]), y.frames() / 5, image, to);
                let db = 20.0 * (amp / 0.5).log10();
                worst_alias = worst_alias.max(db);
                assert!(db <= -120.0, "{from} → {to}: image at {image} Hz at {db:.1} dB");
            }
        }
    }
    eprintln!("SRC: passband worst {worst_pass:.5} dB, 997 Hz residual worst {worst_residual:.1} dB, alias/image worst {worst_alias:.1} dB");
}

/// Power of `x` in [lo, hi] Hz per Welch (Hann, 4096 points, half overlap), in dB re 1.
fn band_power_db(x: &[f64], fs: u32, lo: f64, hi: f64) -> f64 {
    use realfft::RealFftPlanner;
    let n = 4096;
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let window: Vec<f64> = (0..n).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()).collect();
    let w2: f64 = window.iter().map(|w| w * w).sum();
    let (mut acc, mut frames) = (vec![0.0f64; n / 2 + 1], 0);
    let mut spec = fft.make_output_vec();
    for start in (0..x.len().saturating_sub(n)).step_by(n / 2) {
        let mut frame: Vec<f64> = x[start..start + n].iter().zip(&window).map(|(v, w)| v * w).collect();
        fft.process(&mut frame, &mut spec).unwrap();
        acc.iter_mut().zip(&spec).for_each(|(a, c)| *a += c.norm_sqr());
        frames += 1;
    }
    // Parseval: the bins' one-sided sum over the window's energy is the mean power.
    let bin = f64::from(fs) / n as f64;
    let p: f64 = acc
        .iter()
        .enumerate()
        .filter(|(k, _)| (lo..=hi).contains(&(*k as f64 * bin)))
        .map(|(k, a)| if k == 0 || k == n / 2 { *a } else { 2.0 * a })
        .sum::<f64>()
        / (frames as f64 * w2 * n as f64);
    10.0 * p.log10()
}

/// The quantisation error (LSB) of `x` rounded to 16 bits with `dither`.
fn error_lsb(x: &[f32], fs: u32, dither: Dither) -> Vec<f64> {
    let mut b = AudioBuffer::new(fs, vec![x.to_vec()]);
    quantize(&mut b, BitDepth::Int16, dither);
    b.channels[0].iter().zip(x).map(|(&q, &v)| (f64::from(q) - f64::from(v)) * 32768.0).collect()
}

/// TPDF: error power q²/4 (within 0.2 dB) on silence-like, quiet and loud signals alike. Shaped:
/// at least 7 dB less in 1–5 kHz than TPDF at 44.1 and 48 kHz. None: the error follows the signal.
#[test]
fn dither_statistics() {
    let mut rng = common::Rng::new(5);
    for fs in [44_100u32, 48_000] {
        let n = 4 * fs as usize;
        let quiet: Vec<f32> = tone(440.0, fs, 4.0, 3.0 / 32768.0);
        let loud: Vec<f32> = tone(997.0, fs, 4.0, 0.5).iter().map(|&v| v + (rng.signed() * 1e-3) as f32).collect();
        let dc = vec![(0.25 / 32768.0) as f32; n];
        let power = |e: &[f64]| 10.0 * (e.iter().map(|v| v * v).sum::<f64>() / e.len() as f64).log10();
        let expected = 10.0 * 0.25f64.log10();
        for (name, x) in [("quiet sine", &quiet), ("loud sine", &loud), ("DC", &dc)] {
            let e = error_lsb(x, fs, Dither::Tpdf);
            let p = power(&e);
            assert!((p - expected).abs() <= 0.2, "{fs} Hz TPDF on {name}: {p:.2} dB vs {expected:.2}");
            let tpdf_band = band_power_db(&e, fs, 1_000.0, 5_000.0);
            let shaped_band = band_power_db(&error_lsb(x, fs, Dither::Shaped), fs, 1_000.0, 5_000.0);
            eprintln!(
                "{fs} Hz {name}: TPDF {p:.2} dB LSB² in all; 1–5 kHz TPDF {tpdf_band:.1}, shaped {shaped_band:.1} dB"
            );
            assert!(
                tpdf_band - shaped_band >= 7.0,
                "{fs} Hz {name}: shaped only {:.1} dB under",
                tpdf_band - shaped_band
            );
        }
        // Without dither a DC a quarter LSB off the grid always rounds the same way: an error
        // that is the signal (−0.25 LSB every sample), what dither exists to prevent.
        let e = error_lsb(&dc, fs, Dither::None);
        assert!(e.iter().all(|&v| (v + 0.25).abs() < 1e-9));
    }
    // `auto` is shaped for 16 bits at 44.1/48 kHz only.
    assert_eq!(Dither::Auto.resolve(BitDepth::Int16, 44_100), Dither::Shaped);
    assert_eq!(Dither::Auto.resolve(BitDepth::Int16, 96_000), Dither::Tpdf);
    assert_eq!(Dither::Auto.resolve(BitDepth::Int24, 48_000), Dither::Tpdf);
}

// ---- Through the command line: FLAC, tags, platforms. ----

const FS: u32 = 44_100;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_automaster")).args(args).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A tool from Debian's `flac` or `ffmpeg` package: there under CI (`.ci/run` installs them);
/// elsewhere a test that needs it says so and stops.
fn tool(name: &str) -> Option<Command> {
    let flag = if name == "ffmpeg" { "-version" } else { "--version" };
    let found = Command::new(name).arg(flag).output().is_ok_and(|o| o.status.success());
    assert!(found || std::env::var_os("CI").is_none(), "{name} is needed under CI");
    if !found {
        eprintln!("{name} not installed: skipped");
    }
    found.then(|| Command::new(name))
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture { dir: tempfile::tempdir().unwrap() };
        let mut mix = common::synthetic_mix(6.0, FS, 31);
        common::normalize_peak(&mut mix, 0.3);
        common::write_wav_f32(&f.path("mix.wav"), &mix, FS);
        let mut reference = common::synthetic_mix(6.0, FS, 32);
        common::normalize_peak(&mut reference, 0.95);
        common::write_wav_f32(&f.path("ref.wav"), &reference, FS);
        f
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn master(&self, output: &Path, extra: &[&str]) -> Output {
        let (mix, reference) = (self.path("mix.wav"), self.path("ref.wav"));
        let mut args = vec!["master", s(&mix), "-r", s(&reference), "-o", s(output), "--quiet"];
        args.extend(extra);
        run(&args)
    }
}

fn decode(path: &Path) -> AudioBuffer {
    automaster::decode_file(path, &automaster::NoProgress).unwrap()
}

const TAGS: [&str; 14] = [
    "--title",
    "Night Drive",
    "--artist",
    "The Testers",
    "--album",
    "Oracles",
    "--track",
    "3/12",
    "--date",
    "2026",
    "--isrc",
    "GB-AYE-06-01498",
    "--genre",
    "Electronic",
];

/// FLAC at 16 and 24 bits, converted to 48 kHz: `flac -t` passes (it checks the STREAMINFO MD5
/// against every decoded sample), it decodes to exactly the samples of the WAV written with the
/// same options, its size is within 5 % of `flac -8`'s, and metaflac reads its Vorbis comments.
#[test]
fn flac_is_valid_bit_exact_compact_and_tagged() {
    let f = Fixture::new();
    for bits in ["16", "24"] {
        let (flac_out, wav_out) = (f.path(&format!("m{bits}.flac")), f.path(&format!("m{bits}.wav")));
        let options = [&["--bit-depth", bits, "--sample-rate", "48000"][..], &TAGS[..]].concat();
        ok(&f.master(&flac_out, &options));
        ok(&f.master(&wav_out, &options));
        let (a, b) = (decode(&flac_out), decode(&wav_out));
        assert_eq!((a.sample_rate, b.sample_rate), (48_000, 48_000));
        assert_eq!(a.frames(), (6 * 44_100u64 * 48_000).div_ceil(44_100) as usize);
        assert!(a.channels == b.channels, "{bits}-bit: FLAC and WAV hold different samples");
        let Some(mut flac) = tool("flac") else { return };
        assert!(flac.args(["-t", "-s", s(&flac_out)]).status().unwrap().success(), "flac -t failed");
        let md5 = ok(&tool("metaflac").unwrap().args(["--show-md5sum", s(&flac_out)]).output().unwrap());
        assert_ne!(md5.trim(), "0".repeat(32), "no MD5 in STREAMINFO");
        let tags = ok(&tool("metaflac").unwrap().args(["--export-tags-to=-", s(&flac_out)]).output().unwrap());
        for expected in
            ["TITLE=Night Drive", "ARTIST=The Testers", "ALBUM=Oracles", "TRACKNUMBER=3", "ISRC=GBAYE0601498"]
        {
            assert!(tags.lines().any(|l| l == expected), "{expected} missing from:\n{tags}");
        }
        let best = f.path("best.flac");
        let status = tool("flac").unwrap().args(["-8", "-s", "-f", "-o", s(&best), s(&wav_out)]).status().unwrap();
        assert!(status.success());
        let ratio = std::fs::metadata(&flac_out).unwrap().len() as f64 / std::fs::metadata(&best).unwrap().len() as f64;
        eprintln!("{bits}-bit FLAC size / flac -8: {ratio:.4}");
        assert!(ratio <= 1.05, "{bits}-bit FLAC is {:.1} % larger than flac -8's", (ratio - 1.0) * 100.0);
    }
}

/// WAV: ID3v2 with the ISRC as TSRC, RIFF INFO with the title (and no INFO ISRC, which means the
/// source there), read back from the bytes and by lofty; the same master written twice is the same
/// bytes; the target's own tags carry over unless a flag overrides them.
#[test]
fn wav_tags_and_the_targets_own_carry_over() {
    use lofty::prelude::*;
    let f = Fixture::new();
    let out = f.path("m.wav");
    ok(&f.master(&out, &TAGS));
    let bytes = std::fs::read(&out).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"TSRC") && has(b"GBAYE0601498"), "no ID3 TSRC frame");
    assert!(has(b"INFO") && has(b"INAM") && has(b"Night Drive"), "no RIFF INFO title");
    assert!(!has(b"ISRC"), "RIFF INFO ISRC written");
    let tagged = lofty::read_from_path(&out).unwrap();
    let id3 = tagged.tag(lofty::tag::TagType::Id3v2).expect("ID3v2 tag");
    assert_eq!(id3.get_string(lofty::tag::ItemKey::Isrc), Some("GBAYE0601498"));
    assert_eq!(id3.track(), Some(3));
    // The same master is the same bytes, tags included (their seven ID3 frames in one order).
    let twice = f.path("twice.wav");
    ok(&f.master(&twice, &TAGS));
    assert!(std::fs::read(&twice).unwrap() == bytes, "the same master written twice differs");
    // Mastered again from the tagged master as a target: its tags come along, a flag overrides one.
    let again = f.path("again.wav");
    let o = run(&["master", s(&out), "-r", s(&f.path("ref.wav")), "-o", s(&again), "--title", "Other", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(summary["tags"]["title"], "Other");
    assert_eq!(summary["tags"]["artist"], "The Testers");
    assert_eq!(summary["tags"]["isrc"], "GBAYE0601498");
    let tagged = lofty::read_from_path(&again).unwrap();
    let id3 = tagged.tag(lofty::tag::TagType::Id3v2).unwrap();
    assert_eq!(id3.title().as_deref(), Some("Other"));
    assert_eq!(id3.artist().as_deref(), Some("The Testers"));
}

/// A malformed ISRC, a FLAC in float and an impossible rate are refused at once, with one line,
/// before any work and without an output.
#[test]
fn bad_delivery_options_are_refused_before_any_work() {
    let f = Fixture::new();
    for (args, needle, out) in [
        (&["--isrc", "GB-AYE-06-0149"][..], "ISRC", "a.wav"),
        (&["--isrc", "G1AYE0601498"][..], "ISRC", "b.flac"),
        (&["--bit-depth", "32f"][..], "FLAC", "c.flac"),
        (&["--sample-rate", "1000"][..], "sample-rate", "d.wav"),
        (&["--track", "0"][..], "track", "e.wav"),
        (&["--platform", "myspace"][..], "platform", "f.wav"),
    ] {
        let path = f.path(out);
        let t = std::time::Instant::now();
        let o = f.master(&path, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.to_lowercase().contains(&needle.to_lowercase()), "{err}");
        assert!(!path.exists() && t.elapsed().as_secs_f64() < 1.0, "{args:?}: work was done");
    }
}

/// Every platform in one delivery pack (one analysis, one matching): each file at its platform's
/// loudness within 0.1 LU (ebur128; the reference's where the platform does not normalise), its
/// true peak under its ceiling by the 16× FFT meter after the final quantisation, at its rate and
/// depth; vinyl's bass in mono. Explicit flags win over a platform's values.
#[test]
fn a_delivery_pack_meets_every_platforms_figures() {
    use automaster::internals::model::platform::PLATFORMS;
    let f = Fixture::new();
    let dir = f.path("pack");
    std::fs::create_dir(&dir).unwrap();
    let mut args = vec![];
    for p in PLATFORMS {
        args.extend(["--platform", p.name]);
    }
    let stdout = ok(&f.master(&dir, &args));
    eprintln!("{stdout}");
    let reference = common::read_wav(&f.path("ref.wav"));
    let reference_lufs = common::ebur128_lufs(&reference.0, reference.1);
    for p in PLATFORMS {
        let path = dir.join(format!("mix.{}.wav", p.name));
        let (channels, fs) = common::read_wav(&path);
        assert!(dir.join(format!("mix.{}.wav.plan.json", p.name)).exists());
        let bits = hound::WavReader::open(&path).unwrap().spec().bits_per_sample;
        assert_eq!((fs, bits), (p.sample_rate_hz, p.bit_depth.int_bits().unwrap()), "{}", p.name);
        let lufs = common::ebur128_lufs(&channels, fs);
        let tp = common::true_peak_db_fft16(&channels, fs);
        let target = p.target_lufs.unwrap_or(reference_lufs);
        eprintln!("{:<12} {lufs:7.2} LUFS (target {target:.2}), {tp:6.2} dBTP (ceiling {:.1})", p.name, p.ceiling_dbtp);
        assert!((lufs - target).abs() <= 0.1, "{}: {lufs:.2} LUFS for {target:.2}", p.name);
        assert!(tp <= p.ceiling_dbtp, "{}: {tp:.3} dBTP over {:.1}", p.name, p.ceiling_dbtp);
        if let Some(mono_hz) = p.bass_mono_hz {
            let (mid, side, centres) = common::third_octave_levels(&channels, fs);
            for ((m, s), c) in mid.iter().zip(&side).zip(&centres) {
                if *c < mono_hz / 2.0 {
                    assert!(s - m < -30.0, "{}: side {:.1} dB under mid at {c:.0} Hz", p.name, m - s);
                }
            }
        }
    }
    let out = f.path("deezer24.wav");
    ok(&f.master(&out, &["--platform", "deezer", "--bit-depth", "24", "--lufs", "-12"]));
    let (channels, fs) = common::read_wav(&out);
    assert_eq!(hound::WavReader::open(&out).unwrap().spec().bits_per_sample, 24);
    assert!((common::ebur128_lufs(&channels, fs) + 12.0).abs() <= 0.1);
}

/// The lag (−`max_lag` … `max_lag`) at which `y` best matches `x`, over a second from the middle.
fn best_lag(x: &[f32], y: &[f32], fs: u32, max_lag: usize) -> isize {
    let (start, len) = (x.len() / 2, fs as usize);
    let score = |lag: isize| -> f64 {
        (start..start + len).map(|i| f64::from(x[i]) * f64::from(y[(i as isize + lag) as usize])).sum::<f64>()
    };
    (-(max_lag as isize)..=max_lag as isize).max_by(|&a, &b| score(a).total_cmp(&score(b))).unwrap()
}

/// A minute of mix encoded by ffmpeg (AAC in M4A, MP3 by LAME, Opus in Ogg) masters through the
/// CLI to exactly the source's length and alignment: the encoder's priming and padding are gone
/// (the MP4 edit list, the LAME header, Opus's pre-skip and end granule).
#[test]
fn lossy_inputs_master_to_the_sources_length_and_alignment() {
    let Some(_) = tool("ffmpeg") else { return };
    let f = Fixture::new();
    for (codec, ext, fs) in [("aac", "m4a", 44_100), ("libmp3lame", "mp3", 44_100), ("libopus", "opus", 48_000)] {
        let mut mix = common::synthetic_mix(60.0, fs, 41);
        common::normalize_peak(&mut mix, 0.4);
        let (source, encoded, out) =
            (f.path(&format!("src{fs}.wav")), f.path(&format!("mix.{ext}")), f.path("out.wav"));
        common::write_wav_f32(&source, &mix, fs);
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i", s(&source), "-c:a", codec, "-b:a", "192k", s(&encoded)])
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg {codec}");
        let (mix_path, reference) = (s(&encoded).to_string(), f.path("ref.wav"));
        ok(&run(&["master", &mix_path, "-r", s(&reference), "-o", s(&out), "--quiet", "--device", "cpu"]));
        let master = decode(&out);
        assert_eq!(master.sample_rate, fs, "{ext}");
        assert_eq!(master.frames(), mix[0].len(), "{ext}: {} frames for {}", master.frames(), mix[0].len());
        let lag = best_lag(&mix[0], &master.channels[0], fs, 2048);
        assert_eq!(lag, 0, "{ext}: the master lags the source by {lag} samples");
    }
}

/// A lossy file cut to a third (Ogg Vorbis and Opus: no end-of-stream page; MP3: fewer frames than
/// its LAME header announces) is refused with a one-line error, and masters what it holds with
/// `--allow-truncated`.
#[test]
fn truncated_lossy_inputs_are_refused_unless_allowed() {
    let Some(_) = tool("ffmpeg") else { return };
    let f = Fixture::new();
    let source = f.path("mix.wav");
    for (codec, ext) in [("libvorbis", "ogg"), ("libopus", "opus"), ("libmp3lame", "mp3")] {
        let whole = f.path(&format!("whole.{ext}"));
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i", s(&source), "-c:a", codec, s(&whole)])
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg {codec}");
        let bytes = std::fs::read(&whole).unwrap();
        let cut = f.path(&format!("cut.{ext}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
        let out = f.path(&format!("out-{ext}.wav"));
        let reference = f.path("ref.wav");
        let refused = run(&["master", s(&cut), "-r", s(&reference), "-o", s(&out), "--quiet", "--device", "cpu"]);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && err.contains("truncated") && err.lines().count() == 1, "{ext}: {err}");
        assert!(!out.exists());
        let args =
            ["master", s(&cut), "-r", s(&reference), "-o", s(&out), "--quiet", "--device", "cpu", "--allow-truncated"];
        ok(&run(&args));
        // What the cut holds: a part (its pages and frames are whole seconds apart at most), not all.
        let frames = decode(&out).frames() as f64 / (6.0 * f64::from(FS));
        assert!((0.1..0.4).contains(&frames), "{ext}: {frames:.3} of the whole from a third of its bytes");
        // The whole file is not refused.
        ok(&run(&["master", s(&whole), "-r", s(&reference), "-o", s(&out), "--quiet", "--device", "cpu"]));
    }
}

/// The true peak of `path` after ffmpeg's libopus at `kbps` (the same library as the check, but
/// its own encoder setup, Ogg muxing and decoder), by the 16× FFT meter.
fn true_peak_after_ffmpeg_opus(f: &Fixture, path: &Path, kbps: u32) -> f64 {
    let (opus, decoded) = (f.path("check.opus"), f.path("check.wav"));
    let bitrate = format!("{kbps}k");
    let encode = ["-v", "error", "-y", "-i", s(path), "-c:a", "libopus", "-b:a", &bitrate, s(&opus)];
    assert!(Command::new("ffmpeg").args(encode).status().unwrap().success());
    let decode = ["-v", "error", "-y", "-i", s(&opus), "-c:a", "pcm_f32le", s(&decoded)];
    assert!(Command::new("ffmpeg").args(decode).status().unwrap().success());
    let (channels, fs) = common::read_wav(&decoded);
    common::true_peak_db_fft16(&channels, fs)
}

/// `--codec-check`: a loud master whose peaks Opus pushes over the ceiling is rendered again with
/// the limiter's ceiling lowered until ffmpeg's own Opus transcode of the written file holds the
/// ceiling too; the summary's post-codec peak agrees with ffmpeg's, the loudness stays on target,
/// and the plan re-renders the output bit for bit.
#[test]
fn codec_check_holds_the_ceiling_after_opus() {
    let Some(_) = tool("ffmpeg") else { return };
    let f = Fixture::new();
    let common_args = ["--platform", "spotify", "--lufs", "-9", "--sample-rate", "48000", "--device", "cpu"];
    let plain = f.path("plain.wav");
    ok(&f.master(&plain, &common_args));
    let plain_peak = true_peak_after_ffmpeg_opus(&f, &plain, 160);
    eprintln!("without the check: {plain_peak:.2} dBTP after Opus");
    assert!(plain_peak > -1.0, "the fixture must overshoot after Opus for this test to mean anything");

    let (checked, plan) = (f.path("checked.wav"), f.path("checked.plan.json"));
    let args = [&common_args[..], &["--codec-check", "--json", "--plan-out", s(&plan)]].concat();
    let summary: serde_json::Value = serde_json::from_str(&ok(&f.master(&checked, &args))).unwrap();
    let check = &summary["codec_check"];
    eprintln!("{check:#}");
    assert_eq!((check["codec"].as_str(), check["bitrate_kbps"].as_u64()), (Some("opus"), Some(160)));
    let rounds = check["rounds"].as_array().unwrap();
    assert!(rounds.len() >= 2, "an overshooting master takes another round");
    let last_ceiling = rounds.last().unwrap()["limiter_ceiling_dbtp"].as_f64().unwrap();
    assert!(last_ceiling < -1.0 && check["passed"].as_bool() == Some(true));
    assert_eq!(summary["ceiling_dbtp"].as_f64(), Some(-1.0));
    let reported = check["post_codec_true_peak_dbtp"].as_f64().unwrap();
    let measured = true_peak_after_ffmpeg_opus(&f, &checked, 160);
    eprintln!("with the check: {measured:.2} dBTP after ffmpeg's Opus, {reported:.2} reported");
    assert!(measured <= -1.0, "{measured:.3} dBTP after ffmpeg's Opus");
    assert!((measured - reported).abs() <= 0.05, "{measured:.3} measured, {reported:.3} reported");
    let (channels, fs) = common::read_wav(&checked);
    assert!((common::ebur128_lufs(&channels, fs) + 9.0).abs() <= 0.1);
    assert!(common::true_peak_db_fft16(&channels, fs) <= last_ceiling + 0.01);

    let again = f.path("again.wav");
    ok(&run(&[
        "render",
        s(&f.path("mix.wav")),
        "--plan",
        s(&plan),
        "-o",
        s(&again),
        "--quiet",
        "--sample-rate",
        "48000",
    ]));
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&checked).unwrap(), "render --plan differs");
}

/// A target carrying malformed tags of its own (track 0, a broken ISRC, as real files do) still
/// masters: those are dropped, the well-formed ones carry over.
#[test]
fn a_targets_malformed_tags_are_dropped_not_refused() {
    let (Some(mut ffmpeg), Some(mut metaflac)) = (tool("ffmpeg"), tool("metaflac")) else { return };
    let f = Fixture::new();
    let (mix, target) = (f.path("mix.wav"), f.path("tagged.flac"));
    let encode = ["-v", "error", "-i", s(&mix), "-c:a", "flac", "-sample_fmt", "s32", s(&target)];
    assert!(ffmpeg.args(encode).status().unwrap().success());
    let tags = ["--set-tag=TRACKNUMBER=0", "--set-tag=ISRC=NOT-A-CODE", "--set-tag=TITLE=Kept", s(&target)];
    assert!(metaflac.args(tags).status().unwrap().success());
    let out = f.path("m.wav");
    let o = run(&["master", s(&target), "-r", s(&f.path("ref.wav")), "-o", s(&out), "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(summary["tags"]["title"], "Kept");
    assert!(summary["tags"]["track"].is_null() && summary["tags"]["isrc"].is_null(), "{}", summary["tags"]);
}

// ---- `automaster deliver`: a finished master, no matching. ----

/// `channels` as integer PCM WAV of `bits`, rounded to that grid.
fn write_wav_int(path: &Path, channels: &[Vec<f32>], fs: u32, bits: u16) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: fs,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let scale = f64::from(1u32 << (bits - 1));
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample((f64::from(ch[i]) * scale).round().clamp(-scale, scale - 1.0) as i32).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn pcm(path: &Path) -> Vec<i32> {
    hound::WavReader::open(path).unwrap().samples::<i32>().map(Result::unwrap).collect()
}

fn deliver(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["deliver", "--quiet", "--json"];
    all.extend(args);
    serde_json::from_str(&ok(&run(&all))).unwrap()
}

/// A master already within its ceiling, delivered at its own rate and depth (WAV and FLAC), comes
/// out sample for sample as it went in: no gain, no limiting, no dither (its samples already lie on
/// the grid), its bit depth kept without being asked.
#[test]
fn deliver_passes_a_compliant_master_untouched() {
    let f = Fixture::new();
    let mut master = common::synthetic_mix(6.0, FS, 51);
    common::normalize_peak(&mut master, 0.5);
    let input = f.path("master16.wav");
    write_wav_int(&input, &master, FS, 16);
    let (channels, _) = common::read_wav(&input);
    assert!(common::true_peak_db_fft16(&channels, FS) < -3.0);
    let (wav, flac) = (f.path("d.wav"), f.path("d.flac"));
    let summary = deliver(&[s(&input), "-o", s(&wav), "--title", "Kept"]);
    assert_eq!((summary["dither"].as_str(), summary["bit_depth"].as_str()), (Some("none"), Some("16")), "{summary}");
    assert_eq!(summary["render"]["gain_db"].as_f64(), Some(0.0));
    assert_eq!(summary["render"]["max_gain_reduction_db"].as_f64(), Some(0.0));
    assert_eq!(summary["tags"]["title"], "Kept");
    assert_eq!(hound::WavReader::open(&wav).unwrap().spec().bits_per_sample, 16);
    assert!(pcm(&wav) == pcm(&input), "the delivered WAV differs from the master");
    deliver(&[s(&input), "-o", s(&flac)]);
    assert!(decode(&flac).channels == decode(&input).channels, "the delivered FLAC differs from the master");
}

/// A master whose true peak is over the ceiling is limited to it (the 16× FFT meter, after the
/// final quantisation) and otherwise left at its loudness; one converted from 48 kHz/24 to
/// 44.1 kHz/16 keeps its loudness and holds the ceiling at the new rate, with shaped dither.
#[test]
fn deliver_limits_only_overs_and_converts() {
    let f = Fixture::new();
    let mut master = common::synthetic_mix(6.0, 48_000, 52);
    common::normalize_peak(&mut master, 0.99);
    let input = f.path("hot.wav");
    write_wav_int(&input, &master, 48_000, 24);
    let (channels, _) = common::read_wav(&input);
    let (tp_in, lufs_in) = (common::true_peak_db_fft16(&channels, 48_000), common::ebur128_lufs(&channels, 48_000));
    assert!(tp_in > -1.0, "the master must be over the ceiling: {tp_in:.2} dBTP");
    let out = f.path("limited.wav");
    let summary = deliver(&[s(&input), "-o", s(&out)]);
    let (got, fs) = common::read_wav(&out);
    assert_eq!((fs, hound::WavReader::open(&out).unwrap().spec().bits_per_sample), (48_000, 24));
    let tp = common::true_peak_db_fft16(&got, fs);
    let lufs = common::ebur128_lufs(&got, fs);
    eprintln!("over: {tp_in:.2} -> {tp:.2} dBTP, {lufs_in:.2} -> {lufs:.2} LUFS");
    assert!(tp <= -1.0, "{tp:.3} dBTP");
    assert!(summary["render"]["max_gain_reduction_db"].as_f64().unwrap() > 0.0);
    assert!((lufs - lufs_in).abs() < 0.2, "limiting the overs moved the loudness {:.2} LU", lufs - lufs_in);
    assert_eq!(summary["render"]["gain_db"].as_f64(), Some(0.0));

    let cd = f.path("cd.flac");
    let summary = deliver(&[s(&input), "-o", s(&cd), "--sample-rate", "44100", "--bit-depth", "16"]);
    assert_eq!(summary["dither"].as_str(), Some("shaped"));
    let got = decode(&cd);
    assert_eq!((got.sample_rate, got.frames()), (44_100, 6 * 44_100));
    let tp = common::true_peak_db_fft16(&got.channels, 44_100);
    let lufs = common::ebur128_lufs(&got.channels, 44_100);
    eprintln!("48/24 -> 44.1/16: {tp:.2} dBTP, {lufs:.2} LUFS");
    assert!(tp <= -1.0 && (lufs - lufs_in).abs() < 0.3, "{tp:.3} dBTP, {lufs:.2} LUFS");
}

/// A platform asks for a loudness: a quiet master is raised to it (by the limiter where its peaks
/// need it) and a loud one turned down, each within 0.1 LU and under the platform's ceiling at its
/// rate; `--keep-loudness` keeps the master's; several platforms with `-o DIR` deliver a pack.
#[test]
fn deliver_reaches_a_platforms_loudness() {
    let f = Fixture::new();
    let mut master = common::synthetic_mix(6.0, FS, 53);
    common::normalize_peak(&mut master, 0.9);
    let input = f.path("master.wav");
    write_wav_int(&input, &master, FS, 24);
    let (channels, _) = common::read_wav(&input);
    let lufs_in = common::ebur128_lufs(&channels, FS);
    for (platform, lufs) in [("ebu-r128", None), ("spotify", None), ("spotify", Some("-8"))] {
        let out = f.path(&format!("{platform}.wav"));
        let mut args = vec![s(&input), "-o", s(&out), "--platform", platform];
        if let Some(l) = lufs {
            args.extend(["--lufs", l]);
        }
        deliver(&args);
        let p = automaster::internals::model::Platform::named(platform).unwrap();
        let target = lufs.map_or(p.target_lufs.unwrap(), |l| l.parse().unwrap());
        let (got, fs) = common::read_wav(&out);
        assert_eq!(fs, p.sample_rate_hz);
        let (got_lufs, tp) = (common::ebur128_lufs(&got, fs), common::true_peak_db_fft16(&got, fs));
        eprintln!("{platform} {lufs:?}: {lufs_in:.2} -> {got_lufs:.2} LUFS, {tp:.2} dBTP");
        assert!((got_lufs - target).abs() <= 0.1, "{platform}: {got_lufs:.2} LUFS for {target}");
        assert!(tp <= p.ceiling_dbtp, "{platform}: {tp:.3} dBTP");
    }
    let kept = f.path("kept.wav");
    deliver(&[s(&input), "-o", s(&kept), "--platform", "spotify", "--keep-loudness"]);
    let (got, fs) = common::read_wav(&kept);
    assert!((common::ebur128_lufs(&got, fs) - lufs_in).abs() < 0.3);

    let dir = f.path("pack");
    std::fs::create_dir(&dir).unwrap();
    let o = run(&["deliver", s(&input), "-o", s(&dir), "--platform", "cd", "--platform", "youtube", "--quiet"]);
    let table = ok(&o);
    assert!(table.contains("cd") && table.contains("youtube"), "{table}");
    assert_eq!(decode(&dir.join("master.cd.wav")).sample_rate, 44_100);
    assert_eq!(decode(&dir.join("master.youtube.wav")).sample_rate, 48_000);
}

/// A missing, silent or same-as-output input is refused with one line, nothing written.
#[test]
fn deliver_refuses_bad_input() {
    let f = Fixture::new();
    let silent = f.path("silent.wav");
    write_wav_int(&silent, &[vec![0.0; 44_100], vec![0.0; 44_100]], FS, 16);
    let out = f.path("out.wav");
    for args in [
        vec!["deliver", "missing.wav", "-o", s(&out)],
        vec!["deliver", s(&silent), "-o", s(&out)],
        vec!["deliver", s(&silent), "-o", s(&silent)],
        vec!["deliver", s(&f.path("mix.wav")), "-o", s(&out), "--lufs", "-90"],
        vec!["deliver", s(&f.path("mix.wav")), "-o", s(&out), "--isrc", "XX"],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.starts_with("error: ") && err.lines().count() == 1, "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote an output");
    }
}
