//! The stack check, and goroutine stacks that start small: every
//! shadow-stack overflow of a goroutine is reported by gosched (`fatal
//! error: stack overflow in goroutine N "name"`), however large the frame
//! that overflows, and a goroutine's first frames live on a small first
//! segment, its full stack region being used only when a frame does not fit.
//!
//! wasm linear memory has no guard pages, and a frame larger than gosched's
//! red zone skips its canary: without this check it corrupts the memory below
//! the stack and traps somewhere else. LLVM moves the shadow stack pointer
//! only by `global.set $__stack_pointer`, so before Asyncify:
//!
//! 1. Find gosched's bounds record in the data segments, by its two magic
//!    words (src/coro/asyncify.rs, `gosched_stack_bounds`): `[magic, magic,
//!    limit, span, handler, grows, segments]`. gosched writes the running
//!    goroutine's `limit` (its lowest allowed stack pointer) and `span` (top
//!    − limit) at each switch, and `0, u32::MAX` (no check) on the thread's
//!    own stack, and `segments`: the address of the goroutine's `[first
//!    limit, first span, region limit, region span]`. This step sets `grows`
//!    to 1: the module can grow stacks.
//! 2. Add `check(sp) -> sp`: if `sp − limit > span` (unsigned: below the
//!    limit, above the top, or wrapped around by a huge frame), it calls
//!    `grow(sp) -> sp`, also added. `grow` compares the old stack pointer
//!    (the global, not yet written) and the new one with both segments: a
//!    frame that does not fit the first segment is placed at the top of the
//!    region instead (same size, same address modulo 64), a stack
//!    pointer that goes back to the other segment switches the bounds to it,
//!    and anything else disables the check and calls gosched's
//!    `gosched_stack_overflow`, which prints the report and aborts (from the
//!    region's top if the overflow came from the first segment: that one may
//!    be too small for the report).
//! 3. Before every `global.set $__stack_pointer`, call `check`, except in
//!    gosched's two switch functions (asm/wasm32/switch.S), which move the
//!    stack pointer between stacks on purpose, and except right after an
//!    `i32.add`: LLVM's epilogues (`frame base + size`) only give a frame
//!    back. The prologue keeps the checked value: LLVM's `local.tee $base`
//!    (or, unoptimized, `local.set $base; local.get $base`) before the
//!    `global.set` becomes `call check; local.tee $base`, so that a frame
//!    moved to the region is addressed there.
//!
//! A moved frame's epilogue gives back `region top`, not the caller's stack
//! pointer on the first segment: the caller's frame stays where it is (it
//! addresses it from its own base), and its callees get frames at the top of
//! the region, which is empty then, until it returns: its own epilogue goes
//! back to the first segment, and the next `check` switches the bounds back.
//! Nothing moves once placed.
//!
//! Binaryen's own `--stack-check` pass does step 3 but keeps its bounds in
//! globals that only the host can set through an export; gosched sets its
//! bounds from Rust, in memory. A module without the record (gosched without
//! the check, or not linked in) is left as it is; so is one built with a
//! gosched older than first segments, whose record has the old second magic
//! word (`0x9050_c4ed`) and layout: it runs without the check.

use std::collections::HashSet;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    BlockType, CodeSection, Function, FunctionSection, Instruction, MemArg, RawSection,
    TypeSection, ValType,
};
use wasmparser::{DataKind, KnownCustom, Name, Operator, Parser, Payload, TypeRef};

/// The record's first two words, as in src/coro/asyncify.rs.
const MAGIC: [u32; 2] = [0x5ac4_c4ec, 0x9050_c4ee];
/// Offsets of the record's words from its `limit` word.
const SPAN: u64 = 4;
const GROWS: usize = 12;
const SEGMENTS: u64 = 16;
/// Offsets of the words at `segments`.
const FIRST_LIMIT: u64 = 0;
const FIRST_SPAN: u64 = 4;
const REGION_LIMIT: u64 = 8;
const REGION_SPAN: u64 = 12;
/// A frame moved to the region keeps its address modulo this: the alignment
/// LLVM gave it, up to 64 (larger alignments on the stack are not kept).
const MOVE_ALIGN: i32 = 64;
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
    /// Offset in the module's bytes of the record's "first segments" word.
    first_segments_at: usize,
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
    let mut first_segments_at = 0;
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
                        let data_at = data.data.as_ptr() as usize - wasm.as_ptr() as usize;
                        first_segments_at = data_at + at + 8 + GROWS;
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
        first_segments_at,
        imported_functions,
    }))
}

fn word(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 2,
        memory_index: 0,
    }
}

