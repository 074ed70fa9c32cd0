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

/// Programs of more than 2^16 slots (XOR gates stored with 32-bit slots) and fewer (16-bit)
/// stream to the in-memory program, survive a compiled file and compute the circuit.
#[test]
fn wide_and_narrow_programs_stream_alike() {
    let dir = std::env::temp_dir().join(format!("garbled-wide-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for bits in [1000u32, 33_000] {
        let circuit = all_inputs_live(bits);
        let text = bristol::to_fashion_string(&circuit);
        check_same(&format!("{bits} bits"), text.as_bytes(), &circuit);
        let stream = streamed(text.as_bytes()).unwrap();
        let path = dir.join(format!("{bits}.gcp"));
        let mut f = std::fs::File::create(&path).unwrap();
        write_compiled(&stream, &mut f).unwrap();
        drop(f);
        let loaded = load_compiled(&path).unwrap();
        assert_eq!(loaded.digest_hex(), stream.digest_hex(), "{bits} bits");
        let inputs = random_inputs(&circuit, 5);
        let want: Vec<bool> = plain::eval_bits(&circuit, &inputs).unwrap().concat();
        assert_eq!(garbled_eval(&loaded, &inputs, 2), want, "{bits} bits");
    }
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

// ---- The command line: gen --count, run --stream, compile, spool hygiene, memory. ----

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "garbled-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, file: &str) -> String {
        self.0.join(file).display().to_string()
    }
    fn entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const KEY: &str = "0x000102030405060708090a0b0c0d0e0f";
const PLAIN: &str = "0x00112233445566778899aabbccddeeff";

#[test]
fn the_aes_chain_is_the_xor_of_its_copies() {
    let mut text = Vec::new();
    let stats = garbled::circuit::library::write_aes128_chain(5, &mut text).unwrap();
    let chain = bristol::parse(&text[..], FormatChoice::Fashion, &Limits::default()).unwrap();
    assert_eq!(chain.circuit.gates().len() as u64, stats.gates);
    assert_eq!(chain.circuit.stats().and as u64, stats.and);
    let aes = garbled::circuit::builder::aes128_circuit();
    let inputs = random_inputs(&chain.circuit, 11);
    let mut want = vec![false; 128];
    for i in 0..5u64 {
        let mut plain_i = inputs[1].clone();
        for (j, bit) in plain_i.iter_mut().enumerate().take(64) {
            *bit ^= i >> j & 1 == 1;
        }
        let c = plain::eval_bits(&aes, &[inputs[0].clone(), plain_i]).unwrap();
        for (w, c) in want.iter_mut().zip(&c[0]) {
            *w ^= *c;
        }
    }
    assert_eq!(plain::eval_bits(&chain.circuit, &inputs).unwrap()[0], want);
}

#[test]
fn run_streamed_compiled_and_in_memory_agree() {
    let dir = Scratch::new("stream-run");
    let circuit = dir.path("chain.txt");
    let o = garbled(&["gen", "aes128", "--count", "3", "-o", &circuit]);
    assert!(o.status.success(), "{}", stderr(&o));
    let eval = garbled(&["eval", &circuit, "--input", KEY, "--input", PLAIN]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let want = stdout(&eval);
    let spool = dir.path("spool");
    std::fs::create_dir(&spool).unwrap();
    let run = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["run", "--input", KEY, "--input", PLAIN, "--json"];
        args.extend_from_slice(extra);
        let o = garbled(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let memory = run(&[&circuit, "--stream", "never"]);
    let stream = run(&[&circuit, "--stream", "always", "--spool-dir", &spool]);
    assert_eq!(memory["outputs"], stream["outputs"]);
    assert_eq!(
        memory["outputs"][0].as_str().unwrap(),
        want.trim(),
        "garbled equals cleartext"
    );
    assert_eq!(memory["stats"]["program"]["source"], "memory");
    assert_eq!(stream["stats"]["program"]["source"], "stream");
    assert!(
        stream["stats"]["program"]["spool_peak_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        std::fs::read_dir(&spool).unwrap().next().is_none(),
        "spool left behind"
    );

    // compile once, run the program file; its digest is the circuit's.
    let program = dir.path("chain.gcp");
    let o = garbled(&["compile", &circuit, "-o", &program, "--stream", "always"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info = stdout(&garbled(&["info", &circuit]));
    let digest = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("digest ").map(str::to_string))
        .expect("compile prints the digest");
    assert!(info.contains(&digest), "{info} lacks {digest}");
    let compiled = run(&[&program]);
    assert_eq!(compiled["outputs"], memory["outputs"]);
    // `info` describes a program file; commands that need the circuit say so.
    let described = garbled(&["info", &program, "--json"]);
    assert!(described.status.success(), "{}", stderr(&described));
    let described: serde_json::Value = serde_json::from_str(&stdout(&described)).unwrap();
    assert_eq!(described["digest"].as_str(), Some(digest.as_str()));
    assert_eq!(described["format"], "program");
    assert_eq!(described["and"], 3 * 6400);
    let refused = garbled(&["eval", &program, "--input", KEY, "--input", PLAIN]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("garbled compile"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(compiled["stats"]["program"]["source"], "compiled");
    // An existing file is not replaced without --force.
    let again = garbled(&["compile", &circuit, "-o", &program]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("--force"));
    let forced = garbled(&["compile", &circuit, "-o", &program, "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
}

#[test]
fn two_hosts_may_stream_on_one_side_only() {
    let dir = Scratch::new("stream-two");
    let circuit = dir.path("chain.txt");
    assert!(
        garbled(&["gen", "aes128", "--count", "2", "-o", &circuit])
            .status
            .success()
    );
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let g = spawn(&[
        "run",
        &circuit,
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--input",
        KEY,
        "--stream",
        "always",
    ]);
    let e = garbled(&[
        "run",
        &circuit,
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--insecure",
        "--input",
        PLAIN,
        "--stream",
        "never",
    ]);
    let g = g.wait_with_output().unwrap();
    assert!(g.status.success(), "{}", stderr(&g));
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(stdout(&g), stdout(&e));
    let eval = garbled(&["eval", &circuit, "--input", KEY, "--input", PLAIN]);
    assert_eq!(stdout(&e), stdout(&eval));
}

#[test]
fn a_malformed_file_fails_with_its_position_and_leaves_no_spool() {
    let dir = Scratch::new("stream-bad");
    let mut text = Vec::new();
    garbled::circuit::library::write_aes128_chain(2, &mut text).unwrap();
    let mut text = String::from_utf8(text).unwrap();
    let lines = text.lines().count();
    text.truncate(text.trim_end().rfind('\n').unwrap());
    text.push_str("\n2 1 0 1 77 XOR\n");
    let circuit = dir.path("bad.txt");
    std::fs::write(&circuit, &text).unwrap();
    let spool = dir.path("spool");
    std::fs::create_dir(&spool).unwrap();
    let o = garbled(&[
        "run",
        &circuit,
        "--input",
        KEY,
        "--input",
        PLAIN,
        "--stream",
        "always",
        "--spool-dir",
        &spool,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("bad.txt:{lines}:")),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read_dir(&spool).unwrap().next().is_none());
    let missing = garbled(&[
        "run",
        &circuit,
        "--stream",
        "always",
        "--spool-dir",
        &dir.path("nowhere"),
    ]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
}

/// The spool files exist only as open descriptors: the directory is empty while the compiler
/// works, and stays empty after Ctrl-C.
#[cfg(target_os = "linux")]
#[test]
fn the_spool_is_gone_after_an_interrupt() {
    let dir = Scratch::new("stream-int");
    let circuit = dir.path("chain.txt");
    assert!(
        garbled(&["gen", "aes128", "--count", "150", "-o", &circuit])
            .status
            .success()
    );
    let spool = dir.path("spool");
    std::fs::create_dir(&spool).unwrap();
    let child = spawn(&[
        "run",
        &circuit,
        "--input",
        KEY,
        "--input",
        PLAIN,
        "--stream",
        "always",
        "--spool-dir",
        &spool,
    ]);
    // Wait until the child holds a spool file (a deleted file in the spool directory).
    let fds = format!("/proc/{}/fd", child.id());
    let start = std::time::Instant::now();
    let mut seen = false;
    while start.elapsed() < std::time::Duration::from_secs(20) && !seen {
        if let Ok(entries) = std::fs::read_dir(&fds) {
            seen = entries
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .any(|t| {
                    let t = t.display().to_string();
                    t.starts_with(&spool) && t.ends_with("(deleted)")
                });
        }
        assert!(
            std::fs::read_dir(&spool).unwrap().next().is_none(),
            "a spool file has a name"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(seen, "the run never held a spool file");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "the interrupted run must not succeed"
    );
    assert!(std::fs::read_dir(&spool).unwrap().next().is_none());
    let mut left = dir.entries();
    left.sort();
    assert_eq!(left, ["chain.txt", "spool"]);
}

/// A circuit file several times larger than the run's whole peak memory: the memory follows
/// the circuit's width, not its length.
#[cfg(target_os = "linux")]
#[test]
fn a_file_larger_than_the_memory_it_runs_in() {
    let dir = Scratch::new("stream-rss");
    let circuit = dir.path("chain.txt");
    assert!(
        garbled(&["gen", "aes128", "--count", "120", "-o", &circuit])
            .status
            .success()
    );
    let size = std::fs::metadata(&circuit).unwrap().len();
    let o = garbled(&[
        "run", &circuit, "--input", KEY, "--input", PLAIN, "--json", "--stream", "always",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let rss = json["stats"]["peak_rss_bytes"].as_u64().unwrap();
    assert!(
        rss * 3 < size,
        "peak memory {rss} bytes for a {size}-byte circuit file (both parties in one process)"
    );
    assert_eq!(json["stats"]["and_gates"], 120 * 6400);
}

/// `info` through the streaming parser: the same counts as in memory, and with `--optimized`
/// the same program digest, without the gate list.
#[test]
fn info_streams_long_files() {
    let dir = Scratch::new("stream-info");
    let circuit = dir.path("chain.txt");
    assert!(
        garbled(&["gen", "aes128", "--count", "3", "-o", &circuit])
            .status
            .success()
    );
    let info = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["info", circuit.as_str(), "--json"];
        args.extend_from_slice(extra);
        let o = garbled(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let memory = info(&["--stream", "never"]);
    let streamed = info(&["--stream", "always"]);
    for key in [
        "gates", "wires", "and", "xor", "inv", "eq", "eqw", "mand", "inputs", "outputs",
    ] {
        assert_eq!(streamed[key], memory[key], "{key}");
    }
    assert!(streamed["and_depth"].is_null() && streamed["digest"].is_null());
    assert_eq!(memory["and"], 3 * 6400);
    let memory = info(&["--optimized", "--stream", "never"]);
    let streamed = info(&["--optimized", "--stream", "always"]);
    assert_eq!(streamed, memory);
    assert!(memory["digest"].as_str().is_some_and(|d| d.len() == 64));
}

/// Batch jobs over a streamed or compiled program (one run per row, shards on threads) give the
/// in-memory answers.
#[test]
fn batch_rows_run_over_streamed_and_compiled_programs() {
    let dir = Scratch::new("stream-batch");
    let rows = dir.path("rows.txt");
    let text: String = (0..37u64)
        .map(|i| format!("{} {}\n", i * 977, i * 31 + 5))
        .collect();
    std::fs::write(&rows, text).unwrap();
    let add32 = format!("{}/circuits/add32.txt", env!("CARGO_MANIFEST_DIR"));
    let program = dir.path("add32.gcp");
    assert!(
        garbled(&["compile", &add32, "-o", &program])
            .status
            .success()
    );
    let out = |circuit: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            circuit,
            "--inputs",
            rows.as_str(),
            "--output-format",
            "dec",
        ];
        args.extend_from_slice(extra);
        let o = garbled(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        stdout(&o)
    };
    let want = out(&add32, &["--stream", "never"]);
    assert_eq!(want.lines().count(), 37);
    assert_eq!(want.lines().nth(3), Some("3029")); // 3 * 977 + 3 * 31 + 5
    assert_eq!(out(&add32, &["--stream", "always"]), want);
    assert_eq!(out(&add32, &["--stream", "always", "--threads", "2"]), want);
    assert_eq!(out(&program, &["--threads", "3"]), want);
}

/// A program file whose slot count is larger than its gates use is refused before anything is
/// allocated for it, even with a digest recomputed to match.
#[test]
fn an_inflated_slot_count_is_refused() {
    let dir = Scratch::new("stream-slots");
    let circuit = garbled::circuit::library::aes128_many(1).unwrap();
    let program = compile(&circuit).unwrap();
    let mut bytes = Vec::new();
    write_compiled(&program, &mut bytes).unwrap();
    // Layout: magic (8), version (4), reserved (4), digest (32), then the canonical encoding,
    // whose first list is the slot count (a u64 length of 1, then the u32).
    assert_eq!(
        u32::from_le_bytes(bytes[56..60].try_into().unwrap()),
        program.num_slots()
    );
    bytes[56..60].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut h = blake3::Hasher::new();
    h.update(b"garbled program v1");
    h.update(&bytes[48..]);
    bytes[16..48].copy_from_slice(h.finalize().as_bytes());
    let path = dir.path("inflated.gcp");
    std::fs::write(&path, &bytes).unwrap();
    match load_compiled(std::path::Path::new(&path)) {
        Err(garbled::Error::InvalidCircuit(m)) => assert!(m.contains("label slots"), "{m}"),
        other => panic!(
            "an inflated slot count was accepted: {:?}",
            other.map(|_| ())
        ),
    }
    // The untouched file loads.
    let good = dir.path("good.gcp");
    let mut f = std::fs::File::create(&good).unwrap();
    write_compiled(&program, &mut f).unwrap();
    drop(f);
    assert_eq!(
        load_compiled(std::path::Path::new(&good))
            .unwrap()
            .num_slots(),
        program.num_slots()
    );
}
