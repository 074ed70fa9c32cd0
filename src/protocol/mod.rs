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

use crate::aes::Prg;
use crate::auth::Cheat;
use crate::block::Delta;
use crate::compile::Program;
use crate::error::{Error, Result};
use crate::garble::{Scheme, TweakBase};
use crate::net::{Channel, Traffic};
use crate::ot::{self, CotReceiver, CotSender};

pub mod handshake;
mod malicious;
mod pipeline;
mod semi_honest;

pub use crate::session::{
    Party, Phases, Progress, Reveal, Security, SessionOptions, SessionStats, ShardTag,
};
use crate::session::{own_bits, same_groups};
use malicious::AuthState;

use handshake::Hello;

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
/// What we announce in the handshake.
fn hello(options: &SessionOptions, program: &Program, role: Party, nonce: u64) -> Hello {
    Hello {
        role,
        digest: program.digest(),
        input_widths: program.input_widths().to_vec(),
        owners: options.owners.clone(),
        output_widths: program.output_widths().to_vec(),
        reveal: options.reveal.clone(),
        scheme: handshake::scheme_name(options.scheme),
        security: options.security.name().to_string(),
        runs: options.runs,
        job: options.job.clone(),
        bit_order: options.bit_order.to_string(),
        shard: options.shard.clone(),
        nonce,
    }
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
    let ours = hello(options, program, role, prg.block().value() as u64);
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

/// Sends our end marker and closes our direction, then reads the peer's marker and its close:
/// anything else is an error. With `close` false the connection stays open for another session
/// (the markers are exchanged all the same, so both sides know this one ended whole).
fn end_session<C: Channel>(channel: &mut C, close: bool) -> Result<()> {
    channel.write_all(&END)?;
    if close {
        channel.close_write()?;
    } else {
        channel.flush()?;
    }
    let mut marker = [0u8; 8];
    channel.read_exact(&mut marker)?;
    if marker != END {
        return Err(Error::peer(
            "the peer sent data where the end-of-session marker belongs",
        ));
    }
    if close { channel.expect_eof() } else { Ok(()) }
}

/// How far a session got, for its end.
struct RunProgress<'a> {
    options: &'a SessionOptions,
    runs_done: u64,
    and_done: u64,
    /// The connection's traffic when the session started (a connection may carry several).
    baseline: Traffic,
    /// Close the connection at the end (else leave it open for another session).
    close: bool,
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
        end_session(channel, self.close)?;
        phases.outputs += ending.elapsed();
        let traffic = channel.traffic();
        Ok(SessionStats {
            and_gates: self.and_done,
            bytes_sent: traffic.sent - self.baseline.sent,
            bytes_received: traffic.received - self.baseline.received,
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
    /// The connection's traffic before this session.
    baseline: Traffic,
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

impl<'p, 'c, C: Channel> GarblerSession<'p, 'c, C> {
    /// Handshake and base OTs.
    pub fn start(mut channel: C, program: &'p Program, options: SessionOptions) -> Result<Self> {
        let start = Instant::now();
        let baseline = channel.traffic();
        let (mut prg, nonce, session) = greet(&mut channel, program, &options, Party::Garbler)?;
        let handshake = start.elapsed();
        let (delta, cot, auth) = match options.security {
            Security::SemiHonest => {
                let (delta, cot) =
                    semi_honest::garbler_setup(&mut channel, &mut prg, session, options.scheme)?;
                (delta, cot, None)
            }
            Security::Malicious => {
                let (delta, cot, state) =
                    malicious::garbler_setup(&mut channel, &mut prg, session)?;
                (delta, cot, Some(state))
            }
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
            baseline,
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
        match self.options.security {
            Security::SemiHonest => semi_honest::garbler_run(self, program, &own),
            Security::Malicious => malicious::garbler_run(self, program, &own),
        }
    }

    /// Ends the session: exchanges the end markers, closes the connection and reports the
    /// statistics.
    pub fn finish(self) -> Result<SessionStats> {
        self.end(true)
    }

    /// Ends the session like [`Self::finish`] but leaves the connection open for another
    /// session (the peer must end its side the same way); the statistics count this session's
    /// bytes only.
    pub fn finish_open(self) -> Result<SessionStats> {
        self.end(false)
    }

    fn end(mut self, close: bool) -> Result<SessionStats> {
        let progress = RunProgress {
            options: &self.options,
            runs_done: self.runs_done,
            and_done: self.and_done,
            baseline: self.baseline,
            close,
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
    /// The connection's traffic before this session.
    baseline: Traffic,
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
        let baseline = channel.traffic();
        let (mut prg, nonce, session) = greet(&mut channel, program, &options, Party::Evaluator)?;
        let handshake = start.elapsed();
        let (cot, auth) = match options.security {
            Security::SemiHonest => (
                semi_honest::evaluator_setup(&mut channel, &mut prg, session, options.scheme)?,
                None,
            ),
            Security::Malicious => {
                let (cot, state) = malicious::evaluator_setup(&mut channel, &mut prg, session)?;
                (cot, Some(state))
            }
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
            baseline,
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
        match self.options.security {
            Security::SemiHonest => semi_honest::evaluator_run(self, program, &own, next),
            Security::Malicious => malicious::evaluator_run(self, program, &own),
        }
    }

    /// Ends the session: exchanges the end markers, closes the connection and reports the
    /// statistics.
    pub fn finish(self) -> Result<SessionStats> {
        self.end(true)
    }

    /// Ends the session like [`Self::finish`] but leaves the connection open for another
    /// session (the peer must end its side the same way); the statistics count this session's
    /// bytes only.
    pub fn finish_open(self) -> Result<SessionStats> {
        self.end(false)
    }

    fn end(mut self, close: bool) -> Result<SessionStats> {
        let progress = RunProgress {
            options: &self.options,
            runs_done: self.runs_done,
            and_done: self.and_done,
            baseline: self.baseline,
            close,
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
