//! AES-NI and VAES kernels for x86-64.
//!
//! Every function here carries `#[target_feature]` and is reached only through `super`, which
//! calls it after `is_x86_feature_detected!` confirmed the features (see `Backend::supported`).
//! The kernels keep many independent blocks in flight (8 xmm registers for AES-NI, 8 ymm
//! registers = 16 blocks for VAES) because `aesenc` has a latency of several cycles but a
//! throughput of two per cycle.
//!
//! One file for the x86-64 kernels (about 1000 lines): the AES-NI and VAES garbling, evaluation and
//! hashing loops share their `unsafe` helpers, register layouts and `target_feature` gates, and
//! keeping them together keeps every `unsafe` block of the AES paths in one place to review.

use core::arch::x86_64::*;

use super::Tweaks;
use crate::block::Block;
use crate::compile::SlotGate;

type Keys = [Block; 11];

#[inline(always)]
fn tweak_block(t: &Tweaks, index: usize) -> Block {
    Block::from_halves(t.nonce, t.first.wrapping_add((index >> t.shift) as u64))
}

// ---------------------------------------------------------------------------------------------
// AES-NI: one block per xmm register.

#[target_feature(enable = "sse2,aes")]
#[inline]
fn load_keys_xmm(keys: &Keys) -> [__m128i; 11] {
    // SAFETY: `Block` is 16 bytes; an unaligned load of it is always valid.
    keys.map(|k| unsafe { _mm_loadu_si128(&k as *const Block as *const __m128i) })
}

#[target_feature(enable = "sse2,aes")]
#[inline]
fn aesni_rounds<const N: usize>(x: &mut [__m128i; N], k: &[__m128i; 11]) {
    for v in x.iter_mut() {
        *v = _mm_xor_si128(*v, k[0]);
    }
    for key in &k[1..10] {
        for v in x.iter_mut() {
            *v = _mm_aesenc_si128(*v, *key);
        }
    }
    for v in x.iter_mut() {
        *v = _mm_aesenclast_si128(*v, k[10]);
    }
}

#[target_feature(enable = "sse2,aes")]
#[inline]
fn aesni_encrypt_chunk<const N: usize>(blocks: &mut [Block], k: &[__m128i; 11]) {
    debug_assert_eq!(blocks.len(), N);
    let p = blocks.as_mut_ptr() as *mut __m128i;
    // SAFETY: `blocks` holds exactly N blocks of 16 bytes; unaligned loads and stores stay inside.
    let mut x: [__m128i; N] = core::array::from_fn(|i| unsafe { _mm_loadu_si128(p.add(i)) });
    aesni_rounds(&mut x, k);
    for (i, v) in x.iter().enumerate() {
        // SAFETY: as above.
        unsafe { _mm_storeu_si128(p.add(i), *v) };
    }
}

/// Encrypts blocks in place with AES-NI.
#[target_feature(enable = "sse2,aes")]
pub(super) fn aesni_encrypt(keys: &Keys, blocks: &mut [Block]) {
    let k = load_keys_xmm(keys);
    let mut chunks = blocks.chunks_exact_mut(8);
    for chunk in &mut chunks {
        aesni_encrypt_chunk::<8>(chunk, &k);
    }
    for block in chunks.into_remainder() {
        aesni_encrypt_chunk::<1>(core::slice::from_mut(block), &k);
    }
}

#[target_feature(enable = "sse2,aes")]
#[inline]
fn aesni_tccr_chunk<const N: usize>(
    blocks: &mut [Block],
    start: usize,
    t: &Tweaks,
    k: &[__m128i; 11],
) {
    debug_assert_eq!(blocks.len(), N);
    let p = blocks.as_mut_ptr() as *mut __m128i;
    // SAFETY: `blocks` holds exactly N blocks; every access below is at an index < N.
    let mut y: [__m128i; N] = core::array::from_fn(|i| unsafe { _mm_loadu_si128(p.add(i)) });
    aesni_rounds(&mut y, k);
    let mut z: [__m128i; N] = core::array::from_fn(|i| {
        let tweak = tweak_block(t, start + i);
        // SAFETY: reading a local 16-byte value.
        let tweak = unsafe { _mm_loadu_si128(&tweak as *const Block as *const __m128i) };
        _mm_xor_si128(y[i], tweak)
    });
    aesni_rounds(&mut z, k);
    for i in 0..N {
        // SAFETY: i < N.
        unsafe { _mm_storeu_si128(p.add(i), _mm_xor_si128(z[i], y[i])) };
    }
}

/// The TCCR hash in place with AES-NI: `b_i = pi(pi(b_i) ^ t_i) ^ pi(b_i)`.
#[target_feature(enable = "sse2,aes")]
pub(super) fn aesni_tccr(keys: &Keys, blocks: &mut [Block], t: &Tweaks) {
    let k = load_keys_xmm(keys);
    let mut start = 0;
    let mut chunks = blocks.chunks_exact_mut(8);
    for chunk in &mut chunks {
        aesni_tccr_chunk::<8>(chunk, start, t, &k);
        start += 8;
    }
    for block in chunks.into_remainder() {
        aesni_tccr_chunk::<1>(core::slice::from_mut(block), start, t, &k);
        start += 1;
    }
}

