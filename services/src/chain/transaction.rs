//! Transaction validation and application (docs/protocol.md "Transaction validation") and the
//! operations it runs.

use koinos_protocol::chain::AuthorizationType;
use koinos_protocol::crypto::CryptoError;
use koinos_protocol::crypto::sha256_multihash;
use koinos_protocol::crypto::signature::recover_address_from_id;
use koinos_protocol::nonce::{decode_nonce, encode_nonce};
use koinos_protocol::pb::koinos::protocol::{
    StateDeltaEntry, Transaction, TransactionHeader, TransactionReceipt,
};
use prost::Message;

use super::context::{ApplyContext, COMPUTE_PER_SIGNATURE, COMPUTE_PER_TRANSACTION, Usage};
use super::error::{ChainError, ChainResult, code, to_base58, to_hex};
use super::genesis::{metadata_state_key, space, system_space};
use super::resources::RcSession;
use super::state::{Delta, split_state_key, state_key};

/// Checks the fields every transaction needs (-1002), in the official chain's order and words
/// (a missing signature is named `signature_data`).
pub fn check_required_fields(tx: &Transaction) -> ChainResult<()> {
    const IN_TRANSACTION: &str = "missing expected field in transaction: ${field}";
    const IN_HEADER: &str = "missing expected field in transaction header: ${field}";
    if tx.id.is_empty() {
        return Err(ChainError::missing_field(IN_TRANSACTION, "field", "id"));
    }
    let missing = |template: &str, field: &str| {
        Err(ChainError::missing_field(template, "field", field)
            .with_param("transaction_id", to_hex(&tx.id)))
    };
    let Some(header) = &tx.header else {
        return missing(IN_TRANSACTION, "header");
    };
    if header.payer.is_empty() {
        return missing(IN_TRANSACTION, "payer");
    }
    if header.rc_limit == 0 {
        return missing(IN_HEADER, "rc_limit");
    }
    if header.operation_merkle_root.is_empty() {
        return missing(IN_HEADER, "operation_merkle_root");
    }
    if tx.signatures.is_empty() {
        return missing(IN_TRANSACTION, "signature_data");
    }
    Ok(())
}

/// The address whose key made `signature` over `id`; a signature that does not recover fails
/// with `invalid_signature` (-202) and the official chain's words for why.
pub fn recover_signer(id: &[u8], signature: &[u8]) -> ChainResult<Vec<u8>> {
    recover_address_from_id(id, signature)
        .map(|address| address.to_vec())
        .map_err(|e| {
            let message = match e {
                CryptoError::SignatureLength(_) => "unexpected signature length",
                CryptoError::NonCanonicalSignature => "signature must be canonical",
                _ => "public key is invalid",
            };
            ChainError::new(code::INVALID_SIGNATURE, message)
        })
}

/// The multihash code of `multihash` (its leading varint; 0 if there is none).
pub fn multihash_code(multihash: &[u8]) -> u64 {
    prost::encoding::decode_varint(&mut &multihash[..]).unwrap_or(0)
}

/// Operation merkle root: leaves = sha256(serialized operation).
pub use koinos_protocol::merkle::operation_merkle_root;

/// The stored nonce bytes of `account` (a serialized `value_type`, `{uint64_value: 0}` if none).
pub fn account_nonce(ctx: &ApplyContext<'_>, account: &[u8]) -> ChainResult<Vec<u8>> {
    let key = state_key(&system_space(space::TRANSACTION_NONCE), account);
    Ok(ctx.session.get(&key)?.unwrap_or_else(|| encode_nonce(0)))
}

/// Delta entries as receipts carry them.
pub fn delta_entries(delta: &Delta) -> Vec<StateDeltaEntry> {
    delta
        .iter()
        .filter_map(|(key, value)| {
            let (space, key) = split_state_key(key)?;
            Some(StateDeltaEntry {
                object_space: Some(koinos_protocol::pb::koinos::protocol::ObjectSpace {
                    system: space.system,
                    zone: space.zone,
                    id: space.id,
                }),
                key,
                value: value.clone(),
            })
        })
        .collect()
}

/// The account whose nonce a transaction uses: the payee when set and different from the
/// payer, else the payer.
pub fn nonce_account(header: &TransactionHeader) -> Vec<u8> {
    if !header.payee.is_empty() && header.payee != header.payer {
        header.payee.clone()
    } else {
        header.payer.clone()
    }
}

/// A transaction applied: its receipt and usage (the state writes are in the session).
#[derive(Debug, Clone)]
pub struct AppliedTransaction {
    pub receipt: TransactionReceipt,
    pub usage: Usage,
    /// What the chain used around it outside the payer's session (`apply_transaction`'s own
    /// entry, the RC consumption): `koinos.transaction.accept`'s `system_*` figures. Set by
    /// [`super::Chain::apply_pending_transaction`]; in a block it is the producer's.
    pub system: Usage,
    /// Why it reverted (`receipt.reverted`): the error its operations raised, code and data
    /// unchanged (`submit_transaction` answers with it).
    pub reversion: Option<ChainError>,
}

