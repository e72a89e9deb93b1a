;; Misbehaving contract: traps at once. `_start` (the entry point a Koinos VM calls) executes
;; `unreachable`, the instruction an AssemblyScript contract built with `--use abort=` runs for a
;; failed assertion. Expected: the call fails with a trap; no state change survives.
(module
  (import "env" "invoke_system_call" (func $syscall (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    unreachable))