/// Counter mode with AES-NI: `out[i] = pi(counter + i)`; the low 64 bits of the counter do not
/// wrap inside the call (the caller checks).
#[target_feature(enable = "sse2,aes")]
pub(super) fn aesni_ctr(keys: &Keys, counter: u128, out: &mut [Block]) {
    const N: usize = 8;
    let k = load_keys_xmm(keys);
    let mut c = _mm_set_epi64x((counter >> 64) as i64, counter as i64);
    let one = _mm_set_epi64x(0, 1);
    let mut chunks = out.chunks_exact_mut(N);
    let mut next = || {
        let mut x: [__m128i; N] = core::array::from_fn(|_| {
            let v = c;
            c = _mm_add_epi64(c, one);
            v
        });
        aesni_rounds(&mut x, &k);
        x
    };
    for chunk in &mut chunks {
        for (b, v) in chunk.iter_mut().zip(next()) {
            store_block(b, v);
        }
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        for (b, v) in rest.iter_mut().zip(next()) {
            store_block(b, v);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// VAES: two blocks per ymm register.

#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn load_keys_ymm(keys: &Keys) -> [__m256i; 11] {
    // SAFETY: `Block` is 16 bytes; an unaligned load of it is always valid.
    keys.map(|k| {
        _mm256_broadcastsi128_si256(unsafe {
            _mm_loadu_si128(&k as *const Block as *const __m128i)
        })
    })
}

#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn vaes_rounds<const N: usize>(x: &mut [__m256i; N], k: &[__m256i; 11]) {
    for v in x.iter_mut() {
        *v = _mm256_xor_si256(*v, k[0]);
    }
    for key in &k[1..10] {
        for v in x.iter_mut() {
            *v = _mm256_aesenc_epi128(*v, *key);
        }
    }
    for v in x.iter_mut() {
        *v = _mm256_aesenclast_epi128(*v, k[10]);
    }
}

/// Encrypts `2*N` blocks.
#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn vaes_encrypt_chunk<const N: usize>(blocks: &mut [Block], k: &[__m256i; 11]) {
    debug_assert_eq!(blocks.len(), 2 * N);
    let p = blocks.as_mut_ptr() as *mut __m256i;
    // SAFETY: `blocks` holds exactly 2N blocks = N ymm words; every access is at an index < N.
    let mut x: [__m256i; N] = core::array::from_fn(|i| unsafe { _mm256_loadu_si256(p.add(i)) });
    vaes_rounds(&mut x, k);
    for (i, v) in x.iter().enumerate() {
        // SAFETY: as above.
        unsafe { _mm256_storeu_si256(p.add(i), *v) };
    }
}

/// Encrypts blocks in place with VAES. Tails of 8, 4 and 2 blocks still run several registers
/// side by side (a lone register would wait on each round's latency).
#[target_feature(enable = "avx2,aes,vaes")]
pub(super) fn vaes_encrypt(keys: &Keys, blocks: &mut [Block]) {
    let k = load_keys_ymm(keys);
    let mut chunks = blocks.chunks_exact_mut(16);
    for chunk in &mut chunks {
        vaes_encrypt_chunk::<8>(chunk, &k);
    }
    let mut rest = chunks.into_remainder();
    if rest.len() >= 8 {
        let (head, tail) = rest.split_at_mut(8);
        vaes_encrypt_chunk::<4>(head, &k);
        rest = tail;
    }
    if rest.len() >= 4 {
        let (head, tail) = rest.split_at_mut(4);
        vaes_encrypt_chunk::<2>(head, &k);
        rest = tail;
    }
    if rest.len() >= 2 {
        let (head, tail) = rest.split_at_mut(2);
        vaes_encrypt_chunk::<1>(head, &k);
        rest = tail;
    }
    if !rest.is_empty() {
        aesni_encrypt(keys, rest);
    }
}

/// Counter mode with VAES: `out[i] = pi(counter + i)`; the low 64 bits of the counter do not
/// wrap inside the call (the caller checks). A tail shorter than a pass is encrypted whole and
/// the blocks beyond `out` dropped.
#[target_feature(enable = "avx2,aes,vaes")]
pub(super) fn vaes_ctr(keys: &Keys, counter: u128, out: &mut [Block]) {
    let k = load_keys_ymm(keys);
    let (high, low) = ((counter >> 64) as i64, counter as u64);
    let mut c = _mm256_set_epi64x(high, low.wrapping_add(1) as i64, high, low as i64);
    let two = _mm256_set_epi64x(0, 2, 0, 2);
    let mut next = || {
        let mut x: [__m256i; UNIT] = core::array::from_fn(|_| {
            let v = c;
            c = _mm256_add_epi64(c, two);
            v
        });
        vaes_rounds(&mut x, &k);
        x
    };
    let mut chunks = out.chunks_exact_mut(2 * UNIT);
    for chunk in &mut chunks {
        let p = chunk.as_mut_ptr() as *mut __m256i;
        for (i, v) in next().iter().enumerate() {
            // SAFETY: the chunk holds 2 * UNIT blocks = UNIT ymm words; i < UNIT.
            unsafe { _mm256_storeu_si256(p.add(i), *v) };
        }
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut last = [Block::ZERO; 2 * UNIT];
        let p = last.as_mut_ptr() as *mut __m256i;
        for (i, v) in next().iter().enumerate() {
            // SAFETY: `last` holds UNIT ymm words; i < UNIT.
            unsafe { _mm256_storeu_si256(p.add(i), *v) };
        }
        rest.copy_from_slice(&last[..rest.len()]);
        zeroize::Zeroize::zeroize(&mut last);
    }
}

