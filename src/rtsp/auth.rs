//! Basic and Digest (RFC 2617/7616, with and without qop, MD5/SHA-256, -sess) answers to a 401, built on the
//! `http-auth` crate. One retry per challenge: a second 401 without `stale=true` means wrong credentials.

use super::url::Credentials;
use http_auth::{PasswordClient, PasswordParams};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The server wants credentials and none were given.
    NoCredentials,
    /// The server refused the credentials that were given.
    Rejected,
    /// The challenge could not be understood.
    BadChallenge(String),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::NoCredentials => write!(
                f,
                "the camera requires authentication: set user-id and user-pw, or put them in the URL"
            ),
            AuthError::Rejected => write!(
                f,
                "the camera rejected the user name or password (check user-id / user-pw)"
            ),
            AuthError::BadChallenge(e) => {
                write!(f, "cannot answer the camera's authentication challenge: {e}")
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct Authenticator {
    credentials: Option<Credentials>,
    client: Option<PasswordClient>,
    /// Set when a request carrying our answer was sent and not yet accepted.
    answered: bool,
}

impl Authenticator {
    pub fn new(credentials: Option<Credentials>) -> Self {
        Authenticator {
            credentials,
            client: None,
            answered: false,
        }
    }

    /// Takes the `WWW-Authenticate` values of a 401. `Ok` means: send the request again.
    pub fn on_unauthorized<'a>(
        &mut self,
        challenges: impl Iterator<Item = &'a str>,
    ) -> Result<(), AuthError> {
        let creds = self.credentials.as_ref().ok_or(AuthError::NoCredentials)?;
        let _ = creds;
        let values: Vec<&str> = challenges.collect();
        let stale = values.iter().any(|v| {
            v.to_ascii_lowercase()
                .replace(' ', "")
                .contains("stale=true")
        });
        if self.answered && !stale {
            return Err(AuthError::Rejected);
        }
        let mut builder = PasswordClient::builder();
        for v in &values {
            builder = builder.challenges(v);
        }
        self.client = Some(builder.build().map_err(AuthError::BadChallenge)?);
        self.answered = false;
        Ok(())
    }

    /// Marks that the last answer was accepted: a later 401 (expired nonce) gets a fresh try.
    pub fn on_success(&mut self) {
        self.answered = false;
    }

    /// `Authorization` value for a request, once a challenge was seen.
    pub fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let creds = self.credentials.as_ref()?;
        let client = self.client.as_mut()?;
        let value = client
            .respond(&PasswordParams {
                username: &creds.user,
                password: &creds.password,
                uri,
                method,
                body: Some(&[]),
            })
            .ok()?;
        self.answered = true;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn creds() -> Option<Credentials> {
        Some(Credentials {
            user: "admin".into(),
            password: "secret".into(),
        })
    }

    #[test]
    fn basic() {
        let mut a = Authenticator::new(creds());
        assert_eq!(a.authorization("DESCRIBE", "rtsp://h/s"), None);
        a.on_unauthorized(["Basic realm=\"cam\""].into_iter())
            .unwrap();
        let v = a.authorization("DESCRIBE", "rtsp://h/s").unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode("admin:secret");
        assert_eq!(v, format!("Basic {expected}"));
        // A second 401 means the password is wrong: no loop.
        assert_eq!(
            a.on_unauthorized(["Basic realm=\"cam\""].into_iter()),
            Err(AuthError::Rejected)
        );
    }

    #[test]
    fn digest_preferred_and_rfc2617_vector_without_qop() {
        let mut a = Authenticator::new(Some(Credentials {
            user: "Mufasa".into(),
            password: "Circle Of Life".into(),
        }));
        a.on_unauthorized(
            [
                "Basic realm=\"x\"",
                "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"",
            ]
            .into_iter(),
        )
        .unwrap();
        let v = a.authorization("GET", "/dir/index.html").unwrap();
        assert!(v.starts_with("Digest "), "{v}");
        // H(H(A1):nonce:H(A2)) without qop, computed by RFC 2069 rules.
        assert!(
            v.contains("response=\"670fd8c2df070c60b045671b8b24ff02\""),
            "{v}"
        );
    }

    #[test]
    fn digest_with_qop_and_sha256() {
        let mut a = Authenticator::new(creds());
        a.on_unauthorized(
            ["Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=SHA-256"].into_iter(),
        )
        .unwrap();
        let v = a.authorization("SETUP", "rtsp://h/s/trackID=0").unwrap();
        assert!(v.contains("qop=auth"), "{v}");
        assert!(v.contains("algorithm=SHA-256"), "{v}");
        assert!(v.contains("nc=00000001"), "{v}");
        assert!(!v.contains("secret"));
    }

    #[test]
    fn stale_nonce_is_answered_again() {
        let mut a = Authenticator::new(creds());
        a.on_unauthorized(["Digest realm=\"r\", nonce=\"1\""].into_iter())
            .unwrap();
        a.authorization("PLAY", "rtsp://h/s").unwrap();
        a.on_unauthorized(["Digest realm=\"r\", nonce=\"2\", stale=TRUE"].into_iter())
            .unwrap();
        assert!(a
            .authorization("PLAY", "rtsp://h/s")
            .unwrap()
            .contains("nonce=\"2\""));
    }

    #[test]
    fn errors() {
        let mut a = Authenticator::new(None);
        assert_eq!(
            a.on_unauthorized(["Basic realm=\"x\""].into_iter()),
            Err(AuthError::NoCredentials)
        );
        let mut a = Authenticator::new(creds());
        assert!(matches!(
            a.on_unauthorized(["Bearer x"].into_iter()),
            Err(AuthError::BadChallenge(_))
        ));
    }
}
