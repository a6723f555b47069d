//! The thin I/O layer: sockets, poll, and the receive loop that feeds the sans-IO core.

pub mod batch;
pub mod poll;
pub mod receiver;
pub mod steering;
pub mod udp;