/// Tweaks of blocks `start` and `start + 1` in one register, and the step to the next pair.
#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn tweak_pair(t: &Tweaks, start: usize) -> (__m256i, __m256i) {
    let c0 = t.first.wrapping_add((start >> t.shift) as u64);
    let c1 = t.first.wrapping_add(((start + 1) >> t.shift) as u64);
    let step = (2u64 >> t.shift) as i64;
    (
        _mm256_set_epi64x(t.nonce as i64, c1 as i64, t.nonce as i64, c0 as i64),
        _mm256_set_epi64x(0, step, 0, step),
    )
}

/// Hashes `2*N` blocks, `start` being the index of the first in the batch.
#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn vaes_tccr_chunk<const N: usize>(
    blocks: &mut [Block],
    start: usize,
    t: &Tweaks,
    k: &[__m256i; 11],
) {
    debug_assert_eq!(blocks.len(), 2 * N);
    let p = blocks.as_mut_ptr() as *mut __m256i;
    // SAFETY: `blocks` holds exactly 2N blocks = N ymm words; every access is at an index < N.
    let mut y: [__m256i; N] = core::array::from_fn(|i| unsafe { _mm256_loadu_si256(p.add(i)) });
    vaes_rounds(&mut y, k);
    let (mut tweak, step) = tweak_pair(t, start);
    let mut z: [__m256i; N] = core::array::from_fn(|i| {
        let v = _mm256_xor_si256(y[i], tweak);
        tweak = _mm256_add_epi64(tweak, step);
        v
    });
    vaes_rounds(&mut z, k);
    for i in 0..N {
        // SAFETY: i < N.
        unsafe { _mm256_storeu_si256(p.add(i), _mm256_xor_si256(z[i], y[i])) };
    }
}

/// Registers per pipeline stage of the VAES kernels: 8 ymm = 16 blocks.
const UNIT: usize = 8;

// Software pipelining of the two AES passes of the TCCR hash, for xmm (AES-NI) and ymm (VAES)
// registers alike: `$v` is the register type, `$xor`/`$add` its XOR and 64-bit addition and
// `$rounds` its ten AES rounds. Units of `$unit` registers come from `$load(u)`; the second pass
// over unit `u` runs in the same rounds as the first pass over unit `u + 1`, so twice `$unit`
// independent registers are in flight, and `$store(u, h)` receives the hashes of unit `u`.
// Registers `r` (counted across units) are hashed under `$tweak + (r / $per) * $step`: `$per`
// consecutive registers share a tweak. A plain two-stage chain per chunk leaves the AES units
// half idle (measured: 2.4 ns per hash against the 1.4 ns of two encryptions). A macro rather
// than a function so that each kernel compiles it with its own target features and inlines the
// closures.
/// Whether register `i` is the last of its group of `per` registers sharing a tweak.
#[inline(always)]
const fn ends_tweak_group(i: usize, per: usize) -> bool {
    i % per == per - 1
}

macro_rules! aes_pipeline {
    ($v:ty, $xor:ident, $add:ident, $rounds:ident;
     $k:expr, $tweak:expr, $step:expr, $per:expr, $unit:expr, $units:expr,
     |$lu:ident| $load:block, |$su:ident, $h:ident| $store:block) => {{
        const U: usize = $unit;
        const PER: usize = $per;
        let k: &[$v; 11] = $k;
        let units: usize = $units;
        let step: $v = $step;
        let mut tweak: $v = $tweak;
        if units > 0 {
            let mut y: [$v; U] = {
                let $lu: usize = 0;
                $load
            };
            $rounds(&mut y, k);
            for u in 1..units {
                let x: [$v; U] = {
                    let $lu: usize = u;
                    $load
                };
                let mut w: [$v; 2 * U] = core::array::from_fn(|i| {
                    if i < U {
                        x[i]
                    } else {
                        let v = $xor(y[i - U], tweak);
                        if ends_tweak_group(i - U, PER) {
                            tweak = $add(tweak, step);
                        }
                        v
                    }
                });
                $rounds(&mut w, k);
                {
                    let $su: usize = u - 1;
                    let $h: [$v; U] = core::array::from_fn(|i| $xor(w[U + i], y[i]));
                    $store
                }
                y = core::array::from_fn(|i| w[i]);
            }
            let mut z: [$v; U] = core::array::from_fn(|i| {
                let v = $xor(y[i], tweak);
                if ends_tweak_group(i, PER) {
                    tweak = $add(tweak, step);
                }
                v
            });
            $rounds(&mut z, k);
            {
                let $su: usize = units - 1;
                let $h: [$v; U] = core::array::from_fn(|i| $xor(z[i], y[i]));
                $store
            }
        }
        tweak
    }};
}

/// The pipeline on ymm registers with VAES, one tweak step per register.
macro_rules! vaes_pipeline {
    ($($rest:tt)*) => {
        aes_pipeline!(__m256i, _mm256_xor_si256, _mm256_add_epi64, vaes_rounds; $($rest)*)
    };
}

