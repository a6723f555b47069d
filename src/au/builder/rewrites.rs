//! What finishing may do to an access unit's bytes: put its NAL units back in decoding order (RFC 7798
//! DONs), and put the parameter sets a keyframe lacks in front of it.

use crate::au::annexb::{units, START_CODE};
use crate::au::au_bytes::AuBytes;
use crate::au::size_class::size_class;
use crate::au::syntax::{Nal, NalSyntax};

/// `au` with its NAL units sorted by decoding order number, when every unit has one and they came out
/// of order; `None` otherwise (the common case: nothing to do, nothing allocated).
pub(super) fn in_decoding_order(au: &AuBytes, dons: &[(u16, usize)]) -> Option<AuBytes> {
    let first = dons.first()?.0;
    // DONs wrap at 16 bits: order by distance from the first.
    let rank = |d: u16| d.wrapping_sub(first).wrapping_add(0x8000);
    if dons.windows(2).all(|w| rank(w[0].0) <= rank(w[1].0)) {
        return None;
    }
    let mut ranked: Vec<(u16, &[u8])> = Vec::with_capacity(dons.len());
    let mut dons = dons.iter();
    for (at, unit) in units(au) {
        // Both in offset order: a unit without a DON (past MAX_DONS, or split out of an Annex-B blob)
        // leaves the access unit as it came.
        let &(don, don_at) = dons.next()?;
        if don_at != at {
            return None;
        }
        ranked.push((rank(don), unit));
    }
    ranked.sort_by_key(|(r, _)| *r);
    let mut out = au.sibling(size_class(au.len()));
    for (_, unit) in ranked {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(unit);
    }
    Some(out)
}

/// Puts the parameter sets of `chain` that the keyframe `au` lacks in front of the first unit that must
/// follow them: after a leading AUD, before any SEI or slice, and after the sets of an earlier kind the
/// access unit has itself (so a lone missing PPS follows the SPS it refers to).
pub(super) fn with_parameter_sets<C: NalSyntax>(au: AuBytes, chain: [Option<&[u8]>; 3]) -> AuBytes {
    let present = |set: &[u8]| units(&au).any(|(_, u)| u == set);
    let missing: Vec<(usize, &[u8])> = chain
        .iter()
        .enumerate()
        .filter_map(|(rank, s)| s.filter(|s| !present(s)).map(|s| (rank, s)))
        .collect();
    if missing.is_empty() {
        return au;
    }
    // Order of units in an access unit: AUD, then parameter sets by kind, then the rest.
    let rank = |unit: &[u8]| match C::classify(unit) {
        Nal::Aud => None,
        Nal::Param(k) => Some(k as usize),
        _ => Some(3),
    };
    let extra: usize = missing.iter().map(|(_, s)| s.len() + 4).sum();
    let mut out = au.sibling(size_class(au.len() + extra));
    let mut pending = missing.into_iter().peekable();
    let mut copied = 0;
    for (at, unit) in units(&au) {
        let Some(r) = rank(unit) else {
            continue;
        };
        while let Some((_, set)) = pending.next_if(|(m, _)| *m < r) {
            out.extend_from_slice(&au[copied..at]);
            copied = at;
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(set);
        }
    }
    out.extend_from_slice(&au[copied..]);
    for (_, set) in pending {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(set);
    }
    out
}
