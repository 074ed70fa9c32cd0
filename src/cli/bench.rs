//! `garbled bench`: garbling and evaluation speed in memory, against this machine's own AES.
//!
//! About 850 lines: every figure `garbled bench` prints (kernels, OT, end to end, threads) with the
//! JSON and table output in one place, so that the printed keys and the code that measures them
//! stay side by side.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::load_circuit;
use crate::aes::{Aes, Backend, Prg};
use crate::block::{ActiveLabel, Block, Delta, ZeroLabel};
use crate::circuit::{Circuit, Limits, plain};
use crate::compile::{Program, compile};
use crate::error::{Error, Result};
use crate::garble::{Evaluator, Garbler, Scheme, TweakBase};

/// Arguments of `garbled bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Circuit files to measure (default: the built-in AES-128 and SHA-256 circuits, the same
    /// as circuits/aes128.txt and circuits/sha256.txt).
    #[arg(value_name = "CIRCUIT")]
    circuits: Vec<PathBuf>,
    /// Dialect of the circuit files.
    #[arg(long, value_name = "F", default_value = "auto", value_parser = ["auto", "fashion", "old", "bristol"])]
    format: String,
    /// Seconds to spend on each measured figure. Every figure is measured at least once (with
    /// --e2e: one session of each kind, and AES-128 x 1000 shrinks to fewer copies of 100
    /// blocks when one run of them alone takes longer), so a malicious --e2e still takes a few
    /// seconds with a tiny budget.
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    seconds: f64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Run a fixed matrix (quick: under a minute; standard: a few minutes) and write
    /// results.jsonl, results.csv, machine.json and report.html (with charts) into --out.
    #[arg(long, value_name = "SUITE", value_parser = ["quick", "standard"], requires = "out", conflicts_with_all = ["circuits", "e2e", "ot", "parallel", "job"])]
    suite: Option<String>,
    /// With --suite: the directory the results are written to (created if missing).
    #[arg(long, value_name = "DIR", requires = "suite")]
    out: Option<PathBuf>,
    /// With --suite: an earlier run's directory; cells that changed beyond the noise of both
    /// runs are listed, and every chart shows the baseline.
    #[arg(long, value_name = "OLD_DIR", requires = "suite")]
    baseline: Option<PathBuf>,
    /// With --baseline: exit 1 when a cell is slower than the baseline by more than PCT percent
    /// beyond the noise.
    #[arg(long, value_name = "PCT", requires = "baseline")]
    fail_on_regression: Option<f64>,
    /// With --suite: measure nothing; read the rows of an earlier run from --out and rewrite its
    /// report (and its comparison with --baseline) from them.
    #[arg(long, requires = "suite")]
    reanalyze: bool,
    /// With --suite: add these Bristol files to the matrix (in memory and end to end).
    #[arg(long = "circuits", value_name = "FILE", num_args = 1.., requires = "suite")]
    suite_circuits: Vec<PathBuf>,
    /// Also measure oblivious transfer: 128 base OTs (both parties), IKNP correlated OTs with and
    /// without the check, and SoftSpoken OT at the width malicious sessions run.
    #[arg(long)]
    ot: bool,
    /// Also measure end to end over loopback, plaintext TCP and TLS 1.3: one AES-128 (connect
    /// to outputs, base OT included) and AES-128 x 1000 in one session.
    #[arg(long)]
    e2e: bool,
    /// Also measure garbling and evaluation on this many threads at once, each on its own copy
    /// of the work (as the shards of a batch job run), against one thread in the same run.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// The garbling scheme measured: half-gates or three-halves. The multiples of the AES bound
    /// stay those of half-gates (8 AES blocks per AND gate to garble, 4 to evaluate), so that
    /// the two schemes compare in one unit.
    #[arg(long, value_name = "SCHEME", default_value = "half-gates", value_parser = ["half-gates", "three-halves"])]
    scheme: String,
    /// With --e2e: pace each direction of the loopback link to this many Mbit/s (a token bucket
    /// in the channel), to see a scheme on a slower network.
    #[arg(long, value_name = "M", requires = "e2e")]
    link_mbps: Option<f64>,
    /// Measure only the five-hospital job (8 x 32-bit counts each, summed, the result to two of
    /// them: `garbled serve` and `garbled contribute` in this process over loopback TLS) against
    /// the plain two-party sum of the same values, 5 runs of each alternating: job_ms (first
    /// share sent to the last result), job_bytes, and their ratio.
    #[arg(long, conflicts_with_all = ["e2e", "ot", "parallel", "circuits"])]
    job: bool,
    /// With --e2e or --job: the security of the end-to-end sessions: semi-honest, or malicious
    /// (authenticated garbling; the in-memory kernel figures stay those of semi-honest
    /// garbling).
    #[arg(long, value_name = "LEVEL", default_value = "semi-honest", value_parser = ["semi-honest", "malicious"])]
    security: String,
}

