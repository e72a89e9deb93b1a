//! What the chain publishes (docs/protocol.md "AMQP topology") and how its errors look on the
//! wire (docs/protocol.md "RPC envelope and errors"), as pure functions.

use koinos_protocol::broadcast::{
    BlockAccepted, BlockIrreversible, EventParcel, ForkHeads, TransactionAccepted,
    TransactionFailed,
};
use koinos_protocol::chain::ErrorDetails;
use koinos_protocol::pb::koinos::protocol::{Transaction, TransactionReceipt};
use koinos_protocol::rpc::ErrorStatus;
use prost::Message;

use super::context::Usage;
use super::controller::{Committed, topology};
use super::error::ChainError;
use crate::mq::topology::topic::{
    self, BLOCK_ACCEPT, BLOCK_FORKS, BLOCK_IRREVERSIBLE, TRANSACTION_ACCEPT, TRANSACTION_FAIL,
};

/// A block is `live` when its timestamp is within the last minute.
pub const LIVE_WINDOW_MS: u64 = 60_000;

/// One message to publish on `koinos.event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
}

impl Outgoing {
    fn new(topic: impl Into<String>, payload: impl Message) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.encode_to_vec(),
        }
    }
}

/// The broadcasts after an applied block, in order: irreversible, accept, forks, then one
/// `koinos.event.<base58(source)>.<name>` per event in emission order.
pub fn block_broadcasts(committed: &Committed, now_ms: u64) -> Vec<Outgoing> {
    let lib = topology(&committed.lib);
    let header = committed.block.header.clone().unwrap_or_default();
    let mut out = vec![
        Outgoing::new(
            BLOCK_IRREVERSIBLE,
            BlockIrreversible {
                topology: Some(lib.clone()),
            },
        ),
        Outgoing::new(
            BLOCK_ACCEPT,
            BlockAccepted {
                block: Some(committed.block.clone()),
                receipt: Some(committed.receipt.clone()),
                live: header.timestamp > now_ms.saturating_sub(LIVE_WINDOW_MS),
                head: committed.is_head,
            },
        ),
        Outgoing::new(
            BLOCK_FORKS,
            ForkHeads {
                last_irreversible_block: Some(lib),
                heads: committed.fork_heads.iter().map(topology).collect(),
            },
        ),
    ];
    let block_events = committed.receipt.events.iter().map(|e| (None, e));
    let tx_events = committed
        .receipt
        .transaction_receipts
        .iter()
        .flat_map(|r| r.events.iter().map(move |e| (Some(r.id.clone()), e)));
    for (transaction_id, event) in block_events.chain(tx_events) {
        out.push(Outgoing::new(
            event_topic(&event.source, &event.name),
            EventParcel {
                block_id: committed.block.id.clone(),
                height: header.height,
                transaction_id,
                event: Some(event.clone()),
            },
        ));
    }
    out
}

/// `koinos.event.<base58(source)>.<name>`.
pub fn event_topic(source: &[u8], name: &str) -> String {
    topic::contract_event(&bs58::encode(source).into_string(), name)
}

/// `koinos.transaction.accept` after a successful `submit_transaction` with broadcast.
/// `system` is what the chain used outside the payer's session (the meter's totals minus the
/// receipt's).
pub fn transaction_accepted(
    tx: &Transaction,
    receipt: &TransactionReceipt,
    system: Usage,
    head_height: u64,
) -> Outgoing {
    Outgoing::new(
        TRANSACTION_ACCEPT,
        TransactionAccepted {
            transaction: Some(tx.clone()),
            receipt: Some(receipt.clone()),
            height: head_height,
            system_disk_storage_used: system.disk,
            system_network_bandwidth_used: system.network,
            system_compute_bandwidth_used: system.compute,
        },
    )
}

/// `koinos.transaction.fail` for a transaction that failed in a block or proposal.
pub fn transaction_failed(id: &[u8]) -> Outgoing {
    Outgoing::new(TRANSACTION_FAIL, TransactionFailed { id: id.to_vec() })
}

/// `error_status`: message, `data` = JSON with the code, logs and parameters, and one
/// `koinos.chain.error_details{code, logs}` detail.
pub fn error_status(error: &ChainError) -> ErrorStatus {
    let details = ErrorDetails {
        code: error.code,
        logs: error.logs.clone().unwrap_or_default(),
    };
    ErrorStatus {
        message: error.message.clone(),
        data: error.data_json(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/koinos.chain.error_details".into(),
            value: details.encode_to_vec(),
        }],
    }
}
