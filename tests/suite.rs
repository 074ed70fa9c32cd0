//! `garbled bench --suite`: the files it writes, the comparison with a baseline, and bad inputs.
//! The matrix is cut to a few seconds by the test-only `GARBLED_BENCH_SUBSET=tiny`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stderr, stdout};
use serde_json::Value;

fn bench(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_garbled"))
        .args(args)
        .env("GARBLED_BENCH_SUBSET", "tiny")
        .output()
        .unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("garbled-suite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn rows(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const COLUMNS: [&str; 13] = [
    "circuit",
    "digest",
    "scheme",
    "security",
    "transport",
    "threads",
    "link",
    "metric",
    "unit",
    "median",
    "min",
    "max",
    "repetitions",
];

/// One quick run of the tiny matrix, shared by the tests that only read it.
fn quick_run() -> PathBuf {
    static RUN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let dir = temp("quick");
        let out = bench(&["bench", "--suite", "quick", "--out", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        dir
    })
    .clone()
}

#[test]
fn a_quick_run_writes_four_files_that_agree() {
    let dir = quick_run();
    let rows = rows(&dir);
    assert!(rows.len() >= 20, "{} rows", rows.len());
    for row in &rows {
        for column in COLUMNS {
            assert!(row.get(column).is_some(), "{column} missing from {row}");
        }
        let (min, median, max) = (
            row["min"].as_f64().unwrap(),
            row["median"].as_f64().unwrap(),
            row["max"].as_f64().unwrap(),
        );
        assert!(min <= median && median <= max && min > 0.0, "{row}");
        assert_eq!(row["repetitions"], 3);
    }
    // Every kind of measurement is there.
    for metric in [
        "aes_ns_per_block",
        "garble_ns_per_and",
        "evaluate_ns_per_and",
        "and_per_second",
        "bytes_per_and",
        "session_ms",
        "base_ot_128_ms",
        "garble_speedup",
    ] {
        assert!(rows.iter().any(|r| r["metric"] == metric), "{metric}");
    }
    for (scheme, security, transport) in [
        ("half-gates", "semi-honest", "plaintext"),
        ("half-gates", "semi-honest", "tls"),
        ("three-halves", "semi-honest", "tls"),
        ("half-gates", "malicious", "tls"),
    ] {
        assert!(
            rows.iter().any(|r| r["scheme"] == scheme
                && r["security"] == security
                && r["transport"] == transport
                && r["metric"] == "and_per_second"),
            "{scheme} {security} {transport}"
        );
    }
    assert!(rows.iter().any(|r| r["link"] == "100 Mbit/s"));
    // The CSV holds the same rows, column for column.
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
    let csv_rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(csv_rows.len(), rows.len());
    for (cells, row) in csv_rows.iter().zip(&rows) {
        assert_eq!(cells.len(), COLUMNS.len());
        for (cell, column) in cells.iter().zip(COLUMNS) {
            let expected = match &row[column] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let (Ok(a), Ok(b)) = (cell.parse::<f64>(), expected.parse::<f64>()) {
                // (serde_json's default float parser may be a unit in the last place off.)
                assert!(
                    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
                    "{column}: {a} {b}"
                );
            } else {
                assert_eq!(*cell, expected, "{column}");
            }
        }
    }
    // The report: one inline SVG per chart, no URL to fetch.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(!html.contains("http"), "the report holds a URL");
    assert!(html.contains("round-robin"));
    let machine: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("machine.json")).unwrap()).unwrap();
    for key in [
        "cpu_model",
        "cores",
        "aes_backend",
        "crate_version",
        "git_commit",
        "rustc_version",
        "date",
    ] {
        assert!(machine.get(key).is_some(), "{key} missing from {machine}");
    }
    assert!(
        machine["rustc_version"]
            .as_str()
            .unwrap()
            .starts_with("rustc ")
    );
}

/// Rewrites the report of the run in `out_dir` against `baseline`, without measuring.
fn reanalyze(out_dir: &str, baseline: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "bench",
        "--suite",
        "quick",
        "--out",
        out_dir,
        "--reanalyze",
        "--baseline",
        baseline,
    ];
    args.extend_from_slice(extra);
    bench(&args)
}

/// A copy of `dir` with `edit` applied to its rows.
fn doctored(dir: &Path, name: &str, edit: impl Fn(&mut [Value])) -> PathBuf {
    let copy = temp(name);
    std::fs::create_dir_all(&copy).unwrap();
    let mut rows = rows(dir);
    edit(&mut rows);
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(copy.join("results.jsonl"), text).unwrap();
    copy
}

