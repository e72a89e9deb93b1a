//! One fork's pending transactions: the five node spaces of docs/protocol.md "Mempool" as Rust maps.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use koinos_protocol::Transaction;
use koinos_protocol::chain::ValueType;
use koinos_protocol::chain::value_type::Kind;
use koinos_protocol::pb::koinos::mempool::PendingTransaction;
use prost::Message;

use super::MempoolError;

/// A pending transaction as stored: immutable, shared by every fork that holds it.
#[derive(Debug)]
pub(super) struct Entry {
    pub pending: PendingTransaction,
    /// When the mempool received it (ms since the epoch); drives expiry.
    pub timestamp_ms: u64,
    pub payer: Vec<u8>,
    pub rc_limit: u64,
    pub nonce_key: NonceKey,
}

/// `account ‖ nonce`: the account is the payee when set, otherwise the payer.
pub(super) type NonceKey = (Vec<u8>, u64);

/// Per-payer RC bookkeeping (`address_resource_record`): `max_rc` is the payer's RC as last
/// reported by chain, `current_rc` what is left after the pending transactions' limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Resources {
    max_rc: u64,
    current_rc: u64,
}

/// Why a transaction cannot join one fork's set.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Fatal for the whole insertion (every fork sees the same transaction).
    Fatal(MempoolError),
    /// Only this fork already holds a transaction with this account and nonce.
    NonceConflict,
}

#[derive(Clone, Debug, Default)]
pub(super) struct PendingSet {
    /// Next sequence number (space 1); FIFO order of `by_seq` (space 2).
    next_seq: u64,
    by_seq: BTreeMap<u64, Arc<Entry>>,
    /// Transaction id -> sequence (space 3).
    by_id: HashMap<Vec<u8>, u64>,
    /// Payer -> resources (space 4).
    resources: HashMap<Vec<u8>, Resources>,
    /// Account ‖ nonce keys in use (space 5).
    nonces: BTreeSet<NonceKey>,
}

/// The nonce account and value of `transaction` (docs/protocol.md "Nonces").
pub(super) fn nonce_key(transaction: &Transaction) -> Result<NonceKey, MempoolError> {
    let header = transaction
        .header
        .as_ref()
        .ok_or(MempoolError::MissingTransaction)?;
    let account = if header.payee.is_empty() {
        header.payer.clone()
    } else {
        header.payee.clone()
    };
    Ok((account, decode_nonce(&header.nonce)?))
}

/// The `uint64_value` of a serialized `value_type` (0 for any other kind, as the official
/// service reads it).
pub(super) fn decode_nonce(bytes: &[u8]) -> Result<u64, MempoolError> {
    let value = ValueType::decode(bytes).map_err(|_| MempoolError::InvalidNonce)?;
    Ok(match value.kind {
        Some(Kind::Uint64Value(n)) => n,
        _ => 0,
    })
}

/// `current + (max_payer_rc − old_max) − rc_limit`, computed without overflow.
fn remaining_rc(record: Resources, max_payer_rc: u64, rc_limit: u64) -> i128 {
    i128::from(record.current_rc) + i128::from(max_payer_rc)
        - i128::from(record.max_rc)
        - i128::from(rc_limit)
}

impl PendingSet {
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub fn contains(&self, id: &[u8]) -> bool {
        self.by_id.contains_key(id)
    }

    /// Whether a payer with `max_payer_rc` can pend `rc_limit` more here.
    pub fn check_resources(&self, payer: &[u8], max_payer_rc: u64, rc_limit: u64) -> bool {
        match self.resources.get(payer) {
            Some(record) => remaining_rc(*record, max_payer_rc, rc_limit) >= 0,
            None => rc_limit <= max_payer_rc,
        }
    }

    /// Whether no pending transaction uses this account and nonce.
    pub fn nonce_free(&self, key: &NonceKey) -> bool {
        !self.nonces.contains(key)
    }

    /// Checks every rule without changing anything.
    pub fn admit(&self, entry: &Entry, max_payer_rc: u64) -> Result<(), Refusal> {
        if !self.check_resources(&entry.payer, max_payer_rc, entry.rc_limit) {
            return Err(Refusal::Fatal(MempoolError::ExceedsResources(
                entry.payer.clone(),
            )));
        }
        if self.contains(entry.id()) {
            return Err(Refusal::Fatal(MempoolError::DuplicateTransaction));
        }
        if !self.nonce_free(&entry.nonce_key) {
            return Err(Refusal::NonceConflict);
        }
        Ok(())
    }

