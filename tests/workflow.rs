//! The researcher's workflow through the binary: batch runs of any circuit (`run --inputs`),
//! output formats, the bit order in the handshake, per-group output, statistics, and each defect
//! of the workflow report, run as it was reported.

mod common;
use common::{free_port, garbled, spawn, stderr, stdout};

use std::io::Write;
use std::process::{Command, Output, Stdio};

use garbled::circuit::{FormatChoice, Limits, bristol, plain};
use garbled::value::{self, BitOrder, OutputFormat};

fn garbled_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_garbled"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn temp(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("garbled-workflow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

fn circuit(name: &str) -> String {
    format!("{}/circuits/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A deterministic stream of numbers for test rows.
fn numbers(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    })
}

/// The cleartext answer of `path` on one row of decimal values, formatted as `format`.
fn expected(path: &str, row: &[u64], format: OutputFormat) -> String {
    let parsed = bristol::parse_file(
        std::path::Path::new(path),
        FormatChoice::Auto,
        &Limits::default(),
    )
    .unwrap();
    let c = &parsed.circuit;
    let inputs: Vec<Vec<bool>> = row
        .iter()
        .zip(c.input_widths())
        .map(|(v, w)| value::parse_value(&v.to_string(), w, BitOrder::Lsb0).unwrap())
        .collect();
    plain::eval_bits(c, &inputs)
        .unwrap()
        .iter()
        .map(|bits| value::format_value_as(bits, BitOrder::Lsb0, format))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn batch_runs_match_cleartext_locally() {
    for (name, mask) in [
        ("add32.txt", 0xffff_ffffu64),
        ("mul32.txt", 0xffff_ffff),
        ("compare64.txt", u64::MAX),
        ("lt32.txt", 0xffff_ffff),
    ] {
        let path = circuit(name);
        let mut values = numbers(name.len() as u64 * 7919);
        let rows: Vec<[u64; 2]> = (0..25)
            .map(|_| [values.next().unwrap() & mask, values.next().unwrap() & mask])
            .collect();
        // Separators: spaces, commas, a comment and a blank line.
        let mut text = String::from("# a comment line\n");
        for (i, r) in rows.iter().enumerate() {
            let sep = if i % 2 == 0 { " " } else { ", " };
            text.push_str(&format!("{}{sep}{}  # row {i}\n\n", r[0], r[1]));
        }
        let file = temp(&format!("rows-{name}"), &text);
        let o = garbled(&["run", &path, "--inputs", &file, "--output-format", "dec"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let want: Vec<String> = rows
            .iter()
            .map(|r| expected(&path, r, OutputFormat::Dec))
            .collect();
        let got: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
        assert_eq!(got, want, "{name}");
        // One session: the statistics count every row's AND gates.
        let j: serde_json::Value = serde_json::from_str(&stdout(&garbled(&[
            "run", &path, "--inputs", &file, "--json",
        ])))
        .unwrap();
        assert_eq!(j["rows"].as_array().unwrap().len(), rows.len());
        let info: serde_json::Value =
            serde_json::from_str(&stdout(&garbled(&["info", &path, "--optimized", "--json"])))
                .unwrap();
        assert_eq!(
            j["stats"]["and_gates"].as_u64().unwrap(),
            info["and"].as_u64().unwrap() * rows.len() as u64
        );
    }
}

#[test]
fn ten_thousand_rows_in_one_session() {
    let path = circuit("add32.txt");
    let mut values = numbers(42);
    let rows: Vec<[u64; 2]> = (0..10_000)
        .map(|_| {
            [
                values.next().unwrap() & 0xffff_ffff,
                values.next().unwrap() & 0xffff_ffff,
            ]
        })
        .collect();
    let text: String = rows
        .iter()
        .map(|r| format!("{} {}\n", r[0], r[1]))
        .collect();
    let file = temp("rows-10000.txt", &text);
    let o = garbled(&["run", &path, "--inputs", &file, "--output-format", "dec"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<u64> = stdout(&o).lines().map(|l| l.parse().unwrap()).collect();
    let want: Vec<u64> = rows.iter().map(|r| (r[0] + r[1]) & 0xffff_ffff).collect();
    assert_eq!(got, want);
}

#[test]
fn batch_runs_on_two_processes() {
    let path = circuit("compare32.txt");
    let mut values = numbers(5);
    let rows: Vec<[u64; 2]> = (0..50)
        .map(|i| {
            let a = values.next().unwrap() & 0xffff_ffff;
            // Every fifth row equal, to see all three answers.
            let b = if i % 5 == 0 {
                a
            } else {
                values.next().unwrap() & 0xffff_ffff
            };
            [a, b]
        })
        .collect();
    let mine: String = rows.iter().map(|r| format!("{}\n", r[0])).collect();
    let theirs: String = rows.iter().map(|r| format!("{}\n", r[1])).collect();
    let (a, b) = (temp("mine.txt", &mine), temp("theirs.txt", &theirs));
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "run",
        &path,
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--inputs",
        &a,
        "--reveal",
        "both,evaluator",
    ]);
    let e = garbled(&[
        "run",
        &path,
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--insecure",
        "--inputs",
        &b,
        "--reveal",
        "both,evaluator",
    ]);
    let g = g.wait_with_output().unwrap();
    assert!(
        g.status.success() && e.status.success(),
        "{} / {}",
        stderr(&g),
        stderr(&e)
    );
    let want: Vec<String> = rows
        .iter()
        .map(|r| expected(&path, r, OutputFormat::Hex))
        .collect();
    assert_eq!(stdout(&e).lines().collect::<Vec<_>>(), want);
    // The garbler learns the first group only: the second prints as "-".
    let garbler_want: Vec<String> = want
        .iter()
        .map(|line| format!("{} -", line.split(' ').next().unwrap()))
        .collect();
    assert_eq!(stdout(&g).lines().collect::<Vec<_>>(), garbler_want);
    // Different row counts are a named mismatch on both sides.
    let short = temp("short.txt", "1\n2\n");
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "run",
        &path,
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--inputs",
        &a,
    ]);
    let e = garbled(&[
        "run",
        &path,
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--insecure",
        "--inputs",
        &short,
    ]);
    let g = g.wait_with_output().unwrap();
    for o in [&g, &e] {
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(o).contains("row count differs"), "{}", stderr(o));
        assert!(stdout(o).is_empty(), "partial output: {}", stdout(o));
    }
}

