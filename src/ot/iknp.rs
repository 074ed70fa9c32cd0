//! Correlated OT extension with a global offset: IKNP (Ishai, Kilian, Nissim, Petrank, "Extending
//! oblivious transfers efficiently", CRYPTO 2003, §3) with the sender's base-OT choice string
//! equal to the garbler's free-XOR offset Delta, which makes every output pair differ by Delta:
//! the global-offset correlated OT of KOS15 (below), as emp-toolkit runs it.
//!
//! Setup: 128 base OTs in which the *extension sender* (the garbler) is the base-OT receiver with
//! choice bits `s = Delta` and gets `k_j^{s_j}`; the *extension receiver* (the evaluator) gets both
//! `k_j^0, k_j^1`. Each key seeds an AES-CTR stream `G`.
//!
//! Extending by `m` OTs with choice bits `x` (padded to `L = 128*ceil(m/128)`): the receiver sends
//! `u^j = G(k_j^0) ^ G(k_j^1) ^ x` for the 128 columns `j` and keeps `t^j = G(k_j^0)`; the sender
//! computes `q^j = G(k_j^{s_j}) ^ s_j*u^j = t^j ^ s_j*x`. Transposed, row `i` gives
//! `q_i = t_i ^ x_i*Delta`: the garbler's zero-label is `W0_i = q_i` and the evaluator's active
//! label is `t_i = W0_i ^ x_i*Delta`, exactly what garbling needs (no hash: the correlation is
//! the one wanted). 16 bytes per OT on the wire.
//!
//! **Active security: the KOS15 consistency check** (Keller, Orsini, Scholl, "Actively secure OT
//! extension with optimal overhead", CRYPTO 2015, eprint 2015/546, §4 and Fig. 7, in the
//! correlated form with a global offset; with the corrected analysis of Roy, "SoftSpoken OT",
//! CRYPTO 2022, eprint 2022/192, §6). Without it a receiver can flip column `j` of `u` for some
//! rows; its labels for those rows are then right only if bit `j` of Delta is 0, and a circuit
//! tells it which: one session gave a cheating evaluator all of Delta. With the check, every
//! extension of `m` OTs is padded with at least `kappa + rho = 128 + 40` extra OTs whose choice
//! bits the receiver draws at random (all rows up to the next multiple of 128 are such extras),
//! both parties derive `chi_1..chi_M` in GF(2^128), the receiver sends `x = sum x_i chi_i` and
//! `t = sum t_i chi_i`, and the sender checks `sum q_i chi_i = t + x * Delta`; the extras are
//! then dropped. A receiver that changed `u` passes only by guessing the bits of Delta its
//! change depends on (probability `2^-k` for `k` bits), plus the probability that the
//! combination `sum chi_i e_i` of its errors vanishes; the random extras keep `x` from telling
//! the sender anything about the real choice bits.
//!
//! `chi` is not drawn row by row: row `j` of tile `k` (128 rows a tile) gets
//! `chi = alpha^k * beta_j` for 129 challenge elements `alpha, beta_0..beta_127`. For a nonzero
//! error vector the inner sums `sum_j beta_j e_kj` vanish for a nonzero tile with probability
//! `2^-128`, and the outer polynomial in `alpha` of degree below the number of tiles `T` then
//! vanishes with probability at most `T / 2^128`: at most `(T + 1) / 2^128` in all (below
//! `2^-110` for the largest extension a session makes): the check only needs `chi` to make
//! every fixed nonzero error combination vanish with negligible probability, which this linear
//! almost-universal family gives. It replaces one AES block and one
//! memory stream per row with one carry-less product per row and one field multiplication per
//! tile.
//!
//! The challenge is interactive, as in KOS15: after the whole message `u` of an extension has
//! arrived, the sender draws a fresh 128-bit seed from its OS-seeded generator and sends it; the
//! receiver answers with `(x, t)`. The receiver is committed to `u` before the seed exists, so
//! it cannot aim its changes at the challenge. (A Fiat–Shamir challenge, BLAKE3 over `u`, would
//! save this round trip but hashing 16 bytes per OT on both sides cost a quarter of the
//! extension's throughput here, measured with `garbled bench --ot`.) The seed is expanded
//! together with the session id and the extension counter, so no two extensions share `chi`.

