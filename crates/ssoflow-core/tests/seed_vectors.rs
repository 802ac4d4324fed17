//! Seed vectors in one place (issue 15 item 9): every example payload of the vendor documents
//! ("seeds": 000 PAR Ordering, 001 Punchh `/api/auth/sso`, 002 Punchh `/oauth/token`, 003 Stream,
//! 004 POS API), parsed or produced by the core, with the values the seeds show.
//!
//! The payloads are copied byte for byte from the seed files into `tests/fixtures/seeds/`, one
//! file per payload, the seeds' own formatting kept (seed 000 prints its JSON without
//! indentation). `.json` fixtures are valid JSON as printed; `.txt` fixtures are not (seed 000's
//! request examples and `/customer-info` bodies) or are tables and templates: for those a test
//! shows why they cannot be read as JSON and checks what our writer *produces* against the seed's
//! intent. Every assertion quotes the seed line it relies on; the vectors come from the seeds,
//! not from PROTOCOLS.md.
//!
//! `fixtures_are_verbatim_copies_of_the_seeds` checks each fixture is a substring of its seed
//! file when the seeds are beside the checkout (`$CARGO_MANIFEST_DIR/../../../shared/seeds`, as
//! in CI). Without them it prints `SKIPPED: seeds not beside the checkout` and passes: the
//! fixtures are committed, so the other tests never need the seeds.

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use ssoflow_core::{
    Error, Expiry, Flow, Instant, Response, Step, par_ordering, pos_api, punchh, stream,
};

macro_rules! fixtures {
    ($($name:literal => $seed:literal),* $(,)?) => {
        /// Every fixture: file name, the seed it is copied from, its text.
        const FIXTURES: &[(&str, &str, &str)] = &[
            $(($name, $seed, include_str!(concat!("fixtures/seeds/", $name)))),*
        ];
    };
}

fixtures! {
    "000_customer_info_request.txt" => "000",
    "000_customer_info_response.txt" => "000",
    "000_m2m_request.txt" => "000",
    "000_m2m_request_attributes.txt" => "000",
    "000_m2m_response.json" => "000",
    "000_m2m_response_attributes.txt" => "000",
    "000_sign_in_request.txt" => "000",
    "000_sign_in_request_attributes.txt" => "000",
    "000_sign_in_response.json" => "000",
    "000_sign_in_response_attributes.txt" => "000",
    "000_sign_in_response_dlc.json" => "000",
    "001_sso_request_body.json" => "001",
    "001_sso_request_curl.txt" => "001",
    "001_sso_response.json" => "001",
    "002_oauth_token_request_body.json" => "002",
    "002_oauth_token_request_curl.txt" => "002",
    "002_oauth_token_response.json" => "002",
    "003_generate_session_request.json" => "003",
    "003_generate_session_request_head.txt" => "003",
    "003_generate_session_response.json" => "003",
    "003_redirect_url.txt" => "003",
    "004_login_response_table.txt" => "004",
}

fn fixture(name: &str) -> &'static str {
    FIXTURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, text)| *text)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A request as the flow wrote it.
#[derive(Debug)]
struct Sent {
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Sent {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header_names(&self) -> BTreeSet<String> {
        self.headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect()
    }

    fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("our body is JSON")
    }
}

/// Drive `flow` at `now` with `answers`; its output and every request it sent.
fn run<F: Flow>(
    flow: &mut F,
    now: Instant,
    answers: &[(u16, &[u8])],
) -> (Result<F::Output, Error>, Vec<Sent>) {
    let mut sent = Vec::new();
    let mut answers = answers.iter();
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = None;
    for _ in 0..16 {
        match flow.poll(now, &mut buf) {
            Ok(Step::Send(r)) => {
                sent.push(Sent {
                    method: r.method.as_str(),
                    url: r.url.to_owned(),
                    headers: r
                        .headers()
                        .iter()
                        .map(|h| {
                            let v = String::from_utf8(h.value.to_vec()).expect("ASCII header");
                            (h.name.to_owned(), v)
                        })
                        .collect(),
                    body: r.body.to_vec(),
                });
                let (status, body) = answers.next().expect("an answer for each request");
                if let Err(e) = flow.handle(now, Response::new(*status, body), &mut out) {
                    return (Err(e), sent);
                }
            }
            Ok(Step::Done) => return (ssoflow_core::take_output(&mut out), sent),
            Err(e) => return (Err(e), sent),
        }
    }
    panic!("the flow did not finish: {sent:?}");
}

