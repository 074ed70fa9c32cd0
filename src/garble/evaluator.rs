//! The batched half-gates evaluator.

use super::garbler::ThreeHalvesPart;
use super::{CHUNK, Cursor, Scheme, TweakBase, three_halves};

/// Scratch blocks: two hash inputs per gate of a chunk, then the chunk's output labels.
const SCRATCH: usize = 3 * CHUNK;
use crate::aes::{Aes, Tweaks};
use crate::block::{ActiveLabel, Block};
use crate::compile::{Program, SlotGate};
use crate::error::{Error, Result};

/// Evaluates a garbled program as its tables arrive. Holds the live active labels (zeroized on
/// drop).
pub struct Evaluator<'p> {
    program: &'p Program,
    labels: Vec<Block>,
    aes: &'p Aes,
    tweaks: TweakBase,
    cursor: Cursor<'p>,
    scratch: Vec<Block>,
    /// Threads a wide AND batch is split across (1: none).
    threads: usize,
    scheme: Scheme,
    /// Three-halves: the unpacked tables of the current call.
    unpacked: three_halves::Staged,
    /// Three-halves: the output labels of a batch before they are stored.
    outs: Vec<Block>,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Evaluator(step {}, {} of {} AND gates)",
            self.cursor.steps_done,
            self.cursor.and_done(),
            self.program.and_count()
        )
    }
}

impl Drop for Evaluator<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.labels);
        zeroize::Zeroize::zeroize(&mut self.scratch);
        zeroize::Zeroize::zeroize(&mut self.outs);
    }
}

impl<'p> Evaluator<'p> {
    /// An evaluator for `program` with one active label per input wire.
    pub fn new(program: &'p Program, inputs: &[ActiveLabel], tweaks: TweakBase) -> Result<Self> {
        if inputs.len() != program.input_count() {
            return Err(Error::arg(format!(
                "{} input labels for a program with {} input wires",
                inputs.len(),
                program.input_count()
            )));
        }
        // The constant slots both hold zero here: constant 0 and 1 both have the active label 0.
        let mut labels = vec![Block::ZERO; program.num_slots() as usize];
        for (&slot, label) in program.input_slots().iter().zip(inputs) {
            labels[slot as usize] = label.0;
        }
        Ok(Evaluator {
            program,
            labels,
            aes: Aes::fixed(),
            tweaks,
            cursor: Cursor::new(program),
            scratch: vec![Block::ZERO; SCRATCH],
            threads: 1,
            scheme: Scheme::HalfGates,
            unpacked: three_halves::Staged::default(),
            outs: Vec::new(),
        })
    }

