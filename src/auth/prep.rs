//! Authenticated bits, their openings, and the preprocessing that turns them into authenticated
//! shares of `lambda_a AND lambda_b` for every AND gate (steps P1 to P6 of `docs/MALICIOUS.md`).
//!
//! An authenticated share [`Auth`] of a bit `v = v_G ^ v_E` holds, at each party, its own share
//! bit, the MAC of that bit under the peer's global key (`M = K_peer ^ bit*Delta_peer`) and its own
//! key for the peer's share bit. Every value below is linear in such shares, so XOR of shares and
//! multiplication by a public bit need no interaction.
//!
//! - Random shares come from correlated OT in both directions (each party is the COT sender under
//!   its own Delta for the other's bits), each extension KOS-checked ([`crate::ot`]).
//! - Openings send the share bits and one BLAKE3 digest of their MACs; the receiver recomputes the
//!   MACs from its keys (Wang, Ranellucci, Katz, CCS 2017, eprint 2017/030, section 3).
//! - Leaky AND triples follow the half-gates based leaky AND of Katz, Ranellucci, Rosulek, Wang
//!   (CRYPTO 2018, eprint 2018/578, section 5), checked with a committed equality test.
//! - Bucketing combines `B` leaky triples per AND gate under a permutation drawn by a coin toss
//!   after the triples are fixed (WRK17 section 5); a Beaver step moves the combined triple onto
//!   the gate's own wire masks.
//!
//! One file of about 900 lines, tests included: the preprocessing steps P1 to P6 build on each
//! other's buffers (`Bufs`, `Scratch`) and are read in the order of `docs/MALICIOUS.md`; splitting
//! them would scatter one protocol across files.

#![forbid(unsafe_code)]

use super::{Cheat, Ctx};
use crate::aes::{Aes, Tweaks};
use crate::block::{Block, Delta, wipe_vec};
use crate::error::{Error, Result};
use crate::net::{Channel, pack_bits, recv_blocks, send_blocks, unpack_bits};
use crate::session::Party;

/// Statistical security parameter: a cheating peer passes the triple checks unnoticed with
/// probability at most `2^-RHO` per session.
pub const RHO: u32 = 40;
/// AND gates whose triples are made together (bounds the memory of the triple buffer).
pub const TRIPLE_CHUNK: usize = 1 << 16;
/// Nonce tweak of the leaky-AND hashes ("LeakyAND"), so they never share a tweak with the
/// garbled circuit's hashes.
const LEAKY_NONCE: u64 = 0x4c65_616b_7941_4e44;

/// One authenticated share: our bit, its MAC under the peer's Delta, our key for the peer's bit.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, packed)]
pub struct Auth {
    /// MAC of `bit` under the peer's Delta.
    pub mac: Block,
    /// Our key for the peer's share bit (its MAC is `key ^ peer_bit * our Delta`).
    pub key: Block,
    /// Our share bit.
    pub bit: bool,
}

impl zeroize::DefaultIsZeroes for Auth {}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth(<secret>)")
    }
}

impl std::ops::BitXor for Auth {
    type Output = Auth;
    #[inline(always)]
    fn bitxor(self, o: Auth) -> Auth {
        Auth {
            mac: self.mac ^ o.mac,
            key: self.key ^ o.key,
            bit: self.bit ^ o.bit,
        }
    }
}

impl Auth {
    /// The share times a public bit (no branch on `c`).
    #[inline(always)]
    pub fn times(self, c: bool) -> Auth {
        Auth {
            mac: self.mac.select(c),
            key: self.key.select(c),
            bit: self.bit & c,
        }
    }

    /// The share of `v ^ c` for a public bit `c`: the garbler flips its bit, the evaluator moves
    /// its key for the garbler's bit by `c * Delta_E` so the garbler's MAC stays valid.
    #[inline(always)]
    pub fn plus(self, c: bool, me: Party, delta: &Delta) -> Auth {
        match me {
            Party::Garbler => Auth {
                bit: self.bit ^ c,
                ..self
            },
            Party::Evaluator => Auth {
                key: self.key ^ delta.block().select(c),
                ..self
            },
        }
    }
}

/// Buffers reused from one chunk to the next: allocating tens of megabytes afresh for every
/// chunk cost a page fault per page (a third of the preprocessing time in a profile). Wiped when
/// the session ends.
#[derive(Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    bits: Vec<bool>,
    keys: Vec<Block>,
    macs: Vec<Block>,
    u: Vec<Block>,
    /// A chunk's random shares (masks and triples).
    pub shares: Vec<Auth>,
    bufs: Bufs,
}

