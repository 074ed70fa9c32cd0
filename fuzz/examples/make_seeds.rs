//! Writes the seed corpus: valid circuits of both dialects, and the bytes each party receives in
//! a real session (recorded), so the fuzzers start past the handshake.
//! Run from `fuzz/`: `cargo run --release --example make_seeds`.

use std::path::Path;
use std::time::Duration;

use garbled::circuit::{bristol, library};
use garbled::compile::compile;
use garbled::net::memory::pair;
use garbled::net::replay::RecordingChannel;
use garbled::protocol::{EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions};

fn write(dir: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    // Parser: mode byte then the file.
    for (name, bits) in [("lt", 4), ("add", 3), ("eq", 2), ("mux", 2)] {
        let text = bristol::to_fashion_string(&library::generate(name, bits, 2).unwrap());
        for mode in 0..2u8 {
            write("bristol_parser", &format!("{name}{bits}_{mode}"), &[&[mode][..], text.as_bytes()].concat());
        }
    }
    let old = "4 7\n2 1   2\n\n2 1 0 1 3 AND\n1 1 2 4 INV\n2 1 3 4 5 XOR\n2 1 0 2 6 XOR\n";
    write("bristol_parser", "old_format", &[&[2u8][..], old.as_bytes()].concat());
    let all = "10 15\n2 2 2\n2 1 2\n\n2 1 0 2 4 AND\n2 1 1 3 5 XOR\n1 1 0 6 INV\n1 1 1 7 EQ\n1 1 3 8 EQW\n4 2 0 1 3 2 9 10 MAND\n2 1 9 10 11 XOR\n2 1 4 7 12 XOR\n2 1 11 5 13 AND\n2 1 6 8 14 XOR\n";
    write("bristol_parser", "all_gates", &[&[0u8][..], all.as_bytes()].concat());

    // Sessions: what each side receives from an honest peer.
    let circuit = library::generate("compare", 8, 2).unwrap();
    let program = compile(&circuit).unwrap();
    let options = SessionOptions::new(&program, vec![Party::Garbler, Party::Evaluator], vec![Reveal::Both; 2]).unwrap();
    let (garbler_saw, evaluator_saw) = record(&program, options, 8);
    // The end markers arrive during finish: append them.
    let end = b"GARBEND\0";
    write("garbler_peer", "honest_evaluator", &[&garbler_saw[..], end].concat());
    write("evaluator_peer", "honest_garbler", &[&evaluator_saw[..], end].concat());
    write("handshake", "honest_hello", &garbler_saw[..garbler_saw.len().min(512)]);

    // A malicious session (compare, 4 bits): the role byte, then what that side received.
    let circuit = library::generate("compare", 4, 2).unwrap();
    let program = compile(&circuit).unwrap();
    let options = SessionOptions::new(&program, vec![Party::Garbler, Party::Evaluator], vec![Reveal::Both; 2])
        .unwrap()
        .with_security(garbled::auth::Security::Malicious);
    let (garbler_saw, evaluator_saw) = record(&program, options, 4);
    write("malicious_peer", "honest_evaluator", &[&[0u8][..], &garbler_saw[..], end].concat());
    write("malicious_peer", "honest_garbler", &[&[1u8][..], &evaluator_saw[..], end].concat());
    println!("seeds written under corpus/");
}

/// Runs one session in memory and returns what the garbler and the evaluator received (without
/// the end markers, which arrive during `finish`).
fn record(program: &garbled::compile::Program, options: SessionOptions, bits: usize) -> (Vec<u8>, Vec<u8>) {
    let (g, e) = pair(Duration::from_secs(10));
    let (g, e) = (RecordingChannel::new(g), RecordingChannel::new(e));
    std::thread::scope(|s| {
        let e_options = options.clone();
        let evaluator = s.spawn(move || {
            let mut session = EvaluatorSession::start(e, program, e_options).unwrap();
            session.run(&[vec![true; bits]]).unwrap();
            let seen = session.channel().received().to_vec();
            session.finish().unwrap();
            seen
        });
        let mut session = GarblerSession::start(g, program, options).unwrap();
        session.run(&[vec![false; bits]]).unwrap();
        let seen = session.channel().received().to_vec();
        session.finish().unwrap();
        (seen, evaluator.join().unwrap())
    })
}
