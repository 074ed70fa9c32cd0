//! The authenticated, encrypted channel: mutual TLS 1.3 (RFC 8446) with pinned keys.
//!
//! Each party has an [`Identity`]: a private key and a self-signed certificate, made by
//! `garbled keygen` with rcgen. Parties exchange [`Fingerprint`]s out of band (the SHA-256 of the
//! certificate's DER SubjectPublicKeyInfo, as in RFC 7469's public-key pins) and each pins the
//! other's. There is no certificate authority and no host name check: during the handshake each
//! side checks that the peer's certificate carries the pinned key and that the peer's
//! CertificateVerify signature (RFC 8446 §4.4.3) verifies under that key, which proves the peer
//! holds the private key for this very handshake. TLS 1.2 is not compiled in; the cipher suites
//! prefer AES-128-GCM.
//!
//! Who does what: rustls runs the handshake (through its unbuffered API, so the bytes read
//! past the handshake stay ours) with ring as its crypto provider (key exchange, signatures,
//! randomness), then hands the traffic keys over through its kernel-connection API; after that
//! our record layer (`net::record`) seals and opens the records with aws-lc-rs's AES-GCM, and
//! rustls only derives the next keys on a key update. Every table byte is encrypted once and
//! decrypted once, so the record layer is what TLS costs a batch run: aws-lc's AES-GCM has an
//! AVX-512 VAES + VPCLMULQDQ path (chosen at run time) where ring's widest is AVX2 (`cargo
//! bench --bench record`: a 16 KiB record sealed at 9.9 GiB/s against 6.5 for ring, opened at
//! 9.3 against 5.9), and our record layer seals straight from the caller's bytes and opens
//! straight into the caller's buffer, where rustls's stream API made three more copies and an
//! allocation per record (`net::record` says why and what it implements). The handshake stays
//! on ring because aws-lc-rs seeds its random generator from CPU jitter entropy at first use,
//! which cost 35–40 ms at the start of every process here (a local `garbled run` spent 44 ms
//! connecting against 2 ms with ring); the record cipher never draws randomness (TLS 1.3 nonces
//! come from the key schedule), so that cost is not paid. Both build with a C compiler alone
//! (aws-lc-sys needs no CMake on x86-64 Linux).
//!
//! The listener ([`TlsChannel::accept`]) runs each incoming handshake on its own thread and
//! drops, with one line in its log, any connection that does not speak TLS 1.3, fails the
//! handshake or presents another key; it keeps waiting for the pinned peer until its deadline.
//! After its handshake the listener sends one confirmation byte inside the tunnel, and the
//! connecting side waits for it, so that a party whose key the listener refused learns it at
//! connect time rather than at its first read.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, SubjectPublicKeyInfoDer,
    UnixTime,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, InsufficientSizeError, UnbufferedStatus};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, ExtractedSecrets, ServerConfig,
    SignatureScheme,
};
use sha2::Digest;

use super::record::{Kernel, RecordStream};
use super::tcp::{StreamChannel, Timeouts, Transport, configure};
use crate::error::{Error, Result};

/// Identity files larger than this are refused before they are read.
const MAX_IDENTITY_FILE: u64 = 1 << 20;
/// The name in every certificate we make, and the one the client asks for (nobody checks it).
const NAME: &str = "garbled";
/// The handshake's input buffer, and the most application data taken with the handshake.
const HANDSHAKE_BUFFER: usize = 1 << 16;
/// The largest handshake message we wait for (certificates are a few hundred bytes).
const MAX_HANDSHAKE: usize = 1 << 20;
/// The listener's confirmation that it accepted our key.
const ACCEPTED: u8 = 0xA5;
/// How long a connecting party waits before it asks a busy listener again.
const BUSY_PAUSE: Duration = Duration::from_millis(100);

/// SHA-256 of a certificate's SubjectPublicKeyInfo: what parties exchange and pin.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki: &[u8]) -> Self {
        Fingerprint(sha2::Sha256::digest(spki).into())
    }

    /// The fingerprint of a DER certificate's key.
    pub fn of_certificate(der: &[u8]) -> Result<Self> {
        Ok(Fingerprint::of_spki(spki_of_certificate(der)?))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = Error;
    /// 64 hexadecimal digits (either case).
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.len() != 64 || !s.is_ascii() {
            return Err(Error::arg(format!(
                "a fingerprint is 64 hexadecimal digits (as printed by `garbled keygen`); got {} characters",
                s.chars().count()
            )));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| {
                Error::arg(format!(
                    "a fingerprint is 64 hexadecimal digits (as printed by `garbled keygen`); '{}' is not hexadecimal",
                    crate::text::escape(&s[2 * i..2 * i + 2], 8)
                ))
            })?;
        }
        Ok(Fingerprint(out))
    }
}

/// One DER element: (tag, the whole element, the rest of the input).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (first as usize, rest),
        0x81..=0x84 => {
            let n = (first & 0x7f) as usize;
            if rest.len() < n {
                return None;
            }
            let len = rest[..n].iter().fold(0usize, |a, &b| a << 8 | b as usize);
            (len, &rest[n..])
        }
        _ => return None,
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some((tag, &input[..header + len], &rest[len..]))
}

/// The contents of a DER element (after tag and length).
fn der_contents(element: &[u8]) -> &[u8] {
    let long = element.get(1).is_some_and(|&b| b >= 0x80);
    let header = if long {
        2 + (element[1] & 0x7f) as usize
    } else {
        2
    };
    &element[header.min(element.len())..]
}

/// The DER SubjectPublicKeyInfo inside a DER X.509 certificate (RFC 5280 §4.1): the seventh
/// field of the TBSCertificate when the optional version field is present, the sixth otherwise.
pub fn spki_of_certificate(der: &[u8]) -> Result<&[u8]> {
    let bad = || Error::arg("not a well-formed X.509 certificate");
    let (tag, certificate, _) = der_element(der).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (tag, tbs, _) = der_element(der_contents(certificate)).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let mut fields = der_contents(tbs);
    let (tag, _, rest) = der_element(fields).ok_or_else(bad)?;
    if tag == 0xa0 {
        fields = rest; // the explicit version
    }
    // serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo.
    let expected = [0x02, 0x30, 0x30, 0x30, 0x30];
    for want in expected {
        let (tag, _, rest) = der_element(fields).ok_or_else(bad)?;
        if tag != want {
            return Err(bad());
        }
        fields = rest;
    }
    let (tag, spki, _) = der_element(fields).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    Ok(spki)
}

/// Our key pair and self-signed certificate. The PKCS#8 key is wiped when the identity is
/// dropped; rustls is handed a signing key made from a borrowed view of it, never a copy.
pub struct Identity {
    certificate: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    fingerprint: Fingerprint,
}

