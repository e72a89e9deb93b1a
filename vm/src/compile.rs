//! One function body (already being validated by wasmparser) into [`Op`]s laid out as the
//! official VM lays out its code, because its meter charges one tick per instruction of that
//! layout:
//! - `block`, `loop` and every `end` are instructions (a tick each when executed);
//! - a branch to a `block`, `if` or `else` label lands *after* that label's `end` (the `end` is
//!   not executed); a branch to a `loop` lands *on* the `loop` instruction (executed again);
//! - a branch to the function's own label (and `return`) lands on the function's final `end`;
//! - `if` with a false condition jumps to the first instruction of the `else` arm, or past the
//!   `end` when there is no `else`; a `then` arm that runs to its `else` executes the `else`
//!   and jumps past the `end`.

use wasmparser::{BlockType, FuncValidator, FunctionBody, Operator, ValidatorResources};

use crate::error::ParseError;
use crate::op::{Branch, Op};

/// A compiled function body.
#[derive(Debug)]
pub(crate) struct Code {
    pub ops: Vec<Op>,
    /// `br_table` targets.
    pub branches: Vec<Branch>,
    /// Declared locals beyond the parameters (zero-initialized).
    pub local_count: u32,
}

/// A label being compiled: where branches to it go, or the branches still waiting for its `end`.
struct Label {
    is_loop: bool,
    /// The `loop` instruction's index (loops only).
    start: u32,
    /// The `if` or `else` instruction whose target is patched at `end`.
    if_or_else: Option<u32>,
    /// Branches (op index, or `br_table` slot) that jump past this label's `end`.
    pending: Vec<Pending>,
}

enum Pending {
    Op(u32),
    Table(u32),
}

pub(crate) fn compile(
    mut validator: FuncValidator<ValidatorResources>,
    body: &FunctionBody<'_>,
    fusion: bool,
) -> Result<Code, ParseError> {
    let mut local_count = 0u32;
    let mut locals = body.get_locals_reader()?;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, ty) = locals.read()?;
        validator.define_locals(offset, count, ty)?;
        local_count = local_count.saturating_add(count);
    }

    let mut code = Code {
        ops: Vec::new(),
        branches: Vec::new(),
        local_count,
    };
    // The function's own label.
    let mut labels = vec![Label {
        is_loop: false,
        start: 0,
        if_or_else: None,
        pending: Vec::new(),
    }];
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        let (operator, offset) = reader.read_with_offset()?;
        // Branch heights come from the validator's view *before* the instruction.
        let op = translate(&operator, &validator, &mut labels, &mut code)?;
        validator.op(offset, &operator)?;
        match op {
            Some(op) if fusion => fuse(&mut code.ops, op),
            Some(op) => code.ops.push(op),
            None => {}
        }
    }
    reader.finish()?;
    Ok(code)
}

fn next_index(code: &Code) -> u32 {
    u32::try_from(code.ops.len()).unwrap_or(u32::MAX)
}

/// The branch to relative label `depth`; targets of forward labels are patched at their `end`.
fn branch(
    depth: u32,
    validator: &FuncValidator<ValidatorResources>,
    labels: &[Label],
) -> Result<(Branch, usize), ParseError> {
    let frame = validator
        .get_control_frame(depth as usize)
        .ok_or_else(|| ParseError::new("invalid label index"))?;
    let label_index = labels
        .len()
        .checked_sub(1 + depth as usize)
        .ok_or_else(|| ParseError::new("invalid label index"))?;
    let label = &labels[label_index];
    let arity = if label.is_loop {
        0
    } else {
        block_arity(frame.block_type)
    };
    let branch = Branch {
        target: if label.is_loop { label.start } else { 0 },
        height: u32::try_from(frame.height).unwrap_or(u32::MAX),
        arity,
    };
    Ok((branch, label_index))
}

fn block_arity(block_type: BlockType) -> u8 {
    match block_type {
        BlockType::Empty => 0,
        // Multi-value is not enabled, so function-typed blocks never validate.
        BlockType::Type(_) | BlockType::FuncType(_) => 1,
    }
}

