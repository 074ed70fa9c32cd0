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

/// `inner` with its sending rate held to `bits_per_second`, or passed through untouched.
pub struct Paced<C> {
    inner: C,
    /// None: no pacing, writes go to `inner` as they come (no 16 KiB pieces, which would cost
    /// unpaced sessions a copy into the channel's buffer that a real deployment does not make).
    bytes_per_second: Option<f64>,
    start: Instant,
    sent: u64,
}

impl<C: Channel> Paced<C> {
    /// Paces `inner` to `megabits_per_second` (10^6 bits per second); None passes it through.
    pub fn new(inner: C, megabits_per_second: Option<f64>) -> Paced<C> {
        Paced {
            inner,
            bytes_per_second: megabits_per_second.map(|m| m * 1e6 / 8.0),
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
        let Some(bytes_per_second) = self.bytes_per_second else {
            return self.inner.write_all(data);
        };
        for piece in data.chunks(PIECE) {
            // The time by which the bucket holds enough tokens for this piece.
            let owed = (self.sent + piece.len() as u64).saturating_sub(BURST);
            let due = self.start + Duration::from_secs_f64(owed as f64 / bytes_per_second);
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
        let mut paced = Paced::new(a, Some(80.0)); // 10 MB/s
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

    /// Records the size of every write it is handed.
    struct Writes(Vec<usize>);

    impl Channel for Writes {
        fn write_all(&mut self, data: &[u8]) -> Result<()> {
            self.0.push(data.len());
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            Ok(())
        }
        fn read_exact(&mut self, _: &mut [u8]) -> Result<()> {
            Ok(())
        }
        fn traffic(&self) -> Traffic {
            Traffic::default()
        }
    }

    #[test]
    fn an_unpaced_channel_passes_writes_through_whole() {
        let mut unpaced = Paced::new(Writes(Vec::new()), None);
        unpaced.write_all(&vec![1u8; 1 << 20]).unwrap();
        unpaced.write_all(&[2u8; 5]).unwrap();
        assert_eq!(unpaced.into_inner().0, [1 << 20, 5]);
        // Paced, the same megabyte goes in pieces the bucket can check.
        let mut paced = Paced::new(Writes(Vec::new()), Some(1e6));
        paced.write_all(&vec![1u8; 1 << 20]).unwrap();
        assert_eq!(paced.into_inner().0, vec![PIECE; (1 << 20) / PIECE]);
    }
}
