//! The MessagePack subset the official peer RPC speaks (see `PEER_RPC.md`): what ugorji's
//! `codec.MsgpackHandle{}` with its defaults writes, and a bounded reader of any MessagePack value.
//!
//! Writing follows the handle's defaults exactly: `WriteExt` is false, so strings *and* byte
//! slices are the legacy "raw" type (fixstr `0xa0|n` below 32 bytes, `0xda` + u16 below 64 KiB,
//! `0xdb` + u32 above; never `str8` `0xd9` nor `bin*`); a nil slice or pointer is `0xc0`;
//! unsigned integers take the smallest of positive fixint, `0xcc`, `0xcd`, `0xce`, `0xcf`;
//! structs are maps keyed by the Go field names, in declaration order.
//!
//! Reading accepts every MessagePack type (a peer built on a newer codec may send `str8` or
//! `bin*`), with bounds: a value's encoding may not exceed the caller's byte limit and nesting
//! is limited to [`MAX_DEPTH`]; malformed input is an error, never a panic.

use futures::io::{AsyncRead, AsyncReadExt};

/// Deepest nesting accepted (the peer RPC's deepest value is 3 levels).
pub const MAX_DEPTH: usize = 16;

/// A decoded MessagePack value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    /// Any integer that fits an `i64` (fixints, int*, and uint* up to `i64::MAX`).
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    BigUint(u64),
    Float(f64),
    /// str (fixstr, str8/16/32) or bin (bin8/16/32): the Go side decodes both into `[]byte` or
    /// `string` alike.
    Raw(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Ext(i8, Vec<u8>),
}

