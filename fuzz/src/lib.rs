//! Helpers shared by the fuzz targets: the record format that turns fuzz bytes into HTTP
//! answers, a loop that drives any [`Flow`] with them while checking the call-order contract,
//! and the invariant checks (tokens, excerpts, redaction) every target applies.
//!
//! # Record format
//!
//! Flow targets read their input as one or more *records* separated by `\n==>\n`:
//!
//! ```text
//! 200 T30 P
//! Content-Type: application/json
//!
//! {"access_token":"…"}
//! ```
//!
//! The first line is the status (decimal, saturating into `u16`) and optional flags; then header
//! lines up to an empty line; the rest is the body. Flags (any order, anywhere after the status):
//! `T<n>` advance the clock `n` seconds before the answer arrives, `P` poll once more while the
//! request is outstanding (must be `Error::State`), `H` hand the answer in twice (the second
//! must be `Error::State`), `B<n>` first poll with an `n`-byte buffer (must be `Send` or
//! `BufferTooSmall { required }`, and `required` bytes must then be enough), `a`/`b`/`c`
//! which caller of a shared session acts, `X` clear the session.
//!
//! Checks that found a bug which is not fixed yet can be switched off by name with
//! `SSOFLOW_FUZZ_SKIP=name,name` so a campaign can go on past them (see README.md).

use std::fmt::Debug;
use std::sync::OnceLock;

use ssoflow_core::{Error, Flow, Header, Instant, Request, Response, Step};

/// Separator between records.
pub const SEPARATOR: &[u8] = b"\n==>\n";

/// Longest an [`ssoflow_core::Excerpt`] may be, in bytes.
pub const EXCERPT_CAP: usize = 160;

/// Whether the check `name` is on (all are, unless listed in `SSOFLOW_FUZZ_SKIP`).
pub fn enabled(name: &str) -> bool {
    static SKIP: OnceLock<Vec<String>> = OnceLock::new();
    let skip = SKIP.get_or_init(|| {
        std::env::var("SSOFLOW_FUZZ_SKIP")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    !skip.iter().any(|s| s == name || s == "all")
}

/// Per-record switches (see the crate docs).
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// Milliseconds the clock moves before the answer arrives.
    pub advance_ms: u64,
    /// Poll once more while the request is outstanding.
    pub extra_poll: bool,
    /// Hand the answer in twice.
    pub double_handle: bool,
    /// First poll with a buffer this small.
    pub small_buf: Option<usize>,
    /// Which caller of a shared session acts (0..3).
    pub caller: usize,
    /// Clear the session first.
    pub clear: bool,
}

fn parse_flags(s: &[u8]) -> Flags {
    let mut f = Flags::default();
    let mut i = 0;
    let number = |i: &mut usize| -> u64 {
        let mut n: u64 = 0;
        while let Some(d) = s.get(*i).filter(|b| b.is_ascii_digit()) {
            n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
            *i += 1;
        }
        n
    };
    while let Some(&b) = s.get(i) {
        i += 1;
        match b {
            b'T' => f.advance_ms = number(&mut i).saturating_mul(1000),
            b'P' => f.extra_poll = true,
            b'H' => f.double_handle = true,
            b'B' => f.small_buf = Some((number(&mut i) as usize).min(1 << 16)),
            b'a' => f.caller = 0,
            b'b' => f.caller = 1,
            b'c' => f.caller = 2,
            b'X' => f.clear = true,
            _ => {}
        }
    }
    f
}

/// One HTTP answer.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// Status code.
    pub status: u16,
    /// Switches.
    pub flags: Flags,
    /// Header names (lossy UTF-8) and values.
    pub headers: Vec<(String, &'a [u8])>,
    /// Body.
    pub body: &'a [u8],
}

impl<'a> Record<'a> {
    /// Parse one record.
    pub fn parse(data: &'a [u8]) -> Record<'a> {
        let (line, mut rest) = split_line(data);
        let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
        let mut status: u32 = 0;
        for d in line.get(..digits).unwrap_or(&[]) {
            status = status
                .saturating_mul(10)
                .saturating_add(u32::from(d - b'0'));
        }
        let status = u16::try_from(status).unwrap_or(u16::MAX);
        let flags = parse_flags(line.get(digits..).unwrap_or(&[]));
        let mut headers = Vec::new();
        loop {
            if rest.is_empty() {
                break;
            }
            let (h, after) = split_line(rest);
            rest = after;
            let h = h.strip_suffix(b"\r").unwrap_or(h);
            if h.is_empty() {
                break;
            }
            let (name, value) = match h.iter().position(|&b| b == b':') {
                Some(p) => (&h[..p], h[p + 1..].trim_ascii_start()),
                None => (h, &b""[..]),
            };
            headers.push((String::from_utf8_lossy(name).into_owned(), value));
        }
        Record {
            status,
            flags,
            headers,
            body: rest,
        }
    }

    /// The headers as the core's type.
    pub fn header_views(&self) -> Vec<Header<'_>> {
        self.headers
            .iter()
            .map(|(n, v)| Header { name: n, value: v })
            .collect()
    }
}

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(p) => (&data[..p], &data[p + 1..]),
        None => (data, &[]),
    }
}

