//! Block validation and application (docs/protocol.md "Applying a block"), producing the
//! block's state delta and receipt.

use koinos_protocol::chain::{
    ConsumeBlockResourcesArguments, ConsumeBlockResourcesResult, ProcessBlockSignatureArguments,
    ProcessBlockSignatureResult, SystemCallId,
};
use koinos_protocol::crypto::sha256_multihash;
use koinos_protocol::pb::koinos::protocol::{Block, BlockReceipt};
use prost::Message;

use super::context::{ApplyContext, ChainParams, Mode, Usage};
use super::controller::zero_block_id;
use super::error::{ChainError, ChainResult, code, to_base58, to_hex};
use super::fork::BlockInfo;
use super::genesis::metadata_state_key;
use super::state::{Delta, StateDb, state_merkle_root};
use super::transaction::{apply_transaction, check_required_fields, delta_entries, multihash_code};
use super::wasm;

/// Blocks may be at most this far (ms) in the future.
pub const MAX_FUTURE_MS: u64 = 5_000;

/// Transaction merkle root: per transaction, sha256(header bytes) then sha256(all signatures).
pub use koinos_protocol::merkle::transaction_merkle_root;

/// Checks the fields every block and its transactions need (-1002), in the official chain's
/// order and words (a missing signature is named `signature_data`).
pub fn check_block_fields(block: &Block) -> ChainResult<()> {
    const IN_BLOCK: &str = "missing expected field in block: ${field}";
    const IN_HEADER: &str = "missing expected field in block header: ${field}";
    if block.id.is_empty() {
        return Err(ChainError::missing_field(IN_BLOCK, "field", "id"));
    }
    let missing = |template: &str, field: &str| {
        Err(ChainError::missing_field(template, "field", field)
            .with_param("block_id", to_hex(&block.id)))
    };
    let Some(header) = &block.header else {
        return missing(IN_BLOCK, "header");
    };
    let checks = [
        (header.previous.is_empty(), IN_HEADER, "previous"),
        (header.height == 0, IN_HEADER, "height"),
        (header.timestamp == 0, IN_HEADER, "timestamp"),
        (
            header.previous_state_merkle_root.is_empty(),
            IN_HEADER,
            "previous_state_merkle_root",
        ),
        (
            header.transaction_merkle_root.is_empty(),
            IN_HEADER,
            "transaction_merkle_root",
        ),
        (block.signature.is_empty(), IN_BLOCK, "signature_data"),
    ];
    if let Some((_, template, field)) = checks.iter().find(|(is_missing, ..)| *is_missing) {
        return missing(template, field);
    }
    block
        .transactions
        .iter()
        .try_for_each(check_required_fields)
}

/// How a failing transaction is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// `submit_block`: the first failing transaction fails the block.
    Submit,
    /// `propose_block`: failing transactions are collected and the block is not applied.
    Propose,
}

/// A validated, applied block that is not yet finalized in the fork database.
#[derive(Debug, Clone)]
pub struct AppliedBlock {
    pub block: Block,
    pub receipt: BlockReceipt,
    pub info: BlockInfo,
    pub delta: Delta,
}

/// Outcome of applying a block.
#[derive(Debug)]
pub enum BlockOutcome {
    /// Already known, or the LIB itself: nothing to do, no receipt.
    Known,
    Applied(Box<AppliedBlock>),
    /// `propose_block` only: these transaction indices failed.
    FailedTransactions(Vec<u32>),
}

/// The block's own checks, as the official `apply_block` makes them before its state: its id is
/// the hash of its header (-203), and the transaction merkle root has the block hash code and
/// matches (-203). The signature is checked on the block's state ([`process_block_signature`]).
pub fn verify_block(params: &ChainParams, block: &Block) -> ChainResult<()> {
    let header = block.header.clone().unwrap_or_default();
    if params.block_hash_code != 0x12 {
        return Err(ChainError::new(
            code::UNKNOWN_HASH_CODE,
            "unsupported block hash code",
        ));
    }
    if block.id != sha256_multihash(&header.encode_to_vec()) {
        return Err(ChainError::new(
            code::MALFORMED_BLOCK,
            "block contains an invalid block id",
        ));
    }
    let root_code = multihash_code(&header.transaction_merkle_root);
    if root_code != params.block_hash_code {
        return Err(ChainError::new(
            code::MALFORMED_BLOCK,
            "unexpected transaction merkle root hash code - was: ${t}, expected: ${e}",
        )
        .with_param("t", root_code)
        .with_param("e", params.block_hash_code));
    }
    if header.transaction_merkle_root != transaction_merkle_root(&block.transactions) {
        return Err(ChainError::new(
            code::MALFORMED_BLOCK,
            "transaction merkle root does not match",
        ));
    }
    Ok(())
}

