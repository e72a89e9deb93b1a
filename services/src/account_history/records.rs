//! Which addresses a block touches and the history records it adds (docs/protocol.md "Configuration and stores"), as the
//! official service derives them: pure functions of a `block_accepted`.

use std::collections::{BTreeSet, HashSet};

use koinos_protocol::broadcast::BlockAccepted;
use koinos_protocol::pb::koinos::account_history::{
    BlockRecord, HistoryRecord, TransactionRecord, history_record::Record,
};
use koinos_protocol::pb::koinos::protocol::operation::Op;
use koinos_protocol::pb::koinos::protocol::system_call_target::Target;
use koinos_protocol::pb::koinos::protocol::{EventData, Transaction, TransactionReceipt};

use crate::chain::BlockInfo;

/// The addresses whose history is kept; empty keeps every address (`address-whitelist`).
#[derive(Debug, Clone, Default)]
pub struct Whitelist(HashSet<Vec<u8>>);

impl Whitelist {
    /// Parses base58 addresses; an unparsable one is an error naming it.
    pub fn parse(addresses: &[String]) -> Result<Self, String> {
        addresses
            .iter()
            .map(|a| {
                bs58::decode(a)
                    .into_vec()
                    .map_err(|_| format!("could not parse whitelist address '{a}'"))
            })
            .collect::<Result<_, _>>()
            .map(Whitelist)
    }

    pub fn from_addresses(addresses: impl IntoIterator<Item = Vec<u8>>) -> Self {
        Whitelist(addresses.into_iter().collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn keeps(&self, address: &[u8]) -> bool {
        self.0.is_empty() || self.0.contains(address)
    }
}

/// What one accepted block adds to the history.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockHistory {
    /// The block's place in the block tree (for fork choice).
    pub info: BlockInfo,
    /// `(address, record id)` in the order their sequence numbers are assigned: the block's
    /// addresses, then each transaction's, each group in bytewise address order.
    pub touches: Vec<(Vec<u8>, Vec<u8>)>,
    /// The records the touches refer to: the block's (keyed by block id) and each
    /// transaction's (keyed by transaction id). Only records some kept address refers to.
    pub records: Vec<(Vec<u8>, HistoryRecord)>,
}

/// Why a broadcast block cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block_accepted without a block")]
    MissingBlock,
    #[error("block without an id or a header")]
    MissingHeader,
}

/// The history a `block_accepted` adds (docs/protocol.md "Configuration and stores"): the block touches its signer and the
/// sources and impacted addresses of block-level events; each transaction touches its payer,
/// its payee (if set), the contract of each operation, and its events' sources and impacted
/// addresses. Addresses outside `whitelist` are skipped.
pub fn block_history(
    accepted: &BlockAccepted,
    whitelist: &Whitelist,
) -> Result<BlockHistory, BlockError> {
    let block = accepted.block.as_ref().ok_or(BlockError::MissingBlock)?;
    let header = block.header.as_ref().ok_or(BlockError::MissingHeader)?;
    if block.id.is_empty() {
        return Err(BlockError::MissingHeader);
    }
    let receipt = accepted.receipt.clone().unwrap_or_default();
    let info = BlockInfo {
        id: block.id.clone(),
        previous: header.previous.clone(),
        height: header.height,
        timestamp: header.timestamp,
        signer: header.signer.clone(),
        state_merkle_root: Vec::new(),
    };
    let mut history = BlockHistory {
        info,
        touches: Vec::new(),
        records: Vec::new(),
    };

    let mut addresses = BTreeSet::from([header.signer.clone()]);
    add_event_addresses(&mut addresses, &receipt.events);
    let block_record = HistoryRecord {
        record: Some(Record::Block(BlockRecord {
            header: Some(header.clone()),
            receipt: Some(receipt.clone()),
        })),
    };
    history.add(whitelist, &block.id, addresses, block_record);

    for (i, transaction) in block.transactions.iter().enumerate() {
        let receipt = receipt
            .transaction_receipts
            .get(i)
            .cloned()
            .unwrap_or_default();
        let addresses = transaction_addresses(transaction, &receipt);
        let record = HistoryRecord {
            record: Some(Record::Trx(TransactionRecord {
                transaction: Some(transaction.clone()),
                receipt: Some(receipt),
            })),
        };
        history.add(whitelist, &transaction.id, addresses, record);
    }
    Ok(history)
}

impl BlockHistory {
    fn add(
        &mut self,
        whitelist: &Whitelist,
        id: &[u8],
        addresses: BTreeSet<Vec<u8>>,
        record: HistoryRecord,
    ) {
        let before = self.touches.len();
        self.touches.extend(
            addresses
                .into_iter()
                .filter(|a| whitelist.keeps(a))
                .map(|a| (a, id.to_vec())),
        );
        if self.touches.len() > before {
            self.records.push((id.to_vec(), record));
        }
    }
}

