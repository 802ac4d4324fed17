//! Device authorization grant (RFC 8628): sign a person in on a device with no keyboard.
//!
//! 1. [`device_authorization`] posts to the device authorization endpoint (§3.1) and reads a
//!    [`DeviceAuthorization`] (§3.2): show its [`user_code`](DeviceAuthorization::user_code)
//!    and [`verification_uri`](DeviceAuthorization::verification_uri) (or a QR code of
//!    [`verification_uri_complete`](DeviceAuthorization::verification_uri_complete)).
//! 2. [`device_token`] polls the token endpoint with the device code (§3.4) as a
//!    [`PacedFlow`]: between polls it answers [`Paced::Wait`] with the instant of the next poll,
//!    and the driver sleeps with its own timer. It honours `interval` (5 s when missing or 0),
//!    adds 5 s for every `slow_down`, continues on `authorization_pending`, ends with
//!    [`Error::AccessDenied`] or [`Error::ExpiredToken`] (§3.5), and gives up with
//!    `ExpiredToken`, without polling again, once the next poll would come after `expires_in`.
//!
//! Whatever the server sends, it never polls faster than allowed: a poll needs `now` past the
//! previous answer plus the interval (at least [`MIN_INTERVAL_SECS`]), so the number of polls is
//! at most `expires_in / interval + 1`. A negative interval, one longer than the code lives, or
//! a missing `expires_in` is `Malformed`.

use super::{Client, TokenRequest, client_form, read_error};
use crate::json::{JsonError, Parser, Seen, is};
use crate::{
    Error, Exchange, Instant, OneShot, Paced, PacedFlow, Request, Response, Secret, TokenSet,
};

/// The RFC 8628 grant type polled at the token endpoint.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The polling interval when the server gives none, or 0 (RFC 8628 §3.2: 5 s).
pub const DEFAULT_INTERVAL_SECS: u64 = 5;
/// The shortest interval honoured: a server asking for less is polled this often.
pub const MIN_INTERVAL_SECS: u64 = 1;
/// What every `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_SECS: u64 = 5;
/// The longest wait after a transient (5xx, 429) answer while polling: the wait doubles from
/// the interval up to this.
pub const MAX_TRANSIENT_BACKOFF_SECS: u64 = 60;
/// Capacity of the device code (a secret: it is never printed).
pub const DEVICE_CODE_CAP: usize = 1024;
/// Capacity of the user code.
pub const USER_CODE_CAP: usize = 64;
/// Capacity of each verification URI.
pub const VERIFICATION_URI_CAP: usize = 512;

/// What the device authorization endpoint answered (RFC 8628 §3.2): what to show the person,
/// and the device code to poll with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuthorization {
    device_code: Secret<DEVICE_CODE_CAP>,
    user_code: heapless::String<USER_CODE_CAP>,
    verification_uri: heapless::String<VERIFICATION_URI_CAP>,
    verification_uri_complete: Option<heapless::String<VERIFICATION_URI_CAP>>,
    expires_in: u64,
    interval: u64,
    received: Instant,
}

impl DeviceAuthorization {
    /// The code the person types at the verification URI (show it as it is).
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the person goes to type the user code.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The verification URI with the user code in it, when the server gave one (for a QR code).
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// The device code (polled with; a secret).
    pub fn device_code(&self) -> &Secret<DEVICE_CODE_CAP> {
        &self.device_code
    }

    /// The codes' lifetime in seconds, as sent.
    pub fn expires_in_secs(&self) -> u64 {
        self.expires_in
    }

    /// The polling interval in seconds: as sent, or [`DEFAULT_INTERVAL_SECS`] when missing or 0,
    /// and never below [`MIN_INTERVAL_SECS`].
    pub fn interval_secs(&self) -> u64 {
        self.interval
    }

    /// When the codes expire, on the caller's clock (`expires_in` after the answer was handled).
    pub fn expires_at(&self) -> Instant {
        self.received.plus_secs(self.expires_in)
    }

    fn empty(received: Instant) -> Self {
        DeviceAuthorization {
            device_code: Secret::empty(),
            user_code: heapless::String::new(),
            verification_uri: heapless::String::new(),
            verification_uri_complete: None,
            expires_in: 0,
            interval: DEFAULT_INTERVAL_SECS,
            received,
        }
    }
}

