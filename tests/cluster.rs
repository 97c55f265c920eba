//! The batch on the clusters users run: a real single-node Slurm (started here by
//! `deploy/slurm/local-cluster.sh`) runs `deploy/slurm/automaster-array.sbatch` over a small
//! catalogue with a broken file; one task is cancelled while it runs and its index resubmitted; the
//! catalogue must come out complete and byte-identical to a single-machine run. Kubernetes: the
//! Indexed Job's file parses and passes `--shard auto` its index variable.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const FS: u32 = 44_100;
const SHARDS: usize = 4;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The cluster's daemons, stopped (by their PIDs) however the test ends.
struct Cluster {
    state: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Self {
        let state = tempfile::tempdir().unwrap();
        sh(Command::new("bash").arg(repo("deploy/slurm/local-cluster.sh")).arg("start").arg(state.path()));
        Cluster { state }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ =
            Command::new("bash").arg(repo("deploy/slurm/local-cluster.sh")).arg("stop").arg(self.state.path()).status();
    }
}

/// The array's tasks still known to the scheduler: (index, state).
fn tasks(job: &str) -> Vec<(String, String)> {
    let out = Command::new("squeue").args(["-h", "-r", "-j", job, "-o", "%K %T"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(i, s)| (i.to_string(), s.to_string())))
        .collect()
}

fn wait_for(job: &str) {
    let start = Instant::now();
    while !tasks(job).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(180), "job {job} still queued: {:?}", tasks(job));
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sbatch(dir: &Path, array: &str, manifest: &Path, out: &Path, reference: &Path) -> String {
    let stdout = sh(Command::new("sbatch")
        .current_dir(dir)
        .env("AUTOMASTER", env!("CARGO_BIN_EXE_automaster"))
        .env("AUTOMASTER_DEVICE", "cpu")
        .args(["--parsable", &format!("--array={array}")])
        .arg(repo("deploy/slurm/automaster-array.sbatch"))
        .args([manifest, out, reference])
        .arg(SHARDS.to_string()));
    stdout.trim().split(';').next().unwrap().to_string()
}

#[test]
#[cfg_attr(no_slurm, ignore = "no Slurm here (or not root): CI installs and starts one")]
fn a_slurm_array_masters_the_catalogue_like_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("logs")).unwrap();
    let mut manifest = String::from("target,output\n");
    for i in 0..5 {
        let mut mix = synthetic_mix(20.0, FS, 60 + i);
        normalize_peak(&mut mix, 0.25);
        write_wav_f32(&d.join(format!("mix{i}.wav")), &mix, FS);
        manifest.push_str(&format!("mix{i}.wav,m{i}.wav\n"));
    }
    std::fs::write(d.join("broken.flac"), b"fLaC\0\0\0\x22 not really").unwrap();
    manifest.push_str("broken.flac,broken.wav\n");
    let mut reference = synthetic_mix(20.0, FS, 70);
    normalize_peak(&mut reference, 0.95);
    write_wav_f32(&d.join("ref.wav"), &reference, FS);
    std::fs::write(d.join("manifest.csv"), manifest).unwrap();
    let (m, r) = (d.join("manifest.csv"), d.join("ref.wav"));

    // The single-machine run the cluster must reproduce.
    let local = d.join("local");
    let out = Command::new(env!("CARGO_BIN_EXE_automaster"))
        .args(["batch"])
        .arg(&m)
        .arg("--out-dir")
        .arg(&local)
        .arg("-r")
        .arg(&r)
        .args(["--device", "cpu", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));

    let _cluster = Cluster::start();
    let cluster = d.join("cluster");
    // One task at a time, so the last is still to come when the one before it is cancelled.
    let job = sbatch(d, &format!("0-{}%1", SHARDS - 1), &m, &cluster, &r);
    let start = Instant::now();
    let cancelled = loop {
        let running: Vec<String> =
            tasks(&job).into_iter().filter(|(i, s)| s == "RUNNING" && i != "0").map(|(i, _)| i).collect();
        if let Some(index) = running.first() {
            sh(Command::new("scancel").arg(format!("{job}_{index}")));
            break index.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no task ran: {:?}", tasks(&job));
        std::thread::sleep(Duration::from_millis(20));
    };
    wait_for(&job);
    let resubmitted = sbatch(d, &cancelled, &m, &cluster, &r);
    wait_for(&resubmitted);

    let status =
        Command::new(env!("CARGO_BIN_EXE_automaster")).args(["batch", "status"]).arg(&cluster).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("6 rows: 5 done, 1 failed, 0 pending"), "{text}");
    for i in 0..5 {
        let name = format!("m{i}.wav");
        assert!(std::fs::read(local.join(&name)).unwrap() == std::fs::read(cluster.join(&name)).unwrap(), "{name}");
    }
    let logs: Vec<_> = std::fs::read_dir(d.join("logs")).unwrap().flatten().collect();
    let cancelled_log =
        std::fs::read_to_string(d.join("logs").join(format!("automaster-{job}_{cancelled}.out"))).unwrap_or_default();
    eprintln!("task {cancelled} cancelled; its log:\n{cancelled_log}");
    assert!(logs.len() > SHARDS, "one log per task, the resubmitted one too: {logs:?}");
}

#[test]
fn the_kubernetes_indexed_job_parses_and_shards_by_its_index() {
    let text = std::fs::read_to_string(repo("deploy/kubernetes/automaster-indexed-job.yaml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    let spec = &docs[0]["spec"];
    assert_eq!(docs[0]["kind"].as_str(), Some("Job"));
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_i64().unwrap();
    assert!(spec["backoffLimitPerIndex"].as_i64().is_some() && spec["parallelism"].as_i64().is_some());
    let args: Vec<&str> =
        spec["template"]["spec"]["containers"][0]["args"].as_vec().unwrap().iter().filter_map(|a| a.as_str()).collect();
    let after = |flag: &str| args[args.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(after("--shard"), "auto");
    assert_eq!(after("--shards").parse::<i64>().unwrap(), completions, "--shards must equal completions");
    assert_eq!(spec["template"]["spec"]["volumes"][0]["name"].as_str(), Some("audio"));
}
