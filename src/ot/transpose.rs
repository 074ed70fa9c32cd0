//! Bit-matrix transposition for IKNP: 128 rows of `n` bits become `n` rows of 128 bits.
//!
//! Two implementations of the 128x128 tile transpose. The portable one ([`transpose_tile_portable`])
//! does recursive block swaps (Eklundh's algorithm) on 64-bit words. On x86-64 the SSE2 one
//! (SSE2 is part of the x86-64 baseline, so no detection is needed) first transposes bytes with
//! unpack instructions, then collects each output row eight bits at a time with `pmovmskb`,
//! the approach of emp-toolkit's and libOTe's transposes: measured about 3x faster. The tests
//! hold the two against each other and against the definition. This module and `crate::aes`
//! are the only ones with `unsafe` (the SSE2 loads and stores).
#![allow(unsafe_code)]

use crate::block::Block;

/// Masks selecting the bit positions whose index has bit `s` clear, for `w = 2^s`.
const MASKS: [u64; 6] = [
    0x5555_5555_5555_5555,
    0x3333_3333_3333_3333,
    0x0f0f_0f0f_0f0f_0f0f,
    0x00ff_00ff_00ff_00ff,
    0x0000_ffff_0000_ffff,
    0x0000_0000_ffff_ffff,
];

/// Transposes a 64x64 bit matrix in place. Within each stage the rows of a swap are
/// contiguous, so the compiler vectorizes the inner loop.
fn transpose64(x: &mut [u64; 64]) {
    for s in (0..6).rev() {
        let w = 1usize << s;
        let m = MASKS[s];
        for j in (0..64).step_by(2 * w) {
            let (top, bottom) = x[j..j + 2 * w].split_at_mut(w);
            for (a, b) in top.iter_mut().zip(bottom.iter_mut()) {
                let t = ((*a >> w) ^ *b) & m;
                *a ^= t << w;
                *b ^= t;
            }
        }
    }
}

/// Transposes a 128x128 bit matrix in place: afterwards bit `j` of row `i` is what bit `i` of
/// row `j` was.
pub fn transpose_tile(rows: &mut [u128; 128]) {
    // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        sse2::transpose_tile(rows)
    };
    #[cfg(not(target_arch = "x86_64"))]
    transpose_tile_portable(rows);
}

