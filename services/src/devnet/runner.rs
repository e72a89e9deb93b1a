//! `koinos-devnet run`: start the node, wait for JSON-RPC, follow the head until Ctrl-C or
//! SIGTERM, then stop every service.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::DevnetInfo;
use super::http_client::{call, head_height};
use super::launcher::Node;
use crate::jsonrpc::config::parse_listen;

/// The JSON-RPC socket address of a devnet (from `devnet.json`'s URL).
pub fn rpc_address(info: &DevnetInfo) -> anyhow::Result<SocketAddr> {
    let host = info
        .rpc_url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    parse_listen(host).map_err(anyhow::Error::msg)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Runs the devnet in `basedir` with binaries from `bin_dir` until a signal.
pub async fn run(basedir: &Path, bin_dir: &Path, quiet: bool) -> anyhow::Result<()> {
    let info = DevnetInfo::read(basedir)?;
    let rpc = rpc_address(&info)?;
    let mut node = Node::new(basedir, bin_dir);
    node.start_all()?;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let mut ready = false;
    let mut last_height = None;
    let outcome = loop {
        tokio::select! {
            _ = &mut signal => break Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let exited = node.exited();
        if !exited.is_empty() {
            break Err(anyhow::anyhow!(
                "service(s) exited: {}\n{}",
                exited.join(", "),
                node.log_tail(20)
            ));
        }
        let Ok(height) = head_height(rpc).await else {
            continue;
        };
        if !ready {
            ready = true;
            println!(
                "devnet running: JSON-RPC at {} (chain id {})",
                info.rpc_url, info.chain_id
            );
            println!(
                "logs in {}; stop with Ctrl-C",
                basedir.join("logs").display()
            );
        }
        if !quiet && last_height != Some(height) {
            last_height = Some(height);
            let summary = block_summary(rpc, height).await.unwrap_or_default();
            println!("head {height}{summary}");
        }
    };
    println!("stopping the devnet");
    node.stop_all();
    outcome
}

async fn block_summary(rpc: SocketAddr, height: u64) -> anyhow::Result<String> {
    if height == 0 {
        return Ok(String::new());
    }
    let info = call(rpc, "chain.get_head_info", serde_json::json!({})).await?;
    let head_id = info["head_topology"]["id"].clone();
    let blocks = call(
        rpc,
        "block_store.get_blocks_by_height",
        serde_json::json!({"head_block_id": head_id, "ancestor_start_height": height,
                           "num_blocks": 1, "return_block": true}),
    )
    .await?;
    let item = &blocks["block_items"][0];
    let transactions = item["block"]["transactions"].as_array().map_or(0, Vec::len);
    Ok(format!(
        "  id {}  transactions {transactions}",
        item["block_id"].as_str().unwrap_or("?")
    ))
}
