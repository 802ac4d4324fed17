//! Every flow, chosen by the input's first byte (`% 24`: 23 flows and the session model), driven
//! by the sequence of records that follows (see the crate docs for the format and
//! the per-record flags: clock jumps, extra polls, double handles, small buffers),
//! or a shared `session::Session` used by three simulated callers with `session::Call`.
//!
//! Flows: each terminates within 16 polls, never sends after `Done` or after an error, answers
//! misuse with `Error::State`, and a `BufferTooSmall { required }` poll succeeds with exactly
//! `required` bytes. Session: only one caller at a time is told to sign in, nobody waits when
//! nobody signs in, `Ready` never hands out an expired token nor one reported unauthorized,
//! generations count sign-ins, and one call makes at most two attempts.
#![no_main]
use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use ssoflow_core::oauth2::{self, ACCESS_TOKEN_TYPE, Pkce};
use ssoflow_core::par_ordering::{self, RequestIds};
use ssoflow_core::session::{Access, AfterFailure, Call, Session, Ticket, Verdict};
use ssoflow_core::stream::{Role, SessionRequest};
use ssoflow_core::{
    AccessToken, Error, Expiry, Flow, Instant, Response, Secret, Step, TokenSet, pos_api, punchh,
    stream,
};
use ssoflow_fuzz::{Record, configs, drive, records};

const SECRETS: &[&str] = &[
    configs::CLIENT_SECRET,
    "user-PASSWORD-1",
    "old-REFRESH-token",
    "auth-CODE-123456",
    "subject-TOKEN-1",
    "cached-m2m-TOKEN",
    "security-TOKEN-1",
];

