//! No secret in any `Debug`: every flow of the core is run with distinctive secrets (each holds
//! the marker `Zq9`), and at every step the flow, the request it wrote, its output and its error
//! are printed with `{:?}` and `{:#?}`; none may show a secret, a secret header's value or the
//! marker.
//!
//! Generated, not hand-picked: the test reads the core's sources, lists every public `struct`
//! and `enum`, and fails when one of them was neither printed here (seen through
//! `type_name`) nor listed in `HOLDS_NO_SECRET` with the reason it cannot hold one. A new
//! type therefore cannot ship without being audited.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::Path;

use ssoflow_core::http::is_secret_header;
use ssoflow_core::recipe::{Recipe, RenewFlow};
use ssoflow_core::session::{Access, Call, Session};
use ssoflow_core::{
    AccessToken, Error, Expiry, Flow, Instant, Paced, PacedFlow, Response, Secret, Step, TokenSet,
    oauth2, par_ordering, pos_api, punchh, stream,
};

const MARK: &str = "Zq9";
const CLIENT_SECRET: &str = "Zq9-client-secret";
const PASSWORD: &str = "Zq9-password";
const REFRESH: &str = "Zq9-refresh";
const CODE: &str = "Zq9-authorization-code";
const VERIFIER: &str = "Zq9-verifier-abcdefghijklmnopqrstuvwxyz0123456789";
const SUBJECT: &str = "Zq9-subject-token";
const APP_KEY: &str = "Zq9-application-key";
const SECURITY: &str = "Zq9-security-token";
const SIGNING: &str = "Zq9-signing-secret";
const API_TOKEN: &str = "Zq9-api-token";
const OTP: &str = "Zq9-one-time-login-token";

/// Public types that cannot hold a secret, each with the reason.
const HOLDS_NO_SECRET: &[(&str, &str)] = &[
    ("Method", "an HTTP method"),
    ("Instant", "a time"),
    ("Expiry", "a time"),
    ("ErrorClass", "a category"),
    ("Quirks", "switches"),
    ("Algorithm", "a hash choice"),
    ("BasicAuth", "a switch"),
    ("ClientAuth", "a switch"),
    ("Role", "a role name"),
    ("Source", "a proxy variable's name"),
    ("Policy", "numbers"),
    ("Ticket", "a counter"),
    ("Verdict", "a decision"),
    ("TokenTypeHint", "a token type's name"),
    ("AfterFailure", "an error (audited as Error) or a time"),
    ("Access", "a token (audited as AccessToken) or a time"),
    ("Excerpt", "redacted text (audited through Error)"),
    ("CustomerInfoRequest", "a customer uuid"),
    (
        "CustomerInfo",
        "the customer's contact details the endpoint serves",
    ),
    (
        "CustomerDetails",
        "the customer's contact details the endpoint serves",
    ),
    ("TestSubject", "the playground's public test identities"),
    ("Account", "an account id and user name"),
    ("CustomerAccount", "an account id and profile"),
    ("RequestIds", "a counter for request ids (not credentials)"),
    (
        "RequestBuilder",
        "writes into the caller's buffer; prints nothing of it",
    ),
    // The JSON reader is crate-private (exported only to the fuzz crate).
    ("Parser", "crate-private"),
    ("JsonError", "crate-private"),
    ("Seen", "crate-private"),
];

struct Audit {
    secrets: Vec<String>,
    seen: BTreeSet<String>,
}

impl Audit {
    fn new(extra: &[&str]) -> Self {
        let mut secrets: Vec<String> = [
            CLIENT_SECRET,
            PASSWORD,
            REFRESH,
            CODE,
            VERIFIER,
            SUBJECT,
            APP_KEY,
            SECURITY,
            SIGNING,
            API_TOKEN,
            OTP,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        secrets.extend(extra.iter().map(|s| s.to_string()));
        Audit {
            secrets,
            seen: BTreeSet::new(),
        }
    }

    /// Print `value` both ways and check it; remember every type its type name mentions.
    fn show<T: Debug + ?Sized>(&mut self, what: &str, value: &T) {
        let name = std::any::type_name::<T>();
        for ident in name.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if ident.starts_with(char::is_uppercase) {
                self.seen.insert(ident.to_string());
            }
        }
        for text in [format!("{value:?}"), format!("{value:#?}")] {
            assert!(
                !text.contains(MARK),
                "{what} ({name}) prints a secret in Debug:\n{text}"
            );
            for s in &self.secrets {
                assert!(!text.contains(s.as_str()), "{what} ({name}) prints {s:?}");
            }
        }
    }

