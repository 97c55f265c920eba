//! `automaster batch` as a cluster runs it: a catalogue with a broken file, a second run that skips
//! what is done and redoes what changed, shards into one folder, temporary files a killed run
//! left, `kill -9` at arbitrary moments, and masters byte-identical to `automaster master`.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const FS: u32 = 44_100;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_automaster"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).args(["--device", "cpu", "--quiet"]).output().unwrap()
}

/// `automaster batch status DIR` (with `--json`: the rows).
fn status(dir: &Path, json: bool) -> Output {
    bin().args(["batch", "status", s(dir)]).args(json.then_some("--json")).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Three 4 s mixes, a reference, a broken file and a manifest of all four.
struct Catalogue {
    dir: tempfile::TempDir,
}

impl Catalogue {
    fn new() -> Self {
        let c = Catalogue { dir: tempfile::tempdir().unwrap() };
        for i in 0..3 {
            let mut mix = synthetic_mix(4.0, FS, 40 + i);
            normalize_peak(&mut mix, 0.2 + 0.1 * i as f32);
            write_wav_f32(&c.path(&format!("mix{i}.wav")), &mix, FS);
        }
        let mut reference = synthetic_mix(4.0, FS, 50);
        normalize_peak(&mut reference, 0.95);
        write_wav_f32(&c.path("ref.wav"), &reference, FS);
        std::fs::write(c.path("broken.wav"), b"RIFF\0\0\0\0WAVEfmt nonsense").unwrap();
        let manifest =
            "target,output,lufs\nmix0.wav,m0.wav,\nmix1.wav,sub/m1.wav,-12\nmix2.wav,m2.wav,\nbroken.wav,b.wav,\n";
        std::fs::write(c.path("manifest.csv"), manifest).unwrap();
        c
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn batch(&self, out: &Path, extra: &[&str]) -> Output {
        let (m, r) = (self.path("manifest.csv"), self.path("ref.wav"));
        let mut args = vec!["batch", s(&m), "--out-dir", s(out), "-r", s(&r), "--json"];
        args.extend(extra);
        run(&args)
    }

    /// What `automaster master` writes for row `i` alone.
    fn alone(&self, i: usize, lufs: Option<&str>) -> Vec<u8> {
        let out = self.path(&format!("alone{i}.wav"));
        let (t, r) = (self.path(&format!("mix{i}.wav")), self.path("ref.wav"));
        let mut args = vec!["master", s(&t), "-r", s(&r), "-o", s(&out)];
        if let Some(l) = lufs {
            args.extend(["--lufs", l]);
        }
        assert!(run(&args).status.success());
        std::fs::read(out).unwrap()
    }
}

fn outcome(o: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.lines().last().expect("an outcome line")).unwrap()
}

#[test]
fn a_catalogue_with_a_broken_file_completes_and_resumes() {
    let c = Catalogue::new();
    let out = c.path("out");
    let first = c.batch(&out, &[]);
    assert_eq!(first.status.code(), Some(3), "{}", String::from_utf8_lossy(&first.stderr));
    let o = outcome(&first);
    assert_eq!((o["done"].as_u64(), o["failed"].as_u64()), (Some(3), Some(1)));
    // Byte-identical to the rows mastered alone.
    assert!(std::fs::read(out.join("m0.wav")).unwrap() == c.alone(0, None));
    assert!(std::fs::read(out.join("sub/m1.wav")).unwrap() == c.alone(1, Some("-12")));
    let csv = std::fs::read_to_string(out.join("catalogue.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.lines().any(|l| l.contains("b.wav,failed") && l.contains("broken.wav")), "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("catalogue.json")).unwrap()).unwrap();
    let m1 = json.as_array().unwrap().iter().find(|l| l["output"] == "sub/m1.wav").unwrap();
    assert!((m1["loudness_after_lufs"].as_f64().unwrap() + 12.0).abs() < 0.2, "{m1}");
    // Again: nothing to do; the failed row stays failed unless retried.
    let again = outcome(&c.batch(&out, &[]));
    assert_eq!(
        (again["skipped"].as_u64(), again["done"].as_u64(), again["not_run"].as_u64()),
        (Some(3), Some(0), Some(1))
    );
    let retried = outcome(&c.batch(&out, &["--retry-failed"]));
    assert_eq!(retried["failed"].as_u64(), Some(1));
    // A changed setting redoes its row only; a removed output is made again.
    std::fs::write(
        c.path("manifest.csv"),
        "target,output,lufs\nmix0.wav,m0.wav,-14\nmix1.wav,sub/m1.wav,-12\nmix2.wav,m2.wav,\nbroken.wav,b.wav,\n",
    )
    .unwrap();
    std::fs::remove_file(out.join("m2.wav")).unwrap();
    let changed = outcome(&c.batch(&out, &[]));
    assert_eq!((changed["done"].as_u64(), changed["skipped"].as_u64()), (Some(2), Some(1)));
    assert!(std::fs::read(out.join("m0.wav")).unwrap() == c.alone(0, Some("-14")));
    let status = status(&out, false);
    assert_eq!(status.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&status.stdout).contains("4 rows: 3 done, 1 failed, 0 pending"));
}

