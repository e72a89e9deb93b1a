//! The chain on a proof-of-burn devnet (docs/protocol.md "Proof of Burn devnet"): genesis installs our pob
//! contract and VHP and dispatches `process_block_signature` to the contract, which accepts a
//! block only with a VRF proof of the quantum by the signer's registered key, an output the
//! signer's VHP makes sufficient, and the same key's signature of the block id. Blocks here are
//! built as the producer builds them (`koinos_protocol::devnet::pob::sign_block`).

use koinos_protocol::devnet::pob::{
    self as pob, Consensus, GET_METADATA_ENTRY_POINT, GET_PUBLIC_KEY_ENTRY_POINT,
    PROCESS_BLOCK_SIGNATURE_ENTRY_POINT, PobProducer, REGISTER_PUBLIC_KEY_ENTRY_POINT,
};
use koinos_protocol::pb::koinos::contracts::pob::{
    GetMetadataResult, GetPublicKeyArguments, GetPublicKeyResult, Metadata,
    RegisterPublicKeyArguments, SignatureData,
};
use koinos_protocol::pb::koinos::protocol::{BlockHeader, CallContractOperation, operation::Op};

use koinos_protocol::chain::ProcessBlockSignatureArguments;
use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::pb::koinos::protocol::{Block, Operation, Transaction};
use koinos_services::chain::error::code;
use koinos_services::chain::{Chain, ChainError, Committed, ForkAlgorithm, builder, devnet};
use prost::Message;

const T0: u64 = 1_700_000_000_000;
const RC_LIMIT: u64 = 100_000_000;

/// Every quantum wins with this much VHP at the initial difficulty (2^47): the output's upper
/// half divided by it stays below 2^81.
const WINNING_VHP: u64 = 1 << 62;

struct PobFixture {
    _dir: tempfile::TempDir,
    chain: Chain,
    pob: Vec<u8>,
    /// Registered, with [`WINNING_VHP`].
    alice: PrivateKey,
    /// Registered, with [`WINNING_VHP`].
    bob: PrivateKey,
    /// Registered, without VHP.
    carol: PrivateKey,
    /// Registered, with about even odds per quantum.
    dave: PrivateKey,
    /// Not registered.
    mallory: PrivateKey,
}

/// dave's VHP: 2^46 at difficulty 2^47 wins about half the quanta.
const EVEN_VHP: u64 = 1 << 46;

impl PobFixture {
    fn new() -> Self {
        let alice = PrivateKey::from_seed("pob alice");
        let bob = PrivateKey::from_seed("pob bob");
        let carol = PrivateKey::from_seed("pob carol");
        let dave = PrivateKey::from_seed("pob dave");
        let mallory = PrivateKey::from_seed("pob mallory");
        let genesis_key = alice.address();
        let token = devnet::token_contract_id(genesis_key.as_bytes());
        let pob_id = pob::pob_contract_id(genesis_key.as_bytes());
        let vhp_id = pob::vhp_contract_id(genesis_key.as_bytes());
        let mut genesis = devnet::genesis(
            genesis_key.as_bytes(),
            token.as_bytes(),
            devnet::DevnetToken::Wasm,
            &[(bob.address().to_vec(), 1_000_000_000)],
        );
        genesis.entries.extend(pob::genesis_entries(
            pob_id.as_bytes(),
            vhp_id.as_bytes(),
            &[
                PobProducer::from_key(&alice, WINNING_VHP),
                PobProducer::from_key(&bob, WINNING_VHP),
                PobProducer::from_key(&carol, 0),
                PobProducer::from_key(&dave, EVEN_VHP),
            ],
            3000,
        ));
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::open(dir.path(), &genesis, ForkAlgorithm::Pob).unwrap();
        Self {
            _dir: dir,
            chain,
            pob: pob_id.to_vec(),
            alice,
            bob,
            carol,
            dave,
            mallory,
        }
    }

    fn metadata(&self) -> Metadata {
        let (result, _) = self
            .chain
            .read_contract(&self.pob, GET_METADATA_ENTRY_POINT, &[])
            .unwrap();
        GetMetadataResult::decode(result.as_slice())
            .unwrap()
            .value
            .unwrap()
    }