/// The `process_block_signature` system call, on the block's state as the official chain makes
/// it: through the system call table, so a contract that overrides it (mainnet's pob) decides;
/// the default thunk wants the genesis key's signature. False is -202.
fn process_block_signature(ctx: &mut ApplyContext<'_>, block: &Block) -> ChainResult<()> {
    let args = ProcessBlockSignatureArguments {
        digest: block.id.clone(),
        header: block.header.clone(),
        signature: block.signature.clone(),
    };
    let result = wasm::system_call(
        ctx,
        SystemCallId::ProcessBlockSignature as u32,
        &args.encode_to_vec(),
    )?;
    let accepted = ProcessBlockSignatureResult::decode(result.as_slice()).is_ok_and(|r| r.value);
    if !accepted {
        return Err(ChainError::new(
            code::INVALID_SIGNATURE,
            "failed to process block signature",
        ));
    }
    Ok(())
}

/// The meter's totals.
fn ctx_usage(ctx: &ApplyContext<'_>) -> Usage {
    Usage {
        disk: u64::try_from(ctx.disk).unwrap_or(0),
        network: ctx.network,
        compute: ctx.compute,
    }
}

/// What the official `apply_block` charges for its own checks, through system calls: the
/// block id's hash, each transaction's header and signatures' hashes, the transaction merkle
/// root, and the network bandwidth of the block's own bytes.
fn charge_block_checks(ctx: &mut ApplyContext<'_>, block: &Block) -> ChainResult<()> {
    let header = block.header.clone().unwrap_or_default();
    ctx.charge_sha256(header.encoded_len())?;
    let mut transaction_bytes = 0;
    for tx in &block.transactions {
        transaction_bytes += tx.encoded_len();
        ctx.charge_sha256(tx.header.as_ref().map_or(0, Message::encoded_len))?;
        ctx.charge_sha256(tx.signatures.iter().map(Vec::len).sum())?;
    }
    ctx.use_network((block.encoded_len() - transaction_bytes) as u64)?;
    wasm::charge_verify_merkle_root(
        ctx,
        &header.transaction_merkle_root,
        2 * block.transactions.len(),
    )?;
    // The hash of the header the signature is checked against.
    ctx.charge_sha256(header.encoded_len())
}

/// `consume_block_resources`, through the system call table (a resources contract decides).
fn consume_block_resources(ctx: &mut ApplyContext<'_>, usage: Usage) -> ChainResult<bool> {
    let args = ConsumeBlockResourcesArguments {
        disk_storage_consumed: usage.disk,
        network_bandwidth_consumed: usage.network,
        compute_bandwidth_consumed: usage.compute,
    };
    let result = wasm::system_call(
        ctx,
        SystemCallId::ConsumeBlockResources as u32,
        &args.encode_to_vec(),
    )?;
    Ok(ConsumeBlockResourcesResult::decode(result.as_slice()).is_ok_and(|r| r.value))
}

/// Validates `block` against the fork database and applies it on its parent's state.
pub fn apply_block(
    state: &StateDb,
    params: &ChainParams,
    block: &Block,
    now_ms: u64,
    mode: BlockMode,
) -> ChainResult<BlockOutcome> {
    check_block_fields(block)?;
    if state.contains(&block.id) {
        return Ok(BlockOutcome::Known);
    }
    let header = block.header.clone().unwrap_or_default();
    let lib = state.root();
    let Some(parent) = state.info(&header.previous) else {
        if header.height < lib.height {
            return Err(ChainError::new(
                code::PRE_IRREVERSIBILITY_BLOCK,
                "block is prior to irreversibility",
            ));
        }
        return Err(ChainError::new(
            code::UNKNOWN_PREVIOUS_BLOCK,
            "unknown previous block",
        ));
    };
    if parent.id == zero_block_id() && header.height != 1 {
        return Err(ChainError::new(
            code::UNEXPECTED_HEIGHT,
            "first block must have height of 1",
        ));
    }
    if header.height != parent.height + 1 {
        return Err(ChainError::new(
            code::UNEXPECTED_HEIGHT,
            "expected block height of ${a}, was ${b}",
        )
        .with_param("a", parent.height + 1)
        .with_param("b", header.height));
    }
    if header.timestamp > now_ms + MAX_FUTURE_MS {
        return Err(ChainError::new(
            code::TIMESTAMP_OUT_OF_BOUNDS,
            "block timestamp is too far in the future",
        ));
    }
    if header.timestamp <= parent.timestamp {
        return Err(ChainError::new(
            code::TIMESTAMP_OUT_OF_BOUNDS,
            "block timestamp is too old",
        ));
    }
    if header.previous_state_merkle_root != parent.state_merkle_root {
        return Err(ChainError::new(
            code::STATE_MERKLE_MISMATCH,
            "block previous state merkle mismatch",
        ));
    }
    // From here on the official chain has started the block's receipt, so a failure carries
    // its (empty) logs.
    execute_block(state, params, block, parent, mode).map_err(ChainError::with_receipt_logs)
}

