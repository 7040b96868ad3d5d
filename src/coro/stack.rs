//! Goroutine stacks and their per-thread pool.
//!
//! Two kinds, chosen per runtime ([`crate::Runtime::unguarded_stacks`]), both
//! carved from chunks that map [`CHUNK_STACKS`] stacks at once:
//!
//! ```text
//!  guarded (default): a guard under each       slab: canaries, one guard per chunk
//!
//!  high +-------------------+ <- base         +-------------------+ <- base
//!       |  colour: 0-3 KiB  |                 |                   |
//!       +- - - - - - - - - -+ <- top          |                   |
//!       |  usable stack     |  grows down     |  usable stack     |
//!       |                   |                 |                   |
//!       +-------------------+                 +-------------------+
//!       |  guard page       |  fault =        |  canary words     |  checked at
//!       |                   |  overflow       |                   |  every switch
//!  low  +-------------------+ <- limit        +-------------------+ <- limit
//!       |  stack below ...  |                 |  stack below ...  |
//! ```
//!
//! Slab stacks are shifted half a page, so that the page holding a canary is
//! also the page holding the first-used top of the stack below: a goroutine
//! that needs under half a page of stack costs one resident page, as with
//! guarded stacks. Guarded stacks get a page more than their size instead, and
//! start a cache line lower for each stack carved ([`Stack::top`]), so that
//! the top frames of many goroutines spread over the CPU caches' sets.
//!
//! A stack's life:
//!
//! 1. `acquire` pops the newest free stack of the size and kind (the one most
//!    likely still in cache); with none free it carves the next one from the
//!    bucket's chunk, mapping a new chunk (one `mmap`) when that is used up.
//! 2. Carving a stack that is not prepared yet prepares it and the next few
//!    of the chunk together (as many as the bucket has carved so far, at
//!    most [`PREPARE_MAX`]): their guard pages are installed (guarded) and
//!    their top pages populated, each in one system call (`process_madvise`,
//!    Linux 6.15+; else a `madvise` per page). Carving a slab stack then
//!    writes its canary, into the populated top page of the stack below.
//!    Every goroutine writes its first frame into its top page, and
//!    populating it costs less than the page fault it replaces (1.0–1.1
//!    against 1.3–1.4 µs on the VM of docs/benchmarks.md). Nothing else of
//!    the chunk is touched: its other pages are faulted in by the goroutines
//!    that use them, and a bucket holds fewer prepared stacks that were never
//!    handed out than it has handed out, and never more than `PREPARE_MAX`.
//! 3. `release` puts the stack back on its bucket's free list; the pool keeps
//!    every stack and chunk for the thread's lifetime.
//!
//! A guard page is a guard region (`MADV_GUARD_INSTALL`, Linux 6.13+): a
//! marker in the page table, with no kernel mapping of its own. On older
//! kernels it is an `mprotect(PROT_NONE)` page, which splits the mapping:
//! two kernel mappings per stack, so `vm.max_map_count` (65,530 by default)
//! caps a process near 32k stacks. [`MapBudget`] stops short of that cap, so
//! that the allocator, which needs mappings too, keeps working. Slab stacks
//! share two mappings per chunk, so a million fit on every kernel, at the price
//! of detecting overflow after the fact (see `Runtime::unguarded_stacks`).

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Written at the low end of a slab stack; an overwritten canary means overflow.
const CANARY: u64 = 0x60_5c_4e_d0_57_ac_4e_d0;
/// Number of canary words at the bottom of a slab stack.
const CANARY_WORDS: usize = 4;
/// Stacks mapped at once (fewer for stacks so large that 64 would pass
/// [`CHUNK_BYTES`]).
const CHUNK_STACKS: usize = 64;
/// Address space a chunk spans at most, unless one stack needs more.
const CHUNK_BYTES: usize = 64 << 20;
/// `madvise` advice that installs a guard region (Linux 6.13+,
/// include/uapi/asm-generic/mman-common.h); not yet in the libc crate.
const MADV_GUARD_INSTALL: libc::c_int = 102;
/// Stacks prepared at once at most (step 2 of the module docs).
const PREPARE_MAX: usize = 16;
/// `madvise` advice that faults pages in writable (Linux 5.14+); no advice
/// elsewhere, which `madvise` refuses.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MADV_POPULATE_WRITE: libc::c_int = libc::MADV_POPULATE_WRITE;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const MADV_POPULATE_WRITE: libc::c_int = -1;
/// Guarded stacks start up to this many bytes below the top of their region,
/// one cache line further for each stack carved (see `Stack::top`).
const COLOR_SPAN: usize = 3072;
/// The step between two stacks' starting points: one cache line.
const COLOR_STEP: usize = 64;
/// Kernel mappings left to the rest of the process (allocator, libraries,
/// threads) when guards fall back to `mprotect`.
const MAP_COUNT_HEADROOM: usize = 8192;

