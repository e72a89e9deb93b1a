//! The gateway over HTTP and a real broker (a private vhost): translation end to end, service
//! errors, the 1 s timeout data string, CORS and OPTIONS, malformed and oversized requests.

#[path = "node_support/mod.rs"]
mod node_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetChainIdResponse, GetHeadInfoResponse, chain_request,
    chain_response,
};
use koinos_services::devnet::http_client::post;
use koinos_services::jsonrpc::config::GatewayOptions;
use koinos_services::jsonrpc::gateway::Gateway;
use koinos_services::jsonrpc::service::MqTransport;
use koinos_services::jsonrpc::translate::Translator;
use koinos_services::mq::typed::{Handler, RpcError};
use koinos_services::mq::{Connection, RpcClient};
use node_support::Vhost;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A chain that knows its id and its head, and fails `get_fork_heads` with data.
struct SmallChain;

impl Handler for SmallChain {
    type Request = ChainRequest;
    type Response = ChainResponse;
    async fn handle(&self, request: ChainRequest) -> Result<ChainResponse, RpcError> {
        let response = match request.request {
            Some(chain_request::Request::GetChainId(_)) => {
                chain_response::Response::GetChainId(GetChainIdResponse {
                    chain_id: vec![0xfb, 0xff],
                })
            }
            Some(chain_request::Request::GetHeadInfo(_)) => {
                chain_response::Response::GetHeadInfo(GetHeadInfoResponse {
                    head_block_time: 1_700_000_000_000,
                    ..Default::default()
                })
            }
            _ => {
                return Err(RpcError {
                    message: "no fork heads here".into(),
                    data: r#"{"code":-1}"#.into(),
                });
            }
        };
        Ok(ChainResponse {
            response: Some(response),
        })
    }
}

struct Setup {
    addr: SocketAddr,
    _conn: Connection,
    _vhost: Vhost,
}

async fn setup(test: &str, options: GatewayOptions, serve_chain: bool) -> Setup {
    let vhost = Vhost::create(test);
    let conn = Connection::connect_supervised(&vhost.amqp_url()).unwrap();
    conn.wait_connected(Duration::from_secs(15))
        .await
        .expect("RabbitMQ must answer on 127.0.0.1:5672 (scripts/ensure-rabbitmq.sh)");
    if serve_chain {
        let server = conn.clone();
        tokio::spawn(async move {
            koinos_services::mq::typed::serve(&server, "chain", 4, SmallChain).await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let gateway = Gateway::new(
        options,
        Translator::builtin(),
        MqTransport::new(RpcClient::new(&conn)),
    );
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    tokio::spawn(koinos_services::jsonrpc::http::serve(
        gateway,
        listen,
        move |addr| {
            let _ = bound_tx.send(addr);
        },
        std::future::pending(),
    ));
    let addr = bound_rx.await.unwrap();
    Setup {
        addr,
        _conn: conn,
        _vhost: vhost,
    }
}

async fn rpc(addr: SocketAddr, body: &str) -> Value {
    let (status, text) = post(addr, body, Duration::from_secs(10)).await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Sends raw HTTP and returns the response head and body.
async fn raw_http(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn requests_are_translated_end_to_end() {
    let setup = setup("gw-translate", GatewayOptions::default(), true).await;
    for method in ["chain.get_chain_id", "koinos.rpc.chain.get_chain_id"] {
        let body =
            json!({"jsonrpc": "2.0", "id": "abc", "method": method, "params": {}}).to_string();
        assert_eq!(
            rpc(setup.addr, &body).await,
            json!({"jsonrpc": "2.0", "result": {"chain_id": "-_8="}, "id": "abc"})
        );
    }
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"chain.get_head_info"}"#;
    assert_eq!(
        rpc(setup.addr, body).await["result"],
        json!({"head_block_time": "1700000000000"})
    );

    let body = r#"{"jsonrpc":"2.0","id":8,"method":"chain.get_fork_heads","params":{}}"#;
    assert_eq!(
        rpc(setup.addr, body).await["error"],
        json!({"code": -32603, "message": "no fork heads here", "data": "{\"code\":-1}"})
    );
}

#[tokio::test]
async fn an_absent_service_times_out_after_one_second_with_the_documented_data() {
    let setup = setup("gw-timeout", GatewayOptions::default(), false).await;
    let started = Instant::now();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"chain.get_head_info","params":{}}"#;
    let reply = rpc(setup.addr, body).await;
    let elapsed = started.elapsed();
    assert_eq!(
        reply["error"],
        json!({"code": -32603, "message": "An internal server error has occurred",
               "data": "rpc failed, context deadline exceeded"})
    );
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_secs(3),
        "timeout took {elapsed:?}"
    );
}

#[tokio::test]
async fn cors_options_and_any_http_method() {
    let setup = setup("gw-http", GatewayOptions::default(), true).await;
    let response = raw_http(
        setup.addr,
        b"OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(lower.contains("access-control-allow-origin: *"));
    assert!(lower.contains("access-control-allow-methods: post, options"));
    assert!(lower.contains("access-control-allow-headers: content-type, authorization"));

    // Any method other than OPTIONS carries a request; any path is served.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"chain.get_chain_id","params":{}}"#;
    let request = format!(
        "GET /some/path HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = raw_http(setup.addr, request.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    assert!(response.contains(r#""chain_id":"-_8=""#), "{response}");
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_documented_errors_and_the_server_keeps_serving() {
    let options = GatewayOptions {
        max_request_size: 4096,
        ..GatewayOptions::default()
    };
    let setup = setup("gw-malformed", options, true).await;
    let cases = [
        ("{", -32700),
        ("[]", -32700),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"chain.get_chain_id"}]"#,
            -32700,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1.5,"method":"chain.get_chain_id"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"chain.get_chain_id"}"#,
            -32600,
        ),
        (r#"{"jsonrpc":"2.0","id":1,"method":"chain.nope"}"#, -32601),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"block_store.add_block","params":{}}"#,
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"chain.get_account_nonce","params":{"account":"@"}}"#,
            -32601,
        ),
    ];
    for (body, code) in cases {
        assert_eq!(rpc(setup.addr, body).await["error"]["code"], code, "{body}");
    }
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"chain.get_chain_id","params":{{"pad":"{}"}}}}"#,
        "x".repeat(1 << 20)
    );
    let reply = rpc(setup.addr, &huge).await;
    assert_eq!(reply["error"]["code"], -32602);
    assert_eq!(
        reply["error"]["message"],
        "Request exceeds maximum message size"
    );
    assert_eq!(reply["error"]["data"], "parameters could not be parsed");
    assert_eq!(reply["id"], Value::Null);

    let body = r#"{"jsonrpc":"2.0","id":2,"method":"chain.get_chain_id","params":{}}"#;
    assert_eq!(rpc(setup.addr, body).await["result"]["chain_id"], "-_8=");
}
