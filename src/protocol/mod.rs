//! The two-party protocol over one connection (see DESIGN.md, "Protocol"):
//!
//! 1. [`handshake`]: magic, version, role, circuit digest, input widths and owners, output
//!    routing, scheme, number of runs and a nonce from each side; any mismatch ends both sides with
//!    a named error. The session nonce (tweak prefix) and the session id (bound into the base OTs)
//!    are BLAKE3 of both handshakes.
//! 2. 128 base OTs, once per session ([`crate::ot`]).
//! 3. Per run of the circuit: IKNP correlated OTs for the evaluator's input bits, the garbler's
//!    input labels, the garbled tables streamed in 64 KiB writes while the evaluator evaluates them
//!    as they arrive (neither side holds all tables), the decoding bits of the outputs the
//!    evaluator may learn, and the evaluator's output colour bits for the outputs the garbler may
//!    learn (one-time padded by the garbler's decoding bits, so the evaluator learns nothing of
//!    garbler-only outputs).
//! 4. An end marker each way, then the connection closes; anything after the marker is an error.
//!
//! Every size read from the peer follows from what both sides compiled themselves, so reads are
//! exact and bounded. [`GarblerSession`] and [`EvaluatorSession`] run several circuits in one
//! session (the tweak counters continue, so no hash tweak repeats); [`run_garbler`] and
//! [`run_evaluator`] do one run.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::aes::Prg;
pub use crate::auth::Security;
use crate::auth::{self, Cheat};
use crate::block::{ActiveLabel, Block, Delta, ZeroLabel};
use crate::compile::Program;
use crate::error::{Error, Result};
use crate::garble::{Evaluator, Garbler, Scheme, TweakBase};
use crate::net::{Channel, pack_bits, recv_blocks, send_blocks, unpack_bits};
use crate::ot::{self, CotReceiver, CotSender};

pub mod handshake;

use handshake::Hello;

/// One of the two parties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Party {
    /// Garbles the circuit; owns Delta.
    Garbler,
    /// Evaluates the garbled circuit.
    Evaluator,
}

impl std::str::FromStr for Party {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "garbler" => Ok(Party::Garbler),
            "evaluator" => Ok(Party::Evaluator),
            other => Err(Error::arg(format!(
                "unknown party '{other}': expected garbler or evaluator"
            ))),
        }
    }
}

/// Who learns an output group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reveal {
    /// Only the garbler.
    Garbler,
    /// Only the evaluator.
    Evaluator,
    /// Both parties.
    Both,
}

impl Reveal {
    /// Whether the garbler learns the group.
    pub fn to_garbler(self) -> bool {
        matches!(self, Reveal::Garbler | Reveal::Both)
    }
    /// Whether the evaluator learns the group.
    pub fn to_evaluator(self) -> bool {
        matches!(self, Reveal::Evaluator | Reveal::Both)
    }
}

impl std::str::FromStr for Reveal {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "garbler" => Ok(Reveal::Garbler),
            "evaluator" => Ok(Reveal::Evaluator),
            "both" => Ok(Reveal::Both),
            other => Err(Error::arg(format!(
                "unknown output routing '{other}': expected both, garbler or evaluator"
            ))),
        }
    }
}

/// What both parties agree on besides the circuit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Owner of each input group.
    pub owners: Vec<Party>,
    /// Who learns each output group.
    pub reveal: Vec<Reveal>,
    /// How many times the circuit runs in the session.
    pub runs: u64,
    /// A description of the job both parties must agree on (default "run").
    pub job: String,
    /// How values map onto wires; both parties must use the same.
    pub bit_order: crate::value::BitOrder,
    /// The garbling scheme; both parties must use the same.
    pub scheme: Scheme,
    /// Semi-honest (the garbling scheme above) or malicious (authenticated garbling); both
    /// parties must use the same.
    pub security: Security,
}

impl SessionOptions {
    /// Options for one run; checks the lengths against the program.
    pub fn new(program: &Program, owners: Vec<Party>, reveal: Vec<Reveal>) -> Result<Self> {
        let options = SessionOptions {
            owners,
            reveal,
            runs: 1,
            job: "run".to_string(),
            bit_order: crate::value::BitOrder::Lsb0,
            scheme: Scheme::HalfGates,
            security: Security::SemiHonest,
        };
        options.check(program)?;
        Ok(options)
    }

    /// The same with several runs.
    pub fn with_runs(mut self, runs: u64) -> Self {
        self.runs = runs;
        self
    }

    /// The same with a bit order (compared in the handshake).
    pub fn with_bit_order(mut self, order: crate::value::BitOrder) -> Self {
        self.bit_order = order;
        self
    }

    /// The same with a garbling scheme (compared in the handshake).
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// The same with a security level (compared in the handshake). Malicious security uses
    /// authenticated half-gates, so it needs the half-gates scheme.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }

    /// The same with a job description.
    pub fn with_job(mut self, job: impl Into<String>) -> Self {
        self.job = job.into();
        self
    }

    /// The default owners: with two input groups, the first is the garbler's and the second the
    /// evaluator's; a single group is the garbler's; other counts must be given.
    pub fn default_owners(groups: usize) -> Result<Vec<Party>> {
        match groups {
            1 => Ok(vec![Party::Garbler]),
            2 => Ok(vec![Party::Garbler, Party::Evaluator]),
            n => Err(Error::arg(format!(
                "the circuit has {n} input groups: say who owns each with --owners (e.g. --owners {})",
                vec!["garbler"; n.max(1)].join(",")
            ))),
        }
    }

    fn check(&self, program: &Program) -> Result<()> {
        if self.owners.len() != program.input_widths().len() {
            return Err(Error::arg(format!(
                "{} owners given for {} input groups",
                self.owners.len(),
                program.input_widths().len()
            )));
        }
        if self.reveal.len() != program.output_widths().len() {
            return Err(Error::arg(format!(
                "{} output routings given for {} output groups",
                self.reveal.len(),
                program.output_widths().len()
            )));
        }
        if self.runs == 0 {
            return Err(Error::arg("a session needs at least one run"));
        }
        if self.security == Security::Malicious && self.scheme != Scheme::HalfGates {
            return Err(Error::arg(
                "--security malicious garbles with authenticated half-gates: --scheme three-halves \
                 is semi-honest only",
            ));
        }
        Ok(())
    }

