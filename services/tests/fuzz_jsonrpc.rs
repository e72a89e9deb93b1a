//! The JSON-RPC gateway under hostile input (docs/testing.md "Hostile input"), without a
//! broker: mutated request bodies through `Gateway::prepare` (envelope, method name, params as
//! Koinos JSON) and mutated microservice replies through `Gateway::finish` (the transcoding
//! fast path and the general decoder). Every input gets a JSON-RPC reply that parses, never a
//! panic. Seeds: `tests/corpus/jsonrpc/` (one valid request per method family) and the Koinos
//! JSON corpus of protocol/tests. `FUZZ_CASES` / `FUZZ_SEED` as in `fuzz_support`.

#[path = "../../protocol/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::path::Path;

use fuzz_support::{Fuzz, Outcome, corpus, names_of};
use koinos_protocol::json::from_value_by_name;
use koinos_services::jsonrpc::config::GatewayOptions;
use koinos_services::jsonrpc::gateway::{CallError, Gateway};
use koinos_services::jsonrpc::translate::Translator;
use serde_json::{Value, json};

fn gateway() -> Gateway<()> {
    Gateway::new(GatewayOptions::default(), Translator::builtin(), ())
}

fn requests() -> Vec<(String, Vec<u8>)> {
    corpus(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/jsonrpc"))
}

fn protocol_seed(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/tests/corpus/json")
        .join(format!("koinos.protocol.{name}.1.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A reply must be a JSON-RPC 2.0 object with a result or an error code.
fn check_reply(text: &str) -> Outcome {
    let reply: Value = serde_json::from_str(text).expect("every reply is JSON");
    assert_eq!(reply["jsonrpc"], "2.0", "{text}");
    if reply.get("result").is_some() {
        Outcome::Accepted
    } else {
        assert!(reply["error"]["code"].is_i64(), "{text}");
        Outcome::Error
    }
}

#[test]
fn the_request_corpus_translates() {
    let gateway = gateway();
    for (file, body) in requests() {
        gateway
            .prepare(&body)
            .unwrap_or_else(|reply| panic!("{file}: {reply}"));
    }
}

#[test]
fn mutated_requests_get_a_reply_never_a_panic() {
    let gateway = gateway();
    let seeds = requests();
    let mut names: Vec<String> = ["jsonrpc", "id", "method", "params"]
        .map(String::from)
        .to_vec();
    for (_, body) in &seeds {
        names.extend(names_of(&serde_json::from_slice(body).unwrap()));
    }
    names.sort();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let dictionary: Vec<&[u8]> = vec![
        b"\"2.0\"",
        b"\"koinos.rpc.",
        b"chain.",
        b".submit_block",
        b"null",
        b"\"0x1220\"",
        b"-1",
        b"\"18446744073709551616\"",
        b"1e999",
        b"[",
        b"{\"",
        b"\\ud800",
    ];
    let mut fuzz = Fuzz::new("jsonrpc_request");
    for round in 0..fuzz_support::cases(4000) {
        let seed = &seeds[round % seeds.len()].1;
        let body = match fuzz.below(10) {
            0 => fuzz.random_bytes(128),
            1..=5 => fuzz.mutate_bytes(seed, &dictionary),
            _ => {
                let value: Value = serde_json::from_slice(seed).unwrap();
                fuzz.mutate_json(&value, &names).to_string().into_bytes()
            }
        };
        fuzz.case(&body, || match gateway.prepare(&body) {
            Ok(call) => {
                assert!(!call.request.is_empty());
                Outcome::Accepted
            }
            Err(reply) => check_reply(&reply),
        });
    }
    fuzz.finish();
}

/// Valid `<svc>_response`s (Koinos JSON) for the corpus methods.
fn responses() -> Vec<(&'static str, Vec<u8>)> {
    let (block, transaction, receipt) = (
        protocol_seed("block"),
        protocol_seed("transaction"),
        protocol_seed("block_receipt"),
    );
    let tx_receipt = receipt["transaction_receipts"][0].clone();
    let responses = [
        (
            "koinos.rpc.chain.chain_response",
            json!({"get_head_info": {"head_topology": {"id": block["id"], "height": "2",
                   "previous": block["header"]["previous"]}, "last_irreversible_block": "1",
                   "head_state_merkle_root": receipt["state_merkle_root"],
                   "head_block_time": "1700000000000"}}),
        ),
        (
            "koinos.rpc.chain.chain_response",
            json!({"submit_transaction": {"receipt": tx_receipt}}),
        ),
        (
            "koinos.rpc.chain.chain_response",
            json!({"submit_block": {"receipt": receipt}}),
        ),
        (
            "koinos.rpc.chain.chain_response",
            json!({"error": {"message": "boom", "data": "{\"code\":-1}"}}),
        ),
        (
            "koinos.rpc.block_store.block_store_response",
            json!({"get_blocks_by_height": {"block_items": [{"block_id": block["id"],
                   "block_height": "2", "block": block, "receipt": receipt}]}}),
        ),
        (
            "koinos.rpc.block_store.block_store_response",
            json!({"get_blocks_by_id": {"block_items": [{"block_id": block["id"],
                   "block_height": "2", "block": block}]}}),
        ),
        (
            "koinos.rpc.mempool.mempool_response",
            json!({"get_pending_transactions": {"pending_transactions": [
                   {"transaction": transaction, "disk_storage_used": "1"}]}}),
        ),
        (
            "koinos.rpc.transaction_store.transaction_store_response",
            json!({"get_transactions_by_id": {"transactions": [
                   {"transaction": transaction, "containing_blocks": [block["id"]]}]}}),
        ),
        (
            "koinos.rpc.account_history.account_history_response",
            json!({"get_account_history": {"values": [{"seq_num": "1",
                   "trx": {"transaction": transaction, "receipt": tx_receipt}},
                   {"block": {"header": block["header"], "receipt": receipt}}]}}),
        ),
    ];
    responses
        .into_iter()
        .map(|(name, value)| {
            let bytes = from_value_by_name(name, &value)
                .unwrap_or_else(|e| panic!("{name} seed {value}: {e}"));
            (name, bytes)
        })
        .collect()
}

#[test]
fn mutated_service_replies_get_a_reply_never_a_panic() {
    let gateway = gateway();
    let bodies = requests();
    let calls: Vec<_> = bodies
        .iter()
        .map(|(_, body)| gateway.prepare(body).unwrap())
        .collect();
    let replies = responses();
    // Every seed reply renders for a method of its service.
    for (name, bytes) in &replies {
        let call = calls
            .iter()
            .find(|c| name.contains(&format!(".{}.", c.method.service)))
            .unwrap();
        let _ = gateway.finish(call, Ok(bytes.clone()));
    }
    let mut fuzz = Fuzz::new("jsonrpc_reply");
    for _ in 0..fuzz_support::cases(4000) {
        let call = &calls[fuzz.below(calls.len())];
        // Mostly a reply of the call's own service, mutated.
        let own: Vec<&Vec<u8>> = replies
            .iter()
            .filter(|(name, _)| name.contains(&format!(".{}.", call.method.service)))
            .map(|(_, bytes)| bytes)
            .collect();
        let seed = if !own.is_empty() && fuzz.chance(0.8) {
            own[fuzz.below(own.len())].clone()
        } else {
            replies[fuzz.below(replies.len())].1.clone()
        };
        let outcome = match fuzz.below(20) {
            0 => Err(CallError::Timeout),
            1 => Err(CallError::Failed("broker gone".into())),
            2 => Ok(fuzz.random_bytes(64)),
            _ => Ok(fuzz.mutate_bytes(&seed, &[&[0x1a, 0x80, 0x80, 0x04], &[0x12, 0x00]])),
        };
        let input = outcome.clone().unwrap_or_default();
        fuzz.case(&input, || check_reply(&gateway.finish(call, outcome)));
    }
    fuzz.finish();
}
