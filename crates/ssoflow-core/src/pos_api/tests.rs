//! Tests of the POS API flows. Seed 004 publishes no example payloads, only the members of the
//! token answer; the answers below use exactly those members.

use super::*;
use crate::testing::{drive, golden, terminates};
use crate::{Expiry, Flow, Step};
use proptest::prelude::*;

pub(super) const BASE: &str = "https://pos.example";

pub(super) fn config() -> PosConfig {
    PosConfig::new(BASE, "pos-admin-client", "pos-secret").unwrap()
}

/// Seed 004's token answer: `access_token` (a UUID), `expires_in`, `refresh_token`, `token_type`.
const TOKENS: &str = r#"{"access_token":"3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f","expires_in":3600,"refresh_token":"r-1","token_type":"Bearer"}"#;
const ROTATED: &str = r#"{"access_token":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a","expires_in":3600,"refresh_token":"r-2","token_type":"Bearer"}"#;
const CREATED: &str = r#"{"id":"6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c","user_name":"admin@pos.example","created_at":"2024-01-01T00:00:00Z"}"#;
const CONFLICT: &str =
    r#"{"error":"conflict","message":"user_name \"admin@pos.example\" is already taken"}"#;
const UNAUTHORIZED: &str = r#"{"error":"unauthorized","message":"wrong user name or password"}"#;

#[test]
fn golden_requests() {
    let c = config();
    golden(
        &mut create_account(&c, "admin@pos.example", "pa\"ss").unwrap(),
        "POST https://pos.example/users\n\
         Accept: application/json\n\
         Content-Type: application/json\n\
         \n\
         {\"user_name\":\"admin@pos.example\",\"password\":\"pa\\\"ss\",\"grant_type\":\"password\"}",
    );
    golden(
        &mut login(&c, "admin@pos.example", "pw").unwrap(),
        "POST https://pos.example/auth/token\n\
         Accept: application/json\n\
         Authorization: Basic cG9zLWFkbWluLWNsaWVudDpwb3Mtc2VjcmV0\n\
         Content-Type: application/json\n\
         \n\
         {\"user_name\":\"admin@pos.example\",\"password\":\"pw\"}",
    );
    golden(
        &mut refresh(&c, "r-1").unwrap(),
        "POST https://pos.example/auth/refresh-token\n\
         Accept: application/json\n\
         Authorization: Bearer r-1\n\
         \n",
    );
    let mut buf = [0u8; 256];
    let r = admin_request(&c, "3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f", &mut buf).unwrap();
    assert_eq!(
        crate::testing::render(&r),
        "GET https://pos.example/admin/me\n\
         Accept: application/json\n\
         Authorization: Bearer 3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f\n\
         \n"
    );
}

#[test]
fn transcripts_of_the_three_flows() {
    let c = config();
    let (out, transcript) = drive(
        create_account(&c, "admin@pos.example", "pw").unwrap(),
        &[(201, CREATED.as_bytes())],
    );
    let a = out.unwrap();
    assert_eq!(a.id, "6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c");
    assert_eq!(a.user_name, "admin@pos.example");
    assert_eq!(
        transcript,
        ["send POST https://pos.example/users", "handle 201", "done"]
    );

    let (out, transcript) = drive(
        login(&c, "admin@pos.example", "pw").unwrap(),
        &[(201, TOKENS.as_bytes())],
    );
    let t = out.unwrap();
    assert_eq!(
        t.access.value.expose(),
        "3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f"
    );
    assert_eq!(t.access.expiry, Expiry::At(Instant::from_millis(3_600_000)));
    assert_eq!(t.refresh.as_ref().unwrap().expose(), "r-1");
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(
        transcript,
        [
            "send POST https://pos.example/auth/token",
            "handle 201",
            "done"
        ]
    );

    let (out, transcript) = drive(
        refresh(&c, t.refresh.as_ref().unwrap().expose()).unwrap(),
        &[(201, ROTATED.as_bytes())],
    );
    let t2 = out.unwrap();
    assert_eq!(t2.refresh.unwrap().expose(), "r-2");
    assert_ne!(t2.access.value, t.access.value);
    assert_eq!(
        transcript,
        [
            "send POST https://pos.example/auth/refresh-token",
            "handle 201",
            "done"
        ]
    );
}

