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
//!    region instead (same size, same address modulo 64), one that fits the
//!    segment the old stack pointer is on switches the bounds to it, and
//!    anything else disables the check and calls gosched's
//!    `gosched_stack_overflow`, which prints the report and aborts (from the
//!    region's top if the overflow came from the first segment: that one may
//!    be too small for the report). Also add `restore(sp) -> sp`, for a
//!    stack pointer put back: the bounds become those of the segment it is
//!    on (an overflow if neither).
//! 3. Before every `global.set $__stack_pointer` (except in gosched's two
//!    switch functions, asm/wasm32/switch.S, which move the stack pointer
//!    between stacks on purpose), by what computed the value:
//!    - `i32.sub` (or `i32.and`, an over-aligned frame): an allocation; call
//!      `check`. The prologue keeps the checked value: LLVM's `local.tee
//!      $base` (or, unoptimized, `local.set $base; local.get $base`) before
//!      the `global.set` becomes `call check; local.tee $base`, so that a
//!      frame moved to the region is addressed there.
//!    - `i32.add`: an epilogue gives a frame back; nothing.
//!    - anything else (a saved stack pointer): call `restore`.
//!
//! A moved frame's epilogue gives back `region top`, not the caller's stack
//! pointer on the first segment: the caller's frame stays where it is (it
//! addresses it from its own base), and its callees get frames at the top of
//! the region, which is empty then, until it returns: its own epilogue goes
//! back to the first segment with the region's bounds still set. The first
//! segment lies below the region (src/coro/wasm_stack.rs carves it first),
//! so the next frame there is below the region's bounds too, and `grow`
//! switches them back; were it above, a frame from the first segment could
//! reach into the region, pass the check, and lie across whatever is in
//! between. For the same reason a frame from the region that reaches the
//! first segment has overflowed. Nothing moves once placed.
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

/// Code that reads and switches the running goroutine's bounds (step 2): the
/// record's words and the running goroutine's segments.
struct Bounds {
    record: i32,
}

impl Bounds {
    fn of(f: &Facts) -> Bounds {
        Bounds {
            record: f.limit_address as i32,
        }
    }

    fn address(&self) -> Instruction<'static> {
        Instruction::I32Const(self.record)
    }

    /// `local` out of the running bounds: `local - limit > span`, unsigned
    /// (never on the thread's own stack: 0, `u32::MAX`).
    fn out_of_running(&self, local: u32) -> [Instruction<'static>; 7] {
        [
            Instruction::LocalGet(local),
            self.address(),
            Instruction::I32Load(word(0)),
            Instruction::I32Sub,
            self.address(),
            Instruction::I32Load(word(SPAN)),
            Instruction::I32GtU,
        ]
    }

    /// The word at `offset` of the running goroutine's segments.
    fn segment(&self, offset: u64) -> [Instruction<'static>; 3] {
        [
            self.address(),
            Instruction::I32Load(word(SEGMENTS)),
            Instruction::I32Load(word(offset)),
        ]
    }

    /// `local` within the bounds at `limit`/`span`: `local - limit <= span`.
    fn within(&self, local: u32, limit: u64, span: u64) -> Vec<Instruction<'static>> {
        let mut is = vec![Instruction::LocalGet(local)];
        is.extend(self.segment(limit));
        is.push(Instruction::I32Sub);
        is.extend(self.segment(span));
        is.push(Instruction::I32LeU);
        is
    }

    /// If `local` is within the bounds at `limit`/`span`, they become the
    /// running bounds and `local` is returned.
    fn switch_if_within(&self, local: u32, limit: u64, span: u64) -> Vec<Instruction<'static>> {
        let mut is = self.within(local, limit, span);
        is.extend([Instruction::If(BlockType::Empty), self.address()]);
        is.extend(self.segment(limit));
        is.extend([Instruction::I32Store(word(0)), self.address()]);
        is.extend(self.segment(span));
        is.extend([
            Instruction::I32Store(word(SPAN)),
            Instruction::LocalGet(local),
            Instruction::Return,
            Instruction::End,
        ]);
        is
    }

    /// The region's top.
    fn region_top(&self) -> Vec<Instruction<'static>> {
        let mut is = self.segment(REGION_LIMIT).to_vec();
        is.extend(self.segment(REGION_SPAN));
        is.push(Instruction::I32Add);
        is
    }

    /// Turns the check off (the report's own frames are checked too) and
    /// calls gosched's report, which does not return.
    fn report(&self, handler: u32) -> [Instruction<'static>; 8] {
        [
            self.address(),
            Instruction::I32Const(0),
            Instruction::I32Store(word(0)),
            self.address(),
            Instruction::I32Const(-1),
            Instruction::I32Store(word(SPAN)),
            Instruction::Call(handler),
            Instruction::Unreachable,
        ]
    }
}