use zeroize::{Zeroize, Zeroizing};

use super::transpose::transpose_tile;
use crate::aes::{Prg, gf128};
use crate::block::{Block, Delta};
use crate::error::{Error, Result};

/// Number of base OTs (the security parameter).
pub const BASE_OTS: usize = 128;

/// Extra OTs of every checked extension, at least: kappa + rho = 128 + 40 (KOS15 §4: the
/// sender's check sees a combination of kappa + rho random choice bits besides the real ones).
pub const CHECK_OTS: usize = 128 + 40;

/// Rows of a checked extension of `m` OTs: `m` plus the extras, in whole tiles.
pub fn checked_rows(m: usize) -> usize {
    128 * tiles(m + CHECK_OTS)
}

/// The challenge of one checked extension: `chi` for row `j` of tile `k` is `alpha^k * beta_j`
/// (see the module documentation). `alpha` and `beta` are an AES-CTR stream from the sender's
/// fresh random seed, bound to the session and the extension counter.
struct Challenge {
    alpha: Block,
    beta: [Block; 128],
}

impl Challenge {
    fn new(session: &[u8; 32], counter: u64, seed: Block) -> Self {
        let mut h = blake3::Hasher::new_keyed(session);
        h.update(b"garbled KOS check v1");
        h.update(&counter.to_le_bytes());
        h.update(&seed.to_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&h.finalize().as_bytes()[..16]);
        let mut prg = Prg::from_seed(key);
        let mut beta = [Block::ZERO; 128];
        prg.fill(&mut beta);
        Challenge {
            alpha: prg.block(),
            beta,
        }
    }

    /// `sum_i chi_i * rows_i` (rows in whole tiles), by Horner's rule over the tiles.
    fn combine(&self, rows: &[Block]) -> Block {
        rows.chunks(128).fold(Block::ZERO, |acc, tile| {
            gf128::mul(acc, self.alpha) ^ gf128::dot(tile, &self.beta)
        })
    }

    /// `sum_i chi_i * bits_i`.
    fn combine_bits(&self, bits: &[bool]) -> Block {
        bits.chunks(128).fold(Block::ZERO, |acc, tile| {
            gf128::mul(acc, self.alpha) ^ gf128::select_sum(tile, &self.beta)
        })
    }
}

/// Blocks per column for `m` OTs: the number of 128x128 tiles.
pub fn tiles(m: usize) -> usize {
    m.div_ceil(128)
}

/// Tiles generated and transposed per pass: 16 tiles of 128 blocks = 32 KiB, so that each
/// column generator produces 16 blocks per call (a full pass of the AES kernel).
/// Writing whole columns first and transposing afterwards read each tile with a stride of the
/// column length, which defeated the caches (measured: 3x slower).
const GROUP: usize = 16;

/// The message and outputs are tile-major: block `128*k + j` is column `j`'s block of tile `k`.
/// Fills `out` (tile-major, `tiles` tiles) from the 128 column generators.
fn fill_tiles(prgs: &mut [Prg], out: &mut [Block], tiles: usize) {
    let mut column = [Block::ZERO; GROUP];
    for (j, g) in prgs.iter_mut().enumerate() {
        let col = &mut column[..tiles];
        g.fill(col);
        for (k, b) in col.iter().enumerate() {
            out[128 * k + j] = *b;
        }
    }
    column.zeroize();
}

/// Up to 128 bits as a `u128`, bit `i` = `bits[i]`, eight at a time (a variable-width shift per
/// bit was the receiver's largest cost).
fn pack128(bits: &[bool]) -> u128 {
    let mut bytes = [0u8; 16];
    for (byte, chunk) in bytes.iter_mut().zip(bits.chunks(8)) {
        let mut v = 0u8;
        for (i, &b) in chunk.iter().enumerate() {
            v |= u8::from(b) << i;
        }
        *byte = v;
    }
    u128::from_le_bytes(bytes)
}