#[test]
fn status_201_is_success_even_under_strict_quirks() {
    let strict = config().with_quirks(Quirks::STRICT);
    let (out, _) = drive(
        login(&strict, "u", "p").unwrap(),
        &[(201, TOKENS.as_bytes())],
    );
    assert!(out.is_ok());
    let (out, _) = drive(
        create_account(&strict, "u", "p").unwrap(),
        &[(201, CREATED.as_bytes())],
    );
    assert!(out.is_ok());
    // Strict: 202 is not success; default quirks: any 2xx is.
    let (out, _) = drive(
        login(&strict, "u", "p").unwrap(),
        &[(202, TOKENS.as_bytes())],
    );
    assert!(matches!(out, Err(Error::Provider { status: 202, .. })));
    let (out, _) = drive(
        login(&config(), "u", "p").unwrap(),
        &[(200, TOKENS.as_bytes())],
    );
    assert!(out.is_ok());
}

#[test]
fn conflict_and_unauthorized_keep_their_status() {
    let c = config();
    let (out, transcript) = drive(
        create_account(&c, "admin@pos.example", "pw").unwrap(),
        &[(409, CONFLICT.as_bytes())],
    );
    let e = out.unwrap_err();
    assert_eq!(e.status(), Some(409));
    match e {
        Error::OAuth {
            error, description, ..
        } => {
            assert_eq!(error, "conflict");
            assert!(description.as_str().contains("already taken"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(transcript.last().unwrap(), "error oauth");
    let (out, _) = drive(
        create_account(&c, "a", "pw").unwrap(),
        &[(409, b"Conflict".as_slice())],
    );
    assert!(matches!(out, Err(Error::Provider { status: 409, .. })));

    let (out, _) = drive(
        login(&c, "a", "wrong").unwrap(),
        &[(401, UNAUTHORIZED.as_bytes())],
    );
    assert!(matches!(out, Err(Error::OAuth { status: 401, .. })));
    let (out, _) = drive(
        refresh(&c, "r-used").unwrap(),
        &[(
            401,
            br#"{"error":"unauthorized","message":"unknown or already used refresh token"}"#,
        )],
    );
    assert_eq!(out.unwrap_err().status(), Some(401));
    let (out, _) = drive(
        login(&c, "a", "b").unwrap(),
        &[(
            400,
            br#"{"error":"bad_request","message":"the request body is not valid JSON"}"#,
        )],
    );
    assert!(matches!(out, Err(Error::OAuth { status: 400, .. })));
    let (out, _) = drive(login(&c, "a", "b").unwrap(), &[(500, b"".as_slice())]);
    assert!(out.unwrap_err().is_transient());
}

#[test]
fn bad_token_answers() {
    let c = config();
    let run = |status: u16, body: &str| {
        drive(login(&c, "u", "p").unwrap(), &[(status, body.as_bytes())])
            .0
            .map(|_| ())
            .map_err(|e| e.kind())
    };
    for (body, want) in [
        ("", Err("malformed")),
        ("not json", Err("malformed")),
        (
            r#"{"expires_in":3600,"token_type":"Bearer"}"#,
            Err("malformed"),
        ),
        (
            r#"{"access_token":null,"token_type":"Bearer"}"#,
            Err("malformed"),
        ),
        (
            r#"{"access_token":7,"token_type":"Bearer"}"#,
            Err("malformed"),
        ),
        (
            r#"{"access_token":"a","token_type":"MAC"}"#,
            Err("malformed"),
        ),
        (
            r#"{"access_token":"a","expires_in":"soon"}"#,
            Err("malformed"),
        ),
        (r#"{"access_token":"a","expires_in":-5}"#, Err("malformed")),
        (
            r#"{"access_token":"a b","token_type":"Bearer"}"#,
            Err("malformed"),
        ),
        (r#"{"error":"unauthorized"}"#, Err("oauth")),
        (
            r#"{"access_token":"a","expires_in":"60","token_type":"bearer"}"#,
            Ok(()),
        ),
        (r#"{"access_token":"a"}"#, Ok(())),
    ] {
        assert_eq!(run(201, body), want, "{body}");
    }
    let big = std::format!(
        r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
        "a".repeat(crate::TOKEN_CAP + 1)
    );
    assert_eq!(run(201, &big), Err("capacity"));
}

#[test]
fn accounts() {
    let ok = |body: &str| parse_account(Response::new(201, body.as_bytes()), |_| true);
    assert_eq!(ok(r#"{"id":42,"user_name":"Zoë"}"#).unwrap().id, "42");
    assert_eq!(
        ok(r#"{"id":"x","user_name":"Ren\u00e9e \ud83d\ude00"}"#)
            .unwrap()
            .user_name,
        "Renée 😀"
    );
    for (body, want) in [
        (r#"{"user_name":"u"}"#, "malformed"),
        (r#"{"id":"x"}"#, "malformed"),
        (r#"{"id":"","user_name":"u"}"#, "malformed"),
        (r#"{"id":null,"user_name":"u"}"#, "malformed"),
        (r#"{"id":1.5,"user_name":"u"}"#, "malformed"),
        (r#"{"id":"x","user_name":null}"#, "malformed"),
        (r#"{"id":"x","user_name":["u"]}"#, "malformed"),
        (r#"{"id":"x","id":"y","user_name":"u"}"#, "malformed"),
        (r#"{"id":"x","user_name":"u","error":"conflict"}"#, "oauth"),
        ("[]", "malformed"),
    ] {
        assert_eq!(ok(body).unwrap_err().kind(), want, "{body}");
    }
    let long_name = std::format!(r#"{{"id":"x","user_name":"{}"}}"#, "é".repeat(65));
    assert_eq!(
        ok(&long_name).unwrap_err(),
        Error::Capacity { field: "user_name" }
    );
    let long_id = std::format!(r#"{{"id":"{}","user_name":"u"}}"#, "1".repeat(65));
    assert_eq!(ok(&long_id).unwrap_err(), Error::Capacity { field: "id" });
    let (out, _) = drive(
        create_account(&config(), "u", "p").unwrap(),
        &[(201, br#"{"id":"x","user_name":"u"}trailing"#.as_slice())],
    );
    assert!(matches!(out, Err(Error::Malformed { .. })));
}

#[test]
fn admin_me() {
    let c = config();
    let me = read_admin(Response::new(
        200,
        br#"{"id":"6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c","user_name":"admin@pos.example"}"#,
    ))
    .unwrap();
    assert_eq!(me.user_name, "admin@pos.example");
    let e = read_admin(Response::new(
        401,
        br#"{"error":"unauthorized","message":"missing, unknown or expired access token"}"#,
    ))
    .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(matches!(
        read_admin(Response::new(200, b"{}")),
        Err(Error::Malformed { what: "id", .. })
    ));
    let mut buf = [0u8; 64];
    assert_eq!(
        admin_request(&c, "", &mut buf).unwrap_err(),
        Error::InvalidInput {
            what: "access_token"
        }
    );
    let mut small = [0u8; 8];
    assert!(matches!(
        admin_request(&c, "tok", &mut small),
        Err(Error::BufferTooSmall { .. })
    ));
}

#[test]
fn inputs_and_config() {
    let c = config();
    assert_eq!(
        create_account(&c, "", "p").unwrap_err(),
        Error::InvalidInput { what: "user_name" }
    );
    assert_eq!(
        login(&c, "u", "").unwrap_err(),
        Error::InvalidInput { what: "password" }
    );
    assert_eq!(
        refresh(&c, "").unwrap_err(),
        Error::InvalidInput {
            what: "refresh_token"
        }
    );
    assert_eq!(
        refresh(&c, "r\r\n").unwrap_err(),
        Error::InvalidInput {
            what: "refresh_token"
        }
    );
    assert_eq!(
        PosConfig::new("http://pos.example", "i", "s").unwrap_err(),
        Error::Insecure
    );
    assert!(PosConfig::new("http://127.0.0.1:9/pos", "i", "s").is_ok());
    assert_eq!(
        PosConfig::new(BASE, "", "s").unwrap_err(),
        Error::InvalidInput { what: "client_id" }
    );
    assert!(!std::format!("{c:?}").contains("pos-secret"));
    // A password never shows in a request's Debug output.
    let mut flow = login(&c, "u", "hunter2-SECRET").unwrap();
    let mut buf = [0u8; 512];
    let Step::Send(r) = flow.poll(Instant::from_millis(0), &mut buf).unwrap() else {
        panic!()
    };
    assert!(!std::format!("{r:?}").contains("SECRET"));
}

proptest! {
    #[test]
    fn any_answer_terminates(
        answers in proptest::collection::vec(
            (0u16..700, proptest::collection::vec(any::<u8>(), 0..384)),
            1..4,
        )
    ) {
        let c = config();
        terminates(create_account(&c, "u", "p").unwrap(), &answers);
        terminates(login(&c, "u", "p").unwrap(), &answers);
        terminates(refresh(&c, "r").unwrap(), &answers);
        for (status, body) in &answers {
            let _ = read_admin(Response::new(*status, body));
        }
    }

    #[test]
    fn token_like_answers_terminate(
        body in r#"\{("(access_token|refresh_token|expires_in|token_type|id|user_name|error)":(1|-1|null|"[a-z0-9\\]{0,6}"|\[\]),?){0,6}\}"#
    ) {
        let c = config();
        terminates(login(&c, "u", "p").unwrap(), &[(201, body.clone().into_bytes())]);
        terminates(create_account(&c, "u", "p").unwrap(), &[(201, body.into_bytes())]);
    }
}
