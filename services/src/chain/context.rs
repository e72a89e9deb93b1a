//! The execution context of blocks, transactions and contract calls: state access through a
//! [`StateSession`], the transaction's authorities, events, logs and resource meters.
//!
//! # Resources
//! Metered as the official chain meters them ([`super::resources`]). Without a
//! `compute_bandwidth_registry` in genesis (our devnets) fixed costs stand in for the registry's:
//! [`COMPUTE_PER_TRANSACTION`] + [`COMPUTE_PER_SIGNATURE`] per signature for the checks,
//! [`COMPUTE_PER_OPERATION`] per operation. Each account's RC is genesis
//! `max_account_resources` ([`DEFAULT_ACCOUNT_RC`] when absent) unless a contract overrides
//! `get_account_rc`. A read-only call (`read_contract`) of the native token costs
//! [`COMPUTE_PER_OPERATION`]; of a WASM contract, its ticks and system calls. Beyond
//! `read-compute-bandwidth-limit` ([`DEFAULT_READ_COMPUTE_LIMIT`]) it fails with -1013.

use std::collections::HashMap;

use koinos_protocol::BlockTopology;
use koinos_protocol::chain::{
    ComputeBandwidthRegistry, ContractMetadataObject, MaxAccountResources, Privilege,
    ResourceLimitData,
};
use koinos_protocol::pb::koinos::protocol::{Block, EventData, Operation, Transaction};
use prost::Message;

use super::error::{ChainError, ChainResult, code};
use super::genesis::{metadata_state_key, space, system_space};
use super::state::{StateSession, state_key};

pub const DEFAULT_ACCOUNT_RC: u64 = 1_000_000_000_000;
pub const COMPUTE_PER_TRANSACTION: u64 = 10_000;
pub const COMPUTE_PER_SIGNATURE: u64 = 5_000;
pub const COMPUTE_PER_OPERATION: u64 = 5_000;
/// `read-compute-bandwidth-limit`'s default, the official chain's.
pub const DEFAULT_READ_COMPUTE_LIMIT: u64 = 10_000_000;

/// Limits used when genesis has no `resource_limit_data` (the mainnet genesis values).
pub fn default_resource_limits() -> ResourceLimitData {
    ResourceLimitData {
        disk_storage_limit: 409_600,
        disk_storage_cost: 10,
        network_bandwidth_limit: 1_048_576,
        network_bandwidth_cost: 5,
        compute_bandwidth_limit: 100_000_000,
        compute_bandwidth_cost: 1,
    }
}

/// Resource usage of a transaction or block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub disk: u64,
    pub network: u64,
    pub compute: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.disk += other.disk;
        self.network += other.network;
        self.compute += other.compute;
    }

    pub fn rc(&self, limits: &ResourceLimitData) -> u64 {
        self.disk
            .saturating_mul(limits.disk_storage_cost)
            .saturating_add(self.network.saturating_mul(limits.network_bandwidth_cost))
            .saturating_add(self.compute.saturating_mul(limits.compute_bandwidth_cost))
    }

    /// Fails with the matching code when this usage exceeds the block limits.
    pub fn check_block_limits(&self, limits: &ResourceLimitData) -> ChainResult<()> {
        if self.network > limits.network_bandwidth_limit {
            return Err(ChainError::new(
                code::NETWORK_BANDWIDTH_LIMIT_EXCEEDED,
                "network bandwidth limit exceeded",
            ));
        }
        if self.compute > limits.compute_bandwidth_limit {
            return Err(ChainError::new(
                code::COMPUTE_BANDWIDTH_LIMIT_EXCEEDED,
                "compute bandwidth limit exceeded",
            ));
        }
        if self.disk > limits.disk_storage_limit {
            return Err(ChainError::new(
                code::DISK_STORAGE_LIMIT_EXCEEDED,
                "disk storage limit exceeded",
            ));
        }
        Ok(())
    }
}

/// Chain-wide values read once from the state (genesis metadata).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainParams {
    pub chain_id: Vec<u8>,
    pub genesis_key: Vec<u8>,
    pub limits: ResourceLimitData,
    pub account_rc: u64,
    /// Multihash code of block ids (0x12 sha2-256 is the only one supported).
    pub block_hash_code: u64,
    /// What each system call (and per-byte work) costs in compute, by name, from genesis
    /// `compute_bandwidth_registry`; `None` when genesis has none (see [`ChainParams::compute_cost`]).
    pub compute_registry: Option<HashMap<String, u64>>,
}

