//! The batch's ledger: append-only JSON Lines under `DIR/.automaster/ledger/`, one file per run
//! (so shards writing into one folder never share a file), each event synced before the next
//! begins. A row's state is its latest event over all files.
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Done,
    Failed,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The row's output, relative to the folder: its key.
    pub output: String,
    pub status: Status,
    /// Content hashes (BLAKE3) of the target and references, and of the settings the row ran with.
    pub input_hash: String,
    pub settings_hash: String,
    /// The written file's hash (done rows).
    pub output_hash: Option<String>,
    /// The one-line error (failed rows).
    pub error: Option<String>,
    /// Seconds since the Unix epoch.
    pub at_s: f64,
    /// What the catalogue shows of a done row.
    pub entry: Option<super::catalogue::Entry>,
}

impl Event {
    /// A row that failed before it could be hashed (its reference unreadable, say).
    pub fn failed(output: &str, error: String) -> Self {
        Event {
            output: output.into(),
            status: Status::Failed,
            input_hash: String::new(),
            settings_hash: String::new(),
            output_hash: None,
            error: Some(error),
            at_s: now_s(),
            entry: None,
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

pub fn ledger_dir(out_dir: &Path) -> PathBuf {
    out_dir.join(".automaster").join("ledger")
}

/// This run's ledger file, created on the first event.
pub struct Ledger {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl Ledger {
    pub fn new(out_dir: &Path) -> Self {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let name = format!("{}-{}.jsonl", stamp.as_nanos(), std::process::id());
        Ledger { path: ledger_dir(out_dir).join(name), file: Mutex::new(None) }
    }

    /// Appends `event` and syncs it to disk.
    pub fn record(&self, event: &Event) -> Result<()> {
        let fail = |e: std::io::Error| Error::io(&self.path, e);
        let mut slot = self.file.lock().expect("ledger lock");
        if slot.is_none() {
            std::fs::create_dir_all(self.path.parent().expect("ledger folder")).map_err(fail)?;
            *slot = Some(OpenOptions::new().create(true).append(true).open(&self.path).map_err(fail)?);
        }
        let file = slot.as_mut().expect("opened above");
        let mut line = serde_json::to_string(event).map_err(|e| Error::InvalidSetting(e.to_string()))?;
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(fail)?;
        file.sync_data().map_err(fail)
    }
}

/// Every row's latest event over all ledger files in `out_dir` (a line cut short by a crash is
/// skipped: its row simply runs again).
pub fn latest(out_dir: &Path) -> Result<HashMap<String, Event>> {
    let dir = ledger_dir(out_dir);
    let mut events = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&dir, e))?.path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            events.extend(text.lines().filter_map(|l| serde_json::from_str::<Event>(l).ok()));
        }
    }
    events.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    Ok(events.into_iter().map(|e| (e.output.clone(), e)).collect())
}
