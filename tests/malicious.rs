//! Malicious security (authenticated garbling): correct results on the kit and on random
//! circuits, and every deviation of a cheating garbler or evaluator ends in a typed abort on
//! the honest side, never in a wrong output.

mod common;

use std::time::Duration;

use common::*;
use garbled::Error;
use garbled::auth::{Cheat, Security};
use garbled::circuit::Circuit;
use garbled::circuit::builder::Builder;
use garbled::circuit::plain;
use garbled::compile::{Program, compile};
use garbled::net::memory::pair;
use garbled::protocol::{EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions};

type Out = garbled::Result<Vec<Option<Vec<bool>>>>;

/// Runs one malicious session in memory; the garbler may run `garbler_program` instead of the
/// agreed one and either side may play a cheat. Returns both sides' results.
fn session(
    program: &Program,
    garbler_program: Option<&Program>,
    owners: &[Party],
    reveal: &[Reveal],
    inputs: &[Vec<bool>],
    garbler_cheat: Option<Cheat>,
    evaluator_cheat: Option<Cheat>,
) -> (Out, Out) {
    let (gc, ec) = pair(Duration::from_secs(20));
    session_over(
        gc,
        ec,
        program,
        garbler_program,
        owners,
        reveal,
        inputs,
        garbler_cheat,
        evaluator_cheat,
    )
}

/// [`session`] over loopback TCP, as two hosts talk.
fn session_tcp(
    program: &Program,
    owners: &[Party],
    reveal: &[Reveal],
    inputs: &[Vec<bool>],
) -> (Out, Out) {
    use garbled::net::tcp::{TcpChannel, Timeouts};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let timeouts = Timeouts::idle(Duration::from_secs(20));
    let connect = std::thread::spawn(move || {
        TcpChannel::connect(&addr, Duration::from_secs(10), timeouts).unwrap()
    });
    let gc = TcpChannel::accept(&listener, Duration::from_secs(10), timeouts).unwrap();
    let ec = connect.join().unwrap();
    session_over(gc, ec, program, None, owners, reveal, inputs, None, None)
}

#[allow(clippy::too_many_arguments)]
fn session_over<C: garbled::net::Channel + Send>(
    gc: C,
    ec: C,
    program: &Program,
    garbler_program: Option<&Program>,
    owners: &[Party],
    reveal: &[Reveal],
    inputs: &[Vec<bool>],
    garbler_cheat: Option<Cheat>,
    evaluator_cheat: Option<Cheat>,
) -> (Out, Out) {
    let options = SessionOptions::new(program, owners.to_vec(), reveal.to_vec())
        .unwrap()
        .with_security(Security::Malicious);
    let (g_in, e_in) = split_by_owner(owners, inputs);
    std::thread::scope(|s| {
        let e_options = options.clone();
        let evaluator = s.spawn(move || -> Out {
            let mut session = EvaluatorSession::start(ec, program, e_options)?;
            if let Some(c) = evaluator_cheat {
                session.set_cheat(c);
            }
            let out = session.run(&e_in)?;
            // A cheater's result is what its run yielded: whether the end of the session then
            // fails (the honest side aborted) says nothing about what it learned.
            let end = session.finish();
            if evaluator_cheat.is_none() {
                end?;
            }
            Ok(out)
        });
        let garbler = (|| -> Out {
            let mut session = GarblerSession::start(gc, program, options)?;
            if let Some(c) = garbler_cheat {
                session.set_cheat(c);
            }
            let out = session.run_with(garbler_program.unwrap_or(program), &g_in)?;
            let end = session.finish();
            if garbler_cheat.is_none() {
                end?;
            }
            Ok(out)
        })();
        (
            garbler,
            evaluator.join().expect("the evaluator does not panic"),
        )
    })
}

fn two_party(circuit: &Circuit) -> Vec<Party> {
    (0..circuit.input_widths().len())
        .map(|g| {
            if g % 2 == 0 {
                Party::Garbler
            } else {
                Party::Evaluator
            }
        })
        .collect()
}

