//! The AES-128 key schedule (FIPS-197 §5.2), for our own AES-NI and VAES kernels, which need the
//! round keys as data.
//!
//! Keys are secret (the OS-seeded generator's key makes Delta and every label; the IKNP seeds
//! are OT outputs), so their expansion never indexes a table with key bytes: on AES-NI and VAES
//! machines `AESKEYGENASSIST` does the S-box in hardware (`x86::aesni_expand_key`); elsewhere
//! [`expand_key`] computes each S-box value arithmetically (the inverse in GF(2^8) as `a^254`
//! with branchless multiplications, then the affine map of FIPS-197 §5.1.1). The table [`SBOX`],
//! built at compile time from the same definition, serves public data only (the circuit
//! builder's AES, tests).

use crate::block::Block;

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
const fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        let carry = a & 0x80;
        a <<= 1;
        if carry != 0 {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    product
}

/// The multiplicative inverse in GF(2^8) (0 maps to 0): a^254.
const fn gf_inv(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    let mut e = 254u32;
    while e != 0 {
        if e & 1 != 0 {
            result = gf_mul(result, base);
        }
        base = gf_mul(base, base);
        e >>= 1;
    }
    if a == 0 { 0 } else { result }
}

const fn build_sbox() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = gf_inv(i as u8);
        table[i] =
            b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63;
        i += 1;
    }
    table
}

/// The AES S-box.
pub(crate) const SBOX: [u8; 256] = build_sbox();

/// Multiplication in GF(2^8) without branches on the operands.
fn gf_mul_ct(mut a: u8, b: u8) -> u8 {
    let mut product = 0u8;
    for i in 0..8 {
        product ^= a & ((b >> i) & 1).wrapping_neg();
        let carry = (a >> 7).wrapping_neg();
        a = (a << 1) ^ (0x1b & carry);
    }
    product
}

/// The S-box without a table: `a^254` (0 for 0) by a fixed square-and-multiply chain, then the
/// affine map.
fn sbox_ct(a: u8) -> u8 {
    // 254 = 0b11111110: square, multiply by a, seven times; the exponent is public.
    let mut result = 1u8;
    for bit in (0..8).rev() {
        result = gf_mul_ct(result, result);
        if (254u32 >> bit) & 1 == 1 {
            result = gf_mul_ct(result, a);
        }
    }
    let b = result;
    b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63
}

/// Expands a 16-byte key into the 11 round keys of AES-128, each as the 16 bytes of the FIPS-197
/// words w[4i..4i+4] in order, in constant time (no table lookups).
pub(crate) fn expand_key(key: [u8; 16]) -> [Block; 11] {
    let mut w = [[0u8; 4]; 44];
    for (i, word) in w.iter_mut().take(4).enumerate() {
        word.copy_from_slice(&key[4 * i..4 * i + 4]);
    }
    let mut rcon = 1u8;
    for i in 4..44 {
        let mut t = w[i - 1];
        if i % 4 == 0 {
            t = [
                sbox_ct(t[1]) ^ rcon,
                sbox_ct(t[2]),
                sbox_ct(t[3]),
                sbox_ct(t[0]),
            ];
            rcon = gf_mul(rcon, 2);
        }
        for j in 0..4 {
            w[i][j] = w[i - 4][j] ^ t[j];
        }
    }
    let mut keys = [Block::ZERO; 11];
    for (r, key) in keys.iter_mut().enumerate() {
        let mut bytes = [0u8; 16];
        for j in 0..4 {
            bytes[4 * j..4 * j + 4].copy_from_slice(&w[4 * r + j]);
        }
        *key = Block::from_bytes(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
    }
    zeroize::Zeroize::zeroize(&mut w);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_matches_fips_197() {
        assert_eq!(SBOX[0x00], 0x63);
        assert_eq!(SBOX[0x53], 0xed);
        assert_eq!(SBOX[0xff], 0x16);
        let mut seen = [false; 256];
        for &v in &SBOX {
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "the S-box is a permutation");
    }

    #[test]
    fn the_arithmetic_sbox_is_the_table() {
        for x in 0..=255u8 {
            assert_eq!(sbox_ct(x), SBOX[x as usize], "{x:#x}");
        }
    }

    #[test]
    fn key_expansion_matches_fips_197_appendix_a1() {
        let key = [
            0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
            0x4f, 0x3c,
        ];
        let keys = expand_key(key);
        // w[4..8] and w[40..44] from FIPS-197 A.1.
        assert_eq!(
            keys[1].to_bytes(),
            [
                0xa0, 0xfa, 0xfe, 0x17, 0x88, 0x54, 0x2c, 0xb1, 0x23, 0xa3, 0x39, 0x39, 0x2a, 0x6c,
                0x76, 0x05
            ]
        );
        assert_eq!(
            keys[10].to_bytes(),
            [
                0xd0, 0x14, 0xf9, 0xa8, 0xc9, 0xee, 0x25, 0x89, 0xe1, 0x3f, 0x0c, 0xc8, 0xb6, 0x63,
                0x0c, 0xa6
            ]
        );
    }
}
