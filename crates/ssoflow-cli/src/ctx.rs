//! What every command shares: the output mode, the driver, secrets from the environment, entropy.

use std::path::{Path, PathBuf};

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
    /// A context for this invocation, trusting Mozilla's roots plus the certificates of
    /// `ca_cert` (`--ca-cert`, else `SSL_CERT_FILE` when set); the proxy comes from the
    /// environment (`HTTPS_PROXY`, `NO_PROXY`; never for loopback).
    pub fn new(json: bool, verbose: bool, ca_cert: Option<&CaCert>) -> Result<Self, Failure> {
        let mut builder = Driver::builder().config(Config::default());
        if let Some(ca) = ca_cert {
            let pem = std::fs::read(&ca.path).map_err(|e| {
                Failure::usage(format!(
                    "cannot read {} {}: {e}",
                    ca.from,
                    ca.path.display()
                ))
            })?;
            builder = builder
                .add_root_certificates_pem(&pem)
                .map_err(|e| Failure::usage(format!("{} {}: {e}", ca.from, ca.path.display())))?;
        }
        let driver = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
        Ok(Ctx {
            json,
            verbose,
            driver,
        })
    }
}

/// A CA file to trust, and where its name came from (for messages).
pub struct CaCert {
    /// The PEM file.
    pub path: PathBuf,
    /// `--ca-cert` or `SSL_CERT_FILE`.
    pub from: &'static str,
}

impl CaCert {
    /// `--ca-cert` when given, else `SSL_CERT_FILE` when set and not empty.
    pub fn choose(flag: Option<&Path>) -> Option<CaCert> {
        match flag {
            Some(path) => Some(CaCert {
                path: path.to_owned(),
                from: "--ca-cert",
            }),
            None => std::env::var_os("SSL_CERT_FILE")
                .filter(|v| !v.is_empty())
                .map(|v| CaCert {
                    path: PathBuf::from(v),
                    from: "SSL_CERT_FILE",
                }),
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
