//! RTSPS: the TLS client configuration and the certificate checks, as rtspsrc makes them
//! (`tls-validation-flags`, GTlsCertificateFlags' values) plus what no peer offers: a pin on the
//! certificate's SHA-256 fingerprint. The TLS session itself runs in `rtsp_connection.rs`, on the receive
//! loop's socket.
//!
//! Cameras mostly present self-signed certificates (UniFi Protect on port 7441, Axis, Hikvision): the
//! error for a rejected one names the check that failed, the fingerprint, and the property that accepts
//! it, so a user can pin it at once.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, RootCertStore};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// GTlsCertificateFlags: which problems reject a certificate.
pub const UNKNOWN_CA: u32 = 1;
pub const BAD_IDENTITY: u32 = 2;
pub const NOT_ACTIVATED: u32 = 4;
pub const EXPIRED: u32 = 8;
pub const REVOKED: u32 = 16;
pub const INSECURE: u32 = 32;
pub const GENERIC_ERROR: u32 = 64;
pub const VALIDATE_ALL: u32 = 127;

/// How the camera's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// GTlsCertificateFlags of the problems that reject a certificate; 0 accepts any.
    pub validation_flags: u32,
    /// PEM file of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the one certificate to accept, whatever the flags.
    pub pin: Option<[u8; 32]>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            validation_flags: VALIDATE_ALL,
            ca_file: None,
            pin: None,
        }
    }
}

/// A certificate turned down: what failed, and what would accept it.
#[derive(Debug)]
pub struct Rejected {
    problem: String,
    fingerprint: String,
    relax: &'static str,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the camera's TLS certificate was rejected: {} (SHA-256 {}); {}",
            self.problem, self.fingerprint, self.relax
        )
    }
}

impl std::error::Error for Rejected {}

/// Lowercase hex SHA-256 of a DER certificate, as `tls-certificate-sha256` takes it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses a pin: 64 hex digits, colons and spaces allowed (`AB:CD:…` as browsers and openssl show it).
pub fn parse_pin(s: &str) -> Result<[u8; 32], String> {
    let hex: String = s
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    let bad = || format!("tls-certificate-sha256 {s:?} is not 64 hex digits (32 bytes)");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut pin = [0u8; 32];
    for (i, byte) in pin.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(pin)
}

/// The TLS client configuration for `settings`: the system's CA certificates and the CA file's, checked
/// as the flags say.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are not fatal: a pin, a CA file or flags=0 still work.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = &settings.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| format!("tls-ca-file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "tls-ca-file {}: no PEM certificate in it",
                path.display()
            ));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "tls-ca-file {}: no usable CA certificate in it",
                path.display()
            ));
        }
    }
    let webpki = if roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("cannot set up certificate checks: {e}"))?,
        )
    };
    let verifier = CameraCertVerifier {
        webpki,
        settings: settings.clone(),
        provider: provider.clone(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct CameraCertVerifier {
    /// `None` when there is no CA certificate to check against at all.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    settings: TlsSettings,
    provider: Arc<CryptoProvider>,
}

/// The GTlsCertificateFlags bit a verification error stands for, and what it means.
fn classify(e: &Error) -> (u32, &'static str) {
    match e {
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => (
                UNKNOWN_CA,
                "it is not signed by a trusted CA (self-signed?)",
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                (
                    BAD_IDENTITY,
                    "it is not issued for this host name or address",
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                (EXPIRED, "it has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                NOT_ACTIVATED,
                "it is not valid yet (check this host's clock)",
            ),
            CertificateError::Revoked => (REVOKED, "it has been revoked"),
            _ => (GENERIC_ERROR, "it is malformed or unusable"),
        },
        _ => (GENERIC_ERROR, "it is malformed or unusable"),
    }
}

impl CameraCertVerifier {
    fn reject(&self, problem: String, der: &[u8], relax: &'static str) -> Error {
        Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Rejected {
            problem,
            fingerprint: fingerprint(der),
            relax,
        }))))
    }
}

impl ServerCertVerifier for CameraCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if let Some(pin) = self.settings.pin {
            return if Sha256::digest(end_entity.as_ref()).as_slice() == pin {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(self.reject(
                    "its fingerprint is not the one in tls-certificate-sha256".into(),
                    end_entity,
                    "if the camera's certificate changed, pin the new fingerprint",
                ))
            };
        }
        let flags = self.settings.validation_flags;
        let result = match &self.webpki {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        };
        match result {
            Ok(ok) => Ok(ok),
            Err(e) => {
                let (flag, problem) = classify(&e);
                if flags & flag == 0 {
                    return Ok(ServerCertVerified::assertion());
                }
                let problem = match (&self.webpki, flag) {
                    (None, UNKNOWN_CA) => {
                        "this system has no CA certificates to check it against".to_string()
                    }
                    _ => problem.to_string(),
                };
                Err(self.reject(
                    problem,
                    end_entity,
                    "set tls-ca-file to the CA that signed it, pin it with tls-certificate-sha256, \
                     or accept any certificate with tls-validation-flags=0",
                ))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        // Whatever the flags, the server must hold the key of the certificate it showed.
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What a TLS failure says to a person: a rejected certificate's own message, else rustls'.
pub fn describe(e: &Error) -> (bool, String) {
    match e {
        Error::InvalidCertificate(CertificateError::Other(o)) => (true, o.0.to_string()),
        Error::InvalidCertificate(_) => (true, format!("the camera's TLS certificate: {e}")),
        _ => (false, format!("TLS with the camera failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_in_any_common_spelling() {
        let hex = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_pin(&hex), Ok([0xab; 32]));
        assert_eq!(parse_pin(&colons), Ok([0xab; 32]));
        assert!(parse_pin("abc").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
        assert!(parse_pin(&"é".repeat(32)).is_err());
        assert_eq!(fingerprint(b"").len(), 64);
        assert_eq!(&fingerprint(b"")[..8], "e3b0c442", "SHA-256 of nothing");
    }

    #[test]
    fn a_missing_ca_file_is_an_error_that_names_it() {
        let settings = TlsSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = client_config(&settings).unwrap_err();
        assert!(e.contains("tls-ca-file /nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn errors_map_to_glib_flags() {
        let c = |e| classify(&Error::InvalidCertificate(e)).0;
        assert_eq!(c(CertificateError::UnknownIssuer), UNKNOWN_CA);
        assert_eq!(c(CertificateError::NotValidForName), BAD_IDENTITY);
        assert_eq!(c(CertificateError::Expired), EXPIRED);
        assert_eq!(c(CertificateError::NotValidYet), NOT_ACTIVATED);
        assert_eq!(c(CertificateError::Revoked), REVOKED);
        assert_eq!(c(CertificateError::BadEncoding), GENERIC_ERROR);
    }
}
