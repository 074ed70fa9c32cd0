//! The SHA-256 compression function (FIPS 180-4 §6.2.2) as a circuit.
//!
//! Wire order follows the Bristol Fashion `sha256.txt`: the 512-bit block and the 256-bit state
//! are big-endian integers (word W0 / H0 most significant), wire k = bit k. So word `t` of the
//! block is wires `32*(15-t) ..` and `H_i` is wires `32*(7-i) ..`, each least significant bit
//! first. The output is the new state (with the feed-forward), in the state's order.
//!
//! Additions are ripple-carry with the one-AND majority; each round adds the round constant to the
//! message word first, so that constant folding removes the carries below the constant's lowest
//! set bit.

use super::{Builder, Wire};

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The SHA-256 initial hash value H(0), for tests and the demo.
pub const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

impl Builder {
    fn rotr3_xor(&mut self, x: &[Wire], r: [usize; 3], shift_last: bool) -> Vec<Wire> {
        let a = self.rotr(x, r[0]);
        let b = self.rotr(x, r[1]);
        let c = if shift_last {
            self.shr(x, r[2])
        } else {
            self.rotr(x, r[2])
        };
        let ab = self.xor_bits(&a, &b);
        self.xor_bits(&ab, &c)
    }

    /// One SHA-256 compression: `state_out = compress(state_in, block)` including the
    /// feed-forward, in the wire order of the module documentation.
    pub fn sha256_compress(&mut self, block: &[Wire], state: &[Wire]) -> Vec<Wire> {
        assert_eq!(block.len(), 512, "a SHA-256 block has 512 bits");
        assert_eq!(state.len(), 256, "a SHA-256 state has 256 bits");
        let word = |bits: &[Wire], i: usize, count: usize| {
            bits[32 * (count - 1 - i)..32 * (count - i)].to_vec()
        };
        let mut w: Vec<Vec<Wire>> = (0..16).map(|t| word(block, t, 16)).collect();
        for t in 16..64 {
            let s0 = self.rotr3_xor(&w[t - 15], [7, 18, 3], true);
            let s1 = self.rotr3_xor(&w[t - 2], [17, 19, 10], true);
            let x = self.add(&s1, &w[t - 7]);
            let y = self.add(&s0, &w[t - 16]);
            w.push(self.add(&x, &y));
        }
        let h_in: Vec<Vec<Wire>> = (0..8).map(|i| word(state, i, 8)).collect();
        let mut v = h_in.clone();
        for (t, w_t) in w.iter().enumerate() {
            let (a, b, c, d, e, f, g, h) = (&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
            let k = self.constant_int(u128::from(K[t]), 32);
            let kw = self.add(&k, w_t);
            let sigma1 = self.rotr3_xor(e, [6, 11, 25], false);
            let fg = self.xor_bits(f, g);
            let efg = self.and_bits(e, &fg);
            let ch = self.xor_bits(&efg, g);
            let t1 = self.add(h, &kw);
            let t1 = self.add(&t1, &sigma1);
            let t1 = self.add(&t1, &ch);
            let sigma0 = self.rotr3_xor(a, [2, 13, 22], false);
            let maj: Vec<Wire> = (0..32).map(|i| self.majority(a[i], b[i], c[i])).collect();
            let t2 = self.add(&sigma0, &maj);
            let new_e = self.add(d, &t1);
            let new_a = self.add(&t1, &t2);
            v = vec![
                new_a,
                a.clone(),
                b.clone(),
                c.clone(),
                new_e,
                e.clone(),
                f.clone(),
                g.clone(),
            ];
        }
        let out: Vec<Vec<Wire>> = (0..8).map(|i| self.add(&h_in[i], &v[i])).collect();
        (0..8).rev().flat_map(|i| out[i].clone()).collect()
    }
}
