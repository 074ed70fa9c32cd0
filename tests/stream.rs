//! Streaming compilation: the program compiled through spool files is the in-memory compiler's
//! program (same digest, slots and counts) on every circuit of the kit and on random circuits,
//! garbles to the cleartext result, survives a round trip through a compiled file, and fails
//! exactly where the in-memory parser fails.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use garbled::aes::Prg;
use garbled::circuit::{Circuit, FormatChoice, Limits, bristol, plain};
use garbled::compile::stream::{compile_bristol, load_compiled, write_compiled};
use garbled::compile::{Program, compile};
use garbled::garble::{TweakBase, reference, run_in_memory};
use garbled::spool::SpoolDir;
use proptest::prelude::*;

fn streamed(text: &[u8]) -> garbled::Result<Program> {
    let spool = SpoolDir::new(None)?;
    compile_bristol(text, FormatChoice::Auto, &Limits::default(), &spool).map(|(p, _)| p)
}

fn garbled_eval(program: &Program, inputs: &[Vec<bool>], seed: u8) -> Vec<bool> {
    let flat: Vec<bool> = inputs.iter().flatten().copied().collect();
    let mut prg = Prg::from_seed([seed; 16]);
    run_in_memory(program, &flat, &mut prg, 1000).unwrap()
}

