//! TLS 1.3 for the driver's stream with [embedded-tls](https://docs.rs/embedded-tls) 0.19
//! (feature `embedded-tls`): open the connection so that the server's certificate is always
//! verified against the CA you trust.
//!
//! The driver itself knows nothing of TLS: an `embedded_tls::blocking::TlsConnection` (or the
//! async `embedded_tls::TlsConnection`) *is* the stream you pass to [`Driver`](crate::Driver).
//! This module only supplies the handshake, the piece that is easy to get wrong with
//! embedded-tls 0.19 alone:
//! - it skips certificate verification when the crypto provider offers no verifier (its
//!   `UnsecureProvider` does just that) — [`CaVerified`] cannot be built without a trust anchor;
//! - it completes a handshake in which the server sends no `Certificate` and no
//!   `CertificateVerify` message at all (anyone in the path could answer so) — [`open`] and
//!   [`open_async`] refuse it (`TlsError::InvalidCertificate`) unless the server proved its
//!   identity, and [`CaVerified`] is usable through them only;
//! - its verifier panics on a `CertificateVerify` that comes without a certificate —
//!   [`CaVerified`] answers `TlsError::InvalidHandshake` instead.
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
//! [`WRITE_RECORD_BUF`]. With the driver's [`DEFAULT_BUF`](crate::DEFAULT_BUF), the
//! connection's state (~1.3 KB) and [`CaVerified`] (~4.6 KB, mostly its copy of the server's
//! chain) that is about 31 KiB of RAM for one HTTPS connection (`scripts/size-report`).
//!
//! ```no_run
//! use embedded_io::{Read, Write};
//! use ssoflow_core::{Instant, oauth2};
//! use ssoflow_embedded_io::tls::embedded_tls::blocking::TlsConnection;
//! use ssoflow_embedded_io::tls::rand_core::{CryptoRng, RngCore};
//! use ssoflow_embedded_io::tls::{
//!     self, CaVerified, READ_RECORD_BUF, Suite, TlsConfig, TlsError, WRITE_RECORD_BUF,
//! };
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
//!     // Refuses a server that does not prove its identity before a request byte is sent.
//!     let mut trust = CaVerified::new(CA_DER, rng);
//!     tls::open(&mut tls, &config, &mut trust).map_err(Failed::Tls)?;
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
pub use embedded_tls::{NoClock, TlsClock, TlsConfig, TlsError};
pub use rand_core;

use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CertificateRef, CertificateVerifyRef, CryptoProvider, TlsContext,
    TlsVerifier,
};
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

/// How far the server has proved who it is in the current handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    /// Nothing yet.
    None,
    /// Its certificate chains to the CA and is for the server name.
    Certificate,
    /// And it signed the handshake with the certificate's key.
    Signature,
}

/// A TLS 1.3 client's trust in one CA: verifies the server's certificate chain, the leaf's DNS
/// name and the handshake signature (see the [module docs](self)), for [`open`] or
/// [`open_async`].
///
/// `R` is your random source (a hardware RNG on a firmware), `C` tells the time for the
/// certificate's validity dates ([`NoClock`]: not checked), `CHAIN` bounds the copy of the
/// server's chain ([`MAX_CERT_CHAIN`]). It is deliberately not an embedded-tls
/// `CryptoProvider` itself: embedded-tls 0.19 completes a handshake in which the server sends
/// no certificate at all, so only [`open`] / [`open_async`], which check afterwards that the
/// server proved its identity, can use it.
pub struct CaVerified<'a, R, C = NoClock, const CHAIN: usize = MAX_CERT_CHAIN>
where
    C: TlsClock,
{
    rng: R,
    verifier: CertVerifier<'a, Suite, C, CHAIN>,
    proof: Proof,
    _clock: PhantomData<C>,
}

impl<R, C: TlsClock, const CHAIN: usize> core::fmt::Debug for CaVerified<'_, R, C, CHAIN> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Neither the random source's state nor the stored chain.
        f.debug_struct("CaVerified")
            .field("proof", &self.proof)
            .finish_non_exhaustive()
    }
}

impl<'a, R: RngCore + CryptoRng> CaVerified<'a, R> {
    /// Trust the CA certificate `ca_der` (DER), drawing randomness from `rng`. Validity dates
    /// are not checked; see [`CaVerified::with_clock`].
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
            proof: Proof::None,
            _clock: PhantomData,
        }
    }

    /// Whether the last handshake's server presented a certificate that verified and signed
    /// the handshake with its key. [`open`] and [`open_async`] check it for you.
    pub fn is_verified(&self) -> bool {
        self.proof == Proof::Signature
    }

    /// Before a handshake: forget the previous one's proof.
    fn start(&mut self) {
        self.proof = Proof::None;
    }

    /// After a handshake that embedded-tls accepted: did the server prove who it is?
    fn finish(&self) -> Result<(), TlsError> {
        if self.is_verified() {
            Ok(())
        } else {
            // The server skipped its Certificate or CertificateVerify message.
            Err(TlsError::InvalidCertificate)
        }
    }
}

