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
//! 5. **Width.** A program of fewer than 2^16 slots (nearly every one: 100 AES-128 copies in a
//!    row need 3 634) keeps its XOR gates with 16-bit slots, 6 bytes a gate instead of 12. XOR
//!    gates are four fifths of a program and the garbler and evaluator read the whole program
//!    once per run, so a program larger than the caches runs at the speed it streams from
//!    memory. The digest and the compiled-file format are those of the 32-bit gates.
//!
//! Compilation is deterministic, so both parties derive the same program (and digest) from the
//! same circuit.
//!
//! About 890 lines: the in-memory compiler (slot allocation, levelling, the segment layout and the
//! digest) is one pass whose parts share the slot state; `compile::stream` holds the streamed
//! variant.

use crate::circuit::{Circuit, Gate};
use crate::error::{Error, Result};

pub mod stream;

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

/// A run of whole steps with their gates: all of an in-memory program, or the part of a
/// streamed one that is loaded. Every slot it names was checked against the program's slot count
/// when it was built (the label kernels rely on that), so its fields are private.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// XOR gates with 32-bit slots; empty when the slots fit 16 bits (then `xors_narrow`).
    xors: Vec<SlotGate>,
    /// XOR gates with 16-bit slots, for programs of fewer than 2^16 slots: 6 bytes a gate instead
    /// of 12. The XOR loop streams the program once per run and XOR gates are four fifths of it;
    /// halving them made a 100-copy AES-128 program garble 10-15 % and evaluate up to 30 %
    /// faster in `garbled bench` (the program no longer fits the caches).
    xors_narrow: Vec<[u16; 3]>,
    ands: Vec<SlotGate>,
    steps: Vec<Step>,
    /// Every slot named is below this (the program's slot count).
    bound: u32,
}

/// Programs with at most this many slots keep their XOR gates with 16-bit slots (one less than
/// 2^16, so that `u16::MAX` is never a valid slot: the stream reader maps a slot that does not
/// fit to it, and the segment check refuses it).
const NARROW_SLOTS: u32 = (1 << 16) - 1;

impl SlotGate {
    /// The gate with 16-bit slots; the caller has checked that every slot fits.
    fn narrow(&self) -> [u16; 3] {
        [self.a as u16, self.b as u16, self.out as u16]
    }

    /// A gate stored with 16-bit slots.
    fn widen(g: &[u16; 3]) -> SlotGate {
        SlotGate {
            a: u32::from(g[0]),
            b: u32::from(g[1]),
            out: u32::from(g[2]),
        }
    }
}