#[test]
fn an_adder_and_a_comparison_compute_correctly() {
    let mut b = Builder::new();
    let x = b.input("x", 16);
    let y = b.input("y", 16);
    let s = b.add(&x, &y);
    let lt = b.lt(&x, &y);
    b.output("sum", &s);
    b.output("lt", &[lt]);
    let c = b.finish().unwrap();
    let p = compile(&c).unwrap();
    for seed in 0..4 {
        let inputs = random_inputs(&c, seed);
        let expected = routed_cleartext(&c, &inputs);
        let (g, e) = session(
            &p,
            None,
            &two_party(&c),
            &[Reveal::Both; 2],
            &inputs,
            None,
            None,
        );
        assert_eq!(g.unwrap(), expected);
        assert_eq!(e.unwrap(), expected);
    }
}

#[test]
fn every_kit_circuit_matches_cleartext_over_tcp() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    let mut checked = 0;
    for (i, (name, entry)) in vectors["circuits"].as_object().unwrap().iter().enumerate() {
        let circuit = load(&dir, entry["file"].as_str().unwrap());
        let program = compile(&circuit).unwrap();
        let inputs = random_inputs(&circuit, 100 + i as u64);
        let expected = routed_cleartext(&circuit, &inputs);
        let reveal = vec![Reveal::Both; expected.len()];
        let (g, e) = session_tcp(&program, &two_party(&circuit), &reveal, &inputs);
        assert_eq!(g.unwrap(), expected, "{name}: garbler");
        assert_eq!(e.unwrap(), expected, "{name}: evaluator");
        checked += 1;
    }
    assert!(checked >= 50);
}

#[test]
fn random_circuits_with_every_routing_match_cleartext() {
    let routes = [Reveal::Both, Reveal::Garbler, Reveal::Evaluator];
    for seed in 0..24u64 {
        let circuit = random_circuit(
            seed,
            1 + seed as usize % 3,
            40 + 20 * seed as usize,
            1 + seed as usize % 4,
        );
        let program = compile(&circuit).unwrap();
        let inputs = random_inputs(&circuit, seed);
        let expected = plain::eval_bits(&circuit, &inputs).unwrap();
        let reveal: Vec<Reveal> = (0..expected.len())
            .map(|k| routes[(seed as usize + k) % 3])
            .collect();
        let owners: Vec<Party> = (0..inputs.len())
            .map(|g| {
                if (seed as usize + g).is_multiple_of(3) {
                    Party::Evaluator
                } else {
                    Party::Garbler
                }
            })
            .collect();
        let (g, e) = session(&program, None, &owners, &reveal, &inputs, None, None);
        let (g, e) = (g.unwrap(), e.unwrap());
        for (k, r) in reveal.iter().enumerate() {
            let want = Some(expected[k].clone());
            assert_eq!(
                g[k],
                if r.to_garbler() { want.clone() } else { None },
                "seed {seed}"
            );
            assert_eq!(
                e[k],
                if r.to_evaluator() { want } else { None },
                "seed {seed}"
            );
        }
    }
}

/// A small circuit where every input bit feeds an AND gate: 8-bit x AND y, and x < y.
fn and_circuit() -> Circuit {
    let mut b = Builder::new();
    let x = b.input("x", 8);
    let y = b.input("y", 8);
    let z: Vec<_> = x.iter().zip(&y).map(|(&p, &q)| b.and(p, q)).collect();
    let lt = b.lt(&x, &y);
    b.output("and", &z);
    b.output("lt", &[lt]);
    b.finish().unwrap()
}

/// Whether the honest side ended in a typed abort for a deviation (a failed MAC, gate or
/// equality check, or a failed OT consistency check).
fn aborted(result: &Out) -> bool {
    matches!(
        result,
        Err(Error::Cheating(_)) | Err(Error::PeerMisbehaved(_))
    )
}

