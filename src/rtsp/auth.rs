//! Basic and Digest (RFC 2617/7616, with and without qop, MD5/SHA-256, -sess) answers to a 401, built on the
//! `http-auth` crate, which picks Digest when a camera offers both. A 401 with a new nonce (`stale=true`,
//! `stale="true"`, or no flag at all) is answered again; a second 401 for the nonce we answered means
//! wrong credentials.

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

/// New nonces answered in a row without a success before the credentials count as rejected: a camera
/// that rotates its nonce on every refusal must not loop forever.
const MAX_FRESH_NONCES: u32 = 3;

#[derive(Default)]
pub struct Authenticator {
    credentials: Option<Credentials>,
    client: Option<PasswordClient>,
    /// Set when a request carrying our answer was sent and not yet accepted.
    answered: bool,
    /// 401s answered since the last success.
    retries: u32,
}

/// Says which scheme is in use, never the credentials or the nonce.
impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("credentials", &self.credentials.as_ref().map(|_| "<set>"))
            .field("basic", &self.is_basic())
            .field("answered", &self.answered)
            .finish()
    }
}

impl Authenticator {
    pub fn new(credentials: Option<Credentials>) -> Self {
        Authenticator {
            credentials,
            client: None,
            answered: false,
            retries: 0,
        }
    }

    /// Whether the answer in use is Basic (the password in the clear on a plain connection).
    pub fn is_basic(&self) -> bool {
        matches!(self.client, Some(PasswordClient::Basic(_)))
    }

    /// Takes the `WWW-Authenticate` values of a 401. `Ok` means: send the request again.
    pub fn on_unauthorized<'a>(
        &mut self,
        challenges: impl Iterator<Item = &'a str>,
    ) -> Result<(), AuthError> {
        if self.credentials.is_none() {
            return Err(AuthError::NoCredentials);
        }
        let mut builder = PasswordClient::builder();
        for v in challenges {
            builder = builder.challenges(v);
        }
        let client = builder.build().map_err(AuthError::BadChallenge)?;
        if self.answered {
            // The answer we sent was refused. Only a new nonce is worth another try: an expired one
            // (`stale=true`, or cameras that rotate nonces without saying so).
            let fresh = match (&self.client, &client) {
                (Some(PasswordClient::Digest(old)), PasswordClient::Digest(new)) => {
                    new.stale() || new.nonce() != old.nonce()
                }
                _ => false,
            };
            if !fresh || self.retries >= MAX_FRESH_NONCES {
                return Err(AuthError::Rejected);
            }
        }
        self.retries += 1;
        self.client = Some(client);
        self.answered = false;
        Ok(())
    }

    /// Marks that the last answer was accepted: a later 401 (expired nonce) gets a fresh try.
    pub fn on_success(&mut self) {
        self.answered = false;
        self.retries = 0;
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

    fn answered(a: &mut Authenticator, challenge: &str) -> Result<String, AuthError> {
        a.on_unauthorized([challenge].into_iter())?;
        Ok(a.authorization("PLAY", "rtsp://h/s").unwrap())
    }

    #[test]
    fn every_form_of_nonce_rotation_is_answered_again() {
        for renewed in [
            "Digest realm=\"r\", nonce=\"2\", stale=true",
            "Digest realm=\"r\", nonce=\"2\", stale=\"true\"",
            // No stale flag, but a different nonce.
            "Digest realm=\"r\", nonce=\"2\"",
        ] {
            let mut a = Authenticator::new(creds());
            answered(&mut a, "Digest realm=\"r\", nonce=\"1\"").unwrap();
            let v = answered(&mut a, renewed).unwrap_or_else(|e| panic!("{renewed}: {e}"));
            assert!(v.contains("nonce=\"2\""), "{v}");
        }
        // The same nonce refused again: wrong credentials.
        let mut a = Authenticator::new(creds());
        answered(&mut a, "Digest realm=\"r\", nonce=\"1\"").unwrap();
        assert_eq!(
            answered(&mut a, "Digest realm=\"r\", nonce=\"1\""),
            Err(AuthError::Rejected)
        );
    }

    #[test]
    fn a_nonce_per_refusal_does_not_loop() {
        let mut a = Authenticator::new(creds());
        let results: Vec<bool> = (0..10)
            .map(|i| answered(&mut a, &format!("Digest realm=\"r\", nonce=\"{i}\"")).is_ok())
            .collect();
        assert_eq!(results.iter().filter(|ok| **ok).count(), 3, "{results:?}");
        // After a success the count starts again.
        a.on_success();
        assert!(answered(&mut a, "Digest realm=\"r\", nonce=\"x\"").is_ok());
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut a = Authenticator::new(creds());
        answered(&mut a, "Digest realm=\"r\", nonce=\"n0nce\"").unwrap();
        let d = format!("{a:?}");
        assert!(
            !d.contains("secret") && !d.contains("n0nce") && !d.contains("admin"),
            "{d}"
        );
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
