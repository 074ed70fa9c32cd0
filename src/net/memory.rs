//! An in-memory channel pair: two ends joined by queues, for tests and in-process runs.

use std::sync::mpsc;
use std::time::Duration;

use super::{Channel, Traffic};
use crate::error::{Error, Result};

/// One end of an in-memory pair.
pub struct MemoryChannel {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    rx: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    incoming: Vec<u8>,
    offset: usize,
    timeout: Duration,
    traffic: Traffic,
}

impl std::fmt::Debug for MemoryChannel {
    // The state, never the buffers: they hold protocol bytes (labels, OT messages).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryChannel")
            .field("open", &self.tx.is_some())
            .field("traffic", &self.traffic)
            .field("buffered_out", &self.pending.len())
            .field("buffered_in", &(self.incoming.len() - self.offset))
            .finish()
    }
}

/// Flushes automatically beyond this many queued bytes.
const BUFFER: usize = 1 << 20;
/// The first allocation of a send buffer (below glibc's mmap threshold: small messages stay
/// cheap).
const SMALL_BUFFER: usize = 64 << 10;

/// Two connected ends; reads time out after `timeout`.
pub fn pair(timeout: Duration) -> (MemoryChannel, MemoryChannel) {
    let (tx_a, rx_b) = mpsc::channel();
    let (tx_b, rx_a) = mpsc::channel();
    let end = |tx, rx| MemoryChannel {
        tx: Some(tx),
        rx,
        pending: Vec::new(),
        incoming: Vec::new(),
        offset: 0,
        timeout,
        traffic: Traffic::default(),
    };
    (end(tx_a, rx_a), end(tx_b, rx_b))
}

impl Drop for MemoryChannel {
    // What was sent and received (labels, decoding bits) is wiped before it is freed, and so is
    // whatever the peer sent that was never read.
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.pending);
        zeroize::Zeroize::zeroize(&mut self.incoming);
        while let Ok(mut data) = self.rx.try_recv() {
            zeroize::Zeroize::zeroize(&mut data);
        }
    }
}

impl MemoryChannel {
    /// Closes the sending direction: the peer's reads fail once it has read what was sent.
    pub fn close(&mut self) {
        let _ = self.flush();
        self.tx = None;
    }
}

impl Channel for MemoryChannel {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        // Never let `pending` reallocate (that would free an unwiped copy): flush first when the
        // data does not fit, and give a large write a buffer of its own.
        if self.pending.len() + data.len() > self.pending.capacity() {
            self.flush()?;
            self.pending = Vec::with_capacity(data.len().max(SMALL_BUFFER));
        }
        self.pending.extend_from_slice(data);
        self.traffic.sent += data.len() as u64;
        if self.pending.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.pending);
        match &self.tx {
            Some(tx) => tx
                .send(data)
                .map_err(|_| Error::PeerClosed("while sending".into())),
            None => Err(Error::arg("the channel was closed")),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.offset == self.incoming.len() {
                zeroize::Zeroize::zeroize(&mut self.incoming);
                self.incoming = match self.rx.recv_timeout(self.timeout) {
                    Ok(data) => data,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        return Err(Error::Timeout(format!(
                            "the peer sent nothing for {:.1} s",
                            self.timeout.as_secs_f64()
                        )));
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(Error::PeerClosed(format!(
                            "{filled} of {} expected bytes received",
                            buf.len()
                        )));
                    }
                };
                self.offset = 0;
            }
            let n = (buf.len() - filled).min(self.incoming.len() - self.offset);
            buf[filled..filled + n].copy_from_slice(&self.incoming[self.offset..self.offset + n]);
            self.offset += n;
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
        self.tx = None;
        Ok(())
    }

    fn expect_eof(&mut self) -> Result<()> {
        if self.offset < self.incoming.len() {
            return Err(Error::peer(
                "the peer sent bytes after the end of the session",
            ));
        }
        match self.rx.recv_timeout(self.timeout) {
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Error::Timeout(
                "the peer did not close the connection".into(),
            )),
            Ok(data) if data.is_empty() => self.expect_eof(),
            Ok(_) => Err(Error::peer(
                "the peer sent bytes after the end of the session",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_in_order_and_are_counted() {
        let (mut a, mut b) = pair(Duration::from_secs(5));
        a.write_all(b"hello ").unwrap();
        a.write_all(b"world").unwrap();
        a.flush().unwrap();
        let mut buf = [0u8; 11];
        b.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello world");
        assert_eq!(a.traffic().sent, 11);
        assert_eq!(b.traffic().received, 11);
    }

    #[test]
    fn silence_times_out_and_closing_is_reported() {
        let (mut a, mut b) = pair(Duration::from_millis(50));
        let mut buf = [0u8; 4];
        assert!(matches!(b.read_exact(&mut buf), Err(Error::Timeout(_))));
        a.write_all(&[1, 2]).unwrap();
        a.close();
        assert!(matches!(b.read_exact(&mut buf), Err(Error::PeerClosed(_))));
    }
}