/// Streamed and in-memory compilation agree, and the streamed program computes the circuit.
fn check_same(name: &str, text: &[u8], circuit: &Circuit) {
    let memory = compile(circuit).unwrap();
    let stream = streamed(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(stream.is_streamed());
    assert_eq!(stream.digest_hex(), memory.digest_hex(), "{name}: digest");
    assert_eq!(stream.num_slots(), memory.num_slots(), "{name}: slots");
    assert_eq!(stream.counts(), memory.counts(), "{name}: counts");
    assert_eq!(stream.and_count(), memory.and_count(), "{name}");
    assert_eq!(stream.output_slots(), memory.output_slots(), "{name}");
    for seed in 0..2u64 {
        let inputs = random_inputs(circuit, seed);
        let want: Vec<bool> = plain::eval_bits(circuit, &inputs).unwrap().concat();
        assert_eq!(garbled_eval(&stream, &inputs, seed as u8), want, "{name}");
    }
}

fn kit_files(shared: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in ["bristol/fashion", "bristol/format"] {
        for entry in std::fs::read_dir(shared.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "txt") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_kit_circuit_streams_to_the_same_program() {
    let Some(shared) = shared_dir() else { return };
    let files = kit_files(&shared);
    let mut checked = 0;
    for path in files {
        let text = std::fs::read(&path).unwrap();
        let name = path.display().to_string();
        // The kit's *-test.txt files are test vectors, not circuits.
        let Ok(parsed) = bristol::parse_file(&path, FormatChoice::Auto, &Limits::default()) else {
            assert!(name.ends_with("-test.txt"), "{name} does not parse");
            continue;
        };
        check_same(&name, &text, &parsed.circuit);
        checked += 1;
    }
    assert!(checked >= 30, "{checked} kit circuits");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_circuits_stream_to_the_same_program(seed in any::<u64>(), gates in 1usize..3000, outputs in 1usize..40) {
        let circuit = random_circuit(seed, 1 + (seed % 3) as usize, gates, outputs);
        // The file's own numbering is what both compilers read.
        let text = bristol::to_fashion_string(&circuit);
        let parsed = bristol::parse_str(&text, FormatChoice::Auto).unwrap().circuit;
        check_same("random", text.as_bytes(), &parsed);
    }
}

/// Several scheduling windows, wide batches and long-lived wires: the window logic and the
/// liveness passes at a size the random circuits do not reach.
#[test]
fn many_windows_stream_to_the_same_program() {
    let circuit = garbled::circuit::library::aes128_many(12).unwrap();
    let text = bristol::to_fashion_string(&circuit);
    let parsed = bristol::parse_str(&text, FormatChoice::Auto)
        .unwrap()
        .circuit;
    assert!(parsed.gates().len() > 3 * garbled::compile::WINDOW);
    check_same("aes128 x12", text.as_bytes(), &parsed);
}

#[test]
fn tables_of_a_streamed_program_equal_the_reference() {
    let circuit = garbled::circuit::library::aes128_many(3).unwrap();
    let text = bristol::to_fashion_string(&circuit);
    let memory = compile(
        &bristol::parse_str(&text, FormatChoice::Auto)
            .unwrap()
            .circuit,
    )
    .unwrap();
    let stream = streamed(text.as_bytes()).unwrap();
    let mut prg = Prg::from_seed([9; 16]);
    let delta = garbled::block::Delta::new(prg.block());
    let mut zero = vec![garbled::block::Block::ZERO; memory.input_count()];
    prg.fill(&mut zero);
    let zero: Vec<_> = zero.into_iter().map(garbled::block::ZeroLabel).collect();
    let base = TweakBase { nonce: 5, first: 0 };
    let (want, _) = reference::garble(&memory, &delta, &zero, base);
    let mut g = garbled::garble::Garbler::new(&stream, delta.clone(), &zero, base).unwrap();
    let mut got = vec![garbled::block::Block::ZERO; want.len()];
    let mut at = 0;
    while !g.is_done() {
        at += g.garble(&mut got[at..(at + 2 * 777).min(want.len())]);
    }
    g.check().unwrap();
    assert_eq!(at, want.len());
    assert!(got == want, "streamed tables differ from the reference");
}

#[test]
fn compiled_files_round_trip_and_refuse_damage() {
    let circuit = garbled::circuit::library::aes128_many(2).unwrap();
    let text = bristol::to_fashion_string(&circuit);
    let parsed = bristol::parse_str(&text, FormatChoice::Auto)
        .unwrap()
        .circuit;
    let memory = compile(&parsed).unwrap();
    let stream = streamed(text.as_bytes()).unwrap();
    let dir = std::env::temp_dir().join(format!("garbled-stream-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = random_inputs(&parsed, 3);
    let want: Vec<bool> = plain::eval_bits(&parsed, &inputs).unwrap().concat();
    for (name, program) in [("memory", &memory), ("stream", &stream)] {
        let path = dir.join(format!("{name}.gcp"));
        let mut f = std::fs::File::create(&path).unwrap();
        write_compiled(program, &mut f).unwrap();
        drop(f);
        let loaded = load_compiled(&path).unwrap();
        assert_eq!(loaded.digest_hex(), memory.digest_hex(), "{name}");
        assert_eq!(loaded.counts(), memory.counts(), "{name}");
        assert_eq!(garbled_eval(&loaded, &inputs, 1), want, "{name}");
    }
    // Any byte changed is refused with a typed error, never a panic.
    let good = std::fs::read(dir.join("memory.gcp")).unwrap();
    let bad = dir.join("bad.gcp");
    for at in [0, 9, 20, 60, good.len() / 2, good.len() - 1] {
        let mut damaged = good.clone();
        damaged[at] ^= 0x40;
        std::fs::write(&bad, &damaged).unwrap();
        let err = load_compiled(&bad).expect_err("a damaged file must be refused");
        assert!(
            matches!(err, garbled::Error::InvalidCircuit(_)),
            "byte {at}: {err}"
        );
    }
    std::fs::write(&bad, &good[..good.len() - 5]).unwrap();
    assert!(load_compiled(&bad).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every malformed file of the kit fails in the streaming compiler with the in-memory parser's
/// error (same line, column and message).
#[test]
fn malformed_files_fail_at_the_same_place() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("bristol/conformance");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let mut rejected = 0;
    for case in cases["cases"].as_array().unwrap() {
        if case["expect"] != "reject" {
            continue;
        }
        let file = case["file"].as_str().unwrap();
        let text = std::fs::read(dir.join(file)).unwrap();
        let memory = bristol::parse(&text[..], FormatChoice::Auto, &Limits::default())
            .expect_err(file)
            .to_string();
        let stream = streamed(&text).expect_err(file).to_string();
        assert_eq!(stream, memory, "{file}");
        rejected += 1;
    }
    assert!(rejected >= 10);
}

/// An error in the last line of a long file is found there, with its line number.
#[test]
fn an_error_at_the_end_of_a_long_file_names_its_line() {
    let circuit = garbled::circuit::library::aes128_many(4).unwrap();
    let mut text = bristol::to_fashion_string(&circuit);
    let lines = text.lines().count();
    text = text.trim_end().to_string();
    let cut = text.rfind('\n').unwrap();
    text.truncate(cut);
    text.push_str("\n2 1 0 1 999999999 XOR\n");
    let err = streamed(text.as_bytes()).expect_err("bad wire").to_string();
    assert!(err.starts_with(&format!("{lines}:9: ")), "{err}");
    let memory = bristol::parse_str(&text, FormatChoice::Auto)
        .expect_err("bad wire")
        .to_string();
    assert_eq!(err, memory);
}
