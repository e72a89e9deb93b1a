//! The reader end to end on its own: clusters and Secrets from the in-memory API server, the
//! real RabbitMQ on 127.0.0.1:5672 (a vhost per test, through `rabbitmqctl`; these tests fail
//! loudly without them: run scripts/ensure-rabbitmq.sh).

use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use tokio::time::Instant;

use super::*;
use crate::broker::test_vhost::{Vhost, broker_connections};
use crate::test_support::fake_api::FakeApi;
use crate::test_support::{EXTERNAL_BROKER, fixture};

const CLUSTER_PATH: &str = "/apis/koinos.io/v1alpha1/namespaces/prod/koinosclusters/ext";
const SECRET_PATH: &str = "/api/v1/namespaces/prod/secrets/broker";

fn url_secret(url: &str) -> serde_json::Value {
    let secret = Secret {
        metadata: kube::core::ObjectMeta {
            name: Some("broker".into()),
            namespace: Some("prod".into()),
            ..Default::default()
        },
        data: Some([("url".to_string(), ByteString(url.as_bytes().to_vec()))].into()),
        ..Default::default()
    };
    serde_json::to_value(secret).unwrap()
}

/// The API server with cluster `prod/ext` (external broker: Secret `broker`, key `url`).
async fn api_with_cluster(url: &str) -> (FakeApi, Client) {
    let api = FakeApi::default();
    let base = api.start().await;
    api.insert(
        CLUSTER_PATH,
        serde_json::to_value(fixture(EXTERNAL_BROKER)).unwrap(),
    );
    api.insert(SECRET_PATH, url_secret(url));
    (api, FakeApi::client(&base))
}

fn fast() -> ReaderOptions {
    ReaderOptions {
        timeout: Duration::from_secs(2),
        resolve_ttl: Duration::from_millis(100),
        idle: Duration::from_secs(300),
    }
}

#[tokio::test]
async fn queue_depth_is_the_ready_count_on_the_clusters_own_vhost() {
    let vhost = Vhost::create("depth");
    vhost.fill("koinos.rpc.block_store", 5).await;
    let (_api, client) = api_with_cluster(&vhost.url()).await;
    let reader = AmqpBrokerReader::with_options(client, None, fast());
    let depth = |queue: &'static str| reader.queue_depth("prod", "ext", queue);
    assert_eq!(depth("koinos.rpc.block_store").await.unwrap(), 5);
    // Not declared yet (its service never started): nothing is waiting.
    assert_eq!(depth("koinos.rpc.mempool").await.unwrap(), 0);
    // p2p is disabled in this cluster; the others are not RPC queues at all.
    for queue in [
        "koinos.rpc.p2p",
        "koinos.rpc.jsonrpc",
        "amq.gen-abc",
        "koinos.rpc.block_store2",
    ] {
        assert!(
            matches!(
                depth(queue).await,
                Err(BrokerReadError::UnknownQueue { .. })
            ),
            "{queue}"
        );
    }
    assert_eq!(
        reader.open_connections(),
        1,
        "one cached connection per cluster"
    );
    let missing = reader
        .queue_depth("prod", "nope", "koinos.rpc.block_store")
        .await;
    assert!(
        matches!(missing, Err(BrokerReadError::UnknownCluster { .. })),
        "{missing:?}"
    );
    reader.close_all().await;
}