/// `text` (JSON) without the whitespace outside strings: the compact form, members in the
/// seed's order (serde_json would sort them).
fn compact(text: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Quote the bare member names that open the lines of seed 000's `/customer-info` examples
/// (`customer_account_uuid: "…"` → `"customer_account_uuid": "…"`).
fn quote_bare_keys(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(':') {
            Some((key, rest))
                if !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                format!("\"{key}\":{rest}")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The payload of a JWT, decoded.
fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    let bytes = decode(&URL_SAFE_NO_PAD, payload);
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Base64-decode `text` with `engine` (the core's `base64` has no `alloc` feature).
fn decode(engine: &impl Engine, text: &str) -> Vec<u8> {
    let mut out = vec![0u8; text.len()];
    let n = engine.decode_slice(text, &mut out).expect("base64");
    out.truncate(n);
    out
}

/// A UUID version 4, hyphenated.
fn assert_uuid_v4(s: &str) {
    let id = uuid::Uuid::parse_str(s).unwrap_or_else(|e| panic!("{s:?} is not a UUID: {e}"));
    assert_eq!(id.get_version_num(), 4, "{s}");
    assert_eq!(id.hyphenated().to_string(), s);
}

/// The `--header 'Name: value'` lines of a curl example.
fn curl_headers(curl: &str) -> Vec<(String, String)> {
    curl.lines()
        .filter_map(|l| l.trim().strip_prefix("--header '"))
        .map(|h| {
            let h = h.trim_end_matches(" \\").trim_end_matches('\'');
            let (n, v) = h.split_once(": ").expect("Name: value");
            (n.to_owned(), v.to_owned())
        })
        .collect()
}

/// The JSON of a curl example's `--data '…'`.
fn curl_data(curl: &str) -> &str {
    let start = curl.find("--data '").expect("--data") + "--data '".len();
    let end = curl.rfind('\'').expect("closing quote");
    &curl[start..end]
}

/// The URL a curl example posts to.
fn curl_url(curl: &str) -> &str {
    curl.lines()
        .next()
        .and_then(|l| l.strip_prefix("curl "))
        .map(|l| l.trim_end_matches(" \\"))
        .expect("curl URL")
}

const NOW: Instant = Instant::from_millis(1_700_000_000_000);

// ---------------------------------------------------------------------------------------------
// The fixtures are the seeds' bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn fixtures_are_verbatim_copies_of_the_seeds() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Every file in the directory is listed (and so checked below).
    let listed: BTreeSet<&str> = FIXTURES.iter().map(|(n, _, _)| *n).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(manifest.join("tests/fixtures/seeds"))
        .expect("fixtures/seeds")
        .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
        .collect();
    assert_eq!(
        on_disk,
        listed
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );

    let seeds = manifest.join("../../../shared/seeds");
    if !seeds.is_dir() {
        println!("SKIPPED: seeds not beside the checkout");
        return;
    }
    let seed_files: Vec<_> = std::fs::read_dir(&seeds)
        .expect("seeds")
        .map(|e| e.expect("entry").path())
        .collect();
    for (name, seed, text) in FIXTURES {
        assert_eq!(&name[..3], *seed);
        let matching: Vec<_> = seed_files
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{seed}_")))
            })
            .collect();
        assert_eq!(matching.len(), 1, "one seed file {seed}_*: {matching:?}");
        let seed_text = std::fs::read_to_string(matching[0]).expect("seed is UTF-8");
        assert!(
            seed_text.contains(text),
            "{name} is not a verbatim part of seed {seed}"
        );
    }
}

#[test]
fn json_fixtures_are_json_as_printed() {
    for (name, _, text) in FIXTURES {
        if name.ends_with(".json") {
            serde_json::from_str::<Value>(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

/// The sandbox keeps re-indented copies of some payloads (its tests compare the shapes of its
/// answers with them): they must say the same as the verbatim copies.
#[test]
fn sandbox_fixtures_are_the_same_payloads() {
    let sandbox = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ssoflow-sandbox/tests/fixtures");
    for (theirs, ours) in [
        ("par_m2m_token.json", "000_m2m_response.json"),
        ("par_sign_in.json", "000_sign_in_response.json"),
        ("par_sign_in_punchh.json", "000_sign_in_response_dlc.json"),
        ("punchh_sso.json", "001_sso_response.json"),
        ("punchh_oauth_token.json", "002_oauth_token_response.json"),
        (
            "stream_generate_session_request.json",
            "003_generate_session_request.json",
        ),
        (
            "stream_generate_session.json",
            "003_generate_session_response.json",
        ),
    ] {
        let text = std::fs::read_to_string(sandbox.join(theirs)).expect(theirs);
        let theirs_json: Value = serde_json::from_str(&text).expect(theirs);
        let ours_json: Value = serde_json::from_str(fixture(ours)).expect(ours);
        assert_eq!(theirs_json, ours_json, "{theirs} differs from {ours}");
    }
}

// ---------------------------------------------------------------------------------------------
// Seed 000: PAR Ordering
// ---------------------------------------------------------------------------------------------

/// The seed's application key: `"Application": "f3a90488ffee32c3acb6fcd0ca417cf6",`.
const PAR_APPLICATION: &str = "f3a90488ffee32c3acb6fcd0ca417cf6";
/// The seed's test subject: `"subject_token": "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126",`.
const PAR_SUBJECT: &str = "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126";
/// The seed's M2M token: `"access_token": "d4c129d3…d07b291",`.
const PAR_M2M_TOKEN: &str = "d4c129d3f4560c2beaa3a1a3b15bb771a7038a4bbb680a3912c9ea284d07b291";

fn par_config() -> par_ordering::ParConfig {
    // `"url": "https://api-public-playground.menu.app/api/oauth/tokens",`
    par_ordering::ParConfig::new(
        "https://api-public-playground.menu.app",
        PAR_APPLICATION,
        "client-id",
        "client-secret",
    )
    .unwrap()
}

fn par_sign_in(response: &str) -> (par_ordering::SignIn, Vec<Sent>) {
    let config = par_config().with_role_id("").unwrap();
    let mut flow = par_ordering::sign_in(
        &config,
        None,
        PAR_SUBJECT,
        par_ordering::RequestIds::new([3; 16]),
    )
    .unwrap();
    let m2m = fixture("000_m2m_response.json").as_bytes();
    let (out, sent) = run(&mut flow, NOW, &[(200, m2m), (200, response.as_bytes())]);
    (out.expect("signed in"), sent)
}

#[test]
fn seed_000_m2m_response_lasts_86399_seconds() {
    let config = par_config();
    let mut ids = par_ordering::RequestIds::new([1; 16]);
    let body = fixture("000_m2m_response.json");
    let mut flow = par_ordering::m2m_token(&config, &mut ids);
    let (token, _) = run(&mut flow, NOW, &[(200, body.as_bytes())]);
    let token = token.unwrap();
    // `"access_token": "d4c129d3f4560c2beaa3a1a3b15bb771a7038a4bbb680a3912c9ea284d07b291",`
    assert_eq!(token.value.expose(), PAR_M2M_TOKEN);
    // `"expires_in": 86399` and `oauth_token.expires_in | int | "86399" | Token expiration time
    // in seconds`; `"token_type": "bearer",` (lowercase) is accepted.
    assert_eq!(token.expiry, Expiry::At(NOW.plus_secs(86_399)));

    // The attribute table prints the example as a string (`"86399"`): read the same.
    let table = fixture("000_m2m_response_attributes.txt");
    assert!(table.contains("oauth_token.expires_in |\nint | \"86399\" |"));
    let quoted = body.replace("\"expires_in\": 86399", "\"expires_in\": \"86399\"");
    assert_ne!(quoted, body);
    let mut ids = par_ordering::RequestIds::new([1; 16]);
    let mut flow = par_ordering::m2m_token(&config, &mut ids);
    let (token, _) = run(&mut flow, NOW, &[(200, quoted.as_bytes())]);
    assert_eq!(token.unwrap().expiry, Expiry::At(NOW.plus_secs(86_399)));
}

#[test]
fn seed_000_m2m_request_as_printed_is_not_json() {
    // `"Api-Version": 4.38.0,` is not a JSON value: the example cannot be parsed as printed.
    let text = fixture("000_m2m_request.txt");
    let err = serde_json::from_str::<Value>(text).unwrap_err();
    assert_eq!(err.line(), 7, "{err}");
    assert_eq!(text.lines().nth(6), Some("\"Api-Version\": 4.38.0,"));
    // That is its only defect: quoted, it parses.
    let fixed = text.replace("\"Api-Version\": 4.38.0,", "\"Api-Version\": \"4.38.0\",");
    let seed: Value = serde_json::from_str(&fixed).unwrap();
    assert_eq!(seed["headers"]["Api-Version"], "4.38.0");
    assert_eq!(seed["headers"]["X-Ordering-API"], true);
}

/// The seed's M2M request example with its `4.38.0` quoted.
fn seed_m2m_request() -> Value {
    let text = fixture("000_m2m_request.txt");
    serde_json::from_str(&text.replace(": 4.38.0,", ": \"4.38.0\",")).unwrap()
}

#[test]
fn seed_000_m2m_request_is_what_we_send() {
    let seed = seed_m2m_request();
    let config = par_config().with_role_id("").unwrap();
    let mut ids = par_ordering::RequestIds::new([1; 16]);
    let mut flow = par_ordering::m2m_token(&config, &mut ids);
    let m2m = fixture("000_m2m_response.json").as_bytes();
    let (_, sent) = run(&mut flow, NOW, &[(200, m2m)]);
    let ours = &sent[0];
    // `"method": "post",` `"url": "https://api-public-playground.menu.app/api/oauth/tokens",`
    assert_eq!(ours.method, "POST");
    assert_eq!(ours.url, seed["url"]);
    // `"body":{ "grant_type": "client_credentials", "scope": "webhooks-management" }`
    assert_eq!(ours.body_json(), seed["body"]);
    assert_eq!(
        ours.body,
        br#"{"grant_type":"client_credentials","scope":"webhooks-management"}"#
    );
    // `"X-Request-ID": "69da3547-204b-4093-a225-54e084c24215",`: a UUID (v4, like the seed's).
    assert_uuid_v4(seed["headers"]["X-Request-ID"].as_str().unwrap());
    assert_uuid_v4(ours.header("X-Request-ID").unwrap());
    // `"Application": "f3a90488ffee32c3acb6fcd0ca417cf6",`
    assert_eq!(
        ours.header("Application"),
        seed["headers"]["Application"].as_str()
    );
    // `"Api-Version": 4.38.0,`
    assert_eq!(ours.header("Api-Version"), Some("4.38.0"));
    // `"X-Role-ID": "",` (sent when configured, here empty as in the seed)
    assert_eq!(ours.header("X-Role-ID"), Some(""));
    // `"X-Ordering-API": true`
    assert_eq!(ours.header("X-Ordering-API"), Some("true"));
    // `Basic Authorization header is based on the previously receiver client_id and
    // client_secret and is generated as follows : base_64_encode(client_id:client_secret)`
    let table = fixture("000_m2m_request_attributes.txt");
    assert!(table.contains("base_64_encode(client_id:client_secret)"));
    let basic = ours.header("Authorization").unwrap();
    let encoded = basic.strip_prefix("Basic ").expect("Basic");
    assert_eq!(decode(&STANDARD, encoded), b"client-id:client-secret");
    // The seed's headers, plus the two every JSON call carries.
    let mut names: BTreeSet<String> = seed["headers"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    names.extend(["authorization", "accept", "content-type"].map(String::from));
    assert_eq!(ours.header_names(), names);

    // No role configured: no `X-Role-ID`.
    let config = par_config();
    let mut ids = par_ordering::RequestIds::new([1; 16]);
    let mut flow = par_ordering::m2m_token(&config, &mut ids);
    let (_, sent) = run(&mut flow, NOW, &[(200, m2m)]);
    assert_eq!(sent[0].header("X-Role-ID"), None);
}

#[test]
fn seed_000_sign_in_request_as_printed_is_not_json() {
    let text = fixture("000_sign_in_request.txt");
    // `"Authorization": "Bearer e32c…417cf6"` lacks its comma, and `"Api-Version": 4.38.0,`
    // is not a JSON value.
    let err = serde_json::from_str::<Value>(text).unwrap_err();
    assert_eq!(err.line(), 8, "{err}");
    assert!(text.lines().nth(6).unwrap().ends_with("417cf6\""));
    let comma = text.replace("417cf6\"\n", "417cf6\",\n");
    assert!(serde_json::from_str::<Value>(&comma).is_err());
    let fixed = comma.replace(": 4.38.0,", ": \"4.38.0\",");
    let seed: Value = serde_json::from_str(&fixed).unwrap();
    assert_eq!(seed["body"]["subject_token"], PAR_SUBJECT);
}

#[test]
fn seed_000_sign_in_request_is_what_we_send() {
    let text = fixture("000_sign_in_request.txt")
        .replace("417cf6\"\n", "417cf6\",\n")
        .replace(": 4.38.0,", ": \"4.38.0\",");
    let seed: Value = serde_json::from_str(&text).unwrap();
    let (_, sent) = par_sign_in(fixture("000_sign_in_response.json"));
    assert_eq!(sent.len(), 2, "M2M token, then sign-in");
    let ours = &sent[1];
    // `"url": "https://api-public-playground.menu.app/api/sts/users/sign-in",`
    assert_eq!(ours.method, "POST");
    assert_eq!(ours.url, seed["url"]);
    // `"grant_type": "token_exchange",`
    // `"subject_token": "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126",`
    // `"subject_token_type": "access_token"`
    assert_eq!(ours.body_json(), seed["body"]);
    assert_eq!(
        ours.body,
        compact(&serde_json::to_string(&seed["body"]).unwrap()).as_bytes()
    );
    assert_eq!(
        std::str::from_utf8(&ours.body).unwrap(),
        r#"{"grant_type":"token_exchange","subject_token":"test-1100-jane.doe@partech.com-Jane-Doe-+41767567126","subject_token_type":"access_token"}"#
    );
    // `Authorization | string | " Bearer 417cf6f3a90488ffee32c3acb6fcd0ca" | Machine level
    // token, obtained during the Machine level authentication`: the M2M token of the answer.
    assert!(fixture("000_sign_in_request_attributes.txt").contains("Machine level token"));
    assert_eq!(
        ours.header("Authorization"),
        Some(format!("Bearer {PAR_M2M_TOKEN}").as_str())
    );
    assert!(
        seed["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    // `"Application": "f3a90488ffee32c3acb6fcd0ca417cf6",` `"Api-Version": 4.38.0,`
    // `"X-Ordering-API": true`
    assert_eq!(ours.header("Application"), Some(PAR_APPLICATION));
    assert_eq!(ours.header("Api-Version"), Some("4.38.0"));
    assert_eq!(ours.header("X-Ordering-API"), Some("true"));
    // `"X-Request-ID": "69da3547-204b-4093-a225-54e084c24215",` (the seed reuses one id in
    // both examples; ours are fresh per request).
    assert_uuid_v4(ours.header("X-Request-ID").unwrap());
    assert_ne!(ours.header("X-Request-ID"), sent[0].header("X-Request-ID"));
    // The seed's headers (no `X-Role-ID` on this call), plus `Accept` and `Content-Type`.
    let mut names: BTreeSet<String> = seed["headers"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    names.extend(["accept", "content-type"].map(String::from));
    assert_eq!(ours.header_names(), names);
}

/// Seed 000's `"id": "01e6d2c9-976b-4953-91e6-3dade887a4c7",`.
const PAR_ACCOUNT_ID: &str = "01e6d2c9-976b-4953-91e6-3dade887a4c7";

fn assert_seed_customer(account: &par_ordering::CustomerAccount) {
    // `"id": "01e6d2c9-976b-4953-91e6-3dade887a4c7",`
    assert_eq!(account.id, PAR_ACCOUNT_ID);
    // `"type_id": 1,` `"reference_type": "CustomerAccount",`
    assert_eq!(account.type_id, 1);
    assert_eq!(account.reference_type, "CustomerAccount");
    // `"first_name": "Jane",` `"last_name": "Doe",` `"email": "jane.doe@partech.com",`
    assert_eq!(account.first_name, "Jane");
    assert_eq!(account.last_name, "Doe");
    assert_eq!(account.email, "jane.doe@partech.com");
    // `"phone_number": "+17126417675",` (the attribute table prints `"17126417675"`)
    assert_eq!(account.phone_number, "+17126417675");
    // `"locale": "en",` `"state": 1,` `"optin_status_email": 3,` `"optin_status_pn": 3,`
    assert_eq!(account.locale, "en");
    assert_eq!(account.state, 1);
    assert_eq!(
        (account.optin_status_email, account.optin_status_pn),
        (3, 3)
    );
    // `"has_pending_email_change": false,` `"has_pending_phone_number_change": false,`
    // `"is_social": false,` `"confirmed": false`
    assert!(!account.has_pending_email_change && !account.has_pending_phone_number_change);
    assert!(!account.is_social && !account.confirmed);
    // `"updated_at": "2023-09-20 07:38:47",` `"created_at": "2023-09-20 07:38:15",` (strings)
    assert_eq!(account.updated_at, "2023-09-20 07:38:47");
    assert_eq!(account.created_at, "2023-09-20 07:38:15");
}

/// `"ttl": 60,` is minutes: the seed's own menu token says `exp - iat` = 3600 s.
fn assert_menu_token(signed_in: &par_ordering::SignIn, seed: &Value) {
    let token = &seed["data"]["token"];
    // `"value": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOi…"`
    assert_eq!(signed_in.menu_token.value.expose(), token["value"]);
    // `"ttl": 60,` `"issued_token_type": "access_token",` `"token_type": "Bearer"`
    assert_eq!(token["ttl"], 60);
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(signed_in.menu_token_ttl_min, Some(60));
    let claims = jwt_claims(token["value"].as_str().unwrap());
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!((iat, exp), (1_695_195_545, 1_695_199_145));
    assert_eq!(exp - iat, 3600);
    assert_eq!(signed_in.menu_token.expiry, Expiry::At(NOW.plus_secs(3600)));
    assert_eq!(
        signed_in.menu_token.expiry,
        Expiry::At(NOW.plus_secs(exp - iat))
    );
}

#[test]
fn seed_000_sign_in_response_menu_token_lasts_3600_seconds() {
    let body = fixture("000_sign_in_response.json");
    let seed: Value = serde_json::from_str(body).unwrap();
    let (signed_in, _) = par_sign_in(body);
    assert_seed_customer(&signed_in.customer);
    assert_menu_token(&signed_in, &seed);
    // No `dlc_access_token` in this answer.
    assert!(signed_in.dlc_token.is_none());
    assert_eq!(signed_in.dlc_token_ttl_min, None);
}

#[test]
fn seed_000_sign_in_response_with_dlc_token() {
    let body = fixture("000_sign_in_response_dlc.json");
    let seed: Value = serde_json::from_str(body).unwrap();
    let (signed_in, _) = par_sign_in(body);
    assert_seed_customer(&signed_in.customer);
    assert_menu_token(&signed_in, &seed);
    // `"dlc_access_token": { "value": "eyJ0eXAi…B5Ao", "ttl": 60, "refresh_ttl": 0, … }`
    let dlc_seed = &seed["data"]["dlc_access_token"];
    let dlc = signed_in.dlc_token.as_ref().expect("the DLC token");
    assert_eq!(dlc.value.expose(), dlc_seed["value"]);
    assert_eq!(dlc_seed["ttl"], 60);
    assert_eq!(signed_in.dlc_token_ttl_min, Some(60));
    // The DLC JWT carries `exp` but no `iat`: its 60 is read in minutes like the menu token's.
    let claims = jwt_claims(dlc_seed["value"].as_str().unwrap());
    assert!(claims.get("iat").is_none() && claims["exp"].is_u64());
    assert_eq!(dlc.expiry, Expiry::At(NOW.plus_secs(3600)));
}

#[test]
fn seed_000_account_id_of_32_hex_digits_parses() {
    // `customer_account.id | string | "90488ffee32c3acb6fcd0ca417cf6f3a" | Customer account UUID`
    let table = fixture("000_sign_in_response_attributes.txt");
    let hex_id = "90488ffee32c3acb6fcd0ca417cf6f3a";
    assert!(table.contains(&format!("customer_account.id |\nstring | \"{hex_id}\" |")));
    assert!(hex_id.len() == 32 && hex_id.bytes().all(|b| b.is_ascii_hexdigit()));
    for name in ["000_sign_in_response.json", "000_sign_in_response_dlc.json"] {
        let body = fixture(name);
        let substituted = body.replace(PAR_ACCOUNT_ID, hex_id);
        assert_ne!(substituted, body);
        let (signed_in, _) = par_sign_in(&substituted);
        assert_eq!(signed_in.customer.id, hex_id);
        let account =
            par_ordering::read_customer_account(Response::new(200, substituted.as_bytes()))
                .unwrap();
        assert_eq!(account.id, hex_id);
    }
}

#[test]
fn seed_000_protected_and_dlc_calls_carry_the_seed_tokens() {
    let body = fixture("000_sign_in_response_dlc.json");
    let seed: Value = serde_json::from_str(body).unwrap();
    let menu = seed["data"]["token"]["value"].as_str().unwrap();
    let dlc = seed["data"]["dlc_access_token"]["value"].as_str().unwrap();
    let (signed_in, _) = par_sign_in(body);
    let config = par_config();
    let mut ids = par_ordering::RequestIds::new([4; 16]);
    let mut buf = [0u8; 4096];
    // `The token should be sent as Bearer token in the Authorization header.`
    let r = config
        .protected_request(
            &mut buf,
            ssoflow_core::Method::Get,
            "/api/customers/me",
            menu,
            &mut ids,
        )
        .unwrap();
    assert_eq!(
        r.header("Authorization"),
        Some(format!("Bearer {menu}").as_bytes())
    );
    // `an additional dlc-token is received that will be later used for Punchh specific calls in
    // DLC-Authorization header`
    let mut buf = [0u8; 4096];
    let r = config
        .dlc_request(
            &mut buf,
            ssoflow_core::Method::Get,
            "/api/loyalty",
            &signed_in,
            &mut ids,
        )
        .unwrap();
    assert_eq!(
        r.header("Authorization"),
        Some(format!("Bearer {menu}").as_bytes())
    );
    assert_eq!(
        r.header("DLC-Authorization"),
        Some(format!("Bearer {dlc}").as_bytes())
    );
}

#[test]
fn seed_000_customer_info_examples_are_not_json_as_printed() {
    // `customer_account_uuid: "1df3d3b3-d2b6-4126-93f2-1fdbd419268b"`: the member names are
    // not quoted, so neither example is JSON, and our parser refuses the request as printed.
    for name in [
        "000_customer_info_request.txt",
        "000_customer_info_response.txt",
    ] {
        assert!(
            serde_json::from_str::<Value>(fixture(name)).is_err(),
            "{name}"
        );
        serde_json::from_str::<Value>(&quote_bare_keys(fixture(name)))
            .unwrap_or_else(|e| panic!("{name} with quoted names: {e}"));
    }
    let request = fixture("000_customer_info_request.txt").as_bytes();
    assert!(matches!(
        par_ordering::parse_customer_info_request(request),
        Err(Error::Malformed { .. })
    ));
    let mut out = [0u8; 512];
    let (status, _) = par_ordering::serve_customer_info(request, &mut out, |_| None);
    assert_eq!(status, 400);
}

#[test]
fn seed_000_customer_info_request_and_answer() {
    let request = quote_bare_keys(fixture("000_customer_info_request.txt"));
    let seed_answer: Value =
        serde_json::from_str(&quote_bare_keys(fixture("000_customer_info_response.txt"))).unwrap();
    // `customer_account_uuid: "1df3d3b3-d2b6-4126-93f2-1fdbd419268b"`
    let parsed = par_ordering::parse_customer_info_request(request.as_bytes()).unwrap();
    assert_eq!(
        parsed.customer_account_uuid,
        "1df3d3b3-d2b6-4126-93f2-1fdbd419268b"
    );
    // `first_name:"John",` `last_name: "Doe",` `email: "john.doe@mail.com",`
    // `phone_number: "+23533674523"`
    let details = par_ordering::CustomerDetails {
        first_name: "John",
        last_name: "Doe",
        email: "john.doe@mail.com",
        phone_number: "+23533674523",
    };
    let mut out = [0u8; 512];
    let written = par_ordering::write_customer_info(
        &par_ordering::CustomerInfo {
            customer_account_uuid: &parsed.customer_account_uuid,
            first_name: details.first_name,
            last_name: details.last_name,
            email: details.email,
            phone_number: details.phone_number,
        },
        &mut out,
    )
    .unwrap()
    .to_vec();
    assert_eq!(
        serde_json::from_slice::<Value>(&written).unwrap(),
        seed_answer
    );
    let seed_compact = compact(&quote_bare_keys(fixture("000_customer_info_response.txt")));
    assert_eq!(std::str::from_utf8(&written).unwrap(), seed_compact);
    assert_eq!(
        seed_compact,
        r#"{"customer_account_uuid":"1df3d3b3-d2b6-4126-93f2-1fdbd419268b","first_name":"John","last_name":"Doe","email":"john.doe@mail.com","phone_number":"+23533674523"}"#
    );
    let mut out = [0u8; 512];
    let (status, body) = par_ordering::serve_customer_info(request.as_bytes(), &mut out, |id| {
        (id == "1df3d3b3-d2b6-4126-93f2-1fdbd419268b").then_some(details)
    });
    assert_eq!((status, body), (200, written.as_slice()));
}

// ---------------------------------------------------------------------------------------------
// Seeds 001 and 002: Punchh
// ---------------------------------------------------------------------------------------------

fn punchh_config() -> punchh::PunchhConfig {
    // `curl https://SERVER_NAME_GOES_HERE.punchh.com/api/auth/sso \`;
    // `"client": "CLIENT_GOES_HERE",` and `"client_secret": "SECRET_GOES_HERE",`
    punchh::PunchhConfig::new(
        "https://SERVER_NAME_GOES_HERE.punchh.com",
        "CLIENT_GOES_HERE",
        "SECRET_GOES_HERE",
    )
    .unwrap()
}

/// Our request against a seed's curl example: URL, method, the same four headers (values equal
/// but the digest, a placeholder there), the body in compact form.
fn assert_like_curl(ours: &Sent, curl: &str, path: &str) {
    assert!(curl.contains("--request POST"));
    assert_eq!(ours.method, "POST");
    assert_eq!(ours.url, curl_url(curl));
    let seed_headers = curl_headers(curl);
    let seed_names: BTreeSet<String> = seed_headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    assert_eq!(ours.header_names(), seed_names);
    for (name, value) in &seed_headers {
        let got = ours.header(name).unwrap();
        if name == "x-pch-digest" {
            // `--header 'x-pch-digest: SIGNATURE_GOES_HERE'`: HMAC-SHA1 over path and body.
            assert_eq!(value, "SIGNATURE_GOES_HERE");
            let want = punchh::digest(
                "SECRET_GOES_HERE",
                punchh::Algorithm::Sha1,
                path,
                &ours.body,
            );
            assert_eq!(got, want.as_str());
        } else {
            assert_eq!(got, value, "{name}");
        }
    }
    assert_eq!(
        std::str::from_utf8(&ours.body).unwrap(),
        compact(curl_data(curl))
    );
}

#[test]
fn seed_001_sso_request_is_what_we_send() {
    let config = punchh_config();
    let mut flow = punchh::sso(&config, "SECURITY_TOKEN_GOES_HERE").unwrap();
    let (out, sent) = run(
        &mut flow,
        NOW,
        &[(200, fixture("001_sso_response.json").as_bytes())],
    );
    out.unwrap();
    let ours = &sent[0];
    let curl = fixture("001_sso_request_curl.txt");
    // `--data '{ "client": "CLIENT_GOES_HERE", "security_token": "SECURITY_TOKEN_GOES_HERE" }'`
    assert_eq!(curl_data(curl), fixture("001_sso_request_body.json"));
    assert_like_curl(ours, curl, "/api/auth/sso");
    assert_eq!(
        ours.body,
        br#"{"client":"CLIENT_GOES_HERE","security_token":"SECURITY_TOKEN_GOES_HERE"}"#
    );
    let seed_body: Value = serde_json::from_str(fixture("001_sso_request_body.json")).unwrap();
    assert_eq!(ours.body_json(), seed_body);
}

#[test]
fn seed_001_sso_response_parses() {
    let body = fixture("001_sso_response.json");
    let config = punchh_config();
    let mut flow = punchh::sso(&config, "SECURITY_TOKEN_GOES_HERE").unwrap();
    let (login, _) = run(&mut flow, NOW, &[(200, body.as_bytes())]);
    let login = login.unwrap();
    // `"token": { "access_token": "ACCESS_TOKEN_GOES_HERE" },`
    assert_eq!(login.access_token.value.expose(), "ACCESS_TOKEN_GOES_HERE");
    let user = &login.user;
    // `"id": 111111111,` `"email": "test@example.com",`
    assert_eq!(user.id, 111_111_111);
    assert_eq!(user.email, "test@example.com");
    // `"first_name": "FIRST_NAME_GOES_HERE",` `"last_name": "LAST_NAME_GOES_HERE",`
    assert_eq!(user.first_name, "FIRST_NAME_GOES_HERE");
    assert_eq!(user.last_name, "LAST_NAME_GOES_HERE");
    // `"phone": null,`
    assert_eq!(user.phone, None);
    // `"authentication_token": "AUTHENTICATION_TOKEN_GOES_HERE",`
    assert_eq!(
        user.authentication_token.as_ref().map(|t| t.expose()),
        Some("AUTHENTICATION_TOKEN_GOES_HERE")
    );
    // `"access_token": null` (the user's): absent, so the user-level token is the
    // authentication token.
    assert_eq!(user.access_token, None);
    assert_eq!(
        user.user_token().map(|t| t.expose()),
        Some("AUTHENTICATION_TOKEN_GOES_HERE")
    );
    // `"created_at": "2015-08-18T13:53:06Z",` is a string, and the answer is read with it.
    let seed: Value = serde_json::from_str(body).unwrap();
    assert_eq!(seed["user"]["created_at"], "2015-08-18T13:53:06Z");
    assert_eq!(seed["user"]["access_token"], Value::Null);
    // The user object alone (what `/api/auth/users` answers) reads the same.
    let user_only = serde_json::to_vec(&seed["user"]).unwrap();
    assert_eq!(&punchh::User::from_json(&user_only).unwrap(), user);
}

fn code_for_token_config() -> punchh::PunchhConfig {
    // `"client_id": "CLIENT_GOES_HERE",` `"client_secret": "SECRET_GOES_HERE",`
    punchh_config().with_client_id("CLIENT_GOES_HERE").unwrap()
}

#[test]
fn seed_002_oauth_token_request_is_what_we_send() {
    let config = code_for_token_config();
    // `"code": "TOKEN_GOES_HERE",` `"redirect_uri": "https://redirect-uri.com/auth"`
    let mut flow =
        punchh::code_for_token(&config, "TOKEN_GOES_HERE", "https://redirect-uri.com/auth")
            .unwrap();
    let (out, sent) = run(
        &mut flow,
        NOW,
        &[(200, fixture("002_oauth_token_response.json").as_bytes())],
    );
    out.unwrap();
    let ours = &sent[0];
    let curl = fixture("002_oauth_token_request_curl.txt");
    assert_eq!(
        curl_data(curl),
        fixture("002_oauth_token_request_body.json")
    );
    assert_like_curl(ours, curl, "/oauth/token");
    // The five members in the seed's order: code, client_id, client_secret, grant_type,
    // redirect_uri (`"grant_type": "authorization_code",`).
    assert_eq!(
        std::str::from_utf8(&ours.body).unwrap(),
        r#"{"code":"TOKEN_GOES_HERE","client_id":"CLIENT_GOES_HERE","client_secret":"SECRET_GOES_HERE","grant_type":"authorization_code","redirect_uri":"https://redirect-uri.com/auth"}"#
    );
    let seed_body: Value =
        serde_json::from_str(fixture("002_oauth_token_request_body.json")).unwrap();
    assert_eq!(ours.body_json(), seed_body);
}

#[test]
fn seed_002_oauth_token_response_parses() {
    let body = fixture("002_oauth_token_response.json");
    let seed: Value = serde_json::from_str(body).unwrap();
    // `"scope": "null",` is the *string* "null", and `"created_at": "1695818361"` a string.
    assert_eq!(seed["scope"], Value::String("null".into()));
    assert_eq!(seed["created_at"], Value::String("1695818361".into()));
    let config = code_for_token_config();
    let mut flow =
        punchh::code_for_token(&config, "TOKEN_GOES_HERE", "https://redirect-uri.com/auth")
            .unwrap();
    let (set, _) = run(&mut flow, NOW, &[(200, body.as_bytes())]);
    let set = set.unwrap();
    // `"access_token": "ACCESS_TOKEN_GOES_HERE",` `"token_type": "Bearer",`
    assert_eq!(set.access.value.expose(), "ACCESS_TOKEN_GOES_HERE");
    // `"refresh_token": "REFRESH_TOKEN_GOES_HERE",`
    assert_eq!(
        set.refresh.as_ref().map(|r| r.expose()),
        Some("REFRESH_TOKEN_GOES_HERE")
    );
    // The core reads the string "null" as no scope (`code_for_token`'s documented choice:
    // Punchh means "no scope applies"), never as the scope named "null".
    assert_eq!(set.scope, None);
    // No `expires_in` in the answer: the lifetime is unknown (a 401 will tell).
    assert_eq!(set.expires_in, None);
    assert_eq!(set.access.expiry, Expiry::Unknown);
    // `"token_type": "Bearer",` is checked: another type is refused.
    let mac = body.replace("\"Bearer\"", "\"mac\"");
    let mut flow =
        punchh::code_for_token(&config, "TOKEN_GOES_HERE", "https://redirect-uri.com/auth")
            .unwrap();
    let (refused, _) = run(&mut flow, NOW, &[(200, mac.as_bytes())]);
    assert!(
        matches!(
            refused,
            Err(Error::Malformed {
                what: "token_type",
                ..
            })
        ),
        "{refused:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Seed 003: Stream
// ---------------------------------------------------------------------------------------------

fn stream_config() -> stream::StreamConfig {
    stream::StreamConfig::new(
        "https://api.stream.example",
        "https://orders.brand.example",
        "stream-client",
        "stream-secret",
    )
    .unwrap()
}

#[test]
fn seed_003_generate_session_request_is_what_we_send() {
    let seed_text = fixture("003_generate_session_request.json");
    let seed: Value = serde_json::from_str(seed_text).unwrap();
    let field = |k: &str| seed[k].as_str().unwrap();
    // `"provider_org_id": "restaurant_chain_abc_123",` `"role": "manager",`
    // `"email": "sarah.manager@restaurantchain.com",` `"full_name": "Sarah Johnson",`
    // `"phone_number": "+1-555-123-4567"`
    let who = stream::SessionRequest {
        provider_org_id: field("provider_org_id"),
        role: stream::Role::parse(field("role")).unwrap(),
        email: field("email"),
        full_name: field("full_name"),
        phone_number: field("phone_number"),
    };
    let config = stream_config();
    // `Authorization: Bearer YOUR_ACCESS_TOKEN`
    let mut flow = stream::generate_session(&config, "YOUR_ACCESS_TOKEN", &who).unwrap();
    let (out, sent) = run(
        &mut flow,
        NOW,
        &[(
            200,
            fixture("003_generate_session_response.json").as_bytes(),
        )],
    );
    out.unwrap();
    let ours = &sent[0];
    // `POST /white-label/generate-session`
    let head = fixture("003_generate_session_request_head.txt");
    let mut lines = head.lines();
    let (method, path) = lines.next().unwrap().split_once(' ').unwrap();
    assert_eq!(ours.method, method);
    assert_eq!(ours.url, format!("https://api.stream.example{path}"));
    // `Authorization: Bearer YOUR_ACCESS_TOKEN` `Content-Type: application/json`
    for line in lines {
        let (name, value) = line.split_once(": ").unwrap();
        assert_eq!(ours.header(name), Some(value), "{name}");
    }
    assert_eq!(ours.body_json(), seed);
    assert_eq!(std::str::from_utf8(&ours.body).unwrap(), compact(seed_text));
    assert_eq!(
        std::str::from_utf8(&ours.body).unwrap(),
        r#"{"provider_org_id":"restaurant_chain_abc_123","role":"manager","email":"sarah.manager@restaurantchain.com","full_name":"Sarah Johnson","phone_number":"+1-555-123-4567"}"#
    );
}

#[test]
fn seed_003_generate_session_response_and_redirect_url() {
    let config = stream_config();
    let who = stream::SessionRequest {
        provider_org_id: "restaurant_chain_abc_123",
        role: stream::Role::Manager,
        email: "sarah.manager@restaurantchain.com",
        full_name: "Sarah Johnson",
        phone_number: "+1-555-123-4567",
    };
    let body = fixture("003_generate_session_response.json");
    let mut flow = stream::generate_session(&config, "YOUR_ACCESS_TOKEN", &who).unwrap();
    let (token, _) = run(&mut flow, NOW, &[(200, body.as_bytes())]);
    // `"sso_login_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."`
    let seed_token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...";
    let seed: Value = serde_json::from_str(body).unwrap();
    assert_eq!(seed["sso_login_token"], seed_token);
    let mut buf = [0u8; stream::MAX_REDIRECT_URL_LEN];
    let url = token.unwrap().into_redirect_url(&config, &mut buf).unwrap();
    // `<WHITE_LABEL_DOMAIN>/redirect/sso?code=<SSO_LOGIN_TOKEN>` (the seed's token has only
    // unreserved characters: percent-encoding leaves it as is).
    let want = fixture("003_redirect_url.txt")
        .replace("<WHITE_LABEL_DOMAIN>", "https://orders.brand.example")
        .replace("<SSO_LOGIN_TOKEN>", seed_token);
    assert_eq!(url, want);
    assert_eq!(
        url,
        "https://orders.brand.example/redirect/sso?code=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."
    );
    // A token with reserved characters is percent-encoded in `code`.
    let reserved = body.replace(seed_token, "a+b/c=d");
    let mut flow = stream::generate_session(&config, "YOUR_ACCESS_TOKEN", &who).unwrap();
    let (token, _) = run(&mut flow, NOW, &[(200, reserved.as_bytes())]);
    let mut buf = [0u8; stream::MAX_REDIRECT_URL_LEN];
    let url = token.unwrap().into_redirect_url(&config, &mut buf).unwrap();
    assert_eq!(
        url,
        "https://orders.brand.example/redirect/sso?code=a%2Bb%2Fc%3Dd"
    );
}

// ---------------------------------------------------------------------------------------------
// Seed 004: POS API
// ---------------------------------------------------------------------------------------------

/// The seed gives no JSON example: the login answer is built from its property table
/// (`access_token | string | The UUID …`, `expires_in | integer | The time, in seconds …`,
/// `refresh_token | string | …`, `token_type | string | … which will always be Bearer`).
fn pos_login_answer() -> String {
    let table = fixture("004_login_response_table.txt");
    let rows: Vec<(&str, &str)> = table
        .lines()
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split(" | ").collect();
            (cells[0], cells[1])
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("access_token", "string"),
            ("expires_in", "integer"),
            ("refresh_token", "string"),
            ("token_type", "string"),
        ]
    );
    let answer = json!({
        "access_token": "3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f",
        "expires_in": 3600,
        "refresh_token": "r-3f2c6f8e",
        "token_type": "Bearer",
    });
    for (member, kind) in rows {
        let ok = match kind {
            "string" => answer[member].is_string(),
            "integer" => answer[member].is_u64(),
            other => panic!("type {other}"),
        };
        assert!(ok, "{member} is a{kind}");
    }
    answer.to_string()
}

fn pos_config() -> pos_api::PosConfig {
    pos_api::PosConfig::new("https://pos.example", "pos-admin-client", "pos-secret").unwrap()
}

#[test]
fn seed_004_login_answers_201_with_the_table_members() {
    let config = pos_config();
    let answer = pos_login_answer();
    let mut flow = pos_api::login(&config, "admin@pos.example", "pw").unwrap();
    // `the server responds with a 201 Created status code with an access token in the response
    // body.`
    let (set, sent) = run(&mut flow, NOW, &[(201, answer.as_bytes())]);
    let set = set.unwrap();
    // `access_token | string | The UUID used for authentication, …`
    assert_uuid_v4(set.access.value.expose());
    // `expires_in | integer | The time, in seconds, the access token remains valid`
    assert_eq!(set.expires_in, Some(3600));
    assert_eq!(set.access.expiry, Expiry::At(NOW.plus_secs(3600)));
    // `refresh_token | string | The value of the refresh token, …`
    assert_eq!(set.refresh.as_ref().map(|r| r.expose()), Some("r-3f2c6f8e"));
    // `The client sends an HTTP request that includes a basic authorization header and the
    // user's user_name and password.` / `Endpoint: POST /auth/token`
    let ours = &sent[0];
    assert_eq!(
        (ours.method, ours.url.as_str()),
        ("POST", "https://pos.example/auth/token")
    );
    let basic = ours
        .header("Authorization")
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    assert_eq!(decode(&STANDARD, basic), b"pos-admin-client:pos-secret");
    assert_eq!(
        ours.body_json(),
        json!({"user_name": "admin@pos.example", "password": "pw"})
    );
    // `token_type | string | The type of access token, which will always be Bearer`
    let mac = answer.replace("\"Bearer\"", "\"mac\"");
    let mut flow = pos_api::login(&config, "admin@pos.example", "pw").unwrap();
    let (refused, _) = run(&mut flow, NOW, &[(201, mac.as_bytes())]);
    assert!(matches!(
        refused,
        Err(Error::Malformed {
            what: "token_type",
            ..
        })
    ));
}

#[test]
fn seed_004_create_account_answers_201() {
    let config = pos_config();
    let mut flow = pos_api::create_account(&config, "admin@pos.example", "pw").unwrap();
    // `the server responds with a 201 Created status code with the response body containing
    // the new user account resource.` The seed shows no resource: this one is the sandbox's.
    let created =
        br#"{"id":"6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c","user_name":"admin@pos.example"}"#;
    let (account, sent) = run(&mut flow, NOW, &[(201, created)]);
    let account = account.unwrap();
    assert_eq!(account.id, "6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c");
    assert_eq!(account.user_name, "admin@pos.example");
    // `The client sends an HTTP request to the /users endpoint, including the user_name,
    // password, and grant_type properties in the request body.` / `Endpoint: POST /users`
    let ours = &sent[0];
    assert_eq!(
        (ours.method, ours.url.as_str()),
        ("POST", "https://pos.example/users")
    );
    assert_eq!(
        ours.body_json(),
        json!({"user_name": "admin@pos.example", "password": "pw", "grant_type": "password"})
    );
}

#[test]
fn seed_004_refresh_answers_201_with_a_new_pair() {
    let config = pos_config();
    let mut flow = pos_api::refresh(&config, "r-3f2c6f8e").unwrap();
    let answer = pos_login_answer()
        .replace(
            "3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f",
            "9b2d6a3e-1c4f-4a5b-8d7e-6f5a4b3c2d1e",
        )
        .replace("r-3f2c6f8e", "r-9b2d6a3e");
    // `the server responds with a 201 Created status code with the response body containing
    // the new access and refresh tokens.`
    let (set, sent) = run(&mut flow, NOW, &[(201, answer.as_bytes())]);
    let set = set.unwrap();
    assert_eq!(
        set.access.value.expose(),
        "9b2d6a3e-1c4f-4a5b-8d7e-6f5a4b3c2d1e"
    );
    assert_eq!(set.refresh.as_ref().map(|r| r.expose()), Some("r-9b2d6a3e"));
    assert_eq!(set.access.expiry, Expiry::At(NOW.plus_secs(3600)));
    // `The client sends an HTTP request using the refresh_token value in the authorization
    // header.` / `Endpoint: POST /auth/refresh-token`
    let ours = &sent[0];
    assert_eq!(
        (ours.method, ours.url.as_str()),
        ("POST", "https://pos.example/auth/refresh-token")
    );
    assert_eq!(ours.header("Authorization"), Some("Bearer r-3f2c6f8e"));
}
