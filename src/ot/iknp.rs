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
//! **SoftSpoken: fewer bytes for more PRG work** (Roy, "SoftSpokenOT: Quieter OT Extension from
//! Small-Field Silent VOLE in the Minicrypt Model", CRYPTO 2022, eprint 2022/192). The 128
//! columns are cut into `128/k` blocks of `k` columns (the *width*; 1, 2, 4 or 8). Block `j`'s
//! `k` base OTs grow a GGM tree ([`super::ggm`], the paper's §3.1 small-field VOLE from a
//! punctured PRF): the receiver knows all `2^k` seeds `s_x`, the sender all but `s_{Delta_j}`,
//! where `Delta_j` is the `k` bits of Delta of the block. With `P_x = G(s_x)`:
//! the receiver computes `u_j = sum_x P_x` and `v_j,b = sum_{x: x_b = 1} P_x`, sends the
//! correction `u_j ^ x` (one column per block: `16/k` bytes per OT) and keeps column `kj + b`
//! `t = v_j,b`; the sender computes `w_j,b = sum_{x != Delta_j} (x ^ Delta_j)_b P_x`
//! `= v_j,b ^ Delta_{kj+b} * u_j` and
//! `q = w_j,b ^ Delta_{kj+b} * (u_j ^ x) = t ^ Delta_{kj+b} * x`: the same correlation as IKNP,
//! which is the case `k = 1` (`s_0 = k^1`, `s_1 = k^0`; no tree).
//! The receiver expands `2^k` streams a block and the sender `2^k - 1`: at `k = 4` that is 512
//! and 480 AES blocks per 128 OTs against IKNP's 256 and 128, for a quarter of the bytes.
//! Malicious sessions run at width 4 (their traffic is mostly correlated OTs); semi-honest
//! half-gates sessions keep IKNP and semi-honest three-halves ones run width 8
//! (`crate::protocol::semi_honest_ot_width`).
//!
//! **SoftSpoken's consistency check** (width above 1; Roy §4, the subspace-VOLE check with a
//! universal hash). After the message, the sender's challenge seeds one coefficient `gamma_k`
//! in GF(2^128) per tile; the receiver answers `U = sum_k gamma_k x_k` (its choice bits, 128 a
//! tile) and for every column `c` `V_c = sum_k gamma_k t^c_k`; the sender checks
//! `sum_k gamma_k q^c_k = V_c ^ Delta_c * U` for all 128 columns (129 blocks, 2 KiB, per
//! extension). `H(y) = sum_k gamma_k y_k` is a random linear map: a fixed nonzero difference
//! survives it with probability `2^-128` per column. A receiver whose corrections in block `j`
//! do not all use the same `x` (or a tree sender whose corrections made the sender's seeds
//! inconsistent) leaves an error in the block's `k` columns that depends on `Delta_j`; it passes
//! only by guessing those bits (`2^-k` a block), which is the selective-abort leakage the paper's
//! leaky VOLE allows for: each guessed bit halves the chance of not being caught, so Delta keeps
//! its entropy for every cheater that is not caught. The extras (below) make `U` uniform (the
//! last tile is entirely random), and `V_c = H(q^c) ^ Delta_c * U` tells the sender nothing more.
//! IKNP keeps KOS15's check below, whose answer is 32 bytes instead of 2 KiB: semi-honest
//! sessions make one small extension per run (at width 8 the answer's 2 KiB is paid for by the
//! 14 bytes saved on every OT).
//!
//! **Active security of IKNP: the KOS15 consistency check** (Keller, Orsini, Scholl, "Actively
//! secure OT extension with optimal overhead", CRYPTO 2015, eprint 2015/546, §4 and Fig. 7, in the
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
//!
//! About 900 lines: IKNP, the KOS15 check and SoftSpoken's small-field VOLE share the tile
//! transposes and the column layout of one extension message, so the three extensions are read side
//! by side.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::ggm;
use super::transpose::transpose_tile;
use crate::aes::{Prg, gf128, xor_into};
use crate::block::{Block, Delta, mask};
use crate::error::{Error, Result};