#[test]
fn output_formats_for_run_and_eval() {
    let path = circuit("add32.txt");
    for (format, want) in [
        ("hex", "0xfffffffe"),
        ("dec", "4294967294"),
        ("signed", "-2"),
        ("bin", "0b11111111111111111111111111111110"),
    ] {
        for cmd in ["run", "eval"] {
            let o = garbled(&[
                cmd,
                &path,
                "--input",
                "-1",
                "--input",
                "-1",
                "--output-format",
                format,
            ]);
            assert!(o.status.success(), "{cmd} {format}: {}", stderr(&o));
            assert_eq!(stdout(&o), format!("{want}\n"), "{cmd} {format}");
        }
    }
    let o = garbled(&[
        "eval",
        &path,
        "--input",
        "1",
        "--input",
        "1",
        "--output-format",
        "oct",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn different_bit_orders_are_refused_on_both_sides() {
    let path = circuit("lt32.txt");
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "run",
        &path,
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--input",
        "1",
        "--bit-order",
        "msb0",
    ]);
    let e = garbled(&[
        "run",
        &path,
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--insecure",
        "--input",
        "2",
    ]);
    let g = g.wait_with_output().unwrap();
    for (o, ours, theirs) in [(&g, "msb0", "lsb0"), (&e, "lsb0", "msb0")] {
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(o);
        assert!(
            err.contains(&format!(
                "bit order differs: ours '{ours}', peer's '{theirs}'"
            )),
            "{err}"
        );
    }
}

#[test]
fn every_output_group_gets_a_line() {
    let path = circuit("compare32.txt");
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "run",
        &path,
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--input",
        "1",
        "--reveal",
        "evaluator,both",
    ]);
    let e = garbled(&[
        "run",
        &path,
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--insecure",
        "--input",
        "2",
        "--reveal",
        "evaluator,both",
    ]);
    let g = g.wait_with_output().unwrap();
    assert!(g.status.success() && e.status.success());
    assert_eq!(stdout(&e), "0x1\n0x0\n");
    assert_eq!(stdout(&g), "- (revealed to the evaluator only)\n0x0\n");
    // JSON keeps the same order with null.
    let listen = format!("127.0.0.1:{}", free_port());
    let g = spawn(&[
        "run",
        &path,
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--input",
        "1",
        "--reveal",
        "evaluator",
        "--json",
    ]);
    let _ = garbled(&[
        "run",
        &path,
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--insecure",
        "--input",
        "2",
        "--reveal",
        "evaluator",
    ]);
    let g = g.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout(&g)).unwrap();
    assert_eq!(v["outputs"], serde_json::json!([null, null]));
}

