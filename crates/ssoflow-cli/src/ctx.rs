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

/// `N` bytes from the operating system's random source. A failing source is an error (exit 1),
/// never all-zero (or partly filled) bytes: they seed `state`, PKCE and request ids.
pub fn entropy<const N: usize>() -> Result<[u8; N], Failure> {
    entropy_from(getrandom::fill)
}

/// `N` bytes from `fill` (the OS random source in [`entropy`]; a failing one in tests).
pub fn entropy_from<const N: usize, E: std::fmt::Display>(
    fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Result<[u8; N], Failure> {
    let mut bytes = [0u8; N];
    fill(&mut bytes).map_err(|e| Failure {
        kind: "entropy".into(),
        detail: format!("no random bytes from the operating system: {e}"),
        code: 1,
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_random_source_is_an_error_never_zeros() {
        let r = entropy_from::<16, _>(|b: &mut [u8]| {
            // Fills part of it, then fails: nothing of it may be used.
            b.fill(0);
            Err("the source is broken")
        });
        let f = r.expect_err("an error");
        assert_eq!((f.kind.as_str(), f.code), ("entropy", 1));
        assert!(f.detail.contains("the source is broken"), "{}", f.detail);
        let ok = entropy_from::<4, &str>(|b: &mut [u8]| {
            b.fill(7);
            Ok(())
        });
        assert_eq!(ok.ok(), Some([7; 4]));
        // The real source works here.
        assert_ne!(entropy::<32>().ok(), Some([0; 32]));
    }
}
