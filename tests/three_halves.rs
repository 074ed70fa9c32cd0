//! Three-halves garbling: every kit circuit and random circuits decode to the cleartext result
//! on every AES backend, the batched garbler's tables equal the reference's bit for bit, a bit
//! flipped in the tables shows in the output labels, and the command line runs it locally and
//! between two processes, refusing a peer that chose the other scheme.

mod common;

use common::*;
use garbled::aes::{Aes, Backend, Prg};
use garbled::block::{ActiveLabel, Block, Delta, ZeroLabel};
use garbled::circuit::{Circuit, FormatChoice, Limits, bristol, plain};
use garbled::compile::{Program, compile};
use garbled::garble::three_halves::{self, Tables};
use garbled::garble::{Evaluator, Garbler, Scheme, TweakBase, reference, run_in_memory_with};
use proptest::prelude::*;

fn cleartext(circuit: &Circuit, inputs: &[Vec<bool>]) -> Vec<bool> {
    plain::eval_bits(circuit, inputs).unwrap().concat()
}

fn garbled_three_halves(
    program: &Program,
    inputs: &[Vec<bool>],
    seed: u8,
    buffer: usize,
) -> Vec<bool> {
    let flat: Vec<bool> = inputs.iter().flatten().copied().collect();
    let mut prg = Prg::from_seed([seed; 16]);
    run_in_memory_with(program, &flat, &mut prg, buffer, Scheme::ThreeHalves).unwrap()
}