macro_rules! vaes_tccr_body {
    ($keys:expr, $blocks:expr, $t:expr) => {{
        let (keys, blocks, t): (&Keys, &mut [Block], &Tweaks) = ($keys, $blocks, $t);
        let k = load_keys_ymm(keys);
        let units = blocks.len() / (2 * UNIT);
        let p = blocks.as_mut_ptr() as *mut __m256i;
        let (tweak, step) = tweak_pair(t, 0);
        // SAFETY (loads and stores): unit u covers ymm words u*UNIT .. (u+1)*UNIT with
        // u < units = blocks.len() / (2*UNIT), so every word lies inside `blocks`.
        vaes_pipeline!(
            &k,
            tweak,
            step,
            1,
            UNIT,
            units,
            |u| { core::array::from_fn(|i| unsafe { _mm256_loadu_si256(p.add(u * UNIT + i)) }) },
            |u, h| {
                for (i, v) in h.iter().enumerate() {
                    unsafe { _mm256_storeu_si256(p.add(u * UNIT + i), *v) };
                }
            }
        );
        let mut start = units * 2 * UNIT;
        let rest = &mut blocks[start..];
        let mut pairs = rest.chunks_exact_mut(2);
        for pair in &mut pairs {
            vaes_tccr_chunk::<1>(pair, start, t, &k);
            start += 2;
        }
        let last = pairs.into_remainder();
        if !last.is_empty() {
            // `start` is even, so shifting the counter keeps the tweak pattern.
            let shifted = Tweaks {
                first: t.first.wrapping_add((start >> t.shift) as u64),
                ..*t
            };
            aesni_tccr(keys, last, &shifted);
        }
    }};
}

/// The TCCR hash in place with VAES and AVX2 (16 vector registers).
#[target_feature(enable = "avx2,aes,vaes")]
pub(super) fn vaes_tccr(keys: &Keys, blocks: &mut [Block], t: &Tweaks) {
    vaes_tccr_body!(keys, blocks, t)
}

/// The same with AVX-512VL, whose 32 vector registers hold the round keys and both stages.
#[target_feature(enable = "avx2,aes,vaes,avx512f,avx512vl")]
pub(super) fn vaes512_tccr(keys: &Keys, blocks: &mut [Block], t: &Tweaks) {
    vaes_tccr_body!(keys, blocks, t)
}

// ---------------------------------------------------------------------------------------------
// Half-gates AND batches with VAES: gather the input labels, hash, combine and scatter without
// leaving the vector registers. The formulas are those of `crate::garble` (ZRE15 §3); the safe
// batched code there is the same computation, and the tests hold both to the reference garbler.

#[target_feature(enable = "sse2")]
#[inline]
fn load_block(b: &Block) -> __m128i {
    // SAFETY: a `Block` is 16 readable bytes.
    unsafe { _mm_loadu_si128(b as *const Block as *const __m128i) }
}

#[target_feature(enable = "sse2")]
#[inline]
fn store_block(b: &mut Block, v: __m128i) {
    // SAFETY: a `Block` is 16 writable bytes.
    unsafe { _mm_storeu_si128(b as *mut Block as *mut __m128i, v) }
}

/// All ones in both 64-bit halves of each 128-bit lane whose least significant bit is set, built
/// arithmetically (shift the bit to the top of its dword, spread it, copy that dword).
#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn lsb_mask256(x: __m256i) -> __m256i {
    _mm256_shuffle_epi32::<0x55>(_mm256_srai_epi32::<31>(_mm256_slli_epi64::<63>(x)))
}

#[target_feature(enable = "sse2")]
#[inline]
fn lsb_mask128(x: __m128i) -> __m128i {
    _mm_shuffle_epi32::<0x55>(_mm_srai_epi32::<31>(_mm_slli_epi64::<63>(x)))
}

/// Garbler inputs of one gate: `[A0 | A0 ^ Delta]` and `[B0 | B0 ^ Delta]`.
#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn garble_inputs(labels: &[Block], g: &SlotGate, d2: __m256i) -> (__m256i, __m256i) {
    let a0 = _mm256_broadcastsi128_si256(load_block(&labels[g.a as usize]));
    let b0 = _mm256_broadcastsi128_si256(load_block(&labels[g.b as usize]));
    (_mm256_xor_si256(a0, d2), _mm256_xor_si256(b0, d2))
}

/// Garbler output of one gate from the four hashes `H(A0,j)`, `H(A1,j)`, `H(B0,j')`, `H(B1,j')`.
#[target_feature(enable = "sse2")]
#[inline]
fn garble_finish_xmm(
    labels: &mut [Block],
    g: &SlotGate,
    [ha0, ha1, hb0, hb1]: [__m128i; 4],
    d: __m128i,
    table: &mut [Block],
) {
    let a0 = load_block(&labels[g.a as usize]);
    let b0 = load_block(&labels[g.b as usize]);
    let (mpa, mpb) = (lsb_mask128(a0), lsb_mask128(b0));
    let sa = _mm_xor_si128(ha0, ha1);
    let sb = _mm_xor_si128(hb0, hb1);
    let tg = _mm_xor_si128(sa, _mm_and_si128(d, mpb));
    let wg0 = _mm_xor_si128(ha0, _mm_and_si128(tg, mpa));
    let te = _mm_xor_si128(sb, a0);
    let we0 = _mm_xor_si128(hb0, _mm_and_si128(sb, mpb));
    store_block(&mut labels[g.out as usize], _mm_xor_si128(wg0, we0));
    store_block(&mut table[0], tg);
    store_block(&mut table[1], te);
}

