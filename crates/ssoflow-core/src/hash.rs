//! SHA-1, SHA-256 and HMAC for the core's few needs: the Punchh `x-pch-digest`, PAR request ids
//! and the PKCE challenge.
//!
//! By default the hashes are the RustCrypto `sha1` and `sha2` crates, on every target. The
//! `compact-hash` feature (off by default, for firmware short of flash) swaps in the `compact`
//! ones here: one rolled round loop each behind one shared block buffer. One HMAC, written here
//! (see [`hmac`] for why not the `hmac` crate, the tests' reference), serves both. On the
//! firmware check (`scripts/size-report`) they save about 3.1 KB of flash, at a few
//! times the cost per byte. Only the feature chooses; the target does not.
//!
//! The tests compile the compact ones whatever the feature, and check them against FIPS 180-4,
//! RFC 3174 / RFC 2202 / RFC 4231 vectors and against the RustCrypto crates on random input
//! (differential tests), so the two stay interchangeable.
//!
//! `sha2`'s `force-soft-compact` feature (a rolled SHA-256 compression function) is not turned
//! on here: it would replace the unrolled and SHA-NI code on hosts for every crate in the
//! dependency graph that uses `sha2`, and Cargo features cannot be turned off by a dependent.
//! It is the firmware's choice, in its own `Cargo.toml` (feature unification applies it to this
//! crate's `sha2` too), as `checks/firmware` does. `sha1` 0.10 has no such feature.
//!
//! With `compact-hash` the RustCrypto hashes are still compiled (features are additive, so they
//! cannot be optional on a default-off feature) but nothing links them.

/// Output length of SHA-1.
pub(crate) const SHA1_LEN: usize = 20;
/// Output length of SHA-256.
pub(crate) const SHA256_LEN: usize = 32;

/// A hash of `prefix` and then `parts`, written into the first bytes of `out` ([`SHA1_LEN`] or
/// [`SHA256_LEN`] of them). Both backends give one such function per hash, out of line, and
/// the one HMAC below is written over them.
type Hash = fn(&[u8], &[&[u8]], &mut [u8; 32]);

#[cfg(feature = "compact-hash")]
use compact as backend;
#[cfg(not(feature = "compact-hash"))]
use rustcrypto as backend;

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; SHA256_LEN] {
    sha256_with(backend::sha256_of, parts)
}

/// HMAC-SHA1 (RFC 2104) of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; SHA1_LEN] {
    hmac_sha1_with(backend::sha1_of, key, parts)
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; SHA256_LEN] {
    hmac_sha256_with(backend::sha256_of, key, parts)
}

/// SHA-256 with the SHA-256 `sha256` (a backend's; the tests run both).
fn sha256_with(sha256: Hash, parts: &[&[u8]]) -> [u8; SHA256_LEN] {
    let mut out = [0u8; SHA256_LEN];
    sha256(&[], parts, &mut out);
    out
}

/// HMAC-SHA256 with the SHA-256 `sha256`.
fn hmac_sha256_with(sha256: Hash, key: &[u8], parts: &[&[u8]]) -> [u8; SHA256_LEN] {
    let mut out = [0u8; SHA256_LEN];
    hmac(sha256, SHA256_LEN, key, parts, &mut out);
    out
}

/// HMAC-SHA1 with the SHA-1 `sha1`.
fn hmac_sha1_with(sha1: Hash, key: &[u8], parts: &[&[u8]]) -> [u8; SHA1_LEN] {
    let mut mac = [0u8; SHA256_LEN];
    hmac(sha1, SHA1_LEN, key, parts, &mut mac);
    let mut out = [0u8; SHA1_LEN];
    copy(&mut out, &mac);
    out
}

