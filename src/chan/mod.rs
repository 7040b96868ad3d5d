//! Channels: Go's `chan`, with crossbeam-channel's API shape.