/// Rounds `n` up to a multiple of the page size.
pub(crate) fn round_to_page(n: usize) -> usize {
    let page = page_size();
    n.max(page).div_ceil(page) * page
}

fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).unwrap_or(4096)
    })
}

/// How a stack detects overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StackKind {
    /// A guard page below the stack; the fault handler names the goroutine.
    Guarded,
    /// Canary words at the bottom, checked when the goroutine switches out.
    Slab,
}

impl StackKind {
    /// What `Runtime::new` uses.
    pub(crate) const DEFAULT: StackKind = StackKind::Guarded;
}

/// Where a stack lies; `Copy`, so checks need not borrow the coroutine.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    limit: usize,
    reserved: usize,
    /// The requested stack size, for messages.
    pub(crate) size: usize,
    kind: StackKind,
}

impl Bounds {
    /// The address range below the usable stack: touching it is an overflow.
    pub(crate) fn overflow_zone(&self) -> (usize, usize) {
        (self.limit, self.limit + self.reserved)
    }

    /// Whether the canary of a slab stack is intact (always true when guarded).
    pub(crate) fn canary_intact(&self) -> bool {
        match self.kind {
            StackKind::Guarded => true,
            StackKind::Slab => {
                let words = self.limit as *const u64;
                // SAFETY: the canary words lie inside the stack's region, which
                // stays mapped while the stack exists (its owner holds these
                // bounds only while it owns the stack), and are 8-byte aligned
                // because `limit` is page aligned.
                (0..CANARY_WORDS).all(|i| unsafe { words.add(i).read_volatile() } == CANARY)
            }
        }
    }
}

/// One goroutine stack: memory of a chunk of the pool. Owned by a coroutine
/// while it runs, by the pool otherwise.
pub(crate) struct Stack {
    /// Lowest address of the region (the guard page or the canary words).
    limit: usize,
    /// Highest address of the region, exclusive.
    base: usize,
    /// Where the stack starts, growing down: for guarded stacks a different
    /// cache line of the top page for each stack (its "colour"), so that the
    /// hot top frames of many goroutines do not all compete for the same few
    /// sets of the CPU caches (B7, a ring of 1000 goroutines, took 1.9x as
    /// long with every stack starting at a page boundary). Guarded regions
    /// have a page more than their size to make room for it.
    top: usize,
    kind: StackKind,
}

impl Stack {
    /// The size this stack was requested with: its pool bucket.
    pub(crate) fn size(&self) -> usize {
        self.base - self.limit - self.kind.below_stack() - self.kind.above_stack()
    }

    /// A copy of where this stack lies, for checks while a coroutine owns it.
    pub(crate) fn bounds(&self) -> Bounds {
        Bounds {
            limit: self.limit,
            reserved: match self.kind {
                StackKind::Guarded => page_size(),
                StackKind::Slab => CANARY_WORDS * 8,
            },
            size: self.size(),
            kind: self.kind,
        }
    }

    #[cfg(test)]
    fn canary_intact(&self) -> bool {
        self.bounds().canary_intact()
    }

    fn write_canary(&self) {
        let words = self.limit as *mut u64;
        for i in 0..CANARY_WORDS {
            // SAFETY: as in `canary_intact`; the stack is not in use by any
            // coroutine while it is being (re)initialised.
            unsafe { words.add(i).write_volatile(CANARY) };
        }
    }
}

