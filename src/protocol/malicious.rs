//! The malicious protocol's seam: a session with `Security::Malicious` keeps the second OT
//! direction and the leaky-AND state here, and each run goes to authenticated garbling
//! (`crate::auth`, WRK17 with KRRW18's authenticated half-gates; steps in `docs/MALICIOUS.md`).
//! The handshake, the first OT direction and the end of the session are the shared ones of
//! `protocol`.

use super::{
    EvaluatorSession, GarblerSession, MALICIOUS_OT_WIDTH, Phases, Progress, SessionOptions,
};
use crate::aes::Prg;
use crate::auth::{self};
use crate::block::Delta;
use crate::compile::Program;
use crate::error::{Error, Result};
use crate::garble::TweakBase;
use crate::net::Channel;
use crate::ot::{CotReceiver, CotSender};
use crate::session::{Party, split_outputs};

/// What a malicious session keeps besides the semi-honest state: the other OT direction.
pub(super) struct AuthState {
    /// The garbler's receiver / the evaluator's sender.
    reverse: Reverse,
    leaky_counter: u64,
    scratch: auth::prep::Scratch,
}

pub(super) enum Reverse {
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
pub(super) fn reverse_session(session: [u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"garbled reverse ot v1");
    h.update(&session);
    *h.finalize().as_bytes()
}

/// The garbler's set-up after the handshake: its Delta (bit 1 set: bit 1 of
/// `Delta_G ^ Delta_E` must be 1 for the leaky AND's openings, `auth::prep`), the correlated
/// OTs under it, and the reverse direction's receiver from KOS15 random OTs.
pub(super) fn garbler_setup<C: Channel>(
    channel: &mut C,
    prg: &mut Prg,
    session: [u8; 32],
) -> Result<(Delta, CotSender, AuthState)> {
    let delta = Delta::new(crate::block::Block::new(prg.block().value() | 2));
    let mut cot =
        crate::ot::setup_sender(channel, delta.clone(), session, prg, MALICIOUS_OT_WIDTH)?;
    let receiver = crate::ot::reverse_receiver(
        channel,
        &mut cot,
        &delta,
        reverse_session(session),
        prg,
        MALICIOUS_OT_WIDTH,
    )?;
    let state = AuthState {
        reverse: Reverse::Receiver(Box::new(receiver)),
        leaky_counter: 0,
        scratch: auth::prep::Scratch::take(),
    };
    Ok((delta, cot, state))
}

/// The evaluator's set-up after the handshake: the correlated OTs under the garbler's Delta,
/// and its own Delta (bit 1 clear) with the reverse direction's sender.
pub(super) fn evaluator_setup<C: Channel>(
    channel: &mut C,
    prg: &mut Prg,
    session: [u8; 32],
) -> Result<(CotReceiver, AuthState)> {
    let delta = Delta::new(crate::block::Block::new(prg.block().value() & !2));
    let mut cot = crate::ot::setup_receiver(channel, session, prg, MALICIOUS_OT_WIDTH)?;
    let sender = crate::ot::reverse_sender(
        channel,
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
    Ok((cot, state))
}

/// The malicious state of a session that was set up as malicious.
fn state_of(auth: &mut Option<AuthState>) -> Result<&mut AuthState> {
    auth.as_mut()
        .ok_or_else(|| Error::SelfCheck("a malicious run without the malicious state".into()))
}

/// One malicious run of the garbler (`own`: its input bits in wire order).
pub(super) fn garbler_run<C: Channel>(
    s: &mut GarblerSession<'_, '_, C>,
    program: &Program,
    own: &[bool],
) -> Result<Vec<Option<Vec<bool>>>> {
    let state = state_of(&mut s.auth)?;
    let Reverse::Receiver(receiver) = &mut state.reverse else {
        return Err(Error::SelfCheck("the garbler holds a COT sender".into()));
    };
    let mut ctx = auth::Ctx {
        me: Party::Garbler,
        delta: &s.delta,
        send: &mut s.cot,
        recv: receiver,
        prg: &mut s.prg,
        nonce: s.tweaks.nonce,
        leaky_counter: &mut state.leaky_counter,
        cheat: &mut s.cheat,
        scratch: &mut state.scratch,
        cheated: false,
    };
    let run = auth_run(program, &s.options, &s.tweaks);
    let mut times = auth::RunTimes::default();
    let bits = auth::garbler_run(&mut s.channel, &mut ctx, &run, own, &mut times)?;
    let runs = s.options.runs;
    Ok(counters!(s).after_malicious_run(program, runs, bits, times))
}

/// One malicious run of the evaluator (`own`: its input bits in wire order).
pub(super) fn evaluator_run<C: Channel>(
    s: &mut EvaluatorSession<'_, '_, C>,
    program: &Program,
    own: &[bool],
) -> Result<Vec<Option<Vec<bool>>>> {
    let state = state_of(&mut s.auth)?;
    let Reverse::Sender(boxed) = &mut state.reverse else {
        return Err(Error::SelfCheck(
            "the evaluator holds a COT receiver".into(),
        ));
    };
    let mut ctx = auth::Ctx {
        me: Party::Evaluator,
        delta: &boxed.1,
        send: &mut boxed.0,
        recv: &mut s.cot,
        prg: &mut boxed.2,
        nonce: s.tweaks.nonce,
        leaky_counter: &mut state.leaky_counter,
        cheat: &mut s.cheat,
        scratch: &mut state.scratch,
        cheated: false,
    };
    let run = auth_run(program, &s.options, &s.tweaks);
    let mut times = auth::RunTimes::default();
    let bits = auth::evaluator_run(&mut s.channel, &mut ctx, &run, own, &mut times)?;
    let runs = s.options.runs;
    Ok(counters!(s).after_malicious_run(program, runs, bits, times))
}
