//! `ssoflow punchh` with the OAuth client secret and the signing secret apart:
//! SSOFLOW_SIGNING_SECRET is the `x-pch-digest` key, SSOFLOW_CLIENT_SECRET the `client_secret`.

mod common;

use common::{get, json, query_param, sandbox_with, ssoflow};
use predicates::prelude::*;

const CLIENT_SECRET: &str = "fake-oauth-client-secret";
const SIGNING_SECRET: &str = "fake-signing-secret";

#[test]
fn signing_secret_overrides_the_digest_key_only() {
    // seed 002: "client_secret ... OAuth client secret of the business"; the x-pch-digest key is
    // configured on its own.
    let mut config = ssoflow_sandbox::Config::default();
    config.punchh.secret = CLIENT_SECRET.into();
    config.punchh.signing_secret = Some(SIGNING_SECRET.into());
    let sb = sandbox_with(config);
    let c = sb.credentials().punchh.clone();
    let punchh = |sub: &str| {
        let mut cmd = ssoflow();
        cmd.args([
            "punchh",
            sub,
            "--base-url",
            &c.base_url,
            "--client",
            &c.client,
        ]);
        cmd
    };
    let no_secret_shown = |out: &std::process::Output| {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(CLIENT_SECRET), "{text}");
            assert!(!text.contains(SIGNING_SECRET), "{text}");
        }
    };

    // SSO: signed with the signing secret.
    let out = punchh("sso")
        .arg("--json")
        .env("SSOFLOW_CLIENT_SECRET", CLIENT_SECRET)
        .env("SSOFLOW_SIGNING_SECRET", SIGNING_SECRET)
        .env("SSOFLOW_SECURITY_TOKEN", &c.security_token)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json(&out.stdout)["user"]["id"], 111_111_111);
    no_secret_shown(&out);
    // The signing secret alone will do for a call that carries no client secret.
    punchh("sso")
        .env("SSOFLOW_SIGNING_SECRET", SIGNING_SECRET)
        .env("SSOFLOW_SECURITY_TOKEN", &c.security_token)
        .assert()
        .success();
    // Without it the client secret signs: the digest is refused.
    let out = punchh("sso")
        .env("SSOFLOW_CLIENT_SECRET", CLIENT_SECRET)
        .env("SSOFLOW_SECURITY_TOKEN", &c.security_token)
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("error: digest: "))
        .get_output()
        .clone();
    no_secret_shown(&out);
    punchh("sso")
        .env("SSOFLOW_SECURITY_TOKEN", &c.security_token)
        .assert()
        .code(2);

    // Code for token: the body carries SSOFLOW_CLIENT_SECRET, the digest uses the signing secret.
    let code = || {
        let v = json(
            &punchh("authorize-url")
                .args(["--redirect-uri", &c.redirect_uri, "--json"])
                .assert()
                .success()
                .get_output()
                .stdout
                .clone(),
        );
        let (status, location) = get(v["url"].as_str().unwrap());
        assert_eq!(status, 302);
        query_param(&location.expect("Location"), "code")
    };
    let out = punchh("code")
        .args(["--redirect-uri", &c.redirect_uri, "--json"])
        .env("SSOFLOW_CLIENT_SECRET", CLIENT_SECRET)
        .env("SSOFLOW_SIGNING_SECRET", SIGNING_SECRET)
        .env("SSOFLOW_CODE", code())
        .assert()
        .success()
        .get_output()
        .clone();
    let tokens = json(&out.stdout);
    no_secret_shown(&out);
    // The signing secret as the client secret: the OAuth app refuses it (invalid_client).
    punchh("code")
        .args(["--redirect-uri", &c.redirect_uri])
        .env("SSOFLOW_CLIENT_SECRET", SIGNING_SECRET)
        .env("SSOFLOW_SIGNING_SECRET", SIGNING_SECRET)
        .env("SSOFLOW_CODE", code())
        .assert()
        .code(3)
        .stderr(predicate::str::contains("invalid_client"));

    let user = json(
        &punchh("user")
            .arg("--json")
            .env("SSOFLOW_CLIENT_SECRET", CLIENT_SECRET)
            .env("SSOFLOW_SIGNING_SECRET", SIGNING_SECRET)
            .env(
                "SSOFLOW_ACCESS_TOKEN",
                tokens["access_token"].as_str().unwrap(),
            )
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(user["email"], "test@example.com");
}
