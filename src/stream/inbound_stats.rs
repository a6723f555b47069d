//! The counters of one inbound stream, each defined once: the struct, its sum over reconnects, the
//! `stats` property's field names and their documentation all come from the list below.

macro_rules! counters {
    ($($(#[doc = $doc:literal])+ $field:ident => $name:literal,)+) => {
        #[derive(Debug, Default, Clone, PartialEq, Eq)]
        pub struct InboundStats {
            $($(#[doc = $doc])+ pub $field: u64,)+
        }

        impl InboundStats {
            /// (field name in the `stats` structure, what it counts).
            pub const FIELDS: &'static [(&'static str, &'static str)] =
                &[$(($name, concat!($($doc),+))),+];

            /// Accumulates another connection's counters.
            pub fn add(&mut self, o: &InboundStats) {
                $(self.$field += o.$field;)+
            }

            /// Each counter with its field name, in `FIELDS` order.
            pub fn for_each(&self, mut f: impl FnMut(&'static str, u64)) {
                $(f($name, self.$field);)+
            }
        }
    };
}

counters! {
    /// RTP packets of the stream received.
    packets => "packets-received",
    /// Bytes of those packets.
    bytes => "bytes-received",
    /// Packets that never came (gaps in the sequence).
    lost => "packets-lost",
    /// Packets put back in order by the reorder window.
    reordered => "packets-reordered",
    /// Packets received twice.
    duplicates => "duplicates",
    /// Packets that came after their place was given up, or far from the sequence.
    late => "late",
    /// Packets of another SSRC dropped (stale sessions, replays).
    foreign_ssrc => "foreign-ssrc-dropped",
    /// Datagrams from an address other than the camera's dropped.
    foreign_source => "foreign-source-dropped",
    /// Packets of a payload type not set up dropped.
    foreign_payload_type => "foreign-payload-type-dropped",
    /// Packets that are not RTP, or payloads that do not parse.
    malformed => "malformed",
    /// Times the stream's SSRC was changed to the one actually streaming.
    ssrc_switches => "ssrc-switches",
    /// NAL units dropped for a missing fragment.
    nals_dropped => "nals-dropped",
    /// Access units dropped while waiting for a keyframe or for exceeding the size bound.
    access_units_dropped => "access-units-dropped",
    /// RTCP sender reports of the stream received.
    sender_reports => "sender-reports",
    /// Sender reports whose NTP time contradicted the mapping by more than a second (the camera
    /// stepped its clock).
    ntp_jumps => "ntp-jumps",
    /// Keyframe requests (RTCP PLI or FIR) sent to the camera.
    keyframe_requests => "keyframe-requests",
    /// ONVIF replay packets of an earlier PLAY (their 0xABAC CSeq byte is another's) dropped.
    replay_stale => "replay-stale-dropped",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_named_summed_and_documented() {
        let mut a = InboundStats {
            packets: 1,
            access_units_dropped: 2,
            ..Default::default()
        };
        a.add(&a.clone());
        let mut seen = Vec::new();
        a.for_each(|name, v| seen.push((name, v)));
        assert_eq!(seen.len(), InboundStats::FIELDS.len());
        assert_eq!(seen[0], ("packets-received", 2));
        assert_eq!(seen.last(), Some(&("replay-stale-dropped", 0)));
        assert!(InboundStats::FIELDS.iter().all(|(_, doc)| !doc.is_empty()));
    }
}