/// Hash calls per AND gate times AES calls per hash: the garbler hashes four times, the evaluator
/// twice, and each TCCR hash is two AES calls.
const GARBLE_AES_PER_AND: f64 = 8.0;
const EVAL_AES_PER_AND: f64 = 4.0;

/// Runs `f` repeatedly for about `budget` (at least 3 times) and returns the fastest run: on a
/// shared machine the other tenants only ever add time, so the minimum is the figure that
/// repeats (medians here moved by 30-50 % from one run of the command to the next).
fn fastest_time(budget: Duration, f: impl FnMut()) -> Duration {
    timed_runs(budget, f).0
}

/// [`fastest_time`] and the median of the same runs: the fastest is the figure that repeats on
/// a shared host, the median says how much the host's other load costs.
fn timed_runs(budget: Duration, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < budget && times.len() < 100_000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    (times[0], times[times.len() / 2])
}

/// Nanoseconds per AES block on 1024-block batches with the selected backend.
pub(crate) fn aes_ns_per_block(budget: Duration) -> f64 {
    let aes = Aes::fixed();
    let mut blocks: Vec<Block> = (0..1024u128).map(Block::new).collect();
    let t = fastest_time(budget, || {
        aes.encrypt_blocks(std::hint::black_box(&mut blocks))
    });
    t.as_secs_f64() * 1e9 / 1024.0
}

/// One circuit's figures.
pub(crate) struct CircuitFigures {
    pub name: String,
    pub and: usize,
    /// Fastest and median copy, per AND gate; `None` for a circuit without AND gates.
    pub garble_ns_per_and: Option<(f64, f64)>,
    pub eval_ns_per_and: Option<(f64, f64)>,
}

/// A fresh Delta, random zero-labels for every input wire, the active labels of random input
/// bits, and a tweak base: what an in-memory measurement garbles and evaluates with.
pub(crate) fn random_labels(
    program: &Program,
) -> Result<(Delta, Vec<ZeroLabel>, Vec<ActiveLabel>, TweakBase)> {
    let mut prg = Prg::from_os()?;
    let delta = Delta::new(prg.block());
    let mut raw = vec![Block::ZERO; program.input_count()];
    prg.fill(&mut raw);
    let zero: Vec<ZeroLabel> = raw.into_iter().map(ZeroLabel).collect();
    let active: Vec<ActiveLabel> = zero
        .iter()
        .map(|z| z.encode(prg.block().lsb(), &delta))
        .collect();
    let tweaks = TweakBase {
        nonce: prg.block().value() as u64,
        first: 0,
    };
    Ok((delta, zero, active, tweaks))
}

/// Garbles and evaluates `circuit` repeatedly in memory; fails if the garbled result differs
/// from cleartext evaluation on random inputs.
pub(crate) fn measure_circuit(
    name: &str,
    circuit: &Circuit,
    budget: Duration,
    scheme: Scheme,
) -> Result<CircuitFigures> {
    let program = compile(circuit)?;
    self_check(name, circuit, &program, scheme)?;
    let and = program.and_count();
    if and > 1 << 25 {
        return Err(Error::arg(format!(
            "{name}: {and} AND gates do not fit the in-memory benchmark (limit 2^25: 1 GiB of tables); \
             measure it end to end with `garbled run` instead"
        )));
    }
    let (delta, zero, active, tweaks) = random_labels(&program)?;
    let mut tables = vec![Block::ZERO; scheme.blocks_for(and)];
    let seed = Prg::from_os()?.block().to_bytes();
    let garble = timed_runs(budget, || {
        let mut g = Garbler::new(&program, delta.clone(), &zero, tweaks)
            .expect("input count matches")
            .with_scheme(scheme, Prg::from_seed(seed));
        let n = g.garble(&mut tables);
        debug_assert!(g.is_done() && n == tables.len());
    });
    let eval = timed_runs(budget, || {
        let mut e = Evaluator::new(&program, &active, tweaks)
            .expect("input count matches")
            .with_scheme(scheme);
        e.evaluate(std::hint::black_box(&tables));
        debug_assert!(e.is_done());
    });
    // Without AND gates a time per AND gate means nothing.
    let per_and = |(fastest, median): (Duration, Duration)| {
        (and > 0).then(|| {
            (
                fastest.as_secs_f64() * 1e9 / and as f64,
                median.as_secs_f64() * 1e9 / and as f64,
            )
        })
    };
    Ok(CircuitFigures {
        name: name.to_string(),
        and,
        garble_ns_per_and: per_and(garble),
        eval_ns_per_and: per_and(eval),
    })
}

