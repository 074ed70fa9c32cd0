//! 128-bit blocks: wire labels, garbled-table rows, AES states; and the free-XOR offset `Delta`.
//!
//! Free-XOR (Kolesnikov and Schneider, ICALP 2008) with point-and-permute: every wire has a
//! zero-label `W0`, its one-label is `W0 ^ Delta`, and the colour bit is `lsb(label)`. Forcing
//! `lsb(Delta) = 1` makes the two labels of a wire differ in colour.
//!
//! Secret-dependent choices use [`Block::select`], a mask built from the bit, never a branch.

use std::fmt;
use std::ops::{BitAnd, BitXor, BitXorAssign};

use zeroize::Zeroize;

/// A 16-byte value. Byte `i` of [`Block::to_bytes`] is bits `8i .. 8i+8` of the `u128` (little
/// endian), so `lsb` is the low bit of byte 0, on every platform.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Block(pub(crate) u128);

impl Block {
    /// The all-zero block.
    pub const ZERO: Block = Block(0);

    /// A block from its 128-bit value.
    pub const fn new(value: u128) -> Self {
        Block(value)
    }

    /// The 128-bit value.
    pub const fn value(self) -> u128 {
        self.0
    }

    /// A block from two 64-bit halves (`low` = bits 0..64).
    pub const fn from_halves(high: u64, low: u64) -> Self {
        Block(((high as u128) << 64) | low as u128)
    }

    /// The block as 16 bytes (little endian).
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_le_bytes()
    }

    /// A block from 16 bytes (little endian).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Block(u128::from_le_bytes(bytes))
    }

    /// The least significant bit: the colour bit of a label.
    #[inline(always)]
    pub const fn lsb(self) -> bool {
        self.0 & 1 == 1
    }

    /// `self` if `bit` is set, zero otherwise, without a branch on `bit`.
    #[inline(always)]
    pub fn select(self, bit: bool) -> Block {
        Block(self.0 & mask(bit))
    }
}

/// All ones if `bit`, else all zeros, computed arithmetically.
#[inline(always)]
pub(crate) fn mask(bit: bool) -> u128 {
    (bit as u128).wrapping_neg()
}

impl BitXor for Block {
    type Output = Block;
    #[inline(always)]
    fn bitxor(self, rhs: Block) -> Block {
        Block(self.0 ^ rhs.0)
    }
}

impl BitXorAssign for Block {
    #[inline(always)]
    fn bitxor_assign(&mut self, rhs: Block) {
        self.0 ^= rhs.0;
    }
}

impl BitAnd for Block {
    type Output = Block;
    #[inline(always)]
    fn bitand(self, rhs: Block) -> Block {
        Block(self.0 & rhs.0)
    }
}

/// Blocks hold labels, OT outputs and keys as often as public values, so `Debug` never prints
/// the value (a `Vec<Block>` of OT outputs in a log would be a leak). Use [`Block::value`] where
/// a public block is to be shown.
impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Block(<secret>)")
    }
}

impl zeroize::DefaultIsZeroes for Block {}

/// Wipes a vector's elements and its spare capacity with bulk writes and keeps the allocation
/// (empty). `Vec::zeroize` writes the elements one volatile store at a time, which made wiping a
/// malicious session's buffers a tenth of its CPU time in a profile; the slice and spare-capacity
/// paths of `zeroize` write whole ranges and keep them from being optimised away.
pub(crate) fn wipe_vec<T: zeroize::DefaultIsZeroes>(v: &mut Vec<T>) {
    use zeroize::Zeroize;
    v.as_mut_slice().zeroize();
    v.spare_capacity_mut().zeroize();
    v.clear();
}

/// The garbler's global free-XOR offset. Its constructor forces `lsb = 1`; it is zeroized on drop
/// and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Delta(Block);

impl Delta {
    /// A Delta from 128 bits; the least significant bit is set to 1.
    pub fn new(block: Block) -> Self {
        Delta(Block(block.0 | 1))
    }

    /// The offset as a block.
    #[inline(always)]
    pub fn block(&self) -> Block {
        self.0
    }

    /// Bit `i` of Delta (bit 0 is always 1): the garbler's base-OT choice bits in IKNP.
    pub fn bit(&self, i: usize) -> bool {
        (self.0.0 >> i) & 1 == 1
    }
}

impl Drop for Delta {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Delta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Delta(<secret>)")
    }
}

/// A wire's zero-label, held by the garbler only.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ZeroLabel(pub Block);

/// The label of a wire's actual value, what the evaluator holds.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ActiveLabel(pub Block);

impl zeroize::DefaultIsZeroes for ZeroLabel {}
impl zeroize::DefaultIsZeroes for ActiveLabel {}

impl ZeroLabel {
    /// The label encoding `bit`: `W0 ^ bit*Delta`, computed without a branch on `bit`.
    #[inline(always)]
    pub fn encode(self, bit: bool, delta: &Delta) -> ActiveLabel {
        ActiveLabel(self.0 ^ delta.block().select(bit))
    }
}

impl fmt::Debug for ZeroLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ZeroLabel(<secret>)")
    }
}

impl fmt::Debug for ActiveLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActiveLabel(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_lsb_is_forced() {
        assert!(Delta::new(Block::ZERO).block().lsb());
        assert_eq!(Delta::new(Block::new(6)).block(), Block::new(7));
        assert!(Delta::new(Block::new(6)).bit(0));
    }

    #[test]
    fn select_is_a_mask() {
        let b = Block::new(0x1234_5678_9abc_def0_1122_3344_5566_7788);
        assert_eq!(b.select(true), b);
        assert_eq!(b.select(false), Block::ZERO);
    }

    #[test]
    fn bytes_are_little_endian() {
        let b = Block::from_bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
        assert!(b.lsb());
        assert_eq!(b.value() >> 127, 1);
        assert_eq!(Block::from_bytes(b.to_bytes()), b);
        assert_eq!(Block::from_halves(1, 2).value(), (1u128 << 64) | 2);
    }

    #[test]
    fn secrets_are_not_printed() {
        let d = Delta::new(Block::new(0xdead_beef));
        assert!(!format!("{d:?}").contains("deadbeef"));
        let z = ZeroLabel(Block::new(0xdead_beef));
        assert!(!format!("{z:?}").contains("deadbeef"));
        let a = z.encode(true, &d);
        assert_eq!(a.0, z.0 ^ d.block());
        assert!(!format!("{a:?}").contains("deadbeef"));
        let blocks = vec![Block::new(0xdead_beef); 3];
        assert!(!format!("{blocks:?}").contains("deadbeef"));
        assert!(format!("{blocks:?}").contains("<secret>"));
    }
}
