//! `garbled compare`: the private comparison job (Yao's millionaires' problem), for one pair of
//! values or a million rows streamed from files.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::net::{CommandClock, NetArgs, run_local, stats_json, stats_line};
use super::progress::{ProgressBar, Unit};
use super::rows::{RowLines, open_rows};
use super::shard::{self, Shard, split_rows};
use crate::circuit::library::comparator_rows;
use crate::compile::{Program, compile};
use crate::error::{Error, Result};
use crate::protocol::{
    EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions, SessionStats,
};
use crate::value::{parse_integer_bits, parse_signed_integer_bits};

/// Rows per run of the comparator circuit: large enough that per-run messages are noise, small
/// enough that memory stays a few MiB.
const ROWS_PER_RUN: u64 = 4096;

/// Arguments of `garbled compare`.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints less, equal or greater: the garbler's value relative to the evaluator's. Both parties
learn the answer and nothing else about the other's value. The circuit is built in: each row
costs B AND gates for less-than and B-1 for equality.

Two hosts talk over TLS 1.3 with pinned keys: each party makes an identity once with
`garbled keygen -o FILE`, which prints its fingerprint, and passes the other's as --peer.

Examples:
  garbled compare --value 1000000 --value 2500000                 (both parties here)
  garbled compare --role garbler --listen :7000 --identity a.pem --peer FP_OF_B --value 1000000
  garbled compare --role evaluator --connect host-a:7000 --identity b.pem --peer FP_OF_A --value 2500000
  garbled compare --role garbler --listen :7000 --identity a.pem --peer FP_OF_B --values mine.txt
                                                                   (one integer per line)")]
pub(crate) struct CompareArgs {
    /// A value to compare (decimal, 0x… or 0b…); without --role give two: the garbler's first.
    #[arg(long = "value", value_name = "N", allow_hyphen_values = true)]
    values: Vec<String>,
    /// A file with one integer per line, compared row by row in one session; without --role
    /// give two files: the garbler's first.
    #[arg(long = "values", value_name = "FILE", conflicts_with = "values")]
    files: Vec<PathBuf>,
    /// Width of the values in bits.
    #[arg(long, value_name = "B", default_value_t = 64)]
    bits: u32,
    /// Compare as two's complement signed integers (negative values allowed).
    #[arg(long)]
    signed: bool,
    /// With --values: split the rows into this many contiguous shards, each a session of its
    /// own on its own thread and connection (default: the number of cores; two hosts use the
    /// smaller of their two counts). The output is the same for any count.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[command(flatten)]
    net: NetArgs,
    /// Print {"results": [...], "stats": {...}} (and "result" for a single pair).
    #[arg(long)]
    pub(crate) json: bool,
}

/// Where one party's rows come from.
enum Rows {
    One(Vec<bool>),
    File {
        count: u64,
        lines: RowLines,
        path: PathBuf,
    },
}

fn parse_row(text: &str, bits: u32, signed: bool) -> Result<Vec<bool>> {
    if !signed && text.trim_start().starts_with('-') {
        return Err(Error::arg(format!(
            "negative value {}: pass --signed to compare signed integers",
            text.trim()
        )));
    }
    if signed {
        parse_signed_integer_bits(text, bits)
    } else {
        parse_integer_bits(text, bits)
    }
}

impl Rows {
    fn value(text: &str, bits: u32, signed: bool) -> Result<Rows> {
        Ok(Rows::One(
            parse_row(text, bits, signed)
                .map_err(|e| Error::arg(format!("--value {text}: {e}")))?,
        ))
    }

    /// Checks every row first (so that a bad row stops us before the peer is involved) and
    /// counts them; the file is then read again, row by row, during the session. Blank lines
    /// and `#` comments are skipped.
    fn file(path: &Path, bits: u32, signed: bool) -> Result<Rows> {
        let mut count = 0u64;
        let mut lines = open_rows(path)?;
        let name = lines.name().to_string();
        for row in &mut lines {
            let (line_no, text) = row?;
            parse_row(&text, bits, signed)
                .map_err(|e| Error::arg(format!("{name}: line {line_no}: {e}")))?;
            count += 1;
        }
        if count == 0 {
            return Err(Error::arg(format!("{name} has no rows")));
        }
        Ok(Rows::File {
            count,
            lines: open_rows(path)?,
            path: path.to_path_buf(),
        })
    }