fn run<F: Flow>(mut flow: F, recs: &[Record<'_>])
where
    F::Output: Debug,
{
    let mut clock = 0;
    let _ = drive(&mut flow, recs, &mut clock, SECRETS);
}

/// Number of inputs the selector byte chooses from: 23 flows and the session model.
const CHOICES: u8 = 24;

/// Run flow number `which` (0..23) on `recs`.
fn one_flow(which: u8, recs: &[Record<'_>]) {
    let client = configs::oauth2_client();
    let strict = configs::oauth2_client().with_quirks(ssoflow_core::Quirks::STRICT);
    let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
    let par = configs::par();
    let p = configs::punchh();
    let s = configs::stream();
    let pos = configs::pos();
    let c = if which < 5 { &client } else { &strict };
    let par_cached = |expiry: Option<Expiry>| {
        let m2m = expiry.map(|expiry| AccessToken {
            value: Secret::new("cached-m2m-TOKEN", "t").unwrap(),
            expiry,
        });
        par_ordering::sign_in(&par, m2m, "subject-TOKEN-1", RequestIds::new([2; 16])).unwrap()
    };
    match which {
        0 | 5 => run(oauth2::client_credentials(c, Some("orders")).unwrap(), recs),
        1 | 6 => run(
            oauth2::password(c, "user", "user-PASSWORD-1", None).unwrap(),
            recs,
        ),
        2 | 7 => run(oauth2::refresh(c, "old-REFRESH-token", None).unwrap(), recs),
        3 | 8 => run(
            oauth2::authorization_code(
                c,
                "auth-CODE-123456",
                "https://app.example/cb",
                Some(&pkce),
            )
            .unwrap(),
            recs,
        ),
        4 | 9 => run(
            oauth2::token_exchange(c, "subject-TOKEN-1", ACCESS_TOKEN_TYPE, Some("aud"), None)
                .unwrap(),
            recs,
        ),
        10 => run(
            par_ordering::m2m_token(&par, &mut RequestIds::new([1; 16])),
            recs,
        ),
        11 => run(par_cached(None), recs),
        12 => run(par_cached(Some(Expiry::Unknown)), recs),
        13 => run(
            par_cached(Some(Expiry::At(Instant::from_millis(5_000)))),
            recs,
        ),
        14 => run(punchh::sso(&p, "security-TOKEN-1").unwrap(), recs),
        15 => run(
            punchh::code_for_token(&p, "auth-CODE-123456", "https://app.example/cb").unwrap(),
            recs,
        ),
        16 => run(punchh::user_info(&p, "user-ACCESS-token").unwrap(), recs),
        17 => run(stream::api_token(&s).unwrap(), recs),
        18 => {
            let request = SessionRequest {
                provider_org_id: "org-1",
                role: Role::Owner,
                email: "a@b.example",
                full_name: "A B",
                phone_number: "+1 555",
            };
            run(
                stream::generate_session(&s, "api-TOKEN-abc", &request).unwrap(),
                recs,
            )
        }
        19 => run(
            stream::redeem("https://brand.example/redirect/sso?code=login-TOKEN").unwrap(),
            recs,
        ),
        20 => run(
            pos_api::create_account(&pos, "admin", "user-PASSWORD-1").unwrap(),
            recs,
        ),
        21 => run(
            pos_api::login(&pos, "admin", "user-PASSWORD-1").unwrap(),
            recs,
        ),
        22 => run(pos_api::refresh(&pos, "old-REFRESH-token").unwrap(), recs),
        _ => session_model(recs),
    }
}

/// Sign in with client credentials, the record as the token endpoint's answer.
fn sign_in_once(
    client: &oauth2::Client,
    rec: &Record<'_>,
    now: Instant,
) -> Result<TokenSet, Error> {
    let mut flow = oauth2::client_credentials(client, None)?;
    let mut buf = vec![0u8; 4096];
    match flow.poll(now, &mut buf)? {
        Step::Send(_) => {}
        Step::Done => panic!("client credentials done without a request"),
    }
    let mut out = None;
    flow.handle(now, Response::new(rec.status, rec.body), &mut out)?;
    match flow.poll(now, &mut buf)? {
        Step::Done => Ok(out.expect("Done with an empty output slot")),
        Step::Send(_) => panic!("client credentials sent twice"),
    }
}

#[derive(Default)]
struct Caller {
    signing: bool,
    call: Option<(Call, u32)>,
    ticket: Option<Ticket>,
}

fn session_model(recs: &[Record<'_>]) {
    let client = configs::oauth2_client();
    let skew = recs.first().map_or(0, |r| r.flags.advance_ms);
    let mut session: Session<TokenSet> = Session::new(skew);
    let mut callers: [Caller; 3] = Default::default();
    let mut now = 0u64;
    let mut generation = 0u64;
    let mut stale: Option<u64> = None;
    // The token in hand arrived already due for renewal: it is used until a 401.
    let mut arrived_due = false;
    // The last sign-in failed transiently and a retry is due.
    let mut backing_off = false;
    for rec in recs.iter().skip(1) {
        now = now.saturating_add(rec.flags.advance_ms);
        let t = Instant::from_millis(now);
        if rec.flags.clear {
            session.clear();
        }
        let c = rec.flags.caller;
        if callers[c].signing {
            callers[c].signing = false;
            match sign_in_once(&client, rec, t) {
                Ok(tokens) => {
                    arrived_due = tokens.access.expiry.needs_refresh(t, skew);
                    generation = session.signed_in(t, tokens);
                    assert_eq!(generation, session.generation());
                    backing_off = false;
                }
                Err(e) => {
                    let entropy = u32::from(rec.status);
                    match session.sign_in_failed(t, e, entropy) {
                        AfterFailure::RetryAt(at) => {
                            assert!(at >= t, "a retry in the past");
                            backing_off = true;
                        }
                        AfterFailure::Failed(_) => backing_off = false,
                    }
                }
            }
            continue;
        }
        let access = match session.access(t, callers[c].ticket.take()) {
            Access::Ready {
                token,
                generation: g,
            } => {
                assert!(
                    arrived_due || !token.access.expiry.needs_refresh(t, 0),
                    "Ready with an expired token"
                );
                Some(g)
            }
            Access::SignIn { .. } => {
                assert!(
                    !callers.iter().any(|x| x.signing),
                    "two callers told to sign in"
                );
                callers[c].signing = true;
                backing_off = false;
                None
            }
            Access::Wait { ticket, until } => {
                assert!(
                    callers.iter().any(|x| x.signing) || (backing_off && until.is_some()),
                    "Wait while nobody signs in and no retry is due"
                );
                callers[c].ticket = Some(ticket);
                None
            }
            Access::Failed(_) => None,
        };
        let Some(g) = access else { continue };
        assert_eq!(
            g, generation,
            "Ready with generation {g}, last sign-in was {generation}"
        );
        assert_ne!(stale, Some(g), "Ready with a token reported unauthorized");
        let (call, attempts) = callers[c].call.get_or_insert((Call::new(), 0));
        *attempts += 1;
        assert!(*attempts <= 2, "a call made {attempts} attempts");
        match call.on_status(&mut session, g, rec.status) {
            Ok(Verdict::Done) => {
                assert_ne!(rec.status, 401);
                callers[c].call = None;
            }
            Ok(Verdict::Retry) => {
                assert_eq!(rec.status, 401);
                stale = Some(g);
            }
            Err(Error::Unauthorized) => {
                assert_eq!(rec.status, 401);
                stale = Some(g);
                callers[c].call = None;
            }
            Err(e) => panic!("Call::on_status: {e:?}"),
        }
    }
}

// The first byte chooses one flow (or the session model) rather than running all 24 on every
// input: coverage feedback then belongs to one flow, and an execution costs one flow run.
fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    let recs = records(data, 12);
    one_flow(which % CHOICES, &recs);
});
