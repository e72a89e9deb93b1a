//! Koinos JSON codec under hostile input (docs/testing.md "Hostile input"): mutated Koinos JSON
//! (structurally and as text) and mutated protobuf bytes, from the seed corpus in
//! `tests/corpus/json/` (`<message full name>.<n>.json`). Every input is translated or refused
//! with a `JsonError`, never a panic; what is accepted renders back. `FUZZ_CASES` / `FUZZ_SEED`
//! as in `fuzz_support`; `FUZZ_WRITE_CORPUS=1` rewrites the corpus from the messages below.

mod fuzz_support;

use std::path::{Path, PathBuf};

use fuzz_support::{Fuzz, Outcome, corpus, names_of};
use koinos_protocol::crypto::{PrivateKey, sha256};
use koinos_protocol::ids::zero_block_id;
use koinos_protocol::json::{from_value_by_name, message_descriptor, to_value, to_value_by_name};
use koinos_protocol::merkle::empty_merkle_root;
use koinos_protocol::nonce::encode_nonce;
use koinos_protocol::pb::koinos::protocol::{
    Block, BlockHeader, BlockReceipt, CallContractOperation, EventData, Operation, StateDeltaEntry,
    Transaction, TransactionHeader, TransactionReceipt, operation::Op,
};
use koinos_protocol::seal::{sign_block, sign_transaction};
use prost::Name;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/json")
}

/// The seed messages: a signed transaction and block (the docs' test-vector key), a receipt
/// with events, logs and state deltas.
fn seeds() -> Vec<(String, Value)> {
    let key = PrivateKey::from_bytes(&sha256(b"koinos-test-vector")).unwrap();
    let operation = Operation {
        op: Some(Op::CallContract(CallContractOperation {
            contract_id: key.address().to_vec(),
            entry_point: 670_398_154,
            args: vec![10, 0],
        })),
    };
    let mut transaction = Transaction {
        header: Some(TransactionHeader {
            chain_id: sha256(b"chain").to_vec(),
            rc_limit: 100_000_000,
            nonce: encode_nonce(1),
            payer: key.address().to_vec(),
            ..Default::default()
        }),
        operations: vec![operation],
        ..Default::default()
    };
    sign_transaction(&mut transaction, &key).unwrap();
    let mut block = Block {
        header: Some(BlockHeader {
            previous: zero_block_id(),
            height: 2,
            timestamp: 1_700_000_000_000,
            previous_state_merkle_root: empty_merkle_root(),
            signer: key.address().to_vec(),
            ..Default::default()
        }),
        transactions: vec![transaction.clone()],
        ..Default::default()
    };
    sign_block(&mut block, &key).unwrap();
    let event = EventData {
        sequence: 1,
        source: key.address().to_vec(),
        name: "token.transfer_event".into(),
        data: vec![10, 25, 0, 1, 2],
        impacted: vec![key.address().to_vec()],
    };
    let delta = StateDeltaEntry {
        object_space: Some(Default::default()),
        key: vec![1, 2, 3],
        value: Some(vec![4, 5]),
    };
    let receipt = BlockReceipt {
        id: block.id.clone(),
        height: 2,
        disk_storage_used: 10,
        state_merkle_root: empty_merkle_root(),
        events: vec![event.clone()],
        transaction_receipts: vec![TransactionReceipt {
            id: transaction.id.clone(),
            payer: key.address().to_vec(),
            max_payer_rc: u64::MAX,
            rc_limit: 100_000_000,
            rc_used: 12345,
            reverted: true,
            events: vec![event],
            logs: vec!["log".into()],
            state_delta_entries: vec![delta.clone()],
            ..Default::default()
        }],
        logs: vec!["block log".into()],
        state_delta_entries: vec![delta],
        ..Default::default()
    };
    vec![
        (Transaction::full_name(), to_value(&transaction).unwrap()),
        (Block::full_name(), to_value(&block).unwrap()),
        (BlockReceipt::full_name(), to_value(&receipt).unwrap()),
    ]
}

/// `(message name, document)` of every corpus file.
fn load_corpus() -> Vec<(String, Value)> {
    if std::env::var_os("FUZZ_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(corpus_dir()).unwrap();
        for (name, value) in seeds() {
            let path = corpus_dir().join(format!("{name}.1.json"));
            std::fs::write(path, serde_json::to_string_pretty(&value).unwrap() + "\n").unwrap();
        }
    }
    corpus(&corpus_dir())
        .into_iter()
        .map(|(file, bytes)| {
            let name = file.rsplitn(3, '.').nth(2).unwrap().to_owned();
            (name, serde_json::from_slice(&bytes).unwrap())
        })
        .collect()
}