    fn hello(&self, program: &Program, role: Party, nonce: u64) -> Hello {
        Hello {
            role,
            digest: program.digest(),
            input_widths: program.input_widths().to_vec(),
            owners: self.owners.clone(),
            output_widths: program.output_widths().to_vec(),
            reveal: self.reveal.clone(),
            scheme: handshake::scheme_name(self.scheme),
            security: self.security.name().to_string(),
            runs: self.runs,
            job: self.job.clone(),
            bit_order: self.bit_order.to_string(),
            nonce,
        }
    }

    /// Input wires owned by `party`, total.
    fn input_bits(&self, program: &Program, party: Party) -> usize {
        self.owners
            .iter()
            .zip(program.input_widths())
            .filter(|(o, _)| **o == party)
            .map(|(_, w)| *w as usize)
            .sum()
    }

    /// The output wires the given test selects, in wire order.
    fn output_bits(&self, program: &Program, select: impl Fn(Reveal) -> bool) -> usize {
        self.reveal
            .iter()
            .zip(program.output_widths())
            .filter(|(r, _)| select(**r))
            .map(|(_, w)| *w as usize)
            .sum()
    }
}

/// What a session cost.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SessionStats {
    /// AND gates garbled (all runs).
    pub and_gates: u64,
    /// Bytes this party sent.
    pub bytes_sent: u64,
    /// Bytes this party received.
    pub bytes_received: u64,
    /// Wall time from the start of the handshake to the end.
    pub wall: Duration,
    /// Wall time of the handshake and the base OTs.
    pub setup: Duration,
    /// Where the session's time went.
    pub phases: Phases,
}

impl SessionStats {
    /// The statistics of sessions that ran side by side (the shards of a batch job): counts
    /// add up, times are the longest.
    pub fn combine(&self, other: &SessionStats) -> SessionStats {
        let max = |a: Duration, b: Duration| a.max(b);
        SessionStats {
            and_gates: self.and_gates + other.and_gates,
            bytes_sent: self.bytes_sent + other.bytes_sent,
            bytes_received: self.bytes_received + other.bytes_received,
            wall: max(self.wall, other.wall),
            setup: max(self.setup, other.setup),
            phases: Phases {
                handshake: max(self.phases.handshake, other.phases.handshake),
                ot: max(self.phases.ot, other.phases.ot),
                preprocessing: max(self.phases.preprocessing, other.phases.preprocessing),
                gates: max(self.phases.gates, other.phases.gates),
                outputs: max(self.phases.outputs, other.phases.outputs),
            },
        }
    }
}

/// The session's wall time by phase (each party measures its own).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Phases {
    /// The handshake.
    pub handshake: Duration,
    /// Base OTs and every run's OT extension (with its consistency check).
    pub ot: Duration,
    /// Malicious security only: masks, authenticated AND triples and AND-gate shares.
    pub preprocessing: Duration,
    /// Input labels and garbled tables: garbling or evaluating while they stream.
    pub gates: Duration,
    /// Decoding bits, output bits and the end of the session.
    pub outputs: Duration,
}

/// A progress callback: (AND gates done, AND gates in the session).
pub type Progress<'a> = Box<dyn FnMut(u64, u64) + 'a>;

/// AND gates per table write: 32768 gates = 1 MiB. Loopback TCP moved about 750 MB/s with
/// 64 KiB writes and several GB/s with 1 MiB ones, and the tables are most of the traffic.
const TABLE_CHUNK: usize = 1 << 15;
/// Bits of Delta per VOLE block of both correlated-OT directions of a malicious session
/// (SoftSpoken, `crate::ot::iknp`): 4 bytes per OT on the wire instead of IKNP's 16, for 4x the
/// PRG work (32 blocks of 16 seeds each instead of 128 of 2). Most of a malicious session's
/// traffic is correlated OTs, so this is where its bytes go down.
pub(crate) const MALICIOUS_OT_WIDTH: usize = 4;

/// The correlated-OT width of a semi-honest session, which sends one OT per evaluator input bit:
/// IKNP (width 1, 16 bytes per OT, the least computation) with half-gates, SoftSpoken at width 8
/// (2 bytes per OT, 16x IKNP's PRG work) with three-halves, the scheme chosen for links slower
/// than the garbler, where the input OTs' bytes count too: AES-128 x 100 per run sends 12 800
/// OTs beside 15.8 MB of three-halves tables, 0.32 bytes per AND gate with IKNP and 0.04 at
/// width 8.
pub(crate) fn semi_honest_ot_width(scheme: Scheme) -> usize {
    match scheme {
        Scheme::HalfGates => 1,
        Scheme::ThreeHalves => 8,
    }
}

/// The end-of-session marker.
const END: [u8; 8] = *b"GARBEND\0";
/// The AND gates of each table write of a run of `and_count` gates: [`TABLE_CHUNK`] at a time,
/// the last piece what is left.
fn table_chunks(and_count: usize) -> impl Iterator<Item = usize> {
    (0..and_count)
        .step_by(TABLE_CHUNK)
        .map(move |at| (and_count - at).min(TABLE_CHUNK))
}

/// Table buffers of [`TABLE_CHUNK`] gates in flight when the tables of a run span more than one:
/// one being garbled (or evaluated), one on the wire, one spare.
const PIPELINE_BUFFERS: usize = 3;

/// Whether a run's tables are garbled (evaluated) on a helper thread while this thread moves
/// them: when they span more than one chunk and the machine has more than two cores;
/// `GARBLED_PIPELINE=on` or `off` decides instead (tests, and comparing the two). Measured on
/// this project's 2-core machine with both parties sharing the two cores (`garbled bench --e2e
/// --json`, alternating runs per build): over plaintext TCP the helper lowered AES-128 x 1000
/// from a median of 19.8 to 18.2 million AND gates per second (four busy threads on two cores);
/// over TLS it raised it from 17.3 to 19.8 while rustls's record layer copied every record, and
/// lowered it once our record layer stopped copying (2026-12-02, six runs each: a median of
/// 24.0 million with it against 29.0 without). README, "Garbling beside the socket".
fn pipelined(and_count: usize) -> bool {
    if and_count <= TABLE_CHUNK {
        return false;
    }
    match std::env::var("GARBLED_PIPELINE").as_deref() {
        Ok("on") => true,
        Ok("off") => false,
        _ => std::thread::available_parallelism().is_ok_and(|n| n.get() > 2),
    }
}

