//! Goroutine stacks on wasm32: carved from linear memory grown for them,
//! pooled per size.
//!
//! Linear memory has no guard pages, so each stack is one region laid out as
//!
//! ```text
//!  low  +--------------------+ <- ptr
//!       | canary (16 B)      |  checked after every switch
//!       +--------------------+ <- bottom
//!       | red zone           |  a suspend with SP in here reports overflow
//!       +--------------------+ <- bottom + RED_ZONE
//!       | Asyncify buffer -> |  saved frames, only while suspended
//!       |        ...         |
//!       | <- shadow stack    |  grows down from the top
//!  high +--------------------+ <- top
//! ```
//!
//! The Asyncify buffer and the shadow stack share the space: when a goroutine
//! suspends, its buffer may use everything below its live frames.
//! Both [`StackKind`]s get this layout; there is nothing to guard with.
//!
//! Under Asyncify, in a module with cargo-gosched's stack check, a stack
//! grows lazily instead: its goroutine starts on a first segment of
//! [`FIRST_SEGMENT`] bytes, carved densely (eight to a page), and cargo-
//! gosched's check puts a frame that does not fit there at the top of the
//! region above, which nothing touches until then (no canary is written in
//! it). A goroutine that parks with a few frames then holds an eighth of a
//! page instead of a page of its own (docs/wasm.md, "B6's first run").
//!
//! ```text
//!  low  +--------------------+ <- first segment
//!       | canary (16 B)      |
//!       | red zone (128 B)   |  LLVM's leaf functions write below the SP
//!       | <- shadow stack    |
//!  high +--------------------+ <- first segment + FIRST_SEGMENT
//! ```

use std::cell::{Cell, RefCell};
use std::io::{self, Write as _};
use std::ptr::NonNull;

/// Written at the low end of every stack; an overwritten canary means overflow.
const CANARY: [u32; 4] = [0x605c_4ed0, 0x57ac_4ed0, 0x6057_ac4e, 0xd060_5c4e];
const CANARY_BYTES: usize = 16;
/// Below this much free stack a suspending goroutine is reported as overflowed,
/// while the report can still run on its stack.
pub(crate) const RED_ZONE: usize = 4096;
/// Stack sizes are rounded to this granularity (a pool bucket each).
const GRANULE: usize = 4096;
/// Bytes of a first segment, canary included.
pub(crate) const FIRST_SEGMENT: usize = 512;
/// The first segment's red zone: LLVM lets a leaf function with a frame of
/// up to 128 bytes use the memory below the stack pointer without moving it.
const LEAF_RED_ZONE: usize = 128;
/// First segments are carved this many bytes at a time.
const FIRST_SEGMENT_BLOCK: usize = 64 * 1024;

/// Says that goroutine `id` (named `name`) overflowed its stack of
/// `stack_size` bytes, as natively, and aborts. Shared by both wasm backends.
/// Plain writes, no allocation: the heap below the stack may be damaged.
#[cold]
pub(crate) fn report_overflow_and_abort(id: u64, name: Option<&[u8]>, stack_size: usize) -> ! {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\nfatal error: stack overflow in goroutine {id}");
    if let Some(name) = name {
        let _ = err.write_all(b" \"");
        let _ = err.write_all(name);
        let _ = err.write_all(b"\"");
    }
    let _ = writeln!(
        err,
        " (stack size {} KiB; give it a larger stack with gosched::Builder::stack_size)",
        stack_size / 1024
    );
    drop(err);
    std::process::abort()
}

/// Rounds `n` up to a multiple of 4 KiB (the pool's bucket granularity).
pub(crate) fn round_to_page(n: usize) -> usize {
    n.max(GRANULE).div_ceil(GRANULE) * GRANULE
}

/// The stack kinds the runtime asks for. Linear memory cannot be protected,
/// so no wasm32 stack is guarded: both kinds get the same carve, checked by
/// a canary and a red zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StackKind {
    /// `Runtime::new`'s kind (guard-paged natively), canary-checked here.
    Checked,
    /// `Runtime::unguarded_stacks`' kind: the same as `Checked` here.
    Slab,
}

