//! Protobuf bytes straight to Koinos JSON text, driven by descriptors: the fast path of
//! [`Translator::decode_response`](super::translate::Translator::decode_response).
//!
//! The general path decodes a `DynamicMessage`, builds a `serde_json::Value` and prints it;
//! for a page of 50 blocks with receipts that was 3 ms of the gateway's CPU per request. This
//! walks the wire bytes once and writes the same text: the fields that `message_to_value`
//! renders (set fields: presence fields seen on the wire, other scalars when not default,
//! non-empty lists), in `serde_json::Map`'s key order, with the same scalar renderings.
//!
//! It handles what the Koinos services send: anything else (map fields, `Any`, floats,
//! groups, a non-repeated message field or two members of a oneof on the wire more than once,
//! a wire type that does not match the field) returns [`Unsupported`] and the caller takes the
//! general path, which is the reference: `tests` checks both give the same text.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::Write;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use koinos_protocol::json::BytesType;
use prost::encoding::decode_varint;
use prost_reflect::{Kind, MessageDescriptor};

/// The bytes are valid but this transcoder does not render them: use the general path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

type Result<T> = std::result::Result<T, Unsupported>;

/// Transcoding plans of the messages of one descriptor pool, built on first use.
#[derive(Debug, Default)]
pub struct Plans {
    by_name: RwLock<HashMap<String, Arc<Plan>>>,
}

impl Plans {
    /// Writes the Koinos JSON of the `desc` message encoded in `bytes` to `out`.
    pub fn message_to_json(
        &self,
        desc: &MessageDescriptor,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let plan = self
            .by_name
            .read()
            .expect("plans lock")
            .get(desc.full_name())
            .cloned();
        let plan = match plan {
            Some(plan) => plan,
            None => {
                let plan = Arc::new(build_plan(desc)?);
                self.by_name
                    .write()
                    .expect("plans lock")
                    .insert(desc.full_name().to_owned(), plan.clone());
                plan
            }
        };
        write_message(&plan, bytes, out)
    }
}

/// How one field is read and rendered.
#[derive(Debug)]
struct FieldPlan {
    number: u32,
    /// `"name":`, ready to write.
    key: Vec<u8>,
    kind: FieldKind,
    repeated: bool,
    /// Rendered when seen on the wire, even with a default value.
    presence: bool,
    /// Its (non-synthetic) oneof, named by the oneof's first field number.
    oneof: Option<u32>,
}

#[derive(Debug)]
enum FieldKind {
    Bool,
    Int32,
    Sint32,
    Uint32,
    Int64,
    Sint64,
    Uint64,
    Fixed32,
    Sfixed32,
    Fixed64,
    Sfixed64,
    String,
    Bytes(BytesType),
    Enum(HashMap<i32, String>),
    /// The message and its plan, built on first use (messages may be recursive).
    Message(MessageDescriptor, OnceLock<Arc<Plan>>),
}

/// A message's fields in output order, and where each field number is.
#[derive(Debug)]
pub struct Plan {
    fields: Vec<FieldPlan>,
    by_number: HashMap<u32, usize>,
}

/// Whether `serde_json::Map` iterates in key order (its default) or insertion order (the
/// `preserve_order` feature, which any crate in the build may turn on).
fn sorted_keys() -> bool {
    static SORTED: LazyLock<bool> = LazyLock::new(|| {
        let mut map = serde_json::Map::new();
        map.insert("b".into(), serde_json::Value::Null);
        map.insert("a".into(), serde_json::Value::Null);
        map.keys().next().is_some_and(|k| k == "a")
    });
    *SORTED
}

fn child_plan(desc: &MessageDescriptor, cell: &OnceLock<Arc<Plan>>) -> Result<Arc<Plan>> {
    if let Some(plan) = cell.get() {
        return Ok(plan.clone());
    }
    let plan = Arc::new(build_plan(desc)?);
    Ok(cell.get_or_init(|| plan).clone())
}