/// Split fuzz input into records (at most `max`).
pub fn records(data: &[u8], max: usize) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < max {
        match find(rest, SEPARATOR) {
            Some(p) => {
                out.push(Record::parse(&rest[..p]));
                rest = &rest[p + SEPARATOR.len()..];
            }
            None => {
                out.push(Record::parse(rest));
                break;
            }
        }
    }
    out
}

/// Byte-wise equality without `memcmp` (libFuzzer traces every `memcmp`, which is slow).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(true, |ok, (x, y)| ok & (x == y))
}

/// Offsets where `needle` occurs in `hay` (possibly overlapping).
fn occurrences<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let n = needle.len();
    let first = needle.first().copied();
    (0..(hay.len() + 1).saturating_sub(n))
        .filter(move |&i| n > 0 && Some(hay[i]) == first && same(&hay[i..i + n], needle))
}

/// First index of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    occurrences(hay, needle).next()
}

/// Number of (possibly overlapping) occurrences of `needle` in `hay`.
pub fn count(hay: &[u8], needle: &[u8]) -> usize {
    occurrences(hay, needle).count()
}

/// A cheap fingerprint of `data` (FNV-1a), to key caches without comparing bytes.
fn fingerprint(data: &[u8]) -> (usize, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    (data.len(), h)
}

/// A token that goes into an `Authorization` header: not empty, visible ASCII only.
pub fn assert_token(s: &str, what: &str) {
    assert!(!s.is_empty(), "{what}: empty token accepted");
    assert!(
        s.bytes().all(|b| (0x21..0x7f).contains(&b)),
        "{what}: token with bytes outside 0x21..0x7e accepted: {s:?}"
    );
}

/// Whether a member name is one whose string value [`ssoflow_core::Excerpt`] must redact
/// (the rule documented on `Excerpt`).
pub fn is_secret_key(key: &str) -> bool {
    const EXACT: [&str; 10] = [
        "code",
        "device_code",
        "authorization_code",
        "value",
        "assertion",
        "session",
        "jwt",
        "otp",
        "pin",
        "cookie",
    ];
    const PARTS: [&str; 9] = [
        "token",
        "secret",
        "key",
        "password",
        "passcode",
        "passwd",
        "authorization",
        "credential",
        "verifier",
    ];
    let lower = key.to_ascii_lowercase();
    EXACT.contains(&lower.as_str()) || PARTS.iter().any(|p| lower.contains(p))
}

/// A value worth looking for in printed errors: long enough not to occur by chance and made of
/// characters that cannot be produced by JSON punctuation or by the excerpt's own escapes.
pub fn distinctive(s: &str) -> bool {
    s.len() >= 6
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && s.bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
}

/// String values of secret-named members of `body` (when it is JSON) that appear nowhere else
/// in it: none of them may show up in an error's `Display`/`Debug`.
pub fn json_secrets(body: &[u8]) -> Vec<String> {
    thread_local! {
        static CACHE: std::cell::RefCell<((usize, u64), Vec<String>)> = const { std::cell::RefCell::new(((0, 0), Vec::new())) };
    }
    let key = fingerprint(body);
    if let Some(hit) = CACHE.with(|c| {
        let c = c.borrow();
        (c.0 == key).then(|| c.1.clone())
    }) {
        return hit;
    }
    let found = json_secrets_uncached(body);
    CACHE.with(|c| *c.borrow_mut() = (key, found.clone()));
    found
}