impl Drop for Identity {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({}, <secret key>)", self.fingerprint)
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            certificate: self.certificate.clone(),
            key: self.key.clone_key(),
            fingerprint: self.fingerprint,
        }
    }
}

impl Identity {
    /// A new ECDSA P-256 key and a self-signed certificate for it.
    pub fn generate() -> Result<Self> {
        let failed = |e: rcgen::Error| Error::SelfCheck(format!("creating a key pair: {e}"));
        let key = rcgen::KeyPair::generate().map_err(failed)?;
        let mut params = rcgen::CertificateParams::new(vec![NAME.to_string()]).map_err(failed)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "garbled identity");
        let certificate = params.self_signed(&key).map_err(failed)?;
        let certificate = certificate.der().clone();
        let fingerprint = Fingerprint::of_certificate(&certificate)?;
        Ok(Identity {
            certificate,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            fingerprint,
        })
    }

    /// The identity as one PEM text: the private key, then the certificate (wiped when
    /// dropped).
    pub fn to_pem(&self) -> zeroize::Zeroizing<String> {
        let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
        let key = pem::Pem::new("PRIVATE KEY", self.key.secret_pkcs8_der());
        let certificate = pem::Pem::new("CERTIFICATE", self.certificate.as_ref());
        let mut text = zeroize::Zeroizing::new(pem::encode_config(&key, config));
        text.push_str(&pem::encode_config(&certificate, config));
        // `pem::Pem` keeps its own copy of the key's bytes.
        let mut contents = key.into_contents();
        zeroize::Zeroize::zeroize(&mut contents);
        text
    }

    /// Reads an identity from PEM text: exactly one certificate and one PKCS#8 private key. The
    /// PEM blocks are decoded by the `pem` crate into buffers that are wiped when dropped.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let mut blocks = pem_blocks(pem)?;
        let certificate = only_certificate_of(&blocks)?;
        let mut keys = blocks
            .iter_mut()
            .filter(|b| b.tag().ends_with("PRIVATE KEY"))
            .map(|b| (b.tag() == "PRIVATE KEY", std::mem::take(b)));
        let key = match keys.next() {
            Some((true, mut der)) if keys.next().is_none() => {
                PrivatePkcs8KeyDer::from(std::mem::take(&mut *der.contents))
            }
            Some((true, _)) => {
                return Err(Error::arg(
                    "more than one private key found; an identity holds exactly one",
                ));
            }
            Some((false, _)) => {
                return Err(Error::arg(
                    "the private key is not PKCS#8 (make identities with `garbled keygen`)",
                ));
            }
            None => {
                return Err(Error::arg(
                    "no private key found (an identity file holds a PRIVATE KEY and a CERTIFICATE, as written by `garbled keygen`)",
                ));
            }
        };
        let fingerprint = Fingerprint::of_certificate(&certificate)?;
        let identity = Identity {
            certificate,
            key,
            fingerprint,
        };
        // The key must belong to the certificate, or the handshake would fail on the peer's side
        // with a far less helpful message.
        let signer = identity.signing_key()?;
        match signer.public_key() {
            Some(spki) if Fingerprint::of_spki(&spki) == fingerprint => Ok(identity),
            Some(_) => Err(Error::arg(
                "the private key does not belong to the certificate in the same file",
            )),
            None => Err(Error::arg(
                "the private key's public half cannot be derived",
            )),
        }
    }

    /// The signing key rustls uses, made from a borrowed view of our key (no copy to wipe).
    fn signing_key(&self) -> Result<Arc<dyn rustls::sign::SigningKey>> {
        let borrowed = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.secret_pkcs8_der()));
        rustls::crypto::ring::sign::any_supported_type(&borrowed)
            .map_err(|e| Error::arg(format!("the private key is unusable: {e}")))
    }

    /// Our certificate and signing key, as both TLS roles present them.
    fn certified(&self) -> Result<Arc<rustls::sign::SingleCertAndKey>> {
        let key =
            rustls::sign::CertifiedKey::new(vec![self.certificate.clone()], self.signing_key()?);
        Ok(Arc::new(rustls::sign::SingleCertAndKey::from(key)))
    }

    /// Reads an identity file; every error names the path.
    pub fn load(path: &Path) -> Result<Self> {
        let pem = read_small(path)?;
        Identity::from_pem(&pem)
            .map_err(|e| Error::arg(format!("identity file {}: {e}", path.display())))
    }

    /// The fingerprint to give the peer.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
}

/// The fingerprint of the certificate in a PEM file (an identity file or a certificate alone).
pub fn fingerprint_of_file(path: &Path) -> Result<Fingerprint> {
    let pem = read_small(path)?;
    let certificate =
        only_certificate(&pem).map_err(|e| Error::arg(format!("{}: {e}", path.display())))?;
    Fingerprint::of_certificate(&certificate)
        .map_err(|e| Error::arg(format!("{}: {e}", path.display())))
}

/// Reads a small file into a buffer that is wiped when dropped (an identity file holds a key).
fn read_small(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let cannot = |e: io::Error| Error::arg(format!("cannot read {}: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(Error::arg(format!("{} is not a file", path.display())));
    }
    if meta.len() > MAX_IDENTITY_FILE {
        return Err(Error::arg(format!(
            "{} is {} bytes; an identity file is a few hundred",
            path.display(),
            meta.len()
        )));
    }
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    // Read into a buffer that never reallocates (a reallocation would free an unwiped copy).
    let limit = meta.len() + 1;
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(limit as usize));
    (&mut file)
        .take(limit)
        .read_to_end(&mut buf)
        .map_err(cannot)?;
    if buf.len() as u64 > meta.len() {
        return Err(Error::arg(format!(
            "{} grew while being read",
            path.display()
        )));
    }
    Ok(buf)
}

/// One decoded PEM block whose contents are wiped when dropped.
#[derive(Default)]
struct PemBlock {
    tag: String,
    contents: zeroize::Zeroizing<Vec<u8>>,
}

impl PemBlock {
    fn tag(&self) -> &str {
        &self.tag
    }
}

/// Every PEM block of `text`, decoded (`pem` crate).
fn pem_blocks(text: &[u8]) -> Result<Vec<PemBlock>> {
    let parsed = pem::parse_many(text).map_err(|e| Error::arg(format!("malformed PEM: {e}")))?;
    Ok(parsed
        .into_iter()
        .map(|p| PemBlock {
            tag: p.tag().to_string(),
            contents: zeroize::Zeroizing::new(p.into_contents()),
        })
        .collect())
}

