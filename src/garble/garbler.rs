//! The batched half-gates garbler.

use super::{CHUNK, Cursor, RandomBits, Scheme, TweakBase, three_halves};

/// Scratch blocks: four hash inputs per gate of a chunk, then the chunk's output labels.
const SCRATCH: usize = 5 * CHUNK;
use crate::aes::{Aes, Tweaks};
use crate::block::{Block, Delta, ZeroLabel};
use crate::compile::{Program, SLOT_ONE, SlotGate};
use crate::error::{Error, Result};

/// Garbles a program into tables, batch by batch. Holds the live zero-labels (zeroized on drop).
pub struct Garbler<'p> {
    program: &'p Program,
    delta: Delta,
    labels: Vec<Block>,
    aes: &'p Aes,
    tweaks: TweakBase,
    cursor: Cursor<'p>,
    scratch: Vec<Block>,
    /// Threads a wide AND batch is split across (1: none).
    threads: usize,
    scheme: Scheme,
    /// Three-halves: the random bits of `R_$` and the tables of the current call before packing.
    rand: Option<RandomBits>,
    staged: three_halves::Staged,
    /// Three-halves: the output zero-labels of a batch, and its random bits, before they are
    /// stored.
    outs: Vec<Block>,
    bits: Vec<u8>,
}

impl std::fmt::Debug for Garbler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Garbler(step {}, {} of {} AND gates)",
            self.cursor.steps_done,
            self.cursor.and_done(),
            self.program.and_count()
        )
    }
}

impl Drop for Garbler<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.labels);
        zeroize::Zeroize::zeroize(&mut self.scratch);
        zeroize::Zeroize::zeroize(&mut self.outs);
        zeroize::Zeroize::zeroize(&mut self.bits);
        self.staged.wipe();
    }
}

impl<'p> Garbler<'p> {
    /// A garbler for `program` with offset `delta` and one zero-label per input wire.
    pub fn new(
        program: &'p Program,
        delta: Delta,
        inputs: &[ZeroLabel],
        tweaks: TweakBase,
    ) -> Result<Self> {
        if inputs.len() != program.input_count() {
            return Err(Error::arg(format!(
                "{} input labels for a program with {} input wires",
                inputs.len(),
                program.input_count()
            )));
        }
        let mut labels = vec![Block::ZERO; program.num_slots() as usize];
        labels[SLOT_ONE as usize] = delta.block();
        for (&slot, label) in program.input_slots().iter().zip(inputs) {
            labels[slot as usize] = label.0;
        }
        Ok(Garbler {
            program,
            delta,
            labels,
            aes: Aes::fixed(),
            tweaks,
            cursor: Cursor::new(program),
            scratch: vec![Block::ZERO; SCRATCH],
            threads: 1,
            scheme: Scheme::HalfGates,
            rand: None,
            staged: three_halves::Staged::default(),
            outs: Vec::new(),
            bits: Vec::new(),
        })
    }