    /// The file, for [`Rows::range`].
    fn path(&self) -> Option<PathBuf> {
        match self {
            Rows::One(_) => None,
            Rows::File { path, .. } => Some(path.clone()),
        }
    }

    /// The rows `first..first + count` of a file (a shard of a batch job).
    fn range(path: &Path, first: u64, count: u64) -> Result<Rows> {
        let mut lines = open_rows(path)?;
        for _ in 0..first {
            lines.next().transpose()?;
        }
        Ok(Rows::File {
            count,
            lines,
            path: path.to_path_buf(),
        })
    }

    fn count(&self) -> u64 {
        match self {
            Rows::One(_) => 1,
            Rows::File { count, .. } => *count,
        }
    }

    /// The next `n` rows concatenated.
    fn next_chunk(&mut self, n: u64, bits: u32, signed: bool) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity((n * u64::from(bits)) as usize);
        match self {
            Rows::One(v) => out.extend_from_slice(v),
            Rows::File { lines, .. } => {
                for _ in 0..n {
                    let name = lines.name().to_string();
                    let (_, text) = lines
                        .next()
                        .ok_or_else(|| Error::arg(format!("{name} changed while being read")))??;
                    out.extend(parse_row(&text, bits, signed)?);
                }
            }
        }
        Ok(out)
    }
}

/// Prints the answers of every shard in row order, once all of them succeeded (a failed shard
/// prints nothing), and the combined statistics.
fn finish_shards(
    mut sink: Sink,
    results: Vec<(SessionStats, shard::ShardTimes, Vec<&'static str>)>,
    clock: &mut CommandClock,
) -> Result<()> {
    let mut words = Vec::with_capacity(results.len());
    let (mut stats, times) = shard::combine(results.into_iter().map(|(st, t, w)| {
        words.push(w);
        (st, t)
    }));
    clock.load += times.load;
    clock.compile += times.compile;
    clock.connect += times.connect;
    let printing = std::time::Instant::now();
    for w in words.into_iter().flatten() {
        sink.word(w)?;
    }
    stats.phases.outputs += printing.elapsed();
    sink.finish(&stats, clock)
}

fn word(less: bool, equal: bool) -> &'static str {
    if less {
        "less"
    } else if equal {
        "equal"
    } else {
        "greater"
    }
}

/// Runs the job for one party (`rows` its rows) over `channel`, handing each chunk's answers to
/// `emit`.
/// What both parties agreed to compute.
#[derive(Clone, Copy)]
struct Job {
    bits: u32,
    signed: bool,
    rows: u64,
    /// The shard of a batch job this session computes.
    shard: Shard,
    /// The garbling scheme.
    scheme: crate::garble::Scheme,
    /// The security level.
    security: crate::auth::Security,
}

