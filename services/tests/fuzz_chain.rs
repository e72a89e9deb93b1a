//! Block and transaction validation under hostile input (docs/testing.md "Hostile input"):
//! random mutations of valid blocks and transactions, built as services/src/chain/tests build
//! them, as structs and as bytes. A tampered block (no re-signing) is refused with an error; a
//! mutant re-signed so that its ids and signatures hold reaches the deeper checks and may be
//! valid, so it is only prepared. Never a panic, and the head (id, height, state merkle root),
//! the LIB and the fork heads never change; the original block still applies afterwards.
//! `FUZZ_CASES` / `FUZZ_SEED` as in `fuzz_support`.

mod fuzz_chain_support;
#[path = "../../protocol/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_chain_support::ChainFixture;
use fuzz_support::{Fuzz, Outcome};
use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::ids::{block_id, transaction_id, zero_block_id};
use koinos_protocol::nonce::encode_nonce;
use koinos_protocol::pb::koinos::protocol::{
    Block, CallContractOperation, Operation, SetSystemCallOperation, SetSystemContractOperation,
    Transaction, UploadContractOperation, operation::Op,
};
use koinos_services::chain::builder::{seal_block, seal_transaction};
use koinos_services::chain::{BlockInfo, BlockMode, BlockOutcome, Chain};
use prost::Message;

/// What must not change when a block or transaction is refused.
#[derive(Debug, PartialEq)]
struct Snapshot {
    head: BlockInfo,
    lib: BlockInfo,
    fork_heads: Vec<BlockInfo>,
    alice_nonce: Vec<u8>,
}

fn snapshot(chain: &Chain, alice: &PrivateKey) -> Snapshot {
    Snapshot {
        head: chain.head().clone(),
        lib: chain.lib().clone(),
        fork_heads: chain.fork_heads(),
        alice_nonce: chain.account_nonce(alice.address().as_bytes()).unwrap(),
    }
}

/// Values mutations draw from: ids and addresses that exist, so that checks past the first
/// byte comparison are reached.
struct Pool {
    bytes: Vec<Vec<u8>>,
}

impl Pool {
    fn mutate(&self, fuzz: &mut Fuzz, value: &mut Vec<u8>) {
        match fuzz.below(7) {
            0 => value.clear(),
            1 => *value = fuzz.random_bytes(70),
            2 if !value.is_empty() => {
                let at = fuzz.below(value.len());
                value[at] ^= 1 << fuzz.below(8);
            }
            3 => value.truncate(fuzz.below(value.len() + 1)),
            4 => value.push(fuzz.rng_byte()),
            _ => *value = self.bytes[fuzz.below(self.bytes.len())].clone(),
        }
    }
}

trait FuzzExt {
    fn rng_byte(&mut self) -> u8;
    fn number(&mut self, value: u64) -> u64;
}

impl FuzzExt for Fuzz {
    fn rng_byte(&mut self) -> u8 {
        self.below(256) as u8
    }

    fn number(&mut self, value: u64) -> u64 {
        match self.below(7) {
            0 => 0,
            1 => u64::MAX,
            2 => value.wrapping_add(1),
            3 => value.wrapping_sub(1),
            4 => value.wrapping_add(1 + self.below(100_000) as u64),
            5 => 1 << self.below(64),
            _ => self
                .random_bytes(8)
                .iter()
                .fold(0, |n, b| n << 8 | *b as u64),
        }
    }
}

/// A random operation of any kind.
fn random_operation(fuzz: &mut Fuzz, pool: &Pool) -> Operation {
    let mut id = Vec::new();
    pool.mutate(fuzz, &mut id);
    let op = match fuzz.below(4) {
        0 => Op::UploadContract(UploadContractOperation {
            contract_id: id,
            bytecode: fuzz.random_bytes(64),
            abi: "{}".into(),
            authorizes_call_contract: fuzz.chance(0.5),
            ..Default::default()
        }),
        1 => Op::SetSystemCall(SetSystemCallOperation {
            call_id: fuzz.number(0) as u32,
            target: None,
        }),
        2 => Op::SetSystemContract(SetSystemContractOperation {
            contract_id: id,
            system_contract: fuzz.chance(0.5),
        }),
        _ => Op::CallContract(CallContractOperation {
            contract_id: id,
            entry_point: fuzz.number(0x27f5_76ca) as u32,
            args: fuzz.random_bytes(48),
        }),
    };
    Operation { op: Some(op) }
}