/// The median of `values` (sorted in place; the mean of the middle two for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Throughput on `threads` threads over one thread, in the same run: every thread garbles (then
/// evaluates) its own copy of `circuit` in a loop, as the shards of a batch job do, in nine
/// rounds of slices a third of `budget` long.
pub(crate) struct ParallelFigures {
    pub threads: usize,
    pub garble_speedup: f64,
    pub eval_speedup: f64,
}

pub(crate) fn measure_parallel(
    circuit: &Circuit,
    threads: usize,
    budget: Duration,
) -> Result<ParallelFigures> {
    let program = compile(circuit)?;
    let and = program.and_count().max(1);
    let (delta, zero, active, tweaks) = random_labels(&program)?;
    let mut reference = vec![Block::ZERO; 2 * and];
    Garbler::new(&program, delta.clone(), &zero, tweaks)?.garble(&mut reference);
    // AND gates per second over all threads, each working for a slice of a third of `budget`.
    let slice = budget / 3;
    let rate = |n: usize, garble: bool| -> f64 {
        let total: u64 = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (program, delta, zero, active, reference) =
                        (&program, &delta, &zero, &active, &reference);
                    scope.spawn(move || {
                        // Each thread its own tables, as each shard has its own connection's.
                        let reference = reference.clone();
                        let mut tables = vec![Block::ZERO; 2 * and];
                        let start = Instant::now();
                        let mut done = 0u64;
                        while start.elapsed() < slice || done == 0 {
                            if garble {
                                if let Ok(mut g) =
                                    Garbler::new(program, delta.clone(), zero, tweaks)
                                {
                                    g.garble(&mut tables);
                                }
                            } else if let Ok(mut e) = Evaluator::new(program, active, tweaks) {
                                e.evaluate(std::hint::black_box(&reference));
                            }
                            done += program.and_count() as u64;
                        }
                        done as f64 / start.elapsed().as_secs_f64()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0.0) as u64)
                .sum()
        });
        total as f64
    };
    // One thread and N threads alternate in short slices, and each figure is the median of the
    // rounds' ratios: a pair of neighbouring slices sees the same host load, and a round that
    // other guests disturbed on one side only does not move the median. (The best of three
    // one-second runs of each, before, gave eval speed-ups from 1.65 to 2.27 on this 2-vCPU VM:
    // above 2 when every one-thread run had been slowed.)
    const ROUNDS: usize = 9;
    let (mut garble, mut eval) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        garble.push(rate(threads, true) / rate(1, true));
        eval.push(rate(threads, false) / rate(1, false));
    }
    Ok(ParallelFigures {
        threads,
        garble_speedup: median(&mut garble),
        eval_speedup: median(&mut eval),
    })
}

/// Garbled evaluation must equal cleartext evaluation on random inputs, or no figure is printed.
pub(crate) fn self_check(
    name: &str,
    circuit: &Circuit,
    program: &Program,
    scheme: Scheme,
) -> Result<()> {
    let mut prg = Prg::from_os()?;
    let mut bits = vec![0u8; program.input_count()];
    prg.fill_bytes(&mut bits);
    let inputs: Vec<bool> = bits.iter().map(|b| b & 1 == 1).collect();
    let got = crate::garble::run_in_memory_with(program, &inputs, &mut prg, 1 << 12, scheme)?;
    let groups = plain::split_groups(&circuit.input_widths(), &inputs);
    let expected: Vec<bool> = plain::eval_bits(circuit, &groups)?.concat();
    if got != expected {
        return Err(Error::SelfCheck(format!(
            "{name}: the garbled evaluation differs from cleartext evaluation on random inputs; \
             no figure is reported (AES backend {})",
            Aes::fixed().backend()
        )));
    }
    Ok(())
}

/// Oblivious-transfer figures.
pub(crate) struct OtFigures {
    /// Wall time of 128 base OTs, both parties in two threads over an in-memory channel.
    pub base_ot_ms: f64,
    /// Checked correlated OTs per second on one core (both parties' work, sans-IO, with the
    /// KOS consistency check), for 10^6 and 10^7.
    pub cot_per_second: Vec<(usize, f64)>,
    /// The same without the check (10^7), measured alongside.
    pub cot_unchecked_per_second: f64,
    /// Checked SoftSpoken OTs at the width of malicious sessions (10^7), measured alongside.
    pub softspoken_cot_per_second: f64,
}

