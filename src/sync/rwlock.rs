//! `RwLock`: many readers or one writer, in arrival order.

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;

use super::waitqueue::WaitQueue;
use crate::runtime::WaitReason;

/// What a waiter asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// A reader-writer lock for goroutines; Go's `sync.RWMutex` holding the data
/// it protects, with [`std::sync::RwLock`]'s shape.
///
/// Any number of readers may hold it at once, or one writer. Waiters are
/// served in arrival order, and a reader that arrives while a writer waits
/// queues behind that writer (as in Go), so a stream of readers cannot starve
/// writers, nor writers readers. Parked goroutines show as `[rwlock]` in the
/// deadlock dump.
///
/// No poisoning: a guard dropped during a panic releases the lock. Not `Send`
/// nor `Sync`: share it between goroutines with an [`Rc`](std::rc::Rc).
///
/// ```
/// use std::rc::Rc;
/// use gosched::sync::RwLock;
///
/// gosched::run(|| {
///     let config = Rc::new(RwLock::new(String::from("v1")));
///     let c = config.clone();
///     let reader = gosched::go(move || c.read().clone());
///     config.write().push_str("+patch");
///     assert_eq!(reader.join().unwrap(), "v1+patch");
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    /// Readers holding the lock (or being handed it).
    readers: Cell<usize>,
    /// A writer holds the lock (or is being handed it).
    writer: Cell<bool>,
    /// Invariant: non-empty only while `writer` is set or `readers > 0`.
    waiters: WaitQueue<Access>,
    value: RefCell<T>,
}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    ///
    /// ```
    /// let l = gosched::sync::RwLock::new(1);
    /// assert_eq!(l.into_inner(), 1);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            readers: Cell::new(0),
            writer: Cell::new(false),
            waiters: WaitQueue::new(),
            value: RefCell::new(value),
        }
    }

    /// Consumes the lock and returns its value.
    ///
    /// ```
    /// let l = gosched::sync::RwLock::new(vec![1]);
    /// l.write().push(2);
    /// assert_eq!(l.into_inner(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, parking the calling goroutine while a writer holds
    /// the lock or waits for it.
    ///
    /// # Panics
    ///
    /// When it would have to wait and the caller is not a goroutine.
    ///
    /// ```
    /// let l = gosched::sync::RwLock::new(5);
    /// let (a, b) = (l.read(), l.read());
    /// assert_eq!(*a + *b, 10);
    /// ```
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        if !self.try_take(Access::Read) {
            self.wait(Access::Read, "RwLock::read");
        }
        self.read_guard()
    }

    /// Locks for writing, parking the calling goroutine while anyone holds
    /// the lock or waits for it.
    ///
    /// # Panics
    ///
    /// When it would have to wait and the caller is not a goroutine.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use gosched::sync::RwLock;
    ///
    /// gosched::run(|| {
    ///     let l = Rc::new(RwLock::new(0));
    ///     let reading = l.read();
    ///     let l2 = l.clone();
    ///     let writer = gosched::go(move || *l2.write() += 1);
    ///     gosched::yield_now(); // the writer waits for the reader
    ///     assert_eq!(*reading, 0);
    ///     drop(reading);
    ///     writer.join().unwrap();
    ///     assert_eq!(*l.read(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        if !self.try_take(Access::Write) {
            self.wait(Access::Write, "RwLock::write");
        }
        self.write_guard()
    }

    /// Locks for reading if that needs no wait.
    ///
    /// ```
    /// let l = gosched::sync::RwLock::new(1);
    /// let w = l.write();
    /// assert!(l.try_read().is_none());
    /// drop(w);
    /// assert_eq!(*l.try_read().unwrap(), 1);
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.try_take(Access::Read).then(|| self.read_guard())
    }

    /// Locks for writing if that needs no wait.
    ///
    /// ```
    /// let l = gosched::sync::RwLock::new(1);
    /// let r = l.read();
    /// assert!(l.try_write().is_none());
    /// drop(r);
    /// *l.try_write().unwrap() = 2;
    /// assert_eq!(*l.read(), 2);
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.try_take(Access::Write).then(|| self.write_guard())
    }

    /// The value, through a unique borrow (no locking needed).
    ///
    /// ```
    /// let mut l = gosched::sync::RwLock::new(1);
    /// *l.get_mut() = 3;
    /// assert_eq!(*l.read(), 3);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Takes the lock for `access` if that needs no wait: nobody queued (a
    /// queued writer holds off new readers) and no conflicting holder.
    fn try_take(&self, access: Access) -> bool {
        if !self.waiters.is_empty() || !self.admits(access) {
            return false;
        }
        self.take(access);
        true
    }

    fn admits(&self, access: Access) -> bool {
        !self.writer.get() && (access == Access::Read || self.readers.get() == 0)
    }

    fn take(&self, access: Access) {
        match access {
            Access::Read => self.readers.set(self.readers.get() + 1),
            Access::Write => self.writer.set(true),
        }
    }

    fn release(&self, access: Access) {
        match access {
            Access::Read => self.readers.set(self.readers.get() - 1),
            Access::Write => self.writer.set(false),
        }
        self.dispatch();
    }

    /// Hands the lock to the waiters at the front that can hold it together:
    /// one writer, or every reader up to the next writer.
    fn dispatch(&self) {
        while let Some(access) = self.waiters.front() {
            if !self.admits(access) {
                return;
            }
            self.take(access);
            self.waiters.wake_one();
        }
    }

    #[track_caller]
    fn wait(&self, access: Access, what: &str) {
        self.waiters
            .wait(access, WaitReason::RwLock, None, what, || {
                self.release(access)
            });
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            value: self.value.borrow(),
            _held: Held(self, Access::Read),
        }
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            value: self.value.borrow_mut(),
            _held: Held(self, Access::Write),
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        // Peek without queueing: readers may look while others read.
        match self.value.try_borrow() {
            Ok(value) if !self.writer.get() => d.field("data", &&*value),
            _ => d.field("data", &format_args!("<locked>")),
        };
        d.field("readers", &self.readers.get())
            .field("writer", &self.writer.get())
            .field("waiters", &self.waiters.len())
            .finish()
    }
}