#[test]
fn every_kit_circuit_decodes_to_the_cleartext_result() {
    let Some(shared) = shared_dir() else { return };
    let mut checked = 0;
    for sub in ["bristol/fashion", "bristol/format"] {
        for entry in std::fs::read_dir(shared.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "txt") {
                continue;
            }
            let Ok(parsed) = bristol::parse_file(&path, FormatChoice::Auto, &Limits::default())
            else {
                continue; // the kit's *-test.txt files are vectors, not circuits
            };
            let circuit = parsed.circuit;
            let program = compile(&circuit).unwrap();
            for seed in 0..2u8 {
                let inputs = random_inputs(&circuit, u64::from(seed) + 40);
                assert_eq!(
                    garbled_three_halves(&program, &inputs, seed, 1000),
                    cleartext(&circuit, &inputs),
                    "{}",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} circuits");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_circuits_decode_to_the_cleartext_result(seed in any::<u64>(), gates in 1usize..600, outputs in 1usize..20, buffer in 1usize..700) {
        let circuit = random_circuit(seed, 1 + (seed % 3) as usize, gates, outputs);
        let program = compile(&circuit).unwrap();
        let inputs = random_inputs(&circuit, seed ^ 0x77);
        prop_assert_eq!(
            garbled_three_halves(&program, &inputs, seed as u8, buffer),
            cleartext(&circuit, &inputs)
        );
    }
}

/// The random bits the garbler draws from a generator seeded with `seed`, gate by gate.
fn bits_of(seed: [u8; 16], gates: usize) -> Vec<u8> {
    let mut prg = Prg::from_seed(seed);
    let words: Vec<u128> = (0..gates.div_ceil(64))
        .map(|_| prg.block().value())
        .collect();
    (0..gates)
        .map(|k| ((words[k / 64] >> (2 * (k % 64))) & 3) as u8)
        .collect()
}

fn unpack(tables: &[Block], gates: usize) -> Vec<Tables> {
    (0..gates)
        .map(|w| three_halves::get(tables, gates, w))
        .collect()
}

#[test]
fn batched_tables_equal_the_reference_on_every_backend() {
    let mut circuits = vec![
        random_circuit(11, 3, 3000, 40),
        random_circuit(12, 2, 700, 9),
    ];
    circuits.push(garbled::circuit::builder::aes128_circuit());
    for circuit in &circuits {
        let program = compile(circuit).unwrap();
        let (delta, zero) = zero_labels(&program, 6);
        let inputs = random_inputs(circuit, 5);
        let active: Vec<ActiveLabel> = zero
            .iter()
            .zip(inputs.concat())
            .map(|(z, b)| z.encode(b, &delta))
            .collect();
        let base = TweakBase {
            nonce: 0xabc,
            first: 77,
        };
        let seed = [8u8; 16];
        let bits = bits_of(seed, program.and_count());
        let (ref_tables, ref_out) =
            reference::garble_three_halves(&program, &delta, &zero, base, |k| bits[k]);
        let ref_active = reference::evaluate_three_halves(&program, &ref_tables, &active, base);
        let want = cleartext(circuit, &inputs);
        for ((z, a), &bit) in ref_out.iter().zip(&ref_active).zip(&want) {
            assert_eq!(a.0, z.encode(bit, &delta).0, "the reference decodes");
        }
        for backend in Backend::ALL.into_iter().filter(|b| b.supported()) {
            let aes = Aes::fixed_with_backend(backend).unwrap();
            let mut g = Garbler::new(&program, delta.clone(), &zero, base)
                .unwrap()
                .with_aes(&aes)
                .with_scheme(Scheme::ThreeHalves, Prg::from_seed(seed));
            let mut e = Evaluator::new(&program, &active, base)
                .unwrap()
                .with_aes(&aes)
                .with_scheme(Scheme::ThreeHalves);
            // One piece for the whole program, so that the packing is one run of gates.
            let mut buf = vec![Block::ZERO; three_halves::blocks_for(program.and_count())];
            let n = g.garble(&mut buf);
            assert!(g.is_done());
            assert_eq!(n, buf.len());
            assert_eq!(e.evaluate(&buf[..n]), n);
            e.evaluate(&[]);
            assert!(e.is_done());
            assert!(
                unpack(&buf, program.and_count()) == ref_tables,
                "{backend}: batched tables differ from the reference"
            );
            assert_eq!(g.output_zero_labels(), ref_out, "{backend}");
            assert_eq!(e.output_labels().unwrap(), ref_active, "{backend}");
        }
    }
}

#[test]
fn a_flipped_table_bit_changes_the_output_label() {
    let circuit = random_circuit(21, 2, 400, 24);
    let program = compile(&circuit).unwrap();
    assert!(program.and_count() > 4);
    let delta = Delta::new(Block::new(0x1234_5678_9abc_def1));
    let zero: Vec<ZeroLabel> = (0..program.input_count())
        .map(|i| ZeroLabel(Block::new((i as u128 + 3) * 0x9e37_79b9_7f4a_7c15)))
        .collect();
    let active: Vec<ActiveLabel> = zero.iter().map(|z| z.encode(true, &delta)).collect();
    let base = TweakBase { nonce: 4, first: 0 };
    let (tables, out) =
        reference::garble_three_halves(&program, &delta, &zero, base, |k| k as u8 & 3);
    let valid = |l: &ActiveLabel, z: &ZeroLabel| l.0 == z.0 || l.0 == z.0 ^ delta.block();
    let honest = reference::evaluate_three_halves(&program, &tables, &active, base);
    assert!(honest.iter().zip(&out).all(|(l, z)| valid(l, z)));
    let last = tables.len() - 1;
    // A bit of each ciphertext and each control bit of the last gate, one at a time.
    // (ciphertext index or 3 + control bit index): one bit each.
    let flips: Vec<usize> = (0..8).collect();
    let flip = |t: &mut Tables, which: usize| {
        if which < 3 {
            t.g[which] ^= 1 << 40;
        } else {
            t.z ^= 1 << (which - 3);
        }
    };
    let mut changed = 0;
    for &which in &flips {
        let mut bad = tables.clone();
        flip(&mut bad[last], which);
        let got = reference::evaluate_three_halves(&program, &bad, &active, base);
        if got != honest {
            changed += 1;
            assert!(
                got.iter().zip(&out).any(|(l, z)| !valid(l, z)),
                "a changed output label must be invalid, not the other value's label"
            );
        }
    }
    // Flipping G0 or G1 or the control bits of the evaluator's colours always matters; some
    // flips are inert for the colours this input takes (i = 0 ignores G0), never all.
    assert!(
        changed >= 3,
        "{changed} of {} flips changed the output",
        flips.len()
    );
}

#[test]
fn three_halves_sends_fewer_bytes_and_agrees_with_half_gates() {
    let args = [
        "run",
        "circuits/aes128.txt",
        "--input",
        "0x000102030405060708090a0b0c0d0e0f",
        "--input",
        "0x00112233445566778899aabbccddeeff",
        "--json",
        "--insecure",
    ];
    let run = |scheme: &str| -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend_from_slice(&["--scheme", scheme]);
        let o = garbled(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let half = run("half-gates");
    let three = run("three-halves");
    assert_eq!(half["outputs"], three["outputs"]);
    assert_eq!(
        three["outputs"][0], "0x69c4e0d86a7b0430d8cdb78070b4c55a",
        "FIPS-197 C.1"
    );
    assert_eq!(three["stats"]["scheme"], "three-halves");
    let sent = |v: &serde_json::Value| v["stats"]["bytes_sent"].as_u64().unwrap();
    // 6400 AND gates: 32 bytes each against 24.625 (both runs carry the same OT traffic; the
    // hello names the scheme, two characters longer).
    let hello = ("three-halves".len() - "half-gates".len()) as u64;
    assert_eq!(
        sent(&half) - sent(&three),
        6400 * 32 - 6400 * 197 / 8 - hello
    );
}

/// A three-halves session extends its evaluator-input OTs with SoftSpoken at width 8: the
/// evaluator sends 2 bytes per OT where a half-gates session's IKNP sends 16, after 4 KiB of
/// tree corrections and a longer check answer. Both sessions compute the same outputs.
#[test]
fn three_halves_sessions_send_two_bytes_per_input_ot() {
    use garbled::circuit::builder::Builder;
    use garbled::protocol::{Party, Reveal};
    const WIDE: u32 = 8192;
    let circuit = {
        let mut b = Builder::new();
        let g = b.input("g", 16);
        let e = b.input("e", WIDE);
        let low = b.and_bits(&g, &e[..16]);
        let high = b.and_bits(&g, &e[WIDE as usize - 16..]);
        let out = b.xor_bits(&low, &high);
        b.output("out", &out);
        b.finish().unwrap()
    };
    let program = compile(&circuit).unwrap();
    let inputs = random_inputs(&circuit, 9);
    let expected = plain::eval_bits(&circuit, &inputs).unwrap();
    let owners = [Party::Garbler, Party::Evaluator];
    let reveal = [Reveal::Both];
    let evaluator_sent = |scheme: Scheme| {
        let ((g_out, _), (e_out, e_stats)) =
            run_over_tcp_with(&program, &owners, &reveal, &inputs, |o| {
                o.with_scheme(scheme)
            })
            .unwrap();
        assert_eq!(g_out, vec![Some(expected[0].clone())], "{scheme}");
        assert_eq!(e_out, g_out, "{scheme}");
        e_stats.bytes_sent
    };
    let (half, three) = (
        evaluator_sent(Scheme::HalfGates),
        evaluator_sent(Scheme::ThreeHalves),
    );
    // 8192 OTs (plus the check's extra rows): at least 14 bytes saved on each, less the 4 KiB
    // of trees and the 129-block answer.
    let saved = half
        .checked_sub(three)
        .unwrap_or_else(|| panic!("three-halves sent more: {three} against {half} bytes"));
    assert!(
        saved >= 14 * u64::from(WIDE) - 4096 - 129 * 16,
        "saved {saved} bytes"
    );
    assert!(saved <= 14 * (u64::from(WIDE) + 256), "saved {saved} bytes");
}

#[test]
fn two_processes_run_it_and_a_mixed_pair_is_refused() {
    let circuit = "circuits/aes128.txt";
    let pair = |g_scheme: &str, e_scheme: &str| {
        let listen = format!("127.0.0.1:{}", free_port());
        let g = spawn(&[
            "run",
            circuit,
            "--role",
            "garbler",
            "--listen",
            &listen,
            "--insecure",
            "--input",
            "0x000102030405060708090a0b0c0d0e0f",
            "--scheme",
            g_scheme,
            "--timeout",
            "10",
        ]);
        let e = garbled(&[
            "run",
            circuit,
            "--role",
            "evaluator",
            "--connect",
            &listen,
            "--insecure",
            "--input",
            "0x00112233445566778899aabbccddeeff",
            "--scheme",
            e_scheme,
            "--timeout",
            "10",
        ]);
        (g.wait_with_output().unwrap(), e)
    };
    let (g, e) = pair("three-halves", "three-halves");
    assert!(g.status.success(), "{}", stderr(&g));
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(stdout(&e).trim(), "0x69c4e0d86a7b0430d8cdb78070b4c55a");
    assert_eq!(stdout(&g), stdout(&e));
    let (g, e) = pair("half-gates", "three-halves");
    for (who, o) in [("garbler", &g), ("evaluator", &e)] {
        assert_eq!(o.status.code(), Some(1), "{who}: {}", stderr(o));
        assert!(
            stderr(o).contains("garbling scheme differs")
                && stderr(o).contains("three-halves")
                && stderr(o).contains("--scheme"),
            "{who}: {}",
            stderr(o)
        );
    }
}

#[test]
fn compare_takes_the_scheme_too() {
    let o = garbled(&[
        "compare",
        "--value",
        "-5",
        "--value",
        "3",
        "--signed",
        "--scheme",
        "three-halves",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "less");
    let bad = garbled(&[
        "compare",
        "--value",
        "1",
        "--value",
        "2",
        "--scheme",
        "quarter-gates",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Wide AND batches split across threads give the one-thread tables bit for bit, and the
/// evaluator on threads decodes them.
#[test]
fn wide_batches_on_threads_give_the_same_tables() {
    let circuit = garbled::circuit::library::generate("mulfull", 128, 2).unwrap();
    let program = compile(&circuit).unwrap();
    let widest = program
        .in_memory()
        .unwrap()
        .steps()
        .iter()
        .map(|s| s.ands)
        .max()
        .unwrap();
    assert!(
        widest as usize >= garbled::garble::PARALLEL_MIN,
        "widest batch {widest}"
    );
    let (delta, zero) = zero_labels(&program, 12);
    let inputs = random_inputs(&circuit, 2);
    let active: Vec<ActiveLabel> = zero
        .iter()
        .zip(inputs.concat())
        .map(|(z, b)| z.encode(b, &delta))
        .collect();
    let base = TweakBase { nonce: 1, first: 9 };
    let garble = |threads: usize| {
        let mut g = Garbler::new(&program, delta.clone(), &zero, base)
            .unwrap()
            .with_threads(threads)
            .with_scheme(Scheme::ThreeHalves, Prg::from_seed([13; 16]));
        let mut tables = Vec::new();
        let mut buf = vec![Block::ZERO; three_halves::blocks_for(1 << 15)];
        while !g.is_done() {
            let n = g.garble(&mut buf);
            tables.push(buf[..n].to_vec());
        }
        (tables, g.output_zero_labels())
    };
    let (one, out) = garble(1);
    let (three, out3) = garble(3);
    assert!(one == three, "tables differ between 1 and 3 threads");
    assert_eq!(out, out3);
    let mut e = Evaluator::new(&program, &active, base)
        .unwrap()
        .with_threads(2)
        .with_scheme(Scheme::ThreeHalves);
    for piece in &one {
        assert_eq!(e.evaluate(piece), piece.len());
    }
    e.evaluate(&[]);
    let want = cleartext(&circuit, &inputs);
    let got: Vec<bool> = e
        .output_labels()
        .unwrap()
        .iter()
        .zip(&out)
        .map(|(l, z)| l.0 != z.0)
        .collect();
    assert_eq!(got, want);
}

/// Batch jobs (chunks of replicated circuits, shards on threads) give the same answers with
/// either scheme.
#[test]
fn batch_jobs_agree_across_schemes() {
    let dir = std::env::temp_dir().join(format!("garbled-3h-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = 4099u64;
    let a: String = (1..=n)
        .map(|i| format!("{}\n", (i * 7919) % 100_003))
        .collect();
    let b: String = (1..=n)
        .map(|i| format!("{}\n", (i * 104_729) % 100_003))
        .collect();
    let ab: String = a
        .lines()
        .zip(b.lines())
        .map(|(x, y)| format!("{x} {y}\n"))
        .collect();
    let path = |name: &str| dir.join(name).display().to_string();
    std::fs::write(path("a.txt"), &a).unwrap();
    std::fs::write(path("b.txt"), &b).unwrap();
    std::fs::write(path("ab.txt"), &ab).unwrap();
    let add32 = format!("{}/circuits/add32.txt", env!("CARGO_MANIFEST_DIR"));
    let out = |args: &[&str]| {
        let o = garbled(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    for threads in ["1", "2"] {
        let compare = |scheme: &str| {
            out(&[
                "compare",
                "--values",
                &path("a.txt"),
                "--values",
                &path("b.txt"),
                "--threads",
                threads,
                "--scheme",
                scheme,
                "--insecure",
            ])
        };
        let half = compare("half-gates");
        assert_eq!(half.lines().count() as u64, n);
        assert_eq!(
            compare("three-halves"),
            half,
            "compare, {threads} thread(s)"
        );
        let run = |scheme: &str| {
            out(&[
                "run",
                &add32,
                "--inputs",
                &path("ab.txt"),
                "--threads",
                threads,
                "--scheme",
                scheme,
                "--output-format",
                "dec",
                "--insecure",
            ])
        };
        let half = run("half-gates");
        assert_eq!(half.lines().count() as u64, n);
        assert_eq!(
            run("three-halves"),
            half,
            "run --inputs, {threads} thread(s)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The garbler's random bits (the random part of the dicing matrices) reach the tables: the
/// same labels under two generators give different control bits, and both decode.
#[test]
fn the_random_bits_reach_the_tables() {
    let circuit = random_circuit(31, 2, 400, 8);
    let program = compile(&circuit).unwrap();
    let delta = Delta::new(Block::new(0x0123_4567_89ab_cdef_0011_2233_4455_6677));
    let zero: Vec<ZeroLabel> = (0..program.input_count())
        .map(|i| ZeroLabel(Block::new((i as u128 + 1) * 0x9e37_79b9_7f4a_7c15_f39c)))
        .collect();
    let base = TweakBase { nonce: 7, first: 0 };
    let garble = |seed: u8| {
        let mut g = Garbler::new(&program, delta.clone(), &zero, base)
            .unwrap()
            .with_scheme(Scheme::ThreeHalves, Prg::from_seed([seed; 16]));
        let mut buf = vec![Block::ZERO; three_halves::blocks_for(program.and_count())];
        let n = g.garble(&mut buf);
        assert_eq!(n, buf.len());
        (unpack(&buf, program.and_count()), g.output_zero_labels())
    };
    let (a, out_a) = garble(1);
    let (b, out_b) = garble(2);
    let differing = a.iter().zip(&b).filter(|(x, y)| x.z != y.z).count();
    assert!(
        differing * 4 > a.len(),
        "{differing} of {} gates differ",
        a.len()
    );
    let inputs = random_inputs(&circuit, 4);
    let active: Vec<ActiveLabel> = zero
        .iter()
        .zip(inputs.concat())
        .map(|(z, b)| z.encode(b, &delta))
        .collect();
    for (tables, out) in [(&a, &out_a), (&b, &out_b)] {
        let got = reference::evaluate_three_halves(&program, tables, &active, base);
        let bits: Vec<bool> = got.iter().zip(out).map(|(l, z)| l.0 != z.0).collect();
        assert_eq!(bits, cleartext(&circuit, &inputs));
    }
}
