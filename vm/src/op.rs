//! The compiled instruction stream. One [`Op`] per instruction the official VM keeps in its own
//! compiled code, so "one tick per executed `Op`" is its metering rule: `block`, `loop` and `end`
//! are instructions here too, and branch targets sit where the official VM puts them (see
//! [`crate::compile`]).

/// Where a branch goes and what it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Branch {
    /// Index of the next `Op` to execute.
    pub target: u32,
    /// Operand-stack height (above the frame's locals) the target label restores.
    pub height: u32,
    /// Values the branch carries (0 or 1 in WebAssembly 1.0; always 0 for a `loop`).
    pub arity: u8,
}

/// Memory access: the static offset of the `memarg` (alignment is a hint and is dropped).
pub(crate) type Offset = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Unreachable,
    Nop,
    Block,
    Loop,
    /// Falls through when the condition is non-zero, else jumps to `else_target` (the first
    /// instruction of the `else` arm, or past the `end` when there is none).
    If {
        else_target: u32,
    },
    /// Reached only at the end of a taken `then` arm: jumps past the `end`.
    Else {
        end_target: u32,
    },
    /// The end of a block, loop, if or else: nothing to do.
    End,
    /// The end of the function body: return.
    Return,
    Br(Branch),
    BrIf(Branch),
    /// Targets are `branches[first..first + len]`, then the default at `first + len`.
    BrTable {
        first: u32,
        len: u32,
    },
    Call(u32),
    CallIndirect(u32),
    Drop,
    Select,
    LocalGet(u32),
    LocalSet(u32),
    LocalTee(u32),
    GlobalGet(u32),
    GlobalSet(u32),
    // Loads: width and extension. f32/f64 loads move raw bits, as the official VM allows them.
    I32Load(Offset),
    I64Load(Offset),
    I32Load8S(Offset),
    I32Load8U(Offset),
    I32Load16S(Offset),
    I32Load16U(Offset),
    I64Load8S(Offset),
    I64Load8U(Offset),
    I64Load16S(Offset),
    I64Load16U(Offset),
    I64Load32S(Offset),
    I64Load32U(Offset),
    I32Store(Offset),
    I64Store(Offset),
    Store8(Offset),
    Store16(Offset),
    Store32(Offset),
    MemorySize,
    MemoryGrow,
    I32Const(u32),
    I64Const(u64),
    /// Every instruction that computes with, stores or creates a float: the official VM is
    /// built with floats disabled, and these trap when executed (after their tick).
    FloatTrap,
    I32Eqz,
    I32Eq,
    I32Ne,
    I32LtS,
    I32LtU,
    I32GtS,
    I32GtU,
    I32LeS,
    I32LeU,
    I32GeS,
    I32GeU,
    I64Eqz,
    I64Eq,
    I64Ne,
    I64LtS,
    I64LtU,
    I64GtS,
    I64GtU,
    I64LeS,
    I64LeU,
    I64GeS,
    I64GeU,
    I32Clz,
    I32Ctz,
    I32Popcnt,
    I32Add,
    I32Sub,
    I32Mul,
    I32DivS,
    I32DivU,
    I32RemS,
    I32RemU,
    I32And,
    I32Or,
    I32Xor,
    I32Shl,
    I32ShrS,
    I32ShrU,
    I32Rotl,
    I32Rotr,
    I64Clz,
    I64Ctz,
    I64Popcnt,
    I64Add,
    I64Sub,
    I64Mul,
    I64DivS,
    I64DivU,
    I64RemS,
    I64RemU,
    I64And,
    I64Or,
    I64Xor,
    I64Shl,
    I64ShrS,
    I64ShrU,
    I64Rotl,
    I64Rotr,
    I32WrapI64,
    I64ExtendI32S,
    I64ExtendI32U,
    // Fused instructions (see `compile::fuse`): each stands for the sequence in its name and
    // costs one tick per instruction of it.
    /// `local.get; local.get`
    LocalGet2(u32, u32),
    /// `local.get; i32.const`
    LocalGetI32Const(u32, u32),
    /// `local.get; i32.const; i32.add` (`i32.sub` is stored as the negated constant's add)
    LocalGetI32AddConst(u32, u32),
    /// `i32.const; i32.add` (or `i32.sub` with the constant negated)
    I32AddConst(u32),
    /// `local.get; i32.load`
    LocalGetI32Load(u32, Offset),
    /// `i64.const; i64.store`
    I64StoreConst(u64, Offset),
    /// `local.get; i64.const`
    LocalGetI64Const(u32, u64),
    /// `local.get; i64.const; i64.store` with a constant that fits in an `i32` (sign-extended),
    /// as AssemblyScript's unrolled zeroing stores are: (local, constant, offset)
    LocalGetI64StoreConst(u32, i32, Offset),
    /// Two `local.get; i64.const 0; i64.store` to the same local's address: (local, first
    /// offset, second offset), AssemblyScript's unrolled zeroing
    LocalGetI64StoreZero2(u32, Offset, Offset),
    /// `local.get; i32.store`: stores the local at the popped address
    LocalGetI32Store(u32, Offset),
    /// `local.get; i32.const; i32.add; local.set` (or `i32.sub`, the constant negated):
    /// (source local, constant, destination local)
    LocalGetI32AddConstSet(u32, u32, u32),
    /// `global.get; i32.const`
    GlobalGetI32Const(u32, u32),
    /// `global.get; i32.const; i32.add` (or `i32.sub`, the constant negated)
    GlobalGetI32AddConst(u32, u32),
    /// `global.get; i32.const; i32.add; global.set` (or `i32.sub`): (source global, constant,
    /// destination global), as AssemblyScript moves its shadow stack pointer
    GlobalGetI32AddConstSet(u32, u32, u32),
    /// `global.get; local.get; i32.store`: stores the local at the global's address
    GlobalGetLocalGetI32Store(u32, u32, Offset),
    // Compare and `if` (see `compile::fuse_if`): each is the comparison then an `If` with the
    // same `else_target`.
    /// `i32.eqz; if`
    IfI32Eqz {
        else_target: u32,
    },
    /// `i32.eq; if`
    IfI32Eq {
        else_target: u32,
    },
    /// `i32.ne; if`
    IfI32Ne {
        else_target: u32,
    },
    /// `i32.lt_s; if`
    IfI32LtS {
        else_target: u32,
    },
    /// `i32.lt_u; if`
    IfI32LtU {
        else_target: u32,
    },
    /// `i32.gt_u; if`
    IfI32GtU {
        else_target: u32,
    },
    /// `i32.ge_u; if`
    IfI32GeU {
        else_target: u32,
    },
    /// `local.get; i32.const; i32.ge_u; if`
    IfLocalGeUConst {
        local: u32,
        constant: u32,
        else_target: u32,
    },
    // Compare and `br_if` (see `compile::fuse_br_if`): the comparison then a `BrIf`.
    /// `i32.eqz; br_if`
    BrIfI32Eqz(Branch),
    /// `i32.eq; br_if`
    BrIfI32Eq(Branch),
    /// `i32.ne; br_if`
    BrIfI32Ne(Branch),
    /// `i32.lt_s; br_if`
    BrIfI32LtS(Branch),
    /// `i32.lt_u; br_if`
    BrIfI32LtU(Branch),
    /// `i32.gt_s; br_if`
    BrIfI32GtS(Branch),
    /// `i32.le_u; br_if`
    BrIfI32LeU(Branch),
}

