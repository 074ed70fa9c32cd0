//! Streaming compilation: circuits far longer than memory, in memory that follows their width.
//!
//! [`compile_bristol`] produces exactly the program [`super::compile`] produces from the same
//! file (same slots, same order, same digest), but holds neither the gate list nor a table per
//! wire or value: only the values alive at one point (a hash map each), one scheduling window of
//! [`WINDOW`] gates, and the input and output lists. The gates pass through spool files
//! ([`crate::spool`]), each pass reading the previous one's output forward or backward:
//!
//! 1. **parse** (forward over the text): the parser's checks, the gates as 13-byte records;
//! 2. **wire liveness** (backward): for every gate, which of its inputs are read for the last
//!    time there, and whether its output is read at all; a wire enters the live set at its last
//!    read and leaves it at its definition, so the set is the live width;
//! 3. **folding** (forward): constants and copies fold away as in the in-memory compiler, the
//!    wire-to-value map dropping each wire at its last read;
//! 4. **dead gates** (backward): a value is needed if an output or a needed gate reads it;
//! 5. **scheduling** (forward): window by window, as in memory (its state is one window);
//! 6. **value liveness** (backward over the schedule): the last read of every value;
//! 7. **slots** (forward): the same most-recently-freed allocation, writing the XOR gates, AND
//!    gates and steps to three files; the digest is hashed over them afterwards.
//!
//! Flags written by a backward pass are read by the next forward pass from the end, which is the
//! forward order. The result's gates stay in the spool files and are read back segment by
//! segment ([`SegmentReader`]) by the garbler and the evaluator.
//!
//! A compiled program can also be written to a file ([`write_compiled`]) and loaded again
//! ([`load_compiled`]), which checks the digest over the whole file and every slot before the
//! program is used: the file is as untrusted as a circuit file.
//!
//! About 890 lines: the streamed compiler and its spool-file reader and writer share one on-disk
//! layout, versioned in this file alone.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use super::{
    Body, Counter, DIGEST_DOMAIN, Program, ProgramCounts, SLOT_ONE, SLOT_ZERO, Segment, SlotGate,
    Step, WINDOW, encode_header,
};
use crate::circuit::Gate;
use crate::circuit::bristol::{self, FormatChoice, GateSink, Header, Limits};
use crate::error::{Error, Result};
use crate::spool::{Backward, FileRange, Forward, SpoolDir, SpoolFile, SpoolWriter};

/// Gates per segment read back for garbling: 3 MiB of gates, enough that the work of a segment
/// dwarfs the cost of reading it.
const SEGMENT_GATES: usize = 1 << 18;

/// First bytes of a compiled program file.
pub const MAGIC: &[u8; 8] = b"GARBLEDP";
/// Version of the compiled file layout.
const FILE_VERSION: u32 = 1;
/// Magic, version, reserved word, digest.
const FILE_PREFIX: u64 = 8 + 4 + 4 + 32;

/// Multiplicative hashing of u32 keys (value and wire numbers): the maps of the passes are hit
/// several times per gate, and the standard SipHash cost more than the rest of a pass.
#[derive(Default, Clone, Copy)]
struct U32Hasher(u64);

impl Hasher for U32Hasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type Map = HashMap<u32, u32, BuildHasherDefault<U32Hasher>>;
type Set = HashSet<u32, BuildHasherDefault<U32Hasher>>;

fn u32_at(r: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]])
}

/// The gates of a streamed program: three ranges of files (XOR gates, AND gates, steps), as
/// little-endian u32s.
pub struct StreamBody {
    xors: FileRange,
    ands: FileRange,
    steps: FileRange,
    step_count: u64,
    pub(crate) counts: ProgramCounts,
    /// Bytes of the three ranges.
    bytes: u64,
    /// The spool files the ranges live in (kept open while the program exists).
    _spools: Vec<SpoolFile>,
}

impl std::fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StreamBody({} steps, {} bytes)",
            self.step_count, self.bytes
        )
    }
}

