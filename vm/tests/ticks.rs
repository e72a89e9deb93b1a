//! Tick counts of hand-written programs covering every control-flow shape, each derived by hand
//! from the official VM's rules (comments show the count per instruction), plus the two
//! metering vectors of the official interpreter's own C API tests.

mod support;

use koinos_vm::{Exit, Trap};
use support::{run, run_function, ticks_used};

#[test]
fn official_capi_vectors() {
    // (func (result i32) i32.const 42) (func (result i32) call 0): from 100 ticks, 98 and 96
    // remain; with 4 ticks the second ends at exactly 0; with 3 it runs out.
    let wat = r#"(module
        (func (result i32) i32.const 42)
        (func (result i32) call 0)
        (func (export "_start")))"#;
    assert_eq!(run_function(wat, 0, 100).1, 98);
    assert_eq!(run_function(wat, 1, 100).1, 96);
    assert_eq!(run_function(wat, 1, 4), (Ok(()), 0));
    assert_eq!(run_function(wat, 1, 3).0, Err(Exit::Trap(Trap::OutOfTicks)));
}

#[test]
fn straight_line() {
    assert_eq!(ticks_used(r#"(func (export "_start"))"#), 1); // end
    // i32.const 1, i32.const 2, i32.add, drop, end
    assert_eq!(
        ticks_used(r#"(func (export "_start") i32.const 1 i32.const 2 i32.add drop)"#),
        5
    );
}

#[test]
fn block_fallthrough_and_branch_out() {
    // block, nop, end, end
    assert_eq!(ticks_used(r#"(func (export "_start") block nop end)"#), 4);
    // block, br 0 (lands past the block's end: neither nop nor end run), end
    assert_eq!(
        ticks_used(r#"(func (export "_start") block br 0 nop end)"#),
        3
    );
    // A value carried out: block, i32.const, br 0, drop, end
    assert_eq!(
        ticks_used(r#"(func (export "_start") block (result i32) i32.const 7 br 0 end drop)"#),
        5
    );
    // br to the function's own label lands on its final end: block, br 1, end
    assert_eq!(ticks_used(r#"(func (export "_start") block br 1 end)"#), 3);
}

#[test]
fn loop_back_edges_execute_the_loop_again() {
    // i32.const, local.set = 2; three iterations of loop, local.get, i32.const, i32.sub,
    // local.tee, br_if = 6 each (the back edge lands on `loop`); the loop's end once; end.
    let wat = r#"(func (export "_start") (local i32)
        i32.const 3 local.set 0
        loop
          local.get 0 i32.const 1 i32.sub local.tee 0
          br_if 0
        end)"#;
    assert_eq!(ticks_used(wat), 2 + 3 * 6 + 1 + 1);
}

#[test]
fn if_else_arms() {
    // $f true: local.get, if, i32.const, i32.const, i32.add, else (jumps past end), end = 7
    // $f false: local.get, if (to the else arm), i32.const, end (of if), end = 5
    // _start: i32.const, call, $f, drop, end
    let wat = |arg: u32| {
        format!(
            r#"(func $f (param i32) (result i32)
                local.get 0
                if (result i32) i32.const 10 i32.const 1 i32.add else i32.const 20 end)
              (func (export "_start") i32.const {arg} call $f drop)"#
        )
    };
    assert_eq!(ticks_used(&wat(1)), 4 + 7);
    assert_eq!(ticks_used(&wat(0)), 4 + 5);
}

#[test]
fn if_without_else() {
    // true: local.get, if, nop, end, end = 5; false: local.get, if (past end), end = 3
    let wat = |arg: u32| {
        format!(
            r#"(func $f (param i32) local.get 0 if nop end)
              (func (export "_start") i32.const {arg} call $f)"#
        )
    };
    assert_eq!(ticks_used(&wat(1)), 3 + 5);
    assert_eq!(ticks_used(&wat(0)), 3 + 3);
}

#[test]
fn br_table_each_target() {
    // block ×3, local.get, br_table = 5, then
    //   0: past the inner end: nop, end, nop, end, end = 5
    //   1: past the middle end: nop, end, end = 3
    //   2 and out of range (default): past the outer end: end = 1
    let wat = |arg: u32| {
        format!(
            r#"(func $f (param i32)
                block block block
                  local.get 0 br_table 0 1 2
                end nop end nop end)
              (func (export "_start") i32.const {arg} call $f)"#
        )
    };
    for (arg, f) in [(0, 10), (1, 8), (2, 6), (7, 6)] {
        assert_eq!(ticks_used(&wat(arg)), 3 + f, "br_table index {arg}");
    }
}

#[test]
fn return_lands_on_the_final_end() {
    // i32.const, return, end (the function's final end) = 3; _start: call, drop, end
    let wat = r#"(func $f (result i32) i32.const 1 return i32.const 2 drop)
        (func (export "_start") call $f drop)"#;
    assert_eq!(ticks_used(wat), 3 + 3);
}

#[test]
fn br_if_not_taken_and_select() {
    // block, i32.const 0, br_if 0 (not taken), nop, end, i32.const ×3, select, drop, end
    let wat = r#"(func (export "_start")
        block i32.const 0 br_if 0 nop end
        i32.const 1 i32.const 2 i32.const 0 select drop)"#;
    assert_eq!(ticks_used(wat), 5 + 5 + 1);
}

#[test]
fn memory_grow_costs_a_tick_per_page_asked() {
    // i32.const, memory.grow (1 + 3 pages), drop, end
    assert_eq!(
        ticks_used(r#"(memory 1) (func (export "_start") i32.const 3 memory.grow drop)"#),
        7
    );
    // Refused (past the 512-page limit) and still charged.
    assert_eq!(
        ticks_used(r#"(memory 1) (func (export "_start") i32.const 600 memory.grow drop)"#),
        604
    );
}

#[test]
fn call_indirect() {
    // i32.const (index), call_indirect, [$f: i32.const, end], drop, end
    let wat = r#"(type $t (func (result i32)))
        (table 2 funcref) (elem (i32.const 0) $g $f)
        (func $f (result i32) i32.const 5)
        (func $g (result i32) i32.const 6)
        (func (export "_start") i32.const 1 call_indirect (type $t) drop)"#;
    assert_eq!(ticks_used(wat), 6);
}

#[test]
fn traps_keep_the_ticks_spent() {
    // i32.const, unreachable: the trap's own tick counts.
    let (result, left) = run(
        r#"(func (export "_start") i32.const 1 drop unreachable)"#,
        100,
    );
    assert_eq!(result, Err(Exit::Trap(Trap::Unreachable)));
    assert_eq!(100 - left, 3);
    let (result, _) = run(
        r#"(func (export "_start") i32.const 1 i32.const 0 i32.div_u drop)"#,
        100,
    );
    assert_eq!(result, Err(Exit::Trap(Trap::IntegerDivision)));
    let (result, _) = run(
        r#"(memory 1) (func (export "_start") i32.const 65535 i32.const 1 i32.store)"#,
        100,
    );
    assert_eq!(result, Err(Exit::Trap(Trap::MemoryOutOfBounds)));
    let (result, left) = run(r#"(func (export "_start") f32.const 1 drop)"#, 100);
    assert_eq!(result, Err(Exit::Trap(Trap::FloatDisabled)));
    assert_eq!(100 - left, 1);
}

#[test]
fn an_endless_loop_runs_out_of_ticks() {
    let (result, left) = run(r#"(func (export "_start") loop br 0 end)"#, 1_000_001);
    assert_eq!(result, Err(Exit::Trap(Trap::OutOfTicks)));
    assert_eq!(left, -1);
}

#[test]
fn unbounded_recursion_hits_the_call_depth_limit() {
    // _start runs at depth 251 and each call nests one deeper; the call into depth 2048 traps,
    // so 1,796 calls succeed first. Each costs its `call` tick, the failing call's included.
    let (result, left) = run(
        r#"(func $f call $f) (func (export "_start") call $f)"#,
        1 << 40,
    );
    assert_eq!(result, Err(Exit::Trap(Trap::CallDepth)));
    assert_eq!((1i64 << 40) - left, 1796 + 1);
}

#[test]
fn fused_sequences_trap_and_run_out_as_single_instructions() {
    // i32.const, local.set, local.get + i32.load (fused): the load traps after 4 ticks.
    let wat = r#"(memory 1) (func (export "_start") (local i32)
        i32.const 65535 local.set 0 local.get 0 i32.load drop)"#;
    let (result, left) = run(wat, 100);
    assert_eq!(result, Err(Exit::Trap(Trap::MemoryOutOfBounds)));
    assert_eq!(100 - left, 4);
    // Every budget that ends inside the fused sequences: the same ticks left as one
    // instruction at a time (`run` compares with the unfused compilation).
    let wat = r#"(func (export "_start") (local i32)
        local.get 0 i32.const 7 i32.add local.get 0 local.get 0 drop drop drop)"#;
    let total = ticks_used(wat);
    assert_eq!(total, 9);
    for budget in 0..total {
        let (result, left) = run(wat, budget);
        assert_eq!(result, Err(Exit::Trap(Trap::OutOfTicks)), "budget {budget}");
        assert_eq!(left, -1, "budget {budget}");
    }
}

#[test]
fn every_fused_instruction_runs_out_and_traps_as_its_instructions_would() {
    // Every budget up to the program's total: each run ends out of ticks with -1 left, and
    // `run` compares each with the unfused compilation (result, ticks left, memory).
    let wat = include_str!("fused.wat");
    let total = ticks_used(wat);
    assert!(total > 300, "{total} ticks");
    for budget in 0..total {
        let (result, left) = run(wat, budget);
        assert_eq!(result, Err(Exit::Trap(Trap::OutOfTicks)), "budget {budget}");
        assert_eq!(left, -1, "budget {budget}");
    }
    assert_eq!(run(wat, total), (Ok(()), 0));
    // Memory traps inside the fused stores, after the same ticks as unfused.
    for store in [
        "local.get 0 i64.const 0 i64.store",
        "local.get 0 i64.const -2 i64.store offset=1",
        "i32.const 8 local.get 0 i32.store offset=65530",
        "global.get 0 local.get 0 i32.store",
    ] {
        let wat = format!(
            r#"(memory 1) (global i32 (i32.const 65534)) (func (export "_start") (local i32)
            i32.const 65532 local.set 0 {store})"#
        );
        let (result, left) = run(&wat, 100);
        assert_eq!(result, Err(Exit::Trap(Trap::MemoryOutOfBounds)), "{store}");
        assert_eq!(100 - left, 5, "{store}");
    }
    // The second of two fused zeroing stores out of bounds: the first is in memory (which `run`
    // compares), after 2 + 3 + 3 ticks.
    let wat = r#"(memory 1) (func (export "_start") (local i32)
        i32.const 65520 local.set 0
        local.get 0 i64.const 0 i64.store offset=8 local.get 0 i64.const 0 i64.store offset=16)"#;
    let (result, left) = run(wat, 100);
    assert_eq!(result, Err(Exit::Trap(Trap::MemoryOutOfBounds)));
    assert_eq!(100 - left, 8);
}
