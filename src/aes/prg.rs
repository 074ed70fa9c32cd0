//! A pseudorandom generator: AES-128 in counter mode under a key from the operating system.
//!
//! AES-CTR is the standard PRG of garbling implementations (emp-toolkit's `PRG`, swanky's
//! `AesRng`): with a uniformly random key its output is indistinguishable from random as long as
//! AES is a PRP. Delta and all input labels come from here.

use rand::TryRng;

use super::Aes;
use crate::block::Block;
use crate::error::{Error, Result};

/// AES-CTR. The key is zeroized when the generator is dropped (see `Aes`).
pub struct Prg {
    aes: Aes,
    counter: u128,
}

impl std::fmt::Debug for Prg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prg(<secret>)")
    }
}

impl Prg {
    /// A generator keyed from the operating system's entropy source.
    pub fn from_os() -> Result<Self> {
        let mut seed = [0u8; 16];
        rand::rngs::SysRng.try_fill_bytes(&mut seed).map_err(|e| {
            Error::io(
                "cannot read OS randomness",
                std::io::Error::other(e.to_string()),
            )
        })?;
        let prg = Prg::from_seed(seed);
        zeroize::Zeroize::zeroize(&mut seed);
        Ok(prg)
    }

    /// A generator with a given seed: deterministic, for tests and for expanding OT seeds.
    pub fn from_seed(seed: [u8; 16]) -> Self {
        Prg {
            aes: Aes::new(seed),
            counter: 0,
        }
    }

    /// Fills `out` with pseudorandom blocks.
    pub fn fill(&mut self, out: &mut [Block]) {
        self.aes.encrypt_counters(self.counter, out);
        self.counter = self.counter.wrapping_add(out.len() as u128);
    }

    /// One pseudorandom block.
    pub fn block(&mut self) -> Block {
        let mut b = [Block::ZERO];
        self.fill(&mut b);
        b[0]
    }

    /// Fills a byte buffer with pseudorandom bytes.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        let mut buf = [Block::ZERO; 64];
        for chunk in out.chunks_mut(64 * 16) {
            let blocks = chunk.len().div_ceil(16);
            self.fill(&mut buf[..blocks]);
            for (bytes, b) in chunk.chunks_mut(16).zip(&buf) {
                bytes.copy_from_slice(&b.to_bytes()[..bytes.len()]);
            }
        }
        // The buffer held the output (salts, seeds, share bits): leave none of it on the stack.
        zeroize::Zeroize::zeroize(&mut buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_are_deterministic_and_chunking_does_not_matter() {
        let mut a = Prg::from_seed([3; 16]);
        let mut b = Prg::from_seed([3; 16]);
        let mut whole = vec![Block::ZERO; 37];
        a.fill(&mut whole);
        let mut parts = vec![Block::ZERO; 37];
        b.fill(&mut parts[..5]);
        b.fill(&mut parts[5..]);
        assert_eq!(whole, parts);
        let mut c = Prg::from_seed([4; 16]);
        assert_ne!(c.block(), whole[0]);
    }

    #[test]
    fn os_seeded_generators_differ() {
        let mut a = Prg::from_os().unwrap();
        let mut b = Prg::from_os().unwrap();
        assert_ne!(a.block(), b.block());
    }

    #[test]
    fn bytes_follow_blocks() {
        let mut a = Prg::from_seed([9; 16]);
        let mut b = Prg::from_seed([9; 16]);
        let mut bytes = [0u8; 40];
        a.fill_bytes(&mut bytes);
        let blocks = [b.block(), b.block(), b.block()];
        assert_eq!(&bytes[..16], &blocks[0].to_bytes());
        assert_eq!(&bytes[32..40], &blocks[2].to_bytes()[..8]);
    }
}
