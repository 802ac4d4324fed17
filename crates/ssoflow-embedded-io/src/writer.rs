//! The HTTP/1.1 request writer: a core [`Request`] as bytes on the wire, in pieces of any size.
//!
//! ```text
//! METHOD path_and_query HTTP/1.1\r\n
//! Host: authority\r\n
//! <the request's headers>\r\n
//! Content-Length: <body length>\r\n      (always, 0 included: Punchh's GET carries a body)
//! Connection: keep-alive\r\n
//! \r\n
//! <body>
//! ```

use ssoflow_core::Request;

use crate::Error;
use crate::head::is_tchar;

/// Headers the writer adds itself; a request that already has one is refused.
const OWN_HEADERS: [&str; 4] = ["host", "content-length", "connection", "transfer-encoding"];

/// Writes one request into output buffers of any size, resuming where the last one ended.
///
/// ```
/// use ssoflow_core::{Method, RequestBuilder};
/// use ssoflow_embedded_io::RequestWriter;
///
/// let mut buf = [0u8; 256];
/// let request = RequestBuilder::new(&mut buf, Method::Get, "https://api.example", "/me")
///     .finish()
///     .unwrap();
/// let mut writer = RequestWriter::new(&request).unwrap();
/// let mut out = [0u8; 256];
/// let n = writer.fill(&mut out);
/// assert!(out[..n].starts_with(b"GET /me HTTP/1.1\r\nHost: api.example\r\n"));
/// assert_eq!(writer.fill(&mut out), 0);
/// ```
#[derive(Debug)]
pub struct RequestWriter<'r, 'b> {
    request: &'r Request<'b>,
    offset: usize,
}

impl<'r, 'b> RequestWriter<'r, 'b> {
    /// Check `request` and prepare to write it.
    ///
    /// Refused ([`Error::InvalidRequest`]): an empty authority, a path with spaces or control
    /// bytes, a header name that is not an HTTP token, a header value with CR, LF or NUL, and
    /// a header the writer adds itself (`Host`, `Content-Length`, `Connection`,
    /// `Transfer-Encoding`).
    pub fn new(request: &'r Request<'b>) -> Result<Self, Error> {
        let authority = request.authority();
        if authority.is_empty() || !authority.bytes().all(is_visible) {
            return Err(Error::InvalidRequest { what: "authority" });
        }
        // The request target must be origin-form (`/…`): a base URL with `?query` or
        // `#fragment` would otherwise give `GET ?x=1/p`.
        if !request.path_and_query().starts_with('/')
            || request.path_and_query().bytes().any(|b| b == b'#')
        {
            return Err(Error::InvalidRequest {
                what: "request target (base URL with ?query or #fragment)",
            });
        }
        if !request.path_and_query().bytes().all(is_visible) {
            return Err(Error::InvalidRequest { what: "path" });
        }
        for h in request.headers() {
            if h.name.is_empty() || !h.name.bytes().all(is_tchar) {
                return Err(Error::InvalidRequest {
                    what: "header name",
                });
            }
            if OWN_HEADERS.iter().any(|o| h.name.eq_ignore_ascii_case(o)) {
                return Err(Error::InvalidRequest {
                    what: "header written by the driver",
                });
            }
            // RFC 9110 §5.5: field values are visible characters, spaces and tabs only.
            if h.value
                .iter()
                .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
            {
                return Err(Error::InvalidRequest {
                    what: "header value with a control character",
                });
            }
        }
        Ok(RequestWriter { request, offset: 0 })
    }

    /// Total bytes on the wire.
    pub fn len(&self) -> usize {
        let mut sink = Sink::Count(0);
        pieces(self.request, &mut sink);
        match sink {
            Sink::Count(n) => n,
            Sink::Fill { .. } => 0,
        }
    }

    /// Whether everything has been written.
    pub fn is_empty(&self) -> bool {
        self.offset >= self.len()
    }

    /// Write the next bytes into `out`; returns how many (0 when the request is all written).
    pub fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut sink = Sink::Fill {
            out,
            skip: self.offset,
            written: 0,
        };
        pieces(self.request, &mut sink);
        let written = match sink {
            Sink::Fill { written, .. } => written,
            Sink::Count(_) => 0,
        };
        self.offset += written;
        written
    }
}

fn is_visible(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
}

enum Sink<'o> {
    Count(usize),
    Fill {
        out: &'o mut [u8],
        skip: usize,
        written: usize,
    },
}

impl Sink<'_> {
    fn put(&mut self, piece: &[u8]) {
        match self {
            Sink::Count(n) => *n += piece.len(),
            Sink::Fill { out, skip, written } => {
                if *skip >= piece.len() {
                    *skip -= piece.len();
                    return;
                }
                let rest = piece.get(*skip..).unwrap_or(&[]);
                *skip = 0;
                let room = out.get_mut(*written..).unwrap_or(&mut []);
                let n = rest.len().min(room.len());
                if let (Some(dst), Some(src)) = (room.get_mut(..n), rest.get(..n)) {
                    dst.copy_from_slice(src);
                    *written += n;
                }
                // Once `out` is full every later piece copies nothing: the output stays contiguous.
            }
        }
    }
}

/// Decimal digits of `n`, in `buf`.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(&[])
}

fn pieces(request: &Request<'_>, sink: &mut Sink<'_>) {
    sink.put(request.method.as_str().as_bytes());
    sink.put(b" ");
    sink.put(request.path_and_query().as_bytes());
    sink.put(b" HTTP/1.1\r\nHost: ");
    sink.put(request.authority().as_bytes());
    sink.put(b"\r\n");
    for h in request.headers() {
        sink.put(h.name.as_bytes());
        sink.put(b": ");
        sink.put(h.value);
        sink.put(b"\r\n");
    }
    sink.put(b"Content-Length: ");
    let mut digits = [0u8; 20];
    sink.put(decimal(request.body.len(), &mut digits));
    sink.put(b"\r\nConnection: keep-alive\r\n\r\n");
    sink.put(request.body);
}
