//! The command line as a user runs it: happy paths, plan and profile round trips, and every kind of
//! bad input (one-line error, non-zero exit, no panic, no output file).
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const FS: u32 = 44_100;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_automaster"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture { dir: tempfile::tempdir().unwrap() };
        let mut mix = synthetic_mix(6.0, FS, 21);
        normalize_peak(&mut mix, 0.3);
        write_wav_f32(&f.path("mix.wav"), &mix, FS);
        let mut reference = synthetic_mix(6.0, FS, 22);
        for ch in &mut reference {
            Biquad::bell(f64::from(FS), 2000.0, 0.8, 4.0).process(ch);
        }
        normalize_peak(&mut reference, 0.95);
        write_wav_f32(&f.path("ref.wav"), &reference, FS);
        f
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Asserts a clean failure: exit code 1, one `error:` line on stderr mentioning `needle`, no panic,
/// and `output` not created.
fn assert_fails(out: &Output, needle: &str, output: &Path) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("error: ") && lines[0].to_lowercase().contains(&needle.to_lowercase()), "{err}");
    assert!(!output.exists(), "{} must not be written", output.display());
    let Ok(dir) = std::fs::read_dir(output.parent().unwrap()) else { return };
    let leftovers: Vec<_> =
        dir.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().ends_with(".part")).collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn master_writes_an_aligned_master_and_a_plan_that_re_renders_identically() {
    let f = Fixture::new();
    let (out, plan, again) = (f.path("out.wav"), f.path("plan.json"), f.path("again.wav"));
    let o = run(&[
        "master",
        s(&f.path("mix.wav")),
        "--reference",
        s(&f.path("ref.wav")),
        "-o",
        s(&out),
        "--plan-out",
        s(&plan),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let target = summary["loudness_target_lufs"].as_f64().unwrap();
    let after = summary["loudness_after_lufs"].as_f64().unwrap();
    assert!((after - target).abs() <= 0.1, "{after} vs {target}");
    assert!(summary["true_peak_after_dbtp"].as_f64().unwrap() <= -1.0);
    let (master, rate) = read_wav(&out);
    let (input, _) = read_wav(&f.path("mix.wav"));
    assert_eq!((master[0].len(), rate), (input[0].len(), FS));
    assert!((ebur128_lufs(&master, FS) - target).abs() <= 0.1);

    let o = run(&["render", s(&f.path("mix.wav")), "--plan", s(&plan), "-o", s(&again)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap(), "re-render must be bit-identical");

    // A user edits the plan: no EQ, quieter target. The render follows the edit.
    let mut p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    for curve in ["mid", "side"] {
        let n = p["eq"][curve]["gain_db"].as_array().unwrap().len();
        p["eq"][curve]["gain_db"] = serde_json::json!(vec![0.0; n]);
    }
    p["loudness"]["target_lufs"] = serde_json::json!(-20.0);
    std::fs::write(&plan, serde_json::to_string(&p).unwrap()).unwrap();
    let edited = f.path("edited.wav");
    assert!(run(&["render", s(&f.path("mix.wav")), "--plan", s(&plan), "-o", s(&edited), "--bit-depth", "16"])
        .status
        .success());
    let (e, _) = read_wav(&edited);
    assert!((ebur128_lufs(&e, FS) + 20.0).abs() <= 0.1);

    // Edits out of bounds are refused with the field named, and nothing is written.
    let bad = f.path("bad.wav");
    p["dynamics"]["multiband"] = serde_json::Value::Null;
    p["dynamics"]["leveler"] = serde_json::json!({"ratio": 1.5, "threshold_lufs": -10.0, "floor_lufs": -30.0});
    std::fs::write(&plan, serde_json::to_string(&p).unwrap()).unwrap();
    assert_fails(
        &run(&["render", s(&f.path("mix.wav")), "--plan", s(&plan), "-o", s(&bad)]),
        "dynamics.leveler acts with the dynamics stage",
        &bad,
    );
    p["dynamics"]["goal"] =
        serde_json::json!({"crossovers_hz": [120.0, 1000.0, 6000.0], "spread_db": [8.0, 8.0, 8.0, 8.0], "amount": 0.5});
    p["dynamics"]["leveler"]["ratio"] = serde_json::json!(5.0);
    std::fs::write(&plan, serde_json::to_string(&p).unwrap()).unwrap();
    assert_fails(&run(&["render", s(&f.path("mix.wav")), "--plan", s(&plan), "-o", s(&bad)]), "leveler: ratio 5", &bad);
}

#[test]
fn a_saved_profile_works_as_a_reference_and_several_references_average() {
    let f = Fixture::new();
    let profile = f.path("ref.profile.json");
    assert!(run(&["analyze", s(&f.path("ref.wav")), "-o", s(&profile)]).status.success());
    let p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&profile).unwrap()).unwrap();
    assert_eq!(p["schema_version"], 2);
    let (a, b) = (f.path("a.wav"), f.path("b.wav"));
    assert!(run(&["master", s(&f.path("mix.wav")), "-r", s(&f.path("ref.wav")), "-o", s(&a)]).status.success());
    assert!(run(&["master", s(&f.path("mix.wav")), "-r", s(&profile), "-o", s(&b)]).status.success());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let c = f.path("c.wav");
    let o = run(&[
        "master",
        s(&f.path("mix.wav")),
        "-r",
        s(&profile),
        "-r",
        s(&f.path("mix.wav")),
        "--weight",
        "3",
        "--weight",
        "1",
        "-o",
        s(&c),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mix_lufs = summary["loudness_before_lufs"].as_f64().unwrap();
    let want = (3.0 * p["loudness"]["integrated_lufs"].as_f64().unwrap() + mix_lufs) / 4.0;
    assert!((summary["loudness_target_lufs"].as_f64().unwrap() - want).abs() < 1e-6);

    // Several files at once into a folder.
    let dir = f.path("profiles");
    std::fs::create_dir(&dir).unwrap();
    assert!(run(&["analyze", s(&f.path("ref.wav")), s(&f.path("mix.wav")), "-o", s(&dir)]).status.success());
    assert!(dir.join("ref.profile.json").exists() && dir.join("mix.profile.json").exists());
}

#[test]
fn aiff_and_other_containers_decode_to_the_right_length() {
    let f = Fixture::new();
    let (mix, _) = read_wav(&f.path("mix.wav"));
    // 24-bit AIFF via hound-independent bytes: FORM/AIFF with COMM + SSND (big-endian), odd length.
    let frames = 44_101usize;
    let mut ssnd = Vec::new();
    for i in 0..frames {
        for ch in &mix {
            let v = (ch[i] * 8_388_607.0) as i32;
            ssnd.extend_from_slice(&v.to_be_bytes()[1..]);
        }
    }
    let mut comm = Vec::new();
    comm.extend_from_slice(&2u16.to_be_bytes());
    comm.extend_from_slice(&(frames as u32).to_be_bytes());
    comm.extend_from_slice(&24u16.to_be_bytes());
    comm.extend_from_slice(&[0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]); // 44100 as 80-bit extended
    let mut body = b"AIFF".to_vec();
    body.extend_from_slice(b"COMM");
    body.extend_from_slice(&(comm.len() as u32).to_be_bytes());
    body.extend_from_slice(&comm);
    body.extend_from_slice(b"SSND");
    body.extend_from_slice(&((ssnd.len() + 8) as u32).to_be_bytes());
    body.extend_from_slice(&[0; 8]);
    body.extend_from_slice(&ssnd);
    if body.len() % 2 == 1 {
        body.push(0);
    }
    let mut file = b"FORM".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_be_bytes());
    file.extend_from_slice(&body);
    let aiff = f.path("mix.aiff");
    std::fs::write(&aiff, file).unwrap();
    let o = run(&["analyze", s(&aiff)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((p["duration_s"].as_f64().unwrap() - frames as f64 / 44_100.0).abs() < 1e-3);
}

#[test]
fn a_reference_identical_to_the_target_is_allowed() {
    let f = Fixture::new();
    let out = f.path("same.wav");
    assert!(run(&["master", s(&f.path("mix.wav")), "-r", s(&f.path("mix.wav")), "-o", s(&out)]).status.success());
}

/// A loud target under `--max-limiting-db`: the master is written, the summary names the
/// shortfall and its reason, the report page too, and the JSON carries both with the chain's
/// reduction.
#[test]
fn a_bound_on_limiting_is_reported_in_the_summary_and_the_report() {
    let f = Fixture::new();
    let (mix, reference) = (f.path("mix.wav"), f.path("ref.wav"));
    let (out, report) = (f.path("bounded.wav"), f.path("bounded.html"));
    let args = ["master", s(&mix), "-r", s(&reference), "-o", s(&out), "--lufs", "-7"];
    let o = run(&[&args[..], &["--max-limiting-db", "4", "--report", s(&report)]].concat());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("loudness target missed by") && text.contains("--max-limiting-db"), "{text}");
    assert!(text.contains("limiter up to") && text.contains("s above 3 dB"), "{text}");
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("Loudness target missed by") && page.contains("soft clipper"));
    let o = run(&[&args[..], &["--max-limiting-db", "4", "--json"]].concat());
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let render = &summary["render"];
    assert_eq!(render["loudness_shortfall"]["reason"], "max_limiting");
    assert!(render["loudness_shortfall"]["missed_by_lu"].as_f64().unwrap() > 0.5);
    assert!(render["max_gain_reduction_db"].as_f64().unwrap() <= 4.05);
    assert!(render["seconds_above_3db"].as_f64().is_some());
    // Without the bound the target is met, the clipper taking its share.
    let o = run(&[&args[..], &["--json"]].concat());
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((summary["loudness_after_lufs"].as_f64().unwrap() + 7.0).abs() <= 0.1);
    assert!(summary["render"]["clipper"]["max_reduction_db"].as_f64().unwrap() > 0.0);
}

#[test]
fn demo_masters_the_bundled_example() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["demo", "--out", s(dir.path())]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in ["master.wav", "plan.json", "summary.json", "report.html"] {
        assert!(dir.path().join(name).exists(), "{name}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    assert!(
        (summary["loudness_after_lufs"].as_f64().unwrap() - summary["loudness_target_lufs"].as_f64().unwrap()).abs()
            <= 0.1
    );
}

fn master_to(target: &Path, reference: &Path, out: &Path) -> Output {
    run(&["master", s(target), "--reference", s(reference), "-o", s(out)])
}

#[test]
fn bad_input_missing_not_audio_truncated_corrupt_empty() {
    let f = Fixture::new();
    let out = f.path("out.wav");
    assert_fails(&master_to(&f.path("nope.wav"), &f.path("ref.wav"), &out), "no such file", &out);

    let text = f.path("notes.wav");
    std::fs::write(&text, "these are not the samples you are looking for").unwrap();
    assert_fails(&master_to(&text, &f.path("ref.wav"), &out), "not a supported audio file", &out);

    let bytes = std::fs::read(f.path("mix.wav")).unwrap();
    let truncated = f.path("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails(&master_to(&truncated, &f.path("ref.wav"), &out), "corrupt or truncated", &out);

    let flac = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("references/sectoid_escape_from_chaosland_mix_excerpt.flac"),
    )
    .unwrap();
    let mut corrupt = flac.clone();
    let mid = corrupt.len() / 2;
    for b in &mut corrupt[mid..mid + 4000] {
        *b ^= 0x5A;
    }
    let corrupt_path = f.path("corrupt.flac");
    std::fs::write(&corrupt_path, &corrupt).unwrap();
    assert_fails(&master_to(&corrupt_path, &f.path("ref.wav"), &out), "corrupt", &out);

    let empty = f.path("empty.wav");
    write_wav_f32(&empty, &[vec![], vec![]], FS);
    assert_fails(&master_to(&empty, &f.path("ref.wav"), &out), "no audio", &out);
    let zero_bytes = f.path("zero.wav");
    std::fs::write(&zero_bytes, b"").unwrap();
    assert_fails(&master_to(&zero_bytes, &f.path("ref.wav"), &out), "", &out);
}

#[test]
fn bad_input_silent_channels_non_finite() {
    let f = Fixture::new();
    let out = f.path("out.wav");
    let silent = f.path("silent.wav");
    write_wav_f32(&silent, &[vec![0.0; 44_100], vec![0.0; 44_100]], FS);
    assert_fails(&master_to(&silent, &f.path("ref.wav"), &out), "silent", &out);
    assert_fails(&master_to(&f.path("mix.wav"), &silent, &out), "silent", &out);

    let short = f.path("short.wav");
    write_wav_f32(&short, &[vec![0.1; 4410], vec![-0.1; 4410]], FS);
    assert_fails(&master_to(&short, &f.path("ref.wav"), &out), "too short", &out);
    // Jobs that meter without analysing say which job and tell too short from silent.
    for job in ["restore", "deliver"] {
        assert_fails(&run(&[job, s(&silent), "-o", s(&out)]), &format!("nothing to {job}"), &out);
        assert_fails(&run(&[job, s(&short), "-o", s(&out)]), "too short", &out);
    }

    let three = f.path("three.wav");
    write_wav_f32(&three, &[vec![0.1; 1000], vec![0.1; 1000], vec![0.1; 1000]], FS);
    assert_fails(&master_to(&three, &f.path("ref.wav"), &out), "channels", &out);

    for (name, bad) in [("nan.wav", f32::NAN), ("inf.wav", f32::INFINITY)] {
        let mut x = vec![0.1f32; 10_000];
        x[1234] = bad;
        let p = f.path(name);
        write_wav_f32(&p, &[x.clone(), x], FS);
        assert_fails(&master_to(&p, &f.path("ref.wav"), &out), "non-finite", &out);
    }
}

#[test]
fn bad_output_unwritable_or_an_input() {
    let f = Fixture::new();
    let nowhere = f.path("no/such/dir/out.wav");
    assert_fails(&master_to(&f.path("mix.wav"), &f.path("ref.wav"), &nowhere), "cannot write", &nowhere);

    let before = std::fs::read(f.path("mix.wav")).unwrap();
    let o = master_to(&f.path("mix.wav"), &f.path("ref.wav"), &f.path("mix.wav"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("would overwrite an input"));
    assert_eq!(std::fs::read(f.path("mix.wav")).unwrap(), before, "the input must be untouched");
    // Also through another spelling of the same path.
    let other = f.dir.path().join(".").join("ref.wav");
    let o = master_to(&f.path("mix.wav"), &f.path("ref.wav"), &other);
    assert!(String::from_utf8_lossy(&o.stderr).contains("would overwrite an input"));

    let plan = f.path("p.json");
    let o = run(&["render", s(&f.path("mix.wav")), "--plan", s(&plan), "-o", s(&f.path("o.wav"))]);
    assert_fails(&o, "no such file", &f.path("o.wav"));
    std::fs::write(&plan, "{\"schema_version\": 99}").unwrap();
    let o = run(&["render", s(&f.path("mix.wav")), "--plan", s(&plan), "-o", s(&f.path("o.wav"))]);
    assert_fails(&o, "schema version 99", &f.path("o.wav"));
}

#[test]
fn report_bad_input_and_bad_outputs() {
    let f = Fixture::new();
    let html = f.path("r.html");
    assert_fails(&run(&["report", s(&f.path("nope.wav")), "-o", s(&html)]), "no such file", &html);
    let silent = f.path("silent.wav");
    write_wav_f32(&silent, &[vec![0.0; 44_100], vec![0.0; 44_100]], FS);
    assert_fails(&run(&["report", s(&f.path("mix.wav")), s(&silent), "-o", s(&html)]), "silent", &html);
    let before = std::fs::read(f.path("mix.wav")).unwrap();
    let o = run(&["report", s(&f.path("mix.wav")), "-r", s(&f.path("ref.wav")), "-o", s(&f.path("ref.wav"))]);
    assert!(o.status.code() == Some(1) && String::from_utf8_lossy(&o.stderr).contains("would overwrite an input"));
    assert_eq!(std::fs::read(f.path("mix.wav")).unwrap(), before);
    assert_fails(&run(&["report", s(&f.path("mix.wav")), "-o", s(&html), "--json", s(&html)]), "its own file", &html);
    // A master whose report cannot be written fails before it writes anything.
    let (out, nowhere) = (f.path("out.wav"), f.path("no/such/dir/r.html"));
    let o =
        run(&["master", s(&f.path("mix.wav")), "-r", s(&f.path("ref.wav")), "-o", s(&out), "--report", s(&nowhere)]);
    assert_fails(&o, "cannot write", &out);
    assert_fails(
        &run(&["master", s(&f.path("mix.wav")), "-r", s(&f.path("ref.wav")), "-o", s(&out), "--report", s(&out)]),
        "its own file",
        &out,
    );
}

/// `--device gpu` without any adapter is a clear error; `auto` then analyses on the CPU. (No
/// adapter is simulated by restricting wgpu to a backend this platform lacks.)
#[test]
fn device_gpu_without_an_adapter_fails_clearly_and_auto_falls_back() {
    let f = Fixture::new();
    let missing = if cfg!(target_os = "macos") { "dx12" } else { "metal" };
    let profile = f.path("p.json");
    let o = bin()
        .args(["analyze", s(&f.path("ref.wav")), "-o", s(&profile), "--device", "gpu"])
        .env("WGPU_BACKEND", missing)
        .output()
        .unwrap();
    assert_fails(&o, "no GPU adapter found", &profile);
    let o = bin()
        .args(["analyze", s(&f.path("ref.wav")), "-o", s(&profile), "--device", "auto"])
        .env("WGPU_BACKEND", missing)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(profile.exists());
}
