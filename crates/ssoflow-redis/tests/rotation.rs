//! Rotating refresh tokens across a fleet (issue 17 item 4): a refresh token is never used twice,
//! whatever happens to Redis, and the stored value lives as long as its refresh token.
//!
//! The sandbox's OAuth 2.0 server rotates refresh tokens and revokes the whole family when a
//! rotated one comes back (RFC 9700 §4.14.2); it counts those replays as
//! `REPLAY /oauth2/token`. Every test here ends with that count at zero.
#![allow(clippy::result_large_err)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::{calls, redis_or_skip, sandbox};
use ssoflow_core::TokenSet;
use ssoflow_core::oauth2::{Client, Password};
use ssoflow_redis::{EncryptionKey, RedisConfig, RedisStore};
use ssoflow_sandbox::SandboxHandle;
use ssoflow_tokio::{CacheConfig, Clock, Driver, Error, TokenCache};

const TOKEN: &str = "POST /oauth2/token";
const REPLAY: &str = "REPLAY /oauth2/token";
/// Past the sandbox's access token lifetime (`access_ttl_s`, 3600 s).
const EXPIRY: Duration = Duration::from_secs(3601);
const NAME: &str = "oauth2-user";

/// One process: a runtime, a clock, the store and a cache of the user's rotating token set.
struct Node {
    rt: tokio::runtime::Runtime,
    clock: Clock,
    store: RedisStore,
    cache: TokenCache<(), Password<'static>>,
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

impl Node {
    fn new(redis_url: &str, sandbox: &SandboxHandle, config: RedisConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let clock = Clock::new();
        let driver = {
            let _in = rt.enter();
            Driver::new().expect("driver").with_clock(clock.clone())
        };
        // Entries unused for `idle_ttl` are dropped with their refresh token; the tests jump
        // the clock by an hour at a time, so keep them (a busy service renews long before).
        let cache_config = CacheConfig {
            idle_ttl: Duration::from_secs(30 * 24 * 3600),
            ..CacheConfig::default()
        };
        let matching = RedisConfig::matching(&cache_config, &driver);
        let store = RedisStore::new(
            redis_url,
            EncryptionKey::from_bytes([0x5a; 32]),
            RedisConfig {
                clock: matching.clock,
                skew: matching.skew,
                ..config
            },
        )
        .expect("store");
        let c = &sandbox.credentials().oauth2;
        let client: &'static Client = Box::leak(Box::new(
            Client::new(&format!("{}/token", c.base_url), &c.client_id)
                .and_then(|cl| cl.with_secret(&c.client_secret))
                .expect("client"),
        ));
        let recipe =
            Password::new(client, leak(&c.username), leak(&c.password), None).expect("recipe");
        let cache =
            TokenCache::with_store(driver, recipe, Arc::new(store.shared(NAME)), cache_config);
        Node {
            rt,
            clock,
            store,
            cache,
        }
    }

    /// `callers` concurrent `get`s.
    fn get(&self, callers: usize) -> Vec<Result<Arc<TokenSet>, Error>> {
        self.rt.block_on(async {
            let tasks: Vec<_> = (0..callers)
                .map(|_| {
                    let cache = self.cache.clone();
                    tokio::spawn(async move { cache.get(&()).await })
                })
                .collect();
            let mut out = Vec::with_capacity(callers);
            for t in tasks {
                out.push(t.await.expect("caller task"));
            }
            out
        })
    }

    /// One caller's token; panics on an error.
    fn token(&self) -> String {
        match self.get(1).pop().expect("one result") {
            Ok(t) => t.access.value.expose().to_owned(),
            Err(e) => panic!("caller got {e}"),
        }
    }

    fn ping(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.rt.block_on(self.store.ping()).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis did not come back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn namespace() -> String {
    format!("rot-{:08x}", rand::random::<u32>())
}

fn config(namespace: &str) -> RedisConfig {
    RedisConfig {
        namespace: namespace.to_owned(),
        ..RedisConfig::default()
    }
}

/// Every clock moves past the access token's expiry: the sandbox's and each node's.
fn expire(sandbox: &SandboxHandle, nodes: &[&Node]) {
    sandbox.advance_clock(EXPIRY);
    for n in nodes {
        n.clock.advance(EXPIRY);
    }
}

/// Queue a fault on the sandbox through its HTTP hook (the handle has no method for it).
fn delay_next_token_request(sandbox: &SandboxHandle, ms: u64) {
    let body = format!(r#"{{"path":"/oauth2/token","count":1,"kind":"delay","ms":{ms}}}"#);
    let mut s = TcpStream::connect(sandbox.addr()).expect("sandbox");
    write!(
        s,
        "POST /__sandbox/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
}

/// Wait until the sandbox has received `n` token requests (a delayed one counts on arrival).
fn wait_for_token_requests(sandbox: &SandboxHandle, n: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while calls(sandbox, TOKEN) < n {
        assert!(std::time::Instant::now() < deadline, "no token request");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn redis_command(url: &str, rt: &tokio::runtime::Runtime, args: &[&str]) {
    rt.block_on(async {
        let client = redis::Client::open(url).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("conn");
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async::<redis::Value>(&mut conn)
            .await
            .expect("command");
    });
}

#[test]
fn a_fleet_renews_a_rotating_refresh_token_once_per_expiry_and_never_replays_it() {
    let Some(redis) = redis_or_skip("rotation fleet") else {
        return;
    };
    let sandbox = sandbox();
    let ns = namespace();
    let nodes: Vec<Node> = (0..4)
        .map(|_| Node::new(&redis.url(), &sandbox, config(&ns)))
        .collect();
    // A fifth replica that takes part only at the start and the end: its local refresh token
    // is three rotations old by then.
    let sleeper = Node::new(&redis.url(), &sandbox, config(&ns));
    let all: Vec<&Node> = nodes.iter().chain([&sleeper]).collect();

    let first = sleeper.token();
    for n in &nodes {
        assert_eq!(n.token(), first);
    }
    assert_eq!(calls(&sandbox, TOKEN), 1, "one login for the fleet");
    let mut last = first;
    for round in 1..=3u64 {
        expire(&sandbox, &all);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = nodes.iter().map(|n| s.spawn(|| n.get(50))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut seen = None::<String>;
        for r in results.iter().flatten() {
            let t = r.as_ref().expect("no caller error");
            let v = t.access.value.expose().to_owned();
            assert_eq!(seen.get_or_insert(v.clone()), &v, "one token for the fleet");
        }
        let now = seen.expect("tokens");
        assert_ne!(now, last, "round {round}: renewed");
        last = now;
        assert_eq!(
            calls(&sandbox, TOKEN),
            1 + round,
            "round {round}: one refresh for the fleet"
        );
    }
    // The sleeper's refresh token was rotated away three times: it gets the fleet's token.
    assert_eq!(sleeper.token(), last);
    assert_eq!(calls(&sandbox, TOKEN), 4);
    assert_eq!(calls(&sandbox, REPLAY), 0, "{:?}", sandbox.stats());
    let fresh: u64 = all.iter().map(|n| n.store.stats().fresh_sign_ins).sum();
    assert_eq!(fresh, 0, "every renewal was a refresh under the lock");
}

#[test]
fn the_stored_value_lives_as_long_as_its_refresh_token_and_is_renewed_from() {
    let Some(redis) = redis_or_skip("rotation ttl") else {
        return;
    };
    let sandbox = sandbox();
    let ns = namespace();
    let two_days = Duration::from_secs(2 * 24 * 3600);
    let cfg = || RedisConfig {
        refresh_token_ttl: two_days,
        ..config(&ns)
    };
    let a = Node::new(&redis.url(), &sandbox, cfg());
    let first = a.token();
    let names = a.store.key_names::<TokenSet>(NAME);
    let pttl: i64 = a.rt.block_on(async {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("PTTL")
            .arg(&names.token)
            .query_async(&mut conn)
            .await
            .unwrap()
    });
    // Not the access token's hour: the refresh token's two days.
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap();
    assert!(
        pttl > ms(two_days) - 60_000 && pttl <= ms(two_days),
        "PTTL {pttl} ms"
    );

    // The access token expires; a new replica (nothing local) renews from the stored refresh
    // token, and the first replica then gets the new token from Redis.
    let b = Node::new(&redis.url(), &sandbox, cfg());
    expire(&sandbox, &[&a, &b]);
    let second = b.token();
    assert_ne!(second, first);
    assert_eq!(a.token(), second);
    assert_eq!(calls(&sandbox, TOKEN), 2, "one login, one refresh");
    assert_eq!(
        b.store.stats().fresh_sign_ins,
        0,
        "renewed, not signed in afresh"
    );
    assert_eq!(b.store.stats().locked_sign_ins, 1);
    assert_eq!(calls(&sandbox, REPLAY), 0, "{:?}", sandbox.stats());
}

#[test]
fn redis_killed_mid_refresh_costs_sign_ins_from_scratch_never_a_replay() {
    let Some(mut redis) = redis_or_skip("rotation kill") else {
        return;
    };
    let sandbox = sandbox();
    let ns = namespace();
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::new(&redis.url(), &sandbox, config(&ns)))
        .collect();
    let all: Vec<&Node> = nodes.iter().collect();
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let first = a.token();
    assert_eq!((b.token(), c.token()), (first.clone(), first.clone()));
    assert_eq!(calls(&sandbox, TOKEN), 1);

    // A holds the lock and refreshes, slowly; Redis dies meanwhile; B and C need a new token
    // while it is down.
    expire(&sandbox, &all);
    delay_next_token_request(&sandbox, 3000);
    std::thread::scope(|s| {
        let refreshing = s.spawn(|| a.token());
        wait_for_token_requests(&sandbox, 2);
        redis.stop();
        let (tb, tc) = (b.token(), c.token());
        assert_ne!(tb, first);
        assert_ne!(tc, first);
        let ta = refreshing.join().expect("A");
        assert_ne!(ta, first);
    });
    // A refreshed; B and C signed in from scratch instead of refreshing A's refresh token.
    assert_eq!(calls(&sandbox, TOKEN), 4);
    assert_eq!(b.store.stats().fresh_sign_ins, 1, "{:?}", b.store.stats());
    assert_eq!(c.store.stats().fresh_sign_ins, 1, "{:?}", c.store.stats());

    // Redis comes back empty. At the next expiry every replica's local refresh token may have
    // been rotated by someone whose write was lost: one signs in from scratch for the fleet.
    redis.restart();
    for n in &all {
        n.ping();
    }
    expire(&sandbox, &all);
    let next = a.token();
    assert_eq!((b.token(), c.token()), (next.clone(), next.clone()));
    assert_eq!(calls(&sandbox, TOKEN), 5);
    // And from then on it is shared and renewed by refresh again.
    expire(&sandbox, &all);
    let after = c.token();
    assert_ne!(after, next);
    assert_eq!((a.token(), b.token()), (after.clone(), after.clone()));
    assert_eq!(calls(&sandbox, TOKEN), 6);
    assert_eq!(calls(&sandbox, REPLAY), 0, "{:?}", sandbox.stats());
}

#[test]
fn a_writer_that_renewed_from_a_lost_value_cannot_overwrite_the_newer_one() {
    let Some(redis) = redis_or_skip("rotation fence") else {
        return;
    };
    let sandbox = sandbox();
    let ns = namespace();
    let a = Node::new(&redis.url(), &sandbox, config(&ns));
    let b = Node::new(&redis.url(), &sandbox, config(&ns));
    let first = a.token();
    assert_eq!(b.token(), first);

    // A refreshes slowly under the lock; Redis loses everything meanwhile (lock included), and
    // B, needing a token, finds nothing to renew from: it signs in from scratch and stores it.
    expire(&sandbox, &[&a, &b]);
    // (A's answer is held for 3 s: B signs in and stores well before it.)
    delay_next_token_request(&sandbox, 3000);
    let (ta, tb) = std::thread::scope(|s| {
        let refreshing = s.spawn(|| a.token());
        wait_for_token_requests(&sandbox, 2);
        redis_command(&redis.url(), &b.rt, &["FLUSHALL"]);
        let tb = b.token();
        (refreshing.join().expect("A"), tb)
    });
    assert_ne!(ta, tb);
    assert_eq!(b.store.stats().fresh_sign_ins, 1);
    // A's write came later and was fenced off: Redis still holds B's.
    assert_eq!(a.store.stats().fenced, 1, "{:?}", a.store.stats());
    let stored =
        b.rt.block_on(b.store.load::<TokenSet>(NAME))
            .unwrap()
            .unwrap();
    assert_eq!(stored.access.value.expose(), tb);
    assert_eq!(calls(&sandbox, TOKEN), 3);
    assert_eq!(calls(&sandbox, REPLAY), 0, "{:?}", sandbox.stats());
}

#[test]
fn a_replica_that_waited_too_long_for_the_lock_signs_in_from_scratch_and_shares_it() {
    let Some(redis) = redis_or_skip("rotation max_wait") else {
        return;
    };
    let sandbox = sandbox();
    let ns = namespace();
    let cfg = || RedisConfig {
        max_wait: Duration::from_millis(300),
        ..config(&ns)
    };
    let a = Node::new(&redis.url(), &sandbox, cfg());
    let b = Node::new(&redis.url(), &sandbox, cfg());
    let first = a.token();
    assert_eq!(b.token(), first);
    // A replica holds the lock and hangs (set by hand: it never finishes).
    let names = a.store.key_names::<TokenSet>(NAME);
    redis_command(
        &redis.url(),
        &a.rt,
        &["SET", &names.lock, "a-hung-replica", "PX", "60000"],
    );
    expire(&sandbox, &[&a, &b]);
    // (It gives up before a pause would take it past `max_wait`: no lower bound on the time.)
    let renewed = b.token();
    assert_ne!(renewed, first);
    let stats = b.store.stats();
    assert_eq!((stats.waits, stats.fresh_sign_ins), (1, 1), "{stats:?}");
    // Shared all the same (the generation it saw was still there): A takes it from Redis.
    assert_eq!(a.token(), renewed);
    assert_eq!(calls(&sandbox, TOKEN), 2);
    assert_eq!(calls(&sandbox, REPLAY), 0, "{:?}", sandbox.stats());
}