/// Number of base OTs (the security parameter).
pub const BASE_OTS: usize = 128;

/// Extra OTs of every checked extension, at least: kappa + rho = 128 + 40 (KOS15 §4: the
/// sender's check sees a combination of kappa + rho random choice bits besides the real ones).
pub const CHECK_OTS: usize = 128 + 40;

/// The widest VOLE block supported (`k = 8`: 256 seeds a block).
pub const MAX_WIDTH: usize = ggm::MAX_DEPTH;

/// Rows of a checked extension of `m` OTs: `m` plus the extras, in whole tiles.
pub fn checked_rows(m: usize) -> usize {
    128 * tiles(m + CHECK_OTS)
}

/// Whether `k` bits of Delta per small-field VOLE block is supported: 1 (IKNP), 2, 4 or 8.
pub fn valid_width(k: usize) -> bool {
    matches!(k, 1 | 2 | 4 | 8)
}

/// Blocks of the receiver's message per tile of 128 OTs at width `k`: one column per VOLE block,
/// so `16 / k` bytes per OT.
pub fn columns(k: usize) -> usize {
    BASE_OTS / k
}

/// Blocks of the receiver's answer to the challenge at width `k`: KOS15's `(x, t)`, or
/// SoftSpoken's hash of `x` and one hash per column.
pub fn answer_blocks(k: usize) -> usize {
    if k == 1 { 2 } else { 1 + BASE_OTS }
}

/// Blocks of the tree message at width `k` (none for IKNP): `2k` corrections per VOLE block.
pub fn tree_blocks(k: usize) -> usize {
    if k == 1 { 0 } else { columns(k) * 2 * k }
}

/// The generator of one checked extension's challenge: an AES-CTR stream from the sender's fresh
/// random seed, bound to the session and the extension counter.
fn challenge_prg(session: &[u8; 32], counter: u64, seed: Block) -> Prg {
    let mut h = blake3::Hasher::new_keyed(session);
    h.update(b"garbled KOS check v1");
    h.update(&counter.to_le_bytes());
    h.update(&seed.to_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&h.finalize().as_bytes()[..16]);
    Prg::from_seed(key)
}

/// KOS15's challenge (width 1): `chi` for row `j` of tile `k` is `alpha^k * beta_j` (see the
/// module documentation).
struct Challenge {
    alpha: Block,
    beta: [Block; 128],
}

