//! The stream channel over plain TCP (and, through [`Transport`], over TLS): large buffered
//! writes, buffered reads, byte counters, an idle timeout on every read and write, an overall
//! session deadline, and `TCP_NODELAY` (we decide when data leaves, by flushing, so Nagle's delay
//! would only add latency to the small handshake messages).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::{Channel, Traffic};
use crate::error::{Error, Result};

/// Buffer sizes: large writes keep the kernel busy with few system calls.
const WRITE_BUFFER: usize = 1 << 20;
const READ_BUFFER: usize = 1 << 20;
/// Writes and reads at least this large bypass our buffers (one copy fewer for the 64 KiB
/// table chunks).
const DIRECT: usize = 1 << 16;

/// Timeouts of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for any single read or write to make progress.
    pub idle: Duration,
    /// Longest a whole session may take (None: no limit).
    pub total: Option<Duration>,
}

impl Timeouts {
    /// The same idle timeout for everything, no overall limit.
    pub fn idle(idle: Duration) -> Self {
        Timeouts { idle, total: None }
    }
}

/// What a [`StreamChannel`] runs over: a byte stream that can close its sending direction.
/// Plain TCP ([`TcpStream`]) and TLS ([`super::tls::TlsStream`]) implement it.
pub trait Transport: Read + Write + Send {
    /// Ends our sending direction after everything written so far (TLS sends its close_notify
    /// alert first): the peer reads end-of-stream.
    fn close_write(&mut self) -> std::io::Result<()>;
    /// Closes both directions, ignoring errors.
    fn shutdown(&mut self);
    /// Whether the transport marks its end in-band (TLS's close_notify): then a connection that
    /// ends without the mark was cut, and that is an error (RFC 8446 §6.1), not a clean end.
    fn marks_its_end(&self) -> bool {
        false
    }
}

impl Transport for TcpStream {
    fn close_write(&mut self) -> std::io::Result<()> {
        TcpStream::shutdown(self, std::net::Shutdown::Write)
    }
    fn shutdown(&mut self) {
        let _ = TcpStream::shutdown(self, std::net::Shutdown::Both);
    }
}

/// A buffered, counted, deadline-checked channel over a [`Transport`].
pub struct StreamChannel<S: Transport> {
    stream: S,
    write_buf: Vec<u8>,
    read_buf: Box<[u8]>,
    read_start: usize,
    read_end: usize,
    timeouts: Timeouts,
    deadline: Option<Instant>,
    traffic: Traffic,
    peer: SocketAddr,
}

/// A plaintext TCP connection to the peer.
pub type TcpChannel = StreamChannel<TcpStream>;

impl<S: Transport> Drop for StreamChannel<S> {
    // The buffers held protocol plaintext (input labels, output decoding bits, OT messages):
    // wiped before they are freed. `write_buf` never reallocates (it is flushed before it
    // would grow past its capacity) and `read_buf` is fixed, so these are the only copies.
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.write_buf);
        zeroize::Zeroize::zeroize(&mut *self.read_buf);
    }
}

impl<S: Transport> std::fmt::Debug for StreamChannel<S> {
    // The state, never the buffers: they hold protocol bytes (labels, OT messages).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamChannel")
            .field("peer", &self.peer)
            .field("traffic", &self.traffic)
            .field("buffered_out", &self.write_buf.len())
            .field("buffered_in", &(self.read_end - self.read_start))
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

pub(crate) fn classify(e: std::io::Error, what: &str, timeouts: &Timeouts) -> Error {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Error::Timeout(format!(
            "{what}: nothing happened for {:.1} s (see --timeout)",
            timeouts.idle.as_secs_f64()
        )),
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => Error::PeerClosed(format!("{what}: {e}")),
        // A TLS record that fails authentication or breaks the grammar is InvalidData
        // (`net::record`, and rustls during the handshake).
        ErrorKind::InvalidData => Error::peer(format!("{what}: {e}")),
        _ => Error::io(what.to_string(), e),
    }
}