fn function_of(locals: u32, body: &[Instruction]) -> Function {
    let mut f = Function::new((locals > 0).then_some((locals, ValType::I32)));
    for i in body {
        f.instruction(i);
    }
    f
}

/// Step 2: `check(sp) -> sp`, which calls `grow` (at index `grow`) when `sp`
/// is out of the running segment's bounds.
fn check_function(f: &Facts, grow: u32) -> Function {
    let mut is = Bounds::of(f).out_of_running(0).to_vec();
    is.extend([
        Instruction::If(BlockType::Empty),
        Instruction::LocalGet(0),
        Instruction::Call(grow),
        Instruction::Return,
        Instruction::End,
        Instruction::LocalGet(0),
        Instruction::End,
    ]);
    function_of(0, &is)
}

/// Step 2: `grow(new) -> sp`, for an allocation; local 1 is the old stack
/// pointer. A frame may go from the first segment to the region, never back:
/// the first segment lies below the region (wasm_stack.rs), so a frame that
/// reaches it from the region has overflowed.
fn grow_function(f: &Facts) -> Function {
    const NEW: u32 = 0;
    const OLD: u32 = 1;
    let b = Bounds::of(f);
    let mut is = vec![
        Instruction::GlobalGet(f.stack_pointer),
        Instruction::LocalSet(OLD),
    ];
    is.extend(b.within(OLD, FIRST_LIMIT, FIRST_SPAN));
    is.push(Instruction::If(BlockType::Empty));
    {
        // On the first segment: stay there if the frame fits...
        is.extend(b.switch_if_within(NEW, FIRST_LIMIT, FIRST_SPAN));
        // ...else put it at the region's top: new + (top - old), rounded
        // down to keep its alignment.
        is.push(Instruction::LocalGet(NEW));
        is.extend(b.region_top());
        is.extend([
            Instruction::LocalGet(OLD),
            Instruction::I32Sub,
            Instruction::I32Const(-MOVE_ALIGN),
            Instruction::I32And,
            Instruction::I32Add,
            Instruction::LocalSet(NEW),
        ]);
        is.extend(b.switch_if_within(NEW, REGION_LIMIT, REGION_SPAN));
        // Too large for the region too: report from the region's top (the
        // first segment may lack room for the report; the region is empty).
        is.extend(b.region_top());
        is.push(Instruction::GlobalSet(f.stack_pointer));
    }
    is.push(Instruction::Else);
    // On the region: stay there (the bounds may still be the first
    // segment's after a restore), or overflow.
    is.extend(b.switch_if_within(NEW, REGION_LIMIT, REGION_SPAN));
    is.push(Instruction::End);
    is.extend(b.report(f.handler));
    is.push(Instruction::End);
    function_of(1, &is)
}

/// Step 2: `restore(sp) -> sp`, for a stack pointer put back (not an
/// allocation): the bounds become those of the segment it is on. An epilogue
/// going back from the region to the first segment leaves them as they are
/// (it is not checked): then the first segment's next frame fails the
/// region's bounds, and `grow` switches them.
fn restore_function(f: &Facts) -> Function {
    const SP: u32 = 0;
    let b = Bounds::of(f);
    let mut is = b.out_of_running(SP).to_vec();
    is.push(Instruction::If(BlockType::Empty));
    is.extend(b.switch_if_within(SP, FIRST_LIMIT, FIRST_SPAN));
    is.extend(b.switch_if_within(SP, REGION_LIMIT, REGION_SPAN));
    is.extend(b.report(f.handler));
    is.extend([
        Instruction::End,
        Instruction::LocalGet(SP),
        Instruction::End,
    ]);
    function_of(0, &is)
}

