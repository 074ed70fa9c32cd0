//! The vocabulary both protocols speak: who the parties are, who learns which output, the
//! security level, what the two parties agree on before a session ([`SessionOptions`]), what a
//! session reports ([`SessionStats`] and its [`Phases`]), and the routing of inputs and outputs
//! between a run's wires and the groups.
//!
//! The semi-honest protocol (`protocol`) and the authenticated one (`auth`) both use this module
//! and neither uses the other's internals through it: `protocol` dispatches to `auth`, and
//! `auth` depends only on this module, the garbling kernels, OT and the channel (no cycle).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::compile::Program;
use crate::error::{Error, Result};
use crate::garble::Scheme;

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
    /// Neither: each party gets an XOR share. The evaluator learns `value ^ r` for a mask `r`
    /// only the garbler holds, and the garbler's output is `r` (semi-honest: fresh bits from the
    /// garbler's generator, sent XORed into the decoding bits; malicious: the garbler's share of
    /// the output wire's authenticated mask, so nothing is opened). The two outputs XOR to the
    /// value; either alone is uniformly random. The building block of jobs whose result goes to
    /// third parties (`garbled serve`).
    Shared,
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
    /// Whether the group ends as XOR shares, one per party.
    pub fn is_shared(self) -> bool {
        self == Reveal::Shared
    }
    /// Whether the evaluator gets decoding information for the group (its value, or its share).
    pub fn decoded_by_evaluator(self) -> bool {
        self.to_evaluator() || self.is_shared()
    }
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Reveal::Garbler => "garbler",
            Reveal::Evaluator => "evaluator",
            Reveal::Both => "both",
            Reveal::Shared => "shared",
        }
    }
}

impl std::str::FromStr for Reveal {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "garbler" => Ok(Reveal::Garbler),
            "evaluator" => Ok(Reveal::Evaluator),
            "both" => Ok(Reveal::Both),
            "shared" => Ok(Reveal::Shared),
            other => Err(Error::arg(format!(
                "unknown output routing '{other}': expected both, garbler, evaluator or shared"
            ))),
        }
    }
}

/// Which shard of a sharded job a session computes: the handshake carries it, so that a session
/// whose peer is another shard, or another job, ends with a named error instead of combining
/// rows that do not belong together.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardTag {
    /// The job's id, the same on both sides.
    pub job: String,
    /// This shard's index, from 0.
    pub index: u32,
    /// How many shards the job has.
    pub count: u32,
}

impl std::fmt::Display for ShardTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "job {:?}, shard {} of {}",
            self.job, self.index, self.count
        )
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
    /// The shard of a sharded job this session is, if it is one.
    pub shard: Option<ShardTag>,
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
            shard: None,
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

    /// Marks the session as shard `index` of `count` of the job `job` (a sharded job's id: 1 to
    /// 256 bytes); the handshake compares all three.
    pub fn with_shard(mut self, job: impl Into<String>, index: u32, count: u32) -> Result<Self> {
        let job = job.into();
        if job.is_empty() || job.len() > 256 {
            return Err(Error::arg("a sharded job's id must be 1 to 256 bytes long"));
        }
        if count == 0 || index >= count {
            return Err(Error::arg(format!(
                "shard {index} of {count}: the index must be below the shard count"
            )));
        }
        self.shard = Some(ShardTag { job, index, count });
        Ok(self)
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

    pub(crate) fn check(&self, program: &Program) -> Result<()> {
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

    /// Input wires owned by `party`, total.
    pub(crate) fn input_bits(&self, program: &Program, party: Party) -> usize {
        self.owners
            .iter()
            .zip(program.input_widths())
            .filter(|(o, _)| **o == party)
            .map(|(_, w)| *w as usize)
            .sum()
    }

    /// The output wires the given test selects, in wire order.
    pub(crate) fn output_bits(&self, program: &Program, select: impl Fn(Reveal) -> bool) -> usize {
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

/// The security a session gives: negotiated in the handshake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Security {
    /// Both parties follow the protocol (half-gates or three-halves garbling).
    #[default]
    SemiHonest,
    /// Either party may deviate: authenticated garbling; a deviation ends in an abort.
    Malicious,
}

impl Security {
    /// The name used on the command line, in the handshake and in the statistics.
    pub fn name(self) -> &'static str {
        match self {
            Security::SemiHonest => "semi-honest",
            Security::Malicious => "malicious",
        }
    }
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Security {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "semi-honest" => Ok(Security::SemiHonest),
            "malicious" => Ok(Security::Malicious),
            other => Err(Error::arg(format!(
                "unknown security '{other}': expected semi-honest or malicious"
            ))),
        }
    }
}

/// A run's program must have the session program's groups (their widths may differ).
pub(crate) fn same_groups(session: &Program, run: &Program) -> Result<()> {
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
pub(crate) fn own_bits(
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

pub(crate) fn split_outputs(program: &Program, bits: Vec<Option<bool>>) -> Vec<Option<Vec<bool>>> {
    let mut out = Vec::with_capacity(program.output_widths().len());
    let mut at = 0;
    for &w in program.output_widths() {
        let group = &bits[at..at + w as usize];
        out.push(group.iter().copied().collect::<Option<Vec<bool>>>());
        at += w as usize;
    }
    out
}
