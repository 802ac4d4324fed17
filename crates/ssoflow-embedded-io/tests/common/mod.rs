//! Test helpers: a scripted stream (blocking and async) and a tiny executor.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use embedded_io::ErrorKind;
use ssoflow_core::{Method, Request, RequestBuilder};

/// One scripted read result.
#[derive(Clone, Debug)]
pub enum Event {
    Data(Vec<u8>),
    Fail(ErrorKind),
}

/// A stream that answers reads from a script (then `Ok(0)`: closed) and records writes.
#[derive(Debug, Default)]
pub struct Mock {
    pub script: VecDeque<Event>,
    pub written: Vec<u8>,
    pub reads: usize,
    /// Accept at most this many bytes per write call (0 = any).
    pub write_limit: usize,
    /// Writes return `Ok(0)`.
    pub write_zero: bool,
}

impl Mock {
    /// Serve `wire` in pieces cut at `cuts` (sorted offsets).
    pub fn cut(wire: &[u8], cuts: &[usize]) -> Self {
        let mut script = VecDeque::new();
        let mut start = 0;
        for &c in cuts.iter().chain(std::iter::once(&wire.len())) {
            if c > start {
                script.push_back(Event::Data(wire[start..c].to_vec()));
                start = c;
            }
        }
        Mock {
            script,
            ..Mock::default()
        }
    }

    /// Serve `wire` `size` bytes per read.
    pub fn chunks(wire: &[u8], size: usize) -> Self {
        let cuts: Vec<usize> = (size..wire.len()).step_by(size).collect();
        Mock::cut(wire, &cuts)
    }

    fn do_read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.reads += 1;
        match self.script.pop_front() {
            None => Ok(0),
            Some(Event::Fail(kind)) => Err(kind),
            Some(Event::Data(mut data)) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                if n < data.len() {
                    self.script.push_front(Event::Data(data.split_off(n)));
                }
                Ok(n)
            }
        }
    }

    fn do_write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if self.write_zero {
            return Ok(0);
        }
        let n = if self.write_limit == 0 {
            buf.len()
        } else {
            buf.len().min(self.write_limit)
        };
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl embedded_io::ErrorType for Mock {
    type Error = ErrorKind;
}

impl embedded_io::Read for Mock {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.do_read(buf)
    }
}

impl embedded_io::Write for Mock {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.do_write(buf)
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl embedded_io_async::Read for Mock {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.do_read(buf)
    }
}

impl embedded_io_async::Write for Mock {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.do_write(buf)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// Run a future that never waits (the mock is always ready).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the mock stream never waits"),
    }
}

/// A GET with a small body, written into `buf`.
pub fn get(buf: &mut [u8]) -> Request<'_> {
    let mut rb = RequestBuilder::new(buf, Method::Get, "https://api.example:8443", "/v1/me?x=1");
    rb.header("X-Test", "yes");
    rb.finish().unwrap()
}
