//! `storage.dataSource`: whether the VolumeSnapshot or PersistentVolumeClaim new volumes start
//! from can be used, while a volume still waits for it (a missing source leaves its PVC
//! Pending and the pod unscheduled, with nothing on the cluster saying why).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client, ResourceExt};

use super::MissingInput;
use crate::controller::build::meta::cluster_selector;
use crate::controller::build::pvc::DATA_VOLUME;
use crate::controller::build::rabbitmq;
use crate::controller::error::Error;
use crate::model::cluster::{DataSource, DataSourceKind, VOLUME_SNAPSHOT_GROUP};
use crate::model::naming::child_name;
use crate::model::{Amqp, Storage, ValidatedCluster};

const SNAPSHOT_VERSION: &str = "v1";

/// What was found of a data source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceState {
    /// The API server does not serve `snapshot.storage.k8s.io/v1` VolumeSnapshot.
    ApiMissing,
    Absent,
    /// A VolumeSnapshot whose `status.readyToUse` is not true (with `status.error.message`).
    NotReady(Option<String>),
    Usable,
}

/// Why new volumes cannot start from `source` (pure).
pub fn source_problem(
    source: &DataSource,
    namespace: &str,
    state: &SourceState,
) -> Option<MissingInput> {
    let (_, kind) = source.kind.api_group_kind();
    let object = format!("{kind} {namespace}/{}", source.name);
    let field = &source.field;
    let (reason, message) = match (state, source.kind) {
        (SourceState::Usable, _) => return None,
        (SourceState::ApiMissing, _) => (
            "VolumeSnapshotApiMissing",
            format!(
                "{field} names {object}, but the API server does not serve {VOLUME_SNAPSHOT_GROUP}/{SNAPSHOT_VERSION} VolumeSnapshot: install the CSI snapshot CRDs and snapshot controller"
            ),
        ),
        (SourceState::Absent, DataSourceKind::VolumeSnapshot) => (
            "MissingVolumeSnapshot",
            format!("{object} (named by {field}) does not exist: new volumes wait until it does"),
        ),
        (SourceState::Absent, DataSourceKind::PersistentVolumeClaim) => (
            "MissingSourceVolume",
            format!("{object} (named by {field}) does not exist: new volumes wait until it does"),
        ),
        (SourceState::NotReady(error), _) => (
            "VolumeSnapshotNotReady",
            match error {
                Some(error) => format!("{object} (named by {field}) is not ready to use: {error}"),
                None => format!(
                    "{object} (named by {field}) is not ready to use yet: new volumes wait until it is"
                ),
            },
        ),
    };
    Some(MissingInput { reason, message })
}

/// The StatefulSet name and storage of every workload whose new volumes start from a source,
/// with how many replicas it should have at least.
fn seeded(vc: &ValidatedCluster) -> Vec<(String, &Storage, i32)> {
    let mut seeded = Vec::new();
    for svc in &vc.services {
        if let Some(storage) = svc.storage.as_ref().filter(|s| s.data_source.is_some()) {
            let replicas = svc
                .autoscaling
                .as_ref()
                .map_or(svc.replicas, |a| a.min_replicas);
            seeded.push((child_name(vc, svc.profile.component), storage, replicas));
        }
    }
    if let Amqp::Managed(broker) = &vc.amqp
        && broker.storage.data_source.is_some()
    {
        let name = child_name(vc, rabbitmq::COMPONENT);
        seeded.push((name, &broker.storage, broker.replicas));
    }
    seeded
}

/// The data sources that volumes still waiting for them cannot use.
pub async fn missing_sources(
    client: &Client,
    vc: &ValidatedCluster,
) -> Result<Vec<MissingInput>, Error> {
    let mut missing = Vec::new();
    let seeded = seeded(vc);
    if seeded.is_empty() {
        return Ok(missing);
    }
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &vc.namespace);
    let list = pvcs
        .list(&ListParams::default().labels(&cluster_selector(&vc.name)))
        .await
        .map_err(|source| read_error("PersistentVolumeClaim", "(list)", source))?;
    for (statefulset, storage, replicas) in seeded {
        let source = storage.data_source.as_ref().expect("filtered by seeded");
        if !waits_for_source(&list.items, &statefulset, replicas) {
            continue;
        }
        let state = source_state(client, &vc.namespace, source).await?;
        missing.extend(source_problem(source, &vc.namespace, &state));
    }
    Ok(missing)
}

/// Whether a volume of StatefulSet `statefulset` (at least `replicas`) is still to be created
/// or bound, i.e. may still need its source (pure).
pub fn waits_for_source(pvcs: &[PersistentVolumeClaim], statefulset: &str, replicas: i32) -> bool {
    let prefix = format!("{DATA_VOLUME}-{statefulset}-");
    let volumes: Vec<_> = pvcs
        .iter()
        .filter(|pvc| pvc.name_any().starts_with(&prefix))
        .collect();
    let bound = |pvc: &&PersistentVolumeClaim| {
        pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
    };
    volumes.len() < usize::try_from(replicas).unwrap_or(0) || !volumes.iter().all(bound)
}

