//! RTSPS end to end, with RTP over UDP and interleaved on the TLS connection: gst-rtsp-server with a TLS
//! certificate made at run time, recorded with validation off, with the right pin, with a test CA in
//! `tls-ca-file`; a wrong pin and an untrusted certificate fail fast with an error that says which check
//! failed and what accepts it. The fake camera's failures through a TLS front are in `behind_fronts.rs`.

mod common;

use common::certs::{self, ServerCert};
use common::server::{Auth, ServerOptions, TestServer};
use common::{record, record_clean, Recording};
use std::time::Duration;

fn tls_server(cert: &ServerCert, auth: Option<Auth>) -> TestServer {
    TestServer::start(ServerOptions {
        tls_pem: Some(cert.pem.clone()),
        auth,
        ..Default::default()
    })
    .expect("gst-rtsp-server with TLS (needs glib-networking)")
}

fn validation_off(protocols: &str) {
    let cert = certs::self_signed();
    let server = tls_server(&cert, None);
    let rec = record_clean(
        &server.url(),
        Duration::from_secs(3),
        &[("protocols", &protocols), ("tls-validation-flags", &"0")],
    );
    rec.assert_plays();
    assert_eq!(rec.transport(), protocols);
}

fn right_pin(protocols: &str) {
    let cert = certs::self_signed();
    let server = tls_server(&cert, None);
    // As a browser shows it: upper case with colons.
    let pin = certs::sha256(&cert.cert_der)
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let rec = record_clean(
        &server.url(),
        Duration::from_secs(3),
        &[("protocols", &protocols), ("tls-certificate-sha256", &pin)],
    );
    rec.assert_plays();
}

fn private_ca(protocols: &str) {
    let cert = certs::ca_signed();
    let server = tls_server(&cert, None);
    let dir =
        std::env::temp_dir().join(format!("rustrtspsrc-ca-{}-{protocols}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &cert.ca_pem).unwrap();
    let rec = record_clean(
        &server.url(),
        Duration::from_secs(3),
        &[
            ("protocols", &protocols),
            ("tls-ca-file", &ca_file.to_str().unwrap()),
        ],
    );
    std::fs::remove_dir_all(&dir).unwrap();
    rec.assert_plays();
}

/// A rejected certificate: NOT_AUTHORIZED within 2 s, naming what failed, the fingerprint and the fix.
fn assert_rejected(rec: &Recording, fingerprint: &str, says: &str, protocols: &str) {
    assert!(rec.frames.is_empty());
    assert_eq!(
        rec.error_kind,
        Some(gst::ResourceError::NotAuthorized),
        "{protocols}: {:?}",
        rec.errors
    );
    assert!(
        rec.error_after.unwrap() < Duration::from_secs(2),
        "{protocols}: {:?}",
        rec.error_after
    );
    // The message, then the details (what failed and what to do).
    let message = &rec.errors[0].1;
    assert!(message.contains(fingerprint), "{protocols}: {message}");
    assert!(message.contains(says), "{protocols}: {message}");
}

fn wrong_pin(protocols: &str) {
    let cert = certs::self_signed();
    let server = tls_server(&cert, None);
    let rec = record(
        &server.url(),
        Duration::from_secs(5),
        &[
            ("protocols", &protocols),
            ("tls-certificate-sha256", &"00".repeat(32)),
        ],
    );
    assert_rejected(
        &rec,
        &certs::sha256(&cert.cert_der),
        "tls-certificate-sha256",
        protocols,
    );
}

fn untrusted(protocols: &str) {
    let cert = certs::self_signed();
    let server = tls_server(&cert, None);
    let rec = record(
        &server.url(),
        Duration::from_secs(5),
        &[("protocols", &protocols)],
    );
    assert_rejected(
        &rec,
        &certs::sha256(&cert.cert_der),
        "tls-validation-flags=0",
        protocols,
    );
    assert!(
        rec.errors[0].1.contains("not signed by a trusted CA"),
        "{:?}",
        rec.errors
    );
}

fn basic_over_tls_is_not_warned_about(protocols: &str) {
    let cert = certs::self_signed();
    let auth = Auth {
        user: "admin".into(),
        password: "Secret-1".into(),
        digest: false,
    };
    let server = tls_server(&cert, Some(auth));
    let rec = record_clean(
        &server.url(),
        Duration::from_secs(3),
        &[
            ("protocols", &protocols),
            ("tls-validation-flags", &"0"),
            ("user-id", &"admin"),
            ("user-pw", &"Secret-1"),
        ],
    );
    rec.assert_plays();
    assert!(
        !rec.warnings.iter().any(|w| w.contains("in the clear")),
        "{:?}",
        rec.warnings
    );
}

over_udp_and_tcp! {
    validation_off => super::validation_off;
    pinned => super::right_pin;
    ca_file => super::private_ca;
    wrong_pin_fails_fast => super::wrong_pin;
    untrusted_fails_fast => super::untrusted;
    basic_auth => super::basic_over_tls_is_not_warned_about;
}

/// `rtsphs://`: RTSP tunnelled in HTTP over TLS (rtspsrc's scheme), through gst-rtsp-server's tunnel
/// with a TLS certificate. Both the GET and the POST connection check the certificate: with the right
/// pin it plays (with Digest through the tunnel), with a wrong one it fails fast, as RTSPS does.
#[test]
fn tunnelled_in_https() {
    let cert = certs::self_signed();
    let auth = Auth {
        user: "admin".into(),
        password: "Secret-2".into(),
        digest: true,
    };
    let server = tls_server(&cert, Some(auth));
    let url = server.url().replace("rtsps://", "rtsphs://");
    let pin = certs::sha256(&cert.cert_der);
    let rec = record_clean(
        &url,
        Duration::from_secs(3),
        &[
            ("tls-certificate-sha256", &pin),
            ("user-id", &"admin"),
            ("user-pw", &"Secret-2"),
        ],
    );
    rec.assert_plays();
    assert_eq!(rec.transport(), "tcp");
    assert!(server.teardowns() >= 1, "TEARDOWN went through the tunnel");

    let rec = record(
        &url,
        Duration::from_secs(5),
        &[("tls-certificate-sha256", &"00".repeat(32))],
    );
    assert_rejected(&rec, &pin, "tls-certificate-sha256", "rtsphs");
}
