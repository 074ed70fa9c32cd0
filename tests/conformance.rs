//! Every case of `shared/bristol/conformance/cases.json`: accepted or rejected as it says, with
//! the vectors of the valid ones checked, and every rejection naming a line and column.

mod common;

use common::*;
use garbled::Error;
use garbled::circuit::{FormatChoice, Limits, bristol, plain};

#[test]
fn every_conformance_case() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("bristol/conformance");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let (mut accepted, mut rejected) = (0, 0);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let result = bristol::parse_file(&dir.join(file), FormatChoice::Auto, &Limits::default());
        match case["expect"].as_str().unwrap() {
            "accept" => {
                let parsed = result.unwrap_or_else(|e| panic!("{file} must be accepted: {e}"));
                let dialect = if case["format"] == "fashion" {
                    "fashion"
                } else {
                    "bristol"
                };
                assert_eq!(parsed.dialect.name(), dialect, "{file}");
                let vectors = case["vectors"].as_array().unwrap();
                assert!(!vectors.is_empty(), "{file}");
                for v in vectors {
                    let strings = |k: &str| -> Vec<Vec<bool>> {
                        v[k].as_array()
                            .unwrap()
                            .iter()
                            .map(|s| bit_string(s.as_str().unwrap()))
                            .collect()
                    };
                    let got = plain::eval_bits(&parsed.circuit, &strings("inputs")).unwrap();
                    assert_eq!(got, strings("outputs"), "{file}: {v}");
                }
                // Forcing the right dialect accepts too.
                let forced = if dialect == "fashion" {
                    FormatChoice::Fashion
                } else {
                    FormatChoice::Bristol
                };
                assert!(
                    bristol::parse_file(&dir.join(file), forced, &Limits::default()).is_ok(),
                    "{file}"
                );
                accepted += 1;
            }
            "reject" => {
                match result {
                    Ok(_) => panic!("{file} must be rejected ({})", case["why"]),
                    Err(Error::Parse {
                        line,
                        column,
                        message,
                    }) => {
                        assert!(
                            line >= 1 && column >= 1,
                            "{file}: rejection without a position: {message}"
                        );
                        assert!(!message.is_empty());
                    }
                    Err(other) => panic!("{file}: expected a parse error, got {other:?}"),
                }
                rejected += 1;
            }
            other => panic!("unknown expectation {other}"),
        }
    }
    assert!(
        accepted >= 5 && rejected >= 25,
        "accepted {accepted}, rejected {rejected}"
    );
}

#[test]
fn forcing_the_wrong_dialect_is_rejected_with_a_position() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("bristol/conformance/valid");
    let err = bristol::parse_file(
        &dir.join("fashion_all_gate_types.txt"),
        FormatChoice::Bristol,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Parse {
                line: 2..,
                column: 1..,
                ..
            }
        ),
        "{err}"
    );
    let err = bristol::parse_file(
        &dir.join("format_tiny.txt"),
        FormatChoice::Fashion,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Parse {
                line: 2..,
                column: 1..,
                ..
            }
        ),
        "{err}"
    );
}

/// A circuit far larger than any buffer, produced line by line by a reader: the parser must
/// stream it (it never sees the whole text) and accept it.
#[test]
fn a_large_circuit_streams_through_the_parser() {
    use std::io::Read;
    struct Synth {
        gates: u64,
        next: u64,
        line: Vec<u8>,
        at: usize,
        header_done: bool,
    }
    const INPUTS: u64 = 128;
    impl Read for Synth {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.line.len() {
                self.line.clear();
                self.at = 0;
                if !self.header_done {
                    self.header_done = true;
                    let wires = INPUTS + self.gates;
                    self.line
                        .extend(format!("{} {wires}\n2 64 64\n1 64\n\n", self.gates).bytes());
                } else if self.next < self.gates {
                    // Each gate reads the two previous wires; the last 64 gates are the outputs.
                    let out = INPUTS + self.next;
                    let op = if self.next.is_multiple_of(3) {
                        "AND"
                    } else {
                        "XOR"
                    };
                    self.line
                        .extend(format!("2 1 {} {} {out} {op}\n", out - 1, out - 2).bytes());
                    self.next += 1;
                } else {
                    return Ok(0);
                }
            }
            let n = buf.len().min(self.line.len() - self.at);
            buf[..n].copy_from_slice(&self.line[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }
    let gates = 3_000_000; // about 80 MB of text
    let reader = std::io::BufReader::new(Synth {
        gates,
        next: 0,
        line: Vec::new(),
        at: 0,
        header_done: false,
    });
    let parsed = bristol::parse(reader, FormatChoice::Auto, &Limits::default()).unwrap();
    assert_eq!(parsed.gate_lines, gates);
    assert_eq!(parsed.circuit.stats().and, gates.div_ceil(3));
    assert_eq!(parsed.circuit.output_wires().len(), 64);
}
