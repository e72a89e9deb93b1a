;; Not misbehaving either: a module using one post-MVP instruction (i32.extend8_s, opcode 0xC0,
;; from the sign-extension proposal), which the official toolchain disables
;; (`--disable sign-extension`) because the official VM runs only the MVP.
;; Compiled with sign-extension enabled on purpose. Expected: the VM rejects the module.
(module
  (import "env" "invoke_system_call" (func $syscall (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.extend8_s (i32.const 0xff)))))
