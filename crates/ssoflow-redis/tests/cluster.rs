//! Redis Cluster (issue 18 item 6): a local three-node cluster made by the test
//! (`redis-server --cluster-enabled yes` on free ports, then `redis-cli --cluster create`); the
//! store is given one node and finds the rest; a key's lock and value share a hash slot.
#![allow(clippy::result_large_err)]

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    RedisServer, Replica, SIGN_IN, TOKENS, calls, free_port, key, on_all, one_token, sandbox,
};
use ssoflow_core::par_ordering::SignIn;
use ssoflow_core::{AccessToken, Expiry, Secret};
use ssoflow_redis::{RedisConfig, RedisStore};
use ssoflow_sandbox::PAR_TEST_SUBJECT_TOKEN;

/// Three cluster nodes, stopped and their cluster files removed on drop.
struct Cluster {
    nodes: Vec<RedisServer>,
    files: Vec<PathBuf>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.stop();
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

impl Cluster {
    fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

fn skip(why: &str) -> Option<Cluster> {
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: Redis Cluster test: {why} ***\n"
    );
    None
}

fn redis_cli(args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cluster_or_skip() -> Option<Cluster> {
    if !common::redis_server_available() {
        return skip("redis-server unavailable");
    }
    if redis_cli(&["--version"]).is_none() {
        return skip("redis-cli unavailable");
    }
    let mut cluster = Cluster {
        nodes: Vec::new(),
        files: Vec::new(),
    };
    for _ in 0..3 {
        // The cluster bus gets a free port of its own: the default (port + 10000) may be taken
        // or past 65535.
        let file = format!(
            "ssoflow-redis-cluster-{}-{:08x}.conf",
            std::process::id(),
            rand::random::<u32>()
        );
        cluster.files.push(std::env::temp_dir().join(&file));
        let node = RedisServer::try_start(|_| {
            vec![
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                file.clone(),
                "--cluster-port".into(),
                free_port().to_string(),
                "--cluster-node-timeout".into(),
                "5000".into(),
            ]
        });
        match node {
            Ok(node) => cluster.nodes.push(node),
            Err(said) => {
                return skip(&format!(
                    "redis-server refused cluster mode: {}",
                    said.trim()
                ));
            }
        }
    }
    let addrs: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port()))
        .collect();
    let mut create = vec!["--cluster", "create"];
    create.extend(addrs.iter().map(String::as_str));
    create.push("--cluster-yes");
    assert!(
        redis_cli(&create).is_some(),
        "redis-cli --cluster create failed"
    );
    // Every node must see every slot served before the test starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for n in &cluster.nodes {
        let port = n.port().to_string();
        loop {
            let info = redis_cli(&["-p", &port, "cluster", "info"]).unwrap_or_default();
            if info.contains("cluster_state:ok") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "cluster not ok: {info}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Some(cluster)
}

fn node_command(port: u16, args: &[&str]) -> String {
    redis_cli(
        &["-p", &port.to_string()]
            .into_iter()
            .chain(args.iter().copied())
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
    .trim()
    .to_owned()
}

#[test]
fn a_fleet_on_a_three_node_cluster_signs_in_once_and_keys_spread_over_every_node() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let urls = cluster.urls();
    let sandbox = sandbox();
    // Each replica is given one node (not the same one): it learns the slot map from it.
    let replicas: Vec<Replica> = (0..3)
        .map(|i| {
            let seed = urls[i % urls.len()].clone();
            Replica::with_store(&sandbox, RedisConfig::default(), |c| {
                RedisStore::cluster(&[seed.as_str()], key(), c)
            })
        })
        .collect();
    let token = one_token(&on_all(&replicas, |r| r.get_m2m(100)));
    assert_eq!(calls(&sandbox, TOKENS), 1, "one sign-in for the fleet");
    let customer: Vec<String> = on_all(&replicas, |r| {
        r.rt.block_on(r.customers.get(&PAR_TEST_SUBJECT_TOKEN.to_owned()))
            .expect("customer token")
            .menu_token
            .value
            .expose()
            .to_owned()
    });
    assert!(customer.iter().all(|c| *c == customer[0]));
    assert_eq!(
        calls(&sandbox, SIGN_IN),
        1,
        "one customer sign-in for the fleet"
    );
    for r in &replicas {
        let s = r.store.stats();
        assert_eq!((s.direct_sign_ins, s.outages), (0, 0), "{s:?}");
    }

    // A key's value and lock hash to one slot (the `{digest}` tag), whatever the slot.
    let port = cluster.nodes[0].port();
    for names in [
        replicas[0].store.key_names::<AccessToken>("par-m2m"),
        replicas[0].store.key_names::<SignIn>(common::CUSTOMER),
    ] {
        let slot = node_command(port, &["cluster", "keyslot", &names.token]);
        assert_eq!(
            slot,
            node_command(port, &["cluster", "keyslot", &names.lock])
        );
        assert!(!slot.is_empty());
    }

    // Many keys: they land on all three nodes, and each reads back through any replica.
    let r = &replicas[1];
    let expiry = Expiry::At(r.clock.now().plus_millis(3_600_000));
    for i in 0..30 {
        let value = AccessToken {
            value: Secret::new(&format!("fake-token-{i}"), "access_token").unwrap(),
            expiry,
        };
        r.rt.block_on(r.store.store(format!("key-{i}"), &value))
            .expect("store on the cluster");
    }
    let other = &replicas[2];
    for i in 0..30 {
        let got = other
            .rt
            .block_on(other.store.load::<AccessToken>(format!("key-{i}")))
            .expect("load")
            .expect("present");
        assert_eq!(got.value.expose(), format!("fake-token-{i}"));
    }
    for n in &cluster.nodes {
        let keys: u64 = node_command(n.port(), &["dbsize"]).parse().unwrap_or(0);
        assert!(keys > 0, "node {} holds no key", n.port());
    }
    drop(token);
}
