//! After Asyncify: its state global read from a local.
//!
//! Asyncify guards the code of every function it instruments with tests of
//! one global, its state (running normally, unwinding or rewinding). A
//! goroutine's switch re-enters each of those functions and walks it up to
//! the call in progress, so the tests add up: 126 per hop in the anchor
//! benchmark B7 (docs/wasm.md, "Where the time goes"). wasmtime compiles each
//! read of a global defined in the module to a load from the instance, and,
//! where registers run out, a reload of the instance pointer first. The
//! state can only change inside a call (only Asyncify's own functions write
//! it, and a host reaches them only through a call into it), so:
//!
//! 1. Find the state global: the one Asyncify's exported `asyncify_get_state`
//!    returns.
//! 2. Find the calls that may change it: calls of imports, of functions that
//!    write it, and of functions that make such a call, directly or
//!    indirectly (a `call_indirect` may reach every function in the table
//!    whose signature it names).
//! 3. In every function that reads it, add an `i32` local. Follow the
//!    function's blocks: a read where the state may have changed since the
//!    last read on some path (after such a call, at a loop's start, at the
//!    function's start) reads the global and keeps it in the local
//!    (`local.tee`); every other read reads the local.
//!
//! compare on wasmtime (instructions per operation, docs/wasm.md): B7 2,068 →
//! 1,784 per hop, B2 3,965 → 3,538 per round trip, B5 617 → 626 per yield;
//! the module grows by 1.2 %. (Reloading after every such call instead of at
//! the next read gives 1,702 and 3,394, for 3.3 %.)
//! Only WASI modules (wasip1 commands, WASIp3 components) are rewritten:
//! their host is wasmtime, where this pays. V8 gains nothing from it (B7 and
//! B5 unchanged under node:wasi, B2 5 % slower), so modules for the JS host
//! (which import nothing from WASI) are left as they are, as is a module
//! without `asyncify_get_state`.

use std::collections::{HashMap, HashSet};
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{CodeSection, Function, Instruction, RawSection, ValType};
use wasmparser::{
    CompositeInnerType, ElementItems, ExternalKind, FunctionBody, Operator, Parser, Payload,
    TypeRef,
};

type Result<T> = std::result::Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Asyncify's export that reads its state.
const GET_STATE: &str = "asyncify_get_state";

/// Step 1: the index of the state global, if the module went through Asyncify
/// and imports from WASI.
fn state_global(wasm: &[u8]) -> Result<Option<u32>> {
    let (mut imported, mut getter, mut index, mut wasi) = (0, None, 0, false);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(err)?;
                    wasi |= import.module.starts_with("wasi");
                    if matches!(import.ty, TypeRef::Func(_)) {
                        imported += 1;
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(err)?;
                    if export.name == GET_STATE && export.kind == ExternalKind::Func {
                        getter = Some(export.index);
                    }
                }
            }
            Payload::CodeSectionStart { .. } => index = imported,
            Payload::CodeSectionEntry(body) => {
                if getter == Some(index) && wasi {
                    let mut ops = body.get_operators_reader().map_err(err)?;
                    return match ops.read().map_err(err)? {
                        Operator::GlobalGet { global_index } => Ok(Some(global_index)),
                        other => Err(format!("{GET_STATE} starts with {other:?}")),
                    };
                }
                index += 1;
            }
            _ => {}
        }
    }
    Ok(None)
}

/// What steps 2 and 3 need to know of the module.
struct Module {
    state: u32,
    /// Parameters of each function (imported ones first).
    params: Vec<u32>,
    /// Functions whose calls may change the state (step 2).
    changes: Vec<bool>,
    /// Signatures (canonical type indices) whose `call_indirect` may.
    indirect_changes: HashSet<u32>,
    /// Each type index's canonical index: the first with the same signature.
    canonical: Vec<u32>,
}

