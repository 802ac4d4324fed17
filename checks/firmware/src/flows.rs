//! The flows every firmware check links: PAR sign-in + session, Punchh SSO, POS ROPC + refresh
//! and Stream generate-session, each behind its feature, over any `embedded-io` stream.

use core::hint::black_box;

use embedded_io::{Read, Write};
use ssoflow_core::session::{Policy, Session};
use ssoflow_core::{Instant, Method, TokenSet};
use ssoflow_embedded_io::{Driver, Error};

/// Every enabled flow once, over `io`.
#[inline(always)]
pub fn all<S: Read + Write>(driver: &mut Driver<'_>, io: &mut S) {
    #[cfg(feature = "par")]
    par(driver, io);
    #[cfg(feature = "punchh")]
    punchh(driver, io);
    #[cfg(feature = "pos")]
    pos(driver, io);
    #[cfg(feature = "stream")]
    stream_flow(driver, io);
    let _ = (&driver, &io);
}

fn now() -> Instant {
    Instant::from_millis(black_box(0))
}

fn report<T>(r: Result<T, Error>) {
    match r {
        Ok(v) => {
            black_box(&v);
        }
        Err(e) => {
            black_box(e.kind());
        }
    }
}

#[cfg(feature = "par")]
pub fn par<S: Read + Write>(driver: &mut Driver<'_>, stream: &mut S) {
    use ssoflow_core::par_ordering::{self, RequestIds};
    let Ok(config) = par_ordering::ParConfig::new(
        black_box("https://api-public-playground.menu.app"),
        black_box("f3a90488ffee32c3acb6fcd0ca417cf6"),
        black_box("client-id"),
        black_box("client-secret"),
    ) else {
        return;
    };
    let subject = black_box("subject-token");
    let recipe = par_ordering::CustomerSignIn::<str>::new(&config);
    let mut session = Session::<par_ordering::SignIn, Error>::with_policy(Policy::DEFAULT);
    let mut seed = black_box([7u8; 16]);
    let mut call_ids = RequestIds::new(black_box([9u8; 16]));
    let mut clock = now;
    let r = driver.send_authorized(
        stream,
        &mut clock,
        &mut session,
        &recipe,
        subject,
        || {
            // A firmware reads its hardware RNG here.
            seed[0] = seed[0].wrapping_add(1);
            seed
        },
        |t: &par_ordering::SignIn, buf: &mut [u8]| {
            config.protected_request(
                buf,
                Method::Get,
                "/api/customers/me",
                t.menu_token.value.expose(),
                &mut call_ids,
            )
        },
    );
    report(r.map(|v| v.status()));
}

#[cfg(feature = "punchh")]
pub fn punchh<S: Read + Write>(driver: &mut Driver<'_>, stream: &mut S) {
    use ssoflow_core::punchh;
    let Ok(config) = punchh::PunchhConfig::new(
        black_box("https://sandbox.punchh.com"),
        black_box("business-key"),
        black_box("business-secret"),
    ) else {
        return;
    };
    if let Ok(flow) = punchh::sso(&config, black_box("security-token")) {
        report(driver.run(stream, &mut now, flow));
    }
}

#[cfg(feature = "pos")]
pub fn pos<S: Read + Write>(driver: &mut Driver<'_>, stream: &mut S) {
    use ssoflow_core::pos_api;
    let Ok(config) = pos_api::PosConfig::new(
        black_box("https://pos.example"),
        black_box("client-id"),
        black_box("client-secret"),
    ) else {
        return;
    };
    let Ok(flow) = pos_api::login(&config, black_box("admin"), black_box("password")) else {
        return;
    };
    let tokens: Result<TokenSet, Error> = driver.run(stream, &mut now, flow);
    if let Ok(Some(r)) = tokens.as_ref().map(|t| t.refresh.as_ref()) {
        if let Ok(flow) = pos_api::refresh(&config, r.expose()) {
            report(driver.run(stream, &mut now, flow));
        }
    }
    report(tokens);
}

#[cfg(feature = "stream")]
pub fn stream_flow<S: Read + Write>(driver: &mut Driver<'_>, io: &mut S) {
    use ssoflow_core::stream;
    let Ok(config) = stream::StreamConfig::new(
        black_box("https://api.stream.example"),
        black_box("https://orders.brand.example"),
        black_box("client-id"),
        black_box("client-secret"),
    ) else {
        return;
    };
    let Ok(flow) = stream::api_token(&config) else {
        return;
    };
    let Ok(api) = driver.run(io, &mut now, flow) else {
        return;
    };
    let who = stream::SessionRequest {
        provider_org_id: black_box("org-1"),
        role: stream::Role::parse(black_box("manager")).unwrap_or(stream::Role::Owner),
        email: black_box("owner@example.com"),
        full_name: black_box("Owner"),
        phone_number: black_box("+41 76 000 00 00"),
    };
    if let Ok(flow) = stream::generate_session(&config, api.access.value.expose(), &who) {
        report(driver.run(io, &mut now, flow).map(|_token| ()));
    }
}
