//! Tasks: real processes in pseudo-terminals, persisted, reconciled.