/// A decoding failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated msgpack value")]
    Truncated,
    #[error("msgpack value exceeds {0} bytes")]
    TooLarge(usize),
    #[error("msgpack nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("reserved msgpack byte 0xc1")]
    Reserved,
    #[error("{0} trailing bytes after the msgpack value")]
    Trailing(usize),
    #[error("{0}")]
    Shape(String),
    #[error("stream error: {0}")]
    Io(String),
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Appends MessagePack as ugorji's default `MsgpackHandle` writes it.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn nil(&mut self) {
        self.buf.push(0xc0);
    }

    /// A Go unsigned integer (`EncodeUint`).
    pub fn uint(&mut self, v: u64) {
        if v <= 0x7f {
            self.buf.push(v as u8);
        } else if v <= u64::from(u8::MAX) {
            self.buf.extend_from_slice(&[0xcc, v as u8]);
        } else if v <= u64::from(u16::MAX) {
            self.buf.push(0xcd);
            self.buf.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= u64::from(u32::MAX) {
            self.buf.push(0xce);
            self.buf.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            self.buf.push(0xcf);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A Go signed integer (`EncodeInt`, `PositiveIntUnsigned` false).
    pub fn int(&mut self, v: i64) {
        if v > i64::from(i8::MAX) {
            if v <= i64::from(i16::MAX) {
                self.buf.push(0xd1);
                self.buf.extend_from_slice(&(v as i16).to_be_bytes());
            } else if v <= i64::from(i32::MAX) {
                self.buf.push(0xd2);
                self.buf.extend_from_slice(&(v as i32).to_be_bytes());
            } else {
                self.buf.push(0xd3);
                self.buf.extend_from_slice(&v.to_be_bytes());
            }
        } else if v >= -32 {
            self.buf.push(v as u8);
        } else if v >= i64::from(i8::MIN) {
            self.buf.extend_from_slice(&[0xd0, v as u8]);
        } else if v >= i64::from(i16::MIN) {
            self.buf.push(0xd1);
            self.buf.extend_from_slice(&(v as i16).to_be_bytes());
        } else if v >= i64::from(i32::MIN) {
            self.buf.push(0xd2);
            self.buf.extend_from_slice(&(v as i32).to_be_bytes());
        } else {
            self.buf.push(0xd3);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// The legacy raw header: fixstr, else str16, else str32 (no str8).
    fn raw_len(&mut self, len: usize) {
        if len < 32 {
            self.buf.push(0xa0 | len as u8);
        } else if len < 65_536 {
            self.buf.push(0xda);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(0xdb);
            self.buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }

    /// A Go `string`.
    pub fn str(&mut self, s: &str) {
        self.raw_len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// A non-nil Go `[]byte` (also a `multihash.Multihash`).
    pub fn bytes(&mut self, b: &[u8]) {
        self.raw_len(b.len());
        self.buf.extend_from_slice(b);
    }

    /// A Go `[]byte` or `*multihash.Multihash` that may be nil.
    pub fn opt_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => self.bytes(b),
            None => self.nil(),
        }
    }

    pub fn array_len(&mut self, len: usize) {
        if len < 16 {
            self.buf.push(0x90 | len as u8);
        } else if len < 65_536 {
            self.buf.push(0xdc);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(0xdd);
            self.buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }

    pub fn map_len(&mut self, len: usize) {
        if len < 16 {
            self.buf.push(0x80 | len as u8);
        } else if len < 65_536 {
            self.buf.push(0xde);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(0xdf);
            self.buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// What follows a first byte: fixed payload bytes, a length prefix of raw bytes, or children.
enum Shape {
    /// The value is complete after `n` more bytes.
    Fixed(usize),
    /// A length of `n` bytes follows, then that many bytes (plus `extra`: the ext type byte).
    Sized { len_bytes: usize, extra: usize },
    /// A container whose length (`len_bytes` big-endian, or `inline`) counts `per` children each.
    Container {
        len_bytes: usize,
        inline: Option<usize>,
        per: usize,
    },
}

fn shape(marker: u8) -> Result<Shape, DecodeError> {
    Ok(match marker {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Shape::Fixed(0),
        0x80..=0x8f => Shape::Container {
            len_bytes: 0,
            inline: Some(usize::from(marker & 0x0f)),
            per: 2,
        },
        0x90..=0x9f => Shape::Container {
            len_bytes: 0,
            inline: Some(usize::from(marker & 0x0f)),
            per: 1,
        },
        0xa0..=0xbf => Shape::Fixed(usize::from(marker & 0x1f)),
        0xc1 => return Err(DecodeError::Reserved),
        0xc4 | 0xd9 => Shape::Sized {
            len_bytes: 1,
            extra: 0,
        },
        0xc5 | 0xda => Shape::Sized {
            len_bytes: 2,
            extra: 0,
        },
        0xc6 | 0xdb => Shape::Sized {
            len_bytes: 4,
            extra: 0,
        },
        0xc7 => Shape::Sized {
            len_bytes: 1,
            extra: 1,
        },
        0xc8 => Shape::Sized {
            len_bytes: 2,
            extra: 1,
        },
        0xc9 => Shape::Sized {
            len_bytes: 4,
            extra: 1,
        },
        0xca => Shape::Fixed(4),
        0xcb => Shape::Fixed(8),
        0xcc | 0xd0 => Shape::Fixed(1),
        0xcd | 0xd1 => Shape::Fixed(2),
        0xce | 0xd2 => Shape::Fixed(4),
        0xcf | 0xd3 => Shape::Fixed(8),
        0xd4 => Shape::Fixed(2),
        0xd5 => Shape::Fixed(3),
        0xd6 => Shape::Fixed(5),
        0xd7 => Shape::Fixed(9),
        0xd8 => Shape::Fixed(17),
        0xdc => Shape::Container {
            len_bytes: 2,
            inline: None,
            per: 1,
        },
        0xdd => Shape::Container {
            len_bytes: 4,
            inline: None,
            per: 1,
        },
        0xde => Shape::Container {
            len_bytes: 2,
            inline: None,
            per: 2,
        },
        0xdf => Shape::Container {
            len_bytes: 4,
            inline: None,
            per: 2,
        },
    })
}

fn be_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
}

/// Reads exactly one MessagePack value's bytes from a stream, reading nothing past it, and
/// refusing one whose encoding exceeds `limit` bytes or nests deeper than [`MAX_DEPTH`].
///
/// The official client and server never half-close before the peer has answered, so a value's
/// end is known only from its own encoding: this walks the headers as they arrive.
pub async fn read_value_bytes<R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    // Children still to read at each open level.
    let mut stack: Vec<usize> = vec![1];
    while let Some(top) = stack.last_mut() {
        if *top == 0 {
            stack.pop();
            continue;
        }
        *top -= 1;
        let marker = read_n(reader, &mut out, 1, limit).await?[0];
        match shape(marker)? {
            Shape::Fixed(n) => {
                read_n(reader, &mut out, n, limit).await?;
            }
            Shape::Sized { len_bytes, extra } => {
                let len = be_len(read_n(reader, &mut out, len_bytes, limit).await?);
                read_n(reader, &mut out, len.saturating_add(extra), limit).await?;
            }
            Shape::Container {
                len_bytes,
                inline,
                per,
            } => {
                let len = match inline {
                    Some(n) => n,
                    None => be_len(read_n(reader, &mut out, len_bytes, limit).await?),
                };
                let children = len.saturating_mul(per);
                // Every child takes at least one byte.
                if children > limit.saturating_sub(out.len()) {
                    return Err(DecodeError::TooLarge(limit));
                }
                if stack.len() > MAX_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                stack.push(children);
            }
        }
    }
    Ok(out)
}

async fn read_n<'a, R: AsyncRead + Unpin>(
    reader: &mut R,
    out: &'a mut Vec<u8>,
    n: usize,
    limit: usize,
) -> Result<&'a [u8], DecodeError> {
    if n > limit.saturating_sub(out.len()) {
        return Err(DecodeError::TooLarge(limit));
    }
    let start = out.len();
    out.resize(start + n, 0);
    reader.read_exact(&mut out[start..]).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            DecodeError::Truncated
        } else {
            DecodeError::Io(e.to_string())
        }
    })?;
    Ok(&out[start..])
}

/// Decodes exactly one value filling `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut cursor = Cursor { bytes, pos: 0 };
    let value = cursor.value(0)?;
    match bytes.len() - cursor.pos {
        0 => Ok(value),
        n => Err(DecodeError::Trailing(n)),
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() - self.pos {
            return Err(DecodeError::Truncated);
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let marker = self.take(1)?[0];
        let fixed = |b: &[u8]| -> u64 { b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)) };
        Ok(match marker {
            0x00..=0x7f => Value::Int(i64::from(marker)),
            0xe0..=0xff => Value::Int(i64::from(marker as i8)),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xa0..=0xbf => Value::Raw(self.take(usize::from(marker & 0x1f))?.to_vec()),
            0xc4 | 0xd9 | 0xc5 | 0xda | 0xc6 | 0xdb => {
                let len_bytes = match marker {
                    0xc4 | 0xd9 => 1,
                    0xc5 | 0xda => 2,
                    _ => 4,
                };
                let len = be_len(self.take(len_bytes)?);
                Value::Raw(self.take(len)?.to_vec())
            }
            0xca => Value::Float(f64::from(f32::from_bits(fixed(self.take(4)?) as u32))),
            0xcb => Value::Float(f64::from_bits(fixed(self.take(8)?))),
            0xcc => Value::Int(fixed(self.take(1)?) as i64),
            0xcd => Value::Int(fixed(self.take(2)?) as i64),
            0xce => Value::Int(fixed(self.take(4)?) as i64),
            0xcf => {
                let v = fixed(self.take(8)?);
                i64::try_from(v).map_or(Value::BigUint(v), Value::Int)
            }
            0xd0 => Value::Int(i64::from(self.take(1)?[0] as i8)),
            0xd1 => Value::Int(i64::from(fixed(self.take(2)?) as u16 as i16)),
            0xd2 => Value::Int(i64::from(fixed(self.take(4)?) as u32 as i32)),
            0xd3 => Value::Int(fixed(self.take(8)?) as i64),
            0xd4..=0xd8 => {
                let len = 1usize << (marker - 0xd4);
                let ty = self.take(1)?[0] as i8;
                Value::Ext(ty, self.take(len)?.to_vec())
            }
            0xc7..=0xc9 => {
                let len = be_len(self.take(1 << (marker - 0xc7))?);
                let ty = self.take(1)?[0] as i8;
                Value::Ext(ty, self.take(len)?.to_vec())
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let len = match marker {
                    0xdc => be_len(self.take(2)?),
                    0xdd => be_len(self.take(4)?),
                    _ => usize::from(marker & 0x0f),
                };
                if len > self.bytes.len() - self.pos {
                    return Err(DecodeError::Truncated);
                }
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let len = match marker {
                    0xde => be_len(self.take(2)?),
                    0xdf => be_len(self.take(4)?),
                    _ => usize::from(marker & 0x0f),
                };
                if len.saturating_mul(2) > self.bytes.len() - self.pos {
                    return Err(DecodeError::Truncated);
                }
                let mut entries = Vec::with_capacity(len);
                for _ in 0..len {
                    let key = self.value(depth + 1)?;
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                }
                Value::Map(entries)
            }
            0xc1 => return Err(DecodeError::Reserved),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Typed access, as ugorji decodes into a Go struct

impl Value {
    /// A struct's fields by Go name; nil decodes as the zero struct. Unknown fields are
    /// ignored, as ugorji does by default.
    pub fn fields(&self) -> Result<Fields<'_>, DecodeError> {
        match self {
            Value::Nil => Ok(Fields(&[])),
            Value::Map(entries) => Ok(Fields(entries)),
            other => Err(DecodeError::Shape(format!(
                "expected a struct (map), got {}",
                other.kind()
            ))),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigUint(_) => "integer",
            Value::Float(_) => "float",
            Value::Raw(_) => "raw bytes",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Ext(..) => "ext",
        }
    }

    /// A Go unsigned integer; nil is 0, a negative value is an error.
    pub fn as_u64(&self) -> Result<u64, DecodeError> {
        match self {
            Value::Nil => Ok(0),
            Value::Int(v) => u64::try_from(*v)
                .map_err(|_| DecodeError::Shape(format!("negative value {v} for an unsigned"))),
            Value::BigUint(v) => Ok(*v),
            other => Err(DecodeError::Shape(format!(
                "expected an integer, got {}",
                other.kind()
            ))),
        }
    }

    pub fn as_i64(&self) -> Result<i64, DecodeError> {
        match self {
            Value::Nil => Ok(0),
            Value::Int(v) => Ok(*v),
            other => Err(DecodeError::Shape(format!(
                "expected a signed integer, got {}",
                other.kind()
            ))),
        }
    }

    /// A Go `[]byte`: nil stays `None`.
    pub fn as_opt_bytes(&self) -> Result<Option<Vec<u8>>, DecodeError> {
        match self {
            Value::Nil => Ok(None),
            Value::Raw(b) => Ok(Some(b.clone())),
            other => Err(DecodeError::Shape(format!(
                "expected bytes, got {}",
                other.kind()
            ))),
        }
    }

    pub fn as_bytes(&self) -> Result<Vec<u8>, DecodeError> {
        Ok(self.as_opt_bytes()?.unwrap_or_default())
    }

    pub fn as_string(&self) -> Result<String, DecodeError> {
        String::from_utf8(self.as_bytes()?)
            .map_err(|_| DecodeError::Shape("string is not UTF-8".into()))
    }
}

/// The entries of a decoded struct.
pub struct Fields<'a>(&'a [(Value, Value)]);

impl Fields<'_> {
    /// The field named `name` (nil when absent, the zero value).
    pub fn get(&self, name: &str) -> &Value {
        self.0
            .iter()
            .find(|(k, _)| matches!(k, Value::Raw(b) if b == name.as_bytes()))
            .map_or(&Value::Nil, |(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        f(&mut w);
        w.into_bytes()
    }

    #[test]
    fn raw_lengths_follow_the_legacy_spec() {
        assert_eq!(enc(|w| w.bytes(&[])), [0xa0]);
        assert_eq!(enc(|w| w.bytes(&[7; 31]))[0], 0xbf);
        // 32..255 bytes: str16, never str8 (0xd9) or bin8 (0xc4)
        assert_eq!(enc(|w| w.bytes(&[7; 34]))[..3], [0xda, 0x00, 0x22]);
        assert_eq!(enc(|w| w.bytes(&[7; 255]))[..3], [0xda, 0x00, 0xff]);
        assert_eq!(enc(|w| w.bytes(&[7; 65_536]))[..5], [0xdb, 0, 1, 0, 0]);
        assert_eq!(enc(|w| w.opt_bytes(None)), [0xc0]);
    }

    #[test]
    fn integers_take_the_smallest_go_form() {
        assert_eq!(enc(|w| w.uint(0)), [0x00]);
        assert_eq!(enc(|w| w.uint(127)), [0x7f]);
        assert_eq!(enc(|w| w.uint(128)), [0xcc, 0x80]);
        assert_eq!(enc(|w| w.uint(500)), [0xcd, 0x01, 0xf4]);
        assert_eq!(enc(|w| w.uint(70_000)), [0xce, 0x00, 0x01, 0x11, 0x70]);
        assert_eq!(enc(|w| w.uint(1 << 40))[0], 0xcf);
        assert_eq!(enc(|w| w.int(1)), [0x01]);
        assert_eq!(enc(|w| w.int(-1)), [0xff]);
        assert_eq!(enc(|w| w.int(200)), [0xd1, 0x00, 0xc8]);
        assert_eq!(enc(|w| w.int(-100)), [0xd0, 0x9c]);
    }

    #[test]
    fn decodes_every_string_and_integer_form() {
        for bytes in [
            vec![0xa3, b'a', b'b', b'c'],
            vec![0xd9, 3, b'a', b'b', b'c'],
            vec![0xda, 0, 3, b'a', b'b', b'c'],
            vec![0xc4, 3, b'a', b'b', b'c'],
            vec![0xc6, 0, 0, 0, 3, b'a', b'b', b'c'],
        ] {
            assert_eq!(decode(&bytes).unwrap(), Value::Raw(b"abc".to_vec()));
        }
        assert_eq!(decode(&[0xcd, 1, 0xf4]).unwrap().as_u64().unwrap(), 500);
        assert_eq!(decode(&[0xd1, 1, 0xf4]).unwrap().as_u64().unwrap(), 500);
        assert!(decode(&[0xff]).unwrap().as_u64().is_err());
        assert_eq!(
            decode(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
            Value::BigUint(u64::MAX)
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(decode(&[]), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0xc1]), Err(DecodeError::Reserved));
        assert_eq!(decode(&[0xa5, 1]), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0xc0, 0xc0]), Err(DecodeError::Trailing(1)));
        // a huge declared array over a short buffer
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Truncated)
        );
        let deep = [vec![0x91; 40], vec![0xc0]].concat();
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep));
    }

    #[tokio::test]
    async fn stream_reading_stops_at_the_value_end() {
        // map{"A": [1, "xy"]} then a second value
        let first = [0x81, 0xa1, b'A', 0x92, 0x01, 0xa2, b'x', b'y'];
        let stream = [&first[..], &[0xc0]].concat();
        let mut reader = futures::io::Cursor::new(stream);
        let got = read_value_bytes(&mut reader, 1024).await.unwrap();
        assert_eq!(got, first);
        assert_eq!(read_value_bytes(&mut reader, 1024).await.unwrap(), [0xc0]);
        assert_eq!(
            read_value_bytes(&mut reader, 1024).await,
            Err(DecodeError::Truncated)
        );
    }

    #[tokio::test]
    async fn stream_reading_is_bounded() {
        let big = enc(|w| w.bytes(&[1; 1000]));
        let mut reader = futures::io::Cursor::new(big);
        assert_eq!(
            read_value_bytes(&mut reader, 100).await,
            Err(DecodeError::TooLarge(100))
        );
        // an array claiming 2^32-1 children is refused before reading them
        let mut reader = futures::io::Cursor::new(vec![0xdd, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            read_value_bytes(&mut reader, 1 << 20).await,
            Err(DecodeError::TooLarge(1 << 20))
        );
        let mut reader = futures::io::Cursor::new([vec![0x91; 40], vec![0xc0]].concat());
        assert_eq!(
            read_value_bytes(&mut reader, 1024).await,
            Err(DecodeError::TooDeep)
        );
    }
}
