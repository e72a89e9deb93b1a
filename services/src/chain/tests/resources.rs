//! Receipt figures and RC as the official chain computes them (docs/protocol.md "Resources"):
//! the expected figures are summed here from the registry's entries and the bytes involved,
//! independently of the chain's meter.

use std::collections::HashMap;

use koinos_protocol::chain::{ComputeBandwidthRegistry, ContractMetadataObject};
use koinos_protocol::crypto::sha256_multihash;
use koinos_protocol::genesis::metadata_key;
use koinos_protocol::nonce::encode_nonce;
use koinos_protocol::pb::koinos::protocol::{
    BlockReceipt, TransactionReceipt, UploadContractOperation, operation::Op,
};

use super::*;
use crate::chain::error::code;
use crate::chain::genesis::{space, system_space};
use crate::chain::state::state_key;

/// The registry of `f`'s genesis, by name.
fn registry(f: &Fixture) -> HashMap<String, u64> {
    let key = metadata_key("compute_bandwidth_registry");
    let entry = f.genesis.entries.iter().find(|e| e.key == key).unwrap();
    ComputeBandwidthRegistry::decode(entry.value.as_slice())
        .unwrap()
        .entries
        .into_iter()
        .map(|e| (e.name, e.compute))
        .collect()
}

/// A genesis metadata value's length.
fn metadata_len(f: &Fixture, name: &str) -> u64 {
    let key = metadata_key(name);
    f.genesis
        .entries
        .iter()
        .find(|e| e.key == key)
        .map_or(0, |e| e.value.len() as u64)
}

fn upload(f: &Fixture, bytecode: &[u8]) -> Transaction {
    f.tx(
        &f.alice,
        vec![Operation {
            op: Some(Op::UploadContract(UploadContractOperation {
                contract_id: f.alice.address().to_vec(),
                bytecode: bytecode.to_vec(),
                ..Default::default()
            })),
        }],
    )
}

fn rc_of(f: &Fixture, disk: u64, network: u64, compute: u64) -> u64 {
    let limits = f.chain.resource_limits().unwrap();
    disk * limits.disk_storage_cost
        + network * limits.network_bandwidth_cost
        + compute * limits.compute_bandwidth_cost
}

/// Costs summed from the registry by what the official chain's native code calls.
struct Costs(HashMap<String, u64>);

impl Costs {
    fn of(f: &Fixture) -> Self {
        Self(registry(f))
    }

    fn c(&self, name: &str) -> u64 {
        self.0[name]
    }

    fn sha256(&self, len: u64) -> u64 {
        self.c("hash") + self.c("sha2_256_base") + self.c("sha2_256_per_byte") * len
    }

    fn get_object(&self, value_len: u64) -> u64 {
        self.c("get_object") + self.c("object_serialization_per_byte") * value_len
    }

    fn put_object(&self, value_len: u64) -> u64 {
        self.c("put_object") + self.c("object_serialization_per_byte") * value_len
    }

    /// An account whose metadata (0: none) does not override its authority and whose signature
    /// is the transaction's first.
    fn check_authority(&self, metadata_len: u64) -> u64 {
        self.c("check_authority") + self.get_object(metadata_len) + self.c("recover_public_key")
    }

    /// `verify_merkle_root` of a sha2-256 root over `leaves` leaves.
    fn verify_merkle_root(&self, root_len: u64, leaves: u64, inner_hashes: u64) -> u64 {
        self.c("verify_merkle_root")
            + (leaves + 1)
                * (self.c("deserialize_multihash_base")
                    + root_len * self.c("deserialize_multihash_per_byte"))
            + inner_hashes * (self.c("sha2_256_base") + 64 * self.c("sha2_256_per_byte"))
    }