/// The triple buffers of [`Scratch`], taken out while [`and_shares`] runs.
#[derive(Default)]
struct Bufs {
    c: Vec<Auth>,
    opens: Vec<Auth>,
    xs: Vec<Auth>,
    hashes: Vec<Block>,
    evals: Vec<Block>,
    s: Vec<Block>,
    cs: Vec<Block>,
}

impl Bufs {
    /// Wipes every buffer (contents and spare capacity), keeping the allocations.
    fn wipe(&mut self) {
        wipe_vec(&mut self.c);
        wipe_vec(&mut self.opens);
        wipe_vec(&mut self.xs);
        wipe_vec(&mut self.hashes);
        wipe_vec(&mut self.evals);
        wipe_vec(&mut self.s);
        wipe_vec(&mut self.cs);
    }
}

impl Drop for Bufs {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Wiped buffers of finished sessions, kept for the next session of this process: at most
/// [`POOL_SESSIONS`] of them (one per party when both run here), each at most [`POOL_BYTES`].
/// A fresh buffer costs a page fault per 4 KiB page on first touch, about 12 ms of a one-AES
/// malicious session on this VM (measured by making glibc keep freed memory), which repeated
/// sessions in one process (the bench, library users) then skip.
static POOL: std::sync::Mutex<Vec<Scratch>> = std::sync::Mutex::new(Vec::new());
const POOL_SESSIONS: usize = 2;
const POOL_BYTES: usize = 64 << 20;

impl Scratch {
    /// Buffers for a new session: a wiped set from an earlier session of this process if the
    /// pool has one, else empty ones.
    pub fn take() -> Scratch {
        POOL.lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default()
    }

    /// Bytes of capacity held.
    fn capacity_bytes(&self) -> usize {
        fn size<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        let b = &self.bufs;
        size(&self.bytes)
            + size(&self.bits)
            + size(&self.keys)
            + size(&self.macs)
            + size(&self.u)
            + size(&self.shares)
            + size(&b.c)
            + size(&b.opens)
            + size(&b.xs)
            + size(&b.hashes)
            + size(&b.evals)
            + size(&b.s)
            + size(&b.cs)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        wipe_vec(&mut self.bytes);
        wipe_vec(&mut self.bits);
        wipe_vec(&mut self.keys);
        wipe_vec(&mut self.macs);
        wipe_vec(&mut self.u);
        wipe_vec(&mut self.shares);
        let bytes = self.capacity_bytes();
        if bytes == 0 || bytes > POOL_BYTES {
            // `bufs` wipes itself when dropped.
            return;
        }
        // Only when the pool has room is a new value built (and not dropped), so this never
        // recurses; a set that is not kept wipes its `bufs` once, in their own drop.
        if let Ok(mut pool) = POOL.lock()
            && pool.len() < POOL_SESSIONS
        {
            self.bufs.wipe();
            pool.push(Scratch {
                bytes: std::mem::take(&mut self.bytes),
                bits: std::mem::take(&mut self.bits),
                keys: std::mem::take(&mut self.keys),
                macs: std::mem::take(&mut self.macs),
                u: std::mem::take(&mut self.u),
                shares: std::mem::take(&mut self.shares),
                bufs: std::mem::take(&mut self.bufs),
            });
        }
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch(<secret>)")
    }
}

/// `n` random authenticated shares: one correlated-OT extension in each direction (the garbler's
/// Delta keys the evaluator's bits, the evaluator's Delta the garbler's).
pub fn random_shares<C: Channel>(ch: &mut C, ctx: &mut Ctx<'_>, n: usize) -> Result<Vec<Auth>> {
    let mut out = Vec::new();
    random_shares_into(ch, ctx, n, &mut out)?;
    Ok(out)
}

/// [`random_shares`] into `out` (cleared first), with the OT buffers of `ctx.scratch`.
pub fn random_shares_into<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    n: usize,
    out: &mut Vec<Auth>,
) -> Result<()> {
    let tamper = ctx.cheat_once(Cheat::CotColumn);
    let scratch = &mut *ctx.scratch;
    scratch.bytes.clear();
    scratch.bytes.resize(n, 0);
    ctx.prg.fill_bytes(&mut scratch.bytes);
    scratch.bits.clear();
    scratch
        .bits
        .extend(scratch.bytes.iter().map(|b| b & 1 == 1));
    cot_both(ch, ctx.me, ctx.send, ctx.recv, scratch, n, tamper)?;
    out.clear();
    out.extend(
        scratch
            .bits
            .iter()
            .zip(scratch.keys.iter().zip(&scratch.macs))
            .map(|(&bit, (&key, &mac))| Auth { mac, key, bit }),
    );
    Ok(())
}