/// The extension receiver (the evaluator): holds both seeds of every base OT.
pub struct CotReceiver {
    prgs0: Vec<Prg>,
    prgs1: Vec<Prg>,
    /// Choice bits of the extra OTs of checked extensions.
    extras: Prg,
    session: [u8; 32],
    counter: u64,
}

impl std::fmt::Debug for CotReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CotReceiver(<secret>)")
    }
}

impl CotReceiver {
    /// From the base-OT sender's key pairs; `session` keys the challenge of checked
    /// extensions.
    pub fn new(keys: &[(Block, Block)], session: [u8; 32]) -> Result<Self> {
        if keys.len() != BASE_OTS {
            return Err(Error::arg(format!(
                "IKNP needs {BASE_OTS} base OTs, got {}",
                keys.len()
            )));
        }
        Ok(CotReceiver {
            prgs0: keys
                .iter()
                .map(|(k0, _)| Prg::from_seed(k0.to_bytes()))
                .collect(),
            prgs1: keys
                .iter()
                .map(|(_, k1)| Prg::from_seed(k1.to_bytes()))
                .collect(),
            extras: Prg::from_os()?,
            session,
            counter: 0,
        })
    }

    /// The first half of a checked extension by `choices.len()` OTs: `u` is overwritten with
    /// the message for the sender (`checked_rows(m)` rows, tile-major). Answer the sender's
    /// challenge with [`CheckedReceive::respond`].
    pub fn extend_checked(&mut self, choices: &[bool], u: &mut Vec<Block>) -> CheckedReceive {
        self.extend_checked_reusing(choices, u, Vec::new())
    }

    /// [`CotReceiver::extend_checked`] writing the rows into `buffer` (the labels of an earlier
    /// extension, say), whose allocation is reused: a fresh megabyte per chunk costs a page fault
    /// per page.
    pub fn extend_checked_reusing(
        &mut self,
        choices: &[bool],
        u: &mut Vec<Block>,
        buffer: Vec<Block>,
    ) -> CheckedReceive {
        let m = choices.len();
        let rows = checked_rows(m);
        let mut all = Zeroizing::new(Vec::with_capacity(rows));
        all.extend_from_slice(choices);
        let mut random = Zeroizing::new(vec![0u8; rows - m]);
        self.extras.fill_bytes(&mut random);
        all.extend(random.iter().map(|b| b & 1 == 1));
        // The old contents are overwritten (`extend_into` writes every row it appends).
        let mut t = Zeroizing::new(buffer);
        t.clear();
        self.extend_into(&all, u, &mut t);
        let counter = self.counter;
        self.counter += 1;
        CheckedReceive {
            choices: all,
            rows: t,
            m,
            session: self.session,
            counter,
        }
    }

    /// Extends by `choices.len()` OTs. Returns the message for the sender (`128 * tiles(m)`
    /// blocks, tile-major) and the receiver's outputs `t_i`, one per choice.
    pub fn extend(&mut self, choices: &[bool]) -> (Vec<Block>, Vec<Block>) {
        let (mut u, mut out) = (Vec::new(), Vec::new());
        self.extend_into(choices, &mut u, &mut out);
        (u, out)
    }

    /// [`CotReceiver::extend`] into caller buffers: `u` is overwritten with the message and the
    /// outputs are appended to `out` (reusing buffers avoids fresh pages on every chunk).
    pub fn extend_into(&mut self, choices: &[bool], u: &mut Vec<Block>, out: &mut Vec<Block>) {
        let m = choices.len();
        let n = tiles(m);
        // Every block of `u` is written below, so a reused `u` is only resized (zero-filling a
        // megabyte per chunk was a tenth of the extension's time), and the outputs are appended
        // tile by tile.
        u.resize(BASE_OTS * n, Block::ZERO);
        out.reserve(m);
        let mut t = [Block::ZERO; BASE_OTS * GROUP];
        let mut tile = [0u128; 128];
        for first in (0..n).step_by(GROUP) {
            let count = GROUP.min(n - first);
            let u_group = &mut u[BASE_OTS * first..BASE_OTS * (first + count)];
            fill_tiles(&mut self.prgs0, &mut t, count);
            fill_tiles(&mut self.prgs1, u_group, count);
            for k in 0..count {
                // x restricted to this tile, as one block: every column gets it.
                let base = 128 * (first + k);
                let x = Block::new(pack128(&choices[base..(base + 128).min(m)]));
                for (j, (u, t)) in u_group[128 * k..128 * (k + 1)]
                    .iter_mut()
                    .zip(&t[128 * k..128 * (k + 1)])
                    .enumerate()
                {
                    *u = *u ^ *t ^ x;
                    tile[j] = t.value();
                }
                transpose_tile(&mut tile);
                let end = (base + 128).min(m);
                out.extend(tile[..end - base].iter().map(|v| Block::new(*v)));
            }
        }
        t.zeroize();
        tile.zeroize();
    }
}

