//! Instantiation (imports, memory, globals, table, segments) and the host interface.

use std::ops::Range;

use wasmparser::ValType;

use crate::error::{Exit, InstantiateError};
use crate::exec;
use crate::module::{Init, Module};

/// A WebAssembly page.
pub const PAGE_SIZE: usize = 65_536;

/// The official VM's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Memory pages a module may have (declared or grown): 512 (32 MiB).
    pub memory_pages: u32,
    /// The call depth execution starts at (the official VM creates its context at 251)...
    pub initial_depth: u32,
    /// ...and the depth at which a call traps (the interpreter's call stack limit, 2048), so a
    /// contract can nest 1,796 calls below `_start`.
    pub call_stack_limit: u32,
    /// Values (locals and operands of all active calls) the value stack may hold: a bound on
    /// memory the official VM does not have; at 8 Mi values (64 MiB) it is far above what its
    /// call-depth limit lets real code reach.
    pub value_stack: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_pages: 512,
            initial_depth: 251,
            call_stack_limit: 2048,
            value_stack: 8 << 20,
        }
    }
}

/// The two host functions a Koinos contract may import from `env`, both
/// `(i32, i32, i32, i32, i32, i32) -> i32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFunction {
    InvokeThunk,
    InvokeSystemCall,
}

/// A host call's arguments: the thunk or system call id, the result buffer, the argument
/// buffer, and where to write the result's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostCall {
    pub function: HostFunction,
    pub id: u32,
    pub ret_ptr: u32,
    pub ret_len: u32,
    pub arg_ptr: u32,
    pub arg_len: u32,
    pub bytes_written_ptr: u32,
}

/// What the contract's imports call.
pub trait Host {
    type Error;
    /// Runs a host call. `ticks` is the VM's remaining budget: the host charges what the call
    /// costs by lowering it (or sets it from its own meter); a negative value is out of ticks.
    fn call(
        &mut self,
        call: HostCall,
        memory: &mut Memory,
        ticks: &mut i64,
    ) -> Result<i32, Self::Error>;
}

/// Linear memory.
#[derive(Debug, Default)]
pub struct Memory {
    pub(crate) bytes: Vec<u8>,
    pub(crate) max_pages: u32,
}

impl Memory {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// The byte range `[ptr, ptr + len)` when it lies inside memory (`ptr == size` with `len ==
    /// 0` included), as the official VM resolves host-call pointers.
    pub fn resolve(&self, ptr: u32, len: u32) -> Option<Range<usize>> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize)?;
        (end <= self.bytes.len()).then_some(start..end)
    }

    pub(crate) fn pages(&self) -> u32 {
        (self.bytes.len() / PAGE_SIZE) as u32
    }

    /// `memory.grow`: the old size in pages, or `u32::MAX` when it would pass the limit.
    pub(crate) fn grow(&mut self, delta: u32) -> u32 {
        let old = self.pages();
        match old.checked_add(delta) {
            Some(new) if new <= self.max_pages => {
                self.bytes.resize(new as usize * PAGE_SIZE, 0);
                old
            }
            _ => u32::MAX,
        }
    }
}

/// Mutable state of one instantiation.
pub(crate) struct State {
    pub memory: Memory,
    pub globals: Vec<u64>,
    pub table: Vec<Option<u32>>,
    /// Per import: which host function it is.
    pub host_functions: Vec<HostFunction>,
    pub limits: Limits,
}

/// A module instantiated with the two host functions.
pub struct Instance<'m> {
    module: &'m Module,
    state: State,
}