/// Tiles of the OT message per piece of the interleaved exchange (32 768 OTs, 128 KiB at width
/// 4): each party extends the peer's piece while the peer extends ours. Every piece costs a
/// round trip in lock step, so pieces are large: with 16 tiles a one-AES session's 100 000 OTs
/// took 50 round trips, and its OT step 10-13 ms instead of 6-7.
const PIECE_TILES: usize = 256;

/// Correlated OTs in both directions at once, `n` each: our MACs for `scratch.bits` (we choose,
/// the peer's Delta) and our keys for the peer's bits (our Delta), each extension KOS-checked
/// exactly as [`crate::ot::send`] and [`crate::ot::receive`] do. Both parties compute their
/// receiver message first, at the same time, then trade it piece by piece (the evaluator's piece
/// first), each extending the peer's piece while the peer extends ours; then both challenges and
/// both answers cross. Done one direction after the other, one party idled during each half.
fn cot_both<C: Channel>(
    ch: &mut C,
    me: Party,
    sender: &mut crate::ot::CotSender,
    receiver: &mut crate::ot::CotReceiver,
    scratch: &mut Scratch,
    n: usize,
    tamper: bool,
) -> Result<()> {
    use crate::ot::{checked_rows, columns};
    let rows = checked_rows(n);
    // Message blocks per tile, ours and the peer's (both directions run at the same width).
    let (ours_cols, theirs_cols) = (columns(receiver.width()), columns(sender.width()));
    let extension = receiver.extend_checked_reusing(
        &scratch.bits,
        &mut scratch.u,
        std::mem::take(&mut scratch.macs),
    );
    if tamper && let Some(first) = scratch.u.first_mut() {
        *first ^= Block::new(1);
    }
    let keys = &mut scratch.keys;
    keys.clear();
    let mut pending = sender.begin_check();
    let mut piece = vec![Block::ZERO; theirs_cols * PIECE_TILES];
    let mut done = 0;
    while done < rows {
        let len = (rows - done).min(128 * PIECE_TILES);
        let ours = &scratch.u[ours_cols * done / 128..ours_cols * (done + len) / 128];
        let theirs = &mut piece[..theirs_cols * len / 128];
        match me {
            Party::Evaluator => {
                send_blocks(ch, ours)?;
                ch.flush()?;
                recv_blocks(ch, theirs)?;
            }
            Party::Garbler => {
                recv_blocks(ch, theirs)?;
                send_blocks(ch, ours)?;
                ch.flush()?;
            }
        }
        sender.extend_checked_chunk(len, theirs, keys, &mut pending)?;
        done += len;
    }
    // Both challenges, then both answers (16 bytes, then 32 or 2064: both may write first).
    send_blocks(ch, &[pending.seed()])?;
    ch.flush()?;
    let mut seed = [Block::ZERO];
    recv_blocks(ch, &mut seed)?;
    let (answer, macs) = extension.respond(seed[0]);
    scratch.macs = macs;
    send_blocks(ch, &answer)?;
    ch.flush()?;
    let mut check = vec![Block::ZERO; crate::ot::answer_blocks(sender.width())];
    recv_blocks(ch, &mut check)?;
    sender.finish_check(pending, n, keys, &check)
}

/// The digest of a sequence of MACs, hashed 256 at a time from a buffer on the stack (wiped).
fn mac_digest(macs: impl Iterator<Item = Block>) -> [u8; 32] {
    const RUN: usize = 256;
    let mut buf = [Block::ZERO; RUN];
    let mut h = blake3::Hasher::new();
    h.update(b"garbled auth open v1");
    let mut filled = 0;
    for mac in macs {
        buf[filled] = mac;
        filled += 1;
        if filled == RUN {
            h.update(crate::aes::blocks_as_bytes(&buf));
            filled = 0;
        }
    }
    h.update(crate::aes::blocks_as_bytes(&buf[..filled]));
    zeroize::Zeroize::zeroize(&mut buf);
    *h.finalize().as_bytes()
}

