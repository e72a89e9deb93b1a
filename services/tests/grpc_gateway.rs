//! koinos-grpc in front of a real devnet of our binaries (a private RabbitMQ vhost): every
//! request answers what the JSON-RPC gateway answers for the same request, service errors come
//! back as INVALID_ARGUMENT with the service's message, the access lists refuse with
//! PERMISSION_DENIED, a service that is not running is DEADLINE_EXCEEDED, and server
//! reflection lists the service.

#[path = "node_support/mod.rs"]
mod node_support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use bytes::Bytes;
use koinos_protocol::json::{from_value_by_name, to_value_by_name};
use koinos_services::grpc::server::RawCodec;
use node_support::TestNet;
use serde_json::{Value, json};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts koinos-grpc on the devnet with `section` as its `grpc` config section.
async fn start_grpc(net: &mut TestNet, section: &str) -> Channel {
    let port = free_port();
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(net.dir.path().join("config.yml"))
        .expect("config.yml");
    write!(
        config,
        "\ngrpc:\n  endpoint: 127.0.0.1:{port}\n  mq-timeout: 1\n{section}"
    )
    .expect("append the grpc section");
    net.node.start("grpc").expect("start koinos-grpc");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(channel) = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
        {
            return channel;
        }
        if Instant::now() > deadline {
            net.fail("koinos-grpc did not listen");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One unary call with message bytes in and out.
async fn call(channel: &Channel, method: &str, request: Vec<u8>) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let path =
        PathAndQuery::from_maybe_shared(format!("/koinos.services.koinos/{method}")).expect("path");
    grpc.unary(tonic::Request::new(Bytes::from(request)), path, RawCodec)
        .await
        .map(|response| response.into_inner())
}

/// `service.method` through gRPC, its request and result as Koinos JSON.
async fn call_json(channel: &Channel, method: &str, params: &Value) -> Result<Value, Status> {
    let (service, name) = method.split_once('.').expect("service.method");
    let request = from_value_by_name(&format!("koinos.rpc.{service}.{name}_request"), params)
        .expect("request encodes");
    let reply = call(channel, name, request).await?;
    Ok(
        to_value_by_name(&format!("koinos.rpc.{service}.{name}_response"), &reply)
            .expect("response decodes"),
    )
}

#[tokio::test]
async fn grpc_answers_what_jsonrpc_answers_and_applies_its_lists() {
    let mut net = TestNet::start("grpc", 300);
    net.wait_height(3, Duration::from_secs(60)).await;
    // A still head, so both gateways see the same chain.
    net.node.stop("block_producer");
    let channel = start_grpc(
        &mut net,
        "  blacklist:\n    - mempool.get_pending_transactions\n",
    )
    .await;

    let head = net.head().await;
    let head_id = head["head_topology"]["id"].clone();
    let blocks = net.blocks(2).await;
    let token = net.info.token_contract_id.clone();
    let account = net.info.funded_account_address.clone();
    let requests = [
        ("chain.get_head_info", json!({})),
        ("chain.get_chain_id", json!({})),
        ("chain.get_fork_heads", json!({})),
        ("chain.get_resource_limits", json!({})),
        ("chain.get_account_rc", json!({"account": account})),
        ("chain.get_account_nonce", json!({"account": account})),
        (
            "chain.read_contract",
            json!({"contract_id": token, "entry_point": 0x82a3537fu32, "args": ""}),
        ),
        ("block_store.get_highest_block", json!({})),
        (
            "block_store.get_blocks_by_height",
            json!({"head_block_id": head_id, "ancestor_start_height": 1, "num_blocks": 3,
                   "return_block": true, "return_receipt": true}),
        ),
        (
            "block_store.get_blocks_by_id",
            json!({"block_ids": [blocks[1]["block_id"]], "return_block": true}),
        ),
        (
            "mempool.check_pending_account_resources",
            json!({"payer": account, "max_payer_rc": "10", "rc_limit": "1"}),
        ),
        (
            "contract_meta_store.get_contract_meta",
            json!({"contract_id": token}),
        ),
        (
            "account_history.get_account_history",
            json!({"address": account, "limit": 5, "ascending": true}),
        ),
    ];
    for (method, params) in &requests {
        let over_json = net
            .call(method, params.clone())
            .await
            .unwrap_or_else(|e| net.fail(&format!("{method} over JSON-RPC: {e}")));
        let over_grpc = call_json(&channel, method, params)
            .await
            .unwrap_or_else(|s| net.fail(&format!("{method} over gRPC: {s:?}")));
        assert_eq!(over_grpc, over_json, "{method}");
    }

    // A service error: the same message, as INVALID_ARGUMENT.
    let bad_range = json!({"head_block_id": head_id, "ancestor_start_height": 0, "num_blocks": 1});
    let json_error = net
        .call("block_store.get_blocks_by_height", bad_range.clone())
        .await
        .expect_err("height 0 is an error over JSON-RPC")
        .to_string();
    let status = call_json(&channel, "block_store.get_blocks_by_height", &bad_range)
        .await
        .expect_err("height 0 is an error over gRPC");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(!status.message().is_empty());
    assert!(
        json_error.contains(status.message()),
        "JSON-RPC said {json_error:?}, gRPC said {:?}",
        status.message()
    );

    // The blacklist refuses exactly the method it names.
    let refused = call_json(
        &channel,
        "mempool.get_pending_transactions",
        &json!({"limit": 10}),
    )
    .await
    .expect_err("blacklisted");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(refused.message(), "method is blacklisted");

    // No p2p runs here: its call expires after mq-timeout.
    let started = Instant::now();
    let timed_out = call_json(&channel, "p2p.get_gossip_status", &json!({}))
        .await
        .expect_err("no p2p");
    assert_eq!(timed_out.code(), Code::DeadlineExceeded, "{timed_out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // An unknown method and a garbage request.
    let unknown = call(&channel, "add_block", Vec::new())
        .await
        .expect_err("not served");
    assert_eq!(unknown.code(), Code::Unimplemented);
    let garbage = call(&channel, "get_chain_id", vec![0xff, 0xff, 0xff])
        .await
        .expect_err("garbage is refused by the chain");
    assert_ne!(garbage.code(), Code::Ok);
    // The gateway is still up.
    call_json(&channel, "chain.get_chain_id", &json!({}))
        .await
        .expect("still serving");
}

#[tokio::test]
async fn grpc_reflection_lists_the_koinos_service() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut net = TestNet::start("grpc-reflection", 1000);
    net.wait_height(1, Duration::from_secs(60)).await;
    let channel = start_grpc(&mut net, "  whitelist:\n    - chain\n").await;
    let mut client = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = client
        .server_reflection_info(tonic::codegen::tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let reply = replies
        .message()
        .await
        .expect("a reply")
        .expect("one message");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply {reply:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"koinos.services.koinos"), "{names:?}");

    // The whitelist admits only chain.
    let refused = call_json(&channel, "block_store.get_highest_block", &json!({}))
        .await
        .expect_err("not whitelisted");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(refused.message(), "method not whitelisted");
    call_json(&channel, "chain.get_chain_id", &json!({}))
        .await
        .expect("chain is whitelisted");
}
