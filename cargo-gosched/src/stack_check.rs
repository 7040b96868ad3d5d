//! The stack check: every shadow-stack overflow of a goroutine is reported by
//! gosched (`fatal error: stack overflow in goroutine N "name"`), however
//! large the frame that overflows.
//!
//! wasm linear memory has no guard pages, and a frame larger than gosched's
//! red zone skips its canary: without this check it corrupts the memory below
//! the stack and traps somewhere else. LLVM moves the shadow stack pointer
//! only by `global.set $__stack_pointer`, so before Asyncify:
//!
//! 1. Find gosched's bounds record in the data segments, by its two magic
//!    words (src/coro/asyncify.rs, `gosched_stack_bounds`): `[magic, magic, limit,
//!    span]`. gosched writes the running goroutine's `limit` (its lowest
//!    allowed stack pointer) and `span` (top − limit) at each switch, and
//!    `0, u32::MAX` (no check) on the thread's own stack.
//! 2. Add one function, `check(sp) -> sp`: if `sp − limit > span` (unsigned:
//!    below the limit, above the top, or wrapped around by a huge frame), it
//!    disables the check and calls gosched's `gosched_stack_overflow`, which
//!    prints the report and aborts.
//! 3. Before every `global.set $__stack_pointer`, call `check`, except in
//!    gosched's two switch functions (asm/wasm32/switch.S), which move the
//!    stack pointer between stacks on purpose, and except right after an
//!    `i32.add`: LLVM's epilogues (`sp + frame size`) only give a frame back.
//!
//! Binaryen's own `--stack-check` pass does step 3 but keeps its bounds in
//! globals that only the host can set through an export; gosched sets its
//! bounds from Rust, in memory. A module without the record (gosched without
//! the check, or not linked in) is left as it is.

use std::collections::HashSet;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, Function, FunctionSection, Instruction, MemArg, RawSection, TypeSection, ValType,
};
use wasmparser::{DataKind, KnownCustom, Name, Operator, Parser, Payload, TypeRef};

/// The record's first two words, as in src/coro/asyncify.rs.
const MAGIC: [u32; 2] = [0x5ac4_c4ec, 0x9050_c4ed];
/// The functions that switch stacks (asm/wasm32/switch.S).
const SWITCHES: [&str; 2] = ["gosched_asyncify_resume", "gosched_asyncify_suspend"];
const HANDLER: &str = "gosched_stack_overflow";

/// What step 1 finds.
struct Facts {
    stack_pointer: u32,
    handler: u32,
    /// Function indices left uninstrumented.
    switches: HashSet<u32>,
    /// Address of the record's `limit` word (`span` follows).
    limit_address: u32,
    imported_functions: u32,
}