/// Garbler output of one gate from `[H(A0,j) | H(A1,j)]` and `[H(B0,j') | H(B1,j')]`.
#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn garble_finish(
    labels: &mut [Block],
    g: &SlotGate,
    za: __m256i,
    zb: __m256i,
    d: __m128i,
    table: &mut [Block],
) {
    let hashes = [
        _mm256_castsi256_si128(za),
        _mm256_extracti128_si256::<1>(za),
        _mm256_castsi256_si128(zb),
        _mm256_extracti128_si256::<1>(zb),
    ];
    garble_finish_xmm(labels, g, hashes, d, table);
}

macro_rules! vaes_garble_body {
    ($keys:expr, $labels:expr, $gates:expr, $delta:expr, $t:expr, $tables:expr) => {{
        let (keys, labels, gates, delta, t, tables): (
            &Keys,
            &mut [Block],
            &[SlotGate],
            Block,
            &Tweaks,
            &mut [Block],
        ) = ($keys, $labels, $gates, $delta, $t, $tables);
        assert_eq!(tables.len(), 2 * gates.len());
        let k = load_keys_ymm(keys);
        let d = load_block(&delta);
        let d2 = _mm256_inserti128_si256::<1>(_mm256_setzero_si256(), d);
        // Register 2i is [A0|A1] of gate i, hashed under counter first + 2i; register 2i+1 is
        // [B0|B1] under first + 2i + 1: the shift-1 pattern of `tweak_pair`.
        let (tweak, step) = tweak_pair(&Tweaks { shift: 1, ..*t }, 0);
        const PER_UNIT: usize = UNIT / 2;
        // The last unit is padded with copies of the last gate, whose results are dropped: a
        // batch of 14 gates then runs as 4 pipelined units instead of 3 plus a latency-bound
        // tail (SHA-256 has about 14 ANDs per level).
        let units = gates.len().div_ceil(PER_UNIT);
        let last = gates.len().saturating_sub(1);
        vaes_pipeline!(
            &k,
            tweak,
            step,
            1,
            UNIT,
            units,
            |u| {
                let mut x = [_mm256_setzero_si256(); UNIT];
                for i in 0..PER_UNIT {
                    let n = (u * PER_UNIT + i).min(last);
                    (x[2 * i], x[2 * i + 1]) = garble_inputs(labels, &gates[n], d2);
                }
                x
            },
            |u, h| {
                for i in 0..PER_UNIT {
                    let n = u * PER_UNIT + i;
                    if n < gates.len() {
                        garble_finish(
                            labels,
                            &gates[n],
                            h[2 * i],
                            h[2 * i + 1],
                            d,
                            &mut tables[2 * n..2 * n + 2],
                        );
                    }
                }
            }
        );
    }};
}

/// Garbles a batch of independent AND gates with VAES (see `crate::garble` for the formulas).
#[target_feature(enable = "avx2,aes,vaes")]
pub(super) fn vaes_garble_ands(
    keys: &Keys,
    labels: &mut [Block],
    gates: &[SlotGate],
    delta: Block,
    t: &Tweaks,
    tables: &mut [Block],
) {
    vaes_garble_body!(keys, labels, gates, delta, t, tables)
}

/// The same with AVX-512VL's 32 vector registers.
#[target_feature(enable = "avx2,aes,vaes,avx512f,avx512vl")]
pub(super) fn vaes512_garble_ands(
    keys: &Keys,
    labels: &mut [Block],
    gates: &[SlotGate],
    delta: Block,
    t: &Tweaks,
    tables: &mut [Block],
) {
    vaes_garble_body!(keys, labels, gates, delta, t, tables)
}

/// Evaluator input of one gate: `[A | B]`.
#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn eval_input(labels: &[Block], g: &SlotGate) -> __m256i {
    let a = load_block(&labels[g.a as usize]);
    let b = load_block(&labels[g.b as usize]);
    _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(a), b)
}

/// Evaluator output of one gate from `[H(A,j) | H(B,j')]` and the table `[TG | TE]`.
#[target_feature(enable = "avx2,aes,vaes")]
#[inline]
fn eval_finish(labels: &mut [Block], g: &SlotGate, z: __m256i, table: &[Block]) {
    let ab = eval_input(labels, g);
    // SAFETY: `table` holds two blocks, 32 readable bytes.
    let t = unsafe { _mm256_loadu_si256(table.as_ptr() as *const __m256i) };
    let a_high = _mm256_inserti128_si256::<1>(_mm256_setzero_si256(), _mm256_castsi256_si128(ab));
    // [TG | TE ^ A] masked by [sa | sb], then [WG | WE] and WG ^ WE.
    let v = _mm256_and_si256(_mm256_xor_si256(t, a_high), lsb_mask256(ab));
    let r = _mm256_xor_si256(z, v);
    let c = _mm_xor_si128(_mm256_castsi256_si128(r), _mm256_extracti128_si256::<1>(r));
    store_block(&mut labels[g.out as usize], c);
}

