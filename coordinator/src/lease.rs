//! Leases: one coordinator owns a job at a time, even when several share one store.
//!
//! A lease is a small JSON object (owner and expiry) under `leases/<job id>/<generation>`.
//! The current lease of a job is its highest generation. Taking a job writes the next
//! generation with a conditional put (`put_if_absent`: a hard link locally, `If-None-Match: *`
//! on S3), so of two coordinators racing for the same generation exactly one wins, and
//! nobody ever deletes or overwrites a lease that someone else may just have taken. The
//! owner renews its generation in place while it runs the job, and stops the job as soon
//! as a higher generation appears or it could not renew before expiry.
//!
//! A lease may be taken over when it has expired, was released (expiry 0), or belongs to an
//! earlier incarnation of the same owner: attempt 2 of an AWS Batch job supersedes
//! attempt 1, which Batch has ended, without waiting for its lease to run out.

use crate::checkpoint_store::CheckpointStore;
use crate::error::Error;
use pathgrid_store::Store;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Lease objects are tiny; anything larger is not one.
const MAX_LEASE_BYTES: u64 = 64 * 1024;

/// Who holds a lease: a name and an incarnation. A higher incarnation of the same name
/// supersedes a lower one (the older one is known to be gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub name: String,
    pub incarnation: u64,
}

impl Owner {
    pub fn new(name: impl Into<String>, incarnation: u64) -> Owner {
        Owner { name: name.into(), incarnation }
    }

    /// A name nobody else uses (process id and start time): such an owner never
    /// supersedes anyone, so it waits for leases to expire.
    pub fn unique() -> Owner {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Owner::new(format!("coordinator-{}-{:x}-{n}", std::process::id(), now_ms()), 0)
    }

    fn supersedes(&self, other: &Owner) -> bool {
        self.name == other.name && self.incarnation > other.incarnation
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.name, self.incarnation)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseRecord {
    owner: Owner,
    /// Milliseconds since the Unix epoch; 0 means released.
    expires_unix_ms: u64,
}

/// A lease this coordinator holds.
#[derive(Debug)]
pub(crate) struct Lease {
    job_id: String,
    generation: u64,
    /// Until when it is ours by our own clock (the last successful write plus the TTL).
    valid_until: SystemTime,
}

impl Lease {
    pub(crate) fn expired(&self) -> bool {
        SystemTime::now() >= self.valid_until
    }
}

/// The outcome of trying to take a job.
#[derive(Debug)]
pub(crate) enum Acquire {
    Taken(Lease),
    Held { holder: Owner, expires_unix_ms: u64 },
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn prefix(job_id: &str) -> String {
    format!("leases/{job_id}/")
}

fn key(job_id: &str, generation: u64) -> String {
    // Zero-padded so that the store's sorted listing is in generation order.
    format!("leases/{job_id}/{generation:020}")
}

impl CheckpointStore {
    fn record(&self, ttl: Duration) -> Vec<u8> {
        self.record_until(now_ms().saturating_add(ttl.as_millis() as u64))
    }

    fn record_until(&self, expires_unix_ms: u64) -> Vec<u8> {
        let r = LeaseRecord { owner: self.owner().clone(), expires_unix_ms };
        serde_json::to_vec(&r).unwrap_or_default()
    }

    /// Generations of a job's lease, in order.
    async fn generations(&self, job_id: &str) -> Result<Vec<u64>, Error> {
        let p = prefix(job_id);
        let mut g: Vec<u64> = self
            .store()
            .list(&p)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(&p).and_then(|n| n.parse().ok()))
            .collect();
        g.sort_unstable();
        Ok(g)
    }