/// Sets the options every connection gets: no Nagle delay (we decide when data leaves, by
/// flushing) and the idle timeout on every read and write.
pub(crate) fn configure(stream: &TcpStream, idle: Duration) -> Result<()> {
    stream
        .set_nonblocking(false)
        .map_err(|e| Error::io("configuring the connection", e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| Error::io("setting TCP_NODELAY", e))?;
    stream
        .set_read_timeout(Some(idle))
        .map_err(|e| Error::io("setting the read timeout", e))?;
    stream
        .set_write_timeout(Some(idle))
        .map_err(|e| Error::io("setting the write timeout", e))
}

impl StreamChannel<TcpStream> {
    /// Wraps a connected stream.
    pub fn new(stream: TcpStream, timeouts: Timeouts) -> Result<Self> {
        let peer = stream
            .peer_addr()
            .map_err(|e| Error::io("reading the peer's address", e))?;
        configure(&stream, timeouts.idle)?;
        Ok(StreamChannel::over(stream, peer, timeouts))
    }

    /// Connects to `addr`, retrying until the listener is up or `wait` has passed, so the two
    /// parties can be started in either order.
    pub fn connect(addr: &str, wait: Duration, timeouts: Timeouts) -> Result<Self> {
        TcpChannel::new(super::listen::connect(addr, wait)?, timeouts)
    }

    /// Waits up to `wait` for one connection on `listener` (the first one is taken: without
    /// authentication there is no telling a stray connection from the peer).
    pub fn accept(listener: &TcpListener, wait: Duration, timeouts: Timeouts) -> Result<Self> {
        super::listen::accept_first(
            listener,
            wait,
            |stream, _| TcpChannel::new(stream, timeouts),
            |_| {},
        )
    }

    /// Binds `addr` (`HOST:PORT`, `:PORT` or `[IPv6]:PORT`) and waits for one connection.
    pub fn listen(addr: &str, wait: Duration, timeouts: Timeouts) -> Result<Self> {
        let listener = super::listen::bind(addr)?;
        TcpChannel::accept(&listener, wait, timeouts)
    }
}

impl<S: Transport> StreamChannel<S> {
    /// Wraps a transport already configured with the idle timeout.
    pub fn over(stream: S, peer: SocketAddr, timeouts: Timeouts) -> Self {
        StreamChannel {
            stream,
            write_buf: Vec::with_capacity(WRITE_BUFFER),
            read_buf: vec![0u8; READ_BUFFER].into_boxed_slice(),
            read_start: 0,
            read_end: 0,
            deadline: timeouts.total.map(|t| Instant::now() + t),
            timeouts,
            traffic: Traffic::default(),
            peer,
        }
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The transport underneath.
    pub fn transport(&self) -> &S {
        &self.stream
    }

    fn check_deadline(&self, what: &str) -> Result<()> {
        match self.deadline {
            Some(d) if Instant::now() > d => Err(Error::Timeout(format!(
                "{what}: the session took longer than {:.1} s",
                self.timeouts.total.unwrap_or_default().as_secs_f64()
            ))),
            _ => Ok(()),
        }
    }

    /// Shuts the connection down in both directions.
    pub fn shutdown(&mut self) {
        let _ = self.flush();
        self.stream.shutdown();
    }
}

impl<S: Transport> Channel for StreamChannel<S> {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        self.traffic.sent += data.len() as u64;
        if self.write_buf.len() + data.len() > WRITE_BUFFER {
            self.flush()?;
        }
        if (data.len() >= DIRECT && self.write_buf.is_empty()) || data.len() >= WRITE_BUFFER {
            self.flush()?;
            self.check_deadline("sending")?;
            let timeouts = self.timeouts;
            return self
                .stream
                .write_all(data)
                .and_then(|()| self.stream.flush())
                .map_err(|e| classify(e, "sending", &timeouts));
        }
        self.write_buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.write_buf.is_empty() {
            return Ok(());
        }
        self.check_deadline("sending")?;
        let timeouts = self.timeouts;
        self.stream
            .write_all(&self.write_buf)
            .and_then(|()| self.stream.flush())
            .map_err(|e| classify(e, "sending", &timeouts))?;
        self.write_buf.clear();
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        // Whatever we were going to send must go first, or both sides could wait on each other.
        self.flush()?;
        let mut filled = 0;
        let expected = buf.len();
        while filled < expected {
            if self.read_start == self.read_end {
                self.check_deadline("receiving")?;
                if expected - filled >= DIRECT {
                    // Large reads go straight into the caller's buffer.
                    let n = read_some(
                        &mut self.stream,
                        &mut buf[filled..],
                        &self.timeouts,
                        filled,
                        expected,
                    )?;
                    filled += n;
                    continue;
                }
                let n = read_some(
                    &mut self.stream,
                    &mut self.read_buf,
                    &self.timeouts,
                    filled,
                    expected,
                )?;
                self.read_start = 0;
                self.read_end = n;
            }
            let n = (buf.len() - filled).min(self.read_end - self.read_start);
            buf[filled..filled + n]
                .copy_from_slice(&self.read_buf[self.read_start..self.read_start + n]);
            self.read_start += n;
            filled += n;
        }
        self.traffic.received += buf.len() as u64;
        Ok(())
    }

    fn traffic(&self) -> Traffic {
        self.traffic
    }

    fn close_write(&mut self) -> Result<()> {
        self.flush()?;
        match self.stream.close_write() {
            Ok(()) => Ok(()),
            // The peer may already be gone; the read side reports what matters.
            Err(e) if matches!(e.kind(), ErrorKind::NotConnected | ErrorKind::BrokenPipe) => Ok(()),
            Err(e) => Err(Error::io("closing the connection", e)),
        }
    }

    fn expect_eof(&mut self) -> Result<()> {
        if self.read_start < self.read_end {
            return Err(Error::peer(
                "the peer sent bytes after the end of the session",
            ));
        }
        let mut byte = [0u8; 1];
        loop {
            match self.stream.read(&mut byte) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    return Err(Error::peer(
                        "the peer sent bytes after the end of the session",
                    ));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // Over TLS the end is close_notify: a connection cut or reset before it came is
                // truncation (RFC 8446 §6.1), whatever the protocol said before.
                Err(e)
                    if self.stream.marks_its_end()
                        && matches!(
                            e.kind(),
                            ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
                        ) =>
                {
                    return Err(Error::PeerMisbehaved(format!(
                        "the connection was cut before the peer's TLS close_notify (truncation): {e}"
                    )));
                }
                // Over plain TCP a reset after the protocol's own end marker still ends the
                // session cleanly for us.
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(classify(e, "waiting for the peer to close", &self.timeouts)),
            }
        }
    }
}

