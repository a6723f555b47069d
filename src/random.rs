//! Random numbers where nothing needs to be unguessable: the reconnect backoff's jitter and the SSRC
//! our RTCP reports carry.

/// Random bits from std's per-process random hash keys and the clock; enough for jitter and an RTCP
/// SSRC, without a crate for it.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}
