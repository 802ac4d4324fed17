//! Encryption at rest and key names that reveal nothing.
//!
//! Each 32-byte key yields subkeys (HMAC-SHA-256 with fixed labels): one seals values with
//! AES-256-GCM, one makes the key's 4-byte id; the ring's *first* key also yields the subkey that
//! names Redis keys. A value is `version ‖ key id ‖ nonce (96 bits, random per write) ‖
//! ciphertext ‖ tag`, sealed with the Redis key's name and the value's generation as associated
//! data, so a value copied under another key, or paired with another generation, fails to open.
//! The newest key of the [`KeyRing`] seals; whichever key the id names opens.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::StoreError;

/// Format version of a stored value (first byte; also bound into the associated data). Version 1
/// had no key id and no generation; its values (plain strings) are replaced on the next write.
const VERSION: u8 = 2;
/// Length of a key id.
const KEY_ID_LEN: usize = 4;
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

/// The keys a store seals and opens values with.
///
/// The newest key (the last one added) seals every value written; any key of the ring opens a
/// value sealed with it (the value names its key by a 4-byte id derived from the key, which
/// reveals nothing of it). Redis key names are derived from the **first** key and do not change
/// when keys rotate, so the fleet keeps sharing through a rotation. From key `a` to key `b`:
///
/// 1. deploy `KeyRing::new(a).opening(b)` to every replica: it opens values sealed with `b` and
///    still seals with `a`, so replicas not yet updated never meet a value they cannot open;
/// 2. then deploy `KeyRing::new(a).with_next(b)`: `b` seals;
/// 3. values sealed with `a` expire with their Redis TTL; from then on `a` only names keys, and
///    a leak of it opens no stored value.
///
/// `Debug` prints only how many keys there are; every key is zeroized on drop.
#[derive(Clone)]
pub struct KeyRing {
    /// Oldest first; the first names Redis keys; `sealing` is the index of the one that seals.
    keys: Vec<EncryptionKey>,
    sealing: usize,
}

impl KeyRing {
    /// A ring of one key, which names, seals and opens.
    pub fn new(key: EncryptionKey) -> Self {
        KeyRing {
            keys: vec![key],
            sealing: 0,
        }
    }

    /// Add `newer`, which seals from now on; the keys already in the ring still open values.
    pub fn with_next(mut self, newer: EncryptionKey) -> Self {
        self.keys.push(newer);
        self.sealing = self.keys.len() - 1;
        self
    }