macro_rules! vaes_eval_body {
    ($keys:expr, $labels:expr, $gates:expr, $t:expr, $tables:expr) => {{
        let (keys, labels, gates, t, tables): (
            &Keys,
            &mut [Block],
            &[SlotGate],
            &Tweaks,
            &[Block],
        ) = ($keys, $labels, $gates, $t, $tables);
        assert_eq!(tables.len(), 2 * gates.len());
        let k = load_keys_ymm(keys);
        // Register i is [A|B] of gate i, hashed under first + 2i and first + 2i + 1.
        let (tweak, step) = tweak_pair(&Tweaks { shift: 0, ..*t }, 0);
        // Padded like the garbler's last unit.
        let units = gates.len().div_ceil(UNIT);
        let last = gates.len().saturating_sub(1);
        vaes_pipeline!(
            &k,
            tweak,
            step,
            1,
            UNIT,
            units,
            |u| {
                let mut x = [_mm256_setzero_si256(); UNIT];
                for (i, v) in x.iter_mut().enumerate() {
                    *v = eval_input(labels, &gates[(u * UNIT + i).min(last)]);
                }
                x
            },
            |u, h| {
                for (i, z) in h.iter().enumerate() {
                    let n = u * UNIT + i;
                    if n < gates.len() {
                        eval_finish(labels, &gates[n], *z, &tables[2 * n..2 * n + 2]);
                    }
                }
            }
        );
    }};
}

/// Evaluates a batch of independent AND gates with VAES.
#[target_feature(enable = "avx2,aes,vaes")]
pub(super) fn vaes_eval_ands(
    keys: &Keys,
    labels: &mut [Block],
    gates: &[SlotGate],
    t: &Tweaks,
    tables: &[Block],
) {
    vaes_eval_body!(keys, labels, gates, t, tables)
}

/// The same with AVX-512VL's 32 vector registers.
#[target_feature(enable = "avx2,aes,vaes,avx512f,avx512vl")]
pub(super) fn vaes512_eval_ands(
    keys: &Keys,
    labels: &mut [Block],
    gates: &[SlotGate],
    t: &Tweaks,
    tables: &[Block],
) {
    vaes_eval_body!(keys, labels, gates, t, tables)
}

// ---------------------------------------------------------------------------------------------
// Half-gates AND batches with AES-NI alone (CPUs without VAES): the same fused gather, hash,
// combine and scatter as the VAES kernels, one block per xmm register, through the same
// software pipeline.

/// The pipeline on xmm registers with AES-NI.
macro_rules! aesni_pipeline {
    ($($rest:tt)*) => {
        aes_pipeline!(__m128i, _mm_xor_si128, _mm_add_epi64, aesni_rounds; $($rest)*)
    };
}

/// Registers per pipeline stage of the AES-NI kernels: two stages of 4 keep 8 blocks in flight,
/// which covers `aesenc`'s latency times its throughput. Stages of 8 (16 blocks in flight, the
/// round keys then read from memory: x86-64 has 16 xmm registers) garbled SHA-256 8 % slower.
const XUNIT: usize = 4;

/// The tweak of the first register and the step between tweaks, on xmm registers.
#[target_feature(enable = "sse2")]
#[inline]
fn tweak_xmm(t: &Tweaks) -> (__m128i, __m128i) {
    (
        _mm_set_epi64x(t.nonce as i64, t.first as i64),
        _mm_set_epi64x(0, 1),
    )
}

/// Evaluator output of one gate from `H(A,j)`, `H(B,j')` and the table `[TG, TE]`.
#[target_feature(enable = "sse2")]
#[inline]
fn eval_finish_xmm(labels: &mut [Block], g: &SlotGate, [ha, hb]: [__m128i; 2], table: &[Block]) {
    let a = load_block(&labels[g.a as usize]);
    let b = load_block(&labels[g.b as usize]);
    let tg = load_block(&table[0]);
    let te = load_block(&table[1]);
    let wg = _mm_xor_si128(ha, _mm_and_si128(tg, lsb_mask128(a)));
    let we = _mm_xor_si128(hb, _mm_and_si128(_mm_xor_si128(te, a), lsb_mask128(b)));
    store_block(&mut labels[g.out as usize], _mm_xor_si128(wg, we));
}

// A batch of AND gates through the AES-NI pipeline: `$regs` registers per gate from
// `$load(g)`, `$per` consecutive registers sharing a tweak, the last unit padded with copies of
// the last gate (as in the VAES kernels), and `$finish(n, g, h)` given gate `n`'s hashes.
macro_rules! aesni_batch {
    ($k:expr, $t:expr, $gates:expr, $regs:expr, $per:expr,
     |$g:ident| $load:block, |$n:ident, $fg:ident, $h:ident| $finish:block) => {{
        const R: usize = $regs;
        const PER_UNIT: usize = XUNIT / R;
        let gates: &[SlotGate] = $gates;
        let (tweak, step) = tweak_xmm($t);
        let units = gates.len().div_ceil(PER_UNIT);
        let last = gates.len().saturating_sub(1);
        aesni_pipeline!(
            $k,
            tweak,
            step,
            $per,
            XUNIT,
            units,
            |u| {
                let mut x = [_mm_setzero_si128(); XUNIT];
                for i in 0..PER_UNIT {
                    let $g = &gates[(u * PER_UNIT + i).min(last)];
                    let regs: [__m128i; R] = $load;
                    x[R * i..R * (i + 1)].copy_from_slice(&regs);
                }
                x
            },
            |u, h| {
                for i in 0..PER_UNIT {
                    let $n = u * PER_UNIT + i;
                    if $n < gates.len() {
                        let $fg = &gates[$n];
                        let $h: [__m128i; R] = core::array::from_fn(|r| h[R * i + r]);
                        $finish
                    }
                }
            }
        );
    }};
}

