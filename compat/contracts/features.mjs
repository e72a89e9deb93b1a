#!/usr/bin/env node
// Lists, per WebAssembly module, what it uses beyond the WebAssembly 1.0 MVP, and its float usage
// (the official Koinos VM, a fork of the fizzy interpreter, runs the MVP with floats disabled).
//
//   node features.mjs [DIR | FILE.wasm ...]     (default: ../../target/contracts)
//   node features.mjs --json [...]              (machine-readable)
//
// It decodes the binary itself (sections, types, imports, exports, globals, every instruction of
// every function body), so each finding is an exact count, and it also asks wabt (npm `wabt`)
// to validate the module with every post-MVP feature turned off. Exit status: 0 when every
// module that decodes is MVP-only without floats; 1 otherwise; modules that do not decode (the
// deliberately invalid ones) are reported but do not fail the run.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";

const here = path.dirname(fileURLToPath(import.meta.url));

class Reader {
  constructor(buf, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }
  eof() {
    return this.pos >= this.end;
  }
  byte() {
    if (this.pos >= this.end) throw new Error(`unexpected end at offset ${this.pos}`);
    return this.buf[this.pos++];
  }
  bytes(n) {
    if (this.pos + n > this.end) throw new Error(`unexpected end at offset ${this.pos}`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  u32() {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 35) throw new Error("LEB128 too long");
    }
    return result;
  }
  // Signed LEB128 of up to `bits` bits; returned as a BigInt so i64 constants are exact.
  sleb(bits) {
    let result = 0n;
    let shift = 0n;
    let b;
    do {
      b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (shift > BigInt(bits) + 7n) throw new Error("LEB128 too long");
    } while (b & 0x80);
    if (b & 0x40) result -= 1n << shift;
    return result;
  }
  name() {
    return Buffer.from(this.bytes(this.u32())).toString("utf8");
  }
}