fn build_plan(desc: &MessageDescriptor) -> Result<Plan> {
    if desc.full_name() == "google.protobuf.Any" {
        return Err(Unsupported);
    }
    let mut fields = Vec::new();
    for field in desc.fields() {
        if field.is_map() || field.is_group() {
            return Err(Unsupported);
        }
        let kind = match field.kind() {
            Kind::Bool => FieldKind::Bool,
            Kind::Int32 => FieldKind::Int32,
            Kind::Sint32 => FieldKind::Sint32,
            Kind::Uint32 => FieldKind::Uint32,
            Kind::Int64 => FieldKind::Int64,
            Kind::Sint64 => FieldKind::Sint64,
            Kind::Uint64 => FieldKind::Uint64,
            Kind::Fixed32 => FieldKind::Fixed32,
            Kind::Sfixed32 => FieldKind::Sfixed32,
            Kind::Fixed64 => FieldKind::Fixed64,
            Kind::Sfixed64 => FieldKind::Sfixed64,
            Kind::String => FieldKind::String,
            Kind::Bytes => FieldKind::Bytes(BytesType::of_field(&field)),
            Kind::Enum(e) => FieldKind::Enum(
                e.values()
                    .map(|v| (v.number(), v.name().to_owned()))
                    .collect(),
            ),
            Kind::Message(m) => FieldKind::Message(m, OnceLock::new()),
            Kind::Float | Kind::Double => return Err(Unsupported),
        };
        let mut key = serde_json::to_vec(field.name()).map_err(|_| Unsupported)?;
        key.push(b':');
        let oneof = field
            .containing_oneof()
            .filter(|o| !o.is_synthetic())
            .and_then(|o| o.fields().next())
            .map(|f| f.number());
        fields.push(FieldPlan {
            number: field.number(),
            key,
            kind,
            repeated: field.is_list(),
            presence: field.supports_presence(),
            oneof,
        });
    }
    if sorted_keys() {
        fields.sort_by(|a, b| a.key.cmp(&b.key));
    }
    let by_number = fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.number, i))
        .collect();
    Ok(Plan { fields, by_number })
}

/// One field occurrence on the wire: its plan index, wire type and value bytes (the varint's,
/// the fixed bytes or the length-delimited payload).
struct Occurrence<'a> {
    field: usize,
    wire: u8,
    value: &'a [u8],
}

fn scan<'a>(plan: &Plan, mut buf: &'a [u8]) -> Result<Vec<Occurrence<'a>>> {
    let mut occurrences = Vec::new();
    while !buf.is_empty() {
        let key = decode_varint(&mut buf).map_err(|_| Unsupported)?;
        let number = u32::try_from(key >> 3).map_err(|_| Unsupported)?;
        // Field numbers are 1 to 2^29 - 1; a decoder rejects anything else.
        if number == 0 || number >= 1 << 29 {
            return Err(Unsupported);
        }
        let wire = (key & 7) as u8;
        let len = match wire {
            0 => {
                let rest = buf;
                decode_varint(&mut buf).map_err(|_| Unsupported)?;
                let value = &rest[..rest.len() - buf.len()];
                if let Some(&field) = plan.by_number.get(&number) {
                    occurrences.push(Occurrence { field, wire, value });
                }
                continue;
            }
            1 => 8,
            5 => 4,
            2 => usize::try_from(decode_varint(&mut buf).map_err(|_| Unsupported)?)
                .map_err(|_| Unsupported)?,
            _ => return Err(Unsupported),
        };
        if len > buf.len() {
            return Err(Unsupported);
        }
        let (value, rest) = buf.split_at(len);
        buf = rest;
        if let Some(&field) = plan.by_number.get(&number) {
            occurrences.push(Occurrence { field, wire, value });
        }
    }
    Ok(occurrences)
}

