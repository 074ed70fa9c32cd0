//! `garbled run`: a circuit file garbled between two parties, once or once per row of an
//! `--inputs` file in one session.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::net::{CommandClock, NetArgs, run_local, stats_json, stats_line};
use super::progress::{ProgressBar, Unit};
use super::rows::{RowLines, open_rows};
use super::{CircuitArgs, parse_inputs};
use crate::compile::{Program, compile};
use crate::error::{Error, Result};
use crate::net::Channel;
use crate::protocol::{
    EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions, SessionStats,
};
use crate::value::{BitOrder, OutputFormat, format_value_as};

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

--inputs FILE runs the circuit once per line of FILE in one session (set-up paid once): a local
run's line holds a value for every input group, a party's line a value for each group it owns,
separated by spaces or commas; blank lines and # comments are skipped; - reads standard input.
Each row prints one line with its output groups separated by a space (- for a group this party
does not learn).

Examples:
  garbled run circuits/add32.txt --input 5 --input 7 --output-format dec
  garbled run circuits/add32.txt --inputs pairs.txt --output-format dec
  garbled run circuits/lt64.txt --role garbler --listen :7000 --identity a.pem --peer FP_OF_B --input 41
  garbled run circuits/lt64.txt --role evaluator --connect host-a:7000 --identity b.pem --peer FP_OF_A --input 99")]
pub(crate) struct RunArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    /// A value for an input group (decimal, 0x… hex or 0b… binary), one per group in order.
    #[arg(long = "input", value_name = "V", allow_hyphen_values = true)]
    inputs: Vec<String>,
    /// A file of rows, one run per line in one session (see below); - for standard input.
    #[arg(long = "inputs", value_name = "FILE", conflicts_with = "inputs")]
    input_file: Option<PathBuf>,
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
    /// How outputs print: hex (0x + ceil(n/4) digits), dec, signed (two's complement in the
    /// group's width) or bin (0b + n digits).
    #[arg(long, value_name = "FORMAT", default_value = "hex", value_parser = ["hex", "dec", "signed", "bin"])]
    output_format: String,
    /// Print {"outputs": [...], "stats": {...}} (with --inputs: {"rows": [[...], ...], ...})
    /// instead of one line per output group.
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

fn party_name(party: Party) -> &'static str {
    match party {
        Party::Garbler => "garbler",
        Party::Evaluator => "evaluator",
    }
}

/// How outputs are shown.
struct Printer {
    order: BitOrder,
    format: OutputFormat,
    json: bool,
    reveal: Vec<Reveal>,
    out: std::io::BufWriter<std::io::Stdout>,
    /// Rows kept for the JSON object.
    rows: Vec<Vec<Option<String>>>,
}

impl Printer {
    fn texts(&self, outputs: &[Option<Vec<bool>>]) -> Vec<Option<String>> {
        outputs
            .iter()
            .map(|o| {
                o.as_ref()
                    .map(|bits| format_value_as(bits, self.order, self.format))
            })
            .collect()
    }

    fn write(&mut self, line: &str) -> Result<()> {
        writeln!(self.out, "{line}").map_err(|e| Error::io("writing to standard output", e))
    }

    /// One run's outputs: one line per group (a group this party does not learn says who does).
    fn single(&mut self, outputs: &[Option<Vec<bool>>]) -> Result<()> {
        let texts = self.texts(outputs);
        if self.json {
            self.rows.push(texts);
            return Ok(());
        }
        for (text, reveal) in texts.into_iter().zip(self.reveal.clone()) {
            let line = text.unwrap_or_else(|| match reveal {
                Reveal::Garbler => "- (revealed to the garbler only)".into(),
                Reveal::Evaluator => "- (revealed to the evaluator only)".into(),
                Reveal::Both => "-".into(),
            });
            self.write(&line)?;
        }
        Ok(())
    }

    /// One row of a batch: its groups on one line.
    fn row(&mut self, outputs: &[Option<Vec<bool>>]) -> Result<()> {
        let texts = self.texts(outputs);
        if self.json {
            self.rows.push(texts);
            return Ok(());
        }
        let line: Vec<String> = texts
            .into_iter()
            .map(|t| t.unwrap_or_else(|| "-".into()))
            .collect();
        self.write(&line.join(" "))
    }

    fn finish(mut self, batch: bool, stats: serde_json::Value) -> Result<()> {
        if self.json {
            let object = if batch {
                serde_json::json!({"rows": self.rows, "stats": stats})
            } else {
                serde_json::json!({"outputs": self.rows.pop().unwrap_or_default(), "stats": stats})
            };
            self.write(&object.to_string())?;
        }
        self.out
            .flush()
            .map_err(|e| Error::io("writing to standard output", e))
    }
}

/// The inputs of one party for every run.
enum Source {
    /// `--input` values: one run.
    Values(Vec<Vec<bool>>),
    /// An `--inputs` file: one run per row.
    File {
        lines: RowLines,
        count: u64,
        widths: Vec<u32>,
        order: BitOrder,
    },
}