/// Our half of an opening: the packed share bits and the digest of their MACs.
struct Opening {
    packed: Vec<u8>,
    digest: [u8; 32],
}

impl Opening {
    /// Our share bits of `shares` with one digest of their MACs. `flip` names the cheat that
    /// flips a bit here (for the hostile-peer tests).
    fn new(ctx: &mut Ctx<'_>, shares: &[Auth], flip: Cheat) -> Opening {
        let mut bits: Vec<bool> = shares.iter().map(|s| s.bit).collect();
        let mut digest = mac_digest(shares.iter().map(|s| s.mac));
        if !bits.is_empty() && ctx.cheat_once(flip) {
            bits[0] = !bits[0];
        }
        if ctx.cheat_once(Cheat::WrongMac) {
            digest[0] ^= 1;
        }
        Opening {
            packed: pack_bits(&bits),
            digest,
        }
    }

    fn send<C: Channel>(&self, ch: &mut C) -> Result<()> {
        ch.write_all(&self.packed)?;
        ch.write_all(&self.digest)
    }
}

/// Sends our share bits of `shares` with one digest of their MACs.
/// `flip` names the cheat that flips a bit here (for the hostile-peer tests).
pub fn send_open<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    shares: &[Auth],
    flip: Cheat,
) -> Result<()> {
    Opening::new(ctx, shares, flip).send(ch)
}

/// Receives the peer's share bits of `shares` and checks them against our keys; returns the
/// peer's bits. `what` names the values in the error.
pub fn recv_open<C: Channel>(
    ch: &mut C,
    ctx: &Ctx<'_>,
    shares: &[Auth],
    what: &str,
) -> Result<Vec<bool>> {
    let mut packed = vec![0u8; shares.len().div_ceil(8)];
    ch.read_exact(&mut packed)?;
    let mut digest = [0u8; 32];
    ch.read_exact(&mut digest)?;
    let bits = unpack_bits(&packed, shares.len());
    let delta = ctx.delta.block();
    let expected = mac_digest(
        shares
            .iter()
            .zip(&bits)
            .map(|(s, &b)| s.key ^ delta.select(b)),
    );
    let equal: bool = subtle::ConstantTimeEq::ct_eq(&expected[..], &digest[..]).into();
    if !equal && !ctx.cheated {
        return Err(Error::Cheating(format!(
            "the peer's {what} do not carry valid MACs"
        )));
    }
    Ok(bits)
}

/// Opens `shares` to both parties (garbler first): the values `v = v_G ^ v_E`.
pub fn open_both<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    shares: &[Auth],
    what: &str,
) -> Result<Vec<bool>> {
    let peer = match ctx.me {
        Party::Garbler => {
            send_open(ch, ctx, shares, Cheat::OpenedShare)?;
            ch.flush()?;
            recv_open(ch, ctx, shares, what)?
        }
        Party::Evaluator => {
            // Ours is ready before the garbler's arrives; it goes out once that one checks.
            let ours = Opening::new(ctx, shares, Cheat::OpenedShare);
            let peer = recv_open(ch, ctx, shares, what)?;
            ours.send(ch)?;
            ch.flush()?;
            peer
        }
    };
    Ok(shares.iter().zip(peer).map(|(s, p)| s.bit ^ p).collect())
}

/// Exchanges blocks: the garbler sends first.
fn exchange_blocks<C: Channel>(ch: &mut C, me: Party, ours: &[Block]) -> Result<Vec<Block>> {
    let mut theirs = vec![Block::ZERO; ours.len()];
    match me {
        Party::Garbler => {
            send_blocks(ch, ours)?;
            ch.flush()?;
            recv_blocks(ch, &mut theirs)?;
        }
        Party::Evaluator => {
            recv_blocks(ch, &mut theirs)?;
            send_blocks(ch, ours)?;
            ch.flush()?;
        }
    }
    Ok(theirs)
}

/// Exchanges bit vectors of equal length: the garbler sends first.
fn exchange_bits<C: Channel>(ch: &mut C, me: Party, ours: &[bool]) -> Result<Vec<bool>> {
    let mut packed = vec![0u8; ours.len().div_ceil(8)];
    match me {
        Party::Garbler => {
            ch.write_all(&pack_bits(ours))?;
            ch.flush()?;
            ch.read_exact(&mut packed)?;
        }
        Party::Evaluator => {
            ch.read_exact(&mut packed)?;
            ch.write_all(&pack_bits(ours))?;
            ch.flush()?;
        }
    }
    Ok(unpack_bits(&packed, ours.len()))
}

