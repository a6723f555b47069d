//! RTSP signalling: messages, URLs, authentication, SDP, header values and the session state machine.

pub mod auth;
pub mod backoff;
pub mod headers;
pub mod message;
pub mod sdp;
pub mod session;
pub mod url;
