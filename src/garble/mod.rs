//! Half-gates garbling: the garbler turns a [`Program`] and input
//! zero-labels into garbled tables, the evaluator turns tables and active labels into output
//! labels. Both are sans-IO: they fill and consume caller-owned buffers, batch by batch, and know
//! nothing of sockets or threads, so the same code serves benchmarks, tests and the network
//! protocol.
//!
//! The scheme is the half-gates construction of Zahur, Rosulek and Evans, "Two halves make a
//! whole: reducing data transfer in garbled circuits using half gates" (EUROCRYPT 2015, §3, Fig. 2),
//! with free-XOR and point-and-permute, and the hash `H` of [`crate::aes`] (Guo, Katz, Wang, Yu,
//! CRYPTO 2020). For AND gate number `k` of a run whose first counter is `c`, with inputs `A`, `B`:
//!
//! - garbler, `pa = lsb(A0)`, `pb = lsb(B0)`, `j = c + 2k`, `j' = c + 2k + 1`:
//!   `TG = H(A0, j) ^ H(A1, j) ^ pb*Delta`, `WG0 = H(A0, j) ^ pa*TG`,
//!   `TE = H(B0, j') ^ H(B1, j') ^ A0`, `WE0 = H(B0, j') ^ pb*(TE ^ A0)`,
//!   output zero-label `WG0 ^ WE0`, table `(TG, TE)`: 32 bytes;
//! - evaluator, `sa = lsb(A)`, `sb = lsb(B)`: `WG = H(A, j) ^ sa*TG`,
//!   `WE = H(B, j') ^ sb*(TE ^ A)`, output label `WG ^ WE`.
//!
//! Every selection is a mask computed from the bit ([`Block::select`](crate::block::Block::select)).
//! XOR gates are free; NOT is XOR with the constant-one slot, which holds Delta for the garbler and
//! zero for the evaluator. Outputs are decoded with `d = lsb(W0)`: the value is `lsb(W) ^ d`.
//!
//! [`reference`](mod@reference) holds a plain gate-by-gate garbler and evaluator that the tests hold the fast
//! batched ones against.

mod evaluator;
mod garbler;
pub mod reference;
pub mod three_halves;

pub use evaluator::Evaluator;
pub use garbler::Garbler;

/// Where the hash tweaks of a run start: the session nonce and the counter of AND gate 0. A
/// session that garbles several circuits (or one circuit several times) gives each run a fresh
/// range of counters, so no tweak repeats within the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TweakBase {
    /// The session nonce (the high 64 bits of every tweak).
    pub nonce: u64,
    /// The counter of AND gate 0; AND gate `k` uses `first + 2k` and `first + 2k + 1`.
    pub first: u64,
}

impl TweakBase {
    /// The base of the next run after one over `and_count` half-gates AND gates.
    pub fn after(self, and_count: usize) -> TweakBase {
        self.after_scheme(and_count, Scheme::HalfGates)
    }

    /// The base of the next run after one over `and_count` AND gates of `scheme`.
    pub fn after_scheme(self, and_count: usize, scheme: Scheme) -> TweakBase {
        TweakBase {
            nonce: self.nonce,
            first: self
                .first
                .wrapping_add(scheme.tweaks_per_gate() * and_count as u64),
        }
    }
}

/// The garbling scheme of a session: both parties must use the same (the handshake compares it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Half-gates (Zahur, Rosulek, Evans 2015): 32 bytes per AND gate, 4 hashes to garble and
    /// 2 to evaluate.
    #[default]
    HalfGates,
    /// Three-halves (Rosulek, Roy 2021; [`three_halves`]): 24.625 bytes per AND gate, 6 hashes
    /// to garble and 3 to evaluate.
    ThreeHalves,
}

impl Scheme {
    /// The name on the command line and in statistics.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::HalfGates => "half-gates",
            Scheme::ThreeHalves => "three-halves",
        }
    }

    /// Hash tweaks (counters) per AND gate.
    pub fn tweaks_per_gate(self) -> u64 {
        match self {
            Scheme::HalfGates => 2,
            Scheme::ThreeHalves => three_halves::TWEAKS_PER_GATE,
        }
    }

    /// Blocks of tables for `gates` AND gates sent together.
    pub fn blocks_for(self, gates: usize) -> usize {
        match self {
            Scheme::HalfGates => 2 * gates,
            Scheme::ThreeHalves => three_halves::blocks_for(gates),
        }
    }

    /// Bytes on the wire per AND gate (in long runs).
    pub fn bytes_per_gate(self) -> f64 {
        match self {
            Scheme::HalfGates => 32.0,
            Scheme::ThreeHalves => {
                16.0 * three_halves::GROUP_BLOCKS as f64 / three_halves::GROUP as f64
            }
        }
    }

    /// How many of `remaining` gates fit in a buffer of `blocks` blocks: all of them if their
    /// tables fit, otherwise as many as whole units (two blocks; a 128-gate group) allow.
    fn capacity(self, blocks: usize, remaining: usize) -> usize {
        match self {
            Scheme::HalfGates => blocks / 2,
            Scheme::ThreeHalves => {
                if three_halves::blocks_for(remaining) <= blocks {
                    remaining
                } else {
                    three_halves::gates_in(blocks)
                }
            }
        }
    }
}