impl Challenge {
    fn new(mut prg: Prg) -> Self {
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

/// Tiles generated and transposed per pass: 16 tiles, so that each seed's generator produces 16
/// blocks per call (a full pass of the AES kernel). Writing whole columns first and transposing
/// afterwards read each tile with a stride of the column length, which defeated the caches
/// (measured: 3x slower).
const GROUP: usize = 16;

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

/// The choice bits of tiles `first..first + xs.len()`, packed one block a tile.
fn pack_tiles(choices: &[bool], first: usize, xs: &mut [Block]) {
    for (i, x) in xs.iter_mut().enumerate() {
        let base = 128 * (first + i);
        *x = Block::new(pack128(&choices[base..(base + 128).min(choices.len())]));
    }
}

/// The leaf of seed `s_x`: the path that takes side `!x_l` at level `l` (level 0 most
/// significant), so that the one leaf the Delta holder misses is `s_{Delta_j}` (see [`ggm`]).
fn leaf_of(x: usize, k: usize) -> usize {
    (0..k).fold(0, |y, l| (y << 1) | (!x >> l & 1))
}

/// Loads one tile's 128 columns into `tile` and transposes it: `tile` then holds the rows.
fn load_transposed(tile: &mut [u128; 128], columns: &[Block]) {
    for (t, b) in tile.iter_mut().zip(columns) {
        *t = b.value();
    }
    transpose_tile(tile);
}

/// Transposes one tile (128 blocks) of a tile-major buffer in place: columns become rows.
fn transpose_in_place(buffer: &mut [Block], tile: &mut [u128; 128]) {
    load_transposed(tile, buffer);
    for (b, t) in buffer.iter_mut().zip(tile.iter()) {
        *b = Block::new(*t);
    }
}

/// One VOLE block's sums over `count` tiles: the stream of `prgs[i]` (the seed of index
/// `first + i`) is added into `v[b]` for every bit `b` set in its index, and into `sum` if
/// given. Which sums a stream joins depends on its position only, never on a secret. (Forming
/// each tile's sums in registers from all the block's streams, generated first, measured 1.5x
/// slower: `cargo bench --bench ot -- width4`.)
fn block_sums<const K: usize>(
    prgs: &mut [Prg],
    first: usize,
    count: usize,
    v: &mut [[Block; GROUP]; K],
    mut sum: Option<&mut [Block; GROUP]>,
) {
    let mut stream = [Block::ZERO; GROUP];
    for row in v.iter_mut() {
        row[..count].fill(Block::ZERO);
    }
    if let Some(sum) = sum.as_deref_mut() {
        sum[..count].fill(Block::ZERO);
    }
    for (i, prg) in prgs.iter_mut().enumerate() {
        let index = first + i;
        prg.fill(&mut stream[..count]);
        if let Some(sum) = sum.as_deref_mut() {
            xor_into(&mut sum[..count], &stream[..count]);
        }
        for (bit, row) in v.iter_mut().enumerate() {
            if index >> bit & 1 == 1 {
                xor_into(&mut row[..count], &stream[..count]);
            }
        }
    }
    stream.zeroize();
}

/// The extension receiver (the evaluator): knows every seed of every VOLE block.
pub struct CotReceiver {
    width: usize,
    /// `prgs[(j << width) + x]` expands seed `s_x` of VOLE block `j`.
    prgs: Vec<Prg>,
    /// Choice bits of the extra OTs of checked extensions.
    extras: Prg,
    session: [u8; 32],
    counter: u64,
}

impl std::fmt::Debug for CotReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CotReceiver(width {}, <secret>)", self.width)
    }
}

impl CotReceiver {
    /// IKNP (width 1) from the base-OT sender's key pairs; `session` keys the challenge of
    /// checked extensions.
    pub fn new(keys: &[(Block, Block)], session: [u8; 32]) -> Result<Self> {
        // Width 1 grows no tree, so the roots' generator is never drawn from.
        let (receiver, message) = Self::with_width(keys, session, 1, &mut Prg::from_seed([0; 16]))?;
        debug_assert!(message.is_empty());
        Ok(receiver)
    }

    /// SoftSpoken at `width` bits per VOLE block: the trees are grown from roots drawn from
    /// `roots`, and the returned message (`tree_blocks(width)` blocks, empty for width 1) must
    /// reach the sender's [`CotSender::with_width`].
    pub fn with_width(
        keys: &[(Block, Block)],
        session: [u8; 32],
        width: usize,
        roots: &mut Prg,
    ) -> Result<(Self, Vec<Block>)> {
        if keys.len() != BASE_OTS {
            return Err(Error::arg(format!(
                "OT extension needs {BASE_OTS} base OTs, got {}",
                keys.len()
            )));
        }
        if !valid_width(width) {
            return Err(Error::arg(format!("no VOLE width {width} (1, 2, 4 or 8)")));
        }
        let n = 1 << width;
        let mut prgs = Vec::with_capacity(columns(width) * n);
        let mut message = Vec::with_capacity(tree_blocks(width));
        for (j, pairs) in keys.chunks(width).enumerate() {
            let mut leaves = if width == 1 {
                vec![pairs[0].0, pairs[0].1]
            } else {
                let mut root = roots.block();
                let (leaves, corrections) = ggm::send(&session, j, root, pairs);
                root.zeroize();
                message.extend_from_slice(&corrections);
                leaves
            };
            prgs.extend((0..n).map(|x| Prg::from_seed(leaves[leaf_of(x, width)].to_bytes())));
            leaves.zeroize();
        }
        Ok((
            CotReceiver {
                width,
                prgs,
                extras: Prg::from_os()?,
                session,
                counter: 0,
            },
            message,
        ))
    }