    /// `apply_transaction`'s checks and nonce update for a one-operation transaction by a
    /// payer whose stored nonce and contract metadata are these lengths (0: none).
    fn checks(&self, f: &Fixture, tx: &Transaction, nonce_len: u64, payer_metadata: u64) -> u64 {
        let header = tx.header.as_ref().unwrap();
        self.c("get_account_rc")
            + self.get_object(metadata_len(f, "max_account_resources"))
            + self.get_object(f.chain_id().len() as u64)
            + self.sha256(header.encoded_len() as u64)
            + self.sha256(tx.operations[0].encoded_len() as u64)
            + self.verify_merkle_root(header.operation_merkle_root.len() as u64, 1, 1)
            + self.check_authority(payer_metadata)
            + self.c("verify_account_nonce")
            + self.c("get_account_nonce")
            + self.get_object(nonce_len)
            + self.c("set_account_nonce")
            + self.put_object(header.nonce.len() as u64)
    }

    /// The callbacks around the operations.
    fn callbacks(&self) -> u64 {
        self.c("pre_transaction_callback") + self.c("post_transaction_callback")
    }
}

/// Alice's first transaction uploads a contract to her own address: no VM runs, so every tick
/// is a system call the official `apply_transaction` and `apply_upload_contract_operation` make.
#[test]
fn an_upload_receipt_has_the_official_compute_disk_network_and_rc() {
    let mut f = Fixture::with_mainnet_registry();
    let costs = Costs::of(&f);
    let bytecode = b"\0asm not parsed at upload".to_vec();
    let tx = upload(&f, &bytecode);
    let nonce = encode_nonce(1);
    let metadata = ContractMetadataObject {
        hash: sha256_multihash(&bytecode),
        ..Default::default()
    }
    .encode_to_vec();
    let operation = costs.c("apply_upload_contract_operation")
        + costs.check_authority(0)
        + costs.get_object(0)
        + costs.sha256(bytecode.len() as u64)
        + costs.put_object(bytecode.len() as u64)
        + costs.put_object(metadata.len() as u64);
    let compute = costs.checks(&f, &tx, 0, 0) + costs.callbacks() + operation;
    let alice = f.alice.address().to_vec();
    let written = |space_id: u32, value_len: usize| {
        (state_key(&system_space(space_id), &alice).len() + value_len) as u64
    };
    let disk = written(space::TRANSACTION_NONCE, nonce.len())
        + written(space::CONTRACT_BYTECODE, bytecode.len())
        + written(space::CONTRACT_METADATA, metadata.len());
    let network = tx.encoded_len() as u64;

    let committed = f.produce(vec![tx]);
    let receipt: &TransactionReceipt = &committed.receipt.transaction_receipts[0];
    assert!(!receipt.reverted, "{:?}", receipt.logs);
    assert_eq!(receipt.compute_bandwidth_used, compute);
    assert_eq!(receipt.disk_storage_used, disk);
    assert_eq!(receipt.network_bandwidth_used, network);
    assert_eq!(receipt.rc_used, rc_of(&f, disk, network, compute));
    assert_eq!(
        receipt.max_payer_rc,
        f.chain.account_rc(f.alice.address().as_bytes()).unwrap()
    );

    // The block adds what the official `apply_block` charges outside the payer's session.
    let block = &committed.block;
    let block_header_len = block.header.as_ref().unwrap().encoded_len() as u64;
    let tx = &block.transactions[0];
    let tx_root_len = block.header.as_ref().unwrap().transaction_merkle_root.len() as u64;
    let c = |name: &str| costs.c(name);
    let system = 2 * costs.sha256(block_header_len)
        + costs.sha256(tx.header.as_ref().unwrap().encoded_len() as u64)
        + costs.sha256(tx.signatures.iter().map(|s| s.len() as u64).sum())
        + costs.verify_merkle_root(tx_root_len, 2, 1)
        + c("process_block_signature")
        + costs.get_object(metadata_len(&f, "genesis_key"))
        + c("recover_public_key")
        + c("pre_block_callback")
        + c("apply_transaction")
        + c("consume_account_rc")
        + c("post_block_callback")
        + c("consume_account_rc");
    let block_receipt: &BlockReceipt = &committed.receipt;
    assert_eq!(block_receipt.compute_bandwidth_used, compute + system);
    assert_eq!(
        block_receipt.network_bandwidth_used,
        block.encoded_len() as u64
    );
    // The head block is stored without being charged.
    assert_eq!(block_receipt.disk_storage_used, disk);
}