    /// The next quantum-aligned time after the head (and after T0).
    fn next_quantum(&self) -> u64 {
        let after = self.chain.head().timestamp.max(T0);
        after - after % 10 + 10
    }

    /// `signer`'s block on the head at `timestamp`, with a VRF proof by `vrf_key` over the
    /// current seed; also the VRF output.
    fn block_by(
        &self,
        signer: &PrivateKey,
        vrf_key: &PrivateKey,
        timestamp: u64,
        transactions: Vec<Transaction>,
    ) -> (Block, [u8; 32]) {
        let head = self.chain.head();
        let mut block = Block {
            header: Some(BlockHeader {
                previous: head.id.clone(),
                height: head.height + 1,
                timestamp,
                previous_state_merkle_root: head.state_merkle_root.clone(),
                signer: signer.address().to_vec(),
                ..Default::default()
            }),
            transactions,
            ..Default::default()
        };
        let output = pob::sign_block(&mut block, vrf_key, &self.metadata().seed).unwrap();
        (block, output)
    }

    fn block(&self, key: &PrivateKey, timestamp: u64) -> Block {
        self.block_by(key, key, timestamp, Vec::new()).0
    }

    fn submit(&mut self, block: &Block) -> Result<Option<Committed>, ChainError> {
        let now = block.header.as_ref().unwrap().timestamp;
        self.chain.submit_block(block, now)
    }

    fn refusal(&mut self, block: &Block) -> (i32, String) {
        let error = self.submit(block).expect_err("the pob contract refuses it");
        (error.code, error.message)
    }
}

fn with_signature(block: &Block, edit: impl FnOnce(&mut SignatureData)) -> Block {
    let mut data = SignatureData::decode(block.signature.as_slice()).unwrap();
    edit(&mut data);
    Block {
        signature: data.encode_to_vec(),
        ..block.clone()
    }
}

#[test]
fn a_pob_devnet_accepts_blocks_from_the_quantum_winners() {
    let mut f = PobFixture::new();
    assert_eq!(Consensus::default(), Consensus::Federated);
    let initial = f.metadata();
    assert_eq!(
        initial.seed,
        f.chain.chain_id(),
        "the first seed is the chain id"
    );
    assert_eq!(initial.difficulty, (1u128 << 47).to_be_bytes().to_vec());

    let mut seeds = vec![initial.seed.clone()];
    let (alice, bob) = (f.alice.clone(), f.bob.clone());
    for (i, key) in [&alice, &bob, &alice, &alice, &bob].into_iter().enumerate() {
        let timestamp = f.next_quantum() + 10 * i as u64;
        let (block, output) = f.block_by(key, key, timestamp, Vec::new());
        let committed = f.submit(&block).unwrap().expect("a new block");
        assert!(committed.is_head);
        assert_eq!(committed.receipt.height, i as u64 + 1);
        let metadata = f.metadata();
        assert_eq!(metadata.last_block_time, timestamp);
        // The next seed is sha256(vrf_hash), so every block moves it.
        assert_eq!(
            metadata.seed,
            koinos_protocol::crypto::sha256_multihash(&[&[0x12, 0x20][..], &output].concat())
        );
        assert!(!seeds.contains(&metadata.seed));
        seeds.push(metadata.seed);
    }
    assert_eq!(f.chain.head().height, 5);
    // Blocks 10 ms apart are much faster than the 3 s target: the difficulty rose.
    // 16 bytes, big-endian.
    let difficulty = u128::from_be_bytes(f.metadata().difficulty.try_into().unwrap());
    assert!(difficulty > 1 << 47, "{difficulty}");
}

