//! The instructions that compile to one op each, without control flow: calls, variables,
//! memory, constants and numeric instructions; every float instruction that is not a load is
//! the trapping [`Op::FloatTrap`].

use wasmparser::Operator;

use crate::op::Op;

/// The op of a plain instruction, `None` for anything else.
pub(crate) fn plain(operator: &Operator<'_>) -> Option<Op> {
    use Operator as O;
    Some(match *operator {
        O::Call { function_index } => Op::Call(function_index),
        O::CallIndirect { type_index, .. } => Op::CallIndirect(type_index),
        O::Drop => Op::Drop,
        O::Select => Op::Select,
        O::LocalGet { local_index } => Op::LocalGet(local_index),
        O::LocalSet { local_index } => Op::LocalSet(local_index),
        O::LocalTee { local_index } => Op::LocalTee(local_index),
        O::GlobalGet { global_index } => Op::GlobalGet(global_index),
        O::GlobalSet { global_index } => Op::GlobalSet(global_index),
        O::I32Load { memarg } | O::F32Load { memarg } => Op::I32Load(offset(memarg)),
        O::I64Load { memarg } | O::F64Load { memarg } => Op::I64Load(offset(memarg)),
        O::I32Load8S { memarg } => Op::I32Load8S(offset(memarg)),
        O::I32Load8U { memarg } => Op::I32Load8U(offset(memarg)),
        O::I32Load16S { memarg } => Op::I32Load16S(offset(memarg)),
        O::I32Load16U { memarg } => Op::I32Load16U(offset(memarg)),
        O::I64Load8S { memarg } => Op::I64Load8S(offset(memarg)),
        O::I64Load8U { memarg } => Op::I64Load8U(offset(memarg)),
        O::I64Load16S { memarg } => Op::I64Load16S(offset(memarg)),
        O::I64Load16U { memarg } => Op::I64Load16U(offset(memarg)),
        O::I64Load32S { memarg } => Op::I64Load32S(offset(memarg)),
        O::I64Load32U { memarg } => Op::I64Load32U(offset(memarg)),
        O::I32Store { memarg } => Op::I32Store(offset(memarg)),
        O::I64Store { memarg } => Op::I64Store(offset(memarg)),
        O::I32Store8 { memarg } | O::I64Store8 { memarg } => Op::Store8(offset(memarg)),
        O::I32Store16 { memarg } | O::I64Store16 { memarg } => Op::Store16(offset(memarg)),
        O::I64Store32 { memarg } => Op::Store32(offset(memarg)),
        O::MemorySize { .. } => Op::MemorySize,
        O::MemoryGrow { .. } => Op::MemoryGrow,
        O::I32Const { value } => Op::I32Const(value as u32),
        O::I64Const { value } => Op::I64Const(value as u64),
        O::I32Eqz => Op::I32Eqz,
        O::I32Eq => Op::I32Eq,
        O::I32Ne => Op::I32Ne,
        O::I32LtS => Op::I32LtS,
        O::I32LtU => Op::I32LtU,
        O::I32GtS => Op::I32GtS,
        O::I32GtU => Op::I32GtU,
        O::I32LeS => Op::I32LeS,
        O::I32LeU => Op::I32LeU,
        O::I32GeS => Op::I32GeS,
        O::I32GeU => Op::I32GeU,
        O::I64Eqz => Op::I64Eqz,
        O::I64Eq => Op::I64Eq,
        O::I64Ne => Op::I64Ne,
        O::I64LtS => Op::I64LtS,
        O::I64LtU => Op::I64LtU,
        O::I64GtS => Op::I64GtS,
        O::I64GtU => Op::I64GtU,
        O::I64LeS => Op::I64LeS,
        O::I64LeU => Op::I64LeU,
        O::I64GeS => Op::I64GeS,
        O::I64GeU => Op::I64GeU,
        O::I32Clz => Op::I32Clz,
        O::I32Ctz => Op::I32Ctz,
        O::I32Popcnt => Op::I32Popcnt,
        O::I32Add => Op::I32Add,
        O::I32Sub => Op::I32Sub,
        O::I32Mul => Op::I32Mul,
        O::I32DivS => Op::I32DivS,
        O::I32DivU => Op::I32DivU,
        O::I32RemS => Op::I32RemS,
        O::I32RemU => Op::I32RemU,
        O::I32And => Op::I32And,
        O::I32Or => Op::I32Or,
        O::I32Xor => Op::I32Xor,
        O::I32Shl => Op::I32Shl,
        O::I32ShrS => Op::I32ShrS,
        O::I32ShrU => Op::I32ShrU,
        O::I32Rotl => Op::I32Rotl,
        O::I32Rotr => Op::I32Rotr,
        O::I64Clz => Op::I64Clz,
        O::I64Ctz => Op::I64Ctz,
        O::I64Popcnt => Op::I64Popcnt,
        O::I64Add => Op::I64Add,
        O::I64Sub => Op::I64Sub,
        O::I64Mul => Op::I64Mul,
        O::I64DivS => Op::I64DivS,
        O::I64DivU => Op::I64DivU,
        O::I64RemS => Op::I64RemS,
        O::I64RemU => Op::I64RemU,
        O::I64And => Op::I64And,
        O::I64Or => Op::I64Or,
        O::I64Xor => Op::I64Xor,
        O::I64Shl => Op::I64Shl,
        O::I64ShrS => Op::I64ShrS,
        O::I64ShrU => Op::I64ShrU,
        O::I64Rotl => Op::I64Rotl,
        O::I64Rotr => Op::I64Rotr,
        O::I32WrapI64 => Op::I32WrapI64,
        O::I64ExtendI32S => Op::I64ExtendI32S,
        O::I64ExtendI32U => Op::I64ExtendI32U,
        O::F32Store { .. }
        | O::F64Store { .. }
        | O::F32Const { .. }
        | O::F64Const { .. }
        | O::F32Eq
        | O::F32Ne
        | O::F32Lt
        | O::F32Gt
        | O::F32Le
        | O::F32Ge
        | O::F64Eq
        | O::F64Ne
        | O::F64Lt
        | O::F64Gt
        | O::F64Le
        | O::F64Ge
        | O::F32Abs
        | O::F32Neg
        | O::F32Ceil
        | O::F32Floor
        | O::F32Trunc
        | O::F32Nearest
        | O::F32Sqrt
        | O::F32Add
        | O::F32Sub
        | O::F32Mul
        | O::F32Div
        | O::F32Min
        | O::F32Max
        | O::F32Copysign
        | O::F64Abs
        | O::F64Neg
        | O::F64Ceil
        | O::F64Floor
        | O::F64Trunc
        | O::F64Nearest
        | O::F64Sqrt
        | O::F64Add
        | O::F64Sub
        | O::F64Mul
        | O::F64Div
        | O::F64Min
        | O::F64Max
        | O::F64Copysign
        | O::I32TruncF32S
        | O::I32TruncF32U
        | O::I32TruncF64S
        | O::I32TruncF64U
        | O::I64TruncF32S
        | O::I64TruncF32U
        | O::I64TruncF64S
        | O::I64TruncF64U
        | O::F32ConvertI32S
        | O::F32ConvertI32U
        | O::F32ConvertI64S
        | O::F32ConvertI64U
        | O::F32DemoteF64
        | O::F64ConvertI32S
        | O::F64ConvertI32U
        | O::F64ConvertI64S
        | O::F64ConvertI64U
        | O::F64PromoteF32
        | O::I32ReinterpretF32
        | O::I64ReinterpretF64
        | O::F32ReinterpretI32
        | O::F64ReinterpretI64 => Op::FloatTrap,
        _ => return None,
    })
}

fn offset(memarg: wasmparser::MemArg) -> u32 {
    // Validated: 32-bit memories have offsets below 2^32.
    u32::try_from(memarg.offset).unwrap_or(u32::MAX)
}
