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

/// What is wrong inside a body, as the parser sees it.
///
/// Small and `Copy` on purpose: every `?` in a parser moves a pointer, a length and a tag, not
/// the crate's [`Error`] with its body excerpt (which the parser would otherwise build and copy
/// outward at every level). Readers turn it into an [`Error`] once per response with
/// [`JsonError::into_error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Bad syntax, a wrong type, a duplicate or a missing member: [`Error::Malformed`].
    Malformed(&'static str),
    /// A string longer than its field: [`Error::Capacity`].
    Capacity(&'static str),
}

impl JsonError {
    /// The crate's [`Error`] for this problem in `body` (`Malformed` carries a redacted excerpt).
    #[inline(never)]
    pub fn into_error(self, body: &[u8]) -> Error {
        match self {
            JsonError::Malformed(what) => Error::malformed(what, body),
            JsonError::Capacity(field) => Error::Capacity { field },
        }
    }
}

/// Something a JSON string can be unescaped into.
pub trait Sink {
    /// Append `s`; `false` when it does not fit.
    fn push(&mut self, s: &str) -> bool;

    /// Append bytes the parser has already found to be ASCII; `false` when they do not fit.
    ///
    /// The default checks them again and calls [`push`](Self::push); sinks that keep bytes
    /// (like [`Secret`]) append them as they are, which spares long tokens a second pass.
    fn push_ascii(&mut self, bytes: &[u8]) -> bool {
        match core::str::from_utf8(bytes) {
            Ok(s) => self.push(s),
            Err(_) => false,
        }
    }
}

impl<const N: usize> Sink for heapless::String<N> {
    // Through the unsized view: one copy of the pushing code serves every capacity.
    fn push(&mut self, s: &str) -> bool {
        push_view(self.as_mut_view(), s)
    }

    fn push_ascii(&mut self, bytes: &[u8]) -> bool {
        push_ascii_view(self.as_mut_view(), bytes)
    }
}

/// Any `heapless::String<N>` as a [`Sink`] through its unsized view ([`text`]): the readers use
/// it so that one `Sink` implementation (and one vtable) serves every capacity (firmware flash).
pub(crate) struct Text<'a>(&'a mut heapless::string::StringView);

impl Sink for Text<'_> {
    fn push(&mut self, s: &str) -> bool {
        push_view(self.0, s)
    }

    fn push_ascii(&mut self, bytes: &[u8]) -> bool {
        push_ascii_view(self.0, bytes)
    }
}

/// `s` as a capacity-independent [`Sink`].
pub(crate) fn text<const N: usize>(s: &mut heapless::String<N>) -> Text<'_> {
    Text(s.as_mut_view())
}

#[inline(never)]
fn push_view(view: &mut heapless::string::StringView, s: &str) -> bool {
    view.push_str(s).is_ok()
}

#[inline(never)]
fn push_ascii_view(view: &mut heapless::string::StringView, bytes: &[u8]) -> bool {
    match core::str::from_utf8(bytes) {
        Ok(s) => view.push_str(s).is_ok(),
        Err(_) => false,
    }
}

impl<const N: usize> Sink for Secret<N> {
    fn push(&mut self, s: &str) -> bool {
        self.push_str(s, "").is_ok()
    }

    fn push_ascii(&mut self, bytes: &[u8]) -> bool {
        self.push_ascii_bytes(bytes)
    }
}

/// Copy each `(value, field)` into its (empty) sink, in order: `Err(Capacity { field })` for
/// the first that does not fit. One loop for every configuration constructor (firmware flash):
/// the fields are filled where they are kept, and only a small error travels back.
#[inline(never)]
pub(crate) fn fill(fields: &mut [(&mut dyn Sink, &str, &'static str)]) -> Result<(), Error> {
    for (dst, value, field) in fields.iter_mut() {
        if !dst.push(value) {
            return Err(Error::Capacity { field });
        }
    }
    Ok(())
}

/// Member names longer than this are unknown to every parser here (only escaped names are
/// copied; plain ones are read in place).
const KEY_CAP: usize = 40;

struct KeyBuf {
    bytes: [u8; KEY_CAP],
    len: usize,
    overflow: bool,
}

impl KeyBuf {
    fn append(&mut self, bytes: &[u8]) -> bool {
        let end = self.len + bytes.len();
        match self.bytes.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
            }
            None => self.overflow = true,
        }
        true
    }
}

