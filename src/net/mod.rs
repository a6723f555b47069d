//! The thin I/O layer: sockets, waiting on them (epoll), and the receive loop that feeds the sans-IO core.

pub mod batch;
pub mod client_error;
pub mod connect;
pub mod epoll;
pub mod http_tunnel;
pub mod multicast;
pub mod rtsp_connection;
pub mod session_client;
pub mod steering;
pub mod tls;
pub mod tunnel_post;
pub mod udp;