/// Garbles on a helper thread while this thread writes the tables, [`PIPELINE_BUFFERS`] buffers
/// of `blocks` blocks going round between the two: garbling the next chunk no longer waits for
/// the previous one to reach the socket (with TLS: to be encrypted), so the two overlap. The
/// tables and their order on the wire are those of the one-thread loop. A failed write stops
/// the helper (its queue closes) and is returned.
fn garble_pipelined(
    garbler: &mut Garbler<'_>,
    blocks: usize,
    mut write: impl FnMut(&[Block]) -> Result<()>,
) -> Result<()> {
    use std::sync::mpsc::sync_channel;
    let (full_tx, full_rx) = sync_channel::<(Vec<Block>, usize)>(PIPELINE_BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<Block>>(PIPELINE_BUFFERS);
    for _ in 0..PIPELINE_BUFFERS {
        // The queue has room for every buffer.
        let _ = empty_tx.send(vec![Block::ZERO; blocks]);
    }
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            while let Ok(mut buf) = empty_rx.recv() {
                let n = garbler.garble(&mut buf);
                let last = garbler.is_done();
                if full_tx.send((buf, n)).is_err() || last {
                    break;
                }
            }
        });
        let mut result = Ok(());
        for (buf, n) in full_rx.iter() {
            result = write(&buf[..n]);
            if result.is_err() {
                break;
            }
            // Once the helper has garbled the last chunk it no longer takes buffers back.
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        drop(full_rx);
        let joined = worker.join();
        result?;
        joined.map_err(|_| Error::SelfCheck("the garbling thread panicked".into()))
    })
}

/// The evaluator's side of [`garble_pipelined`]: this thread reads chunk after chunk of
/// `chunks` (their sizes in blocks) while a helper thread evaluates the previous ones;
/// `evaluated(k)` is called, in order, as chunk `k` has been evaluated. A failed read stops the
/// helper after the chunks already read and is returned.
fn evaluate_pipelined(
    evaluator: &mut Evaluator<'_>,
    chunks: &[usize],
    mut read: impl FnMut(&mut [Block]) -> Result<()>,
    mut evaluated: impl FnMut(usize),
) -> Result<()> {
    use std::sync::mpsc::sync_channel;
    let blocks = chunks.iter().copied().max().unwrap_or(0);
    let (full_tx, full_rx) = sync_channel::<(Vec<Block>, usize)>(PIPELINE_BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<Block>>(PIPELINE_BUFFERS);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            for (buf, n) in full_rx.iter() {
                let used = evaluator.evaluate(&buf[..n]);
                debug_assert_eq!(used, n, "chunks hold whole gates");
                // This thread holds the receiving end until the helper is done.
                let _ = empty_tx.send(buf);
            }
        });
        let mut result = Ok(());
        let mut finished = 0;
        for (k, &n) in chunks.iter().enumerate() {
            let mut buf = if k < PIPELINE_BUFFERS {
                vec![Block::ZERO; blocks]
            } else {
                match empty_rx.recv() {
                    Ok(buf) => {
                        evaluated(finished);
                        finished += 1;
                        buf
                    }
                    Err(_) => break, // the helper stopped: its join says why
                }
            };
            result = read(&mut buf[..n]);
            if result.is_err() || full_tx.send((buf, n)).is_err() {
                break;
            }
        }
        drop(full_tx);
        for _ in empty_rx.iter() {
            evaluated(finished);
            finished += 1;
        }
        let joined = worker.join();
        result?;
        joined.map_err(|_| Error::SelfCheck("the evaluating thread panicked".into()))
    })
}

/// The handshake of either side: our generator, the session nonce and the session id.
fn greet<C: Channel>(
    channel: &mut C,
    program: &Program,
    options: &SessionOptions,
    role: Party,
) -> Result<(Prg, u64, [u8; 32])> {
    options.check(program)?;
    let mut prg = Prg::from_os()?;
    let ours = options.hello(program, role, prg.block().value() as u64);
    let our_payload = handshake::send(channel, &ours)?;
    let (peer, peer_payload) = handshake::receive(channel)?;
    handshake::compare(&ours, &peer)?;
    let (nonce, session) = match role {
        Party::Garbler => session_keys(&our_payload, &peer_payload),
        Party::Evaluator => session_keys(&peer_payload, &our_payload),
    };
    Ok((prg, nonce, session))
}

fn session_keys(garbler: &[u8], evaluator: &[u8]) -> (u64, [u8; 32]) {
    let mut h = blake3::Hasher::new();
    h.update(b"garbled session v1");
    h.update(&(garbler.len() as u64).to_le_bytes());
    h.update(garbler);
    h.update(evaluator);
    let id = *h.finalize().as_bytes();
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&id[..8]);
    (u64::from_le_bytes(nonce), id)
}

/// A run's program must have the session program's groups (their widths may differ).
fn same_groups(session: &Program, run: &Program) -> Result<()> {
    if session.input_widths().len() != run.input_widths().len()
        || session.output_widths().len() != run.output_widths().len()
    {
        return Err(Error::arg(
            "a run's program must have the same input and output groups as the session's",
        ));
    }
    Ok(())
}

/// Splits per-group values into the bits of the groups `party` owns, checking count and widths.
fn own_bits(
    program: &Program,
    options: &SessionOptions,
    party: Party,
    inputs: &[Vec<bool>],
) -> Result<Vec<bool>> {
    let widths: Vec<u32> = options
        .owners
        .iter()
        .zip(program.input_widths())
        .filter(|(o, _)| **o == party)
        .map(|(_, w)| *w)
        .collect();
    crate::circuit::plain::flatten_groups(&widths, inputs, "own input")
}

fn split_outputs(program: &Program, bits: Vec<Option<bool>>) -> Vec<Option<Vec<bool>>> {
    let mut out = Vec::with_capacity(program.output_widths().len());
    let mut at = 0;
    for &w in program.output_widths() {
        let group = &bits[at..at + w as usize];
        out.push(group.iter().copied().collect::<Option<Vec<bool>>>());
        at += w as usize;
    }
    out
}