    /// Add `newer` so that it *opens* values but does not seal yet: the first step of a rolling
    /// rotation, so that replicas still on the old ring never meet a value they cannot open.
    pub fn opening(mut self, newer: EncryptionKey) -> Self {
        self.keys.push(newer);
        self
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Never: a ring holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl From<EncryptionKey> for KeyRing {
    fn from(key: EncryptionKey) -> Self {
        KeyRing::new(key)
    }
}

impl From<&EncryptionKey> for KeyRing {
    fn from(key: &EncryptionKey) -> Self {
        KeyRing::new(key.clone())
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing({} keys, ***)", self.keys.len())
    }
}

/// One key's cipher and id.
struct Opener {
    id: [u8; KEY_ID_LEN],
    cipher: Aes256Gcm,
}

/// Derived keys: one to name Redis keys, one cipher per key of the ring.
pub(crate) struct Sealer {
    names: Hmac<Sha256>,
    openers: Vec<Opener>,
    sealing: usize,
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
    pub(crate) fn new(ring: &KeyRing) -> Self {
        // Same label as version 1: key names survive the format change.
        let first = ring
            .keys
            .first()
            .unwrap_or_else(|| unreachable!("a ring is never empty"));
        let names = derive(first, b"ssoflow-redis/v1/key-names");
        let openers = ring
            .keys
            .iter()
            .map(|key| {
                let seal = derive(key, b"ssoflow-redis/v2/aes-256-gcm");
                let id = derive(key, b"ssoflow-redis/v2/key-id");
                let mut short = [0u8; KEY_ID_LEN];
                short.copy_from_slice(&id[..KEY_ID_LEN]);
                Opener {
                    id: short,
                    cipher: Aes256Gcm::new(seal.as_slice().into()),
                }
            })
            .collect();
        Sealer {
            names: <Hmac<Sha256> as Mac>::new_from_slice(names.as_slice())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
            openers,
            sealing: ring.sealing,
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

    /// Seal `plaintext` as generation `generation` of the Redis key `name`, with the newest key.
    pub(crate) fn seal(
        &self,
        name: &str,
        generation: u64,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let opener = self.openers.get(self.sealing).ok_or(StoreError::Crypto)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = aad(&opener.id, generation, name);
        let sealed = opener
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Crypto)?;
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&opener.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Open generation `generation` of the Redis key `name`: `Crypto` when it was not sealed
    /// for that key and generation with a key of the ring (or was altered).
    pub(crate) fn open(
        &self,
        name: &str,
        generation: u64,
        value: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let (&version, rest) = value.split_first().ok_or(StoreError::Crypto)?;
        if version != VERSION || rest.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN {
            return Err(StoreError::Crypto);
        }
        let (id, rest) = rest.split_at(KEY_ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        // Ids are 32 bits: two keys of one ring sharing one is possible in principle, so every
        // key with the id is tried.
        self.openers
            .iter()
            .filter(|o| o.id.as_slice() == id)
            .find_map(|o| {
                o.cipher
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: sealed,
                            aad: &aad(&o.id, generation, name),
                        },
                    )
                    .ok()
            })
            .map(Zeroizing::new)
            .ok_or(StoreError::Crypto)
    }
}

fn aad(id: &[u8; KEY_ID_LEN], generation: u64, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + KEY_ID_LEN + 8 + name.len());
    aad.push(VERSION);
    aad.extend_from_slice(id);
    aad.extend_from_slice(&generation.to_be_bytes());
    aad.extend_from_slice(name.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(b: u8) -> Sealer {
        Sealer::new(&KeyRing::new(EncryptionKey::from_bytes([b; 32])))
    }

    #[test]
    fn round_trip_and_binding_to_the_key_name_and_generation() {
        let s = sealer(7);
        let v = s.seal("ns:tok:{a}", 3, b"token-bytes").unwrap();
        assert!(!v.windows(11).any(|w| w == b"token-bytes"));
        assert_eq!(
            s.open("ns:tok:{a}", 3, &v).unwrap().as_slice(),
            b"token-bytes"
        );
        // Swapped under another key or generation, altered, or opened with another key: refused.
        assert_eq!(s.open("ns:tok:{b}", 3, &v).unwrap_err(), StoreError::Crypto);
        assert_eq!(s.open("ns:tok:{a}", 4, &v).unwrap_err(), StoreError::Crypto);
        let mut altered = v.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(
            s.open("ns:tok:{a}", 3, &altered).unwrap_err(),
            StoreError::Crypto
        );
        assert_eq!(
            sealer(8).open("ns:tok:{a}", 3, &v).unwrap_err(),
            StoreError::Crypto
        );
        assert_eq!(
            s.open("ns:tok:{a}", 3, b"").unwrap_err(),
            StoreError::Crypto
        );
        assert_eq!(
            s.open("ns:tok:{a}", 3, &[2; 40]).unwrap_err(),
            StoreError::Crypto
        );
        // A fresh nonce per write.
        assert_ne!(v, s.seal("ns:tok:{a}", 3, b"token-bytes").unwrap());
    }

    #[test]
    fn the_newest_key_seals_and_any_key_of_the_ring_opens() {
        let (a, b, c) = (
            EncryptionKey::from_bytes([1; 32]),
            EncryptionKey::from_bytes([2; 32]),
            EncryptionKey::from_bytes([3; 32]),
        );
        let old = Sealer::new(&KeyRing::new(a.clone()));
        let rotated = Sealer::new(&KeyRing::new(a.clone()).with_next(b.clone()));
        let preparing = Sealer::new(&KeyRing::new(a.clone()).opening(b.clone()));
        let only_b = Sealer::new(&KeyRing::new(b.clone()));
        let sealed_old = old.seal("n", 1, b"old").unwrap();
        let sealed_new = rotated.seal("n", 2, b"new").unwrap();
        // The key id names the key: b's id, not a's.
        assert_ne!(sealed_old[1..5], sealed_new[1..5]);
        assert_eq!(sealed_new[1..5], only_b.seal("n", 2, b"x").unwrap()[1..5]);
        // Rotated ring opens both; the old ring cannot open b's values; the preparing ring
        // opens both but still seals with a.
        assert_eq!(
            rotated.open("n", 1, &sealed_old).unwrap().as_slice(),
            b"old"
        );
        assert_eq!(
            rotated.open("n", 2, &sealed_new).unwrap().as_slice(),
            b"new"
        );
        assert_eq!(
            old.open("n", 2, &sealed_new).unwrap_err(),
            StoreError::Crypto
        );
        assert_eq!(
            preparing.open("n", 2, &sealed_new).unwrap().as_slice(),
            b"new"
        );
        let by_preparing = preparing.seal("n", 5, b"p").unwrap();
        assert_eq!(old.open("n", 5, &by_preparing).unwrap().as_slice(), b"p");
        // A key outside the ring opens nothing.
        let other = Sealer::new(&KeyRing::new(c).with_next(a.clone()));
        assert_eq!(
            other.open("n", 2, &sealed_new).unwrap_err(),
            StoreError::Crypto
        );
        // Key names follow the first key only.
        assert_eq!(
            rotated.key_digest("t", b"k"),
            old.key_digest("t", b"k"),
            "rotation renamed the keys"
        );
        assert_ne!(only_b.key_digest("t", b"k"), old.key_digest("t", b"k"));
        assert_eq!(
            format!("{:?}", KeyRing::new(a).with_next(b)),
            "KeyRing(2 keys, ***)"
        );
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
