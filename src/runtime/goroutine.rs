//! Goroutine records and the ids, names and wait reasons the dump shows.

use std::any::{Any, TypeId};
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::coro::{Coroutine, Identity};

/// What a goroutine runs, stored inline in its record (one allocation per
/// goroutine: record, closure and result slot).
pub(crate) trait Task {
    /// Runs the goroutine's code on its own stack. Called once.
    fn run(&self);

    /// Drops the code of a goroutine that never ran (shutdown), so that its
    /// captured values are dropped inside `run` like everything else.
    fn discard(&self);
}

/// Where a goroutine's execution stands. The stack is taken from the pool
/// when the goroutine first runs, not when it is spawned: goroutines waiting
/// to start cost no stack memory, and a burst of short goroutines reuses one
/// hot stack.
pub(crate) enum Body {
    NotStarted { stack_size: usize },
    Started(Coroutine),
    Finished,
}

pub(crate) type GRef = Rc<G>;

/// What a parked goroutine waits for, as the deadlock dump names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitReason {
    ChanReceive,
    ChanSend,
    Select,
    Sleep,
    Join,
    Future,
    Mutex,
    RwLock,
    WaitGroup,
    Semaphore,
    Once,
    Cond,
    /// Sockets, stdin, pipes: Go's `[IO wait]` (where `gosched::io` exists).
    #[cfg(any(
        not(target_arch = "wasm32"),
        all(target_os = "wasi", target_env = "p1"),
        all(target_env = "p2", feature = "wasip3")
    ))]
    IoWait,
    /// A blocking call offloaded with `gosched::unblock`: Go's `[syscall]`.
    #[cfg(not(target_arch = "wasm32"))]
    Syscall,
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::Join => "join",
            WaitReason::Future => "future",
            WaitReason::Mutex => "mutex",
            WaitReason::RwLock => "rwlock",
            WaitReason::WaitGroup => "waitgroup",
            WaitReason::Semaphore => "semaphore",
            WaitReason::Once => "once",
            WaitReason::Cond => "cond",
            #[cfg(any(
                not(target_arch = "wasm32"),
                all(target_os = "wasi", target_env = "p1"),
                all(target_env = "p2", feature = "wasip3")
            ))]
            WaitReason::IoWait => "IO wait",
            #[cfg(not(target_arch = "wasm32"))]
            WaitReason::Syscall => "syscall",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// In the run queue (exactly once).
    Runnable,
    Running,
    Parked(WaitReason),
    /// Due to start, but no stack could be had for it: in the scheduler's
    /// queue of goroutines waiting for one (never in the run queue).
    WaitingForStack,
    Dead,
}

/// One goroutine. Shared (`Rc`) by the scheduler's table, the run queue,
/// whatever it waits on and its join handle, which sees `task` by its concrete
/// type.
pub(crate) struct G<E: ?Sized = dyn Task> {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) state: Cell<State>,
    /// An unpark that arrived while the goroutine was not parked: its next park
    /// returns at once (std::thread::park's token).
    pub(crate) token: Cell<bool>,
    /// Counts parks; a timer armed during park `n` acts only while this is `n`.
    pub(crate) park_seq: Cell<u64>,
    /// Set by the timer that ended the current park.
    pub(crate) timed_out: Cell<bool>,
    /// Set before the runtime unwinds the goroutine at shutdown.
    pub(crate) cancelled: Cell<bool>,
    /// Index in the scheduler's goroutine table.
    pub(crate) slot: Cell<usize>,
    pub(crate) body: RefCell<Body>,
    /// Goroutine-local values (`gosched::goroutine_local!`).
    pub(crate) locals: Locals,
    pub(crate) task: E,
}

impl<E> G<E> {
    pub(crate) fn new(id: u64, name: Option<String>, stack_size: usize, task: E) -> G<E> {
        G {
            id,
            name: name.map(String::into_boxed_str),
            state: Cell::new(State::Runnable),
            token: Cell::new(false),
            park_seq: Cell::new(0),
            timed_out: Cell::new(false),
            cancelled: Cell::new(false),
            slot: Cell::new(usize::MAX),
            body: RefCell::new(Body::NotStarted { stack_size }),
            locals: Locals::default(),
            task,
        }
    }
}

impl<E: ?Sized> G<E> {
    pub(crate) fn identity(&self) -> Identity<'_> {
        Identity {
            id: self.id,
            name: self.name.as_deref(),
        }
    }

    /// Whether the goroutine has finished or was unwound at shutdown: nothing
    /// may be handed to it any more.
    #[inline]
    pub(crate) fn is_dead(&self) -> bool {
        self.state.get() == State::Dead
    }

    /// Whether the goroutine is still parked in park number `park_seq`.
    pub(crate) fn is_in_park(&self, park_seq: u64) -> bool {
        self.park_seq.get() == park_seq && matches!(self.state.get(), State::Parked(_))
    }
}

impl fmt::Display for G {
    /// One line of the goroutine dump: `goroutine 7 "name" [chan receive]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goroutine {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        match self.state.get() {
            State::Parked(reason) => write!(f, " [{reason}]"),
            State::Runnable => f.write_str(" [runnable]"),
            State::Running => f.write_str(" [running]"),
            State::WaitingForStack => f.write_str(" [waiting for a stack]"),
            State::Dead => f.write_str(" [dead]"),
        }
    }
}

