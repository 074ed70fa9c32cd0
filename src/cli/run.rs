//! `garbled run`: a circuit file garbled between two parties.

use clap::Args;

use super::net::{NetArgs, run_local, stats_json, stats_line};
use super::progress::ProgressBar;
use super::{CircuitArgs, parse_inputs, print_outputs};
use crate::compile::{Program, compile};
use crate::error::{Error, Result};
use crate::protocol::{
    EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions, SessionStats,
};
use crate::value::BitOrder;

/// Arguments of `garbled run`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without --role, both parties run in this process over a loopback TLS connection and --input is
given for every input group. With --role, this process is one party: pass --input only for the
groups it owns, in order, and --listen or --connect to reach the peer (start the two sides in
either order). Both parties must pass the same circuit, --owners and --reveal.

Two hosts talk over TLS 1.3 with pinned keys: each party makes an identity once with
`garbled keygen -o FILE` (it prints the fingerprint to give the other party) and passes its own
file as --identity and the other's fingerprint as --peer. --insecure uses plaintext TCP instead.

Example, on two hosts:
  garbled run circuits/lt64.txt --role garbler --listen :7000 --identity a.pem --peer FP_OF_B --input 41
  garbled run circuits/lt64.txt --role evaluator --connect host-a:7000 --identity b.pem --peer FP_OF_A --input 99")]
pub(crate) struct RunArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    /// A value for an input group (decimal, 0x… hex or 0b… binary), one per group in order.
    #[arg(long = "input", value_name = "V", allow_hyphen_values = true)]
    inputs: Vec<String>,
    #[command(flatten)]
    net: NetArgs,
    /// Owner of each input group, comma-separated: garbler or evaluator (default for two groups:
    /// garbler,evaluator; for one group: garbler).
    #[arg(long, value_name = "LIST")]
    owners: Option<String>,
    /// Who learns the outputs: both, garbler or evaluator; one value for all groups or a
    /// comma-separated list, one per output group.
    #[arg(long, value_name = "LIST", default_value = "both")]
    reveal: String,
    /// lsb0: wire k of a group carries bit k of the value; msb0: bit n-1-k.
    #[arg(long, value_name = "ORDER", default_value = "lsb0", value_parser = ["lsb0", "msb0"])]
    bit_order: String,
    /// Print {"outputs": [...], "stats": {...}} instead of one line per received output group.
    #[arg(long)]
    json: bool,
}

/// Parses `--owners`.
pub(crate) fn parse_owners(text: Option<&str>, groups: usize) -> Result<Vec<Party>> {
    let Some(text) = text else {
        return SessionOptions::default_owners(groups);
    };
    let owners = text
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<Vec<Party>>>()?;
    if owners.len() != groups {
        return Err(Error::arg(format!(
            "--owners lists {} owner(s) but the circuit has {groups} input group(s)",
            owners.len()
        )));
    }
    Ok(owners)
}

/// Parses `--reveal`: one value for every group, or one per group.
pub(crate) fn parse_reveal(text: &str, groups: usize) -> Result<Vec<Reveal>> {
    let list = text
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<Vec<Reveal>>>()?;
    match list.len() {
        1 => Ok(vec![list[0]; groups]),
        n if n == groups => Ok(list),
        n => Err(Error::arg(format!(
            "--reveal lists {n} routing(s) but the circuit has {groups} output group(s); give one for all or one per group"
        ))),
    }
}

fn owned_widths(program: &Program, owners: &[Party], party: Party) -> Vec<u32> {
    owners
        .iter()
        .zip(program.input_widths())
        .filter(|(o, _)| **o == party)
        .map(|(_, w)| *w)
        .collect()
}

pub(crate) fn run(args: &RunArgs) -> Result<()> {
    let order: BitOrder = args.bit_order.parse()?;
    let role = args.net.role()?;
    let parsed = args.circuit.load()?;
    let widths = parsed.circuit.input_widths();
    let owners = parse_owners(args.owners.as_deref(), widths.len())?;
    let reveal = parse_reveal(&args.reveal, parsed.circuit.output_widths().len())?;
    let program = compile(&parsed.circuit)?;
    drop(parsed);
    let options = SessionOptions::new(&program, owners.clone(), reveal)?;
    let mut bar = ProgressBar::new(args.json);
    let (outputs, stats): (Vec<Option<Vec<bool>>>, SessionStats) = match role {
        None => {
            let all = parse_inputs(&args.inputs, &widths, order)?;
            let split = |party: Party| -> Vec<Vec<bool>> {
                owners
                    .iter()
                    .zip(&all)
                    .filter(|(o, _)| **o == party)
                    .map(|(_, v)| v.clone())
                    .collect()
            };
            let (g_in, e_in) = (split(Party::Garbler), split(Party::Evaluator));
            let e_options = options.clone();
            let program = &program;
            let ((g_out, g_stats), e_out) = run_local(
                args.net.timeouts(),
                !args.net.insecure,
                |channel| {
                    let mut s = GarblerSession::start(channel, program, options)?;
                    s.set_progress(Box::new(|d, t| bar.update(d, t)));
                    let out = s.run(&g_in)?;
                    Ok((out, s.finish()?))
                },
                move |channel| {
                    let mut s = EvaluatorSession::start(channel, program, e_options)?;
                    let out = s.run(&e_in)?;
                    s.finish()?;
                    Ok(out)
                },
            )?;
            // Locally both views are ours: every group was revealed to someone.
            let merged = g_out.into_iter().zip(e_out).map(|(g, e)| g.or(e)).collect();
            (merged, g_stats)
        }
        Some(party) => {
            let mine = owned_widths(&program, &owners, party);
            let name = if party == Party::Garbler {
                "garbler"
            } else {
                "evaluator"
            };
            if args.inputs.len() != mine.len() {
                let list: Vec<String> = mine.iter().map(u32::to_string).collect();
                return Err(Error::arg(format!(
                    "the {name} owns {} input group(s) (widths {}) but {} --input value(s) were given; \
                     pass one --input per owned group, in order (see --owners)",
                    mine.len(),
                    list.join(", "),
                    args.inputs.len()
                )));
            }
            let inputs = parse_inputs(&args.inputs, &mine, order)?;
            let channel = args.net.channel()?;
            if party == Party::Garbler {
                let mut s = GarblerSession::start(channel, &program, options)?;
                s.set_progress(Box::new(|d, t| bar.update(d, t)));
                let out = s.run(&inputs)?;
                (out, s.finish()?)
            } else {
                let mut s = EvaluatorSession::start(channel, &program, options)?;
                s.set_progress(Box::new(|d, t| bar.update(d, t)));
                let out = s.run(&inputs)?;
                (out, s.finish()?)
            }
        }
    };
    bar.finish();
    print_outputs(
        &outputs,
        order,
        args.json,
        Some(("stats", stats_json(&stats))),
    );
    if !args.json {
        eprintln!("garbled: {}", stats_line(&stats));
    }
    Ok(())
}