impl StackKind {
    /// Bytes of a stack's region below its size: the guard page.
    fn below_stack(self) -> usize {
        match self {
            StackKind::Guarded => page_size(),
            StackKind::Slab => 0,
        }
    }

    /// Bytes of a stack's region above its size: room for its colour.
    fn above_stack(self) -> usize {
        match self {
            StackKind::Guarded => page_size(),
            StackKind::Slab => 0,
        }
    }
}

// SAFETY: `base` and `limit` delimit memory this `Stack` owns exclusively (a
// chunk hands each region out once, and the pool keeps chunks mapped while any
// stack of theirs exists), with `limit` the low end of the overflow zone, both
// page aligned (so aligned to STACK_ALIGNMENT). Guarded stacks have the guard
// page the contract asks for. Slab stacks do not: the runtime only creates
// them after the user promised, through the `unsafe fn
// Runtime::unguarded_stacks`, that goroutines stay within their stack, and the
// canary turns a broken promise into an abort at the next switch.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.top).expect("stack top is non-null")
    }

    fn limit(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.limit).expect("stack limit is non-null")
    }
}

/// Maps `len` bytes of fresh, lazily committed, read-write memory.
fn map_anonymous(len: usize) -> io::Result<*mut libc::c_void> {
    // SAFETY: an anonymous private mapping with no address hint aliases
    // nothing; the result is checked for MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "cannot map goroutine stacks ({err}): out of address space or memory; \
                 give goroutines smaller stacks (Runtime::stack_size, Builder::stack_size) \
                 or keep fewer alive at once"
            ),
        ))
    } else {
        Ok(ptr)
    }
}

/// Set once `MADV_GUARD_INSTALL` failed: guards are `mprotect`ed from then on.
static NO_GUARD_REGIONS: AtomicBool = AtomicBool::new(false);

/// Makes the page at `page` a guard page: a guard region if the kernel has
/// them, else `PROT_NONE` within `budget`.
fn install_guard(page: usize, budget: &mut MapBudget) -> io::Result<()> {
    let ptr = page as *mut libc::c_void;
    if !NO_GUARD_REGIONS.load(Ordering::Relaxed) {
        // SAFETY: `page` is a page of a chunk this pool mapped, and no stack
        // is handed out over it.
        if unsafe { libc::madvise(ptr, page_size(), MADV_GUARD_INSTALL) } == 0 {
            return Ok(());
        }
        // EINVAL: a kernel before 6.13. Anything else is as unexpected there.
        NO_GUARD_REGIONS.store(true, Ordering::Relaxed);
    }
    budget.take_two()?;
    // SAFETY: as above.
    if unsafe { libc::mprotect(ptr, page_size(), libc::PROT_NONE) } != 0 {
        return Err(budget.exhausted(io::Error::last_os_error()));
    }
    Ok(())
}

/// Step 2 for `count` stacks of `kind`, `stride` bytes apart, the first at
/// `first`: installs their guard pages (guarded stacks) and populates the
/// page each one's first frame goes to (for slab stacks also the page of the
/// canary of the stack above). Returns how many it prepared.
fn prepare(
    kind: StackKind,
    first: usize,
    stride: usize,
    count: usize,
    budget: &mut MapBudget,
) -> io::Result<usize> {
    let page = page_size();
    let count = match kind {
        StackKind::Guarded if NO_GUARD_REGIONS.load(Ordering::Relaxed) => {
            // mprotect guards each cost two mappings of the budget: install
            // only the stack being handed out, as before batching.
            install_guard(first, budget)?;
            1
        }
        StackKind::Guarded => {
            let guards = (0..count).map(|i| first + i * stride);
            if advise_all(guards.clone(), MADV_GUARD_INSTALL) {
                count
            } else {
                let mut installed = 0;
                for guard in guards {
                    install_guard(guard, budget)?;
                    installed += 1;
                    if NO_GUARD_REGIONS.load(Ordering::Relaxed) {
                        break; // found out just now: as above
                    }
                }
                installed
            }
        }
        StackKind::Slab => count,
    };
    // The page below each stack's base (not page aligned for slab stacks).
    let tops = (0..count).map(|i| (first + (i + 1) * stride - 1) & !(page - 1));
    if !advise_all(tops.clone(), MADV_POPULATE_WRITE) {
        for top in tops {
            // SAFETY: a page of a chunk this pool mapped, read-write, that no
            // stack handed out yet uses: populating it changes no contents.
            if unsafe { libc::madvise(top as *mut libc::c_void, page, MADV_POPULATE_WRITE) } != 0 {
                // Before Linux 5.14, out of memory, or not Linux: the
                // goroutine's first frame faults the page in instead.
                break;
            }
        }
    }
    Ok(count)
}

