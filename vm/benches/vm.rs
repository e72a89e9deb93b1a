//! Ticks per second of koinos-vm on a compute-heavy module, against the same module run by
//! wasmi (a fast unmetered interpreter) in the same run, and the same loop as native Rust.
//!
//! `cargo bench -p koinos-vm --features bench [-- ITERATIONS]`
//!
//! The module mixes what contracts spend their ticks on: i64 arithmetic, shifts, loads and
//! stores to a 8 KiB table, a call per iteration and a loop back edge.

use std::time::{Duration, Instant};

use koinos_vm::{Host, HostCall, Instance, Limits, Memory, Module};

const ROUNDS: usize = 5;

fn module_text(iterations: u32) -> String {
    format!(
        r#"(module
          (memory 1)
          (func $mix (param i64) (result i64)
            local.get 0 local.get 0 i64.const 29 i64.shr_u i64.xor
            i64.const 0x5851f42d4c957f2d i64.mul)
          (func (export "_start") (local $i i32) (local $x i64) (local $slot i32)
            i64.const 1 local.set $x
            loop
              ;; x = mix(x + table[slot]); table[slot] = x
              local.get $i i32.const 1023 i32.and i32.const 3 i32.shl local.set $slot
              local.get $x local.get $slot i64.load i64.add call $mix local.set $x
              local.get $slot local.get $x i64.store
              local.get $i i32.const 1 i32.add local.tee $i
              i32.const {iterations} i32.lt_u br_if 0
            end
            i32.const 0 local.get $x i64.store))"#
    )
}

/// The same computation in Rust, as an absolute reference.
fn native(iterations: u32) -> u64 {
    let mut table = [0u64; 1024];
    let mut x: u64 = 1;
    for i in 0..iterations {
        let slot = (i & 1023) as usize;
        let y = x.wrapping_add(table[slot]);
        x = (y ^ (y >> 29)).wrapping_mul(0x5851f42d4c957f2d);
        table[slot] = x;
    }
    x
}

struct NoHost;

impl Host for NoHost {
    type Error = String;
    fn call(&mut self, _: HostCall, _: &mut Memory, _: &mut i64) -> Result<i32, String> {
        Err("the benchmark module makes no host calls".into())
    }
}

fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        out = Some(value);
    }
    (best, out.expect("at least one round"))
}

/// Answers the token's `get_arguments` (entry point `name()`) and `get_contract_id`, and ends
/// the run at `exit`.
struct TokenHost;

impl Host for TokenHost {
    type Error = String;
    fn call(&mut self, call: HostCall, memory: &mut Memory, _: &mut i64) -> Result<i32, String> {
        let result: Vec<u8> = match call.id {
            // get_arguments_result{value = arguments_type{entry_point = 0x82a3537f}}
            603 => vec![0x0a, 0x06, 0x08, 0xff, 0xa6, 0x8d, 0x95, 0x08],
            // get_contract_id_result{value = a 25-byte address}
            604 => [0x0a, 25, 0x00].into_iter().chain([0x42; 24]).collect(),
            _ => return Err("exit".into()),
        };
        let ret = memory.resolve(call.ret_ptr, call.ret_len).ok_or("ret")?;
        let written = memory.resolve(call.bytes_written_ptr, 4).ok_or("written")?;
        let bytes = memory.bytes_mut();
        bytes[ret.start..ret.start + result.len()].copy_from_slice(&result);
        bytes[written].copy_from_slice(&(result.len() as u32).to_le_bytes());
        Ok(0)
    }
}

/// The official toolchain's token (`compat/contracts/build.sh`) answering `name()`, 20 times:
/// its allocator start-up is most of a transfer's ticks too.
fn token() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/contracts/koin.wasm");
    let Ok(wasm) = std::fs::read(&path) else {
        println!(
            "token: {} absent (compat/contracts/build.sh), skipped",
            path.display()
        );
        return;
    };
    let module = Module::parse(&wasm).expect("token parses");
    let start = module.exported_function("_start").expect("_start");
    let (time, ticks) = best(|| {
        let mut ticks = 0;
        for _ in 0..20 {
            let mut instance =
                Instance::new(&module, Limits::default(), &mut TokenHost, 0).unwrap();
            let mut left = i64::MAX;
            let result = instance.call(start, &mut TokenHost, &mut left);
            assert_eq!(result, Err(koinos_vm::Exit::Host("exit".into())));
            ticks += i64::MAX - left;
        }
        ticks
    });
    println!(
        "  koin.wasm name() x20 {:>8.1} ms  {:>7.1} M ticks/s ({ticks} ticks)",
        time.as_secs_f64() * 1e3,
        ticks as f64 / time.as_secs_f64() / 1e6
    );
}

fn main() {
    let iterations: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let wasm = wat::parse_str(module_text(iterations)).expect("benchmark module");

    let module = Module::parse(&wasm).expect("parses");
    let start = module.exported_function("_start").expect("_start");
    let (ours, (ticks, result)) = best(|| {
        let mut instance = Instance::new(&module, Limits::default(), &mut NoHost, 0).unwrap();
        let mut left = i64::MAX;
        instance.call(start, &mut NoHost, &mut left).unwrap();
        let result = u64::from_le_bytes(instance.memory().bytes()[..8].try_into().unwrap());
        (i64::MAX - left, result)
    });

    let engine = wasmi::Engine::default();
    let wasmi_module = wasmi::Module::new(&engine, &wasm).expect("wasmi parses");
    let (theirs, wasmi_result) = best(|| {
        let mut store = wasmi::Store::new(&engine, ());
        let linker = wasmi::Linker::<()>::new(&engine);
        let instance = linker
            .instantiate_and_start(&mut store, &wasmi_module)
            .unwrap();
        let run = instance.get_typed_func::<(), ()>(&store, "_start").unwrap();
        run.call(&mut store, ()).unwrap();
        let memory = instance.get_memory(&store, "memory");
        let mut bytes = [0u8; 8];
        if let Some(memory) = memory {
            memory.read(&store, 0, &mut bytes).unwrap();
        }
        u64::from_le_bytes(bytes)
    });
    let (native_time, native_result) = best(|| native(std::hint::black_box(iterations)));

    // The memory is not exported to wasmi, so only ours and native are compared by value.
    assert_eq!(
        result, native_result,
        "koinos-vm computes what Rust computes"
    );
    let _ = wasmi_result;

    let per_second = |d: Duration| ticks as f64 / d.as_secs_f64();
    println!("compute-heavy module, {iterations} iterations, {ticks} ticks; best of {ROUNDS}");
    println!(
        "  koinos-vm (metered)   {:>8.1} ms  {:>7.1} M ticks/s",
        ours.as_secs_f64() * 1e3,
        per_second(ours) / 1e6
    );
    println!(
        "  wasmi (unmetered)     {:>8.1} ms  {:>7.1} M ticks/s equivalent",
        theirs.as_secs_f64() * 1e3,
        per_second(theirs) / 1e6
    );
    println!(
        "  native Rust           {:>8.1} ms",
        native_time.as_secs_f64() * 1e3
    );
    println!(
        "  koinos-vm ÷ wasmi speed: {:.2}   koinos-vm ÷ native speed: {:.3}",
        theirs.as_secs_f64() / ours.as_secs_f64(),
        native_time.as_secs_f64() / ours.as_secs_f64()
    );
    token();
}
