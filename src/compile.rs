//! The compiler: [`Circuit`] -> [`Program`], the flat form the garbler and evaluator execute.
//!
//! What it does, in order:
//! 1. **Folding.** Constants and wire copies disappear: every wire becomes a reference to a value.
//!    Two reserved slots stand for the constants: [`SLOT_ZERO`] holds the zero block on both sides
//!    and [`SLOT_ONE`] holds Delta on the garbler's side and the zero block on the evaluator's, so
//!    that `NOT x` is `x XOR ONE` (the garbler flips the zero-label by Delta, the evaluator copies).
//!    An AND with a constant input is folded away (`x AND 0 = 0`, `x AND 1 = x`), as are
//!    `x XOR x`, `x XOR 0` and `x AND x`; no AND gate ever sees a constant.
//! 2. **Dead-gate removal.** Gates no output depends on are dropped.
//! 3. **Scheduling.** Within windows of [`WINDOW`] gates of the circuit's order, gates are grouped
//!    by AND level: the XORs of level `L`, then the ANDs of level `L + 1` as one batch of mutually
//!    independent gates, so that one hash call covers the whole batch. Bounding the window keeps
//!    the set of live labels close to the circuit's own width.
//! 4. **Slots.** Labels live in one array indexed by slot; a slot is freed after the last read of
//!    its value and reused (most recently freed first, for cache locality), so memory follows the
//!    circuit's width, not its length. The outputs of an AND batch never reuse a slot freed by the
//!    same batch, so the gates of a batch can be processed in any order or in pieces.
//!
//! Compilation is deterministic, so both parties derive the same program (and digest) from the
//! same circuit.

use crate::circuit::{Circuit, Gate};
use crate::error::{Error, Result};

/// The slot holding the constant 0: the zero block on both sides.
pub const SLOT_ZERO: u32 = 0;
/// The slot holding the constant 1: Delta on the garbler's side, the zero block on the
/// evaluator's. XOR with it is NOT.
pub const SLOT_ONE: u32 = 1;
/// Gates per scheduling window.
pub const WINDOW: usize = 1 << 16;

/// A run of XOR gates followed by a batch of independent AND gates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    /// Number of XOR gates, run first, in order.
    pub xors: u32,
    /// Number of AND gates that follow; none reads another's output.
    pub ands: u32,
}

/// A two-input gate over slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotGate {
    /// First input slot.
    pub a: u32,
    /// Second input slot.
    pub b: u32,
    /// Output slot.
    pub out: u32,
}

/// What [`Program::counts`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgramCounts {
    /// AND gates (one table each).
    pub and: u64,
    /// XOR gates between two values.
    pub xor: u64,
    /// NOT gates (XOR with the constant-one slot).
    pub not: u64,
    /// Longest chain of AND gates.
    pub and_depth: u32,
}

/// A compiled circuit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    num_slots: u32,
    input_widths: Vec<u32>,
    output_widths: Vec<u32>,
    input_slots: Vec<u32>,
    output_slots: Vec<u32>,
    xors: Vec<SlotGate>,
    ands: Vec<SlotGate>,
    steps: Vec<Step>,
    digest: [u8; 32],
}

impl Program {
    /// Number of label slots (including the two constant slots).
    pub fn num_slots(&self) -> u32 {
        self.num_slots
    }
    /// Input group widths.
    pub fn input_widths(&self) -> &[u32] {
        &self.input_widths
    }
    /// Output group widths.
    pub fn output_widths(&self) -> &[u32] {
        &self.output_widths
    }
    /// Slot of each input wire, group by group.
    pub fn input_slots(&self) -> &[u32] {
        &self.input_slots
    }
    /// Slot of each output wire, group by group.
    pub fn output_slots(&self) -> &[u32] {
        &self.output_slots
    }
    /// XOR gates in execution order (NOT is XOR with [`SLOT_ONE`]).
    pub fn xor_gates(&self) -> &[SlotGate] {
        &self.xors
    }
    /// AND gates in execution order; AND gate `k` uses hash tweaks `2k` and `2k + 1` (offset by
    /// the run's first counter).
    pub fn and_gates(&self) -> &[SlotGate] {
        &self.ands
    }
    /// The execution steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    /// Number of AND gates (each costs a 32-byte table).
    pub fn and_count(&self) -> usize {
        self.ands.len()
    }
    /// Total number of input wires.
    pub fn input_count(&self) -> usize {
        self.input_slots.len()
    }
    /// Total number of output wires.
    pub fn output_count(&self) -> usize {
        self.output_slots.len()
    }
    /// Gate counts and AND depth of what is garbled: AND gates, XOR gates (NOT counted apart, as
    /// XOR with [`SLOT_ONE`]), and the longest chain of AND gates.
    pub fn counts(&self) -> ProgramCounts {
        let mut depth = vec![0u32; self.num_slots as usize];
        let mut counts = ProgramCounts {
            and: self.ands.len() as u64,
            ..ProgramCounts::default()
        };
        let (mut xor_at, mut and_at) = (0usize, 0usize);
        for step in &self.steps {
            for g in &self.xors[xor_at..xor_at + step.xors as usize] {
                if g.a == SLOT_ONE || g.b == SLOT_ONE {
                    counts.not += 1;
                } else {
                    counts.xor += 1;
                }
                depth[g.out as usize] = depth[g.a as usize].max(depth[g.b as usize]);
            }
            xor_at += step.xors as usize;
            let batch = &self.ands[and_at..and_at + step.ands as usize];
            // The gates of a batch are independent: read every input before writing.
            let levels: Vec<u32> = batch
                .iter()
                .map(|g| depth[g.a as usize].max(depth[g.b as usize]) + 1)
                .collect();
            for (g, level) in batch.iter().zip(levels) {
                depth[g.out as usize] = level;
                counts.and_depth = counts.and_depth.max(level);
            }
            and_at += step.ands as usize;
        }
        counts
    }