/// Set once `process_madvise` on this process failed: one `madvise` per page
/// from then on.
#[cfg(any(target_os = "linux", target_os = "android"))]
static NO_PROCESS_MADVISE: AtomicBool = AtomicBool::new(false);

/// Gives `advice` for every page at `pages` in one `process_madvise` on this
/// process (`PIDFD_SELF`, Linux 6.15+; any advice on oneself since 6.13).
/// Whether all of them took it; if not, the caller repeats the advice page by
/// page (both advices used here may be given twice).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn advise_all(pages: impl ExactSizeIterator<Item = usize>, advice: libc::c_int) -> bool {
    /// include/uapi/linux/pidfd.h: the calling thread, without a pidfd.
    const PIDFD_SELF: libc::c_int = -10_000;
    let count = pages.len();
    debug_assert!(count <= PREPARE_MAX, "one vector holds a batch");
    if count <= 1 || NO_PROCESS_MADVISE.load(Ordering::Relaxed) {
        return false;
    }
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; PREPARE_MAX];
    for (slot, page) in iov.iter_mut().zip(pages) {
        *slot = libc::iovec {
            iov_base: page as *mut libc::c_void,
            iov_len: page_size(),
        };
    }
    // SAFETY: the vector names `count` (at most PREPARE_MAX) whole pages of
    // chunks this pool mapped, none in use by a stack handed out; both advices
    // used here change no memory a program can see.
    let done = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            iov.as_ptr(),
            count,
            advice,
            0,
        )
    };
    if done < 0 {
        // EBADF before PIDFD_SELF (6.15), EINVAL for advice on oneself before
        // 6.13, ENOSYS before 5.10; ENOMEM says nothing about the kernel.
        if io::Error::last_os_error().raw_os_error() != Some(libc::ENOMEM) {
            NO_PROCESS_MADVISE.store(true, Ordering::Relaxed);
        }
        return false;
    }
    done as usize == count * page_size()
}

/// `process_madvise` is Linux's.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn advise_all(_pages: impl ExactSizeIterator<Item = usize>, _advice: libc::c_int) -> bool {
    false
}

/// Kernel mappings that `mprotect` guards may still create.
struct MapBudget {
    left: Option<usize>,
}

impl MapBudget {
    /// Counts two mappings for one more `mprotect` guard inside a chunk.
    fn take_two(&mut self) -> io::Result<()> {
        let left = self
            .left
            .get_or_insert_with(|| max_map_count().saturating_sub(MAP_COUNT_HEADROOM));
        match left.checked_sub(2) {
            Some(rest) => {
                *left = rest;
                Ok(())
            }
            None => Err(self.exhausted(io::Error::from_raw_os_error(libc::ENOMEM))),
        }
    }

    fn exhausted(&self, err: io::Error) -> io::Error {
        let max = max_map_count();
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "cannot map a goroutine stack ({err}): on this kernel (before Linux 6.13) \
                 a guarded stack costs two kernel mappings, and vm.max_map_count ({max}) \
                 allows about {} of them; raise it (sysctl vm.max_map_count), or run with \
                 Runtime::unguarded_stacks",
                max / 2
            ),
        )
    }
}

fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530)
}

/// Free stacks of one size and kind, and the part of their newest chunk not
/// carved yet.
struct Bucket {
    size: usize,
    kind: StackKind,
    free: Vec<Stack>,
    /// `(next, end)`: where the next stack's region starts, and the chunk's end.
    fresh: (usize, usize),
    /// Stacks below this address in the chunk are prepared (step 2).
    prepared: usize,
    /// Stacks carved so far, which picks the next one's colour.
    carved: usize,
}

