;; Misbehaving contract: writes past its memory. The module has one 64 KiB page; the store's
;; address is memory.size * 65536, the first byte past the end (computed at run time, so no
;; validator can reject it ahead of time). Expected: an out-of-bounds memory trap, and no write
;; outside the instance's memory.
(module
  (import "env" "invoke_system_call" (func $syscall (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store
      (i32.mul (memory.size) (i32.const 65536))
      (i32.const 0x2a))))