    /// A request: itself, each header, and no secret header's value anywhere in its `Debug`.
    fn request(&mut self, what: &str, req: &ssoflow_core::Request<'_>) {
        self.show(what, req);
        let text = format!("{req:?}{req:#?}");
        for h in req.headers() {
            self.show(what, h);
            if is_secret_header(h.name) && h.value.len() >= 6 {
                let value = String::from_utf8_lossy(h.value);
                assert!(
                    !text.contains(value.as_ref()),
                    "{what}: the {} header's value is printed",
                    h.name
                );
            }
        }
    }

    /// Run `flow` against `answers` (status, body), printing everything at every step.
    fn flow<F>(&mut self, what: &str, mut flow: F, answers: &[(u16, &str)])
    where
        F: Flow + Debug,
        F::Output: Debug,
    {
        let mut buf = vec![0u8; 16 * 1024];
        let mut out = None;
        for i in 0..8 {
            self.show(what, &flow);
            let now = Instant::from_millis(1_000 + i as u64);
            let answer = match flow.poll(now, &mut buf) {
                Ok(Step::Send(req)) => {
                    self.request(what, &req);
                    answers
                        .get(i)
                        .or(answers.last())
                        .copied()
                        .unwrap_or((500, ""))
                }
                Ok(Step::Done) => {
                    self.show(what, &out);
                    return;
                }
                Err(e) => {
                    self.show(what, &e);
                    return;
                }
            };
            let response = Response::new(answer.0, answer.1.as_bytes());
            self.show(what, &response);
            if let Err(e) = flow.handle(now, response, &mut out) {
                self.show(what, &e);
                self.show(what, &flow);
                return;
            }
        }
        panic!("{what}: did not end in 8 steps");
    }

    /// Run a paced flow (it may ask to wait) against `answers`, printing everything at every step.
    fn paced<F>(&mut self, what: &str, mut flow: F, answers: &[(u16, &str)])
    where
        F: PacedFlow + Debug,
        F::Output: Debug,
    {
        let mut buf = vec![0u8; 16 * 1024];
        let mut now = Instant::from_millis(1_000);
        let mut sent = 0;
        let mut out = None;
        for _ in 0..16 {
            self.show(what, &flow);
            let answer = match flow.poll(now, &mut buf) {
                Ok(Paced::Send(req)) => {
                    self.request(what, &req);
                    sent += 1;
                    answers
                        .get(sent - 1)
                        .or(answers.last())
                        .copied()
                        .unwrap_or((500, ""))
                }
                Ok(Paced::Wait { until }) => {
                    now = until;
                    continue;
                }
                Ok(Paced::Done) => {
                    self.show(what, &out);
                    return;
                }
                Err(e) => {
                    self.show(what, &e);
                    return;
                }
            };
            let response = Response::new(answer.0, answer.1.as_bytes());
            if let Err(e) = flow.handle(now, response, &mut out) {
                self.show(what, &e);
                self.show(what, &flow);
                return;
            }
        }
    }

    /// Run a recipe's flow, printing the recipe too.
    fn recipe<'r, R>(
        &mut self,
        what: &str,
        recipe: &'r R,
        key: &'r R::Key,
        previous: Option<&R::Output>,
        answers: &[(u16, &str)],
    ) where
        R: Recipe + Debug,
        R::Output: Debug,
        R::Flow<'r>: Debug,
    {
        self.show(what, recipe);
        match recipe.flow(key, previous, [7; 16]) {
            Ok(flow) => self.flow(what, flow, answers),
            Err(e) => self.show(what, &e),
        }
        self.show(what, recipe);
    }
}