/// Sends our end marker and closes our direction, then reads the peer's marker and its close:
/// anything else is an error.
fn end_session<C: Channel>(channel: &mut C) -> Result<()> {
    channel.write_all(&END)?;
    channel.close_write()?;
    let mut marker = [0u8; 8];
    channel.read_exact(&mut marker)?;
    if marker != END {
        return Err(Error::peer(
            "the peer sent data where the end-of-session marker belongs",
        ));
    }
    channel.expect_eof()
}

/// How far a session got, for its end.
struct RunProgress<'a> {
    options: &'a SessionOptions,
    runs_done: u64,
    and_done: u64,
}

impl RunProgress<'_> {
    /// Checks that every agreed run happened, exchanges the end markers, and reports.
    fn finish<C: Channel>(
        &self,
        channel: &mut C,
        start: Instant,
        setup: Duration,
        mut phases: Phases,
    ) -> Result<SessionStats> {
        if self.runs_done != self.options.runs {
            return Err(Error::arg(format!(
                "the session ends after {} of {} agreed runs",
                self.runs_done, self.options.runs
            )));
        }
        let ending = Instant::now();
        end_session(channel)?;
        phases.outputs += ending.elapsed();
        let traffic = channel.traffic();
        Ok(SessionStats {
            and_gates: self.and_done,
            bytes_sent: traffic.sent,
            bytes_received: traffic.received,
            wall: start.elapsed(),
            setup,
            phases,
        })
    }
}

/// The garbler's side of a session.
pub struct GarblerSession<'p, 'c, C: Channel> {
    channel: C,
    program: &'p Program,
    options: SessionOptions,
    delta: Delta,
    prg: Prg,
    cot: CotSender,
    tweaks: TweakBase,
    runs_done: u64,
    /// AND gates garbled or evaluated so far (runs may use different programs).
    and_done: u64,
    /// A run failed part-way: its tweaks and OT state may be half used, so no further run.
    failed: bool,
    start: Instant,
    setup: Duration,
    phases: Phases,
    progress: Option<Progress<'c>>,
    /// Threads a wide AND batch is split across (a local choice: the wire does not change).
    threads: usize,
    /// Malicious security: the COTs under the evaluator's Delta and the leaky-AND tweaks.
    auth: Option<AuthState>,
    /// A deviation to play (the hostile-peer tests).
    cheat: Option<Cheat>,
}

/// What a malicious session keeps besides the semi-honest state: the other OT direction.
struct AuthState {
    /// The garbler's receiver / the evaluator's sender.
    reverse: Reverse,
    leaky_counter: u64,
    scratch: auth::prep::Scratch,
}

enum Reverse {
    Receiver(Box<CotReceiver>),
    Sender(Box<(CotSender, Delta, Prg)>),
}

/// The counters of a session of either side (the two session types name the fields alike).
macro_rules! counters {
    ($session:ident) => {
        Counters {
            phases: &mut $session.phases,
            tweaks: &mut $session.tweaks,
            runs_done: &mut $session.runs_done,
            and_done: &mut $session.and_done,
            progress: &mut $session.progress,
        }
    };
}

/// What a malicious run of `program` needs from the session, either side.
fn auth_run<'a>(
    program: &'a Program,
    options: &'a SessionOptions,
    tweaks: &TweakBase,
) -> auth::Run<'a> {
    auth::Run {
        program,
        owners: &options.owners,
        reveal: &options.reveal,
        tweak_first: tweaks.first,
        runs: options.runs,
    }
}

/// A session's counters, updated after a malicious run (either side).
struct Counters<'s, 'c> {
    phases: &'s mut Phases,
    tweaks: &'s mut TweakBase,
    runs_done: &'s mut u64,
    and_done: &'s mut u64,
    progress: &'s mut Option<Progress<'c>>,
}

impl Counters<'_, '_> {
    fn after_malicious_run(
        self,
        program: &Program,
        runs: u64,
        bits: Vec<Option<bool>>,
        times: auth::RunTimes,
    ) -> Vec<Option<Vec<bool>>> {
        self.phases.preprocessing += times.preprocessing;
        self.phases.gates += times.online;
        *self.tweaks = self.tweaks.after(program.and_count());
        *self.runs_done += 1;
        *self.and_done += program.and_count() as u64;
        let total = runs * program.and_count() as u64;
        if let Some(p) = self.progress.as_mut() {
            p((*self.and_done).min(total), total);
        }
        split_outputs(program, bits)
    }
}

/// The session id of the second OT direction (evaluator as the COT sender).
fn reverse_session(session: [u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"garbled reverse ot v1");
    h.update(&session);
    *h.finalize().as_bytes()
}

impl<'p, 'c, C: Channel> GarblerSession<'p, 'c, C> {
    /// Handshake and base OTs.
    pub fn start(mut channel: C, program: &'p Program, options: SessionOptions) -> Result<Self> {
        let start = Instant::now();
        let (mut prg, nonce, session) = greet(&mut channel, program, &options, Party::Garbler)?;
        let handshake = start.elapsed();
        let malicious = options.security == Security::Malicious;
        // Bit 1 of Delta_G ^ Delta_E must be 1 for the leaky AND's openings (prep.rs): the
        // garbler fixes its bit 1 to 1, the evaluator to 0.
        let delta = if malicious {
            Delta::new(Block::new(prg.block().value() | 2))
        } else {
            Delta::new(prg.block())
        };
        let (cot, auth) = if malicious {
            let mut cot = ot::setup_sender(
                &mut channel,
                delta.clone(),
                session,
                &mut prg,
                MALICIOUS_OT_WIDTH,
            )?;
            let receiver = ot::reverse_receiver(
                &mut channel,
                &mut cot,
                &delta,
                reverse_session(session),
                &mut prg,
                MALICIOUS_OT_WIDTH,
            )?;
            let state = AuthState {
                reverse: Reverse::Receiver(Box::new(receiver)),
                leaky_counter: 0,
                scratch: auth::prep::Scratch::take(),
            };
            (cot, Some(state))
        } else {
            let width = semi_honest_ot_width(options.scheme);
            let cot = ot::setup_sender(&mut channel, delta.clone(), session, &mut prg, width)?;
            (cot, None)
        };
        let phases = Phases {
            handshake,
            ot: start.elapsed() - handshake,
            ..Phases::default()
        };
        Ok(GarblerSession {
            channel,
            program,
            options,
            delta,
            prg,
            cot,
            tweaks: TweakBase { nonce, first: 0 },
            runs_done: 0,
            and_done: 0,
            failed: false,
            setup: start.elapsed(),
            phases,
            start,
            progress: None,
            threads: 1,
            auth,
            cheat: None,
        })
    }

