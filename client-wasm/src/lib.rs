//! Browser driver of broker-core's client state machine (under construction).
