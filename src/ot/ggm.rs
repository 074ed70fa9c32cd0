//! All-but-one oblivious transfer from `k` random OTs: a GGM tree (Goldreich, Goldwasser, Micali,
//! "How to construct random functions", JACM 1986) of depth `k` punctured at one leaf, the
//! `(2^k - 1)`-out-of-`2^k` OT that SoftSpoken OT builds its small-field VOLE on (Roy,
//! "SoftSpokenOT: Quieter OT Extension from Small-Field Silent VOLE in the Minicrypt Model",
//! CRYPTO 2022, eprint 2022/192, §3.1, where the punctured PRF comes from the silent-OT
//! literature).
//!
//! The *sender* knows both keys `r_l^0, r_l^1` of the random OTs `l = 0..k`; it expands a random
//! root into `2^k` leaves, node `n` having children `G(n) = (left, right)`, and for every level
//! `l` sends `e_l^b = (XOR of the side-b children at level l) ^ r_l^b` for `b = 0, 1`. The
//! *receiver* holds `r_l^{c_l}` for its choice bits `c`; at level `l` it recovers the XOR of
//! the side-`c_l` children and, knowing every node of the level above except the one on its
//! path, the one side-`c_l` child it cannot compute itself: the sibling of its path. Its path
//! therefore takes side `!c_l` at every level and ends at the one leaf it never learns. A leaf's
//! index has level 0's side as its most significant bit.
//!
//! The receiver's reconstruction touches every node and selects with masks, so neither its
//! branches nor its memory accesses depend on its choice bits. A sender that sends a wrong `e`
//! makes the receiver's leaves depend on which side it took; SoftSpoken's consistency check
//! (in [`super::iknp`]) catches the resulting VOLE unless the sender guessed those choice bits,
//! the selective-abort leakage the paper's analysis allows for (§4).
//!
//! `G` is BLAKE3 keyed by the session id, with the tree's index and a domain string: tree
//! expansion happens once per session (32 trees of 16 leaves for `k = 4`), so speed is moot.

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::block::{Block, mask};
use crate::error::{Error, Result};

/// The deepest tree supported: 256 leaves.
pub const MAX_DEPTH: usize = 8;

/// `G(node) = (left, right)`.
fn expand(session: &[u8; 32], tree: usize, node: Block) -> [Block; 2] {
    let mut h = blake3::Hasher::new_keyed(session);
    h.update(b"garbled GGM node v1");
    h.update(&(tree as u64).to_le_bytes());
    h.update(&node.to_bytes());
    let out = h.finalize();
    let bytes = out.as_bytes();
    let mut left = [0u8; 16];
    let mut right = [0u8; 16];
    left.copy_from_slice(&bytes[..16]);
    right.copy_from_slice(&bytes[16..]);
    [Block::from_bytes(left), Block::from_bytes(right)]
}

/// The sender's side of tree `tree`: from the root and the `k` key pairs, the `2^k` leaves and
/// the `2k` corrections `e_0^0, e_0^1, e_1^0, …`.
pub fn send(
    session: &[u8; 32],
    tree: usize,
    root: Block,
    keys: &[(Block, Block)],
) -> (Vec<Block>, Vec<Block>) {
    let mut nodes = vec![root];
    let mut corrections = Vec::with_capacity(2 * keys.len());
    for (r0, r1) in keys {
        let mut next = Vec::with_capacity(2 * nodes.len());
        let mut sums = [Block::ZERO; 2];
        for node in &nodes {
            let children = expand(session, tree, *node);
            sums[0] ^= children[0];
            sums[1] ^= children[1];
            next.extend_from_slice(&children);
        }
        corrections.push(sums[0] ^ *r0);
        corrections.push(sums[1] ^ *r1);
        nodes.zeroize();
        nodes = next;
        sums.zeroize();
    }
    (nodes, corrections)
}