impl Sink for KeyBuf {
    fn push(&mut self, s: &str) -> bool {
        self.append(s.as_bytes())
    }

    fn push_ascii(&mut self, bytes: &[u8]) -> bool {
        self.append(bytes)
    }
}

/// Whether the member name `key` is `name`: how readers tell members apart,
/// `k if is(k, "access_token") => …`, rather than with byte-string patterns
/// (`b"access_token" => …`).
///
/// A byte-string pattern on a `&[u8]` is matched like a slice pattern, element by element: at
/// `opt-level = "z"` every arm compiles to a compare of each byte of the name, about 6 bytes of
/// firmware code per character (2.3 KB over the readers). `==` is one `bcmp` call; on a host
/// it is inlined into the same compares, no slower.
#[inline]
pub(crate) fn is(key: &[u8], name: &str) -> bool {
    key == name.as_bytes()
}

/// Store `value` in `slot` unless it is already set: a duplicate member is `Malformed { what: field }`.
pub fn set_once<T>(slot: &mut Option<T>, value: T, field: &'static str) -> Result<(), JsonError> {
    if slot.is_some() {
        return Err(JsonError::Malformed(field));
    }
    *slot = Some(value);
    Ok(())
}

/// Take a required member out of its slot, or `Malformed { what: field }`.
pub fn required<T>(slot: Option<T>, field: &'static str) -> Result<T, JsonError> {
    slot.ok_or(JsonError::Malformed(field))
}

/// Which known members a reader has met, one bit each: how readers that parse straight into
/// their output find duplicates and missing members without an `Option` per member.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen(u32);

impl Seen {
    /// Nothing seen yet.
    pub const fn new() -> Self {
        Seen(0)
    }

    /// Note the member whose bit is `mask`; meeting it a second time is `Malformed { what: field }`.
    pub fn first(&mut self, mask: u32, field: &'static str) -> Result<(), JsonError> {
        if self.0 & mask != 0 {
            return Err(JsonError::Malformed(field));
        }
        self.0 |= mask;
        Ok(())
    }

    /// Whether the member whose bit is `mask` was met.
    pub fn has(self, mask: u32) -> bool {
        self.0 & mask != 0
    }

    /// `Ok` when the member whose bit is `mask` was met, else `Malformed { what: field }`.
    pub fn required(self, mask: u32, field: &'static str) -> Result<(), JsonError> {
        if self.has(mask) {
            Ok(())
        } else {
            Err(JsonError::Malformed(field))
        }
    }
}

/// From `pos`, the end of the run of bytes that need no attention inside a JSON string: the
/// index of the first `"`, `\` or control byte (or `src.len()`), and whether the run may hold a
/// non-ASCII byte (conservative: `true` sends the run through the UTF-8 check).
///
/// A machine word at a time (SWAR: 8 bytes on 64-bit hosts, 4 on 32-bit firmware, where a
/// `u64` would be two-register arithmetic): tokens are long and mostly plain. For each test the
/// lowest flagged byte of a word is exact (borrows only run upward), so the first stop is found
/// exactly.
#[inline]
fn plain_run(src: &[u8], mut pos: usize) -> (usize, bool) {
    const N: usize = core::mem::size_of::<usize>();
    const LO: usize = usize::MAX / 0xff;
    const HI: usize = LO << 7;
    let mut seen = 0usize;
    while let Some(word) = src
        .get(pos..pos + N)
        .and_then(|w| <[u8; N]>::try_from(w).ok())
    {
        let w = usize::from_le_bytes(word);
        let quote = w ^ (LO * usize::from(b'"'));
        let backslash = w ^ (LO * usize::from(b'\\'));
        let stop = ((quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (w.wrapping_sub(LO * 0x20) & !w))
            & HI;
        seen |= w;
        if stop != 0 {
            return (pos + (stop.trailing_zeros() / 8) as usize, seen & HI != 0);
        }
        pos += N;
    }
    while let Some(&b) = src.get(pos) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        seen |= usize::from(b);
        pos += 1;
    }
    (pos, seen & HI != 0)
}

