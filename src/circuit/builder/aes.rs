//! AES-128 encryption (FIPS-197) as a circuit.
//!
//! The S-box is the 113-gate circuit of Boyar and Peralta, "A new combinational logic
//! minimization technique with applications to cryptology" (SEA 2010; also in Boyar, Matthews,
//! Peralta, "Logic minimization techniques with applications to cryptology", J. Cryptology 2013):
//! a linear top layer, a 32-AND inversion in GF(2^4)-based form, and a linear bottom layer. With
//! 16 S-boxes per round and 4 per key-schedule round, AES-128 costs 200 x 32 = 6400 AND gates;
//! everything else (ShiftRows, MixColumns, AddRoundKey) is XOR.
//!
//! Wire order: the key and the plaintext are 128-bit groups read as big-endian integers (byte 0 of
//! FIPS-197 is the most significant), wire k = bit k: exactly the convention of the Bristol
//! Fashion `aes_128.txt`, so the two circuits compute the same function on the same wires.

use super::{Builder, Wire};

/// One byte, least significant bit first.
type Byte = [Wire; 8];

impl Builder {
    /// The AES S-box on one byte (32 ANDs).
    pub fn aes_sbox(&mut self, byte: [Wire; 8]) -> [Wire; 8] {
        // The published circuit numbers bits from the most significant: x0 = bit 7.
        let x: [Wire; 8] = std::array::from_fn(|i| byte[7 - i]);
        let s = sbox_msb_first(self, x);
        std::array::from_fn(|i| s[7 - i])
    }

    /// AES-128 encryption of `plaintext` under `key`, both 128 wires in the Bristol Fashion
    /// order described in the module documentation; returns the ciphertext in the same order.
    pub fn aes128(&mut self, key: &[Wire], plaintext: &[Wire]) -> Vec<Wire> {
        assert_eq!(key.len(), 128, "an AES-128 key has 128 bits");
        assert_eq!(plaintext.len(), 128, "an AES block has 128 bits");
        let key = to_bytes(key);
        let round_keys = self.expand_key(&key);
        let pt = to_bytes(plaintext);
        let mut state: [Byte; 16] =
            std::array::from_fn(|i| xor_byte(self, &pt[i], &round_keys[0][i]));
        for (round, round_key) in round_keys.iter().enumerate().skip(1) {
            let sub: [Byte; 16] = std::array::from_fn(|i| self.aes_sbox(state[i]));
            // ShiftRows: row r of column c comes from column c + r.
            let shifted: [Byte; 16] = std::array::from_fn(|i| {
                let (r, c) = (i % 4, i / 4);
                sub[r + 4 * ((c + r) % 4)]
            });
            let mixed = if round < 10 {
                self.mix_columns(&shifted)
            } else {
                shifted
            };
            state = std::array::from_fn(|i| xor_byte(self, &mixed[i], &round_key[i]));
        }
        from_bytes(&state)
    }

    fn expand_key(&mut self, key: &[Byte; 16]) -> Vec<[Byte; 16]> {
        let mut words: Vec<[Byte; 4]> = (0..4)
            .map(|i| std::array::from_fn(|j| key[4 * i + j]))
            .collect();
        let mut rcon: u8 = 1;
        for i in 4..44 {
            let prev = words[i - 1];
            let temp: [Byte; 4] = if i % 4 == 0 {
                let rotated = [prev[1], prev[2], prev[3], prev[0]];
                let mut t: [Byte; 4] = std::array::from_fn(|j| self.aes_sbox(rotated[j]));
                for (bit, wire) in t[0].iter_mut().enumerate() {
                    if rcon >> bit & 1 == 1 {
                        *wire = self.not(*wire);
                    }
                }
                rcon = (rcon << 1) ^ if rcon & 0x80 != 0 { 0x1b } else { 0 };
                t
            } else {
                prev
            };
            let back = words[i - 4];
            words.push(std::array::from_fn(|j| xor_byte(self, &back[j], &temp[j])));
        }
        words
            .chunks(4)
            .map(|w| std::array::from_fn(|i| w[i / 4][i % 4]))
            .collect()
    }

