//! The system calls a contract can make, each taking its `<name>_arguments` message and
//! returning its `<name>_result` message, with the official chain's checks, costs and words.
//!
//! Not served yet (the contract gets `unknown_thunk`, 106, "thunk ${tid} is not supported by
//! this chain yet"): `verify_vrf_proof`,
//! `process_block_signature` and the `apply_*` / callback thunks of block application.

use koinos_protocol::chain::{
    AuthorizationType, AuthorizeArguments, AuthorizeResult, CallArguments, CallData, CallResult,
    CallerData, CheckAuthorityArguments, CheckAuthorityResult, CheckSystemAuthorityResult,
    ConsumeAccountRcResult, ConsumeBlockResourcesResult, DatabaseObject, Dsa, EventArguments,
    GetAccountNonceArguments, GetAccountNonceResult, GetAccountRcResult, GetArgumentsResult,
    GetCallerResult, GetChainIdResult, GetContractIdResult, GetContractMetadataArguments,
    GetContractMetadataResult, GetObjectArguments, GetObjectResult, GetOperationResult,
    GetResourceLimitsResult, GetTransactionFieldArguments, GetTransactionFieldResult,
    GetTransactionResult, HashArguments, HashResult, LogArguments, ObjectSpace, Privilege,
    PutObjectArguments, RecoverPublicKeyArguments, RecoverPublicKeyResult, RemoveObjectArguments,
    SystemCallId, VerifySignatureArguments, VerifySignatureResult,
};
use koinos_protocol::chain::{
    GetBlockFieldArguments, GetBlockFieldResult, GetBlockResult, GetHeadInfoResult,
    GetLastIrreversibleBlockResult, HeadInfo, ValueType, VerifyMerkleRootArguments,
    VerifyMerkleRootResult,
};
use koinos_protocol::crypto::signature::recover_public_key;
use koinos_protocol::crypto::{CryptoError, multihash};
use koinos_protocol::pb::koinos::protocol::Block;
use prost::Message;

use super::super::context::{ApplyContext, CallFrame};
use super::super::error::{ChainError, ChainResult, code};
use super::super::genesis::metadata_state_key;
use super::super::state::{space_range, split_state_key, state_key};
use super::super::transaction::account_nonce;
use super::host::frame;

/// The `authorize` entry point a contract overriding an account's authority implements.
pub const AUTHORIZE_ENTRY_POINT: u32 = 0x4a2d_bd90;

fn decode<M: Message + Default>(args: &[u8]) -> ChainResult<M> {
    M::decode(args).map_err(|e| {
        ChainError::new(code::REVERSION, "invalid system call arguments: ${e}")
            .with_param("e", e.to_string())
    })
}

fn ok<M: Message>(result: M) -> ChainResult<Vec<u8>> {
    Ok(result.encode_to_vec())
}

/// The contract making the system call (empty outside any contract).
fn caller(ctx: &ApplyContext<'_>) -> Vec<u8> {
    ctx.frames
        .last()
        .map(|f| f.contract_id.clone())
        .unwrap_or_default()
}