impl Op {
    /// The branch of a `br` or `br_if`, fused or not.
    pub(crate) fn branch_mut(&mut self) -> Option<&mut Branch> {
        match self {
            Op::Br(b)
            | Op::BrIf(b)
            | Op::BrIfI32Eqz(b)
            | Op::BrIfI32Eq(b)
            | Op::BrIfI32Ne(b)
            | Op::BrIfI32LtS(b)
            | Op::BrIfI32LtU(b)
            | Op::BrIfI32GtS(b)
            | Op::BrIfI32LeU(b) => Some(b),
            _ => None,
        }
    }

    /// The `else_target` of an `If`, fused or not.
    pub(crate) fn else_target_mut(&mut self) -> Option<&mut u32> {
        match self {
            Op::If { else_target }
            | Op::IfI32Eqz { else_target }
            | Op::IfI32Eq { else_target }
            | Op::IfI32Ne { else_target }
            | Op::IfI32LtS { else_target }
            | Op::IfI32LtU { else_target }
            | Op::IfI32GtU { else_target }
            | Op::IfI32GeU { else_target }
            | Op::IfLocalGeUConst { else_target, .. } => Some(else_target),
            _ => None,
        }
    }
}

// Fused ops keep their operands small enough that an `Op` stays 16 bytes.
const _: () = assert!(std::mem::size_of::<Op>() == 16);