    fn mix_columns(&mut self, s: &[Byte; 16]) -> [Byte; 16] {
        let mut out = *s;
        for c in 0..4 {
            let a: [Byte; 4] = std::array::from_fn(|r| s[4 * c + r]);
            let t01 = xor_byte(self, &a[0], &a[1]);
            let t23 = xor_byte(self, &a[2], &a[3]);
            let all = xor_byte(self, &t01, &t23);
            for r in 0..4 {
                let pair = xor_byte(self, &a[r], &a[(r + 1) % 4]);
                let doubled = xtime(self, &pair);
                let partial = xor_byte(self, &a[r], &all);
                out[4 * c + r] = xor_byte(self, &partial, &doubled);
            }
        }
        out
    }
}

fn xor_byte(b: &mut Builder, x: &Byte, y: &Byte) -> Byte {
    std::array::from_fn(|i| b.xor(x[i], y[i]))
}

/// Multiplication by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1: linear.
fn xtime(b: &mut Builder, x: &Byte) -> Byte {
    let top = x[7];
    [
        top,
        b.xor(x[0], top),
        x[1],
        b.xor(x[2], top),
        b.xor(x[3], top),
        x[4],
        x[5],
        x[6],
    ]
}

/// 128 wires (wire k = bit k of the big-endian integer) -> 16 bytes in FIPS order.
fn to_bytes(wires: &[Wire]) -> [Byte; 16] {
    std::array::from_fn(|i| std::array::from_fn(|bit| wires[8 * (15 - i) + bit]))
}

fn from_bytes(bytes: &[Byte; 16]) -> Vec<Wire> {
    (0..128).map(|k| bytes[15 - k / 8][k % 8]).collect()
}