fn privilege(ctx: &ApplyContext<'_>) -> Privilege {
    ctx.frames
        .last()
        .map_or(Privilege::KernelMode, |f| f.privilege)
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
            let head_block_time = match &ctx.block {
                Some(block) => block.header.as_ref().map_or(0, |h| h.timestamp),
                None => ctx
                    .session
                    .get(&metadata_state_key("head_block"))?
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
            value: Some(ctx.block.clone().ok_or_else(no_block)?),
        }),
        S::GetBlockField => {
            let args: GetBlockFieldArguments = decode(args)?;
            let block = ctx.block.as_ref().ok_or_else(no_block)?;
            ok(GetBlockFieldResult {
                value: Some(field_of(block, "koinos.protocol.block", &args.field)?),
            })
        }
        S::GetChainId => ok(GetChainIdResult {
            value: ctx.params.chain_id.clone(),
        }),
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
            ok(GetAccountNonceResult {
                value: account_nonce(ctx, &args.account)?,
            })
        }
        S::CheckSystemAuthority => {
            ctx.transaction.as_ref().ok_or_else(no_transaction)?;
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
        S::GetAccountRc => ok(GetAccountRcResult {
            value: ctx.params.account_rc,
        }),
        S::ConsumeAccountRc => ok(ConsumeAccountRcResult { value: true }),
        S::GetResourceLimits => ok(GetResourceLimitsResult {
            value: Some(ctx.params.limits),
        }),
        S::ConsumeBlockResources => ok(ConsumeBlockResourcesResult { value: true }),
        S::PutObject => put_object(ctx, decode(args)?),
        S::RemoveObject => {
            let args: RemoveObjectArguments = decode(args)?;
            if ctx.mode == super::super::context::Mode::ReadOnly {
                return Err(read_only("cannot remove object during read only call"));
            }
            let space = args.space.unwrap_or_default();
            assert_permissions(ctx, &space)?;
            ctx.remove(state_key(&space, &args.key))?;
            Ok(Vec::new())
        }
        S::GetObject => get_object(ctx, decode(args)?, Direction::Exact),
        S::GetNextObject => get_object(ctx, decode(args)?, Direction::Next),
        S::GetPrevObject => get_object(ctx, decode(args)?, Direction::Prev),
        S::Log => {
            let args: LogArguments = decode(args)?;
            ctx.logs.push(args.message);
            Ok(Vec::new())
        }
        S::Event => event(ctx, decode(args)?),
        S::Hash => {
            let args: HashArguments = decode(args)?;
            let (base, per_byte) = hash_cost_names(args.code)?;
            let cost = ctx.params.compute_cost(base)?
                + ctx.params.compute_cost(per_byte)? * args.obj.len() as u64;
            ctx.use_compute(cost)?;
            let value = multihash::hash(args.code, &args.obj, args.size)
                .ok_or_else(|| ChainError::new(code::UNKNOWN_HASH_CODE, "unknown hash code"))?;
            ok(HashResult { value })
        }
        S::VerifyMerkleRoot => verify_merkle_root(ctx, decode(args)?),
        S::RecoverPublicKey => {
            let args: RecoverPublicKeyArguments = decode(args)?;
            ok(RecoverPublicKeyResult {
                value: recover(args.r#type, &args.signature, &args.digest, args.compressed)?,
            })
        }
        S::VerifySignature => {
            let args: VerifySignatureArguments = decode(args)?;
            let recovered = recover(args.r#type, &args.signature, &args.digest, args.compressed)?;
            ok(VerifySignatureResult {
                value: recovered == args.public_key,
            })
        }
        S::Call => {
            let args: CallArguments = decode(args)?;
            if args.entry_point == AUTHORIZE_ENTRY_POINT && privilege(ctx) != Privilege::KernelMode
            {
                return Err(ChainError::new(
                    code::INSUFFICIENT_PRIVILEGES,
                    "calling privileged thunk from non-privileged code",
                ));
            }
            let value = call_contract(ctx, &args.contract_id, args.entry_point, &args.args)?;
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
            // The frame below the calling contract: another contract, or the transaction
            // itself (empty caller, kernel privilege).
            let below = ctx.frames.len().checked_sub(2).map(|i| &ctx.frames[i]);
            ok(GetCallerResult {
                value: Some(CallerData {
                    caller: below.map(|f| f.contract_id.clone()).unwrap_or_default(),
                    caller_privilege: below.map_or(Privilege::KernelMode, |f| f.privilege).into(),
                }),
            })
        }
        S::CheckAuthority => check_authority(ctx, decode(args)?),
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

fn no_block() -> ChainError {
    ChainError::new(code::INTERNAL_ERROR, "block does not exist")
}

fn no_transaction() -> ChainError {
    ChainError::new(code::INTERNAL_ERROR, "transaction does not exist")
}

fn read_only(message: &str) -> ChainError {
    ChainError::new(code::READ_ONLY_CONTEXT, message)
}

/// A contract's own zone, or (kernel contracts) system spaces.
fn assert_permissions(ctx: &ApplyContext<'_>, space: &ObjectSpace) -> ChainResult<()> {
    if space.zone == caller(ctx) {
        return Ok(());
    }
    match privilege(ctx) {
        Privilege::KernelMode if space.system => Ok(()),
        Privilege::KernelMode => Err(ChainError::new(
            code::REVERSION,
            "privileged code can only accessed system space",
        )),
        Privilege::UserMode => Err(ChainError::new(
            code::REVERSION,
            "contract attempted access of non-contract database space",
        )),
    }
}

fn put_object(ctx: &mut ApplyContext<'_>, args: PutObjectArguments) -> ChainResult<Vec<u8>> {
    if ctx.mode == super::super::context::Mode::ReadOnly {
        return Err(read_only("cannot put object during read only call"));
    }
    let cost = ctx.params.compute_cost("object_serialization_per_byte")? * args.obj.len() as u64;
    ctx.use_compute(cost)?;
    let space = args.space.unwrap_or_default();
    assert_permissions(ctx, &space)?;
    ctx.put(state_key(&space, &args.key), args.obj)?;
    Ok(Vec::new())
}

enum Direction {
    Exact,
    Next,
    Prev,
}

fn get_object(
    ctx: &mut ApplyContext<'_>,
    args: GetObjectArguments,
    direction: Direction,
) -> ChainResult<Vec<u8>> {
    let space = args.space.unwrap_or_default();
    assert_permissions(ctx, &space)?;
    let found = match direction {
        Direction::Exact => ctx
            .session
            .get(&state_key(&space, &args.key))?
            .map(|value| (Vec::new(), value)),
        Direction::Next | Direction::Prev => {
            // State keys order by length first (the key is length-prefixed), so the space's
            // objects are ordered by their own keys here.
            let (start, end) = space_range(&space);
            let mut objects: Vec<(Vec<u8>, Vec<u8>)> = ctx
                .session
                .range(&start, &end)?
                .into_iter()
                .filter_map(|(k, v)| split_state_key(&k).map(|(_, key)| (key, v)))
                .collect();
            objects.sort();
            match direction {
                Direction::Next => objects.into_iter().find(|(k, _)| *k > args.key),
                _ => objects.into_iter().rev().find(|(k, _)| *k < args.key),
            }
        }
    };
    let value = match found {
        Some((key, value)) => {
            let cost =
                ctx.params.compute_cost("object_serialization_per_byte")? * value.len() as u64;
            ctx.use_compute(cost)?;
            Some(DatabaseObject {
                exists: true,
                value,
                key,
            })
        }
        None => None,
    };
    ok(GetObjectResult { value })
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

/// `verify_merkle_root`: whether the sha2-256 leaves hash to `root`, charged as the official
/// chain charges it (deserializing every multihash, then each inner node's hash).
fn verify_merkle_root(
    ctx: &mut ApplyContext<'_>,
    args: VerifyMerkleRootArguments,
) -> ChainResult<Vec<u8>> {
    let params = ctx.params;
    let per_multihash = params.compute_cost("deserialize_multihash_base")?
        + args.root.len() as u64 * params.compute_cost("deserialize_multihash_per_byte")?;
    ctx.use_compute((args.hashes.len() as u64 + 1) * per_multihash)?;
    let root = multihash::Multihash::from_bytes(&args.root)
        .map_err(|_| ChainError::new(code::UNKNOWN_HASH_CODE, "unknown hash code"))?;
    let (base, per_byte) = hash_cost_names(root.code)?;
    let node = params.compute_cost(base)?
        + 2 * root.digest.len() as u64 * params.compute_cost(per_byte)?;
    ctx.use_compute(hashes_per_leaves(args.hashes.len() as u64) * node)?;
    if root.code != multihash::code::SHA2_256 {
        return Err(ChainError::new(
            code::UNKNOWN_HASH_CODE,
            "merkle roots other than sha2-256 are not supported by this chain yet",
        ));
    }
    let mut leaves = Vec::with_capacity(args.hashes.len());
    for hash in &args.hashes {
        let leaf = multihash::Multihash::from_bytes(hash)
            .ok()
            .filter(|m| m.code == root.code)
            .ok_or_else(|| {
                ChainError::new(
                    code::UNKNOWN_HASH_CODE,
                    "leaf and merkle root hash codes do not match",
                )
            })?;
        let digest = <[u8; 32]>::try_from(leaf.digest.as_slice()).map_err(|_| {
            ChainError::new(
                code::UNKNOWN_HASH_CODE,
                "leaf and merkle root hash sizes do not match",
            )
        })?;
        leaves.push(digest);
    }
    ok(VerifyMerkleRootResult {
        value: koinos_protocol::merkle::merkle_root(&leaves) == args.root,
    })
}

/// Inner nodes a merkle tree of `leaves` hashes, as the official chain counts them.
fn hashes_per_leaves(leaves: u64) -> u64 {
    if leaves <= 2 {
        return 1;
    }
    let even = leaves.div_ceil(2) * 2;
    if even.is_power_of_two() {
        return even - 1;
    }
    even / 2 + hashes_per_leaves(even / 2)
}

fn hash_cost_names(code: u64) -> ChainResult<(&'static str, &'static str)> {
    use multihash::code as c;
    Ok(match code {
        c::SHA1 => ("sha1_base", "sha1_per_byte"),
        c::SHA2_256 => ("sha2_256_base", "sha2_256_per_byte"),
        c::SHA2_512 => ("sha2_512_base", "sha2_512_per_byte"),
        c::KECCAK_256 => ("keccak_256_base", "keccak_256_per_byte"),
        c::RIPEMD_160 => ("ripemd_160_base", "ripemd_160_per_byte"),
        _ => {
            return Err(ChainError::new(
                code::UNKNOWN_HASH_CODE,
                "unknown hash code",
            ));
        }
    })
}

/// `recover_public_key`: the key that signed the digest (a multihash), compressed or not.
fn recover(dsa: i32, signature: &[u8], digest: &[u8], compressed: bool) -> ChainResult<Vec<u8>> {
    if dsa != Dsa::EcdsaSecp256k1 as i32 {
        return Err(ChainError::new(code::UNKNOWN_DSA, "unexpected dsa"));
    }
    if signature.len() != 65 {
        return Err(ChainError::new(
            code::INVALID_SIGNATURE,
            "unexpected signature length",
        ));
    }
    let digest = multihash::Multihash::from_bytes(digest)
        .ok()
        .and_then(|m| <[u8; 32]>::try_from(m.digest.as_slice()).ok())
        .ok_or_else(|| ChainError::new(code::INVALID_SIGNATURE, "public key is invalid"))?;
    let key = recover_public_key(&digest, signature).map_err(|e| {
        let message = match e {
            CryptoError::NonCanonicalSignature => "signature must be canonical",
            _ => "public key is invalid",
        };
        ChainError::new(code::INVALID_SIGNATURE, message)
    })?;
    Ok(if compressed {
        key.to_compressed().to_vec()
    } else {
        key.to_uncompressed().to_vec()
    })
}

/// Calls a contract from a contract or an operation: the native token, or WASM bytecode.
pub fn call_contract(
    ctx: &mut ApplyContext<'_>,
    contract_id: &[u8],
    entry_point: u32,
    args: &[u8],
) -> ChainResult<Vec<u8>> {
    let Some(bytecode) = ctx.contract_bytecode(contract_id)? else {
        return Err(ChainError::new(
            code::INVALID_CONTRACT,
            "contract does not exist",
        ));
    };
    if bytecode == super::super::token::NATIVE_TOKEN_BYTECODE {
        return super::super::token::call(ctx, contract_id, entry_point, args);
    }
    let Some(metadata) = ctx.contract_metadata(contract_id)? else {
        return Err(ChainError::new(
            code::INVALID_CONTRACT,
            "contract metadata does not exist",
        ));
    };
    if metadata.hash.is_empty() {
        return Err(ChainError::new(
            code::INVALID_CONTRACT,
            "contract hash does not exist",
        ));
    }
    let frame = frame(contract_id, metadata.system, entry_point, args);
    super::run_contract(ctx, frame, &metadata.hash, &bytecode)
}

/// `check_authority`: the account's own contract decides when it overrides this kind of
/// authority (its `authorize` entry point); otherwise the account must have signed.
fn check_authority(
    ctx: &mut ApplyContext<'_>,
    args: CheckAuthorityArguments,
) -> ChainResult<Vec<u8>> {
    if ctx.mode == super::super::context::Mode::ReadOnly {
        return Err(read_only(
            "unable to perform action while context is read only",
        ));
    }
    let kind = AuthorizationType::try_from(args.r#type).unwrap_or(AuthorizationType::ContractCall);
    let value = authorize(ctx, &args.account, kind, args.data)?;
    ok(CheckAuthorityResult { value })
}

/// Whether `account` authorizes an action of `kind`: its contract's `authorize` entry point
/// when its metadata says it overrides that kind, else its signature on the transaction.
pub fn authorize(
    ctx: &mut ApplyContext<'_>,
    account: &[u8],
    kind: AuthorizationType,
    data: Vec<u8>,
) -> ChainResult<bool> {
    let overrides = ctx.contract_metadata(account)?.is_some_and(|m| match kind {
        AuthorizationType::ContractCall => m.authorizes_call_contract,
        AuthorizationType::TransactionApplication => m.authorizes_transaction_application,
        AuthorizationType::ContractUpload => m.authorizes_upload_contract,
    });
    if !overrides {
        ctx.transaction.as_ref().ok_or_else(no_transaction)?;
        return Ok(ctx.has_authority(account));
    }
    let mut arguments = AuthorizeArguments {
        r#type: kind as i32,
        call: None,
    };
    if kind == AuthorizationType::ContractCall {
        let contract = ctx.frames.last();
        let below = ctx.frames.len().checked_sub(2).map(|i| &ctx.frames[i]);
        arguments.call = Some(CallData {
            contract_id: contract.map(|f| f.contract_id.clone()).unwrap_or_default(),
            entry_point: contract.map_or(0, |f| f.entry_point),
            caller: below.map(|f| f.contract_id.clone()).unwrap_or_default(),
            data,
        });
    }
    // The official chain calls `authorize` with kernel privilege.
    ctx.frames.push(CallFrame {
        contract_id: Vec::new(),
        privilege: Privilege::KernelMode,
        entry_point: 0,
        args: Vec::new(),
    });
    let result = call_contract(
        ctx,
        account,
        AUTHORIZE_ENTRY_POINT,
        &arguments.encode_to_vec(),
    );
    ctx.frames.pop();
    Ok(AuthorizeResult::decode(result?.as_slice())
        .map(|r| r.value)
        .unwrap_or(false))
}