/// The block's own checks ([`verify_block`]) and its transactions, on its parent's state.
fn execute_block(
    state: &StateDb,
    params: &ChainParams,
    block: &Block,
    parent: &BlockInfo,
    mode: BlockMode,
) -> ChainResult<BlockOutcome> {
    let header = block.header.clone().unwrap_or_default();
    verify_block(params, block)?;

    let topology = koinos_protocol::BlockTopology {
        id: block.id.clone(),
        height: header.height,
        previous: header.previous.clone(),
    };
    let mut ctx = ApplyContext::new(state.session(&parent.id)?, params, Mode::Transaction)
        .at(topology, Some(block.clone()));
    // The official `apply_block` sets the meter from `get_resource_limits`, which starts it
    // afresh: that call (and `apply_block`'s own) are not the block's.
    ctx.limits = wasm::get_resource_limits(&mut ctx)?;
    ctx.compute = 0;
    charge_block_checks(&mut ctx, block)?;
    process_block_signature(&mut ctx, block)?;
    ctx.charge("pre_block_callback")?;
    // The whole block, as the official chain stores it (not charged as disk).
    ctx.session
        .put(metadata_state_key("head_block"), block.encode_to_vec());

    let mut receipts = Vec::with_capacity(block.transactions.len());
    let mut failed = Vec::new();
    let mut payers = Usage::default();
    for (index, tx) in block.transactions.iter().enumerate() {
        let applied = ctx
            .charge("apply_transaction")
            .and_then(|()| apply_transaction(&mut ctx, tx));
        match applied {
            Ok(applied) => {
                payers.add(applied.usage);
                receipts.push(applied.receipt);
            }
            Err(e) if mode == BlockMode::Propose => {
                tracing::debug!(index, error = %e, "proposed transaction failed");
                failed.push(index as u32);
            }
            Err(e) => return Err(e.with_param("transaction_id", to_hex(&tx.id))),
        }
    }
    if !failed.is_empty() {
        return Ok(BlockOutcome::FailedTransactions(failed));
    }
    ctx.charge("post_block_callback")?;
    // What no payer paid for is the producer's.
    let system = Usage {
        disk: ctx_usage(&ctx).disk.saturating_sub(payers.disk),
        network: ctx.network.saturating_sub(payers.network),
        compute: ctx.compute.saturating_sub(payers.compute),
    };
    let system_rc = system.rc(&ctx.limits);
    if !wasm::consume_account_rc(&mut ctx, &header.signer, system_rc)? {
        return Err(ChainError::new(
            code::INSUFFICIENT_RC,
            "unable to consume system rc for block producer: ${p}",
        )
        .with_param("p", to_base58(&header.signer)));
    }
    let usage = ctx_usage(&ctx);
    usage.check_block_limits(&ctx.limits)?;
    if !consume_block_resources(&mut ctx, usage)? {
        return Err(ChainError::new(
            code::FAILURE,
            "unable to consume block resources",
        ));
    }

    let delta = ctx.session.into_delta();
    let state_merkle_root = state_merkle_root(&delta);
    let receipt = BlockReceipt {
        id: block.id.clone(),
        height: header.height,
        disk_storage_used: usage.disk,
        network_bandwidth_used: usage.network,
        compute_bandwidth_used: usage.compute,
        state_merkle_root: state_merkle_root.clone(),
        events: Vec::new(),
        transaction_receipts: receipts,
        logs: Vec::new(),
        disk_storage_charged: usage.disk,
        network_bandwidth_charged: usage.network,
        compute_bandwidth_charged: usage.compute,
        state_delta_entries: delta_entries(&delta),
    };
    let info = BlockInfo {
        id: block.id.clone(),
        previous: header.previous.clone(),
        height: header.height,
        timestamp: header.timestamp,
        signer: header.signer.clone(),
        state_merkle_root,
    };
    Ok(BlockOutcome::Applied(Box::new(AppliedBlock {
        block: block.clone(),
        receipt,
        info,
        delta,
    })))
}
