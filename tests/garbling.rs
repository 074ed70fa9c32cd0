//! The garbling core: every gate type exhaustively, every known answer of the kit garbled, random
//! circuits against cleartext, the batched garbler against the reference, and every AES backend
//! producing the same tables.

mod common;

use common::*;
use garbled::aes::{Aes, Backend, Prg};
use garbled::block::{ActiveLabel, Block, Delta, ZeroLabel};
use garbled::circuit::{Circuit, Gate, Group, plain};
use garbled::compile::{Program, compile};
use garbled::garble::{Evaluator, Garbler, TweakBase, reference, run_in_memory};
use proptest::prelude::*;

fn garbled_eval(
    program: &Program,
    inputs: &[Vec<bool>],
    seed: u8,
    buffer_gates: usize,
) -> Vec<bool> {
    let flat: Vec<bool> = inputs.iter().flatten().copied().collect();
    let mut prg = Prg::from_seed([seed; 16]);
    run_in_memory(program, &flat, &mut prg, buffer_gates).unwrap()
}

fn flat_plain(circuit: &Circuit, inputs: &[Vec<bool>]) -> Vec<bool> {
    plain::eval_bits(circuit, inputs).unwrap().concat()
}

/// One-gate circuits over two input bits, every input combination, every buffer size.
#[test]
fn every_gate_type_exhaustively() {
    let one = |gates: Vec<Gate>, out: u32| {
        let n = 2 + gates.len() as u32;
        Circuit::new(
            n,
            vec![Group::new("a", 1), Group::new("b", 1)],
            vec![Group::new("c", 1)],
            gates,
            vec![out],
        )
        .unwrap()
    };
    type Case = (&'static str, Circuit, fn(bool, bool) -> bool);
    let cases: Vec<Case> = vec![
        (
            "AND",
            one(vec![Gate::And { a: 0, b: 1, out: 2 }], 2),
            |a, b| a & b,
        ),
        (
            "XOR",
            one(vec![Gate::Xor { a: 0, b: 1, out: 2 }], 2),
            |a, b| a ^ b,
        ),
        ("INV", one(vec![Gate::Inv { a: 0, out: 2 }], 2), |a, _| !a),
        (
            "EQ 0",
            one(
                vec![Gate::Const {
                    value: false,
                    out: 2,
                }],
                2,
            ),
            |_, _| false,
        ),
        (
            "EQ 1",
            one(
                vec![Gate::Const {
                    value: true,
                    out: 2,
                }],
                2,
            ),
            |_, _| true,
        ),
        ("EQW", one(vec![Gate::Copy { a: 1, out: 2 }], 2), |_, b| b),
        ("input as output", one(vec![], 0), |a, _| a),
        (
            "AND a a",
            one(vec![Gate::And { a: 0, b: 0, out: 2 }], 2),
            |a, _| a,
        ),
        (
            "XOR a a",
            one(vec![Gate::Xor { a: 1, b: 1, out: 2 }], 2),
            |_, _| false,
        ),
        (
            "NAND",
            one(
                vec![Gate::And { a: 0, b: 1, out: 2 }, Gate::Inv { a: 2, out: 3 }],
                3,
            ),
            |a, b| !(a & b),
        ),
        (
            "AND with NOT input",
            one(
                vec![Gate::Inv { a: 0, out: 2 }, Gate::And { a: 2, b: 1, out: 3 }],
                3,
            ),
            |a, b| !a & b,
        ),
        (
            "AND with constant 1",
            one(
                vec![
                    Gate::Const {
                        value: true,
                        out: 2,
                    },
                    Gate::And { a: 0, b: 2, out: 3 },
                ],
                3,
            ),
            |a, _| a,
        ),
        (
            "AND with constant 0",
            one(
                vec![
                    Gate::Const {
                        value: false,
                        out: 2,
                    },
                    Gate::And { a: 2, b: 1, out: 3 },
                ],
                3,
            ),
            |_, _| false,
        ),
        (
            "XOR with constant 1",
            one(
                vec![
                    Gate::Const {
                        value: true,
                        out: 2,
                    },
                    Gate::Xor { a: 2, b: 1, out: 3 },
                ],
                3,
            ),
            |_, b| !b,
        ),
        (
            "NOT NOT",
            one(
                vec![Gate::Inv { a: 1, out: 2 }, Gate::Inv { a: 2, out: 3 }],
                3,
            ),
            |_, b| b,
        ),
    ];
    for (name, circuit, f) in &cases {
        let program = compile(circuit).unwrap();
        for a in [false, true] {
            for b in [false, true] {
                let inputs = vec![vec![a], vec![b]];
                assert_eq!(
                    flat_plain(circuit, &inputs),
                    vec![f(a, b)],
                    "{name} plain {a} {b}"
                );
                for seed in 0..8 {
                    let got = garbled_eval(&program, &inputs, seed, 1);
                    assert_eq!(got, vec![f(a, b)], "{name} garbled a={a} b={b} seed={seed}");
                }
            }
        }
    }
}

/// Every vector of the kit, garbled and evaluated.
#[test]
fn every_known_answer_garbled() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    let mut checked = 0;
    for (name, entry) in vectors["circuits"].as_object().unwrap() {
        let circuit = load(&dir, entry["file"].as_str().unwrap());
        let program = compile(&circuit).unwrap();
        for (i, v) in all_vectors(entry).iter().enumerate() {
            let got = garbled_eval(&program, &v.inputs, i as u8, 4096);
            assert_eq!(got, v.outputs.concat(), "{name} {}", v.label);
            checked += 1;
        }
    }
    assert!(checked >= 848, "{checked}");
}