fn only_certificate(pem: &[u8]) -> Result<CertificateDer<'static>> {
    only_certificate_of(&pem_blocks(pem)?)
}

fn only_certificate_of(blocks: &[PemBlock]) -> Result<CertificateDer<'static>> {
    let mut certificates = blocks.iter().filter(|b| b.tag() == "CERTIFICATE");
    let first = certificates
        .next()
        .ok_or_else(|| Error::arg("no certificate found (expected a PEM CERTIFICATE block)"))?;
    if certificates.next().is_some() {
        return Err(Error::arg(
            "more than one certificate found; an identity holds exactly one",
        ));
    }
    Ok(CertificateDer::from(first.contents.to_vec()))
}

/// Accepts exactly one key, and remembers the last one presented (for the error message).
#[derive(Debug)]
struct PinnedKey {
    pinned: Fingerprint,
    seen: Mutex<Option<Fingerprint>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedKey {
    fn check(&self, certificate: &CertificateDer<'_>) -> std::result::Result<(), rustls::Error> {
        let got = Fingerprint::of_certificate(certificate).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(got);
        }
        if got == self.pinned {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn seen(&self) -> Option<Fingerprint> {
        self.seen.lock().ok().and_then(|s| *s)
    }

    fn signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        // The signature is checked under the pinned key itself, taken from the certificate that
        // `check` accepted.
        self.check(certificate)?;
        let spki = spki_of_certificate(certificate).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki),
            dss,
            &self.algorithms,
        )
    }
}

/// The signature checks both verifier traits share: TLS 1.3 only (TLS 1.2 is not compiled in,
/// so its method is never reached), under the pinned key.
macro_rules! signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            _message: &[u8],
            _cert: &CertificateDer<'_>,
            _dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            Err(rustls::Error::General("TLS 1.2 is not supported".into()))
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            self.signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl ServerCertVerifier for PinnedKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    signature_methods!();
}

impl ClientCertVerifier for PinnedKey {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    signature_methods!();
}

/// Our identity and the peer's pinned fingerprint.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// Our key and certificate.
    pub identity: Identity,
    /// The fingerprint the peer's key must have.
    pub peer: Fingerprint,
}

fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    // AES-GCM only (what our record layer implements), AES-128-GCM first: 10 AES rounds instead
    // of 14, and both ends are ours. rustls protects the handshake's own records with these
    // (aws-lc-rs's, as our record layer after it).
    provider.cipher_suites = vec![
        rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256,
        rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ];
    Arc::new(provider)
}

impl TlsSettings {
    fn verifier(&self, provider: &CryptoProvider) -> Arc<PinnedKey> {
        Arc::new(PinnedKey {
            pinned: self.peer,
            seen: Mutex::new(None),
            algorithms: provider.signature_verification_algorithms,
        })
    }

    fn client(&self) -> Result<(Arc<ClientConfig>, Arc<PinnedKey>)> {
        let provider = provider();
        let verifier = self.verifier(&provider);
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_setup)?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_cert_resolver(self.identity.certified()?);
        // Our record layer (`net::record`) takes the traffic keys after the handshake.
        config.enable_secret_extraction = true;
        Ok((Arc::new(config), verifier))
    }

    fn server(&self) -> Result<(Arc<ServerConfig>, Arc<PinnedKey>)> {
        let provider = provider();
        let verifier = self.verifier(&provider);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_setup)?
            .with_client_cert_verifier(verifier.clone())
            .with_cert_resolver(self.identity.certified()?);
        // No resumption tickets: every session authenticates both keys afresh.
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.enable_secret_extraction = true;
        Ok((Arc::new(config), verifier))
    }
}

fn tls_setup(e: rustls::Error) -> Error {
    Error::SelfCheck(format!("setting up TLS: {e}"))
}

fn tls_io(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The peer closed the connection before sending a single byte of the handshake: a listener does
/// that to a connection it dropped to make room for newer ones (`net::listen`), never to a key
/// it refused (that comes after its ServerHello, with an alert).
#[derive(Debug)]
struct ClosedBeforeHandshake;

impl std::fmt::Display for ClosedBeforeHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the peer closed the connection before the TLS handshake began")
    }
}

impl std::error::Error for ClosedBeforeHandshake {}

fn closed_before_handshake(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<ClosedBeforeHandshake>())
}

/// rustls's unbuffered connection, either side: what the handshake driver needs of it.
trait Unbuffered {
    type Data;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
    fn handshaking(&self) -> bool;
    fn into_kernel(self) -> std::result::Result<(ExtractedSecrets, Kernel), rustls::Error>;
}

/// The client's and the server's impls differ only in their types and `Kernel` variant.
macro_rules! unbuffered {
    ($connection:ty, $data:ty, $variant:ident) => {
        impl Unbuffered for $connection {
            type Data = $data;
            fn process<'c, 'i>(
                &'c mut self,
                incoming: &'i mut [u8],
            ) -> UnbufferedStatus<'c, 'i, Self::Data> {
                self.process_tls_records(incoming)
            }
            fn handshaking(&self) -> bool {
                self.is_handshaking()
            }
            fn into_kernel(self) -> std::result::Result<(ExtractedSecrets, Kernel), rustls::Error> {
                let (secrets, kernel) = self.dangerous_into_kernel_connection()?;
                Ok((secrets, Kernel::$variant(kernel)))
            }
        }
    };
}

unbuffered!(UnbufferedClientConnection, ClientConnectionData, Client);
unbuffered!(UnbufferedServerConnection, ServerConnectionData, Server);

/// What the driver does after one state of the handshake.
enum Step {
    Again,
    Read,
    Done,
    Failed(rustls::Error),
}

