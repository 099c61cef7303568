//! Thin client over the generated `Jobs` client, for the CLI and tests.
//!
//! [`Client::wait`] follows a job across coordinator restarts: when the stream breaks or the
//! coordinator is unreachable, it reconnects with exponential backoff (see [`Reconnect`]) and
//! watches the same job id again. A coordinator restarted on its `--store` has resumed the job
//! under that id, so the client sees it to its end.

use crate::error::Error;
use backon::{ExponentialBuilder, Retryable};
use pathgrid_pricing::JobSpec;
use pathgrid_proto::auth::AddToken;
use pathgrid_proto::convert;
use pathgrid_proto::tls::{self, ClientTls};
use pathgrid_proto::v1::{self, jobs_client::JobsClient};
use pathgrid_protocol::{JobPhase, JobResult, NodeInfo, Progress};
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

#[derive(Debug, Clone)]
pub struct Client {
    inner: JobsClient<InterceptedService<Channel, AddToken>>,
    reconnect: Reconnect,
}

/// How [`Client::wait`] rides out a lost coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnect {
    /// First wait before watching again; it doubles (with jitter) up to `max_delay`.
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Give up when the coordinator stays unreachable this long, counted per outage
    /// (`Duration::ZERO`: never reconnect).
    pub deadline: Duration,
}

impl Default for Reconnect {
    /// Long enough for a coordinator's process or container to restart.
    fn default() -> Self {
        Reconnect {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            deadline: Duration::from_secs(300),
        }
    }
}

/// Errors after which watching again may work: the coordinator went away (or is restarting),
/// the stream broke, or it ended without the job's end. Anything the coordinator answered on
/// purpose (unknown job, bad token, bad request) is final.
fn retryable(e: &Error) -> bool {
    use tonic::Code;
    match e {
        Error::Transport(_) | Error::ShuttingDown => true,
        Error::Status(s) => {
            matches!(s.code(), Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled | Code::Aborted)
        }
        _ => false,
    }
}

impl Client {
    /// Connects to `url` (e.g. `http://127.0.0.1:50051`), sending `token` with every call.
    pub async fn connect(url: &str, token: Option<&str>) -> Result<Client, Error> {
        Client::connect_with(url, token, None).await
    }

    /// Like [`Client::connect`], over TLS when `url` is `https://` (see [`pathgrid_proto::tls`]).
    pub async fn connect_with(url: &str, token: Option<&str>, tls: Option<&ClientTls>) -> Result<Client, Error> {
        let channel = tls::endpoint(url, tls)?
            .connect_timeout(std::time::Duration::from_secs(10))
            .http2_keep_alive_interval(std::time::Duration::from_secs(20))
            .keep_alive_while_idle(true)
            .connect()
            .await?;
        let inner = JobsClient::with_interceptor(channel, AddToken::new(token)?)
            .max_decoding_message_size(pathgrid_proto::DEFAULT_MAX_MESSAGE_BYTES * 16)
            .max_encoding_message_size(pathgrid_proto::DEFAULT_MAX_MESSAGE_BYTES);
        Ok(Client { inner, reconnect: Reconnect::default() })
    }

    /// Sets how [`Client::wait`] reconnects.
    pub fn with_reconnect(mut self, reconnect: Reconnect) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// Submits a job; returns its id.
    pub async fn submit(&mut self, spec: &JobSpec) -> Result<String, Error> {
        let req = v1::SubmitRequest { spec: Some(convert::spec_to_proto(spec)) };
        // Over the limit, the server would reset the stream mid-upload ("h2 protocol error"):
        // say what is wrong instead.
        crate::session::check_size(
            "the submitted spec",
            prost::Message::encoded_len(&req),
            pathgrid_proto::DEFAULT_MAX_MESSAGE_BYTES,
        )?;
        Ok(self.inner.submit(req).await?.into_inner().id)
    }

    /// Progress events of a job; the stream ends after the terminal one.
    pub async fn watch(&mut self, job_id: &str) -> Result<impl Stream<Item = Result<Progress, Error>> + use<>, Error> {
        let stream = self.inner.watch(v1::JobId { id: job_id.to_string() }).await?.into_inner();
        Ok(stream.map(|e| match e {
            Ok(e) => convert::progress_from_proto(&e).map_err(Error::from),
            Err(s) => Err(Error::Status(s)),
        }))
    }

