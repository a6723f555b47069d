//! The fake camera's SDP: its video, and the scripted audio tracks before or after it.

use super::{FakeAudio, Script};

pub fn sdp(script: &Script) -> String {
    let video = format!(
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 {}/90000\r\na=fmtp:96 packetization-mode=1{}\r\n\
         a=control:trackID=1\r\n{}",
        script.encoding.unwrap_or("H264"),
        script
            .fmtp
            .as_deref()
            .map(|f| format!(";{f}"))
            .unwrap_or_default(),
        script
            .rtcp_fb
            .iter()
            .map(|f| format!("a=rtcp-fb:96 {f}\r\n"))
            .collect::<String>()
    );
    let audio = script
        .audio
        .as_ref()
        .map(FakeAudio::sdp)
        .unwrap_or_default();
    let (first, second) = match &script.audio {
        Some(a) if a.before_video => (audio, video),
        _ => (video, audio),
    };
    let metadata = script
        .metadata
        .as_ref()
        .map(FakeAudio::sdp)
        .unwrap_or_default();
    format!(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fake\r\nc=IN IP4 {}\r\nt=0 0\r\na=control:*\r\n{first}{second}{metadata}",
        script.sdp_connection.unwrap_or("0.0.0.0"),
    )
}
