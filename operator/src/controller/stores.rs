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