/// Releases one hold of `access` on drop, also while unwinding.
struct Held<'a, T: ?Sized>(&'a RwLock<T>, Access);

impl<T: ?Sized> Drop for Held<'_, T> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

/// Shared access to an [`RwLock`]'s value; releases it when dropped.
///
/// ```
/// let l = gosched::sync::RwLock::new([1, 2]);
/// let guard = l.read();
/// assert_eq!(guard.len(), 2);
/// ```
pub struct RwLockReadGuard<'a, T: ?Sized> {
    // Declared first so that the borrow ends before the release hands on.
    value: Ref<'a, T>,
    _held: Held<'a, T>,
}

/// Unique access to an [`RwLock`]'s value; releases it when dropped.
///
/// ```
/// let l = gosched::sync::RwLock::new(vec![1]);
/// let mut guard = l.write();
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// ```
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    // Declared first so that the borrow ends before the release hands on.
    value: RefMut<'a, T>,
    _held: Held<'a, T>,
}

super::guard_access!(RwLockReadGuard);
super::guard_access!(RwLockWriteGuard, mut);

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    static_assertions::assert_not_impl_any!(RwLock<u8>: Send, Sync);

    type Log = Rc<RefCell<Vec<&'static str>>>;

    /// Spawns a goroutine that takes `l` for `access`, logs `tag`, and yields
    /// once before it releases the lock.
    fn holder(
        l: &Rc<RwLock<()>>,
        log: &Log,
        access: Access,
        tag: &'static str,
    ) -> crate::JoinHandle<()> {
        let (l, log) = (l.clone(), log.clone());
        crate::go(move || {
            let _r;
            let _w;
            match access {
                Access::Read => _r = l.read(),
                Access::Write => _w = l.write(),
            }
            log.borrow_mut().push(tag);
            crate::yield_now();
        })
    }

    #[test]
    fn queued_writer_holds_off_new_readers() {
        crate::run(|| {
            let l = Rc::new(RwLock::new(0));
            let r1 = l.read();
            let l2 = l.clone();
            let w = crate::go(move || *l2.write() += 1);
            crate::yield_now();
            // A writer waits: a new reader must queue although only readers hold it.
            assert!(l.try_read().is_none());
            let l3 = l.clone();
            let r = crate::go(move || *l3.read());
            crate::yield_now();
            drop(r1);
            w.join().unwrap();
            assert_eq!(r.join().unwrap(), 1, "the reader came after the writer");
        });
    }

    #[test]
    fn release_admits_readers_up_to_the_next_writer() {
        let log = crate::run(|| {
            let l = Rc::new(RwLock::new(()));
            let log = Log::default();
            let w0 = l.write();
            let hs = [
                holder(&l, &log, Access::Read, "r1"),
                holder(&l, &log, Access::Read, "r2"),
                holder(&l, &log, Access::Write, "w"),
                holder(&l, &log, Access::Read, "r3"),
            ];
            crate::yield_now();
            assert_eq!(l.waiters.len(), 4);
            drop(w0);
            // r1 and r2 are handed the lock together; w and r3 still wait.
            assert_eq!(l.readers.get(), 2);
            assert_eq!(l.waiters.front(), Some(Access::Write));
            assert_eq!(l.waiters.len(), 2);
            hs.into_iter().for_each(|h| h.join().unwrap());
            let v = log.borrow().clone();
            v
        });
        assert_eq!(log, ["r1", "r2", "w", "r3"]);
    }

    #[test]
    fn debug_peeks_without_waiting() {
        let l = RwLock::new(1);
        let r = l.read();
        assert_eq!(
            format!("{l:?}"),
            "RwLock { data: 1, readers: 1, writer: false, waiters: 0 }"
        );
        drop(r);
        let w = l.write();
        assert_eq!(
            format!("{l:?}"),
            "RwLock { data: <locked>, readers: 0, writer: true, waiters: 0 }"
        );
        assert_eq!(format!("{w:?}"), "1");
    }
}
