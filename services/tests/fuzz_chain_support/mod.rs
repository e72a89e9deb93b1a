//! A chain on a temporary state database with a devnet genesis, built the way
//! services/src/chain/tests build theirs: seed blocks, transactions and receipts for the fuzz
//! targets.

#![allow(dead_code)] // each target uses a different part

use koinos_protocol::chain::GenesisData;
use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::pb::koinos::protocol::{
    Block, Operation, Transaction, TransactionReceipt, UploadContractOperation, operation::Op,
};
use koinos_services::chain::builder;
use koinos_services::chain::{Chain, Committed, ForkAlgorithm, devnet};

pub mod wat_contracts;

pub const T0: u64 = 1_700_000_000_000;
pub const RC_LIMIT: u64 = 100_000_000;

pub struct ChainFixture {
    pub dir: tempfile::TempDir,
    pub chain: Chain,
    pub producer: PrivateKey,
    pub alice: PrivateKey,
    pub bob: PrivateKey,
    pub token: Vec<u8>,
    pub genesis: GenesisData,
}

impl ChainFixture {
    pub fn new() -> Self {
        let producer = PrivateKey::from_seed("producer");
        let alice = PrivateKey::from_seed("alice");
        let bob = PrivateKey::from_seed("bob");
        let token = PrivateKey::from_seed("token").address().to_vec();
        let genesis = devnet::genesis(
            producer.address().as_bytes(),
            &token,
            // The native token: fuzzing needs many blocks per second.
            devnet::DevnetToken::Native,
            &[(alice.address().to_vec(), 1_000_000_000)],
        );
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::open(dir.path(), &genesis, ForkAlgorithm::Fifo).unwrap();
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

    pub fn next_nonce(&self, key: &PrivateKey) -> u64 {
        let bytes = self.chain.account_nonce(key.address().as_bytes()).unwrap();
        koinos_protocol::nonce::decode_nonce(&bytes).unwrap() + 1
    }

    /// A transfer of `value` from `from` to `to`, with `from`'s next nonce at the head.
    pub fn transfer(&self, from: &PrivateKey, to: &PrivateKey, value: u64) -> Transaction {
        let operation = builder::transfer_operation(
            &self.token,
            from.address().as_bytes(),
            to.address().as_bytes(),
            value,
        );
        builder::transaction(
            self.chain.chain_id(),
            from,
            self.next_nonce(from),
            RC_LIMIT,
            vec![operation],
        )
    }

    /// A block on the head, one second after it.
    pub fn next_block(&self, transactions: Vec<Transaction>) -> Block {
        let head = self.chain.head();
        let timestamp = head.timestamp.max(T0) + 1000;
        builder::block(head, timestamp, transactions, &self.producer)
    }

    /// "Now" for a block built by [`ChainFixture::next_block`].
    pub fn now_for(block: &Block) -> u64 {
        block.header.as_ref().map_or(0, |h| h.timestamp)
    }

    /// Applies one block with `operations` in one transaction paid and signed by `payer`,
    /// asking for `rc_limit`, and returns the transaction's receipt.
    pub fn apply(
        &mut self,
        payer: &PrivateKey,
        operations: Vec<Operation>,
        rc_limit: u64,
    ) -> TransactionReceipt {
        let tx = builder::transaction(
            self.chain.chain_id(),
            payer,
            self.next_nonce(payer),
            rc_limit,
            operations,
        );
        let block = self.next_block(vec![tx]);
        let committed = self
            .chain
            .submit_block(&block, Self::now_for(&block))
            .expect("block applies")
            .expect("block is new");
        committed.receipt.transaction_receipts[0].clone()
    }

    /// Uploads `bytecode` as the contract of the key `seed` derives, which signs and pays
    /// (asking for `rc_limit`); the upload must apply. Returns the contract id.
    pub fn upload(&mut self, seed: &str, bytecode: Vec<u8>, rc_limit: u64) -> Vec<u8> {
        let key = PrivateKey::from_seed(seed);
        let upload = Operation {
            op: Some(Op::UploadContract(UploadContractOperation {
                contract_id: key.address().to_vec(),
                bytecode,
                ..Default::default()
            })),
        };
        let receipt = self.apply(&key, vec![upload], rc_limit);
        assert!(!receipt.reverted, "upload of {seed}: {:?}", receipt.logs);
        key.address().to_vec()
    }

    /// Produces `count` blocks, each with one transfer from alice to bob.
    pub fn produce(&mut self, count: usize) -> Vec<Committed> {
        (0..count)
            .map(|_| {
                let block = self.next_block(vec![self.transfer(&self.alice, &self.bob, 10)]);
                self.chain
                    .submit_block(&block, Self::now_for(&block))
                    .unwrap()
                    .expect("a new block")
            })
            .collect()
    }
}

/// The genesis key's operations making `contract` a system contract and the override of system
/// call `id` (the chain accepts only a system contract as an override).
pub fn system_override(
    id: koinos_protocol::chain::SystemCallId,
    contract: &[u8],
) -> Vec<koinos_protocol::pb::koinos::protocol::Operation> {
    use koinos_protocol::pb::koinos::protocol::{
        ContractCallBundle, Operation, SetSystemCallOperation, SetSystemContractOperation,
        SystemCallTarget, operation::Op, system_call_target::Target,
    };
    vec![
        Operation {
            op: Some(Op::SetSystemContract(SetSystemContractOperation {
                contract_id: contract.to_vec(),
                system_contract: true,
            })),
        },
        Operation {
            op: Some(Op::SetSystemCall(SetSystemCallOperation {
                call_id: id as u32,
                target: Some(SystemCallTarget {
                    target: Some(Target::SystemCallBundle(ContractCallBundle {
                        contract_id: contract.to_vec(),
                        entry_point: 0,
                    })),
                }),
            })),
        },
    ]
}
