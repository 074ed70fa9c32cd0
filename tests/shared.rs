//! `--reveal shared`: the two parties' outputs XOR to the value, and each alone is uniformly
//! random (a frequency test per bit over 200 sessions with fixed inputs), in both security
//! levels; and the command line's form of it.

mod common;

use common::{garbled, spawn, stderr, stdout};
use garbled::circuit::library::generate;
use garbled::circuit::plain::eval_bits;
use garbled::compile::compile;
use garbled::net::memory::pair;
use garbled::protocol::{Party, Reveal, Security, SessionOptions, run_evaluator, run_garbler};

fn bits(v: u32) -> Vec<bool> {
    (0..32).map(|k| v >> k & 1 == 1).collect()
}

/// 200 sessions of a 32-bit adder on the same inputs with the output shared: the shares XOR to
/// the sum every time, and every bit of either share is 1 in 60..=140 of the 200 (a fair coin
/// leaves that range with probability below 10^-8 per bit).
fn shares_are_uniform_and_xor_to_the_value(security: Security) {
    let circuit = generate("add", 32, 2).unwrap();
    let program = compile(&circuit).unwrap();
    let (a, b) = (0x1234_5678u32, 0x0f0f_0f0fu32);
    let expected = eval_bits(&circuit, &[bits(a), bits(b)]).unwrap().remove(0);
    let options = SessionOptions::new(
        &program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Shared],
    )
    .unwrap()
    .with_security(security);
    let runs = 200;
    let (mut ones_g, mut ones_e) = (vec![0u32; 32], vec![0u32; 32]);
    for _ in 0..runs {
        let (g, e) = pair(std::time::Duration::from_secs(10));
        let (program, eo) = (&program, options.clone());
        let (g_out, e_out) = std::thread::scope(|s| {
            let ev = s.spawn(move || run_evaluator(program, &[bits(b)], e, eo).unwrap().0);
            let go = run_garbler(program, &[bits(a)], g, options.clone())
                .unwrap()
                .0;
            (go, ev.join().unwrap())
        });
        let gs = g_out[0].clone().expect("the garbler has a share");
        let es = e_out[0].clone().expect("the evaluator has a share");
        let xor: Vec<bool> = gs.iter().zip(&es).map(|(x, y)| x ^ y).collect();
        assert_eq!(
            xor, expected,
            "{security:?}: the shares do not XOR to the sum"
        );
        for k in 0..32 {
            ones_g[k] += u32::from(gs[k]);
            ones_e[k] += u32::from(es[k]);
        }
    }
    for k in 0..32 {
        assert!(
            (60..=140).contains(&ones_g[k]),
            "{security:?}: bit {k} of the garbler's share was 1 in {} of {runs} runs",
            ones_g[k]
        );
        assert!(
            (60..=140).contains(&ones_e[k]),
            "{security:?}: bit {k} of the evaluator's share was 1 in {} of {runs} runs",
            ones_e[k]
        );
    }
}

#[test]
fn semi_honest_shares_are_uniform_and_xor_to_the_value() {
    shares_are_uniform_and_xor_to_the_value(Security::SemiHonest);
}

#[test]
fn malicious_shares_are_uniform_and_xor_to_the_value() {
    shares_are_uniform_and_xor_to_the_value(Security::Malicious);
}

#[test]
fn shared_and_revealed_groups_mix_in_one_run() {
    // Two output groups (less, equal): the first shared, the second revealed to both.
    let circuit = generate("compare", 32, 2).unwrap();
    let program = compile(&circuit).unwrap();
    for security in [Security::SemiHonest, Security::Malicious] {
        let options = SessionOptions::new(
            &program,
            vec![Party::Garbler, Party::Evaluator],
            vec![Reveal::Shared, Reveal::Both],
        )
        .unwrap()
        .with_security(security);
        let (g, e) = pair(std::time::Duration::from_secs(10));
        let (program_ref, eo) = (&program, options.clone());
        let (g_out, e_out) = std::thread::scope(|s| {
            let ev = s.spawn(move || run_evaluator(program_ref, &[bits(7)], e, eo).unwrap().0);
            let go = run_garbler(program_ref, &[bits(3)], g, options).unwrap().0;
            (go, ev.join().unwrap())
        });
        let less = g_out[0].as_ref().unwrap()[0] ^ e_out[0].as_ref().unwrap()[0];
        assert!(less, "{security:?}: 3 < 7");
        assert_eq!(g_out[1], Some(vec![false]));
        assert_eq!(e_out[1], Some(vec![false]));
    }
}

fn parse_hex(text: &str) -> u64 {
    u64::from_str_radix(text.trim().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn run_with_reveal_shared_prints_shares_that_xor_to_eval() {
    let circuit = format!("{}/circuits/add32.txt", env!("CARGO_MANIFEST_DIR"));
    let port = common::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let g = spawn(&[
        "run",
        &circuit,
        "--role",
        "garbler",
        "--listen",
        &listen,
        "--insecure",
        "--reveal",
        "shared",
        "--input",
        "3000000000",
    ]);
    let e = garbled(&[
        "run",
        &circuit,
        "--role",
        "evaluator",
        "--connect",
        &listen,
        "--insecure",
        "--reveal",
        "shared",
        "--input",
        "2000000000",
    ]);
    let g = g.wait_with_output().unwrap();
    assert!(g.status.success(), "{}", stderr(&g));
    assert!(e.status.success(), "{}", stderr(&e));
    let expected = garbled(&[
        "eval",
        &circuit,
        "--input",
        "3000000000",
        "--input",
        "2000000000",
    ]);
    let sum = parse_hex(&stdout(&expected));
    let (gs, es) = (parse_hex(&stdout(&g)), parse_hex(&stdout(&e)));
    assert_eq!(gs ^ es, sum);
    assert_ne!(gs, sum, "the garbler's share is the sum itself");
    assert_ne!(es, sum, "the evaluator's share is the sum itself");
    // Both parties here would see both shares: refused with the way out.
    let local = garbled(&[
        "run", &circuit, "--input", "1", "--input", "2", "--reveal", "shared",
    ]);
    assert_eq!(local.status.code(), Some(2));
    assert!(stderr(&local).contains("--role"), "{}", stderr(&local));
}
