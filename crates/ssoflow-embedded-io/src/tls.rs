//! TLS 1.3 for the driver's stream with [embedded-tls](https://docs.rs/embedded-tls) (feature
//! `embedded-tls`): a crypto provider that always verifies the server's certificate against the
//! CA you trust.
//!
//! The driver itself knows nothing of TLS: an `embedded_tls::blocking::TlsConnection` (or the
//! async `embedded_tls::TlsConnection`) *is* the stream you pass to [`Driver`](crate::Driver).
//! This module only supplies the piece that is easy to get wrong: embedded-tls skips certificate
//! verification when a provider offers no verifier (its `UnsecureProvider` does just that), and
//! [`CaVerified`] cannot be built without a trust anchor.
//!
//! # How the certificate is verified, and why this way
//!
//! With embedded-tls's own verifier, `pki::CertVerifier` (its `rustpki` feature, the one this
//! module turns on): the server's chain must lead, signature by signature, to the CA certificate
//! you give (DER); its leaf's DNS name must match the name you pass to
//! `TlsConfig::with_server_name`; the handshake signature must verify with the leaf's key.
//! Chosen over its `webpki` feature because `rustpki` is pure Rust (RustCrypto `p256`, `der`):
//! it builds for `thumbv7em-none-eabihf` without a C cross-compiler (rustls-webpki 0.101 pulls
//! in ring) and without an allocator. Chosen over pinning one certificate or key because a
//! CA keeps working when the server's certificate is renewed, which is what the vendors' and the
//! sandbox's certificates do (the sandbox makes a new one at every start).
//!
//! What this verifier does and does not do — know it before you ship:
//! - Signatures: ECDSA P-256 with SHA-256 only (embedded-tls's `p384`, `ed25519` and `rsa`
//!   features add more; `rsa` needs an allocator). A server whose chain is RSA-signed is refused
//!   with `TlsError::InvalidSignatureScheme`, never accepted unverified.
//! - Names: DNS names only, the first three in the certificate's subject alternative names (then
//!   the common name); IP-address names are not matched. Connect to an address, but name the
//!   host: the sandbox's certificate is for `localhost` (see
//!   [`SANDBOX_SERVER_NAME`]).
//! - Dates: checked only with a [`TlsClock`] that knows the time (a firmware learns it from an
//!   RTC or SNTP); with the default [`NoClock`], an expired certificate from your CA is accepted.
//! - Not checked: basic constraints, key usage, name constraints, revocation. Trust a CA that
//!   issues only the certificates you mean to accept (your own, or the vendor's issuing CA).
//!
//! The record buffers: a read buffer of [`READ_RECORD_BUF`] (16 640 B, a full TLS record:
//! rustls and most servers ignore the max-fragment-length extension) and a write buffer of
//! [`WRITE_RECORD_BUF`]. With the driver's [`DEFAULT_BUF`](crate::DEFAULT_BUF) that is about
//! 26 KiB of RAM for one HTTPS connection.
//!
//! ```no_run
//! use embedded_io::{Read, Write};
//! use ssoflow_core::{Instant, oauth2};
//! use ssoflow_embedded_io::tls::embedded_tls::blocking::{TlsConfig, TlsConnection, TlsContext};
//! use ssoflow_embedded_io::tls::rand_core::{CryptoRng, RngCore};
//! use ssoflow_embedded_io::tls::{CaVerified, READ_RECORD_BUF, Suite, TlsError, WRITE_RECORD_BUF};
//! use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};
//!
//! enum Failed {
//!     Tls(TlsError), // the handshake: a certificate we do not trust, the server's alert, …
//!     Driver(Error), // the sign-in itself
//! }
//!
//! fn fetch<S: Read + Write>(
//!     tcp: S,
//!     rng: impl RngCore + CryptoRng,      // your hardware RNG
//!     clock: &mut impl FnMut() -> Instant,
//! ) -> Result<(), Failed> {
//!     static CA_DER: &[u8] = &[]; // your CA's certificate, DER: include_bytes!("ca.der")
//!     let mut record_read = [0u8; READ_RECORD_BUF];
//!     let mut record_write = [0u8; WRITE_RECORD_BUF];
//!     let config = TlsConfig::new().with_server_name("auth.example.com");
//!     let mut tls: TlsConnection<'_, S, Suite> =
//!         TlsConnection::new(tcp, &mut record_read, &mut record_write);
//!     // Refuses a certificate that does not verify before a single request byte is sent.
//!     tls.open(TlsContext::new(&config, CaVerified::new(CA_DER, rng)))
//!         .map_err(Failed::Tls)?;
//!
//!     let client = oauth2::Client::new("https://auth.example.com/token", "client-id")
//!         .and_then(|c| c.with_secret("client-secret"))
//!         .map_err(|e| Failed::Driver(e.into()))?;
//!     let flow = oauth2::client_credentials(&client, None).map_err(|e| Failed::Driver(e.into()))?;
//!     let mut buf = [0u8; DEFAULT_BUF];
//!     let mut driver = Driver::new(&mut buf);
//!     let token = driver.run(&mut tls, clock, flow).map_err(Failed::Driver)?;
//!     # let _ = token;
//!     Ok(())
//! }
//! ```