fn json_secrets_uncached(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let mut secrets = Vec::new();
    let mut others = Vec::new();
    walk(&v, &mut secrets, &mut others);
    let mut keep: Vec<String> = Vec::new();
    for s in &secrets {
        if keep.contains(s) || !distinctive(s) {
            continue;
        }
        let collected = secrets.iter().filter(|x| *x == s).count();
        let elsewhere = others.iter().any(|o| o.contains(s.as_str()))
            || secrets.iter().any(|o| o != s && o.contains(s.as_str()));
        if !elsewhere && count(body, s.as_bytes()) == collected {
            keep.push(s.clone());
        }
    }
    keep
}

/// Values of secret-named pairs when `body` is `application/x-www-form-urlencoded` (what some
/// token endpoints answer, e.g. `access_token=…&token_type=bearer`), occurring once.
pub fn form_secrets(body: &[u8]) -> Vec<String> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    if !text.contains('=') || text.trim_start().starts_with(['{', '[', '"']) {
        return Vec::new();
    }
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, v)| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && is_secret_key(k)
                && distinctive(v)
                && count(body, v.as_bytes()) == 1
        })
        .map(|(_, v)| v.to_owned())
        .collect()
}

fn walk(v: &serde_json::Value, secrets: &mut Vec<String>, others: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                others.push(k.clone());
                if is_secret_key(k) {
                    // The whole value is redacted, whatever its type.
                    collect_strings(val, secrets);
                } else {
                    walk(val, secrets, others);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, secrets, others)),
        Value::String(s) => others.push(s.clone()),
        Value::Number(n) => others.push(n.to_string()),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Every string (and object name) inside `v`.
fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_strings(i, out)),
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// Values of a token answer's credential members, wherever its JSON starts (after a
/// byte-order mark, an anti-XSSI prefix or other text) or in form encoding, each occurring
/// nowhere else in the body: no error about a 2xx token answer may print one.
pub fn token_values(body: &[u8]) -> Vec<String> {
    let mut found = match body.iter().position(|&b| b == b'{') {
        Some(i) => json_secrets(body.get(i..).unwrap_or_default()),
        None => Vec::new(),
    };
    found.extend(form_secrets(body));
    found
}

/// Checks on any error a flow or parser returns: bounded, printable excerpts; no secret of
/// `body` (see [`json_secrets`]) nor any of `secrets` in `Display` or `Debug`.
pub fn check_error(e: &Error, body: Option<&[u8]>, secrets: &[&str]) {
    let display = e.to_string();
    let debug = format!("{e:?}");
    let _ = (e.kind(), e.status(), e.is_transient());
    let excerpt = match e {
        Error::Provider { message, .. } => Some(message),
        Error::OAuth { description, .. } => Some(description),
        Error::Malformed { excerpt, .. } => Some(excerpt),
        _ => None,
    };
    if let Some(x) = excerpt {
        let s = x.as_str();
        assert!(
            s.len() <= EXCERPT_CAP,
            "excerpt longer than its cap: {}",
            s.len()
        );
        let visible = s.strip_suffix('…').unwrap_or(s);
        assert!(
            visible.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "excerpt with a control or non-ASCII byte: {s:?}"
        );
    }
    if enabled("display_printable") {
        assert!(
            !display.chars().any(|c| c.is_control()),
            "error Display carries a control character (log injection): {display:?}"
        );
    }
    // Secret members of the answer: only an excerpt copies the answer, so look there.
    if let Some(x) = excerpt {
        // `escaped_key_secret`: a member name written with escapes (`"tok\u0065n"`) hides it
        // from the excerpt's redaction although the parsers read it as that name.
        let escapes = body.is_some_and(|b| find(b, b"\\u").is_some());
        let json = if escapes && !enabled("escaped_key_secret") {
            Vec::new()
        } else {
            body.map(json_secrets).unwrap_or_default()
        };
        for s in json {
            assert!(
                !x.as_str().contains(s.as_str()),
                "error excerpt prints the secret {s:?}: {display}"
            );
        }
        if enabled("form_secret") {
            for s in body.map(form_secrets).unwrap_or_default() {
                assert!(
                    !x.as_str().contains(s.as_str()),
                    "error excerpt prints the secret {s:?} of a form-encoded answer: {display}"
                );
            }
        }
    }
    // The caller's own secrets appear nowhere, unless the answer itself carries them (then it
    // is the server that published them, and only a redacted member would hide them).
    let fixed = fixed_text(e);
    for s in secrets.iter().filter(|s| {
        distinctive(s)
            && body.is_none_or(|b| find(b, s.as_bytes()).is_none())
            && !fixed.contains(*s)
    }) {
        assert!(
            !display.contains(s) && !debug.contains(s),
            "error prints the secret {s:?}: {display}"
        );
    }
}

