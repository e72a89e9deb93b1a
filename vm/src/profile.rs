//! Dynamic instruction profile (the `profile` feature only; without it nothing here is
//! compiled): how often each op ran, and each pair of ops that ran one after the other in
//! sequence (the second at the index after the first in the same function, so not across a
//! taken branch, a call or a return: the pairs a compile-time fusion could merge).

use std::cell::RefCell;
use std::collections::HashMap;

use crate::op::Op;

#[derive(Default)]
struct State {
    last: Option<(usize, usize, &'static str)>,
    /// The op before `last`, when it ran just before it in sequence.
    before_last: Option<&'static str>,
    ops: HashMap<&'static str, u64>,
    pairs: HashMap<(&'static str, &'static str), u64>,
    triples: HashMap<(&'static str, &'static str, &'static str), u64>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Counts so far on this thread, most frequent first.
#[derive(Debug, Default)]
pub struct Profile {
    pub ops: Vec<(&'static str, u64)>,
    pub pairs: Vec<((&'static str, &'static str), u64)>,
    pub triples: Vec<((&'static str, &'static str, &'static str), u64)>,
}

/// Takes (and clears) this thread's counts.
pub fn take() -> Profile {
    STATE.with(|s| {
        let state = std::mem::take(&mut *s.borrow_mut());
        let mut ops: Vec<_> = state.ops.into_iter().collect();
        ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut pairs: Vec<_> = state.pairs.into_iter().collect();
        pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut triples: Vec<_> = state.triples.into_iter().collect();
        triples.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Profile {
            ops,
            pairs,
            triples,
        }
    })
}

fn name(op: &Op) -> &'static str {
    // The variant's name: its Debug text up to the first field.
    let text = format!("{op:?}");
    let end = text.find(['(', ' ', '{']).unwrap_or(text.len());
    Box::leak(text[..end].to_owned().into_boxed_str())
}

thread_local! {
    static NAMES: RefCell<HashMap<String, &'static str>> = RefCell::new(HashMap::new());
}

fn interned(op: &Op) -> &'static str {
    let text = format!("{op:?}");
    let key = text[..text.find(['(', ' ', '{']).unwrap_or(text.len())].to_owned();
    NAMES.with(|n| *n.borrow_mut().entry(key).or_insert_with(|| name(op)))
}

/// Op `pc` of function `code` is about to run.
pub(crate) fn record(code: usize, pc: usize, op: &Op) {
    let name = interned(op);
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        *s.ops.entry(name).or_default() += 1;
        let mut before = None;
        if let Some((c, p, previous)) = s.last
            && c == code
            && p + 1 == pc
        {
            *s.pairs.entry((previous, name)).or_default() += 1;
            if let Some(first) = s.before_last {
                *s.triples.entry((first, previous, name)).or_default() += 1;
            }
            before = Some(previous);
        }
        s.before_last = before;
        s.last = Some((code, pc, name));
    });
}
