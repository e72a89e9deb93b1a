//! A small in-memory Kubernetes API server (axum) for reconcile-flow tests: it stores what is
//! applied, answers reads and lists, and records every write request with its query string,
//! so tests can assert the exact SSA calls and that a steady state makes none.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One write request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub method: String,
    pub path: String,
    pub query: String,
}

#[derive(Default)]
struct Store {
    objects: BTreeMap<String, Value>,
    writes: Vec<Write>,
    next_uid: u64,
}

#[derive(Clone, Default)]
pub struct FakeApi {
    store: Arc<Mutex<Store>>,
}

fn not_found(path: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("{path} not found"), "reason": "NotFound", "code": 404});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// `/api/v1/namespaces/ns/services` -> collection; `.../services/x` -> object.
fn is_collection(path: &str) -> bool {
    let parts: Vec<_> = path.trim_matches('/').split('/').collect();
    let after_ns = parts
        .iter()
        .position(|p| *p == "namespaces")
        .map(|i| parts.len() - i - 1);
    after_ns == Some(2)
}

impl FakeApi {
    /// Serve on an ephemeral port; returns the base URL.
    pub async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    pub fn client(url: &str) -> kube::Client {
        let config = kube::Config::new(url.parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    pub fn writes(&self) -> Vec<Write> {
        self.store.lock().unwrap().writes.clone()
    }

    pub fn clear_writes(&self) {
        self.store.lock().unwrap().writes.clear();
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.store.lock().unwrap().objects.get(path).cloned()
    }

    /// Put an object as if another client had written it.
    pub fn insert(&self, path: &str, object: Value) {
        self.store
            .lock()
            .unwrap()
            .objects
            .insert(path.into(), object);
    }
}

async fn handle(State(api): State<FakeApi>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 24)
        .await
        .unwrap_or_default();
    let mut store = api.store.lock().unwrap();
    if method != Method::GET {
        store.writes.push(Write {
            method: method.to_string(),
            path: path.clone(),
            query,
        });
    }
    match method {
        Method::GET if is_collection(&path) => {
            let prefix = format!("{path}/");
            let items: Vec<Value> = store
                .objects
                .iter()
                .filter(|(key, _)| key.starts_with(&prefix) && !key[prefix.len()..].contains('/'))
                .map(|(_, v)| v.clone())
                .collect();
            axum::Json(json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}))
                .into_response()
        }
        Method::GET => match store.objects.get(&path) {
            Some(object) => axum::Json(object.clone()).into_response(),
            None => not_found(&path),
        },
        Method::PATCH => {
            let patch: Value = serde_json::from_slice(&body).unwrap();
            if let Some(parent) = path.strip_suffix("/status") {
                let Some(object) = store.objects.get_mut(parent) else {
                    return not_found(parent);
                };
                object["status"] = patch["status"].clone();
                return axum::Json(object.clone()).into_response();
            }
            store.next_uid += 1;
            let uid = format!("uid-{}", store.next_uid);
            let previous = store.objects.get(&path).cloned();
            let mut object = patch;
            let meta = object["metadata"].as_object_mut().unwrap();
            let old_meta = previous
                .as_ref()
                .map(|p| p["metadata"].clone())
                .unwrap_or(Value::Null);
            meta.insert(
                "uid".into(),
                old_meta.get("uid").cloned().unwrap_or(json!(uid)),
            );
            meta.insert("resourceVersion".into(), json!(store.next_uid.to_string()));
            let generation = old_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            meta.insert("generation".into(), json!(generation));
            store.objects.insert(path, object.clone());
            axum::Json(object).into_response()
        }
        Method::POST => (
            StatusCode::CREATED,
            axum::Json(serde_json::from_slice::<Value>(&body).unwrap()),
        )
            .into_response(),
        Method::DELETE => match store.objects.remove(&path) {
            Some(object) => axum::Json(object).into_response(),
            None => not_found(&path),
        },
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}
