//! A sans-I/O HTTP/1.1 response parser working in one caller buffer.
//!
//! Read bytes into [`ResponseParser::spare`], report them with [`ResponseParser::feed`] (or the
//! end of the stream with [`ResponseParser::close`]) and get [`Progress::Partial`] or
//! [`Progress::Complete`]. The head (status line and headers, read as `httparse` reads them) stays at
//! the start of the buffer; the body follows it. Chunked bodies are decoded in place, so the
//! buffer only has to hold the head plus the decoded body. Bytes after the end of the
//! response (a pipelined next response) are reported as [`Parsed::leftover`], never dropped.
//!
//! ```
//! use ssoflow_embedded_io::{Progress, ResponseParser};
//!
//! let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
//! let mut buf = [0u8; 256];
//! let mut parser = ResponseParser::new();
//! let mut parsed = None;
//! for piece in wire.chunks(7) {
//!     let spare = parser.spare(&mut buf).unwrap();
//!     spare[..piece.len()].copy_from_slice(piece);
//!     if let Progress::Complete(p) = parser.feed(&mut buf, piece.len()).unwrap() {
//!         parsed = Some(p);
//!     }
//! }
//! let parsed = parsed.unwrap();
//! assert_eq!(parsed.status(), 200);
//! assert_eq!(&buf[parsed.body()], b"abc");
//! ```

use core::ops::Range;

use crate::{Error, head};

/// Most header lines a response may have (they are kept in a fixed array).
pub const MAX_RESPONSE_HEADERS: usize = 32;

/// What a [`ResponseParser`] has seen so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    Partial,
    /// A whole response is in the buffer.
    Complete(Parsed),
}

/// Where a complete response sits in the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    status: u16,
    head_len: usize,
    body: (usize, usize),
    leftover: (usize, usize),
    keep_alive: bool,
}

impl Parsed {
    /// The final (non-1xx) status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The status line and headers: `buf[..head_len]`.
    pub fn head(&self) -> Range<usize> {
        0..self.head_len
    }

    /// The (decoded) body.
    pub fn body(&self) -> Range<usize> {
        self.body.0..self.body.1
    }

    /// Bytes that arrived after the end of this response (the start of the next one).
    pub fn leftover(&self) -> Range<usize> {
        self.leftover.0..self.leftover.1
    }

    /// Whether the connection may carry another request (HTTP/1.1 without `Connection: close`,
    /// or HTTP/1.0 with `Connection: keep-alive`, and a body that did not end with the connection).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }
}

/// Incremental response parser; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct ResponseParser {
    filled: usize,
    state: State,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Head,
    Body { head: Head, framing: Framing },
    Done,
}

#[derive(Clone, Copy, Debug)]
struct Head {
    status: u16,
    len: usize,
    keep_alive: bool,
}

#[derive(Clone, Copy, Debug)]
enum Framing {
    Length(usize),
    Chunked(Chunked),
    UntilClose,
}

#[derive(Clone, Copy, Debug)]
struct Chunked {
    /// End of the decoded body.
    out: usize,
    /// Next raw byte to look at.
    pos: usize,
    /// The chunk size being read.
    size: usize,
    /// Whether `size` has at least one digit.
    digits: bool,
    phase: Phase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Size,
    SizeWs,
    Ext,
    SizeLf,
    Data(usize),
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerEndLf,
    Done,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    /// A parser for one response, with an empty buffer.
    pub const fn new() -> Self {
        ResponseParser {
            filled: 0,
            state: State::Head,
        }
    }

