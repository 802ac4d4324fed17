//! `ssoflow demo` — the main job — runs every step and exits 0, printing no secret in full.

use assert_cmd::Command;

#[test]
fn demo_runs_every_flow_and_exits_zero() {
    let out = Command::cargo_bin("ssoflow")
        .unwrap()
        .arg("demo")
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every step line is counted, and all of them are ok.
    let steps = stdout
        .lines()
        .filter(|l| l.starts_with("  ok ") || l.starts_with("  FAIL "))
        .count();
    assert!(steps >= 27, "{stdout}");
    assert!(
        stdout.contains(&format!("summary: {steps} steps, {steps} ok, 0 failed")),
        "{stdout}"
    );
    for step in [
        "device sign-in (RFC 8628), approved via hook",
        "sign-out (RFC 7009): revoke, then clear",
        "M2M token",
        "sign-in, refused customer token",
        "Punchh-specific call (DLC-Authorization)",
        "clock +60 min: menu token expired → 401 → re-sign-in",
        "synced on re-sign-in",
        "SSO access token",
        "authorize → callback",
        "user information",
        "user-level token → protected call",
        "redeem again → refused sso_token_redeemed",
        "old refresh token → refused",
        "token exchange (RFC 8693)",
        "authorization code + PKCE",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(step) && l.trim_start().starts_with("ok")),
            "step {step:?} missing:\n{stdout}"
        );
    }
    // Sandbox demo secrets never appear in full.
    for secret in [
        "sandbox-par-secret",
        "SECRET_GOES_HERE",
        "sandbox-stream-secret",
        "sandbox-pos-secret",
        "7Fjfp0ZBr1KtDRbnfVdmIw",
        "A3ddj3w",
    ] {
        assert!(!stdout.contains(secret), "secret {secret} printed");
    }
}