/// The addresses a transaction touches (official order: a set, so bytewise).
pub fn transaction_addresses(
    transaction: &Transaction,
    receipt: &TransactionReceipt,
) -> BTreeSet<Vec<u8>> {
    let mut addresses = BTreeSet::new();
    let header = transaction.header.clone().unwrap_or_default();
    addresses.insert(header.payer);
    if !header.payee.is_empty() {
        addresses.insert(header.payee);
    }
    for op in transaction.operations.iter().filter_map(|o| o.op.as_ref()) {
        let contract = match op {
            Op::UploadContract(o) => Some(&o.contract_id),
            Op::CallContract(o) => Some(&o.contract_id),
            Op::SetSystemCall(o) => match o.target.as_ref().and_then(|t| t.target.as_ref()) {
                Some(Target::SystemCallBundle(bundle)) => Some(&bundle.contract_id),
                _ => None,
            },
            Op::SetSystemContract(o) => Some(&o.contract_id),
        };
        addresses.extend(contract.cloned());
    }
    add_event_addresses(&mut addresses, &receipt.events);
    addresses
}

fn add_event_addresses(addresses: &mut BTreeSet<Vec<u8>>, events: &[EventData]) {
    for event in events {
        addresses.insert(event.source.clone());
        addresses.extend(event.impacted.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use koinos_protocol::Block;
    use koinos_protocol::pb::koinos::protocol::{
        BlockHeader, BlockReceipt, CallContractOperation, ContractCallBundle, Operation,
        SetSystemCallOperation, SystemCallTarget, TransactionHeader,
    };

    use super::*;

    fn addr(n: u8) -> Vec<u8> {
        vec![0, n]
    }

    fn event(source: u8, impacted: &[u8]) -> EventData {
        EventData {
            source: addr(source),
            name: "e".into(),
            impacted: impacted.iter().map(|n| addr(*n)).collect(),
            ..Default::default()
        }
    }

    fn accepted() -> BlockAccepted {
        let call = |c: u8| Operation {
            op: Some(Op::CallContract(CallContractOperation {
                contract_id: addr(c),
                ..Default::default()
            })),
        };
        let set_call = Operation {
            op: Some(Op::SetSystemCall(SetSystemCallOperation {
                call_id: 1,
                target: Some(SystemCallTarget {
                    target: Some(Target::SystemCallBundle(ContractCallBundle {
                        contract_id: addr(40),
                        entry_point: 2,
                    })),
                }),
            })),
        };
        let tx = |id: u8, payer: u8, payee: Option<u8>, operations| Transaction {
            id: vec![0x12, id],
            header: Some(TransactionHeader {
                payer: addr(payer),
                payee: payee.map(addr).unwrap_or_default(),
                ..Default::default()
            }),
            operations,
            ..Default::default()
        };
        BlockAccepted {
            block: Some(Block {
                id: vec![0x12, 0xb1],
                header: Some(BlockHeader {
                    height: 5,
                    signer: addr(9),
                    ..Default::default()
                }),
                transactions: vec![
                    tx(1, 3, None, vec![call(30)]),
                    tx(2, 4, Some(5), vec![set_call, call(30)]),
                ],
                ..Default::default()
            }),
            receipt: Some(BlockReceipt {
                events: vec![event(20, &[21])],
                transaction_receipts: vec![
                    TransactionReceipt {
                        events: vec![event(30, &[3, 6])],
                        ..Default::default()
                    },
                    TransactionReceipt::default(),
                ],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn blocks_and_transactions_touch_the_documented_addresses() {
        let history = block_history(&accepted(), &Whitelist::default()).unwrap();
        let touched = |id: &[u8]| -> Vec<Vec<u8>> {
            history
                .touches
                .iter()
                .filter(|(_, r)| r == id)
                .map(|(a, _)| a.clone())
                .collect()
        };
        // Block: signer, block-level event source and impacted.
        assert_eq!(touched(&[0x12, 0xb1]), vec![addr(9), addr(20), addr(21)]);
        // Tx 1: payer, called contract, its event's source and impacted (deduplicated).
        assert_eq!(touched(&[0x12, 1]), vec![addr(3), addr(6), addr(30)]);
        // Tx 2: payer, payee, the system call bundle's contract, the called contract.
        assert_eq!(
            touched(&[0x12, 2]),
            vec![addr(4), addr(5), addr(30), addr(40)]
        );
        // Block record first, then the transactions in block order.
        let ids: Vec<_> = history.records.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(ids, vec![vec![0x12, 0xb1], vec![0x12, 1], vec![0x12, 2]]);
        assert!(matches!(
            history.records[0].1.record,
            Some(Record::Block(BlockRecord {
                header: Some(_),
                receipt: Some(_)
            }))
        ));
        let Some(Record::Trx(trx)) = &history.records[1].1.record else {
            panic!("transaction record expected");
        };
        assert_eq!(trx.receipt.as_ref().unwrap().events.len(), 1);
        assert_eq!(history.info.height, 5);
    }

    #[test]
    fn a_whitelist_keeps_only_its_addresses_and_their_records() {
        let whitelist = Whitelist::parse(&[bs58::encode(addr(5)).into_string()]).unwrap();
        let history = block_history(&accepted(), &whitelist).unwrap();
        assert_eq!(history.touches, vec![(addr(5), vec![0x12, 2])]);
        assert_eq!(history.records.len(), 1);
        assert!(Whitelist::parse(&["0OIl".into()]).is_err());
    }

    #[test]
    fn a_block_without_header_is_refused() {
        let mut accepted = accepted();
        accepted.block.as_mut().unwrap().header = None;
        assert_eq!(
            block_history(&accepted, &Whitelist::default()),
            Err(BlockError::MissingHeader)
        );
        assert_eq!(
            block_history(&BlockAccepted::default(), &Whitelist::default()),
            Err(BlockError::MissingBlock)
        );
    }
}