pub(crate) fn measure_ot(budget: Duration) -> Result<OtFigures> {
    use crate::net::memory;
    use crate::ot;
    let session = [0u8; 32];
    let base = fastest_time(budget, || {
        let (mut g, mut e) = memory::pair(Duration::from_secs(30));
        let garbler = std::thread::spawn(move || {
            let mut prg = Prg::from_os().expect("OS randomness");
            let delta = Delta::new(prg.block());
            ot::setup_sender(&mut g, delta, session, &mut prg, 1).map(|_| ())
        });
        let mut prg = Prg::from_os().expect("OS randomness");
        let r = ot::setup_receiver(&mut e, session, &mut prg, 1).map(|_| ());
        let g = garbler.join();
        debug_assert!(r.is_ok() && matches!(g, Ok(Ok(()))));
    });
    // Extension cores on one thread, on keys from a real base OT.
    let mut prg = Prg::from_os()?;
    let delta = Delta::new(prg.block());
    let choices: Vec<bool> = (0..ot::BASE_OTS).map(|j| delta.bit(j)).collect();
    let (pairs, chosen) = ot::base::run_local(&mut prg, session, &choices)?;
    let mut receiver = ot::CotReceiver::new(&pairs, session)?;
    let mut sender = ot::CotSender::new(delta.clone(), &chosen, session)?;
    let (soft_receiver, trees) =
        ot::CotReceiver::with_width(&pairs, session, SOFTSPOKEN_WIDTH, &mut prg)?;
    let mut soft = (
        soft_receiver,
        ot::CotSender::with_width(delta, &chosen, session, SOFTSPOKEN_WIDTH, &trees)?,
    );
    let mut buffers = OtBuffers::default();
    let mut cot_per_second = Vec::new();
    let mut cot_unchecked_per_second = 0.0;
    let mut softspoken_cot_per_second = 0.0f64;
    // Checked (what sessions run) and unchecked extensions alternate so that all see the same
    // host load; each figure is the faster of its two passes.
    for total in [1_000_000usize, 10_000_000] {
        let mut best_checked = 0.0f64;
        for _ in 0..2 {
            best_checked = best_checked.max(extension_rate(
                &mut receiver,
                &mut sender,
                total,
                true,
                &mut buffers,
            )?);
            if total == 10_000_000 {
                let unchecked =
                    extension_rate(&mut receiver, &mut sender, total, false, &mut buffers)?;
                cot_unchecked_per_second = f64::max(cot_unchecked_per_second, unchecked);
                let (r, s) = &mut soft;
                softspoken_cot_per_second =
                    softspoken_cot_per_second.max(extension_rate(r, s, total, true, &mut buffers)?);
            }
        }
        cot_per_second.push((total, best_checked));
    }
    Ok(OtFigures {
        base_ot_ms: base.as_secs_f64() * 1e3,
        cot_per_second,
        cot_unchecked_per_second,
        softspoken_cot_per_second,
    })
}

/// The width of SoftSpoken OT that malicious sessions run.
const SOFTSPOKEN_WIDTH: usize = crate::protocol::MALICIOUS_OT_WIDTH;

/// Buffers reused across the measured extensions: a fresh megabyte per chunk would cost page
/// faults that have nothing to do with the extension.
#[derive(Default)]
struct OtBuffers {
    u: Vec<Block>,
    t: Vec<Block>,
    q: Vec<Block>,
    /// The checked receiver's rows come back as its labels; they are handed back for the next
    /// chunk, as the unchecked path reuses `t`.
    recycled: Vec<Block>,
}

