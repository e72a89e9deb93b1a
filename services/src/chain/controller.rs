//! The chain's domain core: one [`Chain`] owns the state database and answers every chain
//! request without any messaging types, so it is testable on its own.

use std::path::Path;

use koinos_protocol::BlockTopology;
use koinos_protocol::chain::{GenesisData, ResourceLimitData};
use koinos_protocol::pb::koinos::protocol::{Block, BlockReceipt, Transaction};

use super::block::{AppliedBlock, BlockMode, BlockOutcome, apply_block};
use super::context::{
    ApplyContext, COMPUTE_PER_OPERATION, ChainParams, DEFAULT_READ_COMPUTE_LIMIT, Mode, Usage,
};
use super::error::{ChainError, ChainResult, code};
use super::fork::{BlockInfo, ForkAlgorithm};
use super::genesis::genesis_delta;
use super::genesis::{space, system_space};
use super::state::{Delta, StateDb, state_key, state_merkle_root};
use super::transaction::{
    AppliedTransaction, account_nonce, apply_transaction, call_contract, check_required_fields,
    nonce_account,
};
use koinos_protocol::genesis::chain_id;

/// Id of the genesis root block (0x1220 followed by 32 zero bytes); block 1's `previous`.
pub use koinos_protocol::ids::zero_block_id;

/// What committing a block changed, for the broadcasts.
#[derive(Debug, Clone)]
pub struct Committed {
    pub block: Block,
    pub receipt: BlockReceipt,
    /// The block became the head.
    pub is_head: bool,
    pub head: BlockInfo,
    /// The last irreversible block after the commit.
    pub lib: BlockInfo,
    /// Set when the LIB advanced with this block.
    pub new_lib: Option<BlockInfo>,
    pub fork_heads: Vec<BlockInfo>,
}

/// The chain state machine.
pub struct Chain {
    state: StateDb,
    params: ChainParams,
    fork_algorithm: ForkAlgorithm,
    /// `read-compute-bandwidth-limit`: the compute a `read_contract` call may use.
    read_compute_limit: u64,
}

pub fn topology(info: &BlockInfo) -> BlockTopology {
    BlockTopology {
        id: info.id.clone(),
        height: info.height,
        previous: info.previous.clone(),
    }
}

impl Chain {
    /// Opens the state under `dir` (`basedir/chain/blockchain`), initialising it from `genesis`
    /// when new; an existing state built from another genesis is refused.
    pub fn open(
        dir: &Path,
        genesis: &GenesisData,
        fork_algorithm: ForkAlgorithm,
    ) -> ChainResult<Self> {
        let state = StateDb::open(&dir.join("state.redb"), || {
            let delta = genesis_delta(genesis);
            let info = BlockInfo {
                id: zero_block_id(),
                state_merkle_root: state_merkle_root(&delta),
                ..BlockInfo::default()
            };
            Ok((info, delta))
        })?;
        let params = ChainParams::load(&state.session(&state.root().id.clone())?)?;
        if params.chain_id != chain_id(genesis) {
            return Err(ChainError::new(
                code::UNEXPECTED_STATE,
                "the state database was created from a different genesis (chain id mismatch)",
            ));
        }
        Ok(Self {
            state,
            params,
            fork_algorithm,
            read_compute_limit: DEFAULT_READ_COMPUTE_LIMIT,
        })
    }

    /// Sets `read-compute-bandwidth-limit` (default [`DEFAULT_READ_COMPUTE_LIMIT`]).
    pub fn set_read_compute_limit(&mut self, limit: u64) {
        self.read_compute_limit = limit;
    }

    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    pub fn chain_id(&self) -> &[u8] {
        &self.params.chain_id
    }

    pub fn head(&self) -> &BlockInfo {
        self.state.head()
    }

    pub fn lib(&self) -> &BlockInfo {
        self.state.root()
    }

    pub fn block_info(&self, id: &[u8]) -> Option<&BlockInfo> {
        self.state.info(id)
    }

    /// Fork heads, height descending, the head first on a tie.
    pub fn fork_heads(&self) -> Vec<BlockInfo> {
        let head = self.head().id.clone();
        let mut heads: Vec<BlockInfo> = self.state.fork_heads().into_iter().cloned().collect();
        heads.sort_by(|a, b| {
            b.height
                .cmp(&a.height)
                .then((b.id == head).cmp(&(a.id == head)))
        });
        heads
    }

    /// Validates and applies `block` without finalizing it (the caller stores it in block_store
    /// first, then calls [`Chain::commit`]).
    pub fn prepare(
        &self,
        block: &Block,
        now_ms: u64,
        mode: BlockMode,
    ) -> ChainResult<BlockOutcome> {
        apply_block(&self.state, &self.params, block, now_ms, mode)
    }