/// A receiver's checked extension waiting for the sender's challenge: all rows, extras
/// included, wiped when dropped.
pub struct CheckedReceive {
    choices: Zeroizing<Vec<bool>>,
    rows: Zeroizing<Vec<Block>>,
    m: usize,
    session: [u8; 32],
    counter: u64,
}

impl std::fmt::Debug for CheckedReceive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckedReceive({} OTs, <secret>)", self.m)
    }
}

impl CheckedReceive {
    /// The choice bits of the real OTs.
    pub fn choices(&self) -> &[bool] {
        &self.choices[..self.m]
    }

    /// The answer `(x, t)` to the sender's challenge `seed`, and the receiver's `m` outputs
    /// `t_i` (the extras are dropped).
    pub fn respond(mut self, seed: Block) -> ([Block; 2], Vec<Block>) {
        let chi = Challenge::new(&self.session, self.counter, seed);
        let x = chi.combine_bits(&self.choices);
        let t = chi.combine(&self.rows);
        self.rows[self.m..].zeroize();
        self.rows.truncate(self.m);
        ([x, t], std::mem::take(&mut *self.rows))
    }
}

/// The sender's check of one extension in progress: the challenge (not yet sent) and the sum
/// `sum q_i chi_i` so far.
pub struct PendingCheck {
    chi: Challenge,
    seed: Block,
    sum: Block,
    rows: usize,
}

impl std::fmt::Debug for PendingCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PendingCheck({} rows, <secret>)", self.rows)
    }
}

impl PendingCheck {
    /// The challenge seed to send once the receiver's whole message has arrived.
    pub fn seed(&self) -> Block {
        self.seed
    }
}

/// The extension sender (the garbler): holds one seed per base OT, chosen by Delta's bits.
pub struct CotSender {
    prgs: Vec<Prg>,
    delta: Delta,
    /// Column j is XORed with u exactly when bit j of Delta is set: a mask per column.
    masks: Zeroizing<Vec<Block>>,
    /// Challenge seeds.
    seeds: Prg,
    session: [u8; 32],
    counter: u64,
}

impl std::fmt::Debug for CotSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CotSender(<secret>)")
    }
}

impl CotSender {
    /// From the base-OT receiver's keys, received with choice bits = the bits of `delta`;
    /// `session` keys the challenge of checked extensions.
    pub fn new(delta: Delta, keys: &[Block], session: [u8; 32]) -> Result<Self> {
        if keys.len() != BASE_OTS {
            return Err(Error::arg(format!(
                "IKNP needs {BASE_OTS} base OTs, got {}",
                keys.len()
            )));
        }
        let masks = Zeroizing::new(
            (0..BASE_OTS)
                .map(|j| Block::new(u128::MAX).select(delta.bit(j)))
                .collect(),
        );
        Ok(CotSender {
            prgs: keys.iter().map(|k| Prg::from_seed(k.to_bytes())).collect(),
            delta,
            masks,
            seeds: Prg::from_os()?,
            session,
            counter: 0,
        })
    }

    /// The global offset.
    pub fn delta(&self) -> &Delta {
        &self.delta
    }

    /// Extends by `m` OTs given the receiver's message `u` (`128 * tiles(m)` blocks, tile-major);
    /// returns `q_i = t_i ^ x_i*Delta`: the zero-labels.
    pub fn extend(&mut self, m: usize, u: &[Block]) -> Result<Vec<Block>> {
        let mut out = Vec::new();
        self.extend_into(m, u, &mut out)?;
        Ok(out)
    }

