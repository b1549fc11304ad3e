//! Signed tokens: a payload and an HMAC-SHA256 of it (truncated to 16
//! bytes), both base64url, under a key derived from the server's admin
//! token and a purpose, so that a token made for one use (an unsubscribe
//! link, a tracking link, an inbox) is worth nothing for another, and
//! cannot be forged or changed without the admin token.

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::ServeError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Makes and checks the tokens of one purpose.
#[derive(Clone, Debug)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    /// A signer keyed from `secret` for `purpose`.
    pub fn new(secret: &str, purpose: &str) -> Result<Signer, ServeError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|e| ServeError::new(format!("cannot key {purpose}: {e}")))?;
        mac.update(purpose.as_bytes());
        Ok(Signer {
            key: mac.finalize().into_bytes().to_vec(),
        })
    }

    /// The signature of `payload` (base64url).
    pub fn mac(&self, payload: &[u8]) -> String {
        match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mut mac) => {
                mac.update(payload);
                B64.encode(&mac.finalize().into_bytes()[..16])
            }
            Err(_) => String::new(),
        }
    }

    /// A token carrying `payload`.
    pub fn token(&self, payload: &[u8]) -> String {
        format!("{}.{}", B64.encode(payload), self.mac(payload))
    }

    /// The payload of a genuine token.
    pub fn open(&self, token: &str) -> Option<Vec<u8>> {
        let (payload, mac) = token.split_once('.')?;
        let payload = B64.decode(payload).ok()?;
        same(&self.mac(&payload), mac).then_some(payload)
    }
}

/// Whether two texts are equal and not empty, in time independent of
/// where they differ.
pub fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && same_bytes(a.as_bytes(), b.as_bytes())
}

/// Whether two byte strings are equal, in time independent of where they
/// differ (keys and tokens).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_only_under_their_key_and_purpose() {
        let s = Signer::new("adm_x", "links").unwrap();
        let t = s.token(b"u1\0email");
        assert_eq!(s.open(&t).as_deref(), Some(&b"u1\0email"[..]));
        assert_eq!(Signer::new("adm_y", "links").unwrap().open(&t), None);
        assert_eq!(Signer::new("adm_x", "inbox").unwrap().open(&t), None);
        let (_, mac) = t.split_once('.').unwrap();
        let forged = format!("{}.{mac}", B64.encode(b"u2\0email"));
        assert_eq!(s.open(&forged), None);
        assert_eq!(s.open("garbage"), None);
    }
}
