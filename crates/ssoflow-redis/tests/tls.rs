//! `rediss://` against a real TLS `redis-server` (issue 18 item 6), with a CA made for the test
//! (rcgen, through the sandbox's `TestCa`): trusted through `add_root_certificates_pem`, and
//! refused — Redis counted as down, sign-ins go direct — without it or for another name.
#![allow(clippy::result_large_err)]

mod common;

use std::io::Write;
use std::path::PathBuf;

use common::{RedisServer, Replica, TOKENS, calls, free_port, key, on_all, one_token, sandbox};
use ssoflow_redis::{RedisConfig, RedisStore, StoreError};
use ssoflow_sandbox::tls::TestCa;

/// Files of one test's certificates, removed on drop.
struct Files(Vec<PathBuf>);

impl Files {
    fn write(&mut self, name: &str, pem: &str) -> String {
        let path = std::env::temp_dir().join(format!(
            "ssoflow-redis-tls-{}-{:08x}-{name}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::write(&path, pem).expect("write pem");
        self.0.push(path.clone());
        path.display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A `redis-server` with a TLS port (its plain port stays for the readiness PING), or `None`
/// with the reason printed when this build of Redis has no TLS.
fn tls_redis(ca: &TestCa, files: &mut Files) -> Option<(RedisServer, u16)> {
    tls_redis_for(ca, files, &["localhost", "127.0.0.1"])
}

/// [`tls_redis`] with a certificate for `names`.
fn tls_redis_for(ca: &TestCa, files: &mut Files, names: &[&str]) -> Option<(RedisServer, u16)> {
    if !common::redis_server_available() {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: redis-server unavailable (rediss) ***\n"
        );
        return None;
    }
    let issued = ca.issue(names).expect("certificate");
    let (cert, key, ca_file) = (
        files.write("cert.pem", &issued.cert_pem),
        files.write("key.pem", &issued.key_pem),
        files.write("ca.pem", ca.cert_pem()),
    );
    let tls_port = free_port();
    let started = RedisServer::try_start(|_| {
        [
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca_file,
            "--tls-auth-clients",
            "no",
        ]
        .map(str::to_owned)
        .to_vec()
    });
    match started {
        Ok(server) => Some((server, tls_port)),
        Err(said) => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: this redis-server does not serve TLS (`--tls-port` refused: {}) ***\n",
                said.lines()
                    .find(|l| l.contains("tls") || l.contains("Bad directive"))
                    .unwrap_or(said.trim())
            );
            None
        }
    }
}

#[test]
fn a_fleet_shares_tokens_over_rediss_with_a_private_ca() {
    let ca = TestCa::new("ssoflow-redis test CA").expect("CA");
    let mut files = Files(Vec::new());
    let Some((redis, tls_port)) = tls_redis(&ca, &mut files) else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{tls_port}/");
    let sandbox = sandbox();
    // Generous deadlines: a TLS handshake in a debug build on a loaded test machine can take
    // longer than the 500 ms connect default, and a replica that times out signs in directly.
    let trusted = || {
        RedisConfig {
            connect_timeout: std::time::Duration::from_secs(5),
            timeout: std::time::Duration::from_secs(2),
            ..RedisConfig::default()
        }
        .add_root_certificates_pem(ca.cert_pem().as_bytes())
        .expect("CA pem")
    };
    let replicas: Vec<Replica> = (0..3)
        .map(|_| Replica::new(&url, &sandbox, &key(), trusted()))
        .collect();
    for r in &replicas {
        let started = std::time::Instant::now();
        r.rt.block_on(r.store.ping()).expect("TLS connect");
        println!("rediss:// connect + PING: {:?}", started.elapsed());
    }
    one_token(&on_all(&replicas, |r| r.get_m2m(100)));
    assert_eq!(
        calls(&sandbox, TOKENS),
        1,
        "one sign-in for the fleet, over TLS"
    );
    for r in &replicas {
        r.rt.block_on(r.store.ping()).expect("TLS ping");
        assert_eq!(r.store.stats().direct_sign_ins, 0, "{:?}", r.store.stats());
    }

    // What TLS costs a read of the shared token (one round trip on a warm connection), against
    // the same server's plain port.
    let plain = Replica::new(&redis.url(), &sandbox, &key(), RedisConfig::default());
    for (what, r) in [("rediss://", &replicas[0]), ("redis://", &plain)] {
        let mut samples: Vec<std::time::Duration> = (0..300)
            .map(|_| {
                let started = std::time::Instant::now();
                let got =
                    r.rt.block_on(r.store.load::<ssoflow_core::AccessToken>("par-m2m"))
                        .expect("load");
                assert!(got.is_some());
                started.elapsed()
            })
            .collect();
        samples.sort();
        println!(
            "{what} load of the shared token: p50 {:?}, p99 {:?}",
            samples[150], samples[297]
        );
    }

    // The name is checked too: `localhost` is on the certificate, so it works; the platform
    // store can be added on top of the private CA.
    let by_name = Replica::new(
        &format!("rediss://localhost:{tls_port}/"),
        &sandbox,
        &key(),
        trusted().platform_roots(true),
    );
    by_name.rt.block_on(by_name.store.ping()).expect("by name");
    one_token(&[by_name.get_m2m(1)]);
    assert_eq!(calls(&sandbox, TOKENS), 1);
}

#[test]
fn an_untrusted_redis_certificate_is_refused_and_sign_ins_go_direct() {
    let ca = TestCa::new("ssoflow-redis test CA").expect("CA");
    let mut files = Files(Vec::new());
    let Some((_redis, tls_port)) = tls_redis(&ca, &mut files) else {
        return;
    };
    let sandbox = sandbox();
    // Mozilla's roots only: the private CA is unknown.
    let untrusted = Replica::new(
        &format!("rediss://127.0.0.1:{tls_port}/"),
        &sandbox,
        &key(),
        RedisConfig::default(),
    );
    let refused = untrusted.rt.block_on(untrusted.store.ping()).unwrap_err();
    assert!(refused.is_outage(), "{refused:?}");
    // Nothing fails for the callers: the sign-in goes direct, unshared.
    one_token(&[untrusted.get_m2m(10)]);
    assert_eq!(untrusted.store.stats().direct_sign_ins, 1);
    assert_eq!(calls(&sandbox, TOKENS), 1);

    // Another CA's roots do not help either.
    let other = TestCa::new("someone else's CA").expect("CA");
    let store = RedisStore::new(
        &format!("rediss://127.0.0.1:{tls_port}/"),
        key(),
        RedisConfig::default()
            .add_root_certificates_pem(other.cert_pem().as_bytes())
            .expect("pem"),
    )
    .expect("store");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    assert!(rt.block_on(store.ping()).unwrap_err().is_outage());
    // And verification cannot be switched off through the URL.
    assert!(matches!(
        RedisStore::new(
            &format!("rediss://127.0.0.1:{tls_port}/#insecure"),
            key(),
            RedisConfig::default(),
        ),
        Err(StoreError::Config { .. })
    ));
}

#[test]
fn a_redis_certificate_for_another_name_is_refused() {
    let ca = TestCa::new("ssoflow-redis test CA").expect("CA");
    let mut files = Files(Vec::new());
    let Some((_redis, tls_port)) = tls_redis_for(&ca, &mut files, &["redis.example"]) else {
        return;
    };
    let store = RedisStore::new(
        &format!("rediss://127.0.0.1:{tls_port}/"),
        key(),
        RedisConfig::default()
            .add_root_certificates_pem(ca.cert_pem().as_bytes())
            .expect("pem"),
    )
    .expect("store");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let refused = rt.block_on(store.ping()).unwrap_err();
    assert!(refused.is_outage(), "{refused:?}");
    assert!(!store.is_available());
}