/// One row: values separated by whitespace or commas, one per group in `widths`.
fn parse_row(text: &str, widths: &[u32], order: BitOrder) -> Result<Vec<Vec<bool>>> {
    let values: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    if values.len() != widths.len() {
        return Err(Error::arg(format!(
            "{} value(s) on the row, expected {} (one per input group{})",
            values.len(),
            widths.len(),
            if widths.len() == 1 { "" } else { ", in order" }
        )));
    }
    values
        .iter()
        .zip(widths)
        .map(|(v, &w)| crate::value::parse_value(v, w, order))
        .collect()
}

impl Source {
    fn file(path: &std::path::Path, widths: Vec<u32>, order: BitOrder) -> Result<Source> {
        if widths.is_empty() {
            return Err(Error::arg(
                "this party owns no input group, so its rows would be empty; run it with --input-less \
                 runs by giving it no --inputs (one run) or give the groups to it with --owners",
            ));
        }
        let mut lines = open_rows(path)?;
        let name = lines.name().to_string();
        let mut count = 0u64;
        for row in &mut lines {
            let (line_no, text) = row?;
            parse_row(&text, &widths, order)
                .map_err(|e| Error::arg(format!("{name}: line {line_no}: {e}")))?;
            count += 1;
        }
        if count == 0 {
            return Err(Error::arg(format!("{name} has no rows")));
        }
        Ok(Source::File {
            lines: open_rows(path)?,
            count,
            widths,
            order,
        })
    }

    fn runs(&self) -> u64 {
        match self {
            Source::Values(_) => 1,
            Source::File { count, .. } => *count,
        }
    }

    fn next(&mut self) -> Result<Vec<Vec<bool>>> {
        match self {
            Source::Values(v) => Ok(v.clone()),
            Source::File {
                lines,
                widths,
                order,
                ..
            } => {
                let name = lines.name().to_string();
                let (line_no, text) = lines
                    .next()
                    .ok_or_else(|| Error::arg(format!("{name} changed while being read")))??;
                parse_row(&text, widths, *order)
                    .map_err(|e| Error::arg(format!("{name}: line {line_no}: {e}")))
            }
        }
    }
}

/// Splits a local run's row (every group) into the two parties' inputs.
fn split(all: Vec<Vec<bool>>, owners: &[Party]) -> (Vec<Vec<bool>>, Vec<Vec<bool>>) {
    let (mut g, mut e) = (Vec::new(), Vec::new());
    for (value, owner) in all.into_iter().zip(owners) {
        match owner {
            Party::Garbler => g.push(value),
            Party::Evaluator => e.push(value),
        }
    }
    (g, e)
}

/// Runs the garbler's side of every run; `emit` gets each run's outputs.
fn garbler_runs<C: Channel>(
    channel: C,
    program: &Program,
    options: SessionOptions,
    mut next: impl FnMut() -> Result<Vec<Vec<bool>>>,
    mut emit: impl FnMut(Vec<Option<Vec<bool>>>) -> Result<()>,
    bar: Option<&mut ProgressBar>,
) -> Result<SessionStats> {
    let runs = options.runs;
    let mut session = GarblerSession::start(channel, program, options)?;
    if let Some(bar) = bar {
        session.set_progress(Box::new(|d, t| bar.update(d, t)));
    }
    for _ in 0..runs {
        let inputs = next()?;
        emit(session.run(&inputs)?)?;
    }
    session.finish()
}

/// The evaluator's side: the next run's oblivious transfers are prepared while the garbler
/// garbles the current one.
fn evaluator_runs<C: Channel>(
    channel: C,
    program: &Program,
    options: SessionOptions,
    mut next: impl FnMut() -> Result<Vec<Vec<bool>>>,
    mut emit: impl FnMut(Vec<Option<Vec<bool>>>) -> Result<()>,
    bar: Option<&mut ProgressBar>,
) -> Result<SessionStats> {
    let runs = options.runs;
    let mut session = EvaluatorSession::start(channel, program, options)?;
    if let Some(bar) = bar {
        session.set_progress(Box::new(|d, t| bar.update(d, t)));
    }
    let mut current = next()?;
    for run in 0..runs {
        let following = if run + 1 < runs { Some(next()?) } else { None };
        emit(session.run_ahead(&current, following.as_deref())?)?;
        current = following.unwrap_or_default();
    }
    session.finish()
}

