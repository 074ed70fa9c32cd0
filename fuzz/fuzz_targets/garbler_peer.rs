//! An honest garbler against an arbitrary evaluator: the fuzz input is everything the peer sends
//! (handshake, base-OT point, IKNP columns, output bits, end marker). Every outcome must be a
//! result or a typed error.
#![no_main]

use garbled::circuit::library;
use garbled::compile::compile;
use garbled::net::replay::ReplayChannel;
use garbled::protocol::{GarblerSession, Party, Reveal, SessionOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let circuit = library::generate("compare", 8, 2).expect("built-in circuit");
    let program = compile(&circuit).expect("compiles");
    let options = SessionOptions::new(&program, vec![Party::Garbler, Party::Evaluator], vec![Reveal::Both; 2])
        .expect("valid options");
    let channel = ReplayChannel::new(data.to_vec());
    let Ok(mut session) = GarblerSession::start(channel, &program, options) else { return };
    if session.run(&[vec![true, false, true, false, false, false, true, false]]).is_ok() {
        let _ = session.finish();
    }
});