/// The error's fixed text: its `Display` and `Debug` with every part that comes from the
/// answer or the caller blanked. A secret inside it is a coincidence, not a leak: a caller's
/// code `callba` inside the static `what` "callback", or a token answer's value `en_typ`
/// inside "token_type" (both found by the CI smoke run).
pub fn fixed_text(e: &Error) -> String {
    let mut t = e.clone();
    match &mut t {
        Error::Provider { message, code, .. } => {
            *message = Default::default();
            *code = None;
        }
        Error::OAuth {
            error, description, ..
        } => {
            error.clear();
            *description = Default::default();
        }
        Error::Malformed { excerpt, .. } => *excerpt = Default::default(),
        _ => {}
    }
    format!("{t} {t:?}")
}

/// Checks on a request a flow wants sent: header values cannot smuggle another header, the
/// `Authorization` value is visible ASCII, `Debug` redacts it, JSON bodies are valid JSON.
pub fn check_request(r: &Request<'_>) {
    let debug = format!("{r:?}");
    assert!(
        r.url.bytes().all(|b| b > b' ' && b != 0x7f),
        "URL with a space or control byte: {:?}",
        r.url
    );
    let _ = (r.authority(), r.path_and_query());
    for h in r.headers() {
        assert!(
            h.value
                .iter()
                .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)),
            "header {} has a byte a header cannot carry: {:?}",
            h.name,
            String::from_utf8_lossy(h.value)
        );
        if h.name.eq_ignore_ascii_case("authorization") {
            let v = std::str::from_utf8(h.value).unwrap_or("");
            let cred = v.split_once(' ').map_or(v, |(_, c)| c);
            if distinctive(cred) && !r.url.contains(cred) {
                assert!(!debug.contains(cred), "request Debug prints the credential");
            }
        }
    }
    let json = r
        .header("content-type")
        .is_some_and(|v| v.starts_with(b"application/json"));
    if json && !r.body.is_empty() {
        assert!(
            serde_json::from_slice::<serde_json::Value>(r.body).is_ok(),
            "request body is not valid JSON: {:?}",
            String::from_utf8_lossy(r.body)
        );
    }
}

/// How a driven flow ended.
#[derive(Debug)]
pub enum Outcome<T> {
    /// `Step::Done`.
    Done(T),
    /// `poll` or `handle` failed.
    Failed(Error),
    /// The flow wanted another request but the records ran out.
    OutOfRecords,
}

/// Most polls any flow may take before it must be done or failed.
pub const MAX_POLLS: usize = 16;

