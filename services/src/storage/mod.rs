//! Embedded, crash-safe storage shared by the stores (block_store, transaction_store, ...).
//!
//! One redb database per service at `basedir/<svc>/db/data.redb`. redb is a copy-on-write
//! B-tree with checksummed, two-phase commits: a transaction is either entirely on disk or not
//! at all, so a `kill -9` mid-write loses at most the uncommitted transaction and never corrupts
//! the file. Every commit here uses `Durability::Immediate` (fsync before `commit` returns), so
//! a write that was acknowledged over AMQP survives a crash.
//!
//! Tables are typed by the protobuf message they hold ([`Table<M>`]): keys are raw bytes,
//! values the message's protobuf encoding, exactly as the official stores lay them out (docs/protocol.md "Configuration and stores").
//!
//! ```no_run
//! # use koinos_services::storage::{Store, Table};
//! # use prost::Message;
//! # #[derive(Clone, PartialEq, Message)] struct Item { #[prost(uint64, tag = "1")] n: u64 }
//! const ITEMS: Table<Item> = Table::new("items");
//! let store = Store::open_service("/koinos".as_ref(), "my_store", false)?;
//! let mut txn = store.write()?;
//! txn.table(&ITEMS)?.put(b"key", &Item { n: 1 })?;
//! txn.commit()?;
//! let item = store.read()?.table(&ITEMS)?.get(b"key")?;
//! # Ok::<(), koinos_services::storage::StorageError>(())
//! ```

mod handler;

pub use handler::StoreHandler;

use std::fs;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

/// File name of the database inside `basedir/<svc>/db/`.
pub const DATABASE_FILE: &str = "data.redb";

/// A storage failure. Any of them means the request cannot be served from disk.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot prepare storage directory {path}: {source}")]
    PrepareDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    OpenDatabase {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("storage engine error: {0}")]
    Engine(#[from] redb::Error),
    #[error("corrupt record in table {table}: {source}")]
    DecodeRecord {
        table: &'static str,
        #[source]
        source: prost::DecodeError,
    },
}

macro_rules! engine_error_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StorageError {
            fn from(e: $ty) -> Self {
                StorageError::Engine(e.into())
            }
        }
    )*};
}
engine_error_from!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A table of protobuf messages `M` keyed by raw bytes. Declare tables as constants.
pub struct Table<M> {
    name: &'static str,
    _message: PhantomData<fn() -> M>,
}

impl<M> Table<M> {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _message: PhantomData,
        }
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }

    fn definition(&self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        TableDefinition::new(self.name)
    }
}

/// An open database. Cheap to clone; reads run concurrently with the single writer.
#[derive(Clone)]
pub struct Store {
    db: Arc<redb::Database>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database of `service` under `basedir/<service>/db`.
    /// With `reset`, the existing database is deleted first (the official `reset` option).
    pub fn open_service(basedir: &Path, service: &str, reset: bool) -> Result<Self> {
        Self::open_dir(&basedir.join(service).join("db"), reset)
    }

    /// Opens (creating if needed) the database in directory `dir`.
    pub fn open_dir(dir: &Path, reset: bool) -> Result<Self> {
        let prepare = |source| StorageError::PrepareDir {
            path: dir.to_path_buf(),
            source,
        };
        if reset && dir.exists() {
            fs::remove_dir_all(dir).map_err(prepare)?;
        }
        fs::create_dir_all(dir).map_err(prepare)?;
        let path = dir.join(DATABASE_FILE);
        // `create` opens an existing file as is; after an unclean shutdown redb repairs its
        // allocator state from the last committed root before returning.
        let db = redb::Database::create(&path).map_err(|source| StorageError::OpenDatabase {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            db: Arc::new(db),
            path,
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a read transaction: a consistent snapshot of the last commit.
    pub fn read(&self) -> Result<ReadTxn> {
        Ok(ReadTxn(self.db.begin_read()?))
    }

    /// Starts the write transaction (one at a time; others wait).
    pub fn write(&self) -> Result<WriteTxn> {
        Ok(WriteTxn(self.db.begin_write()?))
    }
}

/// A read snapshot.
pub struct ReadTxn(redb::ReadTransaction);

impl ReadTxn {
    /// Opens `table` for reading; a table never written to reads as empty.
    pub fn table<M: Message + Default>(&self, table: &Table<M>) -> Result<TableReader<M>> {
        let inner = match self.0.open_table(table.definition()) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(TableReader {
            inner,
            name: table.name,
            _message: PhantomData,
        })
    }
}

/// A table opened in a read snapshot.
pub struct TableReader<M> {
    inner: Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>,
    name: &'static str,
    _message: PhantomData<fn() -> M>,
}

impl<M: Message + Default> TableReader<M> {
    /// The decoded record at `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<M>> {
        self.with_raw(key, |bytes| decode(self.name, bytes))
            .and_then(Option::transpose)
    }

    /// The raw encoded record at `key`, if any.
    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_raw(key, <[u8]>::to_vec)
    }

    /// Calls `f` on the raw bytes at `key` without copying them out of the page cache.
    pub fn with_raw<T>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> T) -> Result<Option<T>> {
        let Some(table) = &self.inner else {
            return Ok(None);
        };
        Ok(table.get(key)?.map(|guard| f(guard.value())))
    }