    /// Bytes of the buffer in use (head, body so far, undecoded input).
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Where to read the next bytes: the free tail of `buf`.
    ///
    /// A full buffer is [`Error::HeadTooLarge`] while the head is incomplete, otherwise
    /// [`Error::BodyTooLarge`]: a response is never truncated.
    pub fn spare<'a>(&self, buf: &'a mut [u8]) -> Result<&'a mut [u8], Error> {
        let full = match self.state {
            State::Head => Error::HeadTooLarge,
            State::Body { .. } => Error::BodyTooLarge,
            State::Done => {
                return Err(Error::Parse {
                    what: "response already complete",
                });
            }
        };
        match buf.get_mut(self.filled..) {
            Some(spare) if !spare.is_empty() => Ok(spare),
            _ => Err(full),
        }
    }

    /// `n` more bytes were written into [`spare`](Self::spare) (or, for the first call, are at
    /// the start of `buf` already: bytes left over from the previous response).
    pub fn feed(&mut self, buf: &mut [u8], n: usize) -> Result<Progress, Error> {
        self.filled = self.filled.saturating_add(n).min(buf.len());
        self.step(buf, false)
    }

    /// The stream ended (a read returned `Ok(0)`).
    pub fn close(&mut self, buf: &mut [u8]) -> Result<Progress, Error> {
        self.filled = self.filled.min(buf.len());
        self.step(buf, true)
    }

    fn step(&mut self, buf: &mut [u8], closed: bool) -> Result<Progress, Error> {
        // Matched, each arm returning what it was given: kept in a local and looked at, the
        // `Result` took two slots of the driver's 0.2 KiB error on this frame.
        match self.advance(buf, closed) {
            Ok(Progress::Partial) => Ok(Progress::Partial),
            Ok(progress) => {
                self.state = State::Done;
                Ok(progress)
            }
            Err(e) => {
                self.state = State::Done;
                Err(e)
            }
        }
    }

    fn advance(&mut self, buf: &mut [u8], closed: bool) -> Result<Progress, Error> {
        loop {
            match &mut self.state {
                State::Done => {
                    return Err(Error::Parse {
                        what: "response already complete",
                    });
                }
                State::Head => {
                    let bytes = buf.get(..self.filled).unwrap_or(&[]);
                    let Some(info) = parse_head(bytes)? else {
                        return if closed {
                            Err(Error::Closed)
                        } else {
                            Ok(Progress::Partial)
                        };
                    };
                    if (100..200).contains(&info.status) {
                        // 1xx: informational, another head follows. Drop this one.
                        if info.status == 101 {
                            return Err(Error::Parse {
                                what: "unexpected 101 Switching Protocols",
                            });
                        }
                        copy_down(buf, info.len..self.filled, 0);
                        self.filled -= info.len;
                        continue;
                    }
                    self.state = info.into_state(buf.len())?;
                }
                State::Body { head, framing } => {
                    let head = *head;
                    let done = |body: (usize, usize), leftover: (usize, usize), keep_alive| {
                        Ok(Progress::Complete(Parsed {
                            status: head.status,
                            head_len: head.len,
                            body,
                            leftover,
                            keep_alive,
                        }))
                    };
                    return match framing {
                        Framing::Length(len) => {
                            let end = head.len.saturating_add(*len);
                            if self.filled >= end {
                                done((head.len, end), (end, self.filled), head.keep_alive)
                            } else if closed {
                                Err(Error::ContentLengthMismatch {
                                    declared: *len,
                                    received: self.filled.saturating_sub(head.len),
                                })
                            } else {
                                Ok(Progress::Partial)
                            }
                        }
                        Framing::UntilClose if closed => {
                            done((head.len, self.filled), (self.filled, self.filled), false)
                        }
                        Framing::UntilClose => Ok(Progress::Partial),
                        Framing::Chunked(c) => {
                            decode_chunks(buf, c, self.filled)?;
                            if c.phase == Phase::Done {
                                done((head.len, c.out), (c.pos, self.filled), head.keep_alive)
                            } else if closed {
                                Err(Error::Closed)
                            } else {
                                // Everything was consumed: the free space starts after the body.
                                self.filled = c.out;
                                c.pos = c.out;
                                Ok(Progress::Partial)
                            }
                        }
                    };
                }
            }
        }
    }
}

/// What the head says about the body.
struct HeadInfo {
    len: usize,
    status: u16,
    keep_alive: bool,
    content_length: Option<usize>,
    /// `Some(true)` when the last transfer coding is `chunked`.
    chunked: Option<bool>,
}

