//! The response head parser: status line and header lines.
//!
//! It reads a head exactly as `httparse` 1.10 reads a response with the driver's two
//! leniencies (`allow_multiple_spaces_in_response_status_delimiters`,
//! `allow_spaces_after_header_name_in_responses`): the same bytes are accepted, a bad byte is
//! the same error, and a head cut short asks for more bytes at the same point. The tests
//! compare the two on generated, cut and mutated heads.
//!
//! Written out here for firmware flash: `httparse` (which also reads requests and is built for
//! throughput, with two 256-byte tables) took about 2.3 KB of the firmware check; this is
//! about a third of that.
//!
//! ```text
//! head        = *( [CR] LF ) "HTTP/1." ("0" / "1") SP *SP 3DIGIT
//!               ( SP *SP reason / "" ) [CR] LF *( header [CR] LF ) [CR] LF
//! reason      = *( HTAB / SP / VCHAR / obs-text )
//! header      = token *( SP / HTAB ) ":" *( SP / HTAB ) value
//! value       = *( HTAB / SP / VCHAR / obs-text )       (trailing SP / HTAB dropped)
//! ```

use ssoflow_core::Header;

use crate::Error;
use crate::parser::MAX_RESPONSE_HEADERS;

/// The headers of a head, in order.
pub(crate) type Headers<'a> = heapless::Vec<Header<'a>, MAX_RESPONSE_HEADERS>;

/// A complete head (its headers are in the vector given to [`parse`]).
pub(crate) struct Head {
    /// Bytes from the start of the buffer to the end of the blank line.
    pub(crate) len: usize,
    /// The status code.
    pub(crate) status: u16,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub(crate) minor: u8,
}

/// Why reading stopped. Small on purpose: a head is read again after every read of the
/// stream, and the driver's [`Error`] is some 240 bytes to move.
pub(crate) enum Stop {
    /// The bytes so far are a valid start: more are needed.
    Partial,
    /// A byte that cannot be there (the `what` of [`Error::Parse`]).
    Bad(&'static str),
    /// More header lines than [`MAX_RESPONSE_HEADERS`].
    TooManyHeaders,
}

/// `httparse::Error::HeaderName`'s reading.
const HEADER_NAME: Stop = Stop::Bad("header name");
/// `httparse::Error::HeaderValue`'s reading.
const HEADER_VALUE: Stop = Stop::Bad("header value");
/// `httparse::Error::NewLine`'s reading.
const NEW_LINE: Stop = Stop::Bad("line ending");
/// `httparse::Error::Status`'s reading.
const STATUS: Stop = Stop::Bad("status code");
/// `httparse::Error::Version`'s reading.
const VERSION: Stop = Stop::Bad("HTTP version");

impl Stop {
    /// The driver's error for a head that cannot be read (`Partial` is none: more bytes may
    /// make it one, so the caller decides).
    pub(crate) fn into_error(self) -> Error {
        match self {
            Stop::Bad(what) => Error::Parse { what },
            Stop::TooManyHeaders => Error::TooManyHeaders,
            Stop::Partial => Error::Parse { what: "head" },
        }
    }
}

/// Parse the head at the start of `bytes` into `headers` (empty). `Stop::Partial` while it is
/// incomplete (then `headers` holds the lines read so far).
pub(crate) fn parse<'a>(bytes: &'a [u8], headers: &mut Headers<'a>) -> Result<Head, Stop> {
    parse_each(bytes, &mut |h| {
        headers.push(h).map_err(|_| Stop::TooManyHeaders)
    })
}

/// [`parse`] with each header handed to `header`, in order, instead of kept: a reader that only
/// looks at a few headers needs no table of them (0.5 KiB on a 32-bit target). `header`'s
/// error stops the reading and is returned.
pub(crate) fn parse_each<'a>(
    bytes: &'a [u8],
    header: &mut dyn FnMut(Header<'a>) -> Result<(), Stop>,
) -> Result<Head, Stop> {
    Cursor { bytes, pos: 0 }.head(header)
}