/// Plays `cheat` on one side `trials` times; the honest side must abort or give the right
/// answer, never a wrong one. Returns how many sessions aborted.
fn play(cheat: Cheat, cheater: Party, trials: u64) -> u64 {
    let c = and_circuit();
    let p = compile(&c).unwrap();
    let mut aborts = 0;
    for seed in 0..trials {
        let inputs = random_inputs(&c, 1000 + seed);
        let expected = routed_cleartext(&c, &inputs);
        let (gc, ec) = match cheater {
            Party::Garbler => (Some(cheat), None),
            Party::Evaluator => (None, Some(cheat)),
        };
        let (g, e) = session(
            &p,
            None,
            &two_party(&c),
            &[Reveal::Both; 2],
            &inputs,
            gc,
            ec,
        );
        let (honest, cheater_result) = if cheater == Party::Garbler {
            (e, g)
        } else {
            (g, e)
        };
        match honest {
            Ok(out) => assert_eq!(
                out, expected,
                "{cheat:?}: a wrong output reached the honest side"
            ),
            Err(ref err) => {
                assert!(aborted(&honest), "{cheat:?}: untyped failure {err:?}");
                aborts += 1;
                // The evaluator opens the garbler's output masks only after the circuit
                // checked out (O2): a caught garbler gets no output either.
                if cheater == Party::Garbler {
                    assert!(
                        cheater_result.is_err(),
                        "{cheat:?}: the caught garbler still got {cheater_result:?}"
                    );
                }
            }
        }
    }
    aborts
}

#[test]
fn a_cheating_garbler_is_always_caught_where_the_protocol_is_deterministic() {
    for cheat in [
        Cheat::TableColour,
        Cheat::OpenedShare,
        Cheat::WrongMac,
        Cheat::OutputShare,
    ] {
        assert_eq!(play(cheat, Party::Garbler, 3), 3, "{cheat:?}");
    }
    // Inconsistent OT columns fail the KOS check.
    assert_eq!(play(Cheat::CotColumn, Party::Garbler, 2), 2);
}

#[test]
fn a_cheating_garbler_is_caught_or_harmless_where_it_depends_on_masked_values() {
    // A flipped ciphertext matters only when the evaluator's masked value selects it; a flipped
    // leaky-AND ciphertext only when the evaluator's share of that triple is 1; a damaged input
    // label only where a gate's masked output comes out wrong. Never a wrong output, and over
    // 16 sessions each is caught at least once.
    for cheat in [Cheat::TableBit, Cheat::LeakyAndMessage, Cheat::InputLabel] {
        let aborts = play(cheat, Party::Garbler, 16);
        assert!(aborts >= 1, "{cheat:?} was never caught");
    }
}

#[test]
fn a_cheating_evaluator_is_always_caught() {
    for cheat in [
        Cheat::WrongMac,
        Cheat::OpenedShare,
        Cheat::FalseOutputShare,
        Cheat::FalseMaskedValue,
        Cheat::CotColumn,
    ] {
        assert_eq!(play(cheat, Party::Evaluator, 3), 3, "{cheat:?}");
    }
    assert!(play(Cheat::LeakyAndMessage, Party::Evaluator, 16) >= 1);
}

#[test]
fn an_evaluator_that_searches_the_leaky_and_commitment_is_still_caught_half_of_the_time() {
    // The cheater flips one leaky-AND half gate, so the garbler's digest is one of two values
    // (one per garbler share bit), and answers with the one it can match to the garbler's
    // commitment. The salted commitment leaves it to guess: over 48 sessions it must be caught
    // about half of the time (binomial 48, 1/2: outside 8..=40 with probability below 2^-20),
    // never 0 (an unsalted commitment) and never always.
    let trials = 48;
    let aborts = play(Cheat::LeakyAndSearch, Party::Evaluator, trials);
    assert!(
        (8..=40).contains(&aborts),
        "caught {aborts} times in {trials}: the commitment does not hide the garbler's digest"
    );
}

