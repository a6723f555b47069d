//! H.265 for the fake camera, packetized by hand so that the packet types no GStreamer payloader sends
//! can be tried: aggregation packets, fragmentation units, PACI packets and DONL/DOND fields (RFC 7798).

/// One picture: its RTP timestamp and NAL units (header included).
pub type Picture = (u32, Vec<Vec<u8>>);

/// Encodes `frames` frames of 320x240 30 fps with x265enc (a keyframe a second), as NAL units per
/// picture.
pub fn encode(frames: u32) -> Vec<Picture> {
    encode_sized(320, 240, 600, frames, "ball")
}

/// Like `encode`, at another size, bitrate (kbit/s) and videotestsrc pattern.
pub fn encode_sized(
    width: u32,
    height: u32,
    kbps: u32,
    frames: u32,
    pattern: &str,
) -> Vec<Picture> {
    let aus = super::super::pull_all(&format!(
        "videotestsrc num-buffers={frames} pattern={pattern} ! video/x-raw,format=I420,width={width},height={height},framerate=30/1 \
         ! x265enc speed-preset=ultrafast tune=zerolatency key-int-max=30 bitrate={kbps} \
         ! h265parse config-interval=-1 ! video/x-h265,stream-format=byte-stream,alignment=au \
         ! appsink name=sink sync=false"
    ));
    aus.iter()
        .enumerate()
        .map(|(i, au)| {
            let nals = gstrustrtsp::au::annexb::split_annexb(au)
                .map(<[u8]>::to_vec)
                .collect();
            (i as u32 * 3000, nals)
        })
        .collect()
}

/// How the camera packs its pictures.
#[derive(Clone, Copy, Default)]
pub struct Packing {
    /// Largest RTP payload.
    pub mtu: usize,
    /// DONL before single units, the first unit of an AP and FU starts; DOND in APs
    /// (`sprop-max-don-diff` > 0 in the SDP).
    pub don: bool,
    /// Every this many packets is wrapped in a PACI packet.
    pub paci_every: Option<usize>,
    /// VPS, SPS and PPS in one aggregation packet (else each alone).
    pub params_in_one_ap: bool,
    /// Parameter sets left out of the stream (only in the SDP).
    pub params_only_in_sdp: bool,
    /// Parameter sets left out of the SDP (only in the stream).
    pub params_only_in_band: bool,
}

fn is_param(nal: &[u8]) -> bool {
    matches!((nal[0] >> 1) & 0x3f, 32..=34)
}

/// RTP packets for `pictures`, and the fmtp parameters announcing their parameter sets (and DON use).
pub fn packetize(pictures: &[Picture], p: Packing) -> (Vec<Vec<u8>>, String) {
    use base64::Engine;
    let b64 = |n: &[u8]| base64::engine::general_purpose::STANDARD.encode(n);
    let mut params: Vec<&[u8]> = Vec::new();
    for (_, nals) in pictures {
        for n in nals.iter().filter(|n| is_param(n)) {
            if !params.iter().any(|q| q[..2] == n[..2]) {
                params.push(n);
            }
        }
    }
    let find = |t: u8| {
        params
            .iter()
            .find(|n| (n[0] >> 1) & 0x3f == t)
            .map(|n| b64(n))
    };
    let mut fmtp = if p.params_only_in_band {
        "profile-id=1".to_string()
    } else {
        format!(
            "sprop-vps={};sprop-sps={};sprop-pps={}",
            find(32).unwrap_or_default(),
            find(33).unwrap_or_default(),
            find(34).unwrap_or_default()
        )
    };
    if p.don {
        fmtp.push_str(";sprop-max-don-diff=2");
    }
    let mut packets = Vec::new();
    let mut don: u16 = 0;
    for (ts, nals) in pictures {
        let mut payloads: Vec<Vec<u8>> = Vec::new();
        let (sets, rest): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) = nals.iter().partition(|n| is_param(n));
        if !p.params_only_in_sdp && p.params_in_one_ap && !sets.is_empty() {
            let mut ap = vec![48 << 1, 1];
            for (i, n) in sets.iter().enumerate() {
                if p.don {
                    if i == 0 {
                        ap.extend_from_slice(&don.to_be_bytes());
                    } else {
                        ap.push(0);
                    }
                    don = don.wrapping_add(1);
                }
                ap.extend_from_slice(&(n.len() as u16).to_be_bytes());
                ap.extend_from_slice(n);
            }
            payloads.push(ap);
        }
        let singles: Vec<&Vec<u8>> = if p.params_only_in_sdp || p.params_in_one_ap {
            rest
        } else {
            nals.iter().collect()
        };
        for n in singles {
            if n.len() + 2 <= p.mtu {
                let mut s = n[..2].to_vec();
                if p.don {
                    s.extend_from_slice(&don.to_be_bytes());
                }
                s.extend_from_slice(&n[2..]);
                payloads.push(s);
            } else {
                let t = (n[0] >> 1) & 0x3f;
                let chunks: Vec<&[u8]> = n[2..].chunks(p.mtu - 5).collect();
                for (i, c) in chunks.iter().enumerate() {
                    let mut fu = vec![(n[0] & 0x81) | (49 << 1), n[1]];
                    let mut h = t;
                    if i == 0 {
                        h |= 0x80;
                    }
                    if i == chunks.len() - 1 {
                        h |= 0x40;
                    }
                    fu.push(h);
                    if p.don && i == 0 {
                        fu.extend_from_slice(&don.to_be_bytes());
                    }
                    fu.extend_from_slice(c);
                    payloads.push(fu);
                }
            }
            don = don.wrapping_add(1);
        }
        let last = payloads.len().saturating_sub(1);
        for (i, mut payload) in payloads.into_iter().enumerate() {
            if p.paci_every.is_some_and(|k| packets.len() % k == k - 1) {
                // PACI: the original type as cType, a 2-byte header extension.
                let ctype = (payload[0] >> 1) & 0x3f;
                let mut paci = vec![
                    (payload[0] & 0x81) | (50 << 1),
                    payload[1],
                    ctype << 1,
                    0x20,
                    0xaa,
                    0xbb,
                ];
                paci.extend_from_slice(&payload[2..]);
                payload = paci;
            }
            let mut pkt = vec![0x80, if i == last { 0x80 | 96 } else { 96 }, 0, 0];
            pkt.extend_from_slice(&ts.to_be_bytes());
            pkt.extend_from_slice(&[0, 0, 0, 0]);
            pkt.extend_from_slice(&payload);
            packets.push(pkt);
        }
    }
    (packets, fmtp)
}