/// What step 3 makes of a function's operators.
#[derive(Debug, PartialEq)]
enum Checked<'a, 'b> {
    Op(&'b Operator<'a>),
    Check,
    Restore,
    Tee(u32),
}

/// Step 3 on one function. Each `global.set` of the stack pointer is one of:
/// - an allocation (its value computed by `i32.sub`, or `i32.and` for an
///   over-aligned frame): `check` before it, moved before the prologue's
///   `local.tee $base` (or `local.set $base; local.get $base`);
/// - a release (computed by `i32.add`: an epilogue): left as it is;
/// - anything else (a saved stack pointer put back): `restore` before it.
fn checked_ops<'a, 'b>(ops: &'b [Operator<'a>], stack_pointer: u32) -> Vec<Checked<'a, 'b>> {
    let sets_sp = |op: &Operator| matches!(op, Operator::GlobalSet { global_index } if *global_index == stack_pointer);
    let mut out = Vec::with_capacity(ops.len());
    let mut i = 0;
    while i < ops.len() {
        // The write's length from `i`, and the local that keeps its value.
        let (len, base) = match &ops[i..] {
            [Operator::LocalTee { local_index }, set, ..] if sets_sp(set) => {
                (2, Some(*local_index))
            }
            [Operator::LocalSet { local_index }, Operator::LocalGet { local_index: got }, set, ..]
                if got == local_index && sets_sp(set) =>
            {
                (3, Some(*local_index))
            }
            [set, ..] if sets_sp(set) => (1, None),
            [op, ..] => {
                out.push(Checked::Op(op));
                i += 1;
                continue;
            }
            [] => unreachable!(),
        };
        let producer = i.checked_sub(1).map(|p| &ops[p]);
        let write = &ops[i..i + len];
        match (producer, base) {
            (Some(Operator::I32Sub | Operator::I32And), Some(base)) => {
                out.extend([
                    Checked::Check,
                    Checked::Tee(base),
                    Checked::Op(&write[len - 1]),
                ]);
            }
            (Some(Operator::I32Sub | Operator::I32And), None) => {
                out.extend([Checked::Check, Checked::Op(&write[0])]);
            }
            (Some(Operator::I32Add), _) => out.extend(write.iter().map(Checked::Op)),
            _ => {
                out.extend(write[..len - 1].iter().map(Checked::Op));
                out.extend([Checked::Restore, Checked::Op(&write[len - 1])]);
            }
        }
        i += len;
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
                            Checked::Restore => Ok(Instruction::Call(check + 2)),
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
                    code.function(&restore_function(&f));
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
                Checked::Restore => "restore".into(),
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
        // Unoptimized, an epilogue may go through a local too.
        let unoptimized_epilogue = [
            I32Add,
            LocalSet { local_index: 3 },
            LocalGet { local_index: 3 },
            set.clone(),
        ];
        let as_they_are: Vec<String> = unoptimized_epilogue
            .iter()
            .map(|op| format!("{op:?}"))
            .collect();
        assert_eq!(checked(&unoptimized_epilogue), as_they_are);
        // An over-aligned frame is an allocation.
        let aligned = [
            I32Sub,
            I32Const { value: -64 },
            I32And,
            LocalTee { local_index: 4 },
            set.clone(),
        ];
        assert_eq!(
            checked(&aligned)[3..],
            ["check", "tee 4", "GlobalSet { global_index: 0 }"]
        );
        // Any other write of the stack pointer (a restore) calls `restore`.
        let restore = [LocalGet { local_index: 5 }, set.clone()];
        assert_eq!(
            checked(&restore),
            [
                "LocalGet { local_index: 5 }",
                "restore",
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
