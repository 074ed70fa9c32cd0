//! TLS 1.3 record protection (RFC 8446 §5) for the application data of a connection whose
//! handshake rustls ran.
//!
//! Why not rustls's own record layer: its stream API copies every received record twice after
//! opening it (into its plaintext queue, then out to the caller) and every sent record into a
//! fresh allocation before sealing it. A garbled-circuit session is one large one-way stream of
//! tables (32 bytes per AND gate: 200 MB for a thousand AES-128), both parties share the machine's
//! cores, and in a profile of such sessions those copies and allocations were about as costly as
//! AES-GCM itself. Here a record is sealed in place in one output buffer that goes to the socket
//! in large writes, and opened in place in the input buffer, from where the caller copies its
//! plaintext once, while it is still in the cache (measured in docs/PERFORMANCE.md, "TLS records").
//!
//! rustls keeps everything but the record cipher: the handshake (driven through its unbuffered
//! API, see `net::tls`), the key schedule and key updates, through its kernel-connection API
//! ([`rustls::kernel`], made for kernel TLS), which hands over the traffic keys and sequence
//! numbers once the handshake is done and derives the next keys on a key update. The AEAD is
//! aws-lc-rs's AES-GCM, the same one rustls's aws-lc-rs cipher suites use.
//!
//! What this module implements, with the RFC's sections:
//! - records (§5.1, §5.2): outer type application_data, legacy version 0x0303, the 5-byte header
//!   as additional data, inner plaintext = content ‖ content type (we send no padding and accept
//!   any); at most 2^14 content bytes, an inner plaintext (padding included) of at most
//!   2^14 + 1 bytes, and 2^14 + 256 ciphertext bytes (record_overflow);
//! - the per-record nonce (§5.3): the 64-bit sequence number, big-endian, XORed into the last
//!   eight bytes of the traffic IV; sequence numbers never wrap;
//! - alerts (§6): close_notify ends the peer's direction (reads return end-of-stream); a
//!   connection that ends without it is an error (truncation); any other alert is an error; a
//!   record that fails authentication or breaks the grammar ends the session after our fatal
//!   alert (bad_record_mac, record_overflow, decode_error, unexpected_message);
//! - key updates (§4.6.3, §5.5): we update our sending keys before half the cipher suite's
//!   confidentiality limit (AES-GCM: 2^24 records in rustls's figures, after the analysis RFC
//!   8446 §5.5 cites); a peer's KeyUpdate switches our receiving keys, and when it asks, we update
//!   ours before our next record;
//! - other post-handshake messages: NewSessionTicket is ignored (we never resume, and our
//!   listener sends none); anything else ends the session (unexpected_message).
//!
//! The interoperability tests at the end run this record layer against rustls's own in both
//! directions, with key updates from either side and close_notify.
//!
//! About 860 lines, tests included: the whole record layer (framing, nonces, alerts, key updates)
//! is one state machine over one pair of buffers.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::client::ClientConnectionData;
use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::{ConnectionTrafficSecrets, ExtractedSecrets, SupportedCipherSuite};
use zeroize::Zeroize;

const HEADER: usize = 5;
const TAG: usize = 16;
/// Largest plaintext of one record (§5.1).
pub(crate) const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest ciphertext of one record (§5.2).
const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

const NEW_SESSION_TICKET: u8 = 4;
const KEY_UPDATE: u8 = 24;

const CLOSE_NOTIFY: u8 = 0;
const UNEXPECTED_MESSAGE: u8 = 10;
const BAD_RECORD_MAC: u8 = 20;
const RECORD_OVERFLOW: u8 = 22;
const DECODE_ERROR: u8 = 50;
const USER_CANCELED: u8 = 90;

/// KeyUpdates accepted between two records of application data (BoringSSL's and rustls's limit).
const MAX_UPDATES_IN_A_ROW: u8 = 32;

/// Sealed bytes gathered before one write to the socket.
const SEND_BATCH: usize = 1 << 18;
/// Raw bytes read from the socket at once (the input buffer also holds one more whole record).
const RECEIVE_BATCH: usize = 1 << 18;