impl StreamBody {
    pub(crate) fn reader(&self, num_slots: u32) -> SegmentReader {
        SegmentReader {
            xors: Forward::new(self.xors.clone()),
            ands: Forward::new(self.ands.clone()),
            steps: Forward::new(self.steps.clone()),
            steps_left: self.step_count,
            num_slots,
        }
    }
}

/// Reads a streamed program back, a segment of whole steps at a time.
pub struct SegmentReader {
    xors: Forward<12>,
    ands: Forward<12>,
    steps: Forward<8>,
    steps_left: u64,
    num_slots: u32,
}

impl SegmentReader {
    /// Whether steps remain.
    pub fn has_more(&self) -> bool {
        self.steps_left > 0
    }

    /// The next segment (at least one step, about [`SEGMENT_GATES`] gates), `None` at the end.
    /// The vectors of `recycle`, a segment done with, are reused (fresh allocations of a few
    /// MiB per segment cost page faults on every one).
    pub fn next_segment(&mut self, recycle: Option<Segment>) -> Result<Option<Segment>> {
        if self.steps_left == 0 {
            return Ok(None);
        }
        let (mut xors, mut narrow, mut ands, mut steps) = match recycle {
            Some(s) => (s.xors, s.xors_narrow, s.ands, s.steps),
            None => Default::default(),
        };
        xors.clear();
        narrow.clear();
        ands.clear();
        steps.clear();
        let (mut nx, mut na) = (0usize, 0usize);
        while self.steps_left > 0 && nx + na < SEGMENT_GATES {
            let r = self.steps.expect()?;
            let step = Step {
                xors: u32_at(&r, 0),
                ands: u32_at(&r, 4),
            };
            if u64::from(step.xors) + u64::from(step.ands) > WINDOW as u64 {
                return Err(Error::SelfCheck(
                    "the program has a step wider than a scheduling window".into(),
                ));
            }
            nx += step.xors as usize;
            na += step.ands as usize;
            steps.push(step);
            self.steps_left -= 1;
        }
        let read = |from: &mut Forward<12>, n: usize, gates: &mut Vec<SlotGate>| {
            gates.reserve(n);
            from.take_records(n, |run| {
                let word = |r: &[u8], at: usize| {
                    u32::from_le_bytes(r[at..at + 4].try_into().expect("4 bytes"))
                };
                gates.extend(run.chunks_exact(12).map(|r| SlotGate {
                    a: word(r, 0),
                    b: word(r, 4),
                    out: word(r, 8),
                }));
            })
        };
        if self.num_slots <= super::NARROW_SLOTS {
            // Straight into 16-bit slots; a slot that does not fit is kept out of range (as
            // u16::MAX, at or above the slot count) so that the segment check refuses it.
            narrow.reserve(nx);
            self.xors.take_records(nx, |run| {
                let slot = |r: &[u8], at: usize| {
                    let w = u32::from_le_bytes(r[at..at + 4].try_into().expect("4 bytes"));
                    u16::try_from(w).unwrap_or(u16::MAX)
                };
                narrow.extend(
                    run.chunks_exact(12)
                        .map(|r| [slot(r, 0), slot(r, 4), slot(r, 8)]),
                );
            })?;
        } else {
            read(&mut self.xors, nx, &mut xors)?;
        }
        read(&mut self.ands, na, &mut ands)?;
        Segment::checked(xors, narrow, ands, steps, self.num_slots).map(Some)
    }
}

fn gate_bytes(g: &SlotGate) -> [u8; 12] {
    let mut r = [0u8; 12];
    r[..4].copy_from_slice(&g.a.to_le_bytes());
    r[4..8].copy_from_slice(&g.b.to_le_bytes());
    r[8..].copy_from_slice(&g.out.to_le_bytes());
    r
}

/// What [`compile_bristol`] saw on the way.
#[derive(Clone, Debug)]
pub struct StreamReport {
    /// The file's header and counts.
    pub header: Header,
    /// The most bytes the spool files held at one time.
    pub spool_peak_bytes: u64,
    /// The bytes of the compiled gates kept for the run.
    pub program_bytes: u64,
    /// The largest number of wires alive at once (pass 2).
    pub max_live_wires: usize,
}

