//! Oblivious transfer: how the evaluator gets the labels of its own input bits without the
//! garbler learning the bits, and how a malicious session gets its authenticated bits.
//!
//! [`base`] runs 128 verified simplest OTs (DKLs18 Protocol 7) on Ristretto255 once per session;
//! [`iknp`] extends them into any number of correlated OTs whose correlation is the sender's
//! Delta: IKNP (16 bytes per OT) or, in malicious sessions, SoftSpoken OT at width 4 (4 bytes per
//! OT, its seeds grown from the base OTs by the GGM trees of [`ggm`]), each extension checked
//! for consistency (KOS15 for IKNP, SoftSpoken's own check otherwise) before its outputs are
//! used; [`transpose`] is the bit-matrix transposition both need. The cores are sans-IO; the
//! functions here drive them over a [`Channel`]. Each chunk of an extension travels as the
//! receiver's message `u`, then the sender's challenge and the receiver's answer.

pub mod base;
pub mod ggm;
pub mod iknp;
pub mod transpose;

pub use iknp::{
    BASE_OTS, CHECK_OTS, CotReceiver, CotSender, answer_blocks, checked_rows, columns, tiles,
    tree_blocks,
};

use zeroize::{Zeroize, Zeroizing};

use crate::aes::Prg;
use crate::block::{Block, Delta};
use crate::error::Result;
use crate::net::{Channel, recv_blocks, send_blocks};

/// OTs per extension message: bounds memory for millions of OTs (2 MiB per message).
pub const CHUNK_OTS: usize = 1 << 16;

/// The garbler's setup: base-OT receiver with choice bits = Delta. `session` binds the keys to
/// this session; `width` is the extension's bits of Delta per VOLE block (1: IKNP; more:
/// SoftSpoken, see [`iknp`]). Messages: the evaluator's `A` and proof, our `B_i`, its challenge,
/// our answer, its openings (see [`base`]) and, for a width above 1, its tree corrections.
pub fn setup_sender<C: Channel + ?Sized>(
    channel: &mut C,
    delta: Delta,
    session: [u8; 32],
    prg: &mut Prg,
    width: usize,
) -> Result<CotSender> {
    let mut first = [0u8; base::FIRST_BYTES];
    channel.read_exact(&mut first)?;
    let choices: Zeroizing<Vec<bool>> =
        Zeroizing::new((0..BASE_OTS).map(|j| delta.bit(j)).collect());
    let (reply, receiver) = base::receive_reply(prg, session, &first, &choices)?;
    channel.write_all(&reply)?;
    channel.flush()?;
    // The keys are computed while the evaluator works on the reply.
    let mut pending = receiver.finish();
    let mut challenge = vec![0u8; BASE_OTS * base::DIGEST_BYTES];
    channel.read_exact(&mut challenge)?;
    channel.write_all(&pending.answer(&challenge)?)?;
    channel.flush()?;
    let mut openings = vec![0u8; 2 * BASE_OTS * base::DIGEST_BYTES];
    channel.read_exact(&mut openings)?;
    let keys = pending.check(&openings)?;
    sender_from_keys(channel, delta, keys, session, width)
}

/// The extension sender from its base-OT keys (wiped afterwards) and the receiver's tree
/// corrections, read from `channel` (none at width 1).
fn sender_from_keys<C: Channel + ?Sized>(
    channel: &mut C,
    delta: Delta,
    mut keys: Vec<Block>,
    session: [u8; 32],
    width: usize,
) -> Result<CotSender> {
    let mut trees = vec![Block::ZERO; tree_blocks(width)];
    let sender = recv_blocks(channel, &mut trees)
        .and_then(|()| CotSender::with_width(delta, &keys, session, width, &trees));
    keys.zeroize();
    sender
}

