//! Bad input never crashes a server or goes unanswered silently: it gets an error response or
//! is dropped and counted, and the server keeps serving. Malformed messages are crafted with
//! lapin directly, as a foreign client would send them.

mod amqp_support;

use amqp_support::{BROKER, connect, ephemeral, settle, unique};
use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetChainIdRequest, GetChainIdResponse, chain_request,
    chain_response,
};
use koinos_services::mq::typed::{
    Handler, RequestEnvelope, ResponseEnvelope, RpcError, TypedClient, dispatch,
};
use koinos_services::mq::{CallOptions, Connection, RpcClient, RpcServer, topology};
use koinos_services::runtime::metrics::RpcMetrics;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, options::QueueBindOptions};
use prost::Message;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct ChainIdOnly;

impl Handler for ChainIdOnly {
    type Request = ChainRequest;
    type Response = ChainResponse;
    async fn handle(&self, request: ChainRequest) -> Result<ChainResponse, RpcError> {
        match request.request {
            Some(chain_request::Request::GetChainId(_)) => Ok(ChainResponse {
                response: Some(chain_response::Response::GetChainId(GetChainIdResponse {
                    chain_id: vec![1, 2, 3],
                })),
            }),
            Some(chain_request::Request::GetHeadInfo(_)) => panic!("handler bug"),
            _ => Err(RpcError::new("not implemented")),
        }
    }
}

/// Serves `ChainIdOnly` the way `mq::typed::serve` does, but on an ephemeral queue with a small
/// size limit so that "oversized" is cheap to exercise.
async fn serve_chain_stub(conn: &Connection, service: &str) -> Arc<RpcMetrics> {
    let metrics = RpcMetrics::for_service(service);
    let options = koinos_services::mq::ServerOptions {
        max_message_size: 64 * 1024,
        ..ephemeral(4)
    };
    let (server, svc, m) = (conn.clone(), service.to_owned(), metrics.clone());
    tokio::spawn(async move {
        let handler = Arc::new(ChainIdOnly);
        RpcServer::serve_with(&server, &svc, options, move |body: Vec<u8>| {
            let (handler, m) = (handler.clone(), m.clone());
            async move { Some(dispatch(&*handler, &m, &body).await) }
        })
        .await
    });
    settle().await;
    metrics
}

/// A raw AMQP client: publishes exactly the given properties and collects replies.
struct RawClient {
    channel: lapin::Channel,
    reply_queue: String,
    replies: lapin::Consumer,
}