#[test]
fn every_run_of_a_session_counts_in_the_failure_budget() {
    // A session of 4096 runs of a small circuit makes 4096 chunks of triples; each must be
    // bucketed so that the whole session, not one run, stays within 2^-RHO.
    use garbled::auth::{chunks_bound, prep};
    let p = compile(&and_circuit()).unwrap();
    let n = p.and_count();
    for runs in [1u64, 2, 4096, 1 << 20] {
        let chunks = chunks_bound(&p, runs);
        assert!(
            chunks as u64 >= runs,
            "{runs} runs counted as {chunks} chunks"
        );
        let b = prep::bucket_size(n, chunks);
        let bits = (b as f64 - 1.0) * (n as f64).log2();
        assert!(
            bits > f64::from(prep::RHO) + (runs as f64).log2(),
            "{runs} runs: bucket {b} gives {bits:.1} bits"
        );
    }
    assert!(
        prep::bucket_size(n, chunks_bound(&p, 4096)) > prep::bucket_size(n, chunks_bound(&p, 1))
    );
}

#[test]
fn a_garbler_that_garbles_another_function_is_caught() {
    // Agreed: x AND y. The cheater garbles (x XOR y) AND y instead, which with x = 0 would hand
    // it the evaluator's y.
    let honest = and_circuit();
    let evil = {
        let mut b = Builder::new();
        let x = b.input("x", 8);
        let y = b.input("y", 8);
        let z: Vec<_> = x
            .iter()
            .zip(&y)
            .map(|(&p, &q)| {
                let t = b.xor(p, q);
                b.and(t, q)
            })
            .collect();
        let lt = b.lt(&x, &y);
        b.output("and", &z);
        b.output("lt", &[lt]);
        b.finish().unwrap()
    };
    let (p, q) = (compile(&honest).unwrap(), compile(&evil).unwrap());
    assert_eq!(p.and_count(), q.and_count());
    for seed in 0..3 {
        let inputs = random_inputs(&honest, seed);
        let (_, e) = session(
            &p,
            Some(&q),
            &two_party(&honest),
            &[Reveal::Both; 2],
            &inputs,
            None,
            None,
        );
        assert!(
            aborted(&e),
            "the evaluator accepted another function: {e:?}"
        );
    }
}

#[test]
fn a_selective_failure_attempt_aborts_independently_of_the_evaluators_input() {
    // The garbler corrupts the evaluator's input label exactly when the masked value is 1, as a
    // semi-honest garbler corrupting the one-label of an OT would. With masked values, the abort
    // must be as likely with y = 0 as with y = 1.
    let mut b = Builder::new();
    let x = b.input("x", 1);
    let y = b.input("y", 1);
    let z = b.and(x[0], y[0]);
    b.output("z", &[z]);
    let c = b.finish().unwrap();
    let p = compile(&c).unwrap();
    let trials = 100;
    let mut rates: Vec<u32> = Vec::new();
    for y in [false, true] {
        let mut aborts = 0;
        for t in 0..trials {
            let inputs = vec![vec![t % 2 == 0], vec![y]];
            let (_, e) = session(
                &p,
                None,
                &[Party::Garbler, Party::Evaluator],
                &[Reveal::Both],
                &inputs,
                Some(Cheat::SelectiveLabel),
                None,
            );
            match e {
                Ok(out) => assert_eq!(out, vec![Some(vec![(t % 2 == 0) & y])]),
                Err(ref err) => {
                    assert!(aborted(&e), "{err:?}");
                    aborts += 1;
                }
            }
        }
        rates.push(aborts);
    }
    // Each rate is about trials/4 (masked value 1 half the time, then the gate's output is
    // wrong half the time); a leak would put one rate near 0. Bounds at about 4 sigma.
    eprintln!(
        "aborts with y = 0: {}/{trials}, with y = 1: {}/{trials}",
        rates[0], rates[1]
    );
    for &r in &rates {
        assert!((8..=45).contains(&r), "abort counts {rates:?}");
    }
    assert!(rates[0].abs_diff(rates[1]) <= 25, "abort counts {rates:?}");
}