/// Validates and applies `tx` in a new frame of `ctx`; a failure leaves the session unchanged
/// and carries the transaction id. A reversion still yields a receipt (`reverted`).
pub fn apply_transaction(
    ctx: &mut ApplyContext<'_>,
    tx: &Transaction,
) -> ChainResult<AppliedTransaction> {
    ctx.session.push_frame();
    match apply_in_frame(ctx, tx) {
        Ok(applied) => {
            ctx.session.commit_frame();
            Ok(applied)
        }
        Err(mut e) => {
            ctx.session.discard_frame();
            e.transaction_id = Some(tx.id.clone());
            Err(e)
        }
    }
}

fn failure(message: &str) -> ChainError {
    ChainError::new(code::FAILURE, message)
}

/// The checks before any operation runs, with the official chain's codes, messages and data
/// (all `-1` failures but authority, -200, and the nonce, -201), charged as the official
/// chain's system calls are; stores the new nonce. Returns the payer's RC.
fn validate_and_set_nonce(ctx: &mut ApplyContext<'_>, tx: &Transaction) -> ChainResult<u64> {
    let header = tx.header.clone().unwrap_or_default();
    let params = ctx.params;
    let payer_rc = super::wasm::get_account_rc(ctx, &header.payer)?;
    if payer_rc < header.rc_limit {
        return Err(failure(
            "payer does not have the rc to cover transaction rc limit",
        ));
    }
    if !ctx.has_registry() {
        // Our devnets' genesis has no registry: fixed costs stand in for the checks' calls.
        ctx.use_compute(
            COMPUTE_PER_TRANSACTION + COMPUTE_PER_SIGNATURE * tx.signatures.len() as u64,
        )?;
    }
    ctx.charged_get(&metadata_state_key("chain_id"))?;
    if header.chain_id != params.chain_id {
        return Err(failure("chain id mismatch"));
    }
    let header_bytes = header.encode_to_vec();
    ctx.charge_sha256(header_bytes.len())?;
    if tx.id != sha256_multihash(&header_bytes) {
        return Err(failure("transaction contains an invalid transaction id"));
    }
    let root_code = multihash_code(&header.operation_merkle_root);
    if root_code != params.block_hash_code {
        return Err(failure(
            "unexpected operation merkle root hash code - was: ${o}, expected: ${e}",
        )
        .with_param("o", root_code)
        .with_param("e", params.block_hash_code));
    }
    for op in &tx.operations {
        ctx.charge_sha256(op.encoded_len())?;
    }
    super::wasm::charge_verify_merkle_root(
        ctx,
        &header.operation_merkle_root,
        tx.operations.len(),
    )?;
    if header.operation_merkle_root != operation_merkle_root(&tx.operations) {
        return Err(failure("operation merkle root does not match"));
    }

    // Authority: every signature must recover; payer and nonce account must be among them.
    let mut signers = Vec::with_capacity(tx.signatures.len());
    for signature in &tx.signatures {
        signers.push(recover_signer(&tx.id, signature)?);
    }
    ctx.signers = signers;
    let nonce_account = nonce_account(&header);
    authorize_transaction(ctx, &header.payer)?;
    if nonce_account != header.payer {
        authorize_transaction(ctx, &nonce_account)?;
    }

    let invalid_nonce = |message: &str| {
        ChainError::new(code::INVALID_NONCE, message)
            .with_param("a", to_base58(&nonce_account))
            .with_param("n", to_hex(&header.nonce))
    };
    ctx.charge("verify_account_nonce")?;
    let Ok(nonce) = decode_nonce(&header.nonce) else {
        return Err(invalid_nonce(
            "nonce did not contain uint64 value - nonce: ${n}, account: ${a}",
        ));
    };
    ctx.charge("get_account_nonce")?;
    let nonce_key = state_key(&system_space(space::TRANSACTION_NONCE), &nonce_account);
    let current_bytes = ctx
        .charged_get(&nonce_key)?
        .unwrap_or_else(|| encode_nonce(0));
    let Ok(current) = decode_nonce(&current_bytes) else {
        return Err(ChainError::new(
            code::INVALID_NONCE,
            "current nonce did not contain uint64 value - nonce: ${n}, account: ${a}",
        )
        .with_param("n", to_hex(&current_bytes))
        .with_param("a", to_base58(&nonce_account)));
    };
    if Some(nonce) != current.checked_add(1) {
        return Err(invalid_nonce(
            "invalid transaction nonce - account: ${a}, nonce: ${n}, current nonce: ${c}",
        )
        .with_param("c", to_hex(&current_bytes)));
    }
    ctx.charge("set_account_nonce")?;
    ctx.charged_put(nonce_key, header.nonce.clone())?;
    Ok(payer_rc)
}