const VALTYPES = { 0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref" };
const SECTION_NAMES = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount"];

function valtype(b) {
  const t = VALTYPES[b];
  if (!t) throw new Error(`unknown value type 0x${b.toString(16)}`);
  return t;
}

// Float instructions of the MVP (the official VM disables them): loads/stores/consts,
// comparisons, arithmetic and the conversions from or to a float type.
function isFloatOpcode(op) {
  return (
    op === 0x2a || op === 0x2b || op === 0x38 || op === 0x39 || op === 0x43 || op === 0x44 ||
    (op >= 0x5b && op <= 0x66) ||
    (op >= 0x8b && op <= 0xa6) ||
    (op >= 0xa8 && op <= 0xab) ||
    (op >= 0xae && op <= 0xbf)
  );
}

const SIGN_EXT = { 0xc0: "i32.extend8_s", 0xc1: "i32.extend16_s", 0xc2: "i64.extend8_s", 0xc3: "i64.extend16_s", 0xc4: "i64.extend32_s" };
const FC_OPS = [
  "i32.trunc_sat_f32_s", "i32.trunc_sat_f32_u", "i32.trunc_sat_f64_s", "i32.trunc_sat_f64_u",
  "i64.trunc_sat_f32_s", "i64.trunc_sat_f32_u", "i64.trunc_sat_f64_s", "i64.trunc_sat_f64_u",
  "memory.init", "data.drop", "memory.copy", "memory.fill",
  "table.init", "elem.drop", "table.copy", "table.grow", "table.size", "table.fill",
];

function analyze(buf) {
  const r = new Reader(buf);
  const magic = r.bytes(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) throw new Error("bad magic (not \\0asm)");
  const version = r.bytes(4);
  if (version[0] !== 1 || version[1] || version[2] || version[3]) throw new Error(`unsupported version ${[...version]}`);

  const out = {
    sections: [],
    types: [],
    imports: [],
    exports: [],
    memory: null,
    start: null,
    functions: 0,
    instructions: 0,
    nonMvp: {}, // feature -> { opcode name -> count }
    floatOps: 0,
    floatTypes: 0, // f32/f64 in signatures, locals or globals
    multiValueTypes: 0,
  };
  const bump = (feature, what, n = 1) => {
    out.nonMvp[feature] ??= {};
    out.nonMvp[feature][what] = (out.nonMvp[feature][what] ?? 0) + n;
  };
  const countFloatTypes = (types) => {
    for (const t of types) if (t === "f32" || t === "f64") out.floatTypes++;
    for (const t of types) if (t === "v128") bump("simd", "v128 type");
    for (const t of types) if (t === "externref") bump("reference-types", "externref type");
  };

  const globalsMutable = []; // by global index: imported globals first, then defined ones
  let lastId = 0;
  while (!r.eof()) {
    const id = r.byte();
    const size = r.u32();
    const s = new Reader(buf, r.pos, r.pos + size);
    if (s.end > buf.length) throw new Error(`section ${id} runs past the end of the file`);
    r.pos += size;
    out.sections.push(SECTION_NAMES[id] ?? `unknown(${id})`);
    if (id !== 0) {
      if (id > 12) throw new Error(`unknown section id ${id}`);
      if (id === 12) bump("bulk-memory", "datacount section");
      else if (lastId === 12 ? id < 10 : id <= lastId) throw new Error(`section ${id} out of order`);
      lastId = id;
    }
    switch (id) {
      case 1: {
        for (let n = s.u32(), i = 0; i < n; i++) {
          if (s.byte() !== 0x60) throw new Error("bad function type");
          const params = Array.from({ length: s.u32() }, () => valtype(s.byte()));
          const results = Array.from({ length: s.u32() }, () => valtype(s.byte()));
          countFloatTypes(params);
          countFloatTypes(results);
          if (results.length > 1) {
            out.multiValueTypes++;
            bump("multi-value", "function type with >1 results");
          }
          out.types.push(`(${params.join(",")})->(${results.join(",")})`);
        }
        break;
      }
      case 2: {
        for (let n = s.u32(), i = 0; i < n; i++) {
          const mod = s.name();
          const field = s.name();
          const kind = s.byte();
          let desc;
          if (kind === 0) desc = `func ${out.types[s.u32()] ?? "?"}`;
          else if (kind === 1) {
            const t = valtype(s.byte());
            const flags = s.u32();
            s.u32();
            if (flags & 1) s.u32();
            desc = `table ${t}`;
          } else if (kind === 2) {
            const flags = s.u32();
            const min = s.u32();
            const max = flags & 1 ? s.u32() : null;
            desc = `memory ${min}..${max ?? ""}`;
          } else if (kind === 3) {
            const t = valtype(s.byte());
            const mut = s.byte();
            countFloatTypes([t]);
            globalsMutable.push(mut === 1);
            if (mut) bump("mutable-globals", `imported mutable global ${mod}.${field}`);
            desc = `global ${mut ? "mut " : ""}${t}`;
          } else throw new Error(`unknown import kind ${kind}`);
          out.imports.push(`${mod}.${field}: ${desc}`);
        }
        break;
      }
      case 3:
        out.functions = s.u32();
        break;
      case 5: {
        const n = s.u32();
        if (n > 1) bump("multi-memory", "more than one memory");
        if (n >= 1) {
          const flags = s.u32();
          const min = s.u32();
          const max = flags & 1 ? s.u32() : null;
          out.memory = { minPages: min, maxPages: max };
        }
        break;
      }
      case 6: {
        for (let n = s.u32(), i = 0; i < n; i++) {
          countFloatTypes([valtype(s.byte())]);
          globalsMutable.push(s.byte() === 1);
          walkExpr(s, out, bump); // the constant initialiser
        }
        break;
      }
      case 7: {
        for (let n = s.u32(), i = 0; i < n; i++) {
          const field = s.name();
          const kind = s.byte();
          const idx = s.u32();
          out.exports.push(`${field}: ${["func", "table", "memory", "global"][kind] ?? kind}[${idx}]`);
          if (kind === 3 && globalsMutable[idx]) bump("mutable-globals", `exported mutable global ${field}`);
        }
        break;
      }
      case 8:
        out.start = s.u32();
        break;
      case 10: {
        for (let n = s.u32(), i = 0; i < n; i++) {
          const bodySize = s.u32();
          const body = new Reader(buf, s.pos, s.pos + bodySize);
          s.pos += bodySize;
          for (let groups = body.u32(), g = 0; g < groups; g++) {
            const count = body.u32();
            const t = valtype(body.byte());
            if (t === "f32" || t === "f64") out.floatTypes += count;
          }
          walkExpr(body, out, bump);
        }
        break;
      }
      case 11: {
        for (let n = s.u32(), i = 0; i < n; i++) {
          const flags = s.u32();
          if (flags === 1) bump("bulk-memory", "passive data segment");
          if (flags === 2) s.u32();
          if (flags !== 1) walkExpr(s, out, bump);
          s.bytes(s.u32());
        }
        break;
      }
      default:
        break;
    }
  }
  return out;
}

// Walks instructions until the `end` that closes the expression (or the reader's end).
function walkExpr(r, out, bump) {
  let depth = 1;
  const blockType = () => {
    const b = r.buf[r.pos];
    if (b === 0x40 || VALTYPES[b]) {
      r.pos++;
      return;
    }
    const idx = r.sleb(33);
    if (idx < 0n) throw new Error("bad block type");
    bump("multi-value", "block with a type-index signature");
  };
  while (depth > 0) {
    const op = r.byte();
    out.instructions++;
    if (isFloatOpcode(op)) out.floatOps++;
    if (SIGN_EXT[op]) bump("sign-extension", SIGN_EXT[op]);
    switch (op) {
      case 0x02: case 0x03: case 0x04:
        blockType();
        depth++;
        break;
      case 0x0b:
        depth--;
        break;
      case 0x0c: case 0x0d: case 0x10: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24:
        r.u32();
        break;
      case 0x0e: {
        for (let n = r.u32(), i = 0; i <= n; i++) r.u32();
        break;
      }
      case 0x11: {
        r.u32();
        const table = r.u32();
        if (table !== 0) bump("reference-types", "call_indirect on table != 0");
        break;
      }
      case 0x12: case 0x13:
        bump("tail-call", op === 0x12 ? "return_call" : "return_call_indirect");
        r.u32();
        if (op === 0x13) r.u32();
        break;
      case 0x1c: {
        bump("reference-types", "select with type");
        for (let n = r.u32(), i = 0; i < n; i++) r.byte();
        break;
      }
      case 0x25: case 0x26:
        bump("reference-types", op === 0x25 ? "table.get" : "table.set");
        r.u32();
        break;
      case 0x3f: case 0x40:
        r.byte();
        break;
      case 0x41:
        r.sleb(32);
        break;
      case 0x42:
        r.sleb(64);
        break;
      case 0x43:
        r.bytes(4);
        break;
      case 0x44:
        r.bytes(8);
        break;
      case 0xd0:
        bump("reference-types", "ref.null");
        r.byte();
        break;
      case 0xd1:
        bump("reference-types", "ref.is_null");
        break;
      case 0xd2:
        bump("reference-types", "ref.func");
        r.u32();
        break;
      case 0xfc: {
        const sub = r.u32();
        const name = FC_OPS[sub] ?? `0xfc ${sub}`;
        if (sub <= 7) {
          bump("nontrapping-f2i", name);
          out.floatOps++;
        } else bump(sub <= 11 ? "bulk-memory" : "bulk-memory (tables)", name);
        if (sub === 8 || sub === 12 || sub === 14) { r.u32(); r.u32(); }
        else if (sub === 9 || sub === 13 || sub === 15 || sub === 16 || sub === 17) r.u32();
        else if (sub === 10) { r.u32(); r.u32(); }
        else if (sub === 11) r.u32();
        break;
      }
      case 0xfd:
        bump("simd", "0xfd prefix (rest of this function not decoded)");
        return;
      case 0xfe:
        bump("threads", "0xfe prefix (rest of this function not decoded)");
        return;
      default:
        if (op >= 0x28 && op <= 0x3e) {
          r.u32();
          r.u32();
        } else if (
          !(op <= 0x01 || op === 0x05 || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4))
        ) {
          throw new Error(`unknown opcode 0x${op.toString(16)} at offset ${r.pos - 1}`);
        }
    }
  }
}

