//! Authorization code grant with PKCE S256 and `state` (RFC 6749 §4.1, RFC 7636).
//!
//! 1. [`authorize_url`] writes the URL to send the user to and returns the [`Authorization`]
//!    (state + PKCE verifier) to keep until the user comes back.
//! 2. [`parse_callback`] reads the redirect URL, checks `state` in constant time, yields the code.
//! 3. [`authorization_code`] exchanges the code (and verifier) for tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::TOO_MANY_PARAMS;
use super::{Client, TokenFlow, TokenRequest};
use crate::{Error, Method, OneShot, RequestBuilder, Secret, form};

/// A PKCE code verifier (RFC 7636 §4.1): 43 to 128 unreserved characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkce {
    verifier: Secret<128>,
}

impl Pkce {
    /// A verifier made from 32 bytes of the caller's entropy (base64url, 43 characters).
    pub fn from_entropy(bytes: &[u8; 32]) -> Self {
        let mut out = [0u8; 43];
        let n = URL_SAFE_NO_PAD.encode_slice(bytes, &mut out).unwrap_or(0);
        let text = core::str::from_utf8(out.get(..n).unwrap_or(&[])).unwrap_or("");
        Pkce {
            verifier: Secret::new(text, "code_verifier").unwrap_or_default(),
        }
    }

    /// Use a verifier you already have (checked against RFC 7636's alphabet and length).
    pub fn from_verifier(verifier: &str) -> Result<Self, Error> {
        let ok_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(ok_char) {
            return Err(Error::InvalidInput {
                what: "code_verifier",
            });
        }
        Ok(Pkce {
            verifier: Secret::new(verifier, "code_verifier")?,
        })
    }

    /// The verifier, sent with the code exchange.
    pub fn verifier(&self) -> &str {
        self.verifier.expose()
    }

    /// The S256 challenge: base64url(SHA-256(verifier)), 43 characters.
    pub fn challenge(&self) -> heapless::String<43> {
        let digest = crate::hash::sha256(&[self.verifier.expose().as_bytes()]);
        let mut out = [0u8; 43];
        let n = URL_SAFE_NO_PAD.encode_slice(digest, &mut out).unwrap_or(0);
        let text = core::str::from_utf8(out.get(..n).unwrap_or(&[])).unwrap_or("");
        heapless::String::try_from(text).unwrap_or_default()
    }
}

/// What to keep between sending the user away and their return: `state` and the PKCE verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The `state` sent (base64url of 16 entropy bytes).
    pub state: heapless::String<22>,
    /// The PKCE verifier.
    pub pkce: Pkce,
}

impl Authorization {
    /// State and verifier from 48 bytes of the caller's entropy (16 for state, 32 for PKCE).
    pub fn from_entropy(entropy: &[u8; 48]) -> Self {
        let (state_bytes, pkce_bytes) = entropy.split_at(16);
        let mut out = [0u8; 22];
        let n = URL_SAFE_NO_PAD
            .encode_slice(state_bytes, &mut out)
            .unwrap_or(0);
        let text = core::str::from_utf8(out.get(..n).unwrap_or(&[])).unwrap_or("");
        let mut pkce = [0u8; 32];
        pkce.copy_from_slice(pkce_bytes.get(..32).unwrap_or(&[0; 32]));
        Authorization {
            state: heapless::String::try_from(text).unwrap_or_default(),
            pkce: Pkce::from_entropy(&pkce),
        }
    }
}

/// Write the authorization URL into `buf`: `authorize_endpoint?response_type=code&client_id=…&
/// redirect_uri=…&state=…&code_challenge=…&code_challenge_method=S256[&scope=…]`.
pub fn authorize_url<'b>(
    client: &Client,
    authorize_endpoint: &str,
    redirect_uri: &str,
    scope: Option<&str>,
    authorization: &Authorization,
    buf: &'b mut [u8],
) -> Result<&'b str, Error> {
    crate::http::check_url(authorize_endpoint)?;
    let challenge = authorization.pkce.challenge();
    let mut params: heapless::Vec<(&str, &str), 7> = heapless::Vec::new();
    let base = [
        ("response_type", "code"),
        ("client_id", client.client_id()),
        ("redirect_uri", redirect_uri),
        ("state", authorization.state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for p in base {
        params.push(p).map_err(|_| TOO_MANY_PARAMS)?;
    }
    if let Some(s) = scope {
        params.push(("scope", s)).map_err(|_| TOO_MANY_PARAMS)?;
    }
    let mut rb = RequestBuilder::new(buf, Method::Get, authorize_endpoint, "");
    rb.query(&params);
    Ok(rb.finish_in_place()?.url)
}

/// What came back on the redirect: the authorization code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    /// The authorization code.
    pub code: Secret<512>,
}

/// Read the redirect URL (or just its query) the user came back with, check `state` against
/// `expected_state` in constant time, and return the code.
///
/// An `error=` answer is `Error::OAuth` (status 0: it came through the browser); a missing or
/// different `state` is `Error::StateMismatch`; a missing code is `Error::Malformed`. An `iss`
/// parameter is not checked here: use [`parse_callback_from`] with the server's issuer when it
/// sends one (RFC 9207).
pub fn parse_callback(url: &str, expected_state: &str) -> Result<Callback, Error> {
    parse_callback_checked(url, expected_state, None)
}