    /// Finalizes a prepared block: fork choice, commit up to the LIB, prune.
    pub fn commit(&mut self, applied: AppliedBlock) -> ChainResult<Committed> {
        let AppliedBlock {
            block,
            receipt,
            info,
            delta,
        } = applied;
        let update = self
            .state
            .add_node(info.clone(), delta, self.fork_algorithm)?;
        Ok(Committed {
            block,
            receipt,
            is_head: update.is_head,
            head: self.head().clone(),
            lib: self.lib().clone(),
            new_lib: update.new_lib,
            fork_heads: self.fork_heads(),
        })
    }

    /// `prepare` then `commit`; `None` when the block was already known.
    pub fn submit_block(&mut self, block: &Block, now_ms: u64) -> ChainResult<Option<Committed>> {
        match self.prepare(block, now_ms, BlockMode::Submit)? {
            BlockOutcome::Applied(applied) => self.commit(*applied).map(Some),
            BlockOutcome::Known | BlockOutcome::FailedTransactions(_) => Ok(None),
        }
    }

    /// Applies `tx` on an anonymous node over the head (nothing is kept). `pending_nonce`, the
    /// mempool's pending nonce of the transaction's nonce account when it has one, stands in
    /// for the chain's nonce (docs/protocol.md "Nonces").
    pub fn apply_pending_transaction(
        &self,
        tx: &Transaction,
        pending_nonce: Option<&[u8]>,
    ) -> ChainResult<AppliedTransaction> {
        let session = self.state.session(&self.head().id.clone())?;
        let mut ctx = ApplyContext::new(session, &self.params, Mode::Transaction)
            .at(self.head_topology(), None);
        if let (Some(nonce), Some(header)) = (pending_nonce, &tx.header) {
            let key = state_key(
                &system_space(space::TRANSACTION_NONCE),
                &nonce_account(header),
            );
            ctx.session.put(key, nonce.to_vec());
        }
        // A transaction without its required fields is refused before it is applied; one that
        // fails once applied carries its (empty) receipt logs, as the official chain's does.
        check_required_fields(tx)?;
        // The meter's limits, as for a block (that call is not the transaction's).
        ctx.limits = super::wasm::get_resource_limits(&mut ctx)?;
        ctx.compute = 0;
        let mut applied = ctx
            .charge("apply_transaction")
            .and_then(|()| apply_transaction(&mut ctx, tx))
            .map_err(ChainError::with_receipt_logs)?;
        // The meter's totals minus the receipt's own figures.
        applied.system = Usage {
            disk: u64::try_from(ctx.disk)
                .unwrap_or(0)
                .saturating_sub(applied.usage.disk),
            network: ctx.network - applied.usage.network,
            compute: ctx.compute - applied.usage.compute,
        };
        Ok(applied)
    }

    /// Runs a read-only contract call on the head state; returns (result, logs).
    pub fn read_contract(
        &self,
        contract_id: &[u8],
        entry_point: u32,
        args: &[u8],
    ) -> ChainResult<(Vec<u8>, Vec<String>)> {
        let session = self.state.session(&self.head().id.clone())?;
        let mut ctx =
            ApplyContext::new(session, &self.params, Mode::ReadOnly).at(self.head_topology(), None);
        ctx.compute_limit = Some(self.read_compute_limit);
        // The native token has no tick meter: a read of it costs what a call operation does. A
        // WASM contract costs its ticks and system calls, as on the official chain.
        let native = ctx.contract_bytecode(contract_id)?.as_deref()
            == Some(super::token::NATIVE_TOKEN_BYTECODE);
        let flat = if native { COMPUTE_PER_OPERATION } else { 0 };
        // The official read is a `call` system call, charged its registry entry.
        let result = ctx
            .use_compute(flat)
            .and_then(|()| ctx.charge("call"))
            .and_then(|()| call_contract(&mut ctx, contract_id, entry_point, args));
        match result {
            Ok(result) => Ok((result, ctx.logs)),
            // A failed read carries the logs written before the failure.
            Err(e) => Err(e.with_logs(ctx.logs)),
        }
    }

    /// The account's nonce bytes (a serialized `value_type`) at the head.
    pub fn account_nonce(&self, account: &[u8]) -> ChainResult<Vec<u8>> {
        let session = self.state.session(&self.head().id.clone())?;
        account_nonce(
            &ApplyContext::new(session, &self.params, Mode::ReadOnly),
            account,
        )
    }

    /// The account's RC at the head: `get_account_rc`, through the system call table (a
    /// resources contract decides; else genesis `max_account_resources`).
    pub fn account_rc(&self, account: &[u8]) -> ChainResult<u64> {
        let mut ctx = self.head_context()?;
        super::wasm::get_account_rc(&mut ctx, account)
    }