/// One direction's AEAD key, IV and sequence number.
struct Keys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl Drop for Keys {
    fn drop(&mut self) {
        // aws-lc wipes its key schedule when the key is dropped; the IV is ours to wipe.
        self.iv.zeroize();
    }
}

impl Keys {
    fn new(seq: u64, secrets: ConnectionTrafficSecrets) -> io::Result<Keys> {
        let (algorithm, key, iv) = match &secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv),
            _ => {
                return Err(io::Error::other(
                    "the negotiated TLS cipher suite is not AES-GCM",
                ));
            }
        };
        let key = UnboundKey::new(algorithm, key.as_ref())
            .map_err(|_| io::Error::other("the TLS traffic key has the wrong length"))?;
        let mut nonce = [0u8; NONCE_LEN];
        if iv.as_ref().len() != NONCE_LEN {
            return Err(io::Error::other("the TLS traffic IV has the wrong length"));
        }
        nonce.copy_from_slice(iv.as_ref());
        Ok(Keys {
            key: LessSafeKey::new(key),
            iv: nonce,
            seq,
        })
    }

    /// The nonce of the next record (§5.3), and the sequence number moved on.
    fn next_nonce(&mut self) -> io::Result<Nonce> {
        let seq = self.seq;
        self.seq = seq
            .checked_add(1)
            .ok_or_else(|| io::Error::other("the TLS record sequence number is exhausted"))?;
        let mut nonce = self.iv;
        for (n, s) in nonce[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        Ok(Nonce::assume_unique_for_key(nonce))
    }
}

/// rustls's half of a connection after the handshake: the key schedule.
pub(crate) enum Kernel {
    /// We connected.
    Client(KernelConnection<ClientConnectionData>),
    /// We accepted.
    Server(KernelConnection<ServerConnectionData>),
}

impl Kernel {
    fn update_tx(&mut self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        match self {
            Kernel::Client(k) => k.update_tx_secret(),
            Kernel::Server(k) => k.update_tx_secret(),
        }
    }

    fn update_rx(&mut self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        match self {
            Kernel::Client(k) => k.update_rx_secret(),
            Kernel::Server(k) => k.update_rx_secret(),
        }
    }

    fn suite(&self) -> SupportedCipherSuite {
        match self {
            Kernel::Client(k) => k.negotiated_cipher_suite(),
            Kernel::Server(k) => k.negotiated_cipher_suite(),
        }
    }

    fn is_server(&self) -> bool {
        matches!(self, Kernel::Server(_))
    }
}

fn rustls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// A TLS 1.3 connection after its handshake: records sealed and opened here, keys from rustls.
pub struct RecordStream {
    socket: TcpStream,
    kernel: Kernel,
    tx: Keys,
    rx: Keys,
    /// Records sent with one key before the next key update.
    tx_limit: u64,
    /// `out[..out_len]`: sealed records not yet written, then the record being filled (from
    /// `open`, when there is one).
    out: Box<[u8]>,
    out_len: usize,
    open: Option<usize>,
    /// Raw bytes from the socket: `input[start..end]` not yet opened; the plaintext of the last
    /// record opened in place is `input[plain_start..plain_end]`.
    input: Box<[u8]>,
    start: usize,
    end: usize,
    plain_start: usize,
    plain_end: usize,
    /// Application data rustls decrypted before it handed the connection over.
    early: Vec<u8>,
    early_read: usize,
    /// The peer asked for a key update: ours goes out before our next record.
    update_owed: bool,
    /// KeyUpdates received since the last application data.
    updates_in_a_row: u8,
    /// Key updates so far: (sent, received).
    updates: (u64, u64),
    peer_closed: bool,
    write_closed: bool,
    /// A fatal error ended the session; nothing more is read or written.
    broken: bool,
}

/// The most one record takes on the wire.
const RECORD: usize = HEADER + MAX_CIPHERTEXT;