/// Garbles a batch of independent AND gates with AES-NI (see `crate::garble` for the formulas).
#[target_feature(enable = "sse2,aes")]
pub(super) fn aesni_garble_ands(
    keys: &Keys,
    labels: &mut [Block],
    gates: &[SlotGate],
    delta: Block,
    t: &Tweaks,
    tables: &mut [Block],
) {
    assert_eq!(tables.len(), 2 * gates.len());
    let k = load_keys_xmm(keys);
    let d = load_block(&delta);
    // A gate's registers are A0, A1 (counter first + 2i) and B0, B1 (first + 2i + 1): two
    // registers per counter.
    aesni_batch!(
        &k,
        t,
        gates,
        4,
        2,
        |g| {
            let a0 = load_block(&labels[g.a as usize]);
            let b0 = load_block(&labels[g.b as usize]);
            [a0, _mm_xor_si128(a0, d), b0, _mm_xor_si128(b0, d)]
        },
        |n, g, h| { garble_finish_xmm(labels, g, h, d, &mut tables[2 * n..2 * n + 2]) }
    );
}

/// Evaluates a batch of independent AND gates with AES-NI.
#[target_feature(enable = "sse2,aes")]
pub(super) fn aesni_eval_ands(
    keys: &Keys,
    labels: &mut [Block],
    gates: &[SlotGate],
    t: &Tweaks,
    tables: &[Block],
) {
    assert_eq!(tables.len(), 2 * gates.len());
    let k = load_keys_xmm(keys);
    // A gate's registers are A and B, hashed under first + 2i and first + 2i + 1.
    aesni_batch!(
        &k,
        t,
        gates,
        2,
        1,
        |g| {
            [
                load_block(&labels[g.a as usize]),
                load_block(&labels[g.b as usize]),
            ]
        },
        |n, g, h| { eval_finish_xmm(labels, g, h, &tables[2 * n..2 * n + 2]) }
    );
}

// ---------------------------------------------------------------------------------------------
// PCLMULQDQ: sums of carry-less products for the GF(2^128) check of the OT extension.

/// `sum_i a_i * b_i` as unreduced 256-bit carry-less products `(lo, hi)`.
///
/// # Safety
/// The CPU must support PCLMULQDQ and SSE2.
#[target_feature(enable = "sse2,pclmulqdq")]
pub(super) unsafe fn clmul_dot(a: &[Block], b: &[Block]) -> (u128, u128) {
    let n = a.len().min(b.len());
    let (mut low, mut middle, mut high) = (
        _mm_setzero_si128(),
        _mm_setzero_si128(),
        _mm_setzero_si128(),
    );
    for i in 0..n {
        // SAFETY: i < n <= both lengths; `Block` is 16 bytes and unaligned loads are allowed.
        let (x, y) = unsafe {
            (
                _mm_loadu_si128(a.as_ptr().add(i) as *const __m128i),
                _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i),
            )
        };
        low = _mm_xor_si128(low, _mm_clmulepi64_si128(x, y, 0x00));
        high = _mm_xor_si128(high, _mm_clmulepi64_si128(x, y, 0x11));
        middle = _mm_xor_si128(middle, _mm_clmulepi64_si128(x, y, 0x01));
        middle = _mm_xor_si128(middle, _mm_clmulepi64_si128(x, y, 0x10));
    }
    let mut out = [0u128; 3];
    for (slot, v) in out.iter_mut().zip([low, middle, high]) {
        // SAFETY: storing 16 bytes into a local u128.
        unsafe { _mm_storeu_si128(slot as *mut u128 as *mut __m128i, v) };
    }
    let [low, middle, high] = out;
    (low ^ (middle << 64), high ^ (middle >> 64))
}

