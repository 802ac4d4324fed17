//! HTTPS for the sandbox: a certificate made at start (or given files), served with rustls.
//!
//! Why tokio-rustls rather than axum-server: the sandbox already runs its own hyper accept loop
//! (graceful shutdown, injected connection drops), so TLS is one `accept` wrapped around each
//! accepted stream. tokio-rustls is that wrapper and nothing more, maintained by the rustls
//! project, and already in the tree through reqwest; axum-server would replace the loop.
//!
//! [`TestCa`] makes the certificates (rcgen, ECDSA P-256, ring): the sandbox's own, and any a
//! test wants — a leaf for another name, an expired one — to check that clients refuse them.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The names the generated sandbox certificate is valid for.
pub const SANDBOX_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A certificate authority made on the spot, to issue test certificates.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PKCS#8 PEM).
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert").finish_non_exhaustive()
    }
}

fn rc(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("certificate generation: {e}"))
}

impl TestCa {
    /// A new CA named `common_name` (valid from 1975 to 4096, rcgen's defaults).
    pub fn new(common_name: &str) -> io::Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(rc)?;
        let cert = params.self_signed(&key).map_err(rc)?;
        Ok(TestCa {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
        })
    }

    /// The CA's certificate (PEM): what a client must trust.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid now.
    pub fn issue(&self, names: &[&str]) -> io::Result<IssuedCert> {
        self.issue_with(names, |_| {})
    }

    /// A server certificate for `names` that expired on 2021-01-01 (valid during 2020).
    pub fn issue_expired(&self, names: &[&str]) -> io::Result<IssuedCert> {
        self.issue_with(names, |p| {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        })
    }

    fn issue_with(
        &self,
        names: &[&str],
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> io::Result<IssuedCert> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(rc)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "ssoflow sandbox");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        adjust(&mut params);
        let key = KeyPair::generate().map_err(rc)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(rc)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone, Default)]
pub(crate) enum TlsSetting {
    /// Plain HTTP.
    #[default]
    Off,
    /// Make a CA and a certificate for [`SANDBOX_NAMES`] at start.
    Generated,
    /// This certificate chain and key (PEM files).
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
}

/// A running sandbox's TLS: the acceptor, and the CA it made (if it made one).
pub(crate) struct Tls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    pub(crate) ca: Option<CaFile>,
}

/// The generated CA's PEM, and the temporary file it was written to (removed on drop).
#[derive(Debug)]
pub(crate) struct CaFile {
    pub(crate) pem: String,
    pub(crate) path: PathBuf,
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl CaFile {
    /// Write `pem` to a new file in the temporary directory.
    fn write(pem: String) -> io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "ssoflow-sandbox-ca-{}-{}.pem",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        io::Write::write_all(&mut file, pem.as_bytes())?;
        Ok(CaFile { pem, path })
    }
}

impl Tls {
    /// The acceptor for `setting`; `None` when TLS is off.
    pub(crate) fn new(setting: &TlsSetting) -> io::Result<Option<Self>> {
        let (chain, key, ca) = match setting {
            TlsSetting::Off => return Ok(None),
            TlsSetting::Generated => {
                let ca = TestCa::new("ssoflow sandbox CA")?;
                let leaf = ca.issue(&SANDBOX_NAMES)?;
                let chain = certs_from_pem(leaf.cert_pem.as_bytes())?;
                let key = key_from_pem(leaf.key_pem.as_bytes())?;
                (chain, key, Some(CaFile::write(ca.pem.clone())?))
            }
            TlsSetting::Files { cert, key } => (
                certs_from_pem(&read(cert)?)?,
                key_from_pem(&read(key)?)?,
                None,
            ),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("tls: {e}")))?;
        // The server speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            ca,
        }))
    }
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn certs_from_pem(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no certificate in the certificate file",
        ));
    }
    Ok(certs)
}

fn key_from_pem(pem: &[u8]) -> io::Result<PrivateKeyDer<'static>> {
    // The parser's error never includes the key's bytes.
    PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "no usable private key in the key file",
        )
    })
}