    /// Plays a deviation from the protocol (the hostile-peer tests).
    #[doc(hidden)]
    pub fn set_cheat(&mut self, cheat: Cheat) {
        self.cheat = Some(cheat);
    }

    /// Splits AND batches of at least [`crate::garble::PARALLEL_MIN`] gates across `threads`
    /// threads; the tables on the wire are the same.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Reports progress while tables stream.
    pub fn set_progress(&mut self, progress: Progress<'c>) {
        self.progress = Some(progress);
    }

    /// The session's free-XOR offset (drawn from the OS-seeded generator at start).
    pub fn delta(&self) -> &Delta {
        &self.delta
    }

    /// One run: `inputs` holds the bits of the garbler's own input groups, in order. Returns
    /// every output group, `None` for those not revealed to the garbler.
    pub fn run(&mut self, inputs: &[Vec<bool>]) -> Result<Vec<Option<Vec<bool>>>> {
        self.run_with(self.program, inputs)
    }

    /// One run of another program with the same input and output groups (widths may differ):
    /// the last, shorter chunk of a batch job. Both parties must choose the same program for the
    /// run from what the handshake agreed (the job description), since the handshake's digest
    /// covers only the session's program.
    pub fn run_with(
        &mut self,
        program: &Program,
        inputs: &[Vec<bool>],
    ) -> Result<Vec<Option<Vec<bool>>>> {
        self.check_runnable()?;
        same_groups(self.program, program)?;
        self.failed = true;
        let outputs = self.run_once(program, inputs)?;
        self.failed = false;
        Ok(outputs)
    }

    fn check_runnable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::arg(
                "an earlier run of this session failed; the session cannot run again",
            ));
        }
        Ok(())
    }

    fn run_once(
        &mut self,
        program: &Program,
        inputs: &[Vec<bool>],
    ) -> Result<Vec<Option<Vec<bool>>>> {
        if self.runs_done >= self.options.runs {
            return Err(Error::arg(format!(
                "the session was agreed for {} run(s)",
                self.options.runs
            )));
        }
        let own =
            zeroize::Zeroizing::new(own_bits(program, &self.options, Party::Garbler, inputs)?);
        if let Some(state) = self.auth.as_mut() {
            let Reverse::Receiver(receiver) = &mut state.reverse else {
                return Err(Error::SelfCheck("the garbler holds a COT sender".into()));
            };
            let mut ctx = auth::Ctx {
                me: Party::Garbler,
                delta: &self.delta,
                send: &mut self.cot,
                recv: receiver,
                prg: &mut self.prg,
                nonce: self.tweaks.nonce,
                leaky_counter: &mut state.leaky_counter,
                cheat: &mut self.cheat,
                scratch: &mut state.scratch,
                cheated: false,
            };
            let run = auth_run(program, &self.options, &self.tweaks);
            let mut times = auth::RunTimes::default();
            let bits = auth::garbler_run(&mut self.channel, &mut ctx, &run, &own, &mut times)?;
            let runs = self.options.runs;
            return Ok(counters!(self).after_malicious_run(program, runs, bits, times));
        }
        let evaluator_bits = self.options.input_bits(program, Party::Evaluator);
        let ch = &mut self.channel;
        let clock = Instant::now();
        let mut q = ot::send(ch, &mut self.cot, evaluator_bits)?;
        self.phases.ot += clock.elapsed();
        let clock = Instant::now();
        // Zero-labels in wire order: fresh ones for our groups, the OT outputs for the peer's.
        let mut zero = Vec::with_capacity(program.input_count());
        let mut active = Vec::with_capacity(own.len());
        let (mut next_own, mut next_q) = (0, 0);
        let mut fresh = vec![Block::ZERO; own.len()];
        self.prg.fill(&mut fresh);
        for (&owner, &width) in self.options.owners.iter().zip(program.input_widths()) {
            for _ in 0..width {
                let label = if owner == Party::Garbler {
                    let z = ZeroLabel(fresh[next_own]);
                    active.push(z.encode(own[next_own], &self.delta).0);
                    next_own += 1;
                    z
                } else {
                    next_q += 1;
                    ZeroLabel(q[next_q - 1])
                };
                zero.push(label);
            }
        }
        zeroize::Zeroize::zeroize(&mut fresh);
        zeroize::Zeroize::zeroize(&mut q);
        send_blocks(ch, &active)?;
        zeroize::Zeroize::zeroize(&mut active);
        let scheme = self.options.scheme;
        let rand = match scheme {
            Scheme::HalfGates => crate::aes::Prg::from_seed([0; 16]), // unused by half-gates
            Scheme::ThreeHalves => crate::aes::Prg::from_os()?,
        };
        let garbler = Garbler::new(program, self.delta.clone(), &zero, self.tweaks)
            .map(|g| g.with_threads(self.threads).with_scheme(scheme, rand));
        zeroize::Zeroize::zeroize(&mut zero);
        let mut garbler = garbler?;
        let blocks = scheme.blocks_for(TABLE_CHUNK);
        let helper = pipelined(program.and_count());
        let total = self.options.runs * program.and_count() as u64;
        let mut done = self.runs_done * program.and_count() as u64;
        let mut left = program.and_count();
        let progress = &mut self.progress;
        let mut write = |tables: &[Block]| -> Result<()> {
            send_blocks(ch, tables)?;
            ch.flush()?;
            let gates = left.min(TABLE_CHUNK);
            left -= gates;
            done += gates as u64;
            if let Some(p) = progress.as_mut() {
                p(done, total);
            }
            Ok(())
        };
        if helper {
            garble_pipelined(&mut garbler, blocks, write)?;
        } else {
            let mut tables = vec![Block::ZERO; blocks];
            while !garbler.is_done() {
                let n = garbler.garble(&mut tables);
                write(&tables[..n])?;
            }
        }
        self.phases.gates += clock.elapsed();
        let clock = Instant::now();
        let decoding = garbler.decoding_bits()?;
        drop(garbler);
        // Decoding bits of the outputs the evaluator learns.
        let mut for_evaluator = Vec::new();
        let mut at = 0;
        for (&r, &w) in self.options.reveal.iter().zip(program.output_widths()) {
            if r.to_evaluator() {
                for_evaluator.extend_from_slice(&decoding[at..at + w as usize]);
            }
            at += w as usize;
        }
        ch.write_all(&pack_bits(&for_evaluator))?;
        ch.flush()?;
        // The evaluator's colour bits of the outputs we learn.
        let n = self.options.output_bits(program, Reveal::to_garbler);
        let mut packed = vec![0u8; n.div_ceil(8)];
        ch.read_exact(&mut packed)?;
        let colours = unpack_bits(&packed, n);
        let mut bits = Vec::with_capacity(decoding.len());
        let (mut at, mut next) = (0, 0);
        for (&r, &w) in self.options.reveal.iter().zip(program.output_widths()) {
            for k in 0..w as usize {
                bits.push(r.to_garbler().then(|| {
                    next += 1;
                    colours[next - 1] ^ decoding[at + k]
                }));
            }
            at += w as usize;
        }
        self.phases.outputs += clock.elapsed();
        self.tweaks = self
            .tweaks
            .after_scheme(program.and_count(), self.options.scheme);
        self.runs_done += 1;
        self.and_done += program.and_count() as u64;
        Ok(split_outputs(program, bits))
    }

    /// Ends the session: exchanges the end markers and reports the statistics.
    pub fn finish(mut self) -> Result<SessionStats> {
        let progress = RunProgress {
            options: &self.options,
            runs_done: self.runs_done,
            and_done: self.and_done,
        };
        progress.finish(&mut self.channel, self.start, self.setup, self.phases)
    }

    /// The channel, for callers that keep using the connection.
    pub fn channel(&mut self) -> &mut C {
        &mut self.channel
    }
}

