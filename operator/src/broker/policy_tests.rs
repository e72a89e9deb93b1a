//! The RPC queues' policy in the local RabbitMQ (3.10, management API on 127.0.0.1:15672,
//! guest/guest; run scripts/ensure-rabbitmq.sh), in a vhost of the test's own: set once, then
//! left alone, applied to `koinos.rpc.*` and to no other queue, and removed for one node.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tokio::time::Instant;

use super::*;
use crate::broker::test_vhost::Vhost;

fn management() -> Management {
    Management::new(
        "http://127.0.0.1:15672",
        "guest",
        "guest",
        Duration::from_secs(5),
    )
}

/// The policy RabbitMQ applies to `queue` (policies apply asynchronously: waits a little).
async fn applied_policy(api: &Management, vhost: &str, queue: &str, want: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let policy = api.queue(vhost, queue).await.unwrap()["policy"].clone();
        if policy.as_str() == want || Instant::now() > deadline {
            return policy;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_rpc_queues_get_the_mirror_policy_and_nothing_else_does() {
    let vhost = Vhost::create("policy");
    let api = management();
    assert!(mirrors_classic_queues(&api.version().await.unwrap()));

    let set = ensure_rpc_queue_policy(&api, &vhost.0, 3).await.unwrap();
    assert_eq!(set, PolicyOutcome::InPlace { changed: true });
    let again = ensure_rpc_queue_policy(&api, &vhost.0, 3).await.unwrap();
    assert_eq!(again, PolicyOutcome::InPlace { changed: false });
    let live = api
        .policy(&vhost.0, RPC_QUEUE_POLICY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live["definition"]["ha-params"], 2);

    // A service's RPC queue, another durable queue, and a reply queue (server-named, exclusive).
    let uri = koinos_mq::parse_url(&vhost.url()).unwrap();
    let conn = lapin::Connection::connect_uri(uri, Default::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for queue in ["koinos.rpc.chain", "koinos.rpcx"] {
        channel
            .queue_declare(queue.into(), durable, FieldTable::default())
            .await
            .unwrap();
    }
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let reply = channel
        .queue_declare("".into(), exclusive, FieldTable::default())
        .await
        .unwrap();
    let policy = Some(RPC_QUEUE_POLICY);
    assert_eq!(
        applied_policy(&api, &vhost.0, "koinos.rpc.chain", policy).await,
        RPC_QUEUE_POLICY
    );
    assert_eq!(
        applied_policy(&api, &vhost.0, "koinos.rpcx", None).await,
        Value::Null
    );
    assert_eq!(
        applied_policy(&api, &vhost.0, reply.name().as_str(), None).await,
        Value::Null
    );

    // Five nodes: three copies. One node: no policy.
    let grown = ensure_rpc_queue_policy(&api, &vhost.0, 5).await.unwrap();
    assert_eq!(grown, PolicyOutcome::InPlace { changed: true });
    let live = api
        .policy(&vhost.0, RPC_QUEUE_POLICY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live["definition"]["ha-params"], 3);
    let single = ensure_rpc_queue_policy(&api, &vhost.0, 1).await.unwrap();
    assert_eq!(single, PolicyOutcome::InPlace { changed: true });
    assert_eq!(api.policy(&vhost.0, RPC_QUEUE_POLICY).await.unwrap(), None);
    assert_eq!(
        applied_policy(&api, &vhost.0, "koinos.rpc.chain", None).await,
        Value::Null
    );
    conn.close(200, "done".into()).await.unwrap();
}
