//! The system calls a contract can make, each taking its `<name>_arguments` message and
//! returning its `<name>_result` message, with the official chain's checks, costs and words.
//!
//! Not served to contracts yet (the contract gets `unknown_thunk`, 106, "thunk ${tid} is not
//! supported by this chain yet"): the `apply_*` thunks of block application, which the chain
//! runs natively and charges as the official ones ([`super::super::resources`]). The block and
//! transaction callbacks do nothing, as the official ones.

use koinos_protocol::chain::{
    CallArguments, CallResult, CallerData, CheckSystemAuthorityResult, ConsumeAccountRcResult,
    ConsumeBlockResourcesResult, EventArguments, GetAccountNonceArguments, GetAccountNonceResult,
    GetAccountRcResult, GetArgumentsResult, GetBlockFieldArguments, GetBlockFieldResult,
    GetBlockResult, GetCallerResult, GetChainIdResult, GetContractIdResult,
    GetContractMetadataArguments, GetContractMetadataResult, GetHeadInfoResult,
    GetLastIrreversibleBlockResult, GetOperationResult, GetResourceLimitsResult,
    GetTransactionFieldArguments, GetTransactionFieldResult, GetTransactionResult, HashArguments,
    HashResult, HeadInfo, LogArguments, Privilege, ProcessBlockSignatureArguments,
    ProcessBlockSignatureResult, RecoverPublicKeyArguments, RecoverPublicKeyResult, SystemCallId,
    ValueType, VerifySignatureArguments, VerifySignatureResult,
};
use koinos_protocol::crypto::multihash;
use koinos_protocol::pb::koinos::protocol::Block;
use prost::Message;

use super::super::context::ApplyContext;
use super::super::error::{ChainError, ChainResult, code};
use super::super::genesis::{metadata_state_key, space, system_space};
use super::super::state::state_key;
use super::objects::{self, Direction};
use super::{authority, crypto};
use koinos_protocol::chain::{MaxAccountResources, ResourceLimitData};
use koinos_protocol::nonce::encode_nonce;

pub(super) fn decode<M: Message + Default>(args: &[u8]) -> ChainResult<M> {
    M::decode(args).map_err(|e| {
        ChainError::new(code::REVERSION, "invalid system call arguments: ${e}")
            .with_param("e", e.to_string())
    })
}

pub(super) fn ok<M: Message>(result: M) -> ChainResult<Vec<u8>> {
    Ok(result.encode_to_vec())
}

/// The contract making the system call (empty outside any contract).
pub(super) fn caller(ctx: &ApplyContext<'_>) -> Vec<u8> {
    ctx.frames
        .last()
        .map(|f| f.contract_id.clone())
        .unwrap_or_default()
}

pub(super) fn privilege(ctx: &ApplyContext<'_>) -> Privilege {
    ctx.frames
        .last()
        .map_or(Privilege::KernelMode, |f| f.privilege)
}

/// The privilege the outermost contract's caller had. A transaction's `call_contract`
/// operation and `read_contract` drop to user mode before calling, as the official chain does,
/// so a contract cannot mistake a user's direct call for the chain's own (a system contract
/// checking for a kernel caller, as pob's `process_block_signature` does). The chain itself
/// (block signature, authority checks of the payer, uploads) calls in kernel mode.
fn outermost_caller_privilege(ctx: &ApplyContext<'_>) -> Privilege {
    use koinos_protocol::pb::koinos::protocol::operation::Op;
    let in_call_operation = matches!(
        ctx.operation.as_ref().and_then(|o| o.op.as_ref()),
        Some(Op::CallContract(_))
    );
    if in_call_operation || ctx.mode == super::super::context::Mode::ReadOnly {
        Privilege::UserMode
    } else {
        Privilege::KernelMode
    }
}