/// The meter when a transaction starts: its receipt's figures are what it adds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Start {
    compute: u64,
    network: u64,
    disk: i64,
}

impl Start {
    fn of(ctx: &ApplyContext<'_>) -> Self {
        Self {
            compute: ctx.compute,
            network: ctx.network,
            disk: ctx.disk,
        }
    }

    fn usage_since(&self, ctx: &ApplyContext<'_>) -> Usage {
        Usage {
            disk: u64::try_from(ctx.disk - self.disk).unwrap_or(0),
            network: ctx.network - self.network,
            compute: ctx.compute - self.compute,
        }
    }
}

fn apply_in_frame(ctx: &mut ApplyContext<'_>, tx: &Transaction) -> ChainResult<AppliedTransaction> {
    check_required_fields(tx)?;
    // Contracts read the transaction (`get_transaction`, `check_authority`).
    ctx.transaction = Some(tx.clone());
    let header = tx.header.clone().unwrap_or_default();
    ctx.events.clear();
    ctx.logs.clear();
    let start = Start::of(ctx);
    ctx.rc = Some(RcSession::new(header.rc_limit));
    let payer_rc = match validate_and_set_nonce(ctx, tx) {
        Ok(rc) => rc,
        Err(e) => {
            ctx.rc = None;
            // Reversions while validating are failures, with the same message.
            return Err(if e.is_reversion() {
                ChainError::new(code::FAILURE, e.message)
            } else {
                e
            });
        }
    };

    ctx.session.push_frame();
    let outcome = run_operations(ctx, tx);
    let reverted = match outcome {
        Ok(()) => {
            ctx.session.commit_frame();
            None
        }
        Err(e) if e.is_reversion() => {
            ctx.session.discard_frame();
            Some(e)
        }
        Err(e) => {
            ctx.session.discard_frame();
            ctx.rc = None;
            return Err(e);
        }
    };
    let usage = start.usage_since(ctx);
    let rc_used = ctx.rc.take().map_or(0, |rc| rc.used());
    let mut logs = std::mem::take(&mut ctx.logs);
    let events = if let Some(e) = &reverted {
        logs.push(format!("transaction reverted: {}", e.message));
        ctx.events.clear();
        Vec::new()
    } else {
        std::mem::take(&mut ctx.events)
    };
    if !super::wasm::consume_account_rc(ctx, &header.payer, rc_used)? {
        return Err(failure("unable to consume rc for payer: ${p}")
            .with_param("p", to_base58(&header.payer)));
    }
    // The frame's writes are this transaction's delta (the caller commits the frame).
    let delta = ctx.session.top_frame().clone();
    let receipt = TransactionReceipt {
        id: tx.id.clone(),
        payer: header.payer.clone(),
        max_payer_rc: payer_rc,
        rc_limit: header.rc_limit,
        rc_used,
        disk_storage_used: usage.disk,
        network_bandwidth_used: usage.network,
        compute_bandwidth_used: usage.compute,
        reverted: reverted.is_some(),
        events,
        logs,
        state_delta_entries: delta_entries(&delta),
    };
    Ok(AppliedTransaction {
        receipt,
        usage,
        system: Usage::default(),
        reversion: reverted,
    })
}

/// The callbacks, the transaction's bytes and its operations, in the payer's session.
fn run_operations(ctx: &mut ApplyContext<'_>, tx: &Transaction) -> ChainResult<()> {
    ctx.charge("pre_transaction_callback")?;
    ctx.use_network(tx.encoded_len() as u64)?;
    for op in &tx.operations {
        super::operation::apply_operation(ctx, op)?;
    }
    ctx.charge("post_transaction_callback")
}

/// `account` authorizes the transaction: it signed, or its contract's `authorize` says so when
/// it overrides transaction application.
fn authorize_transaction(ctx: &mut ApplyContext<'_>, account: &[u8]) -> ChainResult<()> {
    ctx.charge("check_authority")?;
    let authorized = super::wasm::authorize(
        ctx,
        account,
        AuthorizationType::TransactionApplication,
        Vec::new(),
    )?;
    if !authorized {
        return Err(ChainError::new(
            code::AUTHORIZATION_FAILURE,
            "account ${account} has not authorized transaction",
        )
        .with_param("account", to_base58(account)));
    }
    Ok(())
}

/// Calls a contract directly from an operation or a read-only query: the native token, or
/// uploaded bytecode in the WASM VM ([`super::wasm`]).
pub fn call_contract(
    ctx: &mut ApplyContext<'_>,
    contract_id: &[u8],
    entry_point: u32,
    args: &[u8],
) -> ChainResult<Vec<u8>> {
    super::wasm::call_contract(ctx, contract_id, entry_point, args)
        .map_err(|e| e.with_param("contract_id", bs58::encode(contract_id).into_string()))
}
