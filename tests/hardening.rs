//! Untrusted input, mutated: circuit files and recorded peer streams with bits flipped, cut,
//! duplicated or sprinkled with random tokens must give a clean result or a typed error, never a
//! panic. And secrets: every session draws a fresh Delta, and nothing secret is printed.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use garbled::Error;
use garbled::circuit::{FormatChoice, Limits, bristol, library};
use garbled::compile::{Program, compile};
use garbled::net::memory::pair;
use garbled::net::replay::{RecordingChannel, ReplayChannel};
use garbled::protocol::{EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions};
use proptest::prelude::*;

/// A mutation of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Truncate { at: usize },
    Duplicate { start: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    InsertToken { at: usize, token: &'static str },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..64).prop_map(|(start, len)| Mutation::Duplicate { start, len }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (
            any::<usize>(),
            prop::sample::select(vec![
                " ",
                "\n",
                "AND",
                "XOR",
                "INV",
                "MAND",
                "EQ",
                "EQW",
                "0",
                "1",
                "99999999999",
                "-1",
                "4294967296",
                "\r\n",
                "2 1 0 0 0 AND\n"
            ])
        )
            .prop_map(|(at, token)| Mutation::InsertToken { at, token }),
    ]
}

fn apply(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    for m in mutations {
        let n = v.len().max(1);
        match m {
            Mutation::Flip { at, bit } => {
                if !v.is_empty() {
                    let i = at % v.len();
                    v[i] ^= 1 << bit;
                }
            }
            Mutation::Truncate { at } => v.truncate(at % n),
            Mutation::Duplicate { start, len } => {
                if !v.is_empty() {
                    let s = start % v.len();
                    let e = (s + len).min(v.len());
                    let piece = v[s..e].to_vec();
                    v.splice(e..e, piece);
                }
            }
            Mutation::Insert { at, bytes } => {
                let i = at % (v.len() + 1);
                v.splice(i..i, bytes.iter().copied());
            }
            Mutation::InsertToken { at, token } => {
                let i = at % (v.len() + 1);
                v.splice(i..i, token.bytes());
            }
        }
    }
    v
}

fn seed_circuits() -> &'static Vec<Vec<u8>> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds: Vec<Vec<u8>> = ["lt", "add", "mux", "eq"]
            .iter()
            .map(|n| bristol::to_fashion_string(&library::generate(n, 4, 2).unwrap()).into_bytes())
            .collect();
        seeds.push(b"4 7\n2 1   2\n\n2 1 0 1 3 AND\n1 1 2 4 INV\n2 1 3 4 5 XOR\n2 1 0 2 6 XOR\n".to_vec());
        seeds.push(
            b"10 15\n2 2 2\n2 1 2\n\n2 1 0 2 4 AND\n2 1 1 3 5 XOR\n1 1 0 6 INV\n1 1 1 7 EQ\n1 1 3 8 EQW\n4 2 0 1 3 2 9 10 MAND\n2 1 9 10 11 XOR\n2 1 4 7 12 XOR\n2 1 11 5 13 AND\n2 1 6 8 14 XOR\n"
                .to_vec(),
        );
        seeds
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn mutated_circuit_files_parse_or_fail_cleanly(seed in 0usize..6, mutations in proptest::collection::vec(mutation(), 1..5), mode in 0u8..3) {
        let text = apply(&seed_circuits()[seed], &mutations);
        let format = [FormatChoice::Auto, FormatChoice::Fashion, FormatChoice::Bristol][mode as usize];
        let limits = Limits { max_wires: 1 << 20, max_gates: 1 << 20 };
        match bristol::parse(text.as_slice(), format, &limits) {
            Ok(parsed) => {
                // Whatever is accepted is a valid circuit: it compiles and evaluates.
                let program = compile(&parsed.circuit).unwrap();
                prop_assert_eq!(program.input_count(), parsed.circuit.input_wire_count());
                garbled::circuit::plain::eval_lanes(&parsed.circuit, &vec![0; parsed.circuit.input_wire_count()]).unwrap();
            }
            Err(Error::Parse { line, message, .. }) => {
                prop_assert!(!message.is_empty());
                prop_assert!(line >= 1, "{}", message);
            }
            Err(Error::LimitExceeded(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error kind: {:?}", other),
        }
    }
}

fn program() -> &'static Program {
    static P: OnceLock<Program> = OnceLock::new();
    P.get_or_init(|| compile(&library::generate("compare", 8, 2).unwrap()).unwrap())
}

fn options() -> SessionOptions {
    SessionOptions::new(
        program(),
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both; 2],
    )
    .unwrap()
}

