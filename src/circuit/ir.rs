//! The circuit model: wires, gates, named input and output groups.
//!
//! A [`Circuit`] is what a Bristol file or the builder produces and what the compiler consumes.
//! Its invariants (checked by [`Circuit::new`]) are those of Bristol Fashion minus the position of
//! the outputs: input group `i` occupies the next `width_i` wires starting at 0, every gate reads
//! only wires that are inputs or were written by an earlier gate, every wire is written at most
//! once, no gate writes an input wire, and every output wire is an input or is written by a gate.
//! Outputs may be any wires (the Bristol writer renumbers them to the end).

use crate::error::{Error, Result};

/// A wire number, `0 .. num_wires`.
pub type WireId = u32;

/// One gate. Multi-output `MAND` gates of the extended Bristol Fashion are expanded into
/// consecutive [`Gate::And`]s by the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gate {
    /// `out = a XOR b`
    Xor {
        /// first input
        a: WireId,
        /// second input
        b: WireId,
        /// output
        out: WireId,
    },
    /// `out = a AND b`
    And {
        /// first input
        a: WireId,
        /// second input
        b: WireId,
        /// output
        out: WireId,
    },
    /// `out = NOT a`
    Inv {
        /// input
        a: WireId,
        /// output
        out: WireId,
    },
    /// `out = value` (Bristol `EQ`)
    Const {
        /// the constant
        value: bool,
        /// output
        out: WireId,
    },
    /// `out = a` (Bristol `EQW`)
    Copy {
        /// input
        a: WireId,
        /// output
        out: WireId,
    },
}

impl Gate {
    /// The wire this gate writes.
    pub fn output(&self) -> WireId {
        match *self {
            Gate::Xor { out, .. }
            | Gate::And { out, .. }
            | Gate::Inv { out, .. }
            | Gate::Const { out, .. }
            | Gate::Copy { out, .. } => out,
        }
    }

    /// The same gate with every wire renamed by `f`.
    pub fn map_wires(&self, mut f: impl FnMut(WireId) -> WireId) -> Gate {
        match *self {
            Gate::Xor { a, b, out } => Gate::Xor {
                a: f(a),
                b: f(b),
                out: f(out),
            },
            Gate::And { a, b, out } => Gate::And {
                a: f(a),
                b: f(b),
                out: f(out),
            },
            Gate::Inv { a, out } => Gate::Inv {
                a: f(a),
                out: f(out),
            },
            Gate::Const { value, out } => Gate::Const { value, out: f(out) },
            Gate::Copy { a, out } => Gate::Copy {
                a: f(a),
                out: f(out),
            },
        }
    }

    /// The wires this gate reads (zero, one or two).
    pub fn inputs(&self) -> impl Iterator<Item = WireId> {
        let (first, second) = match *self {
            Gate::Xor { a, b, .. } | Gate::And { a, b, .. } => (Some(a), Some(b)),
            Gate::Inv { a, .. } | Gate::Copy { a, .. } => (Some(a), None),
            Gate::Const { .. } => (None, None),
        };
        first.into_iter().chain(second)
    }
}

/// What the bits of a group mean, for documentation, messages and the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// An unsigned integer, wire k = bit k (the reading of every group of a Bristol file).
    #[default]
    Unsigned,
    /// A two's complement integer, wire k = bit k.
    Signed,
    /// A byte string read as one big-endian integer, wire k = bit k of that integer
    /// (`bytes_be_lsb0`: the convention of Bristol Fashion's AES and SHA-256 circuits).
    Bytes,
    /// A single truth value.
    Bit,
}

/// A named group of consecutive input or output wires: one value of a party.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Group {
    /// A name for messages and documentation (`"a"`, `"key"`); Bristol files have none, so the
    /// parser names groups `in0`, `in1`, ... and `out0`, ...
    pub name: String,
    /// Number of wires.
    pub width: u32,
    /// What the bits mean.
    pub kind: GroupKind,
}

impl Group {
    /// An unsigned group of `width` wires.
    pub fn new(name: impl Into<String>, width: u32) -> Self {
        Group {
            name: name.into(),
            width,
            kind: GroupKind::Unsigned,
        }
    }

