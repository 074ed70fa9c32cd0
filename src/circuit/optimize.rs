//! Optimization passes for any circuit, built or parsed.
//!
//! Each pass replays the circuit gate by gate through a [`Builder`] with one simplification
//! switched on: constant propagation, structural hashing (a gate identical to an earlier one is
//! reused), XOR/INV simplification (`x^x`, `x^!x`, `x&x`, `x&!x`, double negation) and dead-gate removal (gates no output depends on). [`optimize`] runs them all at once.
//! No pass adds an AND gate: each AND of the input maps to at most one AND of the output.

use crate::circuit::builder::{Builder, Simplify, Wire};
use crate::circuit::ir::{Circuit, Gate};
use crate::error::Result;

/// One optimization pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Fold gates with constant inputs.
    ConstantPropagation,
    /// Reuse identical gates.
    StructuralHashing,
    /// Simplify XOR and INV patterns.
    XorInv,
    /// Drop gates no output depends on.
    DeadGates,
}

impl Pass {
    /// Every pass.
    pub const ALL: [Pass; 4] = [
        Pass::ConstantPropagation,
        Pass::StructuralHashing,
        Pass::XorInv,
        Pass::DeadGates,
    ];

    fn simplify(self) -> Simplify {
        let mut s = Simplify::NONE;
        match self {
            Pass::ConstantPropagation => s.constants = true,
            Pass::StructuralHashing => s.structural_hashing = true,
            Pass::XorInv => s.xor_inv = true,
            Pass::DeadGates => s.dead_gates = true,
        }
        s
    }
}

/// Runs one pass.
pub fn run_pass(circuit: &Circuit, pass: Pass) -> Result<Circuit> {
    replay(circuit, pass.simplify())
}

/// Runs every pass together (they reinforce each other: a folded constant exposes a duplicate,
/// a removed duplicate makes a gate dead).
pub fn optimize(circuit: &Circuit) -> Result<Circuit> {
    replay(circuit, Simplify::ALL)
}

/// Rebuilds `circuit` through a builder with the given simplifications. Group names and kinds
/// are kept.
pub fn replay(circuit: &Circuit, simplify: Simplify) -> Result<Circuit> {
    let mut b = Builder::with_simplify(simplify);
    let mut wire: Vec<Option<Wire>> = vec![None; circuit.num_wires() as usize];
    let mut next = 0usize;
    for g in circuit.inputs() {
        for w in b.input_of_kind(&g.name, g.width, g.kind) {
            wire[next] = Some(w);
            next += 1;
        }
    }
    // Circuit's invariants guarantee every read wire was written before.
    let get = |wire: &[Option<Wire>], w: u32| {
        wire[w as usize].expect("a valid circuit reads only written wires")
    };
    for gate in circuit.gates() {
        let out = match *gate {
            Gate::Xor { a, b: c, .. } => b.xor(get(&wire, a), get(&wire, c)),
            Gate::And { a, b: c, .. } => b.and(get(&wire, a), get(&wire, c)),
            Gate::Inv { a, .. } => b.not(get(&wire, a)),
            Gate::Const { value, .. } => b.constant(value),
            Gate::Copy { a, .. } => get(&wire, a),
        };
        wire[gate.output() as usize] = Some(out);
    }
    let mut at = 0;
    for g in circuit.outputs() {
        let wires: Vec<Wire> = circuit.output_wires()[at..at + g.width as usize]
            .iter()
            .map(|&w| get(&wire, w))
            .collect();
        at += g.width as usize;
        b.output_of_kind(&g.name, &wires, g.kind);
    }
    b.finish()
}