impl StackKind {
    /// What `Runtime::new` uses.
    pub(crate) const DEFAULT: StackKind = StackKind::Checked;
}

/// The stack check's bounds of a goroutine's two segments (`limit`, `span`:
/// `sp - limit > span`, unsigned, leaves the segment), as it reads them
/// (src/coro/asyncify.rs, `gosched_stack_bounds`); the first segment's are
/// 0, 0 if there is none.
#[repr(C)]
#[cfg_attr(gosched_stack_switching, allow(dead_code))]
pub(crate) struct Segments {
    pub(crate) first_limit: u32,
    pub(crate) first_span: u32,
    pub(crate) region_limit: u32,
    pub(crate) region_span: u32,
}

/// One goroutine stack of `size` usable bytes (plus canary and red zone),
/// with its first segment if it grows lazily. Its bounds are worked out once,
/// when it is carved, and go with it through the pool: a goroutine's context
/// holds its stack, and starting a goroutine copies them rather than
/// computing them again.
pub(crate) struct Stack {
    /// The region's and the first segment's bounds; the region's limit is
    /// its bottom plus the red zone, its span the usable size.
    segments: Segments,
    /// The canary: below the first segment if there is one (the region's
    /// pages stay untouched until a frame needs them, and the stack check
    /// bounds every frame there), else below the region.
    canary: NonNull<u8>,
    /// Where Asyncify unwinds the goroutine while it is on its first
    /// segment ([`scratch`]); the region's bottom if there is none.
    scratch: usize,
}

impl Stack {
    fn new(size: usize, lazy: bool) -> io::Result<Stack> {
        let out_of_memory = || {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "cannot allocate a {} KiB goroutine stack: wasm32 linear memory is \
                     limited to 4 GiB, of which stacks leave 256 MiB to the heap; give \
                     goroutines smaller stacks (Runtime::stack_size, Builder::stack_size) \
                     or keep fewer alive at once",
                    size / 1024
                ),
            )
        };
        // The first segment first: carves only go up, so it lies below the
        // region, as the stack check needs (cargo-gosched/src/
        // stack_check.rs: a frame from the first segment never lands in
        // the region unchecked).
        let first_segment = match lazy {
            true => Some(carve_first_segment().ok_or_else(out_of_memory)?),
            false => None,
        };
        let ptr = carve(size + CANARY_BYTES + RED_ZONE).ok_or_else(out_of_memory)?;
        let bottom = ptr.as_ptr() as usize + CANARY_BYTES;
        let (canary, first, scratch) = match first_segment {
            Some(canary) => {
                let at = canary.as_ptr() as usize;
                let first = (at + CANARY_BYTES + LEAF_RED_ZONE, at + FIRST_SEGMENT);
                (canary, first, scratch(RED_ZONE + size).unwrap_or(bottom))
            }
            None => (ptr, (0, 0), bottom),
        };
        let stack = Stack {
            segments: Segments {
                first_limit: first.0 as u32,
                first_span: (first.1 - first.0) as u32,
                region_limit: (bottom + RED_ZONE) as u32,
                region_span: size as u32,
            },
            canary,
            scratch,
        };
        stack.write_canary();
        Ok(stack)
    }

    /// The bounds of the first segment (lowest usable address, above canary
    /// and red zone, and its span; 0, 0 if the stack does not grow lazily)
    /// and of the region (its bottom plus the red zone, and the usable size).
    /// Below the first segment's lowest lies its red zone, then the canary.
    #[cfg_attr(gosched_stack_switching, allow(dead_code))]
    pub(crate) fn segments(&self) -> &Segments {
        &self.segments
    }

    /// The usable size this stack was requested with: its pool bucket.
    pub(crate) fn size(&self) -> usize {
        self.segments.region_span as usize
    }

    /// Where Asyncify unwinds the goroutine while it is on its first segment:
    /// a buffer as large as the region, shared with other stacks (the
    /// region's bottom if there is no first segment, or no scratch buffer).
    /// The stack-switching backend has no first segments.
    #[cfg_attr(gosched_stack_switching, allow(dead_code))]
    pub(crate) fn scratch(&self) -> usize {
        self.scratch
    }

    /// Lowest address the stack or Asyncify buffer may use (above the canary).
    pub(crate) fn bottom(&self) -> usize {
        self.segments.region_limit as usize - RED_ZONE
    }

    /// One past the highest address; the shadow stack starts here.
    pub(crate) fn top(&self) -> usize {
        (self.segments.region_limit + self.segments.region_span) as usize
    }

    fn canary(&self) -> *mut u32 {
        self.canary.as_ptr().cast()
    }

    fn write_canary(&self) {
        for (i, word) in CANARY.iter().enumerate() {
            // SAFETY: the first 16 bytes of the stack's region or first
            // segment, which it owns (carved once, never handed out again)
            // and which are 16-aligned.
            unsafe { self.canary().add(i).write_volatile(*word) };
        }
    }

    /// Whether the canary below the stack is intact.
    pub(crate) fn canary_intact(&self) -> bool {
        CANARY.iter().enumerate().all(|(i, word)| {
            // SAFETY: as in `write_canary`.
            unsafe { self.canary().add(i).read_volatile() == *word }
        })
    }
}

