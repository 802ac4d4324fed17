//! Encryption at rest and key names that reveal nothing.
//!
//! One 32-byte application key yields two subkeys (HMAC-SHA-256 with fixed labels): one names
//! Redis keys, one seals values with AES-256-GCM. A value is `version ‖ nonce (96 bits, random per
//! write) ‖ ciphertext ‖ tag`, sealed with the Redis key's name as associated data, so a value
//! copied under another key fails to open.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::StoreError;

/// Format version of a stored value (first byte; also bound into the associated data).
const VERSION: u8 = 1;
/// AES-GCM nonce length.
const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// The application's 32-byte key that encrypts tokens in Redis and names their keys.
///
/// Every replica that shares tokens must use the same key; keep it where the other secrets are
/// (a secret manager, an environment variable), never in Redis. `Debug` prints nothing of it and
/// it is zeroized on drop.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// A key from 32 bytes (e.g. 32 random bytes generated once per deployment).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EncryptionKey(bytes)
    }

    /// A key from 64 hexadecimal digits (e.g. `openssl rand -hex 32`).
    pub fn from_hex(hex: &str) -> Result<Self, StoreError> {
        let hex = hex.trim().as_bytes();
        if hex.len() != 64 {
            return Err(StoreError::Config {
                what: "encryption key: expected 64 hex digits",
            });
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
                out.zeroize();
                return Err(StoreError::Config {
                    what: "encryption key: not hexadecimal",
                });
            };
            *o = (hi << 4) | lo;
        }
        Ok(EncryptionKey(out))
    }
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl Drop for EncryptionKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(***)")
    }
}

/// Derived keys: one to name Redis keys, one to seal values.
pub(crate) struct Sealer {
    names: Hmac<Sha256>,
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(***)")
    }
}

fn derive(key: &EncryptionKey, label: &[u8]) -> Zeroizing<[u8; 32]> {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for HMAC.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(label);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

impl Sealer {
    pub(crate) fn new(key: &EncryptionKey) -> Self {
        let names = derive(key, b"ssoflow-redis/v1/key-names");
        let seal = derive(key, b"ssoflow-redis/v1/aes-256-gcm");
        Sealer {
            names: <Hmac<Sha256> as Mac>::new_from_slice(names.as_slice())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
            cipher: Aes256Gcm::new(seal.as_slice().into()),
        }
    }

    /// Hex of HMAC-SHA-256(name key, kind ‖ 0 ‖ key): a stable, unguessable key name.
    pub(crate) fn key_digest(&self, kind: &str, key: &[u8]) -> String {
        let mut mac = self.names.clone();
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(key);
        let digest = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        hex
    }

    /// Seal `plaintext` for the Redis key `name`.
    pub(crate) fn seal(&self, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = aad(name);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Crypto)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Open a value read from the Redis key `name`: `Crypto` when it was not sealed for that key
    /// with this application key (or was altered).
    pub(crate) fn open(&self, name: &str, value: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let (&version, rest) = value.split_first().ok_or(StoreError::Crypto)?;
        if version != VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(StoreError::Crypto);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let aad = aad(name);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| StoreError::Crypto)
    }
}

fn aad(name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + name.len());
    aad.push(VERSION);
    aad.extend_from_slice(name.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(b: u8) -> Sealer {
        Sealer::new(&EncryptionKey::from_bytes([b; 32]))
    }

    #[test]
    fn round_trip_and_binding_to_the_key_name() {
        let s = sealer(7);
        let v = s.seal("ns:tok:{a}", b"token-bytes").unwrap();
        assert!(!v.windows(11).any(|w| w == b"token-bytes"));
        assert_eq!(s.open("ns:tok:{a}", &v).unwrap().as_slice(), b"token-bytes");
        // Swapped under another key, altered, or opened with another application key: refused.
        assert_eq!(s.open("ns:tok:{b}", &v).unwrap_err(), StoreError::Crypto);
        let mut altered = v.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(
            s.open("ns:tok:{a}", &altered).unwrap_err(),
            StoreError::Crypto
        );
        assert_eq!(
            sealer(8).open("ns:tok:{a}", &v).unwrap_err(),
            StoreError::Crypto
        );
        assert_eq!(s.open("ns:tok:{a}", b"").unwrap_err(), StoreError::Crypto);
        assert_eq!(
            s.open("ns:tok:{a}", &[1; 20]).unwrap_err(),
            StoreError::Crypto
        );
        // A fresh nonce per write.
        assert_ne!(v, s.seal("ns:tok:{a}", b"token-bytes").unwrap());
    }

    #[test]
    fn key_names_depend_on_the_application_key_and_the_kind() {
        let a = sealer(1).key_digest("access_token", b"jane@example.com");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, sealer(1).key_digest("access_token", b"jane@example.com"));
        assert_ne!(a, sealer(2).key_digest("access_token", b"jane@example.com"));
        assert_ne!(a, sealer(1).key_digest("token_set", b"jane@example.com"));
    }

    #[test]
    fn hex_keys() {
        let k = EncryptionKey::from_hex(&"0f".repeat(32)).unwrap();
        assert_eq!(k.0, [0x0f; 32]);
        assert_eq!(format!("{k:?}"), "EncryptionKey(***)");
        assert!(EncryptionKey::from_hex("0f").is_err());
        assert!(EncryptionKey::from_hex(&"zz".repeat(32)).is_err());
    }
}
