//! The core on a Cortex-M4 (QEMU `mps2-an386`): every public flow of `ssoflow-core` through
//! `ssoflow_embedded_io::Driver` over an in-memory stream that answers recorded HTTP responses.
//!
//! For each flow (one function each, in `flows.rs`) the image
//! - paints the stack below the caller's frame with a pattern, calls the flow, and finds the deepest
//!   word that no longer holds the pattern: the flow's stack high-water mark. The flow keeps its
//!   state, its configuration and the driver's buffer (`DEFAULT_BUF`) on the stack, so the
//!   figure is state + buffers + call depth (plus the small in-memory stream's handle);
//! - compares the transcript (the request line and `Host` of every request the driver wrote,
//!   then the outputs' key values) with the flow's golden list.
//!
//! Output, one line each, through semihosting: `flow <name> ok` or `flow <name> FAILED …`, then
//! `stack <name> <bytes>`; at the end `result ok` and exit status 0, or `result FAILED <n>` and
//! a failing exit status. A panic prints itself and exits failing too.
#![no_std]
#![no_main]
// `unsafe` only in `stack_word` (the stack painting's memory access below the stack pointer).
#![deny(unsafe_code)]
// The driver's error carries a redacted excerpt inline (no alloc), as in the core.
#![allow(clippy::result_large_err)]

mod flows;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_io::{ErrorKind, ErrorType, Read, Write};

/// One recorded answer: status, reason phrase and JSON body (sent with `Content-Length`).
pub struct Answer {
    pub status: u16,
    pub reason: &'static str,
    pub body: &'static [u8],
}

impl Answer {
    /// `200 OK` with `body`.
    pub const fn ok(body: &'static [u8]) -> Self {
        Answer {
            status: 200,
            reason: "OK",
            body,
        }
    }
}

/// Most bytes one `read` hands out: small, so the driver's parser resumes mid-head and mid-body.
const READ_CHUNK: usize = 61;
/// Room for the `Host` line and the request line of one request.
const LINE_CAP: usize = 200;
/// Room for every transcript line of one flow (printed when it fails).
const LOG_CAP: usize = 2048;

/// The in-memory stream: records what the driver writes, answers with the recorded answers in
/// order, and checks the transcript against the golden list. It lives in `main`'s frame, above
/// the painted stack, so only the flows' own frames are measured.
pub struct Wire {
    answers: &'static [Answer],
    golden: &'static [&'static str],
    next_answer: usize,
    next_line: usize,
    /// The first two lines of the request being written (request line, `Host`).
    line: heapless::Vec<u8, LINE_CAP>,
    line_breaks: u8,
    writing: bool,
    head: heapless::Vec<u8, 128>,
    head_pos: usize,
    body: &'static [u8],
    body_pos: usize,
    /// Index of the first line that differed from the golden list.
    mismatch: Option<usize>,
    /// Every transcript line as it happened.
    log: heapless::String<LOG_CAP>,
}

impl Wire {
    const fn new() -> Self {
        Wire {
            answers: &[],
            golden: &[],
            next_answer: 0,
            next_line: 0,
            line: heapless::Vec::new(),
            line_breaks: 0,
            writing: false,
            head: heapless::Vec::new(),
            head_pos: 0,
            body: &[],
            body_pos: 0,
            mismatch: None,
            log: heapless::String::new(),
        }
    }