type Result<T> = std::result::Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The record's initial bytes: magic, limit 0, span u32::MAX (no check).
fn record_pattern() -> Vec<u8> {
    [MAGIC[0], MAGIC[1], 0, u32::MAX]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

fn facts(wasm: &[u8]) -> Result<Option<Facts>> {
    let (mut stack_pointer, mut handler, mut limit_address) = (None, None, None);
    let mut switches = HashSet::new();
    let mut imported_functions = 0;
    let pattern = record_pattern();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(import.map_err(err)?.ty, TypeRef::Func(_)) {
                        imported_functions += 1;
                    }
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(err)?;
                    let DataKind::Active {
                        memory_index: 0,
                        offset_expr,
                    } = data.kind
                    else {
                        continue;
                    };
                    let Ok(Operator::I32Const { value }) =
                        offset_expr.get_operators_reader().read()
                    else {
                        continue;
                    };
                    if let Some(at) = data.data.windows(pattern.len()).position(|w| w == pattern) {
                        if limit_address.is_some() {
                            return Err("gosched's stack bounds record appears twice".into());
                        }
                        limit_address = Some(value as u32 + at as u32 + 8);
                    }
                }
            }
            Payload::CustomSection(section) => {
                let KnownCustom::Name(names) = section.as_known() else {
                    continue;
                };
                for name in names {
                    match name.map_err(err)? {
                        Name::Function(map) => {
                            for naming in map {
                                let naming = naming.map_err(err)?;
                                if naming.name == HANDLER {
                                    handler = Some(naming.index);
                                } else if SWITCHES.contains(&naming.name) {
                                    switches.insert(naming.index);
                                }
                            }
                        }
                        Name::Global(map) => {
                            for naming in map {
                                let naming = naming.map_err(err)?;
                                if naming.name == "__stack_pointer" {
                                    stack_pointer = Some(naming.index);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let (Some(stack_pointer), Some(handler), Some(limit_address)) =
        (stack_pointer, handler, limit_address)
    else {
        return Ok(None);
    };
    // A module that never switches has no switch functions (and never sets
    // the bounds): it gets the check all the same, which then checks nothing.
    Ok(Some(Facts {
        stack_pointer,
        handler,
        switches,
        limit_address,
        imported_functions,
    }))
}

/// Step 2: `check(sp) -> sp`.
fn check_function(f: &Facts) -> Function {
    let limit = MemArg {
        offset: 0,
        align: 2,
        memory_index: 0,
    };
    let span = MemArg { offset: 4, ..limit };
    let address = Instruction::I32Const(f.limit_address as i32);
    let mut check = Function::new([]);
    for i in [
        Instruction::LocalGet(0),
        address.clone(),
        Instruction::I32Load(limit),
        Instruction::I32Sub,
        address.clone(),
        Instruction::I32Load(span),
        Instruction::I32GtU,
        Instruction::If(wasm_encoder::BlockType::Empty),
        // No check while the report runs (its own frames are checked too).
        address.clone(),
        Instruction::I32Const(0),
        Instruction::I32Store(limit),
        address,
        Instruction::I32Const(-1),
        Instruction::I32Store(span),
        Instruction::Call(f.handler),
        Instruction::Unreachable,
        Instruction::End,
        Instruction::LocalGet(0),
        Instruction::End,
    ] {
        check.instruction(&i);
    }
    check
}

/// The module with the stack check, or `None` if it has no bounds record.
pub fn instrument(wasm: &[u8]) -> Result<Option<Vec<u8>>> {
    let Some(f) = facts(wasm)? else {
        return Ok(None);
    };
    let mut out = wasm_encoder::Module::new();
    let (mut check_type, mut check_index) = (None, None);
    let mut code = CodeSection::new();
    let (mut index, mut code_end) = (f.imported_functions, 0);
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(err)?;
        match payload {
            Payload::TypeSection(reader) => {
                let mut types = TypeSection::new();
                RoundtripReencoder
                    .parse_type_section(&mut types, reader)
                    .map_err(err)?;
                check_type = Some(types.len());
                types.ty().function([ValType::I32], [ValType::I32]);
                out.section(&types);
            }
            Payload::FunctionSection(reader) => {
                let mut functions = FunctionSection::new();
                let defined = reader.count();
                for ty in reader {
                    functions.function(ty.map_err(err)?);
                }
                functions.function(check_type.ok_or("no type section")?);
                check_index = Some(f.imported_functions + defined);
                out.section(&functions);
            }
            Payload::CodeSectionStart { count, .. } => code_end = f.imported_functions + count,
            Payload::CodeSectionEntry(body) => {
                let check = check_index.ok_or("no function section")?;
                if f.switches.contains(&index) {
                    let range = body.range();
                    code.raw(&wasm[range.start as usize..range.end as usize]);
                } else {
                    let mut locals = Vec::new();
                    for local in body.get_locals_reader().map_err(err)? {
                        let (n, ty) = local.map_err(err)?;
                        locals.push((n, RoundtripReencoder.val_type(ty).map_err(err)?));
                    }
                    let mut function = Function::new(locals);
                    let mut ops = body.get_operators_reader().map_err(err)?;
                    let mut after_add = false;
                    while !ops.eof() {
                        let op = ops.read().map_err(err)?;
                        let sets_sp = matches!(op, Operator::GlobalSet { global_index } if global_index == f.stack_pointer);
                        if sets_sp && !after_add {
                            function.instruction(&Instruction::Call(check));
                        }
                        after_add = matches!(op, Operator::I32Add);
                        function.instruction(&RoundtripReencoder.instruction(op).map_err(err)?);
                    }
                    code.function(&function);
                }
                index += 1;
                if index == code_end {
                    code.function(&check_function(&f));
                    out.section(&code);
                }
            }
            // DWARF would describe the old code offsets (wasm-opt strips it anyway).
            Payload::CustomSection(section) if section.name().starts_with(".debug_") => {}
            other => {
                if let Some((id, range)) = other.as_section() {
                    let data = &wasm[range.start as usize..range.end as usize];
                    out.section(&RawSection { id, data });
                }
            }
        }
    }
    Ok(Some(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_without_the_record_is_left_alone() {
        let empty = wasm_encoder::Module::new().finish();
        assert!(instrument(&empty).unwrap().is_none());
    }
}