fn tagged(tag: &[u8], data: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(tag);
    h.update(data);
    *h.finalize().as_bytes()
}

/// A commitment to `value` under a fresh 256-bit salt: `BLAKE3(tag || salt || value)`. Without
/// the salt a peer that knows the committed value is one of a few candidates could hash each and
/// read it off the commitment (the leaky-AND check would then never catch a flipped half gate).
fn salted(tag: &[u8], salt: &[u8; 32], value: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(tag);
    h.update(salt);
    h.update(value);
    *h.finalize().as_bytes()
}

/// Committed equality test of two digests (the garbler commits to its digest under a fresh salt,
/// the evaluator answers in the clear, the garbler opens digest and salt): neither side can echo
/// the other's value, and the commitment hides which of several candidates the garbler holds.
/// `guess` is a cheating evaluator's second candidate for the garbler's digest (tests only).
pub fn equal_digests<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    ours: [u8; 32],
    guess: Option<[u8; 32]>,
    what: &str,
) -> Result<()> {
    const TAG: &[u8] = b"garbled commit v2";
    let failed = || Error::Cheating(format!("the {what} check failed"));
    let strict = !ctx.cheated;
    match ctx.me {
        Party::Garbler => {
            let mut salt = [0u8; 32];
            ctx.prg.fill_bytes(&mut salt);
            ch.write_all(&salted(TAG, &salt, &ours))?;
            ch.flush()?;
            let mut theirs = [0u8; 32];
            ch.read_exact(&mut theirs)?;
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&ours[..], &theirs[..])) && strict {
                return Err(failed());
            }
            ch.write_all(&ours)?;
            ch.write_all(&salt)?;
            ch.flush()?;
        }
        Party::Evaluator => {
            let mut commitment = [0u8; 32];
            ch.read_exact(&mut commitment)?;
            // A cheater that flipped a half gate holds two candidates for the garbler's digest
            // and answers with whichever it can match to the commitment. With no salt known
            // before the opening it can only try the commitment without one, which never
            // matches: it is left to guess, and is caught half of the time.
            let answer = match guess {
                Some(alt) if salted(TAG, &[0; 32], &alt) == commitment => alt,
                Some(alt) if tagged(b"garbled commit v1", &alt) == commitment => alt,
                _ => ours,
            };
            ch.write_all(&answer)?;
            ch.flush()?;
            let mut theirs = [0u8; 32];
            let mut salt = [0u8; 32];
            ch.read_exact(&mut theirs)?;
            ch.read_exact(&mut salt)?;
            let opened = salted(TAG, &salt, &theirs) == commitment;
            if (!opened || !bool::from(subtle::ConstantTimeEq::ct_eq(&ours[..], &theirs[..])))
                && strict
            {
                return Err(failed());
            }
        }
    }
    Ok(())
}

/// A coin toss: the garbler commits to its seed, the evaluator sends its own, the garbler opens.
pub fn coin_toss<C: Channel>(ch: &mut C, ctx: &mut Ctx<'_>) -> Result<[u8; 32]> {
    let mut mine = [0u8; 32];
    ctx.prg.fill_bytes(&mut mine);
    let (g, e) = match ctx.me {
        Party::Garbler => {
            ch.write_all(&tagged(b"garbled coin v1", &mine))?;
            ch.flush()?;
            let mut theirs = [0u8; 32];
            ch.read_exact(&mut theirs)?;
            ch.write_all(&mine)?;
            ch.flush()?;
            (mine, theirs)
        }
        Party::Evaluator => {
            let mut commitment = [0u8; 32];
            ch.read_exact(&mut commitment)?;
            ch.write_all(&mine)?;
            ch.flush()?;
            let mut theirs = [0u8; 32];
            ch.read_exact(&mut theirs)?;
            if tagged(b"garbled coin v1", &theirs) != commitment {
                return Err(Error::Cheating(
                    "the peer opened its coin to a value it had not committed to".into(),
                ));
            }
            (theirs, mine)
        }
    };
    let mut h = blake3::Hasher::new();
    h.update(b"garbled coin toss v1");
    h.update(&g);
    h.update(&e);
    Ok(*h.finalize().as_bytes())
}

