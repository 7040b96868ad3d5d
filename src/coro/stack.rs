//! Goroutine stacks and their per-thread pool.
//!
//! Two kinds, chosen per runtime ([`crate::Runtime::unguarded_stacks`]):
//!
//! ```text
//!  guarded (default): one mapping each        slab: carved from a shared chunk
//!
//!  high +-------------------+ <- base         +-------------------+ <- base
//!       |                   |                 |                   |
//!       |  usable stack     |  grows down     |  usable stack     |
//!       |                   |                 |                   |
//!       +-------------------+                 +-------------------+
//!       |  guard page       |  PROT_NONE:     |  canary words     |  checked at
//!       |                   |  fault = overflow                   |  every switch
//!  low  +-------------------+ <- limit        +-------------------+ <- limit
//!                                             |  stack below ...  |
//! ```
//!
//! Slab stacks are shifted half a page, so that the page holding a canary is
//! also the page holding the first-used top of the stack below: a goroutine
//! that needs under half a page of stack costs one resident page, as with
//! guarded stacks.
//!
//! A guarded stack costs two kernel mappings (the guard splits the VMA), and
//! `vm.max_map_count` (65,530 by default on Linux) caps a process near 32k of
//! them. Slab stacks share two mappings per chunk of 64 (one guard page at the
//! chunk's bottom), so a million fit, at the price of detecting overflow after
//! the fact (see `Runtime::unguarded_stacks`).
//!
//! Mapping and unmapping costs microseconds (a page-table change and a TLB
//! shootdown), a pooled stack nanoseconds: every stack goes back to the pool of
//! the thread that runs it, and the pool keeps it for the thread's lifetime.

use std::cell::RefCell;
use std::io;

/// Written at the low end of a slab stack; an overwritten canary means overflow.
const CANARY: u64 = 0x60_5c_4e_d0_57_ac_4e_d0;
/// Number of canary words at the bottom of a slab stack.
const CANARY_WORDS: usize = 4;
/// Stacks carved from one slab chunk.
const SLAB_CHUNK_STACKS: usize = 64;

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
    /// A `PROT_NONE` page below the stack; the fault handler names the goroutine.
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

/// One goroutine stack. Owned by a coroutine while it runs, by the pool otherwise.
pub(crate) struct Stack {
    /// Lowest address of the region (the guard page or the canary words).
    limit: usize,
    /// Highest address, exclusive; stacks grow down from here.
    base: usize,
    kind: StackKind,
}

impl Stack {
    /// The size this stack was requested with: its pool bucket.
    pub(crate) fn size(&self) -> usize {
        match self.kind {
            StackKind::Guarded => self.base - self.limit - page_size(),
            StackKind::Slab => self.base - self.limit,
        }
    }

    fn reserved(&self) -> usize {
        match self.kind {
            StackKind::Guarded => page_size(),
            StackKind::Slab => CANARY_WORDS * 8,
        }
    }

    /// A copy of where this stack lies, for checks while a coroutine owns it.
    pub(crate) fn bounds(&self) -> Bounds {
        Bounds {
            limit: self.limit,
            reserved: self.reserved(),
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

    fn new_guarded(size: usize) -> io::Result<Stack> {
        let guard = page_size();
        let total = size + guard;
        let ptr = map_anonymous(total)?;
        // SAFETY: the first page lies inside the mapping created above.
        if unsafe { libc::mprotect(ptr, guard, libc::PROT_NONE) } != 0 {
            let err = io::Error::last_os_error();
            // SAFETY: unmapping exactly the mapping created above.
            unsafe { libc::munmap(ptr, total) };
            return Err(map_error(err));
        }
        let limit = ptr as usize;
        Ok(Stack {
            limit,
            base: limit + total,
            kind: StackKind::Guarded,
        })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.kind == StackKind::Guarded {
            // SAFETY: a guarded stack owns exactly this mapping, and no
            // coroutine runs on it any more (it is being dropped).
            unsafe { libc::munmap(self.limit as *mut libc::c_void, self.base - self.limit) };
        }
        // Slab stacks are memory of a chunk that the pool unmaps as a whole.
    }
}

// SAFETY: `base` and `limit` delimit memory this `Stack` owns exclusively, with
// `limit` the low end of the overflow zone, both page aligned (so aligned to
// STACK_ALIGNMENT). Guarded stacks have the guard page the contract asks for.
// Slab stacks do not: the runtime only creates them after the user promised,
// through the `unsafe fn Runtime::unguarded_stacks`, that goroutines stay within
// their stack, and the canary turns a broken promise into an abort at the next
// switch.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.base).expect("stack base is non-null")
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
        Err(map_error(io::Error::last_os_error()))
    } else {
        Ok(ptr)
    }
}

