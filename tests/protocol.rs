//! The protocol over loopback TCP: every circuit of the kit against cleartext, output routing,
//! owners, and handshake mismatches.

mod common;

use common::*;
use garbled::Error;
use garbled::circuit::plain;
use garbled::compile::compile;
use garbled::protocol::{Party, Reveal};

#[test]
fn every_kit_circuit_over_tcp_matches_cleartext() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    let mut checked = 0;
    for (i, (name, entry)) in vectors["circuits"].as_object().unwrap().iter().enumerate() {
        let circuit = load(&dir, entry["file"].as_str().unwrap());
        let program = compile(&circuit).unwrap();
        let inputs = random_inputs(&circuit, i as u64);
        let expected = plain::eval_bits(&circuit, &inputs).unwrap();
        let owners: Vec<Party> = (0..inputs.len())
            .map(|g| {
                if g % 2 == 0 {
                    Party::Garbler
                } else {
                    Party::Evaluator
                }
            })
            .collect();
        let reveal = vec![Reveal::Both; expected.len()];
        let ((g_out, g_stats), (e_out, e_stats)) =
            run_over_tcp(&program, &owners, &reveal, &inputs).unwrap();
        let expected: Vec<Option<Vec<bool>>> = expected.into_iter().map(Some).collect();
        assert_eq!(g_out, expected, "{name}: garbler");
        assert_eq!(e_out, expected, "{name}: evaluator");
        assert_eq!(g_stats.and_gates, program.and_count() as u64);
        // Tables dominate: 32 bytes per AND gate, everything else is small.
        assert!(
            g_stats.bytes_sent >= 32 * program.and_count() as u64,
            "{name}"
        );
        assert_eq!(g_stats.bytes_sent, e_stats.bytes_received, "{name}");
        assert_eq!(e_stats.bytes_sent, g_stats.bytes_received, "{name}");
        checked += 1;
    }
    assert!(checked >= 50);
}

#[test]
fn outputs_go_only_where_routed() {
    // Three input groups with mixed owners, three output groups each routed differently.
    let c = {
        use garbled::circuit::builder::Builder;
        let mut b = Builder::new();
        let x = b.input("x", 8);
        let y = b.input("y", 8);
        let z = b.input("z", 8);
        let s = b.add(&x, &y);
        let p = b.and_bits(&y, &z);
        let q = b.xor_bits(&x, &z);
        b.output("sum", &s);
        b.output("and", &p);
        b.output("xor", &q);
        b.finish().unwrap()
    };
    let program = compile(&c).unwrap();
    let inputs = random_inputs(&c, 3);
    let expected = plain::eval_bits(&c, &inputs).unwrap();
    let owners = [Party::Garbler, Party::Evaluator, Party::Garbler];
    let reveal = [Reveal::Garbler, Reveal::Evaluator, Reveal::Both];
    let ((g, _), (e, _)) = run_over_tcp(&program, &owners, &reveal, &inputs).unwrap();
    assert_eq!(
        g,
        vec![Some(expected[0].clone()), None, Some(expected[2].clone())]
    );
    assert_eq!(
        e,
        vec![None, Some(expected[1].clone()), Some(expected[2].clone())]
    );
}

#[test]
fn several_runs_in_one_session_use_fresh_tweaks_and_agree() {
    use garbled::net::memory::pair;
    use garbled::protocol::{EvaluatorSession, GarblerSession, SessionOptions};
    let c = garbled::circuit::library::generate("compare", 16, 2).unwrap();
    let program = compile(&c).unwrap();
    let options = SessionOptions::new(
        &program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both; 2],
    )
    .unwrap()
    .with_runs(5);
    let (gc, ec) = pair(std::time::Duration::from_secs(20));
    let values = [(3u32, 5u32), (5, 3), (7, 7), (0, 65535), (40000, 2)];
    std::thread::scope(|s| {
        let program = &program;
        let e_options = options.clone();
        let evaluator = s.spawn(move || {
            let mut session = EvaluatorSession::start(ec, program, e_options).unwrap();
            let mut seen = Vec::new();
            for (_, b) in values {
                seen.push(
                    session
                        .run(&[(0..16).map(|k| b >> k & 1 == 1).collect()])
                        .unwrap(),
                );
            }
            session.finish().unwrap();
            seen
        });
        let mut session = GarblerSession::start(gc, program, options).unwrap();
        for (i, (a, b)) in values.into_iter().enumerate() {
            let out = session
                .run(&[(0..16).map(|k| a >> k & 1 == 1).collect()])
                .unwrap();
            assert_eq!(out, vec![Some(vec![a < b]), Some(vec![a == b])], "run {i}");
        }
        // A sixth run was not agreed.
        assert!(session.run(&[vec![false; 16]]).is_err());
        let stats = session.finish().unwrap();
        assert_eq!(stats.and_gates, 5 * program.and_count() as u64);
        let seen = evaluator.join().unwrap();
        for (i, (a, b)) in values.into_iter().enumerate() {
            assert_eq!(seen[i], vec![Some(vec![a < b]), Some(vec![a == b])]);
        }
    });
}

