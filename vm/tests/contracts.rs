//! Real contracts compiled by the official AssemblyScript toolchain (`compat/contracts/build.sh`
//! writes them to `target/contracts/`, or `KOINOS_CONTRACTS_DIR`) and the misbehaving modules
//! built beside them. Without them the tests fail, naming the command that builds them.

use std::path::PathBuf;

use koinos_vm::{Exit, Host, HostCall, HostFunction, Instance, Limits, Memory, Module, Trap};

fn contracts_dir() -> PathBuf {
    let dir = std::env::var_os("KOINOS_CONTRACTS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/contracts"),
        PathBuf::from,
    );
    assert!(
        dir.join("koin.wasm").exists(),
        "{} has no contracts: run compat/contracts/build.sh",
        dir.display()
    );
    dir
}

const GET_ARGUMENTS: u32 = 603;
const EXIT: u32 = 602;
const GET_CONTRACT_ID: u32 = 604;

/// Answers `get_arguments` with an entry point and no arguments and `get_contract_id` with a
/// fixed address, and stops at `exit`, keeping its argument (`exit_arguments{code, res}`).
struct EntryPointHost {
    entry_point: u32,
    calls: Vec<u32>,
    exit: Option<Vec<u8>>,
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Host for EntryPointHost {
    type Error = String;
    fn call(
        &mut self,
        call: HostCall,
        memory: &mut Memory,
        _ticks: &mut i64,
    ) -> Result<i32, String> {
        assert_eq!(call.function, HostFunction::InvokeSystemCall);
        self.calls.push(call.id);
        let result = match call.id {
            GET_ARGUMENTS => {
                // get_arguments_result{value = arguments_type{entry_point, arguments = ""}}
                let mut arguments = vec![0x08];
                varint(u64::from(self.entry_point), &mut arguments);
                let mut result = vec![0x0a, arguments.len() as u8];
                result.extend(arguments);
                result
            }
            GET_CONTRACT_ID => {
                // get_contract_id_result{value = a 25-byte address}
                let mut result = vec![0x0a, 25, 0x00];
                result.extend([0x42; 24]);
                result
            }
            EXIT => {
                let arg = memory
                    .resolve(call.arg_ptr, call.arg_len)
                    .ok_or("bad arg_ptr")?;
                self.exit = Some(memory.bytes()[arg].to_vec());
                return Err("exit".into());
            }
            other => return Err(format!("unexpected system call {other}")),
        };
        let ret = memory
            .resolve(call.ret_ptr, call.ret_len)
            .filter(|r| r.len() >= result.len())
            .ok_or("bad ret_ptr")?;
        let written = memory
            .resolve(call.bytes_written_ptr, 4)
            .ok_or("bad bytes_written_ptr")?;
        let bytes = memory.bytes_mut();
        bytes[ret.start..ret.start + result.len()].copy_from_slice(&result);
        bytes[written].copy_from_slice(&(result.len() as u32).to_le_bytes());
        Ok(0)
    }
}

fn start(
    module: &Module,
    host: &mut EntryPointHost,
    ticks: i64,
) -> (Result<(), Exit<String>>, i64) {
    let mut instance = Instance::new(module, Limits::default(), host, 0).expect("instantiates");
    let mut left = ticks;
    let entry = module.exported_function("_start").expect("_start");
    (instance.call(entry, host, &mut left), left)
}

#[test]
fn official_toolchain_token_answers_its_name() {
    let dir = contracts_dir();
    for (file, name) in [("koin.wasm", "Koin"), ("token.wasm", "My Token")] {
        let module = Module::parse(&std::fs::read(dir.join(file)).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        // The token's `name` entry point reads no state: its contract id (the token's
        // constructor), get_arguments, then exit with the name.
        let mut host = EntryPointHost {
            entry_point: 0x82a3_537f,
            calls: Vec::new(),
            exit: None,
        };
        let (result, left) = start(&module, &mut host, 10_000_000);
        assert_eq!(result, Err(Exit::Host("exit".into())), "{file}");
        assert!(
            host.calls.contains(&GET_ARGUMENTS),
            "{file}: {:?}",
            host.calls
        );
        assert_eq!(host.calls.last(), Some(&EXIT), "{file}");
        let exit = host.exit.unwrap();
        assert!(
            exit.windows(name.len()).any(|w| w == name.as_bytes()),
            "{file}: exit carries the name: {exit:02x?}"
        );
        let used = 10_000_000 - left;
        assert!(used > 100, "{file}: {used} ticks");
        // The same run without fused instructions: the same calls and ticks.
        let reference = Module::parse_with(&std::fs::read(dir.join(file)).unwrap(), false).unwrap();
        let mut reference_host = EntryPointHost {
            entry_point: 0x82a3_537f,
            calls: Vec::new(),
            exit: None,
        };
        let (_, reference_left) = start(&reference, &mut reference_host, 10_000_000);
        assert_eq!(reference_left, left, "{file}: fused and unfused ticks");
        assert_eq!(reference_host.calls, host.calls);
        eprintln!(
            "{file}: name() in {used} ticks, system calls {:?}",
            host.calls
        );
    }
}

#[test]
fn every_built_contract_parses_and_instantiates() {
    let dir = contracts_dir();
    for file in ["koin.wasm", "token.wasm", "nft.wasm", "counter.wasm"] {
        let module = Module::parse(&std::fs::read(dir.join(file)).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut host = EntryPointHost {
            entry_point: 0,
            calls: Vec::new(),
            exit: None,
        };
        Instance::new(&module, Limits::default(), &mut host, 0)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn misbehaving_modules_fail_as_they_should() {
    let dir = contracts_dir();
    let read = |name: &str| std::fs::read(dir.join("misbehaving").join(name)).unwrap();
    for refused in [
        "invalid_not_wasm.wasm",
        "invalid_truncated.wasm",
        "sign_extension.wasm",
    ] {
        assert!(
            Module::parse(&read(refused)).is_err(),
            "{refused} is refused"
        );
    }
    let outcome = |name: &str| {
        let module = Module::parse(&read(name)).unwrap();
        let mut host = EntryPointHost {
            entry_point: 0,
            calls: Vec::new(),
            exit: None,
        };
        start(&module, &mut host, 1_000_000).0
    };
    assert_eq!(outcome("trap.wasm"), Err(Exit::Trap(Trap::Unreachable)));
    assert_eq!(
        outcome("infinite_loop.wasm"),
        Err(Exit::Trap(Trap::OutOfTicks))
    );
    assert_eq!(
        outcome("deep_recursion.wasm"),
        Err(Exit::Trap(Trap::CallDepth))
    );
    assert_eq!(
        outcome("oob_store.wasm"),
        Err(Exit::Trap(Trap::MemoryOutOfBounds))
    );
    assert_eq!(
        outcome("uses_float.wasm"),
        Err(Exit::Trap(Trap::FloatDisabled))
    );
}

/// `cargo test -p koinos-vm --features profile --test contracts -- --nocapture profile`: where
/// the token's executed instructions go (unfused, so every pair is a pair of instructions).
#[cfg(feature = "profile")]
#[test]
fn profile_of_the_official_token() {
    let dir = contracts_dir();
    let module = Module::parse_with(&std::fs::read(dir.join("koin.wasm")).unwrap(), false).unwrap();
    let mut host = EntryPointHost {
        entry_point: 0x82a3_537f,
        calls: Vec::new(),
        exit: None,
    };
    let _ = koinos_vm::profile::take();
    let (_, left) = start(&module, &mut host, 10_000_000);
    let profile = koinos_vm::profile::take();
    let total: u64 = profile.ops.iter().map(|(_, n)| n).sum();
    // One tick per executed op, plus one per page `memory.grow` asks for.
    assert!(total as i64 <= 10_000_000 - left);
    let share = |n: u64| 100.0 * n as f64 / total as f64;
    eprintln!("koin.wasm name(): {total} ops executed");
    for (op, n) in profile.ops.iter().take(30) {
        eprintln!("  {op:<16} {n:>9} {:>5.1} %", share(*n));
    }
    for (group, members) in [
        ("block/loop/end", &["Block", "Loop", "End", "Return"][..]),
        ("branches", &["Br", "BrIf", "BrTable", "If", "Else"][..]),
    ] {
        let n: u64 = profile
            .ops
            .iter()
            .filter(|(op, _)| members.contains(op))
            .map(|(_, n)| n)
            .sum();
        eprintln!("  {group}: {:.1} %", share(n));
    }
    for ((a, b), n) in profile.pairs.iter().take(40) {
        eprintln!("  {a:>14} {b:<14} {n:>9} {:>5.1} %", share(*n));
    }
    for ((a, b, c), n) in profile.triples.iter().take(30) {
        eprintln!("  {a:>14} {b:<14} {c:<14} {n:>9} {:>5.1} %", share(*n));
    }
    for ((a, b), n) in profile
        .pairs
        .iter()
        .filter(|((_, b), _)| *b == "If" || *b == "BrIf")
    {
        eprintln!(
            "  into a branch: {a:>14} {b:<6} {n:>9} {:>5.1} %",
            share(*n)
        );
    }
    // The same run fused: the ops the interpreter dispatches.
    let fused = Module::parse(&std::fs::read(dir.join("koin.wasm")).unwrap()).unwrap();
    let mut host = EntryPointHost {
        entry_point: 0x82a3_537f,
        calls: Vec::new(),
        exit: None,
    };
    let (_, fused_left) = start(&fused, &mut host, 10_000_000);
    assert_eq!(fused_left, left);
    let profile = koinos_vm::profile::take();
    let dispatched: u64 = profile.ops.iter().map(|(_, n)| n).sum();
    eprintln!(
        "fused: {dispatched} ops dispatched for {total} instructions ({:.2} per op)",
        total as f64 / dispatched as f64
    );
    for (op, n) in profile.ops.iter().take(25) {
        eprintln!(
            "  {op:<22} {n:>9} {:>5.1} %",
            100.0 * *n as f64 / dispatched as f64
        );
    }
    for ((a, b), n) in profile.pairs.iter().take(20) {
        eprintln!("  {a:>22} {b:<22} {n:>9}");
    }
}
