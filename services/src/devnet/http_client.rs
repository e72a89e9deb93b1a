//! A minimal JSON-RPC client over HTTP/1.1 (one request per connection), enough for the devnet
//! runner and the node tests to talk to `koinos-jsonrpc` without an HTTP client dependency.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// POSTs `body` to `http://<addr>/` and returns the HTTP status and response body.
pub async fn post(
    addr: SocketAddr,
    body: &str,
    timeout: Duration,
) -> anyhow::Result<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("no HTTP response from {addr} within {timeout:?}"))??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("malformed HTTP response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("malformed HTTP status line"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Calls `method` with `params` and returns the `result` (an `Err` carries the error object).
pub async fn call(addr: SocketAddr, method: &str, params: Value) -> anyhow::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let (status, text) = post(addr, &body, Duration::from_secs(10)).await?;
    anyhow::ensure!(status == 200, "HTTP {status}: {text}");
    let mut reply: Value = serde_json::from_str(&text)?;
    if let Some(error) = reply.get("error") {
        anyhow::bail!("{method} failed: {error}");
    }
    Ok(reply
        .get_mut("result")
        .map(Value::take)
        .unwrap_or(Value::Null))
}

/// The head height reported by `chain.get_head_info` (0 before the first block).
pub async fn head_height(addr: SocketAddr) -> anyhow::Result<u64> {
    let info = call(addr, "chain.get_head_info", json!({})).await?;
    Ok(info["head_topology"]["height"]
        .as_str()
        .and_then(|h| h.parse().ok())
        .unwrap_or(0))
}
