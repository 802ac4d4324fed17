//! Output: failures and exit codes, redaction, JSON and human printing, `--verbose` logging.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use serde::Serialize;
use ssoflow_core::{ErrorClass, TokenSet};

/// Why a command failed: a stable kind, a one-line detail (never a secret) and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// `oauth`, `provider`, `transport`, `usage`, …
    pub kind: String,
    /// What happened.
    pub detail: String,
    /// The process exit code.
    pub code: u8,
}

impl Failure {
    /// A usage error (exit 2).
    pub fn usage(detail: impl Into<String>) -> Self {
        Failure {
            kind: "usage".into(),
            detail: detail.into(),
            code: 2,
        }
    }
}

/// The exit code of each error class: **3** refused, **4** transport, **5** malformed, **2**
/// an unusable input (like a usage error), **1** misuse or a bug.
pub fn exit_code(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Refused => 3,
        ErrorClass::Transport => 4,
        ErrorClass::Malformed => 5,
        ErrorClass::Input => 2,
        _ => 1,
    }
}

impl From<ssoflow_ureq::Error> for Failure {
    fn from(e: ssoflow_ureq::Error) -> Self {
        let mut text = e.to_string();
        if matches!(e, ssoflow_ureq::Error::Transport { .. }) && text.contains("unknown issuer") {
            // What a user with a company (or sandbox) CA needs to know next.
            text.push_str("; to trust its CA, pass --ca-cert FILE or set SSL_CERT_FILE");
        }
        Failure {
            kind: e.kind().into(),
            detail: detail(&text),
            code: exit_code(e.class()),
        }
    }
}

/// An error's text for the `error: <kind>: <detail>` line: the words that restate the kind
/// (`provider refused: `, `transport failure: ` …) are dropped, so the kind is named once.
fn detail(text: &str) -> String {
    const RESTATED: [&str; 5] = [
        "provider refused: ",
        "oauth error ",
        "malformed response ",
        "transport failure: ",
        "invalid input: ",
    ];
    let rest = RESTATED
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(text);
    match rest {
        "timed out" => "no answer within the deadline".to_owned(),
        other => other.to_owned(),
    }
}

impl From<ssoflow_core::Error> for Failure {
    fn from(e: ssoflow_core::Error) -> Self {
        ssoflow_ureq::Error::Core(e).into()
    }
}

/// `error: <kind>: <detail>` on stderr; with `--json` also `{"error":…,"detail":…}` on stdout.
pub fn print_failure(f: &Failure, json: bool) {
    eprintln!("error: {}: {}", f.kind, f.detail);
    if json {
        #[derive(Serialize)]
        struct ErrorJson<'a> {
            error: &'a str,
            detail: &'a str,
        }
        print_json(&ErrorJson {
            error: &f.kind,
            detail: &f.detail,
        });
    }
}

/// One JSON object and a newline on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// `name  value` lines on stdout, names aligned.
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (k, v) in fields {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    let _ = out.flush();
}

/// A secret for people: its first 4 characters and `…`; a secret of 8 characters or fewer is
/// shown as `…` alone (4 characters would be half of it).
pub fn redact(secret: &str) -> String {
    if secret.chars().count() <= 8 {
        return "…".into();
    }
    let mut s: String = secret.chars().take(4).collect();
    s.push('…');
    s
}

/// `url` with the value of each query parameter `name` shortened by [`redact`]
/// (`…/sso?code=abcd…&x=1`); anything after `#` is dropped.
pub fn redact_query_value(url: &str, name: &str) -> String {
    let url = url.split('#').next().unwrap_or("");
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if k == name => format!("{k}={}", redact(v)),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

/// An optional value for people: the value or `-`.
pub fn or_dash(v: Option<impl fmt::Display>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The `--json` shape of a token answer, in this order:
/// `{"access_token","token_type":"Bearer","expires_in","refresh_token","scope"}`.
#[derive(Serialize)]
pub struct TokenJson<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: Option<u64>,
    refresh_token: Option<&'a str>,
    scope: Option<&'a str>,
}

impl<'a> TokenJson<'a> {
    /// The shape of `t`.
    pub fn of(t: &'a TokenSet) -> Self {
        TokenJson {
            access_token: t.access.value.expose(),
            token_type: "Bearer",
            expires_in: t.expires_in,
            refresh_token: t.refresh.as_ref().map(|r| r.expose()),
            scope: t.scope.as_deref(),
        }
    }
}

/// Print a token answer: `--json` in full, else redacted.
pub fn print_tokens(json: bool, t: &TokenSet) {
    if json {
        print_json(&TokenJson::of(t));
    } else {
        print_fields(&[
            ("access_token", redact(t.access.value.expose())),
            ("token_type", "Bearer".into()),
            ("expires_in", or_dash(t.expires_in)),
            (
                "refresh_token",
                or_dash(t.refresh.as_ref().map(|r| redact(r.expose()))),
            ),
            ("scope", or_dash(t.scope.as_deref())),
        ]);
    }
}

/// Route the driver's `tracing` events (one per HTTP exchange, already redacted) to stderr:
/// `> POST http://…/token -> 200 (3 ms) [Accept: application/json, Authorization: ***, …]`.
pub fn install_verbose_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(ExchangeLog);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Prints `ssoflow_ureq` exchange events on stderr.
struct ExchangeLog;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ExchangeLog {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if !event.metadata().target().starts_with("ssoflow_ureq") {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let get = |k: &str| f.0.get(k).map(String::as_str).unwrap_or("");
        let line = match (f.0.get("method"), f.0.get("status"), f.0.get("error")) {
            (Some(method), Some(status), _) => format!(
                "> {method} {} -> {status} ({} ms) [{}]",
                get("url"),
                get("ms"),
                get("headers")
            ),
            (Some(method), None, Some(error)) => format!(
                "> {method} {} -> {error} ({} ms) [{}]",
                get("url"),
                get("ms"),
                get("headers")
            ),
            _ => format!("> {}", get("message")),
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// An event's fields as text.
#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_is_named_once() {
        let e = ssoflow_ureq::Error::Transport {
            detail: "connection refused".into(),
        };
        let f = Failure::from(e);
        assert_eq!(
            format!("error: {}: {}", f.kind, f.detail),
            "error: transport: connection refused"
        );
        assert_eq!(f.code, 4);
        let f = Failure::from(ssoflow_core::Error::Unauthorized);
        assert_eq!((f.kind.as_str(), f.code), ("unauthorized", 3));
        assert_eq!(
            Failure::from(ssoflow_ureq::Error::Timeout).detail,
            "no answer within the deadline"
        );
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("abcdefghij"), "abcd…");
        assert_eq!(redact("short"), "…");
        assert_eq!(redact("éèêëàâäôö"), "éèêë…");
    }

    #[test]
    fn a_query_value_is_shortened() {
        assert_eq!(
            redact_query_value(
                "https://s.example/redirect/sso?code=abcdefghijkl&x=1#f",
                "code"
            ),
            "https://s.example/redirect/sso?code=abcd…&x=1"
        );
        assert_eq!(
            redact_query_value("https://s.example/a", "code"),
            "https://s.example/a"
        );
    }
}
