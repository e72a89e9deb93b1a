//! The resource system calls as native code makes them: through the system call table, so a
//! resources contract that overrides them (mainnet's) decides, else the genesis values.

use koinos_protocol::chain::{
    ConsumeAccountRcArguments, ConsumeAccountRcResult, GetAccountRcArguments, GetAccountRcResult,
    GetResourceLimitsResult, ResourceLimitData, SystemCallId,
};
use prost::Message;

use super::super::context::ApplyContext;
use super::super::error::ChainResult;
use super::host::system_call;
use super::thunks::decode;

/// `get_account_rc`: the RC `account` may spend.
pub fn get_account_rc(ctx: &mut ApplyContext<'_>, account: &[u8]) -> ChainResult<u64> {
    let args = GetAccountRcArguments {
        account: account.to_vec(),
    };
    let result = system_call(
        ctx,
        SystemCallId::GetAccountRc as u32,
        &args.encode_to_vec(),
    )?;
    Ok(decode::<GetAccountRcResult>(&result)?.value)
}

/// `consume_account_rc`: whether `account` could pay `rc`.
pub fn consume_account_rc(
    ctx: &mut ApplyContext<'_>,
    account: &[u8],
    rc: u64,
) -> ChainResult<bool> {
    let args = ConsumeAccountRcArguments {
        account: account.to_vec(),
        value: rc,
    };
    let result = system_call(
        ctx,
        SystemCallId::ConsumeAccountRc as u32,
        &args.encode_to_vec(),
    )?;
    Ok(decode::<ConsumeAccountRcResult>(&result)?.value)
}

/// `get_resource_limits`: the limits and costs of the block being applied.
pub fn get_resource_limits(ctx: &mut ApplyContext<'_>) -> ChainResult<ResourceLimitData> {
    let result = system_call(ctx, SystemCallId::GetResourceLimits as u32, &[])?;
    Ok(decode::<GetResourceLimitsResult>(&result)?
        .value
        .unwrap_or_default())
}
