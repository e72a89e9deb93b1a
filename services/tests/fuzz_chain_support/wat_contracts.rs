//! Hand-written WebAssembly contracts for the chain's tests: the smallest modules that make one
//! system call, or return a fixed result, through `env.invoke_system_call` as compiled contracts
//! do.

/// A contract that makes system call `id` with `args` and exits with its result object.
pub fn system_call_contract(id: u32, args: &[u8]) -> Vec<u8> {
    let escaped: String = args.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module
          (import "env" "invoke_system_call" (func $sc (param i32 i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 256) "{escaped}")
          (func (export "_start") (local $n i32)
            (drop (call $sc (i32.const {id}) (i32.const 4096) (i32.const 1024)
                            (i32.const 256) (i32.const {len}) (i32.const 8)))
            (local.set $n (i32.load (i32.const 8)))
            ;; exit_arguments{{res = result{{object = the n bytes at 4096}}}}
            (i32.store8 (i32.const 4092) (i32.const 0x12))
            (i32.store8 (i32.const 4093) (i32.add (local.get $n) (i32.const 2)))
            (i32.store8 (i32.const 4094) (i32.const 0x0a))
            (i32.store8 (i32.const 4095) (local.get $n))
            (drop (call $sc (i32.const 602) (i32.const 0) (i32.const 0)
                            (i32.const 4092) (i32.add (local.get $n) (i32.const 4)) (i32.const 8)))))"#,
        len = args.len()
    );
    wat::parse_str(wat).expect("valid module")
}

/// A contract that exits with `object` as its result.
pub fn constant_contract(object: &[u8]) -> Vec<u8> {
    // exit_arguments{res = result{object}}: 12 <len+2> 0a <len> object
    let mut exit = vec![0x12, object.len() as u8 + 2, 0x0a, object.len() as u8];
    exit.extend_from_slice(object);
    let escaped: String = exit.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module
          (import "env" "invoke_system_call" (func $sc (param i32 i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 256) "{escaped}")
          (func (export "_start")
            (drop (call $sc (i32.const 602) (i32.const 0) (i32.const 0)
                            (i32.const 256) (i32.const {len}) (i32.const 8)))))"#,
        len = exit.len()
    );
    wat::parse_str(wat).expect("valid module")
}