use core::marker::PhantomData;

pub use embedded_tls;
pub use embedded_tls::{NoClock, TlsClock, TlsError};
pub use rand_core;

use embedded_tls::pki::CertVerifier;
use embedded_tls::{Aes128GcmSha256, Certificate, CryptoProvider, TlsVerifier};
use rand_core::{CryptoRng, RngCore};

/// The cipher suite [`CaVerified`] negotiates: `TLS_AES_128_GCM_SHA256`, the one every TLS 1.3
/// server must support (RFC 8446 §9.1); key exchange over P-256.
pub type Suite = Aes128GcmSha256;

/// Size of the TLS read record buffer: a whole TLS record (16 KiB of plaintext plus the
/// largest overhead TLS 1.3 allows).
pub const READ_RECORD_BUF: usize = 16_640;

/// Size of the TLS write record buffer: the driver's largest request plus record overhead fits;
/// larger writes are split into several records.
pub const WRITE_RECORD_BUF: usize = 4096;

/// Bytes kept of the server's certificate chain between the `Certificate` and
/// `CertificateVerify` messages (the default for [`CaVerified`]'s `CHAIN` parameter): an ECDSA
/// leaf and one intermediate fit; a chain that does not is refused (`TlsError::OutOfMemory`).
pub const MAX_CERT_CHAIN: usize = 4096;

/// The server name to verify against the sandbox's generated certificate (`ssoflow sandbox
/// --tls`): it is issued for `localhost`, `127.0.0.1` and `::1`, and only DNS names are matched.
pub const SANDBOX_SERVER_NAME: &str = "localhost";

/// An embedded-tls crypto provider that verifies the server's certificate against one CA:
/// the chain, the leaf's DNS name and the handshake signature (see the [module docs](self)).
///
/// `R` is your random source (a hardware RNG on a firmware), `C` tells the time for the
/// certificate's validity dates ([`NoClock`]: not checked), `CHAIN` bounds the copy of the
/// server's chain ([`MAX_CERT_CHAIN`]).
pub struct CaVerified<'a, R, C = NoClock, const CHAIN: usize = MAX_CERT_CHAIN>
where
    C: TlsClock,
{
    rng: R,
    verifier: CertVerifier<'a, Suite, C, CHAIN>,
    _clock: PhantomData<C>,
}

impl<R, C: TlsClock, const CHAIN: usize> core::fmt::Debug for CaVerified<'_, R, C, CHAIN> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Neither the random source's state nor the stored chain.
        f.debug_struct("CaVerified").finish_non_exhaustive()
    }
}

impl<'a, R: RngCore + CryptoRng> CaVerified<'a, R> {
    /// A provider trusting the CA certificate `ca_der` (DER), drawing randomness from `rng`.
    /// Validity dates are not checked; see [`CaVerified::with_clock`].
    pub fn new(ca_der: &'a [u8], rng: R) -> Self {
        CaVerified::with_clock(ca_der, rng)
    }
}

impl<'a, R: RngCore + CryptoRng, C: TlsClock, const CHAIN: usize> CaVerified<'a, R, C, CHAIN> {
    /// Like [`CaVerified::new`], with the clock `C` (and chain bound `CHAIN`) named by the
    /// caller's type: `CaVerified::<_, MyRtc>::with_clock(ca, rng)` refuses certificates that
    /// are expired or not yet valid by `MyRtc::now()` (Unix seconds).
    pub fn with_clock(ca_der: &'a [u8], rng: R) -> Self {
        CaVerified {
            rng,
            verifier: CertVerifier::new(Certificate::X509(ca_der)),
            _clock: PhantomData,
        }
    }
}

impl<R: RngCore + CryptoRng, C: TlsClock, const CHAIN: usize> CryptoProvider
    for CaVerified<'_, R, C, CHAIN>
{
    type CipherSuite = Suite;
    // No client certificate: nothing is ever signed.
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, TlsError> {
        // Always a verifier: embedded-tls skips verification when this returns an error.
        Ok(&mut self.verifier)
    }
}