fn write_message(plan: &Plan, bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let mut occurrences = scan(plan, bytes)?;
    // Stable: each field's occurrences stay in wire order.
    occurrences.sort_by_key(|o| o.field);
    // A oneof with two members on the wire keeps the last one: not handled here.
    let mut oneofs_seen: Vec<u32> = Vec::new();
    out.push(b'{');
    let mut first = true;
    let mut rest = occurrences.as_slice();
    while let Some(head) = rest.first() {
        let count = rest.iter().take_while(|o| o.field == head.field).count();
        let (group, tail) = rest.split_at(count);
        rest = tail;
        let field = &plan.fields[head.field];
        if let Some(oneof) = field.oneof {
            if oneofs_seen.contains(&oneof) {
                return Err(Unsupported);
            }
            oneofs_seen.push(oneof);
        }
        let mark = out.len();
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(&field.key);
        let written = if field.repeated {
            write_list(field, group, out)?
        } else {
            write_single(field, group, out)?
        };
        if written {
            first = false;
        } else {
            out.truncate(mark);
        }
    }
    out.push(b'}');
    Ok(())
}

/// The elements of a repeated field, packed or not; false (nothing written) when empty.
fn write_list(field: &FieldPlan, group: &[Occurrence<'_>], out: &mut Vec<u8>) -> Result<bool> {
    out.push(b'[');
    let mut n = 0;
    for occurrence in group {
        let packable = !matches!(
            field.kind,
            FieldKind::String | FieldKind::Bytes(_) | FieldKind::Message(..)
        );
        if packable && occurrence.wire == 2 {
            let mut buf = occurrence.value;
            while !buf.is_empty() {
                let (wire, value) = match fixed_width(&field.kind) {
                    Some(width) if buf.len() >= width => {
                        let (value, tail) = buf.split_at(width);
                        buf = tail;
                        (if width == 8 { 1 } else { 5 }, value)
                    }
                    Some(_) => return Err(Unsupported),
                    None => {
                        let before = buf;
                        decode_varint(&mut buf).map_err(|_| Unsupported)?;
                        (0, &before[..before.len() - buf.len()])
                    }
                };
                if n > 0 {
                    out.push(b',');
                }
                write_value(field, wire, value, out)?;
                n += 1;
            }
        } else {
            if n > 0 {
                out.push(b',');
            }
            write_value(field, occurrence.wire, occurrence.value, out)?;
            n += 1;
        }
    }
    out.push(b']');
    Ok(n > 0)
}

/// A non-repeated field: the last occurrence wins (a message field seen twice would merge:
/// not handled). False when it is not rendered (a default value without presence).
fn write_single(field: &FieldPlan, group: &[Occurrence<'_>], out: &mut Vec<u8>) -> Result<bool> {
    let last = group.last().ok_or(Unsupported)?;
    if matches!(field.kind, FieldKind::Message(..)) && group.len() > 1 {
        return Err(Unsupported);
    }
    // Every occurrence must have the field's wire type, written or not.
    let wire = wire_type(&field.kind);
    if group.iter().any(|o| o.wire != wire) {
        return Err(Unsupported);
    }
    // A decoder checks every occurrence's UTF-8, not only the one kept.
    if matches!(field.kind, FieldKind::String)
        && group.iter().any(|o| std::str::from_utf8(o.value).is_err())
    {
        return Err(Unsupported);
    }
    if !field.presence && is_default(field, last)? {
        return Ok(false);
    }
    write_value(field, last.wire, last.value, out)?;
    Ok(true)
}

fn wire_type(kind: &FieldKind) -> u8 {
    match kind {
        FieldKind::String | FieldKind::Bytes(_) | FieldKind::Message(..) => 2,
        FieldKind::Fixed32 | FieldKind::Sfixed32 => 5,
        FieldKind::Fixed64 | FieldKind::Sfixed64 => 1,
        _ => 0,
    }
}

fn fixed_width(kind: &FieldKind) -> Option<usize> {
    match kind {
        FieldKind::Fixed32 | FieldKind::Sfixed32 => Some(4),
        FieldKind::Fixed64 | FieldKind::Sfixed64 => Some(8),
        _ => None,
    }
}

fn varint(value: &[u8]) -> Result<u64> {
    let mut buf = value;
    decode_varint(&mut buf).map_err(|_| Unsupported)
}

fn expect_wire(wire: u8, expected: u8) -> Result<()> {
    if wire == expected {
        Ok(())
    } else {
        Err(Unsupported)
    }
}

fn is_default(field: &FieldPlan, occurrence: &Occurrence<'_>) -> Result<bool> {
    Ok(match field.kind {
        FieldKind::String | FieldKind::Bytes(_) | FieldKind::Message(..) => {
            occurrence.value.is_empty()
        }
        FieldKind::Fixed32 | FieldKind::Sfixed32 | FieldKind::Fixed64 | FieldKind::Sfixed64 => {
            occurrence.value.iter().all(|&b| b == 0)
        }
        FieldKind::Int32 | FieldKind::Sint32 | FieldKind::Uint32 | FieldKind::Enum(_) => {
            // 32-bit fields keep the low 32 bits of the varint.
            varint(occurrence.value)? as u32 == 0
        }
        _ => varint(occurrence.value)? == 0,
    })
}

fn write_value(field: &FieldPlan, wire: u8, value: &[u8], out: &mut Vec<u8>) -> Result<()> {
    match &field.kind {
        FieldKind::Bool => {
            expect_wire(wire, 0)?;
            out.extend_from_slice(if varint(value)? != 0 {
                b"true"
            } else {
                b"false"
            });
        }
        FieldKind::Int32 => {
            expect_wire(wire, 0)?;
            plain(varint(value)? as i32, out);
        }
        FieldKind::Sint32 => {
            expect_wire(wire, 0)?;
            let v = varint(value)? as u32;
            let v = ((v >> 1) as i32) ^ -((v & 1) as i32);
            plain(v, out);
        }
        FieldKind::Uint32 => {
            expect_wire(wire, 0)?;
            plain(varint(value)? as u32, out);
        }
        FieldKind::Int64 => {
            expect_wire(wire, 0)?;
            quoted(varint(value)? as i64, out);
        }
        FieldKind::Sint64 => {
            expect_wire(wire, 0)?;
            let v = varint(value)?;
            quoted(((v >> 1) as i64) ^ -((v & 1) as i64), out);
        }
        FieldKind::Uint64 => {
            expect_wire(wire, 0)?;
            quoted(varint(value)?, out);
        }
        FieldKind::Fixed32 => {
            expect_wire(wire, 5)?;
            let v = u32::from_le_bytes(value.try_into().map_err(|_| Unsupported)?);
            plain(v, out);
        }
        FieldKind::Sfixed32 => {
            expect_wire(wire, 5)?;
            let v = i32::from_le_bytes(value.try_into().map_err(|_| Unsupported)?);
            plain(v, out);
        }
        FieldKind::Fixed64 => {
            expect_wire(wire, 1)?;
            let v = u64::from_le_bytes(value.try_into().map_err(|_| Unsupported)?);
            quoted(v, out);
        }
        FieldKind::Sfixed64 => {
            expect_wire(wire, 1)?;
            let v = i64::from_le_bytes(value.try_into().map_err(|_| Unsupported)?);
            quoted(v, out);
        }
        FieldKind::String => {
            expect_wire(wire, 2)?;
            let text = std::str::from_utf8(value).map_err(|_| Unsupported)?;
            serde_json::to_writer(&mut *out, text).map_err(|_| Unsupported)?;
        }
        FieldKind::Bytes(btype) => {
            expect_wire(wire, 2)?;
            // Every rendering is base64url, base58 or hex: nothing to escape.
            out.push(b'"');
            out.write_all(btype.encode(value).as_bytes())
                .map_err(|_| Unsupported)?;
            out.push(b'"');
        }
        FieldKind::Enum(names) => {
            expect_wire(wire, 0)?;
            let v = varint(value)? as i32;
            match names.get(&v) {
                Some(name) => serde_json::to_writer(&mut *out, name).map_err(|_| Unsupported)?,
                None => plain(v, out),
            }
        }
        FieldKind::Message(desc, cell) => {
            expect_wire(wire, 2)?;
            let child = child_plan(desc, cell)?;
            write_message(&child, value, out)?;
        }
    }
    Ok(())
}

fn plain(number: impl Display, out: &mut Vec<u8>) {
    let _ = write!(out, "{number}");
}

fn quoted(number: impl Display, out: &mut Vec<u8>) {
    let _ = write!(out, "\"{number}\"");
}

#[cfg(test)]
#[path = "transcode_tests.rs"]
mod tests;