/// Step 2: `check(sp) -> sp`, which calls `grow` (at index `grow`) when `sp`
/// is out of the running segment's bounds.
fn check_function(f: &Facts, grow: u32) -> Function {
    let address = Instruction::I32Const(f.limit_address as i32);
    let mut check = Function::new([]);
    for i in [
        Instruction::LocalGet(0),
        address.clone(),
        Instruction::I32Load(word(0)),
        Instruction::I32Sub,
        address,
        Instruction::I32Load(word(SPAN)),
        Instruction::I32GtU,
        Instruction::If(BlockType::Empty),
        Instruction::LocalGet(0),
        Instruction::Call(grow),
        Instruction::Return,
        Instruction::End,
        Instruction::LocalGet(0),
        Instruction::End,
    ] {
        check.instruction(&i);
    }
    check
}

/// Step 2: `grow(new) -> sp`; local 1 is the old stack pointer.
fn grow_function(f: &Facts) -> Function {
    const NEW: u32 = 0;
    const OLD: u32 = 1;
    let address = || Instruction::I32Const(f.limit_address as i32);
    let mut grow = Function::new([(1, ValType::I32)]);
    let mut emit = |instructions: &[Instruction]| {
        for i in instructions {
            grow.instruction(i);
        }
    };
    // The word at `offset` of the running goroutine's segments.
    let segment = |offset: u64| {
        [
            address(),
            Instruction::I32Load(word(SEGMENTS)),
            Instruction::I32Load(word(offset)),
        ]
    };
    // `local` within the bounds at `limit`/`span`: `local - limit <= span`.
    let within = |local: u32, limit: u64, span: u64| {
        let mut is = vec![Instruction::LocalGet(local)];
        is.extend(segment(limit));
        is.push(Instruction::I32Sub);
        is.extend(segment(span));
        is.push(Instruction::I32LeU);
        is
    };
    // The running bounds become those at `limit`/`span`; returns `new`.
    let switch_to = |limit: u64, span: u64| {
        let mut is = vec![address()];
        is.extend(segment(limit));
        is.extend([Instruction::I32Store(word(0)), address()]);
        is.extend(segment(span));
        is.extend([
            Instruction::I32Store(word(SPAN)),
            Instruction::LocalGet(NEW),
            Instruction::Return,
        ]);
        is
    };
    let mut region_top = segment(REGION_LIMIT).to_vec();
    region_top.extend(segment(REGION_SPAN));
    region_top.push(Instruction::I32Add);
    emit(&[
        Instruction::GlobalGet(f.stack_pointer),
        Instruction::LocalSet(OLD),
    ]);
    emit(&within(OLD, FIRST_LIMIT, FIRST_SPAN));
    emit(&[Instruction::If(BlockType::Empty)]);
    {
        // On the first segment: stay there if the frame fits...
        emit(&within(NEW, FIRST_LIMIT, FIRST_SPAN));
        emit(&[Instruction::If(BlockType::Empty)]);
        emit(&switch_to(FIRST_LIMIT, FIRST_SPAN));
        emit(&[Instruction::End]);
        // ...else put it at the region's top: new + (top - old), rounded
        // down to keep its alignment.
        emit(&[Instruction::LocalGet(NEW)]);
        emit(&region_top);
        emit(&[
            Instruction::LocalGet(OLD),
            Instruction::I32Sub,
            Instruction::I32Const(-MOVE_ALIGN),
            Instruction::I32And,
            Instruction::I32Add,
            Instruction::LocalSet(NEW),
        ]);
        emit(&within(NEW, REGION_LIMIT, REGION_SPAN));
        emit(&[Instruction::If(BlockType::Empty)]);
        emit(&switch_to(REGION_LIMIT, REGION_SPAN));
        emit(&[Instruction::End]);
        // Too large for the region too: report from the region's top (the
        // first segment may lack room for the report; the region is empty).
        emit(&region_top);
        emit(&[Instruction::GlobalSet(f.stack_pointer)]);
    }
    emit(&[Instruction::Else]);
    {
        // On the region: stay there, or go back to the first segment.
        emit(&within(NEW, REGION_LIMIT, REGION_SPAN));
        emit(&[Instruction::If(BlockType::Empty)]);
        emit(&switch_to(REGION_LIMIT, REGION_SPAN));
        emit(&[Instruction::End]);
        emit(&within(NEW, FIRST_LIMIT, FIRST_SPAN));
        emit(&[Instruction::If(BlockType::Empty)]);
        emit(&switch_to(FIRST_LIMIT, FIRST_SPAN));
        emit(&[Instruction::End]);
    }
    emit(&[
        Instruction::End,
        // No check while the report runs (its own frames are checked too).
        address(),
        Instruction::I32Const(0),
        Instruction::I32Store(word(0)),
        address(),
        Instruction::I32Const(-1),
        Instruction::I32Store(word(SPAN)),
        Instruction::Call(f.handler),
        Instruction::Unreachable,
        Instruction::End,
    ]);
    grow
}

/// What step 3 makes of a function's operators.
#[derive(Debug, PartialEq)]
enum Checked<'a, 'b> {
    Op(&'b Operator<'a>),
    Check,
    Tee(u32),
}