// Pass 1 records: kind, a, b, out.
const K_XOR: u8 = 0;
const K_AND: u8 = 1;
const K_INV: u8 = 2;
const K_ZERO: u8 = 3;
const K_ONE: u8 = 4;
const K_COPY: u8 = 5;

/// Pass 1's sink: gates as 13-byte records.
struct RawSink(SpoolWriter);

impl GateSink for RawSink {
    fn push(&mut self, gate: Gate) -> Result<()> {
        let (kind, a, b, out) = match gate {
            Gate::Xor { a, b, out } => (K_XOR, a, b, out),
            Gate::And { a, b, out } => (K_AND, a, b, out),
            Gate::Inv { a, out } => (K_INV, a, 0, out),
            Gate::Const { value, out } => (if value { K_ONE } else { K_ZERO }, 0, 0, out),
            Gate::Copy { a, out } => (K_COPY, a, 0, out),
        };
        let mut r = [0u8; 13];
        r[0] = kind;
        r[1..5].copy_from_slice(&a.to_le_bytes());
        r[5..9].copy_from_slice(&b.to_le_bytes());
        r[9..].copy_from_slice(&out.to_le_bytes());
        self.0.write(&r)
    }
}

/// The number of wires a raw gate reads.
fn arity(kind: u8) -> usize {
    match kind {
        K_XOR | K_AND => 2,
        K_INV | K_COPY => 1,
        _ => 0,
    }
}

fn too_big() -> Error {
    Error::LimitExceeded("the circuit has more than 2^32 - 2 values".into())
}

fn corrupt(what: &str) -> Error {
    Error::SelfCheck(format!("streaming compiler: {what}"))
}

