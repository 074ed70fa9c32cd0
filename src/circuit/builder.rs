//! Writing circuits in Rust: wires, gates, integer gadgets, AES-128 and SHA-256.
//!
//! A [`Builder`] hands out [`Wire`]s; integers are slices of wires, least significant bit first.
//! Every gate goes through on-the-fly simplification (see [`Simplify`]): constants propagate,
//! `x ^ x`, `x ^ !x`, `x & x`, `x & !x` and double negations vanish, and a gate
//! identical to an earlier one is reused (structural hashing). [`Builder::finish`] drops gates no
//! output depends on and numbers the wires in Bristol order. Replaying an existing circuit
//! through a builder is therefore an optimizer ([`crate::circuit::optimize`]).
//!
//! AND counts of the gadgets (n = bit width): add/sub n-1, neg n-2, less-than and
//! less-or-equal (unsigned and signed) n, equality n-1, multiplexer n, low-half multiply
//! n(n+1)/2 + (n-1)(n-2)/2, full multiply 2n^2 - n... (see the tests for exact figures).

use std::collections::HashMap;

use crate::circuit::ir::{Circuit, Gate, Group, GroupKind, WireId};
use crate::error::{Error, Result};

mod aes;
mod sha256;

/// A wire of a circuit under construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Wire(u32);

/// The constant false.
pub const FALSE: Wire = Wire(0);
/// The constant true.
pub const TRUE: Wire = Wire(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Node {
    Const(bool),
    Input,
    Xor(Wire, Wire),
    And(Wire, Wire),
    Not(Wire),
}

/// Which simplifications the builder applies as gates are added (all on by default). The
/// optimizer exposes them as separate passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Simplify {
    /// Fold gates with constant inputs.
    pub constants: bool,
    /// Reuse an identical earlier gate instead of adding a duplicate.
    pub structural_hashing: bool,
    /// `x^x = 0`, `x^!x = 1`, `x&x = x`, `x&!x = 0`, `!!x = x`.
    pub xor_inv: bool,
    /// Drop gates no output depends on when finishing.
    pub dead_gates: bool,
}

impl Simplify {
    /// Every simplification.
    pub const ALL: Simplify = Simplify {
        constants: true,
        structural_hashing: true,
        xor_inv: true,
        dead_gates: true,
    };
    /// None: the builder records gates exactly as given.
    pub const NONE: Simplify = Simplify {
        constants: false,
        structural_hashing: false,
        xor_inv: false,
        dead_gates: false,
    };
}

impl Default for Simplify {
    fn default() -> Self {
        Simplify::ALL
    }
}

/// A fast hasher for the structural-hashing table: a node is a tag and two builder-assigned
/// wire numbers, and SipHash (the standard library's default) took a third of the time of
/// building a 4096-row comparator.
#[derive(Default)]
struct NodeHasher(u64);

impl std::hash::Hasher for NodeHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn write_isize(&mut self, v: isize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        // Fold the high bits down: the table indexes with the low ones.
        self.0 ^ (self.0 >> 29)
    }
}

type NodeTable = HashMap<Node, Wire, std::hash::BuildHasherDefault<NodeHasher>>;

/// Builds a [`Circuit`].
#[derive(Debug)]
pub struct Builder {
    nodes: Vec<Node>,
    inputs: Vec<(Group, Vec<Wire>)>,
    outputs: Vec<(Group, Vec<Wire>)>,
    cache: NodeTable,
    simplify: Simplify,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// An empty builder with every simplification on.
    pub fn new() -> Self {
        Builder::with_simplify(Simplify::ALL)
    }

    /// An empty builder with the given simplifications.
    pub fn with_simplify(simplify: Simplify) -> Self {
        Builder {
            nodes: vec![Node::Const(false), Node::Const(true)],
            inputs: Vec::new(),
            outputs: Vec::new(),
            cache: NodeTable::default(),
            simplify,
        }
    }

    fn push(&mut self, node: Node) -> Wire {
        if self.simplify.structural_hashing
            && let Some(&w) = self.cache.get(&node)
        {
            return w;
        }
        let w = Wire(self.nodes.len() as u32);
        self.nodes.push(node);
        if self.simplify.structural_hashing {
            self.cache.insert(node, w);
        }
        w
    }