thread_local! {
    /// Free stacks by size. Pooled stacks are kept for the thread's lifetime,
    /// as natively: allocating a fresh one costs far more than reusing one.
    static POOL: RefCell<Vec<(usize, Vec<Stack>)>> = const { RefCell::new(Vec::new()) };
}

/// Bytes of linear memory a fresh chunk takes at least, and at most when
/// more is not needed for the stack at hand.
const MIN_CHUNK: usize = 1 << 20;
const MAX_CHUNK: usize = 64 << 20;
const WASM_PAGE: usize = 64 * 1024;
/// wasm32 linear memory's limit, in pages (4 GiB).
const MAX_PAGES: usize = 65_536;
/// Pages that stacks leave to the allocator (256 MiB): without them a flood of
/// goroutines would take the last of linear memory, and the next allocation
/// would abort the program instead of the goroutine waiting for a stack.
const HEAP_RESERVE_PAGES: usize = 4096;

thread_local! {
    /// The free end of the chunk stacks are carved from: `(next, end)`.
    static CHUNK: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Linear memory taken for stacks so far.
    static TAKEN: Cell<usize> = const { Cell::new(0) };
}

/// Carves `bytes` (a multiple of 16) for a stack out of linear memory that
/// the stacks own: grown directly with `memory.grow`, in chunks that double
/// up to [`MAX_CHUNK`], never freed (stacks are pooled for the program's
/// lifetime anyway). Growing a little for every stack through the allocator
/// costs V8 a copy of the whole memory per grow: 10k goroutines took seconds
/// to start under Node.
fn carve(bytes: usize) -> Option<NonNull<u8>> {
    debug_assert_eq!(bytes % 16, 0, "stacks stay 16-byte aligned");
    let (mut next, mut end) = CHUNK.get();
    if end - next < bytes {
        let want = TAKEN.get().clamp(MIN_CHUNK, MAX_CHUNK).max(bytes);
        let (start, pages) = match grow_for_stacks(want.div_ceil(WASM_PAGE)) {
            Some(grown) => grown,
            // Not that much left: try for just this stack.
            None => grow_for_stacks(bytes.div_ceil(WASM_PAGE))?,
        };
        TAKEN.set(TAKEN.get() + pages * WASM_PAGE);
        // Memory grown by the allocator in between breaks the chunk; the
        // old chunk's tail (smaller than one stack) is then left unused.
        if start != end {
            next = start;
        }
        end = start + pages * WASM_PAGE;
    }
    CHUNK.set((next + bytes, end));
    NonNull::new(next as *mut u8)
}