impl RecordStream {
    /// Takes over a connection whose handshake rustls completed: `early` is application data
    /// rustls already decrypted, `pending` the bytes read from the socket after the handshake.
    pub(crate) fn new(
        socket: TcpStream,
        kernel: Kernel,
        secrets: ExtractedSecrets,
        early: Vec<u8>,
        pending: &[u8],
    ) -> io::Result<Self> {
        // TLS 1.2 is not compiled in: every suite is a TLS 1.3 one.
        let SupportedCipherSuite::Tls13(suite) = kernel.suite();
        let limit = suite.common.confidentiality_limit;
        let (tx_seq, tx) = secrets.tx;
        let (rx_seq, rx) = secrets.rx;
        let mut input = vec![0u8; RECEIVE_BATCH.max(pending.len()) + RECORD].into_boxed_slice();
        input[..pending.len()].copy_from_slice(pending);
        Ok(RecordStream {
            socket,
            kernel,
            tx: Keys::new(tx_seq, tx)?,
            rx: Keys::new(rx_seq, rx)?,
            tx_limit: (limit / 2).max(1),
            out: vec![0u8; SEND_BATCH + 2 * RECORD].into_boxed_slice(),
            out_len: 0,
            open: None,
            input,
            start: 0,
            end: pending.len(),
            plain_start: 0,
            plain_end: 0,
            early,
            early_read: 0,
            update_owed: false,
            updates_in_a_row: 0,
            updates: (0, 0),
            peer_closed: false,
            write_closed: false,
            broken: false,
        })
    }

    /// The socket underneath.
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// The negotiated cipher suite.
    pub(crate) fn suite(&self) -> SupportedCipherSuite {
        self.kernel.suite()
    }

    /// Updates our sending keys after every `records` records (tests: key updates on short
    /// streams).
    #[cfg(test)]
    pub(crate) fn set_key_update_interval(&mut self, records: u64) {
        self.tx_limit = records.max(1);
    }

    /// Records we send under one key before we update it.
    #[cfg(test)]
    pub(crate) fn key_update_interval(&self) -> u64 {
        self.tx_limit
    }

    /// Sends `n` key updates in a row, with no data between them (tests: a peer that overdoes
    /// it).
    #[cfg(test)]
    pub(crate) fn send_key_updates(&mut self, n: usize) -> io::Result<()> {
        for _ in 0..n {
            self.update_keys()?;
        }
        Ok(())
    }

    /// Seals `inner` as one record's whole inner plaintext (content, content type and padding,
    /// as given) and sends it (tests: an authenticated peer that breaks the record grammar).
    #[cfg(test)]
    pub(crate) fn send_inner(&mut self, inner: &[u8]) -> io::Result<()> {
        self.close_open()?;
        self.reserve()?;
        let start = self.out_len;
        self.out[start + HEADER..start + HEADER + inner.len()].copy_from_slice(inner);
        self.seal_in_place(start, inner.len())?;
        self.send_sealed()
    }

    /// Sends a KeyUpdate that asks the peer to update its keys too (tests).
    #[cfg(test)]
    pub(crate) fn request_key_update(&mut self) -> io::Result<()> {
        self.send_key_update(1)?;
        self.send_sealed()
    }

