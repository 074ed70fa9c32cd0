//! A plain, gate-by-gate garbler and evaluator: one hash call per row, no batching, no buffers.
//! Slow and obviously correct; the tests hold the batched [`Garbler`](super::Garbler) and
//! [`Evaluator`](super::Evaluator) to produce exactly the same tables and labels.

use super::{TweakBase, three_halves};
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
            let xors: Vec<SlotGate> = segment.xor_gates(x..x + step.xors as usize).collect();
            let ands = &segment.and_gates()[k..k + step.ands as usize];
            f(&xors, ands);
            x += step.xors as usize;
            k += step.ands as usize;
        }
    }
}

/// The label array at the start: the input labels in their slots, `one` in the constant-one
/// slot (Delta for the garbler, zero for the evaluator).
fn slots(program: &Program, inputs: impl Iterator<Item = Block>, one: Block) -> Vec<Block> {
    let mut w = vec![Block::ZERO; program.num_slots() as usize];
    w[SLOT_ONE as usize] = one;
    for (&s, l) in program.input_slots().iter().zip(inputs) {
        w[s as usize] = l;
    }
    w
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
    let mut w = slots(program, inputs.iter().map(|l| l.0), d);
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
    let mut w = slots(program, inputs.iter().map(|l| l.0), Block::ZERO);
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

/// Three-halves, gate by gate with one hash call at a time, the garbler written from the
/// evaluator's decoding equations (it evaluates what the evaluator would compute for each colour
/// pair and solves for the ciphertexts) rather than from the batched garbler's closed form.
/// `rand(k)` gives gate `k`'s two random bits. Returns every gate's tables and the output
/// zero-labels; panics if some colour pair would decode wrongly (the tests rely on that).
pub fn garble_three_halves(
    program: &Program,
    delta: &Delta,
    inputs: &[ZeroLabel],
    base: TweakBase,
    mut rand: impl FnMut(usize) -> u8,
) -> (Vec<three_halves::Tables>, Vec<ZeroLabel>) {
    let aes = Aes::fixed();
    let d = delta.block();
    let mut w = slots(program, inputs.iter().map(|l| l.0), d);
    let mut tables = Vec::with_capacity(program.and_count());
    let mut k = 0usize;
    for_each_step(program, |xors, ands| {
        for g in xors {
            w[g.out as usize] = w[g.a as usize] ^ w[g.b as usize];
        }
        let mut outs = Vec::with_capacity(ands.len());
        for g in ands {
            let (a0, b0) = (w[g.a as usize], w[g.b as usize]);
            let t = |c: u64| tweak(base, 3 * k as u64 + c);
            let label = |zero: Block, value: bool| zero ^ d.select(value);
            // The garbler's six hashes, in colour order.
            let colour_label = |zero: Block, c: bool| label(zero, c ^ zero.lsb());
            let mut h = [Block::ZERO; 6];
            for c in [false, true] {
                h[c as usize] = aes.tccr_one(colour_label(a0, c), t(0));
                h[2 + c as usize] = aes.tccr_one(colour_label(b0, c), t(1));
                h[4 + c as usize] = aes.tccr_one(colour_label(a0 ^ b0, c), t(2));
            }
            let r = rand(k);
            // The evaluator's output for values (a, b) under given tables.
            let decode = |va: bool, vb: bool, tab: &three_halves::Tables| {
                let (a, b) = (label(a0, va), label(b0, vb));
                three_halves::eval_gate(
                    a,
                    b,
                    aes.tccr_one(a, t(0)),
                    aes.tccr_one(b, t(1)),
                    aes.tccr_one(a ^ b, t(2)),
                    tab,
                )
            };
            // Control bits as the paper sets them (see the module docs of `three_halves`).
            let m = |b: Block| (b.value() >> 127) as u8;
            let (na, nb) = (!a0.lsb() as u8, !b0.lsb() as u8);
            let z = ((r & 1) ^ m(h[0]) ^ m(h[4]))
                | (((r >> 1) & 1) ^ m(h[2]) ^ m(h[4])) << 1
                | (na ^ m(h[0]) ^ m(h[1])) << 2
                | (nb ^ m(h[2]) ^ m(h[3])) << 3
                | (na ^ nb ^ m(h[4]) ^ m(h[5])) << 4;
            let mut tab = three_halves::Tables { g: [0; 3], z };
            // Colours (0, 0) use no ciphertext: they fix the output zero-label.
            let (va0, vb0) = (a0.lsb(), b0.lsb());
            let c0 = decode(va0, vb0, &tab) ^ d.select(va0 & vb0);
            let target = |va: bool, vb: bool| c0 ^ d.select(va & vb);
            let lo = |b: Block| b.value() as u64;
            let hi = |b: Block| (b.value() >> 64) as u64;
            // Colours (1, 1): C_L = G0 ^ (the rest), C_R = G1 ^ (the rest).
            let at11 = decode(!va0, !vb0, &tab);
            tab.g[0] = lo(at11) ^ lo(target(!va0, !vb0));
            tab.g[1] = hi(at11) ^ hi(target(!va0, !vb0));
            // Colours (1, 0): C_R = G2 ^ (the rest, G1 not used there).
            let at10 = decode(
                !va0,
                vb0,
                &three_halves::Tables {
                    g: [tab.g[0], tab.g[1], 0],
                    z,
                },
            );
            tab.g[2] = hi(at10) ^ hi(target(!va0, vb0));
            for (va, vb) in [(false, false), (false, true), (true, false), (true, true)] {
                assert_eq!(
                    decode(va, vb, &tab),
                    target(va, vb),
                    "gate {k} values {va} {vb}"
                );
            }
            outs.push((g.out, c0));
            tables.push(tab);
            k += 1;
        }
        for (out, c0) in outs {
            w[out as usize] = c0;
        }
    });
    let outputs = program
        .output_slots()
        .iter()
        .map(|&s| ZeroLabel(w[s as usize]))
        .collect();
    (tables, outputs)
}

/// Three-halves evaluation, gate by gate.
pub fn evaluate_three_halves(
    program: &Program,
    tables: &[three_halves::Tables],
    inputs: &[ActiveLabel],
    base: TweakBase,
) -> Vec<ActiveLabel> {
    let aes = Aes::fixed();
    let mut w = slots(program, inputs.iter().map(|l| l.0), Block::ZERO);
    let mut k = 0usize;
    for_each_step(program, |xors, ands| {
        for g in xors {
            w[g.out as usize] = w[g.a as usize] ^ w[g.b as usize];
        }
        let mut outs = Vec::with_capacity(ands.len());
        for g in ands {
            let (a, b) = (w[g.a as usize], w[g.b as usize]);
            let t = |c: u64| tweak(base, 3 * k as u64 + c);
            let c = three_halves::eval_gate(
                a,
                b,
                aes.tccr_one(a, t(0)),
                aes.tccr_one(b, t(1)),
                aes.tccr_one(a ^ b, t(2)),
                &tables[k],
            );
            outs.push((g.out, c));
            k += 1;
        }
        for (out, c) in outs {
            w[out as usize] = c;
        }
    });
    program
        .output_slots()
        .iter()
        .map(|&s| ActiveLabel(w[s as usize]))
        .collect()
}
