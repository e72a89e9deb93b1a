;; Misbehaving contract: recurses without bound. $down calls itself with a counter and never
;; returns, so the call stack grows until the VM's call-depth limit (or native stack guard) stops
;; it; the local and the add keep each frame non-trivial, so the depth is reached long before the
;; tick budget runs out. Expected: the call fails for exceeding the call depth, not by crashing
;; the host.
(module
  (import "env" "invoke_system_call" (func $syscall (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $down (param $depth i32) (result i32)
    (call $down (i32.add (local.get $depth) (i32.const 1))))
  (func (export "_start")
    (drop (call $down (i32.const 0)))))