    /// Evaluates tables of `scheme`.
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        if scheme == Scheme::ThreeHalves && self.scratch.len() < 4 * CHUNK {
            self.scratch = vec![Block::ZERO; 4 * CHUNK];
        }
        self
    }

    /// Splits AND batches of at least [`super::PARALLEL_MIN`] gates across `threads` threads
    /// (the labels do not change).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The same, hashing with a given fixed-key AES (tests compare backends with it).
    pub fn with_aes(mut self, aes: &'p Aes) -> Self {
        self.aes = aes;
        self
    }

    /// Whether every gate has been evaluated.
    pub fn is_done(&self) -> bool {
        self.cursor.is_done()
    }

    /// Fails if reading a streamed program failed (then [`Evaluator::is_done`] turned true
    /// early).
    pub fn check(&mut self) -> Result<()> {
        self.cursor.check()
    }

    /// The number of table blocks still expected.
    pub fn tables_remaining(&self) -> usize {
        self.scheme
            .blocks_for(self.program.and_count() - self.cursor.and_done())
    }

    /// Evaluates as far as `tables` reaches; returns the number of blocks consumed. Half-gates
    /// takes two blocks per AND gate in program order (an odd last block is left for the next
    /// call); three-halves takes the pieces [`Garbler::garble`](super::Garbler::garble) wrote,
    /// whole 128-gate groups or the last gates of the program.
    pub fn evaluate(&mut self, tables: &[Block]) -> usize {
        if self.scheme == Scheme::ThreeHalves {
            return self.evaluate_three_halves(tables);
        }
        let Evaluator {
            labels,
            aes,
            tweaks,
            cursor,
            scratch,
            threads,
            ..
        } = self;
        let threads = *threads;
        let gates = cursor.advance(labels, tables.len() / 2, |labels, batch, first, offset| {
            let n = batch.len();
            let base = tweaks.first.wrapping_add(2 * first as u64);
            let batch_tweaks = Tweaks {
                nonce: tweaks.nonce,
                first: base,
                shift: 0,
            };
            let tables = &tables[2 * offset..2 * (offset + n)];
            if threads > 1 && n >= super::PARALLEL_MIN {
                evaluate_ands_parallel(aes, labels, batch, batch_tweaks, tables, threads);
            } else {
                evaluate_ands(aes, scratch, labels, batch, batch_tweaks, tables);
            }
        });
        2 * gates
    }

    fn evaluate_three_halves(&mut self, tables: &[Block]) -> usize {
        let remaining = self.program.and_count() - self.cursor.and_done();
        let capacity = Scheme::ThreeHalves.capacity(tables.len(), remaining);
        let blocks = three_halves::blocks_for(capacity);
        self.unpacked.unpack(&tables[..blocks], capacity);
        let Evaluator {
            labels,
            aes,
            tweaks,
            cursor,
            scratch,
            unpacked,
            threads,
            outs,
            ..
        } = self;
        let threads = *threads;
        let gates = cursor.advance(labels, capacity, |labels, batch, first, offset| {
            let n = batch.len();
            let halves = &unpacked.halves[3 * offset..3 * (offset + n)];
            let z = &unpacked.z[offset..offset + n];
            if threads > 1 && n >= super::PARALLEL_MIN {
                let part = n.div_ceil(threads).max(1);
                super::split_batch(
                    labels,
                    batch,
                    threads,
                    halves.chunks(3 * part).zip(z.chunks(part)),
                    |labels, gates, at, tabs| {
                        let mut scratch = vec![Block::ZERO; 4 * CHUNK];
                        let mut outs = Vec::with_capacity(gates.len());
                        let part = ThreeHalvesPart {
                            aes,
                            delta: Block::ZERO,
                            tweaks,
                            first: first + at,
                        };
                        part.evaluate(&mut scratch, labels, gates, tabs, &mut outs);
                        zeroize::Zeroize::zeroize(&mut scratch);
                        outs
                    },
                );
                return;
            }
            let part = ThreeHalvesPart {
                aes,
                delta: Block::ZERO,
                tweaks,
                first,
            };
            outs.clear();
            part.evaluate(scratch, labels, batch, (halves, z), outs);
            // The gates of a batch are independent: their outputs are stored after all of them.
            for (g, w) in batch.iter().zip(outs.iter()) {
                labels[g.out as usize] = *w;
            }
        });
        debug_assert_eq!(gates, capacity);
        three_halves::blocks_for(gates)
    }

    /// The active labels of the output wires. Available once evaluation is done.
    pub fn output_labels(&mut self) -> Result<Vec<ActiveLabel>> {
        self.check()?;
        if !self.is_done() {
            return Err(Error::arg(
                "output labels are known only after the whole circuit is evaluated",
            ));
        }
        Ok(self
            .program
            .output_slots()
            .iter()
            .map(|&s| ActiveLabel(self.labels[s as usize]))
            .collect())
    }

    /// Decodes the outputs with the garbler's decoding bits: `lsb(W) ^ d`.
    pub fn decode(&mut self, decoding: &[bool]) -> Result<Vec<bool>> {
        let labels = self.output_labels()?;
        if decoding.len() != labels.len() {
            return Err(Error::peer(format!(
                "{} decoding bits for {} output wires",
                decoding.len(),
                labels.len()
            )));
        }
        Ok(labels
            .iter()
            .zip(decoding)
            .map(|(l, &d)| l.0.lsb() ^ d)
            .collect())
    }
}