    /// Bits of Delta per VOLE block.
    pub fn width(&self) -> usize {
        self.width
    }

    /// One group of `xs.len()` tiles: the columns `t` (tile-major, 128 blocks a tile) and the
    /// message `u` (tile-major, [`columns`] blocks a tile) for the packed choice bits `xs`.
    /// Block `j` sums its seeds' streams: `u_j = sum_x G(s_x)`, `v_j,b = sum_{x: x_b = 1} G(s_x)`;
    /// column `k*j + b` is `v_j,b` and block `j` of the message is `u_j ^ x`.
    fn fill_group(&mut self, xs: &[Block], t: &mut [Block], u: &mut [Block]) {
        let count = xs.len();
        match self.width {
            1 => {
                // IKNP: t = G(s_1) = G(k^0), u = G(s_0) ^ G(s_1) ^ x, without the general sums
                // (the semi-honest hot path).
                let mut stream = [Block::ZERO; GROUP];
                let mut other = [Block::ZERO; GROUP];
                for (j, prgs) in self.prgs.chunks_exact_mut(2).enumerate() {
                    prgs[1].fill(&mut stream[..count]);
                    prgs[0].fill(&mut other[..count]);
                    for i in 0..count {
                        t[128 * i + j] = stream[i];
                        u[128 * i + j] = stream[i] ^ other[i] ^ xs[i];
                    }
                }
                stream.zeroize();
                other.zeroize();
            }
            2 => self.fill_group_width::<2>(xs, t, u),
            4 => self.fill_group_width::<4>(xs, t, u),
            _ => self.fill_group_width::<8>(xs, t, u),
        }
    }

    /// [`CotReceiver::fill_group`] at width `K` (a constant, so that the sums unroll).
    fn fill_group_width<const K: usize>(&mut self, xs: &[Block], t: &mut [Block], u: &mut [Block]) {
        let count = xs.len();
        let (n, cols) = (1 << K, columns(K));
        let mut sum = [Block::ZERO; GROUP];
        let mut v = [[Block::ZERO; GROUP]; K];
        for (j, prgs) in self.prgs.chunks_mut(n).enumerate() {
            block_sums(prgs, 0, count, &mut v, Some(&mut sum));
            for i in 0..count {
                u[cols * i + j] = sum[i] ^ xs[i];
                for (bit, row) in v.iter().enumerate() {
                    t[128 * i + K * j + bit] = row[i];
                }
            }
        }
        sum.zeroize();
        v.zeroize();
    }

    /// Fills `u` (resized) with the message and `t` (resized to `128 * tiles` blocks, all
    /// overwritten) with the columns for `choices`, tile-major.
    fn columns_into(&mut self, choices: &[bool], u: &mut Vec<Block>, t: &mut Vec<Block>) {
        let n = tiles(choices.len());
        let cols = columns(self.width);
        // Every block of `u` and `t` is written below, so reused buffers are only resized
        // (zero-filling a megabyte per chunk was a tenth of the extension's time).
        u.resize(cols * n, Block::ZERO);
        t.resize(128 * n, Block::ZERO);
        let mut xs = [Block::ZERO; GROUP];
        for first in (0..n).step_by(GROUP) {
            let count = GROUP.min(n - first);
            pack_tiles(choices, first, &mut xs[..count]);
            self.fill_group(
                &xs[..count],
                &mut t[128 * first..128 * (first + count)],
                &mut u[cols * first..cols * (first + count)],
            );
        }
        xs.zeroize();
    }