/// A call to a contract whose `_start` is only its `end` (one tick): the checks, the
/// operation's and `call`'s entries, the reads of the bytecode and metadata, and that tick.
#[test]
fn a_contract_call_receipt_is_the_checks_the_call_its_reads_and_its_ticks() {
    let mut f = Fixture::with_mainnet_registry();
    let costs = Costs::of(&f);
    let bytecode =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_start")))"#)
            .unwrap();
    let first = upload(&f, &bytecode);
    let receipt = &f.produce(vec![first]).receipt.transaction_receipts[0];
    assert!(!receipt.reverted, "{:?}", receipt.logs);
    let metadata_len = ContractMetadataObject {
        hash: sha256_multihash(&bytecode),
        ..Default::default()
    }
    .encoded_len() as u64;
    let call = f.tx(
        &f.alice,
        vec![builder::call_operation(
            f.alice.address().as_bytes(),
            1,
            Vec::new(),
        )],
    );
    const TICKS: u64 = 1;
    let compute = costs.checks(&f, &call, encode_nonce(1).len() as u64, metadata_len)
        + costs.callbacks()
        + costs.c("apply_call_contract_operation")
        + costs.c("call")
        + costs.get_object(bytecode.len() as u64)
        + costs.get_object(metadata_len)
        + TICKS;
    let receipt = &f.produce(vec![call]).receipt.transaction_receipts[0];
    assert!(!receipt.reverted, "{:?}", receipt.logs);
    assert_eq!(receipt.compute_bandwidth_used, compute);
    // Only the nonce was rewritten, at the same size.
    assert_eq!(receipt.disk_storage_used, 0);
}

/// Rewriting an existing object is charged its change in size; the nonce of a second
/// transaction, of the same length, costs no disk.
#[test]
fn an_object_rewritten_at_the_same_size_costs_no_disk() {
    let mut f = Fixture::with_mainnet_registry();
    let first = upload(&f, b"first");
    f.produce(vec![first]);
    let second = upload(&f, b"second!");
    let committed = f.produce(vec![second]);
    let receipt = &committed.receipt.transaction_receipts[0];
    assert!(!receipt.reverted, "{:?}", receipt.logs);
    // Only the bytecode grew (by 2 bytes); the metadata's hash has the same length.
    assert_eq!(receipt.disk_storage_used, 2);
}

/// Short of RC while the transaction is checked: the official failure (-1), nothing applied.
#[test]
fn a_payer_short_of_rc_for_the_checks_fails_with_1() {
    for f in [Fixture::new(), Fixture::with_mainnet_registry()] {
        let tx = builder::transaction(
            &f.chain_id(),
            &f.alice,
            1,
            10,
            vec![builder::transfer_operation(
                &f.token,
                f.alice.address().as_bytes(),
                f.bob.address().as_bytes(),
                1,
            )],
        );
        let error = f.chain.apply_pending_transaction(&tx, None).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (code::FAILURE, "insufficient rc")
        );
    }
}

