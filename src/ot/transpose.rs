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
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU has AVX-512F and AVX-512BW (BW implies F).
            unsafe { x86::transpose_avx512(rows) }
        } else if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            unsafe { x86::transpose_avx2(rows) }
        } else {
            // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
            unsafe { x86::transpose_sse2(rows) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    transpose_tile_portable(rows);
}

/// A tile transpose.
pub type TileTranspose = fn(&mut [u128; 128]);

/// The tile transpose of every width this CPU has, with its name (for tests and benchmarks).
pub fn tile_transposes() -> Vec<(&'static str, TileTranspose)> {
    let mut all: Vec<(&'static str, TileTranspose)> = vec![("portable", transpose_tile_portable)];
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY (each wrapper): called only when the CPU has the listed features.
        all.push(("sse2", |r| unsafe { x86::transpose_sse2(r) }));
        if std::arch::is_x86_feature_detected!("avx2") {
            all.push(("avx2", |r| unsafe { x86::transpose_avx2(r) }));
        }
        if std::arch::is_x86_feature_detected!("avx512bw") {
            all.push(("avx512bw", |r| unsafe { x86::transpose_avx512(r) }));
        }
    }
    all
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
mod x86 {
    use core::arch::x86_64::*;

    // The tile transpose on registers of 1, 2 or 4 lanes of 16 bytes (SSE2, AVX2, AVX-512BW).
    // Lane `l` of a register holds a row of block `LANES*b + l` of 16 input rows; unpack
    // instructions work lane by lane, so every lane runs the 16x16 byte transpose of its own
    // block, and one `movemask` collects 16 bits of each of `LANES` consecutive blocks: the
    // output row's bits `16*LANES*b ..` in one piece. A macro so that each width compiles with
    // its own target features.
    macro_rules! tile_transpose {
        ($v:ty, $lanes:expr, $piece:ty, $load:expr, $movemask:expr, $slli:ident,
         $zero:ident, $lo8:ident, $hi8:ident, $lo16:ident, $hi16:ident, $lo32:ident,
         $hi32:ident, $lo64:ident, $hi64:ident, $rows:expr) => {{
            const LANES: usize = $lanes;
            const BLOCKS: usize = 8 / LANES;
            let rows: &mut [u128; 128] = $rows;
            // columns[c][b]: byte c of the rows of blocks LANES*b .. LANES*(b+1).
            let mut columns = [[$zero(); BLOCKS]; 16];
            let p = rows.as_ptr() as *const __m128i;
            for b in 0..BLOCKS {
                let r: [$v; 16] = core::array::from_fn(|i| $load(p, b, i));
                // 16x16 byte transpose per lane: afterwards byte `r` of `t[c]` is byte `c`
                // of `r[r]`.
                let s: [$v; 16] = core::array::from_fn(|i| {
                    let q = i % 8;
                    if i < 8 {
                        $lo8(r[2 * q], r[2 * q + 1])
                    } else {
                        $hi8(r[2 * q], r[2 * q + 1])
                    }
                });
                // u[4h + q] (h = 0, 1 for columns 0-7; 2, 3 for 8-15): rows 4q..4q+4 of four
                // columns.
                let u: [$v; 16] = core::array::from_fn(|i| {
                    let (h, q) = (i / 4, i % 4);
                    let base = if h < 2 { 0 } else { 8 };
                    let (x, y) = (s[base + 2 * q], s[base + 2 * q + 1]);
                    if h % 2 == 0 { $lo16(x, y) } else { $hi16(x, y) }
                });
                for g in 0..4 {
                    let gr = &u[4 * g..4 * g + 4];
                    let v0 = $lo32(gr[0], gr[1]);
                    let v1 = $hi32(gr[0], gr[1]);
                    let v2 = $lo32(gr[2], gr[3]);
                    let v3 = $hi32(gr[2], gr[3]);
                    columns[4 * g][b] = $lo64(v0, v2);
                    columns[4 * g + 1][b] = $hi64(v0, v2);
                    columns[4 * g + 2][b] = $lo64(v1, v3);
                    columns[4 * g + 3][b] = $hi64(v1, v3);
                }
            }
            // Each output row is BLOCKS pieces of 16*LANES bits.
            let mut pieces = [[0 as $piece; BLOCKS]; 128];
            for (c, column) in columns.iter_mut().enumerate() {
                // After k shifts, the top bit of every byte is its original bit 7 - k.
                for k in 0..8 {
                    let out = &mut pieces[8 * c + 7 - k];
                    for (piece, x) in out.iter_mut().zip(column.iter_mut()) {
                        *piece = $movemask(*x);
                        *x = $slli::<1>(*x);
                    }
                }
            }
            for (row, p) in rows.iter_mut().zip(&pieces) {
                let mut bytes = [0u8; 16];
                for (b, v) in bytes.chunks_exact_mut(16 / BLOCKS).zip(p) {
                    b.copy_from_slice(&v.to_le_bytes());
                }
                *row = u128::from_le_bytes(bytes);
            }
        }};
    }

    /// Row `i` of block `b` (of 16 rows).
    #[target_feature(enable = "sse2")]
    #[inline]
    fn load1(p: *const __m128i, b: usize, i: usize) -> __m128i {
        // SAFETY: the tile holds 128 rows; 16b + i < 128.
        unsafe { _mm_loadu_si128(p.add(16 * b + i)) }
    }

    /// Row `i` of blocks `2b` and `2b + 1`.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn load2(p: *const __m128i, b: usize, i: usize) -> __m256i {
        // SAFETY: the tile holds 128 rows; 32b + 16 + i < 128.
        unsafe { _mm256_loadu2_m128i(p.add(32 * b + 16 + i), p.add(32 * b + i)) }
    }

    /// Row `i` of blocks `4b .. 4b + 4`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn load4(p: *const __m128i, b: usize, i: usize) -> __m512i {
        // SAFETY: the tile holds 128 rows; 64b + 48 + i < 128.
        unsafe {
            let low = _mm256_loadu2_m128i(p.add(64 * b + 16 + i), p.add(64 * b + i));
            let high = _mm256_loadu2_m128i(p.add(64 * b + 48 + i), p.add(64 * b + 32 + i));
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(low), high)
        }
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn transpose_sse2(rows: &mut [u128; 128]) {
        tile_transpose!(
            __m128i,
            1,
            u16,
            load1,
            |x| _mm_movemask_epi8(x) as u16,
            _mm_slli_epi64,
            _mm_setzero_si128,
            _mm_unpacklo_epi8,
            _mm_unpackhi_epi8,
            _mm_unpacklo_epi16,
            _mm_unpackhi_epi16,
            _mm_unpacklo_epi32,
            _mm_unpackhi_epi32,
            _mm_unpacklo_epi64,
            _mm_unpackhi_epi64,
            rows
        )
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn transpose_avx2(rows: &mut [u128; 128]) {
        tile_transpose!(
            __m256i,
            2,
            u32,
            load2,
            |x| _mm256_movemask_epi8(x) as u32,
            _mm256_slli_epi64,
            _mm256_setzero_si256,
            _mm256_unpacklo_epi8,
            _mm256_unpackhi_epi8,
            _mm256_unpacklo_epi16,
            _mm256_unpackhi_epi16,
            _mm256_unpacklo_epi32,
            _mm256_unpackhi_epi32,
            _mm256_unpacklo_epi64,
            _mm256_unpackhi_epi64,
            rows
        )
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn transpose_avx512(rows: &mut [u128; 128]) {
        tile_transpose!(
            __m512i,
            4,
            u64,
            load4,
            _mm512_movepi8_mask,
            _mm512_slli_epi64,
            _mm512_setzero_si512,
            _mm512_unpacklo_epi8,
            _mm512_unpackhi_epi8,
            _mm512_unpacklo_epi16,
            _mm512_unpackhi_epi16,
            _mm512_unpacklo_epi32,
            _mm512_unpackhi_epi32,
            _mm512_unpacklo_epi64,
            _mm512_unpackhi_epi64,
            rows
        )
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
    fn every_width_agrees_with_the_portable_transpose() {
        let mut prg = Prg::from_seed([7; 16]);
        let widths = tile_transposes();
        #[cfg(target_arch = "x86_64")]
        assert!(widths.len() >= 2, "x86-64 always has the SSE2 transpose");
        for _ in 0..20 {
            let mut a = [0u128; 128];
            for r in a.iter_mut() {
                *r = prg.block().value();
            }
            let mut expected = a;
            transpose_tile_portable(&mut expected);
            for (name, f) in &widths {
                let mut b = a;
                f(&mut b);
                assert_eq!(b, expected, "{name}");
            }
            let mut b = a;
            transpose_tile(&mut b);
            assert_eq!(b, expected, "the dispatching transpose");
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