/// Triples per bucket for `n` AND gates in a chunk when `chunks` chunks share the session's
/// failure budget: the smallest `B >= 2` with `(B - 1) * log2(n) > RHO + log2(chunks)`. A bucket
/// is bad only if every one of its `B` leaky triples leaked, and each leak survives the
/// equality check with probability 1/2; the bound `2^-((B-1) log2 n)` on the adversary's
/// success is the bucketing analysis of WRK17 section 5.
pub fn bucket_size(n: usize, chunks: usize) -> usize {
    let log_n = (n.max(2) as f64).log2();
    let rho = f64::from(RHO) + (chunks.max(1) as f64).log2().ceil();
    let mut b = 2;
    while (b as f64 - 1.0) * log_n <= rho {
        b += 1;
    }
    b
}

/// `n` leaky AND triples `(a, b, c = a AND b)` from random shares (KRRW18 section 5, leaky AND
/// from half-gates; the peer may learn our share of some `a` at the price of failing the
/// equality check with probability 1/2 each). `abr` holds the `(a, b, r)` shares, `3n` of them;
/// the `c` shares go to `bufs.c`. Returns the digest of our `L` values for the equality check,
/// and, for a cheating evaluator playing [`Cheat::LeakyAndSearch`], the garbler's other possible
/// digest.
fn leaky_ands<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    abr: &[Auth],
    bufs: &mut Bufs,
) -> Result<([u8; 32], Option<[u8; 32]>)> {
    let n = abr.len() / 3;
    let (a, rest) = abr.split_at(n);
    let (b, r) = rest.split_at(n);
    let delta = ctx.delta.block();
    let aes = Aes::fixed();
    // Tweaks: the garbler's hashes use counters [first, first + n), the evaluator's the next n.
    let first = *ctx.leaky_counter;
    *ctx.leaky_counter += 2 * n as u64;
    let (ours, theirs) = match ctx.me {
        Party::Garbler => (first, first + n as u64),
        Party::Evaluator => (first + n as u64, first),
    };
    let nonce = ctx.nonce ^ LEAKY_NONCE;
    // C = b*Delta ^ K[b_peer] ^ M[b]: the two parties' C sum to b*(Delta_G ^ Delta_E).
    let c = &mut bufs.cs;
    c.clear();
    c.extend(b.iter().map(|s| delta.select(s.bit) ^ s.key ^ s.mac));
    // Our half gate on the peer's a-share: G = H(K) ^ H(K ^ Delta) ^ C.
    let pairs = &mut bufs.hashes;
    pairs.clear();
    for s in a {
        pairs.push(s.key);
        pairs.push(s.key ^ delta);
    }
    aes.tccr(
        pairs,
        Tweaks {
            nonce,
            first: ours,
            shift: 1,
        },
    );
    let mut g: Vec<Block> = (0..n)
        .map(|k| pairs[2 * k] ^ pairs[2 * k + 1] ^ c[k])
        .collect();
    const FLIP: u128 = 1 << 7;
    if !g.is_empty() && ctx.cheat_once(Cheat::LeakyAndMessage) {
        g[0] ^= Block::new(FLIP);
    }
    let search = !g.is_empty() && ctx.cheat_once(Cheat::LeakyAndSearch);
    if search {
        g[0] ^= Block::new(FLIP);
    }
    let g_peer = exchange_blocks(ch, ctx.me, &g)?;
    // The peer's half gate on our a-share: E = H(M) ^ a*G_peer.
    let e = &mut bufs.evals;
    e.clear();
    e.extend(a.iter().map(|s| s.mac));
    aes.tccr(
        e,
        Tweaks {
            nonce,
            first: theirs,
            shift: 0,
        },
    );
    // S = H(K) ^ E ^ K[r_peer] ^ M[r] ^ a*C ^ r*Delta; the two S sum to (ab ^ r)*(Delta_G^Delta_E).
    let s = &mut bufs.s;
    s.clear();
    s.extend((0..n).map(|k| {
        pairs[2 * k]
            ^ e[k]
            ^ g_peer[k].select(a[k].bit)
            ^ r[k].key
            ^ r[k].mac
            ^ c[k].select(a[k].bit)
            ^ delta.select(r[k].bit)
    }));
    // Bit 1 of Delta_G ^ Delta_E is 1, so bit 1 of the S's opens d = ab ^ r.
    let d_ours: Vec<bool> = s.iter().map(|x| (x.value() >> 1) & 1 == 1).collect();
    let d_peer = exchange_bits(ch, ctx.me, &d_ours)?;
    let out = &mut bufs.c;
    out.clear();
    for k in 0..n {
        let d = d_ours[k] ^ d_peer[k];
        out.push(r[k].plus(d, ctx.me, ctx.delta));
        // L = S ^ d*Delta is the same on both sides when everyone followed the protocol.
        s[k] ^= delta.select(d);
    }
    let digest = |s: &[Block]| {
        let mut h = blake3::Hasher::new();
        h.update(b"garbled leaky and v1");
        h.update(crate::aes::blocks_as_bytes(s));
        *h.finalize().as_bytes()
    };
    let ours = digest(s);
    // The flipped half gate reached the garbler's L[0] only if its share of a[0] is 1: its
    // digest is ours, or ours with L[0] flipped.
    let guess = search.then(|| {
        s[0] ^= Block::new(FLIP);
        let alt = digest(s);
        s[0] ^= Block::new(FLIP);
        alt
    });
    Ok((ours, guess))
}

