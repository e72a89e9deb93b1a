//! The Gateway API routes of `spec.services.<svc>.route`, applied like the PodMonitor: only
//! where the API server serves their kind (discovery, cached), never failing the pass; what
//! happened goes to the `Routes` condition. HTTPRoute and GRPCRoute are discovered apart: an
//! installation may serve one without the other (GRPCRoute joined the standard channel later).

use k8s_openapi::Resource as _;
use kube::ResourceExt;
use tracing::warn;

use super::{Applier, Discovery, describe, names_of};
use crate::controller::build::Child;
use crate::controller::build::route::{GATEWAY_API_VERSION, GrpcRoute, HttpRoute};
use crate::controller::error::Error;
use crate::model::ValidatedCluster;

/// The routes after a pass. Routes never fail a pass: the cluster serves inside Kubernetes
/// all the same, and the `Routes` condition says why it is not exposed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutesOutcome {
    /// No route is asked for (any left is deleted as an orphan).
    Disabled,
    /// Every route is as desired (`Kind/name`).
    Applied { routes: Vec<String> },
    /// The API server serves no `gateway.networking.k8s.io/v1` route of these kinds; the
    /// routes of the kinds it serves are applied (`Kind/name`).
    CrdMissing {
        kinds: Vec<&'static str>,
        applied: Vec<String>,
    },
    /// Discovery or an apply failed (RBAC, admission, the API server): the error.
    Failed { message: String },
}

/// What became of one kind's routes.
enum KindOutcome {
    Applied(Vec<String>),
    NotServed,
}

impl Applier<'_> {
    /// Whether the API server serves `K` in the Gateway API's group (cached when a
    /// [`Discovery`] is given).
    async fn serves_route<K: Child>(&self) -> Result<bool, kube::Error> {
        let local = Discovery::default();
        self.discovery
            .unwrap_or(&local)
            .serves(self.client, GATEWAY_API_VERSION, K::KIND)
            .await
    }

    async fn apply_route_kind<K: Child>(&mut self, objects: &[K]) -> Result<KindOutcome, String> {
        if objects.is_empty() {
            return Ok(KindOutcome::Applied(Vec::new()));
        }
        match self.serves_route::<K>().await {
            Ok(true) => {}
            Ok(false) => return Ok(KindOutcome::NotServed),
            Err(error) => {
                return Err(format!(
                    "discovering {GATEWAY_API_VERSION}: {}",
                    describe(&error)
                ));
            }
        }
        let mut applied = Vec::new();
        for route in objects {
            match self.apply(route).await {
                Ok(()) => applied.push(format!("{}/{}", K::KIND, route.name_any())),
                // The CRD went away since discovery said otherwise.
                Err(Error::Apply {
                    source: kube::Error::Api(status),
                    ..
                }) if status.code == 404 => {
                    if let Some(discovery) = self.discovery {
                        discovery.remember(K::KIND, false);
                    }
                    return Ok(KindOutcome::NotServed);
                }
                Err(Error::Apply { source, name, .. }) => {
                    return Err(format!(
                        "applying {} {name}: {}",
                        K::KIND,
                        describe(&source)
                    ));
                }
                Err(other) => return Err(other.to_string()),
            }
        }
        Ok(KindOutcome::Applied(applied))
    }

    /// Apply the routes whose kind is served; record what happened instead of failing.
    pub(super) async fn apply_routes(
        &mut self,
        http_routes: &[HttpRoute],
        grpc_routes: &[GrpcRoute],
    ) -> RoutesOutcome {
        if http_routes.is_empty() && grpc_routes.is_empty() {
            return RoutesOutcome::Disabled;
        }
        let mut applied = Vec::new();
        let mut missing = Vec::new();
        let outcomes = [
            (HttpRoute::KIND, self.apply_route_kind(http_routes).await),
            (GrpcRoute::KIND, self.apply_route_kind(grpc_routes).await),
        ];
        for (kind, outcome) in outcomes {
            match outcome {
                Ok(KindOutcome::Applied(names)) => applied.extend(names),
                Ok(KindOutcome::NotServed) => missing.push(kind),
                Err(message) => return RoutesOutcome::Failed { message },
            }
        }
        if missing.is_empty() {
            RoutesOutcome::Applied { routes: applied }
        } else {
            RoutesOutcome::CrdMissing {
                kinds: missing,
                applied,
            }
        }
    }

    /// Delete the routes of a kind that are not desired. Nothing to list where the kind is not
    /// served (no request then, thanks to the discovery cache); an operator not allowed to list
    /// them made none.
    async fn delete_route_orphans_of<K: Child>(
        &mut self,
        vc: &ValidatedCluster,
        objects: &[K],
    ) -> Result<(), Error> {
        match self.serves_route::<K>().await {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(error) => {
                warn!(error = %describe(&error), kind = K::KIND, "discovering routes for orphan cleanup");
                return Ok(());
            }
        }
        match self.delete_orphans_of::<K>(vc, names_of(objects)).await {
            Err(Error::ListChildren {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 403 => {
                warn!(message = %status.message, kind = K::KIND, "listing routes for orphan cleanup");
                Ok(())
            }
            other => other,
        }
    }

    pub(super) async fn delete_route_orphans(
        &mut self,
        vc: &ValidatedCluster,
        http_routes: &[HttpRoute],
        grpc_routes: &[GrpcRoute],
    ) -> Result<(), Error> {
        self.delete_route_orphans_of(vc, http_routes).await?;
        self.delete_route_orphans_of(vc, grpc_routes).await
    }
}

#[cfg(test)]
mod tests;
