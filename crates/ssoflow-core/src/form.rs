//! `application/x-www-form-urlencoded` encoding (WHATWG URL / RFC 6749 Appendix B), without allocation.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bytes left as they are: ASCII alphanumerics and `*-._`; space becomes `+`, the rest `%XX`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// Form-encode `s` through `put` (each piece is a `&str` slice of the encoding).
pub fn encode(s: &str, put: &mut impl FnMut(&str)) {
    let mut first = true;
    for part in s.split(' ') {
        if !first {
            put("+");
        }
        first = false;
        for piece in utf8_percent_encode(part, FORM) {
            put(piece);
        }
    }
}

/// Decode one form-encoded value into `out`. `false` when it does not fit or is not UTF-8.
pub fn decode<const N: usize>(s: &str, out: &mut heapless::String<N>) -> bool {
    let mut bytes = heapless::Vec::<u8, N>::new();
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
    match core::str::from_utf8(&bytes) {
        Ok(text) => out.push_str(text).is_ok(),
        Err(_) => false,
    }
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
    fn decodes() {
        let mut out = heapless::String::<32>::new();
        assert!(decode("a+b%2Fc%C3%A9", &mut out));
        assert_eq!(out, "a b/cé");
        assert!(!decode("%zz", &mut heapless::String::<8>::new()));
        assert!(!decode("%C3", &mut heapless::String::<8>::new()));
        assert!(!decode("0123456789", &mut heapless::String::<4>::new()));
    }
}