/// Correlated OTs per second of `total` OTs in chunks of [`crate::ot::CHUNK_OTS`], both
/// parties' work on this thread, checked (as sessions run) or not.
fn extension_rate(
    receiver: &mut crate::ot::CotReceiver,
    sender: &mut crate::ot::CotSender,
    total: usize,
    checked: bool,
    b: &mut OtBuffers,
) -> Result<f64> {
    use crate::ot;
    let bits: Vec<bool> = (0..ot::CHUNK_OTS).map(|i| i % 3 == 0).collect();
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        let len = (total - done).min(ot::CHUNK_OTS);
        b.t.clear();
        b.q.clear();
        if checked {
            let receiving = receiver.extend_checked_reusing(
                &bits[..len],
                &mut b.u,
                std::mem::take(&mut b.recycled),
            );
            let mut pending = sender.begin_check();
            sender.extend_checked_chunk(ot::checked_rows(len), &b.u, &mut b.q, &mut pending)?;
            let (check, labels) = receiving.respond(pending.seed());
            sender.finish_check(pending, len, &mut b.q, &check)?;
            b.recycled = std::hint::black_box(labels);
        } else {
            receiver.extend_into(&bits[..len], &mut b.u, &mut b.t);
            sender.extend_into(len, &b.u, &mut b.q)?;
        }
        std::hint::black_box((&b.t, &b.q));
        done += len;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// End-to-end figures over loopback TCP.
pub(crate) struct E2eFigures {
    /// One AES-128, from opening the connection to the outputs, base OT included (fastest run).
    pub aes128_ms: f64,
    /// AND gates per second over a session of AES-128 x 1000.
    pub and_per_second: f64,
    /// Bytes on the wire (both directions) per AND gate in that session.
    pub bytes_per_and: f64,
    /// AND gates of the large session.
    pub large_and: u64,
    /// Share of the large session's wall time (garbler) spent in preprocessing (malicious).
    pub preprocessing_share: f64,
    /// Share of the one-AES session's wall time (garbler) spent in preprocessing.
    pub aes128_preprocessing_share: f64,
    /// `aes128_ms` over mutually authenticated TLS 1.3 (its handshake included).
    pub tls_aes128_ms: f64,
    /// `and_per_second` over TLS 1.3.
    pub tls_and_per_second: f64,
    /// A plain copy of the large session's volume between two threads over loopback TCP, with
    /// the same channel and 1 MiB writes: what the wire could carry.
    pub loopback_bytes_per_second: f64,
}

/// Copies `bytes` from one thread to another over loopback TCP through the same channel type
/// and chunk size as the tables, and returns bytes per second.
fn loopback_copy(bytes: u64) -> Result<f64> {
    use crate::net::Channel;
    use crate::net::tcp::{TcpChannel, Timeouts};
    let timeouts = Timeouts::idle(Duration::from_secs(60));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::io("opening a loopback port", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the loopback address", e))?
        .to_string();
    let chunk = vec![0x5au8; 1 << 20];
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| -> Result<()> {
            let mut c = TcpChannel::connect(&addr, Duration::from_secs(10), timeouts)?;
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                c.write_all(&chunk[..n])?;
                left -= n as u64;
            }
            c.flush()?;
            let mut ack = [0u8; 1];
            c.read_exact(&mut ack)
        });
        let mut r = TcpChannel::accept(&listener, Duration::from_secs(10), timeouts)?;
        let start = Instant::now();
        let mut buf = vec![0u8; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            r.read_exact(&mut buf[..n])?;
            left -= n as u64;
        }
        let seconds = start.elapsed().as_secs_f64();
        r.write_all(&[1])?;
        r.flush()?;
        sender
            .join()
            .map_err(|_| Error::SelfCheck("the loopback sender panicked".into()))??;
        Ok(bytes as f64 / seconds)
    })
}

/// How the end-to-end sessions run: scheme and (optionally) a paced link.
#[derive(Clone, Copy)]
pub(crate) struct E2eSetup {
    pub scheme: Scheme,
    pub security: crate::auth::Security,
    pub link_mbps: Option<f64>,
}

/// The owners of an end-to-end session's input groups: the garbler the first half (rounded
/// up), the evaluator the rest.
pub(crate) fn e2e_owners(program: &Program) -> Vec<crate::protocol::Party> {
    let groups = program.input_widths().len();
    (0..groups)
        .map(|g| {
            if g < groups.div_ceil(2) {
                crate::protocol::Party::Garbler
            } else {
                crate::protocol::Party::Evaluator
            }
        })
        .collect()
}

/// `runs` runs of `program` between two parties in this process over loopback (TLS or
/// plaintext, paced as `setup` says), inputs owned as [`e2e_owners`] says and every output
/// revealed to both; the garbler's and the evaluator's statistics.
pub(crate) fn e2e_session(
    tls: bool,
    program: &Program,
    runs: u64,
    g_in: &[Vec<bool>],
    e_in: &[Vec<bool>],
    setup: E2eSetup,
) -> Result<(crate::protocol::SessionStats, crate::protocol::SessionStats)> {
    use crate::protocol::{EvaluatorSession, GarblerSession, Reveal, SessionOptions};
    let options = SessionOptions::new(
        program,
        e2e_owners(program),
        vec![Reveal::Both; program.output_widths().len()],
    )?
    .with_runs(runs)
    .with_scheme(setup.scheme)
    .with_security(setup.security);
    let e_options = options.clone();
    let timeouts = crate::net::tcp::Timeouts::idle(Duration::from_secs(60));
    super::net::run_local(
        timeouts,
        tls,
        None,
        |channel| {
            let channel = crate::net::paced::Paced::new(channel, setup.link_mbps);
            let mut s = GarblerSession::start(channel, program, options)?;
            for _ in 0..runs {
                s.run(g_in)?;
            }
            s.finish()
        },
        move |channel| {
            let channel = crate::net::paced::Paced::new(channel, setup.link_mbps);
            let mut s = EvaluatorSession::start(channel, program, e_options)?;
            for _ in 0..runs {
                s.run(e_in)?;
            }
            s.finish()
        },
    )
}

