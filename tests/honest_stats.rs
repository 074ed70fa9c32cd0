//! Statistics and messages people act on: phases that add up to the wall time (shards
//! included), the transport, scheme and security in every summary, a rate that means something
//! in both security modes, errors that name the flag to change, and a JSON object on stdout for
//! an error under --json.

mod common;

use common::{garbled, spawn, stderr, stdout};
use serde_json::Value;

fn circuit(name: &str) -> String {
    format!("{}/circuits/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("garbled-stats-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Rows of two 128-bit values (AES-128 key and block), made from a counter.
fn aes_rows(n: usize) -> (String, String, String) {
    let mut both = String::new();
    let (mut keys, mut blocks) = (String::new(), String::new());
    for i in 0..n {
        let k = format!(
            "0x{:032x}",
            (i as u128 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        );
        let b = format!(
            "0x{:032x}",
            (i as u128 + 7).wrapping_mul(0xd6e8_feb8_6659_fd93_3f4a_7c15_9e37_79b9)
        );
        both.push_str(&format!("{k} {b}\n"));
        keys.push_str(&format!("{k}\n"));
        blocks.push_str(&format!("{b}\n"));
    }
    (both, keys, blocks)
}

/// The phases of a `--json` stats object against its wall time.
fn phases_against_wall(stats: &Value) -> (f64, f64) {
    let wall = stats["wall_ms"].as_f64().unwrap();
    let sum: f64 = stats["phases"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    (sum, wall)
}

fn assert_adds_up(stats: &Value, what: &str) {
    let (sum, wall) = phases_against_wall(stats);
    assert!(
        (sum - wall).abs() <= 0.10 * wall,
        "{what}: phases add up to {sum:.1} ms of {wall:.1} ms wall: {stats}"
    );
}

#[test]
fn phases_add_up_to_the_wall_time_for_one_and_two_threads_local_and_two_hosts() {
    let dir = temp_dir("phases");
    let (both, keys, blocks) = aes_rows(300);
    let rows = dir.join("rows.txt");
    let (g_rows, e_rows) = (dir.join("keys.txt"), dir.join("blocks.txt"));
    std::fs::write(&rows, both).unwrap();
    std::fs::write(&g_rows, keys).unwrap();
    std::fs::write(&e_rows, blocks).unwrap();
    let aes = circuit("aes128.txt");
    for threads in ["1", "2"] {
        let o = garbled(&[
            "run",
            &aes,
            "--inputs",
            rows.to_str().unwrap(),
            "--threads",
            threads,
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_adds_up(&v["stats"], &format!("local, {threads} thread(s)"));
        assert_eq!(v["stats"]["transport"], "tls");
    }
    // Two hosts over TLS.
    let (ga, gb) = (dir.join("a.pem"), dir.join("b.pem"));
    let fp = |path: &std::path::Path| {
        let o = garbled(&["keygen", "-o", path.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = format!("{}{}", stdout(&o), stderr(&o));
        text.split_whitespace()
            .find(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()))
            .unwrap()
            .to_string()
    };
    let (fa, fb) = (fp(&ga), fp(&gb));
    for threads in ["1", "2"] {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let garbler = spawn(&[
            "run",
            &aes,
            "--role",
            "garbler",
            "--listen",
            &listen,
            "--identity",
            ga.to_str().unwrap(),
            "--peer",
            &fb,
            "--inputs",
            g_rows.to_str().unwrap(),
            "--threads",
            threads,
            "--json",
        ]);
        let e = garbled(&[
            "run",
            &aes,
            "--role",
            "evaluator",
            "--connect",
            &listen,
            "--identity",
            gb.to_str().unwrap(),
            "--peer",
            &fa,
            "--inputs",
            e_rows.to_str().unwrap(),
            "--threads",
            threads,
            "--json",
        ]);
        let g = garbler.wait_with_output().unwrap();
        assert!(
            g.status.success() && e.status.success(),
            "{} / {}",
            stderr(&g),
            stderr(&e)
        );
        for (o, who) in [(&g, "garbler"), (&e, "evaluator")] {
            let v: Value = serde_json::from_str(&stdout(o)).unwrap();
            // The garbler's wall time includes waiting for the evaluator to start: connect.
            assert_adds_up(
                &v["stats"],
                &format!("two hosts, {who}, {threads} thread(s)"),
            );
        }
    }
    // compare, sharded.
    let (va, vb) = (dir.join("va.txt"), dir.join("vb.txt"));
    let values: String = (0..20_000u64)
        .map(|i| format!("{}\n", i * 7919 % 100_003))
        .collect();
    std::fs::write(&va, &values).unwrap();
    std::fs::write(
        &vb,
        values
            .lines()
            .rev()
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    for threads in ["1", "2"] {
        let o = garbled(&[
            "compare",
            "--values",
            va.to_str().unwrap(),
            "--values",
            vb.to_str().unwrap(),
            "--threads",
            threads,
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_adds_up(&v["stats"], &format!("compare, {threads} thread(s)"));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn summaries_name_transport_scheme_and_security_and_a_rate_in_both_modes() {
    let aes = circuit("aes128.txt");
    for (security, transport, extra) in [
        ("semi-honest", "tls", None),
        ("malicious", "tls", None),
        ("semi-honest", "plaintext", Some("--insecure")),
    ] {
        let mut args = vec![
            "run",
            &aes,
            "--input",
            "1",
            "--input",
            "2",
            "--security",
            security,
        ];
        args.extend(extra);
        let o = garbled(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let line = stderr(&o)
            .lines()
            .find(|l| l.contains("AND gates"))
            .unwrap()
            .to_string();
        assert!(
            line.contains(&format!("half-gates, {security}, {transport}")),
            "{line}"
        );
        // A rate with a unit that keeps it away from 0.0: "226 k AND/s", "1.23 M AND/s".
        let rate = line
            .split('(')
            .find(|p| p.contains("AND/s"))
            .unwrap_or_else(|| panic!("no rate in {line}"));
        let number: f64 = rate.split_whitespace().next().unwrap().parse().unwrap();
        assert!(number >= 1.0, "{line}");
        args.push("--json");
        let o = garbled(&args);
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["stats"]["transport"], transport);
        assert_eq!(v["stats"]["security"], security);
        assert_eq!(v["stats"]["scheme"], "half-gates");
    }
    let o = garbled(&["compare", "--value", "3", "--value", "4", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["stats"]["transport"], "tls");
    assert_eq!(v["stats"]["security"], "semi-honest");
    let o = garbled(&["bench", "--seconds", "0.01", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["transport"], "in-process");
    assert_eq!(v["security"], "semi-honest");
    assert_eq!(v["scheme"], "half-gates");
}

#[test]
fn messages_name_what_to_change() {
    // The circuit and the rows cannot both be standard input.
    let o = garbled(&["run", "-", "--inputs", "-"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot both come from standard input"),
        "{}",
        stderr(&o)
    );
    // A forced dialect that does not fit says what the file looks like.
    let o = garbled(&["info", &circuit("add32.txt"), "--format", "old"]);
    assert!(
        stderr(&o).contains("looks like Bristol Fashion"),
        "{}",
        stderr(&o)
    );
    // The usage line of an error does not show a passed option as required.
    let o = garbled(&["info", "--format", "old"]);
    let usage = stderr(&o);
    assert!(
        usage.contains("Usage: garbled info [OPTIONS] <CIRCUIT>"),
        "{usage}"
    );
    assert!(!usage.contains("--format <F> <CIRCUIT>"), "{usage}");
    // gen reports the gates it wrote.
    let dir = temp_dir("gen");
    let path = dir.join("neg.txt");
    let o = garbled(&["gen", "neg", "-o", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let header: usize = std::fs::read_to_string(&path)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        stderr(&o).contains(&format!(", {header} gates)")),
        "the file has {header} gates: {}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_error_under_json_is_a_json_object_on_stdout() {
    for args in [
        vec!["run", "/nonexistent/circuit.txt", "--input", "1", "--json"],
        vec!["compare", "--value", "x", "--value", "1", "--json"],
        vec![
            "info",
            &*Box::leak(circuit("add32.txt").into_boxed_str()),
            "--format",
            "old",
            "--json",
        ],
    ] {
        let o = garbled(&args);
        assert!(!o.status.success());
        let v: Value = serde_json::from_str(stdout(&o).trim())
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", stdout(&o)));
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
        assert_eq!(
            v["error"]["exit_code"].as_u64(),
            o.status.code().map(|c| c as u64)
        );
        assert!(v["error"]["kind"].is_string(), "{v}");
    }
}

#[test]
fn seconds_bounds_a_malicious_end_to_end_bench() {
    // Before: 132 s with --seconds 0.3 (twelve sessions of AES-128 x 1000, malicious). Now the
    // budget sets the size: one probe and one session of each kind at the least.
    let start = std::time::Instant::now();
    let o = garbled(&[
        "bench",
        "--e2e",
        "--security",
        "malicious",
        "--seconds",
        "0.05",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let took = start.elapsed();
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        v["e2e"]["large_circuit_and"].as_u64().unwrap() < 6_400_000,
        "{v}"
    );
}
