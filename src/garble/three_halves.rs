//! Three-halves garbling: Rosulek and Roy, "Three Halves Make a Whole? Beating the Half-Gates
//! Lower Bound for Garbled Circuits" (CRYPTO 2021, eprint 2021/749), the scheme of §5 (Fig. 5,
//! "slicing and dicing"), with free-XOR unchanged.
//!
//! Labels are sliced into halves, `A = (A_L, A_R)` with `A_L` the low 64 bits (which hold the
//! colour bit, `lsb(Delta) = 1` as everywhere). An AND gate sends three half-ciphertexts
//! `G0, G1, G2` and five control bits `z`: 1.5 kappa + 5 bits, 24.625 bytes per gate packed as
//! 128 gates in 197 blocks. The evaluator, holding `A`, `B` with colours `i = lsb(A)`,
//! `j = lsb(B)`, `k = i ^ j`, hashes `A`, `B` and `A ^ B` under three tweaks of the gate
//! (`H` is the TCCR hash of [`crate::aes`]: the paper's proof asks for a circular correlation-
//! robust hash with a unique tweak per call, §3, which TCCR with distinct tweaks is; a hash
//! output gives the low 64 bits as the half and bit 127 as the control-bit mask) and computes
//!
//! - the dicing bits `r0 = z0 ^ i z2 ^ k z4 ^ m(A) ^ m(A^B)`, `r1 = z1 ^ j z3 ^ k z4 ^ m(B) ^
//!   m(A^B)` (`m` the mask bit of a hash);
//! - the 2x4 matrix `R = Rp[i][j] ^ r0 S1 ^ r1 S2` over GF(2);
//! - `C_L = i G0 ^ k G2 ^ h(A) ^ h(A^B) ^ R[0] . (A_L, A_R, B_L, B_R)`,
//!   `C_R = j G1 ^ k G2 ^ h(B) ^ h(A^B) ^ R[1] . (A_L, A_R, B_L, B_R)`
//!
//! (the row `V_ij = (1 0 i 0 k ; 0 1 0 j k)` of the paper's decoding matrix applied to the
//! hashes and ciphertexts). `Rp`, `S1` and `S2` are the paper's matrices (its `R_p` for the four
//! colour pairs and the two basis matrices of the random part `R_$`).
//!
//! The garbler knows both labels of every wire and the colour-to-value map (`alpha = lsb(A0)`,
//! `beta = lsb(B0)`, so colour `i` means value `i ^ alpha`). It draws two random bits per gate
//! for `R_$`, sets `z2 = !alpha ^ m(A^0) ^ m(A^1)`, `z3 = !beta ^ m(B^0) ^ m(B^1)`,
//! `z4 = !alpha ^ !beta ^ m(AB^0) ^ m(AB^1)`, `z0 = rand0 ^ m(A^0) ^ m(AB^0)`,
//! `z1 = rand1 ^ m(B^0) ^ m(AB^0)` (`A^c` the label of colour `c`), so that the evaluator's
//! `r0, r1` are `rand0 ^ i !alpha ^ k (!alpha ^ !beta)` and `rand1 ^ j !beta ^ k (!alpha ^ !beta)`
//! whatever labels it holds. It then fixes the output zero-label `C0` by the colour pair (0, 0)
//! and solves the evaluator's equations of pairs (1, 1) and (1, 0) for `G0`, `G1` and `G2`, so
//! that every pair decodes to `C0 ^ (a AND b) Delta`; the three remaining equations hold by the
//! paper's choice of `Rp`, `S1`, `S2` (the tests check all four pairs on every gate kind and on
//! random circuits). Every choice on a secret bit is a mask, never a branch or an index.
//!
//! About 880 lines, tests included: the three-halves garbler and evaluator share the slicing
//! matrices and control-bit tables of Rosulek and Roy's scheme, which must stay in step.

use crate::aes::{Aes, Tweaks};
use crate::block::Block;
use crate::compile::SlotGate;

/// Tweaks (hash counters) per AND gate: `A`, `B` and `A ^ B`.
pub const TWEAKS_PER_GATE: u64 = 3;
/// Gates per packed group.
pub const GROUP: usize = 128;
/// Blocks per full group: 3 halves a gate (192 blocks), then 5 control bits a gate (5 blocks).
pub const GROUP_BLOCKS: usize = 197;

/// The two basis matrices of the random part `R_$`: row 0 in bits 0..4 (coefficients of `A_L`,
/// `A_R`, `B_L`, `B_R`), row 1 in bits 4..8. (`Rp`, the fixed part, has a 1 only at row 0 /
/// `B_L` for colour pairs (0, 0) and (0, 1) and at row 1 / `A_R` for (0, 0) and (1, 0).)
const S1: u8 = 0b1001_0111;
const S2: u8 = 0b1110_1001;

/// Blocks of tables for `gates` AND gates: full groups, then the halves and the control bits of
/// the last, partial group.
pub fn blocks_for(gates: usize) -> usize {
    let (full, rest) = (gates / GROUP, gates % GROUP);
    full * GROUP_BLOCKS + (3 * rest).div_ceil(2) + (5 * rest).div_ceil(128)
}

/// The number of gates whose tables fill at most `blocks` blocks, in whole groups (the protocol
/// sends whole groups except at the end of a run).
pub fn gates_in(blocks: usize) -> usize {
    blocks / GROUP_BLOCKS * GROUP
}

#[inline(always)]
fn lo(b: Block) -> u64 {
    b.0 as u64
}