    /// Start a flow: these answers, this golden transcript.
    fn load(&mut self, answers: &'static [Answer], golden: &'static [&'static str]) {
        *self = Wire::new();
        self.answers = answers;
        self.golden = golden;
    }

    /// One transcript line, the concatenation of `parts`, checked against the next golden line.
    pub fn line(&mut self, parts: &[&[u8]]) {
        let expected = self.golden.get(self.next_line).map(|s| s.as_bytes());
        let mut rest = expected.unwrap_or(&[]);
        let mut same = expected.is_some();
        for part in parts {
            let _ = self
                .log
                .push_str(core::str::from_utf8(part).unwrap_or("<not utf-8>"));
            match rest.strip_prefix(*part) {
                Some(r) => rest = r,
                None => same = false,
            }
        }
        let _ = self.log.push('\n');
        if (!same || !rest.is_empty()) && self.mismatch.is_none() {
            self.mismatch = Some(self.next_line);
        }
        self.next_line += 1;
    }

    /// `key value` as a transcript line.
    pub fn value(&mut self, key: &str, value: &str) {
        self.line(&[key.as_bytes(), b" ", value.as_bytes()]);
    }

    /// `key n` as a transcript line.
    pub fn number(&mut self, key: &str, n: u64) {
        let mut digits = [0u8; 20];
        let d = decimal(n, &mut digits);
        self.line(&[key.as_bytes(), b" ", d]);
    }

    /// `key value`, or `key -` for none.
    pub fn optional(&mut self, key: &str, value: Option<&str>) {
        self.value(key, value.unwrap_or("-"));
    }

    /// The flow ended: every golden line must have been seen, and every answer used.
    fn verdict(&mut self) -> Result<(), &'static str> {
        if let Some(i) = self.mismatch {
            return Err(if i < self.golden.len() {
                "transcript differs"
            } else {
                "more transcript lines than golden ones"
            });
        }
        if self.next_line < self.golden.len() {
            return Err("fewer transcript lines than golden ones");
        }
        if self.next_answer < self.answers.len() {
            return Err("recorded answers left unused");
        }
        Ok(())
    }

    /// The request is complete (the driver reads): log its first two lines, serve the next answer.
    fn end_request(&mut self) {
        self.writing = false;
        let line = core::mem::take(&mut self.line);
        let mut lines = line
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let request = lines.next().unwrap_or(&[]);
        let host = lines.next().unwrap_or(&[]);
        self.line(&[b"> ", request, b" | ", host]);
        self.line_breaks = 0;
        self.head.clear();
        self.head_pos = 0;
        self.body = &[];
        self.body_pos = 0;
        let Some(a) = self.answers.get(self.next_answer) else {
            return; // no answer left: the stream reads as closed
        };
        self.next_answer += 1;
        let mut status = [0u8; 20];
        let mut len = [0u8; 20];
        for part in [
            b"HTTP/1.1 ".as_slice(),
            decimal(a.status.into(), &mut status),
            b" ",
            a.reason.as_bytes(),
            b"\r\nContent-Type: application/json\r\nContent-Length: ",
            decimal(a.body.len() as u64, &mut len),
            b"\r\n\r\n",
        ] {
            let _ = self.head.extend_from_slice(part);
        }
        self.body = a.body;
    }
}

/// `n` in decimal, in `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
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