impl Bucket {
    /// Bytes between one stack's `limit` and the next one's.
    fn stride(&self) -> usize {
        self.size + self.kind.below_stack() + self.kind.above_stack()
    }
}

/// The per-thread stack pool. Chunks live as long as the pool.
struct Pool {
    buckets: Vec<Bucket>,
    chunks: Vec<(usize, usize)>,
    budget: MapBudget,
}

impl Pool {
    fn bucket(&mut self, size: usize, kind: StackKind) -> usize {
        match self
            .buckets
            .iter()
            .position(|b| b.size == size && b.kind == kind)
        {
            Some(at) => at,
            None => {
                self.buckets.push(Bucket {
                    size,
                    kind,
                    free: Vec::new(),
                    fresh: (0, 0),
                    prepared: 0,
                    carved: 0,
                });
                self.buckets.len() - 1
            }
        }
    }

    /// Step 1-2: the next stack of bucket `at`'s chunk, mapping a new chunk first
    /// if it is used up.
    fn carve(&mut self, at: usize) -> io::Result<Stack> {
        let (stride, kind) = (self.buckets[at].stride(), self.buckets[at].kind);
        let (mut next, mut end) = self.buckets[at].fresh;
        if end - next < stride {
            (next, end) = self.new_chunk(stride, kind)?;
            self.buckets[at].prepared = next;
        }
        let color = match kind {
            StackKind::Guarded => self.buckets[at].carved * COLOR_STEP % COLOR_SPAN,
            // Slab stacks share their top page with the canary of the stack
            // above instead (see the module docs).
            StackKind::Slab => 0,
        };
        let stack = Stack {
            limit: next,
            base: next + stride,
            top: next + stride - color,
            kind,
        };
        if next >= self.buckets[at].prepared {
            let count = self.buckets[at]
                .carved
                .clamp(1, PREPARE_MAX)
                .min((end - next) / stride);
            let count = prepare(kind, next, stride, count, &mut self.budget)?;
            self.buckets[at].prepared = next + count * stride;
        }
        if kind == StackKind::Slab {
            stack.write_canary();
        }
        self.buckets[at].fresh = (next + stride, end);
        self.buckets[at].carved += 1;
        Ok(stack)
    }

    /// Maps a chunk for stacks `stride` bytes apart; returns the range they are
    /// carved from.
    fn new_chunk(&mut self, stride: usize, kind: StackKind) -> io::Result<(usize, usize)> {
        let stacks = (CHUNK_BYTES / stride).clamp(1, CHUNK_STACKS);
        let page = page_size();
        let len = stacks * stride
            + match kind {
                StackKind::Guarded => 0,
                // A guard page at the bottom, and a spare page for the
                // half-page shift. The guard stops an overflow that never
                // switches (so no canary check runs) at the chunk's end with a
                // fault the overflow handler recognises, before it reaches
                // other memory.
                StackKind::Slab => 2 * page,
            };
        let ptr = map_anonymous(len)? as usize;
        if kind == StackKind::Slab {
            if let Err(err) = install_guard(ptr, &mut self.budget) {
                // SAFETY: unmapping exactly the mapping created above, which
                // no stack uses yet.
                unsafe { libc::munmap(ptr as *mut libc::c_void, len) };
                return Err(err);
            }
        }
        self.chunks.push((ptr, len));
        Ok(match kind {
            StackKind::Guarded => (ptr, ptr + len),
            StackKind::Slab => {
                // Stacks start half a page into the chunk, so each canary
                // shares its page with the top (first used) half page of the
                // stack below it: a goroutine that stays within half a page
                // touches one page, not two.
                let first = ptr + page + page / 2;
                (first, first + stacks * stride)
            }
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for &(ptr, len) in &self.chunks {
            // SAFETY: every stack carved from these chunks is back in a bucket:
            // the pool outlives every scheduler on its thread, and a scheduler
            // returns all stacks before `run` returns.
            unsafe { libc::munmap(ptr as *mut libc::c_void, len) };
        }
    }
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            buckets: Vec::new(),
            chunks: Vec::new(),
            budget: MapBudget { left: None },
        })
    };
}