#[test]
fn forged_or_unqualified_blocks_are_refused_with_the_contracts_reason() {
    let mut f = PobFixture::new();
    let t = f.next_quantum();
    let good = f.block(&f.alice, t);
    let reversion = |message: &str| (code::REVERSION, message.to_string());

    let forged = with_signature(&good, |d| d.vrf_proof[40] ^= 1);
    assert_eq!(f.refusal(&forged), reversion("proof failed vrf validation"));
    // A valid proof of another payload (another quantum) does not prove this one.
    let other_quantum = f.block(&f.alice, t + 10);
    let replayed = with_signature(&good, |d| {
        let other = SignatureData::decode(other_quantum.signature.as_slice()).unwrap();
        d.vrf_proof = other.vrf_proof;
        d.vrf_hash = other.vrf_hash;
    });
    assert_eq!(
        f.refusal(&replayed),
        reversion("proof failed vrf validation")
    );
    // alice's proof, but mallory's key signed the block id.
    let resigned = with_signature(&good, |d| {
        d.signature = f.mallory.sign_id(&good.id).unwrap().to_vec();
    });
    assert_eq!(
        f.refusal(&resigned),
        reversion("block signature does not match the producer's public key")
    );
    // bob's signer field with alice's key: bob's registered key does not verify the proof.
    let (impostor, _) = f.block_by(&f.bob, &f.alice, t, Vec::new());
    assert_eq!(
        f.refusal(&impostor),
        reversion("proof failed vrf validation")
    );

    let no_vhp = f.block(&f.carol, t);
    assert_eq!(f.refusal(&no_vhp), reversion("producer has no VHP"));
    let unregistered = f.block(&f.mallory, t);
    assert_eq!(
        f.refusal(&unregistered),
        reversion("signer address has no public key record")
    );
    let off_quantum = f.block(&f.alice, t + 5);
    assert_eq!(
        f.refusal(&off_quantum),
        reversion("time stamp does not match time quanta")
    );
    // A federated block (a bare signature, no signature_data) is no pob block.
    let federated = builder::block(f.chain.head(), t, Vec::new(), &f.alice);
    assert!(f.submit(&federated).is_err());

    assert_eq!(f.chain.head().height, 0, "nothing was applied");
    assert!(f.submit(&good).unwrap().unwrap().is_head);
}

#[test]
fn the_chain_applies_the_difficulty_rule_the_producer_computes() {
    let mut f = PobFixture::new();
    let difficulty = f.metadata().difficulty;
    let (mut won, mut lost) = (0, 0);
    let mut t = f.next_quantum();
    // dave wins about half the quanta; the contract must agree with difficulty_met on each,
    // until it has seen both outcomes (the first win is applied, which ends the search).
    while won == 0 {
        let (block, output) = f.block_by(&f.dave, &f.dave, t, Vec::new());
        if pob::difficulty_met(&output, EVEN_VHP, &difficulty) {
            assert!(f.submit(&block).unwrap().unwrap().is_head, "quantum {t}");
            won += 1;
        } else {
            assert_eq!(
                f.refusal(&block),
                (code::REVERSION, "provided hash is not sufficient".into()),
                "quantum {t}"
            );
            lost += 1;
        }
        t += 10;
        assert!(lost < 64, "dave never won in 64 quanta");
    }
    assert_eq!(f.chain.head().height, 1);
}

#[test]
fn pob_fork_choice_takes_the_earlier_quantum_of_another_producer() {
    let mut f = PobFixture::new();
    let t = f.next_quantum();
    let parent = f.block(&f.alice, t);
    f.submit(&parent).unwrap().unwrap();
    // Producers won different quanta on the same parent (all built on it, with its seed); the
    // later one arrives first.
    let later = f.block(&f.bob, t + 50);
    let earlier = f.block(&f.alice, t + 20);
    let latest = f.block(&f.bob, t + 90);
    assert!(f.submit(&later).unwrap().unwrap().is_head);
    assert!(
        f.submit(&earlier).unwrap().unwrap().is_head,
        "the earlier block of another signer wins"
    );
    assert_eq!(f.chain.head().id, earlier.id);
    assert!(
        !f.submit(&latest).unwrap().unwrap().is_head,
        "a later sibling does not take the head back"
    );
    assert_eq!(f.chain.head().id, earlier.id);
    assert_eq!(f.chain.fork_heads().len(), 3);
}

