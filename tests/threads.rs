//! Batch jobs on several threads: `compare --values` and `run --inputs` print the same for any
//! `--threads`, locally and between two processes (which agree on the smaller thread count), and
//! a peer that opens too few connections, announces a shard that does not exist, or goes away
//! mid-job gets a named error with nothing printed as if complete.

mod common;
use common::{free_port, garbled, spawn, stderr, stdout, zero_labels};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn temp(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("garbled-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

fn add32() -> String {
    format!("{}/circuits/add32.txt", env!("CARGO_MANIFEST_DIR"))
}

/// Row files of `n` rows for both parties, and the two-column file of a local run.
fn files(n: u64) -> (String, String, String) {
    let a: Vec<u64> = (1..=n).map(|i| (i * 7919) % 100_003).collect();
    let b: Vec<u64> = (1..=n).map(|i| (i * 104_729) % 100_003).collect();
    let join = |v: &[u64]| v.iter().map(|x| format!("{x}\n")).collect::<String>();
    let both: String = a
        .iter()
        .zip(&b)
        .map(|(x, y)| format!("{x} {y}\n"))
        .collect();
    (
        temp(&format!("a{n}.txt"), &join(&a)),
        temp(&format!("b{n}.txt"), &join(&b)),
        temp(&format!("ab{n}.txt"), &both),
    )
}

#[test]
fn the_same_output_for_any_thread_count_locally() {
    for n in [1u64, 2, 4097, 10_001] {
        let (a, b, ab) = files(n);
        let mut compare_outputs = Vec::new();
        let mut run_outputs = Vec::new();
        for threads in ["1", "2", "3"] {
            let o = garbled(&[
                "compare",
                "--bits",
                "20",
                "--values",
                &a,
                "--values",
                &b,
                "--threads",
                threads,
            ]);
            assert!(o.status.success(), "{n} rows, {threads}: {}", stderr(&o));
            assert_eq!(stdout(&o).lines().count() as u64, n);
            compare_outputs.push(stdout(&o));
            let o = garbled(&[
                "run",
                &add32(),
                "--inputs",
                &ab,
                "--threads",
                threads,
                "--output-format",
                "dec",
            ]);
            assert!(o.status.success(), "{n} rows, {threads}: {}", stderr(&o));
            run_outputs.push(stdout(&o));
        }
        assert!(compare_outputs.windows(2).all(|w| w[0] == w[1]), "{n} rows");
        assert!(run_outputs.windows(2).all(|w| w[0] == w[1]), "{n} rows");
        // And the sums are right.
        let text = std::fs::read_to_string(&ab).unwrap();
        let want: Vec<String> = text
            .lines()
            .map(|l| {
                let v: Vec<u64> = l.split(' ').map(|x| x.parse().unwrap()).collect();
                (v[0] + v[1]).to_string()
            })
            .collect();
        assert_eq!(run_outputs[0].lines().collect::<Vec<_>>(), want);
    }
}

#[test]
fn two_processes_agree_on_the_smaller_thread_count() {
    for n in [1u64, 2, 4097, 10_001] {
        let (a, b, _) = files(n);
        let local = garbled(&["compare", "--bits", "20", "--values", &a, "--values", &b]);
        for (g_threads, e_threads) in [("1", "3"), ("3", "2"), ("2", "2")] {
            let listen = format!("127.0.0.1:{}", free_port());
            let g = spawn(&[
                "compare",
                "--bits",
                "20",
                "--role",
                "garbler",
                "--listen",
                &listen,
                "--insecure",
                "--values",
                &a,
                "--threads",
                g_threads,
            ]);
            let e = garbled(&[
                "compare",
                "--bits",
                "20",
                "--role",
                "evaluator",
                "--connect",
                &listen,
                "--insecure",
                "--values",
                &b,
                "--threads",
                e_threads,
            ]);
            let g = g.wait_with_output().unwrap();
            assert!(
                g.status.success() && e.status.success(),
                "{} / {}",
                stderr(&g),
                stderr(&e)
            );
            assert_eq!(
                stdout(&g),
                stdout(&local),
                "{n} rows, {g_threads}/{e_threads}"
            );
            assert_eq!(stdout(&e), stdout(&local));
            // run --inputs the same way.
            let listen = format!("127.0.0.1:{}", free_port());
            let g = spawn(&[
                "run",
                &add32(),
                "--role",
                "garbler",
                "--listen",
                &listen,
                "--insecure",
                "--inputs",
                &a,
                "--threads",
                g_threads,
                "--output-format",
                "dec",
            ]);
            let e = garbled(&[
                "run",
                &add32(),
                "--role",
                "evaluator",
                "--connect",
                &listen,
                "--insecure",
                "--inputs",
                &b,
                "--threads",
                e_threads,
                "--output-format",
                "dec",
            ]);
            let g = g.wait_with_output().unwrap();
            assert!(
                g.status.success() && e.status.success(),
                "{} / {}",
                stderr(&g),
                stderr(&e)
            );
            assert_eq!(stdout(&g), stdout(&e));
            assert_eq!(stdout(&g).lines().count() as u64, n);
        }
    }
}

/// Plays a peer that agrees on `threads` shards over the first connection, then does
/// `then` with the address.
fn fake_peer(addr: &str, rows: u64, threads: u32, then: impl FnOnce(&str)) {
    let mut first = loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let mut hello = b"GARBATCH".to_vec();
    hello.extend_from_slice(&threads.to_le_bytes());
    hello.extend_from_slice(&rows.to_le_bytes());
    first.write_all(&hello).unwrap();
    let mut theirs = [0u8; 20];
    first.read_exact(&mut theirs).unwrap();
    then(addr);
    drop(first);
}

#[test]
fn too_few_connections_or_a_wrong_shard_is_a_named_error() {
    let (a, _, _) = files(10);
    // The peer agrees on 2 shards but never opens the second connection.
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "compare",
        "--bits",
        "20",
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--values",
        &a,
        "--threads",
        "2",
        "--timeout",
        "2",
    ]);
    fake_peer(&listen, 10, 2, |_| {
        std::thread::sleep(Duration::from_secs(3))
    });
    let g = g.wait_with_output().unwrap();
    assert_eq!(g.status.code(), Some(1));
    assert!(
        stderr(&g).contains("fewer connections than the 2 agreed"),
        "{}",
        stderr(&g)
    );
    assert!(stdout(&g).is_empty());
    // The peer announces a shard that does not exist.
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "compare",
        "--bits",
        "20",
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--values",
        &a,
        "--threads",
        "2",
        "--timeout",
        "5",
    ]);
    fake_peer(&listen, 10, 2, |addr| {
        let mut extra = TcpStream::connect(addr).unwrap();
        let mut hello = b"GARSHARD".to_vec();
        hello.extend_from_slice(&7u32.to_le_bytes());
        extra.write_all(&hello).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    });
    let g = g.wait_with_output().unwrap();
    assert_eq!(g.status.code(), Some(1));
    assert!(stderr(&g).contains("announced shard 8"), "{}", stderr(&g));
    assert!(stdout(&g).is_empty());
    // Different row counts are named on the honest side.
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "compare",
        "--bits",
        "20",
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--values",
        &a,
        "--threads",
        "2",
    ]);
    fake_peer(&listen, 11, 2, |_| {});
    let g = g.wait_with_output().unwrap();
    assert_eq!(g.status.code(), Some(1));
    assert!(
        stderr(&g).contains("row count differs: ours 10, peer's 11"),
        "{}",
        stderr(&g)
    );
}