impl HeadInfo {
    fn into_state(self, capacity: usize) -> Result<State, Error> {
        let mut keep_alive = self.keep_alive;
        let framing = if self.status == 204 || self.status == 304 {
            Framing::Length(0)
        } else {
            match (self.chunked, self.content_length) {
                (Some(true), cl) => {
                    // Both framings at once is a smuggling vector: honour chunked, then close.
                    keep_alive &= cl.is_none();
                    Framing::Chunked(Chunked {
                        out: self.len,
                        pos: self.len,
                        size: 0,
                        digits: false,
                        phase: Phase::Size,
                    })
                }
                (Some(false), _) | (None, None) => {
                    keep_alive = false;
                    Framing::UntilClose
                }
                (None, Some(len)) => {
                    if self.len.saturating_add(len) > capacity {
                        return Err(Error::BodyTooLarge);
                    }
                    Framing::Length(len)
                }
            }
        };
        Ok(State::Body {
            head: Head {
                status: self.status,
                len: self.len,
                keep_alive,
            },
            framing,
        })
    }
}

/// Parse a head; `None` while incomplete.
///
/// Read twice, with no table of the headers (the view's 0.5 KiB one is filled later, from the
/// head in the buffer): first checked whole and counted, then, once it is known complete and
/// well formed, its framing headers read in order. A malformed or incomplete head is reported
/// as such before any header's value is looked at, as when the headers were collected first.
fn parse_head(bytes: &[u8]) -> Result<Option<HeadInfo>, Error> {
    let mut count = 0;
    let head = match head::parse_each(bytes, &mut |_| {
        if count == MAX_RESPONSE_HEADERS {
            return Err(head::Stop::TooManyHeaders);
        }
        count += 1;
        Ok(())
    }) {
        Ok(head) => head,
        Err(head::Stop::Partial) => return Ok(None),
        Err(stop) => return Err(stop.into_error()),
    };
    let http11 = head.minor == 1;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut content_length: Option<usize> = None;
    let mut chunked: Option<bool> = None;
    // The first header that makes the head unusable: the reading stops there.
    let mut bad: Option<Unusable> = None;
    let _ = head::parse_each(bytes, &mut |h| {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in tokens(h.value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = match parse_length(h.value) {
                Ok(n) => n,
                Err(e) => {
                    bad = Some(e);
                    return Err(head::Stop::Partial);
                }
            };
            if content_length.is_some_and(|m| m != n) {
                bad = Some(Unusable::Parse("conflicting Content-Length"));
                return Err(head::Stop::Partial);
            }
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if let Some(last) = tokens(h.value).last() {
                chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
            }
        }
        Ok(())
    });
    if let Some(bad) = bad {
        return Err(bad.into_error());
    }
    Ok(Some(HeadInfo {
        len: head.len,
        status: head.status,
        keep_alive: !close && (http11 || keep_alive_token),
        content_length,
        chunked,
    }))
}

/// Comma-separated list members, trimmed, empty ones skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

fn parse_length(value: &[u8]) -> Result<usize, Unusable> {
    let digits = value.trim_ascii();
    if digits.is_empty() {
        return Err(Unusable::Parse("Content-Length"));
    }
    let mut n: usize = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(Unusable::Parse("Content-Length"));
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(b - b'0')))
            .ok_or(Unusable::TooLarge)?;
    }
    Ok(n)
}

