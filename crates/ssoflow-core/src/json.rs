//! A bounded JSON pull parser that reads straight into fixed-capacity fields, and a JSON string
//! escaper for request bodies.
//!
//! Why not `serde-json-core`? We tried it first (see DESIGN.md). Version 0.7 cannot read a value
//! that is "a number or a string" (`expires_in: "3600"`, a quirk real servers have: it has no
//! `deserialize_any`), rejects UTF-16 surrogate-pair escapes (`\ud83d\ude00`, emoji in customer
//! names from PHP back ends), skips unknown nested values recursively with no depth limit (a deep
//! unknown member can overflow a firmware stack), and loses the field name when a string does not
//! fit its `heapless::String`. Closing those four gaps around it meant a pre-pass over every body
//! plus its own scan — two passes instead of one. This parser is one pass, iterative where the
//! input chooses the depth, and reports `Error::Capacity { field }` / `Error::Malformed { what }`.
//!
//! Rules: unknown members are skipped (depth-limited to [`MAX_DEPTH`]); a known member given twice
//! is an error (callers use [`set_once`]); strings are unescaped, surrogate pairs joined, lone
//! surrogates and raw control characters rejected, invalid UTF-8 in a read string rejected.

use crate::{Error, Secret};

/// Deepest nesting accepted anywhere in a body.
pub const MAX_DEPTH: u32 = 32;

/// Something a JSON string can be unescaped into.
pub trait Sink {
    /// Append `s`; `false` when it does not fit.
    fn push(&mut self, s: &str) -> bool;
}

impl<const N: usize> Sink for heapless::String<N> {
    fn push(&mut self, s: &str) -> bool {
        self.push_str(s).is_ok()
    }
}

impl<const N: usize> Sink for Secret<N> {
    fn push(&mut self, s: &str) -> bool {
        self.push_str(s, "").is_ok()
    }
}

/// Member names longer than this are unknown to every parser here.
const KEY_CAP: usize = 40;

struct KeyBuf {
    bytes: [u8; KEY_CAP],
    len: usize,
    overflow: bool,
}

impl Sink for KeyBuf {
    fn push(&mut self, s: &str) -> bool {
        let end = self.len + s.len();
        match self.bytes.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
            }
            None => self.overflow = true,
        }
        true
    }
}

/// Store `value` in `slot` unless it is already set: a duplicate member is `Error::Malformed`.
pub fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    field: &'static str,
    body: &[u8],
) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::malformed(field, body));
    }
    *slot = Some(value);
    Ok(())
}

/// Take a required member out of its slot, or `Error::Malformed { what: field }`.
pub fn required<T>(slot: Option<T>, field: &'static str, body: &[u8]) -> Result<T, Error> {
    slot.ok_or_else(|| Error::malformed(field, body))
}