    pub async fn get(&mut self, job_id: &str) -> Result<Progress, Error> {
        let e = self.inner.get(v1::JobId { id: job_id.to_string() }).await?.into_inner();
        Ok(convert::progress_from_proto(&e)?)
    }

    /// Cancels a job; false when it had already finished.
    pub async fn cancel(&mut self, job_id: &str) -> Result<bool, Error> {
        Ok(self.inner.cancel(v1::JobId { id: job_id.to_string() }).await?.into_inner().cancelled)
    }

    pub async fn list_nodes(&mut self) -> Result<Vec<NodeInfo>, Error> {
        let list = self.inner.list_nodes(v1::ListNodesRequest {}).await?.into_inner();
        Ok(list.nodes.iter().map(convert::node_from_proto).collect())
    }

    pub async fn list_jobs(&mut self) -> Result<Vec<Progress>, Error> {
        let list = self.inner.list_jobs(v1::ListJobsRequest {}).await?.into_inner();
        Ok(list.jobs.iter().map(convert::progress_from_proto).collect::<Result<_, _>>()?)
    }

    /// Watches a job to the end, calling `progress` on every event; returns the result
    /// of a succeeded job, or [`Error::JobFailed`]. Follows the job across coordinator
    /// restarts as [`Reconnect`] allows, logging a warning each time it reconnects.
    pub async fn wait(&mut self, job_id: &str, mut progress: impl FnMut(&Progress)) -> Result<JobResult, Error> {
        loop {
            let (first, stream) = self.watch_reconnecting(job_id).await?;
            let mut stream = std::pin::pin!(stream);
            let mut next = Some(Ok(first));
            let broken = loop {
                match next {
                    Some(Ok(p)) => {
                        progress(&p);
                        if p.is_terminal() {
                            return terminal_result(p);
                        }
                    }
                    Some(Err(e)) if retryable(&e) => break e,
                    Some(Err(e)) => return Err(e),
                    None => break Error::ShuttingDown,
                }
                next = stream.next().await;
            };
            if self.reconnect.deadline.is_zero() {
                return Err(broken);
            }
            tracing::warn!(job = %job_id, error = %broken, "lost the coordinator; reconnecting");
        }
    }

    /// Opens a watch and reads its first event, retrying with backoff while the coordinator
    /// is unreachable: a stream that breaks before its first event counts as a failed try, so
    /// a coordinator that accepts and drops connections cannot make this spin.
    async fn watch_reconnecting(
        &self,
        job_id: &str,
    ) -> Result<(Progress, impl Stream<Item = Result<Progress, Error>> + use<>), Error> {
        let r = &self.reconnect;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(r.min_delay)
            .with_max_delay(r.max_delay)
            .with_total_delay(Some(r.deadline))
            .without_max_times()
            .with_jitter();
        let open = || {
            let mut client = self.clone();
            let id = job_id.to_string();
            async move {
                let mut stream = Box::pin(client.watch(&id).await?);
                match stream.next().await {
                    Some(Ok(first)) => Ok((first, stream)),
                    Some(Err(e)) => Err(e),
                    None => Err(Error::ShuttingDown),
                }
            }
        };
        open.retry(backoff)
            .when(|e| !r.deadline.is_zero() && retryable(e))
            .notify(|e, wait| {
                tracing::warn!(job = %job_id, error = %e, retry_in_ms = wait.as_millis() as u64, "coordinator unreachable; reconnecting");
            })
            .await
    }
}

/// The result of a terminal progress event: `Ok` only for a succeeded job.
pub fn terminal_result(p: Progress) -> Result<JobResult, Error> {
    match p.result {
        Some(r) if r.status == JobPhase::Succeeded => Ok(r),
        Some(r) => {
            Err(Error::JobFailed { job_id: r.job_id.clone(), status: r.status, message: r.error.unwrap_or_default() })
        }
        None => Err(Error::JobFailed {
            job_id: p.job_id,
            status: p.phase,
            message: p.error.unwrap_or_else(|| "no result".into()),
        }),
    }
}
