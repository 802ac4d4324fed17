//! A minimal ordering app on the async driver and the `/customer-info` endpoint.
//!
//! It serves PAR Ordering's `/customer-info` callback from its own in-memory customers, answering
//! only a call that carries the customer's own identity-provider access token; signs a customer
//! in to PAR Ordering (token exchange; the `CustomerSignIn` recipe keeps one M2M token between
//! sign-ins); and calls the protected `GET /api/customers/me` through a `TokenCache` keyed by
//! the customer's identity-provider token, with refresh-on-401.
//!
//! ```text
//! cargo run --example server_app --features tokio,customer-info             # in-process sandbox
//! cargo run --example server_app --features tokio,customer-info -- --sandbox-json "$(ssoflow sandbox | head -1)"
//! SSOFLOW_SANDBOX='{"listening":…}' cargo run --example server_app --features tokio,customer-info
//! ```
//!
//! With its own sandbox, the app registers the sandbox's calls to its `/customer-info`, so the
//! customer signs in with her identity-provider token and a changed email is synced. With an
//! external sandbox (which does not know this app's address) it uses the playground's test
//! subject token.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use ssoflow::Method;
use ssoflow::customer_info::{BearerToken, Customer, CustomerInfoEndpoint, RateLimit, Refusal};
use ssoflow::par_ordering::{self, CustomerSignIn, RequestIds, SignIn};
use ssoflow::tokio::{CacheConfig, Driver, Error, OwnedRequest, TokenCache};
use ssoflow_sandbox::{Sandbox, SandboxHandle};

/// Customers by their id at our identity provider.
type Customers = Arc<RwLock<HashMap<String, Customer>>>;

/// Ada's id at our identity provider.
const ADA: &str = "0b1c6a52-6f3e-4d0e-9a43-5d1c9e0d4a11";
/// The access token our identity provider issued Ada: a JWT whose `sub` is her id (PAR Ordering
/// reads the id from it and shares the whole token with our `/customer-info`).
const ADA_TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIwYjFjNmE1Mi02ZjNlLTRkMGUtOWE0My01ZDFjOWUwZDRhMTEifQ.YWRhLXNpZ25hdHVyZQ";

/// The sandbox's ready line, from `--sandbox-json` or `SSOFLOW_SANDBOX`.
fn sandbox_line() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--sandbox-json" {
            return args.next();
        }
        if let Some(v) = a.strip_prefix("--sandbox-json=") {
            return Some(v.to_owned());
        }
    }
    std::env::var("SSOFLOW_SANDBOX")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, String> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("ready line has no {}", path.join(".")))
}

/// Serve `/customer-info` from `customers` on 127.0.0.1:0; returns its URL. `issued` maps the
/// access tokens our identity provider issued to their customer's id.
async fn serve_customer_info(
    customers: Customers,
    issued: HashMap<String, String>,
) -> std::io::Result<String> {
    let verify = move |token: BearerToken, asked: String| {
        // Whose token is it? (A real app introspects it or asks its IdP's userinfo.)
        let owner = issued.get(token.expose()).cloned();
        let customers = customers.clone();
        async move {
            let found = owner.and_then(|id| customers.read().ok()?.get(&id).cloned());
            println!(
                "  [app] PAR Ordering asked /customer-info about {asked}: {}",
                if found.is_some() {
                    "token verified"
                } else {
                    "refused"
                }
            );
            found.ok_or(Refusal::Unauthorized)
        }
    };
    let router = CustomerInfoEndpoint::new(verify)
        .rate_limit(RateLimit::per_peer(120, Duration::from_secs(60)))
        .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/customer-info", listener.local_addr()?);
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, service).await {
            eprintln!("customer-info server stopped: {e}");
        }
    });
    Ok(url)
}

/// Everything the app shares between requests. The PAR configuration lives as long as the
/// process (leaked once at start-up): the recipe borrows it, and requests run in spawned tasks.
#[derive(Clone)]
struct App {
    par: &'static par_ordering::ParConfig,
    /// One session per customer, keyed by the customer's identity-provider token.
    customers: TokenCache<String, CustomerSignIn<'static>>,
}

impl App {
    /// `GET /api/customers/me` for the customer holding `subject_token`, with refresh-on-401.
    async fn me(&self, subject_token: &String) -> Result<Value, Error> {
        let par = self.par;
        let response = self
            .customers
            .send_authorized(subject_token, move |s: &SignIn| {
                let mut ids = RequestIds::new(rand::random());
                OwnedRequest::write_with(|buf| {
                    par.protected_request(
                        buf,
                        Method::Get,
                        "/api/customers/me",
                        s.menu_token.value.expose(),
                        &mut ids,
                    )
                })
            })
            .await?;
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        Ok(body["data"]["customer_account"].clone())
    }