/// Steps 1 and 2.
fn analyze(wasm: &[u8]) -> Result<Option<Module>> {
    let Some(state) = state_global(wasm)? else {
        return Ok(None);
    };
    let mut signatures: HashMap<String, u32> = HashMap::new();
    let (mut canonical, mut type_params) = (Vec::new(), Vec::new());
    let (mut types, mut imported) = (Vec::new(), 0);
    let mut table = Vec::new();
    // Per defined function: writes the state, direct callees, indirect signatures.
    let mut bodies: Vec<(bool, Vec<u32>, Vec<u32>)> = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group.map_err(err)?.types() {
                        let next = canonical.len() as u32;
                        let (key, params) = match &ty.composite_type.inner {
                            CompositeInnerType::Func(f) => (format!("{f:?}"), f.params().len()),
                            other => (format!("{next} {other:?}"), 0),
                        };
                        canonical.push(*signatures.entry(key).or_insert(next));
                        type_params.push(params as u32);
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(ty) = import.map_err(err)?.ty {
                        types.push(ty);
                        imported += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    types.push(ty.map_err(err)?);
                }
            }
            // Every function an element segment or a `ref.func` names may
            // end up in a table (`table.set` can put it there).
            Payload::ElementSection(reader) => {
                for element in reader {
                    match element.map_err(err)?.items {
                        ElementItems::Functions(functions) => {
                            for f in functions {
                                table.push(f.map_err(err)?);
                            }
                        }
                        ElementItems::Expressions(_, exprs) => {
                            for expr in exprs {
                                let mut ops = expr.map_err(err)?.get_operators_reader();
                                while !ops.eof() {
                                    if let Operator::RefFunc { function_index } =
                                        ops.read().map_err(err)?
                                    {
                                        table.push(function_index);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let (mut writes, mut direct, mut indirect) = (false, Vec::new(), Vec::new());
                let mut ops = body.get_operators_reader().map_err(err)?;
                while !ops.eof() {
                    match ops.read().map_err(err)? {
                        Operator::GlobalSet { global_index } => writes |= global_index == state,
                        Operator::Call { function_index }
                        | Operator::ReturnCall { function_index } => direct.push(function_index),
                        Operator::CallIndirect { type_index, .. }
                        | Operator::ReturnCallIndirect { type_index, .. } => {
                            indirect.push(type_index)
                        }
                        Operator::RefFunc { function_index } => table.push(function_index),
                        // Function references: anything may be called.
                        Operator::CallRef { .. } | Operator::ReturnCallRef { .. } => writes = true,
                        _ => {}
                    }
                }
                bodies.push((writes, direct, indirect));
            }
            _ => {}
        }
    }
    let canon = |ty: u32| canonical.get(ty as usize).copied().unwrap_or(ty);
    let params = types
        .iter()
        .map(|&ty| type_params.get(ty as usize).copied().unwrap_or(0))
        .collect();
    // Imports may call back into the module; the rest until nothing changes.
    let mut changes: Vec<bool> = (0..types.len()).map(|f| f < imported).collect();
    let mut indirect_changes = HashSet::new();
    loop {
        let mut grew = false;
        for &f in &table {
            if changes.get(f as usize) == Some(&true) {
                grew |= indirect_changes.insert(canon(types[f as usize]));
            }
        }
        for (i, (writes, direct, indirect)) in bodies.iter().enumerate() {
            let f = imported + i;
            if !changes[f]
                && (*writes
                    || direct
                        .iter()
                        .any(|&g| changes.get(g as usize) == Some(&true))
                    || indirect
                        .iter()
                        .any(|&t| indirect_changes.contains(&canon(t))))
            {
                changes[f] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    Ok(Some(Module {
        state,
        params,
        changes,
        indirect_changes,
        canonical,
    }))
}

impl Module {
    /// Whether `op` may leave the state changed.
    fn may_change(&self, op: &Operator) -> bool {
        match *op {
            Operator::Call { function_index } => {
                self.changes.get(function_index as usize) != Some(&false)
            }
            Operator::CallIndirect { type_index, .. } => {
                let ty = self.canonical.get(type_index as usize).copied();
                ty.is_none_or(|ty| self.indirect_changes.contains(&ty))
            }
            Operator::CallRef { .. } => true,
            Operator::GlobalSet { global_index } => global_index == self.state,
            _ => false,
        }
    }

    /// Whether to rewrite `body`: it reads the state, and uses no exception
    /// handling (whose control flow step 3 does not follow; Rust's wasm
    /// targets abort on panic and have none).
    fn wants(&self, body: &FunctionBody) -> Result<bool> {
        let (mut reads, mut exceptions) = (false, false);
        let mut ops = body.get_operators_reader().map_err(err)?;
        while !ops.eof() {
            match ops.read().map_err(err)? {
                Operator::GlobalGet { global_index } => reads |= global_index == self.state,
                Operator::Try { .. }
                | Operator::TryTable { .. }
                | Operator::Catch { .. }
                | Operator::CatchAll
                | Operator::Delegate { .. }
                | Operator::Throw { .. }
                | Operator::ThrowRef
                | Operator::Rethrow { .. } => exceptions = true,
                _ => {}
            }
        }
        Ok(reads && !exceptions)
    }

    /// Steps 3 and 4 for function `index`.
    fn rewrite(&self, body: &FunctionBody, index: usize) -> Result<Function> {
        let mut locals = Vec::new();
        let mut local = *self.params.get(index).ok_or("a function of no type")?;
        for entry in body.get_locals_reader().map_err(err)? {
            let (n, ty) = entry.map_err(err)?;
            locals.push((n, RoundtripReencoder.val_type(ty).map_err(err)?));
            local += n;
        }
        locals.push((1, ValType::I32));
        let mut function = Function::new(locals);
        let mut flow = Flow::default();
        let mut ops = body.get_operators_reader().map_err(err)?;
        while !ops.eof() {
            let op = ops.read().map_err(err)?;
            if matches!(op, Operator::GlobalGet { global_index } if global_index == self.state) {
                if flow.stale {
                    function.instruction(&Instruction::GlobalGet(self.state));
                    function.instruction(&Instruction::LocalTee(local));
                    flow.stale = false;
                } else {
                    function.instruction(&Instruction::LocalGet(local));
                }
                continue;
            }
            flow.step(&op, self.may_change(&op));
            function.instruction(&RoundtripReencoder.instruction(op).map_err(err)?);
        }
        Ok(function)
    }
}

/// Step 3's bookkeeping: whether the local may be stale (the state may have
/// changed since it was last read) at the instruction at hand, on any path
/// that leads there.
struct Flow {
    stale: bool,
    /// The blocks around the instruction, innermost last.
    blocks: Vec<Block>,
}

struct Block {
    /// Branches to a loop go to its start, where the local counts as stale.
    is_loop: bool,
    /// An `if`: staleness at its start (where its `else`, or its end without
    /// one, is reached from), and whether it has had its `else`.
    at_if: Option<(bool, bool)>,
    /// Stale on some path that reaches the block's end.
    stale_at_end: bool,
}

impl Default for Flow {
    fn default() -> Flow {
        // The function's body is a block; the local starts unset.
        let body = Block {
            is_loop: false,
            at_if: None,
            stale_at_end: false,
        };
        Flow {
            stale: true,
            blocks: vec![body],
        }
    }
}

impl Flow {
    /// Tracks `op`, which may change the state if `changes`.
    fn step(&mut self, op: &Operator, changes: bool) {
        let stale = self.stale;
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                let is_loop = matches!(op, Operator::Loop { .. });
                let at_if = matches!(op, Operator::If { .. }).then_some((stale, false));
                self.blocks.push(Block {
                    is_loop,
                    at_if,
                    stale_at_end: false,
                });
                // A loop's start is also reached from its branches.
                self.stale |= is_loop;
            }
            Operator::Else => {
                if let Some(block) = self.blocks.last_mut() {
                    block.stale_at_end |= stale;
                    if let Some((at_if, had_else)) = &mut block.at_if {
                        *had_else = true;
                        self.stale = *at_if;
                    }
                }
            }
            Operator::End => {
                if let Some(block) = self.blocks.pop() {
                    let skipped = matches!(block.at_if, Some((true, false)));
                    self.stale = if block.is_loop {
                        stale
                    } else {
                        stale || block.stale_at_end || skipped
                    };
                }
            }
            Operator::Br { relative_depth } => {
                self.branch(*relative_depth);
                self.unreachable();
            }
            Operator::BrIf { relative_depth }
            | Operator::BrOnNull { relative_depth }
            | Operator::BrOnNonNull { relative_depth } => self.branch(*relative_depth),
            Operator::BrTable { targets } => {
                for depth in targets.targets().flatten().chain([targets.default()]) {
                    self.branch(depth);
                }
                self.unreachable();
            }
            Operator::Return
            | Operator::Unreachable
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. } => self.unreachable(),
            _ => {}
        }
        self.stale |= changes;
    }

    /// A branch out of the block `depth` levels out.
    fn branch(&mut self, depth: u32) {
        let at = self.blocks.len().checked_sub(1 + depth as usize);
        if let Some(block) = at.and_then(|at| self.blocks.get_mut(at)) {
            block.stale_at_end |= self.stale;
        }
    }

    /// Code after a branch or return is never run: it reaches no block end.
    fn unreachable(&mut self) {
        self.stale = false;
    }
}

/// The module with Asyncify's state read from locals, or `None` if it has no
/// Asyncify state (it did not go through the pass).
pub fn cache_in_locals(wasm: &[u8]) -> Result<Option<Vec<u8>>> {
    let Some(module) = analyze(wasm)? else {
        return Ok(None);
    };
    let mut out = wasm_encoder::Module::new();
    let mut code = CodeSection::new();
    let (mut index, mut code_end) = (module.params.len(), 0);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::CodeSectionStart { count, .. } => {
                index -= count as usize;
                code_end = module.params.len();
            }
            Payload::CodeSectionEntry(body) => {
                if module.wants(&body)? {
                    code.function(&module.rewrite(&body, index)?);
                } else {
                    let range = body.range();
                    code.raw(&wasm[range.start as usize..range.end as usize]);
                }
                index += 1;
                if index == code_end {
                    out.section(&code);
                }
            }
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&RawSection {
                        id,
                        data: &wasm[range.start as usize..range.end as usize],
                    });
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
    fn a_module_without_asyncify_is_left_alone() {
        let empty = wasm_encoder::Module::new().finish();
        assert!(cache_in_locals(&empty).unwrap().is_none());
    }

    #[test]
    fn a_module_for_the_js_host_is_left_alone() {
        let js = wat::parse_str(
            r#"(module
                (import "gosched_js" "now" (func (result f64)))
                (global $state (mut i32) (i32.const 0))
                (func (export "asyncify_get_state") (result i32) (global.get $state)))"#,
        )
        .unwrap();
        assert!(cache_in_locals(&js).unwrap().is_none());
    }

    /// A module as Asyncify leaves it: `f` reads the state around calls that
    /// change it (`set`) and that do not (`leaf`), and around control flow.
    fn asyncified() -> Vec<u8> {
        wat::parse_str(
            r#"(module
                (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (global $state (mut i32) (i32.const 0))
                (func $set (param i32) (global.set $state (local.get 0)))
                (func $leaf (result i32) (i32.const 7))
                (func $f (param i32) (result i32)
                    (local i64)
                    (drop (global.get $state))
                    (drop (call $leaf))
                    (drop (global.get $state))
                    (if (local.get 0) (then (call $set (i32.const 1))))
                    (drop (global.get $state))
                    (loop $again
                        (drop (global.get $state))
                        (br_if $again (local.get 0)))
                    (global.get $state))
                (func (export "asyncify_get_state") (result i32) (global.get $state)))"#,
        )
        .unwrap()
    }

    /// The locals and operators of the module's function `index`.
    fn function(wasm: &[u8], index: usize) -> (Vec<(u32, wasmparser::ValType)>, Vec<String>) {
        let body = Parser::new(0)
            .parse_all(wasm)
            .filter_map(|p| match p.unwrap() {
                Payload::CodeSectionEntry(body) => Some(body),
                _ => None,
            })
            .nth(index)
            .unwrap();
        let locals = body.get_locals_reader().unwrap().into_iter();
        let locals = locals.map(|l| l.unwrap()).collect();
        let mut ops = body.get_operators_reader().unwrap();
        let mut listed = Vec::new();
        while !ops.eof() {
            listed.push(format!("{:?}", ops.read().unwrap()));
        }
        (locals, listed)
    }

    #[test]
    fn reads_become_local_reads_reloaded_where_the_state_may_have_changed() {
        let out = cache_in_locals(&asyncified()).unwrap().unwrap();
        wasmparser::validate(&out).unwrap();
        let (locals, ops) = function(&out, 2);
        // Parameter 0, the i64 local 1, the state in local 2.
        use wasmparser::ValType::{I32, I64};
        assert_eq!(locals, [(1, I64), (1, I32)]);
        let load = [
            "GlobalGet { global_index: 0 }",
            "LocalTee { local_index: 2 }",
        ];
        let local = ["LocalGet { local_index: 2 }"];
        let expected = [
            &load[..],
            &["Drop", "Call { function_index: 2 }", "Drop"],
            // `leaf` cannot change the state.
            &local,
            &[
                "Drop",
                "LocalGet { local_index: 0 }",
                "If { blockty: Empty }",
            ],
            &["I32Const { value: 1 }", "Call { function_index: 1 }", "End"],
            // `set` may have run.
            &load,
            &["Drop", "Loop { blockty: Empty }"],
            // The loop's start is reached again from its end.
            &load,
            &[
                "Drop",
                "LocalGet { local_index: 0 }",
                "BrIf { relative_depth: 0 }",
                "End",
            ],
            &local,
            &["End"],
        ]
        .concat();
        assert_eq!(ops, expected);
        // `set` writes the state and reads nothing: left as it was.
        assert_eq!(function(&out, 0), function(&asyncified(), 0));
    }
}