pub(crate) fn measure_e2e(budget: Duration, setup: E2eSetup) -> Result<E2eFigures> {
    let mut prg = Prg::from_os()?;
    let mut random_bits = |n: u32| -> Vec<bool> {
        let mut bytes = vec![0u8; n as usize];
        prg.fill_bytes(&mut bytes);
        bytes.iter().map(|b| b & 1 == 1).collect()
    };
    let aes = compile(&crate::circuit::builder::aes128_circuit())?;
    let (key, pt) = (vec![random_bits(128)], vec![random_bits(128)]);
    // The fastest run, and the preprocessing share of that run's session (garbler's clock).
    let one_aes = |tls: bool| -> Result<(Duration, f64)> {
        let mut failure = None;
        let mut share = (Duration::MAX, 0.0);
        let best = fastest_time(budget, || {
            let start = Instant::now();
            match e2e_session(tls, &aes, 1, &key, &pt, setup) {
                Ok((g, _)) => {
                    let took = start.elapsed();
                    if took < share.0 {
                        share = (
                            took,
                            g.phases.preprocessing.as_secs_f64() / g.wall.as_secs_f64(),
                        );
                    }
                }
                Err(e) => failure = Some(e),
            }
        });
        failure.map_or(Ok((best, share.1)), Err)
    };
    let (one, one_share) = one_aes(false)?;
    let (one_tls, _) = one_aes(true)?;
    // AES-128 x 1000 as ten runs of a 100-block circuit in one session; plaintext and TLS
    // alternate, six times each and in turn going first, so that both see the same host load;
    // the fastest of each is kept. (Three times each left the ratio of the two at the mercy of
    // one disturbed session: 0.75-0.98 over eight runs of one build on this shared host.)
    let many = compile(&crate::circuit::library::aes128_many(100)?)?;
    let (key, pts) = (vec![random_bits(128)], vec![random_bits(128 * 100)]);
    // --seconds bounds this figure too: a probe session of one run sets how many runs of 100
    // blocks fit the budget (up to ten, AES-128 x 1000), and the alternation stops after the
    // round that passes three budgets (at least one session of each).
    let started = Instant::now();
    let probe = Instant::now();
    e2e_session(false, &many, 1, &key, &pts, setup)?;
    let per_run = probe.elapsed().as_secs_f64().max(1e-6);
    let runs = ((budget.as_secs_f64() / per_run).floor() as u64).clamp(1, 10);
    let mut best = [(f64::MAX, None), (f64::MAX, None)];
    for round in 0..6 {
        if round > 0 && started.elapsed() > 3 * budget {
            break;
        }
        let order = if round % 2 == 0 {
            [(0, false), (1, true)]
        } else {
            [(1, true), (0, false)]
        };
        for (slot, tls) in order {
            let start = Instant::now();
            let (g, _) = e2e_session(tls, &many, runs, &key, &pts, setup)?;
            let seconds = start.elapsed().as_secs_f64();
            if seconds < best[slot].0 {
                best[slot] = (seconds, Some(g));
            }
        }
    }
    let [(seconds, Some(g)), (tls_seconds, Some(_))] = best else {
        return Err(Error::SelfCheck(
            "no end-to-end session was measured".into(),
        ));
    };
    // The same volume as a plain copy, best of two, in the same run.
    let volume = g.bytes_sent + g.bytes_received;
    let loopback = loopback_copy(volume)?.max(loopback_copy(volume)?);
    Ok(E2eFigures {
        aes128_ms: one.as_secs_f64() * 1e3,
        and_per_second: g.and_gates as f64 / seconds,
        bytes_per_and: (g.bytes_sent + g.bytes_received) as f64 / g.and_gates as f64,
        large_and: g.and_gates,
        preprocessing_share: g.phases.preprocessing.as_secs_f64() / g.wall.as_secs_f64(),
        aes128_preprocessing_share: one_share,
        tls_aes128_ms: one_tls.as_secs_f64() * 1e3,
        tls_and_per_second: g.and_gates as f64 / tls_seconds,
        loopback_bytes_per_second: loopback,
    })
}