/// The Boyar-Peralta S-box circuit, bits most significant first (`x[0]` is bit 7).
fn sbox_msb_first(b: &mut Builder, x: [Wire; 8]) -> [Wire; 8] {
    macro_rules! xor {
        ($p:expr, $q:expr) => {
            b.xor($p, $q)
        };
    }
    macro_rules! and {
        ($p:expr, $q:expr) => {
            b.and($p, $q)
        };
    }
    // Top linear layer.
    let y14 = xor!(x[3], x[5]);
    let y13 = xor!(x[0], x[6]);
    let y9 = xor!(x[0], x[3]);
    let y8 = xor!(x[0], x[5]);
    let t0 = xor!(x[1], x[2]);
    let y1 = xor!(t0, x[7]);
    let y4 = xor!(y1, x[3]);
    let y12 = xor!(y13, y14);
    let y2 = xor!(y1, x[0]);
    let y5 = xor!(y1, x[6]);
    let y3 = xor!(y5, y8);
    let t1 = xor!(x[4], y12);
    let y15 = xor!(t1, x[5]);
    let y20 = xor!(t1, x[1]);
    let y6 = xor!(y15, x[7]);
    let y10 = xor!(y15, t0);
    let y11 = xor!(y20, y9);
    let y7 = xor!(x[7], y11);
    let y17 = xor!(y10, y11);
    let y19 = xor!(y10, y8);
    let y16 = xor!(t0, y11);
    let y21 = xor!(y13, y16);
    let y18 = xor!(x[0], y16);
    // Non-linear middle: 32 ANDs.
    let t2 = and!(y12, y15);
    let t3 = and!(y3, y6);
    let t4 = xor!(t3, t2);
    let t5 = and!(y4, x[7]);
    let t6 = xor!(t5, t2);
    let t7 = and!(y13, y16);
    let t8 = and!(y5, y1);
    let t9 = xor!(t8, t7);
    let t10 = and!(y2, y7);
    let t11 = xor!(t10, t7);
    let t12 = and!(y9, y11);
    let t13 = and!(y14, y17);
    let t14 = xor!(t13, t12);
    let t15 = and!(y8, y10);
    let t16 = xor!(t15, t12);
    let t17 = xor!(t4, t14);
    let t18 = xor!(t6, t16);
    let t19 = xor!(t9, t14);
    let t20 = xor!(t11, t16);
    let t21 = xor!(t17, y20);
    let t22 = xor!(t18, y19);
    let t23 = xor!(t19, y21);
    let t24 = xor!(t20, y18);
    let t25 = xor!(t21, t22);
    let t26 = and!(t21, t23);
    let t27 = xor!(t24, t26);
    let t28 = and!(t25, t27);
    let t29 = xor!(t28, t22);
    let t30 = xor!(t23, t24);
    let t31 = xor!(t22, t26);
    let t32 = and!(t31, t30);
    let t33 = xor!(t32, t24);
    let t34 = xor!(t23, t33);
    let t35 = xor!(t27, t33);
    let t36 = and!(t24, t35);
    let t37 = xor!(t36, t34);
    let t38 = xor!(t27, t36);
    let t39 = and!(t29, t38);
    let t40 = xor!(t25, t39);
    let t41 = xor!(t40, t37);
    let t42 = xor!(t29, t33);
    let t43 = xor!(t29, t40);
    let t44 = xor!(t33, t37);
    let t45 = xor!(t42, t41);
    let z0 = and!(t44, y15);
    let z1 = and!(t37, y6);
    let z2 = and!(t33, x[7]);
    let z3 = and!(t43, y16);
    let z4 = and!(t40, y1);
    let z5 = and!(t29, y7);
    let z6 = and!(t42, y11);
    let z7 = and!(t45, y17);
    let z8 = and!(t41, y10);
    let z9 = and!(t44, y12);
    let z10 = and!(t37, y3);
    let z11 = and!(t33, y4);
    let z12 = and!(t43, y13);
    let z13 = and!(t40, y5);
    let z14 = and!(t29, y2);
    let z15 = and!(t42, y9);
    let z16 = and!(t45, y14);
    let z17 = and!(t41, y8);
    // Bottom linear layer.
    let t46 = xor!(z15, z16);
    let t47 = xor!(z10, z11);
    let t48 = xor!(z5, z13);
    let t49 = xor!(z9, z10);
    let t50 = xor!(z2, z12);
    let t51 = xor!(z2, z5);
    let t52 = xor!(z7, z8);
    let t53 = xor!(z0, z3);
    let t54 = xor!(z6, z7);
    let t55 = xor!(z16, z17);
    let t56 = xor!(z12, t48);
    let t57 = xor!(t50, t53);
    let t58 = xor!(z4, t46);
    let t59 = xor!(z3, t54);
    let t60 = xor!(t46, t57);
    let t61 = xor!(z14, t57);
    let t62 = xor!(t52, t58);
    let t63 = xor!(t49, t58);
    let t64 = xor!(z4, t59);
    let t65 = xor!(t61, t62);
    let t66 = xor!(z1, t63);
    let s0 = xor!(t59, t63);
    let s6 = xor!(t56, t62);
    let s6 = b.not(s6);
    let s7 = xor!(t48, t60);
    let s7 = b.not(s7);
    let t67 = xor!(t64, t65);
    let s3 = xor!(t53, t66);
    let s4 = xor!(t51, t66);
    let s5 = xor!(t47, t65);
    let s1 = xor!(t64, s3);
    let s1 = b.not(s1);
    let s2 = xor!(t55, t67);
    let s2 = b.not(s2);
    [s0, s1, s2, s3, s4, s5, s6, s7]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::plain;

    #[test]
    fn sbox_matches_the_table_on_all_256_inputs() {
        let mut b = Builder::new();
        let x = b.input("x", 8);
        let s = b.aes_sbox(std::array::from_fn(|i| x[i]));
        b.output("s", &s);
        let c = b.finish().unwrap();
        assert_eq!(c.stats().and, 32);
        for v in 0..=255u8 {
            let bits: Vec<bool> = (0..8).map(|k| v >> k & 1 == 1).collect();
            let out = plain::eval_bits(&c, &[bits]).unwrap();
            let got: u8 = out[0]
                .iter()
                .enumerate()
                .map(|(k, &bit)| u8::from(bit) << k)
                .sum();
            assert_eq!(got, crate::aes::sbox(v), "S({v:#04x})");
        }
    }
}
