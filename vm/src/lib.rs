//! `koinos-vm`: the WebAssembly VM of the Koinos chain, metered exactly as the official VM is.
//!
//! The official chain runs contracts in a fork of the fizzy interpreter, and charges compute
//! bandwidth one-for-one with that interpreter's *ticks*. Ticks are a consensus value (they are
//! in every receipt and decide when a transaction runs out of compute), so this crate
//! reproduces the rules rather than approximating them:
//! - **One tick per executed instruction of the interpreter's own code layout**, charged before
//!   the instruction runs; the instruction that would take the budget below zero traps. That
//!   layout keeps `block`, `loop` and `end` as instructions and places branch targets in a
//!   particular way (see [`compile`](crate::compile)), so e.g. a taken branch out of a block
//!   does not execute that block's `end`, a loop's back edge executes the `loop` again, and
//!   `return` executes the function's final `end` (two ticks).
//! - `memory.grow` costs one more tick per requested page.
//! - Host calls (`env.invoke_thunk`, `env.invoke_system_call`) cost their `call` tick here; the
//!   host charges the system call's own cost through the tick budget it is handed.
//! - WebAssembly 1.0 only, as the official VM parses; float *types* validate, but every float
//!   instruction except loads traps when executed (the official VM is built with floats off).
//! - Limits ([`Limits`]): 512 memory pages; calls start at depth 251 and trap at 2048.
//!
//! The layout rules follow fizzy's parser of the version whose interpreter the fork carries
//! (the one that still emits `block` and `loop`); a cost of 1 per instruction and the call
//! stack limit of 2048 are that version's, as the fork's own tables are not published apart
//! from its interpreter loop.
//!
//! Engine choice: an interpreter of our own over wasmparser's decoder and validator, because
//! the tick count must follow the reference interpreter's layout instruction by instruction;
//! an optimizing engine with fuel (wasmtime, wasmi) charges per its own basic blocks and
//! instruction set, which would need a translation layer as large as this interpreter and
//! still differ at traps.
//!
//! ```
//! use koinos_vm::{Host, HostCall, Instance, Limits, Memory, Module};
//! struct NoHost;
//! impl Host for NoHost {
//!     type Error = String;
//!     fn call(&mut self, _: HostCall, _: &mut Memory, _: &mut i64) -> Result<i32, String> {
//!         Err("no host functions here".into())
//!     }
//! }
//! let wasm = wat::parse_str(r#"(module (func (export "_start") i32.const 1 drop))"#).unwrap();
//! let module = Module::parse(&wasm).unwrap();
//! let mut instance = Instance::new(&module, Limits::default(), &mut NoHost, 0).unwrap();
//! let mut ticks = 100;
//! instance.call(module.exported_function("_start").unwrap(), &mut NoHost, &mut ticks).unwrap();
//! assert_eq!(ticks, 97); // i32.const, drop, end
//! ```

mod compile;
mod error;
mod exec;
mod instance;
mod module;
mod op;
mod plain;
#[cfg(feature = "profile")]
#[doc(hidden)]
pub mod profile;

pub use error::{Exit, InstantiateError, ParseError, Trap};
pub use instance::{Host, HostCall, HostFunction, Instance, Limits, Memory, PAGE_SIZE};
pub use module::Module;
