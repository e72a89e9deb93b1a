//! Parsing: wasmparser decodes and validates (WebAssembly 1.0 only, as the official VM), and
//! each function body is compiled to [`Op`](crate::op::Op)s on the way.

use wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, Operator, Parser, Payload,
    TypeRef, ValType, ValidPayload, Validator, WasmFeatures,
};

use crate::compile::{Code, compile};
use crate::error::ParseError;

/// A function signature, compared structurally by `call_indirect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Signature {
    pub params: u32,
    pub results: u32,
    /// Types, for the structural comparison.
    pub kinds: Vec<ValType>,
}

/// An imported function, identified by its name in module `env`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Import {
    pub module: String,
    pub name: String,
    pub signature: u32,
}

/// A constant initializer (globals, segment offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Init {
    Const(u64),
    Global(u32),
}

#[derive(Clone, Debug)]
pub(crate) struct Segment<T> {
    pub offset: Init,
    pub items: T,
}

/// A parsed, validated and compiled module, ready to instantiate any number of times.
#[derive(Debug, Default)]
pub struct Module {
    pub(crate) signatures: Vec<Signature>,
    pub(crate) imports: Vec<Import>,
    /// Signature index of every function, imports first.
    pub(crate) functions: Vec<u32>,
    /// Bodies of the defined (non-imported) functions.
    pub(crate) code: Vec<Code>,
    /// (min, max) in elements.
    pub(crate) table: Option<(u64, Option<u64>)>,
    /// (min, max) in 64 KiB pages.
    pub(crate) memory: Option<(u64, Option<u64>)>,
    pub(crate) globals: Vec<Init>,
    pub(crate) global_imports: u32,
    pub(crate) data: Vec<Segment<Vec<u8>>>,
    pub(crate) elements: Vec<Segment<Vec<u32>>>,
    pub(crate) start_section: Option<u32>,
    pub(crate) exports: Vec<(String, u32)>,
}

impl Module {
    /// Decodes, validates and compiles `bytecode`.
    pub fn parse(bytecode: &[u8]) -> Result<Module, ParseError> {
        Self::parse_with(bytecode, true)
    }

    /// [`Module::parse`] with or without fused instructions (the differential tests run both:
    /// the same results and the same ticks).
    #[doc(hidden)]
    pub fn parse_with(bytecode: &[u8], fusion: bool) -> Result<Module, ParseError> {
        let mut features = WasmFeatures::WASM1;
        // The official VM accepts float *types* (and traps on float instructions), so floats
        // stay enabled for validation.
        features.insert(WasmFeatures::FLOATS);
        let mut validator = Validator::new_with_features(features);
        let mut module = Module::default();
        for payload in Parser::new(0).parse_all(bytecode) {
            let payload = payload?;
            match validator.payload(&payload)? {
                ValidPayload::Func(to_validate, body) => {
                    let func = to_validate.into_validator(Default::default());
                    module.code.push(compile(func, &body, fusion)?);
                }
                ValidPayload::Ok | ValidPayload::End(_) => {}
                ValidPayload::Parser(_) => return Err(ParseError::new("nested modules")),
            }
            module.read_section(payload)?;
        }
        Ok(module)
    }

    fn read_section(&mut self, payload: Payload<'_>) -> Result<(), ParseError> {
        match payload {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty?;
                    let kinds: Vec<ValType> =
                        ty.params().iter().chain(ty.results()).copied().collect();
                    self.signatures.push(Signature {
                        params: count(ty.params().len()),
                        results: count(ty.results().len()),
                        kinds,
                    });
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    match import.ty {
                        TypeRef::Func(signature) | TypeRef::FuncExact(signature) => {
                            self.functions.push(signature);
                            self.imports.push(Import {
                                module: import.module.to_owned(),
                                name: import.name.to_owned(),
                                signature,
                            });
                        }
                        TypeRef::Global(_) => self.global_imports += 1,
                        // Imported tables and memories cannot be resolved: instantiation
                        // refuses any import but the two host functions.
                        _ => self.imports.push(Import {
                            module: import.module.to_owned(),
                            name: import.name.to_owned(),
                            signature: u32::MAX,
                        }),
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for signature in reader {
                    self.functions.push(signature?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let ty = table?.ty;
                    self.table = Some((ty.initial, ty.maximum));
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let ty = memory?;
                    self.memory = Some((ty.initial, ty.maximum));
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    self.globals.push(init(&global?.init_expr)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == ExternalKind::Func {
                        self.exports.push((export.name.to_owned(), export.index));
                    }
                }
            }
            Payload::StartSection { func, .. } => self.start_section = Some(func),
            Payload::ElementSection(reader) => {
                for element in reader {
                    let element = element?;
                    let ElementKind::Active { offset_expr, .. } = element.kind else {
                        continue;
                    };
                    let ElementItems::Functions(functions) = element.items else {
                        return Err(ParseError::new("element expressions are not supported"));
                    };
                    let items = functions.into_iter().collect::<Result<Vec<u32>, _>>()?;
                    self.elements.push(Segment {
                        offset: init(&offset_expr)?,
                        items,
                    });
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    if let DataKind::Active { offset_expr, .. } = data.kind {
                        self.data.push(Segment {
                            offset: init(&offset_expr)?,
                            items: data.data.to_vec(),
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The index of the exported function `name`.
    pub fn exported_function(&self, name: &str) -> Option<u32> {
        self.exports
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, index)| index)
    }

    pub(crate) fn signature_of(&self, function: u32) -> &Signature {
        &self.signatures[self.functions[function as usize] as usize]
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A validated 1.0 constant expression: one `*.const` or `global.get`, then `end`.
fn init(expr: &ConstExpr<'_>) -> Result<Init, ParseError> {
    let mut reader = expr.get_operators_reader();
    let value = match reader.read()? {
        Operator::I32Const { value } => Init::Const(u64::from(value as u32)),
        Operator::I64Const { value } => Init::Const(value as u64),
        Operator::F32Const { value } => Init::Const(u64::from(value.bits())),
        Operator::F64Const { value } => Init::Const(value.bits()),
        Operator::GlobalGet { global_index } => Init::Global(global_index),
        other => {
            return Err(ParseError::new(format!(
                "unsupported constant expression {other:?}"
            )));
        }
    };
    Ok(value)
}