pub(crate) fn thunk(
    ctx: &mut ApplyContext<'_>,
    id: SystemCallId,
    args: &[u8],
) -> ChainResult<Vec<u8>> {
    use SystemCallId as S;
    match id {
        S::Nop => Ok(Vec::new()),
        S::GetHeadInfo => {
            // The official thunk asks `get_last_irreversible_block` and, outside a block, reads
            // the head block through `get_object`.
            ctx.charge("get_last_irreversible_block")?;
            let head_block_time = match &ctx.block {
                Some(block) => block.header.as_ref().map_or(0, |h| h.timestamp),
                None => ctx
                    .charged_get(&metadata_state_key("head_block"))?
                    .and_then(|bytes| Block::decode(bytes.as_slice()).ok())
                    .and_then(|b| b.header)
                    .map_or(0, |h| h.timestamp),
            };
            ok(GetHeadInfoResult {
                value: Some(HeadInfo {
                    head_topology: Some(ctx.head.clone()),
                    head_block_time,
                    last_irreversible_block: last_irreversible(ctx),
                }),
            })
        }
        S::GetLastIrreversibleBlock => ok(GetLastIrreversibleBlockResult {
            value: last_irreversible(ctx),
        }),
        S::GetBlock => ok(GetBlockResult {
            value: Some(block_or_head(ctx)?),
        }),
        S::GetBlockField => {
            let args: GetBlockFieldArguments = decode(args)?;
            let block = block_or_head(ctx)?;
            ok(GetBlockFieldResult {
                value: Some(field_of(&block, "koinos.protocol.block", &args.field)?),
            })
        }
        S::GetChainId => {
            ctx.charged_get(&metadata_state_key("chain_id"))?;
            ok(GetChainIdResult {
                value: ctx.params.chain_id.clone(),
            })
        }
        S::GetTransaction => ok(GetTransactionResult {
            value: Some(ctx.transaction.clone().ok_or_else(no_transaction)?),
        }),
        S::GetTransactionField => {
            let args: GetTransactionFieldArguments = decode(args)?;
            let transaction = ctx.transaction.as_ref().ok_or_else(no_transaction)?;
            ok(GetTransactionFieldResult {
                value: Some(field_of(
                    transaction,
                    "koinos.protocol.transaction",
                    &args.field,
                )?),
            })
        }
        S::GetOperation => ok(GetOperationResult {
            value: Some(ctx.operation.clone().ok_or_else(|| {
                ChainError::new(code::OPERATION_NOT_FOUND, "outside an operational context")
            })?),
        }),
        S::GetAccountNonce => {
            let args: GetAccountNonceArguments = decode(args)?;
            let key = state_key(&system_space(space::TRANSACTION_NONCE), &args.account);
            ok(GetAccountNonceResult {
                value: ctx.charged_get(&key)?.unwrap_or_else(|| encode_nonce(0)),
            })
        }
        S::CheckSystemAuthority => {
            ctx.charged_get(&metadata_state_key("genesis_key"))?;
            ctx.transaction.as_ref().ok_or_else(no_transaction)?;
            let genesis_key = ctx.params.genesis_key.clone();
            ctx.charge_authority_recoveries(&genesis_key)?;
            ok(CheckSystemAuthorityResult {
                value: ctx.has_system_authority(),
            })
        }
        S::GetContractMetadata => {
            let args: GetContractMetadataArguments = decode(args)?;
            ok(GetContractMetadataResult {
                value: ctx.contract_metadata(&args.contract_id)?,
            })
        }
        // Without a resources contract every account has genesis `max_account_resources` and
        // consuming RC always succeeds, as in the official thunks.
        S::GetAccountRc => {
            let stored = ctx.charged_get(&metadata_state_key("max_account_resources"))?;
            let value = match stored {
                Some(bytes) => {
                    MaxAccountResources::decode(bytes.as_slice())
                        .map_err(|e| {
                            ChainError::internal(format!("bad max_account_resources: {e}"))
                        })?
                        .value
                }
                None => ctx.params.account_rc,
            };
            ok(GetAccountRcResult { value })
        }
        S::ConsumeAccountRc => ok(ConsumeAccountRcResult { value: true }),
        S::GetResourceLimits => {
            let stored = ctx.charged_get(&metadata_state_key("resource_limit_data"))?;
            let value = match stored {
                Some(bytes) => ResourceLimitData::decode(bytes.as_slice())
                    .map_err(|e| ChainError::internal(format!("bad resource_limit_data: {e}")))?,
                None => ctx.params.limits,
            };
            ok(GetResourceLimitsResult { value: Some(value) })
        }
        S::ConsumeBlockResources => ok(ConsumeBlockResourcesResult { value: true }),
        S::PreBlockCallback
        | S::PostBlockCallback
        | S::PreTransactionCallback
        | S::PostTransactionCallback => Ok(Vec::new()),
        S::PutObject => objects::put_object(ctx, decode(args)?),
        S::RemoveObject => objects::remove_object(ctx, decode(args)?),
        S::GetObject => objects::get_object(ctx, decode(args)?, Direction::Exact),
        S::GetNextObject => objects::get_object(ctx, decode(args)?, Direction::Next),
        S::GetPrevObject => objects::get_object(ctx, decode(args)?, Direction::Prev),
        S::Log => {
            let args: LogArguments = decode(args)?;
            ctx.logs.push(args.message);
            Ok(Vec::new())
        }
        S::Event => event(ctx, decode(args)?),
        S::Hash => {
            let args: HashArguments = decode(args)?;
            let (base, per_byte) = crypto::hash_cost_names(args.code)?;
            let cost = ctx.params.compute_cost(base)?
                + ctx.params.compute_cost(per_byte)? * args.obj.len() as u64;
            ctx.use_compute(cost)?;
            let value = multihash::hash(args.code, &args.obj, args.size)
                .ok_or_else(|| ChainError::new(code::UNKNOWN_HASH_CODE, "unknown hash code"))?;
            ok(HashResult { value })
        }
        S::VerifyMerkleRoot => crypto::verify_merkle_root(ctx, decode(args)?),
        S::RecoverPublicKey => {
            let args: RecoverPublicKeyArguments = decode(args)?;
            ok(RecoverPublicKeyResult {
                value: crypto::recover(
                    args.r#type,
                    &args.signature,
                    &args.digest,
                    args.compressed,
                )?,
            })
        }
        S::VerifySignature => {
            let args: VerifySignatureArguments = decode(args)?;
            ctx.charge("recover_public_key")?;
            let recovered =
                crypto::recover(args.r#type, &args.signature, &args.digest, args.compressed)?;
            ok(VerifySignatureResult {
                value: recovered == args.public_key,
            })
        }
        S::ProcessBlockSignature => process_block_signature(ctx, decode(args)?),
        S::VerifyVrfProof => crypto::verify_vrf_proof(decode(args)?),
        S::Call => {
            let args: CallArguments = decode(args)?;
            if args.entry_point == authority::AUTHORIZE_ENTRY_POINT
                && privilege(ctx) != Privilege::KernelMode
            {
                return Err(ChainError::new(
                    code::INSUFFICIENT_PRIVILEGES,
                    "calling privileged thunk from non-privileged code",
                ));
            }
            let value =
                authority::call_contract(ctx, &args.contract_id, args.entry_point, &args.args)?;
            ok(CallResult { value })
        }
        S::GetArguments => {
            let frame = ctx
                .frames
                .last()
                .ok_or_else(|| ChainError::new(code::INTERNAL_ERROR, "stack is empty"))?;
            ok(GetArgumentsResult {
                value: Some(koinos_protocol::chain::ArgumentData {
                    entry_point: frame.entry_point,
                    arguments: frame.args.clone(),
                }),
            })
        }
        S::GetContractId => ok(GetContractIdResult { value: caller(ctx) }),
        S::GetCaller => {
            // The frame below the calling contract: another contract, or else whatever started
            // the call (empty caller).
            let below = ctx.frames.len().checked_sub(2).map(|i| &ctx.frames[i]);
            ok(GetCallerResult {
                value: Some(CallerData {
                    caller: below.map(|f| f.contract_id.clone()).unwrap_or_default(),
                    caller_privilege: below
                        .map_or_else(|| outermost_caller_privilege(ctx), |f| f.privilege)
                        .into(),
                }),
            })
        }
        S::CheckAuthority => authority::check_authority(ctx, decode(args)?),
        // Ids of system calls only a contract implements (the name service's).
        S::GetContractName | S::GetContractAddress => Err(ChainError::new(
            code::UNKNOWN_THUNK,
            "thunk ${tid} does not exist",
        )
        .with_param("tid", id as i32)),
        other => Err(ChainError::new(
            code::UNKNOWN_THUNK,
            "thunk ${tid} is not supported by this chain yet",
        )
        .with_param("tid", other as i32)),
    }
}

/// The irreversibility threshold of `get_last_irreversible_block`: 60 blocks below the head.
const IRREVERSIBLE_THRESHOLD: u64 = 60;

fn last_irreversible(ctx: &ApplyContext<'_>) -> u64 {
    ctx.head.height.saturating_sub(IRREVERSIBLE_THRESHOLD)
}

fn field_of<M: Message>(message: &M, type_name: &str, field: &str) -> ChainResult<ValueType> {
    let descriptor = koinos_protocol::descriptor_pool()
        .get_message_by_name(type_name)
        .ok_or_else(|| ChainError::internal(format!("no descriptor for {type_name}")))?;
    super::fields::nested_field_value(message, descriptor, field)
}

/// The block being applied, else the head block: the official chain gives a pending
/// transaction (`submit_transaction`) and a read (`read_contract`) the head block as their
/// block. Read from the state's `head_block` only when a contract asks, off the hot path.
fn block_or_head(ctx: &ApplyContext<'_>) -> ChainResult<Block> {
    if let Some(block) = &ctx.block {
        return Ok(block.clone());
    }
    let head = ctx
        .session
        .get(&metadata_state_key("head_block"))?
        .ok_or_else(no_block)?;
    Block::decode(head.as_slice()).map_err(|e| {
        ChainError::new(code::INTERNAL_ERROR, "head block does not decode: ${e}")
            .with_param("e", e.to_string())
    })
}

fn no_block() -> ChainError {
    ChainError::new(code::INTERNAL_ERROR, "block does not exist")
}

pub(super) fn no_transaction() -> ChainError {
    ChainError::new(code::INTERNAL_ERROR, "transaction does not exist")
}

pub(super) fn read_only(message: &str) -> ChainError {
    ChainError::new(code::READ_ONLY_CONTEXT, message)
}

fn event(ctx: &mut ApplyContext<'_>, args: EventArguments) -> ChainResult<Vec<u8>> {
    if args.name.is_empty() {
        return Err(ChainError::new(
            code::REVERSION,
            "event name cannot be empty",
        ));
    }
    if args.name.len() > 128 {
        return Err(ChainError::new(
            code::REVERSION,
            "event name cannot be larger than 128 bytes",
        ));
    }
    let cost = ctx.params.compute_cost("event_per_impacted")? * args.impacted.len() as u64;
    ctx.use_compute(cost)?;
    let source = caller(ctx);
    ctx.emit_event(&source, &args.name, args.data, args.impacted);
    Ok(Vec::new())
}

/// The default (federated) rule: the block's signature recovers, through the `recover_public_key`
/// system call as the official thunk makes it, to the genesis key's address. A network like
/// mainnet overrides this system call with its pob contract.
fn process_block_signature(
    ctx: &mut ApplyContext<'_>,
    args: ProcessBlockSignatureArguments,
) -> ChainResult<Vec<u8>> {
    ctx.charged_get(&metadata_state_key("genesis_key"))?;
    let recover = RecoverPublicKeyArguments {
        r#type: koinos_protocol::chain::Dsa::EcdsaSecp256k1 as i32,
        signature: args.signature,
        digest: args.digest,
        compressed: true,
    };
    let result = super::host::system_call(
        ctx,
        SystemCallId::RecoverPublicKey as u32,
        &recover.encode_to_vec(),
    )?;
    let public_key: RecoverPublicKeyResult = decode(&result)?;
    let signer = koinos_protocol::crypto::PublicKey::from_sec1_bytes(&public_key.value)
        .map(|key| key.address().to_vec())
        .map_err(|_| ChainError::new(code::INVALID_SIGNATURE, "public key is invalid"))?;
    ok(ProcessBlockSignatureResult {
        value: signer == ctx.params.genesis_key,
    })
}