/// The portable transpose: the tile is four 64x64 quadrants; each is transposed and the two
/// off-diagonal ones trade places.
pub fn transpose_tile_portable(rows: &mut [u128; 128]) {
    let mut q = [[0u64; 64]; 4]; // [top-left, top-right, bottom-left, bottom-right]
    for r in 0..64 {
        q[0][r] = rows[r] as u64;
        q[1][r] = (rows[r] >> 64) as u64;
        q[2][r] = rows[64 + r] as u64;
        q[3][r] = (rows[64 + r] >> 64) as u64;
    }
    for quadrant in q.iter_mut() {
        transpose64(quadrant);
    }
    for r in 0..64 {
        rows[r] = u128::from(q[0][r]) | u128::from(q[2][r]) << 64;
        rows[64 + r] = u128::from(q[1][r]) | u128::from(q[3][r]) << 64;
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use core::arch::x86_64::*;

    /// 16x16 byte transpose: afterwards byte `r` of `t[c]` is byte `c` of `r_in[r]`.
    #[target_feature(enable = "sse2")]
    #[inline]
    fn bytes16(r: &[__m128i; 16]) -> [__m128i; 16] {
        let s: [__m128i; 16] = core::array::from_fn(|i| {
            let p = i % 8;
            if i < 8 {
                _mm_unpacklo_epi8(r[2 * p], r[2 * p + 1])
            } else {
                _mm_unpackhi_epi8(r[2 * p], r[2 * p + 1])
            }
        });
        // u[4h + q] (h = 0, 1 for columns 0-7; 2, 3 for 8-15): rows 4q..4q+4 of four columns.
        let u: [__m128i; 16] = core::array::from_fn(|i| {
            let (h, q) = (i / 4, i % 4);
            let base = if h < 2 { 0 } else { 8 };
            let (x, y) = (s[base + 2 * q], s[base + 2 * q + 1]);
            if h % 2 == 0 {
                _mm_unpacklo_epi16(x, y)
            } else {
                _mm_unpackhi_epi16(x, y)
            }
        });
        let mut t = [_mm_setzero_si128(); 16];
        for g in 0..4 {
            let gr = &u[4 * g..4 * g + 4];
            let v0 = _mm_unpacklo_epi32(gr[0], gr[1]);
            let v1 = _mm_unpackhi_epi32(gr[0], gr[1]);
            let v2 = _mm_unpacklo_epi32(gr[2], gr[3]);
            let v3 = _mm_unpackhi_epi32(gr[2], gr[3]);
            t[4 * g] = _mm_unpacklo_epi64(v0, v2);
            t[4 * g + 1] = _mm_unpackhi_epi64(v0, v2);
            t[4 * g + 2] = _mm_unpacklo_epi64(v1, v3);
            t[4 * g + 3] = _mm_unpackhi_epi64(v1, v3);
        }
        t
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn transpose_tile(rows: &mut [u128; 128]) {
        // columns[c][b]: byte c of rows 16b .. 16b+16.
        let mut columns = [[_mm_setzero_si128(); 8]; 16];
        let p = rows.as_ptr() as *const __m128i;
        for b in 0..8 {
            // SAFETY: `rows` holds 128 u128 values; 16b + i < 128.
            let r: [__m128i; 16] =
                core::array::from_fn(|i| unsafe { _mm_loadu_si128(p.add(16 * b + i)) });
            for (column, v) in columns.iter_mut().zip(bytes16(&r)) {
                column[b] = v;
            }
        }
        // Each output row is eight 16-bit pieces, one per block of 16 input rows.
        let mut pieces = [[0u16; 8]; 128];
        for (c, column) in columns.iter_mut().enumerate() {
            // After k shifts, the top bit of every byte is its original bit 7 - k.
            for k in 0..8 {
                let out = &mut pieces[8 * c + 7 - k];
                for (piece, x) in out.iter_mut().zip(column.iter_mut()) {
                    *piece = _mm_movemask_epi8(*x) as u16;
                    *x = _mm_slli_epi64::<1>(*x);
                }
            }
        }
        for (row, p) in rows.iter_mut().zip(&pieces) {
            let mut bytes = [0u8; 16];
            for (b, v) in bytes.chunks_exact_mut(2).zip(p) {
                b.copy_from_slice(&v.to_le_bytes());
            }
            *row = u128::from_le_bytes(bytes);
        }
    }
}

/// `columns` holds 128 rows of `tiles` blocks each (row `j` is `columns[j*tiles .. (j+1)*tiles]`,
/// bit `b` of block `k` being column `128k + b`). Writes `out[i]` with bit `j` = row `j`'s bit
/// `i`, for `i < out.len() <= 128 * tiles`.
pub fn transpose(columns: &[Block], tiles: usize, out: &mut [Block]) {
    assert_eq!(columns.len(), 128 * tiles, "128 rows of {tiles} blocks");
    assert!(out.len() <= 128 * tiles);
    let mut tile = [0u128; 128];
    for k in 0..tiles {
        for (j, t) in tile.iter_mut().enumerate() {
            *t = columns[j * tiles + k].value();
        }
        transpose_tile(&mut tile);
        let start = 128 * k;
        let end = (start + 128).min(out.len());
        if start >= end {
            break;
        }
        for (o, t) in out[start..end].iter_mut().zip(&tile) {
            *o = Block::new(*t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aes::Prg;

    #[test]
    fn transpose_matches_the_definition() {
        let mut prg = Prg::from_seed([5; 16]);
        for tiles in [1, 3] {
            let mut cols = vec![Block::ZERO; 128 * tiles];
            prg.fill(&mut cols);
            let n = 128 * tiles - 5;
            let mut out = vec![Block::ZERO; n];
            transpose(&cols, tiles, &mut out);
            for (i, o) in out.iter().enumerate() {
                for j in 0..128 {
                    let bit_in = cols[j * tiles + i / 128].value() >> (i % 128) & 1;
                    assert_eq!(o.value() >> j & 1, bit_in, "i={i} j={j}");
                }
            }
        }
    }

    #[test]
    fn fast_and_portable_transposes_agree() {
        let mut prg = Prg::from_seed([7; 16]);
        for _ in 0..20 {
            let mut a = [0u128; 128];
            for r in a.iter_mut() {
                *r = prg.block().value();
            }
            let mut b = a;
            transpose_tile(&mut a);
            transpose_tile_portable(&mut b);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn transposing_twice_is_the_identity() {
        let mut prg = Prg::from_seed([6; 16]);
        let mut rows = [0u128; 128];
        for r in rows.iter_mut() {
            *r = prg.block().value();
        }
        let original = rows;
        transpose_tile(&mut rows);
        assert_ne!(rows, original);
        transpose_tile(&mut rows);
        assert_eq!(rows, original);
    }
}