/// One mutation of a transaction's content.
fn mutate_transaction(fuzz: &mut Fuzz, pool: &Pool, tx: &mut Transaction) {
    let header = tx.header.get_or_insert_with(Default::default);
    match fuzz.below(13) {
        0 => pool.mutate(fuzz, &mut header.chain_id),
        1 => header.rc_limit = fuzz.number(header.rc_limit),
        2 => {
            header.nonce = match fuzz.below(3) {
                0 => encode_nonce(fuzz.number(1)),
                _ => {
                    let mut nonce = header.nonce.clone();
                    pool.mutate(fuzz, &mut nonce);
                    nonce
                }
            }
        }
        3 => pool.mutate(fuzz, &mut header.operation_merkle_root),
        4 => pool.mutate(fuzz, &mut header.payer),
        5 => pool.mutate(fuzz, &mut header.payee),
        6 => tx.header = None,
        7 => {
            tx.operations.clear();
        }
        8 => {
            let op = random_operation(fuzz, pool);
            let at = fuzz.below(tx.operations.len() + 1);
            tx.operations.insert(at, op);
        }
        9 if !tx.operations.is_empty() => {
            let at = fuzz.below(tx.operations.len());
            if let Some(Op::CallContract(call)) = &mut tx.operations[at].op {
                match fuzz.below(3) {
                    0 => pool.mutate(fuzz, &mut call.contract_id),
                    1 => call.entry_point = fuzz.number(call.entry_point.into()) as u32,
                    _ => {
                        let args = std::mem::take(&mut call.args);
                        call.args = fuzz.mutate_bytes(&args, &[]);
                    }
                }
            } else {
                tx.operations[at] = random_operation(fuzz, pool);
            }
        }
        10 => pool.mutate(fuzz, &mut tx.id),
        11 => match fuzz.below(4) {
            0 => tx.signatures.clear(),
            1 => tx.signatures.push(fuzz.random_bytes(65)),
            2 if !tx.signatures.is_empty() => {
                let at = fuzz.below(tx.signatures.len());
                pool.mutate(fuzz, &mut tx.signatures[at]);
            }
            _ => {
                let copy = tx.signatures.clone();
                tx.signatures.extend(copy);
            }
        },
        _ => {
            let copy = tx.operations.clone();
            tx.operations.extend(copy);
        }
    }
}

/// One mutation of a block's content (its header, its transactions or their order).
fn mutate_block(fuzz: &mut Fuzz, pool: &Pool, block: &mut Block, others: &[Transaction]) {
    let header = block.header.get_or_insert_with(Default::default);
    match fuzz.below(14) {
        0 => pool.mutate(fuzz, &mut header.previous),
        1 => header.height = fuzz.number(header.height),
        2 => header.timestamp = fuzz.number(header.timestamp),
        3 => pool.mutate(fuzz, &mut header.previous_state_merkle_root),
        4 => pool.mutate(fuzz, &mut header.transaction_merkle_root),
        5 => pool.mutate(fuzz, &mut header.signer),
        6 => header.approved_proposals.push(fuzz.random_bytes(34)),
        7 => block.header = None,
        8 => pool.mutate(fuzz, &mut block.id),
        9 => pool.mutate(fuzz, &mut block.signature),
        10 if !block.transactions.is_empty() => {
            let at = fuzz.below(block.transactions.len());
            block.transactions.remove(at);
        }
        11 if !block.transactions.is_empty() => {
            // A duplicate, or a transaction replayed from an earlier block.
            let tx = if fuzz.chance(0.5) || others.is_empty() {
                block.transactions[fuzz.below(block.transactions.len())].clone()
            } else {
                others[fuzz.below(others.len())].clone()
            };
            let at = fuzz.below(block.transactions.len() + 1);
            block.transactions.insert(at, tx);
        }
        12 if block.transactions.len() > 1 => block.transactions.swap(0, 1),
        _ if !block.transactions.is_empty() => {
            let at = fuzz.below(block.transactions.len());
            mutate_transaction(fuzz, pool, &mut block.transactions[at]);
        }
        _ => block.transactions.push(random_transaction(fuzz, pool)),
    }
}

