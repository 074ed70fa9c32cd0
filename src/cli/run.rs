//! `garbled run`: a circuit file garbled between two parties, once or once per row of an
//! `--inputs` file in one session.
//!
//! About 880 lines: `garbled run` in all its forms (one run or rows, local or one party, sharded or
//! not) shares one plan, one printer and one statistics path; splitting by form would copy them.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::net::{CommandClock, NetArgs, run_local, stats_json, stats_line};
use super::progress::{ProgressBar, Unit};
use super::rows::{RowLines, open_rows};
use super::{CircuitArgs, parse_inputs};
use crate::batch::{Plan, evaluator_runs, garbler_runs, rows_of};
use crate::compile::Program;
use crate::error::{Error, Result};
use crate::net::Connection;
use crate::protocol::{Party, Progress, Reveal, SessionOptions, SessionStats};
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
    #[command(flatten)]
    stream: super::StreamArgs,
    /// A value for an input group (decimal, 0x… hex or 0b… binary), one per group in order.
    #[arg(long = "input", value_name = "V", allow_hyphen_values = true)]
    inputs: Vec<String>,
    /// A file of rows, one run per line in one session (see below); - for standard input.
    #[arg(long = "inputs", value_name = "FILE", conflicts_with = "inputs")]
    input_file: Option<PathBuf>,
    /// With --inputs: split the rows into this many contiguous shards, each a session of its
    /// own on its own thread and connection (default: the number of cores; two hosts use the
    /// smaller of their two counts). Without --inputs: split every AND batch of 4096 gates or
    /// more across this many threads (default 1). The output is the same for any count.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[command(flatten)]
    net: NetArgs,
    /// Owner of each input group, comma-separated: garbler or evaluator (default for two groups:
    /// garbler,evaluator; for one group: garbler).
    #[arg(long, value_name = "LIST")]
    owners: Option<String>,
    /// Who learns the outputs: both, garbler, evaluator, or shared (each party prints an XOR
    /// share: the two shares XOR to the output, and either alone is uniformly random; needs
    /// --role); one value for all groups or a comma-separated list, one per output group.
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
    pub(crate) json: bool,
}

