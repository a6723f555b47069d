//! RTCP (RFC 3550 §6): what a receiver needs — the LSR of sender reports, BYE, and compound receiver
//! reports (RR with loss and jitter, then the SDES CNAME §6.1 requires) built without allocating. A
//! receiver that sends no media gets no round-trip time from RFC 3550's LSR/DLSR (those answer sender
//! reports); RFC 3611's receiver reference time (RRTR) and the sender's DLRR reply give it.

/// Length of a compound receiver report: RR with one block (32 bytes), SDES with one CNAME chunk (32).
pub const REPORT_LEN: usize = 64;
const RR_LEN: usize = 32;
const CNAME_PREFIX: &[u8] = b"rustrtspsrc-";

/// Reception statistics for one source, kept per packet (cheap arithmetic only).
#[derive(Debug, Default, Clone)]
pub struct ReceptionStats {
    base_seq: Option<u32>,
    /// Extended highest sequence number received.
    max_seq: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Interarrival jitter in RTP units, scaled by 16 as in RFC 3550 A.8.
    jitter_q4: u32,
    last_transit: Option<i64>,
    /// Middle 32 bits of the last SR's NTP time, and when it arrived (in our clock, µs).
    last_sr: Option<(u32, u64)>,
}

impl ReceptionStats {
    /// `ext_seq`: 32-bit extended sequence. `arrival_rtp`: arrival time in RTP clock units.
    pub fn on_packet(&mut self, ext_seq: u32, rtp_ts: u32, arrival_rtp: u32) {
        if self.base_seq.is_none() {
            self.base_seq = Some(ext_seq);
            self.max_seq = ext_seq;
        }
        if ext_seq > self.max_seq {
            self.max_seq = ext_seq;
        }
        self.received = self.received.wrapping_add(1);
        let transit = i64::from(arrival_rtp.wrapping_sub(rtp_ts) as i32);
        if let Some(last) = self.last_transit {
            let d = (transit - last)
                .unsigned_abs()
                .min(u64::from(u32::MAX >> 4)) as u32;
            // J += (|D| - J) / 16, in Q4.
            self.jitter_q4 = self
                .jitter_q4
                .wrapping_add(d)
                .wrapping_sub((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    pub fn on_sender_report(&mut self, ntp_middle: u32, now_us: u64) {
        self.last_sr = Some((ntp_middle, now_us));
    }

    pub fn expected(&self) -> u32 {
        self.base_seq
            .map(|b| self.max_seq.wrapping_sub(b).wrapping_add(1))
            .unwrap_or(0)
    }

    pub fn lost(&self) -> i64 {
        i64::from(self.expected()) - i64::from(self.received)
    }

    /// Writes a compound receiver report (RR with one report block, SDES CNAME) into `out`; returns its
    /// length.
    pub fn write_receiver_report(
        &mut self,
        our_ssrc: u32,
        source_ssrc: u32,
        now_us: u64,
        out: &mut [u8; REPORT_LEN],
    ) -> usize {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let cumulative = self.lost().clamp(-(1 << 23), (1 << 23) - 1) as i32;
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => (
                lsr,
                ((now_us.saturating_sub(at)) * 65536 / 1_000_000) as u32,
            ),
            None => (0, 0),
        };
        out[0] = 0x81; // V=2, RC=1
        out[1] = 201; // RR
        out[2..4].copy_from_slice(&7u16.to_be_bytes()); // length in words - 1
        out[4..8].copy_from_slice(&our_ssrc.to_be_bytes());
        out[8..12].copy_from_slice(&source_ssrc.to_be_bytes());
        out[12] = fraction;
        out[13..16].copy_from_slice(&cumulative.to_be_bytes()[1..4]);
        out[16..20].copy_from_slice(&self.max_seq.to_be_bytes());
        out[20..24].copy_from_slice(&(self.jitter_q4 >> 4).to_be_bytes());
        out[24..28].copy_from_slice(&lsr.to_be_bytes());
        out[28..32].copy_from_slice(&dlsr.to_be_bytes());
        write_sdes_cname(our_ssrc, &mut out[RR_LEN..]);
        REPORT_LEN
    }
}

/// SDES with one chunk: our SSRC and CNAME `rustrtspsrc-<ssrc in hex>` (unique per session, names no host
/// or user), null-terminated and padded to 32 bytes.
fn write_sdes_cname(our_ssrc: u32, out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let cname_len = CNAME_PREFIX.len() + 8;
    out.fill(0);
    out[0] = 0x81; // V=2, SC=1
    out[1] = 202; // SDES
    out[2..4].copy_from_slice(&7u16.to_be_bytes());
    out[4..8].copy_from_slice(&our_ssrc.to_be_bytes());
    out[8] = 1; // CNAME
    out[9] = cname_len as u8;
    out[10..10 + CNAME_PREFIX.len()].copy_from_slice(CNAME_PREFIX);
    for (i, b) in out[10 + CNAME_PREFIX.len()..10 + cname_len]
        .iter_mut()
        .enumerate()
    {
        *b = HEX[(our_ssrc >> (28 - 4 * i) & 0xf) as usize];
    }
    // The rest stays zero: the END item and padding.
}

/// Length of an XR packet with one RRTR block.
pub const RRTR_LEN: usize = 20;

/// An XR packet (RFC 3611 §4.4) with a receiver reference time report block: `ntp` is our clock in
/// NTP format; the camera echoes its middle 32 bits in a DLRR block.
pub fn write_rrtr(our_ssrc: u32, ntp: u64, out: &mut [u8; RRTR_LEN]) {
    out[0] = 0x80;
    out[1] = 207; // XR
    out[2..4].copy_from_slice(&4u16.to_be_bytes());
    out[4..8].copy_from_slice(&our_ssrc.to_be_bytes());
    out[8..12].copy_from_slice(&[4, 0, 0, 2]); // RRTR, two words
    out[12..20].copy_from_slice(&ntp.to_be_bytes());
}

/// The DLRR sub-block (RFC 3611 §4.5) about `ssrc` in a compound RTCP packet: (LRR, DLRR), the middle
/// 32 bits of our reference time and the delay since the camera received it, in 1/65536 s.
pub fn find_dlrr_for(buf: &[u8], ssrc: u32) -> Option<(u32, u32)> {
    let word = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    packets(buf).filter(|p| p[1] == 207).find_map(|p| {
        let mut blocks = p.get(8..)?;
        while blocks.len() >= 4 {
            let len = 4 + 4 * usize::from(u16::from_be_bytes([blocks[2], blocks[3]]));
            let block = blocks.get(..len)?;
            if block[0] == 5 {
                let found = block[4..].chunks_exact(12).find_map(|sub| {
                    (word(sub, 0)? == ssrc).then_some((word(sub, 4)?, word(sub, 8)?))
                });
                if found.is_some() {
                    return found;
                }
            }
            blocks = &blocks[len..];
        }
        None
    })
}

/// The packets of a compound RTCP packet; stops at the first malformed one.
fn packets(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < 4 || rest[0] >> 6 != 2 {
            return None;
        }
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let packet = rest.get(..len)?;
        rest = &rest[len..];
        Some(packet)
    })
}

/// Whether a compound RTCP packet holds a BYE naming `ssrc`.
pub fn has_bye_for(buf: &[u8], ssrc: u32) -> bool {
    packets(buf).any(|p| {
        let count = usize::from(p[0] & 0x1f);
        p[1] == 203
            && p[4..]
                .chunks_exact(4)
                .take(count)
                .any(|s| s == ssrc.to_be_bytes())
    })
}

/// The sender info of a sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport {
    pub ssrc: u32,
    /// NTP timestamp, 32.32 fixed-point seconds since 1900.
    pub ntp: u64,
    /// The same instant in RTP time.
    pub rtp: u32,
}