/// Makes the first garbling cell of `rows` three times faster.
fn three_times_faster(rows: &mut [Value]) {
    let i = first_ns_per_and(rows);
    for k in ["median", "min", "max"] {
        let v = rows[i][k].as_f64().unwrap();
        rows[i][k] = Value::from(v / 3.0);
    }
}

fn first_ns_per_and(rows: &[Value]) -> usize {
    rows.iter()
        .position(|r| r["metric"] == "garble_ns_per_and")
        .unwrap()
}

#[test]
fn a_baseline_with_one_cell_three_times_faster_is_a_regression() {
    let dir = quick_run();
    let faster = doctored(&dir, "faster", three_times_faster);
    let out_dir = dir.to_str().unwrap();
    // Against itself: nothing changed, exit 0.
    let same = reanalyze(out_dir, out_dir, &["--fail-on-regression", "10"]);
    assert!(same.status.success(), "{}", stderr(&same));
    assert!(
        stdout(&same).contains("no cell changed beyond its noise"),
        "{}",
        stdout(&same)
    );
    // Against the doctored copy: that cell, and exit 1.
    let out = reanalyze(
        out_dir,
        faster.to_str().unwrap(),
        &["--fail-on-regression", "10"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let changed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(slower)") || l.contains("(faster)"))
        .collect();
    assert_eq!(changed.len(), 1, "{text}");
    assert!(
        changed[0].contains("garble_ns_per_and") && changed[0].contains("(slower)"),
        "{text}"
    );
    assert!(stderr(&out).contains("regression"), "{}", stderr(&out));
    // The report shows the baseline beside each figure.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("baseline (median)"));
    // Without --fail-on-regression the same comparison only reports.
    let out = reanalyze(out_dir, faster.to_str().unwrap(), &[]);
    assert!(out.status.success());
}

#[test]
fn a_measured_run_against_a_doctored_baseline_fails_on_the_regression() {
    let dir = quick_run();
    let faster = doctored(&dir, "measured-faster", three_times_faster);
    let fresh = temp("fresh");
    let out = bench(&[
        "bench",
        "--suite",
        "quick",
        "--out",
        fresh.to_str().unwrap(),
        "--baseline",
        faster.to_str().unwrap(),
        "--fail-on-regression",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.contains("compare64 | half-gates")
            && l.contains("garble_ns_per_and")
            && l.contains("(slower)")),
        "{text}"
    );
}

#[test]
fn bad_inputs_are_named() {
    let dir = quick_run();
    let out_dir = dir.to_str().unwrap();
    // An unwritable directory: refused before anything is measured.
    let blocker = temp("blocker");
    std::fs::write(&blocker, "a file").unwrap();
    let inside = blocker.join("out");
    let out = bench(&[
        "bench",
        "--suite",
        "quick",
        "--out",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot create --out"),
        "{}",
        stderr(&out)
    );
    // A baseline of another circuit (digest): not comparable, not a regression.
    let other = doctored(&dir, "other-digest", |rows| {
        let i = first_ns_per_and(rows);
        rows[i]["digest"] = Value::from("0".repeat(64));
        for k in ["median", "min", "max"] {
            rows[i][k] = Value::from(0.001);
        }
    });
    let out = reanalyze(
        out_dir,
        other.to_str().unwrap(),
        &["--fail-on-regression", "10"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("not comparable"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("(slower)"), "{}", stdout(&out));
    // A corrupt line, named with its number.
    let corrupt = doctored(&dir, "corrupt", |_| {});
    let path = corrupt.join("results.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[2] = "{\"circuit\": \"half a row".into();
    text = lines.join("\n") + "\n";
    std::fs::write(&path, text).unwrap();
    let out = reanalyze(out_dir, corrupt.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("results.jsonl:3:"),
        "{}",
        stderr(&out)
    );
    // --fail-on-regression without a baseline is a usage error.
    let out = bench(&[
        "bench",
        "--suite",
        "quick",
        "--out",
        out_dir,
        "--fail-on-regression",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_users_circuit_joins_the_matrix() {
    let dir = temp("user");
    let circuit = format!("{}/circuits/add32.txt", env!("CARGO_MANIFEST_DIR"));
    let out = bench(&[
        "bench",
        "--suite",
        "quick",
        "--out",
        dir.to_str().unwrap(),
        "--circuits",
        &circuit,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&dir);
    for metric in ["garble_ns_per_and", "and_per_second"] {
        assert!(
            rows.iter()
                .any(|r| r["circuit"] == "add32" && r["metric"] == metric),
            "{metric}"
        );
    }
}