/// What each side received in one honest session (the end markers included).
fn transcripts() -> &'static (Vec<u8>, Vec<u8>) {
    static T: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    T.get_or_init(|| {
        let (g, e) = pair(Duration::from_secs(10));
        let (g, e) = (RecordingChannel::new(g), RecordingChannel::new(e));
        std::thread::scope(|s| {
            let evaluator = s.spawn(move || {
                let mut session = EvaluatorSession::start(e, program(), options()).unwrap();
                session.run(&[vec![true; 8]]).unwrap();
                let seen = session.channel().received().to_vec();
                session.finish().unwrap();
                seen
            });
            let mut session = GarblerSession::start(g, program(), options()).unwrap();
            session.run(&[vec![false; 8]]).unwrap();
            let seen = session.channel().received().to_vec();
            session.finish().unwrap();
            let end = b"GARBEND\0";
            (
                [&seen[..], end].concat(),
                [&evaluator.join().unwrap()[..], end].concat(),
            )
        })
    })
}

fn typed(e: &Error) -> bool {
    matches!(
        e,
        Error::PeerMisbehaved(_)
            | Error::PeerClosed(_)
            | Error::Mismatch { .. }
            | Error::Timeout(_)
            | Error::Io { .. }
    )
}

#[test]
fn replayed_peers_are_refused_at_the_base_ot() {
    let (to_garbler, to_evaluator) = transcripts();
    // A garbler facing a replayed evaluator: the evaluator's proof of knowledge is bound to the
    // session id, which the fresh handshake nonces change, so it no longer verifies.
    match GarblerSession::start(ReplayChannel::new(to_garbler.clone()), program(), options()) {
        Err(Error::PeerMisbehaved(m)) => assert!(m.contains("proof of knowledge"), "{m}"),
        other => panic!("a replayed evaluator was accepted: {:?}", other.map(|_| ())),
    }
    // An evaluator facing a replayed garbler: the recorded answer to the base-OT challenge fits
    // the recorded keys, not the fresh ones, so the verification phase refuses it (before the
    // evaluator's choice bits enter any OT).
    match EvaluatorSession::start(
        ReplayChannel::new(to_evaluator.clone()),
        program(),
        options(),
    ) {
        Err(Error::PeerMisbehaved(m)) => assert!(m.contains("verification failed"), "{m}"),
        other => panic!("a replayed garbler was accepted: {:?}", other.map(|_| ())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn mutated_peer_streams_end_cleanly(mutations in proptest::collection::vec(mutation(), 1..4), garbler_side in any::<bool>()) {
        let (to_garbler, to_evaluator) = transcripts();
        let outcome = if garbler_side {
            let stream = apply(to_garbler, &mutations);
            GarblerSession::start(ReplayChannel::new(stream), program(), options())
                .and_then(|mut s| s.run(&[vec![false; 8]]).and_then(|_| s.finish()))
        } else {
            let stream = apply(to_evaluator, &mutations);
            EvaluatorSession::start(ReplayChannel::new(stream), program(), options())
                .and_then(|mut s| s.run(&[vec![true; 8]]).and_then(|_| s.finish()))
        };
        // A mutation inside the tables or labels goes unnoticed (semi-honest garbling cannot tell),
        // so success is allowed; any failure must be a typed peer error.
        if let Err(e) = outcome {
            prop_assert!(typed(&e), "untyped failure: {:?}", e);
        }
    }
}

#[test]
fn every_session_draws_a_fresh_delta() {
    let mut deltas = Vec::new();
    for _ in 0..4 {
        let (g, e) = pair(Duration::from_secs(10));
        let delta = std::thread::scope(|s| {
            let evaluator =
                s.spawn(move || EvaluatorSession::start(e, program(), options()).map(|_| ()));
            let session = GarblerSession::start(g, program(), options()).unwrap();
            let d = session.delta().block();
            evaluator.join().unwrap().unwrap();
            d
        });
        assert!(delta.lsb(), "lsb(Delta) = 1");
        deltas.push(delta);
    }
    for i in 0..deltas.len() {
        for j in i + 1..deltas.len() {
            assert_ne!(deltas[i], deltas[j], "two sessions shared Delta");
        }
    }
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let (g, e) = pair(Duration::from_secs(10));
    std::thread::scope(|s| {
        let evaluator =
            s.spawn(move || EvaluatorSession::start(e, program(), options()).map(|_| ()));
        let session = GarblerSession::start(g, program(), options()).unwrap();
        let delta = session.delta().block().value();
        let shown = format!("{:?}", session.delta());
        assert!(!shown.contains(&format!("{delta:x}")), "{shown}");
        evaluator.join().unwrap().unwrap();
    });
    let mut prg = garbled::aes::Prg::from_seed([1; 16]);
    assert_eq!(format!("{prg:?}"), "Prg(<secret>)");
    let _ = prg.block();
}