/// HMAC (RFC 2104) of the concatenation of `parts` under `key` with `hash` (a 64-byte block,
/// `len` bytes of output), into `out`: `H((K ^ opad) || H((K ^ ipad) || parts))`, a key longer
/// than a block hashed first.
///
/// Written here rather than taken from the `hmac` crate (the reference of the differential
/// tests below): that crate compiles its whole buffering and padding for each hash it is used
/// with into every caller (1.1 KB of the firmware check's flash), and its state, which holds
/// the padded key, is not wiped on drop (`hmac` 0.12 has no `zeroize` support). Here one
/// instance serves both hashes of both backends, and the copies of the key it makes (the
/// padded key, the inner digest, which first holds a long key's digest) are zeroized before
/// returning; the hashes' own states are the backend's.
#[inline(never)]
fn hmac(hash: Hash, len: usize, key: &[u8], parts: &[&[u8]], out: &mut [u8; 32]) {
    use zeroize::Zeroize;
    const BLOCK: usize = 64;
    // The key, zero-padded to a block (hashed first when longer), then `K ^ ipad`. The one
    // pad buffer becomes `K ^ opad` by a second XOR (`0x36 ^ 0x5c`), so no copy of the key is
    // kept beside it; a long key's digest goes through `inner`, overwritten next.
    let mut pad = [0u8; BLOCK];
    let mut inner = [0u8; 32];
    if key.len() > BLOCK {
        hash(key, &[], &mut inner);
        copy(&mut pad, inner.get(..len).unwrap_or(&[]));
    } else {
        copy(&mut pad, key);
    }
    for p in pad.iter_mut() {
        *p ^= 0x36;
    }
    hash(&pad, parts, &mut inner);
    for p in pad.iter_mut() {
        *p ^= 0x36 ^ 0x5c;
    }
    hash(&pad, &[inner.get(..len).unwrap_or(&[])], out);
    pad.zeroize();
    inner.zeroize();
}

/// `src` into `out`, as far as both go.
fn copy(out: &mut [u8], src: &[u8]) {
    for (dst, src) in out.iter_mut().zip(src) {
        *dst = *src;
    }
}

/// The default: the RustCrypto `sha1` and `sha2` crates (compiled in tests whatever the
/// feature, to check the compact ones against).
#[cfg(any(not(feature = "compact-hash"), test))]
mod rustcrypto {
    use super::copy;

    /// SHA-256 of `prefix` and then `parts`.
    #[inline(never)]
    pub(super) fn sha256_of(prefix: &[u8], parts: &[&[u8]], out: &mut [u8; 32]) {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(prefix);
        for part in parts {
            h.update(part);
        }
        // Into `out` through a reference: `finalize` consumes the state, a copy of it (and
        // of the digest) on this frame, under the HMAC.
        h.finalize_into_reset(out.into());
    }

    /// SHA-1 of `prefix` and then `parts`, in the first 20 bytes of `out`.
    #[inline(never)]
    pub(super) fn sha1_of(prefix: &[u8], parts: &[&[u8]], out: &mut [u8; 32]) {
        use sha1::Digest;
        let mut h = sha1::Sha1::new();
        h.update(prefix);
        for part in parts {
            h.update(part);
        }
        let mut digest = sha1::digest::Output::<sha1::Sha1>::default();
        h.finalize_into_reset(&mut digest);
        copy(out, &digest);
    }
}

/// Rolled SHA-1 and SHA-256 (FIPS 180-4) sharing one Merkle–Damgård block buffer: the
/// `compact-hash` feature's, compiled in tests whatever the feature.
#[cfg(any(feature = "compact-hash", test))]
pub(crate) mod compact {
    /// The block buffer and length padding both hashes share; `compress` picks the hash.
    /// The state is eight words for both (SHA-1 uses five), so this code exists once.
    pub(crate) struct Md {
        h: [u32; 8],
        words: usize,
        block: [u8; 64],
        used: usize,
        total: u64,
        compress: fn(&mut [u32; 8], &[u8; 64]),
    }

    impl Md {
        /// Absorb `data`.
        pub(crate) fn update(&mut self, mut data: &[u8]) {
            self.total = self.total.wrapping_add(data.len() as u64);
            while !data.is_empty() {
                let take = (64 - self.used).min(data.len());
                let (now, rest) = data.split_at(take);
                if let Some(dst) = self.block.get_mut(self.used..self.used + take) {
                    dst.copy_from_slice(now);
                }
                self.used += take;
                data = rest;
                if self.used == 64 {
                    (self.compress)(&mut self.h, &self.block);
                    self.used = 0;
                }
            }
        }

        /// Write the digest into the first bytes of `out`.
        #[inline(never)]
        pub(crate) fn finish(mut self, out: &mut [u8; 32]) {
            let bits = self.total.wrapping_mul(8);
            self.update(&[0x80]);
            while self.used != 56 {
                self.update(&[0]);
            }
            self.update(&bits.to_be_bytes());
            for (dst, word) in out.chunks_exact_mut(4).zip(self.h.iter().take(self.words)) {
                dst.copy_from_slice(&word.to_be_bytes());
            }
        }
    }