/// The device authorization request (RFC 8628 §3.1): one form `POST` to the endpoint.
#[derive(Debug)]
pub struct DeviceAuthorizationRequest<'c> {
    client: &'c Client,
    url: &'c str,
    scope: Option<&'c str>,
}

/// The flow that asks for a device code and a user code.
pub type DeviceAuthorizationFlow<'c> = OneShot<DeviceAuthorizationRequest<'c>>;

/// Ask the device authorization endpoint at `url` (checked: `https://`, or `http://` to
/// loopback) for codes, optionally for `scope`. The client authenticates as it does at the
/// token endpoint; a public client sends its `client_id` in the body.
pub fn device_authorization<'c>(
    client: &'c Client,
    url: &'c str,
    scope: Option<&'c str>,
) -> Result<DeviceAuthorizationFlow<'c>, Error> {
    crate::http::check_url(url)?;
    Ok(OneShot::new(DeviceAuthorizationRequest {
        client,
        url,
        scope,
    }))
}

impl Exchange for DeviceAuthorizationRequest<'_> {
    type Output = DeviceAuthorization;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        let mut params: heapless::Vec<(&str, &str), 2> = heapless::Vec::new();
        if let Some(scope) = self.scope {
            params
                .push(("scope", scope))
                .map_err(|_| super::TOO_MANY_PARAMS)?;
        }
        client_form(self.client, self.url, &params, buf)
    }

    fn response_into(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<DeviceAuthorization>,
    ) -> Result<(), Error> {
        let quirks = self.client.quirks();
        if !quirks.is_success(response.status) {
            return Err(read_error(response));
        }
        let slot = out.insert(DeviceAuthorization::empty(now));
        let refusals = quirks.error_in_success_body();
        let result = match crate::json::read_or_refusal(response.body, refusals, &mut |refusal| {
            read_authorization(response.body, quirks, slot, refusal)
        }) {
            Ok(true) => Err(read_error(response)),
            Ok(false) => Ok(()),
            Err(e) => Err(e.into_error(response.body)),
        };
        if result.is_err() {
            *out = None;
        }
        result
    }
}

/// Read the §3.2 members into `out`; `refusal` is set when the body has an `error` member.
fn read_authorization(
    body: &[u8],
    quirks: crate::Quirks,
    out: &mut DeviceAuthorization,
    refusal: &mut bool,
) -> Result<(), JsonError> {
    const CODE: u32 = 1;
    const USER: u32 = 1 << 1;
    const URI: u32 = 1 << 2;
    const COMPLETE: u32 = 1 << 3;
    const EXPIRES: u32 = 1 << 4;
    const INTERVAL: u32 = 1 << 5;
    let mut seen = Seen::new();
    let mut interval: Option<u64> = None;
    let strings = quirks.expires_in_as_string();
    let mut p = Parser::new(body);
    p.object("device authorization response", |p, key| match key {
        k if is(k, "device_code") => {
            seen.first(CODE, "device_code")?;
            p.string_into(&mut out.device_code, "device_code")
        }
        k if is(k, "user_code") => {
            seen.first(USER, "user_code")?;
            p.string_into(&mut crate::json::text(&mut out.user_code), "user_code")
        }
        k if is(k, "verification_uri") => {
            seen.first(URI, "verification_uri")?;
            p.string_into(
                &mut crate::json::text(&mut out.verification_uri),
                "verification_uri",
            )
        }
        k if is(k, "verification_uri_complete") && p.null() => Ok(()),
        k if is(k, "verification_uri_complete") => {
            seen.first(COMPLETE, "verification_uri_complete")?;
            let slot = out
                .verification_uri_complete
                .insert(heapless::String::new());
            p.string_into(&mut crate::json::text(slot), "verification_uri_complete")
        }
        k if is(k, "expires_in") => {
            seen.first(EXPIRES, "expires_in")?;
            out.expires_in = p.u64_or_string("expires_in", strings)?;
            Ok(())
        }
        k if is(k, "interval") && p.null() => Ok(()),
        k if is(k, "interval") => {
            seen.first(INTERVAL, "interval")?;
            // A negative interval is read as a number and refused below, not as a syntax error.
            let v = if p.peek() == Some(b'"') {
                i64::try_from(p.u64_or_string("interval", strings)?)
                    .map_err(|_| JsonError::Malformed("interval"))?
            } else {
                p.i64("interval")?
            };
            interval = Some(u64::try_from(v).map_err(|_| JsonError::Malformed("interval"))?);
            Ok(())
        }
        k if is(k, "error") => crate::json::note_error_member(p, refusal),
        _ => p.skip(),
    })?;
    p.finish()?;
    if *refusal && quirks.error_in_success_body() {
        // A refusal in a 2xx body: the caller reads it as an error; no codes to check.
        return Ok(());
    }
    seen.required(CODE, "device_code")?;
    seen.required(USER, "user_code")?;
    seen.required(URI, "verification_uri")?;
    seen.required(EXPIRES, "expires_in")?;
    if !crate::token::check_token_chars(out.device_code.as_bytes()) {
        return Err(JsonError::Malformed("device_code"));
    }
    // Shown on a screen: no control characters (a terminal escape sequence from the server).
    if out.user_code.is_empty() || out.user_code.chars().any(char::is_control) {
        return Err(JsonError::Malformed("user_code"));
    }
    if !is_web_url(&out.verification_uri) {
        return Err(JsonError::Malformed("verification_uri"));
    }
    if let Some(c) = &out.verification_uri_complete {
        if !is_web_url(c) {
            return Err(JsonError::Malformed("verification_uri_complete"));
        }
    }
    if out.expires_in == 0 {
        return Err(JsonError::Malformed("expires_in"));
    }
    out.interval = match interval {
        None | Some(0) => DEFAULT_INTERVAL_SECS,
        Some(s) => s.max(MIN_INTERVAL_SECS),
    };
    // A server asking to wait longer than its codes live could never be polled.
    if out.interval > out.expires_in {
        return Err(JsonError::Malformed("interval"));
    }
    Ok(())
}