/// Drive `flow` with `records` on a simulated clock (`clock` in ms, moved by `T` flags),
/// checking the call-order contract after every step. Returns how it ended and how many
/// records it used.
pub fn drive<F: Flow>(
    flow: &mut F,
    records: &[Record<'_>],
    clock: &mut u64,
    secrets: &[&str],
) -> (Outcome<F::Output>, usize)
where
    F::Output: Debug,
{
    let mut used = 0;
    let mut buf = vec![0u8; 16 * 1024];
    let mut transcript: Vec<String> = Vec::new();
    // The output's slot, owned here as a driver owns it: `handle` reads the last answer into it.
    let mut out = None;
    for _ in 0..MAX_POLLS {
        let now = Instant::from_millis(*clock);
        if let Some(n) = records
            .get(used.min(records.len().saturating_sub(1)))
            .and_then(|r| r.flags.small_buf)
        {
            let mut small = vec![0u8; n];
            match flow.poll(now, &mut small) {
                Ok(Step::Send(r)) => {
                    check_request(&r);
                    // It fitted: that request is the one outstanding now.
                    transcript.push(format!("send(small) {}", r.url));
                    match answer(
                        flow,
                        &mut out,
                        records,
                        &mut used,
                        clock,
                        secrets,
                        &mut transcript,
                    ) {
                        Some(Err(e)) => return (Outcome::Failed(e), used),
                        Some(Ok(())) => continue,
                        None => return (Outcome::OutOfRecords, used),
                    }
                }
                Ok(Step::Done) => return (finished(flow, &mut out, *clock), used),
                Err(Error::BufferTooSmall { required }) => {
                    assert!(
                        required > n,
                        "BufferTooSmall {{ required: {required} }} for {n} bytes"
                    );
                    if enabled("exact_retry") {
                        let mut exact = vec![0u8; required];
                        match flow.poll(now, &mut exact) {
                            Ok(Step::Send(r)) => {
                                // The request is outstanding now: answer it.
                                check_request(&r);
                                transcript.push(format!("send(exact) {}", r.url));
                                match answer(
                                    flow,
                                    &mut out,
                                    records,
                                    &mut used,
                                    clock,
                                    secrets,
                                    &mut transcript,
                                ) {
                                    Some(Err(e)) => return (Outcome::Failed(e), used),
                                    Some(Ok(())) => continue,
                                    None => return (Outcome::OutOfRecords, used),
                                }
                            }
                            other => panic!(
                                "poll with the {required} bytes BufferTooSmall asked for: {:?}",
                                other.map(|s| matches!(s, Step::Done))
                            ),
                        }
                    }
                }
                Err(e) => {
                    check_error(&e, None, secrets);
                    return (Outcome::Failed(e), used);
                }
            }
        }
        match flow.poll(now, &mut buf) {
            Ok(Step::Send(r)) => {
                check_request(&r);
                transcript.push(format!("send {}", r.url));
            }
            Ok(Step::Done) => return (finished(flow, &mut out, *clock), used),
            Err(e) => {
                check_error(&e, None, secrets);
                after_error(flow, *clock);
                return (Outcome::Failed(e), used);
            }
        }
        match answer(
            flow,
            &mut out,
            records,
            &mut used,
            clock,
            secrets,
            &mut transcript,
        ) {
            Some(Err(e)) => return (Outcome::Failed(e), used),
            Some(Ok(())) => {}
            None => return (Outcome::OutOfRecords, used),
        }
    }
    // Known: a PAR sign-in refetches its M2M token for ever when the token is already expired
    // when the next poll comes (`expires_in: 0`). Skippable so campaigns can go on past it.
    let m2m_loop = transcript
        .iter()
        .rev()
        .filter(|t| t.starts_with("send"))
        .take(8)
        .all(|t| t.ends_with("/api/oauth/tokens"));
    if m2m_loop && !enabled("par_m2m_refetch_loop") {
        return (Outcome::OutOfRecords, used);
    }
    panic!("flow not finished after {MAX_POLLS} polls: {transcript:?}");
}

/// Hand the next record to the outstanding request. `None` when there is none left.
#[allow(clippy::too_many_arguments)]
fn answer<F: Flow>(
    flow: &mut F,
    out: &mut Option<F::Output>,
    records: &[Record<'_>],
    used: &mut usize,
    clock: &mut u64,
    secrets: &[&str],
    transcript: &mut Vec<String>,
) -> Option<Result<(), Error>>
where
    F::Output: Debug,
{
    // Past the last record the server keeps giving the last answer (a server stuck in a loop):
    // flows must still end.
    let rec = records.get(*used).or(records.last())?;
    *used += 1;
    if rec.flags.extra_poll {
        let mut buf = vec![0u8; 16 * 1024];
        let r = flow.poll(Instant::from_millis(*clock), &mut buf);
        assert!(
            matches!(r, Err(Error::State)),
            "poll with a request outstanding must be Error::State, got {:?}",
            r.map(|s| matches!(s, Step::Done))
        );
        transcript.push("extra poll: state".into());
    }
    *clock = clock.saturating_add(rec.flags.advance_ms);
    let now = Instant::from_millis(*clock);
    let headers = rec.header_views();
    let response = Response::new(rec.status, rec.body).with_headers(&headers);
    let _ = format!("{response:?}");
    transcript.push(format!("handle {}", rec.status));
    match flow.handle(now, response, out) {
        Ok(()) => {
            if rec.flags.double_handle {
                let had = out.is_some();
                let again = flow.handle(now, response, out);
                assert!(
                    matches!(again, Err(Error::State)),
                    "a second handle must be Error::State, got {again:?}"
                );
                assert_eq!(
                    out.is_some(),
                    had,
                    "a refused handle changed the output slot"
                );
                transcript.push("second handle: state".into());
                // `misuse_keeps_state`: the refused call changed nothing, the flow goes on.
                if enabled("misuse_keeps_state") {
                    let mut buf = vec![0u8; 16 * 1024];
                    let next = flow.poll(now, &mut buf);
                    assert!(
                        !matches!(next, Err(Error::State)),
                        "a refused second handle broke the flow: {transcript:?}"
                    );
                    if let Ok(Step::Send(_)) = next {
                        // That request is outstanding now; the caller's next poll would be
                        // refused, so answer it with the same record.
                        let response = Response::new(rec.status, rec.body).with_headers(&headers);
                        if let Err(e) = flow.handle(now, response, out) {
                            assert!(out.is_none(), "a failed handle left an output");
                            check_error(&e, Some(rec.body), secrets);
                            after_error(flow, *clock);
                            return Some(Err(e));
                        }
                    } else if let Ok(Step::Done) = next {
                        // The flow said it is over; the drive ends on the next poll's refusal.
                        return Some(Err(Error::State));
                    }
                }
            }
            Some(Ok(()))
        }
        Err(Error::State) if rec.flags.extra_poll && enabled("misuse_keeps_state") => {
            panic!("a refused poll (request outstanding) broke the flow: {transcript:?}")
        }
        Err(e) => {
            assert!(out.is_none(), "a failed handle left an output");
            check_error(&e, Some(rec.body), secrets);
            after_error(flow, *clock);
            Some(Err(e))
        }
    }
}

/// After an error the flow is over: `poll` must not ask to send again.
fn after_error<F: Flow>(flow: &mut F, clock: u64) {
    let mut buf = vec![0u8; 16 * 1024];
    let r = flow.poll(Instant::from_millis(clock), &mut buf);
    assert!(
        !matches!(r, Ok(Step::Send(_))),
        "Step::Send after the flow failed"
    );
}

/// After `Done`: the output is in its slot, `poll` and `handle` are `Error::State`.
fn finished<F: Flow>(flow: &mut F, out: &mut Option<F::Output>, clock: u64) -> Outcome<F::Output>
where
    F::Output: Debug,
{
    let out = out.take().expect("Step::Done with an empty output slot");
    let _ = format!("{out:?}");
    let now = Instant::from_millis(clock);
    let mut buf = vec![0u8; 16 * 1024];
    let again = flow.poll(now, &mut buf);
    assert!(
        matches!(again, Err(Error::State)),
        "poll after Done must be Error::State, got {:?}",
        again.map(|s| matches!(s, Step::Done))
    );
    let h = flow.handle(now, Response::new(200, b"{}"), &mut None);
    assert!(
        matches!(h, Err(Error::State)),
        "handle after Done must be Error::State"
    );
    Outcome::Done(out)
}

/// Lossy UTF-8 of fuzz bytes (parsers that take `&str`).
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Split `data` at the first `sep` byte: (before, after). No `sep`: (data, empty).
pub fn split_at_byte(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(p) => (&data[..p], &data[p + 1..]),
        None => (data, &[]),
    }
}

/// The flows' fixed configurations.
pub mod configs {
    use ssoflow_core::{oauth2, par_ordering, pos_api, punchh, stream};

    /// Client secret used everywhere (checked for in printed errors).
    pub const CLIENT_SECRET: &str = "client-SECRET-0123";

    /// A confidential OAuth 2.0 client.
    pub fn oauth2_client() -> oauth2::Client {
        oauth2::Client::new("https://auth.example/token", "fuzz-client")
            .and_then(|c| c.with_secret(CLIENT_SECRET))
            .expect("oauth2 client")
    }

    /// PAR Ordering.
    pub fn par() -> par_ordering::ParConfig {
        par_ordering::ParConfig::new(
            "https://par.example",
            "f3a90488ffee32c3acb6fcd0ca417cf6",
            "par-client",
            CLIENT_SECRET,
        )
        .expect("par config")
    }

    /// Punchh.
    pub fn punchh() -> punchh::PunchhConfig {
        punchh::PunchhConfig::new("https://punchh.example", "punchh-client", CLIENT_SECRET)
            .expect("punchh config")
    }

    /// Stream.
    pub fn stream() -> stream::StreamConfig {
        stream::StreamConfig::new(
            "https://stream.example",
            "https://brand.example",
            "stream-client",
            CLIENT_SECRET,
        )
        .expect("stream config")
    }

    /// POS API.
    pub fn pos() -> pos_api::PosConfig {
        pos_api::PosConfig::new("https://pos.example", "pos-client", CLIENT_SECRET)
            .expect("pos config")
    }
}

/// Helpers for the embedded-io driver's targets.
pub mod embedded {
    use ssoflow_embedded_io::{Error, Parsed, Progress, ResponseParser};

    /// A stream that reads `input` in pieces of at most `piece` bytes and records what is written.
    #[derive(Debug)]
    pub struct Mock<'a> {
        /// Bytes the peer sends.
        pub input: &'a [u8],
        /// How far the peer has sent.
        pub pos: usize,
        /// Largest read.
        pub piece: usize,
        /// Everything written.
        pub written: Vec<u8>,
        /// Largest write accepted at once.
        pub write_piece: usize,
    }

    impl<'a> Mock<'a> {
        /// A peer sending `input`.
        pub fn new(input: &'a [u8], piece: usize) -> Self {
            Mock {
                input,
                pos: 0,
                piece: piece.max(1),
                written: Vec::new(),
                write_piece: piece.max(1) * 3,
            }
        }
    }

    impl embedded_io::ErrorType for Mock<'_> {
        type Error = embedded_io::ErrorKind;
    }

    impl embedded_io::Read for Mock<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let rest = &self.input[self.pos..];
            let n = rest.len().min(buf.len()).min(self.piece);
            buf[..n].copy_from_slice(&rest[..n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl embedded_io::Write for Mock<'_> {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            let n = buf.len().min(self.write_piece);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    /// How a parse over a whole wire ended: the result and the bytes fed before it.
    #[derive(Debug)]
    pub struct Fed {
        /// The parser's last answer.
        pub result: Result<Parsed, Error>,
        /// Wire bytes handed to the parser.
        pub fed: usize,
    }

    /// Feed `wire` to a fresh parser in pieces of `piece` bytes (then close), in `buf`.
    pub fn parse_all(buf: &mut [u8], wire: &[u8], piece: usize) -> Fed {
        let mut parser = ResponseParser::new();
        let mut fed = 0;
        loop {
            let progress = if fed >= wire.len() {
                let r = parser.close(buf);
                assert!(
                    !matches!(r, Ok(Progress::Partial)),
                    "close() answered Partial"
                );
                r
            } else {
                let spare = match parser.spare(buf) {
                    Ok(s) => s,
                    Err(e) => {
                        assert!(
                            matches!(e, Error::HeadTooLarge | Error::BodyTooLarge),
                            "spare failed with {e:?}"
                        );
                        return Fed {
                            result: Err(e),
                            fed,
                        };
                    }
                };
                let n = piece.max(1).min(spare.len()).min(wire.len() - fed);
                spare[..n].copy_from_slice(&wire[fed..fed + n]);
                fed += n;
                parser.feed(buf, n)
            };
            match progress {
                Ok(Progress::Partial) => {}
                Ok(Progress::Complete(p)) => {
                    // Done: no more input is taken.
                    assert!(parser.spare(buf).is_err(), "spare after Complete");
                    assert!(parser.feed(buf, 0).is_err(), "feed after Complete");
                    check_parsed(&p, buf.len(), fed);
                    return Fed { result: Ok(p), fed };
                }
                Err(e) => {
                    assert!(parser.feed(buf, 0).is_err(), "feed after an error");
                    return Fed {
                        result: Err(e),
                        fed,
                    };
                }
            }
        }
    }

    /// Ranges of a complete response are inside the buffer and in order.
    pub fn check_parsed(p: &Parsed, cap: usize, fed: usize) {
        let (head, body, left) = (p.head(), p.body(), p.leftover());
        assert!(
            (200..1000).contains(&p.status()) || p.status() < 100,
            "status {}",
            p.status()
        );
        assert!(head.start == 0 && head.end <= cap, "head {head:?}");
        assert!(
            body.start == head.end && body.start <= body.end && body.end <= cap,
            "body {body:?} head {head:?}"
        );
        assert!(
            left.start >= body.end && left.start <= left.end && left.end <= cap,
            "leftover {left:?} body {body:?}"
        );
        assert!(left.len() <= fed, "more leftover than was fed");
    }
}