/// OAuth 2.0 answers holding tokens that must not print either.
const TOKENS: &str = r#"{"access_token":"Zq9-access","token_type":"Bearer","expires_in":60,"refresh_token":"Zq9-new-refresh","scope":"s"}"#;
/// A 2xx token answer the parser refuses (a byte-order mark, an anti-XSSI prefix, a form).
const UNREADABLE: [&str; 4] = [
    "\u{feff}{\"access_token\":\"Zq9-access\",\"token_type\":\"Bearer\",\"refresh_token\":\"Zq9-new-refresh\"}",
    ")]}'\n{\"access_token\":\"Zq9-access\",\"token_type\":\"Bearer\"}",
    "access_token=Zq9-access&token_type=bearer",
    "{\"access_token\":\"Zq9-access\",\"token_type\":\"Bearer\",\"expires_in\":\"soon\"}",
];
/// Error answers that echo credentials back in members named for them (a hostile or careless
/// server): strings, numbers, arrays and objects, JSON and form encoded. (Free text that merely
/// contains a credential cannot be told from a message, and is not claimed.)
const ECHOES: [&str; 4] = [
    r#"{"error":"invalid_grant","error_description":"bad password","password":"Zq9-password"}"#,
    r#"{"error":"invalid_request","otp":987654321,"pin":"Zq9-pin","refresh_token":["Zq9-refresh"]}"#,
    r#"{"status":"ERROR","code":401,"data":{"passcode":{"v":"Zq9-pin"},"authorization":"Bearer Zq9-access"}}"#,
    "error=invalid_grant&access_token=Zq9-access&refresh_token=Zq9-refresh",
];

fn every_answer() -> Vec<Vec<(u16, &'static str)>> {
    let mut all = vec![vec![(200, TOKENS)], vec![(401, ECHOES[0])], vec![(503, "")]];
    for body in UNREADABLE {
        all.push(vec![(200, body)]);
    }
    for body in ECHOES {
        all.push(vec![(400, body)]);
        all.push(vec![(500, body)]);
    }
    all
}

