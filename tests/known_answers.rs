//! Known answers: every circuit and every vector of `shared/bristol/vectors.json`, in the clear,
//! both as bit strings and in natural form (as a user would type the values), plus the
//! parse -> write -> parse round trip of every file.

mod common;

use common::*;
use garbled::circuit::{FormatChoice, Limits, bristol, plain};
use garbled::value::{self, BitOrder};
use serde_json::Value;

#[test]
fn every_circuit_has_the_published_counts() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    let circuits = vectors["circuits"].as_object().unwrap();
    assert!(
        circuits.len() >= 50,
        "vectors.json lists {} circuits",
        circuits.len()
    );
    for (name, entry) in circuits {
        let file = entry["file"].as_str().unwrap();
        let parsed = bristol::parse_file(&dir.join(file), FormatChoice::Auto, &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = &entry["stats"];
        let stats = parsed.circuit.stats();
        let expected_dialect = if entry["format"] == "fashion" {
            "fashion"
        } else {
            "bristol"
        };
        assert_eq!(parsed.dialect.name(), expected_dialect, "{name}: dialect");
        assert_eq!(
            parsed.gate_lines,
            s["gates"].as_u64().unwrap(),
            "{name}: gates"
        );
        assert_eq!(
            u64::from(parsed.circuit.num_wires()),
            s["wires"].as_u64().unwrap(),
            "{name}: wires"
        );
        assert_eq!(stats.and, s["AND_total"].as_u64().unwrap(), "{name}: AND");
        assert_eq!(stats.xor, s["XOR"].as_u64().unwrap(), "{name}: XOR");
        assert_eq!(stats.inv, s["INV"].as_u64().unwrap(), "{name}: INV");
        assert_eq!(stats.eq, s["EQ"].as_u64().unwrap(), "{name}: EQ");
        assert_eq!(stats.eqw, s["EQW"].as_u64().unwrap(), "{name}: EQW");
        assert_eq!(
            u64::from(stats.and_depth),
            s["and_depth"].as_u64().unwrap(),
            "{name}: depth"
        );
        let widths = |k: &str| -> Vec<u32> {
            s[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect()
        };
        assert_eq!(
            parsed.circuit.input_widths(),
            widths("inputs"),
            "{name}: inputs"
        );
        assert_eq!(
            parsed.circuit.output_widths(),
            widths("outputs"),
            "{name}: outputs"
        );
    }
}

#[test]
fn every_vector_evaluates_in_the_clear() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    let mut checked = 0;
    for (name, entry) in vectors["circuits"].as_object().unwrap() {
        let circuit = load(&dir, entry["file"].as_str().unwrap());
        let all = all_vectors(entry);
        assert!(!all.is_empty(), "{name} has no vectors");
        for chunk in all.chunks(64) {
            let sets: Vec<Vec<Vec<bool>>> = chunk.iter().map(|v| v.inputs.clone()).collect();
            let out = plain::eval_lanes(&circuit, &pack_lanes(&sets)).unwrap();
            for (j, v) in chunk.iter().enumerate() {
                let got = unpack_lane(&out, j, &circuit.output_widths());
                assert_eq!(got, v.outputs, "{name} {}", v.label);
                checked += 1;
            }
        }
        // The single-set entry point agrees with the lanes.
        let v = &all[0];
        let got = plain::eval_bits(&circuit, &v.inputs).unwrap();
        assert_eq!(got, v.outputs, "{name} {} (eval_bits)", v.label);
    }
    assert!(checked >= 848, "only {checked} vectors checked");
}

/// The natural forms: a user types the kit's natural values as `--input 0x…` (with the bit order
/// the encoding implies) and must get the kit's bit strings and natural outputs.
#[test]
fn natural_forms_match_the_bit_strings() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    let mut checked = 0;
    for (name, entry) in vectors["circuits"].as_object().unwrap() {
        let circuit = load(&dir, entry["file"].as_str().unwrap());
        let inputs = groups(entry, "inputs");
        let outputs = groups(entry, "outputs");
        for KnownAnswer {
            label,
            inputs: in_bits,
            outputs: out_bits,
            natural,
        } in all_vectors(entry)
        {
            let Some(natural) = natural else { continue };
            let nat_in = natural["inputs"].as_object().unwrap();
            let nat_out = natural["outputs"].as_object().unwrap();
            let typed: Vec<Vec<bool>> = inputs
                .iter()
                .map(|(n, e, w)| natural_bits(nat_in, n, e, *w))
                .collect();
            assert_eq!(typed, in_bits, "{name} {label}: natural inputs");
            let got = plain::eval_bits(&circuit, &typed).unwrap();
            assert_eq!(got, out_bits, "{name} {label}");
            for ((group, encoding, width), bits) in outputs.iter().zip(&got) {
                let expected = natural_bits(nat_out, group, encoding, *width);
                assert_eq!(bits, &expected, "{name} {label}: natural output {group}");
                if let (Some(order), Value::String(s)) = (order_of(encoding), &nat_out[group]) {
                    // What `garbled eval` prints is the natural form, digit for digit.
                    let printed = value::format_value(bits, order);
                    let digits = |t: &str| {
                        t.trim_start_matches("0x")
                            .trim_start_matches('0')
                            .to_string()
                    };
                    assert_eq!(digits(&printed), digits(s), "{name} {label}");
                }
            }
            // Signed decimal forms (divide64, comparators) give the same bits as the hex.
            for (group, _, width) in inputs.iter().chain(&outputs) {
                let key = format!("{group}_signed");
                if let Some(v) = nat_in.get(&key).or_else(|| nat_out.get(&key)) {
                    let from_decimal =
                        value::parse_value(&v.to_string(), *width, BitOrder::Lsb0).unwrap();
                    let hex_source = nat_in.get(group).or_else(|| nat_out.get(group)).unwrap();
                    let from_hex =
                        value::parse_value(&natural_text(hex_source), *width, BitOrder::Lsb0)
                            .unwrap();
                    assert_eq!(from_decimal, from_hex, "{name} {label}: {key}");
                }
            }
            // IEEE values: the decimal text is the float whose bit pattern the hex gives.
            for (group, encoding, _) in inputs.iter().chain(&outputs) {
                let v = nat_in.get(group).or_else(|| nat_out.get(group));
                if let (Some(Value::Object(o)), "ieee754_lsb0") = (v, encoding.as_str())
                    && let Some(text) = o.get("value").and_then(Value::as_str)
                {
                    let f: f64 = text.parse().unwrap();
                    let hex = u64::from_str_radix(
                        o["hex"].as_str().unwrap().trim_start_matches("0x"),
                        16,
                    )
                    .unwrap();
                    if !f.is_nan() {
                        assert_eq!(f.to_bits(), hex, "{name} {label}: {group}");
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 800, "only {checked} natural vectors checked");
}

#[test]
fn parse_write_parse_gives_the_same_circuit() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    for (name, entry) in vectors["circuits"].as_object().unwrap() {
        let circuit = load(&dir, entry["file"].as_str().unwrap());
        let text = bristol::to_fashion_string(&circuit);
        let again = bristol::parse_str(&text, FormatChoice::Fashion)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again.circuit, circuit, "{name}");
        // Writing is deterministic.
        assert_eq!(bristol::to_fashion_string(&again.circuit), text, "{name}");
    }
}
