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
    let options = SessionOptions::new(program, owners.to_vec(), reveal.to_vec())
        .unwrap()
        .with_security(Security::Malicious);
    let mine = |party: Party| -> Vec<Vec<bool>> {
        owners
            .iter()
            .zip(inputs)
            .filter(|(o, _)| **o == party)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (g_in, e_in) = (mine(Party::Garbler), mine(Party::Evaluator));
    let (gc, ec) = pair(Duration::from_secs(20));
    std::thread::scope(|s| {
        let e_options = options.clone();
        let evaluator = s.spawn(move || -> Out {
            let mut session = EvaluatorSession::start(ec, program, e_options)?;
            if let Some(c) = evaluator_cheat {
                session.set_cheat(c);
            }
            let out = session.run(&e_in)?;
            session.finish()?;
            Ok(out)
        });
        let garbler = (|| -> Out {
            let mut session = GarblerSession::start(gc, program, options)?;
            if let Some(c) = garbler_cheat {
                session.set_cheat(c);
            }
            let out = session.run_with(garbler_program.unwrap_or(program), &g_in)?;
            session.finish()?;
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
        let expected: Vec<Option<Vec<bool>>> = plain::eval_bits(&c, &inputs)
            .unwrap()
            .into_iter()
            .map(Some)
            .collect();
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
