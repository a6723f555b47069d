//! RTSP signalling: messages, URLs, authentication, SDP, header values, the session state machine and
//! what a PLAY asks of recordings (ONVIF replay).

pub mod auth;
pub mod backoff;
pub mod headers;
pub mod message;
pub mod replay;
pub mod sdp;
pub mod session;
pub mod url;
