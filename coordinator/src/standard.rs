//! The standard gRPC services the coordinator serves beside `Jobs` and `Workers`:
//! `grpc.health.v1.Health` and server reflection (`grpc.reflection.v1` and `v1alpha`, since
//! many clients, grpcio's among them, still speak only v1alpha).
//!
//! Neither asks for the shared token. Load balancers and orchestrators probe health without
//! credentials, and reflection serves only the schema, which is the public
//! `proto/pathgrid/v1/pathgrid.proto`; every call that reads or changes jobs or nodes stays
//! behind the token.

use crate::error::Error;
use pathgrid_proto::v1::{jobs_server, workers_server};
use tonic::transport::server::Router;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The services whose health is reported: "" (the whole server) and ours.
const REPORTED: [&str; 3] = ["", jobs_server::SERVICE_NAME, workers_server::SERVICE_NAME];

/// Reports the coordinator's health; see [`Health::not_serving`].
#[derive(Debug)]
pub(crate) struct Health {
    reporter: HealthReporter,
}

/// Adds health (SERVING for "" and for `Jobs` and `Workers`) and reflection to `router`.
pub(crate) async fn add(router: Router) -> Result<(Router, Health), Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in REPORTED {
        reporter.set_service_status(name, ServingStatus::Serving).await;
    }
    let reflection = |b: tonic_reflection::server::Builder<'static>| {
        b.register_encoded_file_descriptor_set(pathgrid_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let configure = tonic_reflection::server::Builder::configure;
    let v1 = reflection(configure()).build_v1()?;
    let v1alpha = reflection(configure()).build_v1alpha()?;
    let router = router.add_service(health).add_service(v1).add_service(v1alpha);
    Ok((router, Health { reporter }))
}

impl Health {
    /// Shutdown has begun: every reported service turns NOT_SERVING, which open `Watch`
    /// streams receive at once. The statuses are then cleared, which ends those streams, so
    /// a load balancer's watch does not hold the server's graceful shutdown open.
    pub(crate) async fn not_serving(mut self) {
        for name in REPORTED {
            self.reporter.set_service_status(name, ServingStatus::NotServing).await;
        }
        for name in REPORTED {
            self.reporter.clear_service_status(name).await;
        }
    }
}
