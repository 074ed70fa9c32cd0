//! Arithmetic in GF(2^128) = GF(2)\[x\] / (x^128 + x^7 + x^2 + x + 1), for the consistency
//! checks of the actively secure OT extensions (KOS15 for IKNP, SoftSpoken's column hashes; see
//! `crate::ot::iknp`).
//!
//! A [`Block`]'s bit `i` (of its `u128` value) is the coefficient of `x^i`. Products are computed
//! carry-less with VPCLMULQDQ (four products an instruction) or PCLMULQDQ where the CPU has them
//! (four 64x64 multiplications per product, detected at run time) and with a branchless
//! shift-and-add loop elsewhere; all are tested against each other. Sums of many products
//! ([`dot`], [`scale_add`]) accumulate the unreduced 256-bit products and reduce once at the end.

use crate::block::Block;

/// x^128 = x^7 + x^2 + x + 1: folds a 256-bit product `(lo, hi)` back to 128 bits.
fn reduce(lo: u128, hi: u128) -> u128 {
    // hi * x^128 = hi * (1 + x + x^2 + x^7); the bits that spill past x^127 fold once more.
    let spill = (hi >> 127) ^ (hi >> 126) ^ (hi >> 121);
    let t = hi ^ spill;
    lo ^ t ^ (t << 1) ^ (t << 2) ^ (t << 7)
}

/// 64x64 -> 128-bit carry-less product without branches or secret-indexed memory.
fn clmul64_portable(a: u64, b: u64) -> u128 {
    let mut product = 0u128;
    for i in 0..64 {
        let mask = (((b >> i) & 1) as u128).wrapping_neg();
        product ^= ((a as u128) << i) & mask;
    }
    product
}

/// 128x128 -> 256-bit carry-less product `(lo, hi)`, portable.
fn clmul128_portable(a: u128, b: u128) -> (u128, u128) {
    let (a0, a1) = (a as u64, (a >> 64) as u64);
    let (b0, b1) = (b as u64, (b >> 64) as u64);
    let low = clmul64_portable(a0, b0);
    let high = clmul64_portable(a1, b1);
    let middle = clmul64_portable(a0, b1) ^ clmul64_portable(a1, b0);
    (low ^ (middle << 64), high ^ (middle >> 64))
}

/// The product in GF(2^128), portable: the reference the fast path is tested against.
pub fn mul_portable(a: Block, b: Block) -> Block {
    let (lo, hi) = clmul128_portable(a.value(), b.value());
    Block::new(reduce(lo, hi))
}