/// Short of RC once the operations run: reverted, having paid exactly what the checks and
/// the transaction's bytes used (devnet fixed costs, no registry).
#[test]
fn a_payer_short_of_rc_for_the_operations_reverts_having_paid_the_checks() {
    use crate::chain::context::{
        COMPUTE_PER_OPERATION, COMPUTE_PER_SIGNATURE, COMPUTE_PER_TRANSACTION,
    };
    let f = Fixture::new();
    let compute = COMPUTE_PER_TRANSACTION + COMPUTE_PER_SIGNATURE;
    let nonce_key = state_key(
        &system_space(space::TRANSACTION_NONCE),
        f.alice.address().as_bytes(),
    );
    let disk = (nonce_key.len() + encode_nonce(1).len()) as u64;
    // Any rc_limit of three varint bytes gives the transaction the same size.
    let transfer = builder::transfer_operation(
        &f.token,
        f.alice.address().as_bytes(),
        f.bob.address().as_bytes(),
        1,
    );
    let probe = builder::transaction(&f.chain_id(), &f.alice, 1, 20_000, vec![transfer]);
    let network = probe.encoded_len() as u64;
    let paid = rc_of(&f, disk, network, compute);
    let rc_limit = paid + COMPUTE_PER_OPERATION - 1;
    let tx = builder::transaction(
        &f.chain_id(),
        &f.alice,
        1,
        rc_limit,
        probe.operations.clone(),
    );
    assert_eq!(tx.encoded_len(), probe.encoded_len());
    let applied = f.chain.apply_pending_transaction(&tx, None).unwrap();
    let receipt = applied.receipt;
    assert!(receipt.reverted);
    assert_eq!(receipt.logs, ["transaction reverted: insufficient rc"]);
    assert_eq!(
        (
            receipt.rc_used,
            receipt.compute_bandwidth_used,
            receipt.disk_storage_used,
            receipt.network_bandwidth_used
        ),
        (paid, compute, disk, network)
    );
}

/// `koinos.transaction.accept`'s `system_*` figures are the meter's totals minus the
/// receipt's: around a pending transaction, its `apply_transaction` call and the payer's RC
/// consumption.
#[test]
fn a_pending_transaction_reports_the_system_usage_around_it() {
    let f = Fixture::with_mainnet_registry();
    let costs = Costs::of(&f);
    let applied = f
        .chain
        .apply_pending_transaction(&upload(&f, b"code"), None)
        .unwrap();
    assert!(!applied.receipt.reverted);
    assert_eq!(
        applied.system,
        crate::chain::context::Usage {
            disk: 0,
            network: 0,
            compute: costs.c("apply_transaction") + costs.c("consume_account_rc"),
        }
    );
}

/// Emptying a balance removes its object (native token): the removal gives back its key and
/// value bytes, so the payer is refunded RC and the receipt shows no disk.
#[test]
fn a_removed_object_refunds_its_bytes() {
    use koinos_protocol::devnet::{BALANCES_SPACE, contract_space, u64_value};
    let mut f = Fixture::new();
    let bob = f.bob.address().to_vec();
    f.produce(vec![f.transfer(&f.alice, &bob, 10)]);
    let everything = f.balance(f.alice.address().as_bytes());
    let tx = f.transfer(&f.alice, &bob, everything);
    let network = tx.encoded_len() as u64;
    let committed = f.produce(vec![tx]);
    let receipt = &committed.receipt.transaction_receipts[0];
    assert!(!receipt.reverted, "{:?}", receipt.logs);
    assert_eq!(f.balance(f.alice.address().as_bytes()), 0);
    let alice_key = state_key(
        &contract_space(&f.token, BALANCES_SPACE),
        f.alice.address().as_bytes(),
    );
    let freed = (alice_key.len() + u64_value(everything).len()) as i64;
    let grown = (u64_value(10 + everything).len() - u64_value(10).len()) as i64;
    let limits = f.chain.resource_limits().unwrap();
    let rc = receipt.compute_bandwidth_used as i64 * limits.compute_bandwidth_cost as i64
        + network as i64 * limits.network_bandwidth_cost as i64
        + (grown - freed) * limits.disk_storage_cost as i64;
    assert_eq!(receipt.disk_storage_used, 0);
    assert_eq!(receipt.rc_used as i64, rc);
}