fn map_error(err: io::Error) -> io::Error {
    if err.raw_os_error() == Some(libc::ENOMEM) {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "cannot map a goroutine stack ({err}): guarded stacks cost two kernel mappings \
                 each and vm.max_map_count (default 65530) allows about 32k of them; raise it \
                 (sysctl vm.max_map_count) or run with Runtime::unguarded_stacks"
            ),
        )
    } else {
        err
    }
}

/// Free stacks of one size and kind.
struct Bucket {
    size: usize,
    kind: StackKind,
    free: Vec<Stack>,
}

/// The per-thread stack pool. Slab chunks live as long as the pool.
#[derive(Default)]
struct Pool {
    buckets: Vec<Bucket>,
    chunks: Vec<(usize, usize)>,
}

impl Pool {
    fn bucket(&mut self, size: usize, kind: StackKind) -> &mut Bucket {
        let at = match self
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
                });
                self.buckets.len() - 1
            }
        };
        &mut self.buckets[at]
    }

    fn new_slab_chunk(&mut self, size: usize) -> io::Result<()> {
        // A guard page at the bottom, then the stacks, then a spare page for
        // the half-page shift below. The guard stops an overflow that never
        // switches (so no canary check runs) at the chunk's end with a fault
        // the overflow handler recognises, before it reaches other memory.
        let guard = page_size();
        let total = guard + size * SLAB_CHUNK_STACKS + page_size();
        let ptr = map_anonymous(total)?;
        // SAFETY: the first page lies inside the mapping created above.
        if unsafe { libc::mprotect(ptr, guard, libc::PROT_NONE) } != 0 {
            let err = io::Error::last_os_error();
            // SAFETY: unmapping exactly the mapping created above.
            unsafe { libc::munmap(ptr, total) };
            return Err(map_error(err));
        }
        self.chunks.push((ptr as usize, total));
        let bucket = self.bucket(size, StackKind::Slab);
        // Stacks start half a page into the chunk, so each canary shares its
        // page with the top (first used) half page of the stack below it: a
        // goroutine that stays within half a page touches one page, not two.
        let shift = page_size() / 2;
        for i in 0..SLAB_CHUNK_STACKS {
            let limit = ptr as usize + guard + shift + i * size;
            let stack = Stack {
                limit,
                base: limit + size,
                kind: StackKind::Slab,
            };
            stack.write_canary();
            bucket.free.push(stack);
        }
        Ok(())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Slab stacks must go before their chunks; guarded ones unmap themselves.
        self.buckets.clear();
        for &(ptr, len) in &self.chunks {
            // SAFETY: every stack carved from these chunks was in a bucket (just
            // dropped): the pool outlives every scheduler on its thread, and a
            // scheduler returns all stacks before `run` returns.
            unsafe { libc::munmap(ptr as *mut libc::c_void, len) };
        }
    }
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// Takes a stack of `size` usable bytes (already page rounded) from the pool,
/// mapping new memory only when the pool has none.
pub(crate) fn acquire(size: usize, kind: StackKind) -> io::Result<Stack> {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if let Some(stack) = pool.bucket(size, kind).free.pop() {
            return Ok(stack);
        }
        match kind {
            StackKind::Guarded => Stack::new_guarded(size),
            StackKind::Slab => {
                pool.new_slab_chunk(size)?;
                Ok(pool
                    .bucket(size, kind)
                    .free
                    .pop()
                    .expect("a fresh chunk has stacks"))
            }
        }
    })
}

/// Returns a stack to this thread's pool.
pub(crate) fn release(stack: Stack) {
    let size = stack.size();
    let kind = stack.kind;
    // The pool is gone only while the thread is exiting; the stack then unmaps
    // itself (guarded) or goes with its chunk (slab).
    let _ = POOL.try_with(|pool| pool.borrow_mut().bucket(size, kind).free.push(stack));
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
