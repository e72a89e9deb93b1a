//! Hostile bytecode (docs/testing.md "Hostile input"): random mutations of valid modules (the
//! control-flow programs of the tick tests and, when built, the official toolchain's token)
//! are parsed, instantiated and run with a small tick budget and a host that refuses every
//! call. Never a panic: a module is refused, traps, or runs out of ticks. `FUZZ_CASES` /
//! `FUZZ_SEED` as in `fuzz_support`.

#[path = "../../protocol/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::{Fuzz, Outcome, cases};
use koinos_vm::{Host, HostCall, Instance, Limits, Memory, Module};

struct RefusingHost;

impl Host for RefusingHost {
    type Error = ();
    fn call(&mut self, call: HostCall, memory: &mut Memory, ticks: &mut i64) -> Result<i32, ()> {
        // Touch what a real host touches: the buffers the call names.
        let _ = memory.resolve(call.arg_ptr, call.arg_len);
        *ticks -= 10;
        Err(())
    }
}

const SEEDS: &[&str] = &[
    r#"(module (memory 1) (func (export "_start") (local i32)
        i32.const 3 local.set 0
        loop local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0 end))"#,
    r#"(module (memory 1) (func $f (param i32) (result i32)
        local.get 0 if (result i32) i32.const 10 else i32.const 20 end)
        (func (export "_start") i32.const 1 call $f drop))"#,
    r#"(module (func $f (param i32) block block block local.get 0 br_table 0 1 2 end nop end nop end)
        (func (export "_start") i32.const 1 call $f))"#,
    r#"(module (type $t (func (result i32))) (table 2 funcref) (elem (i32.const 0) $a $b)
        (func $a (result i32) i32.const 5) (func $b (result i32) i32.const 6)
        (func (export "_start") i32.const 1 call_indirect (type $t) drop))"#,
    r#"(module (import "env" "invoke_system_call" (func $sc (param i32 i32 i32 i32 i32 i32) (result i32)))
        (memory 1) (data (i32.const 16) "abc") (global $g (mut i32) (i32.const 7))
        (func (export "_start") i32.const 1 i32.const 0 i32.const 8 i32.const 16 i32.const 3
          i32.const 64 call $sc global.set $g i32.const 2 memory.grow drop
          i32.const 0 i64.const -1 i64.store))"#,
    include_str!("fused.wat"),
];

/// How a run ended: the result, the ticks left and the memory.
type End = (Result<(), koinos_vm::Exit<()>>, i64, Vec<u8>);

/// Parses and runs `bytes` compiled with or without fused instructions: the result, the ticks
/// left and the memory (`None` when refused).
fn run_with(bytes: &[u8], fusion: bool) -> Option<End> {
    let module = Module::parse_with(bytes, fusion).ok()?;
    let mut instance = Instance::new(&module, Limits::default(), &mut RefusingHost, 10_000).ok()?;
    let start = module.exported_function("_start")?;
    let mut ticks = 100_000;
    let result = instance.call(start, &mut RefusingHost, &mut ticks);
    Some((result, ticks, instance.memory().bytes().to_vec()))
}

/// Never a panic, and the fused compilation ends exactly as the unfused one does.
fn run(bytes: &[u8]) -> Outcome {
    let fused = run_with(bytes, true);
    let unfused = run_with(bytes, false);
    assert!(fused == unfused, "fused and unfused runs differ");
    match fused {
        Some((Ok(()), _, _)) => Outcome::Accepted,
        _ => Outcome::Error,
    }
}

#[test]
fn mutated_modules_never_panic() {
    let seeds: Vec<Vec<u8>> = SEEDS.iter().map(|w| wat::parse_str(w).unwrap()).collect();
    let mut fuzz = Fuzz::new("vm_modules");
    let dictionary: &[&[u8]] = &[
        &[0x02, 0x40],             // block
        &[0x03, 0x40],             // loop
        &[0x04, 0x7f],             // if (result i32)
        &[0x0b],                   // end
        &[0x0c, 0x00],             // br 0
        &[0x0e, 0x01, 0x00, 0x00], // br_table
        &[0x10, 0x00],             // call 0
        &[0x11, 0x00, 0x00],       // call_indirect
        &[0x28, 0x02, 0x00],       // i32.load
        &[0x40, 0x00],             // memory.grow
        &[0xc0],                   // i32.extend8_s
    ];
    for i in 0..cases(3000) {
        let seed = &seeds[i % seeds.len()];
        let input = fuzz.mutate_bytes(seed, dictionary);
        fuzz.case(&input, || run(&input));
    }
    fuzz.finish();
}

#[test]
fn mutated_official_token_never_panics() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/contracts/koin.wasm");
    let token = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run compat/contracts/build.sh", path.display()));
    let mut fuzz = Fuzz::new("vm_token");
    for _ in 0..cases(200) {
        let input = fuzz.mutate_bytes(&token, &[]);
        fuzz.case(&input, || run(&input));
    }
    fuzz.finish();
}
