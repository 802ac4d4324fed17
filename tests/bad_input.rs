//! Bad input, table driven, against every driver: ureq (blocking), tokio (reqwest), and
//! embedded-io, blocking and async.
//!
//! A scripted HTTP server on 127.0.0.1:0 answers each case's raw bytes — malformed, slow,
//! closing early — and the sandbox's fault hooks add dropped, truncated and delayed answers.
//! Every case must end, within a deadline, in a typed error or the documented success: never a
//! panic, a hang, a truncated or a lost token. The outcome of every case on every driver is
//! recorded, printed as a table (`cargo test --test bad_input -- --nocapture`) and compared
//! with the expected table below.
//!
//! Drivers run with a 2 s overall deadline (ureq `Config::timeout`, reqwest's timeout; for
//! embedded-io the stream's read timeout, kept to what is left of the same 2 s).
// The drivers' errors carry the core's ~200-byte error inline, as in the crates themselves.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{fault, with_timeout};
use ssoflow::oauth2::{self, Client};
use ssoflow::par_ordering::{self, RequestIds, SignIn};
use ssoflow::session::{DEFAULT_SKEW_MS, Policy, Session};
use ssoflow::{AccessToken, Error as CoreError, Expiry, Instant, Method, RequestBuilder, TokenSet};
use ssoflow_sandbox::SandboxHandle;

/// The overall deadline every driver is given.
const DEADLINE: Duration = Duration::from_secs(2);
/// A case still running after this is a hang (recorded as `HANG`, which fails the table).
const CASE_LIMIT: Duration = Duration::from_secs(10);
/// The drivers, in table order.
const DRIVERS: [&str; 4] = ["ureq", "tokio", "emb-blocking", "emb-async"];

// ---------------------------------------------------------------------------------------------
// The scripted server.

/// How the scripted server answers one path.
#[derive(Clone, Debug)]
enum Reply {
    /// These bytes; then keep the connection (`close: false`) or close it.
    Bytes { bytes: Vec<u8>, close: bool },
    /// The first `at_once` bytes, then one byte per second (slowloris), then close.
    Drip { bytes: Vec<u8>, at_once: usize },
    /// `head`, then `total` filler bytes in 16 KiB pieces, 1 ms apart (as chunks when
    /// `chunked`), until the client stops reading.
    Flood {
        head: Vec<u8>,
        total: usize,
        chunked: bool,
    },
    /// Read the request, then close without a word.
    Hangup,
}

/// A scripted HTTP/1.1 server: keep-alive, one thread per connection, hits counted per path.
struct Server {
    addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, u64>>>,
}

impl Server {
    fn start(routes: HashMap<String, Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("address");
        let routes = Arc::new(routes);
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (routes, hits) = (routes.clone(), counter.clone());
                std::thread::spawn(move || serve(conn, &routes, &hits));
            }
        });
        Server { addr, hits }
    }

    fn hits(&self, path: &str) -> u64 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn serve(mut conn: TcpStream, routes: &HashMap<String, Reply>, hits: &Mutex<HashMap<String, u64>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(30)));
    let _ = conn.set_nodelay(true);
    let mut pending = Vec::new();
    while let Some(path) = read_request(&mut conn, &mut pending) {
        *hits.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
        let reply = routes.get(&path).cloned().unwrap_or_else(|| Reply::Bytes {
            bytes: response("404 Not Found", &[], b"no such path"),
            close: true,
        });
        match reply {
            Reply::Bytes { bytes, close } => {
                if conn.write_all(&bytes).is_err() {
                    return;
                }
                if close {
                    return close_gently(conn);
                }
            }
            Reply::Drip { bytes, at_once } => {
                let (now, later) = bytes.split_at(at_once.min(bytes.len()));
                if conn.write_all(now).is_err() {
                    return;
                }
                // Pacing, not synchronisation: the client gives up long before this ends.
                for b in later.iter().take(60) {
                    std::thread::sleep(Duration::from_secs(1));
                    if conn.write_all(&[*b]).is_err() {
                        return;
                    }
                }
                return close_gently(conn);
            }
            Reply::Flood {
                head,
                total,
                chunked,
            } => {
                if conn.write_all(&head).is_err() {
                    return;
                }
                let piece = vec![b'a'; 16 * 1024];
                let mut sent = 0;
                while sent < total {
                    let ok = if chunked {
                        conn.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                            .is_ok()
                            && conn.write_all(&piece).is_ok()
                            && conn.write_all(b"\r\n").is_ok()
                    } else {
                        conn.write_all(&piece).is_ok()
                    };
                    if !ok {
                        return;
                    }
                    sent += piece.len();
                    std::thread::sleep(Duration::from_millis(1));
                }
                return close_gently(conn);
            }
            Reply::Hangup => return close_gently(conn),
        }
    }
}

/// Close our side, then read until the client closes too (so no unread byte turns into a RST
/// that could destroy the answer in flight).
fn close_gently(mut conn: TcpStream) {
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut sink = [0u8; 4096];
    while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
}

/// Read one request (head and Content-Length body); its path without the query.
fn read_request(conn: &mut TcpStream, pending: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            let target = head.split(' ').nth(1)?.to_owned();
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let total = end + 4 + length;
            while pending.len() < total {
                fill(conn, pending)?;
            }
            pending.drain(..total);
            return Some(target.split('?').next().unwrap_or("").to_owned());
        }
        fill(conn, pending)?;
    }
}

fn fill(conn: &mut TcpStream, pending: &mut Vec<u8>) -> Option<()> {
    let mut tmp = [0u8; 8192];
    match conn.read(&mut tmp) {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            pending.extend_from_slice(&tmp[..n]);
            Some(())
        }
    }
}

