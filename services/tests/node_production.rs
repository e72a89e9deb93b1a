//! A devnet of the six binaries as processes produces blocks, and a token transfer signed here
//! and submitted through JSON-RPC is included and moves the balances.

mod node_support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::pb::koinos::contracts::token::{BalanceOfArguments, BalanceOfResult};
use koinos_services::block_producer::ProducerKey;
use koinos_services::chain::builder::{transaction, transfer_operation};
use node_support::TestNet;
use prost::Message;
use serde_json::json;

const BALANCE_OF: u32 = 0x5c72_1497;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_blocks_are_produced_and_linked() {
    let mut net = TestNet::start("twenty-blocks", 200);
    let height = net.wait_height(20, Duration::from_secs(90)).await;
    assert!(height >= 20);
    let blocks = net.blocks(20).await;
    assert_eq!(blocks.len(), 20, "block_store must serve blocks 1..=20");
    net.assert_linked(&blocks);
    for item in &blocks {
        assert_eq!(
            item["block"]["header"]["signer"],
            net.info.producer_address.as_str()
        );
        assert!(
            item["block"]["signature"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }
    let head = net.head().await;
    let head_height: u64 = head["head_topology"]["height"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(head_height >= 20);
}

async fn balance(net: &TestNet, token: &[u8], owner: &[u8]) -> u64 {
    let args = BalanceOfArguments {
        owner: owner.to_vec(),
    }
    .encode_to_vec();
    let result = net
        .call(
            "chain.read_contract",
            json!({"contract_id": bs58::encode(token).into_string(), "entry_point": BALANCE_OF,
                   "args": URL_SAFE.encode(args)}),
        )
        .await
        .unwrap_or_else(|e| net.fail(&format!("read_contract balance_of: {e}")));
    let bytes = URL_SAFE
        .decode(result["result"].as_str().unwrap_or(""))
        .expect("result is base64url");
    BalanceOfResult::decode(bytes.as_slice())
        .expect("balance_of_result")
        .value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_submitted_through_jsonrpc_is_included_and_moves_balances() {
    let mut net = TestNet::start("transfer", 300);
    net.wait_height(2, Duration::from_secs(60)).await;

    let funded = ProducerKey::from_wif(&net.info.funded_account_wif).unwrap();
    let receiver = ProducerKey::generate();
    let token = bs58::decode(&net.info.token_contract_id)
        .into_vec()
        .unwrap();
    let chain_id = URL_SAFE.decode(&net.info.chain_id).unwrap();
    let before = balance(&net, &token, funded.address()).await;
    assert!(before > 1_000, "the funded account holds tokens");
    assert_eq!(balance(&net, &token, receiver.address()).await, 0);

    let nonce = net
        .call(
            "chain.get_account_nonce",
            json!({"account": bs58::encode(funded.address()).into_string()}),
        )
        .await
        .unwrap();
    assert_eq!(
        nonce,
        json!({"nonce": "KAA="}),
        "a fresh account's nonce is 0"
    );
    let transfer = transfer_operation(&token, funded.address(), receiver.address(), 1_000);
    let tx = transaction(
        &chain_id,
        funded.private_key(),
        1,
        100_000_000,
        vec![transfer],
    );
    let tx_json = koinos_protocol::json::to_value(&tx).unwrap();
    let receipt = net
        .call(
            "chain.submit_transaction",
            json!({"transaction": tx_json, "broadcast": true}),
        )
        .await
        .unwrap_or_else(|e| net.fail(&format!("submit_transaction: {e}")));
    let tx_id = format!("0x{}", hex::encode(&tx.id));
    assert_eq!(receipt["receipt"]["id"], tx_id.as_str());
    assert!(receipt["receipt"].get("reverted").is_none(), "{receipt}");

    // Included: transaction_store lists its block, and that block is on the main chain.
    let block_id = wait_included(&net, &tx_id, Duration::from_secs(30)).await;
    let items = net
        .call(
            "block_store.get_blocks_by_id",
            json!({"block_ids": [block_id], "return_block": true}),
        )
        .await
        .unwrap();
    let transactions = items["block_items"][0]["block"]["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        transactions.iter().any(|t| t["id"] == tx_id.as_str()),
        "{items}"
    );

    assert_eq!(
        balance(&net, &token, funded.address()).await,
        before - 1_000
    );
    assert_eq!(balance(&net, &token, receiver.address()).await, 1_000);
    let nonce = net
        .call(
            "chain.get_account_nonce",
            json!({"account": bs58::encode(funded.address()).into_string()}),
        )
        .await
        .unwrap();
    assert_eq!(nonce, json!({"nonce": "KAE="}));
}

/// Waits until transaction_store lists the block including `tx_id`; returns its id.
async fn wait_included(net: &TestNet, tx_id: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let found = net
            .call(
                "transaction_store.get_transactions_by_id",
                json!({"transaction_ids": [tx_id]}),
            )
            .await
            .unwrap();
        if let Some(block) = found["transactions"][0]["containing_blocks"][0].as_str() {
            return block.to_owned();
        }
        if Instant::now() > deadline {
            net.fail(&format!("{tx_id} was not included within {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// As koilib does by default: each transfer's rc_limit is the payer's whole RC
/// (`chain.get_account_rc`), sent as soon as the previous transfer is included. The blocks
/// before the inclusion (pending the previous transfer until irreversibility) must not
/// charge it again: each one is accepted at once, not ~60 blocks later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_spending_the_whole_rc_are_accepted_in_consecutive_blocks() {
    let mut net = TestNet::start("whole-rc", 300);
    net.wait_height(2, Duration::from_secs(60)).await;

    let funded = ProducerKey::from_wif(&net.info.funded_account_wif).unwrap();
    let receiver = ProducerKey::generate();
    let token = bs58::decode(&net.info.token_contract_id)
        .into_vec()
        .unwrap();
    let chain_id = URL_SAFE.decode(&net.info.chain_id).unwrap();
    let account = bs58::encode(funded.address()).into_string();
    let mut heights = Vec::new();
    for nonce in 1..=3u64 {
        let rc = net
            .call("chain.get_account_rc", json!({"account": account}))
            .await
            .unwrap_or_else(|e| net.fail(&format!("get_account_rc: {e}")));
        let rc: u64 = rc["rc"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| net.fail(&format!("get_account_rc answer: {rc}")));
        assert!(rc > 0, "the funded account has mana");
        let transfer = transfer_operation(&token, funded.address(), receiver.address(), 10);
        let tx = transaction(&chain_id, funded.private_key(), nonce, rc, vec![transfer]);
        let tx_json = koinos_protocol::json::to_value(&tx).unwrap();
        net.call(
            "chain.submit_transaction",
            json!({"transaction": tx_json, "broadcast": true}),
        )
        .await
        .unwrap_or_else(|e| {
            net.fail(&format!(
                "transfer {nonce} with rc_limit = the whole RC {rc}: {e}"
            ))
        });
        let tx_id = format!("0x{}", hex::encode(&tx.id));
        let block_id = wait_included(&net, &tx_id, Duration::from_secs(30)).await;
        let items = net
            .call(
                "block_store.get_blocks_by_id",
                json!({"block_ids": [block_id], "return_block": true}),
            )
            .await
            .unwrap();
        let height: u64 = items["block_items"][0]["block_height"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| net.fail(&format!("block height: {items}")));
        heights.push(height);
    }
    assert!(
        heights.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 5),
        "each transfer follows the previous one within a few blocks: {heights:?}"
    );
    assert_eq!(balance(&net, &token, receiver.address()).await, 30);
}