fn random_transaction(fuzz: &mut Fuzz, pool: &Pool) -> Transaction {
    let mut tx = Transaction::default();
    for _ in 0..1 + fuzz.below(4) {
        mutate_transaction(fuzz, pool, &mut tx);
    }
    tx
}

/// The id and signature made to hold for the (mutated) header as it is, roots untouched.
fn sign_as_is(block: &mut Block, key: &PrivateKey) {
    if let Some(header) = &block.header {
        block.id = block_id(header);
        block.signature = key.sign_id(&block.id).unwrap().to_vec();
    }
}

fn sign_transaction_as_is(tx: &mut Transaction, key: &PrivateKey) {
    if let Some(header) = &tx.header {
        tx.id = transaction_id(header);
        tx.signatures = vec![key.sign_id(&tx.id).unwrap().to_vec()];
    }
}

/// How a mutant is re-signed.
#[derive(Clone, Copy, PartialEq)]
enum Seal {
    /// Not at all: it must be refused.
    None,
    /// Ids and signatures made to hold, merkle roots as mutated.
    AsIs,
    /// Merkle roots, ids and signatures all recomputed.
    Full,
}

fn fixture() -> (ChainFixture, Pool, Vec<Transaction>) {
    let mut f = ChainFixture::new();
    let committed = f.produce(3);
    let earlier: Vec<Transaction> = committed
        .iter()
        .flat_map(|c| c.block.transactions.clone())
        .collect();
    let mut bytes = vec![
        zero_block_id(),
        f.chain.chain_id().to_vec(),
        f.token.clone(),
        f.alice.address().to_vec(),
        f.bob.address().to_vec(),
        f.producer.address().to_vec(),
        encode_nonce(1),
        Vec::new(),
    ];
    for c in &committed {
        bytes.push(c.block.id.clone());
        bytes.push(c.receipt.state_merkle_root.clone());
        bytes.push(c.block.signature.clone());
    }
    (f, Pool { bytes }, earlier)
}

#[test]
fn mutated_blocks_are_refused_without_a_panic_or_a_state_change() {
    let (mut f, pool, earlier) = fixture();
    let candidate = f.next_block(vec![
        f.transfer(&f.alice, &f.bob, 7),
        f.transfer(&f.bob, &f.alice, 3),
    ]);
    let now = ChainFixture::now_for(&candidate) + 100;
    let before = snapshot(&f.chain, &f.alice);
    let encoded = candidate.encode_to_vec();
    let mut fuzz = Fuzz::new("chain_block");
    let mut accepted_tampered = Vec::new();
    for _ in 0..fuzz_support::cases(2000) {
        let seal = [Seal::None, Seal::None, Seal::AsIs, Seal::Full][fuzz.below(4)];
        let mutant = if seal == Seal::None && fuzz.chance(0.4) {
            let bytes = fuzz.mutate_bytes(&encoded, &[&[0x0a, 0x22], &[0x1a, 0x00]]);
            match Block::decode(bytes.as_slice()) {
                Ok(block) => block,
                Err(_) => {
                    fuzz.case(&bytes, || Outcome::Error);
                    continue;
                }
            }
        } else {
            let mut block = candidate.clone();
            for _ in 0..1 + fuzz.below(2) {
                mutate_block(&mut fuzz, &pool, &mut block, &earlier);
            }
            match seal {
                Seal::None => {}
                Seal::AsIs => sign_as_is(&mut block, &f.producer),
                Seal::Full => {
                    for tx in &mut block.transactions {
                        if fuzz.chance(0.5) {
                            tx.signatures.clear();
                            *tx = seal_transaction(tx.clone(), &f.alice);
                        }
                    }
                    block = seal_block(block, &f.producer);
                }
            }
            block
        };
        if mutant == candidate {
            continue;
        }
        let input = mutant.encode_to_vec();
        let chain = &mut f.chain;
        let alice = &f.alice;
        fuzz.case(&input, || {
            let outcome = if seal == Seal::None {
                match chain.submit_block(&mutant, now) {
                    Ok(Some(_)) => {
                        accepted_tampered.push(fuzz_support::hex(&input));
                        Outcome::Accepted
                    }
                    Ok(None) => Outcome::Error, // a known id: nothing applied
                    Err(_) => Outcome::Error,
                }
            } else {
                match chain.prepare(&mutant, now, BlockMode::Submit) {
                    Ok(BlockOutcome::Applied(_)) => Outcome::Accepted,
                    Ok(_) | Err(_) => Outcome::Error,
                }
            };
            assert_eq!(snapshot(chain, alice), before, "state changed");
            outcome
        });
    }
    assert!(
        accepted_tampered.is_empty(),
        "tampered blocks accepted: {accepted_tampered:#?}"
    );
    fuzz.finish();
    let applied = f.chain.submit_block(&candidate, now).unwrap();
    assert!(applied.is_some(), "the original block still applies");
}