/// Takes a stack of `size` usable bytes (already page rounded) from the pool,
/// carving a new one only when the pool has none free.
pub(crate) fn acquire(size: usize, kind: StackKind) -> io::Result<Stack> {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let at = pool.bucket(size, kind);
        match pool.buckets[at].free.pop() {
            Some(stack) => Ok(stack),
            None => pool.carve(at),
        }
    })
}

/// Returns a stack to this thread's pool.
pub(crate) fn release(stack: Stack) {
    // The pool is gone only while the thread is exiting; the stack's memory
    // then goes with its chunk.
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let at = pool.bucket(stack.size(), stack.kind);
        pool.buckets[at].free.push(stack);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_stacks_are_reused() {
        let size = round_to_page(64 * 1024);
        let a = acquire(size, StackKind::Guarded).unwrap();
        let addr = a.base;
        release(a);
        let b = acquire(size, StackKind::Guarded).unwrap();
        assert_eq!(b.base, addr);
        assert_eq!(b.size(), size);
        release(b);
    }

    #[test]
    fn guarded_stacks_come_from_one_chunk() {
        // A size no other test uses, so this bucket starts a fresh chunk.
        let size = round_to_page(40 * 1024);
        let a = acquire(size, StackKind::Guarded).unwrap();
        let b = acquire(size, StackKind::Guarded).unwrap();
        // The second lies right above the first, its guard page between them,
        // and starts one cache line lower in its top page.
        assert_eq!(b.limit, a.base);
        assert_eq!(b.base - b.top, a.base - a.top + COLOR_STEP);
        assert!(b.top - b.limit >= size + page_size());
        assert_eq!(b.size(), size);
        assert_eq!(b.bounds().overflow_zone(), (b.limit, b.limit + page_size()));
        release(a);
        release(b);
    }

    /// Whether the page at `addr` is resident (`mincore`).
    fn resident(addr: usize) -> bool {
        let mut vec = 0u8;
        // SAFETY: `addr` is a page-aligned address of a mapping of this
        // process; mincore writes one byte for one page.
        let rc = unsafe { libc::mincore(addr as *mut libc::c_void, page_size(), &mut vec) };
        assert_eq!(rc, 0, "mincore: {}", io::Error::last_os_error());
        vec & 1 == 1
    }

    /// Held by the tests that read or flip `NO_GUARD_REGIONS`.
    static GUARD_MODE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn guarded_stacks_are_prepared_in_growing_batches() {
        let _mode = GUARD_MODE.lock().unwrap_or_else(|e| e.into_inner());
        if NO_GUARD_REGIONS.load(Ordering::Relaxed) {
            return; // mprotect guards: one stack at a time, nothing populated
        }
        // A size no other test uses, so this bucket starts a fresh chunk.
        let size = round_to_page(44 * 1024);
        let top_page = |s: &Stack| s.base - page_size();
        let a = acquire(size, StackKind::Guarded).unwrap();
        // The first stack is prepared alone: its top page is resident before
        // anything ran on it, the rest of its stack is not.
        assert!(resident(top_page(&a)));
        assert!(!resident(top_page(&a) - page_size()));
        let b = acquire(size, StackKind::Guarded).unwrap();
        let c = acquire(size, StackKind::Guarded).unwrap();
        // `b` was prepared alone (one carved before it), `c` with the next
        // one (two carved before it), which was never handed out.
        let stride = b.base - a.base;
        assert!(resident(top_page(&b)) && resident(top_page(&c)));
        assert!(resident(top_page(&c) + stride));
        assert!(!resident(top_page(&c) + 2 * stride));
        for s in [a, b, c] {
            // The guard page was installed with the batch: overflowing
            // into it is the overflow handler's business (tests/abort.rs),
            // here it is only not resident.
            assert!(!resident(s.limit));
            release(s);
        }
    }

    #[test]
    fn stacks_are_prepared_page_by_page_without_process_madvise() {
        let _mode = GUARD_MODE.lock().unwrap_or_else(|e| e.into_inner());
        if NO_GUARD_REGIONS.load(Ordering::Relaxed) {
            return; // mprotect guards: one stack at a time
        }
        // As on a kernel before 6.15 (other tests may take this path
        // meanwhile, which is as correct).
        NO_PROCESS_MADVISE.store(true, Ordering::Relaxed);
        let size = round_to_page(52 * 1024);
        let stacks: Vec<_> = (0..3)
            .map(|_| acquire(size, StackKind::Guarded).unwrap())
            .collect();
        let stride = stacks[1].base - stacks[0].base;
        let top_page = stacks[2].base - page_size();
        // The third was prepared with the fourth, each page by itself.
        assert!(stacks.iter().all(|s| resident(s.base - page_size())));
        assert!(resident(top_page + stride));
        assert!(!resident(top_page + 2 * stride));
        stacks.into_iter().for_each(release);
        NO_PROCESS_MADVISE.store(false, Ordering::Relaxed);
    }

    #[test]
    fn mprotect_guards_are_prepared_one_stack_at_a_time() {
        let _mode = GUARD_MODE.lock().unwrap_or_else(|e| e.into_inner());
        // As on a kernel before 6.13: each guard costs two mappings of the
        // budget, taken only for a stack being handed out.
        NO_GUARD_REGIONS.store(true, Ordering::Relaxed);
        let size = round_to_page(56 * 1024);
        let stacks: Vec<_> = (0..3)
            .map(|_| acquire(size, StackKind::Guarded).unwrap())
            .collect();
        let stride = stacks[1].base - stacks[0].base;
        assert!(stacks.iter().all(|s| resident(s.base - page_size())));
        assert!(!resident(stacks[2].base - page_size() + stride));
        stacks.into_iter().for_each(release);
        NO_GUARD_REGIONS.store(false, Ordering::Relaxed);
    }

    #[test]
    fn slab_stacks_are_prepared_too() {
        // A size no other test uses, so this bucket starts a fresh chunk.
        let size = round_to_page(12 * 1024);
        let page = page_size();
        let a = acquire(size, StackKind::Slab).unwrap();
        // Its top half page shares a page with the canary of the stack above
        // (not carved yet); that page is resident, the one below is not.
        let top_page = (a.base - 1) & !(page - 1);
        assert!(resident(top_page));
        assert!(!resident(top_page - page));
        release(a);
    }

    #[test]
    fn mprotect_guards_count_against_the_map_budget() {
        let _mode = GUARD_MODE.lock().unwrap_or_else(|e| e.into_inner());
        // As on a kernel before 6.13 (the other tests may then take this path
        // too, which is as correct).
        NO_GUARD_REGIONS.store(true, Ordering::Relaxed);
        let mut budget = MapBudget { left: Some(2) };
        let region = map_anonymous(2 * page_size()).unwrap() as usize;
        install_guard(region, &mut budget).unwrap();
        let err = install_guard(region + page_size(), &mut budget).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        assert!(err.to_string().contains("vm.max_map_count"), "{err}");
        assert!(
            err.to_string().contains("Runtime::unguarded_stacks"),
            "{err}"
        );
        // SAFETY: unmapping the region mapped above, used by nothing else.
        unsafe { libc::munmap(region as *mut libc::c_void, 2 * page_size()) };
        NO_GUARD_REGIONS.store(false, Ordering::Relaxed);
    }

    #[test]
    fn slab_canary_detects_overwrite() {
        let size = round_to_page(16 * 1024);
        let s = acquire(size, StackKind::Slab).unwrap();
        assert!(s.canary_intact());
        let (lo, hi) = s.bounds().overflow_zone();
        assert_eq!(hi - lo, CANARY_WORDS * 8);
        // SAFETY: writes inside the stack's own canary zone.
        unsafe { (lo as *mut u64).write_volatile(0) };
        assert!(!s.canary_intact());
        s.write_canary();
        assert!(s.canary_intact());
        release(s);
    }

    #[test]
    fn slab_stacks_do_not_overlap() {
        let size = round_to_page(16 * 1024);
        let stacks: Vec<_> = (0..3)
            .map(|_| acquire(size, StackKind::Slab).unwrap())
            .collect();
        for s in &stacks {
            for t in &stacks {
                if s.base != t.base {
                    assert!(s.base <= t.limit || t.base <= s.limit);
                }
            }
        }
        stacks.into_iter().for_each(release);
    }
}
