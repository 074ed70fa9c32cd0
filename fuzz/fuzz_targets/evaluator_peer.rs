//! An honest evaluator against an arbitrary garbler: the fuzz input is everything the peer sends
//! (handshake, base-OT reply, input labels, tables, decoding bits, end marker).
#![no_main]

use garbled::circuit::library;
use garbled::compile::compile;
use garbled::net::replay::ReplayChannel;
use garbled::protocol::{EvaluatorSession, Party, Reveal, SessionOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let circuit = library::generate("compare", 8, 2).expect("built-in circuit");
    let program = compile(&circuit).expect("compiles");
    let options = SessionOptions::new(&program, vec![Party::Garbler, Party::Evaluator], vec![Reveal::Both; 2])
        .expect("valid options");
    let channel = ReplayChannel::new(data.to_vec());
    let Ok(mut session) = EvaluatorSession::start(channel, &program, options) else { return };
    if session.run(&[vec![false, true, true, false, false, false, false, true]]).is_ok() {
        let _ = session.finish();
    }
});