    /// Number of records in the table.
    pub fn len(&self) -> Result<u64> {
        match &self.inner {
            Some(t) => Ok(t.len()?),
            None => Ok(0),
        }
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// The write transaction. Dropping it without [`WriteTxn::commit`] discards every change.
pub struct WriteTxn(redb::WriteTransaction);

impl WriteTxn {
    /// Opens (creating if needed) `table` for reading and writing within this transaction.
    pub fn table<M: Message + Default>(&mut self, table: &Table<M>) -> Result<TableWriter<'_, M>> {
        Ok(TableWriter {
            inner: self.0.open_table(table.definition())?,
            name: table.name,
            _message: PhantomData,
        })
    }

    /// Makes every change durable (fsync) and visible, atomically.
    pub fn commit(self) -> Result<()> {
        Ok(self.0.commit()?)
    }
}

/// A table opened in the write transaction.
pub struct TableWriter<'txn, M> {
    inner: redb::Table<'txn, &'static [u8], &'static [u8]>,
    name: &'static str,
    _message: PhantomData<fn() -> M>,
}

impl<M: Message + Default> TableWriter<'_, M> {
    /// The record at `key` as this transaction sees it.
    pub fn get(&self, key: &[u8]) -> Result<Option<M>> {
        match self.inner.get(key)? {
            Some(guard) => decode(self.name, guard.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Calls `f` on the raw bytes at `key` as this transaction sees them.
    pub fn with_raw<T>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> T) -> Result<Option<T>> {
        Ok(self.inner.get(key)?.map(|guard| f(guard.value())))
    }

    /// Writes `value` at `key`, replacing any previous record.
    pub fn put(&mut self, key: &[u8], value: &M) -> Result<()> {
        self.inner.insert(key, value.encode_to_vec().as_slice())?;
        Ok(())
    }

    /// Removes the record at `key`; returns whether one existed.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.inner.remove(key)?.is_some())
    }
}

fn decode<M: Message + Default>(table: &'static str, bytes: &[u8]) -> Result<M> {
    M::decode(bytes).map_err(|source| StorageError::DecodeRecord { table, source })
}

/// Options every store takes (the official `reset`).
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StoreArgs {
    /// Delete the store's database before starting [default: false]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub reset: Option<bool>,
}

impl StoreArgs {
    pub fn reset(&self) -> bool {
        self.reset.unwrap_or(false)
    }
}

/// `0x`-prefixed hex of an id, for logs.
pub fn hex_id(id: &[u8]) -> String {
    let mut out = String::with_capacity(2 + 2 * id.len());
    out.push_str("0x");
    for byte in id {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, Message)]
    struct Item {
        #[prost(uint64, tag = "1")]
        n: u64,
        #[prost(bytes = "vec", tag = "2")]
        data: Vec<u8>,
    }

    const ITEMS: Table<Item> = Table::new("items");
    const OTHER: Table<Item> = Table::new("other");

    fn item(n: u64) -> Item {
        Item {
            n,
            data: vec![n as u8; 3],
        }
    }

    #[test]
    fn committed_writes_are_read_back_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_service(dir.path(), "svc", false).unwrap();
            let mut txn = store.write().unwrap();
            let mut t = txn.table(&ITEMS).unwrap();
            t.put(b"a", &item(1)).unwrap();
            t.put(b"b", &item(2)).unwrap();
            drop(t);
            txn.commit().unwrap();
            assert_eq!(store.path(), dir.path().join("svc/db").join(DATABASE_FILE));
        }
        let store = Store::open_service(dir.path(), "svc", false).unwrap();
        let read = store.read().unwrap();
        let t = read.table(&ITEMS).unwrap();
        assert_eq!(t.get(b"a").unwrap(), Some(item(1)));
        assert_eq!(t.get(b"b").unwrap(), Some(item(2)));
        assert_eq!(t.get(b"c").unwrap(), None);
        assert_eq!(t.len().unwrap(), 2);
        assert_eq!(t.get_raw(b"a").unwrap(), Some(item(1).encode_to_vec()));
    }

    #[test]
    fn uncommitted_writes_are_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path(), false).unwrap();
        {
            let mut txn = store.write().unwrap();
            txn.table(&ITEMS).unwrap().put(b"a", &item(1)).unwrap();
            // dropped without commit
        }
        assert_eq!(
            store
                .read()
                .unwrap()
                .table(&ITEMS)
                .unwrap()
                .get(b"a")
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_table_never_written_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path(), false).unwrap();
        let read = store.read().unwrap();
        let t = read.table(&OTHER).unwrap();
        assert_eq!(t.get(b"x").unwrap(), None);
        assert!(t.is_empty().unwrap());
    }

    #[test]
    fn reset_deletes_the_previous_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_dir(dir.path(), false).unwrap();
            let mut txn = store.write().unwrap();
            txn.table(&ITEMS).unwrap().put(b"a", &item(1)).unwrap();
            txn.commit().unwrap();
        }
        let store = Store::open_dir(dir.path(), true).unwrap();
        assert_eq!(
            store
                .read()
                .unwrap()
                .table(&ITEMS)
                .unwrap()
                .get(b"a")
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_record_that_is_not_the_declared_message_is_reported_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path(), false).unwrap();
        let txn = store.write().unwrap();
        // Same table name, raw garbage (a truncated varint field) as the value.
        txn.0
            .open_table(ITEMS.definition())
            .unwrap()
            .insert(b"bad".as_slice(), [0x08u8, 0xff].as_slice())
            .unwrap();
        txn.commit().unwrap();
        let err = store
            .read()
            .unwrap()
            .table(&ITEMS)
            .unwrap()
            .get(b"bad")
            .unwrap_err();
        assert!(
            matches!(err, StorageError::DecodeRecord { table: "items", .. }),
            "{err}"
        );
    }

    #[test]
    fn a_second_open_of_the_same_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open_dir(dir.path(), false).unwrap();
        assert!(matches!(
            Store::open_dir(dir.path(), false),
            Err(StorageError::OpenDatabase { .. })
        ));
    }
}