#[test]
fn mutated_transactions_are_refused_without_a_panic_or_a_state_change() {
    let (f, pool, earlier) = fixture();
    let candidate = f.transfer(&f.alice, &f.bob, 7);
    let before = snapshot(&f.chain, &f.alice);
    let encoded = candidate.encode_to_vec();
    let mut fuzz = Fuzz::new("chain_transaction");
    let mut accepted_tampered = Vec::new();
    for _ in 0..fuzz_support::cases(3000) {
        let seal = [Seal::None, Seal::None, Seal::AsIs, Seal::Full][fuzz.below(4)];
        let (mutant, covered) = if seal == Seal::None && fuzz.chance(0.3) {
            let bytes = fuzz.mutate_bytes(&encoded, &[&[0x0a, 0x22], &[0x1a, 0x00]]);
            match Transaction::decode(bytes.as_slice()) {
                Ok(tx) => (tx, false),
                Err(_) => {
                    fuzz.case(&bytes, || Outcome::Error);
                    continue;
                }
            }
        } else if fuzz.chance(0.05) {
            (earlier[fuzz.below(earlier.len())].clone(), true)
        } else {
            let mut tx = candidate.clone();
            for _ in 0..1 + fuzz.below(2) {
                mutate_transaction(&mut fuzz, &pool, &mut tx);
            }
            match seal {
                Seal::None => {}
                Seal::AsIs => sign_transaction_as_is(&mut tx, &f.alice),
                Seal::Full => {
                    tx.signatures.clear();
                    tx = seal_transaction(tx, &f.alice);
                }
            }
            (tx, false)
        };
        // What the id covers changed (a mutation may draw the value it replaces; signatures
        // are outside the id).
        let covered = covered
            || mutant.header != candidate.header
            || mutant.operations != candidate.operations
            || mutant.id != candidate.id;
        if mutant == candidate {
            continue;
        }
        let input = mutant.encode_to_vec();
        let chain = &f.chain;
        fuzz.case(&input, || {
            let outcome = match chain.apply_pending_transaction(&mutant, None) {
                Ok(applied) if applied.reversion.is_none() => {
                    if seal == Seal::None && covered {
                        accepted_tampered.push(fuzz_support::hex(&input));
                    }
                    Outcome::Accepted
                }
                Ok(_) | Err(_) => Outcome::Error,
            };
            assert_eq!(snapshot(chain, &f.alice), before, "state changed");
            outcome
        });
    }
    assert!(
        accepted_tampered.is_empty(),
        "tampered transactions accepted: {accepted_tampered:#?}"
    );
    fuzz.finish();
    f.chain
        .apply_pending_transaction(&candidate, None)
        .expect("the original transaction still applies");
}
