//! The transaction store's records on disk.

use koinos_protocol::pb::koinos::transaction_store::TransactionItem;
use koinos_protocol::{Block, BlockTopology};

use crate::storage::{StorageError, Store, Table};

/// Service name: RPC queue `koinos.rpc.transaction_store`, data under
/// `basedir/transaction_store/db`.
pub const SERVICE: &str = crate::mq::topology::service::TRANSACTION_STORE;

/// Transaction id -> `transaction_item`.
const TRANSACTIONS: Table<TransactionItem> = Table::new("transactions");
/// Key [`HIGHEST_BLOCK_KEY`] -> the highest block recorded (for catch-up).
const METADATA: Table<BlockTopology> = Table::new("metadata");
const HIGHEST_BLOCK_KEY: &[u8] = &[0x01];

#[derive(Debug, thiserror::Error)]
pub enum TransactionStoreError {
    #[error("block has no id")]
    MissingBlockId,
    #[error("transaction id was nil")]
    EmptyTransactionId,
    #[error("expected field transaction_ids was nil")]
    MissingTransactionIds,
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
        self.add_blocks(std::slice::from_ref(block))
    }

    /// [`TransactionStore::add_block`] for several blocks in one atomic, durable write.
    pub fn add_blocks(&self, blocks: &[Block]) -> Result<()> {
        if blocks.iter().any(|b| b.id.is_empty()) {
            return Err(TransactionStoreError::MissingBlockId);
        }
        let mut txn = self.store.write()?;
        let mut table = txn.table(&TRANSACTIONS)?;
        for block in blocks {
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
        }
        drop(table);
        let top = blocks
            .iter()
            .filter_map(|b| b.header.as_ref().map(|h| (b, h)))
            .max_by_key(|(_, h)| h.height);
        if let Some((block, header)) = top {
            let mut metadata = txn.table(&METADATA)?;
            if metadata
                .get(HIGHEST_BLOCK_KEY)?
                .is_none_or(|current| current.height < header.height)
            {
                let topology = BlockTopology {
                    id: block.id.clone(),
                    height: header.height,
                    previous: header.previous.clone(),
                };
                metadata.put(HIGHEST_BLOCK_KEY, &topology)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The highest block recorded, if any.
    pub fn highest_block(&self) -> Result<Option<BlockTopology>> {
        Ok(self
            .store
            .read()?
            .table(&METADATA)?
            .get(HIGHEST_BLOCK_KEY)?)
    }

    /// The items of the known ids, in request order; unknown ids are skipped. An empty list is
    /// an error, as in the official service (protobuf-go decodes it as nil).
    pub fn get_transactions_by_id(&self, ids: &[Vec<u8>]) -> Result<Vec<TransactionItem>> {
        if ids.is_empty() {
            return Err(TransactionStoreError::MissingTransactionIds);
        }
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

impl crate::block_store::BlockIndex for TransactionStore {
    type Error = TransactionStoreError;
    const RECORDS: &'static str = "transactions";
    fn highest_height(&self) -> Result<u64> {
        Ok(self.highest_block()?.map_or(0, |h| h.height))
    }
    fn record_blocks(&self, blocks: &[Block]) -> Result<usize> {
        self.add_blocks(blocks)?;
        Ok(blocks.iter().map(|b| b.transactions.len()).sum())
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
        assert_eq!(store.highest_block().unwrap(), None); // test blocks have no header
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
        let err = store.get_transactions_by_id(&[]).unwrap_err();
        assert!(matches!(err, TransactionStoreError::MissingTransactionIds));
        assert_eq!(err.to_string(), "expected field transaction_ids was nil");
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

    #[test]
    fn batches_record_every_block_and_the_highest_one() {
        let (_dir, store) = open();
        let with_header = |id: u8, height: u64, txs: &[u8]| {
            let mut b = block(id, txs);
            b.header = Some(koinos_protocol::BlockHeader {
                height,
                previous: vec![0x12, 0x20, 0xb0, id.wrapping_sub(1)],
                ..Default::default()
            });
            b
        };
        store
            .add_blocks(&[
                with_header(1, 1, &[1]),
                with_header(3, 3, &[3]),
                with_header(2, 2, &[1, 2]),
            ])
            .unwrap();
        let highest = store.highest_block().unwrap().unwrap();
        assert_eq!((highest.id, highest.height), (block(3, &[]).id, 3));
        let items = store.get_transactions_by_id(&[tx(1).id]).unwrap();
        assert_eq!(
            items[0].containing_blocks,
            vec![block(1, &[]).id, block(2, &[]).id]
        );
        store.add_block(&with_header(9, 2, &[])).unwrap(); // lower: highest unchanged
        assert_eq!(store.highest_block().unwrap().unwrap().height, 3);
    }
}
