//! The Punchh user object and its reader (the `user` member of the SSO answer and the
//! `GET /api/auth/users` answer).
//!
//! Seed 002: the client-level access token from `/oauth/token` goes "to the Fetch User
//! Information API to retrieve a user-level authentication or access token"; that user-level
//! token ([`User::user_token`]) then signs the user's calls ([`PunchhConfig::user_request`](super::PunchhConfig::user_request)).

use crate::json::{JsonError, Parser, Seen, is, note_error_member};
use crate::token::check_token_chars;
use crate::{Error, Secret};

/// Capacity of an email address (RFC 5321 path limit).
pub const EMAIL_CAP: usize = 254;
/// Capacity of a first or last name.
pub const NAME_CAP: usize = 64;
/// Capacity of a phone number.
pub const PHONE_CAP: usize = 32;
/// Capacity of each of the user's user-level tokens, `authentication_token` and `access_token`
/// (opaque tokens).
pub const AUTH_TOKEN_CAP: usize = 256;

/// A Punchh user: the members an ordering application needs out of the ~40 Punchh sends
/// (the others are skipped).
///
/// `email`, `first_name` and `last_name` read `null` (or absence) as empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Punchh user id.
    pub id: u64,
    /// Email address.
    pub email: heapless::String<EMAIL_CAP>,
    /// First name.
    pub first_name: heapless::String<NAME_CAP>,
    /// Last name.
    pub last_name: heapless::String<NAME_CAP>,
    /// Phone number, when the user gave one.
    pub phone: Option<heapless::String<PHONE_CAP>>,
    /// The user-level `authentication_token` for later calls on the user's behalf, when sent
    /// (`null` or `""` read as absent).
    pub authentication_token: Option<Secret<AUTH_TOKEN_CAP>>,
    /// The user-level `access_token`, when sent (seed 001's example has `"access_token": null`,
    /// read as absent).
    pub access_token: Option<Secret<AUTH_TOKEN_CAP>>,
}

impl User {
    /// Read a user object that is the whole of `body` (what `/api/auth/users` answers).
    pub fn from_json(body: &[u8]) -> Result<User, Error> {
        let mut user = User::empty();
        user_from_json(body, &mut user, None).map_err(|e| e.into_error(body))?;
        Ok(user)
    }

    /// The user-level token to sign the rest of the user's session with
    /// ([`PunchhConfig::user_request`](super::PunchhConfig::user_request)): the user's `access_token` when Punchh sent one, else the
    /// `authentication_token`; `None` when neither came.
    pub fn user_token(&self) -> Option<&Secret<AUTH_TOKEN_CAP>> {
        self.access_token
            .as_ref()
            .or(self.authentication_token.as_ref())
    }

    /// An empty user: the slot an answer is read into.
    pub(super) fn empty() -> Self {
        User {
            id: 0,
            email: heapless::String::new(),
            first_name: heapless::String::new(),
            last_name: heapless::String::new(),
            phone: None,
            authentication_token: None,
            access_token: None,
        }
    }
}

/// [`User::from_json`] into `user` (empty); `error` as for [`read_user`].
pub(super) fn user_from_json(
    body: &[u8],
    user: &mut User,
    error: Option<&mut bool>,
) -> Result<(), JsonError> {
    let mut p = Parser::new(body);
    read_user(&mut p, user, error)?;
    p.finish()
}