fn party_session<C: crate::net::Channel>(
    party: Party,
    channel: C,
    mut rows: Rows,
    job: Job,
    mut emit: impl FnMut(&[bool], &[bool]) -> Result<()>,
    bar: Option<&mut ProgressBar>,
) -> Result<(SessionStats, shard::ShardTimes)> {
    let started = std::time::Instant::now();
    let mut times = shard::ShardTimes::default();
    let compiling = std::time::Instant::now();
    let Job {
        bits,
        signed,
        rows: total_rows,
        shard,
        scheme,
        security,
    } = job;
    let per_run = total_rows.min(ROWS_PER_RUN);
    let runs = total_rows.div_ceil(per_run);
    let program = compile(&comparator_rows(bits, per_run as u32, signed)?)?;
    // The last run compares exactly the rows that are left (no padding rows are garbled); both
    // parties build its circuit from the row count the handshake's job description fixes.
    let tail = total_rows - (runs - 1) * per_run;
    let tail_program = if tail < per_run {
        Some(compile(&comparator_rows(bits, tail as u32, signed)?)?)
    } else {
        None
    };
    times.compile = compiling.elapsed();
    let mut emitting = std::time::Duration::ZERO;
    let program_of = |run: u64| -> &Program {
        match &tail_program {
            Some(p) if run + 1 == runs => p,
            _ => &program,
        }
    };
    let description = format!(
        "compare {total_rows} row(s) of {bits}-bit {} integers{}",
        if signed { "signed" } else { "unsigned" },
        shard.describe()
    );
    let options = SessionOptions::new(
        &program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both; 2],
    )?
    .with_runs(runs)
    .with_job(description)
    .with_scheme(scheme)
    .with_security(security);
    let mut left = total_rows;
    macro_rules! drive {
        ($session:expr, $ahead:expr) => {{
            let mut session = $session;
            if let Some(bar) = bar {
                session.set_progress(Box::new(|d, t| bar.update(d, t)));
            }
            let reading = std::time::Instant::now();
            let mut input = rows.next_chunk(left.min(per_run), bits, signed)?;
            times.load += reading.elapsed();
            for run in 0..runs {
                let n = left.min(per_run);
                let reading = std::time::Instant::now();
                let next = if run + 1 < runs {
                    Some(rows.next_chunk((left - n).min(per_run), bits, signed)?)
                } else {
                    None
                };
                times.load += reading.elapsed();
                let out = $ahead(&mut session, run, input, next.as_ref())?;
                let (less, equal) = match (&out[0], &out[1]) {
                    (Some(l), Some(e)) => (l, e),
                    _ => {
                        return Err(Error::SelfCheck(
                            "a comparison result was not revealed".into(),
                        ));
                    }
                };
                let emitted = std::time::Instant::now();
                emit(&less[..n as usize], &equal[..n as usize])?;
                emitting += emitted.elapsed();
                left -= n;
                input = next.unwrap_or_default();
            }
            let mut stats = session.finish()?;
            // Handing the answers on is part of the output phase.
            stats.phases.outputs += emitting;
            times.elapsed = started.elapsed();
            Ok((stats, times))
        }};
    }
    match party {
        Party::Garbler => drive!(
            GarblerSession::start(channel, &program, options)?,
            |s: &mut GarblerSession<'_, '_, C>,
             run: u64,
             input: Vec<bool>,
             _next: Option<&Vec<bool>>| s.run_with(program_of(run), &[input])
        ),
        // The evaluator computes the next chunk's oblivious transfers while the garbler garbles.
        Party::Evaluator => drive!(
            EvaluatorSession::start(channel, &program, options)?,
            |s: &mut EvaluatorSession<'_, '_, C>,
             run: u64,
             input: Vec<bool>,
             next: Option<&Vec<bool>>| {
                s.run_ahead_with(
                    program_of(run),
                    &[input],
                    next.map(|n| (program_of(run + 1), std::slice::from_ref(n))),
                )
            }
        ),
    }
}

/// Collects or prints answers.
struct Sink {
    pub(crate) json: bool,
    results: Vec<&'static str>,
    out: BufWriter<std::io::Stdout>,
}

impl Sink {
    fn emit(&mut self, less: &[bool], equal: &[bool]) -> Result<()> {
        for (&l, &e) in less.iter().zip(equal) {
            self.word(word(l, e))?;
        }
        Ok(())
    }

    fn word(&mut self, w: &'static str) -> Result<()> {
        if self.json {
            self.results.push(w);
            Ok(())
        } else {
            writeln!(self.out, "{w}").map_err(|e| Error::io("writing to standard output", e))
        }
    }

    fn finish(mut self, stats: &SessionStats, clock: &CommandClock) -> Result<()> {
        if self.json {
            let mut object =
                serde_json::json!({"results": self.results, "stats": stats_json(stats, clock)});
            if self.results.len() == 1 {
                object["result"] = serde_json::json!(self.results[0]);
            }
            writeln!(self.out, "{object}")
                .map_err(|e| Error::io("writing to standard output", e))?;
        }
        self.out
            .flush()
            .map_err(|e| Error::io("writing to standard output", e))?;
        if !self.json {
            eprintln!("garbled: {}", stats_line(stats, clock));
        }
        Ok(())
    }
}

