//! Progress reporting without a UI dependency: the library reports units of work, the binary draws bars.

/// Receives progress of long stages. Implementations must be cheap and thread-safe.
pub trait Progress: Sync {
    /// A stage named `label` begins with `total` units of work (0 when unknown).
    fn start(&self, label: &str, total: u64) -> Box<dyn ProgressTask + '_>;

    /// Something the user should know that does not stop the run (e.g. a fallback to the CPU).
    fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}

/// One running stage; dropping it marks the stage finished.
pub trait ProgressTask: Send + Sync {
    fn inc(&self, units: u64);

    /// What the stage is busy with now (the tracks in flight of a batch, say).
    fn set_detail(&self, _detail: &str) {}
}

/// Reports nothing.
pub struct NoProgress;

struct NoTask;

impl ProgressTask for NoTask {
    fn inc(&self, _units: u64) {}
}

impl Progress for NoProgress {
    fn start(&self, _label: &str, _total: u64) -> Box<dyn ProgressTask + '_> {
        Box::new(NoTask)
    }
}
