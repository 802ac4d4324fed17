//! Shared by the tests and the bench: a real `redis-server` on a free loopback port, the
//! sandbox, and "replicas" — each its own tokio runtime with its own `Clock`, `Driver`,
//! `TokenCache` and `RedisStore`, as separate processes would have.
#![allow(dead_code, clippy::result_large_err, missing_docs)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::Duration;

use ssoflow_core::AccessToken;
use ssoflow_core::par_ordering::{self, CustomerSignIn, M2m};
use ssoflow_redis::{EncryptionKey, RedisConfig, RedisStore};
use ssoflow_sandbox::{Sandbox, SandboxHandle};
use ssoflow_tokio::{CacheConfig, Clock, Driver, Error, TokenCache};

/// The customer's name fleet-wide: the customer's email (it must not reach Redis). The
/// customers' cache is keyed by the identity-provider token; the store names it by this.
pub const CUSTOMER: &str = "jane.doe@partech.com";

pub const TOKENS: &str = "POST /par/api/oauth/tokens";
pub const SIGN_IN: &str = "POST /par/api/sts/users/sign-in";
/// The sandbox's M2M token lifetime (its default `m2m_ttl_s`).
pub const M2M_TTL: Duration = Duration::from_secs(86_399);

/// Whether `redis-server` can be run here; tries `apt-get install` once if it is missing.
pub fn redis_server_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let present = || {
            Command::new("redis-server")
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if present() {
            return true;
        }
        let _ = writeln!(
            std::io::stderr(),
            "redis-server not found: trying `apt-get install -y redis-server` once"
        );
        let apt = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let install = ["install", "-y", "--no-install-recommends", "redis-server"];
        if !apt(&install) {
            let _ = apt(&["update"]);
            let _ = apt(&install);
        }
        present()
    })
}

/// A `redis-server` child process on 127.0.0.1; killed on drop.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// More arguments (TLS, cluster mode).
    extra: Vec<String>,
    /// What the server printed when it last failed to start.
    pub failure: String,
}

/// Print the skip notice and return `None` when there is no `redis-server` to run.
pub fn redis_or_skip(test: &str) -> Option<RedisServer> {
    if !redis_server_available() {
        // Straight to the process's stderr, past the test harness's capture: seen in CI logs.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: redis-server unavailable ({test}) ***\n"
        );
        return None;
    }
    Some(RedisServer::start())
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl RedisServer {
    /// Start on a free port (picked by binding :0 and releasing it; retried if taken meanwhile).
    pub fn start() -> Self {
        Self::try_start(|_| Vec::new()).unwrap_or_else(|why| {
            panic!("redis-server did not start on any of 5 free ports: {why}")
        })
    }

    /// Start with more arguments, made from the plain port picked (`Err`: what the server
    /// said when it would not start, e.g. an option this build does not know).
    pub fn try_start(extra: impl Fn(u16) -> Vec<String>) -> Result<Self, String> {
        let mut failure = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut server = RedisServer {
                port,
                child: None,
                extra: extra(port),
                failure: String::new(),
            };
            if server.spawn() {
                return Ok(server);
            }
            failure = std::mem::take(&mut server.failure);
        }
        Err(failure)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Run the server on `self.port`; `false` if it exited (port taken) before answering.
    fn spawn(&mut self) -> bool {
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let log_err = log.try_clone().expect("log file");
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .args(["--dir", &std::env::temp_dir().display().to_string()])
            .args(&self.extra)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .expect("spawn redis-server");
        // Wait (bounded) until it answers PING, or until it exits.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                self.failure = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                let _ = std::fs::remove_file(self.log_path());
                return false;
            }
            if ping(self.port) {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Where the server's output goes (removed with the server).
    fn log_path(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "ssoflow-redis-test-{}-{}.log",
            std::process::id(),
            self.port
        ))
    }

    /// Kill the server (as a crash would: no shutdown save, connections cut).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freeze the server (SIGSTOP): connections stay open, nothing answers — a hung Redis.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Let a frozen server go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    }

    /// Start it again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.stop();
        assert!(self.spawn(), "redis-server did not restart on its port");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A frozen server still dies of SIGKILL; thawing first is only tidier.
            let _ = Command::new("kill")
                .args([
                    "-CONT",
                    &self.child.as_ref().map_or(0, Child::id).to_string(),
                ])
                .status();
        }
        self.stop();
        let _ = std::fs::remove_file(self.log_path());
    }
}

/// `PING` over a plain socket.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// The sandbox with test hooks, on a runtime of its own.
pub fn sandbox() -> SandboxHandle {
    Sandbox::builder()
        .test_hooks(true)
        .start_blocking()
        .expect("sandbox")
}

pub fn calls(sandbox: &SandboxHandle, what: &str) -> u64 {
    sandbox.stats().get(what).copied().unwrap_or(0)
}

/// The application key every replica of the tests shares.
pub fn key() -> EncryptionKey {
    EncryptionKey::from_bytes([0x5a; 32])
}