    /// [`CotSender::extend`] appending the zero-labels to `out`.
    pub fn extend_into(&mut self, m: usize, u: &[Block], out: &mut Vec<Block>) -> Result<()> {
        self.extend_core(m, u, out, None)
    }

    /// Starts the check of the next extension: the challenge seed is drawn now (it is sent only
    /// after the receiver's whole message has arrived) so that `sum q_i chi_i` can be summed
    /// while each tile is still in the cache.
    pub fn begin_check(&mut self) -> PendingCheck {
        let seed = self.seeds.block();
        let counter = self.counter;
        self.counter += 1;
        PendingCheck {
            chi: Challenge::new(&self.session, counter, seed),
            seed,
            sum: Block::ZERO,
            rows: 0,
        }
    }

    /// One chunk of a checked extension: like [`CotSender::extend_into`] (`m` a multiple of 128
    /// except for the last chunk), adding the chunk's rows to the check.
    pub fn extend_checked_chunk(
        &mut self,
        m: usize,
        u: &[Block],
        out: &mut Vec<Block>,
        check: &mut PendingCheck,
    ) -> Result<()> {
        if !m.is_multiple_of(128) {
            return Err(Error::arg(
                "a checked chunk is a whole number of 128-row tiles",
            ));
        }
        check.rows += m;
        self.extend_core(m, u, out, Some(check))
    }

    /// Checks the receiver's answer `(x, t)` for an extension of `m` OTs whose `checked_rows(m)`
    /// rows are in `rows`; keeps the first `m` on success, wipes all of them otherwise.
    pub fn finish_check(
        &self,
        pending: PendingCheck,
        m: usize,
        rows: &mut Vec<Block>,
        check: [Block; 2],
    ) -> Result<()> {
        if rows.len() != checked_rows(m) || pending.rows != rows.len() {
            rows.zeroize();
            rows.clear();
            return Err(Error::peer("the OT extension has the wrong number of rows"));
        }
        let [x, t] = check;
        let expected = t ^ gf128::mul(x, self.delta.block());
        let q = pending.sum;
        let equal: bool =
            subtle::ConstantTimeEq::ct_eq(&q.to_bytes()[..], &expected.to_bytes()[..]).into();
        if !equal {
            rows.zeroize();
            rows.clear();
            return Err(Error::peer("OT consistency check failed"));
        }
        rows[m..].zeroize();
        rows.truncate(m);
        Ok(())
    }

    fn extend_core(
        &mut self,
        m: usize,
        u: &[Block],
        out: &mut Vec<Block>,
        mut check: Option<&mut PendingCheck>,
    ) -> Result<()> {
        let n = tiles(m);
        if u.len() != BASE_OTS * n {
            return Err(Error::peer(format!(
                "IKNP message of {} blocks, expected {}",
                u.len(),
                BASE_OTS * n
            )));
        }
        let masks = &self.masks;
        let out_start = out.len();
        out.reserve(m);
        let mut q = [Block::ZERO; BASE_OTS * GROUP];
        let mut tile = [0u128; 128];
        for first in (0..n).step_by(GROUP) {
            let count = GROUP.min(n - first);
            fill_tiles(&mut self.prgs, &mut q, count);
            for k in 0..count {
                let u_tile = &u[128 * (first + k)..128 * (first + k + 1)];
                for (j, ((q, u), mask)) in q[128 * k..128 * (k + 1)]
                    .iter()
                    .zip(u_tile)
                    .zip(masks.iter())
                    .enumerate()
                {
                    tile[j] = (*q ^ (*u & *mask)).value();
                }
                transpose_tile(&mut tile);
                let base = out_start + 128 * (first + k);
                let end = (base + 128).min(out_start + m);
                out.extend(tile[..end - base].iter().map(|v| Block::new(*v)));
                if let Some(check) = check.as_deref_mut() {
                    // Checked chunks are whole tiles (`extend_checked_chunk`).
                    check.sum = gf128::mul(check.sum, check.chi.alpha)
                        ^ gf128::dot(&out[base..end], &check.chi.beta);
                }
            }
        }
        q.zeroize();
        tile.zeroize();
        Ok(())
    }
}
