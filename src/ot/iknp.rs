//! Correlated OT extension with a global offset: IKNP (Ishai, Kilian, Nissim, Petrank, "Extending
//! oblivious transfers efficiently", CRYPTO 2003, §3) in the correlated form of Asharov, Lindell,
//! Schneider and Zohner ("More efficient oblivious transfer and extensions for faster secure
//! computation", CCS 2013, §5.4), with the sender's base-OT choice string equal to the garbler's
//! free-XOR offset Delta.
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
//! the one wanted). Semi-honest security; 16 bytes per OT on the wire.

use super::transpose::transpose_tile;
use crate::aes::Prg;
use crate::block::{Block, Delta};
use crate::error::{Error, Result};

/// Number of base OTs (the security parameter).
pub const BASE_OTS: usize = 128;

/// Blocks per column for `m` OTs: the number of 128x128 tiles.
pub fn tiles(m: usize) -> usize {
    m.div_ceil(128)
}

/// Tiles generated and transposed per pass: 16 tiles of 128 blocks = 32 KiB, so that each
/// column generator produces 16 blocks per call (a full pass of the AES kernel).
/// Writing whole columns first and transposing afterwards read each tile with a stride of the
/// column length, which defeated the caches (measured: 3x slower).
const GROUP: usize = 16;

/// The message and outputs are tile-major: block `128*k + j` is column `j`'s block of tile `k`.
/// Fills `out` (tile-major, `tiles` tiles) from the 128 column generators.
fn fill_tiles(prgs: &mut [Prg], out: &mut [Block], tiles: usize) {
    let mut column = [Block::ZERO; GROUP];
    for (j, g) in prgs.iter_mut().enumerate() {
        let col = &mut column[..tiles];
        g.fill(col);
        for (k, b) in col.iter().enumerate() {
            out[128 * k + j] = *b;
        }
    }
}

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

/// The extension receiver (the evaluator): holds both seeds of every base OT.
pub struct CotReceiver {
    prgs0: Vec<Prg>,
    prgs1: Vec<Prg>,
}

impl std::fmt::Debug for CotReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CotReceiver(<secret>)")
    }
}

impl CotReceiver {
    /// From the base-OT sender's key pairs.
    pub fn new(keys: &[(Block, Block)]) -> Result<Self> {
        if keys.len() != BASE_OTS {
            return Err(Error::arg(format!(
                "IKNP needs {BASE_OTS} base OTs, got {}",
                keys.len()
            )));
        }
        Ok(CotReceiver {
            prgs0: keys
                .iter()
                .map(|(k0, _)| Prg::from_seed(k0.to_bytes()))
                .collect(),
            prgs1: keys
                .iter()
                .map(|(_, k1)| Prg::from_seed(k1.to_bytes()))
                .collect(),
        })
    }

    /// Extends by `choices.len()` OTs. Returns the message for the sender (`128 * tiles(m)`
    /// blocks, tile-major) and the receiver's outputs `t_i`, one per choice.
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
        u.clear();
        u.resize(BASE_OTS * n, Block::ZERO);
        let out_start = out.len();
        out.resize(out_start + m, Block::ZERO);
        let out = &mut out[out_start..];
        let mut t = [Block::ZERO; BASE_OTS * GROUP];
        let mut tile = [0u128; 128];
        for first in (0..n).step_by(GROUP) {
            let count = GROUP.min(n - first);
            let u_group = &mut u[BASE_OTS * first..BASE_OTS * (first + count)];
            fill_tiles(&mut self.prgs0, &mut t, count);
            fill_tiles(&mut self.prgs1, u_group, count);
            for k in 0..count {
                // x restricted to this tile, as one block: every column gets it.
                let base = 128 * (first + k);
                let x = Block::new(pack128(&choices[base..(base + 128).min(m)]));
                for (j, (u, t)) in u_group[128 * k..128 * (k + 1)]
                    .iter_mut()
                    .zip(&t[128 * k..128 * (k + 1)])
                    .enumerate()
                {
                    *u = *u ^ *t ^ x;
                    tile[j] = t.value();
                }
                transpose_tile(&mut tile);
                let end = (base + 128).min(m);
                for (o, v) in out[base..end].iter_mut().zip(&tile) {
                    *o = Block::new(*v);
                }
            }
        }
    }
}

/// The extension sender (the garbler): holds one seed per base OT, chosen by Delta's bits.
pub struct CotSender {
    prgs: Vec<Prg>,
    delta: Delta,
}

impl std::fmt::Debug for CotSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CotSender(<secret>)")
    }
}

impl CotSender {
    /// From the base-OT receiver's keys, received with choice bits = the bits of `delta`.
    pub fn new(delta: Delta, keys: &[Block]) -> Result<Self> {
        if keys.len() != BASE_OTS {
            return Err(Error::arg(format!(
                "IKNP needs {BASE_OTS} base OTs, got {}",
                keys.len()
            )));
        }
        Ok(CotSender {
            prgs: keys.iter().map(|k| Prg::from_seed(k.to_bytes())).collect(),
            delta,
        })
    }

    /// The global offset.
    pub fn delta(&self) -> &Delta {
        &self.delta
    }

    /// Extends by `m` OTs given the receiver's message `u` (`128 * tiles(m)` blocks, tile-major);
    /// returns `q_i = t_i ^ x_i*Delta`: the zero-labels.
    pub fn extend(&mut self, m: usize, u: &[Block]) -> Result<Vec<Block>> {
        let mut out = Vec::new();
        self.extend_into(m, u, &mut out)?;
        Ok(out)
    }

    /// [`CotSender::extend`] appending the zero-labels to `out`.
    pub fn extend_into(&mut self, m: usize, u: &[Block], out: &mut Vec<Block>) -> Result<()> {
        let n = tiles(m);
        if u.len() != BASE_OTS * n {
            return Err(Error::peer(format!(
                "IKNP message of {} blocks, expected {}",
                u.len(),
                BASE_OTS * n
            )));
        }
        // Column j is XORed with u exactly when bit j of Delta is set: a mask per column.
        let masks: Vec<Block> = (0..BASE_OTS)
            .map(|j| Block::new(u128::MAX).select(self.delta.bit(j)))
            .collect();
        let out_start = out.len();
        out.resize(out_start + m, Block::ZERO);
        let out = &mut out[out_start..];
        let mut q = [Block::ZERO; BASE_OTS * GROUP];
        let mut tile = [0u128; 128];
        for first in (0..n).step_by(GROUP) {
            let count = GROUP.min(n - first);
            fill_tiles(&mut self.prgs, &mut q, count);
            for k in 0..count {
                let u_tile = &u[128 * (first + k)..128 * (first + k + 1)];
                for (j, ((q, u), mask)) in q[128 * k..128 * (k + 1)]
                    .iter()
                    .zip(u_tile)
                    .zip(&masks)
                    .enumerate()
                {
                    tile[j] = (*q ^ (*u & *mask)).value();
                }
                transpose_tile(&mut tile);
                let base = 128 * (first + k);
                let end = (base + 128).min(m);
                for (o, v) in out[base..end].iter_mut().zip(&tile) {
                    *o = Block::new(*v);
                }
            }
        }
        Ok(())
    }
}