/// One "process": a runtime, a clock, a driver, the local caches and the Redis store.
pub struct Replica {
    pub rt: tokio::runtime::Runtime,
    pub clock: Clock,
    pub driver: Driver,
    pub m2m: TokenCache<(), M2m<'static>>,
    pub customers: TokenCache<String, CustomerSignIn<'static>>,
    pub store: RedisStore,
    /// Leaked for the test's life: the recipes borrow it.
    pub par: &'static par_ordering::ParConfig,
}

impl Replica {
    /// A replica of the application on `redis_url`; `config` without its clock (set here).
    pub fn new(
        redis_url: &str,
        sandbox: &SandboxHandle,
        key: &EncryptionKey,
        config: RedisConfig,
    ) -> Self {
        Self::with_store(sandbox, config, |c| RedisStore::new(redis_url, key, c))
    }

    /// A replica whose store `make` builds from `config` (given its clock and skew here).
    pub fn with_store(
        sandbox: &SandboxHandle,
        config: RedisConfig,
        make: impl FnOnce(RedisConfig) -> Result<RedisStore, ssoflow_redis::StoreError>,
    ) -> Self {
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
        let cache_config = CacheConfig::default();
        let matching = RedisConfig::matching(&cache_config, &driver);
        let store = make(RedisConfig {
            clock: matching.clock,
            skew: matching.skew,
            ..config
        })
        .expect("store");
        let c = &sandbox.credentials().par_ordering;
        let par = par_ordering::ParConfig::new(
            &c.base_url,
            &c.application_key,
            &c.client_id,
            &c.client_secret,
        )
        .expect("par config");
        let par: &'static par_ordering::ParConfig = Box::leak(Box::new(par));
        Replica {
            rt,
            m2m: TokenCache::with_store(
                driver.clone(),
                M2m::new(par),
                Arc::new(store.shared("par-m2m")),
                cache_config.clone(),
            ),
            customers: TokenCache::with_store(
                driver.clone(),
                CustomerSignIn::new(par),
                Arc::new(store.shared_by(|_subject: &str| CUSTOMER.as_bytes().to_vec())),
                cache_config,
            ),
            clock,
            driver,
            store,
            par,
        }
    }

    /// `callers` concurrent `get`s of the M2M token through the shared store.
    pub fn get_m2m(&self, callers: usize) -> Vec<Result<Arc<AccessToken>, Error>> {
        self.rt.block_on(async {
            let tasks: Vec<_> = (0..callers)
                .map(|_| {
                    let cache = self.m2m.clone();
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

    /// Move this replica's clock forward (the sandbox's is moved by the caller).
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }
}

/// Run `f` on every replica at once, one thread each, started together.
pub fn on_all<R: Send>(replicas: &[Replica], f: impl Fn(&Replica) -> R + Sync) -> Vec<R> {
    let start = Barrier::new(replicas.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = replicas
            .iter()
            .map(|r| {
                let (start, f) = (&start, &f);
                s.spawn(move || {
                    start.wait();
                    f(r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("replica thread"))
            .collect()
    })
}

/// Expect every result to be a token, all the same one; return its value.
pub fn one_token(results: &[Vec<Result<Arc<AccessToken>, Error>>]) -> String {
    let mut value = None::<String>;
    for (replica, results) in results.iter().enumerate() {
        for r in results {
            let t = match r {
                Ok(t) => t,
                Err(e) => panic!("replica {replica}: caller got {e}"),
            };
            match &value {
                None => value = Some(t.value.expose().to_owned()),
                Some(v) => assert_eq!(
                    v.as_str(),
                    t.value.expose(),
                    "replica {replica} got another token"
                ),
            }
        }
    }
    value.expect("at least one caller")
}

/// A fleet of `n` replicas, `callers` each, on a cold cache and again after the token expired:
/// token requests at the provider for each round.
pub fn fleet(redis: &RedisServer, n: usize, callers: usize) -> (u64, u64) {
    let sandbox = sandbox();
    let namespace = format!("fleet-{n}-{:08x}", rand::random::<u32>());
    let replicas: Vec<Replica> = (0..n)
        .map(|_| {
            Replica::new(
                &redis.url(),
                &sandbox,
                &key(),
                RedisConfig {
                    namespace: namespace.clone(),
                    ..RedisConfig::default()
                },
            )
        })
        .collect();
    let first = one_token(&on_all(&replicas, |r| r.get_m2m(callers)));
    let cold = calls(&sandbox, TOKENS);
    let step = M2M_TTL + Duration::from_secs(1);
    sandbox.advance_clock(step);
    replicas.iter().for_each(|r| r.advance(step));
    let second = one_token(&on_all(&replicas, |r| r.get_m2m(callers)));
    assert_ne!(first, second, "the expired token was handed out again");
    (cold, calls(&sandbox, TOKENS) - cold)
}
