//! The Lambda function: S3 `ObjectCreated` events under `inputs/` → results or Batch jobs.

use aws_lambda_events::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use pathgrid_trigger::{TriggerContext, handle_s3_event_within, remaining_time};
use std::sync::Arc;
use std::time::SystemTime;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let ctx = Arc::new(TriggerContext::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| {
        let ctx = Arc::clone(&ctx);
        async move {
            let remaining = remaining_time(event.context.deadline, SystemTime::now());
            let outcomes = handle_s3_event_within(event.payload, &ctx, Some(remaining)).await?;
            for outcome in &outcomes {
                lambda_runtime::tracing::info!(?outcome, "handled");
            }
            Ok::<_, Error>(serde_json::json!({ "outcomes": outcomes }))
        }
    }))
    .await
}