/// Compiles a Bristol file read from `reader` through spool files in `spool`; the program is
/// the one [`super::compile`] makes of the parsed circuit (same digest).
pub fn compile_bristol<R: BufRead>(
    reader: R,
    format: FormatChoice,
    limits: &Limits,
    spool: &SpoolDir,
) -> Result<(Program, StreamReport)> {
    // 1. Parse.
    let mut sink = RawSink(spool.create("gate")?);
    let header = bristol::parse_into(reader, format, limits, &mut sink)?;
    let raw = sink.0.finish()?;
    let n_in: u32 = header.input_widths.iter().sum();
    let n_out: u32 = header.output_widths.iter().sum();
    let first_output = header.num_wires - n_out;

    // 2. Wire liveness, backward: bit 0/1 = last read of input a/b, bit 2 = the output is read
    //    later (or is a circuit output).
    let mut flags = spool.create("wire liveness")?;
    let mut live = Set::default();
    let mut max_live = 0usize;
    {
        let mut back = Backward::<13>::new(raw.range())?;
        while let Some(r) = back.next_record()? {
            let out = u32_at(&r, 9);
            let mut f = 0u8;
            if live.remove(&out) || out >= first_output {
                f |= 4;
            }
            for (i, at) in [1, 5].into_iter().take(arity(r[0])).enumerate() {
                let w = u32_at(&r, at);
                if w >= n_in && w < first_output && live.insert(w) {
                    f |= 1 << i;
                }
            }
            max_live = max_live.max(live.len());
            flags.write(&[f])?;
        }
    }
    drop(live);
    let flags = flags.finish()?;

    // 3. Folding, forward: value ids 0 and 1 are the constants, then the inputs, then the ops.
    let first_op = n_in.checked_add(2).ok_or_else(too_big)?;
    let mut ops = spool.create("folded gate")?;
    let mut n_ops: u32 = 0;
    let mut outputs = vec![u32::MAX; n_out as usize];
    {
        let mut value_of = Map::default();
        let mut gates = Forward::<13>::new(raw.range());
        let mut f = Backward::<1>::new(flags.range())?;
        let mut push = |and: bool, a: u32, b: u32| -> Result<u32> {
            let id = first_op
                .checked_add(n_ops)
                .filter(|&v| v != u32::MAX)
                .ok_or_else(too_big)?;
            let mut r = [0u8; 9];
            r[0] = u8::from(and);
            r[1..5].copy_from_slice(&a.to_le_bytes());
            r[5..].copy_from_slice(&b.to_le_bytes());
            ops.write(&r)?;
            n_ops += 1;
            Ok(id)
        };
        while let Some(r) = gates.next_record()? {
            let bits = f.expect()?[0];
            let kind = r[0];
            let wires = [u32_at(&r, 1), u32_at(&r, 5)];
            let mut v = [0u32; 2];
            for i in 0..arity(kind) {
                let w = wires[i];
                v[i] = if w < n_in {
                    w + 2
                } else {
                    *value_of
                        .get(&w)
                        .ok_or_else(|| corrupt("a wire is read after its last read"))?
                };
            }
            for (i, &w) in wires.iter().enumerate().take(arity(kind)) {
                if bits >> i & 1 == 1 {
                    value_of.remove(&w);
                }
            }
            let (zero, one) = (SLOT_ZERO, SLOT_ONE);
            let xor = |push: &mut dyn FnMut(bool, u32, u32) -> Result<u32>, a: u32, b: u32| {
                if a == b {
                    Ok(zero)
                } else if a == zero {
                    Ok(b)
                } else if b == zero {
                    Ok(a)
                } else {
                    push(false, a, b)
                }
            };
            let result = match kind {
                K_ZERO => zero,
                K_ONE => one,
                K_COPY => v[0],
                K_INV => xor(&mut push, v[0], one)?,
                K_XOR => xor(&mut push, v[0], v[1])?,
                K_AND => {
                    let (a, b) = (v[0], v[1]);
                    if a == zero || b == zero {
                        zero
                    } else if a == one {
                        b
                    } else if b == one || a == b {
                        a
                    } else {
                        push(true, a, b)?
                    }
                }
                _ => return Err(corrupt("unknown gate kind in the spool")),
            };
            let out = u32_at(&r, 9);
            if out >= first_output {
                outputs[(out - first_output) as usize] = result;
            }
            if bits & 4 != 0 {
                value_of.insert(out, result);
            }
        }
        if f.next_record()?.is_some() {
            return Err(corrupt("more liveness flags than gates"));
        }
    }
    drop(raw);
    drop(flags);
    let ops = ops.finish()?;
    if outputs.contains(&u32::MAX) {
        return Err(corrupt("an output wire was never written"));
    }

    // 4. Dead gates, backward.
    let mut alive = spool.create("gate liveness")?;
    {
        let mut needed: Set = outputs.iter().copied().filter(|&v| v >= first_op).collect();
        let mut back = Backward::<9>::new(ops.range())?;
        let mut i = n_ops;
        while let Some(r) = back.next_record()? {
            i -= 1;
            let keep = needed.remove(&(first_op + i));
            if keep {
                for at in [1, 5] {
                    let v = u32_at(&r, at);
                    if v >= first_op {
                        needed.insert(v);
                    }
                }
            }
            alive.write(&[u8::from(keep)])?;
        }
    }
    let alive = alive.finish()?;

    // 5. Scheduling, window by window, into the schedule (and, a, b, value) and the steps.
    let mut scheduled = spool.create("schedule")?;
    let mut steps = spool.create("step")?;
    let mut step_count = 0u64;
    {
        let mut reader = Forward::<9>::new(ops.range());
        let mut live_flags = Backward::<1>::new(alive.range())?;
        let mut window: Vec<(bool, u32, u32, bool)> = Vec::with_capacity(WINDOW);
        let mut level = vec![0u32; WINDOW];
        let mut depth = vec![0u32; WINDOW];
        let mut buckets: Vec<Vec<u32>> = Vec::new();
        let mut start = 0u32;
        while start < n_ops {
            window.clear();
            let end = n_ops.min(start.saturating_add(WINDOW as u32));
            for _ in start..end {
                let r = reader.expect()?;
                let keep = live_flags.expect()?[0] == 1;
                window.push((r[0] == 1, u32_at(&r, 1), u32_at(&r, 5), keep));
            }
            for b in buckets.iter_mut() {
                b.clear();
            }
            let base = first_op + start;
            let local = |v: u32| v.checked_sub(base).map(|j| j as usize);
            for (i, &(and, a, b, keep)) in window.iter().enumerate() {
                if !keep {
                    continue;
                }
                let level_of = |v: u32| local(v).map_or(0, |j| level[j]);
                let l0 = level_of(a).max(level_of(b));
                level[i] = crate::compile::place_in_bucket(and, l0, i as u32, &mut buckets);
            }
            for pair in buckets.chunks_mut(2) {
                // The XORs of a step by their depth within it (as `sort_by_xor_depth`).
                let in_bucket = |v: u32, depth: &[u32]| match local(v) {
                    Some(j) if !window[j].0 => depth[j],
                    _ => 0,
                };
                for &i in pair[0].iter() {
                    let (_, a, b, _) = window[i as usize];
                    depth[i as usize] = in_bucket(a, &depth).max(in_bucket(b, &depth)) + 1;
                }
                pair[0].sort_by_key(|&i| depth[i as usize]);
                for &i in pair[0].iter() {
                    depth[i as usize] = 0;
                }
                let (xs, ands) = (pair[0].len() as u32, pair[1].len() as u32);
                if xs + ands == 0 {
                    continue;
                }
                for &i in pair[0].iter().chain(pair[1].iter()) {
                    let (and, a, b, _) = window[i as usize];
                    let mut r = [0u8; 13];
                    r[0] = u8::from(and);
                    r[1..5].copy_from_slice(&a.to_le_bytes());
                    r[5..9].copy_from_slice(&b.to_le_bytes());
                    r[9..].copy_from_slice(&(base + i).to_le_bytes());
                    scheduled.write(&r)?;
                }
                let mut s = [0u8; 8];
                s[..4].copy_from_slice(&xs.to_le_bytes());
                s[4..].copy_from_slice(&ands.to_le_bytes());
                steps.write(&s)?;
                step_count += 1;
            }
            start = end;
        }
    }
    drop(ops);
    drop(alive);
    let scheduled = scheduled.finish()?;
    let steps = steps.finish()?;

    // 6. Value liveness over the schedule, backward: bit 0/1 = last read of a/b. Outputs and the
    //    constants are kept to the end; inputs never read are free from the start.
    let keep: Set = outputs.iter().copied().collect();
    let mut input_read = vec![false; n_in as usize];
    let mut last = spool.create("value liveness")?;
    {
        let mut read = Set::default();
        let mut back = Backward::<13>::new(scheduled.range())?;
        while let Some(r) = back.next_record()? {
            read.remove(&u32_at(&r, 9));
            let mut f = 0u8;
            for (i, at) in [1, 5].into_iter().enumerate() {
                let v = u32_at(&r, at);
                if (2..first_op).contains(&v) {
                    input_read[(v - 2) as usize] = true;
                }
                if v >= 2 && !keep.contains(&v) && read.insert(v) {
                    f |= 1 << i;
                }
            }
            last.write(&[f])?;
        }
    }
    let last = last.finish()?;

    // 7. Slots, forward.
    let mut xor_out = spool.create("program XOR gate")?;
    let mut and_out = spool.create("program AND gate")?;
    let mut counter = Counter::new(first_op);
    let mut next_slot = first_op;
    let mut free: Vec<u32> = (2..first_op)
        .rev()
        .filter(|&v| !input_read[(v - 2) as usize] && !keep.contains(&v))
        .collect();
    drop(input_read);
    let mut slot_of = Map::default();
    {
        let mut reader = Forward::<13>::new(scheduled.range());
        let mut flags = Backward::<1>::new(last.range())?;
        let mut step_reader = Forward::<8>::new(steps.range());
        let mut batch_frees = Vec::new();
        let (mut xs, mut ands) = (Vec::new(), Vec::new());
        while let Some(s) = step_reader.next_record()? {
            xs.clear();
            ands.clear();
            for (count, at_once) in [(u32_at(&s, 0), true), (u32_at(&s, 4), false)] {
                for _ in 0..count {
                    let r = reader.expect()?;
                    let bits = flags.expect()?[0];
                    let mut slots = [0u32; 2];
                    for (i, at) in [1, 5].into_iter().enumerate() {
                        let v = u32_at(&r, at);
                        slots[i] = if v < first_op {
                            v
                        } else {
                            *slot_of
                                .get(&v)
                                .ok_or_else(|| corrupt("a value is read after its last read"))?
                        };
                        if bits >> i & 1 == 1 {
                            if v >= first_op {
                                slot_of.remove(&v);
                            }
                            if at_once {
                                free.push(slots[i]);
                            } else {
                                batch_frees.push(slots[i]);
                            }
                        }
                    }
                    let out = match free.pop() {
                        Some(slot) => slot,
                        None => {
                            next_slot = next_slot.checked_add(1).ok_or_else(too_big)?;
                            next_slot - 1
                        }
                    };
                    slot_of.insert(u32_at(&r, 9), out);
                    let g = SlotGate {
                        a: slots[0],
                        b: slots[1],
                        out,
                    };
                    if at_once {
                        xor_out.write(&gate_bytes(&g))?;
                        xs.push(g);
                    } else {
                        and_out.write(&gate_bytes(&g))?;
                        ands.push(g);
                    }
                }
            }
            free.append(&mut batch_frees);
            counter.step(&xs, &ands);
        }
    }
    let output_slots: Vec<u32> = outputs
        .iter()
        .map(|&v| {
            if v < first_op {
                Ok(v)
            } else {
                slot_of
                    .get(&v)
                    .copied()
                    .ok_or_else(|| corrupt("an output value has no slot"))
            }
        })
        .collect::<Result<_>>()?;
    drop(slot_of);
    drop(scheduled);
    drop(last);
    let xor_out = xor_out.finish()?;
    let and_out = and_out.finish()?;

    let num_slots = next_slot;
    let input_slots: Vec<u32> = (2..first_op).collect();
    let header_bytes = encode_header(
        num_slots,
        &header.input_widths,
        &header.output_widths,
        &input_slots,
        &output_slots,
    );
    let (xors, ands, step_range) = (xor_out.range(), and_out.range(), steps.range());
    let mut hasher = blake3::Hasher::new();
    hasher.update(DIGEST_DOMAIN);
    hasher.update(&header_bytes);
    for (range, words) in [(&xors, 4), (&ands, 4), (&step_range, 4)] {
        let len = (range.end - range.start) / words;
        hasher.update(&len.to_le_bytes());
        copy_range(range, |chunk| {
            hasher.update(chunk);
            Ok(())
        })?;
    }
    let bytes = xor_out.len() + and_out.len() + steps.len();
    let and_count = (and_out.len() / 12) as usize;
    let body = StreamBody {
        xors,
        ands,
        steps: step_range,
        step_count,
        counts: counter.counts,
        bytes,
        _spools: vec![xor_out, and_out, steps],
    };
    let program = Program {
        num_slots,
        input_widths: header.input_widths.clone(),
        output_widths: header.output_widths.clone(),
        input_slots,
        output_slots,
        body: Body::Stream(Arc::new(body)),
        and_count,
        digest: *hasher.finalize().as_bytes(),
    };
    program.check_slots()?;
    let report = StreamReport {
        header,
        spool_peak_bytes: spool.peak_bytes(),
        program_bytes: bytes,
        max_live_wires: max_live,
    };
    Ok((program, report))
}

