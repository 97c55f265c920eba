//! The report's data, through the command line's `--json`: inputs whose differences are known by
//! construction (pink against white noise, a track against itself 6 dB up), and a bounded size for
//! long inputs.
mod common;

use std::path::Path;
use std::process::Command;

use automaster::internals::report::ReportData;
use common::*;

const FS: u32 = 44_100;

fn report_json(dir: &Path, files: &[&Path], reference: Option<&Path>) -> ReportData {
    let json = dir.join("report.json");
    let html = dir.join("report.html");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_automaster"));
    cmd.arg("report").args(files);
    if let Some(r) = reference {
        cmd.arg("--reference").arg(r);
    }
    cmd.arg("-o").arg(&html).arg("--json").arg(&json).arg("--device").arg("cpu");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "report failed: {}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("LUFS") && table.lines().count() >= 1 + files.len() + usize::from(reference.is_some()),
        "terminal table:\n{table}"
    );
    assert!(std::fs::metadata(&html).unwrap().len() > 10_000);
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

/// Least-squares slope of y against x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    points.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
        / points.iter().map(|(x, _)| (x - mx).powi(2)).sum::<f64>()
}

/// Pink noise against white: the level-normalised difference falls 3.01 dB per octave (10·log10 2),
/// and the tonal distance is that slope's RMS deviation over the yardstick's 1/3-octave bands.
#[test]
fn pink_against_white_noise_differs_by_minus_3_db_per_octave() {
    let dir = tempfile::tempdir().unwrap();
    let n = 10 * FS as usize;
    let mut rng = Rng::new(5);
    let white: Vec<Vec<f32>> = (0..2).map(|_| (0..n).map(|_| (0.3 * rng.signed()) as f32).collect()).collect();
    let mut pinkn: Vec<Vec<f32>> = (0..2).map(|_| pink(n, &mut rng).into_iter().map(|v| v as f32).collect()).collect();
    normalize_peak(&mut pinkn, 0.5);
    let (w, p) = (dir.path().join("white.wav"), dir.path().join("pink.wav"));
    write_wav_f32(&w, &white, FS);
    write_wav_f32(&p, &pinkn, FS);
    let data = report_json(dir.path(), &[&p], Some(&w));
    assert_eq!(data.inputs.len(), 2);
    assert_eq!(data.reference().name, "white.wav");
    let pink_report = &data.inputs[1];
    let diff = pink_report.difference.as_ref().unwrap();
    let points: Vec<(f64, f64)> = pink_report
        .spectrum
        .centers_hz
        .iter()
        .zip(&diff.mid_db)
        .filter(|(&f, _)| (50.0..=10_000.0).contains(&f))
        .map(|(&f, &d)| (f.log2(), d))
        .collect();
    let s = slope(&points);
    assert!((s + 3.01).abs() < 0.25, "pink − white slope {s:.2} dB/octave");
    // Residual around the line: the difference is a straight line, not noise.
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / points.len() as f64;
    let resid =
        (points.iter().map(|(x, y)| (y - mean - s * (x - mx)).powi(2)).sum::<f64>() / points.len() as f64).sqrt();
    assert!(resid < 0.6, "residual {resid:.2} dB");
    // The same slope on the side (independent channels: side is noise like mid).
    let side: Vec<(f64, f64)> = pink_report
        .spectrum
        .centers_hz
        .iter()
        .zip(&diff.side_db)
        .filter(|(&f, _)| (50.0..=10_000.0).contains(&f))
        .map(|(&f, &d)| (f.log2(), d))
        .collect();
    assert!((slope(&side) + 3.01).abs() < 0.25, "side slope {:.2}", slope(&side));
    // Tonal distance: RMS of a −3.01 dB/octave line (mean removed) over the 1/3-octave centres
    // 1 kHz·2^(k/3), k = −13 … 12 (49.6 Hz – 16 kHz).
    let ks: Vec<f64> = (-13..=12).map(|k| f64::from(k) / 3.0).collect();
    let km = ks.iter().sum::<f64>() / ks.len() as f64;
    let expected = 3.0103 * (ks.iter().map(|k| (k - km).powi(2)).sum::<f64>() / ks.len() as f64).sqrt();
    let d = pink_report.distances.as_ref().unwrap();
    assert!((d.tonal_db - expected).abs() < 0.5, "tonal distance {:.2}, expected {expected:.2}", d.tonal_db);
    let width = d.width_db.unwrap();
    assert!(width < 0.5, "width distance {width:.2} between two uncorrelated noises");
    // White noise's short-term loudness sits in one bin of the distribution.
    let reference = data.reference();
    assert!(
        reference.short_term.histogram_percent.iter().any(|&p| p > 90.0),
        "white noise histogram {:?}",
        reference.short_term.histogram_percent
    );
    assert!(reference.distances.is_none() && reference.difference.is_none());
}

