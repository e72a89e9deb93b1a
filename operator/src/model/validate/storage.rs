//! `storage.dataSource`: what CEL checks at admission (exactly one source, a valid name),
//! repeated for specs that did not pass through it.

use super::{Checker, is_dns_subdomain};
use crate::crd::storage::VolumeDataSource;
use crate::model::cluster::{DataSource, DataSourceKind};

/// The source of new volumes named at `field` (`...storage.dataSource`), if any and valid.
pub(super) fn resolve_data_source(
    check: &mut Checker,
    field: &str,
    given: Option<&VolumeDataSource>,
) -> Option<DataSource> {
    let given = given?;
    let (kind, name, key) = match (&given.volume_snapshot, &given.persistent_volume_claim) {
        (Some(name), None) => (DataSourceKind::VolumeSnapshot, name, "volumeSnapshot"),
        (None, Some(name)) => (
            DataSourceKind::PersistentVolumeClaim,
            name,
            "persistentVolumeClaim",
        ),
        _ => {
            check.fail(
                field,
                "names exactly one of volumeSnapshot, persistentVolumeClaim",
            );
            return None;
        }
    };
    let field = format!("{field}.{key}");
    if !is_dns_subdomain(name) {
        check.fail(
            &field,
            format!("{name:?} is not an object name (a DNS subdomain)"),
        );
        return None;
    }
    Some(DataSource {
        kind,
        name: name.clone(),
        field,
    })
}

#[cfg(test)]
mod tests {
    use crate::model::cluster::{DataSource, DataSourceKind};
    use crate::model::profile::ServiceKind;
    use crate::model::validate;
    use crate::test_support::{DEVNET, fixture, validated};

    fn with_source(source: &str) -> String {
        format!(
            "{DEVNET}  services:\n    blockStore:\n      storage:\n        dataSource: {source}\n"
        )
    }

    #[test]
    fn a_snapshot_or_a_clone_seeds_the_store() {
        let vc = validated(&with_source("{volumeSnapshot: bs-snap}"));
        let store = vc.service(ServiceKind::BlockStore).unwrap();
        assert_eq!(
            store.storage.as_ref().unwrap().data_source,
            Some(DataSource {
                kind: DataSourceKind::VolumeSnapshot,
                name: "bs-snap".into(),
                field: "spec.services.blockStore.storage.dataSource.volumeSnapshot".into(),
            })
        );
        let vc = validated(&with_source("{persistentVolumeClaim: data-x-0}"));
        let store = vc.service(ServiceKind::BlockStore).unwrap();
        let source = store.storage.as_ref().unwrap().data_source.clone().unwrap();
        assert_eq!(source.kind, DataSourceKind::PersistentVolumeClaim);
        assert_eq!(source.name, "data-x-0");
    }

    #[test]
    fn a_source_names_exactly_one_valid_object() {
        let fields = |source: &str| -> Vec<String> {
            validate(&fixture(&with_source(source)), "default")
                .expect_err("invalid")
                .0
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            fields("{volumeSnapshot: a, persistentVolumeClaim: b}"),
            ["spec.services.blockStore.storage.dataSource"]
        );
        assert_eq!(
            fields("{}"),
            ["spec.services.blockStore.storage.dataSource"]
        );
        assert_eq!(
            fields("{volumeSnapshot: Not_A_Name}"),
            ["spec.services.blockStore.storage.dataSource.volumeSnapshot"]
        );
    }
}