/// Hands the bytes of `range` to `f` in pieces of at most 1 MiB.
fn copy_range(range: &FileRange, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = range.start;
    while pos < range.end {
        let n = (range.end - pos).min(buf.len() as u64) as usize;
        range.read_at(&mut buf[..n], pos)?;
        f(&buf[..n])?;
        pos += n as u64;
    }
    Ok(())
}

/// Writes `program` as a compiled program file: [`MAGIC`], the layout version, the digest, then
/// the canonical encoding the digest is computed over (see [`Program::digest`]). Returns the
/// bytes written.
pub fn write_compiled(program: &Program, out: &mut impl Write) -> Result<u64> {
    let io = |e| Error::io("cannot write the compiled program", e);
    let mut written = 0u64;
    let mut put = |bytes: &[u8]| -> Result<()> {
        out.write_all(bytes).map_err(io)?;
        written += bytes.len() as u64;
        Ok(())
    };
    put(MAGIC)?;
    put(&FILE_VERSION.to_le_bytes())?;
    put(&0u32.to_le_bytes())?;
    put(&program.digest)?;
    put(&program.header_encoding())?;
    match &program.body {
        Body::Memory(segment) => {
            let mut buf = Vec::with_capacity(1 << 16);
            let xors = segment.xor_gates(0..segment.xor_count());
            let ands = super::SlotGates::Wide(segment.ands.iter());
            for gates in [xors, ands] {
                put(&(3 * gates.len() as u64).to_le_bytes())?;
                for g in gates {
                    buf.extend_from_slice(&gate_bytes(&g));
                    if buf.len() >= 1 << 16 {
                        put(&buf)?;
                        buf.clear();
                    }
                }
                put(&buf)?;
                buf.clear();
            }
            put(&(2 * segment.steps.len() as u64).to_le_bytes())?;
            for s in &segment.steps {
                buf.extend_from_slice(&s.xors.to_le_bytes());
                buf.extend_from_slice(&s.ands.to_le_bytes());
            }
            put(&buf)?;
        }
        Body::Stream(body) => {
            for range in [&body.xors, &body.ands, &body.steps] {
                put(&((range.end - range.start) / 4).to_le_bytes())?;
                copy_range(range, &mut put)?;
            }
        }
    }
    Ok(written)
}

