//! Many rows of one circuit through one session: the plan that packs rows into runs (side-by-side
//! copies of the circuit, so that one run's round trips serve many rows), and the loops that drive
//! either party through the runs. `garbled run --inputs`, the Python package's `run_rows` and the
//! benchmarks share them.

use crate::compile::{Program, compile};
use crate::error::Result;
use crate::net::Channel;
use crate::protocol::{EvaluatorSession, GarblerSession, Progress, SessionOptions, SessionStats};

/// Runs the garbler's side of every run; `emit` gets each run's outputs. With `close` the
/// connection is closed at the end, else left open for another session.
pub fn garbler_runs<C: Channel>(
    channel: C,
    plan: &Plan,
    options: SessionOptions,
    mut next: impl FnMut() -> Result<Vec<Vec<bool>>>,
    mut emit: impl FnMut(Vec<Option<Vec<bool>>>, u64) -> Result<()>,
    progress: Option<Progress<'_>>,
    close: bool,
) -> Result<SessionStats> {
    let runs = options.runs;
    let mut session = GarblerSession::start(channel, &plan.program, options)?;
    session.set_threads(plan.split);
    if let Some(progress) = progress {
        session.set_progress(progress);
    }
    for run in 0..runs {
        let inputs = next()?;
        emit(
            session.run_with(plan.program_of(run), &inputs)?,
            plan.rows_in(run),
        )?;
    }
    if close {
        session.finish()
    } else {
        session.finish_open()
    }
}

/// The evaluator's side: the next run's oblivious transfers are prepared while the garbler
/// garbles the current one.
pub fn evaluator_runs<C: Channel>(
    channel: C,
    plan: &Plan,
    options: SessionOptions,
    mut next: impl FnMut() -> Result<Vec<Vec<bool>>>,
    mut emit: impl FnMut(Vec<Option<Vec<bool>>>, u64) -> Result<()>,
    progress: Option<Progress<'_>>,
    close: bool,
) -> Result<SessionStats> {
    let runs = options.runs;
    let mut session = EvaluatorSession::start(channel, &plan.program, options)?;
    session.set_threads(plan.split);
    if let Some(progress) = progress {
        session.set_progress(progress);
    }
    let mut current = next()?;
    for run in 0..runs {
        let following = if run + 1 < runs { Some(next()?) } else { None };
        let outputs = session.run_ahead_with(
            plan.program_of(run),
            &current,
            following.as_deref().map(|f| (plan.program_of(run + 1), f)),
        )?;
        emit(outputs, plan.rows_in(run))?;
        current = following.unwrap_or_default();
    }
    if close {
        session.finish()
    } else {
        session.finish_open()
    }
}

/// How the rows of a batch job map onto runs: `per_run` rows per run through `per_run`
/// side-by-side copies of the circuit (one run's round trips for many rows), the last run
/// through `tail` copies. Both parties derive it from the circuit and the row count, which the
/// handshake compares (digest and job description).
pub struct Plan {
    /// Rows in all.
    pub rows: u64,
    /// Rows per run (the last run may have fewer).
    pub per_run: u64,
    /// Runs of the session.
    pub runs: u64,
    /// The program of every run but a shorter last one.
    pub program: Program,
    /// The last run's program when it has fewer rows.
    pub tail: Option<Program>,
    /// Threads each wide AND batch is split across (single runs with --threads).
    pub split: usize,
}

/// A run of a batch job aims at about this many AND gates (8 MiB of tables), at most
/// [`MAX_ROWS_PER_RUN`] rows, and at most [`MAX_WIRES_PER_RUN`] wires of replicated circuit.
const AND_PER_RUN: u64 = 1 << 18;
const MAX_ROWS_PER_RUN: u64 = 4096;
const MAX_WIRES_PER_RUN: u64 = 1 << 22;

impl Plan {
    /// One run of `program`, its AND batches split across `split` threads.
    pub fn single(program: Program, split: usize) -> Plan {
        Plan {
            rows: 1,
            per_run: 1,
            runs: 1,
            program,
            tail: None,
            split,
        }
    }

    /// Without the circuit (a streamed or compiled program) every row is a run of its own.
    pub fn batch(
        circuit: Option<&crate::circuit::Circuit>,
        single: Program,
        rows: u64,
    ) -> Result<Plan> {
        let Some(circuit) = circuit else {
            return Ok(Plan {
                rows,
                per_run: 1,
                runs: rows,
                program: single,
                tail: None,
                split: 1,
            });
        };
        let ands = single.and_count() as u64;
        let by_and = (AND_PER_RUN / ands.max(1)).max(1);
        let by_wires = (MAX_WIRES_PER_RUN / u64::from(circuit.num_wires()).max(1)).max(1);
        let per_run = by_and.min(by_wires).min(MAX_ROWS_PER_RUN).min(rows).max(1);
        let runs = rows.div_ceil(per_run);
        let tail_rows = rows - (runs - 1) * per_run;
        let unshared = vec![false; circuit.inputs().len()];
        let build = |copies: u64| -> Result<Program> {
            if copies == 1 {
                return Ok(single.clone());
            }
            compile(&crate::circuit::library::replicate(
                circuit,
                copies as u32,
                &unshared,
            )?)
        };
        let program = build(per_run)?;
        let tail = (tail_rows < per_run)
            .then(|| build(tail_rows))
            .transpose()?;
        Ok(Plan {
            rows,
            per_run,
            runs,
            program,
            tail,
            split: 1,
        })
    }

    /// The program of run `run`.
    pub fn program_of(&self, run: u64) -> &Program {
        match &self.tail {
            Some(tail) if run + 1 == self.runs => tail,
            _ => &self.program,
        }
    }

    /// The rows that run `run` computes.
    pub fn rows_in(&self, run: u64) -> u64 {
        if run + 1 == self.runs {
            self.rows - run * self.per_run
        } else {
            self.per_run
        }
    }
}

/// Splits a run's outputs (row `i` of group `g` at `i * width`) into rows.
pub fn rows_of(outputs: &[Option<Vec<bool>>], rows: u64) -> Vec<Vec<Option<Vec<bool>>>> {
    (0..rows as usize)
        .map(|i| {
            outputs
                .iter()
                .map(|group| {
                    group.as_ref().map(|bits| {
                        let width = bits.len() / rows as usize;
                        bits[i * width..(i + 1) * width].to_vec()
                    })
                })
                .collect()
        })
        .collect()
}