impl ChainParams {
    pub fn load(session: &StateSession) -> ChainResult<Self> {
        let read = |name: &str| session.get(&metadata_state_key(name));
        let chain_id = read("chain_id")?.unwrap_or_default();
        let genesis_key = read("genesis_key")?.unwrap_or_default();
        let limits = match read("resource_limit_data")? {
            Some(bytes) => ResourceLimitData::decode(bytes.as_slice())
                .map_err(|e| ChainError::internal(format!("bad resource_limit_data: {e}")))?,
            None => default_resource_limits(),
        };
        let account_rc = match read("max_account_resources")? {
            Some(bytes) => {
                MaxAccountResources::decode(bytes.as_slice())
                    .map_err(|e| ChainError::internal(format!("bad max_account_resources: {e}")))?
                    .value
            }
            None => DEFAULT_ACCOUNT_RC,
        };
        let block_hash_code = match read("block_hash_code")? {
            Some(bytes) => prost::encoding::decode_varint(&mut bytes.as_slice())
                .map_err(|e| ChainError::internal(format!("bad block_hash_code: {e}")))?,
            None => 0x12,
        };
        let compute_registry = match read("compute_bandwidth_registry")? {
            Some(bytes) => Some(
                ComputeBandwidthRegistry::decode(bytes.as_slice())
                    .map_err(|e| {
                        ChainError::internal(format!("bad compute_bandwidth_registry: {e}"))
                    })?
                    .entries
                    .into_iter()
                    .map(|entry| (entry.name, entry.compute))
                    .collect(),
            ),
            None => None,
        };
        Ok(Self {
            chain_id,
            genesis_key,
            limits,
            account_rc,
            block_hash_code,
            compute_registry,
        })
    }

    /// The compute cost named `name` in the registry. A registry without the name reverts as
    /// the official chain does ("unable to find compute bandwidth for ..."); a genesis without
    /// any registry (our native-token devnets) charges nothing beyond VM ticks.
    pub fn compute_cost(&self, name: &str) -> ChainResult<u64> {
        match &self.compute_registry {
            None => Ok(0),
            Some(registry) => registry.get(name).copied().ok_or_else(|| {
                ChainError::new(code::REVERSION, "unable to find compute bandwidth for ${t}")
                    .with_param("t", name)
            }),
        }
    }
}

/// A contract call in progress: who runs, with what privilege, called how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFrame {
    pub contract_id: Vec<u8>,
    pub privilege: Privilege,
    pub entry_point: u32,
    pub args: Vec<u8>,
}

/// Where a call runs: in a transaction (may write) or a read-only query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Transaction,
    ReadOnly,
}

/// State plus everything a system call or native contract needs while applying.
pub struct ApplyContext<'p> {
    pub session: StateSession,
    pub params: &'p ChainParams,
    pub mode: Mode,
    /// Addresses whose signatures the current transaction carries.
    pub signers: Vec<Vec<u8>>,
    /// Events of the current transaction (or read call).
    pub events: Vec<EventData>,
    /// Next event sequence number within the block.
    pub event_sequence: u32,
    pub logs: Vec<String>,
    /// Compute used so far in this context (the block, a pending transaction or a read call);
    /// a transaction's figure is what it added ([`super::resources`]).
    pub compute: u64,
    /// Disk used so far: the signed sum of every write's delta, as the official meter keeps it.
    pub disk: i64,
    /// Network bandwidth used so far.
    pub network: u64,
    /// Compute allowed to [`ApplyContext::use_compute`]: `read-compute-bandwidth-limit` in a
    /// read-only call; none in a transaction (its RC limit and the block limits bound it).
    pub compute_limit: Option<u64>,
    /// The payer's RC session while a transaction runs: every resource used is charged to it
    /// at its cost; beyond `rc_limit` the use fails with `insufficient rc` (104).
    pub rc: Option<super::resources::RcSession>,
    /// The block's resource limits and costs (`get_resource_limits` at the block's start).
    pub limits: ResourceLimitData,
    /// Contracts being called, innermost last.
    pub frames: Vec<CallFrame>,
    /// The transaction and operation being applied (none in a read-only call).
    pub transaction: Option<Transaction>,
    pub operation: Option<Operation>,
    /// The block being applied (none for pending transactions and read-only calls).
    pub block: Option<Block>,
    /// The state node contracts see as the head (`get_head_info`): the block being applied,
    /// else the head block.
    pub head: BlockTopology,
}

impl<'p> ApplyContext<'p> {
    pub fn new(session: StateSession, params: &'p ChainParams, mode: Mode) -> Self {
        Self {
            session,
            params,
            mode,
            signers: Vec::new(),
            events: Vec::new(),
            event_sequence: 0,
            logs: Vec::new(),
            compute: 0,
            disk: 0,
            network: 0,
            compute_limit: None,
            rc: None,
            limits: params.limits,
            frames: Vec::new(),
            transaction: None,
            operation: None,
            block: None,
            head: BlockTopology::default(),
        }
    }

    /// Sets what contracts see as the head: `block` being applied, or the head block.
    pub fn at(mut self, head: BlockTopology, block: Option<Block>) -> Self {
        self.head = head;
        self.block = block;
        self
    }

    /// Compute still available: up to the read limit in a read-only call, else up to the
    /// block's compute limit and what the payer's remaining RC pays for.
    pub fn compute_remaining(&self) -> u64 {
        let left = self.compute_limit().saturating_sub(self.compute);
        match (&self.rc, self.limits.compute_bandwidth_cost) {
            (Some(rc), cost) if cost > 0 => left.min(rc.remaining() / cost),
            _ => left,
        }
    }