    /// Garbles with `scheme`; `rand` (seeded from the OS in a session) supplies the
    /// three-halves garbler's random bits and is not used by half-gates.
    pub fn with_scheme(mut self, scheme: Scheme, rand: crate::aes::Prg) -> Self {
        self.scheme = scheme;
        self.rand = (scheme == Scheme::ThreeHalves).then(|| RandomBits::new(rand));
        if scheme == Scheme::ThreeHalves && self.scratch.len() < 7 * CHUNK {
            self.scratch = vec![Block::ZERO; 7 * CHUNK];
        }
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Splits AND batches of at least [`super::PARALLEL_MIN`] gates across `threads` threads
    /// (the tables do not change).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The same, hashing with a given fixed-key AES (tests compare backends with it).
    pub fn with_aes(mut self, aes: &'p Aes) -> Self {
        self.aes = aes;
        self
    }

    /// Whether every gate has been garbled.
    pub fn is_done(&self) -> bool {
        self.cursor.is_done()
    }

    /// Fails if reading a streamed program failed (then [`Garbler::is_done`] turned true early).
    pub fn check(&mut self) -> Result<()> {
        self.cursor.check()
    }

    /// Garbles into `tables` until it is full or the program ends; returns the number of blocks
    /// written. Half-gates writes two blocks per AND gate, in program order; three-halves packs
    /// 128 gates in 197 blocks and fills whole groups except at the end of the program (see
    /// [`Scheme::blocks_for`]; the evaluator must be handed the same pieces). Call until
    /// [`Garbler::is_done`].
    pub fn garble(&mut self, tables: &mut [Block]) -> usize {
        if self.scheme == Scheme::ThreeHalves {
            return self.garble_three_halves(tables);
        }
        let Garbler {
            delta,
            labels,
            aes,
            tweaks,
            cursor,
            scratch,
            threads,
            ..
        } = self;
        let (d, threads) = (delta.block(), *threads);
        let gates = cursor.advance(labels, tables.len() / 2, |labels, batch, first, offset| {
            let n = batch.len();
            let base = tweaks.first.wrapping_add(2 * first as u64);
            let batch_tweaks = Tweaks {
                nonce: tweaks.nonce,
                first: base,
                shift: 1,
            };
            let out = &mut tables[2 * offset..2 * (offset + n)];
            if threads > 1 && n >= super::PARALLEL_MIN {
                garble_ands_parallel(aes, labels, batch, d, batch_tweaks, out, threads);
            } else {
                garble_ands(aes, scratch, labels, batch, d, batch_tweaks, out);
            }
        });
        2 * gates
    }

    fn garble_three_halves(&mut self, tables: &mut [Block]) -> usize {
        let remaining = self.program.and_count() - self.cursor.and_done();
        let capacity = Scheme::ThreeHalves.capacity(tables.len(), remaining);
        let Garbler {
            delta,
            labels,
            aes,
            tweaks,
            cursor,
            scratch,
            rand,
            staged,
            threads,
            outs,
            bits,
            ..
        } = self;
        let Some(rand) = rand.as_mut() else {
            return 0;
        };
        let (d, threads) = (delta.block(), *threads);
        staged.reset(capacity);
        let gates = cursor.advance(labels, capacity, |labels, batch, first, offset| {
            let n = batch.len();
            let halves = &mut staged.halves[3 * offset..3 * (offset + n)];
            let z = &mut staged.z[offset..offset + n];
            // The random bits are drawn in gate order first, so the tables do not depend on a
            // split across threads.
            bits.clear();
            bits.extend((0..n).map(|_| rand.next()));
            if threads > 1 && n >= super::PARALLEL_MIN {
                let part = n.div_ceil(threads).max(1);
                let extras = halves
                    .chunks_mut(3 * part)
                    .zip(z.chunks_mut(part))
                    .zip(bits.chunks(part));
                super::split_batch(
                    labels,
                    batch,
                    threads,
                    extras,
                    |labels, gates, at, ((halves, z), bits)| {
                        let mut scratch = vec![Block::ZERO; 7 * CHUNK];
                        let mut outs = Vec::with_capacity(gates.len());
                        let part = ThreeHalvesPart {
                            aes,
                            delta: d,
                            tweaks,
                            first: first + at,
                        };
                        part.garble(&mut scratch, labels, gates, bits, (halves, z), &mut outs);
                        zeroize::Zeroize::zeroize(&mut scratch);
                        outs
                    },
                );
                return;
            }
            let part = ThreeHalvesPart {
                aes,
                delta: d,
                tweaks,
                first,
            };
            outs.clear();
            part.garble(scratch, labels, batch, bits, (halves, z), outs);
            // The gates of a batch are independent: their outputs are stored after all of them.
            for (g, w) in batch.iter().zip(outs.iter()) {
                labels[g.out as usize] = *w;
            }
        });
        let blocks = three_halves::blocks_for(gates);
        staged.pack(gates, &mut tables[..blocks]);
        blocks
    }

    /// The output decoding bits `lsb(W0)`, one per output wire. Available once garbling is done.
    pub fn decoding_bits(&mut self) -> Result<Vec<bool>> {
        self.check()?;
        if !self.is_done() {
            return Err(Error::arg(
                "decoding bits are known only after the whole circuit is garbled",
            ));
        }
        Ok(self
            .program
            .output_slots()
            .iter()
            .map(|&s| self.labels[s as usize].lsb())
            .collect())
    }

    /// The zero-labels of the output wires (for tests and output-label checks).
    pub fn output_zero_labels(&self) -> Vec<ZeroLabel> {
        self.program
            .output_slots()
            .iter()
            .map(|&s| ZeroLabel(self.labels[s as usize]))
            .collect()
    }

    /// The free-XOR offset.
    pub fn delta(&self) -> &Delta {
        &self.delta
    }
}

/// One thread's share of a three-halves AND batch: the hash, the key and the counter of its
/// first gate. Serial and split batches run the same loop.
pub(super) struct ThreeHalvesPart<'a> {
    pub aes: &'a Aes,
    /// The garbler's Delta (the evaluator passes zero: evaluating does not use it).
    pub delta: Block,
    pub tweaks: &'a TweakBase,
    /// Index (in the run) of the first gate of `gates`.
    pub first: usize,
}