    /// The first half of a checked extension by `choices.len()` OTs: `u` is overwritten with
    /// the message for the sender (`checked_rows(m)` rows, tile-major). Answer the sender's
    /// challenge with [`CheckedReceive::respond`].
    pub fn extend_checked(&mut self, choices: &[bool], u: &mut Vec<Block>) -> CheckedReceive {
        self.extend_checked_reusing(choices, u, Vec::new())
    }

    /// [`CotReceiver::extend_checked`] writing into `buffer` (the labels of an earlier
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
        // The old contents are overwritten (both paths write every block). IKNP's check sums
        // rows: they are transposed now, while in the cache; SoftSpoken's sums columns, which
        // are kept until the challenge is known.
        let mut t = Zeroizing::new(buffer);
        if self.width == 1 {
            t.clear();
            self.extend_into(&all, u, &mut t);
        } else {
            self.columns_into(&all, u, &mut t);
        }
        let counter = self.counter;
        self.counter += 1;
        CheckedReceive {
            choices: all,
            columns: t,
            m,
            width: self.width,
            session: self.session,
            counter,
        }
    }

    /// Extends by `choices.len()` OTs without a check. Returns the message for the sender
    /// ([`columns`] blocks a tile, tile-major) and the receiver's outputs `t_i`, one per choice.
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
        let cols = columns(self.width);
        u.resize(cols * n, Block::ZERO);
        out.reserve(m);
        let mut t = [Block::ZERO; BASE_OTS * GROUP];
        let mut xs = [Block::ZERO; GROUP];
        let mut tile = [0u128; 128];
        for first in (0..n).step_by(GROUP) {
            let count = GROUP.min(n - first);
            pack_tiles(choices, first, &mut xs[..count]);
            self.fill_group(
                &xs[..count],
                &mut t[..128 * count],
                &mut u[cols * first..cols * (first + count)],
            );
            for k in 0..count {
                load_transposed(&mut tile, &t[128 * k..128 * (k + 1)]);
                let base = 128 * (first + k);
                let end = (base + 128).min(m);
                out.extend(tile[..end - base].iter().map(|v| Block::new(*v)));
            }
        }
        t.zeroize();
        xs.zeroize();
        tile.zeroize();
    }
}

/// A receiver's checked extension waiting for the sender's challenge: the choice bits and the
/// columns of all rows, extras included, wiped when dropped.
pub struct CheckedReceive {
    choices: Zeroizing<Vec<bool>>,
    /// The rows (IKNP), or tile-major columns until [`CheckedReceive::respond`] has hashed and
    /// transposed them (SoftSpoken).
    columns: Zeroizing<Vec<Block>>,
    m: usize,
    width: usize,
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

    /// The answer to the sender's challenge `seed` ([`answer_blocks`] blocks) and the receiver's
    /// `m` outputs `t_i` (the extras are dropped).
    pub fn respond(mut self, seed: Block) -> (Vec<Block>, Vec<Block>) {
        let mut prg = challenge_prg(&self.session, self.counter, seed);
        let mut tile = [0u128; 128];
        let answer = if self.width == 1 {
            // Already rows (see `extend_checked_reusing`).
            let chi = Challenge::new(prg);
            vec![chi.combine_bits(&self.choices), chi.combine(&self.columns)]
        } else {
            // One hash per column and one of the choice bits, with a fresh coefficient a tile.
            let mut sums = Zeroizing::new(vec![Block::ZERO; 2 * BASE_OTS]);
            let mut x_sum = [Block::ZERO; 2];
            for (buffer, bits) in self.columns.chunks_mut(128).zip(self.choices.chunks(128)) {
                let gamma = prg.block();
                gf128::scale_add(&mut sums, buffer, gamma);
                gf128::scale_add(&mut x_sum, &[Block::new(pack128(bits))], gamma);
                transpose_in_place(buffer, &mut tile);
            }
            let mut answer = gf128::reduce_pairs(&x_sum);
            answer.extend(gf128::reduce_pairs(&sums));
            x_sum.zeroize();
            answer
        };
        tile.zeroize();
        self.columns[self.m..].zeroize();
        self.columns.truncate(self.m);
        (answer, std::mem::take(&mut *self.columns))
    }
}

