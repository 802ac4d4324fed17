//! Token revocation (RFC 7009): tell the server a token is no longer wanted (sign-out).
//!
//! One form `POST` per token to the revocation endpoint, authenticated like the token
//! endpoint, with `token` and an optional `token_type_hint` (§2.1). Any 2xx means done (§2.2:
//! the server answers 200 for a token it does not know, too, so an already revoked token is
//! not an error). A 503 or another transient answer is retried after the
//! [`Policy`](crate::session::Policy)'s backoff (at least its `Retry-After`, §2.2.1) up to
//! `max_retries` times, so a [`Revocation`] is a [`PacedFlow`]. Any other answer is the
//! server's error (`unsupported_token_type`: the server cannot revoke that kind of token).
//!
//! [`revoke_tokens`] revokes a whole sign-in: the refresh token first (§2.1: the server then
//! also invalidates the access tokens issued from it, where it can), then the access token.

use super::{Client, client_form, read_error};
use crate::session::{HasAccessToken, Policy};
use crate::{Error, Instant, Paced, PacedFlow, Response};

/// Which kind of token is revoked (RFC 7009 §2.1 `token_type_hint`): lets the server find it
/// faster; a wrong hint still works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// The hint as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenTypeHint::AccessToken => "access_token",
            TokenTypeHint::RefreshToken => "refresh_token",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ready,
    Sent,
    Finished,
}

/// Revokes one or two tokens, retrying transient refusals: made by [`revoke`] or
/// [`revoke_tokens`]. Done with `()` once every token is revoked. `Debug` shows the tokens'
/// hints, never the tokens.
pub struct Revocation<'c> {
    client: &'c Client,
    url: &'c str,
    tokens: heapless::Vec<(&'c str, Option<TokenTypeHint>), 2>,
    /// Tokens revoked so far (the next one to send).
    done: usize,
    state: State,
    not_before: Option<Instant>,
    retries: u32,
    policy: Policy,
    entropy: [u8; 16],
}

impl core::fmt::Debug for Revocation<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut hints: heapless::Vec<Option<TokenTypeHint>, 2> = heapless::Vec::new();
        for (_, hint) in &self.tokens {
            let _ = hints.push(*hint);
        }
        f.debug_struct("Revocation")
            .field("client", self.client)
            .field("url", &crate::http::UrlWithoutQuery(self.url))
            .field("hints", &hints)
            .field("done", &self.done)
            .field("state", &self.state)
            .field("not_before", &self.not_before)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

/// Revoke `token` at the revocation endpoint `url` (checked: `https://`, or `http://` to
/// loopback), with `hint` when given.
pub fn revoke<'c>(
    client: &'c Client,
    url: &'c str,
    token: &'c str,
    hint: Option<TokenTypeHint>,
) -> Result<Revocation<'c>, Error> {
    let mut r = Revocation::new(client, url)?;
    r.push(token, hint)?;
    Ok(r)
}

/// Revoke what a sign-in produced: its refresh token, if any, then its access token.
pub fn revoke_tokens<'c, T: HasAccessToken + ?Sized>(
    client: &'c Client,
    url: &'c str,
    tokens: &'c T,
) -> Result<Revocation<'c>, Error> {
    let mut r = Revocation::new(client, url)?;
    if let Some(refresh) = tokens.refresh_token() {
        r.push(refresh.expose(), Some(TokenTypeHint::RefreshToken))?;
    }
    r.push(
        tokens.access_token().value.expose(),
        Some(TokenTypeHint::AccessToken),
    )?;
    Ok(r)
}

impl<'c> Revocation<'c> {
    fn new(client: &'c Client, url: &'c str) -> Result<Self, Error> {
        crate::http::check_url(url)?;
        Ok(Revocation {
            client,
            url,
            tokens: heapless::Vec::new(),
            done: 0,
            state: State::Ready,
            not_before: None,
            retries: 0,
            policy: Policy::DEFAULT,
            entropy: [0; 16],
        })
    }

    fn push(&mut self, token: &'c str, hint: Option<TokenTypeHint>) -> Result<(), Error> {
        if token.is_empty() {
            return Err(Error::InvalidInput { what: "token" });
        }
        self.tokens
            .push((token, hint))
            .map_err(|_| super::TOO_MANY_PARAMS)
    }