impl std::str::FromStr for Scheme {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> crate::error::Result<Self> {
        match s {
            "half-gates" => Ok(Scheme::HalfGates),
            "three-halves" => Ok(Scheme::ThreeHalves),
            other => Err(crate::error::Error::arg(format!(
                "unknown garbling scheme '{other}': expected half-gates or three-halves"
            ))),
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The two random bits per gate the three-halves garbler draws (for the random part `R_$` of
/// its matrices), from its own generator, gate after gate.
pub(crate) struct RandomBits {
    prg: Prg,
    word: u128,
    left: u32,
}

impl RandomBits {
    pub(crate) fn new(prg: Prg) -> RandomBits {
        RandomBits {
            prg,
            word: 0,
            left: 0,
        }
    }

    /// The next gate's two bits.
    pub(crate) fn next(&mut self) -> u8 {
        if self.left == 0 {
            self.word = self.prg.block().value();
            self.left = 64;
        }
        let bits = (self.word & 3) as u8;
        self.word >>= 2;
        self.left -= 1;
        bits
    }
}

impl Drop for RandomBits {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.word);
    }
}

/// AND gates handled per hash call: bounds the scratch buffer (4 blocks per gate for the garbler)
/// to 16 KiB, which stays in L1.
const CHUNK: usize = 256;

/// AND batches at least this wide are split across threads when a garbler or evaluator has
/// more than one (a thread's start costs about as much as a few hundred gates).
pub const PARALLEL_MIN: usize = 4096;

/// Splits a wide AND batch into `threads` contiguous parts run side by side. `work(labels, part,
/// first, extra)` gets the shared (read-only) labels, its gates, the index of its first gate in
/// the batch and its share of `extras` (its slice of the tables), and returns its output labels
/// in gate order; they are written back (and the copies wiped) once every part is done. The
/// gates of a batch are independent and none writes a slot another reads (the compiler's
/// invariant), so the result is the same bit for bit as one pass over the batch.
fn split_batch<X: Send>(
    labels: &mut [Block],
    gates: &[SlotGate],
    threads: usize,
    extras: impl Iterator<Item = X>,
    work: impl Fn(&[Block], &[SlotGate], usize, X) -> Vec<Block> + Sync,
) {
    let part = gates.len().div_ceil(threads.max(1)).max(1);
    let outputs: Vec<Vec<Block>> = std::thread::scope(|scope| {
        let (shared, work): (&[Block], _) = (labels, &work);
        let handles: Vec<_> = gates
            .chunks(part)
            .zip(extras)
            .enumerate()
            .map(|(i, (gates, extra))| scope.spawn(move || work(shared, gates, i * part, extra)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (gates, outs) in gates.chunks(part).zip(outputs) {
        for (g, mut w) in gates.iter().zip(outs) {
            labels[g.out as usize] = w;
            zeroize::Zeroize::zeroize(&mut w);
        }
    }
}

/// Position in a program's steps, shared by the garbler and the evaluator so that both can stop
/// in the middle of an AND batch when the table buffer is full (or empty) and resume there. It
/// walks the program's segments: the one segment of a program in memory, or the pieces of a
/// streamed program as they are loaded (a read error ends the walk and is kept for
/// [`Cursor::check`]).
struct Cursor<'p> {
    segments: Segments<'p>,
    segment: Cow<'p, Segment>,
    /// AND gates in the segments before the current one.
    and_base: usize,
    step: usize,
    xor: usize,
    and: usize,
    /// AND gates of the current step already done.
    and_in_step: u32,
    /// The XOR gates of the current step have run.
    xors_done: bool,
    /// Steps done in earlier segments plus `step`.
    steps_done: usize,
    /// Reading a segment failed: the walk is over.
    failed: bool,
    error: Option<crate::error::Error>,
}

impl<'p> Cursor<'p> {
    fn new(program: &'p Program) -> Cursor<'p> {
        let mut cursor = Cursor {
            segments: program.segments(),
            segment: Cow::Owned(Segment::default()),
            and_base: 0,
            step: 0,
            xor: 0,
            and: 0,
            and_in_step: 0,
            xors_done: false,
            steps_done: 0,
            failed: false,
            error: None,
        };
        cursor.fill();
        cursor
    }

    /// Loads segments until one has a step left to run, or none remain.
    fn fill(&mut self) {
        while !self.failed && self.step >= self.segment.steps().len() && self.segments.has_more() {
            let and_len = self.segment.and_gates().len();
            let done = match std::mem::replace(&mut self.segment, Cow::Owned(Segment::default())) {
                Cow::Owned(segment) => Some(segment),
                Cow::Borrowed(_) => None,
            };
            match self.segments.next_segment_reusing(done) {
                Ok(Some(next)) => {
                    self.and_base += and_len;
                    self.segment = next;
                    (self.step, self.xor, self.and) = (0, 0, 0);
                    self.and_in_step = 0;
                    self.xors_done = false;
                }
                Ok(None) => break,
                Err(e) => {
                    self.failed = true;
                    self.error = Some(e);
                }
            }
        }
    }

    /// Whether the walk is over: every step ran, or reading the program failed.
    fn is_done(&self) -> bool {
        self.failed || (self.step >= self.segment.steps().len() && !self.segments.has_more())
    }

    /// The error that ended the walk early, if any.
    fn check(&mut self) -> crate::error::Result<()> {
        match (self.failed, self.error.take()) {
            (_, Some(e)) => Err(e),
            (true, None) => Err(crate::error::Error::SelfCheck(
                "reading the streamed program failed earlier in this run".into(),
            )),
            (false, None) => Ok(()),
        }
    }

    /// AND gates handed out so far.
    fn and_done(&self) -> usize {
        self.and_base + self.and
    }

    /// Walks the program forward: runs XOR gates on `labels` and hands AND gates, a batch (or
    /// the part of a batch that fits) at a time, to `ands(labels, gates, first, offset)`, where
    /// `first` is the program-wide index of the first gate and `offset` counts the gates already
    /// handed out in this call. Stops after `capacity` AND gates or at the end of the program;
    /// returns the number of AND gates handed out.
    fn advance(
        &mut self,
        labels: &mut [Block],
        capacity: usize,
        mut ands: impl FnMut(&mut [Block], &[SlotGate], usize, usize),
    ) -> usize {
        let mut done = 0;
        loop {
            self.fill();
            let segment: &Segment = &self.segment;
            let Some(&step) = segment.steps().get(self.step) else {
                break;
            };
            if !self.xors_done {
                let end = self.xor + step.xors as usize;
                crate::aes::xor_gates(segment, labels, self.xor..end);
                self.xor = end;
                self.xors_done = true;
            }
            let n = ((step.ands - self.and_in_step) as usize).min(capacity - done);
            if n > 0 {
                let batch = &segment.and_gates()[self.and..self.and + n];
                ands(labels, batch, self.and_base + self.and, done);
                self.and += n;
                self.and_in_step += n as u32;
                done += n;
            }
            if self.and_in_step < step.ands {
                break; // the caller's buffer is full (or empty)
            }
            self.step += 1;
            self.steps_done += 1;
            self.and_in_step = 0;
            self.xors_done = false;
        }
        done
    }
}

use std::borrow::Cow;

use crate::aes::Prg;
use crate::block::{ActiveLabel, Block, Delta, ZeroLabel};
use crate::compile::{Program, Segment, Segments, SlotGate};
use crate::error::Result;

/// Garbles and evaluates a program in one process, streaming the tables through a buffer of
/// `buffer_gates` AND gates: the garbler's and the evaluator's work without the network. Returns
/// the decoded output bits. Used by the self-check of `garbled bench` and by the tests.
pub fn run_in_memory(
    program: &Program,
    inputs: &[bool],
    prg: &mut Prg,
    buffer_gates: usize,
) -> Result<Vec<bool>> {
    run_in_memory_with(program, inputs, prg, buffer_gates, Scheme::HalfGates)
}

/// [`run_in_memory`] with a given scheme (a three-halves buffer holds at least one 128-gate
/// group).
pub fn run_in_memory_with(
    program: &Program,
    inputs: &[bool],
    prg: &mut Prg,
    buffer_gates: usize,
    scheme: Scheme,
) -> Result<Vec<bool>> {
    let delta = Delta::new(prg.block());
    let mut zero = vec![crate::block::Block::ZERO; program.input_count()];
    prg.fill(&mut zero);
    let zero: Vec<ZeroLabel> = zero.into_iter().map(ZeroLabel).collect();
    let active: Vec<ActiveLabel> = zero
        .iter()
        .zip(inputs)
        .map(|(z, &bit)| z.encode(bit, &delta))
        .collect();
    let tweaks = TweakBase {
        nonce: prg.block().value() as u64,
        first: 0,
    };
    let rand = Prg::from_seed(prg.block().to_bytes());
    let mut garbler = Garbler::new(program, delta, &zero, tweaks)?.with_scheme(scheme, rand);
    let mut evaluator = Evaluator::new(program, &active, tweaks)?.with_scheme(scheme);
    let blocks = scheme
        .blocks_for(buffer_gates.max(1))
        .max(scheme.blocks_for(three_halves::GROUP.min(buffer_gates.max(1))));
    let blocks = match scheme {
        Scheme::HalfGates => blocks,
        Scheme::ThreeHalves => blocks.max(three_halves::GROUP_BLOCKS),
    };
    let mut buffer = vec![crate::block::Block::ZERO; blocks];
    loop {
        let n = garbler.garble(&mut buffer);
        let used = evaluator.evaluate(&buffer[..n]);
        debug_assert_eq!(used, n);
        if garbler.is_done() {
            break;
        }
    }
    evaluator.evaluate(&[]);
    evaluator.decode(&garbler.decoding_bits()?)
}