/// What the sender sums for the check while the rows arrive.
enum Sums {
    /// KOS15: `sum_i chi_i q_i` over the rows.
    Rows { chi: Box<Challenge>, sum: Block },
    /// SoftSpoken: `sum_k gamma_k q^c_k` for every column `c`, unreduced; `gamma` streams from
    /// the generator, one coefficient a tile.
    Columns {
        gammas: Box<Prg>,
        sums: Zeroizing<Vec<Block>>,
    },
}

/// The sender's check of one extension in progress: the challenge (not yet sent) and the sums
/// so far.
pub struct PendingCheck {
    sums: Sums,
    seed: Block,
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

/// The extension sender (the garbler): knows every seed but one of each VOLE block, the one
/// Delta's bits point to.
pub struct CotSender {
    width: usize,
    /// `2^k - 1` generators a block: seed `s_{y ^ Delta_j}` at position `y - 1` for
    /// `y = 1..2^k` (`y = 0` is the seed it misses), so that the stream at `y` joins the columns
    /// of the bits set in `y`: a public pattern, as on the receiver's side.
    prgs: Vec<Prg>,
    delta: Delta,
    /// Column `c` is XORed with the block's message exactly when bit `c` of Delta is set.
    masks: Zeroizing<Vec<Block>>,
    /// Challenge seeds.
    seeds: Prg,
    session: [u8; 32],
    counter: u64,
}

impl std::fmt::Debug for CotSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CotSender(width {}, <secret>)", self.width)
    }
}

impl CotSender {
    /// IKNP (width 1) from the base-OT receiver's keys, received with choice bits = the bits of
    /// `delta`; `session` keys the challenge of checked extensions.
    pub fn new(delta: Delta, keys: &[Block], session: [u8; 32]) -> Result<Self> {
        Self::with_width(delta, keys, session, 1, &[])
    }

