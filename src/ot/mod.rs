//! Oblivious transfer: how the evaluator gets the labels of its own input bits without the
//! garbler learning the bits.
//!
//! [`base`] runs 128 Chou-Orlandi OTs on Ristretto255 once per session; [`iknp`] extends them into
//! any number of correlated OTs whose correlation is the garbler's Delta; [`transpose`] is the
//! bit-matrix transposition IKNP needs. The cores are sans-IO; the functions here drive them over
//! a [`Channel`].

pub mod base;
pub mod iknp;
pub mod transpose;

pub use iknp::{BASE_OTS, CotReceiver, CotSender, tiles};

use crate::aes::Prg;
use crate::block::{Block, Delta};
use crate::error::Result;
use crate::net::{Channel, recv_blocks, send_blocks};

/// OTs per extension message: bounds memory for millions of OTs (2 MiB per message).
pub const CHUNK_OTS: usize = 1 << 16;

/// The garbler's setup: base-OT receiver with choice bits = Delta. `session` binds the keys to
/// this session.
pub fn setup_sender<C: Channel + ?Sized>(
    channel: &mut C,
    delta: Delta,
    session: [u8; 32],
    prg: &mut Prg,
) -> Result<CotSender> {
    let mut a = [0u8; base::POINT_BYTES];
    channel.read_exact(&mut a)?;
    let choices: Vec<bool> = (0..BASE_OTS).map(|j| delta.bit(j)).collect();
    let (reply, mut keys) = base::receive(prg, session, &a, &choices)?;
    channel.write_all(&reply)?;
    channel.flush()?;
    let sender = CotSender::new(delta, &keys);
    zeroize::Zeroize::zeroize(&mut keys);
    sender
}

/// The evaluator's setup: base-OT sender.
pub fn setup_receiver<C: Channel + ?Sized>(
    channel: &mut C,
    session: [u8; 32],
    prg: &mut Prg,
) -> Result<CotReceiver> {
    let (sender, a) = base::BaseOtSender::new(prg, session);
    channel.write_all(&a)?;
    channel.flush()?;
    let mut reply = vec![0u8; BASE_OTS * base::POINT_BYTES];
    channel.read_exact(&mut reply)?;
    let mut keys = sender.finish(&reply, BASE_OTS)?;
    let receiver = CotReceiver::new(&keys);
    for (k0, k1) in keys.iter_mut() {
        zeroize::Zeroize::zeroize(k0);
        zeroize::Zeroize::zeroize(k1);
    }
    receiver
}

/// The garbler's side of `m` correlated OTs: returns the zero-labels `W0_i`.
pub fn send<C: Channel + ?Sized>(
    channel: &mut C,
    sender: &mut CotSender,
    m: usize,
) -> Result<Vec<Block>> {
    let mut out = Vec::with_capacity(m);
    let mut u = Vec::new();
    let mut done = 0;
    while done < m {
        let len = (m - done).min(CHUNK_OTS);
        u.clear();
        u.resize(BASE_OTS * tiles(len), Block::ZERO);
        recv_blocks(channel, &mut u)?;
        sender.extend_into(len, &u, &mut out)?;
        done += len;
    }
    Ok(out)
}

/// The evaluator's side: returns the active labels `W0_i ^ x_i*Delta` for its choice bits.
pub fn receive<C: Channel + ?Sized>(
    channel: &mut C,
    receiver: &mut CotReceiver,
    choices: &[bool],
) -> Result<Vec<Block>> {
    let mut out = Vec::with_capacity(choices.len());
    let mut u = Vec::new();
    for chunk in choices.chunks(CHUNK_OTS) {
        receiver.extend_into(chunk, &mut u, &mut out);
        send_blocks(channel, &u)?;
    }
    channel.flush()?;
    Ok(out)
}

/// The evaluator's extension computed ahead of time: the message for the garbler (the same bytes
/// [`receive`] would send, chunk after chunk) and the resulting labels.
pub struct Prepared {
    /// The choice bits it was computed for.
    pub choices: Vec<bool>,
    /// The extension messages, concatenated.
    pub message: Vec<Block>,
    /// The evaluator's labels `W0_i ^ x_i*Delta`.
    pub labels: Vec<Block>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prepared({} OTs, <secret>)", self.choices.len())
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.labels);
    }
}

/// Computes the evaluator's side of the next extension without sending anything, so that the
/// work can overlap the garbler's (the session does this while the garbler garbles the current
/// run). Send it with [`send_prepared`], before any other extension.
pub fn prepare(receiver: &mut CotReceiver, choices: &[bool]) -> Prepared {
    let mut message = Vec::with_capacity(BASE_OTS * tiles(choices.len()) + BASE_OTS);
    let mut labels = Vec::with_capacity(choices.len());
    let mut u = Vec::new();
    for chunk in choices.chunks(CHUNK_OTS) {
        receiver.extend_into(chunk, &mut u, &mut labels);
        message.extend_from_slice(&u);
    }
    Prepared {
        choices: choices.to_vec(),
        message,
        labels,
    }
}

/// Sends a prepared extension and returns its labels.
pub fn send_prepared<C: Channel + ?Sized>(
    channel: &mut C,
    mut prepared: Prepared,
) -> Result<Vec<Block>> {
    send_blocks(channel, &prepared.message)?;
    channel.flush()?;
    Ok(std::mem::take(&mut prepared.labels))
}
