//! Personal data sealed per person, so that erasing a person is destroying one key
//! ("crypto-shredding", docs/decisions/0007).
//!
//! Each staff member has a key of their own (`personal_keys`). Their name, work e-mail
//! and attendance notes enter the log sealed with it: XChaCha20-Poly1305, a fresh
//! random 192-bit nonce per value (random nonces of that size never repeat in
//! practice), and the staff id as associated data, so a value sealed for one person
//! does not open as another's. The domain carries the result as an opaque
//! [`Sealed`]; only this module turns plain text into it and back.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use kurslogg_domain::{Sealed, StaffId};
use zeroize::Zeroizing;

/// Bytes in a key.
pub const KEY_BYTES: usize = 32;
/// Bytes in a nonce (XChaCha20).
const NONCE_BYTES: usize = 24;

/// One staff member's key. Never logged; wiped from memory when dropped.
#[derive(Clone)]
pub struct PersonalKey(Zeroizing<[u8; KEY_BYTES]>);

impl std::fmt::Debug for PersonalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalKey([redacted])")
    }
}

/// A sealed value that does not open with this key for this person: the wrong key, the
/// wrong person, or altered text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sealed value does not open with this person's key")]
pub struct Unreadable;

impl PersonalKey {
    /// A new random key.
    pub fn generate() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        bytes.copy_from_slice(&key);
        Self(bytes)
    }

    /// A key as stored; `None` if it is not a key's length.
    pub fn from_bytes(stored: &[u8]) -> Option<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        (stored.len() == KEY_BYTES).then(|| {
            bytes.copy_from_slice(stored);
            Self(bytes)
        })
    }

    /// The key's bytes, to store.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_slice().into())
    }

    /// `plain` sealed for `staff`: base64 of the nonce followed by the ciphertext and tag.
    pub fn seal(&self, staff: StaffId, plain: &str) -> Sealed {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = staff.to_string();
        let ciphertext = self
            .cipher()
            .encrypt(&nonce, Payload { msg: plain.as_bytes(), aad: aad.as_bytes() })
            .expect("XChaCha20-Poly1305 seals any text that fits in memory");
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Sealed::from_sealed_text(BASE64.encode(sealed))
    }

    /// The plain text of `sealed`, if it was sealed with this key for `staff`.
    pub fn open(&self, staff: StaffId, sealed: &Sealed) -> Result<String, Unreadable> {
        let bytes = BASE64.decode(sealed.as_str()).map_err(|_| Unreadable)?;
        if bytes.len() < NONCE_BYTES {
            return Err(Unreadable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let aad = staff.to_string();
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
            .map_err(|_| Unreadable)?;
        String::from_utf8(plain).map_err(|_| Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(n: u128) -> StaffId {
        StaffId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_for_its_person() {
        let key = PersonalKey::generate();
        let sealed = key.seal(person(1), "Åsa Öberg");
        assert_eq!(key.open(person(1), &sealed), Ok("Åsa Öberg".to_string()));
    }

    #[test]
    fn the_plain_text_is_nowhere_in_the_sealed_value() {
        let key = PersonalKey::generate();
        let sealed = key.seal(person(1), "asa.oberg@ockero.se");
        assert!(!sealed.as_str().contains("asa"), "{}", sealed.as_str());
        assert!(!sealed.as_str().contains("ockero"), "{}", sealed.as_str());
    }

    #[test]
    fn another_key_does_not_open_it() {
        let sealed = PersonalKey::generate().seal(person(1), "Åsa Öberg");
        assert_eq!(PersonalKey::generate().open(person(1), &sealed), Err(Unreadable));
    }

    #[test]
    fn it_does_not_open_as_another_persons() {
        let key = PersonalKey::generate();
        let sealed = key.seal(person(1), "Åsa Öberg");
        assert_eq!(key.open(person(2), &sealed), Err(Unreadable));
    }

    #[test]
    fn altered_text_does_not_open() {
        let key = PersonalKey::generate();
        let sealed = key.seal(person(1), "Åsa Öberg");
        let mut bytes = BASE64.decode(sealed.as_str()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(key.open(person(1), &Sealed::from_sealed_text(BASE64.encode(&bytes))), Err(Unreadable));
        assert_eq!(key.open(person(1), &Sealed::from_sealed_text("not base64 at all!".into())), Err(Unreadable));
        assert_eq!(key.open(person(1), &Sealed::from_sealed_text(BASE64.encode([0u8; 8]))), Err(Unreadable));
    }

    #[test]
    fn each_sealing_takes_a_fresh_nonce() {
        let key = PersonalKey::generate();
        let sealings: std::collections::BTreeSet<String> =
            (0..100).map(|_| key.seal(person(1), "Åsa Öberg").as_str().to_string()).collect();
        assert_eq!(sealings.len(), 100, "the same text sealed twice must not give the same value");
        let nonces: std::collections::BTreeSet<Vec<u8>> =
            sealings.iter().map(|s| BASE64.decode(s).unwrap()[..NONCE_BYTES].to_vec()).collect();
        assert_eq!(nonces.len(), 100);
    }

    #[test]
    fn a_stored_key_reads_back_and_a_short_one_does_not() {
        let key = PersonalKey::generate();
        let again = PersonalKey::from_bytes(key.as_bytes()).expect("a key's length");
        let sealed = key.seal(person(1), "Åsa Öberg");
        assert_eq!(again.open(person(1), &sealed), Ok("Åsa Öberg".to_string()));
        assert!(PersonalKey::from_bytes(&[0u8; 16]).is_none());
        assert_eq!(format!("{key:?}"), "PersonalKey([redacted])");
    }
}
