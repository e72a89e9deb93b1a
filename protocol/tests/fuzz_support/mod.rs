//! A seeded mutation harness on `rand` for the decoders that face the outside (the fuzz_*
//! targets of protocol/tests and services/tests include this file).
//!
//! Deterministic: every target derives its generator from `FUZZ_SEED` (default fixed) and its own
//! name. Bounded: `cargo test` runs each target's default number of cases (seconds);
//! `FUZZ_CASES=100000` runs that many instead. Panics are counted by a panic hook, so a panic
//! caught inside the code under test (e.g. `koinos-mq`'s `catch_unwind` around handlers) is
//! still a failure; the inputs that caused one are printed in hex.

#![allow(dead_code)] // each target uses a different part

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// Targets of one test binary run one at a time, so that a panic is counted by its own.
static SERIAL: Mutex<()> = Mutex::new(());
static HOOK: std::sync::Once = std::sync::Once::new();

/// Cases to run: `FUZZ_CASES` if set, else `default`.
pub fn cases(default: usize) -> usize {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `FUZZ_SEED` if set, else a fixed seed.
pub fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6b6f_696e_6f73)
}

/// Counts every panic (caught or not) from now on; the default hook still prints it.
fn install_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// Panics seen so far in this process.
pub fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// Files of `dir` (sorted), for the committed seed corpus.
pub fn corpus(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// One fuzz target's run: its generator, case counts and the inputs that panicked.
pub struct Fuzz {
    pub name: String,
    pub rng: StdRng,
    pub cases: usize,
    pub errors: usize,
    pub accepted: usize,
    crashes: Mutex<Vec<String>>,
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// What a case did with its input.
pub enum Outcome {
    /// Refused with an error (the expected outcome of hostile input).
    Error,
    /// Accepted (decoded, answered without error).
    Accepted,
}

impl Fuzz {
    pub fn new(name: &str) -> Self {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        install_hook();
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        Self {
            name: name.to_owned(),
            rng: StdRng::seed_from_u64(seed() ^ hasher.finish()),
            cases: 0,
            errors: 0,
            accepted: 0,
            crashes: Mutex::new(Vec::new()),
            _serial: serial,
        }
    }

    /// Runs one case: `run` must not panic (a panic it catches itself counts too).
    pub fn case(&mut self, input: &[u8], run: impl FnOnce() -> Outcome) {
        let before = panics();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
        self.record(input, before, outcome.ok());
    }

    /// [`Fuzz::case`] for async code.
    pub async fn case_async<F: std::future::Future<Output = Outcome>>(
        &mut self,
        input: &[u8],
        run: F,
    ) {
        let before = panics();
        let outcome = CatchUnwind(Box::pin(run)).await;
        self.record(input, before, outcome);
    }

    fn record(&mut self, input: &[u8], before: usize, outcome: Option<Outcome>) {
        self.cases += 1;
        match outcome {
            Some(Outcome::Error) => self.errors += 1,
            Some(Outcome::Accepted) => self.accepted += 1,
            None => {}
        }
        if panics() != before || outcome_is_none(&outcome) {
            let shown = &input[..input.len().min(512)];
            self.crashes
                .lock()
                .unwrap()
                .push(format!("{} bytes: {}", input.len(), hex(shown)));
        }
    }

    /// Prints the figures and fails on any crash.
    pub fn finish(self) {
        let crashes = self.crashes.into_inner().unwrap();
        println!(
            "fuzz {}: {} inputs, {} refused, {} accepted, {} crashes (seed {:#x})",
            self.name,
            self.cases,
            self.errors,
            self.accepted,
            crashes.len(),
            seed()
        );
        assert!(
            crashes.is_empty(),
            "{}: {} inputs panicked:\n{}",
            self.name,
            crashes.len(),
            crashes.join("\n")
        );
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// Random bytes, mostly short.
    pub fn random_bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.rng.random()).collect()
    }

    /// 1–4 byte-level mutations of `input`: bit flips, interesting bytes and varints,
    /// insertions, deletions, duplications, truncation, a `dictionary` token spliced in.
    pub fn mutate_bytes(&mut self, input: &[u8], dictionary: &[&[u8]]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(9) {
                0 if !out.is_empty() => {
                    let at = at.min(out.len() - 1);
                    out[at] ^= 1 << self.below(8);
                }
                1 if !out.is_empty() => {
                    let at = at.min(out.len() - 1);
                    out[at] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x22][self.below(8)];
                }
                2 => {
                    let bytes = self.random_bytes(16);
                    out.splice(at..at, bytes);
                }
                3 if !out.is_empty() => {
                    let end = (at + 1 + self.below(32)).min(out.len());
                    out.drain(at.min(end)..end);
                }
                4 if !out.is_empty() => {
                    let start = self.below(out.len());
                    let end = (start + 1 + self.below(64)).min(out.len());
                    let copy = out[start..end].to_vec();
                    out.splice(at..at, copy);
                }
                5 => out.truncate(at),
                6 if !dictionary.is_empty() => {
                    let token = dictionary[self.below(dictionary.len())].to_vec();
                    out.splice(at..at, token);
                }
                7 => {
                    // A huge or negative varint: lengths and counts that lie.
                    let values: [u64; 5] = [u64::MAX, 1 << 31, 1 << 32, 0x7fff_ffff, 1 << 63];
                    let mut varint = Vec::new();
                    prost::encoding::encode_varint(values[self.below(5)], &mut varint);
                    out.splice(at..at, varint);
                }
                _ if !out.is_empty() => {
                    let at = at.min(out.len() - 1);
                    out[at] = self.rng.random();
                }
                _ => out.push(self.rng.random()),
            }
        }
        out
    }

    /// A JSON value chosen to break decoders: wrong types, edge numbers, odd strings, nesting.
    pub fn hostile_value(&mut self) -> Value {
        match self.below(20) {
            0 => Value::Null,
            1 => json!(true),
            2 => json!(-1),
            3 => json!(u64::MAX),
            4 => json!("18446744073709551616"),
            5 => json!("-9223372036854775809"),
            6 => json!(1.5e300),
            7 => json!(""),
            8 => json!("0x"),
            9 => json!("0x1220zz"),
            10 => json!("=="),
            11 => json!("\u{0}\u{ffff}"),
            12 => json!([]),
            13 => json!({}),
            14 => json!([1, "a", null]),
            15 => {
                let depth = 1 + self.below(200);
                let mut v = json!(1);
                for _ in 0..depth {
                    v = json!([v]);
                }
                v
            }
            16 => json!({"@type": "type.googleapis.com/koinos.protocol.block"}),
            17 => Value::String("A".repeat(self.below(5000))),
            18 => json!(self.rng.random::<i64>()),
            _ => json!(hex_string(&self.random_bytes(40))),
        }
    }

    /// One structural mutation of a JSON document: a node replaced by a hostile value,
    /// removed, or given an extra key (a known field name from `names` or garbage).
    pub fn mutate_json(&mut self, value: &Value, names: &[&str]) -> Value {
        let mut out = value.clone();
        for _ in 0..1 + self.below(3) {
            let paths = paths_of(&out);
            let path = paths[self.below(paths.len())].clone();
            let replacement = self.hostile_value();
            let action = self.below(4);
            let extra = if !names.is_empty() && self.chance(0.7) {
                names[self.below(names.len())].to_owned()
            } else {
                hex_string(&self.random_bytes(4))
            };
            let node = node_at(&mut out, &path);
            match (action, node) {
                (0, Value::Object(map)) => {
                    map.insert(extra, replacement);
                }
                (1, Value::Object(map)) if !map.is_empty() => {
                    let key = map.keys().next().cloned().unwrap();
                    map.remove(&key);
                }
                (2, Value::Array(items)) => items.push(replacement),
                (_, node) => *node = replacement,
            }
        }
        out
    }
}