pub(crate) fn run(args: &RunArgs) -> Result<()> {
    let order: BitOrder = args.bit_order.parse()?;
    let format: OutputFormat = args.output_format.parse()?;
    let role = args.net.role()?;
    let mut clock = CommandClock::new(role.map_or("both", party_name));
    let parsed = args.circuit.load()?;
    clock.load = clock.start.elapsed();
    let widths = parsed.circuit.input_widths();
    let owners = parse_owners(args.owners.as_deref(), widths.len())?;
    let reveal = parse_reveal(&args.reveal, parsed.circuit.output_widths().len())?;
    let compiling = Instant::now();
    let program = compile(&parsed.circuit)?;
    clock.compile = compiling.elapsed();
    drop(parsed);
    let mine = match role {
        None => widths.clone(),
        Some(party) => owned_widths(&program, &owners, party),
    };
    let mut source = match &args.input_file {
        Some(path) => Source::file(path, mine.clone(), order)?,
        None => {
            if let Some(party) = role
                && args.inputs.len() != mine.len()
            {
                let list: Vec<String> = mine.iter().map(u32::to_string).collect();
                return Err(Error::arg(format!(
                    "the {} owns {} input group(s) (widths {}) but {} --input value(s) were given; \
                     pass one --input per owned group, in order (see --owners)",
                    party_name(party),
                    mine.len(),
                    list.join(", "),
                    args.inputs.len()
                )));
            }
            Source::Values(parse_inputs(&args.inputs, &mine, order)?)
        }
    };
    let batch = args.input_file.is_some();
    let runs = source.runs();
    let mut options = SessionOptions::new(&program, owners.clone(), reveal.clone())?
        .with_runs(runs)
        .with_bit_order(order);
    if batch {
        options = options.with_job(format!("run {runs} row(s)"));
    }
    let mut printer = Printer {
        order,
        format,
        json: args.json,
        reveal,
        out: std::io::BufWriter::new(std::io::stdout()),
        rows: Vec::new(),
    };
    let mut bar = if batch {
        ProgressBar::with_unit(
            args.json,
            Unit::Rows {
                rows: runs,
                and_per_row: program.and_count() as u64,
            },
        )
    } else {
        ProgressBar::new(args.json)
    };
    let mut emit = |outputs: Vec<Option<Vec<bool>>>| {
        if batch {
            printer.row(&outputs)
        } else {
            printer.single(&outputs)
        }
    };
    let stats = match role {
        None => {
            // Both parties here. This thread reads each row once, keeps the garbler's half and
            // hands the evaluator's half to the evaluator's thread one row ahead (it prepares
            // the next run's OTs early); the evaluator sends its view of every run back, and
            // the two views are merged (locally every group is revealed to someone).
            let (to_evaluator, evaluator_inputs) = std::sync::mpsc::sync_channel(4);
            let (to_garbler, evaluator_views) = std::sync::mpsc::sync_channel(4);
            let program = &program;
            let e_options = options.clone();
            let owners = &owners;
            let mut pending = std::collections::VecDeque::new();
            let (mut read, mut consumed) = (0u64, 0u64);
            let mut next_garbler = || -> Result<Vec<Vec<bool>>> {
                // The evaluator asks for row r + 1 before it runs row r.
                while read < runs && read < consumed + 2 {
                    let (g, e) = split(source.next()?, owners);
                    pending.push_back(g);
                    let _ = to_evaluator.send(e);
                    read += 1;
                }
                consumed += 1;
                pending
                    .pop_front()
                    .ok_or_else(|| Error::SelfCheck("no row left for the garbler".into()))
            };
            let bar = &mut bar;
            let (stats, ()) = run_local(
                args.net.timeouts(),
                !args.net.insecure,
                Some(&mut clock),
                |channel| {
                    garbler_runs(
                        channel,
                        program,
                        options,
                        &mut next_garbler,
                        |g: Vec<Option<Vec<bool>>>| {
                            let e: Vec<Option<Vec<bool>>> =
                                evaluator_views.recv().map_err(|_| {
                                    Error::SelfCheck("the evaluator's thread stopped".into())
                                })?;
                            let merged: Vec<Option<Vec<bool>>> =
                                g.into_iter().zip(e).map(|(g, e)| g.or(e)).collect();
                            emit(merged)
                        },
                        Some(bar),
                    )
                },
                move |channel| {
                    let next = || {
                        evaluator_inputs.recv().map_err(|_| {
                            Error::SelfCheck("the garbler's thread stopped reading rows".into())
                        })
                    };
                    evaluator_runs(
                        channel,
                        program,
                        e_options,
                        next,
                        |view| {
                            to_garbler.send(view).map_err(|_| {
                                Error::SelfCheck("the garbler's thread stopped".into())
                            })
                        },
                        None,
                    )
                    .map(|_| ())
                },
            )?;
            stats
        }
        Some(party) => {
            let connecting = Instant::now();
            let channel = args.net.channel()?;
            clock.connect = connecting.elapsed();
            let next = || source.next();
            match party {
                Party::Garbler => {
                    garbler_runs(channel, &program, options, next, &mut emit, Some(&mut bar))?
                }
                Party::Evaluator => {
                    evaluator_runs(channel, &program, options, next, &mut emit, Some(&mut bar))?
                }
            }
        }
    };
    bar.finish();
    printer.finish(batch, stats_json(&stats, &clock))?;
    if !args.json {
        eprintln!("garbled: {}", stats_line(&stats, &clock));
    }
    Ok(())
}