    /// Meters `ticks` of compute, as the official resource meter does: beyond the compute
    /// limit (the read limit, or the block's) it fails with `compute_bandwidth_limit_exceeded`
    /// (-1013); beyond what the payer's RC pays for it reverts with `insufficient rc`.
    pub fn use_compute(&mut self, ticks: u64) -> ChainResult<()> {
        let used = self.compute.saturating_add(ticks);
        if used > self.compute_limit() {
            return Err(ChainError::new(
                code::COMPUTE_BANDWIDTH_LIMIT_EXCEEDED,
                "compute bandwidth limit exceeded",
            ));
        }
        let cost = self.limits.compute_bandwidth_cost;
        self.charge_rc(ticks, cost)?;
        self.compute = used;
        Ok(())
    }

    fn compute_limit(&self) -> u64 {
        self.compute_limit
            .unwrap_or(self.limits.compute_bandwidth_limit)
    }

    /// Charges `amount` units at `cost` RC each to the payer's session, if one is open.
    fn charge_rc(&mut self, amount: u64, cost: u64) -> ChainResult<()> {
        match &mut self.rc {
            Some(rc) => rc.use_rc(i128::from(amount) * i128::from(cost)),
            None => Ok(()),
        }
    }

    /// Meters network bandwidth: beyond the block's limit -1012, beyond the payer's RC 104.
    pub fn use_network(&mut self, bytes: u64) -> ChainResult<()> {
        let used = self.network.saturating_add(bytes);
        if used > self.limits.network_bandwidth_limit {
            return Err(ChainError::new(
                code::NETWORK_BANDWIDTH_LIMIT_EXCEEDED,
                "network bandwidth limit exceeded",
            ));
        }
        let cost = self.limits.network_bandwidth_cost;
        self.charge_rc(bytes, cost)?;
        self.network = used;
        Ok(())
    }

    /// Meters a write's disk delta (negative when it frees bytes, which refunds RC): beyond the
    /// block's limit -1014, beyond the payer's RC 104.
    pub fn use_disk(&mut self, delta: i64) -> ChainResult<()> {
        let used = self.disk.saturating_add(delta);
        if used > i64::try_from(self.limits.disk_storage_limit).unwrap_or(i64::MAX) {
            return Err(ChainError::new(
                code::DISK_STORAGE_LIMIT_EXCEEDED,
                "disk storage limit exceeded",
            ));
        }
        if let Some(rc) = &mut self.rc {
            rc.use_rc(i128::from(delta) * i128::from(self.limits.disk_storage_cost))?;
        }
        self.disk = used;
        Ok(())
    }

    /// Writes an object, charging its disk delta as the official state node computes it: a new
    /// key costs its (serialized database key) bytes and the value's, an existing one the
    /// change in the value's size.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> ChainResult<()> {
        self.check_writable()?;
        let delta = match self.session.get(&key)? {
            Some(old) => value.len() as i64 - old.len() as i64,
            None => (key.len() + value.len()) as i64,
        };
        self.use_disk(delta)?;
        self.session.put(key, value);
        Ok(())
    }

    /// Removes an object, refunding its key and value bytes when it existed.
    pub fn remove(&mut self, key: Vec<u8>) -> ChainResult<()> {
        self.check_writable()?;
        if let Some(old) = self.session.get(&key)? {
            self.use_disk(-((key.len() + old.len()) as i64))?;
        }
        self.session.remove(key)
    }

    fn check_writable(&self) -> ChainResult<()> {
        match self.mode {
            Mode::Transaction => Ok(()),
            Mode::ReadOnly => Err(ChainError::new(
                code::READ_ONLY_CONTEXT,
                "cannot write state in a read-only context",
            )),
        }
    }

    /// `check_authority`: the account signed the current transaction.
    pub fn has_authority(&self, account: &[u8]) -> bool {
        self.signers.iter().any(|s| s == account)
    }

    /// `check_system_authority`: the genesis key signed the current transaction.
    pub fn has_system_authority(&self) -> bool {
        self.has_authority(&self.params.genesis_key)
    }

    pub fn emit_event(&mut self, source: &[u8], name: &str, data: Vec<u8>, impacted: Vec<Vec<u8>>) {
        let sequence = self.event_sequence;
        self.event_sequence += 1;
        self.events.push(EventData {
            sequence,
            source: source.to_vec(),
            name: name.to_string(),
            data,
            impacted,
        });
    }

    pub fn contract_bytecode(&self, contract_id: &[u8]) -> ChainResult<Option<Vec<u8>>> {
        self.session.get(&state_key(
            &system_space(space::CONTRACT_BYTECODE),
            contract_id,
        ))
    }

    pub fn contract_metadata(
        &self,
        contract_id: &[u8],
    ) -> ChainResult<Option<ContractMetadataObject>> {
        let key = state_key(&system_space(space::CONTRACT_METADATA), contract_id);
        match self.session.get(&key)? {
            Some(bytes) => ContractMetadataObject::decode(bytes.as_slice())
                .map(Some)
                .map_err(|e| ChainError::internal(format!("bad contract metadata: {e}"))),
            None => Ok(None),
        }
    }
}