/// Read a user object at the parser's position into `u` (empty). When the object is the whole
/// answer, `error` notes an `error` member in it (see [`read_or_refusal`](crate::json)).
pub(super) fn read_user(
    p: &mut Parser<'_>,
    u: &mut User,
    mut error: Option<&mut bool>,
) -> Result<(), JsonError> {
    const ID: u32 = 1;
    const EMAIL: u32 = 1 << 1;
    const FIRST: u32 = 1 << 2;
    const LAST: u32 = 1 << 3;
    const PHONE: u32 = 1 << 4;
    const TOKEN: u32 = 1 << 5;
    const ACCESS: u32 = 1 << 6;
    let mut seen = Seen::new();
    p.object("user", |p, key| match key {
        k if is(k, "id") => {
            let id = p.u64("user.id")?;
            seen.first(ID, "user.id")?;
            u.id = id;
            Ok(())
        }
        k if is(k, "email") => {
            seen.first(EMAIL, "user.email")?;
            p.nullable_string_into(&mut crate::json::text(&mut u.email), "user.email")
                .map(drop)
        }
        k if is(k, "first_name") => {
            seen.first(FIRST, "user.first_name")?;
            p.nullable_string_into(&mut crate::json::text(&mut u.first_name), "user.first_name")
                .map(drop)
        }
        k if is(k, "last_name") => {
            seen.first(LAST, "user.last_name")?;
            p.nullable_string_into(&mut crate::json::text(&mut u.last_name), "user.last_name")
                .map(drop)
        }
        k if is(k, "phone") => {
            seen.first(PHONE, "user.phone")?;
            if p.null() {
                return Ok(());
            }
            p.string_into(
                &mut crate::json::text(u.phone.insert(heapless::String::new())),
                "user.phone",
            )
        }
        k if is(k, "authentication_token") => {
            seen.first(TOKEN, "user.authentication_token")?;
            if p.null() {
                return Ok(());
            }
            let token = u.authentication_token.insert(Secret::empty());
            p.string_into(token, "user.authentication_token")
        }
        k if is(k, "access_token") => {
            seen.first(ACCESS, "user.access_token")?;
            if p.null() {
                return Ok(());
            }
            let token = u.access_token.insert(Secret::empty());
            p.string_into(token, "user.access_token")
        }
        k if is(k, "error") => match error.as_deref_mut() {
            Some(flag) => note_error_member(p, flag),
            None => p.skip(),
        },
        _ => p.skip(),
    })?;
    seen.required(ID, "user.id")?;
    check_user_token(&mut u.authentication_token, "user.authentication_token")?;
    check_user_token(&mut u.access_token, "user.access_token")
}