#[inline(always)]
fn hi(b: Block) -> u64 {
    (b.0 >> 64) as u64
}

/// The mask bit of a hash output (bit 127; the half uses bits 0..64).
#[inline(always)]
fn m(b: Block) -> u8 {
    (b.0 >> 127) as u8
}

#[inline(always)]
fn mask64(bit: u8) -> u64 {
    u64::from(bit & 1).wrapping_neg()
}

/// Row `row` (0 or 1) of a 2x4 matrix times `(A_L, A_R, B_L, B_R)` (for a constant matrix,
/// after inlining, plain XORs).
#[inline(always)]
fn dot(r: u8, row: u32, y: &[u64; 4]) -> u64 {
    let bits = r >> (4 * row);
    (y[0] & mask64(bits))
        ^ (y[1] & mask64(bits >> 1))
        ^ (y[2] & mask64(bits >> 2))
        ^ (y[3] & mask64(bits >> 3))
}

/// One gate's tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tables {
    /// The half-ciphertexts.
    pub g: [u64; 3],
    /// The control bits z0..z4 in bits 0..5.
    pub z: u8,
}

/// Garbles one gate from the six hashes in colour order: `h[c]` = H(A of colour c, t0),
/// `h[2 + c]` = H(B of colour c, t1), `h[4 + c]` = H(A^B of colour c, t2). Returns the output
/// zero-label and the tables.
///
/// The formulas are the evaluator's equations solved once by hand. With `P, Q, U, V` the halves
/// of the colour-0 labels `A^0 = (P, Q)`, `B^0 = (U, V)`, `(dL, dR)` those of Delta, the
/// evaluator's `R` for colour pair (i, j) uses `er0 = r0 ^ i !a ^ k (!a ^ !b)` and
/// `er1 = r1 ^ j !b ^ k (!a ^ !b)`; `S1 . y = (y0^y1^y2, y0^y3)`, `S2 . y = (y0^y3, y1^y2^y3)`,
/// and `Rp` contributes `y2` to row 0 at (0, 0) and `y1` to row 1 at (0, 0) and (1, 0):
///
/// - (0, 0), values (a, b), `y = (P, Q, U, V)`, `er = (r0, r1)`: `C0_L = hA0 ^ hAB0 ^ U ^
///   r0 (P^Q^U) ^ r1 (P^V) ^ ab dL`, `C0_R = hB0 ^ hAB0 ^ Q ^ r0 (P^V) ^ r1 (Q^U^V) ^ ab dR`;
/// - (1, 1), values (!a, !b), `y = (P^dL, Q^dR, U^dL, V^dR)`, `er = (r0^!a, r1^!b)`:
///   `G0 = C0_L ^ !a!b dL ^ hA1 ^ hAB0 ^ (r0^!a)(P^Q^U^dR) ^ (r1^!b)(P^V^dL^dR)`,
///   `G1 = C0_R ^ !a!b dR ^ hB1 ^ hAB0 ^ (r0^!a)(P^V^dL^dR) ^ (r1^!b)(Q^U^V^dL)`;
/// - (1, 0), values (!a, b), `y = (P^dL, Q^dR, U, V)`, `er = (r0^!b, r1^!a^!b)`:
///   `G2 = C0_R ^ !a b dR ^ hB0 ^ hAB1 ^ Q ^ dR ^ (r0^!b)(P^V^dL) ^ (r1^!a^!b)(Q^U^V^dR)`.
///
/// The reference garbler (`reference::garble_three_halves`) solves the same equations by
/// running the evaluator, and the tests hold the two to the same tables.
#[inline(always)]
pub fn garble_gate(a0: Block, b0: Block, d: Block, h: &[Block; 6], rand: u8) -> (Block, Tables) {
    let (alpha, beta) = (u64::from(a0.lsb()), u64::from(b0.lsb()));
    let (na, nb) = (alpha ^ 1, beta ^ 1);
    let (dl, dr) = (lo(d), hi(d));
    let m = |bit: u64| bit.wrapping_neg();
    let (ma, mb) = (m(alpha), m(beta));
    let (p, q) = (lo(a0) ^ (dl & ma), hi(a0) ^ (dr & ma));
    let (u, v) = (lo(b0) ^ (dl & mb), hi(b0) ^ (dr & mb));
    let (r0, r1) = (u64::from(rand & 1), u64::from((rand >> 1) & 1));
    let (pqu, pv, quv) = (p ^ q ^ u, p ^ v, q ^ u ^ v);
    let (ha0, ha1, hb0, hb1, hab0, hab1) =
        (lo(h[0]), lo(h[1]), lo(h[2]), lo(h[3]), lo(h[4]), lo(h[5]));
    let c0l = ha0 ^ hab0 ^ u ^ (pqu & m(r0)) ^ (pv & m(r1)) ^ (dl & m(alpha & beta));
    let c0r = hb0 ^ hab0 ^ q ^ (pv & m(r0)) ^ (quv & m(r1)) ^ (dr & m(alpha & beta));
    let (e0, e1) = (m(r0 ^ na), m(r1 ^ nb));
    let g0 = c0l ^ (dl & m(na & nb)) ^ ha1 ^ hab0 ^ ((pqu ^ dr) & e0) ^ ((pv ^ dl ^ dr) & e1);
    let g1 = c0r ^ (dr & m(na & nb)) ^ hb1 ^ hab0 ^ ((pv ^ dl ^ dr) & e0) ^ ((quv ^ dl) & e1);
    let g2 = c0r
        ^ (dr & m(na & beta))
        ^ hb0
        ^ hab1
        ^ q
        ^ dr
        ^ ((pv ^ dl) & m(r0 ^ nb))
        ^ ((quv ^ dr) & m(r1 ^ na ^ nb));
    let bit = |b: Block| (b.0 >> 127) as u8;
    let (r0, r1, na, nb) = (r0 as u8, r1 as u8, na as u8, nb as u8);
    let z = (r0 ^ bit(h[0]) ^ bit(h[4]))
        | (r1 ^ bit(h[2]) ^ bit(h[4])) << 1
        | (na ^ bit(h[0]) ^ bit(h[1])) << 2
        | (nb ^ bit(h[2]) ^ bit(h[3])) << 3
        | (na ^ nb ^ bit(h[4]) ^ bit(h[5])) << 4;
    (Block::from_halves(c0r, c0l), Tables { g: [g0, g1, g2], z })
}