#[test]
fn a_key_registered_by_transaction_produces_after_the_delay() {
    let mut f = PobFixture::new();
    // bob moves his VRF key to a new one, signed by bob (the producer's authority).
    let new_key = PrivateKey::from_seed("pob bob's new key");
    let register = RegisterPublicKeyArguments {
        producer: f.bob.address().to_vec(),
        public_key: new_key.public_key().to_compressed().to_vec(),
    };
    let nonce = {
        let bytes = f.chain.account_nonce(f.bob.address().as_bytes()).unwrap();
        koinos_protocol::nonce::decode_nonce(&bytes).unwrap() + 1
    };
    let tx = builder::transaction(
        f.chain.chain_id(),
        &f.bob,
        nonce,
        RC_LIMIT,
        vec![Operation {
            op: Some(Op::CallContract(CallContractOperation {
                contract_id: f.pob.clone(),
                entry_point: REGISTER_PUBLIC_KEY_ENTRY_POINT,
                args: register.encode_to_vec(),
            })),
        }],
    );
    let t = f.next_quantum();
    let (block, _) = f.block_by(&f.alice, &f.alice, t, vec![tx]);
    let committed = f.submit(&block).unwrap().unwrap();
    assert!(!committed.receipt.transaction_receipts[0].reverted);
    let (result, _) = f
        .chain
        .read_contract(
            &f.pob,
            GET_PUBLIC_KEY_ENTRY_POINT,
            &GetPublicKeyArguments {
                producer: f.bob.address().to_vec(),
            }
            .encode_to_vec(),
        )
        .unwrap();
    assert_eq!(
        GetPublicKeyResult::decode(result.as_slice()).unwrap().value,
        new_key.public_key().to_compressed()
    );

    // Registered at height 1: active from height 21.
    let early = f.block_by(&f.bob, &new_key, f.next_quantum(), Vec::new()).0;
    assert_eq!(
        f.refusal(&early),
        (code::REVERSION, "public key not yet active".into())
    );
    while f.chain.head().height < 20 {
        let block = f.block(&f.alice, f.next_quantum());
        f.submit(&block).unwrap().unwrap();
    }
    let old_key = f.block(&f.bob, f.next_quantum());
    assert_eq!(
        f.refusal(&old_key),
        (code::REVERSION, "proof failed vrf validation".into())
    );
    let block = f.block_by(&f.bob, &new_key, f.next_quantum(), Vec::new()).0;
    assert!(f.submit(&block).unwrap().unwrap().is_head);
    assert_eq!(f.chain.head().height, 21);
}

#[test]
fn a_transaction_cannot_move_the_seed_by_calling_the_contract() {
    let mut f = PobFixture::new();
    // A genuine winning block's arguments, but sent in a transaction rather than applied.
    let t = f.next_quantum();
    let block = f.block(&f.bob, t);
    let args = ProcessBlockSignatureArguments {
        digest: block.id.clone(),
        header: block.header.clone(),
        signature: block.signature.clone(),
    };
    let nonce = {
        let bytes = f.chain.account_nonce(f.bob.address().as_bytes()).unwrap();
        koinos_protocol::nonce::decode_nonce(&bytes).unwrap() + 1
    };
    let tx = builder::transaction(
        f.chain.chain_id(),
        &f.bob,
        nonce,
        RC_LIMIT,
        vec![Operation {
            op: Some(Op::CallContract(CallContractOperation {
                contract_id: f.pob.clone(),
                entry_point: PROCESS_BLOCK_SIGNATURE_ENTRY_POINT,
                args: args.encode_to_vec(),
            })),
        }],
    );
    let before = f.metadata();
    let carrier = f.block_by(&f.alice, &f.alice, t, vec![tx]).0;
    let committed = f.submit(&carrier).unwrap().unwrap();
    let receipt = &committed.receipt.transaction_receipts[0];
    assert!(receipt.reverted);
    assert!(
        receipt
            .logs
            .iter()
            .any(|l| l.contains("process block signature must be called from kernel")),
        "{:?}",
        receipt.logs
    );
    // Only the carrier block moved the seed.
    let after = f.metadata();
    assert_eq!(after.last_block_time, t);
    assert_ne!(after.seed, before.seed);
    let (_, output) =
        koinos_protocol::crypto::vrf::prove(&f.alice, &pob::vrf_payload(&before.seed, t));
    assert_eq!(
        after.seed,
        koinos_protocol::crypto::sha256_multihash(&[&[0x12, 0x20][..], &output].concat())
    );
}