/// Parses `--owners`.
pub fn parse_owners(text: Option<&str>, groups: usize) -> Result<Vec<Party>> {
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
pub fn parse_reveal(text: &str, groups: usize) -> Result<Vec<Reveal>> {
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
    pub(crate) json: bool,
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
                Reveal::Both | Reveal::Shared => "-".into(),
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
        path: PathBuf,
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
                "this party owns no input group, so it has no rows to read: run it without --inputs \
                 (one run), or give it input groups with --owners",
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
            path: path.to_path_buf(),
        })
    }

    /// Rows `first..first + count` of the same file (a shard of a batch job); the file was
    /// checked whole already.
    fn range(&self, first: u64, count: u64) -> Result<Source> {
        match self {
            Source::Values(v) => Ok(Source::Values(v.clone())),
            Source::File {
                widths,
                order,
                path,
                ..
            } => {
                let mut lines = open_rows(path)?;
                for _ in 0..first {
                    lines.next().transpose()?;
                }
                Ok(Source::File {
                    lines,
                    count,
                    widths: widths.clone(),
                    order: *order,
                    path: path.clone(),
                })
            }
        }
    }

    fn runs(&self) -> u64 {
        match self {
            Source::Values(_) => 1,
            Source::File { count, .. } => *count,
        }
    }

    /// The next `rows` rows, each group's values concatenated (row `i` at `i * width`): the
    /// inputs of one run of the replicated circuit.
    fn next_run(&mut self, rows: u64) -> Result<Vec<Vec<bool>>> {
        let mut run: Vec<Vec<bool>> = Vec::new();
        for _ in 0..rows {
            let row = self.next()?;
            if run.is_empty() {
                run = row;
            } else {
                for (group, value) in run.iter_mut().zip(row) {
                    group.extend(value);
                }
            }
        }
        Ok(run)
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

/// Both parties of a (possibly batch) job in this process.
#[allow(clippy::too_many_arguments)]
fn local_session(
    net: &NetArgs,
    plan: &Plan,
    options: SessionOptions,
    owners: &[Party],
    source: &mut Source,
    emit: &mut dyn FnMut(Vec<Option<Vec<bool>>>, u64) -> Result<()>,
    bar: Option<&mut ProgressBar>,
    clock: Option<&mut CommandClock>,
) -> Result<SessionStats> {
    let runs = plan.runs;
    // Both parties here. This thread reads each run's rows once, keeps the garbler's
    // half and hands the evaluator's half to the evaluator's thread one run ahead (it
    // prepares the next run's OTs early); the evaluator sends its view of every run
    // back, and the two views are merged (locally every group is revealed to someone).
    let (to_evaluator, evaluator_inputs) = std::sync::mpsc::sync_channel(4);
    let (to_garbler, evaluator_views) = std::sync::mpsc::sync_channel(4);
    let plan = &plan;
    let e_options = options.clone();
    let owners = &owners;
    let mut pending = std::collections::VecDeque::new();
    let (mut read, mut consumed) = (0u64, 0u64);
    let mut next_garbler = || -> Result<Vec<Vec<bool>>> {
        // The evaluator asks for run r + 1 before it runs run r.
        while read < runs && read < consumed + 2 {
            let (g, e) = split(source.next_run(plan.rows_in(read))?, owners);
            pending.push_back(g);
            let _ = to_evaluator.send(e);
            read += 1;
        }
        consumed += 1;
        pending
            .pop_front()
            .ok_or_else(|| Error::SelfCheck("no row left for the garbler".into()))
    };
    let (stats, ()) = run_local(
        net.timeouts(),
        !net.insecure,
        clock,
        |channel| {
            garbler_runs(
                channel,
                plan,
                options,
                &mut next_garbler,
                |g: Vec<Option<Vec<bool>>>, rows_in_run: u64| {
                    let e: Vec<Option<Vec<bool>>> = evaluator_views
                        .recv()
                        .map_err(|_| Error::SelfCheck("the evaluator's thread stopped".into()))?;
                    let merged: Vec<Option<Vec<bool>>> =
                        g.into_iter().zip(e).map(|(g, e)| g.or(e)).collect();
                    emit(merged, rows_in_run)
                },
                bar.map(|bar| -> Progress<'_> { Box::new(|d, t| bar.update(d, t)) }),
                true,
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
                plan,
                e_options,
                next,
                |view, _| {
                    to_garbler
                        .send(view)
                        .map_err(|_| Error::SelfCheck("the garbler's thread stopped".into()))
                },
                None,
                true,
            )
            .map(|_| ())
        },
    )?;
    Ok(stats)
}

/// One party of a (possibly batch) job over `channel`.
fn remote_session(
    party: Party,
    channel: Connection,
    plan: &Plan,
    options: SessionOptions,
    source: &mut Source,
    emit: &mut dyn FnMut(Vec<Option<Vec<bool>>>, u64) -> Result<()>,
    bar: Option<&mut ProgressBar>,
) -> Result<SessionStats> {
    let mut run = 0u64;
    let next = || {
        let inputs = source.next_run(plan.rows_in(run));
        run += 1;
        inputs
    };
    let progress = bar.map(|bar| -> Progress<'_> { Box::new(|d, t| bar.update(d, t)) });
    match party {
        Party::Garbler => garbler_runs(channel, plan, options, next, emit, progress, true),
        Party::Evaluator => evaluator_runs(channel, plan, options, next, emit, progress, true),
    }
}

pub(crate) fn run(args: &RunArgs) -> Result<()> {
    let order: BitOrder = args.bit_order.parse()?;
    let format: OutputFormat = args.output_format.parse()?;
    let role = args.net.role()?;
    let stdin = std::path::Path::new("-");
    if args.circuit.path == stdin && args.input_file.as_deref() == Some(stdin) {
        return Err(Error::arg(
            "the circuit and the rows cannot both come from standard input: give one of them as a file (CIRCUIT or --inputs FILE)",
        ));
    }
    let mut clock = CommandClock::new(role.map_or("both", party_name));
    let loaded = super::load_program(&args.circuit, &args.stream, &mut clock)?;
    clock.program_source = loaded.source.name();
    clock.spool_peak_bytes = loaded.spool_peak_bytes;
    clock.program_bytes = loaded.program_bytes;
    let program = loaded.program;
    let circuit = loaded.circuit;
    let widths = program.input_widths().to_vec();
    let owners = parse_owners(args.owners.as_deref(), widths.len())?;
    let reveal = parse_reveal(&args.reveal, program.output_widths().len())?;
    if role.is_none() && reveal.iter().any(|r| r.is_shared()) {
        return Err(Error::arg(
            "--reveal shared gives each party an XOR share of the output; with both parties here the two shares are the output itself: run each party with --role (each prints its share), or reveal the output with --reveal both",
        ));
    }
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
    let rows = source.runs();
    let and_per_row = program.and_count() as u64;
    let threads = if batch {
        super::shard::threads(args.threads, rows)?
    } else {
        1
    };
    // Two hosts always agree on the shards of a batch job (even one), over the first connection.
    let sharded = batch && (role.is_some() || threads > 1);
    let single = program.clone();
    let plan = if batch && !sharded {
        let compiling = Instant::now();
        let plan = Plan::batch(circuit.as_ref(), program, rows)?;
        clock.compile += compiling.elapsed();
        plan
    } else {
        // One run: --threads splits wide AND batches (default 1: both parties of a local run
        // already share the machine's cores).
        let split = match args.threads {
            Some(n) => super::shard::threads(Some(n), u64::MAX)?,
            None => 1,
        };
        Plan::single(program, split)
    };
    let runs = plan.runs;
    let scheme = args.net.scheme()?;
    let security = args.net.security()?;
    clock.scheme = scheme.name();
    clock.security = security.name();
    clock.transport = args.net.transport(role.is_none());
    let mut options = SessionOptions::new(&plan.program, owners.clone(), reveal.clone())?
        .with_runs(runs)
        .with_bit_order(order)
        .with_scheme(scheme)
        .with_security(security);
    if batch {
        options = options.with_job(format!("run {rows} row(s), {} per run", plan.per_run));
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
        ProgressBar::with_unit(args.json, Unit::Rows { rows, and_per_row })
    } else {
        ProgressBar::new(args.json)
    };
    let mut emit = |outputs: Vec<Option<Vec<bool>>>, rows_in_run: u64| {
        if batch {
            for row in rows_of(&outputs, rows_in_run) {
                printer.row(&row)?;
            }
            Ok(())
        } else {
            printer.single(&outputs)
        }
    };
    let stats = if sharded {
        // Shards: one session each, on its own thread (and connection), outputs collected and
        // printed in row order once every shard succeeded.
        let circuit = circuit.as_ref();
        let (connections, shards) = match role {
            Some(_) => {
                let connecting = Instant::now();
                let connections = super::shard::open(&args.net, threads, rows)?;
                clock.connect = connecting.elapsed();
                let shards = super::shard::split_rows(rows, connections.len());
                (
                    connections.into_iter().map(Some).collect::<Vec<_>>(),
                    shards,
                )
            }
            None => {
                let shards = super::shard::split_rows(rows, threads);
                ((0..shards.len()).map(|_| None).collect(), shards)
            }
        };
        let slots: Vec<std::sync::Mutex<Option<Connection>>> =
            connections.into_iter().map(std::sync::Mutex::new).collect();
        let (owners, reveal_for_options) = (&owners, &printer.reveal.clone());
        let source_ref = std::sync::Mutex::new(&mut source);
        let results = super::shard::run_all(&shards, |sh| {
            let started = Instant::now();
            let mut shard_clock = CommandClock::new(clock.party);
            let mut shard_source = source_ref
                .lock()
                .map_err(|_| Error::SelfCheck("a shard's thread panicked".into()))?
                .range(sh.first, sh.rows)?;
            let compiling = Instant::now();
            let shard_plan = Plan::batch(circuit, single.clone(), sh.rows)?;
            let compile = compiling.elapsed();
            let options = SessionOptions::new(
                &shard_plan.program,
                owners.clone(),
                reveal_for_options.clone(),
            )?
            .with_runs(shard_plan.runs)
            .with_bit_order(order)
            .with_scheme(scheme)
            .with_security(security)
            .with_job(format!(
                "run {} row(s), {} per run{}",
                sh.rows,
                shard_plan.per_run,
                sh.describe()
            ));
            let mut collected: Vec<Vec<Option<Vec<bool>>>> = Vec::new();
            let mut collect = |outputs: Vec<Option<Vec<bool>>>, rows_in_run: u64| {
                collected.extend(rows_of(&outputs, rows_in_run));
                Ok(())
            };
            let channel = slots[sh.index]
                .lock()
                .map_err(|_| Error::SelfCheck("a shard's thread panicked".into()))?
                .take();
            let stats = match (role, channel) {
                (Some(party), Some(channel)) => remote_session(
                    party,
                    channel,
                    &shard_plan,
                    options,
                    &mut shard_source,
                    &mut collect,
                    None,
                )?,
                _ => local_session(
                    &args.net,
                    &shard_plan,
                    options,
                    owners,
                    &mut shard_source,
                    &mut collect,
                    None,
                    Some(&mut shard_clock),
                )?,
            };
            let times = super::shard::ShardTimes {
                load: std::time::Duration::ZERO,
                compile,
                connect: shard_clock.connect,
                elapsed: started.elapsed(),
            };
            Ok((stats, times, collected))
        })?;
        let mut all_rows = Vec::with_capacity(results.len());
        let (mut stats, times) = super::shard::combine(results.into_iter().map(|(st, t, rows)| {
            all_rows.push(rows);
            (st, t)
        }));
        clock.compile += times.compile;
        clock.connect += times.connect;
        // Printing the rows is the end of the job's output phase.
        let printing = Instant::now();
        for rows in all_rows {
            for row in rows {
                printer.row(&row)?;
            }
        }
        stats.phases.outputs += printing.elapsed();
        stats
    } else {
        match role {
            None => local_session(
                &args.net,
                &plan,
                options,
                &owners,
                &mut source,
                &mut emit,
                Some(&mut bar),
                Some(&mut clock),
            )?,
            Some(party) => {
                let connecting = Instant::now();
                let channel = args.net.channel()?;
                clock.connect = connecting.elapsed();
                remote_session(
                    party,
                    channel,
                    &plan,
                    options,
                    &mut source,
                    &mut emit,
                    Some(&mut bar),
                )?
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