/// The batched garbler produces exactly the reference garbler's tables and labels, on every AES
/// backend, whatever the buffer size; the batched evaluator the reference evaluator's labels.
/// Levels of AND gates of every width from 1 to 40, each level fed by the one before, so that
/// the garbler hands its kernels batches of exactly those widths (every padded tail of the
/// pipelined kernels).
fn every_batch_width() -> Circuit {
    const WIDEST: u32 = 40;
    let mut gates = Vec::new();
    let mut outputs = Vec::new();
    let mut previous: Vec<u32> = (WIDEST..2 * WIDEST).collect();
    let mut next = 2 * WIDEST;
    for width in 1..=WIDEST {
        let level: Vec<u32> = (0..width).map(|i| next + i).collect();
        for (i, &out) in level.iter().enumerate() {
            let b = previous[i % previous.len()];
            gates.push(Gate::And {
                a: i as u32,
                b,
                out,
            });
        }
        next += width;
        outputs.extend_from_slice(&level);
        previous = level;
    }
    let width = outputs.len() as u32;
    Circuit::new(
        next,
        vec![Group::new("x", WIDEST), Group::new("y", WIDEST)],
        vec![Group::new("z", width)],
        gates,
        outputs,
    )
    .unwrap()
}

#[test]
fn batched_garbler_matches_the_reference_on_every_backend() {
    let mut circuits = vec![
        random_circuit(1, 3, 3000, 40),
        random_circuit(2, 2, 500, 7),
        every_batch_width(),
    ];
    if let Some((dir, _)) = vectors() {
        circuits.push(load(&dir, "fashion/aes_128.txt"));
        circuits.push(load(&dir, "fashion/sha256.txt"));
    }
    for circuit in &circuits {
        let program = compile(circuit).unwrap();
        let (delta, zero) = zero_labels(&program, 5);
        let bits: Vec<bool> = random_inputs(circuit, 9).concat();
        let active: Vec<ActiveLabel> = zero
            .iter()
            .zip(&bits)
            .map(|(z, &b)| z.encode(b, &delta))
            .collect();
        let base = TweakBase {
            nonce: 0x1234,
            first: 1000,
        };
        let (ref_tables, ref_out) = reference::garble(&program, &delta, &zero, base);
        assert_eq!(ref_tables.len(), 2 * program.and_count());
        let ref_active = reference::evaluate(&program, &ref_tables, &active, base);
        for (z, (a, &bit)) in ref_out.iter().zip(
            ref_active
                .iter()
                .zip(&flat_plain(circuit, &random_inputs(circuit, 9))),
        ) {
            assert_eq!(
                a.0,
                z.encode(bit, &delta).0,
                "reference labels encode the cleartext result"
            );
        }
        for backend in Backend::ALL.into_iter().filter(|b| b.supported()) {
            let aes = Aes::fixed_with_backend(backend).unwrap();
            for buffer_gates in [1usize, 7, 300, 1 << 20] {
                let mut g = Garbler::new(&program, delta.clone(), &zero, base)
                    .unwrap()
                    .with_aes(&aes);
                let mut e = Evaluator::new(&program, &active, base)
                    .unwrap()
                    .with_aes(&aes);
                let mut tables = Vec::new();
                let mut buf = vec![Block::ZERO; 2 * buffer_gates];
                while !g.is_done() {
                    let n = g.garble(&mut buf);
                    assert_eq!(e.evaluate(&buf[..n]), n);
                    tables.extend_from_slice(&buf[..n]);
                }
                e.evaluate(&[]);
                assert!(e.is_done());
                assert_eq!(tables, ref_tables, "{backend} buffer {buffer_gates}");
                assert_eq!(g.output_zero_labels(), ref_out, "{backend}");
                assert_eq!(e.output_labels().unwrap(), ref_active, "{backend}");
            }
        }
    }
}