/// An `http(s)://` URL of visible ASCII (a person opens it; a QR code carries it).
fn is_web_url(s: &str) -> bool {
    let b = s.as_bytes();
    let scheme =
        |p: &[u8]| b.len() > p.len() && b.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    (scheme(b"https://") || scheme(b"http://")) && b.iter().all(|c| (0x21..0x7f).contains(c))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PollState {
    /// The next poll is due at `next_at`.
    Waiting,
    Sent,
    Got,
    Finished,
}

/// Token polling for the device grant (RFC 8628 §3.4–3.5), a [`PacedFlow`]: made by
/// [`device_token`].
#[derive(Debug)]
pub struct DeviceToken<'c> {
    request: TokenRequest<'c>,
    /// The interval in force (grown by `slow_down`), in ms.
    interval_ms: u64,
    /// The wait before the next poll (the interval, or a longer one after a 5xx), in ms.
    wait_ms: u64,
    next_at: Instant,
    deadline: Instant,
    state: PollState,
    polls: u32,
}

/// Poll the client's token endpoint for the token of `authorization`. The first poll is due
/// one interval after the authorization was received.
pub fn device_token<'c>(
    client: &'c Client,
    authorization: &'c DeviceAuthorization,
) -> Result<DeviceToken<'c>, Error> {
    let code = authorization.device_code.expose();
    if code.is_empty() {
        return Err(Error::InvalidInput {
            what: "device_code",
        });
    }
    let interval_ms = authorization
        .interval
        .max(MIN_INTERVAL_SECS)
        .saturating_mul(1000);
    Ok(DeviceToken {
        request: TokenRequest::new(client, DEVICE_CODE_GRANT, &[("device_code", Some(code))])?,
        interval_ms,
        wait_ms: interval_ms,
        next_at: authorization.received.plus_millis(interval_ms),
        deadline: authorization.expires_at(),
        state: PollState::Waiting,
        polls: 0,
    })
}

impl DeviceToken<'_> {
    /// Polls sent so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// The interval in force, in seconds (the server's, plus 5 s per `slow_down`).
    pub fn interval_secs(&self) -> u64 {
        self.interval_ms / 1000
    }

    /// When the next poll is due.
    pub fn next_poll_at(&self) -> Instant {
        self.next_at
    }

    /// Poll again `wait_ms` after `now`.
    fn again(&mut self, now: Instant, wait_ms: u64) {
        self.wait_ms = wait_ms;
        self.next_at = now.plus_millis(wait_ms);
        self.state = PollState::Waiting;
    }
}

