//! The once-only marker `markers/<job name>` of a large job, and what a delivery does with it.
//!
//! The marker says what the trigger knows: `pending` (written, with the time, before
//! `SubmitJob`) or `submitted` (with the Batch job id, once `SubmitJob` returned). A Lambda
//! that dies between the two leaves a `pending` marker; a later delivery that finds it stale
//! asks Batch (`ListJobs` by job name) and submits only when Batch has no such job, so the
//! input is never stranded and never submitted twice by sequential deliveries.

use crate::Error;
use aws_sdk_batch::types::KeyValuesPair;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The marker object's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Marker {
    pub input: String,
    pub etag: String,
    pub job_name: String,
    pub num_nodes: u32,
    #[serde(flatten)]
    pub state: MarkerState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum MarkerState {
    /// Written before `SubmitJob`; `since` in Unix seconds.
    Pending { since: u64 },
    /// `SubmitJob` returned this Batch job id.
    Submitted { job_id: String },
}

/// What a delivery found under the marker key when it could not create the marker.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// Submitted: nothing to do.
    Submitted { job_id: String },
    /// Another delivery wrote it this long ago and may still be submitting: leave it alone.
    InFlight { age: Duration },
    /// Pending for longer than the stale limit, or unreadable (a marker of an older release):
    /// Batch decides whether the job exists.
    Stale,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Classifies an existing marker's bytes; `stale_after` is the age from which a pending
/// marker is taken as left behind by a delivery that died.
pub(crate) fn classify(bytes: &[u8], now: u64, stale_after: Duration) -> Found {
    match serde_json::from_slice::<Marker>(bytes) {
        Ok(Marker { state: MarkerState::Submitted { job_id }, .. }) => Found::Submitted { job_id },
        Ok(Marker { state: MarkerState::Pending { since }, .. }) => {
            let age = Duration::from_secs(now.saturating_sub(since));
            if age < stale_after { Found::InFlight { age } } else { Found::Stale }
        }
        Err(_) => Found::Stale,
    }
}

/// The id of a Batch job named `job_name` in `queue`, in any state (`ListJobs` with a
/// `JOB_NAME` filter lists every status).
pub(crate) async fn find_batch_job(
    batch: &aws_sdk_batch::Client,
    queue: &str,
    job_name: &str,
) -> Result<Option<String>, Error> {
    let filter = KeyValuesPair::builder().name("JOB_NAME").values(job_name).build();
    let mut next: Option<String> = None;
    loop {
        let page = batch
            .list_jobs()
            .job_queue(queue)
            .filters(filter.clone())
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| Error::Batch {
                job_name: job_name.to_string(),
                message: format!("ListJobs: {}", aws_sdk_batch::error::DisplayErrorContext(e)),
            })?;
        // The filter may match case-insensitively or by prefix: the name must be ours exactly.
        if let Some(id) =
            page.job_summary_list().iter().find(|j| j.job_name() == Some(job_name)).and_then(|j| j.job_id())
        {
            return Ok(Some(id.to_string()));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn marker(state: MarkerState) -> Vec<u8> {
        let m = Marker {
            input: "s3://b/inputs/x.json".into(),
            etag: "e".into(),
            job_name: "j".into(),
            num_nodes: 2,
            state,
        };
        serde_json::to_vec(&m).unwrap()
    }

    #[test]
    fn states_round_trip_and_age() {
        let limit = Duration::from_secs(60);
        let submitted = marker(MarkerState::Submitted { job_id: "abc".into() });
        assert!(String::from_utf8_lossy(&submitted).contains(r#""state":"submitted""#));
        assert_eq!(classify(&submitted, 1000, limit), Found::Submitted { job_id: "abc".into() });
        let pending = marker(MarkerState::Pending { since: 1000 });
        assert!(String::from_utf8_lossy(&pending).contains(r#""state":"pending""#));
        assert_eq!(classify(&pending, 1030, limit), Found::InFlight { age: Duration::from_secs(30) });
        assert_eq!(classify(&pending, 1060, limit), Found::Stale);
        assert_eq!(classify(&pending, 1000, Duration::ZERO), Found::Stale);
        // A clock behind the writer's is an age of 0, not an underflow.
        assert_eq!(classify(&pending, 900, limit), Found::InFlight { age: Duration::ZERO });
        // An older release's marker (no state) or garbage: Batch decides.
        let old = br#"{"input":"s3://b/k","etag":"e","job_name":"j","num_nodes":2}"#;
        assert_eq!(classify(old, 1000, limit), Found::Stale);
        assert_eq!(classify(b"not json", 1000, limit), Found::Stale);
    }
}