/// Whether the file at `path` starts with [`MAGIC`] (a compiled program, not a circuit).
pub fn is_compiled(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head == MAGIC
}

/// Loads a compiled program file written by [`write_compiled`]. The file is checked whole before
/// the program exists: layout, digest over every byte, every slot and step; its gates are then
/// read segment by segment from the file as the program runs.
pub fn load_compiled(path: &Path) -> Result<Program> {
    let name = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| Error::arg(format!("cannot open compiled program {name}: {e}")))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(format!("cannot read {name}"), e))?
        .len();
    let bad = |what: String| {
        Error::InvalidCircuit(format!("{name}: not a valid compiled program: {what}"))
    };
    let whole = FileRange {
        file: Arc::new(file),
        start: 0,
        end: len,
        what: "compiled program",
    };
    if len < FILE_PREFIX {
        return Err(bad("the file is shorter than its fixed header".into()));
    }
    let mut prefix = [0u8; FILE_PREFIX as usize];
    whole.read_at(&mut prefix, 0)?;
    if &prefix[..8] != MAGIC {
        return Err(bad("it does not start with GARBLEDP".into()));
    }
    let version = u32_at(&prefix, 8);
    if version != FILE_VERSION {
        return Err(bad(format!(
            "layout version {version}, this build reads version {FILE_VERSION} (compile the \
             circuit again)"
        )));
    }
    let digest: [u8; 32] = prefix[16..48].try_into().expect("32 bytes");

    // The lists, each a u64 length and that many u32s, bounded by what the file holds.
    let mut pos = FILE_PREFIX;
    let list_at = |pos: &mut u64, multiple: u64, what: &str| -> Result<(u64, u64)> {
        let mut n = [0u8; 8];
        if *pos + 8 > len {
            return Err(bad(format!("it ends before the {what} list")));
        }
        whole.read_at(&mut n, *pos)?;
        let words = u64::from_le_bytes(n);
        if words % multiple != 0 || words > (len - *pos - 8) / 4 {
            return Err(bad(format!("the {what} list has an impossible length")));
        }
        let start = *pos + 8;
        *pos = start + 4 * words;
        Ok((start, words))
    };
    let small_list = |pos: &mut u64, what: &str| -> Result<Vec<u32>> {
        let (start, words) = list_at(pos, 1, what)?;
        if words > 1 << 32 {
            return Err(bad(format!("the {what} list is too long")));
        }
        let mut bytes = vec![0u8; 4 * words as usize];
        whole.read_at(&mut bytes, start)?;
        Ok(bytes.chunks_exact(4).map(|c| u32_at(c, 0)).collect())
    };
    let slots = small_list(&mut pos, "slot count")?;
    let input_widths = small_list(&mut pos, "input width")?;
    let output_widths = small_list(&mut pos, "output width")?;
    let input_slots = small_list(&mut pos, "input slot")?;
    let output_slots = small_list(&mut pos, "output slot")?;
    let sum = |w: &[u32]| w.iter().map(|&x| u64::from(x)).sum::<u64>();
    let &[num_slots] = &slots[..] else {
        return Err(bad("the slot count is not one number".into()));
    };
    if sum(&input_widths) != input_slots.len() as u64
        || sum(&output_widths) != output_slots.len() as u64
        || input_widths.contains(&0)
        || output_widths.contains(&0)
        || output_widths.is_empty()
    {
        return Err(bad(
            "the groups do not match the input and output slots".into()
        ));
    }
    let (xs, xw) = list_at(&mut pos, 3, "XOR gate")?;
    let (as_, aw) = list_at(&mut pos, 3, "AND gate")?;
    let (ss, sw) = list_at(&mut pos, 2, "step")?;
    if pos != len {
        return Err(bad("bytes follow the step list".into()));
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(DIGEST_DOMAIN);
    copy_range(
        &FileRange {
            start: FILE_PREFIX,
            ..whole.clone()
        },
        |chunk| {
            hasher.update(chunk);
            Ok(())
        },
    )?;
    if *hasher.finalize().as_bytes() != digest {
        return Err(bad(
            "its digest does not match its contents (the file is damaged or was edited)".into(),
        ));
    }
    let range = |start: u64, words: u64| FileRange {
        start,
        end: start + 4 * words,
        ..whole.clone()
    };
    let mut body = StreamBody {
        xors: range(xs, xw),
        ands: range(as_, aw),
        steps: range(ss, sw),
        step_count: sw / 2,
        counts: ProgramCounts::default(),
        bytes: 4 * (xw + aw + sw),
        _spools: Vec::new(),
    };
    // Every segment is checked as it is built; the walk also counts, and must use up the gates.
    let mut reader = body.reader(num_slots);
    // The depth table grows with the slots the gates name, not with the slot count the file
    // claims (which is checked against them below).
    let mut counter = Counter::new(2);
    let mut recycle = None;
    while let Some(segment) = reader.next_segment(recycle.take())? {
        counter.add(&segment);
        recycle = Some(segment);
    }
    if reader.xors.remaining() != 0 || reader.ands.remaining() != 0 {
        return Err(bad("its steps do not cover its gates".into()));
    }
    // The compiler's slot count is exactly what its gates and inputs use; a larger claim would
    // only make every run allocate for nothing.
    let used = input_slots
        .iter()
        .map(|&s| s as usize + 1)
        .fold(counter.slots_used(), usize::max);
    if num_slots as usize != used {
        return Err(bad(format!(
            "it claims {num_slots} label slots but its gates and inputs use {used}"
        )));
    }
    body.counts = counter.counts;
    let program = Program {
        num_slots,
        input_widths,
        output_widths,
        input_slots,
        output_slots,
        body: Body::Stream(Arc::new(body)),
        and_count: (aw / 3) as usize,
        digest,
    };
    program.check_slots()?;
    Ok(program)
}