async function wabtMvpCheck(wabt, buf) {
  // Every post-MVP proposal wabt knows of, turned off: what remains is WebAssembly 1.0.
  const off = {
    exceptions: false, mutable_globals: false, sat_float_to_int: false, sign_extension: false,
    simd: false, threads: false, function_references: false, multi_value: false, tail_call: false,
    bulk_memory: false, reference_types: false, annotations: false, code_metadata: false, gc: false,
    memory64: false, extended_const: false, relaxed_simd: false, multi_memory: false,
  };
  let mod;
  try {
    // A copy: small files come back from readFileSync as views into a shared pool buffer.
    mod = wabt.readWasm(new Uint8Array(buf), { readDebugNames: false, ...off });
    mod.validate();
    return "valid";
  } catch (e) {
    return `rejected: ${String(e.message ?? e).split("\n").filter(Boolean).slice(0, 2).join(" / ")}`;
  } finally {
    mod?.destroy();
  }
}

async function main() {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const targets = args.filter((a) => a !== "--json");
  if (targets.length === 0) targets.push(path.resolve(here, "../../target/contracts"));
  const files = [];
  for (const t of targets) {
    if (fs.statSync(t).isDirectory()) {
      for (const f of fs.readdirSync(t).sort()) if (f.endsWith(".wasm")) files.push(path.join(t, f));
    } else files.push(t);
  }
  const wabt = await wabtInit();
  const report = [];
  for (const file of files) {
    const buf = fs.readFileSync(file);
    const entry = { module: path.basename(file), bytes: buf.length };
    try {
      const a = analyze(buf);
      Object.assign(entry, {
        functions: a.functions,
        instructions: a.instructions,
        imports: a.imports,
        exports: a.exports,
        memory: a.memory,
        startSection: a.start !== null,
        nonMvp: a.nonMvp,
        floatOps: a.floatOps,
        floatTypes: a.floatTypes,
        mvpOnly: Object.keys(a.nonMvp).length === 0,
        noFloats: a.floatOps === 0 && a.floatTypes === 0,
      });
    } catch (e) {
      entry.decodeError = e.message;
    }
    entry.wabtMvp = await wabtMvpCheck(wabt, buf);
    report.push(entry);
  }
  if (json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    for (const e of report) {
      console.log(`${e.module} (${e.bytes} bytes)`);
      if (e.decodeError) {
        console.log(`  does not decode: ${e.decodeError}`);
        console.log(`  wabt (MVP): ${e.wabtMvp}`);
        continue;
      }
      console.log(`  functions ${e.functions}, instructions ${e.instructions}, memory ${JSON.stringify(e.memory)}, start section ${e.startSection ? "yes" : "no"}`);
      console.log(`  imports: ${e.imports.join("; ") || "none"}`);
      console.log(`  exports: ${e.exports.join("; ") || "none"}`);
      const features = Object.entries(e.nonMvp);
      if (features.length === 0) console.log("  beyond MVP: nothing");
      for (const [feature, ops] of features) {
        console.log(`  beyond MVP: ${feature}: ${Object.entries(ops).map(([k, v]) => `${k} x${v}`).join(", ")}`);
      }
      console.log(`  floats: ${e.floatOps} float instructions, ${e.floatTypes} f32/f64 types in signatures/locals/globals`);
      console.log(`  wabt (MVP, every proposal off): ${e.wabtMvp}`);
    }
  }
  const bad = report.filter((e) => !e.decodeError && (!e.mvpOnly || !e.noFloats || e.wabtMvp !== "valid"));
  if (bad.length) {
    console.error(`beyond the MVP or using floats: ${bad.map((e) => e.module).join(", ")}`);
    process.exitCode = 1;
  }
}

await main();
