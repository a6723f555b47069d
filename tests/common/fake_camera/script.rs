//! What a fake camera does: every misbehaviour a test can ask for, as one struct of options.

use super::{CameraClock, Captured};
use std::time::Duration;

/// Which pictures (by number) send a packet late, and by how much.
pub type LatePacket = (fn(usize) -> bool, Duration);

/// What the camera does. `index` counts packets sent since PLAY on one connection.
#[derive(Clone, Default)]
pub struct Script {
    /// Drop packet `index` when it returns true.
    pub drop: Option<fn(usize) -> bool>,
    /// Drop frame `n`'s last packet (the one with the marker bit; `n` counted from 1 since PLAY) when it
    /// returns true: a picture whose tail is lost.
    pub drop_marker: Option<fn(usize) -> bool>,
    /// Swap packet `index` with the next one when it returns true.
    pub swap: Option<fn(usize) -> bool>,
    /// The packet just before frame `n`'s marker packet (`n` counted from 1 since PLAY) goes out this
    /// much later, after the marker and whatever follows, when the function returns true: a picture's
    /// tail held up on another path (a Wi-Fi mesh, a bonded link).
    pub late_tail: Option<LatePacket>,
    /// Frame `n`'s second packet goes out this much later, after the rest of the picture, when the
    /// function returns true: everything behind it waits in the reorder window (a keyframe: hundreds of
    /// kilobytes).
    pub late_head: Option<LatePacket>,
    /// Before packet `index`, also send a copy of it with another SSRC when it returns true.
    pub foreign_ssrc: Option<fn(usize) -> bool>,
    /// Extra fmtp parameters for the video media.
    pub fmtp: Option<String>,
    /// The encoding name in `a=rtpmap` ("H264" when `None`; "H265" for `h265_packets`).
    pub encoding: Option<&'static str>,
    /// Answer SETUP over UDP with 461 Unsupported Transport.
    pub refuse_udp: bool,
    /// Accept UDP but never send a packet on it.
    pub silent_udp: bool,
    /// The first connection (the first `reboots`) is closed after this many packets; later ones stream
    /// normally.
    pub close_after: Option<usize>,
    /// GET_PARAMETER is answered with this status (the stream goes on).
    pub get_parameter_status: Option<u16>,
    /// Keep-alive replies carry the previous request's CSeq (Tapo).
    pub keepalive_wrong_cseq: bool,
    /// Session timeout announced; a session without a request for this long expires (the camera stops
    /// sending and answers 454).
    pub session_timeout: Option<u32>,
    /// The session timeout is only announced: the session never expires (cameras that never check).
    pub keep_session: bool,
    /// Keep-alives (GET_PARAMETER, OPTIONS while playing) get no answer at all; they still count as
    /// requests for the session timeout.
    pub ignore_keepalives: bool,
    /// Digest credentials, checked against the response hash; the nonce changes on the first
    /// keep-alive, announced with `digest_stale` (default `, stale=true`; `""`: a new nonce, no flag).
    pub digest: Option<(String, String)>,
    pub digest_stale: Option<&'static str>,
    /// Record when each frame's last packet was sent (latency measurement).
    pub log_frames: bool,
    /// Over TCP: interleaved junk before the PLAY reply, stray CRLF and frames on unknown channels.
    pub junk_frames: bool,
    /// What connections after the first are served (a camera whose stream changed while it rebooted).
    pub after_reconnect: Option<&'static [Vec<u8>]>,
    /// Never set the RTP marker bit: access units end only when the next one's timestamp comes.
    pub no_marker: bool,
    /// Addresses the camera names for itself: the SDP's `c=` line and SETUP's Transport `source=`
    /// (other loopback addresses; the packets still come from 127.0.0.1).
    pub sdp_connection: Option<&'static str>,
    pub transport_source: Option<&'static str>,
    /// This picture (counted from 1 since PLAY) carries an RTP timestamp ten hours off.
    pub outlier_frame: Option<usize>,
    /// Never answer TEARDOWN (and keep streaming).
    pub ignore_teardown: bool,
    /// Reolink: this many packets go out before the PLAY reply.
    pub packets_before_play_reply: usize,
    /// An earlier session still streams to the client's ports, from before the PLAY reply on
    /// (`stale.rs`).
    pub stale_session: bool,
    /// Uniview: a new SSRC at every GOP, the sequence numbers and timestamps going on.
    pub ssrc_per_gop: bool,
    /// Real replies served instead of the fake camera's own (tests/fixtures/retina).
    pub captured: Option<Captured>,
    /// How many connections in a row `close_after` cuts (0 counts as 1).
    pub reboots: usize,
    /// After a connection is closed (`close_after`), the camera is down this long: the port refuses
    /// connections, as during a reboot.
    pub down_after_close: Option<Duration>,
    /// The first session stops sending for good after this many packets, with its RTSP connection left
    /// open and answered (a frozen encoder, a session the camera dropped on its side).
    pub stall_after: Option<usize>,
    /// The first session sends an RTCP BYE for its SSRC after this many packets, then stops sending.
    pub bye_after: Option<usize>,
    /// The camera's NTP and RTP clocks, against the host's.
    pub clock: CameraClock,
    /// Send RTCP sender reports this often (the first at PLAY).
    pub sender_reports: Option<Duration>,
    /// Every access unit's first packet carries the ONVIF replay extension with its NTP time.
    pub onvif_ntp: bool,
    /// Answer the client's reference times (RFC 3611 RRTR) with a DLRR after the first duration, claiming
    /// to have held them the second.
    pub answer_rrtr: Option<(Duration, Duration)>,
    /// `a=rtcp-fb:96 …` lines in the SDP ("nack pli", "ccm fir").
    pub rtcp_fb: &'static [&'static str],
    /// Space packets at this many bits per second instead of sending each frame as one burst.
    pub pace_bps: Option<u64>,
    /// TCP segments no larger than over Ethernet (MSS 1448) instead of loopback's 64 KiB. The camera's
    /// TCP uses Nagle's algorithm (no TCP_NODELAY, as on many cameras), so the segment size decides which
    /// writes wait for an acknowledgement: over Ethernet only a picture's short last segment does.
    pub ethernet_segments: bool,
    /// The camera's TCP sends each write at once (TCP_NODELAY) instead of with Nagle's algorithm.
    pub tcp_nodelay: bool,
    /// How connection 2, 3, … answer DESCRIBE, while the list lasts: a status (404, 503, 401), or 0 for
    /// an SDP without the video track (a camera still booting).
    pub describe_after_reconnect: &'static [u16],
    /// Audio tracks beside the video, each streamed to where its own SETUP asked.
    pub audio: Option<super::FakeAudio>,
    /// An ONVIF metadata track (`FakeAudio::metadata`).
    pub metadata: Option<super::FakeAudio>,
}