    /// A new input group of `width` wires (least significant first), unsigned.
    pub fn input(&mut self, name: &str, width: u32) -> Vec<Wire> {
        self.input_of_kind(name, width, GroupKind::Unsigned)
    }

    /// A new input group of a given kind.
    pub fn input_of_kind(&mut self, name: &str, width: u32, kind: GroupKind) -> Vec<Wire> {
        let wires: Vec<Wire> = (0..width)
            .map(|_| {
                let w = Wire(self.nodes.len() as u32);
                self.nodes.push(Node::Input);
                w
            })
            .collect();
        self.inputs
            .push((Group::with_kind(name, width, kind), wires.clone()));
        wires
    }

    /// Declares an output group (unsigned).
    pub fn output(&mut self, name: &str, wires: &[Wire]) {
        self.output_of_kind(name, wires, GroupKind::Unsigned)
    }

    /// Declares an output group of a given kind.
    pub fn output_of_kind(&mut self, name: &str, wires: &[Wire], kind: GroupKind) {
        self.outputs.push((
            Group::with_kind(name, wires.len() as u32, kind),
            wires.to_vec(),
        ));
    }

    /// A constant wire.
    pub fn constant(&self, value: bool) -> Wire {
        if value { TRUE } else { FALSE }
    }

    /// `n` constant wires holding `value` (least significant first).
    pub fn constant_int(&self, value: u128, n: usize) -> Vec<Wire> {
        (0..n)
            .map(|k| self.constant(k < 128 && value >> k & 1 == 1))
            .collect()
    }

    fn const_of(&self, w: Wire) -> Option<bool> {
        match self.nodes[w.0 as usize] {
            Node::Const(v) if self.simplify.constants => Some(v),
            _ => None,
        }
    }

    fn not_of(&self, w: Wire) -> Option<Wire> {
        match self.nodes[w.0 as usize] {
            Node::Not(x) if self.simplify.xor_inv => Some(x),
            _ => None,
        }
    }

    /// `NOT a`.
    pub fn not(&mut self, a: Wire) -> Wire {
        if let Some(v) = self.const_of(a) {
            return self.constant(!v);
        }
        if let Some(x) = self.not_of(a) {
            return x;
        }
        self.push(Node::Not(a))
    }

    /// `a XOR b`.
    pub fn xor(&mut self, a: Wire, b: Wire) -> Wire {
        match (self.const_of(a), self.const_of(b)) {
            (Some(x), Some(y)) => return self.constant(x ^ y),
            (Some(false), _) => return b,
            (_, Some(false)) => return a,
            (Some(true), _) => return self.not(b),
            (_, Some(true)) => return self.not(a),
            _ => {}
        }
        if self.simplify.xor_inv {
            if a == b {
                return self.constant(false);
            }
            if self.not_of(a) == Some(b) || self.not_of(b) == Some(a) {
                return self.constant(true);
            }
        }
        let (a, b) = if self.simplify.structural_hashing && b < a {
            (b, a)
        } else {
            (a, b)
        };
        self.push(Node::Xor(a, b))
    }

    /// `a AND b`.
    pub fn and(&mut self, a: Wire, b: Wire) -> Wire {
        match (self.const_of(a), self.const_of(b)) {
            (Some(false), _) | (_, Some(false)) => return self.constant(false),
            (Some(true), _) => return b,
            (_, Some(true)) => return a,
            _ => {}
        }
        if self.simplify.xor_inv {
            if a == b {
                return a;
            }
            if self.not_of(a) == Some(b) || self.not_of(b) == Some(a) {
                return self.constant(false);
            }
        }
        let (a, b) = if self.simplify.structural_hashing && b < a {
            (b, a)
        } else {
            (a, b)
        };
        self.push(Node::And(a, b))
    }

    /// `a OR b` (one AND).
    pub fn or(&mut self, a: Wire, b: Wire) -> Wire {
        let x = self.xor(a, b);
        let y = self.and(a, b);
        self.xor(x, y)
    }