    /// Retry transient refusals under `policy` (default [`Policy::DEFAULT`]: twice, after
    /// 100 ms then 200 ms, half of it jitter).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Fresh random bytes for the backoff's jitter (the core has no random source; without
    /// them the jitter is 0 and the backoff is only its fixed half).
    pub fn with_entropy(mut self, entropy: [u8; 16]) -> Self {
        self.entropy = entropy;
        self
    }

    /// Tokens revoked so far.
    pub fn revoked(&self) -> usize {
        self.done
    }

    fn jitter(&self) -> u32 {
        let at = (self.retries as usize % 4) * 4;
        let mut b = [0u8; 4];
        if let Some(src) = self.entropy.get(at..at + 4) {
            b.copy_from_slice(src);
        }
        u32::from_le_bytes(b)
    }
}

impl PacedFlow for Revocation<'_> {
    type Output = ();

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Paced<'b>, Error> {
        if self.state != State::Ready {
            return Err(Error::State);
        }
        if let Some(until) = self.not_before {
            if now < until {
                return Ok(Paced::Wait { until });
            }
        }
        let Some(&(token, hint)) = self.tokens.get(self.done) else {
            self.state = State::Finished;
            return Ok(Paced::Done);
        };
        let mut params: heapless::Vec<(&str, &str), 2> = heapless::Vec::new();
        params
            .push(("token", token))
            .map_err(|_| super::TOO_MANY_PARAMS)?;
        if let Some(h) = hint {
            params
                .push(("token_type_hint", h.as_str()))
                .map_err(|_| super::TOO_MANY_PARAMS)?;
        }
        let request = client_form(self.client, self.url, &params, buf)?;
        self.state = State::Sent;
        Ok(Paced::Send(request))
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<()>,
    ) -> Result<(), Error> {
        if self.state != State::Sent {
            return Err(Error::State);
        }
        // §2.2: the body of a success is ignored.
        if (200..300).contains(&response.status) {
            self.done += 1;
            // The output (nothing) is there once the last token is revoked.
            *out = (self.done == self.tokens.len()).then_some(());
            self.retries = 0;
            self.not_before = None;
            self.state = State::Ready;
            return Ok(());
        }
        let error = read_error(response);
        if error.is_transient() && self.retries < self.policy.max_retries() {
            let after = response.retry_after_secs().map(|s| s.saturating_mul(1000));
            let delay = self.policy.backoff_ms(self.retries, after, self.jitter());
            self.retries += 1;
            self.not_before = Some(now.plus_millis(delay));
            self.state = State::Ready;
            return Ok(());
        }
        self.state = State::Finished;
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::render;
    use crate::{AccessToken, Expiry, Header, Secret, TokenSet};
    use std::string::String;
    use std::vec::Vec;

    /// The RFC 7009 §2.1 client: `s6BhdRkqt3` / `gX1fBat3bV`.
    fn client() -> Client {
        Client::new("https://server.example.com/token", "s6BhdRkqt3")
            .unwrap()
            .with_secret("gX1fBat3bV")
            .unwrap()
    }

    /// Drive with a clock that jumps to each wait; `answers` in order.
    fn run(
        mut r: Revocation<'_>,
        answers: &[(u16, &[u8], Option<&str>)],
    ) -> (Result<(), Error>, Vec<String>) {
        let mut now = Instant::from_millis(0);
        let mut buf = [0u8; 4096];
        let mut next = answers.iter();
        let mut out = Vec::new();
        let mut done = None;
        for _ in 0..64 {
            match r.poll(now, &mut buf) {
                Ok(Paced::Wait { until }) => {
                    out.push(std::format!("wait {}", until.as_millis()));
                    now = until;
                }
                Ok(Paced::Send(req)) => {
                    out.push(String::from_utf8(req.body.to_vec()).unwrap());
                    let (status, body, after) = next.next().expect("an answer");
                    let h = after.map(|a| Header {
                        name: "Retry-After",
                        value: a.as_bytes(),
                    });
                    let headers: Vec<Header<'_>> = h.into_iter().collect();
                    let resp = Response::new(*status, body).with_headers(&headers);
                    if let Err(e) = r.handle(now, resp, &mut done) {
                        out.push(std::format!("error {}", e.kind()));
                        return (Err(e), out);
                    }
                }
                Ok(Paced::Done) => return (crate::take_output(&mut done), out),
                Err(e) => return (Err(e), out),
            }
        }
        panic!("no end: {out:?}")
    }

    #[test]
    fn rfc7009_2_1_request() {
        let c = client();
        let mut r = revoke(
            &c,
            "https://server.example.com/revoke",
            "45ghiukldjahdnhzdauz",
            Some(TokenTypeHint::RefreshToken),
        )
        .unwrap();
        let mut buf = [0u8; 1024];
        let Paced::Send(req) = r.poll(Instant::from_millis(0), &mut buf).unwrap() else {
            panic!("a request")
        };
        // RFC 7009 §2.1, verbatim (the Basic value is the RFC's).
        assert_eq!(
            render(&req),
            "POST https://server.example.com/revoke\n\
             Accept: application/json\n\
             Authorization: Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             token=45ghiukldjahdnhzdauz&token_type_hint=refresh_token"
        );
    }

    #[test]
    fn rfc7009_2_2_any_200_is_done_even_for_an_unknown_token() {
        let c = client();
        let r = revoke(&c, "https://server.example.com/revoke", "unknown", None).unwrap();
        let (out, sent) = run(r, &[(200, b"", None)]);
        assert_eq!(out, Ok(()));
        assert_eq!(sent, ["token=unknown"]);
    }

    #[test]
    fn a_sign_in_is_revoked_refresh_token_first() {
        let c = client();
        let set = TokenSet {
            access: AccessToken {
                value: Secret::new("at-1", "t").unwrap(),
                expiry: Expiry::Unknown,
            },
            refresh: Some(Secret::new("rt-1", "t").unwrap()),
            scope: None,
            expires_in: None,
        };
        let r = revoke_tokens(&c, "https://server.example.com/revoke", &set).unwrap();
        let (out, sent) = run(r, &[(200, b"{}", None), (200, b"", None)]);
        assert_eq!(out, Ok(()));
        assert_eq!(
            sent,
            [
                "token=rt-1&token_type_hint=refresh_token",
                "token=at-1&token_type_hint=access_token"
            ]
        );
        // An access token alone: one request.
        let r = revoke_tokens(&c, "https://server.example.com/revoke", &set.access).unwrap();
        let (_, sent) = run(r, &[(200, b"", None)]);
        assert_eq!(sent, ["token=at-1&token_type_hint=access_token"]);
    }

    #[test]
    fn rfc7009_2_2_1_a_503_is_retried_after_the_backoff_then_fails() {
        let c = client();
        let r = revoke(&c, "https://server.example.com/revoke", "t", None).unwrap();
        // Retry-After: 3 → the first retry 3 s later (plus jitter 0), then the policy's backoff.
        let (out, sent) = run(
            r,
            &[(503, b"", Some("3")), (503, b"", None), (200, b"", None)],
        );
        assert_eq!(out, Ok(()));
        assert_eq!(
            sent,
            ["token=t", "wait 3000", "token=t", "wait 3100", "token=t"]
        );
        let r = revoke(&c, "https://server.example.com/revoke", "t", None)
            .unwrap()
            .with_policy(Policy::DEFAULT.with_max_retries(1));
        let (out, _) = run(r, &[(503, b"", None), (503, b"", None)]);
        assert_eq!(out.unwrap_err().status(), Some(503));
    }

    #[test]
    fn refusals_are_typed_and_inputs_checked() {
        let c = client();
        let r = revoke(
            &c,
            "https://server.example.com/revoke",
            "t",
            Some(TokenTypeHint::AccessToken),
        )
        .unwrap();
        let (out, _) = run(r, &[(400, br#"{"error":"unsupported_token_type"}"#, None)]);
        assert!(
            matches!(out, Err(Error::OAuth { ref error, .. }) if error == "unsupported_token_type")
        );
        assert_eq!(
            revoke(&c, "https://server.example.com/revoke", "", None).unwrap_err(),
            Error::InvalidInput { what: "token" }
        );
        assert_eq!(
            revoke(&c, "http://server.example.com/revoke", "t", None).unwrap_err(),
            Error::Insecure
        );
        let mut r = revoke(&c, "https://server.example.com/revoke", "t", None).unwrap();
        assert_eq!(
            r.handle(Instant::from_millis(0), Response::new(200, b""), &mut None),
            Err(Error::State)
        );
    }
}