/// Whether `body` is an object with a string `error` member (a refusal sent with a 2xx status).
/// What follows the member does not matter: a syntax error after it still counts as yes.
pub(crate) fn has_error_member(body: &[u8]) -> bool {
    let mut found = false;
    let mut p = Parser::new(body);
    let _ = p.object("response", |p, key| {
        if is(key, "error") && p.peek() == Some(b'"') {
            found = true;
        }
        p.skip()
    });
    found
}

/// Note a top-level string `error` member in `flag` (for [`read_or_refusal`]), then skip it.
pub(crate) fn note_error_member(p: &mut Parser<'_>, flag: &mut bool) -> Result<(), JsonError> {
    if p.peek() == Some(b'"') {
        *flag = true;
    }
    p.skip()
}

/// Read a 2xx body with `read`, which calls [`note_error_member`] for its top-level `error`
/// member: `Ok(true)` when the body is a refusal (it has one, and `refusals` is on), `Ok(false)`
/// when it was read. One pass: only a body that fails to parse is scanned again for the member,
/// so the answer is the same as checking for it first, at half the cost. A body that could not
/// be read is the parser's small error: the caller makes it an [`Error`] (with
/// [`JsonError::into_error`]) once, where it returns it.
///
/// `read` is a `dyn` closure: this code exists once, not once per reader (firmware flash).
pub(crate) fn read_or_refusal(
    body: &[u8],
    refusals: bool,
    read: &mut dyn FnMut(&mut bool) -> Result<(), JsonError>,
) -> Result<bool, JsonError> {
    let mut saw_error = false;
    match read(&mut saw_error) {
        Ok(()) => Ok(refusals && saw_error),
        Err(_) if refusals && has_error_member(body) => Ok(true),
        Err(e) => Err(e),
    }
}

/// The one status-and-refusal check every answer reader goes through: a status `accept` does
/// not take is typed by `refusal`; an accepted body is read by `read`, which notes a top-level
/// `error` member (see [`read_or_refusal`]), and with `refusals` on such a body is typed by
/// `refusal` too. Whatever fails to parse otherwise is `Error::Malformed` (a 2xx body
/// withheld, see [`JsonError::into_error`]).
#[inline(always)]
pub(crate) fn read_answer(
    response: crate::Response<'_>,
    accept: impl FnOnce(u16) -> bool,
    refusals: bool,
    refusal: fn(crate::Response<'_>) -> Error,
    mut read: impl FnMut(&mut bool) -> Result<(), JsonError>,
) -> Result<(), Error> {
    let accepted = accept(response.status);
    answer(response, accepted, refusals, refusal, &mut read)
}

/// [`read_answer`] once the status is judged: one copy for every reader (firmware flash).
#[inline(never)]
fn answer(
    response: crate::Response<'_>,
    accepted: bool,
    refusals: bool,
    refusal: fn(crate::Response<'_>) -> Error,
    read: &mut dyn FnMut(&mut bool) -> Result<(), JsonError>,
) -> Result<(), Error> {
    if !accepted {
        return Err(refusal(response));
    }
    match read_or_refusal(response.body, refusals, read) {
        Ok(false) => Ok(()),
        Ok(true) => Err(refusal(response)),
        Err(e) => Err(e.into_error(response.body)),
    }
}

/// A cursor over one JSON document.
pub struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    depth: u32,
}

/// What [`Parser::object`] hands each member to.
type Member<'m, 'a> = &'m mut dyn FnMut(&mut Parser<'a>, &[u8]) -> Result<(), JsonError>;