    /// The majority of three bits (one AND): the carry of a full adder.
    pub fn majority(&mut self, a: Wire, b: Wire, c: Wire) -> Wire {
        let ac = self.xor(a, c);
        let bc = self.xor(b, c);
        let t = self.and(ac, bc);
        self.xor(t, c)
    }

    /// `sel ? b : a` on one bit (one AND).
    pub fn mux_bit(&mut self, sel: Wire, a: Wire, b: Wire) -> Wire {
        let d = self.xor(a, b);
        let t = self.and(sel, d);
        self.xor(a, t)
    }

    /// Bitwise XOR of two equally wide values.
    pub fn xor_bits(&mut self, a: &[Wire], b: &[Wire]) -> Vec<Wire> {
        a.iter().zip(b).map(|(&x, &y)| self.xor(x, y)).collect()
    }

    /// Bitwise AND of two equally wide values.
    pub fn and_bits(&mut self, a: &[Wire], b: &[Wire]) -> Vec<Wire> {
        a.iter().zip(b).map(|(&x, &y)| self.and(x, y)).collect()
    }

    /// Bitwise NOT.
    pub fn not_bits(&mut self, a: &[Wire]) -> Vec<Wire> {
        a.iter().map(|&x| self.not(x)).collect()
    }

    /// `a + b + carry_in` over `a.len()` bits, and the carry out. Ripple carry with the one-AND
    /// majority: n ANDs (fewer with constants).
    pub fn add_with_carry(&mut self, a: &[Wire], b: &[Wire], carry_in: Wire) -> (Vec<Wire>, Wire) {
        assert_eq!(a.len(), b.len(), "operands of add must be equally wide");
        let mut carry = carry_in;
        let mut sum = Vec::with_capacity(a.len());
        for (&x, &y) in a.iter().zip(b) {
            let t = self.xor(x, y);
            sum.push(self.xor(t, carry));
            carry = self.majority(x, y, carry);
        }
        (sum, carry)
    }

    /// `a + b mod 2^n` (n-1 ANDs: the last carry is not computed).
    pub fn add(&mut self, a: &[Wire], b: &[Wire]) -> Vec<Wire> {
        assert_eq!(a.len(), b.len(), "operands of add must be equally wide");
        let n = a.len();
        if n == 0 {
            return Vec::new();
        }
        let (mut sum, carry) = self.add_with_carry(&a[..n - 1], &b[..n - 1], FALSE);
        let t = self.xor(a[n - 1], b[n - 1]);
        sum.push(self.xor(t, carry));
        sum
    }

    /// `a - b mod 2^n` = `a + !b + 1` (n-1 ANDs).
    pub fn sub(&mut self, a: &[Wire], b: &[Wire]) -> Vec<Wire> {
        assert_eq!(a.len(), b.len(), "operands of sub must be equally wide");
        let n = a.len();
        if n == 0 {
            return Vec::new();
        }
        let nb = self.not_bits(b);
        let (mut diff, carry) = self.add_with_carry(&a[..n - 1], &nb[..n - 1], TRUE);
        let t = self.xor(a[n - 1], nb[n - 1]);
        diff.push(self.xor(t, carry));
        diff
    }

    /// `-a mod 2^n` (n-2 ANDs).
    pub fn neg(&mut self, a: &[Wire]) -> Vec<Wire> {
        let zero = vec![FALSE; a.len()];
        self.sub(&zero, a)
    }

    /// Unsigned `a < b`: the borrow of `a - b`, n ANDs.
    pub fn lt(&mut self, a: &[Wire], b: &[Wire]) -> Wire {
        assert_eq!(a.len(), b.len(), "operands of lt must be equally wide");
        // a - b = a + !b + 1; a < b exactly when this addition does not carry out.
        let mut carry = TRUE;
        for (&x, &y) in a.iter().zip(b) {
            let ny = self.not(y);
            carry = self.majority(x, ny, carry);
        }
        self.not(carry)
    }

    /// Unsigned `a <= b` = `!(b < a)`, n ANDs.
    pub fn le(&mut self, a: &[Wire], b: &[Wire]) -> Wire {
        let gt = self.lt(b, a);
        self.not(gt)
    }