/// Authenticated shares of `x AND y` for each pair of shares in `pairs` (one AND gate each):
/// leaky triples from `shares` (`3 * bucket * pairs.len()` random shares), the equality check, a
/// coin-tossed bucketing into buckets of `bucket`, then a Beaver step onto `x, y`.
pub fn and_shares<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    pairs: &[(Auth, Auth)],
    bucket: usize,
    shares: &[Auth],
) -> Result<Vec<Auth>> {
    let n = pairs.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let bsize = bucket;
    let total = n * bsize;
    if shares.len() != 3 * total || bsize < 2 {
        return Err(Error::SelfCheck("wrong number of triple shares".into()));
    }
    let mut bufs = std::mem::take(&mut ctx.scratch.bufs);
    let result = bucket_and_combine(ch, ctx, pairs, bsize, shares, &mut bufs);
    ctx.scratch.bufs = bufs;
    result
}

fn bucket_and_combine<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    pairs: &[(Auth, Auth)],
    bsize: usize,
    shares: &[Auth],
    bufs: &mut Bufs,
) -> Result<Vec<Auth>> {
    let n = pairs.len();
    let total = n * bsize;
    let (digest, guess) = leaky_ands(ch, ctx, shares, bufs)?;
    equal_digests(ch, ctx, digest, guess, "leaky AND equality")?;
    let (a, rest) = shares.split_at(total);
    let b = &rest[..total];
    let c = &bufs.c[..];
    // The permutation is drawn only now, after every triple is fixed. Bucket k holds the
    // triples perm[kB .. kB + B]: the first keeps its b, the others fold in their a.
    let seed = coin_toss(ch, ctx)?;
    let perm = permutation(total, seed);
    let (opens, xs) = (&mut bufs.opens, &mut bufs.xs);
    opens.clear();
    xs.clear();
    for bucket in perm.chunks(bsize) {
        let (b0, mut x) = (b[bucket[0]], a[bucket[0]]);
        for &t in &bucket[1..] {
            opens.push(b0 ^ b[t]);
            x = x ^ a[t];
        }
        xs.push(x);
    }
    // Beaver: open e1 = lambda_a ^ x, e2 = lambda_b ^ y in the same message.
    for ((pair, x), bucket) in pairs.iter().zip(xs.iter()).zip(perm.chunks(bsize)) {
        opens.push(pair.0 ^ *x);
        opens.push(pair.1 ^ b[bucket[0]]);
    }
    let values = open_both(ch, ctx, opens, "bucketing and Beaver openings")?;
    let (ds, es) = values.split_at(n * (bsize - 1));
    let mut out = Vec::with_capacity(n);
    for (((bucket, ds), es), x) in perm
        .chunks(bsize)
        .zip(ds.chunks(bsize - 1))
        .zip(es.chunks(2))
        .zip(xs.iter())
    {
        // z = (a_0 ^ ... ^ a_{B-1}) * b_0 = c_0 ^ sum_j (c_j ^ d_j a_j), d_j = b_0 ^ b_j.
        let mut z = c[bucket[0]];
        for (&t, &d) in bucket[1..].iter().zip(ds) {
            z = z ^ c[t] ^ a[t].times(d);
        }
        let (e1, e2) = (es[0], es[1]);
        let y = b[bucket[0]];
        // sigma = z ^ e1*y ^ e2*x ^ e1*e2.
        let sigma = (z ^ y.times(e1) ^ x.times(e2)).plus(e1 & e2, ctx.me, ctx.delta);
        out.push(sigma);
    }
    Ok(out)
}