/// An empty token is no token; anything else must fit in a header.
fn check_user_token(
    token: &mut Option<Secret<AUTH_TOKEN_CAP>>,
    what: &'static str,
) -> Result<(), JsonError> {
    if token.as_ref().is_some_and(Secret::is_empty) {
        *token = None;
    }
    match token {
        Some(t) if !check_token_chars(t.as_bytes()) => Err(JsonError::Malformed(what)),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::Method;
    use crate::punchh::tests::seed_config;

    const SEED_SSO: &str = include_str!("../../tests/fixtures/seeds/001_sso_response.json");

    /// The seed's `user` object on its own, as `/api/auth/users` answers.
    pub(crate) fn seed_user_body() -> &'static str {
        let start = SEED_SSO.find("\"user\": ").unwrap() + "\"user\": ".len();
        SEED_SSO[start..SEED_SSO.len() - 1].trim_end()
    }

    #[test]
    fn user_level_tokens_are_secrets() {
        // seed 002: "retrieve a user-level authentication or access token"
        let u = user(
            r#"{"id":1,"authentication_token":"user-auth-tok","access_token":"user-access-tok"}"#,
        )
        .unwrap();
        assert_eq!(
            u.authentication_token.as_ref().unwrap().expose(),
            "user-auth-tok"
        );
        assert_eq!(u.access_token.as_ref().unwrap().expose(), "user-access-tok");
        // The access token wins when both are sent.
        assert_eq!(u.user_token().unwrap().expose(), "user-access-tok");
        let debug = std::format!("{u:?}");
        assert!(!debug.contains("user-auth-tok"), "{debug}");
        assert!(!debug.contains("user-access-tok"), "{debug}");
        assert!(debug.contains("Secret(***)"), "{debug}");
        let u = user(r#"{"id":1,"access_token":""}"#).unwrap();
        assert_eq!(
            (u.access_token.is_none(), u.user_token().is_none()),
            (true, true)
        );
        for body in [
            r#"{"id":1,"access_token":"a b"}"#,
            r#"{"id":1,"access_token":7}"#,
            r#"{"id":1,"access_token":"a","access_token":"b"}"#,
        ] {
            match user(body) {
                Err(Error::Malformed { what, .. }) => assert_eq!(what, "user.access_token"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn user_request_signs_with_the_user_level_token() {
        // seed 002: "You can then use that user-level token to authenticate API calls for the
        // remainder of the user's session."
        let c = seed_config()
            .with_signing_secret("fake-signing-secret")
            .unwrap();
        let mut buf = [0u8; 1024];
        let r = c
            .user_request(
                &mut buf,
                Method::Get,
                "/api/auth/users/me?x=1",
                Some(&[("client", "CLIENT_GOES_HERE")]),
                "AUTHENTICATION_TOKEN_GOES_HERE",
            )
            .unwrap();
        let body = r#"{"client":"CLIENT_GOES_HERE"}"#;
        let want = crate::punchh::digest(
            "fake-signing-secret",
            crate::punchh::Algorithm::Sha1,
            "/api/auth/users/me?x=1",
            body.as_bytes(),
        );
        assert_eq!(
            crate::testing::render(&r),
            std::format!(
                "GET https://SERVER_NAME_GOES_HERE.punchh.com/api/auth/users/me?x=1\n\
                 Accept: application/json\n\
                 Authorization: Bearer AUTHENTICATION_TOKEN_GOES_HERE\n\
                 Content-Type: application/json\n\
                 User-Agent: Punchh/OnlineOrder/1.0/Web/BrowserVersion/OS_Type\n\
                 x-pch-digest: {want}\n\
                 \n\
                 {body}"
            )
        );
        // No body: Content-Type is still sent, the digest covers the uri alone.
        let mut buf = [0u8; 1024];
        let r = c
            .user_request(&mut buf, Method::Post, "/api/x", None, "tok")
            .unwrap();
        assert_eq!(r.header("content-type").unwrap(), b"application/json");
        for bad in ["", "a b", "a\r\nb"] {
            let mut buf = [0u8; 1024];
            assert_eq!(
                c.user_request(&mut buf, Method::Get, "/api/x", None, bad)
                    .unwrap_err(),
                Error::InvalidInput { what: "user_token" }
            );
        }
    }

    fn user(body: &str) -> Result<User, Error> {
        User::from_json(body.as_bytes())
    }

    #[test]
    fn names_nulls_and_types() {
        let u = user(r#"{"id":1,"email":null,"first_name":"Zoë","last_name":"Ren\u00e9e \ud83d\ude00","phone":"+15551234567","authentication_token":""}"#).unwrap();
        assert_eq!(u.first_name, "Zoë");
        assert_eq!(u.last_name, "Renée 😀");
        assert_eq!(u.email, "");
        assert_eq!(u.phone.as_deref(), Some("+15551234567"));
        assert_eq!(u.authentication_token, None);
        let u = user(r#"{"id":2}"#).unwrap();
        assert_eq!((u.id, u.first_name.as_str(), u.phone), (2, "", None));

        let cases: &[(&str, &str)] = &[
            (r#"{}"#, "user.id"),
            (r#"{"id":"1"}"#, "user.id"),
            (r#"{"id":null}"#, "user.id"),
            (r#"{"id":-1}"#, "user.id"),
            (r#"{"id":1.5}"#, "user.id"),
            (r#"{"id":1,"id":2}"#, "user.id"),
            (r#"{"id":1,"email":5}"#, "user.email"),
            (r#"{"id":1,"first_name":true}"#, "user.first_name"),
            (r#"{"id":1,"phone":[]}"#, "user.phone"),
            (
                r#"{"id":1,"authentication_token":"a b"}"#,
                "user.authentication_token",
            ),
            (
                r#"{"id":1,"authentication_token":7}"#,
                "user.authentication_token",
            ),
            (r#"{"id":1,"first_name":"\ud83d"}"#, "user.first_name"),
            (r#"[]"#, "user"),
            (r#"{"id":1} {"#, "trailing data"),
        ];
        for (body, what) in cases {
            match user(body) {
                Err(Error::Malformed { what: w, .. }) => assert_eq!(w, *what, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_fields_are_capacity_errors() {
        let long = |n: usize| "x".repeat(n);
        for (field, cap, key) in [
            ("user.email", EMAIL_CAP, "email"),
            ("user.first_name", NAME_CAP, "first_name"),
            ("user.last_name", NAME_CAP, "last_name"),
            ("user.phone", PHONE_CAP, "phone"),
            (
                "user.authentication_token",
                AUTH_TOKEN_CAP,
                "authentication_token",
            ),
        ] {
            let fits = std::format!(r#"{{"id":1,"{key}":"{}"}}"#, long(cap));
            assert!(user(&fits).is_ok(), "{key}");
            let over = std::format!(r#"{{"id":1,"{key}":"{}"}}"#, long(cap + 1));
            assert_eq!(user(&over), Err(Error::Capacity { field }), "{key}");
        }
        // Multi-byte characters count in bytes: 32 × "é" is 64 bytes and fits, 33 do not.
        let fits = std::format!(r#"{{"id":1,"first_name":"{}"}}"#, "é".repeat(32));
        assert!(user(&fits).is_ok());
        let over = std::format!(r#"{{"id":1,"first_name":"{}"}}"#, "\\u00e9".repeat(33));
        assert_eq!(
            user(&over),
            Err(Error::Capacity {
                field: "user.first_name"
            })
        );
    }
}