/// The embedded-tls provider and verifier for one handshake: private, so that a
/// [`CaVerified`] reaches `TlsConnection::open` only through [`open`] / [`open_async`], which
/// check its proof afterwards.
struct Handshake<'p, 'a, R, C: TlsClock, const CHAIN: usize>(&'p mut CaVerified<'a, R, C, CHAIN>);

impl<R: RngCore + CryptoRng, C: TlsClock, const CHAIN: usize> CryptoProvider
    for Handshake<'_, '_, R, C, CHAIN>
{
    type CipherSuite = Suite;
    // No client certificate: nothing is ever signed.
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut self.0.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, TlsError> {
        // Always a verifier: embedded-tls skips verification when this returns an error.
        Ok(self)
    }
}

impl<R, C: TlsClock, const CHAIN: usize> TlsVerifier<Suite> for Handshake<'_, '_, R, C, CHAIN> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), TlsError> {
        TlsVerifier::<Suite>::set_hostname_verification(&mut self.0.verifier, hostname)
    }

    fn verify_certificate(
        &mut self,
        transcript: &<Suite as embedded_tls::TlsCipherSuite>::Hash,
        cert: CertificateRef,
    ) -> Result<(), TlsError> {
        // One Certificate message per handshake.
        if self.0.proof != Proof::None {
            return Err(TlsError::InvalidHandshake);
        }
        self.0.verifier.verify_certificate(transcript, cert)?;
        self.0.proof = Proof::Certificate;
        Ok(())
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef) -> Result<(), TlsError> {
        // A CertificateVerify without a verified certificate before it is refused here:
        // embedded-tls's verifier would panic on it (it unwraps the stored certificate).
        if self.0.proof != Proof::Certificate {
            return Err(TlsError::InvalidHandshake);
        }
        self.0.verifier.verify_signature(verify)?;
        self.0.proof = Proof::Signature;
        Ok(())
    }
}

/// Performs the TLS handshake on `tls` (blocking) and checks that the server proved its
/// identity to `trust`: a certificate chaining to the CA, for `config`'s server name, and the
/// handshake signed with its key. Any error means the connection must not be used: drop it.
///
/// `config` must name the server (`TlsConfig::new().with_server_name(…)`): without a name the
/// certificate is refused (`TlsError::InvalidCertificate`), never accepted for any name.
pub fn open<S, R, C, const CHAIN: usize>(
    tls: &mut embedded_tls::blocking::TlsConnection<'_, S, Suite>,
    config: &TlsConfig<'_>,
    trust: &mut CaVerified<'_, R, C, CHAIN>,
) -> Result<(), TlsError>
where
    S: embedded_io::Read + embedded_io::Write,
    R: RngCore + CryptoRng,
    C: TlsClock,
{
    trust.start();
    tls.open(TlsContext::new(config, Handshake(trust)))?;
    trust.finish()
}

/// [`open`] for embedded-tls's async `TlsConnection` (`embedded_io_async` streams).
pub async fn open_async<S, R, C, const CHAIN: usize>(
    tls: &mut embedded_tls::TlsConnection<'_, S, Suite>,
    config: &TlsConfig<'_>,
    trust: &mut CaVerified<'_, R, C, CHAIN>,
) -> Result<(), TlsError>
where
    S: embedded_io_async::Read + embedded_io_async::Write,
    R: RngCore + CryptoRng,
    C: TlsClock,
{
    trust.start();
    tls.open(TlsContext::new(config, Handshake(trust))).await?;
    trust.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_tls::SignatureScheme;

    struct Rng;
    impl RngCore for Rng {
        fn next_u32(&mut self) -> u32 {
            4
        }
        fn next_u64(&mut self) -> u64 {
            4
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(4);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            dest.fill(4);
            Ok(())
        }
    }
    impl CryptoRng for Rng {}

    #[test]
    fn a_handshake_without_the_servers_certificate_is_refused() {
        // What `open` sees when embedded-tls accepted a Finished with no Certificate and no
        // CertificateVerify before it: the provider holds no proof.
        let mut trust = CaVerified::new(&[0x30, 0x00], Rng);
        trust.start();
        assert!(!trust.is_verified());
        assert!(matches!(trust.finish(), Err(TlsError::InvalidCertificate)));
    }

    #[test]
    fn a_signature_without_a_verified_certificate_is_an_error_not_a_panic() {
        let mut trust = CaVerified::new(&[0x30, 0x00], Rng);
        let verify = CertificateVerifyRef {
            signature_scheme: SignatureScheme::EcdsaSecp256r1Sha256,
            signature: &[0x30, 0x00],
        };
        let r = TlsVerifier::<Suite>::verify_signature(&mut Handshake(&mut trust), verify);
        assert!(matches!(r, Err(TlsError::InvalidHandshake)), "{r:?}");
        assert!(!trust.is_verified());
        assert!(matches!(trust.finish(), Err(TlsError::InvalidCertificate)));
    }

    #[test]
    fn debug_shows_no_key_material() {
        extern crate std;
        let trust = CaVerified::new(&[0x30, 0x00], Rng);
        assert_eq!(std::format!("{trust:?}"), "CaVerified { proof: None, .. }");
    }
}