/// A cursor over one JSON document.
pub struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Parser<'a> {
    /// Start reading `src`.
    pub fn new(src: &'a [u8]) -> Self {
        Parser {
            src,
            pos: 0,
            depth: 0,
        }
    }

    /// The whole document (for error excerpts).
    pub fn source(&self) -> &'a [u8] {
        self.src
    }

    /// A `Malformed` error about `what`, with an excerpt of the document.
    pub fn error(&self, what: &'static str) -> Error {
        Error::malformed(what, self.src)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next significant byte, without consuming it.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.src.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), Error> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn enter(&mut self, extra: u32, what: &'static str) -> Result<(), Error> {
        if self.depth + extra >= MAX_DEPTH {
            return Err(self.error(what));
        }
        Ok(())
    }

    /// Read an object, calling `member(self, key)` for each member; `member` must read or
    /// [`skip`](Self::skip) the value. `what` names the object in errors.
    pub fn object(
        &mut self,
        what: &'static str,
        mut member: impl FnMut(&mut Self, &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.enter(0, what)?;
        self.expect(b'{', what)?;
        self.depth += 1;
        if !self.eat(b'}') {
            loop {
                let mut key = KeyBuf {
                    bytes: [0; KEY_CAP],
                    len: 0,
                    overflow: false,
                };
                if self.peek() != Some(b'"') {
                    return Err(self.error(what));
                }
                self.string_into(&mut key, what, what)?;
                self.expect(b':', what)?;
                let name = if key.overflow {
                    &[][..]
                } else {
                    key.bytes.get(..key.len).unwrap_or(&[])
                };
                member(self, name)?;
                if self.eat(b',') {
                    continue;
                }
                self.expect(b'}', what)?;
                break;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Consume `null` if it is next; `true` when it was.
    pub fn null(&mut self) -> bool {
        if self.peek() == Some(b'n') && self.src.get(self.pos..self.pos + 4) == Some(b"null") {
            self.pos += 4;
            true
        } else {
            false
        }
    }

    /// Read a string into a `heapless::String<N>`.
    pub fn string<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<heapless::String<N>, Error> {
        let mut s = heapless::String::new();
        self.string_into(&mut s, field, field)?;
        Ok(s)
    }

    /// Read a string into a [`Secret`].
    pub fn secret<const N: usize>(&mut self, field: &'static str) -> Result<Secret<N>, Error> {
        let mut s = Secret::empty();
        self.string_into(&mut s, field, field)?;
        Ok(s)
    }

    /// Read a string or `null`.
    pub fn nullable_string<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<Option<heapless::String<N>>, Error> {
        if self.null() {
            Ok(None)
        } else {
            self.string(field).map(Some)
        }
    }

    /// Read a string into `sink`; overflow is `Capacity { field: cap }`, bad syntax `Malformed { what }`.
    ///
    /// `dyn Sink`, not generic: one copy of this loop serves every capacity (firmware flash).
    #[inline(never)]
    fn string_into(
        &mut self,
        sink: &mut dyn Sink,
        what: &'static str,
        cap: &'static str,
    ) -> Result<(), Error> {
        self.expect(b'"', what)?;
        let src = self.src;
        loop {
            let start = self.pos;
            while let Some(&b) = src.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let chunk = src.get(start..self.pos).unwrap_or(&[]);
            let text = core::str::from_utf8(chunk).map_err(|_| self.error(what))?;
            if !sink.push(text) {
                return Err(Error::Capacity { field: cap });
            }
            match src.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape(what)?;
                    let mut tmp = [0u8; 4];
                    if !sink.push(c.encode_utf8(&mut tmp)) {
                        return Err(Error::Capacity { field: cap });
                    }
                }
                _ => return Err(self.error(what)),
            }
        }
    }

    /// After a backslash: one escape, with UTF-16 surrogate pairs joined.
    fn escape(&mut self, what: &'static str) -> Result<char, Error> {
        let b = *self.src.get(self.pos).ok_or_else(|| self.error(what))?;
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4(what)?;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        if self.src.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.error(what));
                        }
                        self.pos += 2;
                        let lo = self.hex4(what)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(self.error(what));
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.error(what)),
                    _ => hi,
                };
                char::from_u32(code).ok_or_else(|| self.error(what))?
            }
            _ => return Err(self.error(what)),
        };
        Ok(c)
    }

    fn hex4(&mut self, what: &'static str) -> Result<u32, Error> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error(what))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char).to_digit(16).ok_or_else(|| self.error(what))?;
            v = v * 16 + n;
        }
        self.pos += 4;
        Ok(v)
    }

    fn digits(&mut self) -> &'a [u8] {
        let src = self.src;
        let start = self.pos;
        while src.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        src.get(start..self.pos).unwrap_or(&[])
    }

    /// Read a non-negative integer. Fractions, exponents, signs and overflow are `Malformed`.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, Error> {
        self.ws();
        let d = self.digits();
        let v = parse_u64(d).ok_or_else(|| self.error(field))?;
        if matches!(self.src.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return Err(self.error(field));
        }
        Ok(v)
    }

    /// Read an integer that may be negative.
    pub fn i64(&mut self, field: &'static str) -> Result<i64, Error> {
        let negative = self.eat(b'-');
        let v = self.u64(field)?;
        let v = i64::try_from(v).map_err(|_| self.error(field))?;
        Ok(if negative { -v } else { v })
    }

    /// Read a non-negative integer given as a number or, when `allow_string`, as a string of digits.
    pub fn u64_or_string(&mut self, field: &'static str, allow_string: bool) -> Result<u64, Error> {
        if self.peek() == Some(b'"') {
            if !allow_string {
                return Err(self.error(field));
            }
            let s: heapless::String<20> = self.string(field).map_err(|_| self.error(field))?;
            return parse_u64(s.as_bytes()).ok_or_else(|| self.error(field));
        }
        self.u64(field)
    }

    /// Read `true` or `false`.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, Error> {
        self.ws();
        let src = self.src;
        if src.get(self.pos..self.pos + 4) == Some(b"true") {
            self.pos += 4;
            Ok(true)
        } else if src.get(self.pos..self.pos + 5) == Some(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(self.error(field))
        }
    }

    /// Skip one value of any kind. Iterative: nesting costs no stack, and is limited to
    /// [`MAX_DEPTH`] levels in total. Unknown strings are checked for syntax, not for UTF-8.
    pub fn skip(&mut self) -> Result<(), Error> {
        const WHAT: &str = "value";
        let mut kinds: u64 = 0; // bit i set: level i is an object
        let mut level: u32 = 0;
        'value: loop {
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.enter(level + 1, "nesting too deep")?;
                    self.pos += 1;
                    let is_obj = open == b'{';
                    if is_obj {
                        kinds |= 1 << level;
                    } else {
                        kinds &= !(1 << level);
                    }
                    level += 1;
                    let close = if is_obj { b'}' } else { b']' };
                    if !self.eat(close) {
                        if is_obj {
                            self.skip_string()?;
                            self.expect(b':', WHAT)?;
                        }
                        continue 'value;
                    }
                    level -= 1;
                }
                Some(b'"') => self.skip_string()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    let start = self.pos;
                    while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') =
                        self.src.get(self.pos)
                    {
                        self.pos += 1;
                    }
                    if self.pos == start {
                        return Err(self.error(WHAT));
                    }
                }
                _ => return Err(self.error(WHAT)),
            }
            // A value is complete: close containers or move to the next element.
            loop {
                if level == 0 {
                    return Ok(());
                }
                let is_obj = (kinds >> (level - 1)) & 1 == 1;
                if self.eat(b',') {
                    if is_obj {
                        self.skip_string()?;
                        self.expect(b':', WHAT)?;
                    }
                    continue 'value;
                }
                if self.eat(if is_obj { b'}' } else { b']' }) {
                    level -= 1;
                    continue;
                }
                return Err(self.error(WHAT));
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Error> {
        if self.src.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("value"))
        }
    }

    fn skip_string(&mut self) -> Result<(), Error> {
        self.expect(b'"', "string")?;
        loop {
            match self.src.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape("string")?;
                }
                Some(&b) if b >= 0x20 => self.pos += 1,
                _ => return Err(self.error("string")),
            }
        }
    }

    /// Only whitespace may remain.
    pub fn finish(&mut self) -> Result<(), Error> {
        if self.peek().is_some() {
            Err(self.error("trailing data"))
        } else {
            Ok(())
        }
    }
}