pub(crate) fn run(args: &BenchArgs) -> Result<()> {
    let security: crate::auth::Security = args.security.parse()?;
    if let Some(suite) = &args.suite {
        if let Some(p) = args.fail_on_regression
            && !(p >= 0.0 && p.is_finite())
        {
            return Err(Error::arg(format!(
                "--fail-on-regression {p}: give a percentage of 0 or more"
            )));
        }
        let out = args
            .out
            .as_deref()
            .ok_or_else(|| Error::arg("--suite needs --out DIR"))?;
        return super::suite::run(super::suite::SuiteArgs {
            suite: if suite == "quick" {
                super::suite::Suite::Quick
            } else {
                super::suite::Suite::Standard
            },
            out,
            baseline: args.baseline.as_deref(),
            fail_on_regression: args.fail_on_regression,
            circuits: &args.suite_circuits,
            reanalyze: args.reanalyze,
        });
    }
    if args.job {
        return super::jobbench::run(args.json, security, 5);
    }
    if security != crate::auth::Security::SemiHonest && !args.e2e {
        return Err(Error::arg(
            "--security applies to the end-to-end figures: add --e2e (or --job)",
        ));
    }
    let backend = Backend::selected()?;
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err(Error::arg("--seconds must be between 0 and 3600"));
    }
    let budget = Duration::from_secs_f64(args.seconds);
    let mut circuits: Vec<(String, Circuit)> = Vec::new();
    for path in &args.circuits {
        let parsed = load_circuit(path, &args.format, Limits::default())?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        circuits.push((name, parsed.circuit));
    }
    if circuits.is_empty() {
        circuits = super::default_bench_circuits();
    }
    let scheme: Scheme = args.scheme.parse()?;
    if let Some(m) = args.link_mbps
        && !(1.0..=1e6).contains(&m)
    {
        return Err(Error::arg(format!(
            "--link-mbps {m} is out of range: give 1 to 1000000"
        )));
    }
    let setup = E2eSetup {
        scheme,
        security,
        link_mbps: args.link_mbps,
    };
    let aes_ns = aes_ns_per_block(budget);
    let mut figures = Vec::new();
    for (name, circuit) in &circuits {
        figures.push(measure_circuit(name, circuit, budget, scheme)?);
    }
    let parallel = match args.threads {
        Some(0) => return Err(Error::arg("--threads must be at least 1")),
        Some(n) if n > 256 => return Err(Error::arg("--threads is at most 256")),
        Some(n) => Some(measure_parallel(&circuits[0].1, n, budget)?),
        None => None,
    };
    let ot = if args.ot {
        Some(measure_ot(budget)?)
    } else {
        None
    };
    let e2e = if args.e2e {
        Some(measure_e2e(budget, setup)?)
    } else {
        None
    };
    if args.json {
        let list: Vec<serde_json::Value> = figures
            .iter()
            .map(|f| {
                let fastest = |x: Option<(f64, f64)>, bound: f64| x.map(|(f, _)| round(f / bound));
                let median = |x: Option<(f64, f64)>| x.map(|(_, m)| round(m));
                let mut v = serde_json::json!({
                    "name": f.name,
                    "and": f.and,
                    "garble_ns_per_and": fastest(f.garble_ns_per_and, 1.0),
                    "eval_ns_per_and": fastest(f.eval_ns_per_and, 1.0),
                    "garble_ns_per_and_median": median(f.garble_ns_per_and),
                    "eval_ns_per_and_median": median(f.eval_ns_per_and),
                    "garble_x_aes_bound": fastest(f.garble_ns_per_and, GARBLE_AES_PER_AND * aes_ns),
                    "eval_x_aes_bound": fastest(f.eval_ns_per_and, EVAL_AES_PER_AND * aes_ns),
                });
                if f.and == 0 {
                    v["note"] = serde_json::json!("no AND gates: per-AND figures do not apply");
                }
                v
            })
            .collect();
        let mut object = serde_json::json!({
            "backend": backend.name(),
            "scheme": scheme.name(),
            "security": security.name(),
            // The per-circuit figures garble and evaluate in this process, no channel between.
            "transport": "in-process",
            "aes_ns_per_block": round(aes_ns),
            "circuits": list,
        });
        if let Some(e) = &e2e {
            object["e2e"] = serde_json::json!({
                "aes128_ms": round(e.aes128_ms),
                "and_per_second": e.and_per_second.round(),
                "bytes_per_and": round(e.bytes_per_and),
                "table_bytes_per_and": round(scheme.bytes_per_gate()),
                "link_mbps": args.link_mbps,
                "large_circuit_and": e.large_and,
                "security": security.name(),
                // The plain figures over loopback TCP; the tls_ ones over TLS.
                "transport": "plaintext",
                "tls_transport": "tls",
                "preprocessing_share": round(e.preprocessing_share),
                "aes128_preprocessing_share": round(e.aes128_preprocessing_share),
                "tls_aes128_ms": round(e.tls_aes128_ms),
                "tls_and_per_second": e.tls_and_per_second.round(),
                "loopback_bytes_per_second": e.loopback_bytes_per_second.round(),
                "pipeline_share_of_loopback": round(e.and_per_second * e.bytes_per_and / e.loopback_bytes_per_second),
            });
        }
        if let Some(p) = &parallel {
            object["parallel"] = serde_json::json!({
                "threads": p.threads,
                "circuit": circuits[0].0,
                "garble_speedup": round(p.garble_speedup),
                "eval_speedup": round(p.eval_speedup),
            });
        }
        if let Some(ot) = &ot {
            let best = ot.cot_per_second.last().map(|&(_, r)| r).unwrap_or(0.0);
            object["ot"] = serde_json::json!({
                "base_ot_ms": round(ot.base_ot_ms),
                "cot_per_second": best.round(),
                "cot_unchecked_per_second": ot.cot_unchecked_per_second.round(),
                "softspoken_cot_per_second": ot.softspoken_cot_per_second.round(),
                "cot_per_second_by_count": ot.cot_per_second.iter().map(|&(n, r)| serde_json::json!({"count": n, "cot_per_second": r.round()})).collect::<Vec<_>>(),
            });
        }
        outln!("{object}")?;
        return Ok(());
    }
    outln!(
        "AES backend {backend}: {aes_ns:.3} ns per block (1024-block batches); scheme {scheme}, {}, in-process",
        security.name()
    )?;
    outln!(
        "bounds: garbling {:.2} ns per AND ({GARBLE_AES_PER_AND} AES), evaluation {:.2} ns per AND ({EVAL_AES_PER_AND} AES)",
        GARBLE_AES_PER_AND * aes_ns,
        EVAL_AES_PER_AND * aes_ns
    )?;
    outln!(
        "{:<24} {:>10} {:>18} {:>18}",
        "circuit",
        "AND",
        "garble ns/AND",
        "eval ns/AND"
    )?;
    for f in &figures {
        match (f.garble_ns_per_and, f.eval_ns_per_and) {
            (Some((g, gm)), Some((e, em))) => outln!(
                "{:<24} {:>10} {:>9.2} ({:>4.2}x, median {:>6.2}) {:>9.2} ({:>4.2}x, median {:>6.2})",
                f.name,
                f.and,
                g,
                g / (GARBLE_AES_PER_AND * aes_ns),
                gm,
                e,
                e / (EVAL_AES_PER_AND * aes_ns),
                em
            )?,
            _ => outln!(
                "{:<24} {:>10} (no AND gates: per-AND figures do not apply; it garbles and evaluates correctly)",
                f.name,
                f.and
            )?,
        }
    }
    outln!(
        "(each figure: the fastest copy, all gates of the circuit divided by its AND count, then the multiple of the AES bound and the median copy; checked against cleartext)"
    )?;
    if let Some(p) = &parallel {
        outln!(
            "{} threads, each garbling or evaluating its own copy of {} (as batch shards do): {:.2}x the garbling and {:.2}x the evaluation throughput of one thread",
            p.threads,
            circuits[0].0,
            p.garble_speedup,
            p.eval_speedup
        )?;
    }
    if let Some(ot) = &ot {
        outln!(
            "base OT: 128 OTs in {:.2} ms (both parties, two threads, in memory)",
            ot.base_ot_ms
        )?;
        for (n, rate) in &ot.cot_per_second {
            outln!(
                "IKNP with the KOS check: {n} correlated OTs at {:.1} million per second (one core, both parties' work)",
                rate / 1e6
            )?;
        }
        if let Some(&(_, checked)) = ot.cot_per_second.last() {
            outln!(
                "IKNP without the check: {:.1} million per second (the check keeps {:.0} %)",
                ot.cot_unchecked_per_second / 1e6,
                100.0 * checked / ot.cot_unchecked_per_second
            )?;
        }
        outln!(
            "SoftSpoken (width {SOFTSPOKEN_WIDTH}, {} bytes per OT, malicious sessions) with its check: {:.1} million per second",
            16 / SOFTSPOKEN_WIDTH,
            ot.softspoken_cot_per_second / 1e6
        )?;
    }
    if let Some(e) = &e2e {
        match args.link_mbps {
            Some(m) => outln!(
                "end to end over loopback paced to {m} Mbit/s each way (both parties on this machine):"
            )?,
            None => outln!("end to end over loopback (both parties on this machine):")?,
        }
        if security == crate::auth::Security::Malicious {
            outln!(
                "  malicious security (authenticated garbling): preprocessing is {:.0} % of one AES-128's session, {:.0} % of the large session's",
                100.0 * e.aes128_preprocessing_share,
                100.0 * e.preprocessing_share
            )?;
        }
        outln!(
            "  AES-128 x1: {:.2} ms plaintext TCP, {:.2} ms TLS 1.3, from connect to outputs, base OT included (fastest run)",
            e.aes128_ms,
            e.tls_aes128_ms
        )?;
        outln!(
            "  AES-128 x1000 in one session: {:.1} million AND gates per second plaintext, {:.1} million over TLS 1.3 ({:.0} %); {:.3} bytes per AND gate ({} AND gates)",
            e.and_per_second / 1e6,
            e.tls_and_per_second / 1e6,
            100.0 * e.tls_and_per_second / e.and_per_second,
            e.bytes_per_and,
            e.large_and
        )?;
        outln!(
            "  the same volume copied between two threads over loopback TCP: {:.2} GB/s; the session used {:.0} % of it",
            e.loopback_bytes_per_second / 1e9,
            100.0 * e.and_per_second * e.bytes_per_and / e.loopback_bytes_per_second
        )?;
    }
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