impl<'a> Parser<'a> {
    /// Start reading `src`.
    pub fn new(src: &'a [u8]) -> Self {
        Parser {
            src,
            pos: 0,
            depth: 0,
        }
    }

    fn ws(&mut self) {
        // Most calls find a significant byte at once (compact JSON, or a second look).
        if self.src.get(self.pos).is_some_and(|&b| b > b' ') {
            return;
        }
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

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), JsonError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(JsonError::Malformed(what))
        }
    }

    fn enter(&mut self, extra: u32, what: &'static str) -> Result<(), JsonError> {
        if self.depth + extra >= MAX_DEPTH {
            return Err(JsonError::Malformed(what));
        }
        Ok(())
    }

    /// Read an object, calling `member(self, key)` for each member; `member` must read or
    /// [`skip`](Self::skip) the value. `what` names the object in errors.
    pub fn object(
        &mut self,
        what: &'static str,
        mut member: impl FnMut(&mut Self, &[u8]) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.object_dyn(what, &mut member)
    }

    /// The loop of [`object`](Self::object), once for every caller (firmware flash).
    #[inline(never)]
    fn object_dyn(&mut self, what: &'static str, member: Member<'_, 'a>) -> Result<(), JsonError> {
        self.enter(0, what)?;
        self.expect(b'{', what)?;
        self.depth += 1;
        if !self.eat(b'}') {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(JsonError::Malformed(what));
                }
                let src = self.src;
                let start = self.pos + 1;
                let (end, high) = plain_run(src, start);
                let mut key = KeyBuf {
                    bytes: [0; KEY_CAP],
                    len: 0,
                    overflow: false,
                };
                let name: &[u8] = match src.get(end) {
                    // The usual member name: no escapes, read where it is.
                    Some(b'"') => {
                        let name = src.get(start..end).unwrap_or(&[]);
                        if high && core::str::from_utf8(name).is_err() {
                            return Err(JsonError::Malformed(what));
                        }
                        self.pos = end + 1;
                        name
                    }
                    _ => {
                        self.string_into(&mut key, what)?;
                        if key.overflow {
                            &[]
                        } else {
                            key.bytes.get(..key.len).unwrap_or(&[])
                        }
                    }
                };
                self.expect(b':', what)?;
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
    ) -> Result<heapless::String<N>, JsonError> {
        let mut s = heapless::String::new();
        self.string_into(&mut text(&mut s), field)?;
        Ok(s)
    }

    /// Read a string or `null`.
    #[cfg(feature = "fuzz")]
    pub fn nullable_string<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<Option<heapless::String<N>>, JsonError> {
        if self.null() {
            Ok(None)
        } else {
            self.string(field).map(Some)
        }
    }

    /// Read a string or `null` into `sink`, which should be empty: `false` for `null`.
    pub fn nullable_string_into(
        &mut self,
        sink: &mut dyn Sink,
        field: &'static str,
    ) -> Result<bool, JsonError> {
        if self.null() {
            Ok(false)
        } else {
            self.string_into(sink, field).map(|()| true)
        }
    }

    /// Read a string, unescaped, onto the end of `sink`: where it will be kept, so nothing is
    /// moved afterwards. Overflow is `Capacity(field)`, bad syntax or UTF-8 `Malformed(field)`.
    ///
    /// `dyn Sink`, not generic: one copy of this loop serves every capacity (firmware flash).
    #[inline(never)]
    pub fn string_into(
        &mut self,
        sink: &mut dyn Sink,
        field: &'static str,
    ) -> Result<(), JsonError> {
        self.expect(b'"', field)?;
        let src = self.src;
        loop {
            let start = self.pos;
            let (end, high) = plain_run(src, start);
            self.pos = end;
            let chunk = src.get(start..end).unwrap_or(&[]);
            let fits = if high {
                match core::str::from_utf8(chunk) {
                    Ok(text) => sink.push(text),
                    Err(_) => return Err(JsonError::Malformed(field)),
                }
            } else {
                sink.push_ascii(chunk)
            };
            if !fits {
                return Err(JsonError::Capacity(field));
            }
            match src.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape(field)?;
                    let mut tmp = [0u8; 4];
                    if !sink.push(c.encode_utf8(&mut tmp)) {
                        return Err(JsonError::Capacity(field));
                    }
                }
                _ => return Err(JsonError::Malformed(field)),
            }
        }
    }

    /// After a backslash: one escape, with UTF-16 surrogate pairs joined.
    fn escape(&mut self, what: &'static str) -> Result<char, JsonError> {
        let bad = JsonError::Malformed(what);
        let b = *self.src.get(self.pos).ok_or(bad)?;
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
                            return Err(bad);
                        }
                        self.pos += 2;
                        let lo = self.hex4(what)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(bad);
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(bad),
                    _ => hi,
                };
                char::from_u32(code).ok_or(bad)?
            }
            _ => return Err(bad),
        };
        Ok(c)
    }

    fn hex4(&mut self, what: &'static str) -> Result<u32, JsonError> {
        let bad = JsonError::Malformed(what);
        let digits = self.src.get(self.pos..self.pos + 4).ok_or(bad)?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char).to_digit(16).ok_or(bad)?;
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
    pub fn u64(&mut self, field: &'static str) -> Result<u64, JsonError> {
        self.ws();
        let d = self.digits();
        let v = parse_u64(d).ok_or(JsonError::Malformed(field))?;
        if matches!(self.src.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return Err(JsonError::Malformed(field));
        }
        Ok(v)
    }

    /// Read an integer that may be negative.
    pub fn i64(&mut self, field: &'static str) -> Result<i64, JsonError> {
        let negative = self.eat(b'-');
        let v = self.u64(field)?;
        let v = i64::try_from(v).map_err(|_| JsonError::Malformed(field))?;
        Ok(if negative { -v } else { v })
    }

    /// Read a non-negative integer given as a number or, when `allow_string`, as a string of digits.
    pub fn u64_or_string(
        &mut self,
        field: &'static str,
        allow_string: bool,
    ) -> Result<u64, JsonError> {
        if self.peek() == Some(b'"') {
            if !allow_string {
                return Err(JsonError::Malformed(field));
            }
            let s: heapless::String<20> = self
                .string(field)
                .map_err(|_| JsonError::Malformed(field))?;
            return parse_u64(s.as_bytes()).ok_or(JsonError::Malformed(field));
        }
        self.u64(field)
    }

    /// Read `true` or `false`.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, JsonError> {
        self.ws();
        let src = self.src;
        if src.get(self.pos..self.pos + 4) == Some(b"true") {
            self.pos += 4;
            Ok(true)
        } else if src.get(self.pos..self.pos + 5) == Some(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(JsonError::Malformed(field))
        }
    }

    /// Skip one value of any kind. Iterative: nesting costs no stack, and is limited to
    /// [`MAX_DEPTH`] levels in total. Unknown strings are checked for syntax, not for UTF-8.
    pub fn skip(&mut self) -> Result<(), JsonError> {
        const WHAT: &str = "value";
        let bad = JsonError::Malformed(WHAT);
        // Bit i set: level i is an object. `enter` keeps `level` below MAX_DEPTH (32), so 32
        // bits hold every level (a u64 would cost 32-bit targets multi-word shifts).
        let mut kinds: u32 = 0;
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
                        return Err(bad);
                    }
                }
                _ => return Err(bad),
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
                return Err(bad);
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.src.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(JsonError::Malformed("value"))
        }
    }

    fn skip_string(&mut self) -> Result<(), JsonError> {
        self.expect(b'"', "string")?;
        loop {
            let (end, _) = plain_run(self.src, self.pos);
            self.pos = end;
            match self.src.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape("string")?;
                }
                _ => return Err(JsonError::Malformed("string")),
            }
        }
    }

    /// Only whitespace may remain.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        if self.peek().is_some() {
            Err(JsonError::Malformed("trailing data"))
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
    write_string_dyn(s, put);
}

