//! Chain errors: a Koinos `error_code` plus a message, logs and the message's format parameters,
//! rendered into `rpc.error_status` by the RPC handler (docs/protocol.md "RPC envelope and
//! errors").
//!
//! Messages are the official chain's: written as templates whose `${name}` placeholders are
//! replaced by the parameter of that name as it is added ([`ChainError::with_param`]); every
//! parameter also goes into the `data` JSON (strings as JSON strings, integers as numbers).

use std::collections::BTreeMap;

/// `koinos.chain.error_code` values used by this chain (koinos-proto's error.proto).
pub mod code {
    pub const REVERSION: i32 = 1;
    pub const INTERNAL_ERROR: i32 = 100;
    pub const SYSTEM_AUTHORIZATION_FAILURE: i32 = 101;
    pub const INVALID_CONTRACT: i32 = 102;
    pub const INSUFFICIENT_PRIVILEGES: i32 = 103;
    pub const INSUFFICIENT_RC: i32 = 104;
    pub const INSUFFICIENT_RETURN_BUFFER: i32 = 105;
    pub const UNKNOWN_THUNK: i32 = 106;
    pub const UNKNOWN_OPERATION: i32 = 107;
    pub const READ_ONLY_CONTEXT: i32 = 108;
    pub const FAILURE: i32 = -1;
    pub const FIELD_NOT_FOUND: i32 = -100;
    pub const UNKNOWN_HASH_CODE: i32 = -101;
    pub const UNKNOWN_DSA: i32 = -102;
    pub const UNKNOWN_SYSTEM_CALL: i32 = -103;
    pub const OPERATION_NOT_FOUND: i32 = -104;
    pub const AUTHORIZATION_FAILURE: i32 = -200;
    pub const INVALID_NONCE: i32 = -201;
    pub const INVALID_SIGNATURE: i32 = -202;
    pub const MALFORMED_BLOCK: i32 = -203;
    pub const MALFORMED_TRANSACTION: i32 = -204;
    pub const BLOCK_RESOURCE_FAILURE: i32 = -205;
    pub const PENDING_TRANSACTION_LIMIT_EXCEEDED: i32 = -206;
    pub const UNEXPECTED_STATE: i32 = -1001;
    pub const MISSING_REQUIRED_ARGUMENTS: i32 = -1002;
    pub const UNKNOWN_PREVIOUS_BLOCK: i32 = -1003;
    pub const UNEXPECTED_HEIGHT: i32 = -1004;
    pub const BLOCK_STATE_ERROR: i32 = -1005;
    pub const STATE_MERKLE_MISMATCH: i32 = -1006;
    pub const RPC_FAILURE: i32 = -1008;
    pub const PENDING_STATE_ERROR: i32 = -1009;
    pub const TIMESTAMP_OUT_OF_BOUNDS: i32 = -1010;
    pub const INDEXER_FAILURE: i32 = -1011;
    pub const NETWORK_BANDWIDTH_LIMIT_EXCEEDED: i32 = -1012;
    pub const COMPUTE_BANDWIDTH_LIMIT_EXCEEDED: i32 = -1013;
    pub const DISK_STORAGE_LIMIT_EXCEEDED: i32 = -1014;
    pub const PRE_IRREVERSIBILITY_BLOCK: i32 = -1015;
}

/// A failed chain operation. Positive codes are reversions (the transaction is still included,
/// marked reverted), negative codes are failures (the transaction or block is rejected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ChainError {
    pub code: i32,
    pub message: String,
    /// Logs collected before the error; `Some` (even empty) where the official chain attaches
    /// them: a transaction or block that got as far as its receipt, and `read_contract`.
    pub logs: Option<Vec<String>>,
    /// The message's format parameters, rendered into `error_status.data` (sorted keys).
    pub params: BTreeMap<String, serde_json::Value>,
    /// The failing transaction inside a block, so the caller can publish `transaction.fail`.
    pub transaction_id: Option<Vec<u8>>,
}

impl ChainError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            logs: None,
            params: BTreeMap::new(),
            transaction_id: None,
        }
    }

    /// Adds a format parameter (e.g. `block_id`) to the error data and substitutes it for
    /// `${name}` in the message.
    pub fn with_param(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        let value = value.into();
        let text = match &value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.message = self.message.replace(&format!("${{{name}}}"), &text);
        self.params.insert(name.to_string(), value);
        self
    }

    /// A `-1002` error for an absent field, worded and parameterized as the official chain's
    /// `template` (e.g. `"missing expected field in block: ${field}"`), `key` naming it.
    pub fn missing_field(template: &str, key: &str, field: &str) -> Self {
        Self::new(code::MISSING_REQUIRED_ARGUMENTS, template).with_param(key, field)
    }

    /// Attaches `logs` (replacing any).
    pub fn with_logs(mut self, logs: Vec<String>) -> Self {
        self.logs = Some(logs);
        self
    }

    /// Attaches empty logs unless some are attached already.
    pub fn with_receipt_logs(mut self) -> Self {
        self.logs.get_or_insert_with(Vec::new);
        self
    }

    pub fn is_reversion(&self) -> bool {
        self.code > 0
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(code::INTERNAL_ERROR, message.to_string())
    }

    /// The `error_status.data` JSON string: `code`, `logs` if attached, then the parameters.
    pub fn data_json(&self) -> String {
        // A BTreeMap keeps the keys sorted whatever serde_json's features are.
        let mut map = BTreeMap::<String, serde_json::Value>::new();
        map.insert("code".into(), self.code.into());
        if let Some(logs) = &self.logs {
            map.insert("logs".into(), logs.clone().into());
        }
        for (name, value) in &self.params {
            map.insert(name.clone(), value.clone());
        }
        serde_json::to_string(&map).unwrap_or_default()
    }
}

pub type ChainResult<T> = Result<T, ChainError>;

/// Bytes as the official chain writes them in messages and error data: `0x` + lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// An address or contract id as the official chain writes it in messages: base58.
pub fn to_base58(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}

impl From<redb::Error> for ChainError {
    fn from(e: redb::Error) -> Self {
        ChainError::new(
            code::BLOCK_STATE_ERROR,
            format!("state database error: {e}"),
        )
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for ChainError {
            fn from(e: $t) -> Self { ChainError::from(redb::Error::from(e)) }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
