//! Certificates for the RTSPS tests, made at run time with rcgen: a self-signed one (what cameras
//! present) and one signed by a test CA (a private PKI), both for 127.0.0.1.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

pub struct ServerCert {
    /// Certificate (and chain) then key, PEM: what gst-rtsp-server and the TLS proxy load.
    pub pem: String,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
    /// The issuing CA's certificate, PEM (the certificate itself when self-signed).
    pub ca_pem: String,
}

fn leaf_params() -> CertificateParams {
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "rustrtspsrc test camera");
    params
}

/// A self-signed certificate for 127.0.0.1, as cameras make them.
pub fn self_signed() -> ServerCert {
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params().self_signed(&key).unwrap();
    ServerCert {
        pem: format!("{}{}", cert.pem(), key.serialize_pem()),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
        ca_pem: cert.pem(),
    }
}

/// A certificate for 127.0.0.1 signed by a fresh test CA.
pub fn ca_signed() -> ServerCert {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rustrtspsrc test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params().signed_by(&key, &ca, &ca_key).unwrap();
    ServerCert {
        pem: format!("{}{}", cert.pem(), key.serialize_pem()),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
        ca_pem: ca.pem(),
    }
}

/// Lowercase hex SHA-256 of a certificate, as the element logs it and `tls-certificate-sha256` takes it.
pub fn sha256(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
