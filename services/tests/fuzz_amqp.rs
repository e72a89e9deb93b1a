//! Every service's AMQP input under hostile bytes (docs/testing.md "Hostile input"), in
//! process, without a broker:
//! - requests through `koinos_mq::typed::dispatch` (what `typed::serve` runs per message) on
//!   the real handlers of chain, block_store, transaction_store, contract_meta_store,
//!   account_history and mempool: random or mutated bytes get a decodable `<svc>_response`
//!   (an error or an answer), never a panic (the panic hook counts the ones `dispatch` catches);
//! - broadcasts (`koinos.block.accept`, `koinos.block.irreversible`, `koinos.transaction.accept`
//!   and `.fail`) through what each follower does with a message: decoded and applied, or
//!   refused; never a panic, and the service still answers afterwards.
//!
//! Seeds: the JSON-RPC corpus (`tests/corpus/jsonrpc/`, translated to `<svc>_request`s), plus
//! blocks, receipts and transactions of a chain built as in `fuzz_chain`. `FUZZ_CASES` /
//! `FUZZ_SEED` as in `fuzz_support`.

mod fuzz_chain_support;
#[path = "../../protocol/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::path::Path;
use std::time::Duration;

use fuzz_chain_support::ChainFixture;
use fuzz_support::{Fuzz, Outcome, corpus};
use koinos_protocol::broadcast::{
    BlockAccepted, BlockIrreversible, TransactionAccepted, TransactionFailed,
};
use koinos_protocol::json::from_value_by_name;
use koinos_protocol::pb::koinos::BlockTopology;
use koinos_protocol::pb::koinos::protocol::TransactionReceipt;
use koinos_services::account_history::{AccountHistory, AccountHistoryHandler, Whitelist};
use koinos_services::block_store::{BlockStore, BlockStoreHandler};
use koinos_services::chain::ForkAlgorithm;
use koinos_services::chain::service::{ChainService, ServiceOptions};
use koinos_services::contract_meta_store::{ContractMetaStore, ContractMetaStoreHandler};
use koinos_services::jsonrpc::config::GatewayOptions;
use koinos_services::jsonrpc::gateway::Gateway;
use koinos_services::jsonrpc::translate::Translator;
use koinos_services::mempool::{MempoolHandler, SharedMempool, on_broadcast};
use koinos_services::mq::metrics::RpcMetrics;
use koinos_services::mq::topology::topic;
use koinos_services::mq::typed::{Handler, ResponseEnvelope, dispatch};
use koinos_services::transaction_store::{TransactionStore, TransactionStoreHandler};
use prost::Message;
use serde_json::json;

/// How long a chain request may wait on mempool or block_store (unreachable here) before the
/// case counts as answered by a timeout.
const PEER_WAIT: Duration = Duration::from_millis(100);

