//! Thin client over the generated `Jobs` client, for the CLI and tests.

use crate::error::Error;
use crate::job::Progress;
use crate::scheduler::NodeInfo;
use crate::service::{node_from_proto, progress_from_proto};
use pathgrid_pricing::{JobResult, JobSpec};
use pathgrid_proto::auth::AddToken;
use pathgrid_proto::convert;
use pathgrid_proto::v1::{self, jobs_client::JobsClient};
use tokio_stream::{Stream, StreamExt};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, Clone)]
pub struct Client {
    inner: JobsClient<InterceptedService<Channel, AddToken>>,
}

impl Client {
    /// Connects to `url` (e.g. `http://127.0.0.1:50051`), sending `token` with every call.
    pub async fn connect(url: &str, token: Option<&str>) -> Result<Client, Error> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| Error::Config(format!("coordinator url {url:?}: {e}")))?;
        let channel = endpoint
            .connect_timeout(std::time::Duration::from_secs(10))
            .http2_keep_alive_interval(std::time::Duration::from_secs(20))
            .keep_alive_while_idle(true)
            .connect()
            .await?;
        let inner = JobsClient::with_interceptor(channel, AddToken::new(token)?)
            .max_decoding_message_size(pathgrid_proto::DEFAULT_MAX_MESSAGE_BYTES * 16)
            .max_encoding_message_size(pathgrid_proto::DEFAULT_MAX_MESSAGE_BYTES);
        Ok(Client { inner })
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
            Ok(e) => progress_from_proto(&e).map_err(Error::from),
            Err(s) => Err(Error::Status(s)),
        }))
    }

    pub async fn get(&mut self, job_id: &str) -> Result<Progress, Error> {
        let e = self.inner.get(v1::JobId { id: job_id.to_string() }).await?.into_inner();
        Ok(progress_from_proto(&e)?)
    }

    /// Cancels a job; false when it had already finished.
    pub async fn cancel(&mut self, job_id: &str) -> Result<bool, Error> {
        Ok(self.inner.cancel(v1::JobId { id: job_id.to_string() }).await?.into_inner().cancelled)
    }

    pub async fn list_nodes(&mut self) -> Result<Vec<NodeInfo>, Error> {
        let list = self.inner.list_nodes(v1::ListNodesRequest {}).await?.into_inner();
        Ok(list.nodes.iter().map(node_from_proto).collect())
    }

    pub async fn list_jobs(&mut self) -> Result<Vec<Progress>, Error> {
        let list = self.inner.list_jobs(v1::ListJobsRequest {}).await?.into_inner();
        Ok(list.jobs.iter().map(progress_from_proto).collect::<Result<_, _>>()?)
    }

    /// Watches a job to the end, calling `progress` on every event; returns the result
    /// of a succeeded job, or [`Error::JobFailed`].
    pub async fn wait(&mut self, job_id: &str, mut progress: impl FnMut(&Progress)) -> Result<JobResult, Error> {
        let mut stream = std::pin::pin!(self.watch(job_id).await?);
        while let Some(p) = stream.next().await {
            let p = p?;
            progress(&p);
            if p.is_terminal() {
                return terminal_result(p);
            }
        }
        Err(Error::ShuttingDown)
    }
}

/// The result of a terminal progress event: `Ok` only for a succeeded job.
pub fn terminal_result(p: Progress) -> Result<JobResult, Error> {
    match p.result {
        Some(r) if r.status == pathgrid_pricing::JobStatus::Succeeded => Ok(r),
        Some(r) => Err(Error::JobFailed {
            job_id: r.job_id.clone(),
            status: format!("{:?}", r.status).to_lowercase(),
            message: r.error.unwrap_or_default(),
        }),
        None => Err(Error::JobFailed {
            job_id: p.job_id,
            status: format!("{:?}", p.phase).to_lowercase(),
            message: p.error.unwrap_or_else(|| "no result".into()),
        }),
    }
}
