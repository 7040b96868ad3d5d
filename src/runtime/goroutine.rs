//! Goroutine records and the ids, names and wait reasons the dump shows.

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::coro::{Coroutine, Identity};

/// What a goroutine runs, stored inline in its record (one allocation per
/// goroutine: record, closure and result slot).
pub(crate) trait Task {
    /// Runs the goroutine's code on its own stack; `no_stack` instead says why
    /// no stack could be mapped for it (then nothing runs). Called once.
    fn run(&self, no_stack: Option<std::io::Error>);

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
    #[cfg(not(target_arch = "wasm32"))]
    IoRead,
    #[cfg(not(target_arch = "wasm32"))]
    IoWrite,
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
            #[cfg(not(target_arch = "wasm32"))]
            WaitReason::IoRead => "IO wait read",
            #[cfg(not(target_arch = "wasm32"))]
            WaitReason::IoWrite => "IO wait write",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// In the run queue (exactly once).
    Runnable,
    Running,
    Parked(WaitReason),
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
            State::Dead => f.write_str(" [dead]"),
        }
    }
}

/// The scheduler's table of live goroutines: O(1) insert and remove, and a
/// stable index that cross-thread wakers name a goroutine by.
#[derive(Default)]
pub(crate) struct Table {
    entries: Vec<Option<GRef>>,
    free: Vec<usize>,
    live: usize,
}

impl Table {
    pub(crate) fn insert(&mut self, g: GRef) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.entries.push(None);
                self.entries.len() - 1
            }
        };
        g.slot.set(slot);
        self.entries[slot] = Some(g);
        self.live += 1;
    }

    pub(crate) fn remove(&mut self, g: &G) {
        let slot = g.slot.get();
        if self
            .entries
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|e| e.id == g.id)
        {
            self.entries[slot] = None;
            self.free.push(slot);
            self.live -= 1;
        }
    }

    /// The goroutine in `slot` if it is still the one with `id`.
    pub(crate) fn get(&self, slot: usize, id: u64) -> Option<&GRef> {
        self.entries.get(slot)?.as_ref().filter(|g| g.id == id)
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &GRef> {
        self.entries.iter().flatten()
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
