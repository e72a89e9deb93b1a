//! What programs compute, what the host sees, and which modules are refused.

mod support;

use koinos_vm::{Exit, HostFunction, Instance, Limits, Module, Trap};
use support::{RecordingHost, parse, run};

/// Runs `(memory 1)` + `_start` and returns the first 8 bytes of memory.
fn memory_after(body: &str) -> u64 {
    let module = parse(&format!(r#"(memory 1) (func (export "_start") {body})"#));
    let mut host = RecordingHost::default();
    let mut instance = Instance::new(&module, Limits::default(), &mut host, 0).unwrap();
    let mut ticks = 1 << 20;
    let start = module.exported_function("_start").unwrap();
    instance.call(start, &mut host, &mut ticks).unwrap();
    u64::from_le_bytes(instance.memory().bytes()[..8].try_into().unwrap())
}

fn i32_result(a: i32, b: i32, op: &str) -> u32 {
    memory_after(&format!(
        "i32.const 0 i32.const {a} i32.const {b} {op} i32.store"
    )) as u32
}

fn i64_result(a: i64, b: i64, op: &str) -> u64 {
    memory_after(&format!(
        "i32.const 0 i64.const {a} i64.const {b} {op} i64.store"
    ))
}

#[test]
fn i32_arithmetic_matches_the_spec() {
    let pairs = [
        (7, 3),
        (-7, 3),
        (i32::MIN, -1),
        (0, 5),
        (-1, 31),
        (0x1234_5678, 4),
    ];
    for (a, b) in pairs {
        let (ua, ub) = (a as u32, b as u32);
        assert_eq!(i32_result(a, b, "i32.add"), ua.wrapping_add(ub));
        assert_eq!(i32_result(a, b, "i32.sub"), ua.wrapping_sub(ub));
        assert_eq!(i32_result(a, b, "i32.mul"), ua.wrapping_mul(ub));
        assert_eq!(i32_result(a, b, "i32.shl"), ua.wrapping_shl(ub));
        assert_eq!(i32_result(a, b, "i32.shr_s"), a.wrapping_shr(ub) as u32);
        assert_eq!(i32_result(a, b, "i32.shr_u"), ua.wrapping_shr(ub));
        assert_eq!(i32_result(a, b, "i32.rotl"), ua.rotate_left(ub));
        assert_eq!(i32_result(a, b, "i32.rotr"), ua.rotate_right(ub));
        assert_eq!(i32_result(a, b, "i32.lt_s"), u32::from(a < b));
        assert_eq!(i32_result(a, b, "i32.lt_u"), u32::from(ua < ub));
        assert_eq!(i32_result(a, b, "i32.ge_s"), u32::from(a >= b));
        assert_eq!(i32_result(a, b, "i32.rem_s"), a.wrapping_rem(b) as u32);
        if !(a == i32::MIN && b == -1) {
            assert_eq!(i32_result(a, b, "i32.div_s"), (a / b) as u32);
        }
        assert_eq!(i32_result(a, b, "i32.div_u"), ua / ub);
    }
    assert_eq!(
        memory_after("i32.const 0 i32.const 0x00f0 i32.clz i32.store"),
        24
    );
    assert_eq!(
        memory_after("i32.const 0 i32.const 0x00f0 i32.ctz i32.store"),
        4
    );
    assert_eq!(
        memory_after("i32.const 0 i32.const 0x00f0 i32.popcnt i32.store"),
        4
    );
}

#[test]
fn i64_arithmetic_and_conversions_match_the_spec() {
    let pairs = [
        (7i64, 3i64),
        (-7, 3),
        (i64::MIN, 3),
        (1 << 40, 63),
        (-1, 65),
    ];
    for (a, b) in pairs {
        let (ua, ub) = (a as u64, b as u64);
        assert_eq!(i64_result(a, b, "i64.add"), ua.wrapping_add(ub));
        assert_eq!(i64_result(a, b, "i64.mul"), ua.wrapping_mul(ub));
        assert_eq!(i64_result(a, b, "i64.div_s"), (a / b) as u64);
        assert_eq!(i64_result(a, b, "i64.rem_u"), ua % ub);
        assert_eq!(
            i64_result(a, b, "i64.shr_s"),
            a.wrapping_shr(b as u32) as u64
        );
        assert_eq!(i64_result(a, b, "i64.rotl"), ua.rotate_left(b as u32));
    }
    assert_eq!(
        memory_after("i32.const 0 i32.const -2 i64.extend_i32_s i64.store"),
        (-2i64) as u64
    );
    assert_eq!(
        memory_after("i32.const 0 i32.const -2 i64.extend_i32_u i64.store"),
        u64::from((-2i32) as u32)
    );
    assert_eq!(
        memory_after("i32.const 0 i64.const 0x1_0000_0005 i32.wrap_i64 i64.extend_i32_u i64.store"),
        5
    );
}

#[test]
fn loads_extend_and_stores_truncate() {
    let store = "i32.const 8 i64.const 0x80ff_7f01_8000_81fe i64.store";
    assert_eq!(
        memory_after(&format!(
            "{store} i32.const 0 i32.const 8 i32.load8_s i32.store"
        )),
        0xffff_fffe
    );
    assert_eq!(
        memory_after(&format!(
            "{store} i32.const 0 i32.const 8 i32.load8_u i32.store"
        )),
        0xfe
    );
    assert_eq!(
        memory_after(&format!(
            "{store} i32.const 0 i32.const 8 i32.load16_s i32.store"
        )),
        0xffff_81fe
    );
    assert_eq!(
        memory_after(&format!(
            "{store} i32.const 0 i32.const 8 i64.load32_s i64.store"
        )),
        0xffff_ffff_8000_81fe
    );
    assert_eq!(
        memory_after("i32.const 0 i64.const -1 i64.store i32.const 0 i32.const 0x1234 i32.store16"),
        0xffff_ffff_ffff_1234
    );
}

#[test]
fn recursion_and_locals() {
    // factorial(10) by recursion, stored at 0
    let body = r#"i32.const 0 i64.const 10 call $fact i64.store)
        (func $fact (param i64) (result i64)
          local.get 0 i64.const 1 i64.le_u
          if (result i64) i64.const 1
          else local.get 0 local.get 0 i64.const 1 i64.sub call $fact i64.mul end"#;
    assert_eq!(memory_after(body), 3_628_800);
}

#[test]
fn host_calls_see_their_arguments_and_charge_ticks() {
    let wat = r#"(module
        (import "env" "invoke_system_call" (func $sc (param i32 i32 i32 i32 i32 i32) (result i32)))
        (memory 1)
        (data (i32.const 100) "koinos")
        (func (export "_start")
          i32.const 0
          i32.const 42 i32.const 200 i32.const 16 i32.const 100 i32.const 6 i32.const 300
          call $sc
          i32.store))"#;
    let module = parse(wat);
    let mut host = RecordingHost {
        cost: 1000,
        ..Default::default()
    };
    let mut instance = Instance::new(&module, Limits::default(), &mut host, 0).unwrap();
    let mut ticks = 10_000;
    instance.call(1, &mut host, &mut ticks).unwrap();
    let call = host.calls[0];
    assert_eq!(call.function, HostFunction::InvokeSystemCall);
    assert_eq!(
        (
            call.id,
            call.ret_ptr,
            call.ret_len,
            call.arg_ptr,
            call.arg_len,
            call.bytes_written_ptr
        ),
        (42, 200, 16, 100, 6, 300)
    );
    // The echoed argument and the returned length.
    assert_eq!(&instance.memory().bytes()[200..206], b"koinos");
    assert_eq!(instance.memory().bytes()[0], 6);
    // 7 consts, call, store, end = 10 ticks, plus the host's 1000.
    assert_eq!(10_000 - ticks, 1010);
}

#[test]
fn a_failing_host_call_ends_the_run_with_its_error() {
    let wat = r#"(module
        (import "env" "invoke_thunk" (func $t (param i32 i32 i32 i32 i32 i32) (result i32)))
        (memory 1)
        (func (export "_start")
          i32.const 1 i32.const 70000 i32.const 1 i32.const 0 i32.const 0 i32.const 0
          call $t drop))"#;
    let (result, _) = run(wat, 1000);
    assert_eq!(result, Err(Exit::Host("invalid ret_ptr".into())));
}

#[test]
fn indirect_calls_check_the_slot_and_signature() {
    let wat = |index: u32| {
        format!(
            r#"(type $v (func)) (type $r (func (result i32)))
            (table 3 funcref) (elem (i32.const 0) $a $b)
            (func $a (result i32) i32.const 1) (func $b)
            (func (export "_start") i32.const {index} call_indirect (type $r) drop)"#
        )
    };
    assert_eq!(run(&wat(0), 100).0, Ok(()));
    for index in [1, 2, 3] {
        assert_eq!(
            run(&wat(index), 100).0,
            Err(Exit::Trap(Trap::IndirectCall)),
            "{index}"
        );
    }
}

fn parse_error(wat: &str) -> String {
    let wasm = wat::parse_str(support::module_text(wat)).unwrap();
    Module::parse(&wasm).unwrap_err().message
}

#[test]
fn only_webassembly_1_0_is_accepted() {
    // Sign extension, bulk memory, multi-value: proposals the official VM does not parse.
    assert!(parse_error(r#"(func i32.const 1 i32.extend8_s drop)"#).contains("sign extension"));
    assert!(
        parse_error(r#"(memory 1) (func i32.const 0 i32.const 0 i32.const 0 memory.fill)"#)
            .contains("bulk memory")
    );
    assert!(parse_error(r#"(func (result i32 i32) i32.const 1 i32.const 2)"#).contains("multi"));
    assert!(Module::parse(b"\0asm\x01\0\0\0\x01").is_err());
    assert!(Module::parse(b"not wasm").is_err());
    // Float types validate (and float instructions trap when run).
    parse(r#"(func (param f64) (local f32) local.get 0 drop)"#);
}

#[test]
fn instantiation_refuses_what_the_official_vm_cannot_link_or_fit() {
    let instantiate = |wat: &str| {
        let module = parse(wat);
        Instance::new(&module, Limits::default(), &mut RecordingHost::default(), 0)
            .err()
            .map(|e| e.message)
    };
    assert!(
        instantiate(r#"(import "env" "log" (func))"#)
            .unwrap()
            .contains("env.log")
    );
    assert!(
        instantiate(r#"(import "env" "invoke_thunk" (func (param i32)))"#)
            .unwrap()
            .contains("signature")
    );
    assert!(instantiate("(memory 513)").unwrap().contains("513 pages"));
    assert_eq!(instantiate("(memory 512)"), None);
    assert!(
        instantiate(r#"(memory 1) (data (i32.const 65535) "ab")"#)
            .unwrap()
            .contains("data segment")
    );
    assert!(
        instantiate(r#"(table 1 funcref) (func $f) (elem (i32.const 1) $f)"#)
            .unwrap()
            .contains("element segment")
    );
    // A start section runs at instantiation; a trap there refuses the module.
    assert!(
        instantiate("(func $s unreachable) (start $s)")
            .unwrap()
            .contains("start function trapped")
    );
}

#[test]
fn memory_grows_to_the_page_limit_and_no_further() {
    // grow by 511 from 1 page: old size 1; then by 1 more: refused (-1)
    let body = "i32.const 0 i32.const 511 memory.grow i32.store \
                i32.const 4 i32.const 1 memory.grow i32.store";
    let bytes = memory_after(body);
    assert_eq!(bytes as u32, 1);
    assert_eq!((bytes >> 32) as u32, u32::MAX);
}

#[test]
fn an_entry_function_with_parameters_is_refused() {
    // `_start` exported as a function that takes a parameter.
    let wat = r#"(func $f (export "_start") (param i32) local.get 0 drop)"#;
    assert_eq!(run(wat, 100).0, Err(Exit::Trap(Trap::EntryParameters)));
}
