//! The transaction store's records on disk.

use koinos_protocol::Block;
use koinos_protocol::pb::koinos::transaction_store::TransactionItem;

use crate::storage::{StorageError, Store, Table};

/// Service name: RPC queue `koinos.rpc.transaction_store`, data under
/// `basedir/transaction_store/db`.
pub const SERVICE: &str = "transaction_store";

/// Transaction id -> `transaction_item`.
const TRANSACTIONS: Table<TransactionItem> = Table::new("transactions");

#[derive(Debug, thiserror::Error)]
pub enum TransactionStoreError {
    #[error("block has no id")]
    MissingBlockId,
    #[error("transaction id was nil")]
    EmptyTransactionId,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type Result<T, E = TransactionStoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct TransactionStore {
    store: Store,
}

impl TransactionStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Opens `basedir/transaction_store/db`.
    pub fn open(basedir: &std::path::Path, reset: bool) -> Result<Self> {
        Ok(Self::new(Store::open_service(basedir, SERVICE, reset)?))
    }

    /// Records every transaction of an accepted `block` (any fork): a new transaction is
    /// stored with this block as its only container; a known one gains the block id unless it
    /// already lists it. One atomic, durable write per block.
    pub fn add_block(&self, block: &Block) -> Result<()> {
        if block.id.is_empty() {
            return Err(TransactionStoreError::MissingBlockId);
        }
        if block.transactions.is_empty() {
            return Ok(());
        }
        let mut txn = self.store.write()?;
        let mut table = txn.table(&TRANSACTIONS)?;
        for transaction in &block.transactions {
            if transaction.id.is_empty() {
                continue;
            }
            let item = match table.get(&transaction.id)? {
                Some(mut item) => {
                    if item.containing_blocks.contains(&block.id) {
                        continue;
                    }
                    item.containing_blocks.push(block.id.clone());
                    item
                }
                None => TransactionItem {
                    transaction: Some(transaction.clone()),
                    containing_blocks: vec![block.id.clone()],
                },
            };
            table.put(&transaction.id, &item)?;
        }
        drop(table);
        txn.commit()?;
        Ok(())
    }

    /// The items of the known ids, in request order; unknown ids are skipped.
    pub fn get_transactions_by_id(&self, ids: &[Vec<u8>]) -> Result<Vec<TransactionItem>> {
        let read = self.store.read()?;
        let table = read.table(&TRANSACTIONS)?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            if id.is_empty() {
                return Err(TransactionStoreError::EmptyTransactionId);
            }
            items.extend(table.get(id)?);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use koinos_protocol::{Transaction, TransactionHeader};

    use super::*;

    fn tx(n: u8) -> Transaction {
        Transaction {
            id: vec![0x12, 0x20, n],
            header: Some(TransactionHeader {
                rc_limit: 1000 + u64::from(n),
                ..Default::default()
            }),
            signatures: vec![vec![n; 65]],
            ..Default::default()
        }
    }

    fn block(id: u8, txs: &[u8]) -> Block {
        Block {
            id: vec![0x12, 0x20, 0xb0, id],
            transactions: txs.iter().map(|n| tx(*n)).collect(),
            ..Default::default()
        }
    }

    fn open() -> (tempfile::TempDir, TransactionStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = TransactionStore::open(dir.path(), false).unwrap();
        (dir, store)
    }

    #[test]
    fn every_accepted_block_is_appended_once_to_its_transactions() {
        let (_dir, store) = open();
        store.add_block(&block(1, &[1, 2])).unwrap();
        store.add_block(&block(2, &[2, 3])).unwrap(); // another fork also holds tx 2
        store.add_block(&block(1, &[1, 2])).unwrap(); // the same block again
        let items = store
            .get_transactions_by_id(&[tx(1).id, tx(2).id, tx(3).id])
            .unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].transaction, Some(tx(1)));
        assert_eq!(items[0].containing_blocks, vec![block(1, &[]).id]);
        assert_eq!(items[1].transaction, Some(tx(2)));
        assert_eq!(
            items[1].containing_blocks,
            vec![block(1, &[]).id, block(2, &[]).id]
        );
        assert_eq!(items[2].containing_blocks, vec![block(2, &[]).id]);
    }

    #[test]
    fn unknown_ids_are_skipped_and_order_is_kept() {
        let (_dir, store) = open();
        store.add_block(&block(1, &[1, 2])).unwrap();
        let items = store
            .get_transactions_by_id(&[tx(2).id, tx(9).id, tx(1).id])
            .unwrap();
        let ids: Vec<_> = items
            .iter()
            .map(|i| i.transaction.as_ref().unwrap().id.clone())
            .collect();
        assert_eq!(ids, vec![tx(2).id, tx(1).id]);
        assert!(store.get_transactions_by_id(&[]).unwrap().is_empty());
        assert!(matches!(
            store.get_transactions_by_id(&[vec![]]),
            Err(TransactionStoreError::EmptyTransactionId)
        ));
    }

    #[test]
    fn a_block_without_id_is_refused_and_records_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = TransactionStore::open(dir.path(), false).unwrap();
            let mut anonymous = block(1, &[1]);
            anonymous.id.clear();
            assert!(matches!(
                store.add_block(&anonymous),
                Err(TransactionStoreError::MissingBlockId)
            ));
            store.add_block(&block(3, &[4])).unwrap();
        }
        let store = TransactionStore::open(dir.path(), false).unwrap();
        let items = store.get_transactions_by_id(&[tx(1).id, tx(4).id]).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].containing_blocks, vec![block(3, &[]).id]);
    }
}