#[test]
fn circuits_of_several_chunks_and_streamed_programs_compute_correctly() {
    // Eleven AES-128 copies: 70 400 AND gates, more than one preprocessing chunk; compiled in
    // memory and through the streaming compiler (segments read back from spool files).
    let c = garbled::circuit::library::aes128_many(11).unwrap();
    let memory = compile(&c).unwrap();
    assert!(memory.and_count() > garbled::auth::prep::TRIPLE_CHUNK);
    let text = garbled::circuit::bristol::to_fashion_string(&c);
    let spool = garbled::spool::SpoolDir::new(None).unwrap();
    let (streamed, _) = garbled::compile::stream::compile_bristol(
        text.as_bytes(),
        garbled::circuit::FormatChoice::Auto,
        &garbled::circuit::Limits::default(),
        &spool,
    )
    .unwrap();
    assert!(streamed.is_streamed());
    let inputs = random_inputs(&c, 5);
    let expected = routed_cleartext(&c, &inputs);
    for p in [&memory, &streamed] {
        let (g, e) = session(
            p,
            None,
            &two_party(&c),
            &[Reveal::Both],
            &inputs,
            None,
            None,
        );
        assert_eq!(g.unwrap(), expected);
        assert_eq!(e.unwrap(), expected);
    }
}

#[test]
fn several_runs_share_a_session() {
    let c = and_circuit();
    let p = compile(&c).unwrap();
    let options = SessionOptions::new(&p, two_party(&c), vec![Reveal::Both; 2])
        .unwrap()
        .with_runs(3)
        .with_security(Security::Malicious);
    let rows: Vec<Vec<Vec<bool>>> = (0..3).map(|s| random_inputs(&c, 40 + s)).collect();
    let (gc, ec) = pair(Duration::from_secs(20));
    std::thread::scope(|s| {
        let (e_options, rows_e) = (options.clone(), rows.clone());
        let p_ref = &p;
        let evaluator = s.spawn(move || -> garbled::Result<Vec<Vec<Option<Vec<bool>>>>> {
            let mut session = EvaluatorSession::start(ec, p_ref, e_options)?;
            let mut all = Vec::new();
            for r in &rows_e {
                all.push(session.run(&r[1..2])?);
            }
            let stats = session.finish()?;
            assert_eq!(stats.and_gates, 3 * p_ref.and_count() as u64);
            assert!(stats.phases.preprocessing > Duration::ZERO);
            Ok(all)
        });
        let mut session = GarblerSession::start(gc, &p, options).unwrap();
        for r in &rows {
            let want = routed_cleartext(&c, r);
            assert_eq!(session.run(&r[0..1]).unwrap(), want);
        }
        session.finish().unwrap();
        let got = evaluator.join().unwrap().unwrap();
        for (r, out) in rows.iter().zip(got) {
            let want = routed_cleartext(&c, r);
            assert_eq!(out, want);
        }
    });
}

#[test]
fn security_levels_must_match_and_three_halves_is_refused() {
    let c = and_circuit();
    let p = compile(&c).unwrap();
    let base = SessionOptions::new(&p, two_party(&c), vec![Reveal::Both; 2]).unwrap();
    let (gc, ec) = pair(Duration::from_secs(20));
    let (g, e) = std::thread::scope(|s| {
        let e_options = base.clone();
        let p_ref = &p;
        let evaluator = s.spawn(move || EvaluatorSession::start(ec, p_ref, e_options).map(|_| ()));
        let g = GarblerSession::start(gc, &p, base.clone().with_security(Security::Malicious))
            .map(|_| ());
        (g, evaluator.join().unwrap())
    });
    for r in [g, e] {
        let text = r.unwrap_err().to_string();
        assert!(text.contains("security level differs"), "{text}");
    }
    let three = base
        .with_scheme(garbled::garble::Scheme::ThreeHalves)
        .with_security(Security::Malicious);
    let (gc, _ec) = pair(Duration::from_secs(2));
    let e = GarblerSession::start(gc, &p, three)
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("semi-honest only"), "{e}");
}