    /// Key updates so far: (ours, the peer's).
    #[cfg(test)]
    pub(crate) fn key_updates(&self) -> (u64, u64) {
        self.updates
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.broken {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the TLS session already failed",
            ))
        } else {
            Ok(())
        }
    }

    /// Makes room for one more record in `out` (no record may be open).
    fn reserve(&mut self) -> io::Result<()> {
        if self.out_len >= SEND_BATCH || self.out_len + RECORD > self.out.len() {
            self.send_sealed()?;
        }
        Ok(())
    }

    /// Before a new record of application data: any key update due, and room for it.
    fn before_data(&mut self) -> io::Result<()> {
        if self.update_owed || self.tx.seq >= self.tx_limit {
            self.update_keys()?;
        }
        self.reserve()
    }

    /// Writes the header of a record of `inner` plaintext bytes (content and type) at `at`.
    fn header(&mut self, at: usize, inner: usize) -> [u8; HEADER] {
        let len = inner + TAG;
        debug_assert!(len <= MAX_CIPHERTEXT);
        let header = [APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
        self.out[at..at + HEADER].copy_from_slice(&header);
        header
    }

    /// Seals the open record as `content_type`.
    fn seal_open(&mut self, content_type: u8) -> io::Result<()> {
        let Some(start) = self.open.take() else {
            return Ok(());
        };
        self.out[self.out_len] = content_type;
        self.seal_in_place(start, self.out_len + 1 - start - HEADER)
    }

    /// Seals the record at `out[start..]` whose `inner` plaintext bytes (content and type) are
    /// in place after its header; the sealed record ends `out`.
    fn seal_in_place(&mut self, start: usize, inner: usize) -> io::Result<()> {
        let header = self.header(start, inner);
        let nonce = self.tx.next_nonce()?;
        let body = start + HEADER;
        let tag = self
            .tx
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(header), &mut self.out[body..body + inner])
            .map_err(|_| io::Error::other("sealing a TLS record failed"))?;
        self.out[body + inner..body + inner + TAG].copy_from_slice(tag.as_ref());
        self.out_len = body + inner + TAG;
        Ok(())
    }

    /// Seals a whole record of application data read straight from `data` (no copy first).
    fn seal_direct(&mut self, data: &[u8]) -> io::Result<()> {
        debug_assert!(self.open.is_none() && data.len() <= MAX_PLAINTEXT);
        let start = self.out_len;
        let header = self.header(start, data.len() + 1);
        let nonce = self.tx.next_nonce()?;
        let body = start + HEADER;
        let (ciphertext, rest) = self.out[body..].split_at_mut(data.len());
        self.tx
            .key
            .seal_out_of_place_scatter(
                nonce,
                Aad::from(header),
                data,
                ciphertext,
                &[APPLICATION_DATA],
                &mut rest[..1 + TAG],
            )
            .map_err(|_| io::Error::other("sealing a TLS record failed"))?;
        self.out_len = body + data.len() + 1 + TAG;
        Ok(())
    }

    /// Opens a record of application data at the end of `out`.
    fn open_record(&mut self) {
        self.open = Some(self.out_len);
        self.out_len += HEADER;
    }

    /// Appends plaintext to the open record.
    fn append(&mut self, data: &[u8]) {
        self.out[self.out_len..self.out_len + data.len()].copy_from_slice(data);
        self.out_len += data.len();
    }

    /// Seals what the open record holds, or drops it when empty.
    fn close_open(&mut self) -> io::Result<()> {
        match self.open {
            Some(start) if self.out_len == start + HEADER => {
                self.out_len = start;
                self.open = None;
                Ok(())
            }
            Some(_) => self.seal_open(APPLICATION_DATA),
            None => Ok(()),
        }
    }

    /// Seals one record of `content_type` holding `body`, after everything written before.
    fn control_record(&mut self, content_type: u8, body: &[u8]) -> io::Result<()> {
        self.close_open()?;
        self.reserve()?;
        self.open_record();
        self.append(body);
        self.seal_open(content_type)
    }

    /// Sends a KeyUpdate (update_not_requested) under the old keys, then switches to the next.
    fn update_keys(&mut self) -> io::Result<()> {
        self.send_key_update(0)
    }

    /// Answers a peer's KeyUpdate request before any further application data (RFC 8446
    /// §4.6.3): a record still open when the request came is taken back and its bytes go into a
    /// record after our KeyUpdate.
    fn settle_owed_update(&mut self) -> io::Result<()> {
        if !self.update_owed {
            return Ok(());
        }
        let mut held = zeroize::Zeroizing::new(Vec::new());
        if let Some(start) = self.open.take() {
            held.extend_from_slice(&self.out[start + HEADER..self.out_len]);
            self.out[start..self.out_len].fill(0);
            self.out_len = start;
        }
        self.update_keys()?;
        if !held.is_empty() {
            self.reserve()?;
            self.open_record();
            self.append(&held);
        }
        Ok(())
    }

    /// Sends a KeyUpdate with `request_update` = `request` under the old keys, then switches to
    /// the next.
    fn send_key_update(&mut self, request: u8) -> io::Result<()> {
        self.control_record(HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, request])?;
        let (seq, secrets) = self.kernel.update_tx().map_err(rustls_error)?;
        self.tx = Keys::new(seq, secrets)?;
        self.update_owed = false;
        self.updates.0 += 1;
        Ok(())
    }

    /// Writes every sealed record to the socket.
    fn send_sealed(&mut self) -> io::Result<()> {
        debug_assert!(self.open.is_none());
        if self.out_len == 0 {
            return Ok(());
        }
        if let Err(e) = self.socket.write_all(&self.out[..self.out_len]) {
            // Part of a record may have gone: the stream cannot go on.
            self.broken = true;
            return Err(e);
        }
        self.out_len = 0;
        Ok(())
    }

    /// Sends our close_notify alert after everything written so far.
    pub(crate) fn close_notify(&mut self) -> io::Result<()> {
        self.check_usable()?;
        if self.write_closed {
            return Ok(());
        }
        self.control_record(ALERT, &[1, CLOSE_NOTIFY])?;
        self.send_sealed()?;
        self.write_closed = true;
        Ok(())
    }

    /// Ends the session on a broken record: our fatal alert (best effort), then an error.
    fn fail(&mut self, alert: u8, message: String) -> io::Error {
        if !self.broken && !self.write_closed {
            self.open = None;
            self.out_len = 0;
            if self.control_record(ALERT, &[2, alert]).is_ok() {
                // Without waiting: a peer that does not read must not hold our error up.
                let _ = self.socket.set_nonblocking(true);
                let _ = self.socket.write(&self.out[..self.out_len]);
                let _ = self.socket.set_nonblocking(false);
                self.out_len = 0;
            }
            self.write_closed = true;
        }
        self.broken = true;
        io::Error::new(io::ErrorKind::InvalidData, message)
    }

    /// Reads until `input[start..end]` holds at least `need` bytes.
    fn fill(&mut self, need: usize) -> io::Result<()> {
        while self.end - self.start < need {
            if self.start + need > self.input.len() {
                self.input.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let n = loop {
                match self.socket.read(&mut self.input[self.end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    if self.start == self.end {
                        "the peer closed the connection without a TLS close_notify"
                    } else {
                        "the connection ended inside a TLS record"
                    },
                ));
            }
            self.end += n;
        }
        Ok(())
    }

    /// Opens the next record and acts on it. Application data goes straight into `buf` when
    /// the whole record fits (the length is returned), or stays in `input` as the readable
    /// plaintext (0 is returned, as for alerts and handshake messages).
    fn next_record(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fill(HEADER)?;
        let mut header = [0u8; HEADER];
        header.copy_from_slice(&self.input[self.start..self.start + HEADER]);
        if header[0] != APPLICATION_DATA {
            let what = if header[0] == CHANGE_CIPHER_SPEC {
                "change_cipher_spec".to_string()
            } else {
                format!("type {}", header[0])
            };
            return Err(self.fail(
                UNEXPECTED_MESSAGE,
                format!("a cleartext TLS record ({what}) after the handshake"),
            ));
        }
        let len = u16::from_be_bytes([header[3], header[4]]) as usize;
        if len > MAX_CIPHERTEXT {
            return Err(self.fail(
                RECORD_OVERFLOW,
                format!("a TLS record of {len} bytes (at most {MAX_CIPHERTEXT})"),
            ));
        }
        if len < TAG + 1 {
            return Err(self.fail(
                DECODE_ERROR,
                format!("a TLS record of {len} bytes is too short to hold anything"),
            ));
        }
        self.fill(HEADER + len)?;
        let body = self.start + HEADER;
        self.start += HEADER + len;
        let inner_len = len - TAG;
        // The whole inner plaintext, padding included, is at most 2^14 + 1 octets (§5.4).
        if inner_len > MAX_PLAINTEXT + 1 {
            return Err(self.fail(
                RECORD_OVERFLOW,
                format!("a TLS record with an inner plaintext of {inner_len} bytes"),
            ));
        }
        let nonce = self.rx.next_nonce()?;
        let direct = buf.len() >= inner_len;
        let opened = if direct {
            let (ciphertext, tag) = self.input[body..body + len].split_at(inner_len);
            self.rx.key.open_separate_gather(
                nonce,
                Aad::from(header),
                ciphertext,
                tag,
                &mut buf[..inner_len],
            )
        } else {
            self.rx
                .key
                .open_in_place(nonce, Aad::from(header), &mut self.input[body..body + len])
                .map(|_| ())
        };
        if opened.is_err() {
            return Err(self.fail(
                BAD_RECORD_MAC,
                "a TLS record failed authentication (changed in transit, or not from the peer)"
                    .to_string(),
            ));
        }
        let inner = if direct {
            &buf[..inner_len]
        } else {
            &self.input[body..body + inner_len]
        };
        // The content type is the last non-zero byte; zeros after it are padding (§5.4).
        let Some(at) = inner.iter().rposition(|&b| b != 0) else {
            return Err(self.fail(
                UNEXPECTED_MESSAGE,
                "a TLS record without a content type".to_string(),
            ));
        };
        let content_type = inner[at];
        if at > MAX_PLAINTEXT {
            return Err(self.fail(
                RECORD_OVERFLOW,
                format!("a TLS record with {at} bytes of plaintext"),
            ));
        }
        if content_type == APPLICATION_DATA {
            self.updates_in_a_row = 0;
        }
        match content_type {
            APPLICATION_DATA if direct => Ok(at),
            APPLICATION_DATA => {
                self.plain_start = body;
                self.plain_end = body + at;
                Ok(0)
            }
            ALERT => {
                let content = inner[..at].to_vec();
                self.alert(&content).map(|()| 0)
            }
            HANDSHAKE => {
                let content = inner[..at].to_vec();
                self.post_handshake(&content).map(|()| 0)
            }
            other => Err(self.fail(
                UNEXPECTED_MESSAGE,
                format!("an encrypted TLS record of content type {other} after the handshake"),
            )),
        }
    }

    fn alert(&mut self, content: &[u8]) -> io::Result<()> {
        let &[_level, description] = content else {
            return Err(self.fail(
                DECODE_ERROR,
                format!("a TLS alert of {} bytes", content.len()),
            ));
        };
        match description {
            CLOSE_NOTIFY => {
                self.peer_closed = true;
                Ok(())
            }
            // Followed by close_notify (§6.1).
            USER_CANCELED => Ok(()),
            other => {
                // The peer ended the session; there is nothing to answer.
                self.broken = true;
                self.write_closed = true;
                Err(rustls_error(rustls::Error::AlertReceived(
                    rustls::AlertDescription::from(other),
                )))
            }
        }
    }

    fn post_handshake(&mut self, mut content: &[u8]) -> io::Result<()> {
        while !content.is_empty() {
            let &[kind, a, b, c, ref rest @ ..] = content else {
                return Err(self.fail(
                    DECODE_ERROR,
                    "a truncated post-handshake message".to_string(),
                ));
            };
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            if rest.len() < len {
                return Err(self.fail(
                    DECODE_ERROR,
                    "a post-handshake message longer than its record".to_string(),
                ));
            }
            let (body, rest) = rest.split_at(len);
            content = rest;
            match kind {
                KEY_UPDATE => {
                    let &[request @ (0 | 1)] = body else {
                        return Err(self.fail(DECODE_ERROR, "a malformed KeyUpdate".to_string()));
                    };
                    // The new keys start with the next record (§5.1: KeyUpdate ends its record).
                    if !content.is_empty() {
                        return Err(self.fail(
                            UNEXPECTED_MESSAGE,
                            "a KeyUpdate that does not end its record".to_string(),
                        ));
                    }
                    // As BoringSSL and rustls: a peer may not keep us busy with key updates.
                    self.updates_in_a_row += 1;
                    if self.updates_in_a_row > MAX_UPDATES_IN_A_ROW {
                        return Err(self.fail(
                            UNEXPECTED_MESSAGE,
                            format!(
                                "more than {MAX_UPDATES_IN_A_ROW} TLS key updates without data"
                            ),
                        ));
                    }
                    let (seq, secrets) = self.kernel.update_rx().map_err(rustls_error)?;
                    self.rx = Keys::new(seq, secrets)?;
                    self.updates.1 += 1;
                    if request == 1 {
                        self.update_owed = true;
                    }
                }
                NEW_SESSION_TICKET if !self.kernel.is_server() => {}
                other => {
                    return Err(self.fail(
                        UNEXPECTED_MESSAGE,
                        format!("post-handshake message type {other}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Drop for RecordStream {
    fn drop(&mut self) {
        // Plaintext waits in both buffers (records before sealing, after opening): wipe it, as
        // the keys wipe themselves.
        self.out.zeroize();
        self.input.zeroize();
        self.early.zeroize();
    }
}

impl Read for RecordStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.early_read < self.early.len() {
            let n = buf.len().min(self.early.len() - self.early_read);
            buf[..n].copy_from_slice(&self.early[self.early_read..self.early_read + n]);
            self.early_read += n;
            return Ok(n);
        }
        loop {
            if self.plain_start < self.plain_end {
                let n = buf.len().min(self.plain_end - self.plain_start);
                buf[..n].copy_from_slice(&self.input[self.plain_start..self.plain_start + n]);
                self.plain_start += n;
                return Ok(n);
            }
            self.check_usable()?;
            if self.peer_closed {
                return Ok(0);
            }
            let n = self.next_record(buf)?;
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

impl Write for RecordStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check_usable()?;
        if self.write_closed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "writing after our TLS close_notify",
            ));
        }
        self.settle_owed_update()?;
        let mut rest = data;
        // Top up the open record first.
        if let Some(start) = self.open {
            let room = MAX_PLAINTEXT - (self.out_len - start - HEADER);
            let take = room.min(rest.len());
            self.append(&rest[..take]);
            rest = &rest[take..];
            if take == room {
                self.seal_open(APPLICATION_DATA)?;
            }
        }
        // Whole records straight from the caller's bytes.
        while rest.len() >= MAX_PLAINTEXT {
            self.before_data()?;
            self.seal_direct(&rest[..MAX_PLAINTEXT])?;
            rest = &rest[MAX_PLAINTEXT..];
        }
        // The rest waits in a new open record for more, or for the flush.
        if !rest.is_empty() {
            self.before_data()?;
            self.open_record();
            self.append(rest);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.check_usable()?;
        self.settle_owed_update()?;
        self.close_open()?;
        self.send_sealed()?;
        self.socket.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::cipher::{AeadKey, Iv};

    #[test]
    fn sequence_numbers_never_wrap() {
        let secrets = ConnectionTrafficSecrets::Aes128Gcm {
            key: AeadKey::from([7u8; 32]),
            iv: Iv::from([9u8; NONCE_LEN]),
        };
        // AeadKey::from takes 32 bytes; AES-128 needs 16, so this key is refused, and the right
        // length is accepted.
        assert!(Keys::new(0, secrets).is_err());
        let secrets = ConnectionTrafficSecrets::Aes256Gcm {
            key: AeadKey::from([7u8; 32]),
            iv: Iv::from([9u8; NONCE_LEN]),
        };
        let mut keys = Keys::new(u64::MAX - 1, secrets).unwrap();
        assert!(keys.next_nonce().is_ok());
        assert_eq!(keys.seq, u64::MAX);
        assert!(keys.next_nonce().is_err());
    }

    #[test]
    fn the_nonce_is_the_iv_xor_the_sequence_number() {
        let iv = [0x10u8; NONCE_LEN];
        let secrets = ConnectionTrafficSecrets::Aes256Gcm {
            key: AeadKey::from([1u8; 32]),
            iv: Iv::from(iv),
        };
        let mut keys = Keys::new(0x0102_0304_0506_0708, secrets).unwrap();
        let nonce = keys.next_nonce().unwrap();
        let mut want = iv;
        for (w, s) in want[4..].iter_mut().zip([1u8, 2, 3, 4, 5, 6, 7, 8]) {
            *w ^= s;
        }
        assert_eq!(nonce.as_ref(), &want);
    }
}
