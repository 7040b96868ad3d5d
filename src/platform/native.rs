//! Native platform: park the OS thread until the next timer or a remote wake.

use std::thread;
use std::time::{Duration, Instant};

use super::{Idle, Platform, Unparker};

/// Parks the scheduler's thread while idle; other threads unpark it.
///
/// ```
/// let v = gosched::Runtime::new().platform(gosched::platform::NativePlatform::new()).run(|| 7);
/// assert_eq!(v, 7);
/// ```
#[derive(Debug)]
pub struct NativePlatform {
    epoch: Instant,
}

impl NativePlatform {
    /// A platform whose clock starts now.
    pub fn new() -> NativePlatform {
        NativePlatform {
            epoch: Instant::now(),
        }
    }
}

impl Default for NativePlatform {
    fn default() -> Self {
        NativePlatform::new()
    }
}

impl Platform for NativePlatform {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        // A wake-up that raced ahead of us left the thread's park token set,
        // so these return at once rather than miss it.
        match deadline {
            Some(deadline) => thread::park_timeout(deadline.saturating_sub(self.now())),
            None => thread::park(),
        }
        Idle::Resume
    }

    fn unparker(&self) -> Unparker {
        let thread = thread::current();
        Unparker::new(move || thread.unpark())
    }
}
