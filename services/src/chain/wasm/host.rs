//! The VM's host: `env.invoke_system_call` (dispatched through the system-call override table,
//! charged its registry cost) and `env.invoke_thunk` (system contracts only), with the official
//! host API's result rules:
//! - the result message is written to the return buffer (`insufficient_return_buffer`, 105, when
//!   it does not fit) and its length to `bytes_written`; the call returns 0;
//! - an error returns its code, with its `error_data` in the return buffer when it fits;
//! - in a user-mode contract an error with a reversion code (≥ 1) ends the contract instead;
//! - `exit` ends the contract ([`Stop`]).

use koinos_protocol::chain::{ErrorData, ExitArguments, Privilege, SystemCallId};
use koinos_protocol::pb::koinos::protocol::{SystemCallTarget, system_call_target::Target};
use koinos_vm::{Host, HostCall, HostFunction, Memory};
use prost::Message;

use super::super::context::{ApplyContext, CallFrame};
use super::super::error::{ChainError, ChainResult, code};
use super::super::genesis::{space, system_space};
use super::super::state::state_key;
use super::thunks;

/// Why a contract stopped before returning from `_start`.
#[derive(Debug)]
pub enum Stop {
    /// `exit` with code 0: the contract's result object.
    Exit(Vec<u8>),
    /// `exit` with an error code, or an error that ends the contract.
    Error(ChainError),
}

pub(crate) struct ContractHost<'c, 'p> {
    ctx: &'c mut ApplyContext<'p>,
    /// The VM's tick count when the meter was last synchronized with it.
    previous: i64,
}

impl<'c, 'p> ContractHost<'c, 'p> {
    pub fn new(ctx: &'c mut ApplyContext<'p>) -> Self {
        Self { ctx, previous: 0 }
    }

    /// The VM's budget: the compute left.
    pub fn start_ticks(&mut self) -> i64 {
        self.previous = i64::try_from(self.ctx.compute_remaining()).unwrap_or(i64::MAX);
        self.previous
    }

    /// Charges what the VM used since the last synchronization (more than is left fails as
    /// [`ApplyContext::use_compute`] says).
    fn charge(&mut self, ticks: i64) -> ChainResult<()> {
        let used = u64::try_from(self.previous.saturating_sub(ticks)).unwrap_or(0);
        self.ctx.use_compute(used)?;
        self.previous = ticks;
        Ok(())
    }

    /// Charges the ticks of the run's tail.
    pub fn finish(&mut self, ticks: i64) -> ChainResult<()> {
        self.charge(ticks)
    }

    fn privilege(&self) -> Privilege {
        self.ctx
            .frames
            .last()
            .map_or(Privilege::KernelMode, |f| f.privilege)
    }

    fn thunk(&mut self, id: u32, args: &[u8]) -> ChainResult<Vec<u8>> {
        thunks::thunk(self.ctx, thunk_id(id)?, args)
    }
}

/// A system call: a contract override when the dispatch table names one, else the thunk it
/// names (or the thunk of the same id), charged its registry cost.
pub fn system_call(ctx: &mut ApplyContext<'_>, id: u32, args: &[u8]) -> ChainResult<Vec<u8>> {
    let key = state_key(
        &system_space(space::SYSTEM_CALL_DISPATCH),
        &id.to_be_bytes(),
    );
    let target = match ctx.session.get(&key)? {
        Some(bytes) => {
            SystemCallTarget::decode(bytes.as_slice())
                .map_err(|e| ChainError::internal(format!("bad system call target: {e}")))?
                .target
        }
        None => None,
    };
    let thunk_id = match target {
        Some(Target::SystemCallBundle(bundle)) => {
            return super::authority::call_contract(
                ctx,
                &bundle.contract_id,
                bundle.entry_point,
                args,
            );
        }
        Some(Target::ThunkId(thunk)) => thunk,
        None => id,
    };
    let thunk = self::thunk_id(thunk_id)?;
    let cost = ctx.params.compute_cost(thunk.as_str_name())?;
    ctx.use_compute(cost)?;
    thunks::thunk(ctx, thunk, args)
}

/// The thunk numbered `id`; "thunk ${tid} does not exist" (106) for a number none has.
fn thunk_id(id: u32) -> ChainResult<SystemCallId> {
    SystemCallId::try_from(id as i32).map_err(|_| {
        ChainError::new(code::UNKNOWN_THUNK, "thunk ${tid} does not exist").with_param("tid", id)
    })
}