impl PacedFlow for DeviceToken<'_> {
    type Output = TokenSet;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Paced<'b>, Error> {
        match self.state {
            PollState::Waiting => {
                if self.next_at > self.deadline {
                    // The code expires before the next poll is allowed: give up now.
                    self.state = PollState::Finished;
                    return Err(Error::ExpiredToken);
                }
                if now < self.next_at {
                    return Ok(Paced::Wait {
                        until: self.next_at,
                    });
                }
                let request = self.request.request(now, buf)?;
                self.state = PollState::Sent;
                self.polls = self.polls.saturating_add(1);
                Ok(Paced::Send(request))
            }
            PollState::Got => {
                self.state = PollState::Finished;
                Ok(Paced::Done)
            }
            PollState::Sent | PollState::Finished => Err(Error::State),
        }
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<TokenSet>,
    ) -> Result<(), Error> {
        if self.state != PollState::Sent {
            return Err(Error::State);
        }
        self.state = PollState::Finished;
        let error = match self.request.response_into(now, response, out) {
            Ok(()) if out.is_some() => {
                self.state = PollState::Got;
                return Ok(());
            }
            Ok(()) => return Err(Error::NO_OUTPUT),
            Err(e) => e,
        };
        *out = None;
        match &error {
            Error::OAuth { error: code, .. } => match code.as_str() {
                "authorization_pending" => {
                    self.again(now, self.interval_ms);
                    Ok(())
                }
                "slow_down" => {
                    self.interval_ms = self.interval_ms.saturating_add(SLOW_DOWN_SECS * 1000);
                    self.again(now, self.interval_ms);
                    Ok(())
                }
                "access_denied" => Err(Error::AccessDenied),
                "expired_token" => Err(Error::ExpiredToken),
                _ if error.is_transient() => self.transient(now, response),
                _ => Err(error),
            },
            _ if error.is_transient() => self.transient(now, response),
            _ => Err(error),
        }
    }
}