#[test]
fn a_peer_that_goes_away_mid_job_leaves_no_output() {
    // Big enough to be interrupted: 200,000 rows of 64-bit comparisons.
    let rows: String = (0..200_000u64).map(|i| format!("{}\n", i * 31)).collect();
    let a = temp("big.txt", &rows);
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "compare",
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--values",
        &a,
        "--threads",
        "2",
    ]);
    let mut e = spawn(&[
        "compare",
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--insecure",
        "--values",
        &a,
        "--threads",
        "2",
    ]);
    std::thread::sleep(Duration::from_millis(700));
    let _ = e.kill();
    let _ = e.wait();
    let g = g.wait_with_output().unwrap();
    assert_eq!(g.status.code(), Some(1), "{}", stderr(&g));
    assert!(
        stdout(&g).is_empty(),
        "partial output: {} bytes",
        g.stdout.len()
    );
    assert!(stderr(&g).contains("peer"), "{}", stderr(&g));
}

#[test]
fn bench_reports_the_parallel_figures() {
    let o = garbled(&["bench", "--threads", "2", "--json", "--seconds", "0.05"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let p = &v["parallel"];
    assert_eq!(p["threads"], 2);
    assert!(p["garble_speedup"].as_f64().unwrap() > 0.0, "{p}");
    assert!(p["eval_speedup"].as_f64().unwrap() > 0.0, "{p}");
    let o = garbled(&["bench", "--threads", "0", "--seconds", "0.05"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn wide_batches_split_across_threads_give_the_same_tables() {
    use garbled::block::Block;
    use garbled::circuit::{library, plain};
    use garbled::compile::compile;
    use garbled::garble::{Evaluator, Garbler, PARALLEL_MIN, TweakBase};
    let circuit = library::generate("mulfull", 128, 2).unwrap();
    let program = compile(&circuit).unwrap();
    let widest = program
        .in_memory()
        .unwrap()
        .steps()
        .iter()
        .map(|s| s.ands)
        .max()
        .unwrap() as usize;
    assert!(widest >= PARALLEL_MIN, "no batch wide enough: {widest}");
    let (delta, zero) = zero_labels(&program, 3);
    let tweaks = TweakBase { nonce: 9, first: 0 };
    let garble = |threads: usize| {
        let mut tables = vec![Block::ZERO; 2 * program.and_count()];
        let mut g = Garbler::new(&program, delta.clone(), &zero, tweaks)
            .unwrap()
            .with_threads(threads);
        // In pieces smaller than a batch too, as a session's 1 MiB chunks cut them.
        let mut at = 0;
        while !g.is_done() {
            let end = (at + 2 * 3000).min(tables.len());
            at += g.garble(&mut tables[at..end]);
        }
        (tables, g.decoding_bits().unwrap())
    };
    let (reference, decoding) = garble(1);
    for threads in [2, 3] {
        let (tables, d) = garble(threads);
        assert!(
            tables == reference,
            "{threads} threads garbled other tables"
        );
        assert_eq!(d, decoding);
    }
    // Evaluation on 2 threads decodes to the cleartext result.
    let bits: Vec<bool> = (0..program.input_count()).map(|i| i % 3 == 1).collect();
    let active: Vec<_> = zero
        .iter()
        .zip(&bits)
        .map(|(z, &b)| z.encode(b, &delta))
        .collect();
    let mut e = Evaluator::new(&program, &active, tweaks)
        .unwrap()
        .with_threads(2);
    e.evaluate(&reference);
    let got: Vec<bool> = e
        .output_labels()
        .unwrap()
        .iter()
        .zip(&decoding)
        .map(|(l, d)| l.0.lsb() ^ d)
        .collect();
    let groups = plain::split_groups(&circuit.input_widths(), &bits);
    let want: Vec<bool> = plain::eval_bits(&circuit, &groups)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(got, want);
}
