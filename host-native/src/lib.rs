//! The tidings server as a library: start it inside your tokio runtime, or
//! publish from your own code through a [`Hub`].
pub mod hub;
pub mod tasks;

pub use hub::Hub;