mod cli {
    use super::common::{free_port, garbled, spawn, stderr, stdout};

    fn aes() -> String {
        format!("{}/circuits/aes128.txt", env!("CARGO_MANIFEST_DIR"))
    }
    const KEY: &str = "0x2b7e151628aed2a6abf7158809cf4f3c";
    const PLAINTEXT: &str = "0x3243f6a8885a308d313198a2e0370734";
    const CIPHERTEXT: &str = "0x3925841d02dc09fbdc118597196a0b32";

    fn keygen(dir: &std::path::Path, name: &str) -> (String, String) {
        let path = dir.join(format!("{name}.pem"));
        let o = garbled(&["keygen", "-o", path.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let fingerprint = stdout(&o).lines().last().unwrap().to_string();
        (path.to_str().unwrap().to_string(), fingerprint)
    }

    /// Garbler and evaluator processes over TLS with the given security levels.
    fn two_hosts(
        garbler_security: &str,
        evaluator_security: &str,
    ) -> (std::process::Output, std::process::Output) {
        let dir = std::env::temp_dir().join(format!(
            "garbled-malicious-{}-{garbler_security}-{evaluator_security}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (a, a_fp) = keygen(&dir, "a");
        let (b, b_fp) = keygen(&dir, "b");
        let listen = format!("127.0.0.1:{}", free_port());
        let g = spawn(&[
            "run",
            &aes(),
            "--role",
            "garbler",
            "--listen",
            &listen,
            "--identity",
            &a,
            "--peer",
            &b_fp,
            "--input",
            KEY,
            "--timeout",
            "20",
            "--security",
            garbler_security,
        ]);
        let e = garbled(&[
            "run",
            &aes(),
            "--role",
            "evaluator",
            "--connect",
            &listen,
            "--identity",
            &b,
            "--peer",
            &a_fp,
            "--input",
            PLAINTEXT,
            "--timeout",
            "20",
            "--security",
            evaluator_security,
        ]);
        let g = g.wait_with_output().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (g, e)
    }

    #[test]
    fn two_processes_compute_aes_128_with_malicious_security_over_tls() {
        let (g, e) = two_hosts("malicious", "malicious");
        assert!(g.status.success(), "{}", stderr(&g));
        assert!(e.status.success(), "{}", stderr(&e));
        assert_eq!(stdout(&g), format!("{CIPHERTEXT}\n"));
        assert_eq!(stdout(&e), format!("{CIPHERTEXT}\n"));
    }

    #[test]
    fn a_security_mismatch_is_named_on_both_sides_and_prints_no_output() {
        let (g, e) = two_hosts("malicious", "semi-honest");
        for o in [&g, &e] {
            assert!(!o.status.success());
            assert_eq!(stdout(o), "");
            assert!(
                stderr(o).contains("security level differs") && stderr(o).contains("--security"),
                "{}",
                stderr(o)
            );
        }
    }

    #[test]
    fn local_runs_and_comparisons_report_the_security_level() {
        let o = garbled(&[
            "run",
            &aes(),
            "--input",
            KEY,
            "--input",
            PLAINTEXT,
            "--security",
            "malicious",
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["outputs"][0], CIPHERTEXT);
        assert_eq!(v["stats"]["security"], "malicious");
        assert!(v["stats"]["phases"]["preprocessing_ms"].as_f64().unwrap() > 0.0);
        let o = garbled(&[
            "compare",
            "--value",
            "-5",
            "--value",
            "3",
            "--signed",
            "--bits",
            "16",
            "--security",
            "malicious",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "less\n");
        let o = garbled(&[
            "run",
            &aes(),
            "--input",
            KEY,
            "--input",
            PLAINTEXT,
            "--security",
            "malicious",
            "--scheme",
            "three-halves",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("semi-honest only"), "{}", stderr(&o));
    }
}