/// Polls a future inside `catch_unwind` (no `futures` dependency in protocol's tests).
struct CatchUnwind<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for CatchUnwind<F> {
    type Output = Option<F::Output>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(out)) => std::task::Poll::Ready(Some(out)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(None),
        }
    }
}

fn outcome_is_none(outcome: &Option<Outcome>) -> bool {
    outcome.is_none()
}

/// Paths (keys and indices) of every node of `value`, the root first.
fn paths_of(value: &Value) -> Vec<Vec<Step>> {
    let mut out = vec![Vec::new()];
    fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    path.push(Step::Key(key.clone()));
                    out.push(path.clone());
                    walk(item, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    out.push(path.clone());
                    walk(item, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    walk(value, &mut Vec::new(), &mut out);
    out
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn node_at<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    let mut node = value;
    for step in path {
        node = match step {
            Step::Key(key) => node.as_object_mut().and_then(|m| m.get_mut(key)).unwrap(),
            Step::Index(i) => node.as_array_mut().and_then(|a| a.get_mut(*i)).unwrap(),
        };
    }
    node
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_string(bytes: &[u8]) -> String {
    format!("0x{}", hex(bytes))
}

/// Field names of a JSON document (mutations add known keys, which reach deeper code).
pub fn names_of(value: &Value) -> Vec<String> {
    let mut names = Vec::new();
    fn walk(value: &Value, names: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    if !names.contains(key) {
                        names.push(key.clone());
                    }
                    walk(item, names);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, names)),
            _ => {}
        }
    }
    walk(value, &mut names);
    names
}
