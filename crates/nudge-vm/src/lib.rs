//! The deterministic Nudge interpreter.