/// [`parse_callback`] that also checks the mix-up defence of RFC 9207: the callback's `iss`
/// must be present and equal `expected_issuer` (the authorization server's issuer identifier,
/// compared as a string, RFC 9207 §2.4), else `Error::IssuerMismatch` — for an error answer
/// too. Use it with every server that advertises
/// `authorization_response_iss_parameter_supported`, and whenever a client talks to more
/// than one authorization server.
pub fn parse_callback_from(
    url: &str,
    expected_state: &str,
    expected_issuer: &str,
) -> Result<Callback, Error> {
    parse_callback_checked(url, expected_state, Some(expected_issuer))
}

// Out of line: inlined, its working values (the code, state, error, issuer and description
// being decoded, ~2 KiB) would stay in the caller's frame for as long as it runs, e.g. under
// the whole code exchange that follows.
#[inline(never)]
fn parse_callback_checked(
    url: &str,
    expected_state: &str,
    expected_issuer: Option<&str>,
) -> Result<Callback, Error> {
    let query = url.split_once('?').map_or(url, |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    let mut code: Option<Secret<512>> = None;
    let mut state: Option<heapless::String<256>> = None;
    let mut error: Option<heapless::String<48>> = None;
    let mut issuer: Option<heapless::String<256>> = None;
    let mut description: heapless::String<{ crate::error::EXCERPT_CAP }> = heapless::String::new();
    let mut raw_code = "";
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // Never an excerpt of the URL: it carries the authorization code.
        let malformed = || Error::Malformed {
            what: "callback",
            excerpt: crate::Excerpt::default(),
        };
        let duplicate = match k {
            "code" => code.is_some(),
            "state" => state.is_some(),
            "error" => error.is_some(),
            "iss" => issuer.is_some(),
            _ => false,
        };
        if duplicate {
            return Err(malformed());
        }
        match k {
            "code" => {
                raw_code = v;
                // Decoded straight into the secret: no plain copy is left behind.
                let mut s = Secret::<512>::empty();
                if !form::decode_secret(v, &mut s) {
                    return Err(Error::Capacity { field: "code" });
                }
                code = Some(s);
            }
            "state" => {
                let mut s = heapless::String::new();
                if !form::decode(v, &mut s) {
                    return Err(Error::StateMismatch);
                }
                state = Some(s);
            }
            "error" => {
                let mut s = heapless::String::new();
                if !form::decode(v, &mut s) || !crate::error::is_error_code(&s) {
                    return Err(malformed());
                }
                error = Some(s);
            }
            "iss" => {
                let mut s = heapless::String::new();
                if !form::decode(v, &mut s) {
                    return Err(Error::IssuerMismatch);
                }
                issuer = Some(s);
            }
            "error_description" => {
                // Too long or not UTF-8: keep what decoded; it is only shown to people.
                let _ = form::decode(v, &mut description);
            }
            _ => {}
        }
    }
    let state_ok = match &state {
        Some(s) => Secret::<256>::new(s, "state").is_ok_and(|s| s.ct_eq(expected_state)),
        None => false,
    };
    if let Some(expected) = expected_issuer {
        if issuer.as_deref() != Some(expected) || expected.is_empty() {
            return Err(Error::IssuerMismatch);
        }
    }
    if let Some(error) = error {
        if !state_ok {
            return Err(Error::StateMismatch);
        }
        // The description is the server's free text: never let it echo the code.
        let echoes = |c: &str| !c.is_empty() && description.contains(c);
        if echoes(raw_code) || code.as_ref().is_some_and(|c| echoes(c.expose())) {
            description.clear();
        }
        return Err(Error::OAuth {
            status: 0,
            error,
            description: crate::Excerpt::of(description.as_bytes()),
        });
    }
    if !state_ok || expected_state.is_empty() {
        return Err(Error::StateMismatch);
    }
    let code = code.ok_or(Error::Malformed {
        what: "code",
        excerpt: crate::Excerpt::default(),
    })?;
    if code.is_empty() {
        return Err(Error::Malformed {
            what: "code",
            excerpt: crate::Excerpt::default(),
        });
    }
    Ok(Callback { code })
}