/// A track against itself 6.02 dB up: levels, peaks and the spectra move by exactly that; balance,
/// width, loudness range and the distances other than loudness do not move at all.
#[test]
fn a_track_against_itself_6_db_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut mix = synthetic_mix(8.0, FS, 31);
    normalize_peak(&mut mix, 0.4);
    let louder: Vec<Vec<f32>> = mix.iter().map(|c| c.iter().map(|v| v * 2.0).collect()).collect();
    let (a, b) = (dir.path().join("mix.wav"), dir.path().join("mix_plus6.wav"));
    write_wav_f32(&a, &mix, FS);
    write_wav_f32(&b, &louder, FS);
    let data = report_json(dir.path(), &[&b], Some(&a));
    let six = 20.0 * 2f64.log10();
    let (r, x) = (&data.inputs[0], &data.inputs[1]);
    let d = x.distances.as_ref().unwrap();
    assert!((d.loudness_lu - six).abs() < 0.01, "loudness distance {}", d.loudness_lu);
    assert!(d.tonal_db < 0.01 && d.width_db.unwrap() < 0.01, "tonal {} width {:?}", d.tonal_db, d.width_db);
    assert!((x.metrics.integrated_lufs - r.metrics.integrated_lufs - six).abs() < 0.01);
    assert!((x.metrics.true_peak_dbtp - r.metrics.true_peak_dbtp - six).abs() < 0.01);
    assert!((x.metrics.sample_peak_dbfs - r.metrics.sample_peak_dbfs - six).abs() < 0.01);
    assert!((x.metrics.loudness_range_lu - r.metrics.loudness_range_lu).abs() < 0.01);
    assert!((x.metrics.plr_db - r.metrics.plr_db).abs() < 0.01);
    let diff = x.difference.as_ref().unwrap();
    assert!((diff.level_offset_lu - six).abs() < 0.01);
    for (k, f) in x.spectrum.centers_hz.iter().enumerate() {
        if diff.masked[k] {
            continue;
        }
        assert!((x.spectrum.mid_db[k] - r.spectrum.mid_db[k] - six).abs() < 0.01, "mid at {f:.0} Hz");
        assert!(
            diff.mid_db[k].abs() < 0.01 && diff.side_db[k].abs() < 0.01,
            "difference at {f:.0} Hz: {} / {}",
            diff.mid_db[k],
            diff.side_db[k]
        );
        assert!((x.width_db[k] - r.width_db[k]).abs() < 0.01);
    }
    assert!(diff.masked.iter().filter(|&&m| !m).count() > 100, "most bands carry information");
    for (p, q) in x.short_term.lufs.iter().zip(&r.short_term.lufs) {
        assert!((f64::from(p - q) - six).abs() < 0.01);
    }
    let (sx, sr) = (x.spectrogram.as_ref().unwrap(), r.spectrogram.as_ref().unwrap());
    assert_eq!((sx.columns, sx.levels.len()), (sr.columns, sr.levels.len()));
    assert!((sx.floor_db - sr.floor_db - six).abs() < 1.0, "each spectrogram's floor follows its level");
}

/// A long input gives a report no larger than a short one: series and spectrogram are capped.
#[test]
fn a_long_input_gives_a_bounded_report() {
    let dir = tempfile::tempdir().unwrap();
    let fs = 16_000;
    let sizes: Vec<u64> = [150.0, 1200.0]
        .iter()
        .map(|&seconds| {
            let n = (seconds * f64::from(fs)) as usize;
            let mut rng = Rng::new(9);
            // Noise with a level that moves every few seconds, so the series are not flat.
            let x: Vec<f32> = (0..n)
                .map(|i| (rng.signed() * 0.2 * (1.0 + 0.5 * (i as f64 / f64::from(fs) * 0.7).sin())) as f32)
                .collect();
            let path = dir.path().join(format!("long_{seconds}.wav"));
            write_wav_f32(&path, &[x], fs);
            let data = report_json(dir.path(), &[&path], None);
            let input = data.reference();
            assert!(input.short_term.lufs.len() <= automaster::internals::report::data::MAX_SERIES_POINTS);
            assert!(
                input.spectrogram.as_ref().unwrap().columns <= automaster::internals::report::spectrogram::MAX_COLUMNS
            );
            std::fs::metadata(dir.path().join("report.html")).unwrap().len()
        })
        .collect();
    assert!(sizes[1] < 3_000_000, "20-minute report is {} bytes", sizes[1]);
    assert!((sizes[1] as f64) < 1.3 * sizes[0] as f64, "report sizes {sizes:?} grow with the input's length");
}
