use std::fmt;

/// The bytecode is not a WebAssembly 1.0 module this VM accepts (malformed, invalid, or using a
/// feature the official VM does not have).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

impl From<wasmparser::BinaryReaderError> for ParseError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Self::new(e.to_string())
    }
}

/// The module parsed but cannot be instantiated here: an import other than the two host
/// functions, memory above the page limit, a data or element segment out of bounds, no
/// `_start` export, or a trapping start function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstantiateError {
    pub message: String,
}

impl InstantiateError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for InstantiateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InstantiateError {}

/// Why execution stopped abnormally. The official VM reports all of these as one "trap"; the
/// kind is for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// `unreachable` executed.
    Unreachable,
    /// The tick budget ran out (the remaining ticks are negative).
    OutOfTicks,
    /// A load or store outside memory.
    MemoryOutOfBounds,
    /// Integer division by zero, or the overflowing signed division.
    IntegerDivision,
    /// A float instruction executed: the official VM runs with floats disabled.
    FloatDisabled,
    /// `call_indirect` to an index outside the table, an empty slot or another signature.
    IndirectCall,
    /// Calls nested past the call-depth limit.
    CallDepth,
    /// The value stack reached its size limit (locals of deeply nested calls).
    StackExhausted,
    /// The function called from outside takes parameters (an entry point takes none).
    EntryParameters,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trap::Unreachable => "unreachable executed",
            Trap::OutOfTicks => "out of ticks",
            Trap::MemoryOutOfBounds => "memory access out of bounds",
            Trap::IntegerDivision => "integer division by zero or overflow",
            Trap::FloatDisabled => "float instruction (floats are disabled)",
            Trap::IndirectCall => "indirect call to a missing or mistyped function",
            Trap::CallDepth => "call depth exceeded",
            Trap::StackExhausted => "value stack exhausted",
            Trap::EntryParameters => "the entry function takes parameters",
        })
    }
}

/// How a run ended when it did not return normally.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit<E> {
    Trap(Trap),
    /// A host function failed; its error ends the run as it is.
    Host(E),
}

impl<E: fmt::Display> fmt::Display for Exit<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Trap(t) => write!(f, "trap: {t}"),
            Exit::Host(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Exit<E> {}
