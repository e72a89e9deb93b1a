//! A chain killed between block_store's `add_block` and its broadcasts (found by crash_loop),
//! before or after its own commit, leaves a block that block_store holds and no
//! `koinos.block.accept` announced. On restart the chain reads it in catch-up (indexing it if
//! it was not committed) and must announce it: otherwise the mempool does not know the
//! new head (the producer's `get_pending_transactions` fails with "unknown block" and
//! production stops for good) and transaction_store never records its transactions.
//!
//! The dead chain's last acts are reproduced exactly: with chain and producer stopped, the next
//! block (a transfer in it) is applied on a copy of the chain's state (not committed) or on the
//! state itself (committed), and stored in block_store over AMQP, as the chain does before
//! committing and broadcasting.

mod node_support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::rpc::block_store::{AddBlockRequest, BlockStoreRequest, block_store_request};
use koinos_services::block_producer::ProducerKey;
use koinos_services::chain::builder::{block, transaction, transfer_operation};
use koinos_services::chain::genesis::load_genesis;
use koinos_services::chain::{Chain, ForkAlgorithm};
use koinos_services::mq::{CallOptions, Connection, RpcClient};
use node_support::TestNet;
use prost::Message;
use serde_json::json;

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_stored_but_never_committed_is_announced_after_a_restart() {
    unannounced_block_after_a_restart("reannounce-stored", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_committed_but_never_announced_is_announced_after_a_restart() {
    unannounced_block_after_a_restart("reannounce-committed", true).await;
}

/// The chain dies after block_store's `add_block`, and with `committed` after its own commit
/// too, before its broadcasts.
async fn unannounced_block_after_a_restart(test: &str, committed: bool) {
    let mut net = TestNet::start(test, 200);
    net.wait_height(3, Duration::from_secs(90)).await;
    net.node.stop("block_producer");
    net.node.stop("chain");

    // The next block, applied on the chain's state or on a copy of it (for its receipt).
    let basedir = net.dir.path().to_path_buf();
    let copy = tempfile::tempdir().unwrap();
    let statedir = if committed {
        basedir.join("chain/blockchain")
    } else {
        copy_dir(&basedir.join("chain/blockchain"), copy.path());
        copy.path().to_path_buf()
    };
    let genesis = load_genesis(&basedir.join("chain/genesis_data.json")).unwrap();
    let mut chain = Chain::open(&statedir, &genesis, ForkAlgorithm::Fifo).unwrap();
    let producer = ProducerKey::from_wif(
        std::fs::read_to_string(basedir.join("block_producer/private.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let funded = ProducerKey::from_wif(&net.info.funded_account_wif).unwrap();
    let token = bs58::decode(&net.info.token_contract_id)
        .into_vec()
        .unwrap();
    let nonce =
        koinos_protocol::nonce::decode_nonce(&chain.account_nonce(funded.address()).unwrap())
            .unwrap();
    let tx = transaction(
        &URL_SAFE.decode(&net.info.chain_id).unwrap(),
        funded.private_key(),
        nonce + 1,
        10_000_000,
        vec![transfer_operation(
            &token,
            funded.address(),
            ProducerKey::generate().address(),
            1,
        )],
    );
    let head = chain.head().clone();
    let now = koinos_services::chain::service::now_ms();
    let next = block(
        &head,
        now.max(head.timestamp + 1),
        vec![tx.clone()],
        producer.private_key(),
    );
    let applied = chain.submit_block(&next, now + 1000).unwrap().unwrap();
    drop(chain);

    // What the chain does before it commits and broadcasts: store it in block_store.
    let conn = Connection::connect_supervised(&net.vhost.amqp_url()).unwrap();
    conn.wait_connected(Duration::from_secs(10)).await.unwrap();
    let request = BlockStoreRequest {
        request: Some(block_store_request::Request::AddBlock(AddBlockRequest {
            block_to_add: Some(applied.block.clone()),
            receipt_to_add: Some(applied.receipt.clone()),
        })),
    };
    RpcClient::new(&conn)
        .call(
            "block_store",
            &request.encode_to_vec(),
            CallOptions::timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap();

    net.node.start("chain").unwrap();
    let id = format!("0x{}", hex::encode(&next.id));
    let tx_id = format!("0x{}", hex::encode(&tx.id));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = net
            .call(
                "mempool.get_pending_transactions",
                json!({"block_id": id, "limit": 10}),
            )
            .await;
        let stored = net
            .call(
                "transaction_store.get_transactions_by_id",
                json!({"transaction_ids": [tx_id]}),
            )
            .await;
        let recorded = stored.as_ref().is_ok_and(|r| {
            r["transactions"][0]["containing_blocks"]
                .as_array()
                .is_some_and(|b| b.contains(&json!(id)))
        });
        if pending.is_ok() && recorded {
            break;
        }
        if Instant::now() > deadline {
            net.fail(&format!(
                "after the restart the mempool answers {pending:?} for the caught-up head and \
                 transaction_store {stored:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Production resumes on the caught-up head.
    net.node.start("block_producer").unwrap();
    net.wait_height(head.height + 3, Duration::from_secs(60))
        .await;
    let blocks = net.blocks(head.height + 3).await;
    net.assert_linked(&blocks);
    assert_eq!(blocks[head.height as usize]["block_id"], json!(id));
}
