//! The chain RPC `invoke_system_call`. Arguments and results are the `<name>_arguments` /
//! `<name>_result` messages.
//!
//! Answered from the chain's own view: `get_head_info` (1, with the chain's LIB),
//! `get_chain_id` (12), `get_last_irreversible_block` (106), `get_account_nonce` (107),
//! `get_contract_metadata` (112), `get_account_rc` (201), `get_resource_limits` (203). Every
//! other system call runs as a contract's would ([`super::wasm::system_call`]: overrides,
//! registry cost, the thunk), read-only at the head within `read-compute-bandwidth-limit`, as
//! the request's `caller_data`. As in the official chain: no id or name is `-1002`, an unknown
//! name `-103` "unknown system call name", an unknown id `106` "thunk <id> does not exist".

use koinos_protocol::chain::{
    ContractMetadataObject, HeadInfo, Privilege, ResourceLimitData, SystemCallId,
};
use koinos_protocol::rpc::chain::{
    InvokeSystemCallRequest, invoke_system_call_request::SystemCall,
};
use prost::Message;

use super::context::{ApplyContext, CallFrame, Mode};
use super::controller::{Chain, topology};
use super::error::{ChainError, ChainResult, code};

#[derive(Clone, PartialEq, prost::Message)]
struct BytesArg {
    #[prost(bytes = "vec", tag = "1")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct BytesResult {
    #[prost(bytes = "vec", tag = "1")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct U64Result {
    #[prost(uint64, tag = "1")]
    value: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HeadInfoResult {
    #[prost(message, optional, tag = "1")]
    value: Option<HeadInfo>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ResourceLimitsResult {
    #[prost(message, optional, tag = "1")]
    value: Option<ResourceLimitData>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ContractMetadataResult {
    #[prost(message, optional, tag = "1")]
    value: Option<ContractMetadataObject>,
}

fn bad_args(e: prost::DecodeError) -> ChainError {
    ChainError::new(code::FAILURE, format!("invalid system call arguments: {e}"))
}

/// Runs a read-only system call at the head state.
pub fn invoke(chain: &Chain, request: &InvokeSystemCallRequest) -> ChainResult<Vec<u8>> {
    let id = match &request.system_call {
        Some(SystemCall::Id(id)) => u32::try_from(*id)
            .ok()
            .and_then(|id| SystemCallId::try_from(id as i32).ok())
            .ok_or_else(|| {
                ChainError::new(code::UNKNOWN_THUNK, "thunk ${tid} does not exist")
                    .with_param("tid", *id)
            })?,
        Some(SystemCall::Name(name)) => SystemCallId::from_str_name(name).ok_or_else(|| {
            ChainError::new(code::UNKNOWN_SYSTEM_CALL, "unknown system call name")
        })?,
        None => {
            return Err(ChainError::new(
                code::MISSING_REQUIRED_ARGUMENTS,
                "missing expected field: ${f1} or ${f2}",
            )
            .with_param("f1", "id")
            .with_param("f2", "name"));
        }
    };
    let args = request.args.as_slice();
    Ok(match id {
        SystemCallId::GetHeadInfo => {
            let head = chain.head();
            HeadInfoResult {
                value: Some(HeadInfo {
                    head_topology: Some(topology(head)),
                    head_block_time: head.timestamp,
                    last_irreversible_block: chain.lib().height,
                }),
            }
            .encode_to_vec()
        }
        SystemCallId::GetChainId => BytesResult {
            value: chain.chain_id().to_vec(),
        }
        .encode_to_vec(),
        SystemCallId::GetLastIrreversibleBlock => U64Result {
            value: chain.lib().height,
        }
        .encode_to_vec(),
        SystemCallId::GetAccountNonce => {
            let account = BytesArg::decode(args).map_err(bad_args)?.value;
            BytesResult {
                value: chain.account_nonce(&account)?,
            }
            .encode_to_vec()
        }
        SystemCallId::GetAccountRc => {
            let account = BytesArg::decode(args).map_err(bad_args)?.value;
            U64Result {
                value: chain.account_rc(&account)?,
            }
            .encode_to_vec()
        }
        SystemCallId::GetResourceLimits => ResourceLimitsResult {
            value: Some(chain.resource_limits()?),
        }
        .encode_to_vec(),
        SystemCallId::GetContractMetadata => {
            let contract_id = BytesArg::decode(args).map_err(bad_args)?.value;
            let session = chain.head_session()?;
            let ctx = ApplyContext::new(session, chain.params(), Mode::ReadOnly);
            ContractMetadataResult {
                value: ctx.contract_metadata(&contract_id)?,
            }
            .encode_to_vec()
        }
        // Every other system call runs as a contract's would: read-only at the head, within
        // the read compute limit, as the caller the request names.
        _ => {
            let session = chain.head_session()?;
            let mut ctx = ApplyContext::new(session, chain.params(), Mode::ReadOnly)
                .at(chain.head_topology(), None);
            ctx.compute_limit = Some(chain.read_compute_limit());
            let caller = request.caller_data.clone().unwrap_or_default();
            ctx.frames.push(CallFrame {
                contract_id: caller.caller,
                privilege: Privilege::try_from(caller.caller_privilege)
                    .unwrap_or(Privilege::KernelMode),
                entry_point: 0,
                args: Vec::new(),
            });
            super::wasm::system_call(&mut ctx, id as u32, args)?
        }
    })
}