impl DeviceToken<'_> {
    /// A 5xx or 429 while polling: wait twice as long as last time (at most
    /// [`MAX_TRANSIENT_BACKOFF_SECS`], at least the interval and any `Retry-After`), then poll
    /// again (RFC 8628 §3.5 asks for a backoff on errors of the connection).
    fn transient(&mut self, now: Instant, response: Response<'_>) -> Result<(), Error> {
        let doubled = self
            .wait_ms
            .saturating_mul(2)
            .min(MAX_TRANSIENT_BACKOFF_SECS * 1000);
        let asked = response
            .retry_after_secs()
            .map_or(0, |s| s.saturating_mul(1000));
        self.again(now, doubled.max(self.interval_ms).max(asked));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flow;
    use crate::Step;
    use crate::testing::{golden, render};
    use std::string::String;
    use std::vec::Vec;

    /// The RFC 8628 §3.1 client: public, id `1406020730`.
    fn public_client() -> Client {
        Client::new("https://server.example.com/token", "1406020730").unwrap()
    }

    /// RFC 8628 §3.2, the example response, verbatim.
    const RFC_3_2: &[u8] = br#"{
      "device_code": "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
      "user_code": "WDJB-MJHT",
      "verification_uri": "https://example.com/device",
      "verification_uri_complete":
          "https://example.com/device?user_code=WDJB-MJHT",
      "expires_in": 1800,
      "interval": 5
    }"#;

    fn authorization(body: &[u8], at: u64) -> Result<DeviceAuthorization, Error> {
        let c = public_client();
        let mut flow =
            device_authorization(&c, "https://server.example.com/device_authorization", None)
                .unwrap();
        let mut buf = [0u8; 2048];
        let now = Instant::from_millis(at);
        let Step::Send(_) = flow.poll(now, &mut buf)? else {
            panic!("a request first")
        };
        let mut out = None;
        flow.handle(now, Response::new(200, body), &mut out)?;
        match flow.poll(now, &mut buf)? {
            Step::Done => crate::take_output(&mut out),
            Step::Send(_) => panic!("one request only"),
        }
    }

    #[test]
    fn rfc8628_3_1_request_and_3_2_response() {
        let c = public_client();
        golden(
            &mut device_authorization(
                &c,
                "https://server.example.com/device_authorization",
                Some("example_scope"),
            )
            .unwrap(),
            // RFC 8628 §3.1: "client_id=1406020730&scope=example_scope" (the same members; the
            // client's id comes after the grant's parameters here, as in §3.4).
            "POST https://server.example.com/device_authorization\n\
             Accept: application/json\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             scope=example_scope&client_id=1406020730",
        );
        let a = authorization(RFC_3_2, 1_000).unwrap();
        assert_eq!(
            a.device_code().expose(),
            "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"
        );
        assert_eq!(a.user_code(), "WDJB-MJHT");
        assert_eq!(a.verification_uri(), "https://example.com/device");
        assert_eq!(
            a.verification_uri_complete(),
            Some("https://example.com/device?user_code=WDJB-MJHT")
        );
        assert_eq!(a.expires_in_secs(), 1800);
        assert_eq!(a.interval_secs(), 5);
        assert_eq!(a.expires_at(), Instant::from_millis(1_801_000));
        // The device code never prints.
        let shown = std::format!("{a:?}");
        assert!(!shown.contains("GmRhmhcx"), "{shown}");
    }

    #[test]
    fn rfc8628_3_4_token_request() {
        let c = public_client();
        let a = authorization(RFC_3_2, 0).unwrap();
        let mut flow = device_token(&c, &a).unwrap();
        let mut buf = [0u8; 2048];
        // Not before one interval.
        assert!(matches!(
            flow.poll(Instant::from_millis(0), &mut buf).unwrap(),
            Paced::Wait { until } if until == Instant::from_millis(5_000)
        ));
        let Paced::Send(r) = flow.poll(Instant::from_millis(5_000), &mut buf).unwrap() else {
            panic!("a poll")
        };
        // RFC 8628 §3.4, verbatim body.
        assert_eq!(
            render(&r),
            "POST https://server.example.com/token\n\
             Accept: application/json\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
             &device_code=GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS&client_id=1406020730"
        );
    }

    /// Drive the polling with a simulated clock that jumps to each `Wait`; answers come from
    /// `answer(poll number)`. Returns the outcome and the transcript.
    fn run(
        a: &DeviceAuthorization,
        mut answer: impl FnMut(u32) -> (u16, Vec<u8>),
    ) -> (Result<TokenSet, Error>, Vec<String>) {
        let c = Client::new("https://server.example.com/token", "1406020730")
            .unwrap()
            .with_secret("device-secret")
            .unwrap();
        let mut flow = device_token(&c, a).unwrap();
        let mut now = Instant::from_millis(0);
        let mut buf = [0u8; 4096];
        let mut transcript = Vec::new();
        let mut out = None;
        for _ in 0..10_000 {
            match flow.poll(now, &mut buf) {
                Ok(Paced::Wait { until }) => {
                    assert!(until > now, "a wait that does not move time");
                    transcript.push(std::format!("wait {}", until.as_millis()));
                    now = until;
                }
                Ok(Paced::Send(_)) => {
                    let (status, body) = answer(flow.polls());
                    transcript.push(std::format!("poll {} at {}", flow.polls(), now.as_millis()));
                    if let Err(e) = flow.handle(now, Response::new(status, &body), &mut out) {
                        transcript.push(std::format!("error {}", e.kind()));
                        return (Err(e), transcript);
                    }
                }
                Ok(Paced::Done) => {
                    transcript.push(String::from("done"));
                    return (crate::take_output(&mut out), transcript);
                }
                Err(e) => {
                    transcript.push(std::format!("error {}", e.kind()));
                    return (Err(e), transcript);
                }
            }
        }
        panic!("no end: {transcript:?}");
    }

    fn oauth(code: &str) -> (u16, Vec<u8>) {
        (400, std::format!(r#"{{"error":"{code}"}}"#).into_bytes())
    }

    const TOKEN: &[u8] = br#"{"access_token":"device-at","token_type":"Bearer","expires_in":3600,"refresh_token":"device-rt"}"#;

    #[test]
    fn rfc8628_3_5_pending_slow_down_then_token() {
        let a = authorization(RFC_3_2, 0).unwrap();
        let (out, transcript) = run(&a, |n| match n {
            1 | 2 => oauth("authorization_pending"),
            3 => oauth("slow_down"),
            4 => oauth("authorization_pending"),
            _ => (200, TOKEN.to_vec()),
        });
        let t = out.unwrap();
        assert_eq!(t.access.value.expose(), "device-at");
        assert_eq!(t.refresh.unwrap().expose(), "device-rt");
        assert_eq!(
            transcript,
            [
                "wait 5000",
                "poll 1 at 5000",
                "wait 10000",
                "poll 2 at 10000",
                "wait 15000",
                "poll 3 at 15000",
                // slow_down: 5 s more, for this and every later poll.
                "wait 25000",
                "poll 4 at 25000",
                "wait 35000",
                "poll 5 at 35000",
                "done"
            ]
        );
    }

    #[test]
    fn denied_and_expired_are_typed() {
        let a = authorization(RFC_3_2, 0).unwrap();
        let (out, _) = run(&a, |_| oauth("access_denied"));
        assert_eq!(out.unwrap_err(), Error::AccessDenied);
        let (out, _) = run(&a, |_| oauth("expired_token"));
        assert_eq!(out.unwrap_err(), Error::ExpiredToken);
        let (out, _) = run(&a, |_| oauth("invalid_client"));
        assert_eq!(out.unwrap_err().kind(), "oauth");
        // An error member in a 200 body (the default quirks) is read the same way.
        let (out, _) = run(&a, |_| (200, br#"{"error":"access_denied"}"#.to_vec()));
        assert_eq!(out.unwrap_err(), Error::AccessDenied);
    }

    #[test]
    fn gives_up_at_expires_in_and_polls_are_bounded() {
        // Pending forever: 1800 s at 5 s is at most 360 polls, and then ExpiredToken with no
        // poll past the deadline.
        let a = authorization(RFC_3_2, 0).unwrap();
        let mut last_poll = 0;
        let (out, transcript) = run(&a, |n| {
            last_poll = n;
            oauth("authorization_pending")
        });
        assert_eq!(out.unwrap_err(), Error::ExpiredToken);
        assert!(last_poll <= 1800 / 5, "{last_poll} polls");
        assert_eq!(last_poll, 360);
        assert!(transcript.iter().all(|l| !l.starts_with("poll") || {
            let at: u64 = l.rsplit(' ').next().unwrap().parse().unwrap();
            at <= 1_800_000
        }));
    }

    #[test]
    fn a_slow_down_storm_only_slows_polling() {
        let a = authorization(RFC_3_2, 0).unwrap();
        let mut polls = 0;
        let (out, transcript) = run(&a, |n| {
            polls = n;
            oauth("slow_down")
        });
        assert_eq!(out.unwrap_err(), Error::ExpiredToken);
        // Waits of 10, 15, 20, … s: far fewer polls than 1800 / 5.
        assert!(polls < 30, "{polls}: {transcript:?}");
        // Never two polls closer than the interval in force.
        let times: Vec<u64> = transcript
            .iter()
            .filter_map(|l| l.strip_prefix("poll "))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        for w in times.windows(2) {
            assert!(w[1] - w[0] >= 5_000, "{times:?}");
        }
    }

    #[test]
    fn transient_answers_back_off() {
        let a = authorization(RFC_3_2, 0).unwrap();
        let (out, transcript) = run(&a, |n| match n {
            1..=3 => (503, b"busy".to_vec()),
            _ => (200, TOKEN.to_vec()),
        });
        assert!(out.is_ok());
        assert_eq!(
            &transcript[..8],
            [
                "wait 5000",
                "poll 1 at 5000",
                "wait 15000",
                "poll 2 at 15000",
                "wait 35000",
                "poll 3 at 35000",
                "wait 75000",
                "poll 4 at 75000",
            ]
        );
    }

    #[test]
    fn bad_authorization_answers_are_typed() {
        let ok = |interval: &str| {
            std::format!(
                r#"{{"device_code":"dc","user_code":"U-1","verification_uri":"https://v.example/d","expires_in":600{interval}}}"#
            )
        };
        // Interval missing or 0: the default 5 s; 1: 1 s.
        for (extra, want) in [("", 5), (r#","interval":0"#, 5), (r#","interval":1"#, 1)] {
            let a = authorization(ok(extra).as_bytes(), 0).unwrap();
            assert_eq!(a.interval_secs(), want, "{extra}");
        }
        let cases: &[(&str, &str)] = &[
            (r#","interval":-5"#, "interval"),
            (r#","interval":601"#, "interval"),
            (r#","interval":99999999999999999999999"#, "interval"),
            (r#","interval":1.5"#, "interval"),
        ];
        for (extra, what) in cases {
            let e = authorization(ok(extra).as_bytes(), 0).unwrap_err();
            assert!(
                matches!(e, Error::Malformed { what: w, .. } if w == *what),
                "{extra}: {e:?}"
            );
        }
        let bodies: &[(&[u8], &str)] = &[
            (
                br#"{"device_code":"dc","user_code":"U","verification_uri":"https://v.example/d"}"#,
                "expires_in",
            ),
            (
                br#"{"device_code":"dc","user_code":"U","verification_uri":"https://v.example/d","expires_in":0}"#,
                "expires_in",
            ),
            (
                br#"{"user_code":"U","verification_uri":"https://v.example/d","expires_in":60}"#,
                "device_code",
            ),
            (
                br#"{"device_code":"dc","user_code":"U\u001b[2J","verification_uri":"https://v.example/d","expires_in":60}"#,
                "user_code",
            ),
            (
                br#"{"device_code":"dc","user_code":"U","verification_uri":"javascript:alert(1)","expires_in":60}"#,
                "verification_uri",
            ),
            (
                br#"{"device_code":"dc","user_code":"U","verification_uri":"https://v.example/d","verification_uri_complete":"https://v.example/d?x=\n","expires_in":60}"#,
                "verification_uri_complete",
            ),
            (b"", "device authorization response"),
        ];
        for (body, what) in bodies {
            let e = authorization(body, 0).unwrap_err();
            assert!(
                matches!(e, Error::Malformed { what: w, .. } if w == *what),
                "{:?}: {e:?}",
                core::str::from_utf8(body)
            );
            // The device code never reaches an error.
            assert!(!std::format!("{e} {e:?}").contains("\"dc\""));
        }
        let refusal = authorization(br#"{"error":"invalid_client"}"#, 0).unwrap_err();
        assert_eq!(refusal.kind(), "oauth");
        // With the switch off an `error` member in a 200 is no refusal: the codes are missing.
        let strict =
            public_client().with_quirks(crate::Quirks::DEFAULT.with_error_in_success_body(false));
        let mut flow =
            device_authorization(&strict, "https://server.example.com/device", None).unwrap();
        let mut buf = [0u8; 1024];
        let _ = flow.poll(Instant::from_millis(0), &mut buf).unwrap();
        let e = flow
            .handle(
                Instant::from_millis(0),
                Response::new(200, br#"{"error":"invalid_client"}"#),
                &mut None,
            )
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Malformed {
                    what: "device_code",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_200_without_a_token_ends_the_polling() {
        let a = authorization(RFC_3_2, 0).unwrap();
        let (out, transcript) = run(&a, |_| (200, br#"{"token_type":"Bearer"}"#.to_vec()));
        assert!(
            matches!(
                out,
                Err(Error::Malformed {
                    what: "access_token",
                    ..
                })
            ),
            "{transcript:?}"
        );
        assert_eq!(
            transcript.iter().filter(|l| l.starts_with("poll")).count(),
            1
        );
    }

    #[test]
    fn early_calls_wait_and_misuse_is_state() {
        let a = authorization(RFC_3_2, 0).unwrap();
        let c = public_client();
        let mut flow = device_token(&c, &a).unwrap();
        let mut buf = [0u8; 2048];
        // However often a driver wakes early, nothing is sent before the interval.
        for ms in [0, 1, 4_999] {
            assert!(matches!(
                flow.poll(Instant::from_millis(ms), &mut buf),
                Ok(Paced::Wait { .. })
            ));
        }
        assert_eq!(
            flow.handle(
                Instant::from_millis(0),
                Response::new(200, TOKEN),
                &mut None
            ),
            Err(Error::State)
        );
        let mut small = [0u8; 16];
        assert!(matches!(
            flow.poll(Instant::from_millis(5_000), &mut small),
            Err(Error::BufferTooSmall { .. })
        ));
        // A buffer too small leaves the flow ready to poll with a bigger one.
        assert!(matches!(
            flow.poll(Instant::from_millis(5_000), &mut buf),
            Ok(Paced::Send(_))
        ));
        assert!(matches!(
            flow.poll(Instant::from_millis(5_000), &mut buf),
            Err(Error::State)
        ));
    }
}