impl SenderReport {
    /// The middle 32 bits of the NTP time: what receiver reports echo as LSR.
    pub fn ntp_middle(&self) -> u32 {
        (self.ntp >> 16) as u32
    }
}

/// Finds a sender report in a compound RTCP packet.
pub fn find_sender_report(buf: &[u8]) -> Option<SenderReport> {
    packets(buf).find_map(|p| {
        let word = |at: usize| {
            p.get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        (p[1] == 200).then_some(())?;
        Some(SenderReport {
            ssrc: word(4)?,
            ntp: u64::from(word(8)?) << 32 | u64::from(word(12)?),
            rtp: word(16)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_report_counts_loss() {
        let mut s = ReceptionStats::default();
        for seq in [100u32, 101, 103, 104] {
            s.on_packet(seq, seq * 3000, seq * 3000 + 10);
        }
        assert_eq!(s.expected(), 5);
        assert_eq!(s.lost(), 1);
        s.on_sender_report(0xaabbccdd, 1_000_000);
        let mut out = [0u8; REPORT_LEN];
        assert_eq!(s.write_receiver_report(1, 2, 1_500_000, &mut out), 64);
        assert_eq!(&out[0..2], &[0x81, 201]);
        assert_eq!(out[12], 51); // 1/5 of 256
        assert_eq!(&out[13..16], &[0, 0, 1]);
        assert_eq!(u32::from_be_bytes(out[16..20].try_into().unwrap()), 104);
        assert_eq!(
            u32::from_be_bytes(out[24..28].try_into().unwrap()),
            0xaabbccdd
        );
        assert_eq!(u32::from_be_bytes(out[28..32].try_into().unwrap()), 32768);
        // SDES CNAME follows in the same compound packet.
        let sdes = &out[32..];
        assert_eq!(&sdes[..8], &[0x81, 202, 0, 7, 0, 0, 0, 1]);
        assert_eq!(sdes[8], 1);
        assert_eq!(
            &sdes[10..10 + usize::from(sdes[9])],
            b"rustrtspsrc-00000001"
        );
        assert_eq!(
            sdes[10 + usize::from(sdes[9])],
            0,
            "item list ends with a null"
        );
        assert_eq!(packets(&out).count(), 2);
    }

    #[test]
    fn rrtr_and_dlrr() {
        let mut out = [0u8; RRTR_LEN];
        write_rrtr(9, 0x1122_3344_5566_7788, &mut out);
        assert_eq!(&out[..12], &[0x80, 207, 0, 4, 0, 0, 0, 9, 4, 0, 0, 2]);
        assert_eq!(packets(&out).count(), 1);
        // A camera's XR: an unknown block, then DLRR with two sub-blocks, the second ours.
        let mut xr = vec![
            0x80, 207, 0, 10, 0, 0, 0, 1, 99, 0, 0, 1, 0, 0, 0, 0, 5, 0, 0, 6,
        ];
        xr.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 2]);
        xr.extend_from_slice(&[0, 0, 0, 9, 0x33, 0x44, 0x55, 0x66, 0, 0, 0x10, 0]);
        assert_eq!(find_dlrr_for(&xr, 9), Some((0x3344_5566, 0x1000)));
        assert_eq!(find_dlrr_for(&xr, 7), None);
        // Block lengths past the packet end the search.
        xr[19] = 60;
        assert_eq!(find_dlrr_for(&xr, 9), None);
        assert_eq!(find_dlrr_for(&out, 9), None);
    }

    #[test]
    fn finds_bye_for_our_source_only() {
        let mut buf = vec![0x80, 201, 0, 1, 0, 0, 0, 9];
        buf.extend_from_slice(&[0x82, 203, 0, 2, 0, 0, 0, 5, 0, 0, 0, 7]);
        assert!(has_bye_for(&buf, 7));
        assert!(has_bye_for(&buf, 5));
        assert!(!has_bye_for(&buf, 9));
        // A count larger than the packet holds reads no further than the packet.
        assert!(!has_bye_for(&[0x9f, 203, 0, 0], 0));
        assert!(!has_bye_for(&[0x81, 203, 0, 5, 0, 0, 0, 7], 7));
    }

    #[test]
    fn finds_sr_in_compound() {
        let mut buf = vec![0x80, 201, 0, 1, 0, 0, 0, 9]; // empty RR first
        buf.extend_from_slice(&[
            0x80, 200, 0, 6, 0, 0, 0, 7, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 1, 0, 2,
        ]);
        buf.extend_from_slice(&[0; 8]);
        let sr = find_sender_report(&buf).unwrap();
        assert_eq!(sr.ssrc, 7);
        assert_eq!(sr.ntp, 0x1122_3344_5566_7788);
        assert_eq!(sr.ntp_middle(), 0x33445566);
        assert_eq!(sr.rtp, 0x0001_0002);
        assert_eq!(find_sender_report(&[0x80, 200, 0, 9]), None);
        assert_eq!(find_sender_report(&[0x00, 200, 0, 0]), None);
        assert_eq!(find_sender_report(&[]), None);
    }
}
