//! The command-line contract of `garbled info` and `garbled eval`, run as a user runs them.

mod common;

use std::process::{Command, Output};

use common::*;

fn garbled(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_garbled"))
        .args(args)
        .output()
        .expect("run garbled")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A file in a fresh temporary directory.
fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("garbled-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

const TINY: &str = "3 7\n2 2 1\n1 1\n\n2 1 0 2 4 AND\n2 1 4 1 5 XOR\n1 1 5 6 INV\n";

#[test]
fn eval_prints_one_padded_hex_line_per_group() {
    let path = temp_file("tiny.txt", TINY);
    let p = path.to_str().unwrap();
    // Groups: a = wires 0,1; b = wire 2. out = NOT((a0 AND b) XOR a1).
    // a = 3, b = 1: (1 AND 1) XOR 1 = 0, out = 1.
    let o = garbled(&["eval", p, "--input", "3", "--input", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "0x1\n");
    // a = 0b10 (a1 = 1), b = 1: (0 AND 1) XOR 1 = 1, out = 0.
    let o = garbled(&["eval", p, "--input", "0b10", "--input", "0x1", "--json"]);
    assert_eq!(stdout(&o).trim(), r#"{"outputs":["0x0"]}"#);
    // b = 0 leaves out = NOT a1: with lsb0, a = 0b01 has a1 = 0; with msb0 wire 1 is bit 0 = 1.
    let o = garbled(&["eval", p, "--input", "0b01", "--input", "0"]);
    assert_eq!(stdout(&o), "0x1\n");
    let o = garbled(&[
        "eval",
        p,
        "--input",
        "0b01",
        "--input",
        "0",
        "--bit-order",
        "msb0",
    ]);
    assert_eq!(stdout(&o), "0x0\n");
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let path = temp_file("tiny2.txt", TINY);
    let p = path.to_str().unwrap();
    for args in [
        vec!["eval", p, "--input", "1"],
        vec!["eval", p, "--input", "1", "--input", "1", "--input", "1"],
        vec!["eval", p, "--input", "12x", "--input", "1"],
        vec!["eval", p, "--input", "4", "--input", "1"],
        vec!["eval", p, "--input", "-3", "--input", "1"],
        vec!["eval", "/nonexistent/circuit.txt", "--input", "1"],
        vec!["info", "/nonexistent/circuit.txt"],
        vec![
            "eval",
            p,
            "--input",
            "1",
            "--input",
            "1",
            "--bit-order",
            "middle",
        ],
    ] {
        let o = garbled(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
        if !args.contains(&"middle") {
            assert_eq!(stderr(&o).lines().count(), 1, "{args:?}: {}", stderr(&o));
        }
    }
}

#[test]
fn malformed_circuit_exits_1_with_line_and_column() {
    let path = temp_file(
        "bad.txt",
        "3 7\n2 2 1\n1 1\n\n2 1 0 2 4 AND\n2 1 4 6 5 XOR\n1 1 5 6 INV\n",
    );
    let p = path.to_str().unwrap();
    for args in [
        vec!["info", p],
        vec!["eval", p, "--input", "1", "--input", "1"],
    ] {
        let o = garbled(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("{p}:6:7:")), "{err}");
        assert!(err.contains("read before it is assigned"), "{err}");
    }
}

#[test]
fn help_explains_every_command() {
    for args in [
        vec!["--help"],
        vec!["info", "--help"],
        vec!["eval", "--help"],
    ] {
        let o = garbled(&args);
        assert!(o.status.success(), "{args:?}");
        assert!(stdout(&o).contains("Usage"), "{args:?}");
    }
    let o = garbled(&["eval", "--help"]);
    assert!(stdout(&o).contains("--bit-order"));
}

#[test]
fn info_json_reports_the_published_counts() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    for name in [
        "fashion/aes_128",
        "fashion/MAND/sha256",
        "format/AES-non-expanded",
        "fashion/neg64",
    ] {
        let entry = &vectors["circuits"][name];
        let file = dir.join(entry["file"].as_str().unwrap());
        let o = garbled(&["info", file.to_str().unwrap(), "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let got: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let s = &entry["stats"];
        let format = if entry["format"] == "fashion" {
            "fashion"
        } else {
            "bristol"
        };
        assert_eq!(got["format"], format, "{name}");
        assert_eq!(got["gates"], s["gates"], "{name}");
        assert_eq!(got["wires"], s["wires"], "{name}");
        assert_eq!(got["and"], s["AND_total"], "{name}");
        assert_eq!(got["xor"], s["XOR"], "{name}");
        assert_eq!(got["inv"], s["INV"], "{name}");
        assert_eq!(got["inputs"], s["inputs"], "{name}");
        assert_eq!(got["outputs"], s["outputs"], "{name}");
        assert_eq!(got["and_depth"], s["and_depth"], "{name}");
        let human = garbled(&["info", file.to_str().unwrap()]);
        assert!(
            stdout(&human).contains(&format!("{} AND", s["AND_total"])),
            "{name}"
        );
    }
}

/// The first vector of every circuit of the kit, typed on the command line in natural form.
#[test]
fn eval_reproduces_every_circuit_from_natural_values() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    for (name, entry) in vectors["circuits"].as_object().unwrap() {
        let inputs = groups(entry, "inputs");
        let outputs = groups(entry, "outputs");
        let orders: Vec<_> = inputs
            .iter()
            .chain(&outputs)
            .map(|(_, e, _)| order_of(e))
            .collect();
        let Some(Some(order)) = orders.first().copied() else {
            continue;
        };
        if orders.iter().any(|o| *o != Some(order)) {
            continue; // mixed or bit-string encodings cannot be typed with one --bit-order
        }
        let v = &entry["vectors"][0];
        let nat_in = v["natural"]["inputs"].as_object().unwrap();
        let file = dir.join(entry["file"].as_str().unwrap());
        let mut args = vec!["eval".to_string(), file.to_str().unwrap().to_string()];
        for (group, _, _) in &inputs {
            args.push("--input".into());
            args.push(natural_text(&nat_in[group]));
        }
        args.push("--bit-order".into());
        args.push(
            if order == garbled::value::BitOrder::Lsb0 {
                "lsb0"
            } else {
                "msb0"
            }
            .into(),
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = garbled(&refs);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let printed: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
        let expected: Vec<String> = v["bits"]["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| garbled::value::format_value(&bit_string(s.as_str().unwrap()), order))
            .collect();
        assert_eq!(printed, expected, "{name}");
    }
}

#[test]
fn gen_writes_circuits_that_eval_reads() {
    let o = garbled(&["gen", "lt", "--bits", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = temp_file("lt8.txt", &stdout(&o));
    let p = path.to_str().unwrap();
    for (a, b, expected) in [("3", "5", "0x1"), ("5", "3", "0x0"), ("200", "200", "0x0")] {
        let o = garbled(&["eval", p, "--input", a, "--input", b]);
        assert_eq!(stdout(&o), format!("{expected}\n"), "{a} < {b}");
    }
    let out = std::env::temp_dir().join(format!("garbled-cli-{}-aes.txt", std::process::id()));
    let o = garbled(&["gen", "aes128", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = garbled(&[
        "eval",
        out.to_str().unwrap(),
        "--input",
        "0x000102030405060708090a0b0c0d0e0f",
        "--input",
        "0x00112233445566778899aabbccddeeff",
    ]);
    assert_eq!(
        stdout(&o),
        "0x69c4e0d86a7b0430d8cdb78070b4c55a\n",
        "FIPS-197 C.1"
    );
    let o = garbled(&["gen", "sum", "--bits", "16", "--count", "3"]);
    let path = temp_file("sum.txt", &stdout(&o));
    let o = garbled(&[
        "eval",
        path.to_str().unwrap(),
        "--input",
        "1",
        "--input",
        "2",
        "--input",
        "-1",
    ]);
    assert_eq!(stdout(&o), "0x0002\n");
    for args in [
        vec!["gen", "nonsense"],
        vec!["gen", "add", "--bits", "0"],
        vec!["gen", "mul", "--bits", "100000"],
    ] {
        let o = garbled(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o).lines().count(), 1, "{args:?}");
    }
}

#[test]
fn info_optimized_reports_what_run_and_bench_garble() {
    // An AND with the constant 1 folds away: the file has 2 ANDs, the garbled program 1.
    let path = temp_file(
        "folded.txt",
        "3 5\n2 1 1\n1 1\n\n2 1 0 1 2 AND\n1 1 1 3 EQ\n2 1 2 3 4 AND\n",
    );
    let p = path.to_str().unwrap();
    let plain: serde_json::Value =
        serde_json::from_str(&stdout(&garbled(&["info", p, "--json"]))).unwrap();
    let opt: serde_json::Value =
        serde_json::from_str(&stdout(&garbled(&["info", p, "--json", "--optimized"]))).unwrap();
    assert_eq!(plain["and"], 2);
    assert_eq!(plain["eq"], 1);
    assert_eq!(opt["and"], 1);
    assert_eq!(opt["eq"], 0);
    let run: serde_json::Value = serde_json::from_str(&stdout(&garbled(&[
        "run", p, "--input", "1", "--input", "1", "--json",
    ])))
    .unwrap();
    assert_eq!(run["stats"]["and_gates"], opt["and"]);
    let bench: serde_json::Value = serde_json::from_str(&stdout(&garbled(&[
        "bench",
        p,
        "--json",
        "--seconds",
        "0.02",
    ])))
    .unwrap();
    assert_eq!(bench["circuits"][0]["and"], opt["and"]);
    // The same on a larger circuit.
    let aes = circuits("aes128.txt");
    let opt: serde_json::Value =
        serde_json::from_str(&stdout(&garbled(&["info", &aes, "--json", "--optimized"]))).unwrap();
    let run: serde_json::Value = serde_json::from_str(&stdout(&garbled(&[
        "run", &aes, "--input", "1", "--input", "2", "--json",
    ])))
    .unwrap();
    assert_eq!(run["stats"]["and_gates"], opt["and"]);
}

#[test]
fn bench_reports_json_for_given_circuits() {
    let o = garbled(&["gen", "add", "--bits", "16"]);
    let path = temp_file("add16.txt", &stdout(&o));
    let o = garbled(&[
        "bench",
        path.to_str().unwrap(),
        "--json",
        "--seconds",
        "0.05",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["backend"].is_string());
    assert!(v["aes_ns_per_block"].as_f64().unwrap() > 0.0);
    let c = &v["circuits"][0];
    assert_eq!(c["name"], "add16");
    assert_eq!(c["and"], 15);
    assert!(c["garble_ns_per_and"].as_f64().unwrap() > 0.0);
    assert!(c["eval_ns_per_and"].as_f64().unwrap() > 0.0);
}

/// A pair of identities made with `garbled keygen`: the options each side passes for an
/// authenticated two-host run.
struct Keys {
    garbler: Vec<String>,
    evaluator: Vec<String>,
}

fn keygen(name: &str) -> (String, String) {
    let path = temp_file(&format!("{name}.pem"), "");
    std::fs::remove_file(&path).unwrap();
    let o = garbled(&["keygen", "-o", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let fingerprint = stdout(&o).lines().last().unwrap().to_string();
    (path.to_str().unwrap().to_string(), fingerprint)
}

fn keys(name: &str) -> Keys {
    let (g_file, g_fp) = keygen(&format!("{name}-garbler"));
    let (e_file, e_fp) = keygen(&format!("{name}-evaluator"));
    let args =
        |file: String, peer: String| vec!["--identity".to_string(), file, "--peer".into(), peer];
    Keys {
        garbler: args(g_file, e_fp),
        evaluator: args(e_file, g_fp),
    }
}

fn with(args: &[&str], extra: &[String]) -> Vec<String> {
    args.iter()
        .map(|s| s.to_string())
        .chain(extra.iter().cloned())
        .collect()
}

fn spawn_owned(args: &[String]) -> std::process::Child {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn(&args)
}

fn garbled_owned(args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    garbled(&args)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_garbled"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn garbled")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(o), stderr(o)))
}

fn circuits(name: &str) -> String {
    format!("{}/circuits/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn run_locally_prints_like_eval_and_reports_stats() {
    let aes = circuits("aes128.txt");
    let args = [
        "run",
        &aes,
        "--input",
        "0x2b7e151628aed2a6abf7158809cf4f3c",
        "--input",
        "0x3243f6a8885a308d313198a2e0370734",
    ];
    let o = garbled(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "0x3925841d02dc09fbdc118597196a0b32\n");
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let v = json(&garbled(&with_json));
    assert_eq!(v["outputs"][0], "0x3925841d02dc09fbdc118597196a0b32");
    assert_eq!(v["stats"]["and_gates"], 6400);
    assert!(v["stats"]["bytes_sent"].as_u64().unwrap() >= 6400 * 32);
    assert!(v["stats"]["bytes_received"].as_u64().unwrap() > 0);
    assert!(v["stats"]["wall_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn run_with_roles_on_two_processes_in_either_order() {
    let lt = circuits("lt64.txt");
    let keys = keys("roles");
    for evaluator_first in [false, true] {
        let port = free_port().to_string();
        let listen = format!("127.0.0.1:{port}");
        let garbler_args = [
            "run",
            &lt,
            "--role",
            "garbler",
            "--listen",
            &listen,
            "--input",
            "41",
            "--json",
            "--reveal",
            "evaluator",
        ];
        let evaluator_args = [
            "run",
            &lt,
            "--role",
            "evaluator",
            "--connect",
            &listen,
            "--input",
            "99",
            "--json",
            "--reveal",
            "evaluator",
        ];
        let garbler_args = with(&garbler_args, &keys.garbler);
        let evaluator_args = with(&evaluator_args, &keys.evaluator);
        let (g, e) = if evaluator_first {
            let e = spawn_owned(&evaluator_args);
            std::thread::sleep(std::time::Duration::from_millis(200));
            (spawn_owned(&garbler_args), e)
        } else {
            let g = spawn_owned(&garbler_args);
            (g, spawn_owned(&evaluator_args))
        };
        let (g, e) = (g.wait_with_output().unwrap(), e.wait_with_output().unwrap());
        assert!(
            g.status.success() && e.status.success(),
            "{} / {}",
            stderr(&g),
            stderr(&e)
        );
        // Routed to the evaluator only: the garbler prints null.
        assert_eq!(json(&e)["outputs"][0], "0x1");
        assert!(json(&g)["outputs"][0].is_null());
        assert_eq!(json(&g)["stats"]["and_gates"], 64);
    }
}

#[test]
fn three_input_groups_need_owners() {
    let o = garbled(&["gen", "sum", "--bits", "8", "--count", "3"]);
    let path = temp_file("sum3.txt", &stdout(&o));
    let p = path.to_str().unwrap();
    let o = garbled(&["run", p, "--input", "1", "--input", "2", "--input", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--owners"), "{}", stderr(&o));
    let o = garbled(&[
        "run",
        p,
        "--input",
        "1",
        "--input",
        "2",
        "--input",
        "3",
        "--owners",
        "garbler,evaluator,garbler",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "0x06\n");
    // The same over two processes (plaintext, --insecure): the garbler owns groups 1 and 3.
    let listen = format!("127.0.0.1:{}", free_port());
    let owners = "garbler,evaluator,garbler";
    let g = spawn(&[
        "run",
        p,
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--owners",
        owners,
        "--input",
        "10",
        "--input",
        "30",
        "--insecure",
    ]);
    let e = garbled(&[
        "run",
        p,
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--owners",
        owners,
        "--input",
        "20",
        "--insecure",
    ]);
    let g = g.wait_with_output().unwrap();
    assert!(
        g.status.success() && e.status.success(),
        "{} / {}",
        stderr(&g),
        stderr(&e)
    );
    assert_eq!(stdout(&g), "0x3c\n");
    assert_eq!(stdout(&e), "0x3c\n");
    // One warning line each, naming the risk.
    for o in [&g, &e] {
        let text = stderr(o);
        let warnings: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("warning: --insecure"))
            .collect();
        assert_eq!(warnings.len(), 1, "{}", stderr(o));
        assert!(warnings[0].contains("decoding bits"), "{}", warnings[0]);
    }
}

#[test]
fn a_local_run_with_insecure_warns_once_that_outputs_cross_in_clear() {
    let add = circuits("add32.txt");
    for threads in ["1", "2"] {
        let o = garbled(&[
            "run",
            &add,
            "--input",
            "5",
            "--input",
            "7",
            "--insecure",
            "--threads",
            threads,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "0x0000000c\n");
        let text = stderr(&o);
        let warnings: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("warning: --insecure"))
            .collect();
        assert_eq!(warnings.len(), 1, "{text}");
        assert!(warnings[0].contains("decoding bits"), "{text}");
    }
    // Without --insecure, no warning.
    let o = garbled(&["run", &add, "--input", "5", "--input", "7"]);
    assert!(!stderr(&o).contains("--insecure"), "{}", stderr(&o));
}

#[test]
fn different_circuits_are_named_on_both_sides() {
    let listen = format!("127.0.0.1:{}", free_port());
    let (lt, le) = (circuits("lt64.txt"), circuits("le64.txt"));
    let keys = keys("digest");
    let g = spawn_owned(&with(
        &[
            "run", &lt, "--role", "garbler", "--listen", &listen, "--input", "1",
        ],
        &keys.garbler,
    ));
    let e = garbled_owned(&with(
        &[
            "run",
            &le,
            "--role",
            "evaluator",
            "--connect",
            &listen,
            "--input",
            "2",
        ],
        &keys.evaluator,
    ));
    let g = g.wait_with_output().unwrap();
    for o in [&g, &e] {
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(o);
        assert!(
            err.contains("circuit digest differs: ours") && err.contains("peer's"),
            "{err}"
        );
        assert!(err.contains("same circuit file"), "{err}");
    }
}

#[test]
fn a_missing_peer_times_out() {
    let start = std::time::Instant::now();
    let addr = format!("127.0.0.1:{}", free_port());
    let o = garbled(&[
        "run",
        &circuits("lt32.txt"),
        "--role",
        "evaluator",
        "--connect",
        &addr,
        "--input",
        "1",
        "--timeout",
        "1",
        "--insecure",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    let o = garbled(&[
        "run",
        &circuits("lt32.txt"),
        "--role",
        "evaluator",
        "--input",
        "1",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a role without an address is a usage error"
    );
}

#[test]
fn compare_answers_for_single_values_and_files() {
    for (a, b, signed, expected) in [
        ("1000000", "2500000", false, "less"),
        ("7", "7", false, "equal"),
        ("-3", "-5", true, "greater"),
        ("0xff", "254", false, "greater"),
    ] {
        let mut args = vec!["compare", "--value", a, "--value", b];
        if signed {
            args.push("--signed");
        }
        let o = garbled(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), format!("{expected}\n"), "{a} vs {b}");
    }
    let v = json(&garbled(&[
        "compare", "--value", "5", "--value", "9", "--bits", "8", "--json",
    ]));
    assert_eq!(v["result"], "less");
    assert_eq!(v["stats"]["and_gates"], 15);
    // Rows from files, on two processes.
    let a = temp_file("rows_a.txt", "1\n5\n9\n18446744073709551615\n");
    let b = temp_file("rows_b.txt", "2\n5\n3\n0\n");
    let (g, e) = compare_files_on_two_processes(&a, &b);
    assert!(
        g.status.success() && e.status.success(),
        "{} / {}",
        stderr(&g),
        stderr(&e)
    );
    assert_eq!(stdout(&g), "less\nequal\ngreater\ngreater\n");
    assert_eq!(stdout(&e), stdout(&g));
    // Usage errors.
    for args in [
        vec!["compare", "--value", "1"],
        vec!["compare", "--value", "-1", "--value", "2"],
        vec!["compare", "--value", "300", "--value", "2", "--bits", "8"],
        vec![
            "compare",
            "--values",
            "/nonexistent",
            "--values",
            "/nonexistent",
        ],
    ] {
        let o = garbled(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

/// `garbled compare --values` with the garbler (listening) and the evaluator in two processes.
fn compare_files_on_two_processes(a: &std::path::Path, b: &std::path::Path) -> (Output, Output) {
    let listen = format!("127.0.0.1:{}", free_port());
    let values = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let keys = keys(&format!("compare-{}", free_port()));
    let g = spawn_owned(&with(
        &[
            "compare",
            "--role",
            "garbler",
            "--listen",
            &listen,
            "--values",
            &values(a),
        ],
        &keys.garbler,
    ));
    let e = garbled_owned(&with(
        &[
            "compare",
            "--role",
            "evaluator",
            "--connect",
            &listen,
            "--values",
            &values(b),
        ],
        &keys.evaluator,
    ));
    (g.wait_with_output().unwrap(), e)
}

#[test]
fn compare_files_with_different_row_counts_is_named() {
    let a = temp_file("rows_c.txt", "1\n2\n3\n");
    let b = temp_file("rows_d.txt", "1\n2\n");
    let (g, e) = compare_files_on_two_processes(&a, &b);
    assert_eq!(g.status.code(), Some(1));
    // Named on both sides before any session starts (the batch agreement compares row counts).
    assert_eq!(e.status.code(), Some(1));
    assert!(
        stderr(&e).contains("row count differs: ours 2, peer's 3"),
        "{}",
        stderr(&e)
    );
    assert!(
        stderr(&g).contains("row count differs: ours 3, peer's 2"),
        "{}",
        stderr(&g)
    );
}

#[test]
fn demo_runs_with_no_arguments() {
    let o = garbled(&["demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("0x3925841d02dc09fbdc118597196a0b32"), "{out}");
    assert!(out.contains("2541"), "{out}");
    assert!(out.contains("less"), "{out}");
    let v = json(&garbled(&["demo", "--json"]));
    assert_eq!(v["aes128"]["fips197"], true);
    assert_eq!(v["hospitals"]["total"], 2541);
}

#[test]
fn garbled_aes_selects_the_backend() {
    let o = garbled(&["gen", "add", "--bits", "8"]);
    let path = temp_file("add8.txt", &stdout(&o));
    let p = path.to_str().unwrap();
    let run = |backend: &str| {
        Command::new(env!("CARGO_BIN_EXE_garbled"))
            .args(["bench", p, "--json", "--seconds", "0.02"])
            .env("GARBLED_AES", backend)
            .output()
            .unwrap()
    };
    let o = run("portable");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["backend"], "portable");
    let o = run("bogus");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("GARBLED_AES") || stderr(&o).contains("bogus"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn info_names_the_well_known_circuits() {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(circuits(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    if let Some(dir) = shared_dir() {
        for sub in ["bristol/fashion", "bristol/fashion/MAND", "bristol/format"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if name.ends_with(".txt") && !name.ends_with("-test.txt") {
                    files.push(path);
                }
            }
        }
    }
    assert!(files.len() >= 20);
    for path in files {
        let p = path.to_str().unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&stdout(&garbled(&["info", p, "--json"]))).unwrap();
        let known = &v["known"];
        assert!(known.is_object(), "{p} is not recognised: {v}");
        // The old-format crypto circuits (and the Fashion copy of the old AES) are MSB first.
        let old_crypto = p.contains("/format/")
            && !p.contains("adder")
            && !p.contains("comparator")
            && !p.contains("mult");
        let msb0 = old_crypto || p.contains("AES-non-expanded");
        let want = if msb0 { "msb0" } else { "lsb0" };
        assert!(
            known["bit_order"].as_str().unwrap().starts_with(want),
            "{p}: {known}"
        );
    }
    // An unknown circuit says nothing of the kind.
    let tiny = temp_file("tiny-unknown.txt", TINY);
    let v: serde_json::Value = serde_json::from_str(&stdout(&garbled(&[
        "info",
        tiny.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert!(v["known"].is_null());
}
