//! A stream that answers every read with canned HTTP bytes hidden behind `black_box`, so the
//! optimiser must keep every parser and flow path.

use core::hint::black_box;

use embedded_io::{ErrorKind, ErrorType, Read, Write};

/// A token answer, chunked, after a 100 Continue: exercises every parser path.
pub const CANNED: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
4d;x=y\r\n{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":60,\"refresh_token\":\"r\"}\r\n\
0\r\n\r\n";

/// A stream that answers with canned bytes and swallows writes.
pub struct Dummy {
    pub canned: &'static [u8],
    pub pos: usize,
}

impl ErrorType for Dummy {
    type Error = ErrorKind;
}

impl Read for Dummy {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let src = black_box(self.canned);
        let rest = src.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len()).min(black_box(64));
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = if self.pos + n >= src.len() {
            0
        } else {
            self.pos + n
        };
        Ok(n)
    }
}

impl Write for Dummy {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(black_box(buf).len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}
