//! The contract meta store's records on disk.

use koinos_protocol::pb::koinos::contract_meta_store::ContractMetaItem;
use koinos_protocol::pb::koinos::protocol::operation::Op;
use koinos_protocol::{Block, BlockTopology};

use crate::storage::{StorageError, Store, Table};

/// Service name: RPC queue `koinos.rpc.contract_meta_store`, data under
/// `basedir/contract_meta_store/db`.
pub const SERVICE: &str = crate::mq::topology::service::CONTRACT_META_STORE;

/// Contract id -> `contract_meta_item`.
const METAS: Table<ContractMetaItem> = Table::new("contract_meta");
/// Key [`HIGHEST_BLOCK_KEY`] -> the highest block recorded (for catch-up).
const METADATA: Table<BlockTopology> = Table::new("metadata");
const HIGHEST_BLOCK_KEY: &[u8] = &[0x01];

#[derive(Debug, thiserror::Error)]
pub enum ContractMetaStoreError {
    #[error("contract id was nil")]
    EmptyContractId,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type Result<T, E = ContractMetaStoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct ContractMetaStore {
    store: Store,
}

impl ContractMetaStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Opens `basedir/contract_meta_store/db`.
    pub fn open(basedir: &std::path::Path, reset: bool) -> Result<Self> {
        Ok(Self::new(Store::open_service(basedir, SERVICE, reset)?))
    }

    /// Records the ABI of every `upload_contract` operation of an accepted `block` (any fork,
    /// reverted transactions included, as the official store does). One durable write.
    pub fn add_block(&self, block: &Block) -> Result<usize> {
        self.add_blocks(std::slice::from_ref(block))
    }

    /// [`ContractMetaStore::add_block`] for several blocks, in order, in one durable write;
    /// returns the number of uploads recorded.
    pub fn add_blocks(&self, blocks: &[Block]) -> Result<usize> {
        let mut txn = self.store.write()?;
        let mut metas = txn.table(&METAS)?;
        let mut uploads = 0;
        for (contract_id, abi) in blocks.iter().flat_map(uploads_of) {
            metas.put(
                contract_id,
                &ContractMetaItem {
                    abi: abi.to_owned(),
                },
            )?;
            uploads += 1;
        }
        drop(metas);
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
        Ok(uploads)
    }

    /// The highest block recorded, if any.
    pub fn highest_block(&self) -> Result<Option<BlockTopology>> {
        Ok(self
            .store
            .read()?
            .table(&METADATA)?
            .get(HIGHEST_BLOCK_KEY)?)
    }

    /// The metadata of `contract_id`; `None` for a contract never uploaded.
    pub fn get_contract_meta(&self, contract_id: &[u8]) -> Result<Option<ContractMetaItem>> {
        if contract_id.is_empty() {
            return Err(ContractMetaStoreError::EmptyContractId);
        }
        Ok(self.store.read()?.table(&METAS)?.get(contract_id)?)
    }
}

/// `(contract id, abi)` of each upload operation of `block`, in block order.
fn uploads_of(block: &Block) -> impl Iterator<Item = (&[u8], &str)> {
    block
        .transactions
        .iter()
        .flat_map(|t| &t.operations)
        .filter_map(|op| match &op.op {
            Some(Op::UploadContract(upload)) => {
                Some((upload.contract_id.as_slice(), upload.abi.as_str()))
            }
            _ => None,
        })
}

impl crate::block_store::BlockIndex for ContractMetaStore {
    type Error = ContractMetaStoreError;
    const RECORDS: &'static str = "uploads";
    fn highest_height(&self) -> Result<u64> {
        Ok(self.highest_block()?.map_or(0, |h| h.height))
    }
    fn record_blocks(&self, blocks: &[Block]) -> Result<usize> {
        self.add_blocks(blocks)
    }
}

#[cfg(test)]
mod tests {
    use koinos_protocol::pb::koinos::protocol::{
        CallContractOperation, Operation, UploadContractOperation,
    };
    use koinos_protocol::{BlockHeader, Transaction};

    use super::*;

    fn upload(contract: u8, abi: &str) -> Operation {
        Operation {
            op: Some(Op::UploadContract(UploadContractOperation {
                contract_id: vec![0, contract],
                bytecode: vec![1, 2, 3],
                abi: abi.into(),
                ..Default::default()
            })),
        }
    }

    fn call(contract: u8) -> Operation {
        Operation {
            op: Some(Op::CallContract(CallContractOperation {
                contract_id: vec![0, contract],
                entry_point: 1,
                args: vec![],
            })),
        }
    }

    fn block(height: u64, operations: Vec<Vec<Operation>>) -> Block {
        Block {
            id: vec![0x12, 0x20, height as u8],
            header: Some(BlockHeader {
                height,
                ..Default::default()
            }),
            transactions: operations
                .into_iter()
                .map(|operations| Transaction {
                    operations,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn every_upload_is_recorded_and_the_last_write_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContractMetaStore::open(dir.path(), false).unwrap();
        let first = block(
            1,
            vec![vec![upload(1, "abi-1"), call(2)], vec![upload(2, "abi-2")]],
        );
        assert_eq!(store.add_block(&first).unwrap(), 2);
        // A later block (or a later op in one block) replaces the ABI.
        let second = block(2, vec![vec![upload(1, "abi-1a"), upload(1, "abi-1b")]]);
        assert_eq!(store.add_block(&second).unwrap(), 2);
        let abi = |c: u8| store.get_contract_meta(&[0, c]).unwrap().map(|m| m.abi);
        assert_eq!(abi(1).as_deref(), Some("abi-1b"));
        assert_eq!(abi(2).as_deref(), Some("abi-2"));
        assert_eq!(abi(3), None, "unknown contract: no meta");
        assert!(matches!(
            store.get_contract_meta(&[]),
            Err(ContractMetaStoreError::EmptyContractId)
        ));
        assert_eq!(store.highest_block().unwrap().unwrap().height, 2);
    }

    #[test]
    fn records_survive_a_reopen_and_reset_clears_them() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = ContractMetaStore::open(dir.path(), false).unwrap();
            store
                .add_blocks(&[block(3, vec![vec![upload(7, "x")]]), block(2, vec![])])
                .unwrap();
        }
        let store = ContractMetaStore::open(dir.path(), false).unwrap();
        assert_eq!(store.get_contract_meta(&[0, 7]).unwrap().unwrap().abi, "x");
        assert_eq!(store.highest_block().unwrap().unwrap().height, 3);
        drop(store);
        let store = ContractMetaStore::open(dir.path(), true).unwrap();
        assert_eq!(store.get_contract_meta(&[0, 7]).unwrap(), None);
        assert_eq!(store.highest_block().unwrap(), None);
    }
}
