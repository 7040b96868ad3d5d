//! Post-link step for gosched's stack-switching backend (src/coro/stack_switch.rs).
//!
//!     gosched-stack-switch-patch IN.wasm OUT.wasm
//!
//! rustc and LLVM cannot emit the stack-switching proposal's instructions, so
//! the backend declares its two switch functions as imports from
//! `gosched_stack_switch` and this tool turns them into definitions:
//!
//! 1. Find the imports `resume` (`(i32) -> ()`, the goroutine's context) and
//!    `suspend` (`() -> ()`) (a module may use only one), LLVM's
//!    `__stack_pointer` global and the function table.
//! 2. Drop the imports and renumber every function reference (code,
//!    elements, exports, start, names): `wasm_encoder::reencode` does the walk.
//! 3. Append a continuation type, a tag, a table of suspended continuations
//!    (one slot per goroutine), a global naming the goroutine being started,
//!    and three functions:
//!    * `resume(ctx)`: installs the goroutine's shadow stack pointer, resumes
//!      the continuation in its slot (or `cont.new`s one on `start` for an
//!      empty slot) with a handler for the tag; when the goroutine suspends,
//!      stores the new continuation in the slot, saves the goroutine's stack
//!      pointer and restores the scheduler's.
//!    * `suspend()`: `suspend $tag`.
//!    * `start`: the body of every continuation, a loop: call the goroutine's
//!      entry through the function table, then suspend. A finished
//!      goroutine's continuation thus waits at the top of the loop, and the
//!      next goroutine given its slot reuses it: wasmtime 49 never frees a
//!      continuation (nor the stack it maps for it) before the store ends.
//!
//! Context layout (repr(C) `Switch` in src/coro/stack_switch.rs): offset 0
//! entry (function table index, `(i32) -> ()`), 4 the goroutine's shadow
//! stack pointer while switched out, 8 its continuation slot.

use std::borrow::Cow;

use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, ContType, ElementSection, Elements, FunctionSection,
    GlobalSection, GlobalType, Handle, HeapType, ImportSection, MemArg, Module, NameMap,
    NameSection, RefType, SectionId, TableSection, TableType, TagKind, TagSection, TagType,
    TypeSection, ValType,
};
use wasmparser::{Name, Parser, Payload, TypeRef};

const IMPORT_MODULE: &str = "gosched_stack_switch";
const CTX_ENTRY: u64 = 0;
const CTX_SP: u64 = 4;
const CTX_SLOT: u64 = 8;

type Error = Box<dyn std::error::Error>;

/// What the first pass learns about the linked module.
#[derive(Default)]
struct Scan {
    types: u32,
    /// Parameter and result counts of each function type (`None`: another
    /// kind of type), to check the imports' signatures.
    func_types: Vec<Option<(Vec<wasmparser::ValType>, usize)>>,
    imported_funcs: u32,
    defined_funcs: u32,
    resume: Option<u32>,
    suspend: Option<u32>,
    tables: u32,
    globals: u32,
    imported_globals: u32,
    first_defined_global_is_mut_i32: bool,
    tags: u32,
    has_tag_section: bool,
    has_element_section: bool,
    stack_pointer_by_name: Option<u32>,
}

