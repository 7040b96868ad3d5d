//! Goroutine-aware synchronisation: waiters park, never spin.
