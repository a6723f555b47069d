//! Checking the Digest answers the fake camera receives (RFC 2617, realm "cam", no qop).

/// A quoted or plain parameter of an `Authorization: Digest` value.
pub fn digest_param(auth: &str, name: &str) -> Option<String> {
    auth.strip_prefix("Digest ")?.split(',').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Whether an `Authorization` value answers our challenge (realm "cam", no qop) with the right hash:
/// response = MD5(MD5(user:realm:password):nonce:MD5(method:uri)), RFC 2617 §3.2.2.1.
pub fn digest_ok(auth: &str, method: &str, user: &str, password: &str, nonce: &str) -> bool {
    use md5::{Digest, Md5};
    let hex = |s: String| {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let p = |name| digest_param(auth, name).unwrap_or_default();
    let ha1 = hex(format!("{user}:cam:{password}"));
    let ha2 = hex(format!("{method}:{}", p("uri")));
    p("username") == user
        && p("nonce") == nonce
        && p("response") == hex(format!("{ha1}:{nonce}:{ha2}"))
}