fn read_some<S: Read>(
    stream: &mut S,
    buf: &mut [u8],
    timeouts: &Timeouts,
    filled: usize,
    expected: usize,
) -> Result<usize> {
    loop {
        match stream.read(buf) {
            Ok(0) => {
                return Err(Error::PeerClosed(format!(
                    "{filled} of {expected} expected bytes received"
                )));
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(classify(e, "receiving", timeouts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(timeouts: Timeouts) -> (TcpChannel, TcpChannel) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let client = std::thread::spawn(move || {
            TcpChannel::connect(&addr, Duration::from_secs(5), timeouts).unwrap()
        });
        let server = TcpChannel::accept(&listener, Duration::from_secs(5), timeouts).unwrap();
        (server, client.join().unwrap())
    }

    #[test]
    fn large_and_small_messages_arrive() {
        let (mut a, mut b) = pair(Timeouts::idle(Duration::from_secs(10)));
        let big: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        let sender = std::thread::spawn(move || {
            a.write_all(b"hi").unwrap();
            a.write_all(&big).unwrap();
            a.flush().unwrap();
            a.traffic()
        });
        let mut hi = [0u8; 2];
        b.read_exact(&mut hi).unwrap();
        assert_eq!(&hi, b"hi");
        let mut got = vec![0u8; 3_000_000];
        b.read_exact(&mut got).unwrap();
        assert!(got.iter().enumerate().all(|(i, &v)| v == i as u8));
        assert_eq!(sender.join().unwrap().sent, 3_000_002);
        assert_eq!(b.traffic().received, 3_000_002);
    }

    #[test]
    fn silence_and_hangups_are_typed_errors() {
        let (mut a, mut b) = pair(Timeouts::idle(Duration::from_millis(100)));
        let mut buf = [0u8; 8];
        let start = Instant::now();
        assert!(matches!(b.read_exact(&mut buf), Err(Error::Timeout(_))));
        assert!(start.elapsed() < Duration::from_secs(5));
        a.write_all(&[1, 2, 3]).unwrap();
        a.shutdown();
        drop(a);
        assert!(matches!(b.read_exact(&mut buf), Err(Error::PeerClosed(_))));
    }

    #[test]
    fn connect_gives_up_after_the_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let start = Instant::now();
        let r = TcpChannel::connect(
            &addr,
            Duration::from_millis(300),
            Timeouts::idle(Duration::from_secs(1)),
        );
        assert!(matches!(r, Err(Error::Timeout(_))));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