    /// BLAKE3 over the canonical encoding of the program: equal digests mean the same program.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The digest as lowercase hex.
    pub fn digest_hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checks that every slot the program names lies below `num_slots` and that the steps cover
    /// the gate lists exactly. The label kernels in `crate::aes` index the label array without
    /// bounds checks and rely on this: a `Program` exists only after this check passed.
    fn check_slots(&self) -> Result<()> {
        let n = self.num_slots;
        let gates_ok = self
            .xors
            .iter()
            .chain(&self.ands)
            .all(|g| g.a < n && g.b < n && g.out < n);
        let io_ok = self
            .input_slots
            .iter()
            .chain(&self.output_slots)
            .all(|&s| s < n);
        let xors: u64 = self.steps.iter().map(|s| u64::from(s.xors)).sum();
        let ands: u64 = self.steps.iter().map(|s| u64::from(s.ands)).sum();
        if gates_ok
            && io_ok
            && n >= 2
            && xors == self.xors.len() as u64
            && ands == self.ands.len() as u64
        {
            Ok(())
        } else {
            Err(Error::SelfCheck(
                "the compiler produced a slot outside the label array".into(),
            ))
        }
    }

    fn compute_digest(&mut self) {
        // Every list as its length and its little-endian u32s, through a 64 KiB buffer (hashing
        // four bytes at a time cost as much as compiling).
        let mut words = WordHasher {
            hasher: blake3::Hasher::new(),
            buf: Vec::with_capacity(1 << 16),
        };
        words.hasher.update(b"garbled program v1");
        let slots = [self.num_slots];
        for list in [
            &slots[..],
            &self.input_widths,
            &self.output_widths,
            &self.input_slots,
            &self.output_slots,
        ] {
            words.list(list.len(), list.iter().copied());
        }
        for gates in [&self.xors, &self.ands] {
            words.list(
                3 * gates.len(),
                gates.iter().flat_map(|g| [g.a, g.b, g.out]),
            );
        }
        words.list(
            2 * self.steps.len(),
            self.steps.iter().flat_map(|s| [s.xors, s.ands]),
        );
        self.digest = words.finish();
    }
}

/// Feeds lists of u32 words to BLAKE3 in 64 KiB pieces.
struct WordHasher {
    hasher: blake3::Hasher,
    buf: Vec<u8>,
}

impl WordHasher {
    fn list(&mut self, len: usize, values: impl Iterator<Item = u32>) {
        self.buf.extend_from_slice(&(len as u64).to_le_bytes());
        for v in values {
            self.buf.extend_from_slice(&v.to_le_bytes());
            if self.buf.len() >= 1 << 16 {
                self.hasher.update(&self.buf);
                self.buf.clear();
            }
        }
    }

    fn finish(mut self) -> [u8; 32] {
        self.hasher.update(&self.buf);
        *self.hasher.finalize().as_bytes()
    }
}

/// A gate after folding, over value ids (0 = constant 0, 1 = constant 1, then inputs, then gate
/// results).
#[derive(Clone, Copy)]
struct Op {
    and: bool,
    a: u32,
    b: u32,
}

