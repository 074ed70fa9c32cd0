//! Cleartext evaluation: the reference every garbled result is checked against.
//!
//! Bit-sliced: each wire holds a `u64` whose bit `j` is the wire's value in input set `j`, so one
//! pass over the gates evaluates 64 independent input sets.

use crate::circuit::ir::{Circuit, Gate};
use crate::error::{Error, Result};

/// Evaluates 64 input sets at once. `inputs[i]` carries input wire `i` (bit `j` = set `j`); the
/// result carries output wire `k` of the circuit's output list in entry `k`.
pub fn eval_lanes(circuit: &Circuit, inputs: &[u64]) -> Result<Vec<u64>> {
    let n_in = circuit.input_wire_count();
    if inputs.len() != n_in {
        return Err(Error::arg(format!(
            "the circuit has {n_in} input wires but {} were given",
            inputs.len()
        )));
    }
    let mut wires = vec![0u64; circuit.num_wires() as usize];
    wires[..n_in].copy_from_slice(inputs);
    for gate in circuit.gates() {
        let (out, value) = match *gate {
            Gate::Xor { a, b, out } => (out, wires[a as usize] ^ wires[b as usize]),
            Gate::And { a, b, out } => (out, wires[a as usize] & wires[b as usize]),
            Gate::Inv { a, out } => (out, !wires[a as usize]),
            Gate::Const { value, out } => (out, if value { u64::MAX } else { 0 }),
            Gate::Copy { a, out } => (out, wires[a as usize]),
        };
        wires[out as usize] = value;
    }
    Ok(circuit
        .output_wires()
        .iter()
        .map(|&w| wires[w as usize])
        .collect())
}

/// Evaluates one input set given as one bit vector per input group (bit `k` = wire `k` of the
/// group); returns one bit vector per output group.
pub fn eval_bits(circuit: &Circuit, inputs: &[Vec<bool>]) -> Result<Vec<Vec<bool>>> {
    let flat = flatten_groups(circuit.input_widths().as_slice(), inputs, "input")?;
    let lanes: Vec<u64> = flat.iter().map(|&b| u64::from(b)).collect();
    let out = eval_lanes(circuit, &lanes)?;
    let bits: Vec<bool> = out.iter().map(|&w| w & 1 == 1).collect();
    Ok(split_groups(&circuit.output_widths(), &bits))
}

/// Concatenates per-group bit vectors after checking their count and widths.
pub fn flatten_groups(widths: &[u32], groups: &[Vec<bool>], what: &str) -> Result<Vec<bool>> {
    if groups.len() != widths.len() {
        return Err(Error::arg(format!(
            "the circuit has {} {what} group(s) but {} value(s) were given",
            widths.len(),
            groups.len()
        )));
    }
    let mut flat = Vec::with_capacity(widths.iter().map(|&w| w as usize).sum());
    for (i, (group, &width)) in groups.iter().zip(widths).enumerate() {
        if group.len() != width as usize {
            return Err(Error::arg(format!(
                "{what} group {} has {width} wires but {} bits were given",
                i + 1,
                group.len()
            )));
        }
        flat.extend_from_slice(group);
    }
    Ok(flat)
}

/// Splits a flat bit vector into groups of the given widths.
pub fn split_groups(widths: &[u32], flat: &[bool]) -> Vec<Vec<bool>> {
    let mut out = Vec::with_capacity(widths.len());
    let mut at = 0;
    for &w in widths {
        out.push(flat[at..at + w as usize].to_vec());
        at += w as usize;
    }
    out
}