fn mismatch(a: garbled::Result<impl std::fmt::Debug>) -> (String, String) {
    match a {
        Err(Error::Mismatch {
            field, ours, peer, ..
        }) => (field.to_string(), format!("{ours} / {peer}")),
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn mismatched_circuits_and_widths_are_named_on_both_sides() {
    use garbled::net::memory::pair;
    use garbled::protocol::{SessionOptions, run_evaluator, run_garbler};
    let run = |g_circuit: garbled::circuit::Circuit, e_circuit: garbled::circuit::Circuit| {
        let gp = compile(&g_circuit).unwrap();
        let ep = compile(&e_circuit).unwrap();
        let (gc, ec) = pair(std::time::Duration::from_secs(5));
        let go = SessionOptions::new(
            &gp,
            vec![Party::Garbler, Party::Evaluator],
            vec![Reveal::Both],
        )
        .unwrap();
        let eo = SessionOptions::new(
            &ep,
            vec![Party::Garbler, Party::Evaluator],
            vec![Reveal::Both],
        )
        .unwrap();
        let gw = gp.input_widths()[0] as usize;
        let ew = ep.input_widths()[1] as usize;
        std::thread::scope(|s| {
            let e = s.spawn(|| run_evaluator(&ep, &[vec![false; ew]], ec, eo).map(|_| ()));
            let g = run_garbler(&gp, &[vec![false; gw]], gc, go).map(|_| ());
            (g, e.join().unwrap())
        })
    };
    let lt = garbled::circuit::library::generate("lt", 8, 2).unwrap();
    let le = garbled::circuit::library::generate("le", 8, 2).unwrap();
    let (g, e) = run(lt.clone(), le);
    let (field, values) = mismatch(g);
    assert_eq!(field, "circuit digest", "{values}");
    assert_eq!(mismatch(e).0, "circuit digest");
    let lt16 = garbled::circuit::library::generate("lt", 16, 2).unwrap();
    let (g, e) = run(lt, lt16);
    let (field, values) = mismatch(g);
    assert_eq!(field, "input widths");
    assert!(
        values.contains("[8, 8]") && values.contains("[16, 16]"),
        "{values}"
    );
    assert_eq!(mismatch(e).0, "input widths");
}

#[test]
fn two_garblers_are_told_about_the_roles() {
    use garbled::net::memory::pair;
    use garbled::protocol::{SessionOptions, run_garbler};
    let c = garbled::circuit::library::generate("eq", 4, 2).unwrap();
    let p = compile(&c).unwrap();
    let o = SessionOptions::new(
        &p,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both],
    )
    .unwrap();
    let (a, b) = pair(std::time::Duration::from_secs(5));
    std::thread::scope(|s| {
        let o2 = o.clone();
        let p2 = &p;
        let other = s.spawn(move || run_garbler(p2, &[vec![false; 4]], b, o2).map(|_| ()));
        assert_eq!(
            mismatch(run_garbler(&p, &[vec![false; 4]], a, o).map(|_| ())).0,
            "role"
        );
        assert_eq!(mismatch(other.join().unwrap()).0, "role");
    });
}

#[test]
fn the_evaluator_can_prepare_the_next_runs_transfers() {
    use garbled::net::memory::pair;
    use garbled::protocol::{EvaluatorSession, GarblerSession, SessionOptions};
    let c = garbled::circuit::library::generate("compare", 8, 2).unwrap();
    let program = compile(&c).unwrap();
    let options = SessionOptions::new(
        &program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both; 2],
    )
    .unwrap()
    .with_runs(4);
    let bits = |v: u8| -> Vec<bool> { (0..8).map(|k| v >> k & 1 == 1).collect() };
    let values = [(3u8, 5u8), (9, 9), (200, 7), (0, 1)];
    let (gc, ec) = pair(std::time::Duration::from_secs(20));
    std::thread::scope(|s| {
        let program = &program;
        let e_options = options.clone();
        let evaluator = s.spawn(move || {
            let mut session = EvaluatorSession::start(ec, program, e_options).unwrap();
            let mut seen = Vec::new();
            for (i, &(_, b)) in values.iter().enumerate() {
                let next = values.get(i + 1).map(|&(_, n)| vec![bits(n)]);
                seen.push(session.run_ahead(&[bits(b)], next.as_deref()).unwrap());
            }
            session.finish().unwrap();
            seen
        });
        let mut session = GarblerSession::start(gc, program, options).unwrap();
        for &(a, b) in &values {
            let out = session.run(&[bits(a)]).unwrap();
            assert_eq!(
                out,
                vec![Some(vec![a < b]), Some(vec![a == b])],
                "{a} vs {b}"
            );
        }
        session.finish().unwrap();
        let seen = evaluator.join().unwrap();
        for (i, &(a, b)) in values.iter().enumerate() {
            assert_eq!(seen[i], vec![Some(vec![a < b]), Some(vec![a == b])]);
        }
    });
}