impl<'m> Instance<'m> {
    /// Resolves imports, lays out memory, globals and the table, and applies the segments
    /// (all bounds-checked before any is written). A start section runs with `start_ticks`.
    pub fn new<H: Host>(
        module: &'m Module,
        limits: Limits,
        host: &mut H,
        start_ticks: i64,
    ) -> Result<Self, InstantiateError> {
        let host_functions = resolve_imports(module)?;
        if module.global_imports > 0 {
            return Err(InstantiateError::new("imported globals cannot be resolved"));
        }
        let memory = match module.memory {
            None => Memory::default(),
            Some((min, max)) => {
                if min > u64::from(limits.memory_pages) {
                    return Err(InstantiateError::new(format!(
                        "memory of {min} pages is above the limit of {} pages",
                        limits.memory_pages
                    )));
                }
                let max_pages = max.map_or(limits.memory_pages, |m| {
                    m.min(u64::from(limits.memory_pages)) as u32
                });
                Memory {
                    bytes: vec![0; min as usize * PAGE_SIZE],
                    max_pages,
                }
            }
        };
        let globals: Vec<u64> = module
            .globals
            .iter()
            .map(|init| match *init {
                Init::Const(v) => v,
                // Only imported globals may be read here, and there are none.
                Init::Global(_) => 0,
            })
            .collect();
        let table_size = module.table.map_or(0, |(min, _)| min) as usize;
        let mut state = State {
            memory,
            table: vec![None; table_size],
            globals,
            host_functions,
            limits,
        };
        state.apply_segments(module)?;
        let mut instance = Instance { module, state };
        if let Some(start) = module.start_section {
            let mut ticks = start_ticks;
            instance
                .call(start, host, &mut ticks)
                .map_err(|e| match e {
                    Exit::Trap(t) => InstantiateError::new(format!("start function trapped: {t}")),
                    Exit::Host(_) => InstantiateError::new("start function failed in a host call"),
                })?;
        }
        Ok(instance)
    }

    pub fn memory(&self) -> &Memory {
        &self.state.memory
    }

    /// Runs function `function` (one without parameters, else [`crate::Trap::EntryParameters`]) until
    /// it returns, traps, or a host call fails. `ticks` is the budget: one per executed instruction, plus one per page
    /// `memory.grow` asks for; what is left stays in it (negative when it ran out).
    pub fn call<H: Host>(
        &mut self,
        function: u32,
        host: &mut H,
        ticks: &mut i64,
    ) -> Result<(), Exit<H::Error>> {
        exec::run(self.module, &mut self.state, function, host, ticks)
    }
}

fn resolve_imports(module: &Module) -> Result<Vec<HostFunction>, InstantiateError> {
    module
        .imports
        .iter()
        .map(|import| {
            let function = match (import.module.as_str(), import.name.as_str()) {
                ("env", "invoke_thunk") => HostFunction::InvokeThunk,
                ("env", "invoke_system_call") => HostFunction::InvokeSystemCall,
                _ => {
                    return Err(InstantiateError::new(format!(
                        "unresolved import {}.{}",
                        import.module, import.name
                    )));
                }
            };
            let host_signature = module
                .signatures
                .get(import.signature as usize)
                .is_some_and(|s| {
                    s.params == 6 && s.results == 1 && s.kinds.iter().all(|k| *k == ValType::I32)
                });
            if !host_signature {
                return Err(InstantiateError::new(format!(
                    "import {}.{} has the wrong signature",
                    import.module, import.name
                )));
            }
            Ok(function)
        })
        .collect()
}

impl State {
    fn apply_segments(&mut self, module: &Module) -> Result<(), InstantiateError> {
        let offset = |init: Init| match init {
            Init::Const(v) => v as u32 as u64,
            Init::Global(i) => self.globals.get(i as usize).copied().unwrap_or(0) as u32 as u64,
        };
        let elements: Vec<(usize, &[u32])> = module
            .elements
            .iter()
            .map(|s| (offset(s.offset) as usize, s.items.as_slice()))
            .collect();
        let data: Vec<(usize, &[u8])> = module
            .data
            .iter()
            .map(|s| (offset(s.offset) as usize, s.items.as_slice()))
            .collect();
        if elements
            .iter()
            .any(|(at, items)| at + items.len() > self.table.len())
        {
            return Err(InstantiateError::new(
                "element segment does not fit the table",
            ));
        }
        if data
            .iter()
            .any(|(at, bytes)| at + bytes.len() > self.memory.bytes.len())
        {
            return Err(InstantiateError::new("data segment does not fit memory"));
        }
        for (at, items) in elements {
            for (slot, function) in self.table[at..at + items.len()].iter_mut().zip(items) {
                *slot = Some(*function);
            }
        }
        for (at, bytes) in data {
            self.memory.bytes[at..at + bytes.len()].copy_from_slice(bytes);
        }
        Ok(())
    }
}