impl ThreeHalvesPart<'_> {
    /// Garbles `gates` ([`CHUNK`] at a time through `scratch`, 7 CHUNK blocks) with the random
    /// bits `bits`, writing their tables to `halves` (three a gate) and `z`, and appending their
    /// output zero-labels to `outs` in gate order.
    fn garble(
        &self,
        scratch: &mut [Block],
        labels: &[Block],
        gates: &[SlotGate],
        bits: &[u8],
        (halves, z): (&mut [u64], &mut [u8]),
        outs: &mut Vec<Block>,
    ) {
        for (c, chunk) in gates.chunks(CHUNK).enumerate() {
            let k = c * CHUNK;
            let (hashes, here) = scratch.split_at_mut(6 * CHUNK);
            let here = &mut here[..chunk.len()];
            three_halves::garble_chunk(
                self.aes,
                hashes,
                labels,
                chunk,
                self.delta,
                three_halves_tweaks(self.tweaks, self.first + k, 1),
                &bits[k..k + chunk.len()],
                here,
                &mut halves[3 * k..3 * (k + chunk.len())],
                &mut z[k..k + chunk.len()],
            );
            outs.extend_from_slice(here);
        }
    }

    /// Evaluates `gates` ([`CHUNK`] at a time through `scratch`, 4 CHUNK blocks) with their
    /// tables (`halves`, three a gate, and `z`), appending their output labels to `outs` in gate
    /// order.
    pub(super) fn evaluate(
        &self,
        scratch: &mut [Block],
        labels: &[Block],
        gates: &[SlotGate],
        (halves, z): (&[u64], &[u8]),
        outs: &mut Vec<Block>,
    ) {
        for (c, chunk) in gates.chunks(CHUNK).enumerate() {
            let k = c * CHUNK;
            let (hashes, here) = scratch.split_at_mut(3 * CHUNK);
            let here = &mut here[..chunk.len()];
            three_halves::eval_chunk(
                self.aes,
                hashes,
                labels,
                chunk,
                three_halves_tweaks(self.tweaks, self.first + k, 0),
                (
                    &halves[3 * k..3 * (k + chunk.len())],
                    &z[k..k + chunk.len()],
                ),
                here,
            );
            outs.extend_from_slice(here);
        }
    }
}

/// The tweaks of three-halves gates from program-wide gate `first` on (`shift` 1 for the
/// garbler's colour pairs, 0 for the evaluator).
pub(super) fn three_halves_tweaks(base: &TweakBase, first: usize, shift: u32) -> Tweaks {
    Tweaks {
        nonce: base.nonce,
        first: base
            .first
            .wrapping_add(three_halves::TWEAKS_PER_GATE * first as u64),
        shift,
    }
}