#[test]
fn no_debug_output_shows_a_secret_and_every_public_type_is_audited() {
    let mut a = Audit::new(&[
        "987654321",
        "Zq9-access",
        "Zq9-new-refresh",
        "Zq9-pin",
        "Zq9-m2m",
        "Zq9-menu",
        "Zq9-dlc",
    ]);

    // ── OAuth 2.0 ────────────────────────────────────────────────────────────────────────────
    let client = oauth2::Client::new("https://auth.example/token", "client-1")
        .unwrap()
        .with_secret(CLIENT_SECRET)
        .unwrap();
    a.show("Client", &client);
    let pkce = oauth2::Pkce::from_verifier(VERIFIER).unwrap();
    a.show("Pkce", &pkce);
    let authz = oauth2::Authorization::from_entropy(&[9; 48]);
    a.show("Authorization", &authz);
    let cb = oauth2::parse_callback(
        &format!("https://app.example/cb?code={CODE}&state=st"),
        "st",
    )
    .unwrap();
    a.show("Callback", &cb);
    a.show(
        "Callback error",
        &oauth2::parse_callback(&format!("/cb?code={CODE}&state=other"), "st"),
    );
    let previous = TokenSet {
        access: AccessToken {
            value: Secret::new("Zq9-access", "t").unwrap(),
            expiry: Expiry::Unknown,
        },
        refresh: Some(Secret::new(REFRESH, "r").unwrap()),
        scope: None,
        expires_in: None,
    };
    a.show("TokenSet", &previous);
    for answers in every_answer() {
        a.flow(
            "client_credentials",
            oauth2::client_credentials(&client, Some("s")).unwrap(),
            &answers,
        );
        a.flow(
            "password",
            oauth2::password(&client, "user-1", PASSWORD, None).unwrap(),
            &answers,
        );
        a.flow(
            "refresh",
            oauth2::refresh(&client, REFRESH, None).unwrap(),
            &answers,
        );
        a.flow(
            "token_exchange",
            oauth2::token_exchange(&client, SUBJECT, oauth2::ACCESS_TOKEN_TYPE, None, None)
                .unwrap(),
            &answers,
        );
        a.flow(
            "authorization_code",
            oauth2::authorization_code(&client, CODE, "https://app.example/cb", Some(&pkce))
                .unwrap(),
            &answers,
        );
        a.recipe(
            "ClientCredentials",
            &oauth2::ClientCredentials::new(&client, None),
            &(),
            None,
            &answers,
        );
        let password = oauth2::Password::new(&client, "user-1", PASSWORD, None).unwrap();
        a.recipe("Password", &password, &(), None, &answers);
        a.recipe(
            "Password renewal",
            &password,
            &(),
            Some(&previous),
            &answers,
        );
        let refreshing = oauth2::Refreshing::new(&client, REFRESH, None).unwrap();
        a.recipe("Refreshing", &refreshing, &(), None, &answers);
        a.flow(
            "RenewFlow",
            RenewFlow::new(&password, Some(&previous)).unwrap(),
            &answers,
        );
        let exchange =
            oauth2::TokenExchange::new(&client, SUBJECT, oauth2::ACCESS_TOKEN_TYPE, None, None);
        a.recipe("TokenExchange", &exchange, &(), None, &answers);
    }

    // ── Device grant (RFC 8628) and revocation (RFC 7009) ──────────────────────────────────
    let codes = r#"{"device_code":"Zq9-device-code","user_code":"WDJB-MJHT","verification_uri":"https://auth.example/device","expires_in":1800,"interval":1}"#;
    a.secrets.push("Zq9-device-code".to_string());
    for answers in [
        vec![(200, codes)],
        vec![(400, ECHOES[1])],
        vec![(200, UNREADABLE[0])],
    ] {
        let flow = oauth2::device_authorization(
            &client,
            "https://auth.example/device_authorization",
            Some("s"),
        );
        a.flow("device_authorization", flow.unwrap(), &answers);
    }
    let authorization = {
        let mut flow =
            oauth2::device_authorization(&client, "https://auth.example/da", None).unwrap();
        let mut buf = vec![0u8; 4096];
        let now = Instant::from_millis(1_000);
        assert!(matches!(flow.poll(now, &mut buf), Ok(Step::Send(_))));
        let mut out = None;
        flow.handle(now, Response::new(200, codes.as_bytes()), &mut out)
            .unwrap();
        match (flow.poll(now, &mut buf), out) {
            (Ok(Step::Done), Some(authorization)) => authorization,
            _ => panic!("the device authorization flow ends with the codes"),
        }
    };
    a.show("DeviceAuthorization", &authorization);
    {
        let authorization = &authorization;
        for answers in [
            vec![(400, r#"{"error":"authorization_pending"}"#), (200, TOKENS)],
            vec![
                (400, r#"{"error":"slow_down"}"#),
                (400, r#"{"error":"access_denied"}"#),
            ],
            vec![(200, UNREADABLE[1])],
        ] {
            a.paced(
                "device_token",
                oauth2::device_token(&client, authorization).unwrap(),
                &answers,
            );
        }
    }
    for answers in [
        vec![(200, "")],
        vec![(503, ""), (200, "")],
        vec![(400, ECHOES[1])],
    ] {
        let url = "https://auth.example/revoke";
        a.paced(
            "revoke",
            oauth2::revoke(
                &client,
                url,
                REFRESH,
                Some(oauth2::TokenTypeHint::RefreshToken),
            )
            .unwrap(),
            &answers,
        );
        a.paced(
            "revoke_tokens",
            oauth2::revoke_tokens(&client, url, &previous).unwrap(),
            &answers,
        );
    }

    // ── PAR Ordering ─────────────────────────────────────────────────────────────────────────
    let par =
        par_ordering::ParConfig::new("https://par.example", APP_KEY, "par-client", CLIENT_SECRET)
            .unwrap();
    a.show("par Config", &par);
    let m2m = r#"{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"Zq9-m2m","expires_in":3600}}}"#;
    // Seed 000's sign-in answer (with its DLC token), its tokens marked as secrets.
    let signed_in = include_str!("fixtures/seeds/000_sign_in_response_dlc.json");
    for token in json_strings_named(signed_in, "access_token") {
        a.secrets.push(token);
    }
    for answers in [
        vec![(200, m2m), (200, signed_in)],
        vec![(200, m2m), (401, ECHOES[1])],
        vec![(200, m2m), (200, UNREADABLE[0])],
        vec![(200, UNREADABLE[1])],
        vec![(500, ECHOES[0])],
    ] {
        let mut ids = par_ordering::RequestIds::new([1; 16]);
        a.flow(
            "m2m_token",
            par_ordering::m2m_token(&par, &mut ids),
            &answers,
        );
        let flow =
            par_ordering::sign_in(&par, None, SUBJECT, par_ordering::RequestIds::new([2; 16]))
                .unwrap();
        a.flow("sign_in", flow, &answers);
        a.recipe("M2m", &par_ordering::M2m::new(&par), &(), None, &answers);
        let customer = par_ordering::CustomerSignIn::new(&par);
        a.recipe("CustomerSignIn", &customer, SUBJECT, None, &answers);
        a.show("CustomerSignIn after", &customer.m2m_token());
    }
    let mut buf = [0u8; 4096];
    let mut ids = par_ordering::RequestIds::new([3; 16]);
    let req = par
        .protected_request(
            &mut buf,
            ssoflow_core::Method::Get,
            "/par/api/x",
            "Zq9-menu",
            &mut ids,
        )
        .unwrap();
    a.request("protected_request", &req);

    // ── POS API ──────────────────────────────────────────────────────────────────────────────
    let pos = pos_api::PosConfig::new("https://pos.example", "pos-client", CLIENT_SECRET).unwrap();
    a.show("pos Config", &pos);
    let pos_tokens = r#"{"access_token":"Zq9-access","refresh_token":"Zq9-new-refresh","expires_in":60,"token_type":"bearer"}"#;
    for answers in [
        vec![(200, pos_tokens)],
        vec![(200, UNREADABLE[0])],
        vec![(401, ECHOES[0])],
        vec![(500, ECHOES[2])],
    ] {
        a.flow(
            "pos login",
            pos_api::login(&pos, "admin", PASSWORD).unwrap(),
            &answers,
        );
        a.flow(
            "pos create_account",
            pos_api::create_account(&pos, "admin", PASSWORD).unwrap(),
            &answers,
        );
        a.flow(
            "pos refresh",
            pos_api::refresh(&pos, REFRESH).unwrap(),
            &answers,
        );
        let admin = pos_api::Admin::new(&pos, "admin", PASSWORD).unwrap();
        a.recipe("Admin", &admin, &(), None, &answers);
        a.recipe("Admin renewal", &admin, &(), Some(&previous), &answers);
    }

    // ── Punchh ───────────────────────────────────────────────────────────────────────────────
    let punchh =
        punchh::PunchhConfig::new("https://punchh.example", "punchh-client", CLIENT_SECRET)
            .unwrap()
            .with_signing_secret(SIGNING)
            .unwrap();
    a.show("punchh Config", &punchh);
    let user = r#"{"id":1,"email":"a@example.com","first_name":"A","last_name":"B","authentication_token":"Zq9-auth-token","access_token":"Zq9-user-access"}"#;
    let sso = r#"{"token":{"access_token":"Zq9-access"},"user":{"id":1,"email":"a@example.com","authentication_token":"Zq9-auth-token"}}"#;
    a.secrets
        .extend(["Zq9-auth-token".to_string(), "Zq9-user-access".to_string()]);
    for answers in [
        vec![(200, TOKENS)],
        vec![(200, sso)],
        vec![(200, user)],
        vec![(200, UNREADABLE[0])],
        vec![(400, ECHOES[1])],
    ] {
        a.flow(
            "code_for_token",
            punchh::code_for_token(&punchh, CODE, "https://app.example/cb").unwrap(),
            &answers,
        );
        a.flow(
            "punchh sso",
            punchh::sso(&punchh, SECURITY).unwrap(),
            &answers,
        );
        a.flow(
            "user_info",
            punchh::user_info(&punchh, "Zq9-access").unwrap(),
            &answers,
        );
        a.recipe(
            "Sso",
            &punchh::Sso::new(&punchh, SECURITY).unwrap(),
            &(),
            None,
            &answers,
        );
    }
    a.show("User", &punchh::User::from_json(user.as_bytes()));

    // ── Stream ───────────────────────────────────────────────────────────────────────────────
    let stream = stream::StreamConfig::new(
        "https://stream.example",
        "https://wl.example",
        "stream-client",
        CLIENT_SECRET,
    )
    .unwrap();
    a.show("stream Config", &stream);
    let who = stream::SessionRequest {
        provider_org_id: "org-1",
        role: stream::Role::parse("admin")
            .unwrap_or_else(|_| stream::Role::parse("owner").unwrap()),
        email: "a@example.com",
        full_name: "A B",
        phone_number: "+15550100",
    };
    a.show("SessionRequest", &who);
    let generated = format!(r#"{{"sso_login_token":"{OTP}"}}"#);
    let session = r#"{"session":"Zq9-session","user":{"email":"a@example.com","full_name":"A B","role":"admin"},"organization":{"id":"o","provider_org_id":"org-1"}}"#;
    a.secrets.push("Zq9-session".to_string());
    for answers in [
        vec![(200, generated.as_str())],
        vec![(200, session)],
        vec![(200, UNREADABLE[0])],
        vec![(401, ECHOES[0])],
    ] {
        a.flow("api_token", stream::api_token(&stream).unwrap(), &answers);
        a.flow(
            "generate_session",
            stream::generate_session(&stream, API_TOKEN, &who).unwrap(),
            &answers,
        );
        let url = format!("https://wl.example/sso/redirect?code={OTP}");
        a.flow("redeem", stream::redeem(&url).unwrap(), &answers);
        a.recipe("ApiToken", &stream.api_token_recipe(), &(), None, &answers);
    }

    // ── Session ──────────────────────────────────────────────────────────────────────────────
    let mut session: Session<AccessToken> = Session::new(1_000);
    let now = Instant::from_millis(0);
    let _ = session.access(now, None);
    session.signed_in(now, previous.access.clone());
    a.show("Session", &session);
    if let Access::Ready { token, .. } = session.access(now, None) {
        a.show("Ready token", token);
    }
    a.show("Call", &Call::new());
    a.show("SignOut", &session.sign_out());
    a.show("Secret", &Secret::<64>::new(PASSWORD, "password").unwrap());
    let failed = Error::Provider {
        status: 401,
        code: None,
        message: ssoflow_core::Excerpt::of(ECHOES[1].as_bytes()),
    };
    a.show("Error", &failed);

    // ── Coverage: every public type was printed above or cannot hold a secret ────────────────
    let mut public = BTreeSet::new();
    collect_public_types(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut public,
    );
    assert!(
        public.len() > 40,
        "the source scan found too few types: {public:?}"
    );
    let exempt: BTreeSet<&str> = HOLDS_NO_SECRET.iter().map(|(n, _)| *n).collect();
    let missing: Vec<&String> = public
        .iter()
        .filter(|n| !a.seen.contains(n.as_str()) && !exempt.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "public types neither printed by this audit nor listed in HOLDS_NO_SECRET: {missing:?}"
    );
    for (name, _) in HOLDS_NO_SECRET {
        assert!(
            public.contains(*name),
            "HOLDS_NO_SECRET lists {name}, which no longer exists"
        );
    }
}

/// The string values of every member called `name` in `json` (a plain scan: the seeds' JSON).
fn json_strings_named(json: &str, name: &str) -> Vec<String> {
    let needle = format!("\"{name}\"");
    json.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = json[i + needle.len()..]
                .trim_start()
                .strip_prefix(':')?
                .trim_start();
            let rest = rest.strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

#[test]
fn no_two_public_types_share_a_name() {
    // One name, one type: `par_ordering::ParConfig`, not four `Config`s a reader must tell
    // apart by their module.
    let mut found = Vec::new();
    collect_public_items(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    let mut twins = Vec::new();
    for (_, name, file) in found {
        if let Some(other) = seen.insert(name.clone(), file.clone()) {
            twins.push(format!("{name}: {other} and {file}"));
        }
    }
    assert!(twins.is_empty(), "public types sharing a name: {twins:?}");
}

/// Every `pub struct` / `pub enum` outside test code under `dir`.
fn collect_public_types(dir: &Path, out: &mut BTreeSet<String>) {
    let mut found = Vec::new();
    collect_public_items(dir, &mut found);
    out.extend(
        found
            .into_iter()
            .filter(|(kind, _, _)| kind == "pub struct" || kind == "pub enum")
            .map(|(_, name, _)| name),
    );
}

/// Every `pub struct` / `pub enum` / `pub type` / `pub trait` outside test code under `dir`,
/// with its file.
fn collect_public_items(dir: &Path, out: &mut Vec<(String, String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_public_items(&path, out);
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".rs") || name == "tests.rs" || name == "testing.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim_start).collect();
        for (i, line) in lines.iter().enumerate() {
            // The test module ends what is public.
            let next = lines.get(i + 1).copied().unwrap_or("");
            if line.starts_with("#[cfg(test)]") && next.contains("mod ") {
                break;
            }
            for kind in ["pub struct ", "pub enum ", "pub type ", "pub trait "] {
                if let Some(rest) = line.strip_prefix(kind) {
                    let ident: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    out.push((kind.trim().to_string(), ident, path.display().to_string()));
                }
            }
        }
    }
}