/// The receiver's side: from its keys `r_l^{c_l}`, its choice bits `c` and the sender's
/// corrections, the `2^k` leaves with the one it cannot know (index: the bits `!c_l`, level 0
/// most significant) set to zero. Wrong lengths are the peer's fault.
pub fn receive(
    session: &[u8; 32],
    tree: usize,
    keys: &[Block],
    choices: &[bool],
    corrections: &[Block],
) -> Result<Vec<Block>> {
    let depth = keys.len();
    if depth == 0 || depth > MAX_DEPTH || choices.len() != depth {
        return Err(Error::arg(format!("a GGM tree of depth {depth}")));
    }
    if corrections.len() != 2 * depth {
        return Err(Error::peer(format!(
            "{} tree corrections for a tree of depth {depth}",
            corrections.len()
        )));
    }
    // Level 0: the root, unknown (index 0 is on the path).
    let mut nodes = vec![Block::ZERO];
    let mut path = 0usize;
    for (l, (&key, &c)) in keys.iter().zip(choices).enumerate() {
        let m = mask(c);
        let (e0, e1) = (corrections[2 * l], corrections[2 * l + 1]);
        // XOR of all side-c children at this level.
        let received = Block::new(e0.value() ^ ((e0.value() ^ e1.value()) & m)) ^ key;
        let mut next = Vec::with_capacity(2 * nodes.len());
        let mut known = Block::ZERO;
        for (i, node) in nodes.iter().enumerate() {
            let children = expand(session, tree, *node);
            let on_path = (i as u64).ct_eq(&(path as u64)).unwrap_u8() == 1;
            let side_c =
                Block::new(children[0].value() ^ ((children[0].value() ^ children[1].value()) & m));
            // The path node's children are garbage: left out of the sum.
            known ^= side_c.select(!on_path);
            next.extend_from_slice(&children);
        }
        let sibling = 2 * path + usize::from(c);
        let missing = 2 * path + usize::from(!c);
        let value = received ^ known;
        for (i, node) in next.iter_mut().enumerate() {
            let is_sibling = (i as u64).ct_eq(&(sibling as u64));
            let is_missing = (i as u64).ct_eq(&(missing as u64));
            let v = node.value();
            let v = v ^ ((v ^ value.value()) & mask(is_sibling.unwrap_u8() == 1));
            *node = Block::new(v & !mask(is_missing.unwrap_u8() == 1));
        }
        nodes.zeroize();
        nodes = next;
        path = missing;
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aes::Prg;

    fn keys(prg: &mut Prg, depth: usize) -> Vec<(Block, Block)> {
        (0..depth).map(|_| (prg.block(), prg.block())).collect()
    }

    #[test]
    fn the_receiver_learns_every_leaf_but_its_own() {
        let session = [4u8; 32];
        let mut prg = Prg::from_seed([9; 16]);
        for depth in 1..=MAX_DEPTH {
            let pairs = keys(&mut prg, depth);
            let root = prg.block();
            let (leaves, corrections) = send(&session, depth, root, &pairs);
            assert_eq!(leaves.len(), 1 << depth);
            for choice in [0usize, 1, (1 << depth) - 1, 0b1010_0110 % (1 << depth)] {
                let bits: Vec<bool> = (0..depth).map(|l| choice >> l & 1 == 1).collect();
                let mine: Vec<Block> = pairs
                    .iter()
                    .zip(&bits)
                    .map(|(&(r0, r1), &c)| if c { r1 } else { r0 })
                    .collect();
                let got = receive(&session, depth, &mine, &bits, &corrections).unwrap();
                let missing = bits
                    .iter()
                    .fold(0usize, |acc, &c| (acc << 1) | usize::from(!c));
                for (y, (a, b)) in got.iter().zip(&leaves).enumerate() {
                    if y == missing {
                        assert_eq!(*a, Block::ZERO);
                        assert_ne!(*b, Block::ZERO);
                    } else {
                        assert_eq!(a, b, "depth {depth}, choice {choice}, leaf {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_wrong_correction_changes_only_the_leaves_of_its_side() {
        let session = [5u8; 32];
        let mut prg = Prg::from_seed([10; 16]);
        let pairs = keys(&mut prg, 4);
        let (leaves, mut corrections) = send(&session, 0, prg.block(), &pairs);
        // Level 1, side 1 tampered: a receiver choosing 0 there never reads it.
        corrections[3] ^= Block::new(1);
        for (bits, differs) in [
            ([true, false, true, true], false),
            ([true, true, true, true], true),
        ] {
            let mine: Vec<Block> = pairs
                .iter()
                .zip(&bits)
                .map(|(&(r0, r1), &c)| if c { r1 } else { r0 })
                .collect();
            let got = receive(&session, 0, &mine, &bits, &corrections).unwrap();
            let missing = bits
                .iter()
                .fold(0usize, |acc, &c| (acc << 1) | usize::from(!c));
            let wrong = (0..16)
                .filter(|&y| y != missing && got[y] != leaves[y])
                .count();
            assert_eq!(wrong > 0, differs, "choices {bits:?}");
        }
    }

    #[test]
    fn bad_lengths_are_typed_errors() {
        let session = [0u8; 32];
        let key = [Block::ZERO; 2];
        assert!(matches!(
            receive(&session, 0, &key, &[true, false], &[Block::ZERO; 3]),
            Err(Error::PeerMisbehaved(_))
        ));
        assert!(receive(&session, 0, &[], &[], &[]).is_err());
    }
}
