//! An honest party of a `--security malicious` session against an arbitrary peer. The first byte
//! of the fuzz input picks our role (even: garbler, odd: evaluator); the rest is everything the
//! peer sends (handshake, both base-OT instances, correlated-OT columns and checks, leaky-AND
//! ciphertexts, commitments, coin and openings, garbled tables, masked values, digests, output
//! shares, end marker). Every outcome must be a result or a typed error.
#![no_main]

use garbled::auth::Security;
use garbled::circuit::library;
use garbled::compile::compile;
use garbled::net::replay::ReplayChannel;
use garbled::protocol::{EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&role, rest)) = data.split_first() else { return };
    let circuit = library::generate("compare", 4, 2).expect("built-in circuit");
    let program = compile(&circuit).expect("compiles");
    let options = SessionOptions::new(&program, vec![Party::Garbler, Party::Evaluator], vec![Reveal::Both; 2])
        .expect("valid options")
        .with_security(Security::Malicious);
    let channel = ReplayChannel::new(rest.to_vec());
    let input = [vec![true, false, true, false]];
    if role % 2 == 0 {
        let Ok(mut session) = GarblerSession::start(channel, &program, options) else { return };
        if session.run(&input).is_ok() {
            let _ = session.finish();
        }
    } else {
        let Ok(mut session) = EvaluatorSession::start(channel, &program, options) else { return };
        if session.run(&input).is_ok() {
            let _ = session.finish();
        }
    }
});