/// A uniformly random permutation of `0..n` from a seed both parties hold (Fisher-Yates with
/// rejection sampling, so no index is favoured).
fn permutation(n: usize, seed: [u8; 32]) -> Vec<usize> {
    let mut key = [0u8; 16];
    key.copy_from_slice(&seed[..16]);
    let mut prg = crate::aes::Prg::from_seed(key);
    let mut p: Vec<usize> = (0..n).collect();
    let mut pool = vec![Block::ZERO; 1024];
    let mut used = pool.len();
    let mut next = move || {
        if used == pool.len() {
            prg.fill(&mut pool);
            used = 0;
        }
        used += 1;
        pool[used - 1].value() as u64
    };
    for i in (1..n).rev() {
        let bound = (i + 1) as u64;
        let zone = u64::MAX - (u64::MAX % bound);
        let j = loop {
            let v = next();
            if v < zone {
                break (v % bound) as usize;
            }
        };
        p.swap(i, j);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session's buffers go back to the pool wiped and empty, and the next session gets them
    /// with their capacity (other tests running sessions share the pool, so whichever set comes
    /// back must be empty).
    #[test]
    fn pooled_buffers_come_back_empty() {
        let mut scratch = Scratch::take();
        scratch.keys = vec![Block::new(7); 1000];
        scratch.shares.resize(10, Auth::default());
        scratch.bufs.hashes = vec![Block::new(9); 100];
        drop(scratch);
        for _ in 0..POOL_SESSIONS {
            let s = Scratch::take();
            assert!(s.keys.is_empty() && s.shares.is_empty() && s.bufs.hashes.is_empty());
            assert!(s.capacity_bytes() <= POOL_BYTES);
        }
    }

    #[test]
    fn bucket_sizes_follow_the_bound() {
        // One chunk of an AES-128 (6800 ANDs): 12.7 bits, so B - 1 > 40 / 12.7.
        assert_eq!(bucket_size(6800, 1), 5);
        assert_eq!(bucket_size(1 << 16, 1), 4);
        assert_eq!(bucket_size(1 << 21, 1), 3);
        // More chunks tighten each one's budget.
        assert_eq!(bucket_size(1 << 21, 1 << 10), 4);
        assert!(bucket_size(1, 1) > 40);
    }

    #[test]
    fn permutations_are_permutations_and_depend_on_the_seed() {
        let p = permutation(1000, [7; 32]);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(p, permutation(1000, [8; 32]));
        assert_eq!(p, permutation(1000, [7; 32]));
    }

    #[test]
    fn share_algebra() {
        // Build a consistent pair of shares by hand and check plus/times keep the MACs valid.
        let dg = Delta::new(Block::new(0x1234_5678_9abc_def3));
        let de = Delta::new(Block::new(0x0fed_cba9_8765_4321));
        // v_G = 1, v_E = 0; K_E[v_G] = 5, K_G[v_E] = 9.
        let g = Auth {
            bit: true,
            mac: Block::new(5) ^ de.block(),
            key: Block::new(9),
        };
        let e = Auth {
            bit: false,
            mac: Block::new(9),
            key: Block::new(5),
        };
        // Fields are copied out first: `Auth` is packed, so no reference to one may be taken.
        let valid = |g: Auth, e: Auth| {
            let (gm, gk, em, ek) = (g.mac, g.key, e.mac, e.key);
            gm == ek ^ de.block().select(g.bit) && em == gk ^ dg.block().select(e.bit)
        };
        assert!(valid(g, e));
        for c in [false, true] {
            let (g2, e2) = (
                g.plus(c, Party::Garbler, &dg),
                e.plus(c, Party::Evaluator, &de),
            );
            assert!(valid(g2, e2));
            assert_eq!(g2.bit ^ e2.bit, g.bit ^ e.bit ^ c);
            let (g3, e3) = (g.times(c), e.times(c));
            assert!(valid(g3, e3));
            assert_eq!(g3.bit ^ e3.bit, (g.bit ^ e.bit) & c);
        }
    }
}