/// Exchange an authorization code (with its PKCE verifier, when one was used) for tokens.
// Out of line: inlined, its request's and Result's temporaries would stay in the caller's
// frame, which holds the driver's buffer for the whole run.
#[inline(never)]
pub fn authorization_code<'c>(
    client: &'c Client,
    code: &'c str,
    redirect_uri: &'c str,
    pkce: Option<&'c Pkce>,
) -> Result<TokenFlow<'c>, Error> {
    let params = [
        ("code", Some(code)),
        ("redirect_uri", Some(redirect_uri)),
        ("code_verifier", pkce.map(Pkce::verifier)),
    ];
    Ok(OneShot::new(TokenRequest::new(
        client,
        "authorization_code",
        &params,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth2::tests::client;
    use crate::testing::golden;

    #[test]
    fn rfc7636_vector() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(Pkce::from_verifier("short").is_err());
        assert_eq!(Pkce::from_entropy(&[7; 32]).verifier().len(), 43);
    }

    #[test]
    fn authorize_url_and_callback_round_trip() {
        let c = client();
        let auth = Authorization::from_entropy(&[1; 48]);
        let mut buf = [0u8; 1024];
        let url = authorize_url(
            &c,
            "https://server.example.com/authorize",
            "https://client.example.com/cb",
            Some("openid profile"),
            &auth,
            &mut buf,
        )
        .unwrap();
        assert_eq!(
            url,
            std::format!(
                "https://server.example.com/authorize?response_type=code&client_id=s6BhdRkqt3&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb&state={}&code_challenge={}&code_challenge_method=S256&scope=openid+profile",
                auth.state,
                auth.pkce.challenge()
            )
        );
        let cb = std::format!(
            "https://client.example.com/cb?code=Spl%2BxOi&state={}",
            auth.state
        );
        assert_eq!(
            parse_callback(&cb, &auth.state).unwrap().code.expose(),
            "Spl+xOi"
        );
    }

    #[test]
    fn the_issuer_is_checked_when_expected_rfc_9207() {
        // RFC 9207 §2.4's example: `iss` is the issuer identifier, form-encoded.
        let ok = "https://client.example/cb?code=x1848ZT64p4IirMPT0R-X3141MFPTuBX-VFL_cvaplMH58\
                  &state=ZWVlNDBlYzA1NjdkMDNhYjg3ZjUxZjAyNGQzMTM2NzI\
                  &iss=https%3A%2F%2Fhonest.as.example";
        let state = "ZWVlNDBlYzA1NjdkMDNhYjg3ZjUxZjAyNGQzMTM2NzI";
        let got = parse_callback_from(ok, state, "https://honest.as.example").unwrap();
        assert_eq!(
            got.code.expose(),
            "x1848ZT64p4IirMPT0R-X3141MFPTuBX-VFL_cvaplMH58"
        );
        // Another server's issuer, none at all, two of them, or an error answer from the
        // wrong server: refused before anything else is believed.
        for url in [
            ok.replace("honest", "attacker"),
            ok.replace("&iss=https%3A%2F%2Fhonest.as.example", ""),
            std::format!("{ok}&iss=https%3A%2F%2Fhonest.as.example"),
            std::format!("/cb?error=access_denied&state={state}&iss=https%3A%2F%2Fevil.example"),
        ] {
            assert!(
                matches!(
                    parse_callback_from(&url, state, "https://honest.as.example"),
                    Err(Error::IssuerMismatch | Error::Malformed { .. })
                ),
                "{url}"
            );
        }
        assert_eq!(
            parse_callback_from(
                &ok.replace("honest", "attacker"),
                state,
                "https://honest.as.example"
            ),
            Err(Error::IssuerMismatch)
        );
        // Without an expected issuer the parameter is ignored (servers that do not send it).
        assert!(parse_callback(&ok.replace("honest", "attacker"), state).is_ok());
    }

    #[test]
    fn callback_errors() {
        assert_eq!(
            parse_callback("/cb?code=a&state=x", "y"),
            Err(Error::StateMismatch)
        );
        assert_eq!(parse_callback("/cb?code=a", "y"), Err(Error::StateMismatch));
        assert_eq!(
            parse_callback("/cb?code=a&state=", ""),
            Err(Error::StateMismatch)
        );
        assert!(matches!(
            parse_callback("/cb?state=y", "y"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            parse_callback("/cb?code=a&code=b&state=y", "y"),
            Err(Error::Malformed { .. })
        ));
        match parse_callback(
            "/cb?error=access_denied&error_description=User+said+no&state=y",
            "y",
        ) {
            Err(Error::OAuth {
                error, description, ..
            }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_str(), "User said no");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_callback("/cb?error=access_denied&state=z", "y"),
            Err(Error::StateMismatch)
        );
    }

    #[test]
    fn an_error_description_never_echoes_the_code() {
        let e = parse_callback(
            "/cb?code=aiiiiiiiiai&error=ad&error_description=x+a%69iiiiiiiai&state=y",
            "y",
        )
        .unwrap_err();
        assert!(!std::format!("{e} {e:?}").contains("aiiiiiiiiai"));
    }

    #[test]
    fn malformed_callback_does_not_print_the_code() {
        let e = parse_callback("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=y&state=y", "y").unwrap_err();
        let s = std::format!("{e} {e:?}");
        assert!(!s.contains("SplxlOBeZQQYbYS6WxSbIA"), "{s}");
    }

    #[test]
    fn golden_code_exchange() {
        let c = client();
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        golden(
            &mut authorization_code(
                &c,
                "SplxlOBeZQQYbYS6WxSbIA",
                "https://client.example.com/cb",
                Some(&p),
            )
            .unwrap(),
            "POST https://server.example.com/token\n\
             Accept: application/json\n\
             Authorization: Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        );
    }
}