/// Compiles a circuit.
pub fn compile(circuit: &Circuit) -> Result<Program> {
    let n_in = circuit.input_wire_count();
    let too_big = || Error::LimitExceeded("the circuit has more than 2^32 - 2 values".into());
    // 1. Folding: wire -> value id.
    const NONE: u32 = u32::MAX;
    let mut value_of = vec![NONE; circuit.num_wires() as usize];
    for (w, v) in value_of.iter_mut().take(n_in).enumerate() {
        *v = u32::try_from(w + 2).map_err(|_| too_big())?;
    }
    let first_op = u32::try_from(n_in + 2).map_err(|_| too_big())?;
    let mut ops: Vec<Op> = Vec::with_capacity(circuit.gates().len());
    let mut push = |ops: &mut Vec<Op>, op: Op| -> Result<u32> {
        let id = u32::try_from(ops.len())
            .ok()
            .and_then(|n| n.checked_add(first_op))
            .filter(|&v| v != NONE);
        let id = id.ok_or_else(too_big)?;
        ops.push(op);
        Ok(id)
    };
    let zero = SLOT_ZERO;
    let one = SLOT_ONE;
    for gate in circuit.gates() {
        let v = |w: u32| value_of[w as usize];
        let result = match *gate {
            Gate::Const { value, .. } => u32::from(value),
            Gate::Copy { a, .. } => v(a),
            Gate::Inv { a, .. } => xor_value(&mut ops, &mut push, v(a), one)?,
            Gate::Xor { a, b, .. } => xor_value(&mut ops, &mut push, v(a), v(b))?,
            Gate::And { a, b, .. } => {
                let (a, b) = (v(a), v(b));
                if a == zero || b == zero {
                    zero
                } else if a == one {
                    b
                } else if b == one || a == b {
                    a
                } else {
                    push(&mut ops, Op { and: true, a, b })?
                }
            }
        };
        value_of[gate.output() as usize] = result;
    }
    let outputs: Vec<u32> = circuit
        .output_wires()
        .iter()
        .map(|&w| value_of[w as usize])
        .collect();
    drop(value_of);

    // 2. Dead-gate removal: mark the ops the outputs depend on.
    let index = |v: u32| (v - first_op) as usize;
    let mut live = vec![false; ops.len()];
    for &v in &outputs {
        if v >= first_op {
            live[index(v)] = true;
        }
    }
    for i in (0..ops.len()).rev() {
        if live[i] {
            for v in [ops[i].a, ops[i].b] {
                if v >= first_op {
                    live[index(v)] = true;
                }
            }
        }
    }

    // 3. Scheduling within windows.
    let (order, steps) = schedule(&ops, &live, first_op);

    // 4. Slot allocation over the schedule.
    let program = allocate(circuit, &ops, &order, steps, &outputs, first_op);
    program.check_slots()?;
    Ok(program)
}

/// `a XOR b` with folding.
fn xor_value(
    ops: &mut Vec<Op>,
    push: &mut impl FnMut(&mut Vec<Op>, Op) -> Result<u32>,
    a: u32,
    b: u32,
) -> Result<u32> {
    Ok(if a == b {
        SLOT_ZERO
    } else if a == SLOT_ZERO {
        b
    } else if b == SLOT_ZERO {
        a
    } else {
        // Includes x XOR ONE = NOT x; ONE XOR ONE was caught by a == b.
        push(ops, Op { and: false, a, b })?
    })
}

/// The execution order of the live ops: per window, by AND level, the XORs of a level before the
/// ANDs of the next. Returns the op indices in order and the steps that partition them.
fn schedule(ops: &[Op], live: &[bool], first_op: u32) -> (Vec<u32>, Vec<Step>) {
    let mut order = Vec::with_capacity(ops.len());
    let mut steps = Vec::new();
    let mut level = vec![0u32; ops.len()];
    let mut buckets: Vec<Vec<u32>> = Vec::new();
    let mut xor_depth = vec![0u32; ops.len()];
    let mut window_start = 0;
    while window_start < ops.len() {
        let end = (window_start + WINDOW).min(ops.len());
        for b in buckets.iter_mut() {
            b.clear();
        }
        for i in window_start..end {
            if !live[i] {
                continue;
            }
            // Levels are relative to the window: values from before it count as level 0.
            let level_of = |v: u32| -> u32 {
                match v.checked_sub(first_op) {
                    Some(j) if j as usize >= window_start => level[j as usize],
                    _ => 0,
                }
            };
            let op = ops[i];
            let base = level_of(op.a).max(level_of(op.b));
            // XORs of level L go to bucket 2L, ANDs producing level L+1 to bucket 2L+1.
            let (l, bucket) = if op.and {
                (base + 1, 2 * base as usize + 1)
            } else {
                (base, 2 * base as usize)
            };
            level[i] = l;
            let pairs_needed = 2 * (bucket / 2 + 1);
            if buckets.len() < pairs_needed {
                buckets.resize_with(pairs_needed, Vec::new);
            }
            buckets[bucket].push(i as u32);
        }
        for pair in buckets.chunks_mut(2) {
            sort_by_xor_depth(&mut pair[0], ops, first_op, &mut xor_depth);
            let step = Step {
                xors: pair[0].len() as u32,
                ands: pair[1].len() as u32,
            };
            if step.xors + step.ands > 0 {
                order.extend_from_slice(&pair[0]);
                order.extend_from_slice(&pair[1]);
                steps.push(step);
            }
        }
        window_start = end;
    }
    (order, steps)
}