/// The evaluator's side of a session.
pub struct EvaluatorSession<'p, 'c, C: Channel> {
    channel: C,
    program: &'p Program,
    options: SessionOptions,
    cot: CotReceiver,
    /// The OT extension of the next run, computed while the garbler worked on this one.
    prepared: Option<ot::Prepared>,
    tweaks: TweakBase,
    runs_done: u64,
    /// AND gates garbled or evaluated so far (runs may use different programs).
    and_done: u64,
    /// A run failed part-way: its tweaks and OT state may be half used, so no further run.
    failed: bool,
    start: Instant,
    setup: Duration,
    phases: Phases,
    progress: Option<Progress<'c>>,
    /// Threads a wide AND batch is split across (a local choice: the wire does not change).
    threads: usize,
    /// Malicious security: the evaluator's Delta, its COT sender and randomness.
    auth: Option<AuthState>,
    /// A deviation to play (the hostile-peer tests).
    cheat: Option<Cheat>,
}

impl<'p, 'c, C: Channel> EvaluatorSession<'p, 'c, C> {
    /// Handshake and base OTs.
    pub fn start(mut channel: C, program: &'p Program, options: SessionOptions) -> Result<Self> {
        let start = Instant::now();
        let (mut prg, nonce, session) = greet(&mut channel, program, &options, Party::Evaluator)?;
        let handshake = start.elapsed();
        let (cot, auth) = if options.security == Security::Malicious {
            // Bit 1 fixed to 0 (the garbler fixes its own to 1; see GarblerSession::start).
            let delta = Delta::new(Block::new(prg.block().value() & !2));
            let mut cot = ot::setup_receiver(&mut channel, session, &mut prg, MALICIOUS_OT_WIDTH)?;
            let sender = ot::reverse_sender(
                &mut channel,
                &mut cot,
                delta.clone(),
                reverse_session(session),
                MALICIOUS_OT_WIDTH,
            )?;
            let state = AuthState {
                reverse: Reverse::Sender(Box::new((sender, delta, Prg::from_os()?))),
                leaky_counter: 0,
                scratch: auth::prep::Scratch::take(),
            };
            (cot, Some(state))
        } else {
            (
                ot::setup_receiver(
                    &mut channel,
                    session,
                    &mut prg,
                    semi_honest_ot_width(options.scheme),
                )?,
                None,
            )
        };
        let phases = Phases {
            handshake,
            ot: start.elapsed() - handshake,
            ..Phases::default()
        };
        Ok(EvaluatorSession {
            channel,
            program,
            options,
            cot,
            prepared: None,
            tweaks: TweakBase { nonce, first: 0 },
            runs_done: 0,
            and_done: 0,
            failed: false,
            setup: start.elapsed(),
            phases,
            start,
            progress: None,
            threads: 1,
            auth,
            cheat: None,
        })
    }

    /// Plays a deviation from the protocol (the hostile-peer tests).
    #[doc(hidden)]
    pub fn set_cheat(&mut self, cheat: Cheat) {
        self.cheat = Some(cheat);
    }

    /// Splits AND batches of at least [`crate::garble::PARALLEL_MIN`] gates across `threads`
    /// threads; nothing changes on the wire.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Reports progress while tables stream.
    pub fn set_progress(&mut self, progress: Progress<'c>) {
        self.progress = Some(progress);
    }

    /// One run: `inputs` holds the bits of the evaluator's own input groups, in order. Returns
    /// every output group, `None` for those not revealed to the evaluator.
    pub fn run(&mut self, inputs: &[Vec<bool>]) -> Result<Vec<Option<Vec<bool>>>> {
        self.run_ahead(inputs, None)
    }

    /// [`EvaluatorSession::run`], also given the inputs of the next run: their oblivious
    /// transfers are computed while the garbler garbles this run, instead of after it (a
    /// quarter of the time of a `compare --values` job went to that wait).
    pub fn run_ahead(
        &mut self,
        inputs: &[Vec<bool>],
        next: Option<&[Vec<bool>]>,
    ) -> Result<Vec<Option<Vec<bool>>>> {
        if self.failed {
            return Err(Error::arg(
                "an earlier run of this session failed; the session cannot run again",
            ));
        }
        let program = self.program;
        self.run_ahead_with(program, inputs, next.map(|n| (program, n)))
    }