fn scan(wasm: &[u8]) -> Result<Scan, Error> {
    let mut s = Scan::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(r) => {
                for group in r {
                    for ty in group?.into_types() {
                        s.types += 1;
                        s.func_types.push(match &ty.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                Some((f.params().to_vec(), f.results().len()))
                            }
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import?;
                    match import.ty {
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                            if import.module == IMPORT_MODULE {
                                let sig = s.func_types.get(ty as usize).cloned().flatten();
                                let i32_param = vec![wasmparser::ValType::I32];
                                let slot = match (import.name.split('.').next(), sig) {
                                    (Some("resume"), Some((p, 0))) if p == i32_param => &mut s.resume,
                                    (Some("suspend"), Some((p, 0))) if p.is_empty() => &mut s.suspend,
                                    _ => {
                                        return Err(format!(
                                            "unexpected import {IMPORT_MODULE}::{} (or its signature): \
                                             this tool and src/coro/stack_switch.rs disagree",
                                            import.name
                                        )
                                        .into())
                                    }
                                };
                                *slot = Some(s.imported_funcs);
                            }
                            s.imported_funcs += 1;
                        }
                        TypeRef::Table(_) => s.tables += 1,
                        TypeRef::Global(_) => s.globals += 1,
                        TypeRef::Tag(_) => s.tags += 1,
                        TypeRef::Memory(_) => {}
                    }
                }
                s.imported_globals = s.globals;
            }
            Payload::FunctionSection(r) => s.defined_funcs = r.count(),
            Payload::TableSection(r) => s.tables += r.count(),
            Payload::GlobalSection(r) => {
                if let Some(first) = r.clone().into_iter().next() {
                    let ty = first?.ty;
                    s.first_defined_global_is_mut_i32 =
                        ty.mutable && ty.content_type == wasmparser::ValType::I32;
                }
                s.globals += r.count();
            }
            Payload::TagSection(r) => {
                s.has_tag_section = true;
                s.tags += r.count();
            }
            Payload::ElementSection(_) => s.has_element_section = true,
            Payload::CustomSection(c) => {
                if let wasmparser::KnownCustom::Name(names) = c.as_known() {
                    for name in names {
                        if let Name::Global(map) = name? {
                            for naming in map {
                                let naming = naming?;
                                if naming.name == "__stack_pointer" {
                                    s.stack_pointer_by_name = Some(naming.index);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

/// The second pass: a reencoder that drops the two imports, renumbers
/// functions and appends the definitions.
struct Patch {
    /// The imports to define, by old function index: a module that never
    /// resumes (or never suspends) imports only the other one.
    resume_import: Option<u32>,
    suspend_import: Option<u32>,
    imported_funcs: u32,
    removed: u32,
    // New items' indices.
    ty_ctx_fn: u32,
    ty_unit_fn: u32,
    ty_cont: u32,
    func_resume: u32,
    func_suspend: u32,
    func_start: u32,
    func_stagger: u32,
    /// Largest extra call depth `start` adds before the loop (0: none).
    stagger: u32,
    table_conts: u32,
    global_current: u32,
    tag_switch: u32,
    // Existing items the new code uses.
    stack_pointer: u32,
    // What still has to be added where the module has no such section.
    tag_pending: bool,
    element_pending: bool,
}

impl Patch {
    fn new(s: &Scan, stagger: u32) -> Result<Patch, Error> {
        if s.resume.is_none() && s.suspend.is_none() {
            return Err("no `gosched_stack_switch` import: is this a module built with --cfg gosched_stack_switching?".into());
        }
        let removed = u32::from(s.resume.is_some()) + u32::from(s.suspend.is_some());
        let stack_pointer = match s.stack_pointer_by_name {
            Some(sp) => sp,
            // wasm-ld defines `__stack_pointer` first.
            None if s.first_defined_global_is_mut_i32 => s.imported_globals,
            None => {
                return Err(
                    "cannot find the `__stack_pointer` global (keep the name section)".into(),
                )
            }
        };
        if s.tables == 0 {
            return Err("the module has no function table".into());
        }
        let funcs = s.imported_funcs - removed + s.defined_funcs;
        Ok(Patch {
            resume_import: s.resume,
            suspend_import: s.suspend,
            imported_funcs: s.imported_funcs,
            removed,
            ty_ctx_fn: s.types,
            ty_unit_fn: s.types + 1,
            ty_cont: s.types + 2,
            func_resume: funcs,
            func_suspend: funcs + 1,
            func_start: funcs + 2,
            func_stagger: funcs + 3,
            stagger,
            table_conts: s.tables,
            global_current: s.globals,
            tag_switch: s.tags,
            stack_pointer,
            tag_pending: !s.has_tag_section,
            element_pending: !s.has_element_section,
        })
    }

    fn cont_ref(&self, nullable: bool) -> RefType {
        RefType {
            nullable,
            heap_type: HeapType::Concrete(self.ty_cont),
        }
    }

    fn add_tag(&self, tags: &mut TagSection) {
        tags.tag(TagType {
            kind: TagKind::Exception,
            func_type_idx: self.ty_unit_fn,
        });
    }

    fn add_element(&self, elements: &mut ElementSection) {
        elements.declared(Elements::Functions(Cow::Owned(vec![self.func_start])));
    }

    /// `resume(ctx)`: see the module header, step 3.
    fn resume_body(&self) -> wasm_encoder::Function {
        const CTX: u32 = 0;
        const SCHED_SP: u32 = 1;
        const K: u32 = 2;
        const SLOT: u32 = 3;
        let mem = |offset| MemArg {
            offset,
            align: 2,
            memory_index: 0,
        };
        let handlers = [Handle::OnLabel {
            tag: self.tag_switch,
            label: 0,
        }];
        let mut f = wasm_encoder::Function::new([
            (1, ValType::I32),
            (1, ValType::Ref(self.cont_ref(true))),
            (1, ValType::I32),
        ]);
        f.instructions()
            // The scheduler's shadow stack pointer, then the goroutine's.
            .global_get(self.stack_pointer)
            .local_set(SCHED_SP)
            .local_get(CTX)
            .i32_load(mem(CTX_SP))
            .global_set(self.stack_pointer)
            // `start` reads which goroutine it runs from here.
            .local_get(CTX)
            .global_set(self.global_current)
            .local_get(CTX)
            .i32_load(mem(CTX_SLOT))
            .local_set(SLOT)
            .block(BlockType::Result(ValType::Ref(self.cont_ref(false))))
            // k = slot < table.size ? table[slot] : null
            .local_get(SLOT)
            .table_size(self.table_conts)
            .i32_lt_u()
            .if_(BlockType::Result(ValType::Ref(self.cont_ref(true))))
            .local_get(SLOT)
            .table_get(self.table_conts)
            .else_()
            .ref_null(HeapType::Concrete(self.ty_cont))
            .end()
            .local_tee(K)
            .ref_is_null()
            .if_(BlockType::Empty)
            .ref_func(self.func_start)
            .cont_new(self.ty_cont)
            .local_set(K)
            .end()
            .local_get(K)
            .resume(self.ty_cont, handlers)
            // `start` loops forever: a continuation never returns.
            .unreachable()
            .end()
            // Suspended: keep the continuation in the goroutine's slot.
            .local_set(K)
            .local_get(SLOT)
            .table_size(self.table_conts)
            .i32_ge_u()
            .if_(BlockType::Empty)
            .ref_null(HeapType::Concrete(self.ty_cont))
            .local_get(SLOT)
            .i32_const(1)
            .i32_add()
            .table_grow(self.table_conts)
            .i32_const(-1)
            .i32_eq()
            .if_(BlockType::Empty)
            .unreachable()
            .end()
            .end()
            .local_get(SLOT)
            .local_get(K)
            .table_set(self.table_conts)
            .local_get(CTX)
            .global_get(self.stack_pointer)
            .i32_store(mem(CTX_SP))
            .local_get(SCHED_SP)
            .global_set(self.stack_pointer)
            .end();
        f
    }

    fn suspend_body(&self) -> wasm_encoder::Function {
        let mut f = wasm_encoder::Function::new([]);
        f.instructions().suspend(self.tag_switch).end();
        f
    }

    /// `start`: the body of every continuation. Enters the loop below
    /// `stagger(depth)` calls, the depth varying with the slot: every
    /// continuation's stack is mapped page-aligned, so without it the hot
    /// frames of all goroutines share the same cache sets.
    fn start_body(&self) -> wasm_encoder::Function {
        let mut f = wasm_encoder::Function::new([]);
        f.instructions()
            .global_get(self.global_current)
            .i32_load(MemArg {
                offset: CTX_SLOT,
                align: 2,
                memory_index: 0,
            })
            .i32_const(37)
            .i32_mul()
            .i32_const(self.stagger as i32)
            .i32_rem_u()
            .call(self.func_stagger)
            .end();
        f
    }

    /// `stagger(n)`: `n` nested calls, then the loop: run the goroutine's
    /// entry, suspend, and again for the next goroutine given this slot.
    fn stagger_body(&self) -> wasm_encoder::Function {
        let mut f = wasm_encoder::Function::new([]);
        f.instructions()
            .local_get(0)
            .if_(BlockType::Empty)
            .local_get(0)
            .i32_const(1)
            .i32_sub()
            .call(self.func_stagger)
            .return_()
            .end()
            .loop_(BlockType::Empty)
            .global_get(self.global_current)
            .global_get(self.global_current)
            .i32_load(MemArg {
                offset: CTX_ENTRY,
                align: 2,
                memory_index: 0,
            })
            .call_indirect(0, self.ty_ctx_fn)
            .suspend(self.tag_switch)
            .br(0)
            .end()
            .end();
        f
    }
}

fn rank(id: Option<SectionId>) -> u8 {
    match id {
        Some(SectionId::Type) => 1,
        Some(SectionId::Import) => 2,
        Some(SectionId::Function) => 3,
        Some(SectionId::Table) => 4,
        Some(SectionId::Memory) => 5,
        Some(SectionId::Tag) => 6,
        Some(SectionId::Global) => 7,
        Some(SectionId::Export) => 8,
        Some(SectionId::Start) => 9,
        Some(SectionId::Element) => 10,
        Some(SectionId::DataCount) => 11,
        Some(SectionId::Code) => 12,
        Some(SectionId::Data) => 13,
        _ => u8::MAX,
    }
}

impl Reencode for Patch {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, f: u32) -> Result<u32, reencode::Error> {
        let below = |import: Option<u32>| u32::from(import.is_some_and(|i| i < f));
        Ok(if Some(f) == self.resume_import {
            self.func_resume
        } else if Some(f) == self.suspend_import {
            self.func_suspend
        } else if f < self.imported_funcs {
            f - below(self.resume_import) - below(self.suspend_import)
        } else {
            f - self.removed
        })
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_type_section(self, types, section)?;
        types.ty().function([ValType::I32], []);
        types.ty().function([], []);
        types.ty().cont(&ContType(self.ty_unit_fn));
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        for import in section.into_imports() {
            let import = import?;
            if import.module != IMPORT_MODULE {
                imports.import(import.module, import.name, self.entity_type(import.ty)?);
            }
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_function_section(self, functions, section)?;
        functions.function(self.ty_ctx_fn);
        functions.function(self.ty_unit_fn);
        functions.function(self.ty_unit_fn);
        functions.function(self.ty_ctx_fn);
        Ok(())
    }

    fn parse_table_section(
        &mut self,
        tables: &mut TableSection,
        section: wasmparser::TableSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_table_section(self, tables, section)?;
        tables.table(TableType {
            element_type: self.cont_ref(true),
            table64: false,
            minimum: 0,
            maximum: None,
            shared: false,
        });
        Ok(())
    }

    fn parse_tag_section(
        &mut self,
        tags: &mut TagSection,
        section: wasmparser::TagSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_tag_section(self, tags, section)?;
        self.add_tag(tags);
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_global_section(self, globals, section)?;
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(0),
        );
        Ok(())
    }

    fn parse_element_section(
        &mut self,
        elements: &mut ElementSection,
        section: wasmparser::ElementSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_element_section(self, elements, section)?;
        self.add_element(elements);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_code_section(self, code, section)?;
        code.function(&self.resume_body());
        code.function(&self.suspend_body());
        code.function(&self.start_body());
        code.function(&self.stagger_body());
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), reencode::Error> {
        if self.tag_pending && rank(before) > rank(Some(SectionId::Tag)) {
            let mut tags = TagSection::new();
            self.add_tag(&mut tags);
            module.section(&tags);
            self.tag_pending = false;
        }
        if self.element_pending && rank(before) > rank(Some(SectionId::Element)) {
            let mut elements = ElementSection::new();
            self.add_element(&mut elements);
            module.section(&elements);
            self.element_pending = false;
        }
        Ok(())
    }

    fn parse_custom_name_subsection(
        &mut self,
        names: &mut NameSection,
        section: Name<'_>,
    ) -> Result<(), reencode::Error> {
        match section {
            // Renumbered functions: name maps must stay sorted by index.
            Name::Function(map) => {
                let mut sorted = Vec::new();
                for naming in map {
                    let naming = naming?;
                    sorted.push((self.function_index(naming.index)?, naming.name.to_string()));
                }
                sorted.push((self.func_start, "gosched_stack_switch_start".into()));
                sorted.push((self.func_stagger, "gosched_stack_switch_stagger".into()));
                sorted.sort();
                let mut out = NameMap::new();
                for (i, name) in &sorted {
                    out.append(*i, name);
                }
                names.functions(&out);
            }
            // Local and label names are per function; rustc emits none in
            // release builds. Dropped rather than re-sorted.
            Name::Local(_) | Name::Label(_) => {}
            other => reencode::utils::parse_custom_name_subsection(self, names, other)?,
        }
        Ok(())
    }
}

fn patch(wasm: &[u8], stagger: u32) -> Result<Vec<u8>, Error> {
    let scan = scan(wasm)?;
    let mut patch = Patch::new(&scan, stagger)?;
    let mut module = Module::new();
    patch
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| format!("re-encoding the module: {e}"))?;
    let out = module.finish();
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator
        .validate_all(&out)
        .map_err(|e| format!("the patched module does not validate (a bug in this tool): {e}"))?;
    Ok(out)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // --stagger=N: spread the continuations' hot frames over N call depths
    // (1: not at all).
    let mut stagger = 16;
    if let Some(pos) = args.iter().position(|a| a.starts_with("--stagger=")) {
        stagger = match args.remove(pos)["--stagger=".len()..].parse() {
            Ok(n) if n >= 1 => n,
            _ => {
                eprintln!("gosched-stack-switch-patch: --stagger takes a count >= 1");
                std::process::exit(2);
            }
        };
    }
    if args.len() != 2 {
        eprintln!("usage: gosched-stack-switch-patch [--stagger=N] IN.wasm OUT.wasm");
        std::process::exit(2);
    }
    let result = std::fs::read(&args[0])
        .map_err(Error::from)
        .and_then(|wasm| patch(&wasm, stagger))
        .and_then(|out| std::fs::write(&args[1], out).map_err(Error::from));
    if let Err(e) = result {
        eprintln!("gosched-stack-switch-patch: {}: {e}", args[0]);
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{ExternalKind, Operator};

    /// A module shaped like wasm-ld's output: the switch imports between
    /// two others, `__stack_pointer` first, a function table.
    const LINKED: &str = r#"
        (module
          (type $ctx_fn (func (param i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (import "gosched_stack_switch" "resume.ERROR.x" (func $resume (type $ctx_fn)))
          (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
          (import "gosched_stack_switch" "suspend.ERROR.x" (func $suspend))
          (memory (export "memory") 1)
          (table $fns 2 funcref)
          (global $__stack_pointer (mut i32) (i32.const 65536))
          (elem (table $fns) (i32.const 1) func $entry)
          (func $entry (type $ctx_fn)
            (call $suspend)
            (drop (call $sched_yield)))
          (func $main (export "_start")
            (i32.store offset=0 (i32.const 16) (i32.const 1))
            (call $resume (i32.const 16))
            (call $exit (i32.const 0))))
    "#;

    /// Function indices called by the exported `_start`.
    fn calls_of_start(wasm: &[u8]) -> (u32, Vec<u32>) {
        let mut imported = 0;
        let mut start = None;
        let mut bodies = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.unwrap() {
                Payload::ImportSection(r) => {
                    for import in r.into_imports() {
                        if matches!(import.unwrap().ty, TypeRef::Func(_)) {
                            imported += 1;
                        }
                    }
                }
                Payload::ExportSection(r) => {
                    for export in r {
                        let export = export.unwrap();
                        if export.name == "_start" && export.kind == ExternalKind::Func {
                            start = Some(export.index);
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => bodies.push(body),
                _ => {}
            }
        }
        let body = &bodies[(start.unwrap() - imported) as usize];
        let mut calls = Vec::new();
        let mut ops = body.get_operators_reader().unwrap();
        while !ops.eof() {
            if let Operator::Call { function_index } = ops.read().unwrap() {
                calls.push(function_index);
            }
        }
        (imported, calls)
    }

    #[test]
    fn imports_become_definitions_and_calls_are_renumbered() {
        let linked = wat::parse_str(LINKED).unwrap();
        let patched = patch(&linked, 16).unwrap();
        let scanned = scan(&patched).unwrap();
        assert_eq!((scanned.resume, scanned.suspend), (None, None));
        // Before: exit 0, resume 1, sched_yield 2, suspend 3, entry 4, main 5.
        assert_eq!(calls_of_start(&linked), (4, vec![1, 0]));
        // After: exit 0, sched_yield 1, entry 2, main 3, then the appended
        // resume 4, suspend 5, start 6, stagger 7.
        assert_eq!(calls_of_start(&patched), (2, vec![4, 0]));
        // `patch` validated the result with the stack-switching proposal on.
    }

    #[test]
    fn a_module_importing_only_suspend_is_patched() {
        let text = LINKED
            .replace(
                r#"(import "gosched_stack_switch" "resume.ERROR.x" (func $resume (type $ctx_fn)))"#,
                "",
            )
            .replace(
                "(call $resume (i32.const 16))",
                "(call $entry (i32.const 16))",
            );
        let linked = wat::parse_str(text).unwrap();
        let patched = patch(&linked, 1).unwrap();
        // exit 0, sched_yield 1, entry 2, main 3.
        assert_eq!(calls_of_start(&patched), (2, vec![2, 0]));
    }

    #[test]
    fn a_wrong_signature_is_refused() {
        let wrong = LINKED.replace(
            r#"(import "gosched_stack_switch" "suspend.ERROR.x" (func $suspend))"#,
            r#"(import "gosched_stack_switch" "suspend.ERROR.x" (func $suspend (param i32)))"#,
        );
        let wrong = wrong.replace("(call $suspend)", "(call $suspend (i32.const 0))");
        let err = patch(&wat::parse_str(wrong).unwrap(), 16).unwrap_err();
        assert!(err.to_string().contains("disagree"), "{err}");
    }

    #[test]
    fn a_module_without_the_imports_is_refused() {
        let err = patch(&wat::parse_str("(module)").unwrap(), 16).unwrap_err();
        assert!(
            err.to_string().contains("no `gosched_stack_switch` import"),
            "{err}"
        );
    }
}
