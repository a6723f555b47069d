//! RTP fixed header (RFC 3550 §5.1) and sequence/timestamp unwrapping.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// The header extension (RFC 3550 §5.3.1): its profile-defined 16 bits and its data.
    pub extension: Option<(u16, &'a [u8])>,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpError {
    TooShort(usize),
    Version(u8),
    BadCsrcCount,
    BadExtension,
    BadPadding,
}

impl std::fmt::Display for RtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RtpError::TooShort(n) => {
                write!(f, "RTP packet of {n} bytes is shorter than its header")
            }
            RtpError::Version(v) => write!(f, "RTP version {v}, expected 2"),
            RtpError::BadCsrcCount => write!(f, "RTP CSRC list runs past the packet"),
            RtpError::BadExtension => write!(f, "RTP header extension runs past the packet"),
            RtpError::BadPadding => write!(f, "RTP padding length is larger than the payload"),
        }
    }
}

impl std::error::Error for RtpError {}

impl<'a> RtpPacket<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < 12 {
            return Err(RtpError::TooShort(buf.len()));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::Version(version));
        }
        let padding = buf[0] & 0x20 != 0;
        let extension = buf[0] & 0x10 != 0;
        let csrc_count = usize::from(buf[0] & 0x0f);
        let mut start = 12 + 4 * csrc_count;
        if start > buf.len() {
            return Err(RtpError::BadCsrcCount);
        }
        let mut ext_data = None;
        if extension {
            let ext = buf.get(start..start + 4).ok_or(RtpError::BadExtension)?;
            let profile = u16::from_be_bytes([ext[0], ext[1]]);
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            let data = buf
                .get(start + 4..start + 4 + 4 * words)
                .ok_or(RtpError::BadExtension)?;
            ext_data = Some((profile, data));
            start += 4 + 4 * words;
        }
        let mut end = buf.len();
        if padding {
            let pad = usize::from(buf[end - 1]);
            if pad == 0 || start + pad > end {
                return Err(RtpError::BadPadding);
            }
            end -= pad;
        }
        Ok(RtpPacket {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7f,
            sequence: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            extension: ext_data,
            payload: &buf[start..end],
        })
    }
}

/// Extends a wrapping 32-bit RTP timestamp to 64 bits, allowing steps in either direction (B-frames,
/// reordering) of less than half the range.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimestampUnwrapper {
    last: Option<u64>,
}

impl TimestampUnwrapper {
    pub fn unwrap(&mut self, ts: u32) -> u64 {
        let ext = match self.last {
            None => (1u64 << 32) + u64::from(ts),
            Some(last) => {
                let delta = ts.wrapping_sub(last as u32) as i32;
                last.wrapping_add_signed(i64::from(delta))
            }
        };
        self.last = Some(ext);
        ext
    }

    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// Signed distance from `a` to `b` in 16-bit sequence space.
pub fn seq_delta(a: u16, b: u16) -> i16 {
    b.wrapping_sub(a) as i16
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds an RTP packet for tests in this crate.
    pub fn build(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, if marker { 0x80 | 96 } else { 96 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn plain_packet() {
        let b = build(7, 90000, true, b"\x65abc");
        let p = RtpPacket::parse(&b).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, 96);
        assert_eq!(p.sequence, 7);
        assert_eq!(p.timestamp, 90000);
        assert_eq!(p.ssrc, 0x1234_5678);
        assert_eq!(p.payload, b"\x65abc");
    }

    #[test]
    fn csrc_extension_padding() {
        let mut b = build(1, 2, false, b"");
        b[0] = 0x80 | 0x20 | 0x10 | 2; // padding, extension, 2 CSRCs
        b.extend_from_slice(&[0; 8]); // CSRCs
        b.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // one-word extension
        b.extend_from_slice(b"\x41xy");
        b.extend_from_slice(&[0, 0, 3]); // 3 bytes of padding
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(p.payload, b"\x41xy");
        assert_eq!(p.extension, Some((0xbede, &[1u8, 2, 3, 4][..])));
    }

    #[test]
    fn malformed() {
        assert_eq!(RtpPacket::parse(&[0x80; 5]), Err(RtpError::TooShort(5)));
        let mut b = build(1, 2, false, b"");
        b[0] = 0x40;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::Version(1)));
        b[0] = 0x8f;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadCsrcCount));
        b[0] = 0x90;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadExtension));
        let mut b = build(1, 2, false, b"ab");
        b[0] = 0xa0;
        *b.last_mut().unwrap() = 9;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadPadding));
        *b.last_mut().unwrap() = 0;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadPadding));
    }

    #[test]
    fn timestamp_wraps_both_ways() {
        let mut u = TimestampUnwrapper::default();
        let a = u.unwrap(u32::MAX - 10);
        let b = u.unwrap(5);
        assert_eq!(b - a, 16);
        let c = u.unwrap(u32::MAX - 1);
        assert_eq!(b - c, 7);
    }

    #[test]
    fn sequence_delta() {
        assert_eq!(seq_delta(65535, 0), 1);
        assert_eq!(seq_delta(0, 65535), -1);
        assert_eq!(seq_delta(10, 20), 10);
    }
}