/// The scheduler's table of live goroutines: O(1) insert and remove, and a
/// stable index that cross-thread wakers name a goroutine by. Each entry also
/// holds the record typed as `dyn Any`, which [`recycle`] needs.
#[derive(Default)]
pub(crate) struct Table {
    entries: Vec<Option<(GRef, Rc<dyn Any>)>>,
    free: Vec<usize>,
    live: usize,
}

impl Table {
    pub(crate) fn insert<E: Task + 'static>(&mut self, g: &Rc<G<E>>) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.entries.push(None);
                self.entries.len() - 1
            }
        };
        g.slot.set(slot);
        self.entries[slot] = Some((g.clone(), g.clone()));
        self.live += 1;
    }

    /// Takes `g` out; its record, for [`recycle`].
    pub(crate) fn remove(&mut self, g: &G) -> Option<Rc<dyn Any>> {
        let slot = g.slot.get();
        if self
            .entries
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|(e, _)| e.id == g.id)
        {
            self.free.push(slot);
            self.live -= 1;
            return self.entries[slot].take().map(|(_, record)| record);
        }
        None
    }

    /// The goroutine in `slot` if it is still the one with `id`.
    pub(crate) fn get(&self, slot: usize, id: u64) -> Option<&GRef> {
        self.entries
            .get(slot)?
            .as_ref()
            .map(|(g, _)| g)
            .filter(|g| g.id == id)
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &GRef> {
        self.entries.iter().flatten().map(|(g, _)| g)
    }
}

/// Finished goroutines' records, each list of one concrete type.
type Records = Vec<(TypeId, Vec<Rc<dyn Any>>)>;

thread_local! {
    /// Records of finished goroutines by concrete type, for [`reuse`]: as Go
    /// keeps its `g`s, a thread keeps every record it made (a burst of short
    /// goroutines then allocates nothing after its first time, and freeing
    /// them cannot make the allocator hand memory back to the kernel only to
    /// fault it in again).
    static RECORDS: RefCell<Records> = const { RefCell::new(Vec::new()) };
}

/// Keeps the record of a goroutine that finished, for a later [`reuse`].
pub(crate) fn recycle(record: Rc<dyn Any>) {
    let kind = (*record).type_id();
    let _ = RECORDS.try_with(|records| {
        let mut records = records.borrow_mut();
        match records.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, free)) => free.push(record),
            None => records.push((kind, vec![record])),
        }
    });
}

/// A goroutine record: the newest recycled one of type `G<E>` if nothing
/// else refers to it any more (its join handle is gone), else a new one.
pub(crate) fn reuse<E: Task + 'static>(
    id: u64,
    name: Option<String>,
    stack_size: usize,
    task: E,
) -> Rc<G<E>> {
    let recycled = RECORDS.with(|records| {
        let mut records = records.borrow_mut();
        let kind = TypeId::of::<G<E>>();
        let (_, free) = records.iter_mut().find(|(k, _)| *k == kind)?;
        // One still shared (a handle kept) is let go, so that it cannot hide
        // the free ones below it.
        free.pop().filter(|r| Rc::strong_count(r) == 1)
    });
    let fresh = G::new(id, name, stack_size, task);
    match recycled.map(Rc::downcast::<G<E>>) {
        Some(Ok(mut record)) => {
            // Drops what the old goroutine left (its result, if never
            // joined) and puts the new one in place.
            *Rc::get_mut(&mut record).expect("checked unshared") = fresh;
            record
        }
        _ => Rc::new(fresh),
    }
}

/// One goroutine's values: (key id, value), in first-use order.
type Slots = RefCell<Vec<(usize, Rc<dyn Any>)>>;

/// A goroutine's local values (`gosched::goroutine_local!`), in its record:
/// one pointer until first used.
#[derive(Default)]
pub(crate) struct Locals(OnceCell<Box<Slots>>);

impl Locals {
    pub(crate) fn find(&self, id: usize) -> Option<Rc<dyn Any>> {
        let slots = self.0.get()?.borrow();
        slots.iter().find(|(k, _)| *k == id).map(|(_, v)| v.clone())
    }

    pub(crate) fn insert(&self, id: usize, value: Rc<dyn Any>) {
        self.0
            .get_or_init(Box::default)
            .borrow_mut()
            .push((id, value));
    }

    /// Drops every value. Destructors may use keys again (creating fresh
    /// values), so repeat until none is left, as std does for thread-locals.
    pub(crate) fn clear(&self) {
        let Some(slots) = self.0.get() else { return };
        for _ in 0..16 {
            let taken = std::mem::take(&mut *slots.borrow_mut());
            if taken.is_empty() {
                return;
            }
            drop(taken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nop;

    impl Task for Nop {
        fn run(&self) {}
        fn discard(&self) {}
    }

    #[test]
    fn records_are_reused_once_unshared() {
        let first = reuse(1, None, 4096, Nop);
        let addr = Rc::as_ptr(&first);
        recycle(first);
        let second = reuse(2, Some("again".into()), 4096, Nop);
        assert_eq!(Rc::as_ptr(&second), addr);
        assert_eq!((second.id, second.name.as_deref()), (2, Some("again")));
        assert_eq!(second.state.get(), State::Runnable);

        // Still shared (a join handle kept): not reused.
        recycle(second.clone());
        let third = reuse(3, None, 4096, Nop);
        assert_ne!(Rc::as_ptr(&third), addr);
    }
}