/// Evaluates one gate from the hashes `hA`, `hB`, `hAB` of the labels held.
#[inline(always)]
pub fn eval_gate(a: Block, b: Block, ha: Block, hb: Block, hab: Block, t: &Tables) -> Block {
    let (i, j) = (a.lsb() as u8, b.lsb() as u8);
    let k = i ^ j;
    let z = t.z;
    let r0 = z ^ (i & (z >> 2)) ^ (k & (z >> 4)) ^ m(ha) ^ m(hab);
    let r1 = (z >> 1) ^ (j & (z >> 3)) ^ (k & (z >> 4)) ^ m(hb) ^ m(hab);
    let y = [lo(a), hi(a), lo(b), hi(b)];
    // R = Rp[i][j] ^ r0 S1 ^ r1 S2: Rp's nonzero entries are the B_L coefficient of row 0 when
    // i = 0 and the A_R coefficient of row 1 when j = 0; S1 and S2 are constant.
    let (m0, m1) = (mask64(r0), mask64(r1));
    let rl = (y[2] & mask64(i ^ 1)) ^ (dot(S1, 0, &y) & m0) ^ (dot(S2, 0, &y) & m1);
    let rr = (y[1] & mask64(j ^ 1)) ^ (dot(S1, 1, &y) & m0) ^ (dot(S2, 1, &y) & m1);
    let cl = (t.g[0] & mask64(i)) ^ (t.g[2] & mask64(k)) ^ lo(ha) ^ lo(hab) ^ rl;
    let cr = (t.g[1] & mask64(j)) ^ (t.g[2] & mask64(k)) ^ lo(hb) ^ lo(hab) ^ rr;
    Block::from_halves(cr, cl)
}

/// Writes the tables of gate `w` (0-based in a run of `n` gates starting at a group boundary)
/// into `out`, which holds [`blocks_for`]`(n)` blocks.
pub fn put(out: &mut [Block], n: usize, w: usize, t: &Tables) {
    let base = w / GROUP * GROUP_BLOCKS;
    let in_group = (n - w / GROUP * GROUP).min(GROUP);
    let x = w % GROUP;
    for (s, &g) in t.g.iter().enumerate() {
        let half = 3 * x + s;
        let block = &mut out[base + half / 2];
        let shift = 64 * (half % 2);
        block.0 = (block.0 & !(u128::from(u64::MAX) << shift)) | (u128::from(g) << shift);
    }
    let bits_at = base + (3 * in_group).div_ceil(2);
    for s in 0..5 {
        let bit = 5 * x + s;
        let block = &mut out[bits_at + bit / 128];
        let shift = bit % 128;
        block.0 = (block.0 & !(1u128 << shift)) | (u128::from((t.z >> s) & 1) << shift);
    }
}

/// Reads the tables of gate `w` of a run of `n` gates (see [`put`]).
pub fn get(tables: &[Block], n: usize, w: usize) -> Tables {
    let base = w / GROUP * GROUP_BLOCKS;
    let in_group = (n - w / GROUP * GROUP).min(GROUP);
    let x = w % GROUP;
    let mut t = Tables::default();
    for s in 0..3 {
        let half = 3 * x + s;
        t.g[s] = (tables[base + half / 2].0 >> (64 * (half % 2))) as u64;
    }
    let bits_at = base + (3 * in_group).div_ceil(2);
    for s in 0..5 {
        let bit = 5 * x + s;
        t.z |= (((tables[bits_at + bit / 128].0 >> (bit % 128)) & 1) as u8) << s;
    }
    t
}

/// The tables of a call's gates before packing (garbler) or after unpacking (evaluator): three
/// halves per gate, gate after gate, and the five control bits of each gate in a byte. The
/// batched kernels read and write these flat arrays; [`Staged::pack`] and [`Staged::unpack`]
/// convert to and from the wire layout of [`put`].
#[derive(Debug, Default)]
pub(crate) struct Staged {
    pub(crate) halves: Vec<u64>,
    pub(crate) z: Vec<u8>,
}

impl Staged {
    /// Room for `n` gates (contents unspecified until written).
    pub(crate) fn reset(&mut self, n: usize) {
        self.halves.clear();
        self.halves.resize(3 * n, 0);
        self.z.clear();
        self.z.resize(n, 0);
    }

