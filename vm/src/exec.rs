//! The interpreter loop. Every executed [`Op`] costs one tick, charged before it runs; the
//! instruction that takes the budget below zero traps instead of running. `memory.grow` also
//! costs one tick per page it asks for (granted or not).
//!
//! Values are untyped 64-bit slots (an i32 is stored zero-extended); the locals of each active
//! call sit below its operands on one value stack, and calls do not recurse on the native stack.

use crate::error::{Exit, Trap};
use crate::instance::{Host, HostCall, HostFunction, State};
use crate::module::Module;
use crate::op::{Branch, Op};

struct Frame {
    /// Index into `module.code`.
    code: usize,
    /// Where execution resumes in the caller (unused for the innermost frame).
    pc: usize,
    locals: usize,
    operands: usize,
}

// The operator macros take each instruction's computation as a closure.
#[allow(clippy::redundant_closure_call)]
pub(crate) fn run<H: Host>(
    module: &Module,
    state: &mut State,
    function: u32,
    host: &mut H,
    ticks: &mut i64,
) -> Result<(), Exit<H::Error>> {
    let imports = module.imports.len();
    let mut stack: Vec<u64> = Vec::with_capacity(1024);
    let mut frames: Vec<Frame> = Vec::with_capacity(64);
    let depth_limit = state.limits.call_stack_limit as usize;
    let initial_depth = state.limits.initial_depth as usize;

    if initial_depth >= depth_limit {
        return Err(Exit::Trap(Trap::CallDepth));
    }
    if module.signature_of(function).params > 0 {
        return Err(Exit::Trap(Trap::EntryParameters));
    }
    if (function as usize) < imports {
        // Calling a host function directly: nothing the VM runs, no tick.
        let call = host_call(state, function as usize, &mut stack);
        return host
            .call(call, &mut state.memory, ticks)
            .map(drop)
            .map_err(Exit::Host);
    }
    let mut code_index = function as usize - imports;
    let mut code = &module.code[code_index];
    stack.resize(code.local_count as usize, 0);
    let mut locals = 0usize;
    let mut operands = stack.len();
    let mut pc = 0usize;
    frames.push(Frame {
        code: code_index,
        pc: 0,
        locals,
        operands,
    });

    macro_rules! trap {
        ($t:expr) => {
            return Err(Exit::Trap($t))
        };
    }
    macro_rules! pop {
        () => {
            stack.pop().unwrap_or_default()
        };
    }
    macro_rules! top {
        () => {
            *stack
                .last_mut()
                .expect("validated code has an operand here")
        };
    }
    macro_rules! unop32 {
        ($f:expr) => {{
            let a = top!() as u32;
            let f: fn(u32) -> u32 = $f;
            top!() = u64::from(f(a));
        }};
    }
    macro_rules! binop32 {
        ($f:expr) => {{
            let b = pop!() as u32;
            let a = top!() as u32;
            let f: fn(u32, u32) -> u32 = $f;
            top!() = u64::from(f(a, b));
        }};
    }
    macro_rules! cmp32 {
        ($f:expr) => {{
            let b = pop!() as u32;
            let a = top!() as u32;
            let f: fn(u32, u32) -> bool = $f;
            top!() = u64::from(f(a, b));
        }};
    }
    macro_rules! unop64 {
        ($f:expr) => {{
            let a = top!();
            let f: fn(u64) -> u64 = $f;
            top!() = f(a);
        }};
    }
    macro_rules! binop64 {
        ($f:expr) => {{
            let b = pop!();
            let a = top!();
            let f: fn(u64, u64) -> u64 = $f;
            top!() = f(a, b);
        }};
    }
    macro_rules! cmp64 {
        ($f:expr) => {{
            let b = pop!();
            let a = top!();
            let f: fn(u64, u64) -> bool = $f;
            top!() = u64::from(f(a, b));
        }};
    }
    macro_rules! load {
        ($offset:expr, $n:literal, $conv:expr) => {{
            let address = u64::from(top!() as u32) + u64::from($offset);
            let Some(bytes) = read::<$n>(&state.memory.bytes, address) else {
                trap!(Trap::MemoryOutOfBounds)
            };
            let conv: fn([u8; $n]) -> u64 = $conv;
            top!() = conv(bytes);
        }};
    }
    macro_rules! store {
        ($offset:expr, $n:literal) => {{
            let value = pop!();
            let address = u64::from(pop!() as u32) + u64::from($offset);
            let bytes = value.to_le_bytes();
            if !write::<$n>(&mut state.memory.bytes, address, &bytes[..$n]) {
                trap!(Trap::MemoryOutOfBounds)
            }
        }};
    }
    // A fused op's instructions after its first (the loop charged that one). Running out
    // inside leaves -1, as it would one instruction at a time.
    macro_rules! extra_ticks {
        ($n:expr) => {{
            *ticks -= $n;
            if *ticks < 0 {
                *ticks = -1;
                trap!(Trap::OutOfTicks)
            }
        }};
    }
    // A comparison fused with the `if` after it: the `if`'s tick, then both operands popped;
    // falls through when the comparison holds.
    macro_rules! if_cmp32 {
        ($else_target:expr, $f:expr) => {{
            extra_ticks!(1);
            let b = pop!() as u32;
            let a = pop!() as u32;
            let f: fn(u32, u32) -> bool = $f;
            if !f(a, b) {
                pc = $else_target as usize;
            }
        }};
    }
    macro_rules! branch {
        ($b:expr) => {{
            let b: Branch = $b;
            let keep = operands + b.height as usize;
            if b.arity == 0 {
                stack.truncate(keep);
            } else {
                let value = pop!();
                stack.truncate(keep);
                stack.push(value);
            }
            pc = b.target as usize;
        }};
    }

    // A comparison fused with the `br_if` after it: the `br_if`'s tick, both operands popped,
    // then the branch when the comparison holds.
    macro_rules! br_if_cmp32 {
        ($b:expr, $f:expr) => {{
            extra_ticks!(1);
            let y = pop!() as u32;
            let x = pop!() as u32;
            let f: fn(u32, u32) -> bool = $f;
            if f(x, y) {
                branch!($b)
            }
        }};
    }

    loop {
        let op = code.ops[pc];
        #[cfg(feature = "profile")]
        crate::profile::record(code_index, pc, &op);
        pc += 1;
        *ticks -= 1;
        if *ticks < 0 {
            trap!(Trap::OutOfTicks);
        }
        match op {
            Op::Unreachable => trap!(Trap::Unreachable),
            Op::Nop | Op::Block | Op::Loop | Op::End => {}
            Op::If { else_target } => {
                if pop!() as u32 == 0 {
                    pc = else_target as usize;
                }
            }
            Op::Else { end_target } => pc = end_target as usize,
            Op::Return => {
                let results = module.signature_of((code_index + imports) as u32).results;
                let result = (results > 0).then(|| pop!());
                stack.truncate(locals);
                frames.pop();
                let Some(caller) = frames.last() else {
                    return Ok(());
                };
                stack.extend(result);
                code_index = caller.code;
                code = &module.code[code_index];
                pc = caller.pc;
                locals = caller.locals;
                operands = caller.operands;
            }
            Op::Br(b) => branch!(b),
            Op::BrIf(b) => {
                if pop!() as u32 != 0 {
                    branch!(b)
                }
            }
            Op::BrTable { first, len } => {
                let index = (pop!() as u32).min(len);
                branch!(code.branches[(first + index) as usize])
            }
            Op::Call(_) | Op::CallIndirect(_) => {
                let callee = match op {
                    Op::Call(f) => f,
                    Op::CallIndirect(signature) => {
                        let slot = pop!() as u32 as usize;
                        let Some(Some(f)) = state.table.get(slot).copied() else {
                            trap!(Trap::IndirectCall)
                        };
                        if module.signature_of(f) != &module.signatures[signature as usize] {
                            trap!(Trap::IndirectCall)
                        }
                        f
                    }
                    _ => unreachable!("matched above"),
                };
                if initial_depth + frames.len() >= depth_limit {
                    trap!(Trap::CallDepth)
                }
                if (callee as usize) < imports {
                    let call = host_call(state, callee as usize, &mut stack);
                    let result = host
                        .call(call, &mut state.memory, ticks)
                        .map_err(Exit::Host)?;
                    stack.push(u64::from(result as u32));
                    continue;
                }
                if stack.len() > state.limits.value_stack {
                    trap!(Trap::StackExhausted)
                }
                if let Some(current) = frames.last_mut() {
                    current.pc = pc;
                }
                code_index = callee as usize - imports;
                code = &module.code[code_index];
                let params = module.signature_of(callee).params as usize;
                locals = stack.len() - params;
                stack.resize(stack.len() + code.local_count as usize, 0);
                operands = stack.len();
                pc = 0;
                frames.push(Frame {
                    code: code_index,
                    pc: 0,
                    locals,
                    operands,
                });
            }
            Op::Drop => {
                pop!();
            }
            Op::Select => {
                let condition = pop!() as u32;
                let b = pop!();
                if condition == 0 {
                    top!() = b;
                }
            }
            Op::LocalGet(i) => {
                let v = stack[locals + i as usize];
                stack.push(v);
            }
            Op::LocalSet(i) => {
                let v = pop!();
                stack[locals + i as usize] = v;
            }
            Op::LocalTee(i) => {
                let v = top!();
                stack[locals + i as usize] = v;
            }
            Op::GlobalGet(i) => stack.push(state.globals[i as usize]),
            Op::GlobalSet(i) => state.globals[i as usize] = pop!(),
            Op::I32Load(o) => load!(o, 4, |b| u64::from(u32::from_le_bytes(b))),
            Op::I64Load(o) => load!(o, 8, u64::from_le_bytes),
            Op::I32Load8S(o) => load!(o, 1, |b| u64::from(i32::from(b[0] as i8) as u32)),
            Op::I32Load8U(o) => load!(o, 1, |b| u64::from(b[0])),
            Op::I32Load16S(o) => {
                load!(o, 2, |b| u64::from(i32::from(i16::from_le_bytes(b)) as u32))
            }
            Op::I32Load16U(o) => load!(o, 2, |b| u64::from(u16::from_le_bytes(b))),
            Op::I64Load8S(o) => load!(o, 1, |b| i64::from(b[0] as i8) as u64),
            Op::I64Load8U(o) => load!(o, 1, |b| u64::from(b[0])),
            Op::I64Load16S(o) => load!(o, 2, |b| i64::from(i16::from_le_bytes(b)) as u64),
            Op::I64Load16U(o) => load!(o, 2, |b| u64::from(u16::from_le_bytes(b))),
            Op::I64Load32S(o) => load!(o, 4, |b| i64::from(i32::from_le_bytes(b)) as u64),
            Op::I64Load32U(o) => load!(o, 4, |b| u64::from(u32::from_le_bytes(b))),
            Op::I32Store(o) | Op::Store32(o) => store!(o, 4),
            Op::I64Store(o) => store!(o, 8),
            Op::Store8(o) => store!(o, 1),
            Op::Store16(o) => store!(o, 2),
            Op::MemorySize => stack.push(u64::from(state.memory.pages())),
            Op::MemoryGrow => {
                let pages = top!() as u32;
                *ticks -= i64::from(pages);
                if *ticks < 0 {
                    trap!(Trap::OutOfTicks)
                }
                top!() = u64::from(state.memory.grow(pages));
            }
            Op::I32Const(v) => stack.push(u64::from(v)),
            Op::I64Const(v) => stack.push(v),
            Op::FloatTrap => trap!(Trap::FloatDisabled),
            Op::I32Eqz => top!() = u64::from(top!() as u32 == 0),
            Op::I32Eq => cmp32!(|a, b| a == b),
            Op::I32Ne => cmp32!(|a, b| a != b),
            Op::I32LtS => cmp32!(|a, b| (a as i32) < (b as i32)),
            Op::I32LtU => cmp32!(|a, b| a < b),
            Op::I32GtS => cmp32!(|a, b| (a as i32) > (b as i32)),
            Op::I32GtU => cmp32!(|a, b| a > b),
            Op::I32LeS => cmp32!(|a, b| (a as i32) <= (b as i32)),
            Op::I32LeU => cmp32!(|a, b| a <= b),
            Op::I32GeS => cmp32!(|a, b| (a as i32) >= (b as i32)),
            Op::I32GeU => cmp32!(|a, b| a >= b),
            Op::I64Eqz => top!() = u64::from(top!() == 0),
            Op::I64Eq => cmp64!(|a, b| a == b),
            Op::I64Ne => cmp64!(|a, b| a != b),
            Op::I64LtS => cmp64!(|a, b| (a as i64) < (b as i64)),
            Op::I64LtU => cmp64!(|a, b| a < b),
            Op::I64GtS => cmp64!(|a, b| (a as i64) > (b as i64)),
            Op::I64GtU => cmp64!(|a, b| a > b),
            Op::I64LeS => cmp64!(|a, b| (a as i64) <= (b as i64)),
            Op::I64LeU => cmp64!(|a, b| a <= b),
            Op::I64GeS => cmp64!(|a, b| (a as i64) >= (b as i64)),
            Op::I64GeU => cmp64!(|a, b| a >= b),
            Op::I32Clz => unop32!(u32::leading_zeros),
            Op::I32Ctz => unop32!(u32::trailing_zeros),
            Op::I32Popcnt => unop32!(u32::count_ones),
            Op::I32Add => binop32!(u32::wrapping_add),
            Op::I32Sub => binop32!(u32::wrapping_sub),
            Op::I32Mul => binop32!(u32::wrapping_mul),
            Op::I32DivS => {
                let b = pop!() as u32 as i32;
                let a = top!() as u32 as i32;
                let Some(q) = a.checked_div(b) else {
                    trap!(Trap::IntegerDivision)
                };
                top!() = u64::from(q as u32);
            }
            Op::I32DivU => {
                let b = pop!() as u32;
                let a = top!() as u32;
                let Some(q) = a.checked_div(b) else {
                    trap!(Trap::IntegerDivision)
                };
                top!() = u64::from(q);
            }
            Op::I32RemS => {
                let b = pop!() as u32 as i32;
                if b == 0 {
                    trap!(Trap::IntegerDivision)
                }
                let a = top!() as u32 as i32;
                top!() = u64::from(a.wrapping_rem(b) as u32);
            }
            Op::I32RemU => {
                let b = pop!() as u32;
                if b == 0 {
                    trap!(Trap::IntegerDivision)
                }
                let a = top!() as u32;
                top!() = u64::from(a % b);
            }
            Op::I32And => binop32!(|a, b| a & b),
            Op::I32Or => binop32!(|a, b| a | b),
            Op::I32Xor => binop32!(|a, b| a ^ b),
            Op::I32Shl => binop32!(u32::wrapping_shl),
            Op::I32ShrS => binop32!(|a, b| (a as i32).wrapping_shr(b) as u32),
            Op::I32ShrU => binop32!(u32::wrapping_shr),
            Op::I32Rotl => binop32!(u32::rotate_left),
            Op::I32Rotr => binop32!(u32::rotate_right),
            Op::I64Clz => unop64!(|a| u64::from(a.leading_zeros())),
            Op::I64Ctz => unop64!(|a| u64::from(a.trailing_zeros())),
            Op::I64Popcnt => unop64!(|a| u64::from(a.count_ones())),
            Op::I64Add => binop64!(u64::wrapping_add),
            Op::I64Sub => binop64!(u64::wrapping_sub),
            Op::I64Mul => binop64!(u64::wrapping_mul),
            Op::I64DivS => {
                let b = pop!() as i64;
                let a = top!() as i64;
                let Some(q) = a.checked_div(b) else {
                    trap!(Trap::IntegerDivision)
                };
                top!() = q as u64;
            }
            Op::I64DivU => {
                let b = pop!();
                let a = top!();
                let Some(q) = a.checked_div(b) else {
                    trap!(Trap::IntegerDivision)
                };
                top!() = q;
            }
            Op::I64RemS => {
                let b = pop!() as i64;
                if b == 0 {
                    trap!(Trap::IntegerDivision)
                }
                let a = top!() as i64;
                top!() = a.wrapping_rem(b) as u64;
            }
            Op::I64RemU => {
                let b = pop!();
                if b == 0 {
                    trap!(Trap::IntegerDivision)
                }
                let a = top!();
                top!() = a % b;
            }
            Op::I64And => binop64!(|a, b| a & b),
            Op::I64Or => binop64!(|a, b| a | b),
            Op::I64Xor => binop64!(|a, b| a ^ b),
            Op::I64Shl => binop64!(|a, b| a.wrapping_shl(b as u32)),
            Op::I64ShrS => binop64!(|a, b| (a as i64).wrapping_shr(b as u32) as u64),
            Op::I64ShrU => binop64!(|a, b| a.wrapping_shr(b as u32)),
            Op::I64Rotl => binop64!(|a, b| a.rotate_left(b as u32)),
            Op::I64Rotr => binop64!(|a, b| a.rotate_right(b as u32)),
            Op::I32WrapI64 => top!() = u64::from(top!() as u32),
            Op::I64ExtendI32S => top!() = i64::from(top!() as u32 as i32) as u64,
            Op::I64ExtendI32U => top!() = u64::from(top!() as u32),
            Op::LocalGet2(a, b) => {
                extra_ticks!(1);
                let (x, y) = (stack[locals + a as usize], stack[locals + b as usize]);
                stack.push(x);
                stack.push(y);
            }
            Op::LocalGetI32Const(a, c) => {
                extra_ticks!(1);
                let x = stack[locals + a as usize];
                stack.push(x);
                stack.push(u64::from(c));
            }
            Op::LocalGetI32AddConst(a, c) => {
                extra_ticks!(2);
                let x = stack[locals + a as usize] as u32;
                stack.push(u64::from(x.wrapping_add(c)));
            }
            Op::I32AddConst(c) => {
                extra_ticks!(1);
                top!() = u64::from((top!() as u32).wrapping_add(c));
            }
            Op::LocalGetI32Load(a, o) => {
                extra_ticks!(1);
                let address = u64::from(stack[locals + a as usize] as u32) + u64::from(o);
                let Some(bytes) = read::<4>(&state.memory.bytes, address) else {
                    trap!(Trap::MemoryOutOfBounds)
                };
                stack.push(u64::from(u32::from_le_bytes(bytes)));
            }
            Op::LocalGetI64Const(a, c) => {
                extra_ticks!(1);
                let x = stack[locals + a as usize];
                stack.push(x);
                stack.push(c);
            }
            Op::LocalGetI64StoreConst(a, c, o) => {
                extra_ticks!(2);
                let address = u64::from(stack[locals + a as usize] as u32) + u64::from(o);
                let value = i64::from(c) as u64;
                if !write::<8>(&mut state.memory.bytes, address, &value.to_le_bytes()) {
                    trap!(Trap::MemoryOutOfBounds)
                }
            }
            Op::LocalGetI64StoreZero2(a, first, second) => {
                // The first store happens before the second's ticks are charged, as unfused.
                extra_ticks!(2);
                let base = u64::from(stack[locals + a as usize] as u32);
                if !write::<8>(&mut state.memory.bytes, base + u64::from(first), &[0; 8]) {
                    trap!(Trap::MemoryOutOfBounds)
                }
                extra_ticks!(3);
                if !write::<8>(&mut state.memory.bytes, base + u64::from(second), &[0; 8]) {
                    trap!(Trap::MemoryOutOfBounds)
                }
            }
            Op::LocalGetI32Store(a, o) => {
                extra_ticks!(1);
                let value = stack[locals + a as usize];
                let address = u64::from(pop!() as u32) + u64::from(o);
                if !write::<4>(&mut state.memory.bytes, address, &value.to_le_bytes()[..4]) {
                    trap!(Trap::MemoryOutOfBounds)
                }
            }
            Op::LocalGetI32AddConstSet(a, c, b) => {
                extra_ticks!(3);
                let x = stack[locals + a as usize] as u32;
                stack[locals + b as usize] = u64::from(x.wrapping_add(c));
            }
            Op::IfI32Eqz { else_target } => {
                extra_ticks!(1);
                if pop!() as u32 != 0 {
                    pc = else_target as usize;
                }
            }
            Op::IfI32Eq { else_target } => if_cmp32!(else_target, |a, b| a == b),
            Op::IfI32Ne { else_target } => if_cmp32!(else_target, |a, b| a != b),
            Op::IfI32LtS { else_target } => {
                if_cmp32!(else_target, |a, b| (a as i32) < (b as i32))
            }
            Op::IfI32LtU { else_target } => if_cmp32!(else_target, |a, b| a < b),
            Op::IfI32GtU { else_target } => if_cmp32!(else_target, |a, b| a > b),
            Op::IfI32GeU { else_target } => if_cmp32!(else_target, |a, b| a >= b),
            Op::BrIfI32Eqz(b) => {
                extra_ticks!(1);
                if pop!() as u32 == 0 {
                    branch!(b)
                }
            }
            Op::BrIfI32Eq(b) => br_if_cmp32!(b, |a, b| a == b),
            Op::BrIfI32Ne(b) => br_if_cmp32!(b, |a, b| a != b),
            Op::BrIfI32LtS(b) => br_if_cmp32!(b, |a, b| (a as i32) < (b as i32)),
            Op::BrIfI32LtU(b) => br_if_cmp32!(b, |a, b| a < b),
            Op::BrIfI32GtS(b) => br_if_cmp32!(b, |a, b| (a as i32) > (b as i32)),
            Op::BrIfI32LeU(b) => br_if_cmp32!(b, |a, b| a <= b),
            Op::GlobalGetI32Const(g, c) => {
                extra_ticks!(1);
                stack.push(state.globals[g as usize]);
                stack.push(u64::from(c));
            }
            Op::GlobalGetI32AddConst(g, c) => {
                extra_ticks!(2);
                let x = state.globals[g as usize] as u32;
                stack.push(u64::from(x.wrapping_add(c)));
            }
            Op::GlobalGetI32AddConstSet(g, c, h) => {
                extra_ticks!(3);
                let x = state.globals[g as usize] as u32;
                state.globals[h as usize] = u64::from(x.wrapping_add(c));
            }
            Op::GlobalGetLocalGetI32Store(g, a, o) => {
                extra_ticks!(2);
                let value = stack[locals + a as usize];
                let address = u64::from(state.globals[g as usize] as u32) + u64::from(o);
                if !write::<4>(&mut state.memory.bytes, address, &value.to_le_bytes()[..4]) {
                    trap!(Trap::MemoryOutOfBounds)
                }
            }
            Op::IfLocalGeUConst {
                local,
                constant,
                else_target,
            } => {
                extra_ticks!(3);
                if (stack[locals + local as usize] as u32) < constant {
                    pc = else_target as usize;
                }
            }
            Op::I64StoreConst(c, o) => {
                extra_ticks!(1);
                let address = u64::from(pop!() as u32) + u64::from(o);
                if !write::<8>(&mut state.memory.bytes, address, &c.to_le_bytes()) {
                    trap!(Trap::MemoryOutOfBounds)
                }
            }
        }
    }
}

/// Pops a host call's six arguments.
fn host_call(state: &State, import: usize, stack: &mut Vec<u64>) -> HostCall {
    let mut args = [0u32; 6];
    for arg in args.iter_mut().rev() {
        *arg = stack.pop().unwrap_or_default() as u32;
    }
    HostCall {
        function: state
            .host_functions
            .get(import)
            .copied()
            .unwrap_or(HostFunction::InvokeThunk),
        id: args[0],
        ret_ptr: args[1],
        ret_len: args[2],
        arg_ptr: args[3],
        arg_len: args[4],
        bytes_written_ptr: args[5],
    }
}

fn read<const N: usize>(memory: &[u8], address: u64) -> Option<[u8; N]> {
    let start = usize::try_from(address).ok()?;
    memory.get(start..start.checked_add(N)?)?.try_into().ok()
}

fn write<const N: usize>(memory: &mut [u8], address: u64, bytes: &[u8]) -> bool {
    let Ok(start) = usize::try_from(address) else {
        return false;
    };
    match memory.get_mut(start..start + N) {
        Some(slot) => {
            slot.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}
