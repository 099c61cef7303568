//! Checkpoints: job state written at phase boundaries so a restarted coordinator resumes
//! its unfinished jobs instead of starting over.
//!
//! [`CheckpointStore`] is deliberately small (save one, load all) so that an S3-backed
//! store can sit next to the local-directory one.

use crate::error::Error;
use pathgrid_pricing::{Coefficients, JobResult, JobSpec, JobStatus, LegResult, PricingStats};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Format version of [`Checkpoint`].
pub const CHECKPOINT_VERSION: u32 = 2;

/// Everything needed to resume a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub job_id: String,
    pub spec: JobSpec,
    pub status: JobStatus,
    /// Run time accumulated over previous coordinator instances.
    pub elapsed_s: f64,
    pub instruments: Vec<InstrumentCheckpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JobResult>,
}

/// Progress of one instrument.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstrumentCheckpoint {
    /// Regression dates `solved_from..` are solved; `solved_from == 0` means training is done.
    pub solved_from: usize,
    /// One entry per regression date; entries below `solved_from` are placeholders.
    pub solved: Vec<Coefficients>,
    /// Finished pricing batches.
    #[serde(default)]
    pub pricing: Vec<(u64, PricingStats)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<LegResult>,
}

/// Where checkpoints live.
pub trait CheckpointStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores (replaces) the checkpoint of `checkpoint.job_id`, atomically.
    fn save<'a>(&'a self, checkpoint: &'a Checkpoint) -> BoxFuture<'a, Result<(), Error>>;
    /// Every stored checkpoint; unreadable entries are skipped with a warning.
    fn load_all(&self) -> BoxFuture<'_, Result<Vec<Checkpoint>, Error>>;
}

/// Job ids are used as object names: ASCII letters, digits, `-`, `_`, at most 100 chars.
pub fn is_safe_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A local directory with one `<job_id>.json` per job.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// Uses (and creates if needed) `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Result<DirStore, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::Checkpoint(format!("{}: {e}", dir.display())))?;
        Ok(DirStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl CheckpointStore for DirStore {
    fn save<'a>(&'a self, checkpoint: &'a Checkpoint) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if !is_safe_job_id(&checkpoint.job_id) {
                return Err(Error::Checkpoint(format!("unsafe job id {:?}", checkpoint.job_id)));
            }
            let text = serde_json::to_vec(checkpoint).map_err(|e| Error::Checkpoint(e.to_string()))?;
            let path = self.dir.join(format!("{}.json", checkpoint.job_id));
            let tmp = self.dir.join(format!(".{}.json.tmp", checkpoint.job_id));
            let io = |e: std::io::Error| Error::Checkpoint(format!("{}: {e}", path.display()));
            tokio::fs::write(&tmp, &text).await.map_err(io)?;
            tokio::fs::rename(&tmp, &path).await.map_err(io)?;
            Ok(())
        })
    }

    fn load_all(&self) -> BoxFuture<'_, Result<Vec<Checkpoint>, Error>> {
        Box::pin(async move {
            let io = |e: std::io::Error| Error::Checkpoint(format!("{}: {e}", self.dir.display()));
            let mut dir = tokio::fs::read_dir(&self.dir).await.map_err(io)?;
            let mut out = Vec::new();
            while let Some(entry) = dir.next_entry().await.map_err(io)? {
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || !name.ends_with(".json") {
                    continue;
                }
                let parsed = match tokio::fs::read(&path).await {
                    Ok(bytes) => serde_json::from_slice::<Checkpoint>(&bytes).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match parsed {
                    Ok(cp) if cp.version == CHECKPOINT_VERSION && is_safe_job_id(&cp.job_id) => out.push(cp),
                    Ok(cp) => tracing::warn!(path = %path.display(), version = cp.version, "skipping checkpoint"),
                    Err(e) => tracing::warn!(path = %path.display(), error = %e, "skipping unreadable checkpoint"),
                }
            }
            out.sort_by(|a, b| a.job_id.cmp(&b.job_id));
            Ok(out)
        })
    }
}