    /// Packs the first `n` gates (a run starting at a group boundary) into `out`, which holds
    /// [`blocks_for`]`(n)` blocks: the layout of [`put`], a group at a time. Two gates' halves
    /// fill three blocks in order, so the halves are copied as they are.
    pub(crate) fn pack(&self, n: usize, out: &mut [Block]) {
        for (q, (halves, z)) in self.halves[..3 * n]
            .chunks(3 * GROUP)
            .zip(self.z[..n].chunks(GROUP))
            .enumerate()
        {
            let base = q * GROUP_BLOCKS;
            let m = z.len();
            let blocks = (3 * m).div_ceil(2);
            let (hb, rest) = out[base..].split_at_mut(blocks);
            let pairs = halves.chunks_exact(2);
            if let [last] = pairs.remainder() {
                hb[blocks - 1] = Block::from_halves(0, *last);
            }
            for (b, pair) in hb.iter_mut().zip(pairs) {
                *b = Block::from_halves(pair[1], pair[0]);
            }
            let mut words = [0u128; 5];
            for (x, &bits) in z.iter().enumerate() {
                let (w, s) = ((5 * x) / 128, (5 * x) % 128);
                let v = u128::from(bits & 31);
                words[w] |= v << s;
                if s > 123 {
                    words[w + 1] |= v >> (128 - s);
                }
            }
            for (b, w) in rest[..(5 * m).div_ceil(128)].iter_mut().zip(words) {
                *b = Block(w);
            }
        }
    }

    /// Unpacks what [`Staged::pack`] wrote for `n` gates.
    pub(crate) fn unpack(&mut self, packed: &[Block], n: usize) {
        self.halves.clear();
        self.z.clear();
        let mut base = 0;
        for m in (0..n).step_by(GROUP).map(|at| (n - at).min(GROUP)) {
            let blocks = (3 * m).div_ceil(2);
            let done = self.halves.len();
            self.halves.extend(
                packed[base..base + blocks]
                    .iter()
                    .flat_map(|b| [b.0 as u64, (b.0 >> 64) as u64]),
            );
            // An odd count of halves: the last block's high half is padding.
            self.halves.truncate(done + 3 * m);
            let bits = &packed[base + blocks..base + blocks + (5 * m).div_ceil(128)];
            let mut words = [0u128; 6];
            for (w, b) in words.iter_mut().zip(bits) {
                *w = b.0;
            }
            self.z.extend((0..m).map(|x| {
                let (w, s) = ((5 * x) / 128, (5 * x) % 128);
                let mut v = words[w] >> s;
                if s > 123 {
                    v |= words[w + 1] << (128 - s);
                }
                (v & 31) as u8
            }));
            base += GROUP_BLOCKS;
        }
    }

    /// Overwrites the contents (the garbler's drop).
    pub(crate) fn wipe(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.halves);
        zeroize::Zeroize::zeroize(&mut self.z);
    }
}

/// Garbles a chunk of at most [`super::CHUNK`] independent AND gates: hashes the six labels of
/// every gate in one batch, then combines. `rand[k]` holds gate `k`'s two random bits; the
/// tables go to `halves` (three per gate) and `z`, the output zero-labels to `outs`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn garble_chunk(
    aes: &Aes,
    scratch: &mut [Block],
    labels: &[Block],
    chunk: &[SlotGate],
    d: Block,
    tweaks: Tweaks,
    rand: &[u8],
    outs: &mut [Block],
    halves: &mut [u64],
    z: &mut [u8],
) {
    let scratch = &mut scratch[..6 * chunk.len()];
    for (g, s) in chunk.iter().zip(scratch.chunks_exact_mut(6)) {
        let (a0, b0) = (labels[g.a as usize], labels[g.b as usize]);
        // Colour order: the label of colour c at position c. The colour-0 label of `A ^ B` is
        // the sum of those of `A` and `B`.
        let (ac, bc) = (a0 ^ d.select(a0.lsb()), b0 ^ d.select(b0.lsb()));
        s[0] = ac;
        s[1] = ac ^ d;
        s[2] = bc;
        s[3] = bc ^ d;
        s[4] = ac ^ bc;
        s[5] = ac ^ bc ^ d;
    }
    aes.tccr(scratch, Tweaks { shift: 1, ..tweaks });
    #[cfg(target_arch = "x86_64")]
    sse::garble_combine(labels, chunk, d, scratch, rand, outs, halves, z);
    #[cfg(not(target_arch = "x86_64"))]
    for (k, (g, h)) in chunk.iter().zip(scratch.chunks_exact(6)).enumerate() {
        let h: &[Block; 6] = h.try_into().expect("six hashes");
        let (c, tab) = garble_gate(labels[g.a as usize], labels[g.b as usize], d, h, rand[k]);
        outs[k] = c;
        halves[3 * k..3 * k + 3].copy_from_slice(&tab.g);
        z[k] = tab.z;
    }
}

