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
use crate::plain::plain;

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
        let op = translate(&operator, &validator, &mut labels, &mut code, fusion)?;
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
    fusion: bool,
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
            // Fused with the comparison before it, the `if` takes the index of the fused op.
            let fused = if fusion { fuse_if(&mut code.ops) } else { None };
            let at = fused.unwrap_or(here);
            labels.push(Label {
                is_loop: false,
                start: at,
                if_or_else: Some(at),
                pending: Vec::new(),
            });
            if fused.is_some() {
                return Ok(None);
            }
            Op::If { else_target: 0 }
        }
        O::Else => {
            let label = labels
                .last_mut()
                .ok_or_else(|| ParseError::new("else without if"))?;
            if let Some(else_target) = label
                .if_or_else
                .and_then(|i| code.ops.get_mut(i as usize))
                .and_then(Op::else_target_mut)
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
                        Some(Op::Else { end_target }) => *end_target = target,
                        Some(op) => {
                            if let Some(else_target) = op.else_target_mut() {
                                *else_target = target;
                            }
                        }
                        None => {}
                    }
                }
                for pending in label.pending {
                    let slot = match pending {
                        Pending::Op(i) => match code.ops.get_mut(i as usize) {
                            Some(op) => match op.branch_mut() {
                                Some(b) => b,
                                None => continue,
                            },
                            None => continue,
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
        O::BrIf { relative_depth } if fusion => {
            let (b, label) = branch(relative_depth, validator, labels)?;
            // Fused with the comparison before it, the `br_if` takes that comparison's index.
            let fused = fuse_br_if(&mut code.ops, b);
            let at = if fused { here - 1 } else { here };
            labels[label].pending.push(Pending::Op(at));
            if fused {
                return Ok(None);
            }
            Op::BrIf(b)
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
        // Plain instructions: one op each. Anything else belongs to a proposal the validator
        // has not enabled, so validation rejects it right after this; nothing to emit.
        _ => return Ok(plain(operator)),
    };
    Ok(Some(op))
}

/// Appends `op`, fused with the op before it when the pair is a common sequence (the sequences
/// the token's profile runs most: docs/performance.md), and the result again with the op before
/// that. Safe for branch targets: only plain (non-control) ops fuse, and a branch target is
/// always the index of a control op or of the first op after one, which keeps its index when
/// later ops fuse into it; every instruction of a fused op but its first follows a plain one,
/// so no branch lands inside. Ticks are unchanged: a fused op costs what its instructions cost,
/// and one with a side effect before its last instruction (`LocalGetI64StoreZero2`) charges
/// the later instructions' ticks after that effect, as they would run.
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
        (Some(Op::LocalGet(a)), Op::I64Const(c)) => Some(Op::LocalGetI64Const(a, c)),
        (Some(Op::LocalGetI64Const(a, c)), Op::I64Store(offset)) => {
            // Only constants that fit the fused op's 32 bits (sign-extended back).
            let short = c as i64 as i32;
            (i64::from(short) as u64 == c).then_some(Op::LocalGetI64StoreConst(a, short, offset))
        }
        (Some(Op::LocalGetI64StoreConst(a, 0, first)), Op::LocalGetI64StoreConst(b, 0, second))
            if a == b =>
        {
            Some(Op::LocalGetI64StoreZero2(a, first, second))
        }
        (Some(Op::LocalGet(a)), Op::I32Store(offset)) => Some(Op::LocalGetI32Store(a, offset)),
        (Some(Op::LocalGetI32AddConst(a, c)), Op::LocalSet(b)) => {
            Some(Op::LocalGetI32AddConstSet(a, c, b))
        }
        (Some(Op::GlobalGet(g)), Op::I32Const(c)) => Some(Op::GlobalGetI32Const(g, c)),
        (Some(Op::GlobalGetI32Const(g, c)), Op::I32Add) => Some(Op::GlobalGetI32AddConst(g, c)),
        (Some(Op::GlobalGetI32Const(g, c)), Op::I32Sub) => {
            Some(Op::GlobalGetI32AddConst(g, c.wrapping_neg()))
        }
        (Some(Op::GlobalGetI32AddConst(g, c)), Op::GlobalSet(h)) => {
            Some(Op::GlobalGetI32AddConstSet(g, c, h))
        }
        (Some(Op::GlobalGet(g)), Op::LocalGetI32Store(a, offset)) => {
            Some(Op::GlobalGetLocalGetI32Store(g, a, offset))
        }
        _ => None,
    };
    match fused {
        Some(fused) => {
            // The fused op may fuse again with the one before it.
            ops.pop();
            fuse(ops, fused);
        }
        None => ops.push(op),
    }
}

