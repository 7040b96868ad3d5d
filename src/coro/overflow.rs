//! Turning a goroutine stack overflow into a message that names the goroutine.
//!
//! 1. Before each switch into a coroutine, [`Running::enter`] records in a
//!    thread-local which address range is that stack's overflow zone (guard
//!    page or canary words) and which goroutine runs there.
//! 2. Guarded stacks: touching the guard page raises SIGSEGV (SIGBUS on some
//!    systems). Our handler runs on the thread's alternate signal stack, sees
//!    that the faulting address lies in the recorded zone, writes the report
//!    with raw `write(2)` calls (no allocation: the heap may be mid-update)
//!    and aborts. Any other fault goes to the handler installed before ours
//!    (std's own stack-overflow report, or the default action).
//! 3. Slab stacks: the canary words are compared after every switch out, and
//!    the stack pointer is compared with the zone at every suspend. An
//!    overflow that never switches runs on through the stacks below until it
//!    faults (at the latest on the guard page at the bottom of its slab chunk);
//!    the handler recognises it by the stack pointer being below the zone.

use std::cell::Cell;
use std::sync::Once;

use super::stack::Bounds;
use super::Identity;

/// What the report needs about the goroutine on a stack. Built once per
/// coroutine; while it runs, the thread-local below points at it.
pub(crate) struct StackOwner {
    zone: (usize, usize),
    id: u64,
    name: (*const u8, usize),
    size: usize,
}

impl StackOwner {
    /// What the report says about the goroutine `who` on the stack `bounds`.
    ///
    /// # Safety
    ///
    /// `who.name` must stay valid and in place as long as the `StackOwner`:
    /// the report reads it through a raw pointer.
    pub(crate) unsafe fn new(bounds: Bounds, who: Identity<'_>) -> StackOwner {
        let name = who
            .name
            .map_or((std::ptr::null(), 0), |n| (n.as_ptr(), n.len()));
        StackOwner {
            zone: bounds.overflow_zone(),
            id: who.id,
            name,
            size: bounds.size,
        }
    }
}

thread_local! {
    // A `const`-initialised Cell of a pointer: reading it from the signal
    // handler is a plain TLS load, with no lazy initialisation or destructor.
    static RUNNING: Cell<*const StackOwner> = const { Cell::new(std::ptr::null()) };
}

/// Marks `owner`'s coroutine as running on this thread until dropped.
pub(crate) struct Running(());

impl Running {
    /// Records `owner` as the goroutine running on this thread.
    ///
    /// # Safety
    ///
    /// `owner` must stay in place until the returned guard is dropped: the
    /// fault handler reads it through the thread-local pointer.
    #[inline]
    pub(crate) unsafe fn enter(owner: &StackOwner) -> Running {
        RUNNING.set(owner);
        Running(())
    }
}

impl Drop for Running {
    #[inline]
    fn drop(&mut self) {
        RUNNING.set(std::ptr::null());
    }
}

/// The owner of the stack running on this thread.
fn running() -> Option<&'static StackOwner> {
    // SAFETY: RUNNING is non-null only between `Running::enter(owner)` and the
    // guard's drop, while `owner` stays in place (its coroutine is running).
    unsafe { RUNNING.get().as_ref() }
}

/// Aborts if the stack pointer has reached the overflow zone (slab stacks can
/// get there without faulting).
#[inline]
pub(crate) fn check_stack_pointer() {
    let marker = 0u8;
    let sp = &marker as *const u8 as usize;
    if let Some(owner) = running().filter(|owner| sp < owner.zone.1) {
        report(owner);
        // SAFETY: abort has no preconditions.
        unsafe { libc::abort() };
    }
}

/// Reports an overflow of `owner`'s goroutine and aborts the process.
#[cold]
pub(crate) fn report_and_abort(owner: &StackOwner) -> ! {
    report(owner);
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

/// Writes the report with async-signal-safe calls only.
fn report(g: &StackOwner) {
    let mut id = [0u8; 20];
    let mut size = [0u8; 20];
    write_stderr(b"\nfatal error: stack overflow in goroutine ");
    write_stderr(decimal(g.id, &mut id));
    if !g.name.0.is_null() {
        write_stderr(b" \"");
        // SAFETY: the name points into the goroutine record, alive while the
        // goroutine runs (the record outlives every switch into it).
        write_stderr(unsafe { std::slice::from_raw_parts(g.name.0, g.name.1) });
        write_stderr(b"\"");
    }
    write_stderr(b" (stack size ");
    write_stderr(decimal((g.size / 1024) as u64, &mut size));
    write_stderr(b" KiB; give it a larger stack with gosched::Builder::stack_size)\n");
}

fn write_stderr(bytes: &[u8]) {
    // SAFETY: write(2) on a valid buffer; a short or failed write loses only
    // part of the message.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Handlers that were installed before ours, for SIGSEGV and SIGBUS.
static mut PREVIOUS: [Option<libc::sigaction>; 2] = [None, None];

/// Installs the fault handler once per process and an alternate signal stack
/// on the calling thread if it has none (the handler must not run on the
/// overflowed stack).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (slot, sig) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            // SAFETY: plain sigaction calls with initialised structs; PREVIOUS
            // is written only here, under `Once`, before our handler can run.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &action, &mut previous) == 0 {
                    (*std::ptr::addr_of_mut!(PREVIOUS))[slot] = Some(previous);
                }
            }
        }
    });
    AltStack::ensure();
}

extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let overflowed = |owner: &&StackOwner| {
        let in_zone = owner.zone.0 <= addr && addr < owner.zone.1;
        // An overflow that ran past the zone (a slab stack's canary, into the
        // stacks below) faults further down, with the stack pointer below it.
        in_zone || fault_stack_pointer(context).is_some_and(|sp| sp < owner.zone.1)
    };
    if let Some(owner) = running().filter(overflowed) {
        report(owner);
        // SAFETY: abort has no preconditions.
        unsafe { libc::abort() };
    }
    let slot = usize::from(sig == libc::SIGBUS);
    // SAFETY: PREVIOUS was written before this handler was installed.
    let previous = unsafe { (*std::ptr::addr_of!(PREVIOUS))[slot] };
    match previous {
        Some(prev) if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN => {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed as a 3-argument
                // handler (SA_SIGINFO), and we pass the kernel's arguments on.
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                handler(sig, info, context);
            } else {
                // SAFETY: as above, for a 1-argument handler.
                let handler: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                handler(sig);
            }
        }
        _ => {
            // Restore the default action; returning re-executes the faulting
            // instruction, which now kills the process as usual.
            // SAFETY: resetting a signal to its default action.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}

/// The interrupted code's stack pointer, from the signal context.
fn fault_stack_pointer(context: *mut libc::c_void) -> Option<usize> {
    let context = context.cast::<libc::ucontext_t>();
    if context.is_null() {
        return None;
    }
    stack_pointer_of(context)
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn stack_pointer_of(context: *const libc::ucontext_t) -> Option<usize> {
    // SAFETY: the kernel passes a valid ucontext_t to SA_SIGINFO handlers.
    Some(unsafe { (*context).uc_mcontext.gregs[libc::REG_RSP as usize] } as usize)
}

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
fn stack_pointer_of(context: *const libc::ucontext_t) -> Option<usize> {
    // SAFETY: the kernel passes a valid ucontext_t to SA_SIGINFO handlers.
    Some(unsafe { (*context).uc_mcontext.sp } as usize)
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn stack_pointer_of(_context: *const libc::ucontext_t) -> Option<usize> {
    None
}

/// An alternate signal stack this module installed on a thread.
struct AltStack {
    mapping: *mut libc::c_void,
    len: usize,
}

thread_local! {
    static ALT_STACK: Cell<bool> = const { Cell::new(false) };
    static OWNED_ALT_STACK: std::cell::RefCell<Option<AltStack>> = const { std::cell::RefCell::new(None) };
}

impl AltStack {
    fn ensure() {
        if ALT_STACK.get() {
            return;
        }
        ALT_STACK.set(true);
        // SAFETY: querying the current alternate stack into an initialised struct.
        let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
        if unsafe { libc::sigaltstack(std::ptr::null(), &mut current) } != 0
            || current.ss_flags & libc::SS_DISABLE == 0
        {
            return; // the thread has one already (std installs one on its threads)
        }
        let len = libc::SIGSTKSZ.max(64 * 1024);
        // SAFETY: an anonymous private mapping, checked for failure.
        let mapping = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapping == libc::MAP_FAILED {
            return;
        }
        let stack = libc::stack_t {
            ss_sp: mapping,
            ss_flags: 0,
            ss_size: len,
        };
        // SAFETY: the mapping is ours and stays mapped until the thread-local
        // below is destroyed, which first disables the alternate stack.
        if unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) } == 0 {
            OWNED_ALT_STACK.set(Some(AltStack { mapping, len }));
        } else {
            // SAFETY: unmapping the mapping created above, never installed.
            unsafe { libc::munmap(mapping, len) };
        }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling the alternate stack before unmapping its memory.
        unsafe {
            libc::sigaltstack(&disable, std::ptr::null_mut());
            libc::munmap(self.mapping, self.len);
        }
    }
}
