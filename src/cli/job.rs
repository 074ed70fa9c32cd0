//! `garbled job check`, `garbled serve` and `garbled contribute`: jobs with many contributors and
//! two compute parties ([`crate::job`]).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::net::{CommandClock, stats_json, stats_line};
use crate::error::{Error, Result};
use crate::job::{Job, contribute, serve};
use crate::net::tls::Identity;
use crate::protocol::Party;
use crate::value::{BitOrder, OutputFormat, format_value_as, parse_value};

/// The largest `--values-file` read (a contributor's values; 16 MiB is millions of them).
const MAX_VALUES_FILE: u64 = 16 << 20;

const JOB_HELP: &str = "\
A job file (TOML) is shared by everyone in the job:

  job = \"flu-week-48\"                 # unique for this job
  security = \"semi-honest\"            # or \"malicious\"
  timeout = 60                        # seconds the compute parties wait for contributions
  recipients = [\"st-marys\"]           # contributor names, or \"compute\"

  [circuit]
  generator = \"sum\"                   # or path = \"circuits/add32.txt\" (relative to this file)
  bits = 32
  count = 3
  lanes = 8                           # values per group: 8 counts per contributor

  [compute.garbler]
  address = \"10.0.0.1:7100\"
  fingerprint = \"…\"                   # from `garbled keygen`

  [compute.evaluator]
  address = \"10.0.0.2:7100\"
  fingerprint = \"…\"

  [[contributor]]
  name = \"st-marys\"
  fingerprint = \"…\"
  groups = [1]                        # the circuit's input groups it feeds (from 1)";

/// Arguments of `garbled job`.
#[derive(Debug, Args)]
pub(crate) struct JobArgs {
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Check a job file and print who feeds what, the circuit's gate counts and the keys.
    #[command(override_usage = "garbled job check <JOB>", after_help = JOB_HELP)]
    Check {
        /// The job file.
        #[arg(value_name = "JOB")]
        file: PathBuf,
    },
}

/// Arguments of `garbled serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Runs one of the job's two compute parties: it listens on its address in the job file for the
contributors (mutual TLS 1.3, each pinned by its fingerprint in the job; strangers are refused and
logged), collects one XOR share of every contribution, runs the job circuit with the other compute
party, and sends its share of the result to each recipient. It exits 0 once every recipient has
its share. A contributor that never comes makes both compute parties stop at the job's timeout
with an error naming it, and no result is released.

Neither compute party alone learns any contribution or the result, as long as the two do not
collude (docs/SECURITY.md).

Example:
  garbled serve flu.toml --as garbler --identity garbler.pem
  garbled serve flu.toml --as evaluator --identity evaluator.pem")]
pub(crate) struct ServeArgs {
    /// The job file.
    #[arg(value_name = "JOB")]
    job: PathBuf,
    /// Which compute party this is.
    #[arg(long = "as", value_name = "ROLE", value_parser = ["garbler", "evaluator"])]
    role: String,
    /// This compute party's identity file (its fingerprint must be the job's for this role).
    #[arg(long, value_name = "FILE")]
    identity: PathBuf,
    /// Listen on this address instead of the job's (behind NAT or a relay: the job file holds the
    /// address the others connect to).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// How the result prints when the compute parties are its recipients.
    #[arg(long, value_name = "FORMAT", default_value = "hex", value_parser = ["hex", "dec", "signed", "bin"])]
    output_format: String,
    /// Print the result (if any) and the statistics as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `garbled contribute`.
#[derive(Debug, Args)]
#[command(after_help = "\
Runs a contributor: checks the values against the groups the job file gives this identity, splits
each into two XOR shares with fresh OS randomness, and sends one share to each compute party over
mutual TLS 1.3. A recipient then waits for the two shares of the result, XORs them and prints the
result: one line per value (group by group, lane by lane). Others exit 0 when the job is done.

Values: one per lane of each group this contributor feeds, in order (group by group), decimal,
0x… hex or 0b… binary; a negative number is two's complement in the value's width.

Example:
  garbled contribute flu.toml --identity st-marys.pem --values 120,4,310,77,0,0,9,1")]
pub(crate) struct ContributeArgs {
    /// The job file.
    #[arg(value_name = "JOB")]
    job: PathBuf,
    /// This contributor's identity file (its fingerprint names it in the job file).
    #[arg(long, value_name = "FILE")]
    identity: PathBuf,
    /// The values, comma-separated.
    #[arg(
        long,
        value_name = "V1,V2,...",
        allow_hyphen_values = true,
        conflicts_with = "values_file"
    )]
    values: Option<String>,
    /// A file of values, one per line (blank lines and # comments skipped).
    #[arg(long, value_name = "FILE")]
    values_file: Option<PathBuf>,
    /// How the result prints.
    #[arg(long, value_name = "FORMAT", default_value = "hex", value_parser = ["hex", "dec", "signed", "bin"])]
    output_format: String,
    /// Print the result and the statistics as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

impl JobArgs {
    pub(crate) fn json(&self) -> bool {
        false
    }
}

pub(crate) fn run_job(args: &JobArgs) -> Result<()> {
    match &args.command {
        JobCommand::Check { file } => {
            let job = Job::load(file)?;
            outln!("{}", job.summary()?.trim_end())?;
            Ok(())
        }
    }
}

/// The result's values as text: group by group, lane by lane.
fn texts(job: &Job, outputs: &[Vec<bool>], format: OutputFormat) -> Vec<String> {
    let mut out = Vec::new();
    for (g, bits) in outputs.iter().enumerate() {
        let w = job.output_value_width(g) as usize;
        for lane in bits.chunks(w.max(1)) {
            out.push(format_value_as(lane, BitOrder::Lsb0, format));
        }
    }
    out
}

pub(crate) fn run_serve(args: &ServeArgs) -> Result<()> {
    let format: OutputFormat = args.output_format.parse()?;
    let role: Party = args.role.parse()?;
    let mut clock = CommandClock::new(if role == Party::Garbler {
        "garbler"
    } else {
        "evaluator"
    });
    let loading = std::time::Instant::now();
    let job = Job::load(&args.job)?;
    let identity = Identity::load(&args.identity)?;
    clock.load = loading.elapsed();
    clock.security = job.security.name();
    let log = |line: &str| eprintln!("garbled: {line}");
    let served = serve(&job, role, identity, args.listen.as_deref(), &log)?;
    let outputs = served.outputs.as_ref().map(|o| texts(&job, o, format));
    if args.json {
        let object = serde_json::json!({
            "job": job.name,
            "outputs": outputs,
            "job_ms": (served.job_time.as_secs_f64() * 1e6).round() / 1e3,
            "stats": stats_json(&served.stats, &clock),
        });
        outln!("{object}")?;
    } else {
        for line in outputs.iter().flatten() {
            outln!("{line}")?;
        }
        eprintln!("garbled: {}", stats_line(&served.stats, &clock));
    }
    Ok(())
}

/// The contributor's values, checked against its groups.
fn read_values(args: &ContributeArgs, job: &Job, index: usize) -> Result<Vec<Vec<bool>>> {
    let texts: Vec<(String, String)> = match (&args.values, &args.values_file) {
        (Some(list), None) => list
            .split(',')
            .map(|v| (v.trim().to_string(), format!("--values {}", v.trim())))
            .collect(),
        (None, Some(path)) => {
            let size = std::fs::metadata(path)
                .map_err(|e| {
                    Error::arg(format!("cannot read values file {}: {e}", path.display()))
                })?
                .len();
            if size > MAX_VALUES_FILE {
                return Err(Error::arg(format!(
                    "{}: {size} bytes; a values file is at most {MAX_VALUES_FILE} bytes",
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::arg(format!("cannot read values file {}: {e}", path.display()))
            })?;
            text.lines()
                .enumerate()
                .filter(|(_, l)| {
                    let t = l.trim();
                    !t.is_empty() && !t.starts_with('#')
                })
                .map(|(n, l)| {
                    (
                        l.trim().to_string(),
                        format!("{}:{}", path.display(), n + 1),
                    )
                })
                .collect()
        }
        _ => {
            return Err(Error::arg(
                "give the values with --values V1,V2,... or --values-file FILE",
            ));
        }
    };
    let me = &job.contributors[index];
    let expected = me.groups.len() * job.lanes as usize;
    if texts.len() != expected {
        let groups: Vec<String> = me
            .groups
            .iter()
            .map(|&g| {
                format!(
                    "group {}: {} value(s) of {} bits",
                    g + 1,
                    job.lanes,
                    job.value_width(g)
                )
            })
            .collect();
        return Err(Error::arg(format!(
            "{} value(s) given, but {} feeds {expected} ({})",
            texts.len(),
            me.name,
            groups.join("; ")
        )));
    }
    let mut values = Vec::with_capacity(me.groups.len());
    let mut next = texts.iter();
    for &g in &me.groups {
        let w = job.value_width(g);
        let mut bits = Vec::with_capacity((w * job.lanes) as usize);
        for _ in 0..job.lanes {
            let (text, place) = next
                .next()
                .ok_or_else(|| Error::SelfCheck("value count checked above".into()))?;
            bits.extend(
                parse_value(text, w, BitOrder::Lsb0)
                    .map_err(|e| Error::arg(format!("{place} (group {}, {w} bits): {e}", g + 1)))?,
            );
        }
        values.push(bits);
    }
    Ok(values)
}

pub(crate) fn run_contribute(args: &ContributeArgs) -> Result<()> {
    let format: OutputFormat = args.output_format.parse()?;
    let job = Job::load(&args.job)?;
    let identity = Identity::load(&args.identity)?;
    let index = job.contributor_of(&identity.fingerprint()).ok_or_else(|| {
        Error::arg(format!(
            "this identity's key {} is not a contributor of job {} ({}); pass the identity whose fingerprint the job file lists",
            identity.fingerprint(),
            job.name,
            args.job.display()
        ))
    })?;
    let values = read_values(args, &job, index)?;
    let done = contribute(&job, identity, &values)?;
    let name = &job.contributors[index].name;
    let outputs = done.outputs.as_ref().map(|o| texts(&job, o, format));
    if args.json {
        let object = serde_json::json!({
            "job": job.name,
            "contributor": name,
            "outputs": outputs,
            "stats": {
                "job_ms": (done.job_time.as_secs_f64() * 1e6).round() / 1e3,
                "bytes_sent": done.bytes_sent,
                "bytes_received": done.bytes_received,
            },
        });
        outln!("{object}")?;
        return Ok(());
    }
    match outputs {
        Some(lines) => {
            for line in lines {
                outln!("{line}")?;
            }
        }
        None => eprintln!(
            "garbled: job {}: {name}'s shares were used; the result goes to the job's recipients",
            job.name
        ),
    }
    Ok(())
}
