//! A command-line tool on the blocking driver: every sign-in is a recipe behind a shared
//! session, every protected call gets refresh-on-401.
//!
//! ```text
//! cargo run --example blocking --features ureq                      # starts its own sandbox
//! cargo run --example blocking --features ureq -- --sandbox-json "$(ssoflow sandbox --test-hooks | head -1)"
//! ```
//!
//! Four things, one per provider: a PAR Ordering customer's protected call (the sign-in keeps
//! its M2M token between re-sign-ins), a POS admin's protected call (login, then refresh with
//! the refresh token), an OAuth 2.0 machine token, and Stream's one-time login URL.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

use std::time::Duration;

use serde_json::Value;
use ssoflow::blocking::{Driver, Error, SharedSession};
use ssoflow::par_ordering::{self, CustomerSignIn, RequestIds, SignIn};
use ssoflow::session::HasAccessToken;
use ssoflow::{Method, TokenSet, oauth2, pos_api, stream};
use ssoflow_sandbox::{Sandbox, SandboxHandle};

/// Where the sandbox is: started here, or given as its ready line.
enum Target {
    Own(SandboxHandle),
    External(Value),
}

impl Target {
    fn get() -> Result<Target, Box<dyn std::error::Error>> {
        let args: Vec<String> = std::env::args().collect();
        match args.iter().position(|a| a == "--sandbox-json") {
            Some(i) => {
                let json = args
                    .get(i + 1)
                    .ok_or("--sandbox-json needs the ready line")?;
                Ok(Target::External(serde_json::from_str(json)?))
            }
            None => Ok(Target::Own(
                Sandbox::builder().test_hooks(true).start_blocking()?,
            )),
        }
    }

    /// The ready line's JSON (the same shape in both cases).
    fn ready(&self) -> Result<Value, Box<dyn std::error::Error>> {
        match self {
            Target::Own(sb) => Ok(serde_json::from_str(&sb.ready_line())?),
            Target::External(v) => Ok(v.clone()),
        }
    }
}

/// A string member of the ready line.
fn s<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, Box<dyn std::error::Error>> {
    let mut at = v;
    for p in path {
        at = &at[p];
    }
    at.as_str()
        .ok_or_else(|| format!("ready line: no {}", path.join(".")).into())
}

/// 16 fresh random bytes (request ids).
fn entropy() -> [u8; 16] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source");
    b
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::get()?;
    let ready = target.ready()?;
    let driver = Driver::default();

    // PAR Ordering: a customer's protected call; a 401 signs in again once and retries once.
    let par = par_ordering::ParConfig::new(
        s(&ready, &["par_ordering", "base_url"])?,
        s(&ready, &["par_ordering", "application_key"])?,
        s(&ready, &["par_ordering", "client_id"])?,
        s(&ready, &["par_ordering", "client_secret"])?,
    )?;
    let customer = SharedSession::new(CustomerSignIn::new(&par));
    let subject = s(&ready, &["par_ordering", "test_subject_token"])?;
    let mut ids = RequestIds::new(entropy());
    let mut me = || -> Result<par_ordering::CustomerAccount, Error> {
        let r = driver.send_authorized(&customer, subject, |t: &SignIn, buf| {
            let menu = t.access_token().value.expose();
            par.protected_request(buf, Method::Get, "/api/customers/me", menu, &mut ids)
        })?;
        Ok(r.with_core(par_ordering::read_customer_account)?)
    };
    let account = me()?;
    println!("par     {} <{}>", account.first_name, account.email);
    if let Target::Own(sb) = &target {
        sb.advance_clock(Duration::from_secs(3601)); // past the menu token's ttl (60 min)
        let again = me()?;
        println!(
            "par     menu token expired → 401 → one re-sign-in → {} (generation {})",
            again.email,
            customer.lock().generation()
        );
    }

    // POS API: an admin's protected call (creates the admin first on our own sandbox).
    let pos = pos_api::PosConfig::new(
        s(&ready, &["pos_api", "base_url"])?,
        s(&ready, &["pos_api", "client_id"])?,
        s(&ready, &["pos_api", "client_secret"])?,
    )?;
    let (user, password) = ("example-admin", "correct horse battery staple");
    if matches!(target, Target::Own(_)) {
        driver.run(pos_api::create_account(&pos, user, password)?)?;
    }
    let admin = SharedSession::new(pos_api::Admin::new(&pos, user, password)?);
    let r = driver.send_authorized(&admin, &(), |t: &TokenSet, buf| {
        pos_api::admin_request(&pos, t.access.value.expose(), buf)
    })?;
    println!("pos     /admin/me → {}", r.status);

    // OAuth 2.0: a machine token (no session needed for one call).
    let oauth = oauth2::Client::new(
        &format!("{}/token", s(&ready, &["oauth2", "base_url"])?),
        s(&ready, &["oauth2", "client_id"])?,
    )?
    .with_secret(s(&ready, &["oauth2", "client_secret"])?)?;
    let tokens = driver.run(oauth2::client_credentials(&oauth, Some("orders"))?)?;
    let lifetime = tokens
        .expires_in
        .map_or_else(|| "unknown lifetime".to_owned(), |s| format!("{s} s"));
    println!("oauth2  machine token, {lifetime}");

    // Stream: the API token, then a one-time login URL for a manager.
    // The sandbox plays the white-label application too, under the same base URL.
    let stream_base = s(&ready, &["stream", "base_url"])?;
    let stream = stream::StreamConfig::new(
        stream_base,
        stream_base,
        s(&ready, &["stream", "client_id"])?,
        s(&ready, &["stream", "client_secret"])?,
    )?;
    let api = driver.run(stream::api_token(&stream)?)?;
    let who = stream::SessionRequest {
        provider_org_id: "restaurant_chain_abc_123",
        role: stream::Role::Manager,
        email: "sarah.manager@restaurantchain.com",
        full_name: "Sarah Johnson",
        phone_number: "+1-555-123-4567",
    };
    let login = driver.run(stream::generate_session(
        &stream,
        api.access.value.expose(),
        &who,
    )?)?;
    let mut buf = vec![0u8; stream::MAX_REDIRECT_URL_LEN];
    let url = login.into_redirect_url(&stream, &mut buf)?;
    let shown = url.split("code=").next().unwrap_or(url);
    println!("stream  one-time login URL {shown}code=…");
    Ok(())
}