pub(crate) fn run(args: &CompareArgs) -> Result<()> {
    if args.bits == 0 || args.bits > 4096 {
        return Err(Error::arg(format!(
            "--bits {} is out of range: use 1 to 4096",
            args.bits
        )));
    }
    let role = args.net.role()?;
    let scheme = args.net.scheme()?;
    let mut clock = CommandClock::new(match role {
        None => "both",
        Some(Party::Garbler) => "garbler",
        Some(Party::Evaluator) => "evaluator",
    });
    clock.scheme = scheme.name();
    let security = args.net.security()?;
    clock.security = security.name();
    clock.transport = args.net.transport(role.is_none());
    let expected = if role.is_none() { 2 } else { 1 };
    let mut sources = Vec::new();
    for v in &args.values {
        sources.push(Rows::value(v, args.bits, args.signed)?);
    }
    for f in &args.files {
        sources.push(Rows::file(f, args.bits, args.signed)?);
    }
    if sources.len() != expected {
        return Err(Error::arg(if role.is_none() {
            format!(
                "without --role both values are needed: --value GARBLER --value EVALUATOR (or two --values files); got {}",
                sources.len()
            )
        } else {
            format!(
                "with --role give exactly one --value or one --values FILE; got {}",
                sources.len()
            )
        }));
    }
    let mut sink = Sink {
        json: args.json,
        results: Vec::new(),
        out: BufWriter::new(std::io::stdout()),
    };
    let mut bar = ProgressBar::with_unit(
        args.json,
        Unit::Rows {
            rows: sources.iter().map(Rows::count).max().unwrap_or(1),
            and_per_row: 2 * u64::from(args.bits) - 1,
        },
    );
    let (bits, signed) = (args.bits, args.signed);
    let batch = !args.files.is_empty();
    let rows_total = sources.iter().map(Rows::count).max().unwrap_or(1);
    let threads = if batch {
        shard::threads(args.threads, rows_total)?
    } else {
        1
    };
    if role.is_none() && threads > 1 {
        // Both parties here, one local pair of sessions per shard.
        let evaluator_rows = sources.pop().expect("two sources");
        let garbler_rows = sources.pop().expect("two sources");
        let total = garbler_rows.count();
        if evaluator_rows.count() != total {
            return Err(Error::arg(format!(
                "the two files have {} and {} rows; they must have the same number",
                total,
                evaluator_rows.count()
            )));
        }
        clock.load = clock.start.elapsed();
        let shards = split_rows(total, threads);
        let (timeouts, tls) = (args.net.timeouts(), !args.net.insecure);
        let (g_path, e_path) = match (garbler_rows.path(), evaluator_rows.path()) {
            (Some(g), Some(e)) => (g, e),
            _ => return Err(Error::SelfCheck("a batch job without files".into())),
        };
        drop((garbler_rows, evaluator_rows));
        let results = shard::run_all(&shards, |sh| {
            let started = std::time::Instant::now();
            let mut shard_clock = CommandClock::new("both");
            let (g_rows, e_rows) = (
                Rows::range(&g_path, sh.first, sh.rows)?,
                Rows::range(&e_path, sh.first, sh.rows)?,
            );
            let job = Job {
                bits,
                signed,
                rows: sh.rows,
                shard: sh,
                scheme,
                security,
            };
            let mut words = Vec::with_capacity(sh.rows as usize);
            let ((stats, mut times), ()) = run_local(
                timeouts,
                tls,
                Some(&mut shard_clock),
                |channel| {
                    party_session(
                        Party::Garbler,
                        channel,
                        g_rows,
                        job,
                        |l, e| {
                            words.extend(l.iter().zip(e).map(|(&l, &e)| word(l, e)));
                            Ok(())
                        },
                        None,
                    )
                },
                move |channel| {
                    party_session(Party::Evaluator, channel, e_rows, job, |_, _| Ok(()), None)
                        .map(|_| ())
                },
            )?;
            times.connect = shard_clock.connect;
            times.elapsed = started.elapsed();
            Ok((stats, times, words))
        })?;
        return finish_shards(sink, results, &mut clock);
    }
    if let Some(party) = role
        && batch
    {
        // Two hosts: the first connection agrees on the shards, then one connection each.
        let rows = sources.pop().expect("one source");
        let total = rows.count();
        let path = rows
            .path()
            .ok_or_else(|| Error::SelfCheck("a batch job without a file".into()))?;
        drop(rows);
        clock.load = clock.start.elapsed();
        let connecting = std::time::Instant::now();
        let connections = shard::open(&args.net, threads, total)?;
        clock.connect = connecting.elapsed();
        let shards = split_rows(total, connections.len());
        let slots: Vec<std::sync::Mutex<Option<crate::net::Connection>>> = connections
            .into_iter()
            .map(|c| std::sync::Mutex::new(Some(c)))
            .collect();
        let single = shards.len() == 1;
        let shared_bar = std::sync::Mutex::new(&mut bar);
        let results = shard::run_all(&shards, |sh| {
            let channel = slots[sh.index]
                .lock()
                .ok()
                .and_then(|mut c| c.take())
                .ok_or_else(|| Error::SelfCheck("a shard's connection is missing".into()))?;
            let job = Job {
                bits,
                signed,
                rows: sh.rows,
                shard: sh,
                scheme,
                security,
            };
            let mut words = Vec::with_capacity(sh.rows as usize);
            let mut bar_guard = if single { shared_bar.lock().ok() } else { None };
            let (stats, times) = party_session(
                party,
                channel,
                Rows::range(&path, sh.first, sh.rows)?,
                job,
                |l, e| {
                    words.extend(l.iter().zip(e).map(|(&l, &e)| word(l, e)));
                    Ok(())
                },
                bar_guard.as_deref_mut().map(|b| &mut **b),
            )?;
            Ok((stats, times, words))
        })?;
        bar.finish();
        return finish_shards(sink, results, &mut clock);
    }
    let stats = match role {
        None => {
            let evaluator_rows = sources.pop().expect("two sources");
            let garbler_rows = sources.pop().expect("two sources");
            let total = garbler_rows.count();
            if evaluator_rows.count() != total {
                return Err(Error::arg(format!(
                    "the two files have {} and {} rows; they must have the same number",
                    total,
                    evaluator_rows.count()
                )));
            }
            let bar = &mut bar;
            let sink = &mut sink;
            clock.load = clock.start.elapsed();
            let (stats, ()) = run_local(
                args.net.timeouts(),
                !args.net.insecure,
                Some(&mut clock),
                |channel| {
                    party_session(
                        Party::Garbler,
                        channel,
                        garbler_rows,
                        Job {
                            bits,
                            signed,
                            rows: total,
                            shard: split_rows(total, 1)[0],
                            scheme,
                            security,
                        },
                        |l, e| sink.emit(l, e),
                        Some(bar),
                    )
                },
                move |channel| {
                    party_session(
                        Party::Evaluator,
                        channel,
                        evaluator_rows,
                        Job {
                            bits,
                            signed,
                            rows: total,
                            shard: split_rows(total, 1)[0],
                            scheme,
                            security,
                        },
                        |_, _| Ok(()),
                        None,
                    )
                    .map(|_| ())
                },
            )?;
            stats
        }
        Some(party) => {
            let rows = sources.pop().expect("one source");
            let total = rows.count();
            clock.load = clock.start.elapsed();
            let connecting = std::time::Instant::now();
            let channel = args.net.channel()?;
            clock.connect = connecting.elapsed();
            party_session(
                party,
                channel,
                rows,
                Job {
                    bits,
                    signed,
                    rows: total,
                    shard: split_rows(total, 1)[0],
                    scheme,
                    security,
                },
                |l, e| sink.emit(l, e),
                Some(&mut bar),
            )?
        }
    };
    let (stats, times) = stats;
    clock.load += times.load;
    clock.compile += times.compile;
    bar.finish();
    sink.finish(&stats, &clock)
}