async fn source_state(
    client: &Client,
    namespace: &str,
    source: &DataSource,
) -> Result<SourceState, Error> {
    match source.kind {
        DataSourceKind::PersistentVolumeClaim => {
            let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
            let found = api
                .get_opt(&source.name)
                .await
                .map_err(|e| read_error("PersistentVolumeClaim", &source.name, e))?;
            Ok(match found {
                Some(_) => SourceState::Usable,
                None => SourceState::Absent,
            })
        }
        DataSourceKind::VolumeSnapshot => {
            let group_version = format!("{VOLUME_SNAPSHOT_GROUP}/{SNAPSHOT_VERSION}");
            let served = match client.list_api_group_resources(&group_version).await {
                Ok(list) => list.resources.iter().any(|r| r.kind == "VolumeSnapshot"),
                Err(kube::Error::Api(status)) if status.code == 404 => false,
                Err(e) => return Err(read_error("VolumeSnapshot", &source.name, e)),
            };
            if !served {
                return Ok(SourceState::ApiMissing);
            }
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(VOLUME_SNAPSHOT_GROUP, SNAPSHOT_VERSION, "VolumeSnapshot"),
                "volumesnapshots",
            );
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), namespace, &resource);
            let found = api
                .get_opt(&source.name)
                .await
                .map_err(|e| read_error("VolumeSnapshot", &source.name, e))?;
            Ok(match found {
                None => SourceState::Absent,
                Some(snapshot) => snapshot_state(&snapshot.data),
            })
        }
    }
}

/// A VolumeSnapshot's state from its object (`status.readyToUse`, `status.error.message`).
pub fn snapshot_state(object: &serde_json::Value) -> SourceState {
    let status = &object["status"];
    if status["readyToUse"].as_bool() == Some(true) {
        SourceState::Usable
    } else {
        SourceState::NotReady(status["error"]["message"].as_str().map(Into::into))
    }
}

fn read_error(kind: &'static str, name: &str, source: kube::Error) -> Error {
    Error::ReadStatus {
        kind,
        name: name.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn snapshot() -> DataSource {
        DataSource {
            kind: DataSourceKind::VolumeSnapshot,
            name: "bs-snap".into(),
            field: "spec.services.blockStore.storage.dataSource.volumeSnapshot".into(),
        }
    }

    #[test]
    fn a_usable_source_is_no_problem() {
        assert_eq!(
            source_problem(&snapshot(), "ns", &SourceState::Usable),
            None
        );
    }

    #[test]
    fn problems_name_the_object_and_the_field() {
        let absent = source_problem(&snapshot(), "ns", &SourceState::Absent).unwrap();
        assert_eq!(absent.reason, "MissingVolumeSnapshot");
        assert_eq!(
            absent.message,
            "VolumeSnapshot ns/bs-snap (named by spec.services.blockStore.storage.dataSource.volumeSnapshot) does not exist: new volumes wait until it does"
        );
        let api = source_problem(&snapshot(), "ns", &SourceState::ApiMissing).unwrap();
        assert_eq!(api.reason, "VolumeSnapshotApiMissing");
        assert!(
            api.message
                .contains("does not serve snapshot.storage.k8s.io/v1 VolumeSnapshot")
        );
        let clone = DataSource {
            kind: DataSourceKind::PersistentVolumeClaim,
            name: "data-a-0".into(),
            field: "f".into(),
        };
        let absent = source_problem(&clone, "ns", &SourceState::Absent).unwrap();
        assert_eq!(absent.reason, "MissingSourceVolume");
        assert!(
            absent
                .message
                .starts_with("PersistentVolumeClaim ns/data-a-0 (named by f)")
        );
    }

    fn pvc(name: &str, phase: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": name}, "status": {"phase": phase}}))
            .unwrap()
    }

    #[test]
    fn the_source_matters_until_every_volume_is_bound() {
        let sts = "node-block-store";
        let bound = [
            pvc("data-node-block-store-0", "Bound"),
            pvc("data-node-chain-0", "Pending"),
        ];
        assert!(!waits_for_source(&bound, sts, 1));
        // A replica whose volume is not created yet, or not bound yet.
        assert!(waits_for_source(&bound, sts, 2));
        let pending = [pvc("data-node-block-store-0", "Pending")];
        assert!(waits_for_source(&pending, sts, 1));
        // Stopped (zero replicas) with its volume kept: nothing waits.
        assert!(!waits_for_source(&bound, sts, 0));
    }

    #[test]
    fn a_snapshot_is_usable_once_ready_to_use() {
        assert_eq!(
            snapshot_state(&json!({"status": {"readyToUse": true}})),
            SourceState::Usable
        );
        assert_eq!(snapshot_state(&json!({})), SourceState::NotReady(None));
        let failed = json!({"status": {"readyToUse": false, "error": {"message": "boom"}}});
        let state = snapshot_state(&failed);
        assert_eq!(state, SourceState::NotReady(Some("boom".into())));
        let problem = source_problem(&snapshot(), "ns", &state).unwrap();
        assert_eq!(problem.reason, "VolumeSnapshotNotReady");
        assert!(problem.message.ends_with("is not ready to use: boom"));
    }
}
