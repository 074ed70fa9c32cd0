//! Channels for fuzzing and tests: [`ReplayChannel`] plays back fixed bytes as the peer's stream
//! and swallows what we send; [`RecordingChannel`] keeps a copy of everything a real peer sent.

use super::{Channel, Traffic};
use crate::error::{Error, Result};

/// A peer that sends exactly `bytes` and then closes the connection.
#[derive(Clone)]
pub struct ReplayChannel {
    bytes: Vec<u8>,
    at: usize,
    traffic: Traffic,
}

impl std::fmt::Debug for ReplayChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReplayChannel({} of {} bytes read)",
            self.at,
            self.bytes.len()
        )
    }
}

impl ReplayChannel {
    /// A peer whose whole stream is `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        ReplayChannel {
            bytes,
            at: 0,
            traffic: Traffic::default(),
        }
    }
}

impl Channel for ReplayChannel {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        self.traffic.sent += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let left = self.bytes.len() - self.at;
        if buf.len() > left {
            self.at = self.bytes.len();
            return Err(Error::peer(format!(
                "the peer closed the connection ({left} of {} expected bytes received)",
                buf.len()
            )));
        }
        buf.copy_from_slice(&self.bytes[self.at..self.at + buf.len()]);
        self.at += buf.len();
        self.traffic.received += buf.len() as u64;
        Ok(())
    }

    fn traffic(&self) -> Traffic {
        self.traffic
    }

    fn expect_eof(&mut self) -> Result<()> {
        if self.at < self.bytes.len() {
            return Err(Error::peer(
                "the peer sent bytes after the end of the session",
            ));
        }
        Ok(())
    }
}

/// Wraps a channel and records every byte received from the peer.
pub struct RecordingChannel<C> {
    inner: C,
    received: Vec<u8>,
}

impl<C: std::fmt::Debug> std::fmt::Debug for RecordingChannel<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecordingChannel({:?}, {} bytes recorded)",
            self.inner,
            self.received.len()
        )
    }
}

impl<C: Channel> RecordingChannel<C> {
    /// Records what `inner` receives.
    pub fn new(inner: C) -> Self {
        RecordingChannel {
            inner,
            received: Vec::new(),
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> &[u8] {
        &self.received
    }
}

impl<C: Channel> Channel for RecordingChannel<C> {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        self.inner.write_all(data)
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.inner.read_exact(buf)?;
        self.received.extend_from_slice(buf);
        Ok(())
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