/// `acc[2i], acc[2i + 1] ^= x_i * g` (the unreduced 256-bit carry-less product): see
/// `gf128::scale_add`.
///
/// # Safety
/// The CPU must support PCLMULQDQ and SSE2; `acc.len() == 2 * xs.len()`.
#[target_feature(enable = "pclmulqdq,sse2")]
pub(super) unsafe fn clmul_scale_add(acc: &mut [Block], xs: &[Block], g: Block) {
    debug_assert_eq!(acc.len(), 2 * xs.len());
    let n = xs.len().min(acc.len() / 2);
    // SAFETY: loading 16 bytes from a local Block.
    let g = unsafe { _mm_loadu_si128(&g as *const Block as *const __m128i) };
    for i in 0..n {
        // SAFETY: i < n, so xs[i], acc[2i] and acc[2i + 1] are in bounds; unaligned accesses.
        unsafe {
            let x = _mm_loadu_si128(xs.as_ptr().add(i) as *const __m128i);
            let lo_ptr = acc.as_mut_ptr().add(2 * i) as *mut __m128i;
            let hi_ptr = acc.as_mut_ptr().add(2 * i + 1) as *mut __m128i;
            let middle = _mm_xor_si128(
                _mm_clmulepi64_si128(x, g, 0x01),
                _mm_clmulepi64_si128(x, g, 0x10),
            );
            let low = _mm_xor_si128(
                _mm_clmulepi64_si128(x, g, 0x00),
                _mm_slli_si128::<8>(middle),
            );
            let high = _mm_xor_si128(
                _mm_clmulepi64_si128(x, g, 0x11),
                _mm_srli_si128::<8>(middle),
            );
            _mm_storeu_si128(lo_ptr, _mm_xor_si128(_mm_loadu_si128(lo_ptr), low));
            _mm_storeu_si128(hi_ptr, _mm_xor_si128(_mm_loadu_si128(hi_ptr), high));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Key expansion with AESKEYGENASSIST: the S-box of the schedule in hardware, no table lookups on
// key bytes (FIPS-197 §5.2; Intel's AES-NI white paper, "Key expansion using AESKEYGENASSIST").

#[target_feature(enable = "sse2")]
#[inline]
fn expand_step(key: __m128i, assist: __m128i) -> __m128i {
    // The assist's word 3 is SubWord(RotWord(w[i-1])) ^ rcon; broadcast it, then fold the
    // previous round key's words into each other.
    let assist = _mm_shuffle_epi32::<0xff>(assist);
    let mut k = key;
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    _mm_xor_si128(k, assist)
}

/// The 11 round keys of AES-128, in the same layout as `schedule::expand_key`.
#[target_feature(enable = "sse2,aes")]
pub(super) fn aesni_expand_key(key: &[u8; 16]) -> Keys {
    let mut out = [Block::ZERO; 11];
    // SAFETY: `key` is 16 bytes; an unaligned load is valid.
    let mut k = unsafe { _mm_loadu_si128(key.as_ptr() as *const __m128i) };
    #[target_feature(enable = "sse2")]
    #[inline]
    fn store(out: &mut Keys, i: usize, v: __m128i) {
        // SAFETY: `out[i]` is 16 bytes of a local array (the index is checked).
        unsafe { _mm_storeu_si128(&mut out[i] as *mut Block as *mut __m128i, v) }
    }
    store(&mut out, 0, k);
    macro_rules! round {
        ($i:expr, $rcon:expr) => {
            k = expand_step(k, _mm_aeskeygenassist_si128::<$rcon>(k));
            store(&mut out, $i, k);
        };
    }
    round!(1, 0x01);
    round!(2, 0x02);
    round!(3, 0x04);
    round!(4, 0x08);
    round!(5, 0x10);
    round!(6, 0x20);
    round!(7, 0x40);
    round!(8, 0x80);
    round!(9, 0x1b);
    round!(10, 0x36);
    let _ = k;
    out
}

/// [`clmul_dot`] four blocks an instruction with VPCLMULQDQ on 512-bit registers.
///
/// # Safety
/// The CPU must support AVX-512F and VPCLMULQDQ (and PCLMULQDQ, SSE2 for the tail).
#[target_feature(enable = "avx512f,vpclmulqdq,pclmulqdq,sse2")]
pub(super) unsafe fn clmul_dot_512(a: &[Block], b: &[Block]) -> (u128, u128) {
    let n = a.len().min(b.len());
    let wide = n / 4 * 4;
    let (mut low, mut middle, mut high) = (
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
    );
    let mut i = 0;
    while i < wide {
        // SAFETY: i + 4 <= wide <= both lengths; unaligned 64-byte loads of 4 blocks.
        let (x, y) = unsafe {
            (
                _mm512_loadu_si512(a.as_ptr().add(i) as *const _),
                _mm512_loadu_si512(b.as_ptr().add(i) as *const _),
            )
        };
        low = _mm512_xor_si512(low, _mm512_clmulepi64_epi128(x, y, 0x00));
        high = _mm512_xor_si512(high, _mm512_clmulepi64_epi128(x, y, 0x11));
        middle = _mm512_xor_si512(middle, _mm512_clmulepi64_epi128(x, y, 0x01));
        middle = _mm512_xor_si512(middle, _mm512_clmulepi64_epi128(x, y, 0x10));
        i += 4;
    }
    let mut lanes = [[0u128; 4]; 3];
    for (slot, v) in lanes.iter_mut().zip([low, middle, high]) {
        // SAFETY: storing 64 bytes into a local [u128; 4].
        unsafe { _mm512_storeu_si512(slot.as_mut_ptr() as *mut _, v) };
    }
    let fold = |l: &[u128; 4]| l[0] ^ l[1] ^ l[2] ^ l[3];
    let (low, middle, high) = (fold(&lanes[0]), fold(&lanes[1]), fold(&lanes[2]));
    // SAFETY: the caller guarantees PCLMULQDQ and SSE2.
    let (tail_lo, tail_hi) = unsafe { clmul_dot(&a[wide..n], &b[wide..n]) };
    (
        low ^ (middle << 64) ^ tail_lo,
        high ^ (middle >> 64) ^ tail_hi,
    )
}
