//! Runs a WAT module's `_start` (or any function) with a host that records its calls.
#![allow(dead_code)]

use koinos_vm::{Exit, Host, HostCall, Instance, Limits, Memory, Module};

/// Host calls seen, and what each costs in ticks.
#[derive(Default)]
pub struct RecordingHost {
    pub calls: Vec<HostCall>,
    pub cost: i64,
}

impl Host for RecordingHost {
    type Error = String;
    fn call(
        &mut self,
        call: HostCall,
        memory: &mut Memory,
        ticks: &mut i64,
    ) -> Result<i32, String> {
        self.calls.push(call);
        *ticks -= self.cost;
        let Some(range) = memory.resolve(call.arg_ptr, call.arg_len) else {
            return Err("invalid arg_ptr".into());
        };
        let arg = memory.bytes()[range].to_vec();
        let Some(ret) = memory.resolve(call.ret_ptr, call.ret_len) else {
            return Err("invalid ret_ptr".into());
        };
        // Echo the argument into the result buffer.
        let n = arg.len().min(ret.len());
        memory.bytes_mut()[ret.start..ret.start + n].copy_from_slice(&arg[..n]);
        Ok(n as i32)
    }
}

/// Wraps bare functions in a module.
pub fn module_text(wat: &str) -> String {
    if wat.trim_start().starts_with("(module") {
        wat.to_owned()
    } else {
        format!("(module {wat})")
    }
}

pub fn parse(wat: &str) -> Module {
    let wasm = wat::parse_str(module_text(wat)).expect("valid WAT");
    Module::parse(&wasm).expect("module the VM accepts")
}

/// Runs `function` with `ticks`, compiled with and without fused instructions: both must end
/// the same way, with the same ticks left and the same memory (the differential check every
/// test here makes). Returns the outcome and the ticks left.
pub fn run_function(wat: &str, function: u32, ticks: i64) -> (Result<(), Exit<String>>, i64) {
    let wasm = wat::parse_str(module_text(wat)).expect("valid WAT");
    let run = |fusion: bool| {
        let module = Module::parse_with(&wasm, fusion).expect("module the VM accepts");
        let mut host = RecordingHost::default();
        let mut instance =
            Instance::new(&module, Limits::default(), &mut host, 0).expect("instantiates");
        let mut left = ticks;
        let result = instance.call(function, &mut host, &mut left);
        (result, left, instance.memory().bytes().to_vec())
    };
    let (result, left, memory) = run(true);
    let (reference, reference_left, reference_memory) = run(false);
    assert_eq!(
        (&result, left),
        (&reference, reference_left),
        "fused and unfused runs differ"
    );
    assert!(
        memory == reference_memory,
        "fused and unfused memories differ"
    );
    (result, left)
}

/// Runs `_start` with `ticks`: the result and the ticks left.
pub fn run(wat: &str, ticks: i64) -> (Result<(), Exit<String>>, i64) {
    let start = parse(wat).exported_function("_start").expect("_start");
    run_function(wat, start, ticks)
}

/// Ticks a successful `_start` uses.
pub fn ticks_used(wat: &str) -> i64 {
    let budget = 1 << 40;
    let (result, left) = run(wat, budget);
    result.expect("runs to the end");
    budget - left
}