/// The extension receiver from its base-OT key pairs (wiped afterwards); its tree corrections
/// (none at width 1, roots drawn from `prg`) are sent on `channel`, which is flushed.
fn receiver_from_pairs<C: Channel + ?Sized>(
    channel: &mut C,
    mut pairs: Vec<(Block, Block)>,
    session: [u8; 32],
    width: usize,
    prg: &mut Prg,
) -> Result<CotReceiver> {
    let receiver = CotReceiver::with_width(&pairs, session, width, prg);
    for (k0, k1) in pairs.iter_mut() {
        k0.zeroize();
        k1.zeroize();
    }
    let (receiver, trees) = receiver?;
    send_blocks(channel, &trees)?;
    channel.flush()?;
    Ok(receiver)
}

/// The evaluator's setup: base-OT sender (and the trees' sender for a width above 1).
pub fn setup_receiver<C: Channel + ?Sized>(
    channel: &mut C,
    session: [u8; 32],
    prg: &mut Prg,
    width: usize,
) -> Result<CotReceiver> {
    let (sender, first) = base::BaseOtSender::new(prg, session);
    channel.write_all(&first)?;
    channel.flush()?;
    let mut reply = vec![0u8; BASE_OTS * base::POINT_BYTES];
    channel.read_exact(&mut reply)?;
    let (pending, challenge) = sender.finish(&reply, BASE_OTS)?;
    channel.write_all(&challenge)?;
    channel.flush()?;
    let mut answer = vec![0u8; BASE_OTS * base::DIGEST_BYTES];
    channel.read_exact(&mut answer)?;
    let (keys, openings) = pending.verify(&answer)?;
    channel.write_all(&openings)?;
    receiver_from_pairs(channel, keys, session, width, prg)
}