/// Orders the XORs of one step by their depth within the step: all XORs that read only values
/// from before the step first, then those one XOR deeper, and so on. Circuits write XOR chains
/// gate after gate (`t1 = a^b; t2 = t1^c; ...`); executed in that order every gate waits for the
/// previous one's store, while depth order gives the CPU independent gates side by side
/// (measured on AES-128: the XOR phase ran at about 8 cycles per gate in file order).
fn sort_by_xor_depth(bucket: &mut [u32], ops: &[Op], first_op: u32, depth: &mut [u32]) {
    // `depth` is zero outside the bucket being sorted: values from earlier steps count as 0.
    let in_bucket_depth = |v: u32, depth: &[u32]| -> u32 {
        match v.checked_sub(first_op) {
            Some(j) if !ops[j as usize].and => depth[j as usize],
            _ => 0,
        }
    };
    for &i in bucket.iter() {
        let op = ops[i as usize];
        let d = in_bucket_depth(op.a, depth).max(in_bucket_depth(op.b, depth)) + 1;
        depth[i as usize] = d;
    }
    bucket.sort_by_key(|&i| depth[i as usize]);
    for &i in bucket.iter() {
        depth[i as usize] = 0;
    }
}

/// Assigns slots along the schedule and builds the program.
fn allocate(
    circuit: &Circuit,
    ops: &[Op],
    order: &[u32],
    steps: Vec<Step>,
    outputs: &[u32],
    first_op: u32,
) -> Program {
    // Position of each value's last read in the schedule.
    const UNREAD: u32 = u32::MAX - 1;
    const KEEP: u32 = u32::MAX;
    let values = first_op as usize + ops.len();
    let mut last_use = vec![UNREAD; values];
    for (pos, &i) in order.iter().enumerate() {
        let op = ops[i as usize];
        last_use[op.a as usize] = pos as u32;
        last_use[op.b as usize] = pos as u32;
    }
    for &v in outputs {
        last_use[v as usize] = KEEP;
    }
    last_use[SLOT_ZERO as usize] = KEEP;
    last_use[SLOT_ONE as usize] = KEEP;

    // Values 0 and 1 are the constant slots; inputs take the next slots in order.
    let mut slot_of: Vec<u32> = vec![u32::MAX; values];
    for (v, slot) in slot_of.iter_mut().enumerate().take(first_op as usize) {
        *slot = v as u32;
    }
    let input_slots: Vec<u32> = (2..first_op).collect();
    let mut next_slot = first_op;
    // Most recently freed first: a LIFO keeps the working set small and warm in cache.
    let mut free: Vec<u32> = (2..first_op)
        .rev()
        .filter(|&v| last_use[v as usize] == UNREAD)
        .collect();
    let mut take = |free: &mut Vec<u32>| {
        free.pop().unwrap_or_else(|| {
            next_slot += 1;
            next_slot - 1
        })
    };

    let mut xors = Vec::new();
    let mut ands = Vec::new();
    let mut batch_frees = Vec::new();
    let mut pos = 0usize;
    for step in &steps {
        // XOR gates release their dying inputs at once: a gate reads both inputs before writing,
        // so its output may reuse an input's slot. AND gates release them only after the batch,
        // so that no output of a batch overwrites an input of it.
        for (count, release_at_once, list) in
            [(step.xors, true, &mut xors), (step.ands, false, &mut ands)]
        {
            for _ in 0..count {
                let i = order[pos];
                let op = ops[i as usize];
                let (a, b) = (slot_of[op.a as usize], slot_of[op.b as usize]);
                for v in [op.a, op.b] {
                    if last_use[v as usize] == pos as u32 {
                        let released = if release_at_once {
                            &mut free
                        } else {
                            &mut batch_frees
                        };
                        released.push(slot_of[v as usize]);
                    }
                }
                let out = take(&mut free);
                slot_of[(first_op + i) as usize] = out;
                list.push(SlotGate { a, b, out });
                pos += 1;
            }
        }
        free.append(&mut batch_frees);
    }
    let output_slots = outputs.iter().map(|&v| slot_of[v as usize]).collect();
    let num_slots = next_slot;
    let mut program = Program {
        num_slots,
        input_widths: circuit.input_widths(),
        output_widths: circuit.output_widths(),
        input_slots,
        output_slots,
        xors,
        ands,
        steps,
        digest: [0; 32],
    };
    program.compute_digest();
    program
}
