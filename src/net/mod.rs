//! The thin I/O layer: sockets, waiting on them (epoll), and the receive loop that feeds the sans-IO core.

pub mod batch;
pub mod epoll;
pub mod session_client;
pub mod steering;
pub mod udp;
