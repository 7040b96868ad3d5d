# gosched: the wasm32 stack switch for the Asyncify coroutine backend.
#
# Stable Rust cannot write the `__stack_pointer` global, so switching a
# goroutine's shadow stack in and out happens here. Assembled by
# asm/wasm32/rebuild.sh (clang --target=wasm32); build.rs links the prebuilt
# archive next to this file for every wasm32 target.
#
# Context layout (repr(C) `Ctx` in src/coro/asyncify.rs):
#    0 entry        function table index of the goroutine's entry, (i32) -> ()
#    4 sp           the goroutine's shadow stack pointer while switched out
#    8 state        0 running (or not started), 1 suspended, 2 done,
#                   3 Asyncify buffer overflowed during the last unwind
#   12 data.cur     Asyncify data: where the next saved frame goes
#   16 data.end     Asyncify data: end of the buffer
#
# Binaryen's Asyncify pass leaves functions that call its intrinsics
# uninstrumented: `gosched_asyncify_resume` (calls start_rewind/stop_unwind,
# the "bottom-most runtime") and `gosched_asyncify_suspend` (calls
# start_unwind/stop_rewind, the "top-most runtime"). Every Rust caller of the
# latter is instrumented.

	.globaltype	__stack_pointer, i32

# An import that only `wasm-opt --set-globals` (cargo-gosched) resolves: a
# module that skipped the Asyncify step then fails to instantiate, and the
# runtime's error names this import, which says what to run. Declared before
# the asyncify imports so that it is the first unresolved import; both
# functions read it, so that the linker keeps it whenever either is used.
	.globaltype	gosched_asyncify_marker, i32, immutable
	.import_module	gosched_asyncify_marker, gosched
	.import_name	gosched_asyncify_marker, ERROR.this_module_needs_wasm_opt_asyncify.run_cargo_gosched.or_see_gosched_README

	.functype	gosched_start_rewind (i32) -> ()
	.import_module	gosched_start_rewind, asyncify
	.import_name	gosched_start_rewind, start_rewind
	.functype	gosched_stop_unwind () -> ()
	.import_module	gosched_stop_unwind, asyncify
	.import_name	gosched_stop_unwind, stop_unwind
	.functype	gosched_start_unwind (i32) -> ()
	.import_module	gosched_start_unwind, asyncify
	.import_name	gosched_start_unwind, start_unwind
	.functype	gosched_stop_rewind () -> ()
	.import_module	gosched_stop_rewind, asyncify
	.import_name	gosched_stop_rewind, stop_rewind

# extern "C" fn gosched_asyncify_resume(ctx: *mut Ctx)
# Runs the goroutine on its own shadow stack until it suspends or returns.
# The switch, the call and the switch back live in one frameless function:
# a Rust function would restore the old SP from its own frame.
	.section	.text.gosched_asyncify_resume,"",@
	.globl	gosched_asyncify_resume
	.type	gosched_asyncify_resume,@function
gosched_asyncify_resume:
	.functype	gosched_asyncify_resume (i32) -> ()
	.local	i32
	global.get	gosched_asyncify_marker  # linked in wherever this is
	drop
	global.get	__stack_pointer          # the resumer's SP
	local.set	1
	local.get	0
	i32.load	4
	global.set	__stack_pointer          # onto the goroutine's stack
	local.get	0
	i32.load	8
	i32.const	1
	i32.eq
	if                                       # it suspended before: rewind
	local.get	0
	i32.const	12
	i32.add
	call	gosched_start_rewind
	end_if
	local.get	0
	local.get	0
	i32.load	0
	call_indirect	(i32) -> ()
	local.get	0
	i32.load	8
	i32.const	1
	i32.eq
	if                                       # it suspended: the unwind is over
	local.get	0
	i32.load	12
	local.get	0
	i32.load	16
	i32.gt_u
	if                                       # frames spilled past the buffer
	local.get	0
	i32.const	3
	i32.store	8
	local.get	0
	local.get	0
	i32.load	12
	i32.store	16                       # let stop_unwind's check pass
	end_if
	call	gosched_stop_unwind
	end_if
	local.get	0
	global.get	__stack_pointer
	i32.store	4                        # innermost instrumented frame's SP
	local.get	1
	global.set	__stack_pointer          # back to the resumer's stack
	end_function

# extern "C" fn gosched_asyncify_suspend(ctx: *mut Ctx)
# First call: start unwinding to gosched_asyncify_resume. Called again by the
# rewind: stop rewinding and return into the goroutine.
	.section	.text.gosched_asyncify_suspend,"",@
	.globl	gosched_asyncify_suspend
	.type	gosched_asyncify_suspend,@function
gosched_asyncify_suspend:
	.functype	gosched_asyncify_suspend (i32) -> ()
	global.get	gosched_asyncify_marker  # linked in wherever this is
	drop
	local.get	0
	i32.load	8
	i32.const	1
	i32.eq
	if
	call	gosched_stop_rewind
	local.get	0
	i32.const	0
	i32.store	8
	else
	local.get	0
	i32.const	1
	i32.store	8
	local.get	0
	i32.const	12
	i32.add
	call	gosched_start_unwind
	end_if
	end_function

# extern "C" fn gosched_asyncify_stop_unwind()
# Ends an unwind that came back to a goroutine's entry through a frame
# Asyncify left uninstrumented, so that src/coro/asyncify.rs can report it.
# Only called from that report (Asyncify leaves callers of stop_unwind
# uninstrumented, so it is kept out of the entry itself).
	.section	.text.gosched_asyncify_stop_unwind,"",@
	.globl	gosched_asyncify_stop_unwind
	.type	gosched_asyncify_stop_unwind,@function
gosched_asyncify_stop_unwind:
	.functype	gosched_asyncify_stop_unwind () -> ()
	global.get	gosched_asyncify_marker  # linked in wherever this is
	drop
	call	gosched_stop_unwind
	end_function
