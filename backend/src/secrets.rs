//! The server key that seals marketplace credentials at rest.
//!
//! `STOCKROOM_SECRET_KEY` holds 32 random bytes (64 hex digits or base64; `stockroom
//! secret-key` makes one). A sealed value is `v1.<key id>.<base64 of nonce ‖ ciphertext>`:
//! XChaCha20-Poly1305 with a random 24-byte nonce, and the owner of the value (the seller
//! and the connection's marketplace) as associated data, so a sealed value copied to
//! another row does not open. The key id (the first bytes of the key's SHA-256) says which
//! key sealed a value, so a wrong key is told apart from a damaged value, and a rotation
//! can tell what it has already re-sealed.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use sha2::{Digest, Sha256};

/// The version tag of the sealed format.
const FORMAT: &str = "v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("STOCKROOM_SECRET_KEY must be 32 bytes, written as 64 hex digits or in base64 ({0})")]
    BadKey(&'static str),
    #[error("the credentials were sealed with another key (key id {found}, this server's is {expected})")]
    WrongKey { found: String, expected: String },
    #[error("the sealed credentials are damaged or belong to another connection")]
    Damaged,
}

/// The server's key. Its bytes never leave this type: `Debug` shows the key id only.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
    id: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").field("id", &self.id).finish()
    }
}

impl SecretKey {
    /// Reads a key written as 64 hex digits or as base64 (standard or URL-safe).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SecretError::BadKey("it is empty"));
        }
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| SecretError::BadKey("not hex"))?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
                .map_err(|_| SecretError::BadKey("neither hex nor base64"))?
        };
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SecretError::BadKey("it is not 32 bytes long"))?;
        Ok(Self::from_bytes(&key))
    }

    fn from_bytes(key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
            id: hex::encode(&digest[..4]),
        }
    }

    /// A new random key, written as 64 hex digits.
    pub fn generate() -> String {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        hex::encode(key)
    }

    /// Which key this is, safe to show and to store.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plain` for `owner` (the associated data the value must be opened with).
    pub fn seal(&self, owner: &str, plain: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for inputs this small.
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: owner.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!(
            "{FORMAT}.{}.{}",
            self.id,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// The key id a sealed value names, if it is in our format.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(FORMAT), Some(id), Some(_)) => Some(id),
            _ => None,
        }
    }

    /// Opens a value sealed for `owner` with this key.
    pub fn open(&self, owner: &str, sealed: &str) -> Result<Vec<u8>, SecretError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretError::Damaged);
        };
        if id != self.id {
            return Err(SecretError::WrongKey {
                found: id.to_owned(),
                expected: self.id.clone(),
            });
        }
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| SecretError::Damaged)?;
        if bytes.len() < 24 {
            return Err(SecretError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(24);
        self.cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: sealed,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::parse(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_and_owner_only() {
        let sealed = key().seal("seller-1/amazon", b"refresh-token");
        assert!(!sealed.contains("refresh-token"));
        assert_eq!(
            key().open("seller-1/amazon", &sealed).unwrap(),
            b"refresh-token"
        );
        assert_eq!(
            key().open("seller-2/amazon", &sealed),
            Err(SecretError::Damaged)
        );
        let other = SecretKey::parse(&SecretKey::generate()).unwrap();
        assert!(matches!(
            other.open("seller-1/amazon", &sealed),
            Err(SecretError::WrongKey { .. })
        ));
        assert_eq!(SecretKey::key_id_of(&sealed), Some(key().id()));
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let k = key();
        assert_ne!(k.seal("o", b"x"), k.seal("o", b"x"));
    }

    #[test]
    fn a_damaged_value_is_refused() {
        let k = key();
        let sealed = k.seal("o", b"secret");
        // Change one character of the body for another: the value must not open, whatever
        // the random nonce made of that character.
        let mut chars: Vec<char> = sealed.chars().collect();
        let at = chars.len() - 5;
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        let damaged: String = chars.into_iter().collect();
        assert_ne!(damaged, sealed);
        assert_eq!(k.open("o", &damaged), Err(SecretError::Damaged));
        assert_eq!(k.open("o", "v1.x"), Err(SecretError::Damaged));
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_and_must_be_32_bytes() {
        let hex_key = "00".repeat(32);
        let b64 = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        assert_eq!(
            SecretKey::parse(&hex_key).unwrap().id(),
            SecretKey::parse(&b64).unwrap().id()
        );
        assert!(SecretKey::parse("").is_err());
        assert!(SecretKey::parse("short").is_err());
        assert!(SecretKey::parse(&"00".repeat(16)).is_err());
        assert!(!format!("{:?}", key()).contains("abab"));
    }
}
