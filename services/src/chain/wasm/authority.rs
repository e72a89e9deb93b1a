//! Calling contracts and authority: `call`, `check_authority`, and the `authorize` entry point
//! of an account whose contract overrides its authority.

use koinos_protocol::chain::{
    AuthorizationType, AuthorizeArguments, AuthorizeResult, CallData, CheckAuthorityArguments,
    CheckAuthorityResult, ContractMetadataObject, Privilege,
};
use prost::Message;

use super::super::context::{ApplyContext, CallFrame, Mode};
use super::super::error::{ChainError, ChainResult, code};
use super::super::genesis::{space, system_space};
use super::super::state::state_key;
use super::host::frame;
use super::thunks::{no_transaction, ok, read_only};

/// The `authorize` entry point a contract overriding an account's authority implements.
pub const AUTHORIZE_ENTRY_POINT: u32 = 0x4a2d_bd90;

/// Calls a contract from a contract or an operation: the native token, or WASM bytecode.
pub fn call_contract(
    ctx: &mut ApplyContext<'_>,
    contract_id: &[u8],
    entry_point: u32,
    args: &[u8],
) -> ChainResult<Vec<u8>> {
    // The official `call` reads both objects through `get_object`, charged as such.
    let bytecode_key = state_key(&system_space(space::CONTRACT_BYTECODE), contract_id);
    let Some(bytecode) = ctx.charged_get(&bytecode_key)? else {
        return Err(ChainError::new(
            code::INVALID_CONTRACT,
            "contract does not exist",
        ));
    };
    if bytecode == super::super::token::NATIVE_TOKEN_BYTECODE {
        return super::super::token::call(ctx, contract_id, entry_point, args);
    }
    let metadata_key = state_key(&system_space(space::CONTRACT_METADATA), contract_id);
    let Some(metadata) = ctx.charged_get(&metadata_key)? else {
        return Err(ChainError::new(
            code::INVALID_CONTRACT,
            "contract metadata does not exist",
        ));
    };
    let metadata = ContractMetadataObject::decode(metadata.as_slice())
        .map_err(|e| ChainError::internal(format!("bad contract metadata: {e}")))?;
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
pub(super) fn check_authority(
    ctx: &mut ApplyContext<'_>,
    args: CheckAuthorityArguments,
) -> ChainResult<Vec<u8>> {
    if ctx.mode == Mode::ReadOnly {
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
    // Charged as the official thunk's `get_object` of the account's metadata.
    let metadata_key = state_key(&system_space(space::CONTRACT_METADATA), account);
    let metadata = ctx
        .charged_get(&metadata_key)?
        .and_then(|bytes| ContractMetadataObject::decode(bytes.as_slice()).ok());
    let overrides = metadata.is_some_and(|m| match kind {
        AuthorizationType::ContractCall => m.authorizes_call_contract,
        AuthorizationType::TransactionApplication => m.authorizes_transaction_application,
        AuthorizationType::ContractUpload => m.authorizes_upload_contract,
    });
    if !overrides {
        ctx.transaction.as_ref().ok_or_else(no_transaction)?;
        ctx.charge_authority_recoveries(account)?;
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
    // The official chain calls `authorize` through the `call` system call, with kernel
    // privilege.
    ctx.charge("call")?;
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