/// The loop of [`write_string`], once for every caller (firmware flash).
#[inline(never)]
fn write_string_dyn(s: &str, put: &mut dyn FnMut(&[u8])) {
    put(b"\"");
    let bytes = s.as_bytes();
    let mut start = 0;
    loop {
        // The bytes to escape are exactly the ones that end a plain run when reading.
        let (end, _) = plain_run(bytes, start);
        if end > start {
            put(bytes.get(start..end).unwrap_or(&[]));
        }
        let Some(&b) = bytes.get(end) else {
            break;
        };
        match b {
            b'"' => put(b"\\\""),
            b'\\' => put(b"\\\\"),
            b'\n' => put(b"\\n"),
            b'\r' => put(b"\\r"),
            b'\t' => put(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
                put(&[b'\\', b'u', b'0', b'0', hi, lo]);
            }
        }
        start = end + 1;
    }
    put(b"\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn name(body: &[u8]) -> Result<heapless::String<16>, Error> {
        let read = || {
            let mut p = Parser::new(body);
            let mut out = None;
            p.object("root", |p, k| match k {
                b"name" => set_once(&mut out, p.string("name")?, "name"),
                _ => p.skip(),
            })?;
            p.finish()?;
            required(out, "name")
        };
        read().map_err(|e: JsonError| e.into_error(body))
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

    /// `plain_run` is the byte-at-a-time scan, word by word.
    #[test]
    fn plain_run_matches_a_byte_scan() {
        let scan = |src: &[u8], pos: usize| {
            let end = src[pos..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .map_or(src.len(), |i| pos + i);
            (end, src[pos..end].iter().any(|b| !b.is_ascii()))
        };
        let mut seed = 7u32;
        for len in 0..64 {
            for _ in 0..64 {
                let src: std::vec::Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        // Mostly plain ASCII; sometimes a stop byte or a high one.
                        match (seed >> 16) % 16 {
                            0 => b'"',
                            1 => b'\\',
                            2 => (seed >> 8) as u8 % 0x20,
                            3 => 0x80 | (seed >> 8) as u8,
                            _ => b'a' + (seed >> 8) as u8 % 26,
                        }
                    })
                    .collect();
                for pos in 0..=len {
                    let (end, high) = plain_run(&src, pos);
                    let (want_end, want_high) = scan(&src, pos);
                    assert_eq!(end, want_end, "{src:?} from {pos}");
                    // Conservative: may say "high" for a word that held a high byte past the stop.
                    assert!(high || !want_high, "{src:?} from {pos}");
                }
            }
        }
    }

    /// `skip` keeps one bit per level in a u32: nesting up to the limit works, one more is an
    /// error, never a shift overflow (tests run with overflow checks).
    #[test]
    fn skip_at_the_nesting_limit() {
        for n in 25..=40 {
            for (open, close) in [("[", "]"), (r#"{"k":"#, "}")] {
                let body = std::format!(
                    r#"{{"x":{}1{},"name":"a"}}"#,
                    open.repeat(n),
                    close.repeat(n)
                );
                // The outer object is one level; `skip` may add the other MAX_DEPTH - 2.
                let fits = n < MAX_DEPTH as usize - 1;
                match name(body.as_bytes()) {
                    Ok(v) => assert!(fits && v == "a", "{n} levels"),
                    Err(e) => assert!(!fits && matches!(e, Error::Malformed { .. }), "{n}: {e:?}"),
                }
            }
        }
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
    fn written_strings_read_back_with_serde_json() {
        let mut all: std::string::String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€😀 \"quoted\" back\\slash and a long tail of plain text");
        for s in [all.as_str(), "", "plain", "\"", "\\", "\u{1f}x", "tail\n"] {
            let mut out = Vec::new();
            write_string(s, &mut |b: &[u8]| out.extend_from_slice(b));
            let back: std::string::String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
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