#[test]
fn statistics_name_the_party_the_phases_and_memory() {
    let o = garbled(&[
        "run",
        &circuit("aes128.txt"),
        "--input",
        "1",
        "--input",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let s = &v["stats"];
    assert_eq!(s["party"], "both");
    for key in [
        "load_ms",
        "compile_ms",
        "connect_ms",
        "handshake_ms",
        "ot_ms",
        "gates_ms",
        "outputs_ms",
    ] {
        assert!(s["phases"][key].as_f64().is_some(), "{key}: {s}");
    }
    assert!(s["phases"]["gates_ms"].as_f64().unwrap() > 0.0);
    assert!(s["peak_rss_bytes"].as_u64().unwrap() > 1 << 20);
    // The command's wall time covers the session and more.
    assert!(s["wall_ms"].as_f64().unwrap() >= s["session_ms"].as_f64().unwrap());
    assert_eq!(s["and_gates"], 6400);
    assert_eq!(s["scheme"], "half-gates");
    assert_eq!(s["program"]["source"], "memory");
    // The human summary on stderr has the same facts and no OT claim where none ran.
    let o = garbled(&[
        "run",
        &circuit("aes128.txt"),
        "--input",
        "1",
        "--input",
        "2",
    ]);
    let err = stderr(&o);
    assert!(
        err.contains("both (local run, half-gates, semi-honest, tls)")
            && err.contains("6400 AND gates"),
        "{err}"
    );
    assert!(!err.contains("incl. base OT"), "{err}");
}

#[test]
fn the_reported_defects_are_fixed() {
    // 1. --signed rejects out-of-range decimals, naming the range.
    for args in [
        vec![
            "compare",
            "--signed",
            "--value",
            "9223372036854775808",
            "--value",
            "0",
        ],
        vec![
            "compare", "--bits", "8", "--signed", "--value", "200", "--value", "5",
        ],
    ] {
        let o = garbled(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains("signed"), "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    let file = temp("signed.txt", "1\n200\n");
    let o = garbled(&[
        "compare", "--bits", "8", "--signed", "--values", &file, "--values", &file,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    // 2. No padding rows: 4097 rows garble exactly 4097 x (2B - 1) AND gates.
    let rows: String = (0..4097).map(|i| format!("{i}\n")).collect();
    let file = temp("rows4097.txt", &rows);
    let o = garbled(&[
        "compare", "--bits", "16", "--values", &file, "--values", &file, "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["stats"]["and_gates"], 4097 * 31);
    assert_eq!(v["results"].as_array().unwrap().len(), 4097);
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r == "equal")
    );
    // 4. info --optimized is covered in tests/cli.rs; 5. bench without AND gates.
    let xor_only = temp("xor.txt", "1 3\n2 1 1\n1 1\n\n2 1 0 1 2 XOR\n");
    let o = garbled(&["bench", &xor_only, "--json", "--seconds", "0.02"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["circuits"][0]["garble_ns_per_and"].is_null());
    assert!(
        v["circuits"][0]["note"]
            .as_str()
            .unwrap()
            .contains("no AND gates")
    );
    // 6. --timeout 0 explains the range; `help --help` works; no "1 AND gates".
    let o = garbled(&["compare", "--value", "1", "--value", "2", "--timeout", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("above 0"), "{}", stderr(&o));
    let o = garbled(&["help", "--help"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Usage"));
    let one_and = temp("and1.txt", "1 3\n2 1 1\n1 1\n\n2 1 0 1 2 AND\n");
    let o = garbled(&["run", &one_and, "--input", "1", "--input", "1"]);
    assert!(stderr(&o).contains("1 AND gate ("), "{}", stderr(&o));
    let o = garbled(&[
        "eval",
        &circuit("add32.txt"),
        "--input",
        "0",
        "--input",
        "1",
    ]);
    assert!(o.status.success());
    let o = garbled(&["compare", "--bits", "8", "--value", "300", "--value", "1"]);
    assert!(!stderr(&o).contains("a 8-bit"), "{}", stderr(&o));
    // 7. A directory is a usage error naming the path; a closed pipe is not an error; gen
    // refuses options that do not apply; limit errors name the file.
    let dir = std::env::temp_dir();
    let o = garbled(&["info", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(dir.to_str().unwrap()), "{}", stderr(&o));
    let mut child = Command::new(env!("CARGO_BIN_EXE_garbled"))
        .args(["gen", "sha256"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    for args in [
        vec!["gen", "aes128", "--bits", "7"],
        vec!["gen", "add", "--count", "3"],
    ] {
        let o = garbled(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    let aes = circuit("aes128.txt");
    let o = garbled(&["info", &aes, "--max-wires", "10"]);
    assert!(stderr(&o).contains("aes128.txt"), "{}", stderr(&o));
    // 13. `-` reads standard input, `--format old` is accepted, MAND lines are counted.
    let text = std::fs::read(circuit("add32.txt")).unwrap();
    let o = garbled_stdin(&["info", "-", "--json"], &text);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["mand"], 0);
    let old = temp("old.txt", "1 3\n1 1 1\n\n2 1 0 1 2 AND\n");
    for format in ["old", "bristol"] {
        let o = garbled(&["info", &old, "--format", format, "--json"]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
    }
    let mand = temp("mand.txt", "1 6\n2 2 2\n1 2\n\n4 2 0 1 2 3 4 5 MAND\n");
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&garbled(&["info", &mand, "--json"]))).unwrap();
    assert_eq!(v["mand"], 1);
    assert_eq!(v["and"], 2);
}