    /// SoftSpoken at `width` bits per VOLE block, with the receiver's tree message (see
    /// [`CotReceiver::with_width`]; a message of the wrong length is the peer's fault).
    pub fn with_width(
        delta: Delta,
        keys: &[Block],
        session: [u8; 32],
        width: usize,
        message: &[Block],
    ) -> Result<Self> {
        if keys.len() != BASE_OTS {
            return Err(Error::arg(format!(
                "OT extension needs {BASE_OTS} base OTs, got {}",
                keys.len()
            )));
        }
        if !valid_width(width) {
            return Err(Error::arg(format!("no VOLE width {width} (1, 2, 4 or 8)")));
        }
        if message.len() != tree_blocks(width) {
            return Err(Error::peer(format!(
                "a tree message of {} blocks, expected {}",
                message.len(),
                tree_blocks(width)
            )));
        }
        let n = 1usize << width;
        let mut prgs = Vec::with_capacity(columns(width) * (n - 1));
        let mut seeds = Zeroizing::new(vec![Block::ZERO; n]);
        for (j, keys) in keys.chunks(width).enumerate() {
            let bits: Zeroizing<Vec<bool>> =
                Zeroizing::new((0..width).map(|b| delta.bit(width * j + b)).collect());
            let mut leaves = if width == 1 {
                // The known key is leaf `Delta_j`, the other one is missing.
                let d = mask(bits[0]);
                vec![
                    Block::new(keys[0].value() & !d),
                    Block::new(keys[0].value() & d),
                ]
            } else {
                let corrections = &message[2 * width * j..2 * width * (j + 1)];
                ggm::receive(&session, j, keys, &bits, corrections)?
            };
            // seeds[y] = s_{y ^ Delta_j}: XOR-ing every index by Delta_j is, bit by bit, a swap
            // of the pairs of seeds whose indices differ in that bit; each swap is done with a
            // mask, so no branch or index depends on Delta (width * 2^(width-1) masked swaps,
            // where selecting each seed among all candidates took 4^width).
            for (x, seed) in seeds.iter_mut().enumerate() {
                *seed = leaves[leaf_of(x, width)];
            }
            for (b, &bit) in bits.iter().enumerate() {
                let m = mask(bit);
                for x in (0..n).filter(|x| x & (1 << b) == 0) {
                    let t = (seeds[x].value() ^ seeds[x | 1 << b].value()) & m;
                    seeds[x] = Block::new(seeds[x].value() ^ t);
                    seeds[x | 1 << b] = Block::new(seeds[x | 1 << b].value() ^ t);
                }
            }
            leaves.zeroize();
            prgs.extend(seeds[1..].iter().map(|s| Prg::from_seed(s.to_bytes())));
        }
        let masks = Zeroizing::new(
            (0..BASE_OTS)
                .map(|c| Block::new(u128::MAX).select(delta.bit(c)))
                .collect(),
        );
        Ok(CotSender {
            width,
            prgs,
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

    /// Bits of Delta per VOLE block.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Extends by `m` OTs given the receiver's message `u` ([`columns`] blocks a tile,
    /// tile-major); returns `q_i = t_i ^ x_i*Delta`: the zero-labels.
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
    /// after the receiver's whole message has arrived) so that the sums can be formed while each
    /// tile is still in the cache.
    pub fn begin_check(&mut self) -> PendingCheck {
        let seed = self.seeds.block();
        let counter = self.counter;
        self.counter += 1;
        let prg = challenge_prg(&self.session, counter, seed);
        let sums = if self.width == 1 {
            Sums::Rows {
                chi: Box::new(Challenge::new(prg)),
                sum: Block::ZERO,
            }
        } else {
            Sums::Columns {
                gammas: Box::new(prg),
                sums: Zeroizing::new(vec![Block::ZERO; 2 * BASE_OTS]),
            }
        };
        PendingCheck {
            sums,
            seed,
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

    /// Checks the receiver's answer for an extension of `m` OTs whose `checked_rows(m)` rows are
    /// in `rows`; keeps the first `m` on success, wipes all of them otherwise.
    pub fn finish_check(
        &self,
        pending: PendingCheck,
        m: usize,
        rows: &mut Vec<Block>,
        answer: &[Block],
    ) -> Result<()> {
        let fail = |rows: &mut Vec<Block>, why: &str| {
            rows.zeroize();
            rows.clear();
            Err(Error::peer(why))
        };
        if rows.len() != checked_rows(m) || pending.rows != rows.len() {
            return fail(rows, "the OT extension has the wrong number of rows");
        }
        if answer.len() != answer_blocks(self.width) {
            return fail(rows, "the OT check answer has the wrong length");
        }
        let equal: bool = match &pending.sums {
            Sums::Rows { sum, .. } => {
                let expected = answer[1] ^ gf128::mul(answer[0], self.delta.block());
                sum.to_bytes()[..].ct_eq(&expected.to_bytes()[..]).into()
            }
            Sums::Columns { sums, .. } => {
                // Column c: sum_k gamma_k q^c_k = V_c ^ Delta_c * U.
                let ours = Zeroizing::new(gf128::reduce_pairs(sums));
                let difference = ours.iter().zip(&answer[1..]).zip(self.masks.iter()).fold(
                    0u128,
                    |acc, ((q, v), m)| {
                        acc | (q.value() ^ v.value() ^ (answer[0].value() & m.value()))
                    },
                );
                difference.ct_eq(&0).into()
            }
        };
        if !equal {
            return fail(rows, "OT consistency check failed");
        }
        rows[m..].zeroize();
        rows.truncate(m);
        Ok(())
    }

    /// One group of `count` tiles: the columns `q` (tile-major) from the message `u`. Block `j`
    /// sums the streams of its known seeds into `w_j,b = sum_{x: (x ^ Delta_j)_b = 1} G(s_x)`
    /// (the missing seed's coefficient is 0), and column `k*j + b` is `w_j,b ^ Delta_c * u_j`.
    fn fill_group(&mut self, u: &[Block], q: &mut [Block], count: usize) {
        match self.width {
            1 => {
                // IKNP: q = G(k^{Delta_c}) ^ Delta_c * u (the known seed's coefficient is 1).
                let mut stream = [Block::ZERO; GROUP];
                for (c, prg) in self.prgs.iter_mut().enumerate() {
                    prg.fill(&mut stream[..count]);
                    let m = self.masks[c];
                    for i in 0..count {
                        q[128 * i + c] = stream[i] ^ (u[128 * i + c] & m);
                    }
                }
                stream.zeroize();
            }
            2 => self.fill_group_width::<2>(u, q, count),
            4 => self.fill_group_width::<4>(u, q, count),
            _ => self.fill_group_width::<8>(u, q, count),
        }
    }

    /// [`CotSender::fill_group`] at width `K` (a constant, so that the sums unroll).
    fn fill_group_width<const K: usize>(&mut self, u: &[Block], q: &mut [Block], count: usize) {
        let per_block = (1 << K) - 1;
        let cols = columns(K);
        let mut w = [[Block::ZERO; GROUP]; K];
        for (j, prgs) in self.prgs.chunks_mut(per_block).enumerate() {
            // Position y - 1 holds s_{y ^ Delta_j}: w_b sums the streams with bit b of y set.
            block_sums(prgs, 1, count, &mut w, None);
            for i in 0..count {
                let d = u[cols * i + j];
                for (bit, row) in w.iter().enumerate() {
                    let c = K * j + bit;
                    q[128 * i + c] = row[i] ^ (d & self.masks[c]);
                }
            }
        }
        w.zeroize();
    }

    fn extend_core(
        &mut self,
        m: usize,
        u: &[Block],
        out: &mut Vec<Block>,
        mut check: Option<&mut PendingCheck>,
    ) -> Result<()> {
        let n = tiles(m);
        let cols = columns(self.width);
        if u.len() != cols * n {
            return Err(Error::peer(format!(
                "OT extension message of {} blocks, expected {}",
                u.len(),
                cols * n
            )));
        }
        let out_start = out.len();
        out.reserve(m);
        let mut q = [Block::ZERO; BASE_OTS * GROUP];
        let mut tile = [0u128; 128];
        for first in (0..n).step_by(GROUP) {
            let count = GROUP.min(n - first);
            self.fill_group(
                &u[cols * first..cols * (first + count)],
                &mut q[..128 * count],
                count,
            );
            for k in 0..count {
                let tile_columns = &q[128 * k..128 * (k + 1)];
                if let Some(PendingCheck {
                    sums: Sums::Columns { gammas, sums },
                    ..
                }) = check.as_deref_mut()
                {
                    // Checked chunks are whole tiles (`extend_checked_chunk`).
                    gf128::scale_add(sums, tile_columns, gammas.block());
                }
                load_transposed(&mut tile, tile_columns);
                let base = out_start + 128 * (first + k);
                let end = (base + 128).min(out_start + m);
                out.extend(tile[..end - base].iter().map(|v| Block::new(*v)));
                if let Some(PendingCheck {
                    sums: Sums::Rows { chi, sum },
                    ..
                }) = check.as_deref_mut()
                {
                    *sum = gf128::mul(*sum, chi.alpha) ^ gf128::dot(&out[base..end], &chi.beta);
                }
            }
        }
        q.zeroize();
        tile.zeroize();
        Ok(())
    }
}
