//! Where checkpoints live: any [`pathgrid_store`] store (a local directory or
//! `s3://bucket/prefix`), with one object per job and one lease per job.
//!
//! ```text
//! jobs/<job id>.ckpt                 the checkpoint (see crate::checkpoint for the format)
//! leases/<job id>/<generation>       who runs the job (see crate::lease)
//! ```
//!
//! Writes replace a whole object at once (temp file + rename locally, a single PutObject on
//! S3), so a coordinator killed mid-write leaves the previous checkpoint in place; what is
//! read back is verified by [`decode`] before anything trusts it.

use crate::checkpoint::{Checkpoint, decode, encode, is_safe_job_id};
use crate::error::Error;
use crate::lease::Owner;
use pathgrid_store::{AnyStore, LocalStore, Store};
use std::path::PathBuf;
use std::time::Duration;

/// Largest checkpoint read back (a book of many instruments keeps its pricing sums).
const MAX_CHECKPOINT_BYTES: u64 = 1 << 30;
const JOBS: &str = "jobs/";
const SUFFIX: &str = ".ckpt";

/// A checkpoint store and the identity this coordinator takes leases under.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    store: AnyStore,
    owner: Owner,
    lease_ttl: Duration,
}

impl CheckpointStore {
    /// Checkpoints in `store`, leases taken as `owner`, for 30 s at a time.
    pub fn new(store: AnyStore, owner: Owner) -> CheckpointStore {
        CheckpointStore { store, owner, lease_ttl: Duration::from_secs(30) }
    }

    /// A local directory (files 0600), under a [`Owner::unique`] identity.
    pub fn local(dir: impl Into<PathBuf>) -> CheckpointStore {
        CheckpointStore::new(AnyStore::Local(LocalStore::private(dir)), Owner::unique())
    }

    /// How long a lease lasts without renewal (renewed every third of it). A crashed
    /// coordinator's jobs can be taken over by a different owner after this long.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> CheckpointStore {
        self.lease_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    /// The object that holds `job_id`'s checkpoint.
    pub fn object(job_id: &str) -> String {
        format!("{JOBS}{job_id}{SUFFIX}")
    }

    /// Stores (replaces) the checkpoint of `checkpoint.job_id` in one write.
    pub async fn save(&self, checkpoint: &Checkpoint) -> Result<(), Error> {
        let bytes = encode(checkpoint)?;
        self.store.put(&Self::object(&checkpoint.job_id), bytes).await?;
        Ok(())
    }

    /// Reads and verifies one checkpoint object.
    pub async fn load(&self, object: &str) -> Result<Checkpoint, Error> {
        let refused = |source: Error| Error::CheckpointRefused { object: object.to_string(), source: Box::new(source) };
        let bytes = self.store.get(object, MAX_CHECKPOINT_BYTES).await?;
        let checkpoint = decode(&bytes).map_err(refused)?;
        if Self::object(&checkpoint.job_id) != object {
            return Err(Error::CheckpointMisplaced { object: object.to_string(), job_id: checkpoint.job_id });
        }
        Ok(checkpoint)
    }

    /// Every checkpoint that verifies, by job id. Those that do not are reported loudly and
    /// left in place for inspection; their jobs are not resumed.
    pub async fn load_all(&self) -> Result<Vec<Checkpoint>, Error> {
        let mut out = Vec::new();
        for key in self.store.list("").await? {
            let Some(id) = key.strip_prefix(JOBS).and_then(|k| k.strip_suffix(SUFFIX)) else {
                if !key.contains('/') && key.ends_with(".json") {
                    tracing::warn!(object = %key, "checkpoint of format 2 or older (plain JSON) ignored: its job is not resumed");
                }
                continue;
            };
            if !is_safe_job_id(id) {
                tracing::error!(object = %key, "checkpoint object with an unsafe name ignored");
                continue;
            }
            match self.load(&key).await {
                Ok(cp) => out.push(cp),
                Err(e @ (Error::CheckpointRefused { .. } | Error::CheckpointMisplaced { .. })) => {
                    tracing::error!(object = %key, error = %e, "CHECKPOINT REFUSED: it does not verify; its job is not resumed");
                }
                // Gone between the listing and the read (its job finished elsewhere).
                Err(Error::Store(pathgrid_store::Error::NotFound { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.job_id.cmp(&b.job_id));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::checkpoint::tests::sample;

    fn checkpoint(id: &str, elapsed_s: f64) -> Checkpoint {
        Checkpoint { job_id: id.into(), elapsed_s, ..sample() }
    }

    /// A coordinator killed in the middle of a write leaves a partial temporary file (never
    /// read) or, on a store without atomic replace, a truncated object (refused); the last
    /// good checkpoint of every other job loads unchanged.
    #[tokio::test]
    async fn partial_and_tampered_checkpoints_are_refused_and_good_ones_survive() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::local(dir.path());
        store.save(&checkpoint("good", 1.0)).await.unwrap();
        store.save(&checkpoint("good", 2.0)).await.unwrap();
        store.save(&checkpoint("cut", 1.0)).await.unwrap();
        store.save(&checkpoint("edited", 1.0)).await.unwrap();
        let jobs = dir.path().join("jobs");
        let full = std::fs::read(jobs.join("good.ckpt")).unwrap();
        // What a killed writer leaves behind: half of the next version in a temp file.
        std::fs::write(jobs.join(".good.ckpt.pgtmp-999-0"), &full[..full.len() / 2]).unwrap();
        let cut = std::fs::read(jobs.join("cut.ckpt")).unwrap();
        std::fs::write(jobs.join("cut.ckpt"), &cut[..cut.len() - 10]).unwrap();
        let edited = String::from_utf8(std::fs::read(jobs.join("edited.ckpt")).unwrap()).unwrap();
        std::fs::write(jobs.join("edited.ckpt"), edited.replace("\"elapsed_s\":1.0", "\"elapsed_s\":9.0")).unwrap();
        // A checkpoint copied under another job's name.
        std::fs::copy(jobs.join("good.ckpt"), jobs.join("copied.ckpt")).unwrap();
        // An old (format 2) file at the root.
        std::fs::write(dir.path().join("old.json"), b"{}").unwrap();

        let loaded = store.load_all().await.unwrap();
        assert_eq!(loaded, vec![checkpoint("good", 2.0)]);
        for (object, digest) in [("jobs/cut.ckpt", false), ("jobs/edited.ckpt", true)] {
            match store.load(object).await {
                Err(Error::CheckpointRefused { object: o, source }) => {
                    assert_eq!(o, object);
                    assert_eq!(matches!(*source, Error::CheckpointDigest { .. }), digest, "{source}");
                }
                other => panic!("{object}: {other:?}"),
            }
        }
        assert!(matches!(store.load("jobs/copied.ckpt").await, Err(Error::CheckpointMisplaced { .. })));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn checkpoint_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::local(dir.path().join("c"));
        store.save(&checkpoint("j", 1.0)).await.unwrap();
        let mode = std::fs::metadata(dir.path().join("c/jobs/j.ckpt")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
