//! `application/x-www-form-urlencoded` encoding (WHATWG URL / RFC 6749 Appendix B), without allocation.

/// `1` for the ASCII bytes written as they are: alphanumerics and `*-._` (the WHATWG
/// `application/x-www-form-urlencoded` set). A table: one load per byte.
#[rustfmt::skip]
const PLAIN: [u8; 128] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
];

/// Whether `b` is written as it is.
#[inline]
fn is_plain(b: u8) -> bool {
    PLAIN.get(usize::from(b)).is_some_and(|&p| p != 0)
}

/// Form-encode `s` through `put` (each piece is a `&str` slice of the encoding): runs of plain
/// bytes go out as one slice of `s`, space becomes `+`, every other byte `%XX` (uppercase hex,
/// each byte of a multi-byte character on its own).
pub fn encode(s: &str, put: &mut impl FnMut(&str)) {
    encode_dyn(s, put);
}

/// The loop of [`encode`], once for every caller (firmware flash).
#[inline(never)]
fn encode_dyn(s: &str, put: &mut dyn FnMut(&str)) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_plain(b) {
            continue;
        }
        // `start..i` holds plain ASCII bytes only, so both ends are character boundaries.
        if i > start {
            put(s.get(start..i).unwrap_or(""));
        }
        start = i + 1;
        if b == b' ' {
            put("+");
            continue;
        }
        let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
        let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
        let escaped = [b'%', hi, lo];
        put(core::str::from_utf8(&escaped).unwrap_or(""));
    }
    if start < bytes.len() {
        put(s.get(start..).unwrap_or(""));
    }
}

/// Decode one form-encoded value into `out`. `false` when it does not fit or is not UTF-8.
pub fn decode<const N: usize>(s: &str, out: &mut heapless::String<N>) -> bool {
    decode_with::<N>(s, &mut |text| out.push_str(text).is_ok())
}

/// Decode one form-encoded credential (an authorization code) into `out`; the staging copy is
/// wiped. `false` when it does not fit or is not UTF-8.
pub(crate) fn decode_secret<const N: usize>(s: &str, out: &mut crate::Secret<N>) -> bool {
    decode_with::<N>(s, &mut |text| out.push_str(text, "").is_ok())
}

/// Decode into a staging buffer of `N` bytes, hand the text to `put`, then wipe the buffer.
fn decode_with<const N: usize>(s: &str, put: &mut dyn FnMut(&str) -> bool) -> bool {
    use zeroize::Zeroize;
    let mut bytes = heapless::Vec::<u8, N>::new();
    let done = decode_bytes(s, &mut bytes) && core::str::from_utf8(&bytes).is_ok_and(put);
    bytes.as_mut_slice().zeroize();
    done
}

/// Percent- and `+`-decode `s` into `bytes`; `false` on a bad escape or when it does not fit.
fn decode_bytes<const N: usize>(s: &str, bytes: &mut heapless::Vec<u8, N>) -> bool {
    let mut iter = s.as_bytes().iter();
    while let Some(&b) = iter.next() {
        let v = match b {
            b'+' => b' ',
            b'%' => {
                let mut hex = [0u8; 2];
                for h in &mut hex {
                    match iter.next().and_then(|c| (*c as char).to_digit(16)) {
                        Some(d) => *h = d as u8,
                        None => return false,
                    }
                }
                let [h, l] = hex;
                h * 16 + l
            }
            _ => b,
        };
        if bytes.push(v).is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn encodes_like_rfc6749_appendix_b() {
        let mut out = String::new();
        encode("p@ss w/rd+é *-._~", &mut |p: &str| out.push_str(p));
        assert_eq!(out, "p%40ss+w%2Frd%2B%C3%A9+*-._%7E");
    }

    #[test]
    fn encodes_every_byte_like_the_whatwg_set() {
        // Against a byte-by-byte reference over every ASCII character and some multi-byte ones.
        let mut input = String::new();
        for c in (0u8..0x80)
            .map(char::from)
            .chain(['é', '€', '😀', '\u{7f}'])
        {
            input.push(c);
            input.push('a');
        }
        let mut want = String::new();
        for &b in input.as_bytes() {
            if b.is_ascii_alphanumeric() || b"*-._".contains(&b) {
                want.push(char::from(b));
            } else if b == b' ' {
                want.push('+');
            } else {
                want.push_str(&std::format!("%{b:02X}"));
            }
        }
        let mut out = String::new();
        encode(&input, &mut |p: &str| out.push_str(p));
        assert_eq!(out, want);
        let mut empty = String::new();
        encode("", &mut |p: &str| empty.push_str(p));
        assert_eq!(empty, "");
    }

    #[test]
    fn decodes() {
        let mut out = heapless::String::<32>::new();
        assert!(decode("a+b%2Fc%C3%A9", &mut out));
        assert_eq!(out, "a b/cé");
        assert!(!decode("%zz", &mut heapless::String::<8>::new()));
        assert!(!decode("%C3", &mut heapless::String::<8>::new()));
        assert!(!decode("0123456789", &mut heapless::String::<4>::new()));
    }
}