    /// [`EvaluatorSession::run_ahead`] where this run, or the next, uses another program with
    /// the same groups (see [`GarblerSession::run_with`]).
    pub fn run_ahead_with(
        &mut self,
        program: &Program,
        inputs: &[Vec<bool>],
        next: Option<(&Program, &[Vec<bool>])>,
    ) -> Result<Vec<Option<Vec<bool>>>> {
        if self.failed {
            return Err(Error::arg(
                "an earlier run of this session failed; the session cannot run again",
            ));
        }
        same_groups(self.program, program)?;
        if let Some((next_program, _)) = next {
            same_groups(self.program, next_program)?;
        }
        self.failed = true;
        let outputs = self.run_ahead_once(program, inputs, next)?;
        self.failed = false;
        Ok(outputs)
    }

    fn run_ahead_once(
        &mut self,
        program: &Program,
        inputs: &[Vec<bool>],
        next: Option<(&Program, &[Vec<bool>])>,
    ) -> Result<Vec<Option<Vec<bool>>>> {
        if self.runs_done >= self.options.runs {
            return Err(Error::arg(format!(
                "the session was agreed for {} run(s)",
                self.options.runs
            )));
        }
        let own =
            zeroize::Zeroizing::new(own_bits(program, &self.options, Party::Evaluator, inputs)?);
        if let Some(state) = self.auth.as_mut() {
            let Reverse::Sender(boxed) = &mut state.reverse else {
                return Err(Error::SelfCheck(
                    "the evaluator holds a COT receiver".into(),
                ));
            };
            let mut ctx = auth::Ctx {
                me: Party::Evaluator,
                delta: &boxed.1,
                send: &mut boxed.0,
                recv: &mut self.cot,
                prg: &mut boxed.2,
                nonce: self.tweaks.nonce,
                leaky_counter: &mut state.leaky_counter,
                cheat: &mut self.cheat,
                scratch: &mut state.scratch,
                cheated: false,
            };
            let run = auth_run(program, &self.options, &self.tweaks);
            let mut times = auth::RunTimes::default();
            let bits = auth::evaluator_run(&mut self.channel, &mut ctx, &run, &own, &mut times)?;
            let runs = self.options.runs;
            return Ok(counters!(self).after_malicious_run(program, runs, bits, times));
        }
        let ch = &mut self.channel;
        let clock = Instant::now();
        let mut t = match self.prepared.take() {
            Some(prepared) if prepared.choices() == own.as_slice() => {
                ot::send_prepared(ch, prepared)?
            }
            // The prepared extension used up its part of the OT streams: other inputs now would
            // leave the two parties' streams apart.
            Some(_) => {
                return Err(Error::arg(
                    "this run's inputs differ from the ones given as `next` to the previous run",
                ));
            }
            None => ot::receive(ch, &mut self.cot, &own)?,
        };
        if let Some((next_program, next)) = next
            && self.runs_done + 1 < self.options.runs
        {
            let bits = zeroize::Zeroizing::new(own_bits(
                next_program,
                &self.options,
                Party::Evaluator,
                next,
            )?);
            self.prepared = Some(ot::prepare(&mut self.cot, &bits));
        }
        self.phases.ot += clock.elapsed();
        let clock = Instant::now();
        let garbler_bits = self.options.input_bits(program, Party::Garbler);
        let mut theirs = vec![Block::ZERO; garbler_bits];
        recv_blocks(ch, &mut theirs)?;
        let mut active = Vec::with_capacity(program.input_count());
        let (mut next_t, mut next_g) = (0, 0);
        for (&owner, &width) in self.options.owners.iter().zip(program.input_widths()) {
            for _ in 0..width {
                if owner == Party::Evaluator {
                    active.push(ActiveLabel(t[next_t]));
                    next_t += 1;
                } else {
                    active.push(ActiveLabel(theirs[next_g]));
                    next_g += 1;
                }
            }
        }
        let scheme = self.options.scheme;
        let evaluator = Evaluator::new(program, &active, self.tweaks)
            .map(|e| e.with_threads(self.threads).with_scheme(scheme));
        zeroize::Zeroize::zeroize(&mut t);
        zeroize::Zeroize::zeroize(&mut theirs);
        zeroize::Zeroize::zeroize(&mut active);
        let mut evaluator = evaluator?;
        // The garbler sends TABLE_CHUNK gates at a time, the last piece what is left.
        let gates: Vec<usize> = table_chunks(program.and_count()).collect();
        let total = self.options.runs * program.and_count() as u64;
        let mut done = self.runs_done * program.and_count() as u64;
        let progress = &mut self.progress;
        let mut evaluated = |k: usize| {
            done += gates[k] as u64;
            if let Some(p) = progress.as_mut() {
                p(done, total);
            }
        };
        let blocks: Vec<usize> = gates.iter().map(|&g| scheme.blocks_for(g)).collect();
        if pipelined(program.and_count()) {
            evaluate_pipelined(
                &mut evaluator,
                &blocks,
                |tables| recv_blocks(ch, tables),
                evaluated,
            )?;
        } else {
            let mut tables = vec![Block::ZERO; blocks.first().copied().unwrap_or(0)];
            for (k, &n) in blocks.iter().enumerate() {
                recv_blocks(ch, &mut tables[..n])?;
                let used = evaluator.evaluate(&tables[..n]);
                debug_assert_eq!(used, n, "chunks hold whole gates");
                evaluated(k);
            }
        }
        evaluator.evaluate(&[]);
        self.phases.gates += clock.elapsed();
        let clock = Instant::now();
        let labels = zeroize::Zeroizing::new(evaluator.output_labels()?);
        drop(evaluator);
        let n = self.options.output_bits(program, Reveal::to_evaluator);
        let mut packed = vec![0u8; n.div_ceil(8)];
        ch.read_exact(&mut packed)?;
        let decoding = unpack_bits(&packed, n);
        let mut bits = Vec::with_capacity(labels.len());
        let mut for_garbler = Vec::new();
        let (mut at, mut next) = (0, 0);
        for (&r, &w) in self.options.reveal.iter().zip(program.output_widths()) {
            for label in &labels[at..at + w as usize] {
                let colour = label.0.lsb();
                if r.to_garbler() {
                    for_garbler.push(colour);
                }
                bits.push(r.to_evaluator().then(|| {
                    next += 1;
                    colour ^ decoding[next - 1]
                }));
            }
            at += w as usize;
        }
        ch.write_all(&pack_bits(&for_garbler))?;
        ch.flush()?;
        self.phases.outputs += clock.elapsed();
        self.tweaks = self
            .tweaks
            .after_scheme(program.and_count(), self.options.scheme);
        self.runs_done += 1;
        self.and_done += program.and_count() as u64;
        Ok(split_outputs(program, bits))
    }