    /// Takes the lease of `job_id` unless a live lease of someone else holds it.
    pub(crate) async fn acquire(&self, job_id: &str) -> Result<Acquire, Error> {
        // Each lost race means another coordinator wrote a newer generation; a few rounds
        // settle who holds it.
        for _ in 0..8 {
            let generations = self.generations(job_id).await?;
            let next = match generations.last() {
                None => 0,
                Some(&g) => {
                    match self.store().get(&key(job_id, g), MAX_LEASE_BYTES).await {
                        Ok(bytes) => match serde_json::from_slice::<LeaseRecord>(&bytes) {
                            Ok(r) => {
                                let live = r.expires_unix_ms > now_ms();
                                if live && r.owner != *self.owner() && !self.owner().supersedes(&r.owner) {
                                    return Ok(Acquire::Held { holder: r.owner, expires_unix_ms: r.expires_unix_ms });
                                }
                            }
                            // A lease nobody can read protects nothing; the next generation
                            // replaces it.
                            Err(e) => tracing::warn!(job = job_id, generation = g, error = %e, "unreadable lease"),
                        },
                        // Removed between the listing and the read: look again.
                        Err(pathgrid_store::Error::NotFound { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    g + 1
                }
            };
            let ttl = self.lease_ttl();
            let valid_until = SystemTime::now() + ttl;
            if !self.store().put_if_absent(&key(job_id, next), self.record(ttl)).await? {
                // Someone took this generation first: look at what they wrote.
                continue;
            }
            // Ours only while it is the newest generation (an older, slow writer may have
            // recreated a generation below it; that one never counts).
            if self.generations(job_id).await?.last() != Some(&next) {
                continue;
            }
            for g in generations {
                // Superseded generations: only clutter now.
                let _ = self.store().delete(&key(job_id, g)).await;
            }
            return Ok(Acquire::Taken(Lease { job_id: job_id.to_string(), generation: next, valid_until }));
        }
        Err(Error::LeaseContended { job_id: job_id.to_string() })
    }

    /// Extends the lease. `Ok(false)`: it is lost (a newer generation exists, or it could not
    /// be renewed before it expired), so the job must stop writing and running.
    pub(crate) async fn renew(&self, lease: &mut Lease) -> Result<bool, Error> {
        let renewed = async {
            if self.generations(&lease.job_id).await?.last() != Some(&lease.generation) {
                return Ok(false);
            }
            let ttl = self.lease_ttl();
            let valid_until = SystemTime::now() + ttl;
            self.store().put(&key(&lease.job_id, lease.generation), self.record(ttl)).await?;
            lease.valid_until = valid_until;
            Ok(true)
        }
        .await;
        match renewed {
            Err(e) if !lease.expired() => Err(e),
            Err(e) => {
                tracing::warn!(job = %lease.job_id, error = %e, "lease could not be renewed before it expired");
                Ok(false)
            }
            ok => ok,
        }
    }

    /// Gives the lease up so that another coordinator may take the job at once.
    pub(crate) async fn release(&self, lease: Lease) {
        match self.generations(&lease.job_id).await {
            Ok(g) if g.last() == Some(&lease.generation) => {
                if let Err(e) = self.store().put(&key(&lease.job_id, lease.generation), self.record_until(0)).await {
                    tracing::warn!(job = %lease.job_id, error = %e, "lease not released; it will expire");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(job = %lease.job_id, error = %e, "lease not released; it will expire"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use pathgrid_store::{AnyStore, LocalStore};

    fn store(dir: &std::path::Path, owner: Owner, ttl: Duration) -> CheckpointStore {
        CheckpointStore::new(AnyStore::Local(LocalStore::private(dir)), owner).with_lease_ttl(ttl)
    }

    #[tokio::test]
    async fn a_live_lease_keeps_others_out_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let a = store(dir.path(), Owner::new("a", 0), Duration::from_secs(60));
        let b = store(dir.path(), Owner::new("b", 0), Duration::from_secs(60));
        let Acquire::Taken(mut lease) = a.acquire("job-1").await.unwrap() else {
            panic!("a could not take a free job")
        };
        match b.acquire("job-1").await.unwrap() {
            Acquire::Held { holder, .. } => assert_eq!(holder, Owner::new("a", 0)),
            Acquire::Taken(_) => panic!("b took a live lease"),
        }
        assert!(a.renew(&mut lease).await.unwrap());
        assert!(matches!(b.acquire("job-1").await.unwrap(), Acquire::Held { .. }));
        a.release(lease).await;
        let Acquire::Taken(mut taken) = b.acquire("job-1").await.unwrap() else { panic!("a released lease") };
        assert_eq!(taken.generation, 1);
        assert!(b.renew(&mut taken).await.unwrap());
        // Superseded generations are cleaned up.
        assert_eq!(b.generations("job-1").await.unwrap(), vec![1]);
    }

    #[tokio::test]
    async fn expired_or_superseded_leases_are_taken_over_and_the_old_owner_notices() {
        let dir = tempfile::tempdir().unwrap();
        let old = store(dir.path(), Owner::new("batch:j", 1), Duration::from_secs(600));
        let Acquire::Taken(mut old_lease) = old.acquire("job").await.unwrap() else { panic!() };
        // Another name waits; the next attempt of the same name takes over at once.
        let other = store(dir.path(), Owner::new("batch:k", 9), Duration::from_secs(600));
        assert!(matches!(other.acquire("job").await.unwrap(), Acquire::Held { .. }));
        let next = store(dir.path(), Owner::new("batch:j", 2), Duration::from_millis(1));
        let Acquire::Taken(_) = next.acquire("job").await.unwrap() else { panic!("attempt 2 was kept out") };
        assert!(!old.renew(&mut old_lease).await.unwrap(), "the superseded owner kept its lease");
        // The new lease had a 1 ms lifetime: expired, so anyone may take it.
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(matches!(other.acquire("job").await.unwrap(), Acquire::Taken(_)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_coordinators_take_a_job_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..8 {
            let s = store(dir.path(), Owner::new(format!("c{i}"), 0), Duration::from_secs(60));
            set.spawn(async move { s.acquire("contended").await });
        }
        let results = set.join_all().await;
        let taken = results.iter().filter(|r| matches!(r, Ok(Acquire::Taken(_)))).count();
        assert_eq!(taken, 1, "{results:?}");
    }
}
