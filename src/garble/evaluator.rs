//! The batched half-gates evaluator.

use super::garbler::xor_gates;
use super::{CHUNK, Cursor, TweakBase};
use crate::aes::{Aes, Tweaks};
use crate::block::{ActiveLabel, Block};
use crate::compile::Program;
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
        })
    }

    /// The same, hashing with a given fixed-key AES (tests compare backends with it).
    pub fn with_aes(mut self, aes: &'p Aes) -> Self {
        self.aes = aes;
        self
    }

    /// Whether every gate has been evaluated.
    pub fn is_done(&self) -> bool {
        self.cursor.step >= self.program.steps().len()
    }

    /// The number of table blocks still expected.
    pub fn tables_remaining(&self) -> usize {
        2 * (self.program.and_count() - self.cursor.and)
    }

    /// Evaluates as far as `tables` reaches (two blocks per AND gate, in program order); returns
    /// the number of blocks consumed (even; an odd last block is left for the next call).
    pub fn evaluate(&mut self, tables: &[Block]) -> usize {
        let available = tables.len() / 2;
        let mut used = 0;
        let steps = self.program.steps();
        while self.cursor.step < steps.len() {
            let step = steps[self.cursor.step];
            if !self.cursor.xors_done {
                let end = self.cursor.xor + step.xors as usize;
                xor_gates(
                    &mut self.labels,
                    &self.program.xor_gates()[self.cursor.xor..end],
                );
                self.cursor.xor = end;
                self.cursor.xors_done = true;
            }
            let n = ((step.ands - self.cursor.and_in_step) as usize).min(available - used);
            if n > 0 {
                let first = self.cursor.and;
                self.evaluate_ands(first, n, &tables[2 * used..2 * (used + n)]);
                self.cursor.and += n;
                self.cursor.and_in_step += n as u32;
                used += n;
            }
            if self.cursor.and_in_step < step.ands {
                break; // wait for more tables
            }
            self.cursor.step += 1;
            self.cursor.and_in_step = 0;
            self.cursor.xors_done = false;
        }
        2 * used
    }

    fn evaluate_ands(&mut self, first: usize, n: usize, tables: &[Block]) {
        let gates = &self.program.and_gates()[first..first + n];
        let labels = &mut self.labels;
        let batch = Tweaks {
            nonce: self.tweaks.nonce,
            first: self.tweaks.first.wrapping_add(2 * first as u64),
            shift: 0,
        };
        if self.aes.eval_ands(labels, gates, batch, tables) {
            return;
        }
        for (c, (chunk, table)) in gates
            .chunks(CHUNK)
            .zip(tables.chunks(2 * CHUNK))
            .enumerate()
        {
            let scratch = &mut self.scratch[..2 * chunk.len()];
            for (g, s) in chunk.iter().zip(scratch.chunks_exact_mut(2)) {
                s[0] = labels[g.a as usize];
                s[1] = labels[g.b as usize];
            }
            let gate_index = (first + c * CHUNK) as u64;
            let tweaks = Tweaks {
                nonce: self.tweaks.nonce,
                first: self.tweaks.first.wrapping_add(2 * gate_index),
                shift: 0,
            };
            self.aes.tccr(scratch, tweaks);
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