fn translate(
    operator: &Operator<'_>,
    validator: &FuncValidator<ValidatorResources>,
    labels: &mut Vec<Label>,
    code: &mut Code,
) -> Result<Option<Op>, ParseError> {
    use Operator as O;
    let here = next_index(code);
    let op = match *operator {
        O::Unreachable => Op::Unreachable,
        O::Nop => Op::Nop,
        O::Block { .. } => {
            labels.push(Label {
                is_loop: false,
                start: here,
                if_or_else: None,
                pending: Vec::new(),
            });
            Op::Block
        }
        O::Loop { .. } => {
            labels.push(Label {
                is_loop: true,
                start: here,
                if_or_else: None,
                pending: Vec::new(),
            });
            Op::Loop
        }
        O::If { .. } => {
            labels.push(Label {
                is_loop: false,
                start: here,
                if_or_else: Some(here),
                pending: Vec::new(),
            });
            Op::If { else_target: 0 }
        }
        O::Else => {
            let label = labels
                .last_mut()
                .ok_or_else(|| ParseError::new("else without if"))?;
            if let Some(Op::If { else_target }) =
                label.if_or_else.and_then(|i| code.ops.get_mut(i as usize))
            {
                *else_target = here + 1;
            }
            label.if_or_else = Some(here);
            Op::Else { end_target: 0 }
        }
        O::End => {
            let label = labels
                .pop()
                .ok_or_else(|| ParseError::new("unbalanced end"))?;
            let (op, target) = if labels.is_empty() {
                (Op::Return, here)
            } else {
                (Op::End, here + 1)
            };
            if !label.is_loop {
                if let Some(i) = label.if_or_else {
                    match code.ops.get_mut(i as usize) {
                        Some(Op::If { else_target }) => *else_target = target,
                        Some(Op::Else { end_target }) => *end_target = target,
                        _ => {}
                    }
                }
                for pending in label.pending {
                    let slot = match pending {
                        Pending::Op(i) => match code.ops.get_mut(i as usize) {
                            Some(Op::Br(b) | Op::BrIf(b)) => b,
                            _ => continue,
                        },
                        Pending::Table(i) => match code.branches.get_mut(i as usize) {
                            Some(b) => b,
                            None => continue,
                        },
                    };
                    slot.target = target;
                }
            }
            op
        }
        O::Br { relative_depth } | O::BrIf { relative_depth } => {
            let (b, label) = branch(relative_depth, validator, labels)?;
            labels[label].pending.push(Pending::Op(here));
            if matches!(operator, O::Br { .. }) {
                Op::Br(b)
            } else {
                Op::BrIf(b)
            }
        }
        O::Return => {
            let depth = u32::try_from(labels.len() - 1).unwrap_or(u32::MAX);
            let (b, label) = branch(depth, validator, labels)?;
            labels[label].pending.push(Pending::Op(here));
            Op::Br(b)
        }
        O::BrTable { ref targets } => {
            let first = u32::try_from(code.branches.len()).unwrap_or(u32::MAX);
            let depths = targets
                .targets()
                .chain(std::iter::once(Ok(targets.default())));
            for depth in depths {
                let (b, label) = branch(depth?, validator, labels)?;
                let slot = u32::try_from(code.branches.len()).unwrap_or(u32::MAX);
                labels[label].pending.push(Pending::Table(slot));
                code.branches.push(b);
            }
            Op::BrTable {
                first,
                len: targets.len(),
            }
        }
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
        // Everything else belongs to a proposal the validator has not enabled, so validation
        // rejects it right after this; nothing to emit.
        _ => return Ok(None),
    };
    Ok(Some(op))
}

/// Appends `op`, fused with the op before it when the pair is a common sequence. Safe for
/// branch targets: only plain (non-control) ops fuse, and a branch target is always the index
/// of a control op or of the first op after one, which keeps its index when later ops fuse into
/// it. Ticks are unchanged: a fused op costs what its instructions cost.
fn fuse(ops: &mut Vec<Op>, op: Op) {
    let fused = match (ops.last().copied(), op) {
        (Some(Op::LocalGet(a)), Op::LocalGet(b)) => Some(Op::LocalGet2(a, b)),
        (Some(Op::LocalGet(a)), Op::I32Const(c)) => Some(Op::LocalGetI32Const(a, c)),
        (Some(Op::LocalGetI32Const(a, c)), Op::I32Add) => Some(Op::LocalGetI32AddConst(a, c)),
        (Some(Op::LocalGetI32Const(a, c)), Op::I32Sub) => {
            Some(Op::LocalGetI32AddConst(a, c.wrapping_neg()))
        }
        (Some(Op::I32Const(c)), Op::I32Add) => Some(Op::I32AddConst(c)),
        (Some(Op::I32Const(c)), Op::I32Sub) => Some(Op::I32AddConst(c.wrapping_neg())),
        (Some(Op::LocalGet(a)), Op::I32Load(offset)) => Some(Op::LocalGetI32Load(a, offset)),
        (Some(Op::I64Const(c)), Op::I64Store(offset)) => Some(Op::I64StoreConst(c, offset)),
        _ => None,
    };
    match fused {
        Some(fused) => {
            if let Some(last) = ops.last_mut() {
                *last = fused;
            }
        }
        None => ops.push(op),
    }
}

fn offset(memarg: wasmparser::MemArg) -> u32 {
    // Validated: 32-bit memories have offsets below 2^32.
    u32::try_from(memarg.offset).unwrap_or(u32::MAX)
}
