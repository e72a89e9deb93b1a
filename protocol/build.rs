//! Compiles `proto/**/*.proto` with protox (pure Rust, no system `protoc`) and prost-build, and
//! writes the encoded FileDescriptorSet (custom options such as `koinos.btype` preserved) to
//! `OUT_DIR/koinos_descriptor.bin` for reflection.

use std::path::{Path, PathBuf};

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read proto dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            proto_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from("proto");
    println!("cargo:rerun-if-changed=proto");
    let mut files = Vec::new();
    proto_files(&root, &mut files);
    let relative: Vec<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(&root).expect("under proto/").to_path_buf())
        .collect();

    let mut compiler = protox::Compiler::new([&root]).expect("protox compiler");
    compiler.include_imports(true).include_source_info(false);
    compiler
        .open_files(&relative)
        .unwrap_or_else(|e| panic!("compiling .proto files: {e}"));

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    // The encoded set keeps extension options that prost-types would drop.
    std::fs::write(
        out_dir.join("koinos_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )
    .expect("write descriptor set");

    // Well-known types resolve to prost-types (prost-build's default extern path), so the
    // google.protobuf files in the set generate no code.
    let fds = compiler.file_descriptor_set();

    prost_build::Config::new()
        .enable_type_names()
        .type_name_domain(["."], "type.googleapis.com")
        .include_file("koinos_includes.rs")
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("generating Rust from descriptors: {e}"));
}