#[tokio::test]
async fn a_cluster_reading_counts_each_queues_consumers() {
    let vhost = Vhost::create("consumers");
    vhost.fill("koinos.rpc.block_store", 3).await;
    vhost.fill("koinos.rpc.mempool", 0).await;
    // One replica of mempool serving its queue (prefetch 1: it holds one message at most).
    let uri = koinos_mq::parse_url(&vhost.url()).unwrap();
    let conn = lapin::Connection::connect_uri(uri, Default::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel.basic_qos(1, Default::default()).await.unwrap();
    let _consumer = channel
        .basic_consume(
            "koinos.rpc.mempool".into(),
            "mempool-0".into(),
            Default::default(),
            Default::default(),
        )
        .await
        .unwrap();
    let (_api, client) = api_with_cluster(&vhost.url()).await;
    let reader = AmqpBrokerReader::with_options(client, None, fast());
    let vc = crate::model::validate(&fixture(EXTERNAL_BROKER), "prod").unwrap();
    let reading = reader.read_cluster(&vc).await;
    assert_eq!(reading.queue_depths.get("blockStore"), Some(&3));
    assert_eq!(
        reading.queue_consumers.get("blockStore"),
        Some(&0),
        "a backlog nobody serves"
    );
    assert_eq!(reading.queue_consumers.get("mempool"), Some(&1));
    assert_eq!(
        reading.queue_consumers.get("chain"),
        Some(&0),
        "a queue not declared yet has no consumer"
    );
    reader.close_all().await;
    conn.close(200, "done".into()).await.unwrap();
}

#[tokio::test]
async fn a_confined_reader_knows_no_cluster_of_another_namespace() {
    let vhost = Vhost::create("confined");
    let (_api, client) = api_with_cluster(&vhost.url()).await;
    let reader = AmqpBrokerReader::with_options(client, Some("dev".into()), fast());
    let result = reader
        .queue_depth("prod", "ext", "koinos.rpc.block_store")
        .await;
    assert!(
        matches!(result, Err(BrokerReadError::UnknownCluster { .. })),
        "{result:?}"
    );
    assert_eq!(reader.open_connections(), 0);
}

#[tokio::test]
async fn a_changed_secret_url_reconnects_with_the_new_credentials() {
    let good = Vhost::create("rotate");
    good.fill("koinos.rpc.block_store", 3).await;
    let (api, client) = api_with_cluster(&good.url()).await;
    let reader = AmqpBrokerReader::with_options(client, None, fast());
    let read = || reader.queue_depth("prod", "ext", "koinos.rpc.block_store");
    assert_eq!(read().await.unwrap(), 3);

    api.insert(
        SECRET_PATH,
        url_secret("amqp://guest:wrong@127.0.0.1:5672/"),
    );
    tokio::time::sleep(Duration::from_millis(150)).await; // past resolve_ttl
    let started = Instant::now();
    let error = read().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let BrokerReadError::Unavailable { reason, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(reason.contains("amqp://127.0.0.1:5672/"), "{reason}");
    assert!(!reason.contains("wrong"), "no password in errors: {reason}");

    api.insert(SECRET_PATH, url_secret(&good.url()));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(read().await.unwrap(), 3);
    assert_eq!(reader.open_connections(), 1);
    reader.close_all().await;
}

#[tokio::test]
async fn a_dead_broker_fails_fast() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let (_api, client) = api_with_cluster(&format!("amqp://u:p@127.0.0.1:{port}/")).await;
    let reader = AmqpBrokerReader::with_options(client, None, fast());
    let vc = crate::model::validate(&fixture(EXTERNAL_BROKER), "prod").unwrap();
    // Connection refused is known at once: no need to wait for the timeout.
    let started = Instant::now();
    let reading = reader.read_cluster(&vc).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    match &reading.head {
        Some(Err(ReadFailure::Broker { endpoint, detail })) => {
            assert_eq!(endpoint, &format!("amqp://127.0.0.1:{port}/"));
            assert!(detail.to_lowercase().contains("refused"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(reading.queue_depths.is_empty());
    // The supervisor, retrying in the background, still knows why: the next pass fails fast too.
    let started = Instant::now();
    let again = reader.read_cluster(&vc).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&again.head, Some(Err(f @ ReadFailure::Broker { .. })) if f.message() == reading.head.clone().unwrap().unwrap_err().message()),
        "{again:?}"
    );
    reader.close_all().await;
}

#[tokio::test]
async fn a_missing_secret_is_a_stable_credentials_failure() {
    let (_api, client) = api_with_cluster("amqp://unused/").await;
    let reader = AmqpBrokerReader::with_options(client, None, fast());
    let mut kc = fixture(EXTERNAL_BROKER);
    kc.spec.amqp.external.as_mut().unwrap().url_secret_ref.name = "absent".into();
    let vc = crate::model::validate(&kc, "prod").unwrap();
    let reading = reader.read_cluster(&vc).await;
    assert_eq!(
        reading.head,
        Some(Err(ReadFailure::Credentials {
            message: "Secret prod/absent (the broker URL) does not exist".into()
        }))
    );
    assert_eq!(reader.open_connections(), 0);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let vhost = Vhost::create("idle");
    let (_api, client) = api_with_cluster(&vhost.url()).await;
    let options = ReaderOptions {
        idle: Duration::from_secs(1),
        ..fast()
    };
    let reader = AmqpBrokerReader::with_options(client, None, options);
    assert_eq!(
        reader
            .queue_depth("prod", "ext", "koinos.rpc.chain")
            .await
            .unwrap(),
        0
    );
    assert_eq!(reader.open_connections(), 1);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(reader.open_connections(), 0);
}

#[tokio::test]
async fn dropping_the_reader_closes_its_connections() {
    let vhost = Vhost::create("dropped");
    let (_api, client) = api_with_cluster(&vhost.url()).await;
    let reader = AmqpBrokerReader::with_options(client, None, fast());
    reader
        .queue_depth("prod", "ext", "koinos.rpc.chain")
        .await
        .unwrap();
    assert_eq!(broker_connections(&vhost), 1);
    drop(reader);
    let deadline = Instant::now() + Duration::from_secs(10);
    while broker_connections(&vhost) != 0 {
        assert!(
            Instant::now() < deadline,
            "the connection outlived the reader"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
