//! The operations of a transaction, each applied as the official chain's `apply_*_operation`
//! thunk applies it and charged what that thunk and the system calls it makes cost.

use koinos_protocol::chain::{
    AuthorizationType, ContractMetadataObject, SetSystemCallEvent, SetSystemContractEvent,
    SystemCallId,
};
use koinos_protocol::crypto::sha256_multihash;
use koinos_protocol::pb::koinos::protocol::{Operation, operation::Op, system_call_target::Target};
use prost::Message;

use super::context::{ApplyContext, COMPUTE_PER_OPERATION};
use super::error::{ChainError, ChainResult, code};
use super::genesis::{metadata_state_key, space, system_space};
use super::state::state_key;
use super::token;
use super::transaction::call_contract;

pub fn apply_operation(ctx: &mut ApplyContext<'_>, op: &Operation) -> ChainResult<()> {
    if !ctx.has_registry() {
        ctx.use_compute(COMPUTE_PER_OPERATION)?;
    }
    ctx.operation = Some(op.clone());
    match &op.op {
        None => Err(ChainError::new(
            code::UNKNOWN_OPERATION,
            "unknown operation",
        )),
        Some(Op::CallContract(call)) => {
            ctx.charge("apply_call_contract_operation")?;
            ctx.charge("call")?;
            call_contract(ctx, &call.contract_id, call.entry_point, &call.args).map(drop)
        }
        Some(Op::UploadContract(upload)) => {
            ctx.charge("apply_upload_contract_operation")?;
            let id = &upload.contract_id;
            if ctx.contract_bytecode(id)?.as_deref() == Some(token::NATIVE_TOKEN_BYTECODE) {
                return Err(ChainError::new(
                    code::INSUFFICIENT_PRIVILEGES,
                    "cannot replace a native contract",
                ));
            }
            ctx.charge("check_authority")?;
            let authorized =
                super::wasm::authorize(ctx, id, AuthorizationType::ContractUpload, Vec::new())?;
            if !authorized {
                return Err(ChainError::new(
                    code::REVERSION,
                    "contract upload not authorized by the contract id's key",
                ));
            }
            let metadata_key = state_key(&system_space(space::CONTRACT_METADATA), id);
            let existing = ctx
                .charged_get(&metadata_key)?
                .and_then(|bytes| ContractMetadataObject::decode(bytes.as_slice()).ok());
            ctx.charge_sha256(upload.bytecode.len())?;
            let metadata = ContractMetadataObject {
                hash: sha256_multihash(&upload.bytecode),
                system: existing.is_some_and(|m| m.system),
                authorizes_call_contract: upload.authorizes_call_contract,
                authorizes_transaction_application: upload.authorizes_transaction_application,
                authorizes_upload_contract: upload.authorizes_upload_contract,
            };
            ctx.charged_put(
                state_key(&system_space(space::CONTRACT_BYTECODE), id),
                upload.bytecode.clone(),
            )?;
            // The ABI is not state: contract_meta_store indexes it from the operation.
            ctx.charged_put(metadata_key, metadata.encode_to_vec())
        }
        Some(Op::SetSystemCall(set)) => {
            ctx.charge("apply_set_system_call_operation")?;
            require_system_authority(ctx)?;
            let target = set.target.clone().unwrap_or_default();
            check_override_target(ctx, set.call_id, &target.target)?;
            let key = state_key(
                &system_space(space::SYSTEM_CALL_DISPATCH),
                &set.call_id.to_be_bytes(),
            );
            ctx.charged_put(key, target.encode_to_vec())?;
            let event = SetSystemCallEvent {
                call_id: set.call_id,
                target: Some(target),
            };
            emit_system_event(
                ctx,
                "koinos.chain.set_system_call_event",
                event.encode_to_vec(),
            )
        }
        Some(Op::SetSystemContract(set)) => {
            ctx.charge("apply_set_system_contract_operation")?;
            require_system_authority(ctx)?;
            charge_contract_reads(ctx, &set.contract_id)?;
            let Some(mut meta) = ctx.contract_metadata(&set.contract_id)? else {
                return Err(ChainError::new(
                    code::INVALID_CONTRACT,
                    "contract does not exist",
                ));
            };
            meta.system = set.system_contract;
            let key = state_key(&system_space(space::CONTRACT_METADATA), &set.contract_id);
            ctx.charged_put(key, meta.encode_to_vec())?;
            let event = SetSystemContractEvent {
                contract_id: set.contract_id.clone(),
                system_contract: set.system_contract,
            };
            emit_system_event(
                ctx,
                "koinos.chain.set_system_contract_event",
                event.encode_to_vec(),
            )
        }
    }
}