/// The random-OT hash of the reverse direction's base OTs: `H(j, x)` with BLAKE3 keyed by the
/// reverse instance's session id, truncated to 128 bits (KOS15's random oracle `H`).
fn reverse_seed(session: &[u8; 32], j: usize, x: Block) -> Block {
    let mut h = blake3::Hasher::new_keyed(session);
    h.update(b"garbled reverse base OT v1");
    h.update(&(j as u64).to_le_bytes());
    h.update(&x.to_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    Block::from_bytes(out)
}

/// The second OT direction of a malicious session, where the evaluator is the COT sender under
/// its own Delta and the garbler the receiver, bootstrapped from the first instead of a second
/// base OT: Keller, Orsini and Scholl, "Actively Secure OT Extension with Optimal Overhead"
/// (CRYPTO 2015, eprint 2015/546), protocol `Pi_ROT` (Fig. 7): [`BASE_OTS`] checked correlated
/// OTs of the first direction, with the evaluator choosing the bits of its Delta, hashed with a
/// random oracle into random OTs (sender `H(j, q_j)`, `H(j, q_j ^ Delta_G)`, receiver
/// `H(j, t_j)`), which are exactly the base OTs the second IKNP instance needs (its sender, the
/// evaluator, as base-OT receiver with choice bits Delta_E). This side is the garbler's: it
/// returns the [`CotReceiver`] of the second direction, keyed by `session`, at `width` (whose
/// trees it grows from roots drawn from `prg` and sends).
pub fn reverse_receiver<C: Channel + ?Sized>(
    channel: &mut C,
    sender: &mut CotSender,
    delta: &Delta,
    session: [u8; 32],
    prg: &mut Prg,
    width: usize,
) -> Result<CotReceiver> {
    let q = Zeroizing::new(send(channel, sender, BASE_OTS)?);
    let d = delta.block();
    let pairs: Vec<(Block, Block)> = q
        .iter()
        .enumerate()
        .map(|(j, &q)| {
            (
                reverse_seed(&session, j, q),
                reverse_seed(&session, j, q ^ d),
            )
        })
        .collect();
    receiver_from_pairs(channel, pairs, session, width, prg)
}

/// The evaluator's side of [`reverse_receiver`]: returns the [`CotSender`] of the second
/// direction under `delta` (the evaluator's own).
pub fn reverse_sender<C: Channel + ?Sized>(
    channel: &mut C,
    receiver: &mut CotReceiver,
    delta: Delta,
    session: [u8; 32],
    width: usize,
) -> Result<CotSender> {
    let choices: Zeroizing<Vec<bool>> =
        Zeroizing::new((0..BASE_OTS).map(|j| delta.bit(j)).collect());
    let t = Zeroizing::new(receive(channel, receiver, &choices)?);
    let keys: Vec<Block> = t
        .iter()
        .enumerate()
        .map(|(j, &t)| reverse_seed(&session, j, t))
        .collect();
    sender_from_keys(channel, delta, keys, session, width)
}

/// The garbler's side of `m` correlated OTs: returns the zero-labels `W0_i`, or
/// `PeerMisbehaved` if the evaluator's message fails the consistency check.
///
/// Messages: the evaluator's `u` (in chunks of [`CHUNK_OTS`] rows), our challenge seed, the
/// evaluator's answer `(x, t)`.
pub fn send<C: Channel + ?Sized>(
    channel: &mut C,
    sender: &mut CotSender,
    m: usize,
) -> Result<Vec<Block>> {
    let rows = checked_rows(m);
    let mut out = Vec::with_capacity(rows);
    let mut u = Vec::new();
    let mut pending = sender.begin_check();
    let mut done = 0;
    while done < rows {
        let len = (rows - done).min(CHUNK_OTS);
        u.clear();
        u.resize(columns(sender.width()) * tiles(len), Block::ZERO);
        let received = recv_blocks(channel, &mut u);
        let extended =
            received.and_then(|()| sender.extend_checked_chunk(len, &u, &mut out, &mut pending));
        if let Err(e) = extended {
            out.zeroize();
            return Err(e);
        }
        done += len;
    }
    let mut check = vec![Block::ZERO; answer_blocks(sender.width())];
    let answered = send_blocks(channel, &[pending.seed()])
        .and_then(|()| channel.flush())
        .and_then(|()| recv_blocks(channel, &mut check));
    if let Err(e) = answered {
        out.zeroize();
        return Err(e);
    }
    sender.finish_check(pending, m, &mut out, &check)?;
    Ok(out)
}

/// The evaluator's side: returns the active labels `W0_i ^ x_i*Delta` for its choice bits.
pub fn receive<C: Channel + ?Sized>(
    channel: &mut C,
    receiver: &mut CotReceiver,
    choices: &[bool],
) -> Result<Vec<Block>> {
    send_prepared(channel, prepare(receiver, choices))
}

/// The evaluator's extension computed ahead of time: the message for the garbler and the rows
/// that answer its challenge.
pub struct Prepared {
    extension: iknp::CheckedReceive,
    message: Vec<Block>,
    width: usize,
}

impl Prepared {
    /// The choice bits it was computed for.
    pub fn choices(&self) -> &[bool] {
        self.extension.choices()
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prepared({} OTs, <secret>)", self.choices().len())
    }
}

/// Computes the evaluator's message of the next extension without sending anything, so that the
/// work can overlap the garbler's (the session does this while the garbler garbles the current
/// run). Send it with [`send_prepared`], before any other extension.
pub fn prepare(receiver: &mut CotReceiver, choices: &[bool]) -> Prepared {
    let mut message = Vec::new();
    let extension = receiver.extend_checked(choices, &mut message);
    Prepared {
        extension,
        message,
        width: receiver.width(),
    }
}

/// Sends a prepared extension, answers the garbler's challenge and returns the labels.
pub fn send_prepared<C: Channel + ?Sized>(
    channel: &mut C,
    prepared: Prepared,
) -> Result<Vec<Block>> {
    for chunk in prepared
        .message
        .chunks(columns(prepared.width) * CHUNK_OTS / 128)
    {
        send_blocks(channel, chunk)?;
    }
    channel.flush()?;
    let mut seed = [Block::ZERO];
    recv_blocks(channel, &mut seed)?;
    let (check, labels) = prepared.extension.respond(seed[0]);
    send_blocks(channel, &check)?;
    channel.flush()?;
    Ok(labels)
}