#[test]
fn shards_share_one_folder_and_match_a_single_run() {
    let c = Catalogue::new();
    let (whole, sharded) = (c.path("whole"), c.path("sharded"));
    c.batch(&whole, &[]);
    c.batch(&sharded, &["--shard", "1", "--shards", "2"]);
    let pending = status(&sharded, true);
    let lines: serde_json::Value = serde_json::from_slice(&pending.stdout).unwrap();
    let statuses: Vec<&str> = lines.as_array().unwrap().iter().map(|l| l["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "done", "pending", "failed"]);
    // Shard 0 through the cluster's variables: Slurm's first, then Kubernetes'.
    let (m, r) = (c.path("manifest.csv"), c.path("ref.wav"));
    let args =
        ["batch", s(&m), "--out-dir", s(&sharded), "-r", s(&r), "--shard", "auto", "--shards", "2", "--device", "cpu"];
    let k8s = bin().args(args).env("JOB_COMPLETION_INDEX", "0").env_remove("SLURM_ARRAY_TASK_ID").output().unwrap();
    assert_eq!(k8s.status.code(), Some(0), "{}", String::from_utf8_lossy(&k8s.stderr));
    let none = bin().args(args).env_remove("JOB_COMPLETION_INDEX").env_remove("SLURM_ARRAY_TASK_ID").output().unwrap();
    assert!(String::from_utf8_lossy(&none.stderr).contains("SLURM_ARRAY_TASK_ID"));
    for name in ["m0.wav", "sub/m1.wav", "m2.wav"] {
        assert!(std::fs::read(whole.join(name)).unwrap() == std::fs::read(sharded.join(name)).unwrap(), "{name}");
    }
    assert!(String::from_utf8_lossy(&status(&sharded, false).stdout).contains("3 done, 1 failed, 0 pending"));
}

#[test]
fn bad_manifests_are_refused_before_any_work() {
    let c = Catalogue::new();
    let out = c.path("out");
    for (manifest, message) in [
        ("target,output,color\nmix0.wav,a.wav,red\n", "line 1: unknown column `color`"),
        ("target,output\nmix0.wav,a.wav\nmix1.wav,a.wav\n", "line 3: output a.wav is also line 2's"),
        ("output\na.wav\n", "no `target` column"),
    ] {
        std::fs::write(c.path("manifest.csv"), manifest).unwrap();
        let o = c.batch(&out, &[]);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains(message), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(!out.join("a.wav").exists());
    }
    // An output that is an input (here the target itself, inside the output folder).
    std::fs::write(c.path("manifest.csv"), "target,output\nmix0.wav,mix0.wav\n").unwrap();
    let o = c.batch(c.dir.path(), &[]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is an input of line 2"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A temporary file no process holds (what `kill -9` leaves) is removed by the next run; one a live
/// writer holds (another shard's) is left alone. Then real kills at several moments: no final name
/// ever holds a partial file, and the next run completes the catalogue byte-identically.
#[test]
fn killed_runs_lose_nothing_and_leave_nothing() {
    let c = Catalogue::new();
    let out = c.path("out");
    std::fs::create_dir_all(out.join("sub")).unwrap();
    std::fs::write(out.join("sub/.automaster-dead.part"), vec![0u8; 1000]).unwrap();
    let live = std::fs::File::create(out.join(".automaster-live.part")).unwrap();
    live.try_lock().unwrap();
    let o = outcome(&c.batch(&out, &[]));
    assert_eq!(o["stale_parts_removed"].as_u64(), Some(1));
    assert!(!out.join("sub/.automaster-dead.part").exists() && out.join(".automaster-live.part").exists());
    drop(live);
    let reference: Vec<Vec<u8>> =
        ["m0.wav", "sub/m1.wav", "m2.wav"].iter().map(|n| std::fs::read(out.join(n)).unwrap()).collect();

    let killed = c.path("killed");
    let (m, r) = (c.path("manifest.csv"), c.path("ref.wav"));
    for delay_ms in [30u64, 120, 250, 400, 700] {
        let mut child = bin()
            .args([
                "batch",
                s(&m),
                "--out-dir",
                s(&killed),
                "-r",
                s(&r),
                "--device",
                "cpu",
                "--jobs",
                "2",
                "--retry-failed",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for (name, want) in ["m0.wav", "sub/m1.wav", "m2.wav"].iter().zip(&reference) {
            if let Ok(got) = std::fs::read(killed.join(name)) {
                assert!(&got == want, "{name} after a kill at {delay_ms} ms is not the finished master");
            }
        }
    }
    let finish = outcome(&c.batch(&killed, &[]));
    assert_eq!(finish["failed"].as_u64().unwrap() + finish["not_run"].as_u64().unwrap(), 1, "{finish}");
    for (name, want) in ["m0.wav", "sub/m1.wav", "m2.wav"].iter().zip(&reference) {
        assert!(&std::fs::read(killed.join(name)).unwrap() == want, "{name}");
    }
    let leftovers: Vec<_> = walk(&killed).into_iter().filter(|p| p.to_string_lossy().ends_with(".part")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// With a GPU, the batch analyses its targets together on it and its references on it too: each
/// master is still byte-identical to `automaster master --device gpu` of its row alone.
#[test]
#[cfg_attr(no_vulkan_driver, ignore = "no Vulkan driver on this machine (install mesa-vulkan-drivers)")]
fn gpu_batches_master_like_single_gpu_runs() {
    let c = Catalogue::new();
    std::fs::write(c.path("manifest.csv"), "target,output\nmix0.wav,m0.wav\nmix1.wav,m1.wav\nmix2.wav,m2.wav\n")
        .unwrap();
    let out = c.path("gpu");
    let (m, r) = (c.path("manifest.csv"), c.path("ref.wav"));
    let batch =
        bin().args(["batch", s(&m), "--out-dir", s(&out), "-r", s(&r), "--device", "gpu", "--quiet"]).output().unwrap();
    assert!(batch.status.success(), "{}", String::from_utf8_lossy(&batch.stderr));
    for i in 0..3 {
        let alone = c.path(&format!("gpu_alone{i}.wav"));
        let t = c.path(&format!("mix{i}.wav"));
        let o =
            bin().args(["master", s(&t), "-r", s(&r), "-o", s(&alone), "--device", "gpu", "--quiet"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::read(alone).unwrap() == std::fs::read(out.join(format!("m{i}.wav"))).unwrap(), "row {i}");
    }
}

/// `--fail-fast` stops at the first failing row (the rest not run, exit 3); `--reports` leaves a
/// report page per mastered track.
#[test]
fn fail_fast_stops_and_reports_are_written() {
    let c = Catalogue::new();
    std::fs::write(c.path("manifest.csv"), "target,output\nbroken.wav,b.wav\nmix0.wav,m0.wav\nmix1.wav,m1.wav\n")
        .unwrap();
    let out = c.path("out");
    let first = c.batch(&out, &["--fail-fast", "--jobs", "1"]);
    assert_eq!(first.status.code(), Some(3));
    let o = outcome(&first);
    assert_eq!((o["failed"].as_u64(), o["not_run"].as_u64(), o["done"].as_u64()), (Some(1), Some(2), Some(0)), "{o}");
    assert!(!out.join("m0.wav").exists());
    let second = outcome(&c.batch(&out, &["--reports"]));
    assert_eq!(second["done"].as_u64(), Some(2), "{second}");
    for name in ["m0.html", "m1.html"] {
        let page = std::fs::read_to_string(out.join("reports").join(name)).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("chart-eq"), "{name}");
    }
}

/// A row's delivery columns: its platform (loudness, ceiling, rate, depth), its own rate, depth
/// and dither over the batch's, FLAC by the output's extension, its tags; each row's file is
/// byte-identical to `automaster master` with the same options, the catalogue gives its format,
/// and a bad cell names its line.
#[test]
fn rows_deliver_with_their_own_format_platform_and_tags() {
    use lofty::prelude::*;
    let c = Catalogue::new();
    let manifest = c.path("delivery.csv");
    let rows = "target,output,platform,sample_rate,bit_depth,dither,title,isrc\n\
                mix0.wav,m0.flac,cd,,,,First,GBAYE0601498\n\
                mix1.wav,m1.wav,,48000,16,tpdf,,\n\
                mix2.wav,m2.wav,,,,,,\n";
    std::fs::write(&manifest, rows).unwrap();
    let (out, r) = (c.path("out"), c.path("ref.wav"));
    let o = run(&["batch", s(&manifest), "--out-dir", s(&out), "-r", s(&r), "--json", "--sample-rate", "96000"]);
    assert_eq!(outcome(&o)["failed"], 0, "{}", String::from_utf8_lossy(&o.stderr));
    let decoded = |p: &Path| automaster::decode_file(p, &automaster::NoProgress).unwrap();
    assert_eq!(decoded(&out.join("m0.flac")).sample_rate, 44_100);
    assert_eq!(decoded(&out.join("m1.wav")).sample_rate, 48_000);
    assert_eq!(decoded(&out.join("m2.wav")).sample_rate, 96_000);
    assert_eq!(hound::WavReader::open(out.join("m1.wav")).unwrap().spec().bits_per_sample, 16);
    let alone = |i: usize, name: &str, extra: &[&str]| {
        let path = c.path(name);
        let t = c.path(&format!("mix{i}.wav"));
        let mut args = vec!["master", s(&t), "-r", s(&r), "-o", s(&path)];
        args.extend(extra);
        assert!(run(&args).status.success());
        std::fs::read(path).unwrap()
    };
    let cd = alone(0, "a0.flac", &["--platform", "cd", "--title", "First", "--isrc", "GBAYE0601498"]);
    assert!(cd == std::fs::read(out.join("m0.flac")).unwrap(), "row 1 differs from master --platform cd");
    let m1 = alone(1, "a1.wav", &["--sample-rate", "48000", "--bit-depth", "16", "--dither", "tpdf"]);
    assert!(m1 == std::fs::read(out.join("m1.wav")).unwrap(), "row 2 differs from master with its options");
    let tagged = lofty::read_from_path(out.join("m0.flac")).unwrap();
    let comments = tagged.tag(lofty::tag::TagType::VorbisComments).unwrap();
    assert_eq!(comments.get_string(lofty::tag::ItemKey::Isrc), Some("GBAYE0601498"));
    let catalogue = std::fs::read_to_string(out.join("catalogue.csv")).unwrap();
    assert!(catalogue.contains("flac 44100 Hz 16-bit") && catalogue.contains("wav 48000 Hz 16-bit"), "{catalogue}");

    for (cells, says) in [
        ("mix0.wav,x.wav,moon,,,,,", "line 2: unknown platform `moon`"),
        ("mix0.wav,x.wav,,44k,,,,", "line 2: sample_rate `44k`"),
        ("mix0.wav,x.wav,,,,loud,,", "line 2: dither `loud`"),
        ("mix0.wav,x.wav,,,,,,XX", "line 2: ISRC"),
    ] {
        std::fs::write(&manifest, format!("target,output,platform,sample_rate,bit_depth,dither,title,isrc\n{cells}\n"))
            .unwrap();
        let o = run(&["batch", s(&manifest), "--out-dir", s(&c.path("bad")), "-r", s(&r)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{cells}: {err}");
    }
}
