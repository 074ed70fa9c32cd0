//! A channel paced to a link speed: a token bucket on the sending side, so that a loopback run
//! behaves like one over a slower network (`garbled bench --e2e --link-mbps M`). Each party paces
//! what it sends, so the link is paced each way. Receiving is not touched.

use std::time::{Duration, Instant};

use super::{Channel, Traffic};
use crate::error::Result;

/// Bytes that may leave at once after a pause (the bucket's depth): a few packets.
const BURST: u64 = 64 << 10;
/// Largest piece handed to the inner channel between checks of the bucket.
const PIECE: usize = 16 << 10;

/// `inner` with its sending rate held to `bits_per_second`.
pub struct Paced<C> {
    inner: C,
    bytes_per_second: f64,
    start: Instant,
    sent: u64,
}

impl<C: Channel> Paced<C> {
    /// Paces `inner` to `megabits_per_second` (10^6 bits per second).
    pub fn new(inner: C, megabits_per_second: f64) -> Paced<C> {
        Paced {
            inner,
            bytes_per_second: megabits_per_second * 1e6 / 8.0,
            start: Instant::now(),
            sent: 0,
        }
    }

    /// The wrapped channel.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C: Channel> Channel for Paced<C> {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        for piece in data.chunks(PIECE) {
            // The time by which the bucket holds enough tokens for this piece.
            let owed = (self.sent + piece.len() as u64).saturating_sub(BURST);
            let due = self.start + Duration::from_secs_f64(owed as f64 / self.bytes_per_second);
            let now = Instant::now();
            if due > now {
                // What is queued goes out before the pause, as on a real link.
                self.inner.flush()?;
                std::thread::sleep(due - now);
            }
            self.inner.write_all(piece)?;
            self.sent += piece.len() as u64;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.inner.read_exact(buf)
    }

    fn traffic(&self) -> Traffic {
        self.inner.traffic()
    }
    fn encrypts(&self) -> bool {
        self.inner.encrypts()
    }

    fn close_write(&mut self) -> Result<()> {
        self.inner.close_write()
    }

    fn expect_eof(&mut self) -> Result<()> {
        self.inner.expect_eof()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::memory;

    #[test]
    fn sending_takes_as_long_as_the_link_needs() {
        let (a, mut b) = memory::pair(Duration::from_secs(10));
        let mut paced = Paced::new(a, 80.0); // 10 MB/s
        let data = vec![7u8; 1 << 20];
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            b.read_exact(&mut buf).unwrap();
            buf
        });
        let start = Instant::now();
        paced.write_all(&data).unwrap();
        paced.flush().unwrap();
        let took = start.elapsed();
        assert_eq!(reader.join().unwrap(), data);
        // (1 MiB - 64 KiB burst) at 10 MB/s is 98 ms.
        assert!(took >= Duration::from_millis(90), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
}