/// Evaluates a chunk of at most [`super::CHUNK`] gates: the three hashes of every gate in one
/// batch, then the decoding with the tables `halves` (three per gate) and `z`.
pub(crate) fn eval_chunk(
    aes: &Aes,
    scratch: &mut [Block],
    labels: &[Block],
    chunk: &[SlotGate],
    tweaks: Tweaks,
    (halves, z): (&[u64], &[u8]),
    outs: &mut [Block],
) {
    let scratch = &mut scratch[..3 * chunk.len()];
    for (g, s) in chunk.iter().zip(scratch.chunks_exact_mut(3)) {
        let (a, b) = (labels[g.a as usize], labels[g.b as usize]);
        s[0] = a;
        s[1] = b;
        s[2] = a ^ b;
    }
    aes.tccr(scratch, Tweaks { shift: 0, ..tweaks });
    #[cfg(target_arch = "x86_64")]
    sse::eval_combine(labels, chunk, scratch, halves, z, outs);
    #[cfg(not(target_arch = "x86_64"))]
    for (k, (g, h)) in chunk.iter().zip(scratch.chunks_exact(3)).enumerate() {
        let t = Tables {
            g: [halves[3 * k], halves[3 * k + 1], halves[3 * k + 2]],
            z: z[k],
        };
        outs[k] = eval_gate(
            labels[g.a as usize],
            labels[g.b as usize],
            h[0],
            h[1],
            h[2],
            &t,
        );
    }
}

/// The garbler's and the evaluator's per-gate formulas ([`garble_gate`], [`eval_gate`]) on
/// 128-bit registers: a label's halves `(L, R)` sit in the two lanes of one register, so the
/// rows of the matrices `S1`, `S2` and `Rp` become lane shuffles and each formula one vector
/// expression for both halves (the scalar versions handle 64 bits at a time). Masks come from the
/// bits by negation; nothing branches on a secret bit.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // SSE2 intrinsics (the x86-64 baseline: no run-time check needed)
mod sse {
    use super::{Block, SlotGate};
    use core::arch::x86_64::*;

    #[inline(always)]
    fn ld(b: &Block) -> __m128i {
        // SAFETY: a `Block` is 16 aligned bytes.
        unsafe { _mm_load_si128(b as *const Block as *const __m128i) }
    }

    /// Masks (all ones or zero in both lanes) from bits 0 and 1 of `r`.
    #[inline(always)]
    fn bit_masks(r: u8) -> (__m128i, __m128i) {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe {
            let rv = _mm_cvtsi32_si128(i32::from(r));
            (
                _mm_shuffle_epi32(_mm_srai_epi32(_mm_slli_epi32(rv, 31), 31), 0),
                _mm_shuffle_epi32(_mm_srai_epi32(_mm_slli_epi32(rv, 30), 31), 0),
            )
        }
    }

    /// The two halves swapped.
    #[inline(always)]
    fn swap(x: __m128i) -> __m128i {
        // SAFETY: as above.
        unsafe { _mm_shuffle_epi32(x, 0x4e) }
    }

    #[inline(always)]
    fn xor(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: as above.
        unsafe { _mm_xor_si128(a, b) }
    }

    #[inline(always)]
    fn and(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: as above.
        unsafe { _mm_and_si128(a, b) }
    }

    #[inline(always)]
    fn low_lanes(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: as above.
        unsafe { _mm_unpacklo_epi64(a, b) }
    }

    #[inline(always)]
    fn low64(x: __m128i) -> u64 {
        // SAFETY: as above.
        unsafe { _mm_cvtsi128_si64(x) as u64 }
    }

    /// Bit 127 (a hash's mask bit).
    #[inline(always)]
    fn top(x: __m128i) -> u64 {
        // SAFETY: as above.
        unsafe { (_mm_movemask_pd(_mm_castsi128_pd(x)) as u64) >> 1 }
    }

    /// `S1 . y` and `S2 . y` for `y = (A_L, A_R, B_L, B_R)`, as (row 0, row 1) lane pairs:
    /// `(A_L^A_R^B_L, A_L^B_R)` and `(A_L^B_R, A_R^B_L^B_R)`.
    #[inline(always)]
    fn s1_s2(a: __m128i, b: __m128i) -> (__m128i, __m128i) {
        let x = xor(a, swap(b)); // (A_L^B_R, A_R^B_L)
        // SAFETY: as above.
        let (a_low, b_high) =
            unsafe { (_mm_move_epi64(a), _mm_and_si128(b, _mm_set_epi64x(-1, 0))) };
        (xor(swap(x), a_low), xor(x, b_high))
    }

    /// All ones in both lanes if the low bit of `x` is set (a label's colour), else zero.
    #[inline(always)]
    fn colour_mask(x: __m128i) -> __m128i {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { _mm_shuffle_epi32(_mm_srai_epi32(_mm_slli_epi32(x, 31), 31), 0) }
    }

    /// `!m & x`.
    #[inline(always)]
    fn andnot(m: __m128i, x: __m128i) -> __m128i {
        // SAFETY: as above.
        unsafe { _mm_andnot_si128(m, x) }
    }

    /// The garbler's constants of a session's Delta: `D`, `(dR, dL^dR)`, `(dL^dR, dL)` and
    /// `(0, dL)`, the Delta terms of the (1, 1) and (1, 0) equations.
    #[derive(Clone, Copy)]
    struct GarbleConsts {
        d: __m128i,
        k1: __m128i,
        k2: __m128i,
        d_high: __m128i,
    }

    impl GarbleConsts {
        fn new(d: Block) -> Self {
            let (dl, dr) = (d.0 as u64, (d.0 >> 64) as u64);
            // SAFETY: SSE2 is part of the x86-64 baseline.
            unsafe {
                let dv = ld(&d);
                GarbleConsts {
                    d: dv,
                    k1: _mm_set_epi64x((dl ^ dr) as i64, dr as i64),
                    k2: _mm_set_epi64x(dl as i64, (dl ^ dr) as i64),
                    d_high: _mm_slli_si128(dv, 8),
                }
            }
        }
    }