    /// A group of a given kind.
    pub fn with_kind(name: impl Into<String>, width: u32, kind: GroupKind) -> Self {
        Group {
            name: name.into(),
            width,
            kind,
        }
    }
}

/// Gate counts and depth of a circuit.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Two-input AND gates (a MAND of n outputs counts n).
    pub and: u64,
    /// XOR gates.
    pub xor: u64,
    /// INV (NOT) gates.
    pub inv: u64,
    /// Constant gates (EQ).
    pub eq: u64,
    /// Wire copies (EQW).
    pub eqw: u64,
    /// The AND depth: the largest number of AND gates on any path from an input to any wire.
    pub and_depth: u32,
}

/// A boolean circuit. See the module documentation for its invariants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Circuit {
    num_wires: u32,
    inputs: Vec<Group>,
    outputs: Vec<Group>,
    gates: Vec<Gate>,
    output_wires: Vec<WireId>,
}

impl Circuit {
    /// Builds a circuit and checks every invariant. `output_wires` lists the wires of all output
    /// groups, group by group.
    pub fn new(
        num_wires: u32,
        inputs: Vec<Group>,
        outputs: Vec<Group>,
        gates: Vec<Gate>,
        output_wires: Vec<WireId>,
    ) -> Result<Self> {
        let circuit = Circuit {
            num_wires,
            inputs,
            outputs,
            gates,
            output_wires,
        };
        circuit.validate()?;
        Ok(circuit)
    }

    /// Builds a circuit whose invariants the caller has already established (the parser checks
    /// them line by line, with positions in its errors).
    pub(crate) fn new_unchecked(
        num_wires: u32,
        inputs: Vec<Group>,
        outputs: Vec<Group>,
        gates: Vec<Gate>,
        output_wires: Vec<WireId>,
    ) -> Self {
        let circuit = Circuit {
            num_wires,
            inputs,
            outputs,
            gates,
            output_wires,
        };
        debug_assert!(circuit.validate().is_ok());
        circuit
    }

    fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::InvalidCircuit(message));
        let input_wires: u64 = self.inputs.iter().map(|g| u64::from(g.width)).sum();
        let output_count: u64 = self.outputs.iter().map(|g| u64::from(g.width)).sum();
        if input_wires > u64::from(self.num_wires) {
            return bad(format!(
                "{input_wires} input wires but the circuit has {} wires",
                self.num_wires
            ));
        }
        if output_count != self.output_wires.len() as u64 {
            return bad(format!(
                "output groups total {output_count} wires but {} output wires are listed",
                self.output_wires.len()
            ));
        }
        if self
            .inputs
            .iter()
            .chain(&self.outputs)
            .any(|g| g.width == 0)
        {
            return bad("a group of zero wires".into());
        }
        let mut written = vec![false; self.num_wires as usize];
        for w in written.iter_mut().take(input_wires as usize) {
            *w = true;
        }
        for (index, gate) in self.gates.iter().enumerate() {
            for input in gate.inputs() {
                if !written.get(input as usize).copied().unwrap_or(false) {
                    return bad(format!(
                        "gate {index} reads wire {input} before it is written"
                    ));
                }
            }
            let out = gate.output();
            match written.get_mut(out as usize) {
                None => {
                    return bad(format!(
                        "gate {index} writes wire {out}, out of range ({} wires)",
                        self.num_wires
                    ));
                }
                Some(true) => return bad(format!("gate {index} writes wire {out} a second time")),
                Some(slot) => *slot = true,
            }
        }
        if let Some(&w) = self
            .output_wires
            .iter()
            .find(|&&w| !written.get(w as usize).copied().unwrap_or(false))
        {
            return bad(format!("output wire {w} is never written"));
        }
        Ok(())
    }

    /// Number of wires (wire ids are `0 .. num_wires`).
    pub fn num_wires(&self) -> u32 {
        self.num_wires
    }

    /// Input groups, in wire order.
    pub fn inputs(&self) -> &[Group] {
        &self.inputs
    }

    /// Output groups, in order.
    pub fn outputs(&self) -> &[Group] {
        &self.outputs
    }

    /// Gates in evaluation order.
    pub fn gates(&self) -> &[Gate] {
        &self.gates
    }

    /// The wires of all output groups, group by group.
    pub fn output_wires(&self) -> &[WireId] {
        &self.output_wires
    }

    /// Total number of input wires.
    pub fn input_wire_count(&self) -> usize {
        self.inputs.iter().map(|g| g.width as usize).sum()
    }

    /// Total number of output wires.
    pub fn output_wire_count(&self) -> usize {
        self.output_wires.len()
    }

    /// Input group widths.
    pub fn input_widths(&self) -> Vec<u32> {
        self.inputs.iter().map(|g| g.width).collect()
    }

    /// Output group widths.
    pub fn output_widths(&self) -> Vec<u32> {
        self.outputs.iter().map(|g| g.width).collect()
    }

    /// Whether the outputs are the last wires, each written by a gate, in order: the layout
    /// Bristol Fashion requires.
    pub fn outputs_are_trailing(&self) -> bool {
        let n = self.output_wires.len() as u64;
        let first = u64::from(self.num_wires) - n.min(u64::from(self.num_wires));
        let input_wires = self.input_wire_count() as u64;
        first >= input_wires
            && self
                .output_wires
                .iter()
                .enumerate()
                .all(|(i, &w)| u64::from(w) == first + i as u64)
    }

    /// Gate counts and AND depth.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        let mut depth = vec![0u32; self.num_wires as usize];
        for gate in &self.gates {
            let d = match *gate {
                Gate::Xor { a, b, .. } => {
                    stats.xor += 1;
                    depth[a as usize].max(depth[b as usize])
                }
                Gate::And { a, b, .. } => {
                    stats.and += 1;
                    depth[a as usize].max(depth[b as usize]) + 1
                }
                Gate::Inv { a, .. } => {
                    stats.inv += 1;
                    depth[a as usize]
                }
                Gate::Copy { a, .. } => {
                    stats.eqw += 1;
                    depth[a as usize]
                }
                Gate::Const { .. } => {
                    stats.eq += 1;
                    0
                }
            };
            depth[gate.output() as usize] = d;
        }
        // Over all wires, not only outputs: the published counts include ANDs whose results are
        // never read (udivide64 has some).
        stats.and_depth = depth.iter().copied().max().unwrap_or(0);
        stats
    }

    /// A copy with wires renumbered so that the circuit has the Bristol Fashion layout: inputs
    /// first, then gate outputs in gate order, with the outputs as the last wires in order. An
    /// output that is an input wire, or that appears more than once, gets a copy gate (EQW).
    pub fn to_bristol_layout(&self) -> Circuit {
        if self.outputs_are_trailing() {
            return self.clone();
        }
        let n_in = self.input_wire_count() as u32;
        // For each wire: the output position it is claimed by (the first one that names it).
        let mut claimed: Vec<Option<u32>> = vec![None; self.num_wires as usize];
        let mut copies = Vec::new();
        let is_gate_output = {
            let mut v = vec![false; self.num_wires as usize];
            for g in &self.gates {
                v[g.output() as usize] = true;
            }
            v
        };
        for (pos, &w) in self.output_wires.iter().enumerate() {
            if is_gate_output[w as usize] && claimed[w as usize].is_none() {
                claimed[w as usize] = Some(pos as u32);
            } else {
                copies.push((pos as u32, w));
            }
        }
        let total_gates = self.gates.len() as u32 + copies.len() as u32;
        let num_wires = n_in + total_gates;
        let out_base = num_wires - self.output_wires.len() as u32;
        let mut map: Vec<WireId> = (0..self.num_wires).collect();
        let mut next = n_in;
        for g in &self.gates {
            let w = g.output() as usize;
            map[w] = match claimed[w] {
                Some(pos) => out_base + pos,
                None => {
                    let id = next;
                    next += 1;
                    id
                }
            };
        }
        let m = |w: WireId| map[w as usize];
        let mut gates: Vec<Gate> = self.gates.iter().map(|g| g.map_wires(m)).collect();
        for &(pos, w) in &copies {
            gates.push(Gate::Copy {
                a: m(w),
                out: out_base + pos,
            });
        }
        let output_wires = (0..self.output_wires.len() as u32)
            .map(|p| out_base + p)
            .collect();
        Circuit::new_unchecked(
            num_wires,
            self.inputs.clone(),
            self.outputs.clone(),
            gates,
            output_wires,
        )
    }
}
