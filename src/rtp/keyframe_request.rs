//! Keyframe requests to the camera, sans-IO: an RTCP Picture Loss Indication (RFC 4585 §6.3.1) when the
//! SDP advertises `a=rtcp-fb:<pt> nack pli`, a Full Intra Request (RFC 5104 §4.3.1) when it advertises
//! `ccm fir`, nothing otherwise (a camera that did not offer either may not expect them). At most one
//! per second: requests in between are folded into one sent when the second is up, so a request is never
//! lost and a burst of them (several viewers joining, a loss storm) costs the camera one keyframe.

use std::time::{Duration, Instant};

/// Which feedback message the camera understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyframeFeedback {
    Pli,
    Fir,
}

/// The longest feedback message written here (FIR with one entry).
pub const FEEDBACK_MAX: usize = 20;
const MIN_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct KeyframeRequests {
    kind: Option<KeyframeFeedback>,
    pending: bool,
    last_sent: Option<Instant>,
    /// FIR command sequence number (RFC 5104: one per new request, the same for repeats).
    fir_seq: u8,
}

impl KeyframeRequests {
    pub fn set_kind(&mut self, kind: Option<KeyframeFeedback>) {
        self.kind = kind;
    }

    /// Asks for a keyframe. Returns false when the camera offered no way to ask.
    pub fn want(&mut self) -> bool {
        self.pending = self.kind.is_some();
        self.pending
    }

    /// When a request waits for the rate limit to allow it.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending
            .then(|| self.last_sent.map(|t| t + MIN_INTERVAL))
            .flatten()
    }

    /// Whether a request waits and the rate limit allows it now.
    pub fn is_due(&self, now: Instant) -> bool {
        self.pending && self.last_sent.is_none_or(|t| now >= t + MIN_INTERVAL)
    }

    /// The request to send now, if one waits and the rate limit allows it.
    pub fn due(&mut self, now: Instant) -> Option<KeyframeFeedback> {
        if !self.is_due(now) {
            return None;
        }
        self.pending = false;
        self.last_sent = Some(now);
        if self.kind == Some(KeyframeFeedback::Fir) {
            self.fir_seq = self.fir_seq.wrapping_add(1);
        }
        self.kind
    }

    /// Writes the feedback message into `out`; returns its length.
    pub fn write(
        &self,
        kind: KeyframeFeedback,
        our_ssrc: u32,
        media_ssrc: u32,
        out: &mut [u8; FEEDBACK_MAX],
    ) -> usize {
        out.fill(0);
        out[1] = 206; // PSFB
        out[4..8].copy_from_slice(&our_ssrc.to_be_bytes());
        match kind {
            KeyframeFeedback::Pli => {
                out[0] = 0x81; // V=2, FMT=1
                out[2..4].copy_from_slice(&2u16.to_be_bytes());
                out[8..12].copy_from_slice(&media_ssrc.to_be_bytes());
                12
            }
            KeyframeFeedback::Fir => {
                // The media source field is unused (0); the FCI names the source and the request.
                out[0] = 0x84; // V=2, FMT=4
                out[2..4].copy_from_slice(&4u16.to_be_bytes());
                out[12..16].copy_from_slice(&media_ssrc.to_be_bytes());
                out[16] = self.fir_seq;
                20
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_second_and_none_lost() {
        let mut k = KeyframeRequests::default();
        k.set_kind(Some(KeyframeFeedback::Pli));
        let t = Instant::now();
        assert_eq!(k.due(t), None, "nothing asked");
        assert!(k.want());
        assert_eq!(k.due(t), Some(KeyframeFeedback::Pli));
        // Two more within the second: folded into one, sent when the second is up.
        k.want();
        k.want();
        let later = t + Duration::from_millis(300);
        assert_eq!(k.due(later), None);
        assert_eq!(k.deadline(), Some(t + MIN_INTERVAL));
        assert_eq!(k.due(t + MIN_INTERVAL), Some(KeyframeFeedback::Pli));
        assert_eq!(k.due(t + 5 * MIN_INTERVAL), None);
        assert_eq!(k.deadline(), None);
    }

    #[test]
    fn nothing_to_send_without_the_sdp_offering_it() {
        let mut k = KeyframeRequests::default();
        assert!(!k.want());
        assert_eq!(k.due(Instant::now()), None);
    }

    #[test]
    fn pli_and_fir_layout() {
        let mut k = KeyframeRequests::default();
        let mut out = [0u8; FEEDBACK_MAX];
        assert_eq!(k.write(KeyframeFeedback::Pli, 1, 2, &mut out), 12);
        assert_eq!(&out[..12], &[0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
        k.set_kind(Some(KeyframeFeedback::Fir));
        k.want();
        let t = Instant::now();
        assert_eq!(k.due(t), Some(KeyframeFeedback::Fir));
        assert_eq!(k.write(KeyframeFeedback::Fir, 1, 2, &mut out), 20);
        assert_eq!(
            out,
            [0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0]
        );
        // A new request gets a new sequence number.
        k.want();
        k.due(t + MIN_INTERVAL);
        k.write(KeyframeFeedback::Fir, 1, 2, &mut out);
        assert_eq!(out[16], 2);
    }
}