impl ErrorType for Wire {
    type Error = ErrorKind;
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.writing = true;
        for &b in buf {
            if self.line_breaks >= 2 {
                break;
            }
            let _ = self.line.push(b);
            if b == b'\n' {
                self.line_breaks += 1;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.writing {
            self.end_request();
        }
        let (src, pos) = if self.head_pos < self.head.len() {
            (self.head.as_slice(), &mut self.head_pos)
        } else {
            (self.body, &mut self.body_pos)
        };
        let rest = src.get(*pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len()).min(READ_CHUNK);
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        *pos += n;
        Ok(n)
    }
}

/// A flow of the image: runs against the answers it loaded, writes its outputs to the wire.
pub type FlowFn = fn(&mut Wire) -> Result<(), ssoflow_embedded_io::Error>;

/// What each word of the painted stack holds until something writes it.
const PAINT: u32 = 0x5AFE_C0DE;
/// Bytes painted below the stack pointer: the most a flow may use (four times the 12 KiB state +
/// buffer budget).
const PAINT_SPAN: usize = 48 * 1024;
/// Bytes right below the stack pointer left unpainted: the painting loop's own frame.
const PAINT_GUARD: usize = 256;

/// Read (`write: None`) or write one word of the stack region below the current stack pointer.
///
/// The one `unsafe` of the image. Stack painting has to touch memory that no Rust object owns:
/// the words below `measure`'s frame that the next flow's frames will occupy. `addr` is always
/// a word-aligned address inside `[top - PAINT_SPAN, top - PAINT_GUARD)`, where `top` is the
/// stack pointer in `measure`: RAM (SSRAM2/3, 4 MiB, see `memory.x`) above `.bss` and below
/// every live frame (the painting loop's own fits in the guard), and no flow is running while it
/// is accessed. Volatile, so neither the
/// painting nor the scan is optimised away or reordered around the flow call.
#[allow(unsafe_code)]
#[inline(never)]
fn stack_word(addr: usize, write: Option<u32>) -> u32 {
    let p = addr as *mut u32;
    match write {
        // SAFETY: see above: aligned, in RAM, below every live frame, not aliased by a reference.
        Some(v) => unsafe {
            p.write_volatile(v);
            v
        },
        // SAFETY: as above.
        None => unsafe { p.read_volatile() },
    }
}

/// The lowest address painted below `top`.
fn paint_bottom(top: usize) -> usize {
    (top - PAINT_SPAN) & !3
}

/// Paint the stack below `top` (except the guard right under it).
fn paint(top: usize) {
    let mut a = paint_bottom(top);
    while a < top - PAINT_GUARD {
        stack_word(a, Some(PAINT));
        a += 4;
    }
}

/// Bytes below `top` the last flow used: from the lowest word that lost its paint. `None` when
/// even the lowest painted word was overwritten (the flow may have used more than the span).
fn high_water(top: usize) -> Option<usize> {
    let bottom = paint_bottom(top);
    if stack_word(bottom, None) != PAINT {
        return None;
    }
    let mut a = bottom;
    while a < top - PAINT_GUARD && stack_word(a, None) == PAINT {
        a += 4;
    }
    Some(top - a)
}

/// Bytes of the calibration frame: the measurement must see at least these, and not much more.
const CALIBRATION: usize = 4096;

/// Writes a `CALIBRATION`-byte array on the stack: the self-test of the painting and the scan.
#[inline(never)]
fn calibration(_: &mut Wire) -> Result<(), ssoflow_embedded_io::Error> {
    let mut a = [0u8; CALIBRATION];
    for (i, b) in a.iter_mut().enumerate() {
        *b = i as u8;
    }
    core::hint::black_box(&mut a);
    Ok(())
}

/// Paint, run `run`, scan: the bytes below this function's stack pointer `run` used, if
/// measurable. `run`'s frame starts right there: everything it uses is counted.
#[inline(never)]
fn measure(
    wire: &mut Wire,
    run: FlowFn,
) -> (Result<(), ssoflow_embedded_io::Error>, Option<usize>) {
    let top = cortex_m::register::msp::read() as usize;
    paint(top);
    let ran = run(wire);
    (ran, high_water(top))
}

#[entry]
fn main() -> ! {
    // `main`'s frame (and the wire in it) is above everything `measure` paints.
    let mut wire = Wire::new();
    let mut failed = 0u32;
    hprintln!(
        "ssoflow-qemu-check: {} flows, driver buffer {} B",
        flows::FLOWS.len(),
        ssoflow_embedded_io::DEFAULT_BUF
    );
    // The measurement's self-test: a frame of known size reads as that size (plus the call's
    // few words of saved registers).
    let (_, used) = measure(&mut wire, calibration);
    let calibrated = used.is_some_and(|b| (CALIBRATION..CALIBRATION + 256).contains(&b));
    hprintln!("calibration {} {}", CALIBRATION, used.unwrap_or(0));
    if !calibrated {
        failed += 1;
        hprintln!(
            "calibration FAILED: the stack painting does not measure a {} B frame",
            CALIBRATION
        );
    }
    for flow in flows::FLOWS {
        wire.load(flow.answers, flow.golden);
        let (ran, used) = measure(&mut wire, flow.run);
        let verdict = match ran {
            Ok(()) => wire.verdict(),
            Err(_) => Err("driver error"),
        };
        match (&verdict, ran) {
            (Ok(()), _) => hprintln!("flow {} ok", flow.name),
            (Err(why), Err(e)) => hprintln!("flow {} FAILED: {}: {}", flow.name, why, e),
            (Err(why), Ok(())) => hprintln!("flow {} FAILED: {}", flow.name, why),
        }
        if verdict.is_err() {
            failed += 1;
            if let Some(i) = wire.mismatch {
                hprintln!(
                    "  line {}: expected {:?}",
                    i,
                    flow.golden.get(i).copied().unwrap_or("<none>")
                );
            }
            hprintln!("  transcript:\n{}", wire.log.as_str());
        }
        match used {
            Some(b) => hprintln!("stack {} {}", flow.name, b),
            None => {
                failed += 1;
                hprintln!(
                    "stack {} >{} FAILED: used more than the painted span",
                    flow.name,
                    PAINT_SPAN
                );
            }
        }
    }
    if failed == 0 {
        hprintln!("result ok");
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        hprintln!("result FAILED {}", failed);
        debug::exit(debug::EXIT_FAILURE);
    }
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    hprintln!("result FAILED panic");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