    /// Adds an admitted entry; returns the payer's RC now reserved here.
    pub fn insert(&mut self, entry: Arc<Entry>, max_payer_rc: u64) -> u64 {
        let seq = self.next_seq.max(1);
        self.next_seq = seq + 1;
        let resources = match self.resources.get(&entry.payer) {
            Some(record) => Resources {
                max_rc: max_payer_rc,
                current_rc: remaining_rc(*record, max_payer_rc, entry.rc_limit) as u64,
            },
            None => Resources {
                max_rc: max_payer_rc,
                current_rc: max_payer_rc - entry.rc_limit,
            },
        };
        self.resources.insert(entry.payer.clone(), resources);
        self.nonces.insert(entry.nonce_key.clone());
        self.by_id.insert(entry.id().to_vec(), seq);
        self.by_seq.insert(seq, entry);
        resources.max_rc - resources.current_rc
    }

    /// Removes the given transactions; returns how many were here.
    pub fn remove_ids<'a>(&mut self, ids: impl IntoIterator<Item = &'a [u8]>) -> usize {
        let mut count = 0;
        for id in ids {
            if let Some(seq) = self.by_id.get(id).copied() {
                count += usize::from(self.remove_seq(seq));
            }
        }
        count
    }

    /// Removes the entries received at or before `now_ms - expiration_ms`; returns how many.
    pub fn prune(&mut self, expiration_ms: u64, now_ms: u64) -> usize {
        let mut count = 0;
        while let Some((&seq, entry)) = self.by_seq.first_key_value() {
            if entry.timestamp_ms.saturating_add(expiration_ms) > now_ms {
                break;
            }
            self.remove_seq(seq);
            count += 1;
        }
        count
    }

    fn remove_seq(&mut self, seq: u64) -> bool {
        let Some(entry) = self.by_seq.remove(&seq) else {
            return false;
        };
        self.by_id.remove(entry.id());
        self.nonces.remove(&entry.nonce_key);
        if let Some(record) = self.resources.get_mut(&entry.payer) {
            let restored = u128::from(record.current_rc) + u128::from(entry.rc_limit);
            if restored >= u128::from(record.max_rc) {
                self.resources.remove(&entry.payer);
            } else {
                record.current_rc = restored as u64;
            }
        }
        true
    }

    /// Up to `limit` pending transactions, oldest first.
    pub fn first(&self, limit: usize) -> Vec<PendingTransaction> {
        self.by_seq
            .values()
            .take(limit)
            .map(|e| e.pending.clone())
            .collect()
    }

    /// The pending transactions among `ids`, in request order; unknown ids are skipped.
    pub fn by_ids(&self, ids: &[Vec<u8>]) -> Vec<PendingTransaction> {
        ids.iter()
            .filter_map(|id| self.by_id.get(id))
            .filter_map(|seq| self.by_seq.get(seq))
            .map(|e| e.pending.clone())
            .collect()
    }

    /// The account's highest pending nonce, if it has any pending transaction.
    pub fn pending_nonce(&self, account: &[u8]) -> Option<u64> {
        self.account_nonces(account).next_back()
    }

    /// How many transactions of the account are pending.
    pub fn pending_count(&self, account: &[u8]) -> usize {
        self.account_nonces(account).count()
    }

    fn account_nonces(&self, account: &[u8]) -> impl DoubleEndedIterator<Item = u64> + '_ {
        let account = account.to_vec();
        self.nonces
            .range((account.clone(), 0)..=(account, u64::MAX))
            .map(|(_, nonce)| *nonce)
    }

    /// RC the account's pending transactions reserve here.
    pub fn reserved_rc(&self, account: &[u8]) -> u64 {
        self.resources
            .get(account)
            .map_or(0, |r| r.max_rc.saturating_sub(r.current_rc))
    }
}

impl Entry {
    pub fn new(pending: PendingTransaction, timestamp_ms: u64) -> Result<Self, MempoolError> {
        let transaction = pending
            .transaction
            .as_ref()
            .ok_or(MempoolError::MissingTransaction)?;
        if transaction.id.is_empty() {
            return Err(MempoolError::MissingTransaction);
        }
        let nonce_key = nonce_key(transaction)?;
        let header = transaction.header.as_ref().expect("checked by nonce_key");
        Ok(Self {
            payer: header.payer.clone(),
            rc_limit: header.rc_limit,
            nonce_key,
            timestamp_ms,
            pending,
        })
    }

    pub fn id(&self) -> &[u8] {
        self.pending
            .transaction
            .as_ref()
            .map_or(&[], |t| t.id.as_slice())
    }
}