fn parse_u64(d: &[u8]) -> Option<u64> {
    if d.is_empty() {
        return None;
    }
    d.iter().try_fold(0u64, |acc, &c| {
        let digit = u64::from(c.checked_sub(b'0').filter(|v| *v < 10)?);
        acc.checked_mul(10)?.checked_add(digit)
    })
}

/// Write `s` as a JSON string literal (with quotes) through `put`.
///
/// Escapes `"`, `\` and control characters; everything else is written as UTF-8.
pub fn write_string(s: &str, put: &mut impl FnMut(&[u8])) {
    put(b"\"");
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        put(bytes.get(start..i).unwrap_or(&[]));
        match esc {
            Some(e) => put(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
                put(&[b'\\', b'u', b'0', b'0', hi, lo]);
            }
        }
        start = i + 1;
    }
    put(bytes.get(start..).unwrap_or(&[]));
    put(b"\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn name(body: &[u8]) -> Result<heapless::String<16>, Error> {
        let mut p = Parser::new(body);
        let mut out = None;
        p.object("root", |p, k| match k {
            b"name" => set_once(&mut out, p.string("name")?, "name", b""),
            _ => p.skip(),
        })?;
        p.finish()?;
        required(out, "name", b"")
    }

    #[test]
    fn unescapes_including_surrogate_pairs() {
        assert_eq!(
            name(br#"{"name":"Zo\u00eb \ud83d\ude00 \"q\""}"#).unwrap(),
            "Zoë 😀 \"q\""
        );
        assert_eq!(name("{\"name\":\"Zoë\"}".as_bytes()).unwrap(), "Zoë");
        assert!(matches!(
            name(br#"{"name":"\ud83d"}"#),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            name(br#"{"name":"\ude00"}"#),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            name(b"{\"name\":\"a\xffb\"}"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            name(b"{\"name\":\"a\nb\"}"),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn capacity_names_the_field() {
        assert_eq!(
            name(br#"{"name":"01234567890123456"}"#),
            Err(Error::Capacity { field: "name" })
        );
    }

    #[test]
    fn duplicates_are_refused_and_unknowns_skipped() {
        assert!(matches!(
            name(br#"{"name":"a","name":"b"}"#),
            Err(Error::Malformed { what: "name", .. })
        ));
        let ok =
            br#"{"x":{"y":[1,2.5e3,-3,true,false,null,{"z":"\u00e9"}],"w":{}},"name":"a","v":[]}"#;
        assert_eq!(name(ok).unwrap(), "a");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut body = Vec::new();
        body.extend_from_slice(br#"{"x":"#);
        body.extend(core::iter::repeat_n(b'[', 100_000));
        body.extend(core::iter::repeat_n(b']', 100_000));
        body.extend_from_slice(br#","name":"a"}"#);
        assert!(matches!(name(&body), Err(Error::Malformed { .. })));
        let mut ok = Vec::new();
        ok.extend_from_slice(br#"{"x":"#);
        ok.extend(core::iter::repeat_n(b'[', 20));
        ok.extend(core::iter::repeat_n(b']', 20));
        ok.extend_from_slice(br#","name":"a"}"#);
        assert_eq!(name(&ok).unwrap(), "a");
    }

    #[test]
    fn numbers() {
        let mut p = Parser::new(br#"3600"#);
        assert_eq!(p.u64_or_string("e", false).unwrap(), 3600);
        let mut p = Parser::new(br#""3600""#);
        assert_eq!(p.u64_or_string("e", true).unwrap(), 3600);
        let mut p = Parser::new(br#""3600""#);
        assert!(p.u64_or_string("e", false).is_err());
        for bad in [
            &b"-1"[..],
            b"1e30",
            b"1.5",
            b"99999999999999999999",
            b"\"12a\"",
            b"\"\"",
        ] {
            let mut p = Parser::new(bad);
            assert!(
                p.u64_or_string("e", true).is_err(),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
        let mut p = Parser::new(b"-42");
        assert_eq!(p.i64("c").unwrap(), -42);
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"name\"",
            b"{\"name\":}",
            b"[]",
            b"<html>",
            b"{\"name\":\"a\"} x",
            b"{,}",
        ] {
            assert!(
                matches!(name(bad), Err(Error::Malformed { .. })),
                "{:?}",
                bad
            );
        }
    }

    #[test]
    fn writes_escaped_strings() {
        let mut out = Vec::new();
        write_string("a\"b\\c\nd\u{1}é", &mut |b: &[u8]| {
            out.extend_from_slice(b)
        });
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#.as_bytes().to_vec());
    }
}
