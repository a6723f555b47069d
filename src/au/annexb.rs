//! Annex-B framing: the 4-byte start code the output uses, and splitting byte strings on start codes
//! (parameter sets in `sprop-*` attributes, cameras that put Annex-B inside RTP).

pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Built once: constructing a searcher per NAL unit costs more than the search.
pub static START_CODE_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(&[0, 0, 1]));

/// Splits on 3- or 4-byte start codes; bytes without any start code are one NAL. Trailing zeros go.
pub fn split_annexb(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || loop {
        while let [0, 0, 1, tail @ ..] | [0, 0, 0, 1, tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return None;
        }
        let end = START_CODE_FINDER.find(rest).unwrap_or(rest.len());
        let (mut nal, tail) = rest.split_at(end);
        rest = tail;
        while let [head @ .., 0] = nal {
            nal = head;
        }
        if !nal.is_empty() {
            return Some(nal);
        }
    })
}

/// The NAL units of an access unit as the builder writes it (4-byte start codes, none inside a unit):
/// (offset of its start code, the unit).
pub fn units(au: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + START_CODE_FINDER.find(au.get(at..)?)?;
        let body = start + 3;
        let end = START_CODE_FINDER
            .find(&au[body..])
            .map_or(au.len(), |p| (body + p).saturating_sub(1).max(body));
        at = end;
        // A 4-byte start code: its first zero belongs to it, not to the previous unit.
        let code = start.saturating_sub(usize::from(start > 0 && au[start - 1] == 0));
        Some((code, &au[body..end]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_walks() {
        let v: Vec<&[u8]> = split_annexb(&[0, 0, 0, 1, 7, 1, 0, 0, 1, 8, 2, 0, 0]).collect();
        assert_eq!(v, [&[7, 1][..], &[8, 2]]);
        let v: Vec<&[u8]> = split_annexb(&[7, 1]).collect();
        assert_eq!(v, [&[7, 1][..]]);
        let au = [0, 0, 0, 1, 9, 0x10, 0, 0, 0, 1, 0x65, 1, 2];
        let u: Vec<(usize, &[u8])> = units(&au).collect();
        assert_eq!(u, [(0, &[9, 0x10][..]), (6, &[0x65, 1, 2][..])]);
        assert_eq!(units(&[]).count(), 0);
    }
}