    /// The resource limits at the head: `get_resource_limits`, as [`Chain::account_rc`].
    pub fn resource_limits(&self) -> ChainResult<ResourceLimitData> {
        let mut ctx = self.head_context()?;
        super::wasm::get_resource_limits(&mut ctx)
    }

    /// A read-only context at the head, bounded by `read-compute-bandwidth-limit`.
    fn head_context(&self) -> ChainResult<ApplyContext<'_>> {
        let session = self.state.session(&self.head().id.clone())?;
        let mut ctx =
            ApplyContext::new(session, &self.params, Mode::ReadOnly).at(self.head_topology(), None);
        ctx.compute_limit = Some(self.read_compute_limit);
        Ok(ctx)
    }

    /// `read-compute-bandwidth-limit`.
    pub fn read_compute_limit(&self) -> u64 {
        self.read_compute_limit
    }

    /// The head block's topology.
    pub fn head_topology(&self) -> koinos_protocol::BlockTopology {
        let head = self.head();
        koinos_protocol::BlockTopology {
            id: head.id.clone(),
            height: head.height,
            previous: head.previous.clone(),
        }
    }

    /// A read session over the head state.
    pub fn head_session(&self) -> ChainResult<super::state::StateSession> {
        self.state.session(&self.head().id.clone())
    }

    /// Reads one object at the head state.
    pub fn get_object(&self, state_key: &[u8]) -> ChainResult<Option<Vec<u8>>> {
        self.state.session(&self.head().id.clone())?.get(state_key)
    }

    /// Catch-up (docs/protocol.md "Start-up and catch-up") of one block from block_store: with
    /// `verify` (`verify-blocks`) it is re-executed with every check of `submit_block` (id,
    /// merkle roots, signature, transactions); without, its receipt's state delta is applied
    /// ([`Chain::index_block`]). `false` when it was known.
    pub fn catch_up_block(
        &mut self,
        block: &Block,
        receipt: Option<&BlockReceipt>,
        verify: bool,
        now_ms: u64,
    ) -> ChainResult<bool> {
        match receipt {
            _ if verify => Ok(self.submit_block(block, now_ms)?.is_some()),
            Some(receipt) => self.index_block(block, receipt),
            None => Err(ChainError::new(
                code::INDEXER_FAILURE,
                "block store item without a receipt",
            )),
        }
    }

    /// Catch-up without `verify-blocks`: adds a block from block_store using its receipt's
    /// state delta instead of re-executing it, so its id, merkle roots and signatures are not
    /// checked (as in the official chain); the delta must hash to the receipt's state merkle
    /// root.
    pub fn index_block(&mut self, block: &Block, receipt: &BlockReceipt) -> ChainResult<bool> {
        if self.state.contains(&block.id)
            || block
                .header
                .as_ref()
                .is_some_and(|h| h.height <= self.lib().height)
        {
            return Ok(false);
        }
        let header = block.header.clone().unwrap_or_default();
        let parent = self.state.info(&header.previous).ok_or_else(|| {
            ChainError::new(
                code::INDEXER_FAILURE,
                "block store returned a block whose parent is unknown",
            )
        })?;
        if header.height != parent.height + 1 {
            return Err(ChainError::new(
                code::INDEXER_FAILURE,
                "block store returned an unexpected height",
            ));
        }
        let mut delta = Delta::new();
        for entry in &receipt.state_delta_entries {
            let space = entry.object_space.clone().unwrap_or_default();
            let space = koinos_protocol::chain::ObjectSpace {
                system: space.system,
                zone: space.zone,
                id: space.id,
            };
            delta.insert(
                super::state::state_key(&space, &entry.key),
                entry.value.clone(),
            );
        }
        let root = state_merkle_root(&delta);
        if root != receipt.state_merkle_root {
            return Err(ChainError::new(
                code::STATE_MERKLE_MISMATCH,
                "receipt state delta does not match its state merkle root",
            ));
        }
        let info = BlockInfo {
            id: block.id.clone(),
            previous: header.previous,
            height: header.height,
            timestamp: header.timestamp,
            signer: header.signer,
            state_merkle_root: root,
        };
        self.state.add_node(info, delta, self.fork_algorithm)?;
        Ok(true)
    }

    /// `false` skips fsync per block (bulk catch-up); set back to `true` afterwards.
    pub fn set_durable(&mut self, durable: bool) -> ChainResult<()> {
        self.state.set_durable(durable)
    }

    /// Usage totals of a transaction outside a block (`system_*` of `transaction_accepted`).
    pub fn system_usage_of(_applied: &AppliedTransaction) -> Usage {
        // No block-level work surrounds a single transaction, so its system usage is zero.
        Usage::default()
    }
}
