//! The job actor's side of its lease: taken before the job runs, renewed while it runs,
//! released when it ends, so that two coordinators never run one job.

use super::JobActor;
use crate::lease::Acquire;

impl JobActor {
    /// A new job takes its lease here (a restored one arrives with it). False when another
    /// coordinator holds it: then this one must not run the job.
    pub(super) async fn take_lease(&mut self) -> bool {
        let Some(store) = self.store.clone() else { return true };
        if self.lease.is_some() {
            return true;
        }
        match store.acquire(&self.ctx.id).await {
            Ok(Acquire::Taken(lease)) => {
                self.lease = Some(lease);
                true
            }
            Ok(Acquire::Held { holder, .. }) => {
                self.fail(format!("job id {} is held by coordinator {holder}", self.ctx.id));
                false
            }
            Err(e) => {
                // The store is unreachable: run in memory; the result still reaches the client.
                tracing::warn!(job = %self.ctx.id, error = %e, "no lease taken; this job is not checkpointed");
                true
            }
        }
    }

    /// False when the lease is lost: another coordinator runs the job now, so this one stops
    /// without writing anything more.
    pub(super) async fn renew_lease(&mut self) -> bool {
        let (Some(store), Some(lease)) = (self.store.clone(), self.lease.as_mut()) else { return true };
        match store.renew(lease).await {
            Ok(true) => true,
            Err(e) => {
                tracing::warn!(job = %self.ctx.id, error = %e, "lease renewal failed; will retry");
                true
            }
            Ok(false) => {
                self.lease = None;
                tracing::error!(job = %self.ctx.id, "lease lost: another coordinator runs this job now; stopping it here");
                self.fail("lease lost to another coordinator, which runs this job now".into());
                self.sched.job_finished(self.ctx.id.clone()).await;
                self.publish();
                false
            }
        }
    }

    pub(super) async fn release_lease(&mut self) {
        if let (Some(store), Some(lease)) = (self.store.clone(), self.lease.take()) {
            store.release(lease).await;
        }
    }
}