/// Step 3 on one function: `check` before each `global.set` of the stack
/// pointer that does not follow an `i32.add`, moved before the prologue's
/// `local.tee $base` (or `local.set $base; local.get $base`).
fn checked_ops<'a, 'b>(ops: &'b [Operator<'a>], stack_pointer: u32) -> Vec<Checked<'a, 'b>> {
    let sets_sp = |op: &Operator| matches!(op, Operator::GlobalSet { global_index } if *global_index == stack_pointer);
    let mut out = Vec::with_capacity(ops.len());
    let mut i = 0;
    while i < ops.len() {
        match &ops[i..] {
            [Operator::LocalTee { local_index }, set, ..] if sets_sp(set) => {
                out.extend([Checked::Check, Checked::Tee(*local_index), Checked::Op(set)]);
                i += 2;
            }
            [Operator::LocalSet { local_index }, Operator::LocalGet { local_index: got }, set, ..]
                if got == local_index && sets_sp(set) =>
            {
                out.extend([Checked::Check, Checked::Tee(*local_index), Checked::Op(set)]);
                i += 3;
            }
            [op, ..] => {
                let after_add = i > 0 && matches!(ops[i - 1], Operator::I32Add);
                if sets_sp(op) && !after_add {
                    out.push(Checked::Check);
                }
                out.push(Checked::Op(op));
                i += 1;
            }
            [] => unreachable!(),
        }
    }
    out
}

/// The module with the stack check, or `None` if it has no bounds record.
pub fn instrument(wasm: &[u8]) -> Result<Option<Vec<u8>>> {
    let Some(f) = facts(wasm)? else {
        return Ok(None);
    };
    // Step 1: the record says that this module can grow stacks.
    let mut patched = wasm.to_vec();
    patched[f.first_segments_at] = 1;
    let wasm = &patched[..];
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
                let ty = check_type.ok_or("no type section")?;
                functions.function(ty);
                functions.function(ty);
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
                    let mut reader = body.get_operators_reader().map_err(err)?;
                    let mut ops = Vec::new();
                    while !reader.eof() {
                        ops.push(reader.read().map_err(err)?);
                    }
                    for i in checked_ops(&ops, f.stack_pointer) {
                        let i = match i {
                            Checked::Op(op) => RoundtripReencoder.instruction(op.clone()),
                            Checked::Check => Ok(Instruction::Call(check)),
                            Checked::Tee(local) => Ok(Instruction::LocalTee(local)),
                        };
                        function.instruction(&i.map_err(err)?);
                    }
                    code.function(&function);
                }
                index += 1;
                if index == code_end {
                    code.function(&check_function(&f, check + 1));
                    code.function(&grow_function(&f));
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

    /// Step 3 on `ops` (the stack pointer is global 0), as text.
    fn checked(ops: &[Operator]) -> Vec<String> {
        checked_ops(ops, 0)
            .into_iter()
            .map(|c| match c {
                Checked::Op(op) => format!("{op:?}"),
                Checked::Check => "check".into(),
                Checked::Tee(l) => format!("tee {l}"),
            })
            .collect()
    }

    #[test]
    fn prologues_keep_the_checked_stack_pointer_and_epilogues_are_not_checked() {
        use Operator::*;
        let sub = [
            GlobalGet { global_index: 0 },
            I32Const { value: 32 },
            I32Sub,
        ];
        let set = GlobalSet { global_index: 0 };
        let mut optimized = sub.to_vec();
        optimized.extend([LocalTee { local_index: 2 }, set.clone()]);
        let mut unoptimized = sub.to_vec();
        unoptimized.extend([
            LocalSet { local_index: 2 },
            LocalGet { local_index: 2 },
            set.clone(),
        ]);
        for prologue in [optimized, unoptimized] {
            assert_eq!(
                checked(&prologue)[3..],
                ["check", "tee 2", "GlobalSet { global_index: 0 }"]
            );
        }
        let epilogue = [
            LocalGet { local_index: 2 },
            I32Const { value: 32 },
            I32Add,
            set.clone(),
        ];
        assert!(!checked(&epilogue).contains(&"check".to_string()));
        // Any other write of the stack pointer (a restore) is checked where it is.
        let restore = [LocalGet { local_index: 5 }, set.clone()];
        assert_eq!(
            checked(&restore),
            [
                "LocalGet { local_index: 5 }",
                "check",
                "GlobalSet { global_index: 0 }"
            ]
        );
        // Another global is none of the check's business.
        let other = [LocalTee { local_index: 1 }, GlobalSet { global_index: 3 }];
        assert!(!checked(&other).contains(&"check".to_string()));
    }

    #[test]
    fn a_module_without_the_record_is_left_alone() {
        let empty = wasm_encoder::Module::new().finish();
        assert!(instrument(&empty).unwrap().is_none());
    }
}
