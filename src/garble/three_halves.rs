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

/// Packs the tables of a run of gates starting at a group boundary into `out`, which holds
/// [`blocks_for`]`(tables.len())` blocks: the same layout as [`put`], a group at a time.
pub fn pack(tables: &[Tables], out: &mut [Block]) {
    for (q, group) in tables.chunks(GROUP).enumerate() {
        let base = q * GROUP_BLOCKS;
        let m = group.len();
        let halves = (3 * m).div_ceil(2);
        let (hb, rest) = out[base..].split_at_mut(halves);
        // Two gates fill three blocks.
        let mut pairs = group.chunks_exact(2);
        let mut blocks = hb.chunks_exact_mut(3);
        for (p, b) in (&mut pairs).zip(&mut blocks) {
            let (x, y) = (&p[0].g, &p[1].g);
            b[0] = Block::from_halves(x[1], x[0]);
            b[1] = Block::from_halves(y[0], x[2]);
            b[2] = Block::from_halves(y[2], y[1]);
        }
        if let [t] = pairs.remainder() {
            let len = hb.len();
            let b = &mut hb[len - 2..];
            b[0] = Block::from_halves(t.g[1], t.g[0]);
            b[1] = Block::from_halves(0, t.g[2]);
        }
        let bits = &mut rest[..(5 * m).div_ceil(128)];
        let mut words = [0u128; 5];
        for (x, t) in group.iter().enumerate() {
            let (w, s) = ((5 * x) / 128, (5 * x) % 128);
            let v = u128::from(t.z & 31);
            words[w] |= v << s;
            if s > 123 {
                words[w + 1] |= v >> (128 - s);
            }
        }
        for (b, w) in bits.iter_mut().zip(words) {
            *b = Block(w);
        }
    }
}

/// Unpacks what [`pack`] wrote for `n` gates into `tables` (cleared first).
pub fn unpack(packed: &[Block], n: usize, tables: &mut Vec<Tables>) {
    tables.clear();
    tables.reserve(n);
    let mut left = n;
    let mut base = 0;
    while left > 0 {
        let m = left.min(GROUP);
        let halves = (3 * m).div_ceil(2);
        let hb = &packed[base..base + halves];
        let bits = &packed[base + halves..base + halves + (5 * m).div_ceil(128)];
        let mut words = [0u128; 6];
        for (w, b) in words.iter_mut().zip(bits) {
            *w = b.0;
        }
        let z = |x: usize| -> u8 {
            let (w, s) = ((5 * x) / 128, (5 * x) % 128);
            let mut v = words[w] >> s;
            if s > 123 {
                v |= words[w + 1] << (128 - s);
            }
            (v & 31) as u8
        };
        // Three blocks hold two gates.
        let mut blocks = hb.chunks_exact(3);
        let mut x = 0;
        for b in &mut blocks {
            let (b0, b1, b2) = (b[0].0, b[1].0, b[2].0);
            tables.push(Tables {
                g: [b0 as u64, (b0 >> 64) as u64, b1 as u64],
                z: z(x),
            });
            tables.push(Tables {
                g: [(b1 >> 64) as u64, b2 as u64, (b2 >> 64) as u64],
                z: z(x + 1),
            });
            x += 2;
        }
        if x < m {
            let b = blocks.remainder();
            tables.push(Tables {
                g: [b[0].0 as u64, (b[0].0 >> 64) as u64, b[1].0 as u64],
                z: z(x),
            });
        }
        left -= m;
        base += GROUP_BLOCKS;
    }
}

/// Garbles a chunk of at most [`super::CHUNK`] independent AND gates: hashes the six labels of
/// every gate in one batch, then combines. `first` is the program-wide index of the chunk's
/// first gate within the call's run of `n` gates starting at `offset`; `rand(k)` gives gate
/// `k`'s two random bits.
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
    tables: &mut [Tables],
) {
    let scratch = &mut scratch[..6 * chunk.len()];
    for (g, s) in chunk.iter().zip(scratch.chunks_exact_mut(6)) {
        let (a0, b0) = (labels[g.a as usize], labels[g.b as usize]);
        let ab0 = a0 ^ b0;
        // Colour order: the label of colour c at position c.
        let (fa, fb, fab) = (a0.lsb(), b0.lsb(), ab0.lsb());
        s[0] = a0 ^ d.select(fa);
        s[1] = s[0] ^ d;
        s[2] = b0 ^ d.select(fb);
        s[3] = s[2] ^ d;
        s[4] = ab0 ^ d.select(fab);
        s[5] = s[4] ^ d;
    }
    aes.tccr(scratch, Tweaks { shift: 1, ..tweaks });
    for (((g, h), (w, t)), &r) in chunk
        .iter()
        .zip(scratch.chunks_exact(6))
        .zip(outs.iter_mut().zip(tables.iter_mut()))
        .zip(rand)
    {
        let h: &[Block; 6] = h.try_into().expect("six hashes");
        let (c, tab) = garble_gate(labels[g.a as usize], labels[g.b as usize], d, h, r);
        *w = c;
        *t = tab;
    }
}

/// Evaluates a chunk of at most [`super::CHUNK`] gates: the three hashes of every gate in one
/// batch, then the decoding.
pub(crate) fn eval_chunk(
    aes: &Aes,
    scratch: &mut [Block],
    labels: &[Block],
    chunk: &[SlotGate],
    tweaks: Tweaks,
    tables: &[Tables],
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
    for (((g, h), t), w) in chunk
        .iter()
        .zip(scratch.chunks_exact(3))
        .zip(tables)
        .zip(outs.iter_mut())
    {
        *w = eval_gate(
            labels[g.a as usize],
            labels[g.b as usize],
            h[0],
            h[1],
            h[2],
            t,
        );
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
            let mut by_group = vec![Block::ZERO; blocks_for(n)];
            pack(&all, &mut by_group);
            assert!(by_gate == by_group, "n {n}: pack differs from put");
            let mut back = Vec::new();
            unpack(&by_group, n, &mut back);
            assert!(back == all, "n {n}: unpack");
        }
        // 24.625 bytes per gate in full groups.
        assert_eq!(16 * blocks_for(128 * 1000), 128 * 1000 * 197 / 8);
    }
}