/// Whether VPCLMULQDQ on 512-bit registers is available (checked once).
fn have_wide_clmul() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAVE: OnceLock<bool> = OnceLock::new();
        *HAVE.get_or_init(|| {
            have_clmul()
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("vpclmulqdq")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether PCLMULQDQ is available (checked once).
fn have_clmul() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAVE: OnceLock<bool> = OnceLock::new();
        *HAVE.get_or_init(|| {
            std::arch::is_x86_feature_detected!("pclmulqdq")
                && std::arch::is_x86_feature_detected!("sse2")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The product in GF(2^128).
pub fn mul(a: Block, b: Block) -> Block {
    dot(&[a], &[b])
}

/// `sum_i a_i * b_i` in GF(2^128) over the common length of the slices.
pub fn dot(a: &[Block], b: &[Block]) -> Block {
    let (lo, hi) = dot_unreduced(a, b, true);
    Block::new(reduce(lo, hi))
}

/// `sum_i a_i * b_i` on the portable path (for tests).
pub fn dot_portable(a: &[Block], b: &[Block]) -> Block {
    let (lo, hi) = dot_unreduced(a, b, false);
    Block::new(reduce(lo, hi))
}

/// `acc_i += x_i * g` for every `i`, unreduced: `acc[2i]` holds the low and `acc[2i + 1]` the
/// high 128 bits of the running sum of products (fold with [`reduce_pairs`]). The column hashes
/// of the SoftSpoken consistency check (`crate::ot::iknp`) add one tile a call.
pub fn scale_add(acc: &mut [Block], xs: &[Block], g: Block) {
    assert_eq!(acc.len(), 2 * xs.len(), "one (low, high) pair per block");
    #[cfg(target_arch = "x86_64")]
    if have_clmul() {
        // SAFETY: PCLMULQDQ and SSE2 were detected on this CPU just above; the lengths match.
        return unsafe { super::x86::clmul_scale_add(acc, xs, g) };
    }
    scale_add_portable(acc, xs, g);
}

/// [`scale_add`] on the portable path (the reference the fast path is tested against).
pub fn scale_add_portable(acc: &mut [Block], xs: &[Block], g: Block) {
    for (pair, x) in acc.chunks_exact_mut(2).zip(xs) {
        let (lo, hi) = clmul128_portable(x.value(), g.value());
        pair[0] = Block::new(pair[0].value() ^ lo);
        pair[1] = Block::new(pair[1].value() ^ hi);
    }
}

/// Reduces the `(low, high)` pairs that [`scale_add`] accumulated: one field element each.
pub fn reduce_pairs(acc: &[Block]) -> Vec<Block> {
    acc.chunks_exact(2)
        .map(|pair| Block::new(reduce(pair[0].value(), pair[1].value())))
        .collect()
}

/// `sum_i c_i * b_i` where `c_i` is a bit (selected without branches): the receiver's
/// combination of its choice bits.
pub fn select_sum(bits: &[bool], b: &[Block]) -> Block {
    let mut sum = 0u128;
    for (&bit, v) in bits.iter().zip(b) {
        sum ^= v.value() & (bit as u128).wrapping_neg();
    }
    Block::new(sum)
}

fn dot_unreduced(a: &[Block], b: &[Block], fast: bool) -> (u128, u128) {
    #[cfg(target_arch = "x86_64")]
    if fast && have_wide_clmul() && a.len().min(b.len()) >= 8 {
        // SAFETY: AVX-512F, VPCLMULQDQ, PCLMULQDQ and SSE2 were detected on this CPU.
        return unsafe { super::x86::clmul_dot_512(a, b) };
    }
    #[cfg(target_arch = "x86_64")]
    if fast && have_clmul() {
        // SAFETY: PCLMULQDQ and SSE2 were detected on this CPU just above.
        return unsafe { super::x86::clmul_dot(a, b) };
    }
    let _ = fast;
    let mut acc = (0u128, 0u128);
    for (x, y) in a.iter().zip(b) {
        let (lo, hi) = clmul128_portable(x.value(), y.value());
        acc.0 ^= lo;
        acc.1 ^= hi;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aes::Prg;

    #[test]
    fn the_field_laws_hold() {
        let one = Block::new(1);
        let x = Block::new(2);
        let mut prg = Prg::from_seed([5; 16]);
        for _ in 0..50 {
            let (a, b, c) = (prg.block(), prg.block(), prg.block());
            assert_eq!(mul_portable(a, one), a);
            assert_eq!(mul_portable(a, b), mul_portable(b, a));
            assert_eq!(
                mul_portable(mul_portable(a, b), c),
                mul_portable(a, mul_portable(b, c))
            );
            assert_eq!(
                mul_portable(a, b ^ c),
                mul_portable(a, b) ^ mul_portable(a, c)
            );
        }
        // x^127 * x = x^128 = x^7 + x^2 + x + 1.
        assert_eq!(mul_portable(Block::new(1 << 127), x), Block::new(0x87));
    }

    #[test]
    fn the_fast_path_matches_the_portable_reference() {
        let mut prg = Prg::from_seed([6; 16]);
        for n in [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 13, 100, 128, 1000, 1001] {
            let mut a = vec![Block::ZERO; n];
            let mut b = vec![Block::ZERO; n];
            prg.fill(&mut a);
            prg.fill(&mut b);
            assert_eq!(dot(&a, &b), dot_portable(&a, &b), "length {n}");
            #[cfg(target_arch = "x86_64")]
            if have_clmul() {
                // SAFETY: PCLMULQDQ and SSE2 detected.
                let narrow = unsafe { super::super::x86::clmul_dot(&a, &b) };
                assert_eq!(Block::new(reduce(narrow.0, narrow.1)), dot_portable(&a, &b));
            }
            let reference = a
                .iter()
                .zip(&b)
                .fold(Block::ZERO, |s, (x, y)| s ^ mul_portable(*x, *y));
            assert_eq!(dot(&a, &b), reference, "length {n}");
        }
        for _ in 0..100 {
            let (a, b) = (prg.block(), prg.block());
            assert_eq!(mul(a, b), mul_portable(a, b));
        }
        // Extreme values.
        for a in [Block::ZERO, Block::new(u128::MAX), Block::new(1 << 127)] {
            for b in [Block::new(u128::MAX), Block::new(3)] {
                assert_eq!(mul(a, b), mul_portable(a, b));
            }
        }
    }

    #[test]
    fn scaled_sums_match_the_products() {
        let mut prg = Prg::from_seed([8; 16]);
        for n in [0usize, 1, 5, 128] {
            let mut xs = vec![Block::ZERO; n];
            let mut acc = vec![Block::ZERO; 2 * n];
            let mut reference = vec![Block::ZERO; n];
            for _ in 0..3 {
                prg.fill(&mut xs);
                let g = prg.block();
                let mut portable = acc.clone();
                scale_add(&mut acc, &xs, g);
                scale_add_portable(&mut portable, &xs, g);
                assert_eq!(acc, portable, "length {n}");
                for (r, x) in reference.iter_mut().zip(&xs) {
                    *r ^= mul_portable(*x, g);
                }
            }
            assert_eq!(reduce_pairs(&acc), reference, "length {n}");
        }
    }

    #[test]
    fn select_sum_adds_the_chosen_blocks() {
        let mut prg = Prg::from_seed([7; 16]);
        let mut v = vec![Block::ZERO; 10];
        prg.fill(&mut v);
        let bits = [
            true, false, true, true, false, false, false, true, false, true,
        ];
        let expected = v
            .iter()
            .zip(bits)
            .filter(|(_, bit)| *bit)
            .fold(Block::ZERO, |s, (b, _)| s ^ *b);
        assert_eq!(select_sum(&bits, &v), expected);
    }
}
