//! The object system calls: `put_object`, `remove_object`, `get_object`, `get_next_object`,
//! `get_prev_object`, with the zone and privilege rules and the serialization cost.

use koinos_protocol::chain::{
    DatabaseObject, GetObjectArguments, GetObjectResult, ObjectSpace, Privilege,
    PutObjectArguments, RemoveObjectArguments,
};

use super::super::context::{ApplyContext, Mode};
use super::super::error::{ChainError, ChainResult, code};
use super::super::state::{space_range, split_state_key, state_key};
use super::thunks::{caller, ok, privilege, read_only};

/// A contract's own zone, or (kernel contracts) system spaces.
fn assert_permissions(ctx: &ApplyContext<'_>, space: &ObjectSpace) -> ChainResult<()> {
    if space.zone == caller(ctx) {
        return Ok(());
    }
    match privilege(ctx) {
        Privilege::KernelMode if space.system => Ok(()),
        Privilege::KernelMode => Err(ChainError::new(
            code::REVERSION,
            "privileged code can only accessed system space",
        )),
        Privilege::UserMode => Err(ChainError::new(
            code::REVERSION,
            "contract attempted access of non-contract database space",
        )),
    }
}

pub(super) fn put_object(
    ctx: &mut ApplyContext<'_>,
    args: PutObjectArguments,
) -> ChainResult<Vec<u8>> {
    if ctx.mode == Mode::ReadOnly {
        return Err(read_only("cannot put object during read only call"));
    }
    let cost = ctx.params.compute_cost("object_serialization_per_byte")? * args.obj.len() as u64;
    ctx.use_compute(cost)?;
    let space = args.space.unwrap_or_default();
    assert_permissions(ctx, &space)?;
    ctx.put(state_key(&space, &args.key), args.obj)?;
    Ok(Vec::new())
}

pub(super) enum Direction {
    Exact,
    Next,
    Prev,
}

pub(super) fn get_object(
    ctx: &mut ApplyContext<'_>,
    args: GetObjectArguments,
    direction: Direction,
) -> ChainResult<Vec<u8>> {
    let space = args.space.unwrap_or_default();
    assert_permissions(ctx, &space)?;
    let found = match direction {
        Direction::Exact => ctx
            .session
            .get(&state_key(&space, &args.key))?
            .map(|value| (Vec::new(), value)),
        Direction::Next | Direction::Prev => {
            // State keys order by length first (the key is length-prefixed), so the space's
            // objects are ordered by their own keys here.
            let (start, end) = space_range(&space);
            let mut objects: Vec<(Vec<u8>, Vec<u8>)> = ctx
                .session
                .range(&start, &end)?
                .into_iter()
                .filter_map(|(k, v)| split_state_key(&k).map(|(_, key)| (key, v)))
                .collect();
            objects.sort();
            match direction {
                Direction::Next => objects.into_iter().find(|(k, _)| *k > args.key),
                _ => objects.into_iter().rev().find(|(k, _)| *k < args.key),
            }
        }
    };
    let value = match found {
        Some((key, value)) => {
            let cost =
                ctx.params.compute_cost("object_serialization_per_byte")? * value.len() as u64;
            ctx.use_compute(cost)?;
            Some(DatabaseObject {
                exists: true,
                value,
                key,
            })
        }
        None => None,
    };
    ok(GetObjectResult { value })
}

pub(super) fn remove_object(
    ctx: &mut ApplyContext<'_>,
    args: RemoveObjectArguments,
) -> ChainResult<Vec<u8>> {
    if ctx.mode == Mode::ReadOnly {
        return Err(read_only("cannot remove object during read only call"));
    }
    let space = args.space.unwrap_or_default();
    assert_permissions(ctx, &space)?;
    ctx.remove(state_key(&space, &args.key))?;
    Ok(Vec::new())
}
