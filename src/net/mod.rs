//! Byte channels between the two parties: one trait, a TCP implementation ([`tcp`]), an
//! in-memory pair for tests ([`memory`]), and replaying/recording channels for fuzzing
//! ([`replay`]).
//!
//! Every read is exact and bounded: the caller says how many bytes it expects, so a peer cannot
//! make us allocate more than the protocol allows, and a closed or silent peer becomes
//! [`Error::PeerMisbehaved`](crate::Error::PeerMisbehaved) or [`Error::Timeout`](crate::Error::Timeout), never a hang or a panic.

use crate::block::Block;
use crate::error::Result;

pub mod identity;
pub mod listen;
pub mod memory;
pub mod paced;
pub mod record;
pub mod replay;
pub mod tcp;
pub mod tls;

/// Bytes sent and received so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes handed to the transport.
    pub sent: u64,
    /// Bytes read from the transport.
    pub received: u64,
}

/// A reliable, ordered byte stream to the peer.
pub trait Channel {
    /// Queues bytes for the peer; they leave when the buffer fills or at [`Channel::flush`].
    fn write_all(&mut self, data: &[u8]) -> Result<()>;
    /// Sends everything queued.
    fn flush(&mut self) -> Result<()>;
    /// Reads exactly `buf.len()` bytes. A peer that closes first is `PeerMisbehaved`; one that
    /// stays silent past the channel's deadline is `Timeout`.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()>;
    /// Traffic so far.
    fn traffic(&self) -> Traffic;
    /// Flushes and closes our sending direction: the peer reads end-of-stream after our last
    /// byte.
    fn close_write(&mut self) -> Result<()> {
        self.flush()
    }
    /// Waits for the peer to close its sending direction; any byte that arrives first is
    /// `PeerMisbehaved`, silence past the deadline `Timeout`.
    fn expect_eof(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<C: Channel + ?Sized> Channel for &mut C {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        (**self).write_all(data)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        (**self).read_exact(buf)
    }
    fn traffic(&self) -> Traffic {
        (**self).traffic()
    }
    fn close_write(&mut self) -> Result<()> {
        (**self).close_write()
    }
    fn expect_eof(&mut self) -> Result<()> {
        (**self).expect_eof()
    }
}

/// Blocks per conversion chunk (64 KiB of bytes), where blocks are not bytes already.
#[cfg(not(target_endian = "little"))]
const CHUNK_BLOCKS: usize = 4096;

/// Sends blocks (16 bytes each, little endian).
#[cfg(target_endian = "little")]
pub fn send_blocks<C: Channel + ?Sized>(channel: &mut C, blocks: &[Block]) -> Result<()> {
    channel.write_all(crate::aes::blocks_as_bytes(blocks))
}

/// Receives exactly `out.len()` blocks.
#[cfg(target_endian = "little")]
pub fn recv_blocks<C: Channel + ?Sized>(channel: &mut C, out: &mut [Block]) -> Result<()> {
    channel.read_exact(crate::aes::blocks_as_bytes_mut(out))
}

/// Sends blocks (16 bytes each, little endian).
#[cfg(not(target_endian = "little"))]
pub fn send_blocks<C: Channel + ?Sized>(channel: &mut C, blocks: &[Block]) -> Result<()> {
    let mut buf = vec![0u8; 16 * blocks.len().min(CHUNK_BLOCKS)];
    for chunk in blocks.chunks(CHUNK_BLOCKS) {
        let bytes = &mut buf[..16 * chunk.len()];
        for (out, b) in bytes.chunks_exact_mut(16).zip(chunk) {
            out.copy_from_slice(&b.to_bytes());
        }
        channel.write_all(bytes)?;
    }
    Ok(())
}

/// Receives exactly `out.len()` blocks.
#[cfg(not(target_endian = "little"))]
pub fn recv_blocks<C: Channel + ?Sized>(channel: &mut C, out: &mut [Block]) -> Result<()> {
    let mut buf = vec![0u8; 16 * out.len().min(CHUNK_BLOCKS)];
    for chunk in out.chunks_mut(CHUNK_BLOCKS) {
        let bytes = &mut buf[..16 * chunk.len()];
        channel.read_exact(bytes)?;
        for (b, raw) in chunk.iter_mut().zip(bytes.chunks_exact(16)) {
            let mut a = [0u8; 16];
            a.copy_from_slice(raw);
            *b = Block::from_bytes(a);
        }
    }
    Ok(())
}

/// Sends a little-endian u64.
pub fn send_u64<C: Channel + ?Sized>(channel: &mut C, v: u64) -> Result<()> {
    channel.write_all(&v.to_le_bytes())
}

/// Receives a little-endian u64.
pub fn recv_u64<C: Channel + ?Sized>(channel: &mut C) -> Result<u64> {
    let mut b = [0u8; 8];
    channel.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Packs bits into bytes, bit i at bit (i mod 8) of byte i/8.
pub fn pack_bits(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, &b) in bits.iter().enumerate() {
        out[i / 8] |= u8::from(b) << (i % 8);
    }
    out
}

/// Unpacks `n` bits packed by [`pack_bits`]; `bytes` must hold at least `n` bits.
pub fn unpack_bits(bytes: &[u8], n: usize) -> Vec<bool> {
    (0..n).map(|i| bytes[i / 8] >> (i % 8) & 1 == 1).collect()
}

/// A connection to the peer as the command line opens it: plaintext TCP (`--insecure`) or
/// mutually authenticated TLS 1.3.
#[derive(Debug)]
pub enum Connection {
    /// Plaintext TCP.
    Plain(tcp::TcpChannel),
    /// TLS 1.3 with the peer's key pinned.
    Tls(Box<tls::TlsChannel>),
}

impl Connection {
    /// "TLS 1.3 (TLS13_AES_128_GCM_SHA256)" or "plaintext TCP", for statistics.
    pub fn describe(&self) -> String {
        match self {
            Connection::Plain(_) => "plaintext TCP".into(),
            Connection::Tls(c) => c.transport().describe(),
        }
    }
}

/// Shuts a connection's socket from another thread: a read or write blocked on it returns at
/// once with an error (how the Python package stops a session on Ctrl-C).
#[derive(Debug)]
pub struct Interrupter(std::net::TcpStream);

impl Interrupter {
    /// Shuts the socket in both directions; the session on it fails at its next read or write.
    pub fn interrupt(&self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

impl Connection {
    /// A handle that can shut this connection down from another thread.
    pub fn interrupter(&self) -> Result<Interrupter> {
        let socket = match self {
            Connection::Plain(c) => c.transport(),
            Connection::Tls(c) => c.transport().socket(),
        };
        socket
            .try_clone()
            .map(Interrupter)
            .map_err(|e| crate::error::Error::io("sharing the connection's socket", e))
    }
}

macro_rules! both {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            Connection::Plain($c) => $e,
            Connection::Tls($c) => $e,
        }
    };
}

impl Channel for Connection {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        both!(self, c => c.write_all(data))
    }
    fn flush(&mut self) -> Result<()> {
        both!(self, c => c.flush())
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        both!(self, c => c.read_exact(buf))
    }
    fn traffic(&self) -> Traffic {
        both!(self, c => c.traffic())
    }
    fn close_write(&mut self) -> Result<()> {
        both!(self, c => c.close_write())
    }
    fn expect_eof(&mut self) -> Result<()> {
        both!(self, c => c.expect_eof())
    }
}
