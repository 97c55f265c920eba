//! Tells the tests which of their outside dependencies this machine lacks, so that a GPU test
//! without a Vulkan driver or the browser test without Chromium is reported as *ignored*, never as
//! passed (the approach vello takes). The same for the Slurm test, which needs Slurm and root.
//! Under `CI=true` nothing is ignored: CI installs them, and a test whose dependency is missing
//! there fails.
use std::path::{Path, PathBuf};

const VULKAN_ICD_DIRS: [&str; 3] = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];
const CHROMIUM_NAMES: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_vulkan_driver)");
    println!("cargo::rustc-check-cfg=cfg(no_chromium)");
    println!("cargo::rustc-check-cfg=cfg(no_slurm)");
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["CI", "PATH", "VK_ICD_FILENAMES", "VK_DRIVER_FILES"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    for dir in VULKAN_ICD_DIRS.iter().filter(|d| Path::new(d).is_dir()) {
        println!("cargo::rerun-if-changed={dir}");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return;
    }
    if !has_vulkan_driver() {
        println!("cargo::rustc-cfg=no_vulkan_driver");
    }
    if chromium().is_none() {
        println!("cargo::rustc-cfg=no_chromium");
    }
    // The Slurm test starts daemons as root (CI installs Slurm when it is missing).
    if !Path::new("/usr/sbin/slurmctld").is_file() || !is_root() {
        println!("cargo::rustc-cfg=no_slurm");
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
}

/// A Vulkan ICD manifest where the loader looks on Linux; other systems have their own GPU APIs.
fn has_vulkan_driver() -> bool {
    if !cfg!(target_os = "linux")
        || ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"].iter().any(|v| std::env::var_os(v).is_some())
    {
        return true;
    }
    VULKAN_ICD_DIRS.iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|mut entries| {
            entries.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json")))
        })
    })
}

fn chromium() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).flat_map(|d| CHROMIUM_NAMES.map(|n| d.join(n))).find(|p| p.is_file())
}