impl RawClient {
    async fn new() -> RawClient {
        let uri = koinos_services::mq::parse_url(BROKER).unwrap();
        let conn = lapin::Connection::connect_uri(uri, Default::default())
            .await
            .unwrap();
        let channel = conn.create_channel().await.unwrap();
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare("".into(), options, FieldTable::default())
            .await
            .unwrap();
        let reply_queue = queue.name().as_str().to_owned();
        channel
            .queue_bind(
                reply_queue.as_str().into(),
                topology::RPC_EXCHANGE.into(),
                reply_queue.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let replies = channel
            .basic_consume(
                reply_queue.as_str().into(),
                "".into(),
                no_ack,
                FieldTable::default(),
            )
            .await
            .unwrap();
        std::mem::forget(conn); // lives for the test
        RawClient {
            channel,
            reply_queue,
            replies,
        }
    }

    async fn send(&self, service: &str, body: &[u8], props: BasicProperties) {
        let props = props
            .with_reply_to(self.reply_queue.as_str().into())
            .with_correlation_id("c0rrelat10nc0rrelat10nc0rrelat10".into());
        self.channel
            .basic_publish(
                topology::RPC_EXCHANGE.into(),
                topology::rpc_queue(service).into(),
                BasicPublishOptions::default(),
                body,
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn reply(&mut self, wait: Duration) -> Option<Vec<u8>> {
        use futures::StreamExt;
        let delivery = tokio::time::timeout(wait, self.replies.next())
            .await
            .ok()??;
        Some(delivery.unwrap().data)
    }
}

fn octet_stream() -> BasicProperties {
    BasicProperties::default().with_content_type(topology::CONTENT_TYPE.into())
}

async fn still_serving(conn: &Connection, service: &str) {
    let client = RpcClient::new(conn);
    let typed =
        TypedClient::<ChainRequest, ChainResponse>::new(&client, service, CallOptions::default());
    let request = ChainRequest {
        request: Some(chain_request::Request::GetChainId(GetChainIdRequest {})),
    };
    let response = typed
        .call(&request)
        .await
        .expect("the server keeps serving");
    assert!(
        matches!(response.response, Some(chain_response::Response::GetChainId(r)) if r.chain_id == [1, 2, 3])
    );
    typed.ping().await.expect("reserved ping answered");
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_rejected_and_counted() {
    let conn = connect().await;
    let service = unique("content_type");
    let metrics = serve_chain_stub(&conn, &service).await;
    let mut raw = RawClient::new().await;
    let body = ChainRequest::reserved().encode_to_vec();
    let json = BasicProperties::default().with_content_type("application/json".into());
    raw.send(&service, &body, json).await;
    raw.send(&service, &body, BasicProperties::default()).await;
    assert_eq!(
        raw.reply(Duration::from_millis(800)).await,
        None,
        "no reply to rejected input"
    );
    assert_eq!(metrics.dropped_count("content_type"), 2);
    still_serving(&conn, &service).await;
    conn.close().await;
}

#[tokio::test]
async fn truncated_protobuf_and_unknown_oneof_get_error_responses() {
    let conn = connect().await;
    let service = unique("malformed");
    let metrics = serve_chain_stub(&conn, &service).await;
    let mut raw = RawClient::new().await;
    // get_chain_id (field 6), then a length-delimited field announcing 5 bytes with 1 present.
    raw.send(&service, &[0x32, 0x00, 0x12, 0x05, 0x01], octet_stream())
        .await;
    let reply = raw
        .reply(Duration::from_secs(5))
        .await
        .expect("an error response");
    let message = ChainResponse::decode(reply.as_slice()).unwrap();
    assert!(
        message
            .error_message()
            .unwrap()
            .starts_with("malformed request"),
        "{message:?}"
    );
    // Field 99: a method this build does not know.
    raw.send(&service, &[0x9a, 0x06, 0x00], octet_stream())
        .await;
    let reply = raw
        .reply(Duration::from_secs(5))
        .await
        .expect("an error response");
    let message = ChainResponse::decode(reply.as_slice()).unwrap();
    assert_eq!(message.error_message(), Some("unknown request"));
    assert_eq!(metrics.request_count("unknown", "malformed"), 2);
    still_serving(&conn, &service).await;
    conn.close().await;
}

#[tokio::test]
async fn oversized_and_expired_requests_are_dropped_and_counted() {
    let conn = connect().await;
    let service = unique("oversized");
    let metrics = serve_chain_stub(&conn, &service).await;
    let mut raw = RawClient::new().await;
    raw.send(&service, &vec![0u8; 128 * 1024], octet_stream())
        .await;
    // Sent (by its timestamp) 10 s ago with a 2 s expiration: stale on arrival.
    let sent = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 10;
    let stale = octet_stream()
        .with_timestamp(sent)
        .with_expiration("2000".into());
    raw.send(&service, &ChainRequest::reserved().encode_to_vec(), stale)
        .await;
    assert_eq!(raw.reply(Duration::from_millis(800)).await, None);
    assert_eq!(metrics.dropped_count("oversized"), 1);
    assert_eq!(metrics.dropped_count("expired"), 1);
    assert_eq!(
        metrics.request_count("reserved", "ok"),
        0,
        "the stale ping was not processed"
    );
    still_serving(&conn, &service).await;
    conn.close().await;
}

#[tokio::test]
async fn a_panicking_handler_gets_an_error_response_and_the_server_survives() {
    let conn = connect().await;
    let service = unique("panic");
    let metrics = serve_chain_stub(&conn, &service).await;
    let client = RpcClient::new(&conn);
    let typed =
        TypedClient::<ChainRequest, ChainResponse>::new(&client, &service, CallOptions::default());
    let request = ChainRequest {
        request: Some(chain_request::Request::GetHeadInfo(Default::default())),
    };
    let err = typed.call(&request).await.unwrap_err();
    assert!(err.to_string().contains("internal error"), "{err}");
    assert_eq!(metrics.request_count("get_head_info", "panic"), 1);
    let raw_panics = tokio::spawn({
        let (server, svc) = (conn.clone(), unique("raw_panic"));
        async move {
            let s = svc.clone();
            tokio::spawn(async move {
                RpcServer::serve_with(&server, &s, ephemeral(1), |_b: Vec<u8>| async move {
                    panic!("raw handler bug")
                })
                .await
            });
            svc
        }
    });
    let raw_service = raw_panics.await.unwrap();
    settle().await;
    let raw_call = client.call(
        &raw_service,
        b"x",
        CallOptions::timeout(Duration::from_millis(800)),
    );
    assert!(
        raw_call.await.is_err(),
        "no reply from a panicking raw handler"
    );
    assert_eq!(
        RpcMetrics::for_service(&raw_service).dropped_count("panic"),
        1
    );
    still_serving(&conn, &service).await;
    conn.close().await;
}