/// The `event` system call of a system operation: no source (the chain itself) and no
/// impacted accounts.
fn emit_system_event(ctx: &mut ApplyContext<'_>, name: &str, data: Vec<u8>) -> ChainResult<()> {
    ctx.charge("event")?;
    ctx.emit_event(&[], name, data, Vec::new());
    Ok(())
}

/// The two `get_object` calls the official chain makes for a contract's bytecode and metadata.
fn charge_contract_reads(ctx: &mut ApplyContext<'_>, contract_id: &[u8]) -> ChainResult<()> {
    for space_id in [space::CONTRACT_BYTECODE, space::CONTRACT_METADATA] {
        ctx.charged_get(&state_key(&system_space(space_id), contract_id))?;
    }
    Ok(())
}

/// What the official `apply_set_system_call_operation` requires of an override: a contract that
/// exists, has metadata and is a system contract (and never for `call`, which every contract
/// call goes through), or a thunk the chain has.
fn check_override_target(
    ctx: &mut ApplyContext<'_>,
    call_id: u32,
    target: &Option<Target>,
) -> ChainResult<()> {
    match target {
        Some(Target::SystemCallBundle(bundle)) => {
            let id = &bundle.contract_id;
            let bytecode =
                ctx.charged_get(&state_key(&system_space(space::CONTRACT_BYTECODE), id))?;
            if bytecode.is_none() {
                return Err(ChainError::new(
                    code::INVALID_CONTRACT,
                    "contract does not exist",
                ));
            }
            let metadata = ctx
                .charged_get(&state_key(&system_space(space::CONTRACT_METADATA), id))?
                .ok_or_else(|| {
                    ChainError::new(code::INVALID_CONTRACT, "contract metadata does not exist")
                })?;
            let metadata = ContractMetadataObject::decode(metadata.as_slice()).unwrap_or_default();
            if !metadata.system {
                return Err(ChainError::new(
                    code::INVALID_CONTRACT,
                    "contract is not a system contract",
                ));
            }
            if call_id == SystemCallId::Call as u32 {
                return Err(ChainError::new(
                    code::REVERSION,
                    "cannot override call_contract",
                ));
            }
            Ok(())
        }
        Some(Target::ThunkId(tid)) if thunk_exists(*tid) => Ok(()),
        Some(Target::ThunkId(tid)) => Err(ChainError::new(
            code::UNKNOWN_THUNK,
            "thunk ${tid} does not exist",
        )
        .with_param("tid", *tid as i32)),
        // No target is thunk 0, `nop`, as the official chain reads the message.
        None => Ok(()),
    }
}

/// Every system call id has a thunk except the name service's, which only a contract serves.
fn thunk_exists(tid: u32) -> bool {
    SystemCallId::try_from(tid as i32).is_ok_and(|id| {
        !matches!(
            id,
            SystemCallId::GetContractName | SystemCallId::GetContractAddress
        )
    })
}

/// `check_system_authority`: its entry, the genesis key's read and the recoveries to find it.
fn require_system_authority(ctx: &mut ApplyContext<'_>) -> ChainResult<()> {
    ctx.charge("check_system_authority")?;
    ctx.charged_get(&metadata_state_key("genesis_key"))?;
    let genesis_key = ctx.params.genesis_key.clone();
    ctx.charge_authority_recoveries(&genesis_key)?;
    if ctx.has_system_authority() {
        Ok(())
    } else {
        Err(ChainError::new(
            code::SYSTEM_AUTHORIZATION_FAILURE,
            "system operations need the genesis key's authority",
        ))
    }
}
