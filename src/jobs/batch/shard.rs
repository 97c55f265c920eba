//! Which rows a shard takes: row i goes to shard i mod N, a map that depends only on the manifest
//! and N (never on the scheduler's task count, which is 1 when a single index is resubmitted).

use crate::error::{Error, Result};

/// `--shard`: an index, or `auto` (from the cluster's environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardChoice {
    Index(usize),
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The shard `choice` of `count`: `auto` reads `SLURM_ARRAY_TASK_ID` (a Slurm array), else
    /// `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job).
    pub fn new(choice: ShardChoice, count: usize, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let bad = |m: String| Error::InvalidSetting(format!("--shard: {m}"));
        if count == 0 {
            return Err(bad("--shards must be at least 1".into()));
        }
        let index = match choice {
            ShardChoice::Index(i) => i,
            ShardChoice::Auto => {
                let (name, value) = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]
                    .iter()
                    .find_map(|n| env(n).map(|v| (*n, v)))
                    .ok_or_else(|| {
                        bad("auto needs SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the environment".into())
                    })?;
                value.trim().parse().map_err(|_| bad(format!("{name}={value} is not an index")))?
            }
        };
        if index >= count {
            return Err(bad(format!("index {index} is not below --shards {count}")));
        }
        Ok(Shard { index, count })
    }

    /// This shard's rows, in manifest order.
    pub fn rows<'r, T>(&self, rows: &'r [T]) -> Vec<&'r T> {
        rows.iter().enumerate().filter(|(i, _)| i % self.count == self.index).map(|(_, r)| r).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_row_once_and_auto_reads_the_cluster() {
        let rows: Vec<usize> = (0..23).collect();
        let mut seen: Vec<usize> = (0..5).flat_map(|i| Shard { index: i, count: 5 }.rows(&rows)).copied().collect();
        seen.sort();
        assert_eq!(seen, rows);
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(Shard::new(ShardChoice::Auto, 4, env(&[("SLURM_ARRAY_TASK_ID", "2")])).unwrap().index, 2);
        assert_eq!(Shard::new(ShardChoice::Auto, 4, env(&[("JOB_COMPLETION_INDEX", "3")])).unwrap().index, 3);
        assert!(Shard::new(ShardChoice::Auto, 4, env(&[])).unwrap_err().to_string().contains("SLURM_ARRAY_TASK_ID"));
        assert!(Shard::new(ShardChoice::Index(4), 4, env(&[])).is_err());
    }
}
