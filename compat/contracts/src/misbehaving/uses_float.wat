;; Not a misbehaving program but a module the official Koinos VM refuses: fizzy with floating
;; point disabled rejects any f32/f64 instruction, even though floats are WebAssembly MVP.
;; Expected: the VM rejects the module (at load/validation), it never runs.
(module
  (import "env" "invoke_system_call" (func $syscall (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (f32.store (i32.const 0) (f32.add (f32.const 1.5) (f32.const 2.25)))))
