//! A plain, gate-by-gate garbler and evaluator: one hash call per row, no batching, no buffers.
//! Slow and obviously correct; the tests hold the batched [`Garbler`](super::Garbler) and
//! [`Evaluator`](super::Evaluator) to produce exactly the same tables and labels.

use super::TweakBase;
use crate::aes::Aes;
use crate::block::{ActiveLabel, Block, Delta, ZeroLabel};
use crate::compile::{Program, SLOT_ONE, SlotGate};

/// Calls `f(xors, ands)` for every step of the program, segment after segment. Panics if a
/// streamed program cannot be read (the reference serves tests only).
fn for_each_step(program: &Program, mut f: impl FnMut(&[SlotGate], &[SlotGate])) {
    let mut segments = program.segments();
    while let Some(segment) = segments.next_segment().expect("the program is readable") {
        let (mut x, mut k) = (0, 0);
        for step in segment.steps() {
            let xors = &segment.xor_gates()[x..x + step.xors as usize];
            let ands = &segment.and_gates()[k..k + step.ands as usize];
            f(xors, ands);
            x += step.xors as usize;
            k += step.ands as usize;
        }
    }
}

fn tweak(base: TweakBase, counter: u64) -> Block {
    Block::from_halves(base.nonce, base.first.wrapping_add(counter))
}

/// Garbles the whole program; returns the tables (two blocks per AND gate) and the output
/// zero-labels.
pub fn garble(
    program: &Program,
    delta: &Delta,
    inputs: &[ZeroLabel],
    base: TweakBase,
) -> (Vec<Block>, Vec<ZeroLabel>) {
    let aes = Aes::fixed();
    let d = delta.block();
    let mut w = vec![Block::ZERO; program.num_slots() as usize];
    w[SLOT_ONE as usize] = d;
    for (&s, l) in program.input_slots().iter().zip(inputs) {
        w[s as usize] = l.0;
    }
    let mut tables = Vec::with_capacity(2 * program.and_count());
    let mut k = 0;
    for_each_step(program, |xors, ands| {
        for g in xors {
            w[g.out as usize] = w[g.a as usize] ^ w[g.b as usize];
        }
        for g in ands {
            let (a0, b0) = (w[g.a as usize], w[g.b as usize]);
            let j = tweak(base, 2 * k as u64);
            let j2 = tweak(base, 2 * k as u64 + 1);
            let (ha0, ha1) = (aes.tccr_one(a0, j), aes.tccr_one(a0 ^ d, j));
            let (hb0, hb1) = (aes.tccr_one(b0, j2), aes.tccr_one(b0 ^ d, j2));
            let tg = ha0 ^ ha1 ^ d.select(b0.lsb());
            let wg0 = ha0 ^ tg.select(a0.lsb());
            let te = hb0 ^ hb1 ^ a0;
            let we0 = hb0 ^ (te ^ a0).select(b0.lsb());
            w[g.out as usize] = wg0 ^ we0;
            tables.push(tg);
            tables.push(te);
            k += 1;
        }
    });
    let outputs = program
        .output_slots()
        .iter()
        .map(|&s| ZeroLabel(w[s as usize]))
        .collect();
    (tables, outputs)
}

/// Evaluates the whole program; returns the output active labels.
pub fn evaluate(
    program: &Program,
    tables: &[Block],
    inputs: &[ActiveLabel],
    base: TweakBase,
) -> Vec<ActiveLabel> {
    let aes = Aes::fixed();
    let mut w = vec![Block::ZERO; program.num_slots() as usize];
    for (&s, l) in program.input_slots().iter().zip(inputs) {
        w[s as usize] = l.0;
    }
    let mut k = 0;
    for_each_step(program, |xors, ands| {
        for g in xors {
            w[g.out as usize] = w[g.a as usize] ^ w[g.b as usize];
        }
        for g in ands {
            let (a, b) = (w[g.a as usize], w[g.b as usize]);
            let (tg, te) = (tables[2 * k], tables[2 * k + 1]);
            let wg = aes.tccr_one(a, tweak(base, 2 * k as u64)) ^ tg.select(a.lsb());
            let we = aes.tccr_one(b, tweak(base, 2 * k as u64 + 1)) ^ (te ^ a).select(b.lsb());
            w[g.out as usize] = wg ^ we;
            k += 1;
        }
    });
    program
        .output_slots()
        .iter()
        .map(|&s| ActiveLabel(w[s as usize]))
        .collect()
}