    /// Load a block as sixteen big-endian words.
    fn words(block: &[u8; 64]) -> [u32; 16] {
        let mut w = [0u32; 16];
        for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
            *word = <[u8; 4]>::try_from(bytes).map_or(0, u32::from_be_bytes);
        }
        w
    }

    fn at(w: &[u32; 16], i: usize) -> u32 {
        w.get(i & 15).copied().unwrap_or(0)
    }

    fn set(w: &mut [u32; 16], i: usize, v: u32) {
        if let Some(slot) = w.get_mut(i & 15) {
            *slot = v;
        }
    }

    fn sha1_compress(h: &mut [u32; 8], block: &[u8; 64]) {
        let mut w = words(block);
        let [mut a, mut b, mut c, mut d, mut e, ..] = *h;
        for t in 0..80 {
            if t >= 16 {
                let x = at(&w, t + 13) ^ at(&w, t + 8) ^ at(&w, t + 2) ^ at(&w, t);
                set(&mut w, t, x.rotate_left(1));
            }
            let (f, k) = match t {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let next = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(at(&w, t));
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = next;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }

    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    fn sha256_compress(h: &mut [u32; 8], block: &[u8; 64]) {
        let mut w = words(block);
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
        for (t, k) in K.iter().enumerate() {
            if t >= 16 {
                let w15 = at(&w, t + 1);
                let w2 = at(&w, t + 14);
                let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
                let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
                let x = at(&w, t)
                    .wrapping_add(s0)
                    .wrapping_add(at(&w, t + 9))
                    .wrapping_add(s1);
                set(&mut w, t, x);
            }
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(at(&w, t));
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }

    impl Md {
        /// A fresh SHA-1.
        #[inline(never)]
        pub(crate) fn sha1() -> Md {
            Md {
                h: [
                    0x6745_2301,
                    0xEFCD_AB89,
                    0x98BA_DCFE,
                    0x1032_5476,
                    0xC3D2_E1F0,
                    0,
                    0,
                    0,
                ],
                words: 5,
                block: [0; 64],
                used: 0,
                total: 0,
                compress: sha1_compress,
            }
        }

        /// A fresh SHA-256.
        #[inline(never)]
        pub(crate) fn sha256() -> Md {
            Md {
                h: [
                    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
                    0x1f83d9ab, 0x5be0cd19,
                ],
                words: 8,
                block: [0; 64],
                used: 0,
                total: 0,
                compress: sha256_compress,
            }
        }
    }

    /// SHA-1 of `prefix` and then `parts`, in the first 20 bytes of `out`.
    pub(crate) fn sha1_of(prefix: &[u8], parts: &[&[u8]], out: &mut [u8; 32]) {
        digest(Md::sha1(), prefix, parts, out);
    }

    /// SHA-256 of `prefix` and then `parts`.
    pub(crate) fn sha256_of(prefix: &[u8], parts: &[&[u8]], out: &mut [u8; 32]) {
        digest(Md::sha256(), prefix, parts, out);
    }

    /// `h` over `prefix` and then `parts`, into `out`.
    #[inline(never)]
    fn digest(mut h: Md, prefix: &[u8], parts: &[&[u8]], out: &mut [u8; 32]) {
        h.update(prefix);
        for part in parts {
            h.update(part);
        }
        h.finish(out);
    }
}

#[cfg(test)]
mod tests {
    use super::compact::{self, Md};
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    /// `data` fed `times` times into a fresh compact hash; the first `len` bytes in hex.
    fn compact_hash(start: fn() -> Md, len: usize, data: &[u8], times: usize) -> String {
        let mut h = start();
        for _ in 0..times {
            h.update(data);
        }
        let mut out = [0u8; 32];
        h.finish(&mut out);
        hex(&out[..len])
    }

    #[test]
    fn compact_sha1_vectors() {
        let c = |data: &[u8], times| compact_hash(Md::sha1, SHA1_LEN, data, times);
        assert_eq!(c(b"abc", 1), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            c(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                1
            ),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            c(b"a", 1_000_000),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
        assert_eq!(
            c(
                b"0123456701234567012345670123456701234567012345670123456701234567",
                10
            ),
            "dea356a2cddd90c7a7ecedc5ebb563934f460452"
        );
        assert_eq!(c(b"", 0), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn compact_sha256_vectors() {
        let c = |data: &[u8], times| compact_hash(Md::sha256, SHA256_LEN, data, times);
        assert_eq!(
            c(b"abc", 1),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            c(b"", 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            c(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                1
            ),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            c(b"a", 1_000_000),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn sha256_of_parts_in_use_and_compact() {
        let want = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
        let parts: [&[u8]; 3] = [
            b"abcdbcdecdefdefgefghfghighij",
            b"",
            b"hijkijkljklmklmnlmnomnopnopq",
        ];
        assert_eq!(hex(&sha256(&parts)), want);
        assert_eq!(hex(&sha256_with(compact::sha256_of, &parts)), want);
        assert_eq!(hex(&sha256_with(rustcrypto::sha256_of, &parts)), want);
    }

    /// RFC 2202 (HMAC-SHA1) and RFC 4231 (HMAC-SHA256) vectors, for the HMAC over the hashes in
    /// use (RustCrypto, or the compact ones with `compact-hash`) and over each backend.
    #[test]
    fn hmac_rfc_2202_and_4231_vectors() {
        let sha1_vectors: &[(&[u8], &[u8], &str)] = &[
            (
                &[0x0b; 20],
                b"Hi There",
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                &[0xaa; 20],
                &[0xdd; 50],
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            ),
            (
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "aa4ae5e15272d00e95705637ce8a3b55ed402112",
            ),
            (
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
                "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
            ),
        ];
        for (key, data, want) in sha1_vectors {
            assert_eq!(hex(&hmac_sha1(key, &[data])), *want);
            assert_eq!(hex(&hmac_sha1_with(compact::sha1_of, key, &[data])), *want);
            assert_eq!(
                hex(&hmac_sha1_with(rustcrypto::sha1_of, key, &[data])),
                *want
            );
        }
        let sha256_vectors: &[(&[u8], &[u8], &str)] = &[
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, want) in sha256_vectors {
            assert_eq!(hex(&hmac_sha256(key, &[data])), *want);
            assert_eq!(
                hex(&hmac_sha256_with(compact::sha256_of, key, &[data])),
                *want
            );
            assert_eq!(
                hex(&hmac_sha256_with(rustcrypto::sha256_of, key, &[data])),
                *want
            );
        }
    }

    proptest::proptest! {
        /// Differential: the compact hashes and HMAC against the RustCrypto crates (dev-dependencies
        /// too, so this runs with and without `compact-hash`), and the ones in use against both.
        #[test]
        fn compact_hashes_and_hmac_match_rustcrypto(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..150),
            parts in proptest::collection::vec(
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..150), 0..4),
        ) {
            use ::hmac::{Hmac, Mac};
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let joined: Vec<u8> = parts.concat();

            let mut c1 = Md::sha1();
            for p in &refs {
                c1.update(p);
            }
            let mut o1 = [0u8; 32];
            c1.finish(&mut o1);
            let want1 = <::sha1::Sha1 as ::sha1::Digest>::digest(&joined);
            proptest::prop_assert_eq!(&o1[..SHA1_LEN], &want1[..]);

            let want2 = <::sha2::Sha256 as ::sha2::Digest>::digest(&joined);
            proptest::prop_assert_eq!(&sha256_with(compact::sha256_of, &refs)[..], &want2[..]);
            proptest::prop_assert_eq!(&sha256(&refs)[..], &want2[..]);

            let mut want = Hmac::<::sha1::Sha1>::new_from_slice(&key).unwrap();
            want.update(&joined);
            let want = want.finalize().into_bytes();
            let compact_mac = hmac_sha1_with(compact::sha1_of, &key, &refs);
            proptest::prop_assert_eq!(&compact_mac[..], &want[..]);
            proptest::prop_assert_eq!(&hmac_sha1(&key, &refs)[..], &want[..]);

            let mut want = Hmac::<::sha2::Sha256>::new_from_slice(&key).unwrap();
            want.update(&joined);
            let want = want.finalize().into_bytes();
            let compact_mac = hmac_sha256_with(compact::sha256_of, &key, &refs);
            proptest::prop_assert_eq!(&compact_mac[..], &want[..]);
            proptest::prop_assert_eq!(&hmac_sha256(&key, &refs)[..], &want[..]);
        }
    }
}