/// `HTTP/1.1 {status}`, the headers, `Content-Length`, the body.
fn response(status: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn keep(bytes: Vec<u8>) -> Reply {
    Reply::Bytes {
        bytes,
        close: false,
    }
}

fn close(bytes: Vec<u8>) -> Reply {
    Reply::Bytes { bytes, close: true }
}

fn json(status: &str, body: &str) -> Reply {
    keep(response(
        status,
        &["Content-Type: application/json"],
        body.as_bytes(),
    ))
}

fn ok_json(body: &str) -> Reply {
    json("200 OK", body)
}

fn ok_bytes(body: &[u8]) -> Reply {
    keep(response(
        "200 OK",
        &["Content-Type: application/json"],
        body,
    ))
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// What a case runs.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// OAuth 2.0 client credentials at `{base}/token`.
    OAuth,
    /// PAR sign-in with a cached M2M token: one request to `{base}/api/sts/users/sign-in`.
    Par,
    /// PAR sign-in without a cached M2M token (`{base}/api/oauth/tokens` first).
    ParFresh,
    /// A protected `GET {base}/api` through the driver's session (refresh-on-401), signing in
    /// with client credentials at `{base}/token`.
    Storm,
    /// Client credentials at the sandbox's `/oauth2/token`, after queueing this fault.
    Sandbox(&'static str),
}

/// What an `ok` must carry (a success with the wrong content is no success).
#[derive(Clone, Copy, Debug)]
enum Check {
    None,
    /// The access token, `expires_in`, and the scope.
    Token(&'static str, Option<u64>, Option<&'static str>),
    /// The menu token, whether its lifetime is known, the first name.
    Par(&'static str, bool, &'static str),
    /// The customer account id, and the menu token's `ttl` as received (minutes).
    ParId(&'static str, Option<u64>),
}

struct Case {
    name: &'static str,
    kind: Kind,
    routes: Vec<(&'static str, Reply)>,
    /// Expected outcome per driver, in [`DRIVERS`] order.
    expect: [&'static str; 4],
    check: Check,
    /// Hits the scripted server must have seen after the case: (path under the case, count).
    hits: &'static [(&'static str, u64)],
}

fn all(kind: &'static str) -> [&'static str; 4] {
    [kind; 4]
}

const TOKEN_OK: &str =
    r#"{"access_token":"tok-ok","token_type":"Bearer","expires_in":3600,"scope":"orders"}"#;
const UUID: &str = "01e6d2c9-976b-4953-91e6-3dade887a4c7";

fn par_ok(account: &str, token: &str, extra: &str) -> String {
    format!(
        r#"{{"status":"OK","code":200,"data":{{"customer_account":{account},"token":{token}{extra}}}}}"#
    )
}

fn nested(depth: usize) -> String {
    format!(
        r#"{{"deep":{}{},"access_token":"tok-deep","token_type":"Bearer"}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

/// Every case. `other` is a second server: a redirect's target, which must never be hit.
fn cases(other: SocketAddr) -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, kind, routes: Vec<(&'static str, Reply)>, expect, check, hits| {
        v.push(Case {
            name,
            kind,
            routes,
            expect,
            check,
            hits,
        })
    };
    use Kind::*;
    let t = |r: Reply| vec![("/token", r)];

    // --- baselines and bodies that are not a token answer
    case(
        "ok_baseline",
        OAuth,
        t(ok_json(TOKEN_OK)),
        all("ok"),
        Check::Token("tok-ok", Some(3600), Some("orders")),
        &[],
    );
    case(
        "success_201",
        OAuth,
        t(json("201 Created", TOKEN_OK)),
        all("ok"),
        Check::Token("tok-ok", Some(3600), Some("orders")),
        &[],
    );
    case(
        "truncated_json",
        OAuth,
        t(ok_json(r#"{"access_token":"tok","token_ty"#)),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "empty_200",
        OAuth,
        t(ok_json("")),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "no_content_204",
        OAuth,
        t(keep(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec())),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "html_200",
        OAuth,
        t(keep(response(
            "200 OK",
            &["Content-Type: text/html"],
            b"<!doctype html><html><body>Sign in</body></html>",
        ))),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "error_member_in_200",
        OAuth,
        t(ok_json(
            r#"{"error":"invalid_grant","error_description":"nope"}"#,
        )),
        all("oauth(200,invalid_grant)"),
        Check::None,
        &[],
    );
    case(
        "oauth_401_invalid_client",
        OAuth,
        t(json("401 Unauthorized", r#"{"error":"invalid_client"}"#)),
        all("oauth(401,invalid_client)"),
        Check::None,
        &[],
    );

    // --- 5xx, with and without Retry-After (the tokio driver surfaces the Retry-After)
    let plain = |status: &'static str, extra: &'static [&'static str], body: &'static [u8]| {
        keep(response(status, extra, body))
    };
    case(
        "status_500",
        OAuth,
        t(plain(
            "500 Internal Server Error",
            &["Content-Type: text/plain"],
            b"Internal Server Error",
        )),
        all("provider(500)"),
        Check::None,
        &[],
    );
    case(
        "status_500_retry_after",
        OAuth,
        t(plain(
            "500 Internal Server Error",
            &["Content-Type: text/plain", "Retry-After: 3"],
            b"Internal Server Error",
        )),
        [
            "provider(500)+retry_after(3s)",
            "provider(500)+retry_after(3s)",
            "provider(500)+retry_after(3s)",
            "provider(500)+retry_after(3s)",
        ],
        Check::None,
        &[],
    );
    case(
        "status_502",
        OAuth,
        t(plain(
            "502 Bad Gateway",
            &["Content-Type: text/html"],
            b"<html>Bad Gateway</html>",
        )),
        all("provider(502)"),
        Check::None,
        &[],
    );
    case(
        "status_502_retry_after",
        OAuth,
        t(plain(
            "502 Bad Gateway",
            &["Content-Type: text/html", "Retry-After: 10"],
            b"<html>Bad Gateway</html>",
        )),
        [
            "provider(502)+retry_after(10s)",
            "provider(502)+retry_after(10s)",
            "provider(502)+retry_after(10s)",
            "provider(502)+retry_after(10s)",
        ],
        Check::None,
        &[],
    );
    case(
        "status_503",
        OAuth,
        t(json(
            "503 Service Unavailable",
            r#"{"error":"temporarily_unavailable"}"#,
        )),
        all("oauth(503,temporarily_unavailable)"),
        Check::None,
        &[],
    );
    case(
        "status_503_retry_after",
        OAuth,
        t(keep(response(
            "503 Service Unavailable",
            &["Content-Type: application/json", "Retry-After: 120"],
            br#"{"error":"temporarily_unavailable"}"#,
        ))),
        [
            "oauth(503,temporarily_unavailable)+retry_after(120s)",
            "oauth(503,temporarily_unavailable)+retry_after(120s)",
            "oauth(503,temporarily_unavailable)+retry_after(120s)",
            "oauth(503,temporarily_unavailable)+retry_after(120s)",
        ],
        Check::None,
        &[],
    );

    // --- token_type and expires_in quirks
    case(
        "token_type_missing",
        OAuth,
        t(ok_json(r#"{"access_token":"tok-nt","expires_in":60}"#)),
        all("ok"),
        Check::Token("tok-nt", Some(60), None),
        &[],
    );
    case(
        "token_type_any_case",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok-case","token_type":"BeArEr"}"#,
        )),
        all("ok"),
        Check::Token("tok-case", None, None),
        &[],
    );
    case(
        "token_type_mac",
        OAuth,
        t(ok_json(r#"{"access_token":"tok","token_type":"mac"}"#)),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "expires_in_digit_string",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok-s","token_type":"Bearer","expires_in":"3600"}"#,
        )),
        all("ok"),
        Check::Token("tok-s", Some(3600), None),
        &[],
    );
    case(
        "expires_in_negative",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok","token_type":"Bearer","expires_in":-1}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "expires_in_1e30",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok","token_type":"Bearer","expires_in":1e30}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "expires_in_fraction",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok","token_type":"Bearer","expires_in":3600.5}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "expires_in_absent",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok-na","token_type":"Bearer"}"#,
        )),
        all("ok"),
        Check::Token("tok-na", None, None),
        &[],
    );
    case(
        "expires_in_null",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok-nul","token_type":"Bearer","expires_in":null}"#,
        )),
        all("ok"),
        Check::Token("tok-nul", None, None),
        &[],
    );

    // --- sizes: over the token capacity, over the driver cap, 50 MB paced
    let big = |n: usize| {
        format!(
            r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
            "a".repeat(n)
        )
    };
    case(
        "token_3kb_over_capacity",
        OAuth,
        t(ok_json(&big(3 * 1024))),
        all("capacity"),
        Check::None,
        &[],
    );
    case(
        "token_100kb",
        OAuth,
        t(ok_json(&big(100 * 1024))),
        ["too_large", "too_large", "body_too_large", "body_too_large"],
        Check::None,
        &[],
    );
    let flood_head = |framing: &str| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n{{\"access_token\":\"").into_bytes()
    };
    case(
        "body_50mb_slow_content_length",
        OAuth,
        t(Reply::Flood {
            head: flood_head("Content-Length: 52428800\r\n"),
            total: 50 << 20,
            chunked: false,
        }),
        ["too_large", "too_large", "body_too_large", "body_too_large"],
        Check::None,
        &[],
    );
    case(
        "body_50mb_slow_chunked",
        OAuth,
        t(Reply::Flood {
            head: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            total: 50 << 20,
            chunked: true,
        }),
        ["too_large", "too_large", "body_too_large", "body_too_large"],
        Check::None,
        &[],
    );
    case(
        "body_50mb_slow_until_close",
        OAuth,
        t(Reply::Flood {
            head: flood_head("Connection: close\r\n"),
            total: 50 << 20,
            chunked: false,
        }),
        ["too_large", "too_large", "body_too_large", "body_too_large"],
        Check::None,
        &[],
    );

    // --- JSON the parser must refuse or accept
    case(
        "nesting_2000_deep",
        OAuth,
        t(ok_json(&nested(2_000))),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "nesting_30000_deep",
        OAuth,
        t(ok_json(&nested(30_000))),
        ["malformed", "malformed", "body_too_large", "body_too_large"],
        Check::None,
        &[],
    );
    case(
        "nesting_100000_deep",
        OAuth,
        t(ok_json(&nested(100_000))),
        ["too_large", "too_large", "body_too_large", "body_too_large"],
        Check::None,
        &[],
    );
    case(
        "surrogate_pair_escapes",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok-emoji","token_type":"Bearer","scope":"\ud83d\ude00 caf\u00e9"}"#,
        )),
        all("ok"),
        Check::Token("tok-emoji", None, Some("😀 café")),
        &[],
    );
    case(
        "lone_surrogate",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok","token_type":"Bearer","scope":"\ud83d x"}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "invalid_utf8_in_token",
        OAuth,
        t(ok_bytes(
            b"{\"access_token\":\"tok\xff\xfe\",\"token_type\":\"Bearer\"}",
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "invalid_utf8_in_scope",
        OAuth,
        t(ok_bytes(
            b"{\"access_token\":\"tok\",\"token_type\":\"Bearer\",\"scope\":\"a\xc3\x28\"}",
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "duplicate_keys",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok-a","access_token":"tok-b","token_type":"Bearer"}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "nul_escaped_in_token",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok\u0000evil","token_type":"Bearer"}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "nul_raw_in_token",
        OAuth,
        t(ok_bytes(
            b"{\"access_token\":\"tok\x00evil\",\"token_type\":\"Bearer\"}",
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "empty_access_token",
        OAuth,
        t(ok_json(r#"{"access_token":"","token_type":"Bearer"}"#)),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "access_token_a_number",
        OAuth,
        t(ok_json(r#"{"access_token":12345,"token_type":"Bearer"}"#)),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "top_level_array",
        OAuth,
        t(ok_json(r#"[{"access_token":"tok","token_type":"Bearer"}]"#)),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "trailing_garbage_after_json",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok","token_type":"Bearer"} {"access_token":"evil"}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "utf8_bom_before_json",
        OAuth,
        t(ok_bytes(
            b"\xef\xbb\xbf{\"access_token\":\"tok\",\"token_type\":\"Bearer\"}",
        )),
        // Quirks::DEFAULT skips a leading byte-order mark (STRICT refuses it).
        all("ok"),
        Check::Token("tok", None, None),
        &[],
    );
    case(
        "escaped_solidus_in_token",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok\/x","token_type":"Bearer","expires_in":0}"#,
        )),
        all("ok"),
        Check::Token("tok/x", Some(0), None),
        &[],
    );
    case(
        "expires_in_u64_overflow",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok","token_type":"Bearer","expires_in":18446744073709551616}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "space_in_token",
        OAuth,
        t(ok_json(
            r#"{"access_token":"tok evil","token_type":"Bearer"}"#,
        )),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "unknown_fields_everywhere",
        OAuth,
        t(ok_json(
            r#"{"x":{"y":[1,2.5e3,true,null,{"z":"\u00e9"}]},"access_token":"tok-unk","n":-7,"token_type":"Bearer","issued_token_type":"urn:x","expires_in":60,"id_token":null,"arr":[]}"#,
        )),
        all("ok"),
        Check::Token("tok-unk", Some(60), None),
        &[],
    );

    // --- HTTP framing
    case(
        "content_length_longer_then_close",
        OAuth,
        t(close(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"access_token\":\"tok\"".to_vec())),
        ["transport", "transport", "content_length_mismatch", "content_length_mismatch"],
        Check::None,
        &[],
    );
    case(
        "conflicting_content_lengths",
        OAuth,
        t(close(
            b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
        )),
        ["transport", "transport", "parse", "parse"],
        Check::None,
        &[],
    );
    case(
        "bad_chunk_size",
        OAuth,
        t(close(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{\"access_token\":\"tok\"}\r\n0\r\n\r\n".to_vec())),
        ["transport", "transport", "bad_chunk", "bad_chunk"],
        Check::None,
        &[],
    );
    case(
        "chunked_with_extensions_and_trailer",
        OAuth,
        t(keep(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
              10;ext=1\r\n{\"access_token\":\r\n15\r\n\"tok-ch\",\"token_type\"\r\n0a\r\n:\"Bearer\"}\r\n0\r\nX-Trailer: 1\r\n\r\n"
                .to_vec(),
        )),
        all("ok"),
        Check::Token("tok-ch", None, None),
        &[],
    );
    // One byte too many in a chunk size, the data ending in CR and a bare LF: hyper and ureq
    // refuse the framing; embedded-io takes the bare LF as the chunk's end (RFC 9112 §2.2 lets
    // a recipient accept a bare LF) and the CR as data, which JSON reads as whitespace.
    case(
        "chunk_size_one_too_many_bare_lf",
        OAuth,
        t(close(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
              30\r\n{\"access_token\":\"tok-lf\",\"token_type\":\"Bearer\"}\r\n0\r\n\r\n"
                .to_vec(),
        )),
        ["transport", "transport", "ok", "ok"],
        Check::Token("tok-lf", None, None),
        &[],
    );
    // Regression (embedded-io, fixed): a response after which the server closes the connection
    // (`Connection: close`, HTTP/1.0, a body delimited by the close) used to fail `Driver::run`
    // with `NotReusable` although the flow had its answer (reusability was checked before the
    // final `poll`). Now only a request to *send* needs the connection.
    case(
        "http10_close_delimited",
        OAuth,
        t(close(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"access_token\":\"tok-10\",\"token_type\":\"Bearer\"}".to_vec())),
        ["ok", "ok", "ok", "ok"],
        Check::Token("tok-10", None, None),
        &[],
    );
    case(
        "connection_close_header",
        OAuth,
        t(close(response(
            "200 OK",
            &["Content-Type: application/json", "Connection: close"],
            TOKEN_OK.as_bytes(),
        ))),
        ["ok", "ok", "ok", "ok"],
        Check::Token("tok-ok", Some(3600), Some("orders")),
        &[],
    );
    case(
        "informational_100_then_200",
        OAuth,
        t(keep(
            [
                b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
                response("200 OK", &[], TOKEN_OK.as_bytes()),
            ]
            .concat(),
        )),
        all("ok"),
        Check::Token("tok-ok", Some(3600), Some("orders")),
        &[],
    );
    case(
        "status_code_not_numeric",
        OAuth,
        t(close(
            b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
        )),
        ["transport", "transport", "parse", "parse"],
        Check::None,
        &[],
    );
    case(
        "content_length_negative",
        OAuth,
        t(close(
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}".to_vec(),
        )),
        ["transport", "transport", "parse", "parse"],
        Check::None,
        &[],
    );
    // Both framings (a request-smuggling shape): chunked wins (RFC 9112 §6.3), and the
    // connection must not be reused. On embedded-io the close then hits the NotReusable bug
    // described at `http10_close_delimited`.
    case(
        "chunked_and_content_length",
        OAuth,
        t(close(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
              2f\r\n{\"access_token\":\"tok-te\",\"token_type\":\"Bearer\"}\r\n0\r\n\r\n"
                .to_vec(),
        )),
        ["ok", "ok", "ok", "ok"],
        Check::Token("tok-te", None, None),
        &[],
    );
    case(
        "garbage_status_line",
        OAuth,
        t(close(b"HELLO WORLD\r\n\r\n{}".to_vec())),
        ["transport", "transport", "parse", "parse"],
        Check::None,
        &[],
    );
    case(
        "closed_without_answer",
        OAuth,
        t(Reply::Hangup),
        ["transport", "transport", "closed", "closed"],
        Check::None,
        &[],
    );
    case(
        "header_line_512kb",
        OAuth,
        t(close(response(
            "200 OK",
            &[&format!("X-Junk: {}", "j".repeat(512 * 1024))],
            TOKEN_OK.as_bytes(),
        ))),
        ["too_large", "transport", "head_too_large", "head_too_large"],
        Check::None,
        &[],
    );
    let many: Vec<String> = (0..200).map(|i| format!("X-H{i}: v")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    case(
        "two_hundred_headers",
        OAuth,
        t(close(response("200 OK", &many, TOKEN_OK.as_bytes()))),
        [
            "transport",
            "transport",
            "too_many_headers",
            "too_many_headers",
        ],
        Check::None,
        &[],
    );
    case(
        "redirect_302_to_another_host",
        OAuth,
        t(keep(response(
            "302 Found",
            &[&format!("Location: http://{other}/c/redirected/token")],
            b"",
        ))),
        all("provider(302)"),
        Check::None,
        &[],
    );
    case(
        "gzip_garbage",
        OAuth,
        t(keep(response(
            "200 OK",
            &["Content-Type: application/json", "Content-Encoding: gzip"],
            b"\x1f\x8b\x08\x00garbage, not deflate at all",
        ))),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "gzip_of_a_real_token_is_not_decoded",
        OAuth,
        // A valid gzip member of TOKEN_OK: never decoded (no Accept-Encoding is sent), so refused.
        t(keep(response(
            "200 OK",
            &["Content-Type: application/json", "Content-Encoding: gzip"],
            &gzip_stored(TOKEN_OK.as_bytes()),
        ))),
        all("malformed"),
        Check::None,
        &[],
    );

    // --- slow peers: one byte a second
    let slow = response(
        "200 OK",
        &["Content-Type: application/json"],
        TOKEN_OK.as_bytes(),
    );
    let head_len = slow.len() - TOKEN_OK.len();
    case(
        "slowloris_head",
        OAuth,
        t(Reply::Drip {
            bytes: slow.clone(),
            at_once: 0,
        }),
        ["timeout", "timeout", "io(TimedOut)", "io(TimedOut)"],
        Check::None,
        &[],
    );
    case(
        "slowloris_body",
        OAuth,
        t(Reply::Drip {
            bytes: slow,
            at_once: head_len,
        }),
        ["timeout", "timeout", "io(TimedOut)", "io(TimedOut)"],
        Check::None,
        &[],
    );

    // --- refresh-on-401: a storm of 401s ends after one re-sign-in and one retry
    case(
        "storm_401_protected_call",
        Storm,
        vec![
            (
                "/token",
                ok_json(r#"{"access_token":"tok-storm","token_type":"Bearer"}"#),
            ),
            (
                "/api",
                json("401 Unauthorized", r#"{"error":"invalid_token"}"#),
            ),
        ],
        all("unauthorized"),
        Check::None,
        &[("/token", 2), ("/api", 2)],
    );

    // --- PAR Ordering envelopes
    let account = format!(r#"{{"id":"{UUID}","first_name":"Jane","email":"jane@example.com"}}"#);
    let s = |r: Reply| vec![("/api/sts/users/sign-in", r)];
    case(
        "par_ok",
        Par,
        s(ok_json(&par_ok(
            &account,
            r#"{"value":"menu-tok","ttl":60,"token_type":"Bearer"}"#,
            "",
        ))),
        all("ok"),
        Check::Par("menu-tok", true, "Jane"),
        &[],
    );
    case(
        "par_envelope_error_422_on_200",
        Par,
        s(ok_json(
            r#"{"status":"ERROR","code":422,"message":"The subject token is invalid."}"#,
        )),
        all("provider(200,422)"),
        Check::None,
        &[],
    );
    case(
        "par_envelope_error_422_on_422",
        Par,
        s(json(
            "422 Unprocessable Entity",
            r#"{"status":"ERROR","code":422,"message":"The subject token is invalid."}"#,
        )),
        all("provider(422,422)"),
        Check::None,
        &[],
    );
    case(
        "par_missing_token_ttl",
        Par,
        s(ok_json(&par_ok(
            &account,
            r#"{"value":"menu-nottl","token_type":"Bearer"}"#,
            "",
        ))),
        all("ok"),
        Check::Par("menu-nottl", false, "Jane"),
        &[],
    );
    case(
        "par_ttl_as_digit_string",
        Par,
        s(ok_json(&par_ok(
            &account,
            r#"{"value":"menu-sttl","ttl":"60"}"#,
            "",
        ))),
        all("ok"),
        Check::Par("menu-sttl", true, "Jane"),
        &[],
    );
    // seed 000's attribute table: `customer_account.id | string | "90488ffee32c3acb6fcd0ca417cf6f3a"`
    // — an opaque id, not only the hyphenated UUID of its example answer.
    case(
        "par_32_hex_customer_id",
        Par,
        s(ok_json(&par_ok(
            r#"{"id":"90488ffee32c3acb6fcd0ca417cf6f3a"}"#,
            r#"{"value":"menu","ttl":60}"#,
            "",
        ))),
        all("ok"),
        Check::ParId("90488ffee32c3acb6fcd0ca417cf6f3a", Some(60)),
        &[],
    );
    case(
        "par_empty_customer_id",
        Par,
        s(ok_json(&par_ok(
            r#"{"id":""}"#,
            r#"{"value":"menu","ttl":60}"#,
            "",
        ))),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "par_missing_data",
        Par,
        s(ok_json(r#"{"status":"OK","code":200}"#)),
        all("malformed"),
        Check::None,
        &[],
    );
    case(
        "par_unknown_fields_everywhere",
        Par,
        s(ok_json(&format!(
            r#"{{"status":"OK","code":200,"meta":{{"a":[1,{{}}]}},"data":{{"x":null,"customer_account":{{"id":"{UUID}","first_name":"Jane","demographics":[{{"k":"v"}}],"social_login":{{"p":"x"}},"new_thing":[[1]]}},"token":{{"value":"menu-unk","ttl":60,"issued_token_type":"access_token","extra":{{"y":1}}}},"dlc_access_token":null,"more":true}}}}"#
        ))),
        all("ok"),
        Check::Par("menu-unk", true, "Jane"),
        &[],
    );
    case(
        "par_surrogate_pair_names",
        Par,
        s(ok_json(&par_ok(
            &format!(r#"{{"id":"{UUID}","first_name":"Zo\u00eb \ud83d\ude00"}}"#),
            r#"{"value":"menu-emoji","ttl":60}"#,
            "",
        ))),
        all("ok"),
        Check::Par("menu-emoji", true, "Zoë 😀"),
        &[],
    );
    case(
        "par_sign_in_401_storm",
        ParFresh,
        vec![
            (
                "/api/oauth/tokens",
                ok_json(
                    r#"{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"m2m","token_type":"bearer","expires_in":86399}}}"#,
                ),
            ),
            (
                "/api/sts/users/sign-in",
                json(
                    "401 Unauthorized",
                    r#"{"status":"ERROR","code":401,"message":"Unauthenticated."}"#,
                ),
            ),
        ],
        // A 401 with an M2M token fetched just now refuses the customer's token: no second
        // M2M token, no loop.
        all("subject_token_refused"),
        Check::None,
        &[("/api/oauth/tokens", 1), ("/api/sts/users/sign-in", 1)],
    );
    case(
        "par_sign_in_401_storm_cached_m2m",
        Par,
        vec![
            (
                "/api/oauth/tokens",
                ok_json(
                    r#"{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"m2m","token_type":"bearer","expires_in":86399}}}"#,
                ),
            ),
            (
                "/api/sts/users/sign-in",
                json(
                    "401 Unauthorized",
                    r#"{"status":"ERROR","code":401,"message":"Unauthenticated."}"#,
                ),
            ),
        ],
        // A 401 with a cached M2M token: one fresh M2M token, one retry, then the customer's
        // token is refused.
        all("subject_token_refused"),
        Check::None,
        &[("/api/oauth/tokens", 1), ("/api/sts/users/sign-in", 2)],
    );

    // A server that sends a second, unsolicited response right after the M2M answer: the
    // answer to the sign-in sent afterwards must be the server's real one (`menu-real`), not
    // the bytes that were waiting on the idle connection (`menu-forged`).
    //
    // Regression (embedded-io, fixed): bytes that follow a complete response used to be kept as
    // the start of the *next* response, so the sign-in "succeeded" with a forged answer. The
    // driver never pipelines, so such bytes are unsolicited: the connection is no longer reused
    // (typed `not_reusable`; the caller reconnects) and the forged answer is never read.
    let m2m_answer = response(
        "200 OK",
        &["Content-Type: application/json"],
        br#"{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"m2m","token_type":"bearer","expires_in":86399}}}"#,
    );
    let forged = response(
        "200 OK",
        &["Content-Type: application/json"],
        par_ok(&account, r#"{"value":"menu-forged","ttl":60}"#, "").as_bytes(),
    );
    case(
        "unsolicited_response_after_m2m",
        ParFresh,
        vec![
            ("/api/oauth/tokens", keep([m2m_answer, forged].concat())),
            (
                "/api/sts/users/sign-in",
                ok_json(&par_ok(&account, r#"{"value":"menu-real","ttl":60}"#, "")),
            ),
        ],
        ["ok", "ok", "not_reusable", "not_reusable"],
        Check::Par("menu-real", true, "Jane"),
        &[],
    );

    // --- the sandbox's own fault hooks
    case(
        "sandbox_status_500",
        Sandbox(r#"{"path":"/oauth2/token","kind":"status","status":500}"#),
        vec![],
        all("oauth(500,sandbox_fault)"),
        Check::None,
        &[],
    );
    case(
        "sandbox_status_503_retry_after",
        Sandbox(r#"{"path":"/oauth2/token","kind":"status","status":503,"retry_after":5}"#),
        vec![],
        [
            "oauth(503,sandbox_fault)+retry_after(5s)",
            "oauth(503,sandbox_fault)+retry_after(5s)",
            "oauth(503,sandbox_fault)+retry_after(5s)",
            "oauth(503,sandbox_fault)+retry_after(5s)",
        ],
        Check::None,
        &[],
    );
    case(
        "sandbox_drop",
        Sandbox(r#"{"path":"/oauth2/token","kind":"drop"}"#),
        vec![],
        ["transport", "transport", "closed", "closed"],
        Check::None,
        &[],
    );
    case(
        "sandbox_truncate",
        Sandbox(r#"{"path":"/oauth2/token","kind":"truncate"}"#),
        vec![],
        [
            "transport",
            "transport",
            "content_length_mismatch",
            "content_length_mismatch",
        ],
        Check::None,
        &[],
    );
    case(
        "sandbox_delay_past_deadline",
        Sandbox(r#"{"path":"/oauth2/token","kind":"delay","ms":3000}"#),
        vec![],
        ["timeout", "timeout", "io(TimedOut)", "io(TimedOut)"],
        Check::None,
        &[],
    );
    case(
        "sandbox_unauthorized",
        Sandbox(r#"{"path":"/oauth2/token","kind":"unauthorized"}"#),
        vec![],
        all("oauth(401,invalid_client)"),
        Check::None,
        &[],
    );
    v
}

/// A gzip member holding `data` in one stored (uncompressed) deflate block.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let len = u16::try_from(data.len()).unwrap();
    out.push(1);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---------------------------------------------------------------------------------------------
// What the drivers got, as one vocabulary.

/// A successful result, for the case's [`Check`].
enum Got {
    Tokens(TokenSet),
    SignIn(SignIn),
    Status(u16),
}

fn core_kind(e: &CoreError) -> String {
    match e {
        CoreError::Provider {
            status,
            code: Some(c),
            ..
        } => format!("provider({status},{c})"),
        CoreError::Provider {
            status, code: None, ..
        } => format!("provider({status})"),
        CoreError::OAuth { status, error, .. } => format!("oauth({status},{error})"),
        other => other.kind().to_owned(),
    }
}

fn verify(check: Check, got: &Got) -> Result<(), String> {
    match (check, got) {
        (Check::None, _) => Ok(()),
        (Check::Token(token, expires_in, scope), Got::Tokens(t)) => {
            let seen = (t.access.value.expose(), t.expires_in, t.scope.as_deref());
            let expiry_ok = match expires_in {
                Some(_) => matches!(t.access.expiry, Expiry::At(_)),
                None => t.access.expiry == Expiry::Unknown,
            };
            if seen == (token, expires_in, scope) && expiry_ok {
                Ok(())
            } else {
                Err(format!("got {seen:?} / {:?}", t.access.expiry))
            }
        }
        (Check::Par(token, ttl_known, first), Got::SignIn(s)) => {
            let known = matches!(s.menu_token.expiry, Expiry::At(_));
            if s.menu_token.value.expose() != token {
                Err(format!("menu token {}", s.menu_token.value.expose()))
            } else if known == ttl_known && s.customer.first_name == first && s.customer.id == UUID
            {
                Ok(())
            } else {
                Err(format!(
                    "got {:?}",
                    (
                        known,
                        s.customer.first_name.as_str(),
                        s.customer.id.as_str()
                    )
                ))
            }
        }
        (Check::ParId(id, ttl), Got::SignIn(s)) => {
            if s.customer.id == id && s.menu_token_ttl_min == ttl {
                Ok(())
            } else {
                Err(format!(
                    "got {:?} / {:?}",
                    s.customer.id, s.menu_token_ttl_min
                ))
            }
        }
        _ => Err("wrong output type".into()),
    }
}

/// `ok`, or `WRONG(…)` when the success does not carry what it must.
fn ok_outcome(case: &Case, got: &Got) -> String {
    match verify(case.check, got) {
        Ok(()) => match got {
            Got::Status(status) => format!("ok({status})"),
            _ => "ok".into(),
        },
        Err(why) => format!("WRONG({why})"),
    }
}

// ---------------------------------------------------------------------------------------------
// Per-driver environment and inputs.

struct Env {
    server: Server,
    other: Server,
    sandbox: SandboxHandle,
    cases: Vec<Case>,
}

impl Env {
    fn new() -> Env {
        let other = Server::start(HashMap::from([(
            "/c/redirected/token".to_owned(),
            ok_json(r#"{"access_token":"tok-followed","token_type":"Bearer"}"#),
        )]));
        let cases = cases(other.addr);
        let mut routes = HashMap::new();
        for c in &cases {
            for (suffix, reply) in &c.routes {
                routes.insert(format!("/c/{}{suffix}", c.name), reply.clone());
            }
        }
        Env {
            server: Server::start(routes),
            other,
            sandbox: common::sandbox(),
            cases,
        }
    }

    fn base(&self, case: &Case) -> String {
        format!("http://{}/c/{}", self.server.addr, case.name)
    }

    /// Where the case's requests go.
    fn addr(&self, case: &Case) -> SocketAddr {
        match case.kind {
            Kind::Sandbox(_) => self.sandbox.addr(),
            _ => self.server.addr,
        }
    }

    /// The OAuth client of the case (scripted server or sandbox).
    fn client(&self, case: &Case) -> Client {
        match case.kind {
            Kind::Sandbox(_) => {
                let c = &self.sandbox.credentials().oauth2;
                Client::new(&format!("{}/token", c.base_url), &c.client_id)
                    .unwrap()
                    .with_secret(&c.client_secret)
                    .unwrap()
            }
            _ => Client::new(&format!("{}/token", self.base(case)), "client-id")
                .unwrap()
                .with_secret("client-secret")
                .unwrap(),
        }
    }

    fn par(&self, case: &Case) -> par_ordering::ParConfig {
        par_ordering::ParConfig::new(&self.base(case), "app-key", "client-id", "client-secret")
            .unwrap()
    }

    fn api(&self, case: &Case) -> String {
        format!("{}/api", self.base(case))
    }

    /// Queue the case's sandbox fault, if it has one.
    fn prepare(&self, case: &Case) {
        if let Kind::Sandbox(f) = case.kind {
            fault(&self.sandbox, f);
        }
    }

    /// Hits the case's paths must have seen; a mismatch is appended to the outcome.
    fn check_hits(&self, case: &Case, outcome: String) -> String {
        let mut wrong = Vec::new();
        for (suffix, n) in case.hits {
            let seen = self.server.hits(&format!("/c/{}{suffix}", case.name));
            if seen != *n {
                wrong.push(format!("{suffix}:{seen}≠{n}"));
            }
        }
        let followed = self.other.hits("/c/redirected/token");
        if followed != 0 {
            wrong.push(format!("redirect followed {followed}×"));
        }
        if wrong.is_empty() {
            outcome
        } else {
            format!("{outcome} HITS[{}]", wrong.join(","))
        }
    }
}

fn cached_m2m() -> AccessToken {
    AccessToken {
        value: ssoflow::Secret::new("cached-m2m", "m2m").unwrap(),
        expiry: Expiry::Unknown,
    }
}

const SUBJECT: &str = "idp-subject-token";

fn protected<'b>(
    buf: &'b mut [u8],
    url: &str,
    t: &TokenSet,
) -> Result<ssoflow::Request<'b>, CoreError> {
    let mut rb = RequestBuilder::new(buf, Method::Get, url, "");
    rb.bearer(t.access.value.expose());
    rb.finish()
}

/// Run `f` on a thread of its own, at most [`CASE_LIMIT`]: `HANG` or `PANIC` otherwise.
fn guarded(f: impl FnOnce() -> String + Send + 'static) -> (String, Duration) {
    let started = std::time::Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    let outcome = match rx.recv_timeout(CASE_LIMIT) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => "PANIC".into(),
        Err(_) => "HANG".into(),
    };
    (outcome, started.elapsed())
}

/// Per case: its name, the outcome, how long it took.
type Results = Vec<(&'static str, String, Duration)>;

// ---------------------------------------------------------------------------------------------
// ureq.

fn ureq_outcome(case: &Case, r: Result<Got, ssoflow_ureq::Error>) -> String {
    match r {
        Ok(got) => ok_outcome(case, &got),
        Err(ssoflow_ureq::Error::Core(e)) => core_kind(&e),
        Err(ssoflow_ureq::Error::RetryAfter { error, after }) => {
            format!("{}+retry_after({}s)", core_kind(&error), after.as_secs())
        }
        Err(e) => e.kind().to_owned(),
    }
}

fn ureq_case(env: &Env, d: &ssoflow_ureq::Driver, case: &Case) -> Result<Got, ssoflow_ureq::Error> {
    match case.kind {
        Kind::OAuth | Kind::Sandbox(_) => {
            let cl = env.client(case);
            Ok(Got::Tokens(d.run(oauth2::client_credentials(&cl, None)?)?))
        }
        Kind::Par | Kind::ParFresh => {
            let cfg = env.par(case);
            let m2m = matches!(case.kind, Kind::Par).then(cached_m2m);
            Ok(Got::SignIn(d.run(par_ordering::sign_in(
                &cfg,
                m2m,
                SUBJECT,
                RequestIds::new([1; 16]),
            )?)?))
        }
        Kind::Storm => {
            let cl = env.client(case);
            let url = env.api(case);
            let session =
                ssoflow_ureq::SharedSession::new(oauth2::ClientCredentials::new(&cl, None));
            let r =
                d.send_authorized(&session, &(), |t: &TokenSet, buf| protected(buf, &url, t))?;
            Ok(Got::Status(r.status))
        }
    }
}

fn run_ureq() -> Results {
    let env = Arc::new(Env::new());
    let d = Arc::new(ssoflow_ureq::Driver::new(ssoflow_ureq::Config {
        timeout: DEADLINE,
        ..ssoflow_ureq::Config::DEFAULT
    }));
    (0..env.cases.len())
        .map(|i| {
            let (env2, d) = (env.clone(), d.clone());
            let (outcome, took) = guarded(move || {
                let case = &env2.cases[i];
                env2.prepare(case);
                let outcome = ureq_outcome(case, ureq_case(&env2, &d, case));
                env2.check_hits(case, outcome)
            });
            (env.cases[i].name, outcome, took)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// embedded-io, blocking: a std TcpStream whose read timeout is what is left of the deadline.

struct DeadlineStream {
    tcp: TcpStream,
    until: std::time::Instant,
}

impl DeadlineStream {
    fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let tcp = TcpStream::connect_timeout(&addr, DEADLINE)?;
        tcp.set_write_timeout(Some(DEADLINE))?;
        Ok(DeadlineStream {
            tcp,
            until: std::time::Instant::now() + DEADLINE,
        })
    }
}

impl embedded_io::ErrorType for DeadlineStream {
    type Error = std::io::Error;
}

impl embedded_io::Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self
            .until
            .saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.tcp.set_read_timeout(Some(left))?;
        match self.tcp.read(buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(std::io::ErrorKind::TimedOut.into())
            }
            r => r,
        }
    }
}

impl embedded_io::Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

fn emb_outcome(case: &Case, r: Result<Got, ssoflow_embedded_io::Error>) -> String {
    match r {
        Ok(got) => ok_outcome(case, &got),
        Err(ssoflow_embedded_io::Error::Core(e)) => core_kind(&e),
        Err(ssoflow_embedded_io::Error::RetryAfter { error, secs }) => {
            format!("{}+retry_after({secs}s)", core_kind(&error))
        }
        Err(ssoflow_embedded_io::Error::Io(kind)) => format!("io({kind:?})"),
        Err(e) => e.kind().to_owned(),
    }
}

fn clock() -> impl FnMut() -> Instant {
    let origin = std::time::Instant::now();
    move || Instant::from_millis(u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// The embedded drivers' session: the driver's error, the default policy.
fn emb_session() -> Session<TokenSet, ssoflow_embedded_io::Error> {
    Session::with_policy(Policy::DEFAULT.with_skew_ms(DEFAULT_SKEW_MS))
}

/// Request ids and jitter for the embedded drivers (a firmware reads its RNG).
fn emb_entropy() -> impl FnMut() -> [u8; 16] {
    let mut n = 0u8;
    move || {
        n = n.wrapping_add(1);
        [n; 16]
    }
}

fn emb_case(env: &Env, case: &Case) -> Result<Got, ssoflow_embedded_io::Error> {
    use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};
    let mut stream =
        DeadlineStream::connect(env.addr(case)).map_err(|e| Error::Io(e.kind().into()))?;
    let mut buf = vec![0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);
    let mut clock = clock();
    match case.kind {
        Kind::OAuth | Kind::Sandbox(_) => {
            let cl = env.client(case);
            Ok(Got::Tokens(driver.run(
                &mut stream,
                &mut clock,
                oauth2::client_credentials(&cl, None)?,
            )?))
        }
        Kind::Par | Kind::ParFresh => {
            let cfg = env.par(case);
            let m2m = matches!(case.kind, Kind::Par).then(cached_m2m);
            let flow = par_ordering::sign_in(&cfg, m2m, SUBJECT, RequestIds::new([1; 16]))?;
            Ok(Got::SignIn(driver.run(&mut stream, &mut clock, flow)?))
        }
        Kind::Storm => {
            let cl = env.client(case);
            let url = env.api(case);
            let recipe = oauth2::ClientCredentials::new(&cl, None);
            let mut session = emb_session();
            let view = driver.send_authorized(
                &mut stream,
                &mut clock,
                &mut session,
                &recipe,
                &(),
                emb_entropy(),
                |t: &TokenSet, buf| protected(buf, &url, t),
            )?;
            Ok(Got::Status(view.status()))
        }
    }
}

fn run_emb_blocking() -> Results {
    let env = Arc::new(Env::new());
    (0..env.cases.len())
        .map(|i| {
            let env2 = env.clone();
            let (outcome, took) = guarded(move || {
                let case = &env2.cases[i];
                env2.prepare(case);
                let outcome = emb_outcome(case, emb_case(&env2, case));
                env2.check_hits(case, outcome)
            });
            (env.cases[i].name, outcome, took)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// embedded-io, async: a tokio TcpStream whose reads and writes end at the deadline.

struct AsyncDeadlineStream {
    tcp: tokio::net::TcpStream,
    until: tokio::time::Instant,
}

impl embedded_io_async::ErrorType for AsyncDeadlineStream {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for AsyncDeadlineStream {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use tokio::io::AsyncReadExt;
        tokio::time::timeout_at(self.until, self.tcp.read(buf))
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    }
}

impl embedded_io_async::Write for AsyncDeadlineStream {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use tokio::io::AsyncWriteExt;
        tokio::time::timeout_at(self.until, self.tcp.write(buf))
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.tcp.flush().await
    }
}

async fn emb_async_case(env: &Env, case: &Case) -> Result<Got, ssoflow_embedded_io::Error> {
    use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};
    let until = tokio::time::Instant::now() + DEADLINE;
    let tcp = tokio::time::timeout_at(until, tokio::net::TcpStream::connect(env.addr(case)))
        .await
        .map_err(|_| Error::Io(embedded_io::ErrorKind::TimedOut))?
        .map_err(|e| Error::Io(e.kind().into()))?;
    let mut stream = AsyncDeadlineStream { tcp, until };
    let mut buf = vec![0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);
    let mut clock = clock();
    match case.kind {
        Kind::OAuth | Kind::Sandbox(_) => {
            let cl = env.client(case);
            let flow = oauth2::client_credentials(&cl, None)?;
            Ok(Got::Tokens(
                driver.run_async(&mut stream, &mut clock, flow).await?,
            ))
        }
        Kind::Par | Kind::ParFresh => {
            let cfg = env.par(case);
            let m2m = matches!(case.kind, Kind::Par).then(cached_m2m);
            let flow = par_ordering::sign_in(&cfg, m2m, SUBJECT, RequestIds::new([1; 16]))?;
            Ok(Got::SignIn(
                driver.run_async(&mut stream, &mut clock, flow).await?,
            ))
        }
        Kind::Storm => {
            let cl = env.client(case);
            let url = env.api(case);
            let recipe = oauth2::ClientCredentials::new(&cl, None);
            let mut session = emb_session();
            let view = driver
                .send_authorized_async(
                    &mut stream,
                    &mut clock,
                    &mut session,
                    &recipe,
                    &(),
                    emb_entropy(),
                    |t: &TokenSet, buf| protected(buf, &url, t),
                )
                .await?;
            Ok(Got::Status(view.status()))
        }
    }
}

/// Run the async cases on a runtime of their own; each case is a local task (a panic is
/// caught by its `JoinHandle`) under a [`CASE_LIMIT`] timeout.
fn run_async<F, Fut>(env: Arc<Env>, run: F) -> Results
where
    F: Fn(Arc<Env>, usize) -> Fut,
    Fut: std::future::Future<Output = String> + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let results = local.block_on(&rt, async {
        let mut out = Vec::new();
        for i in 0..env.cases.len() {
            let started = std::time::Instant::now();
            let task = tokio::task::spawn_local(run(env.clone(), i));
            let outcome = match tokio::time::timeout(CASE_LIMIT, task).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => "PANIC".to_owned(),
                Err(_) => "HANG".to_owned(),
            };
            out.push((env.cases[i].name, outcome, started.elapsed()));
        }
        out
    });
    rt.shutdown_background();
    results
}

fn run_emb_async() -> Results {
    let env = Arc::new(Env::new());
    run_async(env, |env, i| async move {
        let case = &env.cases[i];
        let prepared = env.clone();
        tokio::task::spawn_blocking(move || prepared.prepare(&prepared.cases[i]))
            .await
            .expect("fault queued");
        let outcome = emb_outcome(case, emb_async_case(&env, case).await);
        env.check_hits(case, outcome)
    })
}

// ---------------------------------------------------------------------------------------------
// tokio (reqwest).

fn tokio_outcome(case: &Case, r: Result<Got, ssoflow_tokio::Error>) -> String {
    match r {
        Ok(got) => ok_outcome(case, &got),
        Err(ssoflow_tokio::Error::Core(e)) => core_kind(&e),
        Err(ssoflow_tokio::Error::RetryAfter { error, after }) => {
            format!("{}+retry_after({}s)", core_kind(&error), after.as_secs())
        }
        Err(e) => e.kind().to_owned(),
    }
}

async fn tokio_case(
    env: &Env,
    d: &ssoflow_tokio::Driver,
    case: &Case,
) -> Result<Got, ssoflow_tokio::Error> {
    match case.kind {
        Kind::OAuth | Kind::Sandbox(_) => {
            let cl = env.client(case);
            Ok(Got::Tokens(
                d.run(oauth2::client_credentials(&cl, None)?).await?,
            ))
        }
        Kind::Par | Kind::ParFresh => {
            let cfg = env.par(case);
            let m2m = matches!(case.kind, Kind::Par).then(cached_m2m);
            Ok(Got::SignIn(
                d.run(par_ordering::sign_in(
                    &cfg,
                    m2m,
                    SUBJECT,
                    RequestIds::new([1; 16]),
                )?)
                .await?,
            ))
        }
        Kind::Storm => {
            use ssoflow_tokio::{CacheConfig, OwnedRequest, TokenCache};
            let cl = env.client(case);
            let url = env.api(case);
            let cache = TokenCache::new(
                d.clone(),
                oauth2::ClientCredentials::new(&cl, None),
                CacheConfig::default(),
            );
            let r = cache
                .send_authorized(&(), |t: &TokenSet| {
                    OwnedRequest::write_with(|buf| protected(buf, &url, t))
                })
                .await?;
            Ok(Got::Status(r.status))
        }
    }
}

fn run_tokio() -> Results {
    let env = Arc::new(Env::new());
    let d = ssoflow_tokio::Driver::with_config(ssoflow_tokio::Config {
        timeout: DEADLINE,
        ..ssoflow_tokio::Config::default()
    })
    .expect("tokio driver");
    run_async(env, move |env, i| {
        let d = d.clone();
        async move {
            let case = &env.cases[i];
            let prepared = env.clone();
            tokio::task::spawn_blocking(move || prepared.prepare(&prepared.cases[i]))
                .await
                .expect("fault queued");
            let outcome = tokio_outcome(case, tokio_case(&env, &d, case).await);
            env.check_hits(case, outcome)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The table.

#[test]
fn every_case_on_every_driver_ends_typed() {
    let started = std::time::Instant::now();
    let (table, expected) = with_timeout(Duration::from_secs(55), || {
        let runs: [std::thread::JoinHandle<Results>; 4] = [
            std::thread::spawn(run_ureq),
            std::thread::spawn(run_tokio),
            std::thread::spawn(run_emb_blocking),
            std::thread::spawn(run_emb_async),
        ];
        let results: Vec<Results> = runs
            .into_iter()
            .map(|h| h.join().expect("driver run"))
            .collect();
        let expected: BTreeMap<&'static str, [&'static str; 4]> =
            cases(SocketAddr::from(([127, 0, 0, 1], 9)))
                .iter()
                .map(|c| (c.name, c.expect))
                .collect();
        (results, expected)
    });
    let names: Vec<&str> = table[0].iter().map(|(n, _, _)| *n).collect();
    assert!(names.len() >= 40, "at least 40 cases, got {}", names.len());
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    let col = 52;
    let mut mismatches = Vec::new();
    println!(
        "\nbad_input: {} cases × {} drivers (deadline {DEADLINE:?})",
        names.len(),
        DRIVERS.len()
    );
    print!("{:<width$}", "case");
    for d in DRIVERS {
        print!("  {d:<col$}");
    }
    println!();
    for (row, name) in names.iter().enumerate() {
        print!("{name:<width$}");
        for (i, run) in table.iter().enumerate() {
            let (n, outcome, took) = &run[row];
            // Every case ends within the deadline (plus slack for a loaded machine).
            if *took > DEADLINE + Duration::from_millis(2500) {
                mismatches.push(format!("{name} on {}: took {took:?}", DRIVERS[i]));
            }
            assert_eq!(n, name, "every driver runs the cases in the same order");
            let want = expected[name][i];
            let cell = if outcome == want {
                outcome.clone()
            } else {
                format!("{outcome} ≠ {want}")
            };
            if outcome != want {
                mismatches.push(format!(
                    "{name} on {}: got {outcome}, expected {want}",
                    DRIVERS[i]
                ));
            }
            print!("  {cell:<col$}");
        }
        println!();
    }
    for (i, run) in table.iter().enumerate() {
        let (name, _, took) = run.iter().max_by_key(|(_, _, took)| *took).expect("cases");
        println!(
            "slowest on {}: {name} ({:.2} s)",
            DRIVERS[i],
            took.as_secs_f64()
        );
    }
    println!("finished in {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The 100 000-deep nesting the drivers refuse by size first: the core's parser refuses it
/// by depth, without recursing 100 000 deep (no stack overflow on a small stack).
#[test]
fn hundred_thousand_deep_nesting_is_malformed_in_the_core() {
    with_timeout(Duration::from_secs(20), || {
        let body = nested(100_000);
        let small_stack = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let r = oauth2::read_token_response(
                    Instant::from_millis(0),
                    ssoflow::Response::new(200, body.as_bytes()),
                    ssoflow::Quirks::DEFAULT,
                );
                r.map(|_| ()).map_err(|e| e.kind())
            })
            .unwrap();
        assert_eq!(
            small_stack.join().expect("no stack overflow"),
            Err("malformed")
        );
    });
}