thread_local! {
    /// The free end of the block first segments are carved from: `(next, end)`.
    static FIRST_SEGMENTS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Where Asyncify unwinds a goroutine on its first segment: `(start, len)`.
    static SCRATCH: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Carves a first segment: contiguous with the previous one, so that eight
/// share a page.
fn carve_first_segment() -> Option<NonNull<u8>> {
    let (mut next, mut end) = FIRST_SEGMENTS.get();
    if next == end {
        next = carve(FIRST_SEGMENT_BLOCK)?.as_ptr() as usize;
        end = next + FIRST_SEGMENT_BLOCK;
    }
    FIRST_SEGMENTS.set((next + FIRST_SEGMENT, end));
    NonNull::new(next as *mut u8)
}

/// A buffer of at least `len` bytes (a multiple of 16) for Asyncify to
/// unwind a goroutine on its first segment into, before its saved frames are
/// copied out (src/coro/asyncify.rs): shared by all goroutines, so its pages
/// are touched once. `None` if linear memory is out.
fn scratch(len: usize) -> Option<usize> {
    let (start, have) = SCRATCH.get();
    if have >= len {
        return Some(start);
    }
    // Rare (a goroutine with a larger stack than all before): the old one
    // is left unused.
    let start = carve(len)?.as_ptr() as usize;
    SCRATCH.set((start, len));
    Some(start)
}

/// Grows linear memory by `pages` for stacks, unless that would leave the
/// allocator less than [`HEAP_RESERVE_PAGES`]; returns where they start.
fn grow_for_stacks(pages: usize) -> Option<(usize, usize)> {
    let now = core::arch::wasm32::memory_size(0);
    if now + pages > MAX_PAGES - HEAP_RESERVE_PAGES {
        return None;
    }
    match core::arch::wasm32::memory_grow(0, pages) {
        usize::MAX => None,
        old => Some((old * WASM_PAGE, pages)),
    }
}

/// Whether stacks grow lazily: under Asyncify, in a module that went through
/// cargo-gosched's stack check (which moves frames to the region).
#[cfg(not(gosched_stack_switching))]
use super::asyncify::stacks_grow as lazy_stacks;
/// The stack-switching backend has no stack check.
#[cfg(gosched_stack_switching)]
fn lazy_stacks() -> bool {
    false
}

/// Takes a stack of `size` usable bytes (already rounded) from the pool.
pub(crate) fn acquire(size: usize, _kind: StackKind) -> io::Result<Stack> {
    let pooled = POOL.with(|pool| {
        pool.borrow_mut()
            .iter_mut()
            .find(|(s, _)| *s == size)
            .and_then(|(_, free)| free.pop())
    });
    match pooled {
        Some(stack) => Ok(stack),
        None => Stack::new(size, lazy_stacks()),
    }
}

/// Returns a stack to this thread's pool, with a fresh canary (a goroutine
/// unwound at shutdown is not checked).
pub(crate) fn release(stack: Stack) {
    stack.write_canary();
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        match pool.iter_mut().find(|(s, _)| *s == stack.size()) {
            Some((_, free)) => free.push(stack),
            None => pool.push((stack.size(), vec![stack])),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_stacks_are_reused() {
        let size = round_to_page(20 * 1024);
        assert_eq!(size, 20 * 1024);
        let a = acquire(size, StackKind::Checked).unwrap();
        let top = a.top();
        assert_eq!(a.top() - a.bottom(), size + RED_ZONE);
        release(a);
        let b = acquire(size, StackKind::Slab).unwrap();
        assert_eq!(b.top(), top);
        release(b);
    }

    #[test]
    #[cfg(not(gosched_stack_switching))]
    fn first_segments_lie_below_their_regions() {
        // Enough stacks for three blocks of first segments.
        let stacks: Vec<_> = (0..3 * FIRST_SEGMENT_BLOCK / FIRST_SEGMENT)
            .map(|_| acquire(round_to_page(8 * 1024), StackKind::Checked).unwrap())
            .collect();
        for stack in stacks.iter().map(Stack::segments) {
            assert!(
                stack.first_limit + stack.first_span < stack.region_limit,
                "a first segment above its region"
            );
        }
        stacks.into_iter().for_each(release);
    }

    #[test]
    fn canary_detects_overwrite() {
        let s = acquire(round_to_page(1), StackKind::Checked).unwrap();
        assert!(s.canary_intact());
        // SAFETY: writes inside the stack's own canary.
        unsafe { s.canary().add(3).write_volatile(0) };
        assert!(!s.canary_intact());
        release(s);
        let again = acquire(round_to_page(1), StackKind::Checked).unwrap();
        assert!(again.canary_intact());
        release(again);
    }
}
