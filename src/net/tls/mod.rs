//! The authenticated, encrypted channel: mutual TLS 1.3 (RFC 8446) with pinned keys.
//!
//! Each party has an [`Identity`] (`net::identity`): a private key and a self-signed
//! certificate, made by `garbled keygen` with rcgen. Parties exchange [`Fingerprint`]s out of band (the SHA-256 of the
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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, InsufficientSizeError, UnbufferedStatus};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, ExtractedSecrets, ServerConfig,
    SignatureScheme,
};

use super::identity::NAME;
pub use super::identity::{Fingerprint, Identity, fingerprint_of_file, spki_of_certificate};
use super::record::{Kernel, RecordStream};
use super::tcp::{StreamChannel, Timeouts, Transport, configure};
use crate::error::{Error, Result};

/// The handshake's input buffer, and the most application data taken with the handshake.
const HANDSHAKE_BUFFER: usize = 1 << 16;
/// The largest handshake message we wait for (certificates are a few hundred bytes).
const MAX_HANDSHAKE: usize = 1 << 20;
/// The listener's confirmation that it accepted our key.
const ACCEPTED: u8 = 0xA5;
/// How long a connecting party waits before it asks a busy listener again.
const BUSY_PAUSE: Duration = Duration::from_millis(100);

/// Accepts exactly the pinned keys (one, or a job's set), and remembers the last one presented
/// (for the error message, and to tell a job's listener who connected).
#[derive(Debug)]
struct PinnedKey {
    pinned: Vec<Fingerprint>,
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
        if self.pinned.contains(&got) {
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
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
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
            pinned: vec![self.peer],
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
        self.server_for(vec![self.peer])
    }

    /// A server configuration that accepts any of `keys`.
    fn server_for(&self, keys: Vec<Fingerprint>) -> Result<(Arc<ServerConfig>, Arc<PinnedKey>)> {
        let provider = provider();
        let verifier = Arc::new(PinnedKey {
            pinned: keys,
            seen: Mutex::new(None),
            algorithms: provider.signature_verification_algorithms,
        });
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

impl TlsStream {
    /// The socket underneath.
    pub(crate) fn socket(&self) -> &std::net::TcpStream {
        self.0.socket()
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
            Some(got) => match verifier.pinned.as_slice() {
                [one] => Error::Authentication(format!(
                    "the {side} presented key {got}, expected {one} (check --peer)"
                )),
                keys => Error::Authentication(format!(
                    "the {side} presented key {got}, which is none of the {} keys of the job file",
                    keys.len()
                )),
            },
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
        let (config, verifier) = settings.server()?;
        Self::server_with(stream, timeouts, config, &verifier)
    }

    /// The listening side's handshake for a job, where several parties connect: any of `keys`
    /// is accepted, and the fingerprint of the one presented is returned with the channel.
    /// (`settings.peer` is not used.)
    pub fn server_any(
        stream: TcpStream,
        timeouts: Timeouts,
        settings: &TlsSettings,
        keys: &[Fingerprint],
    ) -> Result<(Self, Fingerprint)> {
        let (config, verifier) = settings.server_for(keys.to_vec())?;
        let channel = Self::server_with(stream, timeouts, config, &verifier)?;
        let who = verifier
            .seen()
            .ok_or_else(|| Error::SelfCheck("the TLS handshake saw no client key".into()))?;
        Ok((channel, who))
    }

    fn server_with(
        stream: TcpStream,
        timeouts: Timeouts,
        config: Arc<ServerConfig>,
        verifier: &PinnedKey,
    ) -> Result<Self> {
        let peer = stream
            .peer_addr()
            .map_err(|e| Error::io("reading the peer's address", e))?;
        configure(&stream, timeouts.idle)?;
        let conn = UnbufferedServerConnection::new(config).map_err(tls_setup)?;
        let mut stream = TlsStream(
            handshake(conn, stream)
                .map_err(|e| handshake_error(e, verifier, "connecting party"))?,
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
mod tests;
