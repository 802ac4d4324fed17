//! What a Redis dump shows (nothing usable), refresh-on-401 across replicas, and values that do
//! not open.
#![allow(clippy::result_large_err)]

mod common;

use common::{CUSTOMER, M2M_TTL, Replica, SIGN_IN, TOKENS, calls, key, redis_or_skip, sandbox};
use ssoflow_core::par_ordering::SignIn;
use ssoflow_core::{AccessToken, Expiry};
use ssoflow_redis::{EncryptionKey, KeyRing, RedisConfig, RedisStore, StoreError};
use ssoflow_sandbox::PAR_TEST_SUBJECT_TOKEN;
use ssoflow_tokio::Lease;

fn lease(r: &Replica) -> Lease<SignIn> {
    r.rt.block_on(r.customers.lease(&PAR_TEST_SUBJECT_TOKEN.to_owned()))
        .expect("customer token")
}

#[test]
fn a_redis_dump_holds_no_token_and_no_customer_identity() {
    let Some(redis) = redis_or_skip("at rest") else {
        return;
    };
    let sandbox = sandbox();
    let a = Replica::new(&redis.url(), &sandbox, &key(), RedisConfig::default());
    let signed_in = lease(&a).value;
    let m2m = a.get_m2m(1).pop().unwrap().unwrap();
    let customer_id = signed_in.customer.id.to_string();
    assert_eq!(signed_in.customer.email.as_str(), CUSTOMER);

    let (keys, values) = a.rt.block_on(async {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut values = Vec::new();
        for k in &keys {
            // `{g: generation, v: sealed value}`: all of it, field names included.
            let v: Vec<Vec<u8>> = redis::cmd("HGETALL")
                .arg(k)
                .query_async(&mut conn)
                .await
                .unwrap();
            values.push(v.concat());
        }
        (keys, values)
    });
    assert_eq!(
        keys.len(),
        2,
        "one customer token, one M2M token, no lock left: {keys:?}"
    );
    let names = a.store.key_names::<SignIn>(CUSTOMER);
    assert!(keys.contains(&names.token), "{keys:?}");
    for k in &keys {
        assert!(k.starts_with("ssoflow:tok:{") && k.ends_with('}'), "{k}");
        for secret in ["jane", "partech", CUSTOMER, &customer_id] {
            assert!(!k.contains(secret), "key name {k} reveals {secret}");
        }
    }
    let contains =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    for v in &values {
        for secret in [
            signed_in.menu_token.value.expose(),
            m2m.value.expose(),
            CUSTOMER,
            "Jane",
            &customer_id,
        ] {
            assert!(!contains(v, secret), "a stored value holds plaintext");
        }
    }

    // A value moved under another key does not open there.
    let other = a.store.key_names::<SignIn>("someone.else@example.com");
    a.rt.block_on(async {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("COPY")
            .arg(&names.token)
            .arg(&other.token)
            .query_async::<i64>(&mut conn)
            .await
            .unwrap();
    });
    let moved =
        a.rt.block_on(a.store.load::<SignIn>("someone.else@example.com"));
    assert_eq!(moved.unwrap_err(), StoreError::Crypto);
    // The customer's own value opens, with every field; the expiry survives the trip through
    // wall-clock time to within the clocks' reading skew.
    let loaded =
        a.rt.block_on(a.store.load::<SignIn>(CUSTOMER))
            .unwrap()
            .unwrap();
    assert_eq!(loaded.customer, signed_in.customer);
    assert_eq!(loaded.menu_token.value, signed_in.menu_token.value);
    assert_eq!(loaded.dlc_token, signed_in.dlc_token);
    let (Expiry::At(got), Expiry::At(want)) =
        (loaded.menu_token.expiry, signed_in.menu_token.expiry)
    else {
        panic!("expiry lost");
    };
    assert!(
        got.millis_since(want).max(want.millis_since(got)) <= 5,
        "{got:?} vs {want:?}"
    );
    // Sign-out removes it fleet-wide.
    a.rt.block_on(a.store.remove::<SignIn>(CUSTOMER)).unwrap();
    assert!(
        a.rt.block_on(a.store.load::<SignIn>(CUSTOMER))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_401_seen_by_every_replica_causes_one_re_sign_in_for_the_fleet() {
    let Some(redis) = redis_or_skip("401") else {
        return;
    };
    let sandbox = sandbox();
    let replicas: Vec<Replica> = (0..3)
        .map(|_| Replica::new(&redis.url(), &sandbox, &key(), RedisConfig::default()))
        .collect();
    let first: Vec<_> = replicas.iter().map(lease).collect();
    assert_eq!(calls(&sandbox, SIGN_IN), 1);
    let old = first[0].value.menu_token.value.expose().to_owned();
    assert!(
        first
            .iter()
            .all(|l| l.value.menu_token.value.expose() == old)
    );

    // Every replica's next call with that token is refused.
    for (r, l) in replicas.iter().zip(&first) {
        r.customers
            .report_unauthorized(&PAR_TEST_SUBJECT_TOKEN.to_owned(), l.generation);
    }
    let second: Vec<_> = replicas.iter().map(lease).collect();
    assert_eq!(calls(&sandbox, SIGN_IN), 2, "{:?}", sandbox.stats());
    let new = second[0].value.menu_token.value.expose().to_owned();
    assert_ne!(new, old);
    assert!(
        second
            .iter()
            .all(|l| l.value.menu_token.value.expose() == new)
    );
    // The M2M token the sign-in flow fetched for itself is its own business.
    assert!(calls(&sandbox, TOKENS) <= 2);
}

#[test]
fn a_value_sealed_with_another_key_is_replaced_not_used() {
    let Some(redis) = redis_or_skip("other key") else {
        return;
    };
    let sandbox = sandbox();
    let a = Replica::new(&redis.url(), &sandbox, &key(), RedisConfig::default());
    let stranger = Replica::new(
        &redis.url(),
        &sandbox,
        &EncryptionKey::from_bytes([0x77; 32]),
        RedisConfig::default(),
    );
    let theirs = stranger.get_m2m(10).pop().unwrap().unwrap();
    // Key names depend on the application key too, so make the clash by hand.
    let ours = a.store.key_names::<AccessToken>("par-m2m");
    let their_name = stranger.store.key_names::<AccessToken>("par-m2m");
    assert_ne!(ours, their_name);
    a.rt.block_on(async {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("COPY")
            .arg(&their_name.token)
            .arg(&ours.token)
            .query_async::<i64>(&mut conn)
            .await
            .unwrap();
    });
    let mine = a.get_m2m(10).pop().unwrap().unwrap();
    assert_ne!(mine.value.expose(), theirs.value.expose());
    assert_eq!(calls(&sandbox, TOKENS), 2);
    assert!(a.store.stats().unreadable >= 1);
    // Replaced: the next replica with our key shares ours.
    let b = Replica::new(&redis.url(), &sandbox, &key(), RedisConfig::default());
    assert_eq!(
        b.get_m2m(10).pop().unwrap().unwrap().value.expose(),
        mine.value.expose()
    );
    assert_eq!(calls(&sandbox, TOKENS), 2);
}

#[test]
fn encryption_keys_rotate_without_a_sign_in_and_without_renaming_keys() {
    let Some(redis) = redis_or_skip("key rotation") else {
        return;
    };
    let sandbox = sandbox();
    let (a, b) = (key(), EncryptionKey::from_bytes([0x6b; 32]));
    let url = redis.url();
    let with = |ring: KeyRing| {
        Replica::with_store(&sandbox, RedisConfig::default(), |c| {
            RedisStore::new(&url, ring, c)
        })
    };
    let old = Replica::new(&url, &sandbox, &a, RedisConfig::default());
    let token = old.get_m2m(1).pop().unwrap().unwrap();
    assert_eq!(calls(&sandbox, TOKENS), 1);
    // Step 1: replicas that can open `b`'s values, still sealing with `a`; step 2: `b` seals.
    let preparing = with(KeyRing::new(a.clone()).opening(b.clone()));
    let rotated = with(KeyRing::new(a.clone()).with_next(b.clone()));
    assert_eq!(
        rotated.store.key_names::<AccessToken>("par-m2m"),
        old.store.key_names::<AccessToken>("par-m2m"),
        "a rotation renames no key"
    );
    for r in [&preparing, &rotated] {
        let got = r.get_m2m(1).pop().unwrap().unwrap();
        assert_eq!(got.value, token.value, "the value sealed with `a` opens");
    }
    assert_eq!(calls(&sandbox, TOKENS), 1, "no sign-in for a rotation");

    // The token expires; the rotated replica renews for the fleet and seals with `b`.
    let step = M2M_TTL + std::time::Duration::from_secs(1);
    sandbox.advance_clock(step);
    for r in [&old, &preparing, &rotated] {
        r.advance(step);
    }
    let renewed = rotated.get_m2m(1).pop().unwrap().unwrap();
    assert_eq!(calls(&sandbox, TOKENS), 2);
    let got = preparing.get_m2m(1).pop().unwrap().unwrap();
    assert_eq!(
        got.value, renewed.value,
        "the preparing ring opens `b`'s value"
    );
    assert_eq!(calls(&sandbox, TOKENS), 2);
    // A replica that was never given `b` cannot open it: it signs in and replaces it (which
    // is why step 1 comes first).
    let stale = old.get_m2m(1).pop().unwrap().unwrap();
    assert_ne!(stale.value, renewed.value);
    assert_eq!(calls(&sandbox, TOKENS), 3);
    assert!(old.store.stats().unreadable >= 1);
}