/// A wide batch on `threads` threads (see `split_batch`): each part reads its own slice of the
/// tables.
fn evaluate_ands_parallel(
    aes: &Aes,
    labels: &mut [Block],
    gates: &[SlotGate],
    tweaks: Tweaks,
    tables: &[Block],
    threads: usize,
) {
    let part = gates.len().div_ceil(threads.max(1)).max(1);
    super::split_batch(
        labels,
        gates,
        threads,
        tables.chunks(2 * part),
        |labels, gates, first, tables| {
            let tweaks = Tweaks {
                first: tweaks.first.wrapping_add(2 * first as u64),
                ..tweaks
            };
            let mut scratch = vec![Block::ZERO; SCRATCH];
            let mut outs = Vec::with_capacity(gates.len());
            for (c, (chunk, table)) in gates
                .chunks(CHUNK)
                .zip(tables.chunks(2 * CHUNK))
                .enumerate()
            {
                let first = tweaks.first.wrapping_add(2 * (c * CHUNK) as u64);
                let (hashes, outs_here) = scratch.split_at_mut(2 * CHUNK);
                let outs_here = &mut outs_here[..chunk.len()];
                evaluate_chunk(
                    aes,
                    hashes,
                    labels,
                    chunk,
                    Tweaks { first, ..tweaks },
                    table,
                    outs_here,
                );
                outs.extend_from_slice(outs_here);
            }
            zeroize::Zeroize::zeroize(&mut scratch);
            outs
        },
    );
}

/// Evaluates one batch of independent AND gates: the fused kernel where the AES backend has
/// one, otherwise [`evaluate_chunk`] chunk by chunk.
fn evaluate_ands(
    aes: &Aes,
    scratch: &mut [Block],
    labels: &mut [Block],
    gates: &[SlotGate],
    tweaks: Tweaks,
    tables: &[Block],
) {
    if aes.eval_ands(labels, gates, tweaks, tables) {
        return;
    }
    // The scratch holds the hash inputs, then the chunk's output labels.
    let (hashes, outs) = scratch.split_at_mut(2 * CHUNK);
    for (c, (chunk, table)) in gates
        .chunks(CHUNK)
        .zip(tables.chunks(2 * CHUNK))
        .enumerate()
    {
        let first = tweaks.first.wrapping_add(2 * (c * CHUNK) as u64);
        let outs = &mut outs[..chunk.len()];
        evaluate_chunk(
            aes,
            hashes,
            labels,
            chunk,
            Tweaks { first, ..tweaks },
            table,
            outs,
        );
        // The gates of a batch read no output of the batch: writing after the chunk is the same.
        for (g, w) in chunk.iter().zip(outs.iter()) {
            labels[g.out as usize] = *w;
        }
    }
}

/// The evaluator's half-gates formulas for at most [`CHUNK`] gates: their output labels into
/// `outs`, reading `labels` only.
fn evaluate_chunk(
    aes: &Aes,
    scratch: &mut [Block],
    labels: &[Block],
    chunk: &[SlotGate],
    tweaks: Tweaks,
    tables: &[Block],
    outs: &mut [Block],
) {
    let scratch = &mut scratch[..2 * chunk.len()];
    for (g, s) in chunk.iter().zip(scratch.chunks_exact_mut(2)) {
        s[0] = labels[g.a as usize];
        s[1] = labels[g.b as usize];
    }
    aes.tccr(scratch, tweaks);
    for (((g, h), t), w) in chunk
        .iter()
        .zip(scratch.chunks_exact(2))
        .zip(tables.chunks_exact(2))
        .zip(outs.iter_mut())
    {
        let a = labels[g.a as usize];
        let b = labels[g.b as usize];
        let wg = h[0] ^ t[0].select(a.lsb());
        let we = h[1] ^ (t[1] ^ a).select(b.lsb());
        *w = wg ^ we;
    }
}