/// Gates of a range of a [`Segment`], whichever width their slots are stored at.
#[derive(Clone, Debug)]
pub enum SlotGates<'a> {
    /// 32-bit slots.
    Wide(std::slice::Iter<'a, SlotGate>),
    /// 16-bit slots.
    Narrow(std::slice::Iter<'a, [u16; 3]>),
}

impl Iterator for SlotGates<'_> {
    type Item = SlotGate;
    #[inline]
    fn next(&mut self) -> Option<SlotGate> {
        match self {
            SlotGates::Wide(it) => it.next().copied(),
            SlotGates::Narrow(it) => it.next().map(SlotGate::widen),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            SlotGates::Wide(it) => it.size_hint(),
            SlotGates::Narrow(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for SlotGates<'_> {}

impl Segment {
    /// Builds a segment after checking that every slot lies below `num_slots`, that the steps
    /// cover the gate lists exactly and that no step is wider than a scheduling window. The XOR
    /// gates come in either width, `xors` or `narrow` (at most one of them not empty); they are
    /// stored in the width the slot count calls for, converted if need be, and the other vector
    /// is kept (emptied) as a buffer for a later segment.
    pub(crate) fn checked(
        mut xors: Vec<SlotGate>,
        mut narrow: Vec<[u16; 3]>,
        ands: Vec<SlotGate>,
        steps: Vec<Step>,
        num_slots: u32,
    ) -> Result<Segment> {
        let n = num_slots;
        let mixed = !xors.is_empty() && !narrow.is_empty();
        if n <= NARROW_SLOTS && !xors.is_empty() {
            // Slots at or above n are caught below, before anything is used: the truncating
            // casts of such slots cannot let a bad program through (the wide maximum is checked).
            let top = xors
                .iter()
                .map(|g| g.a.max(g.b).max(g.out))
                .fold(0, u32::max);
            if top >= n {
                return Err(Error::SelfCheck(
                    "a program segment names a slot outside the label array".into(),
                ));
            }
            narrow.extend(xors.iter().map(SlotGate::narrow));
            xors.clear();
        } else if n > NARROW_SLOTS && !narrow.is_empty() {
            xors.extend(narrow.iter().map(SlotGate::widen));
            narrow.clear();
        }
        if xors.capacity() > 1 << 20 && xors.is_empty() {
            // A whole in-memory program's list, no longer used: give it back.
            xors = Vec::new();
        }
        if narrow.capacity() > 1 << 20 && narrow.is_empty() {
            narrow = Vec::new();
        }
        // A max over every slot, not a short-circuiting test: this loop vectorizes.
        let top = |gates: &[SlotGate]| {
            gates
                .iter()
                .map(|g| g.a.max(g.b).max(g.out))
                .fold(0, u32::max)
        };
        let top_narrow = narrow
            .iter()
            .map(|g| g[0].max(g[1]).max(g[2]))
            .fold(0, u16::max);
        let xor_count = if n <= NARROW_SLOTS {
            narrow.len()
        } else {
            xors.len()
        };
        let gates_ok = top(&xors).max(top(&ands)).max(u32::from(top_narrow)) < n;
        let steps_ok = steps
            .iter()
            .all(|s| u64::from(s.xors) + u64::from(s.ands) <= WINDOW as u64);
        let x: u64 = steps.iter().map(|s| u64::from(s.xors)).sum();
        let a: u64 = steps.iter().map(|s| u64::from(s.ands)).sum();
        if !mixed
            && gates_ok
            && steps_ok
            && n >= 2
            && x == xor_count as u64
            && a == ands.len() as u64
        {
            Ok(Segment {
                xors,
                xors_narrow: narrow,
                ands,
                steps,
                bound: n,
            })
        } else {
            Err(Error::SelfCheck(
                "a program segment names a slot outside the label array or steps that do not \
                 cover its gates"
                    .into(),
            ))
        }
    }

    /// Whether the XOR gates are stored with 16-bit slots ([`Segment::xor_gates_narrow`]).
    pub(crate) fn is_narrow(&self) -> bool {
        self.bound <= NARROW_SLOTS
    }

    /// Number of XOR gates.
    pub fn xor_count(&self) -> usize {
        if self.is_narrow() {
            self.xors_narrow.len()
        } else {
            self.xors.len()
        }
    }

    /// XOR gates `range`, in execution order (NOT is XOR with [`SLOT_ONE`]).
    pub fn xor_gates(&self, range: std::ops::Range<usize>) -> SlotGates<'_> {
        if self.is_narrow() {
            SlotGates::Narrow(self.xors_narrow[range].iter())
        } else {
            SlotGates::Wide(self.xors[range].iter())
        }
    }

    /// The XOR gates with 32-bit slots (empty when [`Segment::is_narrow`]).
    pub(crate) fn xor_gates_wide(&self) -> &[SlotGate] {
        &self.xors
    }

    /// The XOR gates with 16-bit slots (empty unless [`Segment::is_narrow`]).
    pub(crate) fn xor_gates_narrow(&self) -> &[[u16; 3]] {
        &self.xors_narrow
    }

    /// AND gates in execution order.
    pub fn and_gates(&self) -> &[SlotGate] {
        &self.ands
    }
    /// The execution steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    /// Every slot the segment names lies below this.
    pub fn slot_bound(&self) -> u32 {
        self.bound
    }
}

/// Where a program's gates are: in memory, or in a spool or compiled file read segment by
/// segment ([`stream`]).
#[derive(Clone, Debug)]
enum Body {
    Memory(Segment),
    Stream(std::sync::Arc<stream::StreamBody>),
}

/// A compiled circuit.
#[derive(Clone, Debug)]
pub struct Program {
    num_slots: u32,
    input_widths: Vec<u32>,
    output_widths: Vec<u32>,
    input_slots: Vec<u32>,
    output_slots: Vec<u32>,
    body: Body,
    and_count: usize,
    digest: [u8; 32],
}

/// Equal digests mean equal programs (the digest is BLAKE3 over the whole canonical encoding).
impl PartialEq for Program {
    fn eq(&self, other: &Program) -> bool {
        self.digest == other.digest
    }
}
impl Eq for Program {}

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
    /// The gates, when the program is held in memory (`None` for a streamed program: read it
    /// with [`Program::segments`]).
    pub fn in_memory(&self) -> Option<&Segment> {
        match &self.body {
            Body::Memory(segment) => Some(segment),
            Body::Stream(_) => None,
        }
    }
    /// Whether the gates are read from a file as they are executed.
    pub fn is_streamed(&self) -> bool {
        matches!(self.body, Body::Stream(_))
    }
    /// The gates segment by segment, in execution order: one borrowed segment for a program in
    /// memory, loaded pieces of bounded size for a streamed one.
    pub fn segments(&self) -> Segments<'_> {
        match &self.body {
            Body::Memory(segment) => Segments::Memory(Some(segment)),
            Body::Stream(body) => Segments::Stream(Box::new(body.reader(self.num_slots))),
        }
    }
    /// Number of AND gates (each costs a 32-byte table).
    pub fn and_count(&self) -> usize {
        self.and_count
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
        match &self.body {
            Body::Memory(segment) => segment_counts(segment, self.num_slots),
            Body::Stream(body) => body.counts,
        }
    }

    /// BLAKE3 over the canonical encoding of the program: equal digests mean the same program.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The digest as lowercase hex.
    pub fn digest_hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checks the input and output slots (the segments check their own gates when they are
    /// built). The label kernels in `crate::aes` index the label array without bounds checks and
    /// rely on both: a `Program` exists only after these checks passed.
    fn check_slots(&self) -> Result<()> {
        let n = self.num_slots;
        let io_ok = self
            .input_slots
            .iter()
            .chain(&self.output_slots)
            .all(|&s| s < n);
        if io_ok && n >= 2 {
            Ok(())
        } else {
            Err(Error::SelfCheck(
                "the compiler produced a slot outside the label array".into(),
            ))
        }
    }

    /// The canonical encoding of everything before the gate lists: each list as its length
    /// (u64) and its little-endian u32s.
    pub(crate) fn header_encoding(&self) -> Vec<u8> {
        encode_header(
            self.num_slots,
            &self.input_widths,
            &self.output_widths,
            &self.input_slots,
            &self.output_slots,
        )
    }

    fn compute_digest(&mut self) {
        let Body::Memory(segment) = &self.body else {
            return; // a streamed program's digest is computed as it is written
        };
        // Every list as its length and its little-endian u32s, through a 64 KiB buffer (hashing
        // four bytes at a time cost as much as compiling).
        let mut words = WordHasher {
            hasher: blake3::Hasher::new(),
            buf: Vec::with_capacity(1 << 16),
        };
        words.hasher.update(DIGEST_DOMAIN);
        words.hasher.update(&self.header_encoding());
        let xors = segment.xor_gates(0..segment.xor_count());
        words.list(3 * xors.len(), xors.flat_map(|g| [g.a, g.b, g.out]));
        words.list(
            3 * segment.ands.len(),
            segment.ands.iter().flat_map(|g| [g.a, g.b, g.out]),
        );
        words.list(
            2 * segment.steps.len(),
            segment.steps.iter().flat_map(|s| [s.xors, s.ands]),
        );
        self.digest = words.finish();
    }
}

/// What the digest hashes first.
pub(crate) const DIGEST_DOMAIN: &[u8] = b"garbled program v1";

/// The header lists of the canonical encoding (see [`Program::digest`]).
pub(crate) fn encode_header(
    num_slots: u32,
    input_widths: &[u32],
    output_widths: &[u32],
    input_slots: &[u32],
    output_slots: &[u32],
) -> Vec<u8> {
    let mut out = Vec::new();
    for list in [
        &[num_slots][..],
        input_widths,
        output_widths,
        input_slots,
        output_slots,
    ] {
        out.extend_from_slice(&(list.len() as u64).to_le_bytes());
        for v in list {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Gate counts and AND depth of a segment run from the start of a program.
fn segment_counts(segment: &Segment, num_slots: u32) -> ProgramCounts {
    let mut counter = Counter::new(num_slots);
    counter.add(segment);
    counter.counts
}

/// Counts gates and follows AND depth along the slots, segment after segment.
pub(crate) struct Counter {
    depth: Vec<u32>,
    levels: Vec<u32>,
    pub(crate) counts: ProgramCounts,
}

impl Counter {
    pub(crate) fn new(num_slots: u32) -> Counter {
        Counter {
            depth: vec![0; num_slots as usize],
            levels: Vec::new(),
            counts: ProgramCounts::default(),
        }
    }

    /// Slots the depth table covers: the largest slot named so far plus one (at least the
    /// count it was made with).
    pub(crate) fn slots_used(&self) -> usize {
        self.depth.len()
    }

    /// Adds the steps of one segment (slots grow the depth table as needed, so a streaming
    /// compiler can count before it knows the final slot count).
    pub(crate) fn add(&mut self, segment: &Segment) {
        let (mut xor_at, mut and_at) = (0usize, 0usize);
        let mut xors = Vec::new();
        for step in &segment.steps {
            xors.clear();
            xors.extend(segment.xor_gates(xor_at..xor_at + step.xors as usize));
            let ands = &segment.ands[and_at..and_at + step.ands as usize];
            self.step(&xors, ands);
            xor_at += step.xors as usize;
            and_at += step.ands as usize;
        }
    }

    pub(crate) fn step(&mut self, xors: &[SlotGate], ands: &[SlotGate]) {
        let top = xors
            .iter()
            .chain(ands)
            .map(|g| g.a.max(g.b).max(g.out))
            .max()
            .unwrap_or(0) as usize;
        if self.depth.len() <= top {
            self.depth.resize(top + 1, 0);
        }
        let depth = &mut self.depth;
        for g in xors {
            if g.a == SLOT_ONE || g.b == SLOT_ONE {
                self.counts.not += 1;
            } else {
                self.counts.xor += 1;
            }
            depth[g.out as usize] = depth[g.a as usize].max(depth[g.b as usize]);
        }
        self.counts.and += ands.len() as u64;
        // The gates of a batch are independent: read every input before writing.
        self.levels.clear();
        self.levels.extend(
            ands.iter()
                .map(|g| depth[g.a as usize].max(depth[g.b as usize]) + 1),
        );
        for (g, &level) in ands.iter().zip(&self.levels) {
            depth[g.out as usize] = level;
            self.counts.and_depth = self.counts.and_depth.max(level);
        }
    }
}

/// The segments of a program, in execution order (see [`Program::segments`]).
pub enum Segments<'p> {
    /// The one segment of a program in memory (taken on the first call).
    Memory(Option<&'p Segment>),
    /// Segments read from a file.
    Stream(Box<stream::SegmentReader>),
}

impl<'p> Segments<'p> {
    /// The next segment: borrowed from memory or freshly loaded; `None` after the last.
    pub fn next_segment(&mut self) -> Result<Option<std::borrow::Cow<'p, Segment>>> {
        self.next_segment_reusing(None)
    }

    /// [`Segments::next_segment`], loading into the buffers of `done` (a segment finished with)
    /// where it loads at all.
    pub fn next_segment_reusing(
        &mut self,
        done: Option<Segment>,
    ) -> Result<Option<std::borrow::Cow<'p, Segment>>> {
        match self {
            Segments::Memory(segment) => Ok(segment.take().map(std::borrow::Cow::Borrowed)),
            Segments::Stream(reader) => Ok(reader.next_segment(done)?.map(std::borrow::Cow::Owned)),
        }
    }

    /// Whether segments remain after those already returned.
    pub fn has_more(&self) -> bool {
        match self {
            Segments::Memory(segment) => segment.is_some(),
            Segments::Stream(reader) => reader.has_more(),
        }
    }
}

/// Puts gate `i`, whose inputs reach AND level `base`, in its scheduling bucket and returns its
/// level: XORs of level L go to bucket 2L, ANDs producing level L+1 to bucket 2L+1, and each pair
/// of buckets becomes one step (XORs, then a batch of independent ANDs). The in-memory and the
/// streaming compiler share it, so that they schedule alike.
pub(crate) fn place_in_bucket(and: bool, base: u32, i: u32, buckets: &mut Vec<Vec<u32>>) -> u32 {
    let (level, bucket) = if and {
        (base + 1, 2 * base as usize + 1)
    } else {
        (base, 2 * base as usize)
    };
    let pairs_needed = 2 * (bucket / 2 + 1);
    if buckets.len() < pairs_needed {
        buckets.resize_with(pairs_needed, Vec::new);
    }
    buckets[bucket].push(i);
    level
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
    allocate(circuit, &ops, &order, steps, &outputs, first_op)
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
            level[i] = place_in_bucket(op.and, base, i as u32, &mut buckets);
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
) -> Result<Program> {
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

    // XOR gates go in with 16-bit slots while every slot fits, which is the rule for most
    // programs, so that no second copy is made at the end (see `Segment::xors_narrow`).
    let mut xors = Vec::new();
    let mut narrow: Vec<[u16; 3]> = Vec::new();
    let mut ands = Vec::new();
    let mut batch_frees = Vec::new();
    let mut pos = 0usize;
    for step in &steps {
        // XOR gates release their dying inputs at once: a gate reads both inputs before writing,
        // so its output may reuse an input's slot. AND gates release them only after the batch,
        // so that no output of a batch overwrites an input of it.
        for (count, release_at_once) in [(step.xors, true), (step.ands, false)] {
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
                let gate = SlotGate { a, b, out };
                if !release_at_once {
                    ands.push(gate);
                } else if xors.is_empty() && a.max(b).max(out) < NARROW_SLOTS {
                    narrow.push(gate.narrow());
                } else {
                    if !narrow.is_empty() {
                        xors.extend(narrow.drain(..).map(|g| SlotGate::widen(&g)));
                    }
                    xors.push(gate);
                }
                pos += 1;
            }
        }
        free.append(&mut batch_frees);
    }
    let output_slots = outputs.iter().map(|&v| slot_of[v as usize]).collect();
    let num_slots = next_slot;
    let and_count = ands.len();
    let mut program = Program {
        num_slots,
        input_widths: circuit.input_widths(),
        output_widths: circuit.output_widths(),
        input_slots,
        output_slots,
        body: Body::Memory(Segment::checked(xors, narrow, ands, steps, num_slots)?),
        and_count,
        digest: [0; 32],
    };
    program.check_slots()?;
    program.compute_digest();
    Ok(program)
}