/// `exit`'s arguments as the end of the contract.
fn exit(args: &[u8]) -> Stop {
    let Ok(exit) = ExitArguments::decode(args) else {
        return Stop::Error(ChainError::new(code::REVERSION, "invalid exit arguments"));
    };
    let result = exit.res.unwrap_or_default();
    use koinos_protocol::chain::result::Value;
    if exit.code == 0 {
        return Stop::Exit(match result.value {
            Some(Value::Object(object)) => object,
            _ => Vec::new(),
        });
    }
    match result.value {
        Some(Value::Error(error)) => Stop::Error(ChainError::new(exit.code, error.message)),
        _ => Stop::Error(ChainError::new(
            code::REVERSION,
            "exit error did not contain error data",
        )),
    }
}

fn memory_error(function: HostFunction, what: &str) -> Stop {
    let name = match function {
        HostFunction::InvokeThunk => "invoke_thunk",
        HostFunction::InvokeSystemCall => "invoke_system_call",
    };
    Stop::Error(ChainError::new(
        code::REVERSION,
        format!("invalid {what} in {name}()"),
    ))
}

impl Host for ContractHost<'_, '_> {
    type Error = Stop;

    fn call(&mut self, call: HostCall, memory: &mut Memory, ticks: &mut i64) -> Result<i32, Stop> {
        let ret = memory
            .resolve(call.ret_ptr, call.ret_len)
            .ok_or_else(|| memory_error(call.function, "ret_ptr"))?;
        let args = memory
            .resolve(call.arg_ptr, call.arg_len)
            .map(|range| memory.bytes()[range].to_vec())
            .ok_or_else(|| memory_error(call.function, "arg_ptr"))?;
        let written = memory
            .resolve(call.bytes_written_ptr, 4)
            .ok_or_else(|| memory_error(call.function, "bytes_written"))?;
        self.charge(*ticks).map_err(Stop::Error)?;

        let is_exit = call.id == SystemCallId::Exit as u32;
        let outcome = match call.function {
            HostFunction::InvokeThunk if self.privilege() != Privilege::KernelMode => {
                return Err(Stop::Error(ChainError::new(
                    code::INSUFFICIENT_PRIVILEGES,
                    "'invoke_thunk' must be called from a system context",
                )));
            }
            _ if is_exit => {
                let cost = self.ctx.params.compute_cost("exit").map_err(Stop::Error)?;
                self.ctx.use_compute(cost).map_err(Stop::Error)?;
                return Err(exit(&args));
            }
            HostFunction::InvokeThunk => self.thunk(call.id, &args),
            HostFunction::InvokeSystemCall => system_call(self.ctx, call.id, &args),
        };
        // The VM continues with what is left after the call.
        self.previous = i64::try_from(self.ctx.compute_remaining()).unwrap_or(i64::MAX);
        *ticks = self.previous;

        let outcome = outcome.and_then(|result| {
            if result.len() > ret.len() {
                Err(ChainError::new(
                    code::INSUFFICIENT_RETURN_BUFFER,
                    "return buffer is not large enough for the return value",
                ))
            } else {
                Ok(result)
            }
        });
        let (code, payload) = match outcome {
            Ok(result) => (0, Some(result)),
            Err(e) => {
                if call.function == HostFunction::InvokeSystemCall
                    && self.privilege() == Privilege::UserMode
                    && e.code >= code::REVERSION
                {
                    return Err(Stop::Error(e));
                }
                let error = ErrorData { message: e.message }.encode_to_vec();
                if error.len() <= ret.len() {
                    (e.code, Some(error))
                } else {
                    (code::INSUFFICIENT_RETURN_BUFFER, None)
                }
            }
        };
        let bytes = memory.bytes_mut();
        bytes[written.clone()].copy_from_slice(&0u32.to_le_bytes());
        if let Some(payload) = payload {
            bytes[ret.start..ret.start + payload.len()].copy_from_slice(&payload);
            bytes[written].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        }
        Ok(code)
    }
}

/// The frame of a contract called by `call` or by an operation.
pub(crate) fn frame(contract_id: &[u8], system: bool, entry_point: u32, args: &[u8]) -> CallFrame {
    CallFrame {
        contract_id: contract_id.to_vec(),
        privilege: super::privilege_of(system),
        entry_point,
        args: args.to_vec(),
    }
}