#[test]
fn running_other_inputs_than_the_prepared_ones_is_refused() {
    use garbled::net::memory::pair;
    use garbled::protocol::{EvaluatorSession, GarblerSession, SessionOptions};
    let c = garbled::circuit::library::generate("eq", 4, 2).unwrap();
    let program = compile(&c).unwrap();
    let options = SessionOptions::new(
        &program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both],
    )
    .unwrap()
    .with_runs(2);
    let (gc, ec) = pair(std::time::Duration::from_secs(5));
    std::thread::scope(|s| {
        let program = &program;
        let g_options = options.clone();
        s.spawn(move || {
            let mut g = GarblerSession::start(gc, program, g_options).unwrap();
            let _ = g.run(&[vec![false; 4]]);
        });
        let mut e = EvaluatorSession::start(ec, program, options).unwrap();
        e.run_ahead(&[vec![true; 4]], Some(&[vec![false; 4]]))
            .unwrap();
        let r = e.run(&[vec![true; 4]]);
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    });
}

/// Tables longer than one write (32768 AND gates) go out and come in chunk after chunk (on a
/// helper thread where the machine has more than two cores; `protocol`'s unit tests hold that
/// path to the one-thread loop, and `tests/tls.rs` runs it over TLS): the outputs are those of
/// cleartext and the tables are all there, 32 bytes per AND gate.
#[test]
fn runs_longer_than_one_table_chunk_match_cleartext() {
    let circuit = garbled::circuit::library::aes128_many(6).unwrap();
    let program = compile(&circuit).unwrap();
    assert!(program.and_count() > 32768, "{}", program.and_count());
    let inputs = random_inputs(&circuit, 61);
    let expected = routed_cleartext(&circuit, &inputs);
    let owners = [Party::Garbler, Party::Evaluator];
    let reveal = vec![Reveal::Both; expected.len()];
    let ((g, g_stats), (e, e_stats)) = run_over_tcp(&program, &owners, &reveal, &inputs).unwrap();
    assert_eq!(g, expected);
    assert_eq!(e, expected);
    assert!(g_stats.bytes_sent >= 32 * program.and_count() as u64);
    assert_eq!(g_stats.bytes_sent, e_stats.bytes_received);
}

#[test]
fn a_bit_order_mismatch_names_the_flag_on_both_sides() {
    use garbled::net::memory::pair;
    use garbled::protocol::{SessionOptions, run_evaluator, run_garbler};
    use garbled::value::BitOrder;
    let p = compile(&garbled::circuit::library::generate("lt", 8, 2).unwrap()).unwrap();
    let options = |order| {
        SessionOptions::new(
            &p,
            vec![Party::Garbler, Party::Evaluator],
            vec![Reveal::Both],
        )
        .unwrap()
        .with_bit_order(order)
    };
    let (gc, ec) = pair(std::time::Duration::from_secs(5));
    let (g, e) = std::thread::scope(|s| {
        let e = s.spawn(|| {
            run_evaluator(&p, &[vec![false; 8]], ec, options(BitOrder::Msb0)).map(|_| ())
        });
        let g = run_garbler(&p, &[vec![false; 8]], gc, options(BitOrder::Lsb0)).map(|_| ());
        (g, e.join().unwrap())
    });
    for r in [g, e] {
        let text = r.unwrap_err().to_string();
        assert!(
            text.contains("bit order") && text.contains("--bit-order"),
            "{text}"
        );
    }
}