/// A wide batch on `threads` threads (see `split_batch`): each part garbles into its own slice of
/// the tables, so the tables are those of one pass and the protocol does not change.
fn garble_ands_parallel(
    aes: &Aes,
    labels: &mut [Block],
    gates: &[SlotGate],
    d: Block,
    tweaks: Tweaks,
    tables: &mut [Block],
    threads: usize,
) {
    let part = gates.len().div_ceil(threads.max(1)).max(1);
    super::split_batch(
        labels,
        gates,
        threads,
        tables.chunks_mut(2 * part),
        |labels, gates, first, tables| {
            let tweaks = Tweaks {
                first: tweaks.first.wrapping_add(2 * first as u64),
                ..tweaks
            };
            let mut scratch = vec![Block::ZERO; SCRATCH];
            let mut outs = Vec::with_capacity(gates.len());
            for (c, (chunk, out)) in gates
                .chunks(CHUNK)
                .zip(tables.chunks_mut(2 * CHUNK))
                .enumerate()
            {
                let first = tweaks.first.wrapping_add(2 * (c * CHUNK) as u64);
                let (hashes, outs_here) = scratch.split_at_mut(4 * CHUNK);
                let outs_here = &mut outs_here[..chunk.len()];
                garble_chunk(
                    aes,
                    hashes,
                    labels,
                    chunk,
                    d,
                    Tweaks { first, ..tweaks },
                    out,
                    outs_here,
                );
                outs.extend_from_slice(outs_here);
            }
            zeroize::Zeroize::zeroize(&mut scratch);
            outs
        },
    );
}

/// Garbles one batch of independent AND gates: the fused kernel where the AES backend has one,
/// otherwise [`garble_chunk`] chunk by chunk. `tweaks.first` is the counter of the batch's first
/// gate.
fn garble_ands(
    aes: &Aes,
    scratch: &mut [Block],
    labels: &mut [Block],
    gates: &[SlotGate],
    d: Block,
    tweaks: Tweaks,
    tables: &mut [Block],
) {
    if aes.garble_ands(labels, gates, d, tweaks, tables) {
        return;
    }
    // The scratch holds the hash inputs, then the chunk's output labels.
    let (hashes, outs) = scratch.split_at_mut(4 * CHUNK);
    for (c, (chunk, out)) in gates
        .chunks(CHUNK)
        .zip(tables.chunks_mut(2 * CHUNK))
        .enumerate()
    {
        let first = tweaks.first.wrapping_add(2 * (c * CHUNK) as u64);
        let outs = &mut outs[..chunk.len()];
        garble_chunk(
            aes,
            hashes,
            labels,
            chunk,
            d,
            Tweaks { first, ..tweaks },
            out,
            outs,
        );
        // The gates of a batch read no output of the batch: writing after the chunk is the same.
        for (g, w) in chunk.iter().zip(outs.iter()) {
            labels[g.out as usize] = *w;
        }
    }
}

/// The half-gates formulas for at most [`CHUNK`] gates: their tables into `tables` (two blocks a
/// gate) and their output zero-labels into `outs`, reading `labels` only.
#[allow(clippy::too_many_arguments)]
fn garble_chunk(
    aes: &Aes,
    scratch: &mut [Block],
    labels: &[Block],
    chunk: &[SlotGate],
    d: Block,
    tweaks: Tweaks,
    tables: &mut [Block],
    outs: &mut [Block],
) {
    let scratch = &mut scratch[..4 * chunk.len()];
    for (g, s) in chunk.iter().zip(scratch.chunks_exact_mut(4)) {
        let a0 = labels[g.a as usize];
        let b0 = labels[g.b as usize];
        s[0] = a0;
        s[1] = a0 ^ d;
        s[2] = b0;
        s[3] = b0 ^ d;
    }
    aes.tccr(scratch, tweaks);
    for (((g, h), t), w) in chunk
        .iter()
        .zip(scratch.chunks_exact(4))
        .zip(tables.chunks_exact_mut(2))
        .zip(outs.iter_mut())
    {
        let a0 = labels[g.a as usize];
        let b0 = labels[g.b as usize];
        let (pa, pb) = (a0.lsb(), b0.lsb());
        let tg = h[0] ^ h[1] ^ d.select(pb);
        let wg0 = h[0] ^ tg.select(pa);
        let te = h[2] ^ h[3] ^ a0;
        let we0 = h[2] ^ (h[2] ^ h[3]).select(pb);
        *w = wg0 ^ we0;
        t[0] = tg;
        t[1] = te;
    }
}