    /// Ends the session: exchanges the end markers and reports the statistics.
    pub fn finish(mut self) -> Result<SessionStats> {
        let progress = RunProgress {
            options: &self.options,
            runs_done: self.runs_done,
            and_done: self.and_done,
        };
        progress.finish(&mut self.channel, self.start, self.setup, self.phases)
    }

    /// The channel, for callers that keep using the connection.
    pub fn channel(&mut self) -> &mut C {
        &mut self.channel
    }
}

/// Runs the garbler's side once: handshake, OTs, garbling, outputs.
pub fn run_garbler<C: Channel>(
    program: &Program,
    inputs: &[Vec<bool>],
    channel: C,
    options: SessionOptions,
) -> Result<(Vec<Option<Vec<bool>>>, SessionStats)> {
    let mut session = GarblerSession::start(channel, program, options)?;
    let outputs = session.run(inputs)?;
    Ok((outputs, session.finish()?))
}

/// Runs the evaluator's side once.
pub fn run_evaluator<C: Channel>(
    program: &Program,
    inputs: &[Vec<bool>],
    channel: C,
    options: SessionOptions,
) -> Result<(Vec<Option<Vec<bool>>>, SessionStats)> {
    let mut session = EvaluatorSession::start(channel, program, options)?;
    let outputs = session.run(inputs)?;
    Ok((outputs, session.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A garbler and an evaluator for `program` with matching labels.
    fn parties(program: &Program, scheme: Scheme) -> (Garbler<'_>, Evaluator<'_>) {
        let mut prg = Prg::from_seed([9; 16]);
        let delta = Delta::new(prg.block());
        let zero: Vec<ZeroLabel> = (0..program.input_count())
            .map(|_| ZeroLabel(prg.block()))
            .collect();
        let active: Vec<ActiveLabel> = zero
            .iter()
            .enumerate()
            .map(|(i, z)| z.encode(i % 3 == 0, &delta))
            .collect();
        let tweaks = TweakBase { nonce: 5, first: 0 };
        let rand = Prg::from_seed([4; 16]);
        let garbler = Garbler::new(program, delta, &zero, tweaks)
            .unwrap()
            .with_scheme(scheme, rand);
        let evaluator = Evaluator::new(program, &active, tweaks)
            .unwrap()
            .with_scheme(scheme);
        (garbler, evaluator)
    }

    /// A program of three table chunks.
    fn program() -> Program {
        let circuit = crate::circuit::library::aes128_many(12).unwrap();
        let program = crate::compile::compile(&circuit).unwrap();
        assert!(program.and_count() > 2 * TABLE_CHUNK);
        program
    }

    /// The chunk sizes (in blocks) the garbler writes for `program`.
    fn chunks(program: &Program, scheme: Scheme) -> Vec<usize> {
        table_chunks(program.and_count())
            .map(|gates| scheme.blocks_for(gates))
            .collect()
    }

    /// The helper threads write and evaluate the same tables, in the same pieces, as the
    /// one-thread loops, and report every evaluated chunk in order.
    #[test]
    fn pipelined_tables_equal_the_one_thread_loop() {
        let program = program();
        for scheme in [Scheme::HalfGates, Scheme::ThreeHalves] {
            let (mut garbler, mut evaluator) = parties(&program, scheme);
            let mut tables = vec![Block::ZERO; scheme.blocks_for(TABLE_CHUNK)];
            let mut serial = Vec::new();
            while !garbler.is_done() {
                let n = garbler.garble(&mut tables);
                serial.push(tables[..n].to_vec());
            }
            for chunk in &serial {
                evaluator.evaluate(chunk);
            }
            evaluator.evaluate(&[]);
            let serial_out = evaluator.output_labels().unwrap();

            let (mut garbler, mut evaluator) = parties(&program, scheme);
            let mut written = Vec::new();
            garble_pipelined(&mut garbler, scheme.blocks_for(TABLE_CHUNK), |t| {
                written.push(t.to_vec());
                Ok(())
            })
            .unwrap();
            assert!(written == serial, "{scheme}: written tables");
            assert_eq!(
                written.iter().map(Vec::len).collect::<Vec<_>>(),
                chunks(&program, scheme)
            );
            let mut next = written.iter();
            let mut order = Vec::new();
            evaluate_pipelined(
                &mut evaluator,
                &chunks(&program, scheme),
                |out| {
                    out.copy_from_slice(next.next().expect("a chunk to read"));
                    Ok(())
                },
                |k| order.push(k),
            )
            .unwrap();
            evaluator.evaluate(&[]);
            assert_eq!(order, (0..written.len()).collect::<Vec<_>>());
            assert!(evaluator.output_labels().unwrap() == serial_out, "{scheme}");
        }
    }

    /// A write or a read that fails mid-run ends the helper and returns that error, with no
    /// hang; the chunks evaluated before it are the only ones reported.
    #[test]
    fn a_failed_write_or_read_stops_the_helper() {
        let program = program();
        let scheme = Scheme::HalfGates;
        let (mut garbler, mut evaluator) = parties(&program, scheme);
        let mut writes = 0;
        let result = garble_pipelined(&mut garbler, scheme.blocks_for(TABLE_CHUNK), |_| {
            writes += 1;
            if writes == 2 {
                Err(Error::PeerClosed("test".into()))
            } else {
                Ok(())
            }
        });
        assert!(matches!(result, Err(Error::PeerClosed(_))), "{result:?}");
        assert_eq!(writes, 2);

        let mut reads = 0;
        let mut reported = Vec::new();
        let result = evaluate_pipelined(
            &mut evaluator,
            &chunks(&program, scheme),
            |_| {
                reads += 1;
                if reads == 3 {
                    Err(Error::PeerClosed("test".into()))
                } else {
                    Ok(())
                }
            },
            |k| reported.push(k),
        );
        assert!(matches!(result, Err(Error::PeerClosed(_))), "{result:?}");
        assert_eq!(reads, 3);
        assert_eq!(reported, vec![0, 1]);
    }
}
