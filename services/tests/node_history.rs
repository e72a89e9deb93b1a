//! On a devnet of our binaries (chain, stores, producer, jsonrpc as processes), a token transfer
//! submitted through JSON-RPC shows up in `account_history` for its payer, its recipient and
//! the token contract, becomes irreversible 60 blocks later, and `contract_meta_store` answers
//! through the gateway.

mod node_support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_services::block_producer::ProducerKey;
use koinos_services::chain::builder::{transaction, transfer_operation};
use node_support::TestNet;
use serde_json::{Value, json};

async fn history(net: &TestNet, address: &str, ascending: bool, irreversible: bool) -> Vec<Value> {
    let result = net
        .call(
            "account_history.get_account_history",
            json!({"address": address, "limit": 100, "ascending": ascending,
                   "irreversible": irreversible}),
        )
        .await
        .unwrap_or_else(|e| net.fail(&format!("get_account_history: {e}")));
    result["values"].as_array().cloned().unwrap_or_default()
}

fn transaction_ids(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| v["trx"]["transaction"]["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_appears_in_the_account_history_of_payer_recipient_and_token() {
    let mut net = TestNet::start("history", 200);
    net.wait_height(2, Duration::from_secs(60)).await;

    let funded = ProducerKey::from_wif(&net.info.funded_account_wif).unwrap();
    let receiver = ProducerKey::generate();
    let token = bs58::decode(&net.info.token_contract_id)
        .into_vec()
        .unwrap();
    let chain_id = URL_SAFE.decode(&net.info.chain_id).unwrap();
    let transfer = transfer_operation(&token, funded.address(), receiver.address(), 1_000);
    let tx = transaction(
        &chain_id,
        funded.private_key(),
        1,
        100_000_000,
        vec![transfer],
    );
    let tx_json = koinos_protocol::json::to_value(&tx).unwrap();
    net.call(
        "chain.submit_transaction",
        json!({"transaction": tx_json, "broadcast": true}),
    )
    .await
    .unwrap_or_else(|e| net.fail(&format!("submit_transaction: {e}")));
    let tx_id = format!("0x{}", hex::encode(&tx.id));
    let (payer, recipient) = (
        bs58::encode(funded.address()).into_string(),
        bs58::encode(receiver.address()).into_string(),
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while transaction_ids(&history(&net, &recipient, true, false).await)
        != std::slice::from_ref(&tx_id)
    {
        if Instant::now() > deadline {
            net.fail("the transfer did not reach the recipient's history within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let recipient_history = history(&net, &recipient, true, false).await;
    // Its first record: seq_num 0, omitted as Koinos JSON omits defaults.
    assert!(
        recipient_history[0].get("seq_num").is_none(),
        "{recipient_history:?}"
    );
    assert!(
        recipient_history[0]["trx"]["receipt"]["events"][0]["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("transfer_event")),
        "{recipient_history:?}"
    );
    let newest_of_payer = history(&net, &payer, false, false).await;
    assert_eq!(
        transaction_ids(&newest_of_payer[..1]),
        std::slice::from_ref(&tx_id)
    );
    let token_history = history(&net, &net.info.token_contract_id, false, false).await;
    assert!(transaction_ids(&token_history).contains(&tx_id));
    // The producer's history holds the blocks it signed.
    let producer_history = history(&net, &net.info.producer_address, true, false).await;
    assert!(producer_history.len() > 2, "{producer_history:?}");
    assert!(producer_history[0]["block"]["header"]["height"] == "1");

    // 60 blocks later (LIB = head - 60) the transfer is irreversible.
    let deadline = Instant::now() + Duration::from_secs(60);
    while transaction_ids(&history(&net, &recipient, true, true).await)
        != std::slice::from_ref(&tx_id)
    {
        if Instant::now() > deadline {
            net.fail("the transfer did not become irreversible within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // contract_meta_store is routed too; the native token was never uploaded: no meta.
    let meta = net
        .call(
            "contract_meta_store.get_contract_meta",
            json!({"contract_id": net.info.token_contract_id}),
        )
        .await
        .unwrap_or_else(|e| net.fail(&format!("get_contract_meta: {e}")));
    assert_eq!(meta, json!({}));
}
