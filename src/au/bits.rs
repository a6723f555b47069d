//! A bit reader over the start of a NAL unit's payload, for the few header fields the depacketizers
//! need (parameter-set ids, the PPS a slice uses, SEI types). It drops emulation-prevention bytes as it
//! goes, never allocates, and fails rather than reads past the end.

#[derive(Debug, Clone)]
pub struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to load.
    pos: usize,
    /// Bits of the current byte not yet read, in the low bits of `cur`.
    cur: u8,
    left: u8,
    zeros: u8,
    /// Drop emulation-prevention bytes (NAL payloads); off for other bitstreams (AAC configs, LATM).
    emulation: bool,
}

impl<'a> Bits<'a> {
    /// Reads `data` (a NAL payload after its header).
    pub fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            cur: 0,
            left: 0,
            zeros: 0,
            emulation: true,
        }
    }

    /// Reads `data` as it is: a bitstream without emulation prevention.
    pub fn raw(data: &'a [u8]) -> Self {
        Bits {
            emulation: false,
            ..Bits::new(data)
        }
    }

    /// Bits read so far (of a `raw` reader: with emulation prevention, bytes dropped do not count).
    pub fn position(&self) -> usize {
        self.pos * 8 - usize::from(self.left)
    }

    /// Whether the next bit starts a byte.
    pub fn aligned(&self) -> bool {
        self.left == 0
    }

    /// The next `n` bytes of a `raw` reader at a byte boundary, as a slice; `None` past the end.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.left != 0 || self.emulation {
            return None;
        }
        let out = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }

    /// Skips to the next byte boundary.
    pub fn align(&mut self) {
        self.left = 0;
    }

    fn load(&mut self) -> Option<()> {
        let mut b = *self.data.get(self.pos)?;
        self.pos += 1;
        if self.emulation && self.zeros >= 2 && b == 3 {
            // 00 00 03: the 03 is emulation prevention, not payload.
            self.zeros = 0;
            b = *self.data.get(self.pos)?;
            self.pos += 1;
        }
        self.zeros = if b == 0 { self.zeros + 1 } else { 0 };
        self.cur = b;
        self.left = 8;
        Some(())
    }

    pub fn bit(&mut self) -> Option<bool> {
        if self.left == 0 {
            self.load()?;
        }
        self.left -= 1;
        Some((self.cur >> self.left) & 1 == 1)
    }

    /// `n` bits (at most 32), most significant first.
    pub fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n.min(32) {
            v = (v << 1) | u32::from(self.bit()?);
        }
        Some(v)
    }

    pub fn skip(&mut self, n: u32) -> Option<()> {
        for _ in 0..n {
            self.bit()?;
        }
        Some(())
    }

    /// Unsigned Exp-Golomb (ue(v)); values past 32 bits are an error.
    pub fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        Some(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_and_emulation_prevention() {
        // 1 | 010 | 011 | 00100 | 0 → 0, 1, 2, 3
        let mut b = Bits::new(&[0b1010_0110, 0b0100_0000]);
        assert_eq!(
            [b.ue(), b.ue(), b.ue(), b.ue()],
            [Some(0), Some(1), Some(2), Some(3)]
        );
        // 00 00 03 01: the 03 goes, the reader sees 00 00 01.
        let mut b = Bits::new(&[0, 0, 3, 1]);
        assert_eq!(b.bits(24), Some(1));
        assert_eq!(b.bit(), None);
        // Raw: the 03 stays, and the position counts every bit.
        let mut b = Bits::raw(&[0, 0, 3, 1]);
        assert_eq!(b.bits(24), Some(3));
        assert_eq!(b.position(), 24);
        b.bit();
        b.align();
        assert_eq!((b.position(), b.bit()), (32, None));
        let mut b = Bits::raw(&[1, 2, 3, 4]);
        assert_eq!(b.bytes(2), Some(&[1u8, 2][..]));
        assert_eq!(b.bits(4), Some(0));
        assert_eq!(b.bytes(1), None, "not at a byte boundary");
        b.align();
        assert_eq!((b.bytes(2), b.bytes(1)), (None, Some(&[4u8][..])));
        // Never past the end, never more than 32 bits.
        assert_eq!(Bits::new(&[0, 0, 0, 0, 0]).ue(), None);
        assert_eq!(Bits::new(&[]).bit(), None);
    }
}