/// Runs rustls's side of the handshake over `socket` (rustls's unbuffered API: the bytes are
/// ours, so whatever the peer sent after its last handshake message stays with us), then hands
/// the connection to our record layer with rustls's traffic keys.
fn handshake<C: Unbuffered>(mut conn: C, mut socket: TcpStream) -> io::Result<RecordStream> {
    let mut incoming = vec![0u8; HANDSHAKE_BUFFER];
    let mut filled = 0;
    let mut outgoing = vec![0u8; 4096];
    let mut pending = 0;
    let mut early = Vec::new();
    let mut received = 0usize;
    loop {
        let UnbufferedStatus { mut discard, state } = conn.process(&mut incoming[..filled]);
        let step = match state {
            Err(e) => Step::Failed(e),
            Ok(ConnectionState::EncodeTlsData(mut data)) => {
                encode(&mut outgoing, &mut pending, |out| data.encode(out))?;
                Step::Again
            }
            Ok(ConnectionState::TransmitTlsData(data)) => {
                socket.write_all(&outgoing[..pending])?;
                pending = 0;
                data.done();
                Step::Again
            }
            Ok(ConnectionState::BlockedHandshake) => Step::Read,
            Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                // Application data that came with the peer's last handshake flight.
                while let Some(record) = traffic.next_record() {
                    let record = record.map_err(tls_io)?;
                    if early.len() + record.payload.len() > HANDSHAKE_BUFFER {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "too much application data during the TLS handshake",
                        ));
                    }
                    early.extend_from_slice(record.payload);
                    discard += record.discard;
                }
                Step::Again
            }
            Ok(ConnectionState::WriteTraffic(_)) => Step::Done,
            Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the TLS session during the handshake",
                ));
            }
            Ok(_) => {
                return Err(io::Error::other(
                    "the TLS handshake reached an unexpected state",
                ));
            }
        };
        incoming.copy_within(discard..filled, 0);
        filled -= discard;
        match step {
            Step::Again => {}
            Step::Done if !conn.handshaking() => {
                let (secrets, kernel) = conn.into_kernel().map_err(tls_io)?;
                return RecordStream::new(socket, kernel, secrets, early, &incoming[..filled]);
            }
            Step::Done | Step::Read => {
                if filled == incoming.len() {
                    if incoming.len() >= MAX_HANDSHAKE {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a TLS handshake message larger than 1 MiB",
                        ));
                    }
                    incoming.resize(incoming.len() * 2, 0);
                }
                let closed = |kind| {
                    if received == 0 {
                        io::Error::new(kind, ClosedBeforeHandshake)
                    } else {
                        io::Error::new(
                            kind,
                            "the peer closed the connection during the TLS handshake",
                        )
                    }
                };
                let n = match socket.read(&mut incoming[filled..]) {
                    Ok(0) => return Err(closed(io::ErrorKind::UnexpectedEof)),
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                        ) =>
                    {
                        return Err(closed(e.kind()));
                    }
                    Err(e) => return Err(e),
                };
                filled += n;
                received += n;
            }
            Step::Failed(e) => {
                // rustls queues the alert that tells the peer why; send it if we can.
                if let Ok(ConnectionState::EncodeTlsData(mut data)) = conn.process(&mut []).state {
                    let mut alert = 0;
                    if encode(&mut outgoing, &mut alert, |out| data.encode(out)).is_ok() {
                        let _ = socket.write_all(&outgoing[..alert]);
                    }
                }
                return Err(tls_io(e));
            }
        }
    }
}

/// Appends one encoded handshake record to `outgoing[..*pending]`, growing it as rustls asks.
fn encode(
    outgoing: &mut Vec<u8>,
    pending: &mut usize,
    mut encode: impl FnMut(&mut [u8]) -> std::result::Result<usize, EncodeError>,
) -> io::Result<()> {
    loop {
        match encode(&mut outgoing[*pending..]) {
            Ok(n) => {
                *pending += n;
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
                outgoing.resize(*pending + required_size, 0);
            }
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
}

/// A TLS 1.3 connection after its handshake, either side: rustls's keys, our record layer.
pub struct TlsStream(RecordStream);

/// Maps an alert from the peer that means "your key was refused" to an error people can act on.
fn refusal(e: io::Error) -> io::Error {
    let refused = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|inner| {
            matches!(
                inner,
                rustls::Error::AlertReceived(
                    rustls::AlertDescription::BadCertificate
                        | rustls::AlertDescription::CertificateUnknown
                        | rustls::AlertDescription::DecryptError
                        | rustls::AlertDescription::AccessDenied
                )
            )
        });
    if refused {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the peer refused our key (its --peer is not our fingerprint)",
        )
    } else {
        e
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(refusal)
    }
}

impl Write for TlsStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.write(data).map_err(refusal)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(refusal)
    }
}

impl Transport for TlsStream {
    fn marks_its_end(&self) -> bool {
        true
    }
    fn close_write(&mut self) -> io::Result<()> {
        self.0.close_notify().map_err(refusal)?;
        self.0.socket().shutdown(std::net::Shutdown::Write)
    }
    fn shutdown(&mut self) {
        let _ = self.0.socket().shutdown(std::net::Shutdown::Both);
    }
}

impl TlsStream {
    /// The negotiated protocol and cipher suite, e.g. "TLS 1.3 (TLS13_AES_128_GCM_SHA256)".
    pub fn describe(&self) -> String {
        format!("TLS 1.3 ({:?})", self.0.suite().suite())
    }
}

/// A mutually authenticated TLS 1.3 channel.
pub type TlsChannel = StreamChannel<TlsStream>;

/// Why a handshake failed, for people: the pinned and presented fingerprints where the key was
/// the problem, rustls's reason (escaped) otherwise.
fn handshake_error(e: io::Error, verifier: &PinnedKey, side: &str) -> Error {
    let inner = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    match inner {
        Some(rustls::Error::InvalidCertificate(_)) => match verifier.seen() {
            Some(got) => Error::Authentication(format!(
                "the {side} presented key {got}, expected {} (check --peer)",
                verifier.pinned
            )),
            None => Error::Authentication(format!("the {side}'s certificate is malformed")),
        },
        Some(rustls::Error::AlertReceived(alert)) => Error::Authentication(format!(
            "the {side} ended the TLS handshake ({alert:?}); it may not accept our key"
        )),
        Some(rustls::Error::InvalidMessage(_)) | Some(rustls::Error::PeerIncompatible(_)) => {
            Error::Authentication(format!(
                "the {side} does not speak TLS 1.3 ({})",
                crate::text::escape(&e.to_string(), 200)
            ))
        }
        Some(other) => Error::Authentication(format!(
            "TLS handshake with the {side} failed: {}",
            crate::text::escape(&other.to_string(), 200)
        )),
        None if closed_before_handshake(&e) => Error::PeerClosed(format!(
            "before the TLS handshake began: the {side} was busy checking other connections, or is not a garbled listener"
        )),
        None => match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Error::Timeout(format!("the {side} did not complete the TLS handshake"))
            }
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Error::Authentication(format!(
                "the {side} closed the connection during the TLS handshake ({e}); it may not accept our key"
            )),
            _ => Error::io(format!("TLS handshake with the {side}"), e),
        },
    }
}

impl StreamChannel<TlsStream> {
    /// The connecting side: TCP connect (retrying until `wait`), the TLS handshake, then the
    /// listener's confirmation that it accepted our key.
    pub fn connect(
        addr: &str,
        wait: Duration,
        timeouts: Timeouts,
        settings: &TlsSettings,
    ) -> Result<Self> {
        // A listener that dropped us unheard (to make room for newer connections) is asked
        // again until `wait` has passed.
        let start = std::time::Instant::now();
        loop {
            let left = wait.saturating_sub(start.elapsed());
            let stream = super::listen::connect(addr, left)?;
            match TlsChannel::attempt(stream, timeouts, settings)? {
                Ok(channel) => return Ok(channel),
                Err(busy) if start.elapsed() + BUSY_PAUSE >= wait => return Err(busy),
                Err(_) => std::thread::sleep(BUSY_PAUSE),
            }
        }
    }