    /// Flips the sign bit: signed order becomes unsigned order.
    fn offset_sign(&mut self, a: &[Wire]) -> Vec<Wire> {
        let mut v = a.to_vec();
        if let Some(top) = v.last_mut() {
            *top = self.not(*top);
        }
        v
    }

    /// Signed (two's complement) `a < b`, n ANDs.
    pub fn slt(&mut self, a: &[Wire], b: &[Wire]) -> Wire {
        let (x, y) = (self.offset_sign(a), self.offset_sign(b));
        self.lt(&x, &y)
    }

    /// Signed `a <= b`, n ANDs.
    pub fn sle(&mut self, a: &[Wire], b: &[Wire]) -> Wire {
        let (x, y) = (self.offset_sign(a), self.offset_sign(b));
        self.le(&x, &y)
    }

    /// `a == b`: n-1 ANDs in a balanced tree.
    pub fn eq(&mut self, a: &[Wire], b: &[Wire]) -> Wire {
        assert_eq!(a.len(), b.len(), "operands of eq must be equally wide");
        let same: Vec<Wire> = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| {
                let d = self.xor(x, y);
                self.not(d)
            })
            .collect();
        self.and_all(&same)
    }

    /// AND of all bits in a balanced tree (n-1 ANDs, depth log n); true for none.
    pub fn and_all(&mut self, bits: &[Wire]) -> Wire {
        let mut layer = bits.to_vec();
        if layer.is_empty() {
            return TRUE;
        }
        while layer.len() > 1 {
            let next = layer
                .chunks(2)
                .map(|p| {
                    if p.len() == 2 {
                        self.and(p[0], p[1])
                    } else {
                        p[0]
                    }
                })
                .collect();
            layer = next;
        }
        layer[0]
    }

    /// `sel ? b : a` (n ANDs).
    pub fn mux(&mut self, sel: Wire, a: &[Wire], b: &[Wire]) -> Vec<Wire> {
        assert_eq!(a.len(), b.len(), "operands of mux must be equally wide");
        a.iter()
            .zip(b)
            .map(|(&x, &y)| self.mux_bit(sel, x, y))
            .collect()
    }

    /// `a * b mod 2^n` (schoolbook, partial products only below bit n).
    pub fn mul(&mut self, a: &[Wire], b: &[Wire]) -> Vec<Wire> {
        assert_eq!(a.len(), b.len(), "operands of mul must be equally wide");
        let n = a.len();
        let mut acc: Vec<Wire> = b.iter().map(|&y| self.and(a[0], y)).collect();
        for i in 1..n {
            let row: Vec<Wire> = b[..n - i].iter().map(|&y| self.and(a[i], y)).collect();
            let high = self.add(&acc[i..], &row);
            acc.truncate(i);
            acc.extend(high);
        }
        acc
    }

    /// The full 2n-bit unsigned product.
    pub fn mul_full(&mut self, a: &[Wire], b: &[Wire]) -> Vec<Wire> {
        assert_eq!(a.len(), b.len(), "operands of mul must be equally wide");
        let n = a.len();
        if n == 0 {
            return Vec::new();
        }
        let mut acc: Vec<Wire> = b.iter().map(|&y| self.and(a[0], y)).collect();
        acc.push(FALSE);
        for i in 1..n {
            let row: Vec<Wire> = b.iter().map(|&y| self.and(a[i], y)).collect();
            let (sum, carry) = self.add_with_carry(&acc[i..i + n], &row, FALSE);
            acc.truncate(i);
            acc.extend(sum);
            acc.push(carry);
        }
        acc
    }

    /// The sum of several equally wide values, mod 2^n.
    pub fn sum(&mut self, values: &[Vec<Wire>]) -> Vec<Wire> {
        let mut iter = values.iter();
        let Some(first) = iter.next() else {
            return Vec::new();
        };
        let mut acc = first.clone();
        for v in iter {
            acc = self.add(&acc, v);
        }
        acc
    }

    /// Rotates right by `k` bits (wiring only).
    pub fn rotr(&self, a: &[Wire], k: usize) -> Vec<Wire> {
        let n = a.len();
        (0..n).map(|i| a[(i + k) % n]).collect()
    }

    /// Shifts right by `k` bits, filling with zeros (wiring only).
    pub fn shr(&self, a: &[Wire], k: usize) -> Vec<Wire> {
        (0..a.len())
            .map(|i| a.get(i + k).copied().unwrap_or(FALSE))
            .collect()
    }

    /// Number of wires created so far (inputs, constants and gates, before simplification at
    /// finish).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Numbers the wires (inputs first, then gates in creation order), drops gates no output
    /// depends on (unless disabled), and returns the circuit.
    pub fn finish(self) -> Result<Circuit> {
        if self.outputs.is_empty() {
            return Err(Error::InvalidCircuit("the circuit has no output".into()));
        }
        if let Some((g, _)) = self
            .inputs
            .iter()
            .chain(&self.outputs)
            .find(|(g, _)| g.width == 0)
        {
            return Err(Error::InvalidCircuit(format!(
                "group '{}' has no wires",
                g.name
            )));
        }
        let n = self.nodes.len();
        let mut needed = vec![!self.simplify.dead_gates; n];
        for (_, wires) in &self.outputs {
            for w in wires {
                needed[w.0 as usize] = true;
            }
        }
        if self.simplify.dead_gates {
            for i in (0..n).rev() {
                if !needed[i] {
                    continue;
                }
                match self.nodes[i] {
                    Node::Xor(a, b) | Node::And(a, b) => {
                        needed[a.0 as usize] = true;
                        needed[b.0 as usize] = true;
                    }
                    Node::Not(a) => needed[a.0 as usize] = true,
                    Node::Const(_) | Node::Input => {}
                }
            }
        }
        let mut id = vec![u32::MAX; n];
        let mut next: u32 = 0;
        for (_, wires) in &self.inputs {
            for w in wires {
                id[w.0 as usize] = next;
                next += 1;
            }
        }
        let mut gates = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if !needed[i] || matches!(node, Node::Input) {
                continue;
            }
            let out = next;
            let m = |w: Wire| id[w.0 as usize];
            gates.push(match *node {
                Node::Const(value) => Gate::Const { value, out },
                Node::Xor(a, b) => Gate::Xor {
                    a: m(a),
                    b: m(b),
                    out,
                },
                Node::And(a, b) => Gate::And {
                    a: m(a),
                    b: m(b),
                    out,
                },
                Node::Not(a) => Gate::Inv { a: m(a), out },
                Node::Input => unreachable!("inputs are numbered above"),
            });
            id[i] = out;
            next = next
                .checked_add(1)
                .ok_or_else(|| Error::LimitExceeded("more than 2^32 wires".into()))?;
        }
        let output_wires: Vec<WireId> = self
            .outputs
            .iter()
            .flat_map(|(_, w)| w.iter().map(|w| id[w.0 as usize]))
            .collect();
        let inputs = self.inputs.into_iter().map(|(g, _)| g).collect();
        let outputs = self.outputs.into_iter().map(|(g, _)| g).collect();
        Circuit::new(next, inputs, outputs, gates, output_wires)
    }
}

pub use sha256::SHA256_IV;

/// The AES-128 circuit with the wire order of Bristol Fashion's `aes_128.txt`: inputs `key`,
/// `plaintext`, output `ciphertext`, all 128-bit big-endian byte strings.
pub fn aes128_circuit() -> Circuit {
    let mut b = Builder::new();
    let key = b.input_of_kind("key", 128, GroupKind::Bytes);
    let pt = b.input_of_kind("plaintext", 128, GroupKind::Bytes);
    let ct = b.aes128(&key, &pt);
    b.output_of_kind("ciphertext", &ct, GroupKind::Bytes);
    b.finish().expect("the AES-128 circuit is well formed")
}

/// The SHA-256 compression circuit with the wire order of Bristol Fashion's `sha256.txt`:
/// inputs `block` (512) and `state_in` (256), output `state_out` (256).
pub fn sha256_circuit() -> Circuit {
    let mut b = Builder::new();
    let block = b.input_of_kind("block", 512, GroupKind::Bytes);
    let state = b.input_of_kind("state_in", 256, GroupKind::Bytes);
    let out = b.sha256_compress(&block, &state);
    b.output_of_kind("state_out", &out, GroupKind::Bytes);
    b.finish().expect("the SHA-256 circuit is well formed")
}
