//! The parameter sets a stream has shown (in-band or from the SDP), cached by kind and id within the
//! spec's id ranges, and the ones a keyframe needs in front of it: the PPS its first slice names, the
//! SPS that PPS names, and for H.265 the VPS that SPS names. A stream with several PPS (one per slice
//! type, or per resolution) gets the right ones; where ids cannot be read, id 0 is assumed, which is
//! what nearly every camera uses.

use super::annexb::split_annexb;
use super::syntax::{Nal, NalSyntax, ParamKind};
use base64::Engine;
use std::marker::PhantomData;

/// A parameter set larger than this is not one (an SPS with every option is a few hundred bytes).
pub const MAX_PARAM_SET_BYTES: usize = 4096;

#[derive(Debug)]
pub struct ParamSets<C> {
    /// Per kind, per id: the set with its header.
    sets: [Vec<Option<Vec<u8>>>; 3],
    /// Per kind, the id stored last.
    latest: [Option<u32>; 3],
    /// Changes whenever an SPS changes.
    generation: u32,
    codec: PhantomData<C>,
}

impl<C: NalSyntax> Default for ParamSets<C> {
    fn default() -> Self {
        ParamSets {
            sets: C::MAX_IDS.map(|n| vec![None; n]),
            latest: [None; 3],
            generation: 0,
            codec: PhantomData,
        }
    }
}

impl<C: NalSyntax> ParamSets<C> {
    /// The id of a set, 0 when it cannot be read; `None` when it is out of the codec's range.
    fn id(kind: ParamKind, nal: &[u8]) -> Option<usize> {
        let id = C::param_ids(kind, nal).map_or(0, |(id, _)| id) as usize;
        (id < C::MAX_IDS[kind as usize]).then_some(id)
    }

    /// Whether `nal` is the set already stored under its kind and id.
    pub fn is_known(&self, kind: ParamKind, nal: &[u8]) -> bool {
        Self::id(kind, nal)
            .and_then(|id| self.sets[kind as usize][id].as_deref())
            .is_some_and(|s| s == nal)
    }

    /// Stores a set; returns false when it was refused (too large, id out of range).
    pub fn store(&mut self, kind: ParamKind, nal: &[u8]) -> bool {
        let Some(id) = Self::id(kind, nal).filter(|_| nal.len() <= MAX_PARAM_SET_BYTES) else {
            return false;
        };
        let slot = &mut self.sets[kind as usize][id];
        if slot.as_deref() != Some(nal) {
            let s = slot.get_or_insert_with(Vec::new);
            s.clear();
            s.extend_from_slice(nal);
            if kind == ParamKind::Sps {
                self.generation = self.generation.wrapping_add(1);
            }
        }
        self.latest[kind as usize] = Some(id as u32);
        true
    }

    /// Changes whenever an SPS changes.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    fn get(&self, kind: ParamKind, id: Option<u32>) -> Option<&[u8]> {
        let id = id.or(self.latest[kind as usize])? as usize;
        self.sets[kind as usize].get(id)?.as_deref()
    }

    /// The sets a picture whose first slice is `slice` refers to, by kind (VPS, SPS, PPS). Ids that
    /// cannot be read fall back to the set stored last of that kind.
    pub fn chain(&self, slice: &[u8]) -> [Option<&[u8]>; 3] {
        let pps = self.get(ParamKind::Pps, C::slice_pps_id(slice));
        let sps_id = pps.and_then(|p| C::param_ids(ParamKind::Pps, p)?.1);
        let sps = self.get(ParamKind::Sps, sps_id);
        let vps_id = sps.and_then(|s| C::param_ids(ParamKind::Sps, s)?.1);
        let vps = (C::MAX_IDS[ParamKind::Vps as usize] > 0)
            .then(|| self.get(ParamKind::Vps, vps_id))
            .flatten();
        [vps, sps, pps]
    }
}

/// Decodes a `sprop-*` attribute (comma-separated base64) into parameter-set NAL units. Entries that are
/// not base64 or not a parameter set (VStarcam sends them without the NAL header) are returned as
/// problems to warn about; start codes inside an entry (GW Security) split it.
pub fn decode_sprop<C: NalSyntax>(value: &str) -> (Vec<Vec<u8>>, Vec<String>) {
    let mut nals = Vec::new();
    let mut problems = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bytes = match base64::engine::general_purpose::STANDARD.decode(entry) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("{:?} is not base64 ({e})", crate::au::cut(entry)));
                continue;
            }
        };
        for nal in split_annexb(&bytes) {
            // forbidden_zero_bit clear, and a parameter set.
            match C::classify(nal) {
                Nal::Param(_) if nal[0] & 0x80 == 0 => nals.push(nal.to_vec()),
                _ => problems.push(format!(
                    "{:?} is not a parameter set",
                    crate::au::cut(entry)
                )),
            }
        }
    }
    (nals, problems)
}
