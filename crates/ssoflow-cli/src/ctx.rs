//! What every command shares: the output mode, the driver, secrets from the environment, entropy.

use ssoflow_ureq::{Config, Driver};

use crate::output::Failure;

/// The output mode and the HTTP driver (the std defaults: 5 s connect, 10 s per request,
/// 64 KiB answers, redirects never followed).
pub struct Ctx {
    /// Machine output.
    pub json: bool,
    /// Show exchanges on stderr (already wired to the driver's tracing events).
    #[allow(dead_code)]
    pub verbose: bool,
    /// The driver.
    pub driver: Driver,
}

impl Ctx {
    /// A context for this invocation.
    pub fn new(json: bool, verbose: bool) -> Self {
        Ctx {
            json,
            verbose,
            driver: Driver::new(Config::default()),
        }
    }
}

/// A secret from the environment, if set and not empty.
pub fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A secret the command cannot do without: missing is a usage error (exit 2).
pub fn required_env(name: &str) -> Result<String, Failure> {
    env_secret(name).ok_or_else(|| Failure::usage(format!("{name} is not set")))
}

/// `N` bytes from the operating system's random source.
pub fn entropy<const N: usize>() -> Result<[u8; N], Failure> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Failure {
        kind: "entropy".into(),
        detail: format!("no random bytes from the operating system: {e}"),
        code: 1,
    })?;
    Ok(bytes)
}
