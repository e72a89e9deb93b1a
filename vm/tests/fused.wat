(module
  ;; Every fused instruction of `compile::fuse` and `compile::fuse_if`, each executed more than
  ;; once, both ways for the fused `if`s, with branch targets landing on the first op of fused
  ;; sequences (after an `end`, at the start of an `else` arm). `vm/tests/ticks.rs` runs it fused
  ;; and unfused with every budget; `compile.rs` checks each fused op is in its compiled code.
  (memory 1)
  (global $sp (mut i32) (i32.const 1024))
  (func $cmp (param $a i32) (param $b i32) (result i32) (local $r i32)
    ;; i32.eq; if / i32.ne; if / i32.lt_s; if / i32.lt_u; if / i32.gt_u; if / i32.ge_u; if
    local.get $a local.get $b i32.eq if local.get $r i32.const 1 i32.add local.set $r end
    local.get $a local.get $b i32.ne if local.get $r i32.const 2 i32.add local.set $r end
    local.get $a local.get $b i32.lt_s if local.get $r i32.const 4 i32.add local.set $r end
    local.get $a local.get $b i32.lt_u if (result i32) i32.const 8 else i32.const 0 end
    local.get $r i32.add local.set $r
    local.get $a local.get $b i32.gt_u if local.get $r i32.const 16 i32.sub local.set $r end
    ;; the first op after a block's end is a branch target: the comparison of a fused `if`
    local.get $a
    block br 0 end
    local.get $b i32.ge_u
    if
      local.get $r i32.const 32 i32.add local.set $r
    else
      ;; an `else` arm starting with a fused comparison-and-`if`
      local.get $a i32.eqz if local.get $r i32.const 64 i32.add local.set $r end
    end
    ;; compare and br_if, each both ways: forward to a block (carrying a value or not) and back
    ;; to a loop
    block local.get $a local.get $b i32.eq br_if 0 local.get $r i32.const 128 i32.add local.set $r end
    block local.get $a local.get $b i32.ne br_if 0 local.get $r i32.const 256 i32.add local.set $r end
    block (result i32) i32.const 512 local.get $a local.get $b i32.lt_s br_if 0 drop i32.const 0 end
    local.get $r i32.add local.set $r
    block local.get $a local.get $b i32.lt_u br_if 0 local.get $r i32.const 1 i32.sub local.set $r end
    block local.get $a local.get $b i32.gt_s br_if 0 local.get $r i32.const 2 i32.sub local.set $r end
    block local.get $a local.get $b i32.le_u br_if 0 local.get $r i32.const 4 i32.sub local.set $r end
    local.get $a local.set $b
    loop
      local.get $r i32.const 3 i32.add local.set $r
      local.get $b i32.const 1 i32.sub local.tee $b
      i32.const 0 i32.le_s i32.eqz br_if 0
    end
    ;; local.get; i32.const; i32.add (not set), then i32.const; i32.sub
    local.get $r i32.const 0 i32.add i32.const 0 i32.sub)
  (func (export "_start") (local $i i32) (local $p i32) (local $x i64)
    i32.const 64 local.set $p
    loop
      ;; local.get; i64.const; i64.store (short constant, then one that needs 64 bits)
      local.get $p i64.const 0 i64.store offset=8
      local.get $p i64.const -3 i64.store
      local.get $p i64.const 0x100000000 i64.store offset=16
      ;; two zeroing stores to the same local's address, then to another local's
      local.get $p i64.const 0 i64.store offset=8 local.get $p i64.const 0 i64.store offset=32
      local.get $p i64.const 0 i64.store local.get $i i64.const 0 i64.store offset=512
      ;; local.get; i64.const (not stored)
      local.get $x i64.const 5 i64.add local.set $x
      ;; global.get; local.get; i32.store, then without the global
      global.get $sp local.get $i i32.store offset=4
      local.get $p local.get $i i32.store offset=36
      ;; global.get; i32.const; i32.sub; global.set, and i32.add, and the same not set
      global.get $sp i32.const 16 i32.sub global.set $sp
      global.get $sp i32.const 16 i32.add global.set $sp
      global.get $sp i32.const 4 i32.add i32.load drop
      global.get $sp i32.const 1030 i32.lt_s if nop end
      ;; local.get; i32.const; i32.ge_u; if, both ways
      local.get $i i32.const 2 i32.ge_u if (result i32) i32.const 1 else i32.const 2 end drop
      ;; the comparisons, both ways
      local.get $i i32.const 3 call $cmp
      local.get $p i32.store offset=24
      local.get $p i32.const 3 local.get $i call $cmp i32.store offset=28
      ;; local.get; i32.const; i32.add / i32.sub; local.set
      local.get $p i32.const 40 i32.add local.set $p
      local.get $i i32.const -1 i32.sub local.set $i
      local.get $i i32.const 5 i32.lt_u br_if 0
    end
    i32.const 0 local.get $x i64.store))