    /// The client handshake over a connected socket.
    pub fn client(stream: TcpStream, timeouts: Timeouts, settings: &TlsSettings) -> Result<Self> {
        TlsChannel::attempt(stream, timeouts, settings)?
    }

    /// The client handshake over a connected socket: `Ok(Err(_))` when the listener closed the
    /// connection before the handshake began (it was busy), worth another try.
    fn attempt(
        stream: TcpStream,
        timeouts: Timeouts,
        settings: &TlsSettings,
    ) -> Result<Result<Self>> {
        let peer = stream
            .peer_addr()
            .map_err(|e| Error::io("reading the peer's address", e))?;
        configure(&stream, timeouts.idle)?;
        let (config, verifier) = settings.client()?;
        let name = ServerName::try_from(NAME).map_err(|e| Error::SelfCheck(e.to_string()))?;
        let conn = UnbufferedClientConnection::new(config, name).map_err(tls_setup)?;
        let stream = match handshake(conn, stream) {
            Ok(stream) => stream,
            Err(e) if closed_before_handshake(&e) => {
                return Ok(Err(handshake_error(
                    e,
                    &verifier,
                    &format!("listener at {peer}"),
                )));
            }
            Err(e) => return Err(handshake_error(e, &verifier, "listener")),
        };
        let mut stream = TlsStream(stream);
        let mut confirmation = [0u8; 1];
        match stream.read_exact(&mut confirmation) {
            Ok(()) if confirmation[0] == ACCEPTED => {}
            Ok(()) => return Err(Error::peer("the listener sent no TLS confirmation")),
            Err(e) => {
                let e = refusal(e);
                return Err(match e.kind() {
                    io::ErrorKind::PermissionDenied => Error::Authentication(format!(
                        "the listener at {peer} refused our key {} (its --peer must be this fingerprint)",
                        settings.identity.fingerprint()
                    )),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        Error::Timeout("the listener did not confirm the TLS handshake".into())
                    }
                    _ => Error::Authentication(format!(
                        "the listener at {peer} closed the connection after the TLS handshake; it did not accept our key {} ({})",
                        settings.identity.fingerprint(),
                        crate::text::escape(&e.to_string(), 200)
                    )),
                });
            }
        }
        Ok(Ok(StreamChannel::over(stream, peer, timeouts)))
    }

    /// The listening side's handshake over an accepted socket.
    pub fn server(stream: TcpStream, timeouts: Timeouts, settings: &TlsSettings) -> Result<Self> {
        let peer = stream
            .peer_addr()
            .map_err(|e| Error::io("reading the peer's address", e))?;
        configure(&stream, timeouts.idle)?;
        let (config, verifier) = settings.server()?;
        let conn = UnbufferedServerConnection::new(config).map_err(tls_setup)?;
        let mut stream = TlsStream(
            handshake(conn, stream)
                .map_err(|e| handshake_error(e, &verifier, "connecting party"))?,
        );
        stream
            .write_all(&[ACCEPTED])
            .and_then(|()| stream.flush())
            .map_err(|e| Error::io("confirming the TLS handshake", e))?;
        Ok(StreamChannel::over(stream, peer, timeouts))
    }

    /// Waits up to `wait` on `listener` for the pinned peer. Connections that are not TLS 1.3,
    /// fail the handshake or present another key are reported to `log` and dropped.
    pub fn accept(
        listener: &TcpListener,
        wait: Duration,
        timeouts: Timeouts,
        settings: &TlsSettings,
        log: impl Fn(&str),
    ) -> Result<Self> {
        super::listen::accept_first(
            listener,
            wait,
            |stream, _| TlsChannel::server(stream, timeouts, settings),
            log,
        )
    }

    /// Binds `addr` and waits for the pinned peer (see [`TlsChannel::accept`]).
    pub fn listen(
        addr: &str,
        wait: Duration,
        timeouts: Timeouts,
        settings: &TlsSettings,
        log: impl Fn(&str),
    ) -> Result<Self> {
        let listener = super::listen::bind(addr)?;
        TlsChannel::accept(&listener, wait, timeouts, settings, log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Channel;

    #[test]
    fn identities_round_trip_through_pem() {
        let id = Identity::generate().unwrap();
        let pem = id.to_pem();
        let back = Identity::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(back.fingerprint(), id.fingerprint());
        assert_eq!(back.certificate, id.certificate);
        let certificate_only = pem[pem.find("-----BEGIN CERTIFICATE").unwrap()..].to_string();
        assert!(Identity::from_pem(certificate_only.as_bytes()).is_err());
        // Another key with this certificate is refused.
        let other = Identity::generate().unwrap().to_pem();
        let key_only = &other[..other.find("-----BEGIN CERTIFICATE").unwrap()];
        let mixed = format!("{key_only}{certificate_only}");
        assert!(Identity::from_pem(mixed.as_bytes()).is_err());
    }

    #[test]
    fn no_resumption_and_tls_1_3_only() {
        let settings = TlsSettings {
            identity: Identity::generate().unwrap(),
            peer: Identity::generate().unwrap().fingerprint(),
        };
        let (server, _) = settings.server().unwrap();
        assert_eq!(server.send_tls13_tickets, 0);
        let (client, _) = settings.client().unwrap();
        assert!(!client.enable_early_data);
    }

    #[test]
    fn fingerprints_parse_strictly() {
        let id = Identity::generate().unwrap();
        let text = id.fingerprint().to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<Fingerprint>().unwrap(), id.fingerprint());
        assert!(text[..63].parse::<Fingerprint>().is_err());
        assert!(format!("{}g", &text[..63]).parse::<Fingerprint>().is_err());
        assert!("é".repeat(32).parse::<Fingerprint>().is_err());
    }

    #[test]
    fn the_spki_walker_refuses_garbage() {
        assert!(spki_of_certificate(&[]).is_err());
        assert!(spki_of_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(spki_of_certificate(&[0x30, 0x03, 0x30, 0x01, 0x02]).is_err());
    }

    #[test]
    fn pinned_peers_talk_and_others_are_refused() {
        let listener_id = Identity::generate().unwrap();
        let client_id = Identity::generate().unwrap();
        let stranger = Identity::generate().unwrap();
        let listener = super::super::listen::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let timeouts = Timeouts::idle(Duration::from_secs(5));
        let server_settings = TlsSettings {
            identity: listener_id.clone(),
            peer: client_id.fingerprint(),
        };
        let logged = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            let client_settings = TlsSettings {
                identity: client_id.clone(),
                peer: listener_id.fingerprint(),
            };
            let stranger_settings = TlsSettings {
                identity: stranger.clone(),
                peer: listener_id.fingerprint(),
            };
            let addr2 = addr.clone();
            let client = s.spawn(move || {
                let refused = TlsChannel::connect(
                    &addr2,
                    Duration::from_secs(5),
                    timeouts,
                    &stranger_settings,
                );
                let mut good =
                    TlsChannel::connect(&addr2, Duration::from_secs(5), timeouts, &client_settings)
                        .unwrap();
                good.write_all(b"hello").unwrap();
                good.flush().unwrap();
                let mut reply = [0u8; 2];
                good.read_exact(&mut reply).unwrap();
                good.close_write().unwrap();
                good.expect_eof().unwrap();
                (refused, reply)
            });
            let mut server = TlsChannel::accept(
                &listener,
                Duration::from_secs(10),
                timeouts,
                &server_settings,
                |line| logged.lock().unwrap().push(line.to_string()),
            )
            .unwrap();
            assert!(server.transport().describe().contains("TLS13_AES_128_GCM"));
            let mut hello = [0u8; 5];
            server.read_exact(&mut hello).unwrap();
            assert_eq!(&hello, b"hello");
            server.write_all(b"ok").unwrap();
            server.close_write().unwrap();
            server.expect_eof().unwrap();
            let (refused, reply) = client.join().unwrap();
            assert_eq!(&reply, b"ok");
            match refused {
                Err(Error::Authentication(m)) => {
                    assert!(m.contains(&stranger.fingerprint().to_string()), "{m}")
                }
                other => panic!("the stranger was not refused: {other:?}"),
            }
        });
        let logged = logged.into_inner().unwrap();
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(
            logged[0].contains(&stranger.fingerprint().to_string()),
            "{logged:?}"
        );
        assert!(
            logged[0].contains(&client_id.fingerprint().to_string()),
            "{logged:?}"
        );
    }

    #[test]
    fn the_connecting_side_names_both_keys() {
        let listener_id = Identity::generate().unwrap();
        let expected = Identity::generate().unwrap().fingerprint();
        let client_id = Identity::generate().unwrap();
        let listener = super::super::listen::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let timeouts = Timeouts::idle(Duration::from_secs(5));
        let server_settings = TlsSettings {
            identity: listener_id.clone(),
            peer: client_id.fingerprint(),
        };
        let client_settings = TlsSettings {
            identity: client_id,
            peer: expected,
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = TlsChannel::accept(
                    &listener,
                    Duration::from_millis(1500),
                    timeouts,
                    &server_settings,
                    |_| {},
                );
            });
            match TlsChannel::connect(&addr, Duration::from_secs(5), timeouts, &client_settings) {
                Err(Error::Authentication(m)) => {
                    assert!(m.contains(&expected.to_string()), "{m}");
                    assert!(m.contains(&listener_id.fingerprint().to_string()), "{m}");
                }
                other => panic!("expected an authentication error, got {other:?}"),
            }
        });
    }

    /// A connected client and server socket over loopback, with the idle timeout set.
    fn sockets() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        for socket in [&client, &server] {
            configure(socket, Duration::from_secs(20)).unwrap();
        }
        (client, server)
    }

    /// Settings for a listener and a connecting party that pin each other: (server, client).
    fn pinned_pair() -> (TlsSettings, TlsSettings) {
        let server = Identity::generate().unwrap();
        let client = Identity::generate().unwrap();
        (
            TlsSettings {
                identity: server.clone(),
                peer: client.fingerprint(),
            },
            TlsSettings {
                identity: client,
                peer: server.fingerprint(),
            },
        )
    }

    fn pattern(n: usize, seed: u8) -> Vec<u8> {
        (0..n as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
            .collect()
    }

    /// rustls's own record layer at the other end: reads `expect`, answers `reply` with a key
    /// update halfway, reads our close_notify, sends its own.
    fn rustls_peer<C, S>(conn: &mut C, socket: &mut TcpStream, expect: &[u8], reply: &[u8])
    where
        C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
        S: rustls::SideData,
    {
        let mut stream = rustls::Stream::new(conn, socket);
        let mut got = vec![0u8; expect.len()];
        stream.read_exact(&mut got).unwrap();
        assert!(got == expect, "rustls read other bytes than we sent");
        let half = reply.len() / 2;
        stream.write_all(&reply[..half]).unwrap();
        stream.conn.refresh_traffic_keys().unwrap();
        stream.write_all(&reply[half..]).unwrap();
        stream.flush().unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "rustls read bytes after our close_notify");
        stream.conn.send_close_notify();
        stream.flush().unwrap();
    }

    /// Our side: the same conversation, with our key updates every 7 records.
    fn our_side(mut ours: RecordStream, sent: &[u8], reply: &[u8]) -> (u64, u64) {
        // Half of AES-128-GCM's confidentiality limit (RFC 8446 §5.5), then every 7 records.
        assert_eq!(ours.key_update_interval(), 1 << 23);
        ours.set_key_update_interval(7);
        ours.write_all(&sent[..10]).unwrap();
        ours.write_all(&sent[10..]).unwrap();
        ours.flush().unwrap();
        // A small read (the record is opened in our buffer), then large ones (opened straight
        // into the caller's).
        let mut got = vec![0u8; reply.len()];
        ours.read_exact(&mut got[..100]).unwrap();
        ours.read_exact(&mut got[100..]).unwrap();
        assert!(got == reply, "we read other bytes than rustls sent");
        ours.close_notify().unwrap();
        ours.socket().shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        assert_eq!(ours.read_to_end(&mut rest).unwrap(), 0);
        ours.key_updates()
    }

    #[test]
    fn our_record_layer_and_rustls_understand_each_other() {
        let sent = pattern(3_000_000, 1);
        let reply = pattern(1_000_003, 2);
        let name = ServerName::try_from(NAME).unwrap();
        for we_connect in [true, false] {
            let (server, client) = pinned_pair();
            let (mut client_socket, mut server_socket) = sockets();
            let (sent, reply, name) = (&sent, &reply, &name);
            let updates = std::thread::scope(|s| {
                if we_connect {
                    let server = &server;
                    s.spawn(move || {
                        let (config, _) = server.server().unwrap();
                        let mut conn = rustls::ServerConnection::new(config).unwrap();
                        rustls_peer(&mut conn, &mut server_socket, sent, reply);
                    });
                    let (config, _) = client.client().unwrap();
                    let conn = UnbufferedClientConnection::new(config, name.clone()).unwrap();
                    our_side(handshake(conn, client_socket).unwrap(), sent, reply)
                } else {
                    let client = &client;
                    s.spawn(move || {
                        let (config, _) = client.client().unwrap();
                        let mut conn = rustls::ClientConnection::new(config, name.clone()).unwrap();
                        rustls_peer(&mut conn, &mut client_socket, sent, reply);
                    });
                    let (config, _) = server.server().unwrap();
                    let conn = UnbufferedServerConnection::new(config).unwrap();
                    our_side(handshake(conn, server_socket).unwrap(), sent, reply)
                }
            });
            // 3 MB is 184 records: a key update after every 7.
            assert!(updates.0 >= 25, "{updates:?}");
            assert_eq!(updates.1, 1);
        }
    }

    /// Forwards a connection to `back`, changing the byte at offset `at` of the listener's
    /// direction, or cutting the connection there.
    fn meddling_relay(front: TcpListener, back: String, at: usize, cut: bool) {
        let (client, _) = front.accept().unwrap();
        let server = TcpStream::connect(back).unwrap();
        let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let up = std::thread::spawn(move || {
            let _ = io::copy(&mut up_from, &mut up_to);
            let _ = up_to.shutdown(std::net::Shutdown::Write);
        });
        let (mut from, mut to) = (server, client);
        let mut seen = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if (seen..seen + n).contains(&at) {
                if cut {
                    let _ = to.write_all(&buf[..at - seen]);
                    break;
                }
                buf[at - seen] ^= 0x20;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            seen += n;
        }
        let _ = to.shutdown(std::net::Shutdown::Both);
        let _ = from.shutdown(std::net::Shutdown::Both);
        let _ = up.join();
    }

    #[test]
    fn a_changed_byte_is_misbehaviour_and_a_cut_connection_a_closed_peer() {
        let sent = pattern(1 << 20, 3);
        for cut in [false, true] {
            let (server, client) = pinned_pair();
            let back = super::super::listen::bind("127.0.0.1:0").unwrap();
            let back_addr = back.local_addr().unwrap().to_string();
            let front = TcpListener::bind("127.0.0.1:0").unwrap();
            let front_addr = front.local_addr().unwrap().to_string();
            let timeouts = Timeouts::idle(Duration::from_secs(20));
            std::thread::scope(|s| {
                s.spawn(|| meddling_relay(front, back_addr, 700_000, cut));
                s.spawn(|| {
                    let mut listener = TlsChannel::accept(
                        &back,
                        Duration::from_secs(20),
                        timeouts,
                        &server,
                        |_| {},
                    )
                    .unwrap();
                    // The write succeeds or fails with our peer's alert; either is fine here.
                    let _ = listener.write_all(&sent).and_then(|()| listener.flush());
                    let _ = listener.close_write();
                });
                let mut ours =
                    TlsChannel::connect(&front_addr, Duration::from_secs(20), timeouts, &client)
                        .unwrap();
                let mut got = vec![0u8; sent.len()];
                match (cut, ours.read_exact(&mut got)) {
                    (false, Err(Error::PeerMisbehaved(m))) => {
                        assert!(m.contains("authentication"), "{m}")
                    }
                    (true, Err(Error::PeerClosed(m))) => assert!(m.contains("TLS record"), "{m}"),
                    (_, other) => panic!("cut {cut}: {other:?}"),
                }
            });
        }
    }

    /// Our record layer at both ends of a loopback connection, both handshakes done:
    /// (client, listener). The listener has sent one byte and the client read it, so what the
    /// client sends next meets our record layer, not rustls's handshake (which would otherwise
    /// find it right behind the client's Finished).
    fn our_pair() -> (RecordStream, RecordStream) {
        let (server, client) = pinned_pair();
        let (client_socket, server_socket) = sockets();
        std::thread::scope(|s| {
            let listener = s.spawn(|| {
                let (config, _) = server.server().unwrap();
                let conn = UnbufferedServerConnection::new(config).unwrap();
                let mut ours = handshake(conn, server_socket).unwrap();
                ours.write_all(&[ACCEPTED]).unwrap();
                ours.flush().unwrap();
                ours
            });
            let (config, _) = client.client().unwrap();
            let name = ServerName::try_from(NAME).unwrap();
            let conn = UnbufferedClientConnection::new(config, name).unwrap();
            let mut ours = handshake(conn, client_socket).unwrap();
            ours.read_exact(&mut [0u8; 1]).unwrap();
            (ours, listener.join().unwrap())
        })
    }

    #[test]
    fn a_requested_key_update_goes_out_before_any_further_data() {
        // The listener has a record open ("ab") when the client's request arrives; what it
        // writes next ("cd") must reach the client after the listener's own KeyUpdate.
        let (mut client, mut listener) = our_pair();
        std::thread::scope(|s| {
            s.spawn(|| {
                client.request_key_update().unwrap();
                client.write_all(b"x").unwrap();
                client.flush().unwrap();
                let mut got = [0u8; 4];
                client.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"abcd");
                assert_eq!(
                    client.key_updates().1,
                    1,
                    "data reached the requester before the answering KeyUpdate"
                );
                client.close_notify().unwrap();
            });
            listener.write_all(b"ab").unwrap();
            let mut x = [0u8; 1];
            listener.read_exact(&mut x).unwrap();
            assert_eq!(listener.key_updates(), (0, 1));
            listener.write_all(b"cd").unwrap();
            listener.flush().unwrap();
            assert_eq!(listener.key_updates().0, 1);
            let mut rest = Vec::new();
            listener.read_to_end(&mut rest).unwrap();
        });
    }

    #[test]
    fn a_peer_may_not_send_more_than_32_key_updates_without_data() {
        for updates in [32, 33] {
            let (mut client, mut listener) = our_pair();
            let got = std::thread::scope(|s| {
                s.spawn(|| {
                    listener.send_key_updates(updates).unwrap();
                    listener.write_all(b"data").unwrap();
                    listener.flush().unwrap();
                    // Wait for the other side's verdict before closing.
                    let _ = listener.read(&mut [0u8; 1]);
                });
                let mut data = [0u8; 4];
                let got = client.read_exact(&mut data).map(|()| data);
                client.socket().shutdown(std::net::Shutdown::Both).unwrap();
                got
            });
            match (updates, got) {
                (32, Ok(data)) => assert_eq!(&data, b"data"),
                (33, Err(e)) => assert!(e.to_string().contains("key updates"), "{e}"),
                (n, other) => panic!("{n} key updates: {other:?}"),
            }
        }
    }

    /// Whatever arrives after the handshake, our reader answers with an error, never a panic,
    /// a hang or data: random bytes, records too long or too short, cleartext records, records
    /// with a well-formed header and a forged body.
    #[test]
    fn garbage_after_the_handshake_is_an_error() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::ChaCha12Rng::seed_from_u64(11);
        let mut cases: Vec<Vec<u8>> = vec![
            vec![23, 3, 3, 0x50, 0x00],
            vec![23, 3, 3, 0, 5, 1, 2, 3, 4, 5],
            vec![22, 3, 3, 0, 4, 24, 0, 0, 1],
            vec![21, 3, 3, 0, 2, 2, 40],
            vec![20, 3, 3, 0, 1, 1],
            vec![23, 3, 3],
        ];
        for n in [1, 17, 100, 16_401, 40_000] {
            let mut random = vec![0u8; n];
            rng.fill_bytes(&mut random);
            cases.push(random.clone());
            let len = n.min(16_384 + 256);
            let mut forged = vec![23, 3, 3, (len >> 8) as u8, len as u8];
            forged.extend_from_slice(&random[..len]);
            cases.push(forged);
        }
        for garbage in cases {
            let (client, mut listener) = our_pair();
            let (result, answer) = std::thread::scope(|s| {
                let peer = s.spawn(|| {
                    let mut raw = client.socket().try_clone().unwrap();
                    raw.write_all(&garbage).unwrap();
                    raw.shutdown(std::net::Shutdown::Write).unwrap();
                    // Until the other side has its verdict.
                    let mut answer = Vec::new();
                    let _ = raw.read_to_end(&mut answer);
                    answer
                });
                let mut buf = vec![0u8; 1 << 16];
                let result = listener.read(&mut buf);
                listener
                    .socket()
                    .shutdown(std::net::Shutdown::Both)
                    .unwrap();
                (result, peer.join().unwrap())
            });
            match result {
                // A broken record is answered with one sealed fatal alert (2 bytes, the content
                // type and the tag: a 24-byte record); a connection cut short with nothing.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    assert_eq!(answer.len(), 24, "{e}");
                    assert_eq!(&answer[..5], &[23, 3, 3, 0, 19]);
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    assert!(answer.is_empty(), "{e}")
                }
                Err(e) => panic!("{garbage:?}: {e}"),
                Ok(n) => panic!("{n} bytes read from {} bytes of garbage", garbage.len()),
            }
        }
    }

    /// A peer with the keys that breaks the record grammar inside authenticated records: each
    /// case is an error (or, where the RFC allows it, accepted), never a panic, and the valid
    /// cases deliver their data.
    #[test]
    fn authenticated_records_that_break_the_grammar_are_errors() {
        use rand::{Rng, SeedableRng};
        let big = {
            let mut v = vec![b'x'; super::super::record::MAX_PLAINTEXT + 1];
            v.push(23);
            v
        };
        // 2^14 bytes of data and its type make the largest inner plaintext allowed; one byte of
        // padding more is record_overflow (§5.4), though the data alone would fit.
        let largest = {
            let mut v = vec![b'y'; super::super::record::MAX_PLAINTEXT];
            v.push(23);
            v
        };
        let padded_over = {
            let mut v = largest.clone();
            v.push(0);
            v
        };
        // Inner plaintexts sent in a row, and the data the reader must deliver (None: an error).
        type Case = (Vec<Vec<u8>>, Option<Vec<u8>>);
        let mut cases: Vec<Case> = vec![
            (vec![vec![]], None),
            (vec![vec![0, 0, 0]], None),
            (vec![big], None),
            (vec![padded_over], None),
            (
                vec![largest],
                Some(vec![b'y'; super::super::record::MAX_PLAINTEXT]),
            ),
            (vec![vec![1, 0, 0, 21]], None),
            (vec![vec![2, 40, 21]], None),
            (vec![vec![24, 0, 0, 22]], None),
            (vec![vec![24, 0, 0, 1, 5, 22]], None),
            (vec![vec![24, 0, 0, 1, 0, 24, 0, 0, 1, 0, 22]], None),
            (vec![vec![24, 0, 0, 9, 0, 22]], None),
            (vec![vec![4, 0, 0, 1, 0, 22]], None),
            (vec![vec![1, 2, 3, 99]], None),
            (vec![vec![1, 20]], None),
            // Padding, a zero-length record and user_canceled are allowed (§5.4, §5.1, §6.1).
            (vec![b"hi\x17\0\0\0".to_vec()], Some(b"hi".to_vec())),
            (
                vec![vec![23], vec![1, 90, 21], b"ok\x17".to_vec()],
                Some(b"ok".to_vec()),
            ),
        ];
        let mut rng = rand::rngs::ChaCha12Rng::seed_from_u64(5);
        for _ in 0..40 {
            let mut inner = vec![0u8; (rng.next_u32() % 40) as usize];
            rng.fill_bytes(&mut inner);
            // What the grammar makes of it: data, an alert that ends nothing, or an error.
            let expect = match inner.iter().rposition(|&b| b != 0) {
                Some(at) if inner[at] == 23 => Some(inner[..at].to_vec()),
                Some(2) if inner[2] == 21 && matches!(inner[1], 0 | 90) => Some(Vec::new()),
                _ => None,
            };
            cases.push((vec![inner], expect));
        }
        for (records, expect) in cases {
            let (mut hostile, mut listener) = our_pair();
            let result = std::thread::scope(|s| {
                s.spawn(|| {
                    // The listener may have given up (and closed) before the last of them.
                    for inner in &records {
                        let _ = hostile.send_inner(inner);
                    }
                    // close_notify: what comes before it is all there is.
                    let _ = hostile.send_inner(&[1, 0, 21]);
                    let _ = hostile.socket().shutdown(std::net::Shutdown::Write);
                    let _ = hostile.socket().read_to_end(&mut Vec::new());
                });
                let mut got = Vec::new();
                let result = listener.read_to_end(&mut got).map(|_| got);
                listener
                    .socket()
                    .shutdown(std::net::Shutdown::Both)
                    .unwrap();
                result
            });
            // Records by their first bytes and length (one is 16 KiB).
            let shown: Vec<_> = records
                .iter()
                .map(|r| (&r[..r.len().min(8)], r.len()))
                .collect();
            match (expect, result) {
                (Some(want), Ok(got)) => assert!(got == want, "{shown:?}"),
                (None, Err(e)) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{shown:?}: {e}")
                }
                (expect, result) => panic!(
                    "{shown:?}: expected {expect:?}, got {:?}",
                    result.map(|got| got.len())
                ),
            }
        }
    }
}
