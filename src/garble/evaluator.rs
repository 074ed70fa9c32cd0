//! The batched half-gates evaluator.

use super::{CHUNK, Cursor, TweakBase};
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
    cursor: Cursor,
    scratch: Vec<Block>,
    /// Threads a wide AND batch is split across (1: none).
    threads: usize,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Evaluator(step {} of {})",
            self.cursor.step,
            self.program.steps().len()
        )
    }
}

impl Drop for Evaluator<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.labels);
        zeroize::Zeroize::zeroize(&mut self.scratch);
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
            cursor: Cursor::default(),
            scratch: vec![Block::ZERO; 2 * CHUNK],
            threads: 1,
        })
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
        self.cursor.is_done(self.program)
    }

    /// The number of table blocks still expected.
    pub fn tables_remaining(&self) -> usize {
        2 * (self.program.and_count() - self.cursor.and)
    }

    /// Evaluates as far as `tables` reaches (two blocks per AND gate, in program order); returns
    /// the number of blocks consumed (even; an odd last block is left for the next call).
    pub fn evaluate(&mut self, tables: &[Block]) -> usize {
        let Evaluator {
            program,
            labels,
            aes,
            tweaks,
            cursor,
            scratch,
            threads,
        } = self;
        let (program, threads) = (*program, *threads);
        let gates = cursor.advance(
            program,
            labels,
            tables.len() / 2,
            |labels, first, n, offset| {
                let batch = &program.and_gates()[first..first + n];
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
            },
        );
        2 * gates
    }

    /// The active labels of the output wires. Available once evaluation is done.
    pub fn output_labels(&self) -> Result<Vec<ActiveLabel>> {
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
    pub fn decode(&self, decoding: &[bool]) -> Result<Vec<bool>> {
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

/// Evaluates one batch of independent AND gates (the fused kernel where the backend has one).
/// A wide batch on `threads` threads (see the garbler's twin): each thread evaluates a
/// contiguous part from the shared labels into its own list of output labels.
fn evaluate_ands_parallel(
    aes: &Aes,
    labels: &mut [Block],
    gates: &[SlotGate],
    tweaks: Tweaks,
    tables: &[Block],
    threads: usize,
) {
    let part = gates.len().div_ceil(threads);
    let outputs: Vec<Vec<Block>> = std::thread::scope(|scope| {
        let shared: &[Block] = labels;
        let handles: Vec<_> = gates
            .chunks(part)
            .zip(tables.chunks(2 * part))
            .enumerate()
            .map(|(i, (gates, tables))| {
                let tweaks = Tweaks {
                    first: tweaks.first.wrapping_add(2 * (i * part) as u64),
                    ..tweaks
                };
                scope.spawn(move || evaluate_part(aes, shared, gates, tweaks, tables))
            })
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

/// One thread's part of [`evaluate_ands_parallel`]: the formulas of [`evaluate_ands`] reading
/// `labels` only; returns the output labels in gate order.
fn evaluate_part(
    aes: &Aes,
    labels: &[Block],
    gates: &[SlotGate],
    tweaks: Tweaks,
    tables: &[Block],
) -> Vec<Block> {
    let mut outs = Vec::with_capacity(gates.len());
    let mut scratch = vec![Block::ZERO; 2 * CHUNK];
    for (c, (chunk, table)) in gates
        .chunks(CHUNK)
        .zip(tables.chunks(2 * CHUNK))
        .enumerate()
    {
        let scratch = &mut scratch[..2 * chunk.len()];
        for (g, s) in chunk.iter().zip(scratch.chunks_exact_mut(2)) {
            s[0] = labels[g.a as usize];
            s[1] = labels[g.b as usize];
        }
        let first = tweaks.first.wrapping_add(2 * (c * CHUNK) as u64);
        aes.tccr(scratch, Tweaks { first, ..tweaks });
        for ((g, h), t) in chunk
            .iter()
            .zip(scratch.chunks_exact(2))
            .zip(table.chunks_exact(2))
        {
            let a = labels[g.a as usize];
            let b = labels[g.b as usize];
            let wg = h[0] ^ t[0].select(a.lsb());
            let we = h[1] ^ (t[1] ^ a).select(b.lsb());
            outs.push(wg ^ we);
        }
    }
    zeroize::Zeroize::zeroize(&mut scratch);
    outs
}

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
    for (c, (chunk, table)) in gates
        .chunks(CHUNK)
        .zip(tables.chunks(2 * CHUNK))
        .enumerate()
    {
        let scratch = &mut scratch[..2 * chunk.len()];
        for (g, s) in chunk.iter().zip(scratch.chunks_exact_mut(2)) {
            s[0] = labels[g.a as usize];
            s[1] = labels[g.b as usize];
        }
        let first = tweaks.first.wrapping_add(2 * (c * CHUNK) as u64);
        aes.tccr(scratch, Tweaks { first, ..tweaks });
        for ((g, h), t) in chunk
            .iter()
            .zip(scratch.chunks_exact(2))
            .zip(table.chunks_exact(2))
        {
            let a = labels[g.a as usize];
            let b = labels[g.b as usize];
            let wg = h[0] ^ t[0].select(a.lsb());
            let we = h[1] ^ (t[1] ^ a).select(b.lsb());
            labels[g.out as usize] = wg ^ we;
        }
    }
}
