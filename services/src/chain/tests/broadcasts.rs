//! Broadcast order and payloads after a block, following `koinos.block.accept`, and the wire
//! form of chain errors.

use koinos_protocol::broadcast::{BlockAccepted, BlockIrreversible, EventParcel, ForkHeads};
use koinos_protocol::chain::ErrorDetails;

use super::*;
use crate::chain::broadcasts::{block_broadcasts, error_status, event_topic};
use crate::chain::error::{ChainError, code};

#[test]
fn block_broadcasts_go_irreversible_accept_forks_then_events() {
    let mut f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 5);
    let committed = f.produce(vec![tx.clone()]);
    let timestamp = committed.block.header.as_ref().unwrap().timestamp;
    let out = block_broadcasts(&committed, timestamp + 1000);
    let topics: Vec<&str> = out.iter().map(|o| o.topic.as_str()).collect();
    let event_topic = event_topic(&f.token, "token.transfer_event");
    assert_eq!(
        topics,
        vec![
            "koinos.block.irreversible",
            "koinos.block.accept",
            "koinos.block.forks",
            event_topic.as_str()
        ]
    );
    assert!(
        event_topic.starts_with("koinos.event.") && event_topic.ends_with(".token.transfer_event")
    );
    let irreversible = BlockIrreversible::decode(out[0].payload.as_slice()).unwrap();
    assert_eq!(irreversible.topology.unwrap().height, 0);
    let accepted = BlockAccepted::decode(out[1].payload.as_slice()).unwrap();
    assert!(accepted.live && accepted.head);
    assert_eq!(accepted.block.unwrap().id, committed.block.id);
    let forks = ForkHeads::decode(out[2].payload.as_slice()).unwrap();
    assert_eq!(forks.heads.len(), 1);
    assert_eq!(forks.heads[0].id, committed.block.id);
    let parcel = EventParcel::decode(out[3].payload.as_slice()).unwrap();
    assert_eq!(parcel.transaction_id, Some(tx.id));
    assert_eq!(parcel.height, 1);
    // An old block is not live.
    let late = block_broadcasts(&committed, timestamp + 120_000);
    assert!(
        !BlockAccepted::decode(late[1].payload.as_slice())
            .unwrap()
            .live
    );
}

#[test]
fn errors_carry_code_data_and_details() {
    let mut error = ChainError::new(code::UNKNOWN_PREVIOUS_BLOCK, "unknown previous block")
        .with_param("block_id", "0x1220ab");
    error = error.with_logs(vec!["a log".into()]);
    let status = error_status(&error);
    assert_eq!(status.message, "unknown previous block");
    assert_eq!(
        status.data,
        r#"{"block_id":"0x1220ab","code":-1003,"logs":["a log"]}"#
    );
    assert_eq!(
        status.details[0].type_url,
        "type.googleapis.com/koinos.chain.error_details"
    );
    let details = ErrorDetails::decode(status.details[0].value.as_slice()).unwrap();
    assert_eq!(
        (details.code, details.logs),
        (-1003, vec!["a log".to_string()])
    );
}

#[tokio::test]
async fn an_accepted_block_already_applied_is_a_no_op_and_one_without_parent_an_error() {
    let mut f = Fixture::new();
    let committed = f.produce(vec![]);
    let elsewhere = crate::chain::BlockInfo {
        id: koinos_protocol::crypto::sha256_multihash(b"a block this chain never saw"),
        height: 4,
        timestamp: T0,
        state_merkle_root: koinos_protocol::crypto::sha256_multihash(b"its state"),
        ..Default::default()
    };
    let orphan = builder::block(&elsewhere, T0 + 10_000, vec![], &f.producer);
    let head = f.chain.head().clone();
    let service = service_of(f);
    let accepted = |block: Block| BlockAccepted {
        block: Some(block),
        ..Default::default()
    };
    // Its own broadcast comes back: nothing to do, and nothing is called or published.
    assert!(
        !service
            .apply_accepted(accepted(committed.block))
            .await
            .unwrap()
    );
    assert!(
        !service
            .apply_accepted(BlockAccepted::default())
            .await
            .unwrap()
    );
    let error = service.apply_accepted(accepted(orphan)).await.unwrap_err();
    assert_eq!(error.code, code::UNKNOWN_PREVIOUS_BLOCK);
    assert_eq!(service.chain().await.head(), &head);
}