struct Node {
    _dir: tempfile::TempDir,
    fixture: ChainFixture,
    chain: ChainService,
    block_store: BlockStoreHandler,
    blocks: BlockStore,
    transaction_store: TransactionStoreHandler,
    transactions: TransactionStore,
    contract_meta_store: ContractMetaStoreHandler,
    metas: ContractMetaStore,
    account_history: AccountHistoryHandler,
    history: AccountHistory,
    mempool: MempoolHandler,
    pool: SharedMempool,
    /// Valid broadcasts: (topic, body).
    broadcasts: Vec<(&'static str, Vec<u8>)>,
}

/// A chain with three blocks and every store holding them; the chain's broker is never
/// reached (requests that need another service time out).
fn node() -> Node {
    let mut fixture = ChainFixture::new();
    let committed = fixture.produce(3);
    let dir = tempfile::tempdir().unwrap();
    let blocks = BlockStore::open(&dir.path().join("bs"), false).unwrap();
    let transactions = TransactionStore::open(&dir.path().join("ts"), false).unwrap();
    let metas = ContractMetaStore::open(&dir.path().join("cms"), false).unwrap();
    let history = AccountHistory::open(
        &dir.path().join("ah"),
        false,
        ForkAlgorithm::Fifo,
        Whitelist::default(),
    )
    .unwrap();
    let pool = SharedMempool::default();
    let mut broadcasts = Vec::new();
    for c in &committed {
        let accepted = BlockAccepted {
            block: Some(c.block.clone()),
            receipt: Some(c.receipt.clone()),
            live: true,
            head: true,
        };
        blocks
            .add_block(c.block.clone(), Some(c.receipt.clone()))
            .unwrap();
        transactions.add_block(&c.block).unwrap();
        metas.add_block(&c.block).unwrap();
        history.add_block(&accepted).unwrap();
        on_broadcast(
            &mut pool.lock(),
            topic::BLOCK_ACCEPT,
            &accepted.encode_to_vec(),
            0,
        );
        broadcasts.push((topic::BLOCK_ACCEPT, accepted.encode_to_vec()));
        let irreversible = BlockIrreversible {
            topology: Some(BlockTopology {
                id: c.block.id.clone(),
                height: c.head.height,
                previous: c.head.previous.clone(),
            }),
        };
        broadcasts.push((topic::BLOCK_IRREVERSIBLE, irreversible.encode_to_vec()));
    }
    // A pending transaction and its failure.
    let tx = fixture.transfer(&fixture.alice, &fixture.bob, 5);
    let accepted = TransactionAccepted {
        transaction: Some(tx.clone()),
        receipt: Some(TransactionReceipt {
            id: tx.id.clone(),
            payer: fixture.alice.address().to_vec(),
            max_payer_rc: 1_000_000_000,
            rc_limit: 100_000_000,
            rc_used: 1000,
            ..Default::default()
        }),
        height: 3,
        ..Default::default()
    };
    broadcasts.push((topic::TRANSACTION_ACCEPT, accepted.encode_to_vec()));
    broadcasts.push((
        topic::TRANSACTION_FAIL,
        TransactionFailed { id: tx.id.clone() }.encode_to_vec(),
    ));
    // A block the stores have not seen.
    let next = fixture.next_block(vec![tx]);
    broadcasts.push((
        topic::BLOCK_ACCEPT,
        BlockAccepted {
            block: Some(next),
            receipt: Some(committed[2].receipt.clone()),
            live: true,
            head: true,
        }
        .encode_to_vec(),
    ));

    let chain_dir = fixture.dir.path().join("service");
    std::fs::create_dir_all(&chain_dir).unwrap();
    let chain_state =
        koinos_services::chain::Chain::open(&chain_dir, &fixture.genesis, ForkAlgorithm::Fifo)
            .unwrap();
    let mut chain_state = chain_state;
    for c in &committed {
        chain_state
            .submit_block(&c.block, ChainFixture::now_for(&c.block))
            .unwrap();
    }
    let conn =
        koinos_services::mq::Connection::connect_supervised("amqp://guest:guest@127.0.0.1:1/")
            .expect("a valid URL");
    let chain = ChainService::new(
        chain_state,
        koinos_services::mq::RpcClient::new(&conn),
        koinos_services::mq::Broadcaster::new(&conn),
        ServiceOptions::default(),
    );
    Node {
        _dir: dir,
        fixture,
        chain,
        block_store: BlockStoreHandler::new(blocks.clone()),
        blocks,
        transaction_store: TransactionStoreHandler::new(transactions.clone()),
        transactions,
        contract_meta_store: ContractMetaStoreHandler::new(metas.clone()),
        metas,
        account_history: AccountHistoryHandler::new(history.clone()),
        history,
        mempool: MempoolHandler::new(pool.clone()),
        pool,
        broadcasts,
    }
}

const SERVICES: [&str; 6] = [
    "chain",
    "block_store",
    "transaction_store",
    "contract_meta_store",
    "account_history",
    "mempool",
];

/// Valid `<svc>_request`s: the JSON-RPC corpus translated, and requests the gateway does not
/// send (add_block, the mempool's checks).
fn request_seeds(node: &Node) -> Vec<(String, Vec<u8>)> {
    let gateway = Gateway::new(GatewayOptions::default(), Translator::builtin(), ());
    let mut seeds: Vec<(String, Vec<u8>)> =
        corpus(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/jsonrpc"))
            .iter()
            .map(|(_, body)| {
                let call = gateway.prepare(body).unwrap();
                (call.method.service.clone(), call.request.clone())
            })
            .collect();
    let (_, accepted) = node.broadcasts.last().unwrap();
    let accepted = BlockAccepted::decode(accepted.as_slice()).unwrap();
    let block = koinos_protocol::json::to_value(accepted.block.as_ref().unwrap()).unwrap();
    let receipt = koinos_protocol::json::to_value(accepted.receipt.as_ref().unwrap()).unwrap();
    let alice = bs58::encode(node.fixture.alice.address().as_bytes()).into_string();
    let extra = [
        (
            "block_store",
            json!({"add_block": {"block_to_add": block, "receipt_to_add": receipt}}),
        ),
        ("block_store", json!({"get_highest_block": {}})),
        (
            "mempool",
            json!({"check_account_nonce": {"payee": alice, "nonce": "KAI="}}),
        ),
        ("mempool", json!({"get_pending_nonce": {"payee": alice}})),
        (
            "mempool",
            json!({"get_pending_transaction_count": {"payee": alice}}),
        ),
        ("mempool", json!({"reserved": {}})),
    ];
    for (service, value) in extra {
        let name = format!("koinos.rpc.{service}.{service}_request");
        let bytes = from_value_by_name(&name, &value).unwrap_or_else(|e| panic!("{value}: {e}"));
        seeds.push((service.to_owned(), bytes));
    }
    for service in SERVICES {
        assert!(
            seeds.iter().any(|(s, _)| s == service),
            "no seed for {service}"
        );
    }
    seeds
}

/// Dispatches `body` to `handler` as `typed::serve` would; the reply must decode.
async fn answer<H: Handler>(handler: &H, metrics: &RpcMetrics, body: &[u8]) -> Outcome {
    let reply = dispatch(handler, metrics, body).await;
    let response = H::Response::decode(reply.as_slice()).expect("the reply decodes");
    if response.error_message().is_some() {
        Outcome::Error
    } else {
        Outcome::Accepted
    }
}

impl Node {
    async fn request(&self, service: &str, metrics: &RpcMetrics, body: &[u8]) -> Outcome {
        match service {
            "chain" => {
                match tokio::time::timeout(PEER_WAIT, answer(&self.chain, metrics, body)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Outcome::Error, // waiting on mempool/block_store
                }
            }
            "block_store" => answer(&self.block_store, metrics, body).await,
            "transaction_store" => answer(&self.transaction_store, metrics, body).await,
            "contract_meta_store" => answer(&self.contract_meta_store, metrics, body).await,
            "account_history" => answer(&self.account_history, metrics, body).await,
            "mempool" => answer(&self.mempool, metrics, body).await,
            other => unreachable!("{other}"),
        }
    }

    /// What each follower does with one broadcast on `topic`.
    async fn broadcast(&self, topic: &str, body: &[u8]) -> Outcome {
        let mut refused = false;
        on_broadcast(&mut self.pool.lock(), topic, body, 1);
        match topic {
            t if t == topic::BLOCK_ACCEPT => match BlockAccepted::decode(body) {
                Ok(accepted) => {
                    if let Some(block) = accepted.block.clone() {
                        refused |= self
                            .blocks
                            .add_block(block.clone(), accepted.receipt.clone())
                            .is_err();
                        refused |= self.transactions.add_block(&block).is_err();
                        refused |= self.metas.add_block(&block).is_err();
                    }
                    refused |= self.history.add_block(&accepted).is_err();
                    refused |= !matches!(
                        tokio::time::timeout(PEER_WAIT, self.chain.apply_accepted(accepted)).await,
                        Ok(Ok(_))
                    );
                }
                Err(_) => refused = true,
            },
            t if t == topic::BLOCK_IRREVERSIBLE => match BlockIrreversible::decode(body) {
                Ok(BlockIrreversible {
                    topology: Some(lib),
                }) => refused |= !matches!(self.history.commit(&lib.id), Ok(true)),
                _ => refused = true,
            },
            _ => {}
        }
        if refused {
            Outcome::Error
        } else {
            Outcome::Accepted
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_requests_get_an_answer_from_every_service_never_a_panic() {
    let node = node();
    let seeds = request_seeds(&node);
    let metrics: Vec<_> = SERVICES
        .iter()
        .map(|s| RpcMetrics::for_service(s))
        .collect();
    let mut fuzz = Fuzz::new("amqp_request");
    let mut per_service = [0usize; SERVICES.len()];
    for round in 0..fuzz_support::cases(3000) {
        let (service, seed) = &seeds[round % seeds.len()];
        // Mostly the service's own requests, sometimes another's bytes or noise.
        let index = if fuzz.chance(0.85) {
            SERVICES.iter().position(|s| s == service).unwrap()
        } else {
            fuzz.below(SERVICES.len())
        };
        let body = match fuzz.below(10) {
            0 => fuzz.random_bytes(96),
            _ => fuzz.mutate_bytes(seed, &[&[0x0a, 0x22], &[0x12, 0x00], &[0x1a, 0x02, 0x08]]),
        };
        per_service[index] += 1;
        let outcome = node.request(SERVICES[index], &metrics[index], &body);
        fuzz.case_async(&body, outcome).await;
    }
    println!(
        "amqp_request per service: {:?}",
        SERVICES.iter().zip(per_service).collect::<Vec<_>>()
    );
    fuzz.finish();
    // Every service still answers a valid request.
    for (service, seed) in &seeds {
        let index = SERVICES.iter().position(|s| s == service).unwrap();
        node.request(service, &metrics[index], seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_broadcasts_are_applied_or_refused_never_a_panic() {
    let node = node();
    let topics = [
        topic::BLOCK_ACCEPT,
        topic::BLOCK_IRREVERSIBLE,
        topic::TRANSACTION_ACCEPT,
        topic::TRANSACTION_FAIL,
    ];
    let mut fuzz = Fuzz::new("amqp_broadcast");
    for round in 0..fuzz_support::cases(1500) {
        let (topic, seed) = &node.broadcasts[round % node.broadcasts.len()];
        let topic = if fuzz.chance(0.9) {
            *topic
        } else {
            topics[fuzz.below(topics.len())]
        };
        let body = match fuzz.below(10) {
            0 => fuzz.random_bytes(96),
            _ => fuzz.mutate_bytes(seed, &[&[0x0a, 0x22], &[0x12, 0x00], &[0x1a, 0x02, 0x08]]),
        };
        let outcome = node.broadcast(topic, &body);
        fuzz.case_async(&body, outcome).await;
    }
    fuzz.finish();
    let head = node.chain.chain().await.head().clone();
    assert!(head.height >= 3, "the chain still has its blocks");
    let highest = node.blocks.highest_block().unwrap();
    assert!(highest.height >= 3, "block_store still has its blocks");
}