/// Every field name of the built-in Koinos messages: mutations add known keys.
fn field_names() -> Vec<String> {
    let mut names: Vec<String> = koinos_protocol::pb::descriptor_pool()
        .all_messages()
        .flat_map(|m| m.fields().map(|f| f.name().to_owned()).collect::<Vec<_>>())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_corpus_parses_and_matches_the_seed_messages() {
    let corpus = load_corpus();
    for (name, value) in &corpus {
        let bytes = from_value_by_name(name, value).expect("corpus documents are valid");
        assert_eq!(&to_value_by_name(name, &bytes).unwrap(), value, "{name}");
    }
    for seed in seeds() {
        assert!(
            corpus.contains(&seed),
            "corpus is stale: FUZZ_WRITE_CORPUS=1"
        );
    }
}

#[test]
fn mutated_koinos_json_is_translated_or_refused_never_a_panic() {
    let corpus = load_corpus();
    let mut names = field_names();
    for (_, value) in &corpus {
        names.extend(names_of(value));
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let dictionary: Vec<&[u8]> = [
        &b"\"0x\""[..],
        b"\"18446744073709551616\"",
        b"-1",
        b"1e999",
        b"null",
        b"[",
        b"{",
        b"\"@type\":",
        b"\\u0000",
        b"\"==\"",
    ]
    .to_vec();
    let mut fuzz = Fuzz::new("koinos_json_decode");
    let mut render_failures = Vec::new();
    for round in 0..fuzz_support::cases(4000) {
        let (name, seed) = &corpus[round % corpus.len()];
        let value = if fuzz.chance(0.6) {
            fuzz.mutate_json(seed, &names)
        } else {
            let text = fuzz.mutate_bytes(seed.to_string().as_bytes(), &dictionary);
            match serde_json::from_slice::<Value>(&text) {
                Ok(value) => value,
                Err(_) => {
                    // The JSON parser's refusal, not ours: still an input tried.
                    fuzz.case(&text, || Outcome::Error);
                    continue;
                }
            }
        };
        let input = value.to_string().into_bytes();
        fuzz.case(&input, || match from_value_by_name(name, &value) {
            Ok(bytes) => {
                if let Err(e) = to_value_by_name(name, &bytes) {
                    render_failures.push(format!("{name}: {e}: {value}"));
                }
                Outcome::Accepted
            }
            Err(_) => Outcome::Error,
        });
    }
    assert!(
        render_failures.is_empty(),
        "accepted JSON that does not render back: {render_failures:#?}"
    );
    fuzz.finish();
}

#[test]
fn mutated_protobuf_bytes_render_or_are_refused_never_a_panic() {
    let corpus = load_corpus();
    let encoded: Vec<(String, Vec<u8>)> = corpus
        .iter()
        .map(|(name, value)| (name.clone(), from_value_by_name(name, value).unwrap()))
        .collect();
    // Other types read from the same bytes: a field of the wrong wire type, a oneof.
    let targets = [
        "koinos.protocol.block",
        "koinos.protocol.transaction",
        "koinos.protocol.block_receipt",
        "koinos.rpc.chain.chain_request",
        "koinos.rpc.block_store.block_store_response",
        "koinos.broadcast.block_accepted",
        "google.protobuf.Any",
    ];
    for target in targets {
        message_descriptor(target).unwrap();
    }
    let mut fuzz = Fuzz::new("koinos_json_encode");
    let mut reparse_failures = Vec::new();
    for round in 0..fuzz_support::cases(4000) {
        let (name, seed) = &encoded[round % encoded.len()];
        let name = if fuzz.chance(0.8) {
            name.as_str()
        } else {
            targets[fuzz.below(targets.len())]
        };
        let bytes = if fuzz.chance(0.1) {
            fuzz.random_bytes(64)
        } else {
            fuzz.mutate_bytes(seed, &[&[0x0a, 0x22], &[0x12, 0x00], &[0x1a, 0xff, 0xff]])
        };
        fuzz.case(&bytes, || match to_value_by_name(name, &bytes) {
            Ok(value) => {
                if let Err(e) = from_value_by_name(name, &value) {
                    reparse_failures.push(format!("{name}: {e}: {value}"));
                }
                Outcome::Accepted
            }
            Err(_) => Outcome::Error,
        });
    }
    assert!(
        reparse_failures.is_empty(),
        "rendered JSON that does not parse back: {reparse_failures:#?}"
    );
    fuzz.finish();
}