/// Fuses the comparison that ends `ops` (and a `local.get; i32.const` before an `i32.ge_u`) into
/// the `if` being compiled: returns the fused `if`'s index (it is already in place of the
/// comparison, its `else_target` still to patch) or `None` when the last op is no comparison
/// this fuses (then the `if` is an op of its own).
///
/// Safe for branch targets: a target is always the index of a control op or of the first op
/// after one (a label's `end` or `else`, a loop's `loop`, the function's final `end`). The `if`
/// here follows a plain comparison, so it is never a target itself: no branch can land between
/// the comparison and the `if`. A branch may land on the comparison, which is now the fused op
/// at the same index and runs both. The `if`'s own index (its label's `if_or_else`, patched at
/// `else`/`end`) is the comparison's index, which the caller records; everything after it is
/// compiled after the fusion, so its indices already count the fused op as one.
fn fuse_if(ops: &mut Vec<Op>) -> Option<u32> {
    let else_target = 0;
    let fused = match ops.last()? {
        Op::I32Eqz => Op::IfI32Eqz { else_target },
        Op::I32Eq => Op::IfI32Eq { else_target },
        Op::I32Ne => Op::IfI32Ne { else_target },
        Op::I32LtS => Op::IfI32LtS { else_target },
        Op::I32LtU => Op::IfI32LtU { else_target },
        Op::I32GtU => Op::IfI32GtU { else_target },
        Op::I32GeU => Op::IfI32GeU { else_target },
        _ => return None,
    };
    ops.pop();
    // `local.get; i32.const` before an `i32.ge_u`: plain ops too, so the same holds for them.
    let fused = match (ops.last().copied(), fused) {
        (Some(Op::LocalGetI32Const(local, constant)), Op::IfI32GeU { .. }) => {
            ops.pop();
            Op::IfLocalGeUConst {
                local,
                constant,
                else_target,
            }
        }
        _ => fused,
    };
    ops.push(fused);
    u32::try_from(ops.len() - 1).ok()
}

/// Fuses the comparison that ends `ops` into the `br_if` being compiled (its branch `b`, a
/// loop's target already set, a forward target patched at the label's `end` through the index
/// the caller records, the comparison's). True when fused. Safe for branch targets for the
/// reason [`fuse_if`] gives: the `br_if` follows a plain comparison, so nothing lands on it.
fn fuse_br_if(ops: &mut [Op], b: crate::op::Branch) -> bool {
    let Some(last) = ops.last_mut() else {
        return false;
    };
    *last = match *last {
        Op::I32Eqz => Op::BrIfI32Eqz(b),
        Op::I32Eq => Op::BrIfI32Eq(b),
        Op::I32Ne => Op::BrIfI32Ne(b),
        Op::I32LtS => Op::BrIfI32LtS(b),
        Op::I32LtU => Op::BrIfI32LtU(b),
        Op::I32GtS => Op::BrIfI32GtS(b),
        Op::I32LeU => Op::BrIfI32LeU(b),
        _ => return false,
    };
    true
}

#[cfg(test)]
mod tests {
    use crate::module::Module;
    use crate::op::Op;

    /// `tests/fused.wat` (run at every budget by `tests/ticks.rs`) contains every fused op.
    #[test]
    fn the_fused_program_compiles_to_every_fused_op() {
        let wasm = wat::parse_str(include_str!("../tests/fused.wat")).unwrap();
        let fused = Module::parse_with(&wasm, true).unwrap();
        let ops: Vec<Op> = fused.code.iter().flat_map(|c| c.ops.clone()).collect();
        let has = |f: fn(&Op) -> bool| ops.iter().any(f);
        assert!(has(|op| matches!(op, Op::LocalGet2(..))));
        assert!(has(|op| matches!(op, Op::LocalGetI32Const(..))));
        assert!(has(|op| matches!(op, Op::LocalGetI32AddConst(..))));
        assert!(has(|op| matches!(op, Op::I32AddConst(..))));
        assert!(has(|op| matches!(op, Op::LocalGetI64Const(..))));
        assert!(has(|op| matches!(op, Op::LocalGetI64StoreConst(_, -3, 0))));
        assert!(has(|op| matches!(op, Op::LocalGetI64StoreConst(_, 0, 8))));
        assert!(has(|op| matches!(op, Op::LocalGetI32Store(..))));
        assert!(has(|op| matches!(op, Op::LocalGetI64StoreZero2(_, 8, 32))));
        assert!(has(|op| matches!(op, Op::LocalGetI32AddConstSet(..))));
        assert!(has(|op| matches!(op, Op::IfI32Eqz { .. })));
        assert!(has(|op| matches!(op, Op::IfI32Eq { .. })));
        assert!(has(|op| matches!(op, Op::IfI32Ne { .. })));
        assert!(has(|op| matches!(op, Op::IfI32LtS { .. })));
        assert!(has(|op| matches!(op, Op::IfI32LtU { .. })));
        assert!(has(|op| matches!(op, Op::IfI32GtU { .. })));
        assert!(has(|op| matches!(op, Op::IfI32GeU { .. })));
        assert!(has(|op| matches!(op, Op::IfLocalGeUConst { .. })));
        assert!(has(|op| matches!(op, Op::GlobalGetI32Const(..))));
        assert!(has(|op| matches!(op, Op::GlobalGetI32AddConst(..))));
        assert!(has(|op| matches!(op, Op::GlobalGetI32AddConstSet(..))));
        assert!(has(|op| matches!(op, Op::GlobalGetLocalGetI32Store(..))));
        assert!(has(|op| matches!(op, Op::BrIfI32Eqz(..))));
        assert!(has(|op| matches!(op, Op::BrIfI32Eq(..))));
        assert!(has(|op| matches!(op, Op::BrIfI32Ne(..))));
        assert!(has(|op| matches!(op, Op::BrIfI32LtS(..))));
        assert!(has(|op| matches!(op, Op::BrIfI32LtU(..))));
        assert!(has(|op| matches!(op, Op::BrIfI32GtS(..))));
        assert!(has(|op| matches!(op, Op::BrIfI32LeU(..))));
        // The 64-bit constant is not fused into the store.
        assert!(has(|op| matches!(
            op,
            Op::LocalGetI64Const(_, 0x1_0000_0000)
        )));
        let unfused = Module::parse_with(&wasm, false).unwrap();
        let plain: usize = unfused.code.iter().map(|c| c.ops.len()).sum();
        assert!(ops.len() < plain);
    }
}