/// Why a head's framing headers make it unusable: the driver's error, in a few bytes (it is
/// kept while the head is read).
#[derive(Clone, Copy, Debug)]
enum Unusable {
    /// [`Error::Parse`] with this `what`.
    Parse(&'static str),
    /// [`Error::BodyTooLarge`]: a length past `usize`.
    TooLarge,
}

impl Unusable {
    fn into_error(self) -> Error {
        match self {
            Unusable::Parse(what) => Error::Parse { what },
            Unusable::TooLarge => Error::BodyTooLarge,
        }
    }
}

fn hex(b: u8) -> Option<usize> {
    match b {
        b'0'..=b'9' => Some(usize::from(b - b'0')),
        b'a'..=b'f' => Some(usize::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(usize::from(b - b'A' + 10)),
        _ => None,
    }
}

/// Decode the raw bytes `buf[c.pos..filled]`, moving chunk data down to `c.out`.
fn decode_chunks(buf: &mut [u8], c: &mut Chunked, filled: usize) -> Result<(), Error> {
    while c.pos < filled && c.phase != Phase::Done {
        if let Phase::Data(remaining) = c.phase {
            let take = remaining.min(filled - c.pos);
            let end = c.pos + take;
            if end > buf.len() || c.out > c.pos {
                return Err(Error::BadChunk);
            }
            copy_down(buf, c.pos..end, c.out);
            c.out += take;
            c.pos = end;
            c.phase = if take == remaining {
                Phase::DataCr
            } else {
                Phase::Data(remaining - take)
            };
            continue;
        }
        let b = *buf.get(c.pos).ok_or(Error::BadChunk)?;
        c.pos += 1;
        c.phase = match (c.phase, b) {
            (Phase::Size, _) if hex(b).is_some() => {
                c.size = c
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(hex(b).unwrap_or(0)))
                    .ok_or(Error::BadChunk)?;
                c.digits = true;
                Phase::Size
            }
            (Phase::Size | Phase::SizeWs, _) if !c.digits => return Err(Error::BadChunk),
            (Phase::Size | Phase::SizeWs, b' ' | b'\t') => Phase::SizeWs,
            (Phase::Size | Phase::SizeWs, b';') => Phase::Ext,
            (Phase::Size | Phase::SizeWs, b'\r') => Phase::SizeLf,
            (Phase::Size | Phase::SizeWs | Phase::Ext | Phase::SizeLf, b'\n') => {
                let size = core::mem::take(&mut c.size);
                c.digits = false;
                if size == 0 {
                    Phase::TrailerStart
                } else if c.out.saturating_add(size) > buf.len() {
                    return Err(Error::BodyTooLarge);
                } else {
                    Phase::Data(size)
                }
            }
            (Phase::Ext, _) => Phase::Ext,
            (Phase::DataCr, b'\r') => Phase::DataLf,
            (Phase::DataCr | Phase::DataLf, b'\n') => Phase::Size,
            (Phase::TrailerStart, b'\r') => Phase::TrailerEndLf,
            (Phase::TrailerStart | Phase::TrailerEndLf, b'\n') => Phase::Done,
            (Phase::TrailerLine, b'\n') => Phase::TrailerStart,
            (Phase::TrailerStart | Phase::TrailerLine, _) => Phase::TrailerLine,
            _ => return Err(Error::BadChunk),
        };
    }
    Ok(())
}

/// `buf.copy_within(src, dst)` for a move towards the front (`dst <= src.start`), as
/// non-overlapping `memcpy`s of at most `src.start - dst` bytes each.
///
/// `copy_within` is a `memmove`, and it was the only one in a firmware image: on
/// `thumbv7em-none-eabihf` that links compiler-builtins' 1.6 KB `memmove` next to the
/// `memcpy` every image has. A byte loop would be turned back into `memmove` by LLVM. The
/// callers' moves are all downwards; a range out of bounds or upwards copies nothing (the
/// callers check their bounds first).
pub(crate) fn copy_down(buf: &mut [u8], src: Range<usize>, dst: usize) {
    let Range {
        start: mut from,
        end,
    } = src;
    let gap = from.saturating_sub(dst);
    if gap == 0 || end > buf.len() {
        return;
    }
    let mut to = dst;
    while from < end {
        let n = gap.min(end - from);
        let Some((low, high)) = buf.split_at_mut_checked(from) else {
            return;
        };
        match (low.get_mut(to..to + n), high.get(..n)) {
            (Some(d), Some(s)) => d.copy_from_slice(s),
            _ => return,
        }
        from += n;
        to += n;
    }
}

#[cfg(test)]
mod tests {
    use super::copy_down;

    /// `copy_down` is `copy_within` for every downward move of a 24-byte buffer.
    #[test]
    fn copy_down_is_copy_within_downwards() {
        let mut fresh = [0u8; 24];
        for (i, b) in fresh.iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        for len in 0..=fresh.len() {
            for start in 0..=len {
                for end in start..=len {
                    for dst in 0..=start {
                        let (mut want, mut got) = (fresh, fresh);
                        want[..len].copy_within(start..end, dst);
                        copy_down(&mut got[..len], start..end, dst);
                        assert_eq!(want, got, "len {len}, {start}..{end} to {dst}");
                    }
                }
            }
        }
    }
}
