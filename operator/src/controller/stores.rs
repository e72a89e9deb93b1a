//! Watch caches of the children: the same watches that trigger passes (`owns_stream`) fill a
//! reflector store per kind, and the apply step reads live children there instead of sending a
//! GET per child per pass (and a LIST per kind for orphans). A kind without a ready store
//! (still syncing, or not watched, like KEDA's) is read from the API server as before.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use futures::FutureExt;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::build::Child;

/// One reflector store per watched child kind.
#[derive(Default)]
pub struct ChildStores {
    by_kind: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl ChildStores {
    pub fn insert<K: Child>(&mut self, store: Store<K>) {
        self.by_kind.insert(TypeId::of::<K>(), Box::new(store));
    }

    /// The store of `K`, once it has synced.
    fn ready<K: Child>(&self) -> Option<&Store<K>> {
        let store = self
            .by_kind
            .get(&TypeId::of::<K>())?
            .downcast_ref::<Store<K>>()?;
        matches!(store.wait_until_ready().now_or_never(), Some(Ok(()))).then_some(store)
    }

    /// `Some(live object or None)` from the cache; `None` when there is no ready cache.
    pub fn get<K: Child>(&self, namespace: &str, name: &str) -> Option<Option<Arc<K>>> {
        let store = self.ready::<K>()?;
        Some(store.get(&ObjectRef::new(name).within(namespace)))
    }

    /// Every cached `K` in `namespace` whose labels include `selector`'s (`None`: no cache).
    pub fn list<K: Child>(
        &self,
        namespace: &str,
        selector: &[(&str, &str)],
    ) -> Option<Vec<Arc<K>>> {
        let store = self.ready::<K>()?;
        Some(
            store
                .state()
                .into_iter()
                .filter(|o| o.namespace().as_deref() == Some(namespace))
                .filter(|o| {
                    selector
                        .iter()
                        .all(|(k, v)| o.labels().get(*k).map(String::as_str) == Some(*v))
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::core::ObjectMeta;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    fn map(namespace: &str, name: &str, instance: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                labels: Some(
                    [
                        ("app.kubernetes.io/name".to_string(), "koinos".to_string()),
                        ("app.kubernetes.io/instance".into(), instance.into()),
                        (
                            "app.kubernetes.io/managed-by".into(),
                            "koinos-operator".into(),
                        ),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_store_answers_only_once_synced_and_kinds_without_one_never() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let mut stores = ChildStores::default();
        stores.insert(store);
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(map("a", "devnet-config", "devnet")));
        assert!(
            stores.get::<ConfigMap>("a", "devnet-config").is_none(),
            "still listing: ask the API server"
        );
        writer.apply_watcher_event(&Event::InitDone);
        writer.apply_watcher_event(&Event::Apply(map("a", "other-config", "other")));
        writer.apply_watcher_event(&Event::Apply(map("b", "devnet-config", "devnet")));
        assert!(
            stores
                .get::<ConfigMap>("a", "devnet-config")
                .unwrap()
                .is_some()
        );
        assert!(
            stores.get::<ConfigMap>("a", "absent").unwrap().is_none(),
            "synced: known absent"
        );
        let selector = [
            ("app.kubernetes.io/name", "koinos"),
            ("app.kubernetes.io/instance", "devnet"),
            ("app.kubernetes.io/managed-by", "koinos-operator"),
        ];
        let listed: Vec<_> = stores
            .list::<ConfigMap>("a", &selector)
            .unwrap()
            .iter()
            .map(|c| c.name_any())
            .collect();
        assert_eq!(listed, ["devnet-config"], "this namespace, this cluster");
        assert!(
            stores
                .get::<k8s_openapi::api::core::v1::Secret>("a", "x")
                .is_none()
        );
    }
}
