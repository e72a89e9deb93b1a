//! Chain tests on a real state database in a temporary directory.

mod blocks;
mod broadcasts;
mod devnet_koin;
mod lifecycle;
mod official_errors;
mod options;
mod resources;
mod system_calls;
mod token;
mod transactions;
mod vectors;

use koinos_protocol::pb::koinos::contracts::token::{BalanceOfArguments, BalanceOfResult};
use koinos_protocol::pb::koinos::protocol::{Block, Operation, Transaction};
use prost::Message;

use super::block::BlockMode;
use super::builder;
use super::devnet;
use super::error::ChainError;
use super::token::entry;
use super::{BlockOutcome, Chain, Committed, ForkAlgorithm};
use koinos_protocol::crypto::PrivateKey;

pub const T0: u64 = 1_700_000_000_000;
pub const RC_LIMIT: u64 = 100_000_000;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub chain: Chain,
    pub producer: PrivateKey,
    pub alice: PrivateKey,
    pub bob: PrivateKey,
    pub token: Vec<u8>,
    pub genesis: koinos_protocol::chain::GenesisData,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_algorithm(ForkAlgorithm::Fifo)
    }

    pub fn with_algorithm(algorithm: ForkAlgorithm) -> Self {
        // These tests exercise the native token's rules; devnet_koin.rs runs the default,
        // WASM one.
        Self::with(algorithm, devnet::DevnetToken::Native)
    }

    /// A devnet whose KOIN is `token`.
    pub fn with_token(token: devnet::DevnetToken) -> Self {
        Self::with(ForkAlgorithm::Fifo, token)
    }

    /// A devnet on the WASM token whose genesis also holds mainnet's
    /// `compute_bandwidth_registry`, so every system call costs what it costs on mainnet.
    pub fn with_mainnet_registry() -> Self {
        Self::with_genesis(ForkAlgorithm::Fifo, devnet::DevnetToken::Wasm, |genesis| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src/chain/testdata/mainnet-genesis_data.json");
            let mainnet = super::genesis::load_genesis(&path).unwrap();
            let key = koinos_protocol::genesis::metadata_key("compute_bandwidth_registry");
            let registry = mainnet.entries.into_iter().find(|e| e.key == key).unwrap();
            genesis.entries.push(registry);
        })
    }

    fn with(algorithm: ForkAlgorithm, token_kind: devnet::DevnetToken) -> Self {
        Self::with_genesis(algorithm, token_kind, |_| {})
    }

    fn with_genesis(
        algorithm: ForkAlgorithm,
        token_kind: devnet::DevnetToken,
        change: impl FnOnce(&mut koinos_protocol::chain::GenesisData),
    ) -> Self {
        let producer = PrivateKey::from_seed("producer");
        let alice = PrivateKey::from_seed("alice");
        let bob = PrivateKey::from_seed("bob");
        let token = PrivateKey::from_seed("token").address().to_vec();
        let mut genesis = devnet::genesis(
            producer.address().as_bytes(),
            &token,
            token_kind,
            &[(alice.address().to_vec(), 1_000_000)],
        );
        change(&mut genesis);
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::open(dir.path(), &genesis, algorithm).unwrap();
        Self {
            dir,
            chain,
            producer,
            alice,
            bob,
            token,
            genesis,
        }
    }

    pub fn reopen(&mut self, algorithm: ForkAlgorithm) {
        // Drop the database before opening it again.
        let placeholder = tempfile::tempdir().unwrap();
        let old = std::mem::replace(
            &mut self.chain,
            Chain::open(placeholder.path(), &self.genesis, algorithm).unwrap(),
        );
        drop(old);
        self.chain = Chain::open(self.dir.path(), &self.genesis, algorithm).unwrap();
    }

    pub fn chain_id(&self) -> Vec<u8> {
        self.chain.chain_id().to_vec()
    }

    /// The next nonce of `key`'s account at the head.
    pub fn next_nonce(&self, key: &PrivateKey) -> u64 {
        let bytes = self.chain.account_nonce(key.address().as_bytes()).unwrap();
        koinos_protocol::nonce::decode_nonce(&bytes).unwrap() + 1
    }

    pub fn tx(&self, payer: &PrivateKey, operations: Vec<Operation>) -> Transaction {
        builder::transaction(
            &self.chain_id(),
            payer,
            self.next_nonce(payer),
            RC_LIMIT,
            operations,
        )
    }

    pub fn transfer(&self, from: &PrivateKey, to: &[u8], value: u64) -> Transaction {
        self.tx(
            from,
            vec![builder::transfer_operation(
                &self.token,
                from.address().as_bytes(),
                to,
                value,
            )],
        )
    }

    /// A block on the head, one second after it.
    pub fn next_block(&self, transactions: Vec<Transaction>) -> Block {
        let head = self.chain.head();
        let timestamp = head.timestamp.max(T0) + 1000;
        builder::block(head, timestamp, transactions, &self.producer)
    }

    pub fn now(&self) -> u64 {
        self.chain.head().timestamp.max(T0) + 10_000
    }

    pub fn submit(&mut self, block: &Block) -> Result<Option<Committed>, ChainError> {
        let now = block.header.as_ref().map_or(0, |h| h.timestamp);
        self.chain.submit_block(block, now)
    }

    /// Produces a block with `transactions` on the head and returns its commit.
    pub fn produce(&mut self, transactions: Vec<Transaction>) -> Committed {
        let block = self.next_block(transactions);
        self.submit(&block).unwrap().expect("new block")
    }

    pub fn propose(&self, block: &Block) -> Result<BlockOutcome, ChainError> {
        self.chain.prepare(block, self.now(), BlockMode::Propose)
    }

    pub fn balance(&self, owner: &[u8]) -> u64 {
        let args = BalanceOfArguments {
            owner: owner.to_vec(),
        }
        .encode_to_vec();
        let (result, _) = self
            .chain
            .read_contract(&self.token, entry::BALANCE_OF, &args)
            .unwrap();
        BalanceOfResult::decode(result.as_slice()).unwrap().value
    }
}

/// A chain service over `f`'s chain whose broker is never reached: for requests that need no
/// other service.
pub fn service_of(f: Fixture) -> super::service::ChainService {
    let conn = crate::mq::Connection::connect_supervised("amqp://guest:guest@127.0.0.1:1/")
        .expect("a valid URL");
    super::service::ChainService::new(
        f.chain,
        crate::mq::RpcClient::new(&conn),
        crate::mq::Broadcaster::new(&conn),
        super::service::ServiceOptions::default(),
    )
}

/// The error code of a failed block submission.
pub fn code_of<T: std::fmt::Debug>(result: Result<T, ChainError>) -> i32 {
    result.expect_err("expected an error").code
}