    /// [`super::garble_gate`] for one gate with zero-labels `a0`, `b0`, its six hashes in colour
    /// order and its random bits `r`: returns the output zero-label, `(G0, G1)` in one register,
    /// `G2` and the control bits. Every mask is derived from four: `MA`, `MB` (the colours of
    /// the zero-labels, i.e. `alpha`, `beta`) and `R0`, `R1` (the random bits), e.g.
    /// `mask(r0 ^ !alpha) = !(R0 ^ MA)`.
    #[inline(always)]
    fn garble_one(
        c: &GarbleConsts,
        a0: __m128i,
        b0: __m128i,
        h: [__m128i; 6],
        r: u8,
    ) -> (__m128i, __m128i, u64, u8) {
        let dv = c.d;
        let (r0, r1) = bit_masks(r);
        let (ma, mb) = (colour_mask(a0), colour_mask(b0));
        // The colour-0 labels (P, Q) and (U, V).
        let a = xor(a0, and(dv, ma));
        let b = xor(b0, and(dv, mb));
        let (s1, s2) = s1_s2(a, b);
        let hab0 = low_lanes(h[4], h[4]);
        // (U, Q): the fixed part Rp at colour pair (0, 0).
        let uq = low_lanes(b, swap(a));
        // SAFETY (for the block): SSE2 is part of the x86-64 baseline.
        unsafe {
            let c0 = xor(
                xor(xor(low_lanes(h[0], h[2]), hab0), uq),
                xor(xor(and(s1, r0), and(s2, r1)), and(dv, and(ma, mb))),
            );
            let g01 = xor(
                xor(
                    xor(c0, andnot(_mm_or_si128(ma, mb), dv)),
                    xor(low_lanes(h[1], h[3]), hab0),
                ),
                xor(
                    andnot(xor(r0, ma), xor(s1, c.k1)),
                    andnot(xor(r1, mb), xor(s2, c.k2)),
                ),
            );
            // G2 in the high lane: C0_R ^ !a b dR ^ hB0 ^ hAB1 ^ Q ^ dR ^ ...
            let g2 = xor(
                xor(
                    xor(c0, andnot(ma, and(mb, dv))),
                    xor(_mm_slli_si128(xor(h[2], h[5]), 8), xor(a, dv)),
                ),
                xor(
                    andnot(xor(r0, mb), xor(s1, c.d_high)),
                    and(xor(xor(r1, ma), mb), xor(s2, dv)),
                ),
            );
            // The hashes' mask bits, two at a time: (m0, m2), (m1, m3), (m4, m5).
            let top2 = |x: __m128i, y: __m128i| {
                _mm_movemask_pd(_mm_castsi128_pd(_mm_unpackhi_epi64(x, y))) as u8
            };
            let (p02, p13, p45) = (top2(h[0], h[2]), top2(h[1], h[3]), top2(h[4], h[5]));
            // (!alpha, !beta) as two bits.
            let nab = (_mm_movemask_pd(_mm_castsi128_pd(_mm_unpacklo_epi64(
                _mm_slli_epi64(a0, 63),
                _mm_slli_epi64(b0, 63),
            ))) as u8)
                ^ 3;
            let z = ((r ^ p02 ^ ((p45 & 1) * 3)) & 3)
                | ((nab ^ p02 ^ p13) & 3) << 2
                | ((nab ^ (nab >> 1) ^ p45 ^ (p45 >> 1)) & 1) << 4;
            (c0, g01, low64(swap(g2)), z)
        }
    }

    /// Writes `(G0, G1)` and `G2` to a gate's three halves.
    #[inline(always)]
    fn put_halves(t: &mut [u64], g01: __m128i, g2: u64) {
        let t = &mut t[..3];
        // SAFETY: `t` holds three u64, the first two 16 writable bytes.
        unsafe { _mm_storeu_si128(t.as_mut_ptr() as *mut __m128i, g01) };
        t[2] = g2;
    }

