//! Uploaded contracts, run in [`koinos_vm`] with the Koinos host API.
//!
//! - [`run_contract`] parses (cached by bytecode hash), instantiates with the official limits
//!   and runs `_start` with the context's remaining compute as ticks, inside a
//!   [`CallFrame`] (kernel privilege for system contracts, else user).
//! - [`host::ContractHost`] serves `env.invoke_system_call` and `env.invoke_thunk`: compute
//!   is synchronized with the VM's tick counter at every host call, as the official VM does
//!   (ticks used so far are charged, the call runs, the VM continues with what is left).
//! - [`thunks`] dispatches the system calls themselves, with [`objects`] (the object
//!   calls), [`crypto`], [`authority`] (`call`, `check_authority`, `authorize`) and [`fields`]
//!   (`get_transaction_field`, `get_block_field`).
//!
//! How a run ends (the official chain's classification): `exit` with code 0 returns its
//! object; `exit` with a code ≥ 1 reverts and ≤ -1 fails with its `error_data` message; a
//! return from `_start` without `exit` returns nothing; a trap reverts ("module exited due to
//! trap"); running out of ticks is `compute bandwidth limit exceeded` (-1013); bytecode the VM
//! refuses reverts with "could not parse module ..." / "could not instantiate module ...".

mod authority;
mod crypto;
mod fields;
mod host;
mod objects;
mod rc;
mod thunks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use koinos_protocol::chain::Privilege;
use koinos_vm::{Exit, Instance, Limits, Module, Trap};

use super::context::{ApplyContext, CallFrame};
use super::error::{ChainError, ChainResult, code};

pub use authority::{AUTHORIZE_ENTRY_POINT, authorize, call_contract};
pub use crypto::charge_verify_merkle_root;
pub use host::{Stop, system_call};
pub use rc::{consume_account_rc, get_account_rc, get_resource_limits};

/// Nested contract calls allowed: the official chain's stack of 256 frames holds a system-call
/// frame and a contract frame per nested call.
pub const MAX_CALL_FRAMES: usize = 128;

/// Parsed modules, by bytecode hash: parsing a 60 KB contract costs more than most calls.
const MODULE_CACHE_SIZE: usize = 32;

fn module_cache() -> &'static Mutex<HashMap<Vec<u8>, Arc<Module>>> {
    static CACHE: OnceLock<Mutex<HashMap<Vec<u8>, Arc<Module>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn parse(hash: &[u8], bytecode: &[u8]) -> ChainResult<Arc<Module>> {
    if let Some(module) = module_cache()
        .lock()
        .ok()
        .and_then(|c| c.get(hash).cloned())
    {
        return Ok(module);
    }
    let module = Arc::new(Module::parse(bytecode).map_err(|e| {
        ChainError::new(code::REVERSION, "could not parse module - ${msg}")
            .with_param("msg", e.message)
    })?);
    if let Ok(mut cache) = module_cache().lock() {
        if cache.len() >= MODULE_CACHE_SIZE {
            cache.clear();
        }
        cache.insert(hash.to_vec(), module.clone());
    }
    Ok(module)
}

/// Runs `bytecode` (hash `hash`) as contract `contract_id` at `entry_point` with `args`.
pub fn run_contract(
    ctx: &mut ApplyContext<'_>,
    frame: CallFrame,
    hash: &[u8],
    bytecode: &[u8],
) -> ChainResult<Vec<u8>> {
    if ctx.frames.len() >= MAX_CALL_FRAMES {
        return Err(ChainError::new(
            code::REVERSION,
            "apply context stack overflow",
        ));
    }
    let module = parse(hash, bytecode)?;
    if !ON_CONTRACT_STACK.get() {
        // The outermost contract (of an operation, a read, or an authority check): nested
        // calls recurse on the native stack (each level a VM run and a host call), so they get
        // a stack sized for the frame limit.
        return std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("contract".into())
                .stack_size(CONTRACT_STACK_SIZE)
                .spawn_scoped(scope, || {
                    ON_CONTRACT_STACK.set(true);
                    run_in_frame(ctx, frame, &module)
                })
                .map_err(|e| ChainError::internal(format!("cannot start a contract thread: {e}")))?
                .join()
                .unwrap_or_else(|_| Err(ChainError::internal("a contract run panicked")))
        });
    }
    run_in_frame(ctx, frame, &module)
}

thread_local! {
    /// Set on the threads [`run_contract`] starts for contracts.
    static ON_CONTRACT_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Native stack for a contract and everything it calls: tens of KiB per nested call level in
/// a debug build (2 MiB overflowed below [`MAX_CALL_FRAMES`]), less in release; reserved, not
/// committed until used.
const CONTRACT_STACK_SIZE: usize = 64 << 20;

fn run_in_frame(
    ctx: &mut ApplyContext<'_>,
    frame: CallFrame,
    module: &Module,
) -> ChainResult<Vec<u8>> {
    ctx.frames.push(frame);
    let outcome = run_start(ctx, module);
    ctx.frames.pop();
    outcome
}

fn run_start(ctx: &mut ApplyContext<'_>, module: &Module) -> ChainResult<Vec<u8>> {
    let start = module
        .exported_function("_start")
        .ok_or_else(|| ChainError::new(code::REVERSION, "module does not have _start function"))?;
    let mut host = host::ContractHost::new(ctx);
    // A start section (AssemblyScript emits none) runs at instantiation uncharged, as in the
    // official VM, but within the compute left rather than without any bound.
    let start_budget = host.start_ticks();
    let mut instance =
        Instance::new(module, Limits::default(), &mut host, start_budget).map_err(|e| {
            ChainError::new(code::REVERSION, "could not instantiate module - ${msg}")
                .with_param("msg", e.message)
        })?;
    let mut ticks = host.start_ticks();
    let outcome = instance.call(start, &mut host, &mut ticks);
    host.finish(ticks)?;
    match outcome {
        Ok(()) => Ok(Vec::new()),
        Err(Exit::Host(Stop::Exit(object))) => Ok(object),
        Err(Exit::Host(Stop::Error(e))) => Err(e),
        Err(Exit::Trap(Trap::OutOfTicks)) => Err(ChainError::new(
            code::COMPUTE_BANDWIDTH_LIMIT_EXCEEDED,
            "compute bandwidth limit exceeded",
        )),
        Err(Exit::Trap(trap)) => Err(
            ChainError::new(code::REVERSION, "module exited due to trap")
                .with_param("trap", trap.to_string()),
        ),
    }
}

/// The privilege a contract runs with.
pub fn privilege_of(system: bool) -> Privilege {
    if system {
        Privilege::KernelMode
    } else {
        Privilege::UserMode
    }
}