/// RFC 9110 `tchar`: a byte of a header name (or any token). A `match`, not `contains` on a
/// list of the symbols: that is a `memchr` call per byte (and `memchr` in the image).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// A byte of a reason phrase or a header value: HTAB, SP, VCHAR or obs-text.
fn is_text(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The next byte; `Partial` at the end of the bytes so far.
    fn next(&mut self) -> Result<u8, Stop> {
        let b = self.peek().ok_or(Stop::Partial)?;
        self.pos += 1;
        Ok(b)
    }

    /// The next byte must be LF (after a CR), else `bad`.
    fn lf(&mut self, bad: Stop) -> Result<(), Stop> {
        if self.next()? == b'\n' {
            Ok(())
        } else {
            Err(bad)
        }
    }

    /// Move past the bytes `f` accepts; returns where they started.
    fn skip(&mut self, f: fn(u8) -> bool) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(f) {
            self.pos += 1;
        }
        start
    }

    /// End a line at a CR LF or a lone LF, else `bad`.
    fn end_of_line(&mut self, bad: Stop) -> Result<(), Stop> {
        match self.next()? {
            b'\r' => self.lf(bad),
            b'\n' => Ok(()),
            _ => Err(bad),
        }
    }

    fn head(
        &mut self,
        header: &mut dyn FnMut(Header<'a>) -> Result<(), Stop>,
    ) -> Result<Head, Stop> {
        // Empty lines before the status line are skipped.
        loop {
            match self.peek() {
                Some(b'\r') => {
                    self.pos += 1;
                    self.lf(NEW_LINE)?;
                }
                Some(b'\n') => self.pos += 1,
                Some(_) => break,
                None => return Err(Stop::Partial),
            }
        }
        for &want in b"HTTP/1." {
            if self.next()? != want {
                return Err(VERSION);
            }
        }
        let minor = match self.next()? {
            b'0' => 0,
            b'1' => 1,
            _ => return Err(VERSION),
        };
        if self.next()? != b' ' {
            return Err(VERSION);
        }
        self.skip(|b| b == b' ');
        let mut status = 0u16;
        for _ in 0..3 {
            let d = self.next()?;
            if !d.is_ascii_digit() {
                return Err(STATUS);
            }
            status = status * 10 + u16::from(d - b'0');
        }
        match self.next()? {
            b' ' => loop {
                // The reason phrase, after any spaces; not kept.
                match self.next()? {
                    b'\r' => break self.lf(STATUS)?,
                    b'\n' => break,
                    b if is_text(b) => {}
                    _ => return Err(STATUS),
                }
            },
            b'\r' => self.lf(STATUS)?,
            b'\n' => {}
            _ => return Err(STATUS),
        }
        loop {
            let b = self.next()?;
            if b == b'\r' {
                self.lf(NEW_LINE)?;
                break;
            }
            if b == b'\n' {
                break;
            }
            if !is_tchar(b) {
                return Err(HEADER_NAME);
            }
            let start = self.pos - 1;
            self.skip(is_tchar);
            let name = self.bytes.get(start..self.pos).unwrap_or(&[]);
            let mut b = self.next()?;
            while is_blank(b) {
                b = self.next()?;
            }
            if b != b':' {
                return Err(HEADER_NAME);
            }
            let value = loop {
                let b = self.next()?;
                if is_blank(b) {
                    continue;
                }
                if !is_text(b) {
                    self.pos -= 1;
                    self.end_of_line(HEADER_VALUE)?;
                    break &[][..];
                }
                let start = self.skip(is_text) - 1;
                let value = self.bytes.get(start..self.pos).unwrap_or(&[]);
                self.end_of_line(HEADER_VALUE)?;
                break value.trim_ascii_end();
            };
            let name = core::str::from_utf8(name).map_err(|_| HEADER_NAME)?;
            header(Header { name, value })?;
        }
        Ok(Head {
            len: self.pos,
            status,
            minor,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::string::{String, ToString};
    use std::vec::Vec;
    use std::{format, vec};

    /// A reading: `None` for a partial head, else its length, status, minor version and headers.
    type Reading = Result<Option<(usize, u16, u8, Vec<(String, Vec<u8>)>)>, Error>;

    /// What httparse makes of `bytes`, in this module's terms.
    fn reference(bytes: &[u8]) -> Reading {
        let mut raw = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
        let mut response = httparse::Response::new(&mut raw);
        let mut config = httparse::ParserConfig::default();
        config
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .allow_spaces_after_header_name_in_responses(true);
        match config.parse_response(&mut response, bytes) {
            Ok(httparse::Status::Complete(len)) => Ok(Some((
                len,
                response.code.unwrap(),
                response.version.unwrap(),
                response
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_vec()))
                    .collect(),
            ))),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(httparse::Error::TooManyHeaders) => Err(Error::TooManyHeaders),
            Err(e) => Err(Error::Parse {
                what: match e {
                    httparse::Error::HeaderName => "header name",
                    httparse::Error::HeaderValue => "header value",
                    httparse::Error::NewLine => "line ending",
                    httparse::Error::Status => "status code",
                    httparse::Error::Version => "HTTP version",
                    other => panic!("httparse said {other:?} about a response"),
                },
            }),
        }
    }

    /// What [`parse`] makes of `bytes`.
    fn ours(bytes: &[u8]) -> Reading {
        let mut headers = Headers::new();
        match parse(bytes, &mut headers) {
            Ok(h) => {
                let headers = headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_vec()))
                    .collect();
                Ok(Some((h.len, h.status, h.minor, headers)))
            }
            Err(Stop::Partial) => Ok(None),
            Err(stop) => Err(stop.into_error()),
        }
    }

    /// Every prefix of `bytes`, and `bytes` itself, reads the same with both parsers.
    fn same_as_httparse(bytes: &[u8]) {
        for end in 0..=bytes.len() {
            let cut = &bytes[..end];
            assert_eq!(
                ours(cut),
                reference(cut),
                "{:?}",
                String::from_utf8_lossy(cut)
            );
        }
    }

    #[test]
    fn typical_heads() {
        for head in [
            &b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"[..],
            b"HTTP/1.0 404 Not Found\nServer: x\n\n",
            b"\r\n\nHTTP/1.1   204\r\nX:\r\nY :  a b \t\r\n\r\n",
            b"HTTP/1.1 200 \xe2\x9c\x93\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 20x OK\r\n\r\n",
            b"HTTP/1.2 200 OK\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1\t200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\r\n",
            b"\rHTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\x7f\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: y\r\r\n",
        ] {
            same_as_httparse(head);
        }
    }

    #[test]
    fn header_count_limit() {
        for n in [
            MAX_RESPONSE_HEADERS - 1,
            MAX_RESPONSE_HEADERS,
            MAX_RESPONSE_HEADERS + 1,
        ] {
            let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..n {
                head.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
            }
            head.extend_from_slice(b"\r\n");
            same_as_httparse(&head);
        }
    }

    /// Pieces heads are made of, right and wrong.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"HTTP/1.1".to_vec()),
            Just(b"HTTP/1.0".to_vec()),
            Just(b"HTTP/1.".to_vec()),
            Just(b" ".to_vec()),
            Just(b"  ".to_vec()),
            Just(b"\t".to_vec()),
            Just(b"200".to_vec()),
            Just(b"OK".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b":".to_vec()),
            Just(b": ".to_vec()),
            Just(b"Content-Length".to_vec()),
            Just(b"x-y".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ]
    }

    /// A well-formed head, then changed: bytes replaced, inserted or removed.
    fn head() -> impl Strategy<Value = Vec<u8>> {
        let line = (
            "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}",
            "[ \t]{0,2}",
            "[ \t]{0,2}",
            // Mostly visible text, sometimes obs-text or any byte at all.
            proptest::collection::vec(
                prop_oneof![
                    12 => 0x20u8..0x7f,
                    1 => Just(b'\t'),
                    1 => 0x80u8..=0xff,
                    1 => any::<u8>(),
                ],
                0..12,
            ),
        );
        (
            prop_oneof![Just(""), Just("\r\n"), Just("\n")],
            prop_oneof![Just("HTTP/1.1"), Just("HTTP/1.0")],
            " {1,3}",
            "[0-9]{3}",
            prop_oneof![Just(""), Just(" OK"), Just("  Not Found")],
            proptest::collection::vec(line, 0..40),
            prop_oneof![Just("\r\n"), Just("\n")],
        )
            .prop_map(|(lead, version, spaces, code, reason, lines, eol)| {
                let mut h = format!("{lead}{version}{spaces}{code}{reason}{eol}").into_bytes();
                for (name, before, after, value) in lines {
                    h.extend_from_slice(format!("{name}{before}:{after}").as_bytes());
                    h.extend(value.into_iter().filter(|b| *b != b'\r' && *b != b'\n'));
                    h.extend_from_slice(eol.as_bytes());
                }
                h.extend_from_slice(eol.as_bytes());
                h
            })
    }

    proptest! {
        #[test]
        fn generated_heads_read_as_httparse_reads_them(h in head()) {
            same_as_httparse(&h);
        }

        #[test]
        fn mutated_heads_read_as_httparse_reads_them(
            h in head(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..4),
        ) {
            let mut h = h;
            for (at, kind, byte) in edits {
                let i = at.index(h.len() + 1);
                match kind {
                    0 if i < h.len() => h[i] = byte,
                    1 => h.insert(i, byte),
                    _ if i < h.len() => { h.remove(i); }
                    _ => {}
                }
            }
            same_as_httparse(&h);
        }

        #[test]
        fn pieced_heads_read_as_httparse_reads_them(
            pieces in proptest::collection::vec(piece(), 0..24),
        ) {
            same_as_httparse(&pieces.concat());
        }
    }
}
