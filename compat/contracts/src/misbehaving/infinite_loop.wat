;; Misbehaving contract: loops forever. A loop whose body branches back to its own start; only
;; the VM's compute meter (ticks, paid from the transaction's rc limit) can stop it.
;; Expected: the call fails for running out of ticks/compute.
(module
  (import "env" "invoke_system_call" (func $syscall (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever
      br $forever)))