    /// Sign-ins so far for the customer holding `subject_token` (the session's generation).
    async fn sign_ins(&self, subject_token: &String) -> u64 {
        self.customers
            .lease(subject_token)
            .await
            .map_or(0, |l| l.generation)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The driver's and the cache's events (redacted) on stderr; RUST_LOG-free on purpose.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();

    let customers: Customers = Arc::new(RwLock::new(HashMap::from([(
        ADA.to_owned(),
        Customer {
            customer_account_uuid: ADA.into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone_number: "+441234567890".into(),
        },
    )])));
    let issued = HashMap::from([(ADA_TOKEN.to_owned(), ADA.to_owned())]);
    let customer_info_url = serve_customer_info(customers.clone(), issued).await?;
    println!("app: /customer-info listening at {customer_info_url}");

    // The sandbox: given, or our own (kept alive by `_own`).
    let (ready, _own): (Value, Option<SandboxHandle>) = match sandbox_line() {
        Some(line) => (serde_json::from_str(line.trim())?, None),
        None => {
            let sandbox = Sandbox::builder()
                .test_hooks(true)
                .customer_info_url(&customer_info_url)
                .start()
                .await?;
            println!(
                "app: started an in-process sandbox at {}",
                sandbox.base_url()
            );
            (serde_json::from_str(&sandbox.ready_line())?, Some(sandbox))
        }
    };
    let par = par_ordering::ParConfig::new(
        text(&ready, &["par_ordering", "base_url"])?,
        text(&ready, &["par_ordering", "application_key"])?,
        text(&ready, &["par_ordering", "client_id"])?,
        text(&ready, &["par_ordering", "client_secret"])?,
    )?;
    // Our own sandbox calls our /customer-info, so Ada signs in with her IdP token; an external
    // one does not know us, so use the playground's test customer.
    let (customer, subject) = match &_own {
        Some(_) => (ADA.to_owned(), ADA_TOKEN.to_owned()),
        None => (
            "test-customer".to_owned(),
            text(&ready, &["par_ordering", "test_subject_token"])?.to_owned(),
        ),
    };

    let par: &'static par_ordering::ParConfig = Box::leak(Box::new(par));
    let app = App {
        par,
        customers: TokenCache::new(
            Driver::new()?,
            CustomerSignIn::new(par),
            CacheConfig::default(),
        ),
    };

    println!("\n1. sign in {customer} and call GET /api/customers/me");
    let account = app.me(&subject).await?;
    let field = |k: &str| account[k].as_str().unwrap_or("?").to_owned();
    println!(
        "   -> account {}: {} {} <{}>",
        field("id"),
        field("first_name"),
        field("last_name"),
        field("email")
    );

    println!("\n2. 200 concurrent requests share the cached menu token");
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let (app, subject) = (app.clone(), subject.clone());
            tokio::spawn(async move { app.me(&subject).await })
        })
        .collect();
    let mut ok = 0;
    for c in calls {
        if c.await?.is_ok() {
            ok += 1;
        }
    }
    println!(
        "   -> {ok}/200 answered; sign-ins so far: {}",
        app.sign_ins(&subject).await
    );

    println!("\n3. the menu token expires at the provider: refresh-on-401");
    if let Some(sandbox) = &_own {
        if let Ok(mut c) = customers.write() {
            if let Some(ada) = c.get_mut(ADA) {
                ada.email = "ada.lovelace@example.org".into();
                println!("   (Ada changed her email at our identity provider)");
            }
        }
        sandbox.advance_clock(Duration::from_secs(3601)); // past the ttl of 60 minutes
    } else if !force_401(&app, &ready).await {
        println!("   (the external sandbox has no test hooks: skipped)");
    }
    let before = app.sign_ins(&subject).await;
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (app, subject) = (app.clone(), subject.clone());
            tokio::spawn(async move { app.me(&subject).await })
        })
        .collect();
    let mut last = Value::Null;
    for c in calls {
        last = c.await??;
    }
    println!(
        "   -> 50 calls answered after {} re-sign-in(s); email now <{}>",
        app.sign_ins(&subject).await - before,
        last["email"].as_str().unwrap_or("?")
    );
    println!(
        "\ndone: {} customer sign-in(s) in all",
        app.sign_ins(&subject).await
    );
    Ok(())
}

/// Ask an external sandbox (if it has test hooks) to answer the next protected call with 401.
async fn force_401(app: &App, ready: &Value) -> bool {
    let Ok(base) = text(ready, &["listening"]) else {
        return false;
    };
    let mut request = OwnedRequest::new(http::Method::POST, format!("{base}/__sandbox/faults"));
    request.headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    request.body = br#"{"path":"/par/api/customers/me","kind":"unauthorized","count":1}"#
        .to_vec()
        .into();
    matches!(app.customers.driver().send(request).await, Ok(r) if r.status == 201)
}
