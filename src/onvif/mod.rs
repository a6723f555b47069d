//! ONVIF's additions to RTSP streaming (ONVIF Streaming Specification): the metadata stream
//! (`metadata`: analytics and event documents).

pub mod metadata;