#[test]
fn tables_depend_on_the_tweak_base() {
    let circuit = random_circuit(3, 2, 200, 5);
    let program = compile(&circuit).unwrap();
    let delta = Delta::new(Block::new(77));
    let zero: Vec<ZeroLabel> = (0..program.input_count())
        .map(|i| ZeroLabel(Block::new(i as u128 * 31 + 5)))
        .collect();
    let a = reference::garble(&program, &delta, &zero, TweakBase { nonce: 1, first: 0 }).0;
    let b = reference::garble(&program, &delta, &zero, TweakBase { nonce: 2, first: 0 }).0;
    let c = reference::garble(&program, &delta, &zero, TweakBase { nonce: 1, first: 2 }).0;
    assert!(!a.is_empty());
    assert_ne!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_wrong_table_gives_wrong_labels() {
    let circuit = random_circuit(4, 2, 300, 16);
    let program = compile(&circuit).unwrap();
    assert!(program.and_count() > 0);
    let delta = Delta::new(Block::new(99));
    let zero: Vec<ZeroLabel> = (0..program.input_count())
        .map(|i| ZeroLabel(Block::new(i as u128 * 7 + 1)))
        .collect();
    let active: Vec<ActiveLabel> = zero.iter().map(|z| z.encode(false, &delta)).collect();
    let base = TweakBase { nonce: 3, first: 0 };
    let (mut tables, out) = reference::garble(&program, &delta, &zero, base);
    let last = tables.len() - 1;
    tables[last] ^= Block::new(1 << 70);
    let got = reference::evaluate(&program, &tables, &active, base);
    let valid = |l: &ActiveLabel, z: &ZeroLabel| l.0 == z.0 || l.0 == z.0 ^ delta.block();
    assert!(
        got.iter().zip(&out).any(|(l, z)| !valid(l, z)),
        "tampering must be visible in some output label"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_circuits_garbled_equal_cleartext(seed in any::<u64>(), gates in 1usize..400, outputs in 1usize..20, buffer in 1usize..64) {
        let circuit = random_circuit(seed, 1 + (seed % 3) as usize, gates, outputs);
        let program = compile(&circuit).unwrap();
        let inputs = random_inputs(&circuit, seed ^ 0x55);
        let got = garbled_eval(&program, &inputs, seed as u8, buffer);
        prop_assert_eq!(got, flat_plain(&circuit, &inputs));
    }
}

/// Programs of more than 2^16 slots keep their XOR gates with 32-bit slots, smaller ones with
/// 16-bit slots; both garble and evaluate to the cleartext result, and both stay equal to the
/// reference garbler.
#[test]
fn wide_and_narrow_programs_garble_alike() {
    for bits in [1000u32, 33_000] {
        let circuit = all_inputs_live(bits);
        let program = compile(&circuit).unwrap();
        assert_eq!(program.num_slots() > 1 << 16, bits > 1 << 15, "{bits} bits");
        for seed in 0..2u8 {
            let inputs = random_inputs(&circuit, seed.into());
            assert_eq!(
                garbled_eval(&program, &inputs, seed, 1 << 12),
                flat_plain(&circuit, &inputs),
                "{bits} bits, seed {seed}"
            );
        }
        let (delta, zero) = zero_labels(&program, 3);
        let base = TweakBase { nonce: 7, first: 0 };
        let (ref_tables, ref_out) = reference::garble(&program, &delta, &zero, base);
        let mut g = Garbler::new(&program, delta.clone(), &zero, base).unwrap();
        let mut tables = Vec::new();
        let mut buf = vec![Block::ZERO; 2 << 12];
        while !g.is_done() {
            let n = g.garble(&mut buf);
            tables.extend_from_slice(&buf[..n]);
        }
        assert_eq!(tables, ref_tables, "{bits} bits");
        assert_eq!(g.output_zero_labels(), ref_out, "{bits} bits");
    }
}