    /// [`super::garble_gate`] for every gate of a chunk, from the six hashes per gate in
    /// `hashes`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn garble_combine(
        labels: &[Block],
        chunk: &[SlotGate],
        d: Block,
        hashes: &[Block],
        rand: &[u8],
        outs: &mut [Block],
        halves: &mut [u64],
        z: &mut [u8],
    ) {
        let n = chunk.len();
        let (hashes, rand, outs) = (&hashes[..6 * n], &rand[..n], &mut outs[..n]);
        let (halves, z) = (&mut halves[..3 * n], &mut z[..n]);
        let consts = GarbleConsts::new(d);
        for (((((g, h), t), out), zk), &r) in chunk
            .iter()
            .zip(hashes.chunks_exact(6))
            .zip(halves.chunks_exact_mut(3))
            .zip(outs.iter_mut())
            .zip(z.iter_mut())
            .zip(rand)
        {
            let h = [
                ld(&h[0]),
                ld(&h[1]),
                ld(&h[2]),
                ld(&h[3]),
                ld(&h[4]),
                ld(&h[5]),
            ];
            let (a0, b0) = (ld(&labels[g.a as usize]), ld(&labels[g.b as usize]));
            let (c0, g01, g2, bits) = garble_one(&consts, a0, b0, h, r);
            st(out, c0);
            put_halves(t, g01, g2);
            *zk = bits;
        }
    }

    /// Stores a register into a block.
    #[inline(always)]
    fn st(b: &mut Block, v: __m128i) {
        // SAFETY: a `Block` is 16 aligned writable bytes.
        unsafe { _mm_store_si128(b as *mut Block as *mut __m128i, v) }
    }

    /// [`super::eval_gate`] for one gate: labels `a`, `b`, hashes `ha`, `hb`, `hab`, the
    /// gate's three halves and control bits.
    #[inline(always)]
    fn eval_one(a: __m128i, b: __m128i, [ha, hb, hab]: [__m128i; 3], t: &[u64], zz: u8) -> __m128i {
        let t = &t[..3];
        // SAFETY (for the block): SSE2 is part of the x86-64 baseline; `t` holds 24 bytes.
        unsafe {
            // The colours (i, j) and the hashes' mask bits (m(hA), m(hB)), two bits each.
            let ij = _mm_movemask_pd(_mm_castsi128_pd(_mm_unpacklo_epi64(
                _mm_slli_epi64(a, 63),
                _mm_slli_epi64(b, 63),
            ))) as u8;
            let m = _mm_movemask_pd(_mm_castsi128_pd(_mm_unpackhi_epi64(ha, hb))) as u8;
            let mab = top(hab) as u8;
            let kz4 = (ij ^ (ij >> 1)) & (zz >> 4) & 1;
            // (r0, r1) = (z0, z1) ^ (i z2, j z3) ^ k z4 ^ (m(hA), m(hB)) ^ m(hAB).
            let r = (zz ^ (ij & (zz >> 2)) ^ m ^ ((kz4 ^ mab) * 3)) & 3;
            let (r0, r1) = bit_masks(r);
            let (mi, mj) = (colour_mask(a), colour_mask(b));
            let (s1, s2) = s1_s2(a, b);
            // (i, j) as lane masks; Rp: B_L in row 0 when i = 0, A_R in row 1 when j = 0.
            let lanes = low_lanes(mi, mj);
            let rp = andnot(lanes, low_lanes(b, swap(a)));
            let g01 = _mm_loadu_si128(t.as_ptr() as *const __m128i);
            let g2 = _mm_set1_epi64x(t[2] as i64);
            xor(
                xor(
                    xor(and(g01, lanes), and(g2, xor(mi, mj))),
                    xor(low_lanes(ha, hb), low_lanes(hab, hab)),
                ),
                xor(rp, xor(and(s1, r0), and(s2, r1))),
            )
        }
    }

    /// [`super::eval_gate`] for every gate of a chunk, from the three hashes per gate in
    /// `hashes`.
    pub(super) fn eval_combine(
        labels: &[Block],
        chunk: &[SlotGate],
        hashes: &[Block],
        halves: &[u64],
        z: &[u8],
        outs: &mut [Block],
    ) {
        let n = chunk.len();
        let (hashes, halves, z) = (&hashes[..3 * n], &halves[..3 * n], &z[..n]);
        for ((((g, h), t), &zz), out) in chunk
            .iter()
            .zip(hashes.chunks_exact(3))
            .zip(halves.chunks_exact(3))
            .zip(z)
            .zip(outs[..n].iter_mut())
        {
            let (a, b) = (ld(&labels[g.a as usize]), ld(&labels[g.b as usize]));
            let c = eval_one(a, b, [ld(&h[0]), ld(&h[1]), ld(&h[2])], t, zz);
            st(out, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aes::Prg;

    /// Every colour pair decodes to `C0 ^ (a AND b) Delta`, for every colour-to-value map and
    /// random bits, through the packed tables.
    #[test]
    fn all_four_input_pairs_decode() {
        let mut prg = Prg::from_seed([3; 16]);
        let aes = Aes::fixed();
        for trial in 0..2000u64 {
            let d = Block(prg.block().0 | 1);
            let (a0, b0) = (prg.block(), prg.block());
            let tw = |c: u64| Block::from_halves(9, 3 * trial + c);
            let mut h = [Block::ZERO; 6];
            for c in 0..2 {
                let a = a0 ^ d.select((c as u8 ^ a0.lsb() as u8) == 1);
                let b = b0 ^ d.select((c as u8 ^ b0.lsb() as u8) == 1);
                let ab = a0 ^ b0 ^ d.select((c as u8 ^ (a0 ^ b0).lsb() as u8) == 1);
                h[c] = aes.tccr_one(a, tw(0));
                h[2 + c] = aes.tccr_one(b, tw(1));
                h[4 + c] = aes.tccr_one(ab, tw(2));
            }
            let (c0, t) = garble_gate(a0, b0, d, &h, (trial % 4) as u8);
            let mut packed = vec![Block::ZERO; blocks_for(1)];
            put(&mut packed, 1, 0, &t);
            let t = get(&packed, 1, 0);
            for (va, vb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = a0 ^ d.select(va);
                let b = b0 ^ d.select(vb);
                let c = eval_gate(
                    a,
                    b,
                    aes.tccr_one(a, tw(0)),
                    aes.tccr_one(b, tw(1)),
                    aes.tccr_one(a ^ b, tw(2)),
                    &t,
                );
                assert_eq!(c, c0 ^ d.select(va & vb), "trial {trial}, inputs {va} {vb}");
            }
        }
    }

    /// The chunk functions (SSE2 on x86-64) give the per-gate formulas' labels and tables, for
    /// every chunk length up to a full chunk.
    #[test]
    fn chunks_equal_the_per_gate_formulas() {
        let mut prg = Prg::from_seed([5; 16]);
        let aes = Aes::fixed();
        let d = Block(prg.block().0 | 1);
        let mut labels = vec![Block::ZERO; 64];
        prg.fill(&mut labels);
        let tweaks = Tweaks {
            nonce: 17,
            first: 300,
            shift: 0,
        };
        for n in [1usize, 2, 7, 64, super::super::CHUNK] {
            let chunk: Vec<SlotGate> = (0..n as u32)
                .map(|k| SlotGate {
                    a: (k * 7) % 64,
                    b: (k * 13 + 5) % 64,
                    out: 0,
                })
                .collect();
            let rand: Vec<u8> = (0..n).map(|k| (k * 5 % 4) as u8).collect();
            let mut scratch = vec![Block::ZERO; 6 * n];
            let (mut outs, mut halves, mut z) = (vec![Block::ZERO; n], vec![0; 3 * n], vec![0; n]);
            garble_chunk(
                aes,
                &mut scratch,
                &labels,
                &chunk,
                d,
                tweaks,
                &rand,
                &mut outs,
                &mut halves,
                &mut z,
            );
            // The evaluator holds the label of value 1 on every third slot, 0 elsewhere.
            let active: Vec<Block> = labels
                .iter()
                .enumerate()
                .map(|(s, &l)| l ^ d.select(s % 3 == 1))
                .collect();
            let mut eval_outs = vec![Block::ZERO; n];
            eval_chunk(
                aes,
                &mut scratch,
                &active,
                &chunk,
                tweaks,
                (&halves, &z),
                &mut eval_outs,
            );
            for (k, g) in chunk.iter().enumerate() {
                let (a0, b0) = (labels[g.a as usize], labels[g.b as usize]);
                let t = |c: u64| Block::from_halves(17, 300 + 3 * k as u64 + c);
                let mut h = [Block::ZERO; 6];
                for c in 0..2u64 {
                    let col = |x: Block| x ^ d.select(x.lsb() ^ (c == 1));
                    h[c as usize] = aes.tccr_one(col(a0), t(0));
                    h[2 + c as usize] = aes.tccr_one(col(b0), t(1));
                    h[4 + c as usize] = aes.tccr_one(col(a0 ^ b0), t(2));
                }
                let (c0, tab) = garble_gate(a0, b0, d, &h, rand[k]);
                assert_eq!(outs[k], c0, "n {n}, gate {k}: output label");
                assert_eq!(&halves[3 * k..3 * k + 3], &tab.g, "n {n}, gate {k}: halves");
                assert_eq!(z[k], tab.z, "n {n}, gate {k}: control bits");
                let (a, b) = (active[g.a as usize], active[g.b as usize]);
                let want = eval_gate(
                    a,
                    b,
                    aes.tccr_one(a, t(0)),
                    aes.tccr_one(b, t(1)),
                    aes.tccr_one(a ^ b, t(2)),
                    &tab,
                );
                assert_eq!(eval_outs[k], want, "n {n}, gate {k}: evaluated label");
                let (va, vb) = (g.a % 3 == 1, g.b % 3 == 1);
                assert_eq!(want, c0 ^ d.select(va & vb), "n {n}, gate {k}: decodes");
            }
        }
    }

    #[test]
    fn packing_is_dense_and_round_trips() {
        assert_eq!(blocks_for(128), 197);
        assert_eq!(blocks_for(0), 0);
        assert_eq!(blocks_for(1), 3);
        assert_eq!(gates_in(197 * 3 + 5), 384);
        let mut prg = Prg::from_seed([4; 16]);
        for n in [1usize, 2, 127, 128, 129, 300] {
            let all: Vec<Tables> = (0..n)
                .map(|_| {
                    let b = prg.block();
                    Tables {
                        g: [b.0 as u64, (b.0 >> 64) as u64, prg.block().0 as u64],
                        z: (b.0 >> 3) as u8 & 31,
                    }
                })
                .collect();
            let mut out = vec![Block::ZERO; blocks_for(n)];
            for (w, t) in all.iter().enumerate() {
                put(&mut out, n, w, t);
            }
            for (w, t) in all.iter().enumerate() {
                assert_eq!(&get(&out, n, w), t, "n {n}, gate {w}");
            }
        }
        for n in [1usize, 2, 3, 127, 128, 129, 255, 300] {
            let all: Vec<Tables> = (0..n)
                .map(|k| Tables {
                    g: [k as u64 * 3 + 1, !(k as u64), (k as u64) << 20 | 5],
                    z: (k * 7 % 32) as u8,
                })
                .collect();
            let mut by_gate = vec![Block::ZERO; blocks_for(n)];
            for (w, t) in all.iter().enumerate() {
                put(&mut by_gate, n, w, t);
            }
            let mut staged = Staged::default();
            staged.reset(n);
            for (k, t) in all.iter().enumerate() {
                staged.halves[3 * k..3 * k + 3].copy_from_slice(&t.g);
                staged.z[k] = t.z;
            }
            let mut by_group = vec![Block::ZERO; blocks_for(n)];
            staged.pack(n, &mut by_group);
            assert!(by_gate == by_group, "n {n}: pack differs from put");
            let mut back = Staged::default();
            back.unpack(&by_group, n);
            assert!(back.halves == staged.halves, "n {n}: unpacked halves");
            assert!(back.z == staged.z, "n {n}: unpacked control bits");
        }
        // 24.625 bytes per gate in full groups.
        assert_eq!(16 * blocks_for(128 * 1000), 128 * 1000 * 197 / 8);
    }
}
