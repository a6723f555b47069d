//! ONVIF's additions to RTSP streaming (ONVIF Streaming Specification): the metadata stream
//! (`metadata`: analytics and event documents), and the audio back channel (§5.3: the client sends
//! audio on the camera's `sendonly` media, asked for with this option tag in `Require`).

pub mod metadata;

/// The option tag that asks for the audio back channel.
pub const BACKCHANNEL_TAG: &str = "www.onvif.org/ver20/backchannel";
