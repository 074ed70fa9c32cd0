//! Jobs with any number of contributors and two compute parties: the two-server model of
//! deployed private statistics systems (Prio, Corrigan-Gibbs and Boneh, NSDI 2017, §2), on our
//! two-party garbling.
//!
//! A job file (TOML, shared by everyone in the job) names the circuit, the two compute parties
//! (address and key fingerprint each), the contributors (key fingerprint and the input groups
//! each feeds), who receives the result, the security level and the timeout. A contributor splits
//! each of its values into two XOR shares with fresh OS randomness and sends one share to each
//! compute party over mutual TLS 1.3 ([`contribute`]). Each compute party ([`serve`]) collects one
//! share set per contributor, then the two run the job circuit in an ordinary session: the
//! garbler feeds its shares, the evaluator its own, and a layer of XOR gates (free) rebuilds each
//! value inside the circuit ([`crate::circuit::library::xor_shared_inputs`]). The result leaves
//! the session as XOR shares ([`Reveal::Shared`]) and each compute party sends its share to each
//! recipient, which XORs the two. With `recipients = "compute"` the result is revealed to the
//! two compute parties instead.
//!
//! Neither compute party alone sees a contribution (it holds one uniformly random share of it)
//! or the result (one share of it), as long as the two do not collude; what a malicious compute
//! party can still do is in `docs/SECURITY.md`.
//!
//! Wire format between a contributor (or the evaluator compute party) and a compute party, after
//! the TLS handshake: a hello (`GARBJOB\0`, version u32, kind u8, the job name as u16 length and
//! bytes, and for a contributor its share as u32 bit count and packed bits); then frames of one
//! tag byte: `A` accepted, `E` refused or failed (u16 length and a message), `O` an output share
//! (u32 bit count and packed bits), `D` done without output for this party, `R` ready (between
//! the compute parties, before their session). Every length is checked against what the job
//! allows before anything is allocated.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use toml::Spanned;
use zeroize::Zeroizing;

use crate::circuit::library;
use crate::circuit::{Circuit, FormatChoice, Limits, bristol};
use crate::compile::compile;
use crate::error::{Error, Result};
use crate::net::listen::{Acceptor, accept_each};
use crate::net::tcp::Timeouts;
use crate::net::tls::{Fingerprint, Identity, TlsChannel, TlsSettings};
use crate::net::{Channel, Connection, pack_bits, unpack_bits};
use crate::protocol::{
    EvaluatorSession, GarblerSession, Party, Reveal, Security, SessionOptions, SessionStats,
};

/// The job file's size limit (a job file is a few kilobytes).
const MAX_JOB_FILE: u64 = 1 << 20;
/// The hello's magic and version.
const MAGIC: [u8; 8] = *b"GARBJOB\0";
const HELLO_VERSION: u32 = 1;
/// Hello kinds.
const KIND_CONTRIBUTOR: u8 = 1;
const KIND_COMPUTE: u8 = 2;
/// The longest message an `E` frame carries.
const MAX_MESSAGE: usize = 4096;
/// How long the garbler compute party waits for the evaluator past the collection deadline (the
/// evaluator's own deadline is the same, and it still connects to say what it is missing).
const PEER_GRACE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The job file

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    job: Spanned<String>,
    circuit: Spanned<RawCircuit>,
    compute: Spanned<RawCompute>,
    #[serde(default)]
    contributor: Vec<Spanned<RawContributor>>,
    recipients: Spanned<toml::Value>,
    security: Option<Spanned<String>>,
    timeout: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCircuit {
    path: Option<Spanned<String>>,
    generator: Option<Spanned<String>>,
    bits: Option<Spanned<u32>>,
    count: Option<Spanned<u32>>,
    lanes: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompute {
    garbler: Spanned<RawParty>,
    evaluator: Spanned<RawParty>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    address: Spanned<String>,
    fingerprint: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContributor {
    name: Spanned<String>,
    fingerprint: Spanned<String>,
    groups: Spanned<Vec<Spanned<i64>>>,
    bits: Option<Spanned<u32>>,
}

/// A compute party of the job.
#[derive(Clone, Debug)]
pub struct ComputeParty {
    /// Where it listens (`host:port`): contributors connect here, and the evaluator compute party
    /// connects to the garbler's.
    pub address: String,
    /// Its key.
    pub fingerprint: Fingerprint,
}

/// A data holder of the job.
#[derive(Clone, Debug)]
pub struct Contributor {
    /// Its name (unique in the job).
    pub name: String,
    /// Its key.
    pub fingerprint: Fingerprint,
    /// The input groups it feeds (0-based, in the order it sends them).
    pub groups: Vec<usize>,
}

/// Who receives the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipients {
    /// The two compute parties (revealed in the session).
    Compute,
    /// These contributors (indices), as XOR shares from the two compute parties.
    Contributors(Vec<usize>),
}

/// A checked job file.
#[derive(Debug)]
pub struct Job {
    /// The job's name (unique for the job; both compute parties' handshakes compare it).
    pub name: String,
    /// Where the file was read from.
    pub path: PathBuf,
    /// The security of the session between the compute parties.
    pub security: Security,
    /// How long the compute parties wait for the contributors (and contributors for the result
    /// beyond that).
    pub timeout: Duration,
    /// The garbler compute party.
    pub garbler: ComputeParty,
    /// The evaluator compute party.
    pub evaluator: ComputeParty,
    /// The contributors, in file order.
    pub contributors: Vec<Contributor>,
    /// Who receives the result.
    pub recipients: Recipients,
    /// The circuit as described in the file (for summaries).
    pub circuit_description: String,
    /// Values per input and output group (side-by-side copies of the circuit).
    pub lanes: u32,
    /// The job circuit (with its lanes).
    pub circuit: Circuit,
}

/// Byte offset to 1-based line and column.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Where errors in a job file point.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn at(&self, span: std::ops::Range<usize>, message: impl std::fmt::Display) -> Error {
        let (line, column) = line_col(self.text, span.start);
        Error::arg(format!(
            "{}:{line}:{column}: {message}",
            self.path.display()
        ))
    }
}

fn fingerprint_at(src: &Source<'_>, raw: &Spanned<String>, what: &str) -> Result<Fingerprint> {
    raw.get_ref()
        .parse()
        .map_err(|e| src.at(raw.span(), format!("{what}: {e}")))
}

fn check_address(src: &Source<'_>, raw: &Spanned<String>, what: &str) -> Result<String> {
    let text = raw.get_ref().trim();
    let port = text
        .rsplit_once(':')
        .map(|(_, p)| p)
        .and_then(|p| p.parse::<u16>().ok());
    match port {
        Some(p) if p > 0 => Ok(text.to_string()),
        _ => Err(src.at(
            raw.span(),
            format!("{what}: {text:?} is not HOST:PORT (a port from 1 to 65535)"),
        )),
    }
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl Job {
    /// Reads and checks a job file: every problem is an error with `file:line:col`.
    pub fn load(path: &Path) -> Result<Job> {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::arg(format!("cannot read job file {}: {e}", path.display())))?
            .len();
        if size > MAX_JOB_FILE {
            return Err(Error::arg(format!(
                "{}: {size} bytes; a job file is at most {MAX_JOB_FILE} bytes",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::arg(format!("cannot read job file {}: {e}", path.display())))?;
        Job::parse(path, &text)
    }

    /// Checks a job file's text (`path` names it in errors and anchors a relative circuit path).
    pub fn parse(path: &Path, text: &str) -> Result<Job> {
        let src = Source { path, text };
        let raw: RawJob = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            match e.span() {
                Some(span) => src.at(span, message),
                None => Error::arg(format!("{}: {message}", path.display())),
            }
        })?;
        let name = raw.job.get_ref().trim().to_string();
        if !name_ok(&name) {
            return Err(src.at(
                raw.job.span(),
                "job: give a name of 1 to 128 letters, digits, '.', '_' or '-', unique for this job",
            ));
        }
        let security = match &raw.security {
            None => Security::SemiHonest,
            Some(s) => s
                .get_ref()
                .parse()
                .map_err(|e| src.at(s.span(), format!("security: {e}")))?,
        };
        let timeout = match &raw.timeout {
            None => 60.0,
            Some(t) => {
                let seconds = match t.get_ref() {
                    toml::Value::Integer(i) => *i as f64,
                    toml::Value::Float(f) => *f,
                    _ => f64::NAN,
                };
                if !(seconds > 0.0 && seconds <= 86_400.0) {
                    return Err(src.at(
                        t.span(),
                        "timeout: give a number of seconds above 0 and at most 86400",
                    ));
                }
                seconds
            }
        };
        let (circuit, circuit_description, lanes) = Job::circuit_of(&src, &raw.circuit)?;
        let compute = raw.compute.get_ref();
        let party = |p: &Spanned<RawParty>, what: &str| -> Result<ComputeParty> {
            let p = p.get_ref();
            Ok(ComputeParty {
                address: check_address(&src, &p.address, &format!("{what} address"))?,
                fingerprint: fingerprint_at(&src, &p.fingerprint, &format!("{what} fingerprint"))?,
            })
        };
        let garbler = party(&compute.garbler, "compute.garbler")?;
        let evaluator = party(&compute.evaluator, "compute.evaluator")?;
        if garbler.address == evaluator.address {
            return Err(src.at(
                compute.evaluator.get_ref().address.span(),
                "compute.evaluator address: the two compute parties need two addresses",
            ));
        }
        // Keys: every party's is its own.
        let mut keys: Vec<Fingerprint> = Vec::new();
        let mut add_key = |fp: Fingerprint, span: std::ops::Range<usize>| -> Result<()> {
            if keys.contains(&fp) {
                return Err(src.at(
                    span,
                    format!("duplicate fingerprint {fp}: every party of a job has its own key"),
                ));
            }
            keys.push(fp);
            Ok(())
        };
        add_key(
            garbler.fingerprint,
            compute.garbler.get_ref().fingerprint.span(),
        )?;
        add_key(
            evaluator.fingerprint,
            compute.evaluator.get_ref().fingerprint.span(),
        )?;
        if raw.contributor.is_empty() {
            return Err(Error::arg(format!(
                "{}: the job has no [[contributor]]",
                path.display()
            )));
        }
        let groups = circuit.inputs().len();
        let mut fed_by: Vec<Option<usize>> = vec![None; groups];
        let mut contributors: Vec<Contributor> = Vec::new();
        for (index, raw_c) in raw.contributor.iter().enumerate() {
            let c = raw_c.get_ref();
            let cname = c.name.get_ref().trim().to_string();
            if !name_ok(&cname) {
                return Err(src.at(
                    c.name.span(),
                    "name: give 1 to 128 letters, digits, '.', '_' or '-'",
                ));
            }
            if cname == "compute" {
                return Err(src.at(
                    c.name.span(),
                    "name: \"compute\" is reserved (recipients = \"compute\" means the compute parties)",
                ));
            }
            if contributors.iter().any(|o| o.name == cname) {
                return Err(src.at(
                    c.name.span(),
                    format!("duplicate contributor name {cname:?}"),
                ));
            }
            let fp = fingerprint_at(&src, &c.fingerprint, "fingerprint")?;
            add_key(fp, c.fingerprint.span())?;
            if c.groups.get_ref().is_empty() {
                return Err(src.at(
                    c.groups.span(),
                    format!("groups: contributor {cname} feeds no input group"),
                ));
            }
            let mut feeds = Vec::new();
            for g in c.groups.get_ref() {
                let number = *g.get_ref();
                if number < 1 || number > groups as i64 {
                    return Err(src.at(
                        g.span(),
                        format!(
                            "groups: there is no input group {number}; the circuit has groups 1 to {groups}"
                        ),
                    ));
                }
                let at = (number - 1) as usize;
                if let Some(other) = fed_by[at] {
                    return Err(src.at(
                        g.span(),
                        format!(
                            "groups: input group {number} is fed twice (by {} and {cname})",
                            contributors
                                .get(other)
                                .map_or(cname.as_str(), |o: &Contributor| o.name.as_str())
                        ),
                    ));
                }
                fed_by[at] = Some(index);
                feeds.push(at);
            }
            if let Some(bits) = &c.bits {
                for &g in &feeds {
                    let width = circuit.inputs()[g].width / lanes;
                    if width != *bits.get_ref() {
                        return Err(src.at(
                            bits.span(),
                            format!(
                                "bits: {cname} declares {}-bit values, but input group {} takes {width}-bit values",
                                bits.get_ref(),
                                g + 1
                            ),
                        ));
                    }
                }
            }
            contributors.push(Contributor {
                name: cname,
                fingerprint: fp,
                groups: feeds,
            });
        }
        if let Some(g) = fed_by.iter().position(Option::is_none) {
            return Err(src.at(
                raw.circuit.span(),
                format!(
                    "input group {} ({} bits) is fed by no contributor; list it in one contributor's groups",
                    g + 1,
                    circuit.inputs()[g].width
                ),
            ));
        }
        let recipients = match raw.recipients.get_ref() {
            toml::Value::String(s) if s == "compute" => Recipients::Compute,
            toml::Value::Array(list) if !list.is_empty() => {
                let mut chosen = Vec::new();
                for item in list {
                    let Some(n) = item.as_str() else {
                        return Err(src.at(
                            raw.recipients.span(),
                            "recipients: list contributor names (strings), or give \"compute\"",
                        ));
                    };
                    let Some(i) = contributors.iter().position(|c| c.name == n) else {
                        return Err(src.at(
                            raw.recipients.span(),
                            format!("recipients: unknown contributor {n:?}"),
                        ));
                    };
                    if chosen.contains(&i) {
                        return Err(src.at(
                            raw.recipients.span(),
                            format!("recipients: {n:?} is listed twice"),
                        ));
                    }
                    chosen.push(i);
                }
                Recipients::Contributors(chosen)
            }
            _ => {
                return Err(src.at(
                    raw.recipients.span(),
                    "recipients: give a list of contributor names, or \"compute\"",
                ));
            }
        };
        Ok(Job {
            name,
            path: path.to_path_buf(),
            security,
            timeout: Duration::from_secs_f64(timeout),
            garbler,
            evaluator,
            contributors,
            recipients,
            circuit_description,
            lanes,
            circuit,
        })
    }

    fn circuit_of(src: &Source<'_>, raw: &Spanned<RawCircuit>) -> Result<(Circuit, String, u32)> {
        let c = raw.get_ref();
        let lanes = match &c.lanes {
            Some(l) if *l.get_ref() == 0 || *l.get_ref() > 65_536 => {
                return Err(src.at(l.span(), "lanes: give 1 to 65536"));
            }
            Some(l) => *l.get_ref(),
            None => 1,
        };
        let (one, description) = match (&c.path, &c.generator) {
            (Some(p), None) => {
                for (field, span) in [("bits", c.bits.as_ref()), ("count", c.count.as_ref())] {
                    if let Some(s) = span {
                        return Err(src.at(
                            s.span(),
                            format!("{field} applies to a generator, not to a circuit file"),
                        ));
                    }
                }
                let file = src
                    .path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(p.get_ref());
                if crate::compile::stream::is_compiled(&file) {
                    return Err(src.at(
                        p.span(),
                        "path: a compiled program has no gate list to add the share layer to; give the circuit file",
                    ));
                }
                let parsed = bristol::parse_file(&file, FormatChoice::Auto, &Limits::default())
                    .map_err(|e| src.at(p.span(), format!("path: {}: {e}", file.display())))?;
                (parsed.circuit, p.get_ref().to_string())
            }
            (None, Some(g)) => {
                // As `garbled gen`: count is sum's, and aes128 and sha256 have fixed widths.
                let known = library::GENERATORS.iter().any(|(n, _)| n == g.get_ref());
                if let Some(count) = &c.count
                    && known
                    && g.get_ref() != "sum"
                {
                    return Err(src.at(
                        count.span(),
                        format!("count applies to the sum generator, not to {}", g.get_ref()),
                    ));
                }
                if let Some(bits) = &c.bits
                    && matches!(g.get_ref().as_str(), "aes128" | "sha256")
                {
                    return Err(src.at(
                        bits.span(),
                        format!(
                            "{} has fixed widths; bits does not apply to it",
                            g.get_ref()
                        ),
                    ));
                }
                let bits = c.bits.as_ref().map_or(32, |b| *b.get_ref());
                let count = c.count.as_ref().map_or(2, |b| *b.get_ref());
                let circuit = library::generate(g.get_ref(), bits, count)
                    .map_err(|e| src.at(g.span(), format!("generator: {e}")))?;
                let description = if g.get_ref() == "sum" {
                    format!("sum of {count} {bits}-bit values")
                } else {
                    format!("{} ({bits}-bit)", g.get_ref())
                };
                (circuit, description)
            }
            _ => {
                return Err(src.at(
                    raw.span(),
                    "circuit: give either path = \"FILE\" or generator = \"NAME\" (with bits and count)",
                ));
            }
        };
        if one.inputs().is_empty() || one.outputs().is_empty() {
            return Err(src.at(
                raw.span(),
                "circuit: a job circuit needs input groups and output groups",
            ));
        }
        // The lanes multiply the circuit: bounded like a circuit file, before anything is built.
        let limits = Limits::default();
        if u64::from(lanes) * one.gates().len() as u64 > limits.max_gates
            || u64::from(lanes) * u64::from(one.num_wires()) > limits.max_wires
        {
            let at = c.lanes.as_ref().map_or(raw.span(), |l| l.span());
            return Err(src.at(
                at,
                format!(
                    "lanes: {lanes} copies of a circuit of {} gates and {} wires pass the limits of {} gates and {} wires",
                    one.gates().len(),
                    one.num_wires(),
                    limits.max_gates,
                    limits.max_wires
                ),
            ));
        }
        let circuit = if lanes == 1 {
            one
        } else {
            let unshared = vec![false; one.inputs().len()];
            library::replicate(&one, lanes, &unshared).map_err(|e| src.at(raw.span(), e))?
        };
        let description = if lanes == 1 {
            description
        } else {
            format!("{description}, {lanes} lanes")
        };
        Ok((circuit, description, lanes))
    }

    /// The compute party of `role`.
    pub fn compute(&self, role: Party) -> &ComputeParty {
        match role {
            Party::Garbler => &self.garbler,
            Party::Evaluator => &self.evaluator,
        }
    }

    /// The contributor holding this key.
    pub fn contributor_of(&self, fp: &Fingerprint) -> Option<usize> {
        self.contributors.iter().position(|c| c.fingerprint == *fp)
    }

    /// The width of each value of input group `g` (its width over the lanes).
    pub fn value_width(&self, g: usize) -> u32 {
        self.circuit.inputs()[g].width / self.lanes
    }

    /// The width of each value of output group `g`.
    pub fn output_value_width(&self, g: usize) -> u32 {
        self.circuit.outputs()[g].width / self.lanes
    }

    /// The bits contributor `c` sends (its groups in its order).
    pub fn share_bits(&self, c: usize) -> usize {
        self.contributors[c]
            .groups
            .iter()
            .map(|&g| self.circuit.inputs()[g].width as usize)
            .sum()
    }

    /// The circuit the two compute parties run: XOR shares in, the job circuit's outputs out.
    pub fn session_circuit(&self) -> Result<Circuit> {
        library::xor_shared_inputs(&self.circuit)
    }

    /// How the session routes the outputs.
    fn reveal(&self) -> Vec<Reveal> {
        let r = match self.recipients {
            Recipients::Compute => Reveal::Both,
            Recipients::Contributors(_) => Reveal::Shared,
        };
        vec![r; self.circuit.outputs().len()]
    }

    /// Whether contributor `c` receives the result.
    pub fn is_recipient(&self, c: usize) -> bool {
        matches!(&self.recipients, Recipients::Contributors(list) if list.contains(&c))
    }

    /// The summary `garbled job check` prints.
    pub fn summary(&self) -> Result<String> {
        let session = self.session_circuit()?;
        let stats = self.circuit.stats();
        let mut s = format!(
            "job {} ({}, timeout {} s)\n",
            self.name,
            self.security.name(),
            self.timeout.as_secs_f64()
        );
        s.push_str(&format!(
            "circuit: {}: {} AND, {} XOR (+{} XOR to rebuild the shares); {} input group(s), {} output group(s)\n",
            self.circuit_description,
            stats.and,
            stats.xor,
            session.stats().xor - stats.xor,
            self.circuit.inputs().len(),
            self.circuit.outputs().len()
        ));
        s.push_str(&format!(
            "compute garbler:   {}  {}\ncompute evaluator: {}  {}\ncontributors:\n",
            self.garbler.address,
            self.garbler.fingerprint,
            self.evaluator.address,
            self.evaluator.fingerprint
        ));
        for c in &self.contributors {
            let groups: Vec<String> = c
                .groups
                .iter()
                .map(|&g| format!("{} ({} x {}-bit)", g + 1, self.lanes, self.value_width(g)))
                .collect();
            s.push_str(&format!(
                "  {}  {}  feeds group {}\n",
                c.name,
                c.fingerprint,
                groups.join(", ")
            ));
        }
        match &self.recipients {
            Recipients::Compute => s.push_str("result: revealed to the two compute parties\n"),
            Recipients::Contributors(list) => {
                let names: Vec<&str> = list
                    .iter()
                    .map(|&i| self.contributors[i].name.as_str())
                    .collect();
                s.push_str(&format!(
                    "result: to {} (an XOR share from each compute party)\n",
                    names.join(", ")
                ));
            }
        }
        Ok(s)
    }
}

/// A job file written from code (the demo, `garbled bench --job`, examples): every value as
/// given, checked when the text is parsed by [`Job::parse`].
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// The job's name.
    pub name: String,
    /// The compute parties' security.
    pub security: Security,
    /// Seconds the compute parties wait for contributions.
    pub timeout: u32,
    /// The generator (`garbled gen` name), its bits and count, and the lanes.
    pub generator: (String, u32, u32, u32),
    /// The garbler compute party's address and key.
    pub garbler: (String, Fingerprint),
    /// The evaluator compute party's address and key.
    pub evaluator: (String, Fingerprint),
    /// Each contributor's name, key and groups (1-based).
    pub contributors: Vec<(String, Fingerprint, Vec<usize>)>,
    /// The recipients' names; `None` for the compute parties.
    pub recipients: Option<Vec<String>>,
}

impl JobSpec {
    /// The job file's TOML text.
    pub fn to_toml(&self) -> String {
        let recipients = match &self.recipients {
            None => "\"compute\"".to_string(),
            Some(names) => format!(
                "[{}]",
                names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let (generator, bits, count, lanes) = &self.generator;
        let mut text = format!(
            "job = {:?}\nsecurity = {:?}\ntimeout = {}\nrecipients = {recipients}\n\n[circuit]\ngenerator = {generator:?}\nbits = {bits}\ncount = {count}\nlanes = {lanes}\n\n[compute.garbler]\naddress = {:?}\nfingerprint = \"{}\"\n\n[compute.evaluator]\naddress = {:?}\nfingerprint = \"{}\"\n",
            self.name,
            self.security.name(),
            self.timeout,
            self.garbler.0,
            self.garbler.1,
            self.evaluator.0,
            self.evaluator.1
        );
        for (name, fp, groups) in &self.contributors {
            let groups: Vec<String> = groups.iter().map(usize::to_string).collect();
            text.push_str(&format!(
                "\n[[contributor]]\nname = {name:?}\nfingerprint = \"{fp}\"\ngroups = [{}]\n",
                groups.join(", ")
            ));
        }
        text
    }
}

// ---------------------------------------------------------------------------------------------
// Frames

fn send_error<C: Channel>(ch: &mut C, message: &str) -> Result<()> {
    let bytes = message.as_bytes();
    let bytes = &bytes[..bytes.len().min(MAX_MESSAGE)];
    ch.write_all(b"E")?;
    ch.write_all(&(bytes.len() as u16).to_le_bytes())?;
    ch.write_all(bytes)?;
    ch.flush()
}

fn recv_message<C: Channel>(ch: &mut C) -> Result<String> {
    let mut len = [0u8; 2];
    ch.read_exact(&mut len)?;
    let len = u16::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(Error::peer(
            "an error message longer than the job protocol allows",
        ));
    }
    let mut bytes = vec![0u8; len];
    ch.read_exact(&mut bytes)?;
    Ok(crate::text::escape(
        &String::from_utf8_lossy(&bytes),
        MAX_MESSAGE,
    ))
}

fn send_bits<C: Channel>(ch: &mut C, tag: u8, bits: &[bool]) -> Result<()> {
    ch.write_all(&[tag])?;
    send_share(ch, bits)
}

/// A bit count (u32) and the packed bits: a contributor's share after its hello, and the body
/// of an `O` frame.
fn send_share<C: Channel>(ch: &mut C, bits: &[bool]) -> Result<()> {
    ch.write_all(&(bits.len() as u32).to_le_bytes())?;
    let packed = Zeroizing::new(pack_bits(bits));
    ch.write_all(&packed)?;
    ch.flush()
}

fn recv_bits<C: Channel>(ch: &mut C, expected: usize) -> Result<Zeroizing<Vec<bool>>> {
    let mut n = [0u8; 4];
    ch.read_exact(&mut n)?;
    let n = u32::from_le_bytes(n) as usize;
    if n != expected {
        return Err(Error::peer(format!(
            "{n} bits where the job expects {expected}"
        )));
    }
    let mut packed = Zeroizing::new(vec![0u8; n.div_ceil(8)]);
    ch.read_exact(&mut packed)?;
    Ok(Zeroizing::new(unpack_bits(&packed, n)))
}

fn send_hello<C: Channel>(ch: &mut C, job: &str, kind: u8) -> Result<()> {
    ch.write_all(&MAGIC)?;
    ch.write_all(&HELLO_VERSION.to_le_bytes())?;
    ch.write_all(&[kind])?;
    ch.write_all(&(job.len() as u16).to_le_bytes())?;
    ch.write_all(job.as_bytes())
}

/// Reads a hello: its kind, after checking the magic, version and job name.
fn recv_hello<C: Channel>(ch: &mut C, job: &str) -> Result<u8> {
    let mut head = [0u8; 15];
    ch.read_exact(&mut head)?;
    if head[..8] != MAGIC {
        return Err(Error::peer("this is not a garbled job connection"));
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if version != HELLO_VERSION {
        return Err(Error::peer(format!(
            "job protocol version {version}, ours is {HELLO_VERSION}"
        )));
    }
    let kind = head[12];
    let len = u16::from_le_bytes([head[13], head[14]]) as usize;
    if len > 256 {
        return Err(Error::peer("a job name longer than 256 bytes"));
    }
    let mut name = vec![0u8; len];
    ch.read_exact(&mut name)?;
    if name != job.as_bytes() {
        return Err(Error::Mismatch {
            field: "job",
            ours: job.to_string(),
            peer: crate::text::escape(&String::from_utf8_lossy(&name), 128),
            hint: "both sides must use the same job file",
        });
    }
    Ok(kind)
}

/// Reads an `A` (accepted) frame, or the other side's error.
fn expect_tag<C: Channel>(ch: &mut C, want: u8, who: &str) -> Result<()> {
    let mut tag = [0u8; 1];
    ch.read_exact(&mut tag)?;
    match tag[0] {
        t if t == want => Ok(()),
        b'E' => Err(Error::peer(format!(
            "the {who} stopped: {}",
            recv_message(ch)?
        ))),
        other => Err(Error::peer(format!(
            "the {who} sent frame {other:#04x} where {:?} belongs",
            want as char
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Compute parties

/// A contributor's connection and share set, once received.
type Held = Option<(Connection, Zeroizing<Vec<bool>>)>;

/// What a compute party's admission check made of a connection.
enum Admitted {
    /// A contributor's share set.
    Share {
        index: usize,
        channel: Connection,
        bits: Zeroizing<Vec<bool>>,
    },
    /// The evaluator compute party (at the garbler's listener).
    Peer(Connection),
}

/// What [`serve`] reports.
#[derive(Debug)]
pub struct Served {
    /// The session's statistics.
    pub stats: SessionStats,
    /// The result (one bit vector per output group), when the compute parties are the
    /// recipients.
    pub outputs: Option<Vec<Vec<bool>>>,
    /// From the first share received to the last share delivered.
    pub job_time: Duration,
}

fn names(job: &Job, indices: impl Iterator<Item = usize>) -> String {
    indices
        .map(|i| job.contributors[i].name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs one compute party of `job`: collects a share set from every contributor (at `listen`, by
/// default the job's address for `role`), runs the session with the other compute party, and
/// delivers the result. `log` gets one line per event people watch for (a share received, a
/// stranger refused), never a value or a share.
pub fn serve(
    job: &Job,
    role: Party,
    identity: Identity,
    listen: Option<&str>,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Served> {
    let me = job.compute(role);
    if identity.fingerprint() != me.fingerprint {
        return Err(Error::arg(format!(
            "this identity's key {} is not the job's {} compute party ({}); pass the identity whose fingerprint the job file lists",
            identity.fingerprint(),
            party_name(role),
            me.fingerprint
        )));
    }
    let program = compile(&job.session_circuit()?)?;
    let listener = crate::net::listen::bind(listen.unwrap_or(&me.address))?;
    let acceptor = Acceptor::new(&listener)?.expecting(job.contributors.len() + 1);
    log(&format!(
        "job {}: {} compute party listening on {} for {} contributor(s)",
        job.name,
        party_name(role),
        acceptor.local_addr(),
        job.contributors.len()
    ));
    let deadline = Instant::now() + job.timeout;
    // Contributors wait through the collection and the session: their reads may be idle that
    // long.
    let timeouts = Timeouts {
        idle: job.timeout * 2 + PEER_GRACE,
        total: None,
    };
    let mut allowed: Vec<Fingerprint> = job.contributors.iter().map(|c| c.fingerprint).collect();
    if role == Party::Garbler {
        allowed.push(job.evaluator.fingerprint);
    }
    let settings = TlsSettings {
        identity: identity.clone(),
        peer: me.fingerprint,
    };
    let received: Mutex<Vec<bool>> = Mutex::new(vec![false; job.contributors.len()]);
    let admit = |stream: std::net::TcpStream, _addr: std::net::SocketAddr| -> Result<Admitted> {
        let (mut channel, who) = TlsChannel::server_any(stream, timeouts, &settings, &allowed)?;
        let kind = match recv_hello(&mut channel, &job.name) {
            Ok(kind) => kind,
            Err(e) => {
                let _ = send_error(&mut channel, &e.to_string());
                return Err(e);
            }
        };
        if who == job.evaluator.fingerprint && role == Party::Garbler {
            if kind != KIND_COMPUTE {
                return Err(Error::peer(
                    "the evaluator compute party sent a contributor's hello",
                ));
            }
            channel.write_all(b"A")?;
            channel.flush()?;
            return Ok(Admitted::Peer(Connection::Tls(Box::new(channel))));
        }
        let index = job
            .contributor_of(&who)
            .ok_or_else(|| Error::SelfCheck("an admitted key is no contributor's".into()))?;
        let name = &job.contributors[index].name;
        if kind != KIND_CONTRIBUTOR {
            return Err(Error::peer(format!("{name} sent a compute party's hello")));
        }
        let expected = job.share_bits(index);
        let bits = match recv_bits(&mut channel, expected) {
            Ok(bits) => bits,
            Err(e) => {
                let message = format!(
                    "contributor {name}: {e} (its groups {}: {expected} bits in all)",
                    job.contributors[index]
                        .groups
                        .iter()
                        .map(|g| (g + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let _ = send_error(&mut channel, &message);
                return Err(Error::arg(message));
            }
        };
        {
            let mut seen = received
                .lock()
                .map_err(|_| Error::SelfCheck("the share list's lock is poisoned".into()))?;
            if seen[index] {
                let message = format!(
                    "contributor {name} sent a second share set; the first one counts (duplicate refused)"
                );
                let _ = send_error(&mut channel, &message);
                return Err(Error::arg(message));
            }
            seen[index] = true;
        }
        channel.write_all(b"A")?;
        channel.flush()?;
        Ok(Admitted::Share {
            index,
            channel: Connection::Tls(Box::new(channel)),
            bits,
        })
    };
    let mut shares: Vec<Held> = (0..job.contributors.len()).map(|_| None).collect();
    let mut first_share: Option<Instant> = None;
    let expected = allowed.len();
    let owners: Vec<Party> = {
        let n = job.circuit.inputs().len();
        std::iter::repeat_n(Party::Garbler, n)
            .chain(std::iter::repeat_n(Party::Evaluator, n))
            .collect()
    };
    let options = SessionOptions::new(&program, owners, job.reveal())?
        .with_security(job.security)
        .with_job(format!("job {}", job.name));
    let (outputs, stats) = std::thread::scope(|scope| -> Result<_> {
        // The session with the other compute party starts as soon as their connection exists
        // (its handshake and base OTs overlap the collection of shares) and waits for our
        // shares, or for the reason the job stops, on `inputs`.
        let spawn_session = |channel: Option<Connection>| {
            let (tx, rx) = std::sync::mpsc::channel::<std::result::Result<Ours, String>>();
            let options = options.clone();
            let (program, identity) = (&program, &identity);
            let handle = scope.spawn(move || {
                let channel = match channel {
                    Some(c) => c,
                    None => {
                        let wait =
                            (deadline + PEER_GRACE).saturating_duration_since(Instant::now());
                        reach_garbler(job, identity, timeouts, wait.max(Duration::from_secs(1)))?
                    }
                };
                compute_session(role, program, channel, options, &rx)
            });
            (tx, handle)
        };
        let mut session = (role == Party::Evaluator).then(|| spawn_session(None));
        let complete = |shares: &[Held], session: bool| {
            shares.iter().all(Option::is_some) && (role == Party::Evaluator || session)
        };
        let failure: Option<Error> = loop {
            if complete(&shares, session.is_some()) {
                break None;
            }
            let have_all = shares.iter().all(Option::is_some);
            let until = if have_all {
                deadline + PEER_GRACE
            } else {
                deadline
            };
            let Some(wait) = until.checked_duration_since(Instant::now()) else {
                break Some(if have_all {
                    Error::Timeout(format!(
                        "job {}: the evaluator compute party ({}) did not connect within {:.0} s; no result was computed",
                        job.name,
                        job.evaluator.fingerprint,
                        (job.timeout + PEER_GRACE).as_secs_f64()
                    ))
                } else {
                    let missing = (0..shares.len()).filter(|&i| shares[i].is_none());
                    Error::Timeout(format!(
                        "job {}: no share from {} within {:.0} s; no result was computed",
                        job.name,
                        names(job, missing),
                        job.timeout.as_secs_f64()
                    ))
                });
            };
            let taken = accept_each(
                &acceptor,
                expected,
                wait,
                admit,
                |line| log(line),
                |admitted| {
                    match admitted {
                        Admitted::Share {
                            index,
                            channel,
                            bits,
                        } => {
                            first_share.get_or_insert_with(Instant::now);
                            log(&format!(
                                "job {}: received the share set of {}",
                                job.name, job.contributors[index].name
                            ));
                            shares[index] = Some((channel, bits));
                        }
                        Admitted::Peer(channel) => {
                            log(&format!(
                                "job {}: the evaluator compute party connected",
                                job.name
                            ));
                            session = Some(spawn_session(Some(channel)));
                        }
                    }
                    Ok(complete(&shares, session.is_some()))
                },
            );
            match taken {
                Ok(()) => {}
                // The wait ended (with refusals, it is an authentication error): the top of
                // the loop says what is missing.
                Err(Error::Timeout(_)) | Err(Error::Authentication(_)) => {}
                Err(e) => break Some(e),
            }
        };
        let abort = |shares: &mut [Held], e: &Error| {
            for (channel, _) in shares.iter_mut().flatten() {
                let _ = send_error(channel, &e.to_string());
            }
        };
        let join = |handle: std::thread::ScopedJoinHandle<'_, Result<_>>| {
            handle
                .join()
                .unwrap_or_else(|_| Err(Error::SelfCheck("the session's thread panicked".into())))
        };
        if let Some(e) = failure {
            // The other compute party hears why (its session reads our reason where our ready
            // belongs), and so do the contributors.
            if let Some((tx, handle)) = session.take() {
                let _ = tx.send(Err(e.to_string()));
                let _ = join(handle);
            }
            abort(&mut shares, &e);
            return Err(e);
        }
        // Our shares, group by group.
        let mut own: Vec<Vec<bool>> = vec![Vec::new(); job.circuit.inputs().len()];
        for (c, slot) in shares.iter().enumerate() {
            let (_, bits) = slot
                .as_ref()
                .ok_or_else(|| Error::SelfCheck("a share is missing".into()))?;
            let mut at = 0;
            for &g in &job.contributors[c].groups {
                let w = job.circuit.inputs()[g].width as usize;
                own[g] = bits[at..at + w].to_vec();
                at += w;
            }
        }
        let (tx, handle) = session
            .take()
            .ok_or_else(|| Error::SelfCheck("no session with the other compute party".into()))?;
        let _ = tx.send(Ok(Zeroizing::new(own)));
        match join(handle) {
            Ok(r) => Ok(r),
            Err(e) => {
                abort(&mut shares, &e);
                Err(e)
            }
        }
    })?;
    let job_start = first_share.unwrap_or_else(Instant::now);
    let outputs: Vec<Vec<bool>> = outputs
        .into_iter()
        .map(|o| o.ok_or_else(|| Error::SelfCheck("an output group has no value or share".into())))
        .collect::<Result<_>>()?;
    // Delivery: our share to each recipient, "done" to the others.
    let flat: Zeroizing<Vec<bool>> = Zeroizing::new(outputs.iter().flatten().copied().collect());
    for (c, slot) in shares.iter_mut().enumerate() {
        let Some((channel, _)) = slot.as_mut() else {
            continue;
        };
        let sent = if job.is_recipient(c) {
            send_bits(channel, b'O', &flat)
        } else {
            channel.write_all(b"D").and_then(|()| channel.flush())
        };
        let ended = sent
            .and_then(|()| channel.close_write())
            .and_then(|()| channel.expect_eof());
        if let Err(e) = ended {
            log(&format!(
                "job {}: delivering to {} failed: {e}",
                job.name, job.contributors[c].name
            ));
        }
    }
    let job_time = job_start.elapsed();
    log(&format!(
        "job {}: done ({} AND gates, {} bytes sent, {} received in the session)",
        job.name, stats.and_gates, stats.bytes_sent, stats.bytes_received
    ));
    Ok(Served {
        stats,
        outputs: (job.recipients == Recipients::Compute).then_some(outputs),
        job_time,
    })
}

fn party_name(role: Party) -> &'static str {
    match role {
        Party::Garbler => "garbler",
        Party::Evaluator => "evaluator",
    }
}

fn other(role: Party) -> Party {
    match role {
        Party::Garbler => Party::Evaluator,
        Party::Evaluator => Party::Garbler,
    }
}

/// A compute party's shares, group by group.
type Ours = Zeroizing<Vec<Vec<bool>>>;

/// The compute parties' session over `channel`: handshake and base OTs at once, then our shares
/// (or the reason the job stops, which the peer reads where our ready belongs), the ready
/// exchange, the run and the end.
fn compute_session(
    role: Party,
    program: &crate::compile::Program,
    mut channel: Connection,
    options: SessionOptions,
    inputs: &std::sync::mpsc::Receiver<std::result::Result<Ours, String>>,
) -> Result<(Vec<Option<Vec<bool>>>, SessionStats)> {
    let peer = format!("{} compute party", party_name(other(role)));
    macro_rules! drive {
        ($session:expr) => {{
            let mut session = $session;
            let own = match inputs.recv() {
                Ok(Ok(own)) => own,
                Ok(Err(reason)) => {
                    let _ = send_error(session.channel(), &reason);
                    return Err(Error::SelfCheck(reason));
                }
                Err(_) => {
                    return Err(Error::SelfCheck(
                        "the collection of shares stopped without a word".into(),
                    ));
                }
            };
            // Both sides say they are ready (or why not) before the run.
            session.channel().write_all(b"R")?;
            session.channel().flush()?;
            expect_tag(session.channel(), b'R', &peer)?;
            let outputs = session.run(&own)?;
            Ok((outputs, session.finish()?))
        }};
    }
    match role {
        Party::Garbler => drive!(GarblerSession::start(&mut channel, program, options)?),
        Party::Evaluator => drive!(EvaluatorSession::start(&mut channel, program, options)?),
    }
}

/// The evaluator compute party's connection to the garbler's, admitted.
fn reach_garbler(
    job: &Job,
    identity: &Identity,
    timeouts: Timeouts,
    wait: Duration,
) -> Result<Connection> {
    let settings = TlsSettings {
        identity: identity.clone(),
        peer: job.garbler.fingerprint,
    };
    let mut channel = TlsChannel::connect(&job.garbler.address, wait, timeouts, &settings)?;
    send_hello(&mut channel, &job.name, KIND_COMPUTE)?;
    channel.flush()?;
    expect_tag(&mut channel, b'A', "garbler compute party")?;
    Ok(Connection::Tls(Box::new(channel)))
}

// ---------------------------------------------------------------------------------------------
// Contributors

/// What [`contribute`] reports.
#[derive(Debug)]
pub struct Contributed {
    /// The result (one bit vector per output group) when this contributor is a recipient.
    pub outputs: Option<Vec<Vec<bool>>>,
    /// Bytes sent to and received from the two compute parties.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// From the first share sent to the result.
    pub job_time: Duration,
}

/// Runs a contributor: splits `values` (one bit vector per group it feeds, in its order) into
/// two XOR shares with OS randomness, sends one to each compute party, and waits for the job's
/// end: the result's two shares when it is a recipient.
pub fn contribute(job: &Job, identity: Identity, values: &[Vec<bool>]) -> Result<Contributed> {
    let index = job.contributor_of(&identity.fingerprint()).ok_or_else(|| {
        Error::arg(format!(
            "this identity's key {} is not a contributor of job {}; pass the identity whose fingerprint the job file lists",
            identity.fingerprint(),
            job.name
        ))
    })?;
    let me = &job.contributors[index];
    if values.len() != me.groups.len() {
        return Err(Error::arg(format!(
            "{} feeds {} group(s) but {} were given",
            me.name,
            me.groups.len(),
            values.len()
        )));
    }
    for (v, &g) in values.iter().zip(&me.groups) {
        if v.len() != job.circuit.inputs()[g].width as usize {
            return Err(Error::arg(format!(
                "group {} takes {} bits, {} given",
                g + 1,
                job.circuit.inputs()[g].width,
                v.len()
            )));
        }
    }
    let flat: Zeroizing<Vec<bool>> = Zeroizing::new(values.iter().flatten().copied().collect());
    // Fresh shares from the OS: `a` to the garbler, `value ^ a` to the evaluator.
    let mut random = Zeroizing::new(vec![0u8; flat.len().div_ceil(8)]);
    {
        use rand::TryRng as _;
        rand::rngs::SysRng
            .try_fill_bytes(&mut random)
            .map_err(|e| {
                Error::io(
                    "cannot read OS randomness",
                    std::io::Error::other(e.to_string()),
                )
            })?;
    }
    let a: Zeroizing<Vec<bool>> = Zeroizing::new(unpack_bits(&random, flat.len()));
    let b: Zeroizing<Vec<bool>> =
        Zeroizing::new(flat.iter().zip(a.iter()).map(|(x, y)| x ^ y).collect());
    let timeouts = Timeouts {
        idle: job.timeout * 2 + PEER_GRACE * 2,
        total: None,
    };
    let recipient = job.is_recipient(index);
    let out_bits: usize = job.circuit.outputs().iter().map(|g| g.width as usize).sum();
    let started = Instant::now();
    // When one side fails, the other is stopped at once (its compute party may wait a whole
    // timeout for other contributors before it would say anything).
    let stops: Mutex<Vec<crate::net::Interrupter>> = Mutex::new(Vec::new());
    let first_failure: Mutex<Option<Party>> = Mutex::new(None);
    let side = |party: &ComputeParty,
                role: Party,
                share: &[bool]|
     -> Result<(Option<Zeroizing<Vec<bool>>>, crate::net::Traffic)> {
        let who = format!("{} compute party at {}", party_name(role), party.address);
        let settings = TlsSettings {
            identity: identity.clone(),
            peer: party.fingerprint,
        };
        let run = || -> Result<(Option<Zeroizing<Vec<bool>>>, crate::net::Traffic)> {
            let mut channel = Connection::Tls(Box::new(
                TlsChannel::connect(&party.address, job.timeout, timeouts, &settings)
                    .map_err(|e| context(e, &format!("reaching the {who}")))?,
            ));
            if let Ok(mut stops) = stops.lock() {
                stops.push(channel.interrupter()?);
            }
            if first_failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                return Err(Error::PeerClosed(
                    "stopped: the other compute party failed".into(),
                ));
            }
            send_hello(&mut channel, &job.name, KIND_CONTRIBUTOR)?;
            send_share(&mut channel, share)?;
            expect_tag(&mut channel, b'A', &who).map_err(|e| context(e, &who))?;
            let mut tag = [0u8; 1];
            channel
                .read_exact(&mut tag)
                .map_err(|e| context(e, &format!("waiting for the result from the {who}")))?;
            let share = match tag[0] {
                b'O' if recipient => Some(recv_bits(&mut channel, out_bits)?),
                b'D' if !recipient => None,
                b'E' => {
                    return Err(Error::peer(format!(
                        "the {who} stopped the job: {}",
                        recv_message(&mut channel)?
                    )));
                }
                other => {
                    return Err(Error::peer(format!(
                        "the {who} sent frame {other:#04x} at the end of the job"
                    )));
                }
            };
            channel.close_write()?;
            let _ = channel.expect_eof();
            Ok((share, channel.traffic()))
        };
        let result = run();
        if result.is_err() {
            if let Ok(mut first) = first_failure.lock() {
                first.get_or_insert(role);
            }
            if let Ok(stops) = stops.lock() {
                stops.iter().for_each(crate::net::Interrupter::interrupt);
            }
        }
        result
    };
    let (g, e) = std::thread::scope(|scope| {
        let g = scope.spawn(|| side(&job.garbler, Party::Garbler, &a));
        let e = side(&job.evaluator, Party::Evaluator, &b);
        let g = g
            .join()
            .unwrap_or_else(|_| Err(Error::SelfCheck("a contributor thread panicked".into())));
        (g, e)
    });
    // The side that failed first has the interesting error; the other was stopped by us.
    let (g, e) = match (g, e, first_failure.lock().ok().and_then(|f| *f)) {
        (Err(g), Err(_), Some(Party::Garbler)) => return Err(g),
        (Err(_), Err(e), Some(Party::Evaluator)) => return Err(e),
        (g, e, _) => (g, e),
    };
    let ((g_share, g_traffic), (e_share, e_traffic)) = (g?, e?);
    let outputs = match (g_share, e_share) {
        (Some(x), Some(y)) => {
            let value: Vec<bool> = x.iter().zip(y.iter()).map(|(p, q)| p ^ q).collect();
            let mut groups = Vec::new();
            let mut at = 0;
            for g in job.circuit.outputs() {
                groups.push(value[at..at + g.width as usize].to_vec());
                at += g.width as usize;
            }
            Some(groups)
        }
        _ => None,
    };
    Ok(Contributed {
        outputs,
        bytes_sent: g_traffic.sent + e_traffic.sent,
        bytes_received: g_traffic.received + e_traffic.received,
        job_time: started.elapsed(),
    })
}

/// Adds what we were doing to a peer or network error's message.
fn context(e: Error, what: &str) -> Error {
    match e {
        Error::PeerClosed(m) => Error::PeerClosed(format!("{what}: {m}")),
        Error::PeerMisbehaved(m) => Error::PeerMisbehaved(format!("{what}: {m}")),
        Error::Timeout(m) => Error::Timeout(format!("{what}: {m}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222222222222222222222222222";
    const C: &str = "3333333333333333333333333333333333333333333333333333333333333333";
    const D: &str = "4444444444444444444444444444444444444444444444444444444444444444";

    /// A valid job of three contributors; `edit` changes its text.
    fn job_text(edit: impl Fn(String) -> String) -> String {
        edit(format!(
            r#"job = "test-job"
timeout = 5
recipients = ["h1"]

[circuit]
generator = "sum"
bits = 32
count = 2

[compute.garbler]
address = "127.0.0.1:7100"
fingerprint = "{A}"

[compute.evaluator]
address = "127.0.0.1:7101"
fingerprint = "{B}"

[[contributor]]
name = "h1"
fingerprint = "{C}"
groups = [1]

[[contributor]]
name = "h2"
fingerprint = "{D}"
groups = [2]
bits = 32
"#
        ))
    }

    fn error_of(text: &str) -> String {
        match Job::parse(Path::new("job.toml"), text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => {
                assert_eq!(e.kind(), "usage", "{e}");
                e.to_string()
            }
        }
    }

    #[test]
    fn a_valid_job_parses_and_summarises() {
        let job = Job::parse(Path::new("job.toml"), &job_text(|t| t)).unwrap();
        assert_eq!(job.contributors.len(), 2);
        assert_eq!(job.recipients, Recipients::Contributors(vec![0]));
        assert_eq!(job.share_bits(0), 32);
        let summary = job.summary().unwrap();
        for needle in ["test-job", "h1", "h2", A, B, C, D, "AND", "feeds group 1"] {
            assert!(
                summary.contains(needle),
                "{needle} missing from:\n{summary}"
            );
        }
        let session = job.session_circuit().unwrap();
        assert_eq!(session.inputs().len(), 4);
    }

    #[test]
    fn each_problem_of_a_job_file_is_named_at_its_line_and_column() {
        let cases: Vec<(String, &str)> = vec![
            (
                job_text(|t| t.replace("groups = [2]", "groups = [1]")),
                "job.toml:26:11: groups: input group 1 is fed twice (by h1 and h2)",
            ),
            (
                job_text(|t| t.replace("groups = [2]", "groups = [3]")),
                "job.toml:26:11: groups: there is no input group 3",
            ),
            (
                job_text(|t| t.replace("count = 2", "count = 3")),
                "input group 3 (32 bits) is fed by no contributor",
            ),
            (
                job_text(|t| t.replace(r#"recipients = ["h1"]"#, r#"recipients = ["h9"]"#)),
                "job.toml:3:14: recipients: unknown contributor \"h9\"",
            ),
            (
                job_text(|t| t.replacen(&format!("\"{D}\""), &format!("\"{C}\""), 1)),
                "job.toml:25:15: duplicate fingerprint",
            ),
            (
                job_text(|t| t.replace("groups = [2]\nbits = 32", "groups = [2]\nbits = 16")),
                "job.toml:27:8: bits: h2 declares 16-bit values, but input group 2 takes 32-bit values",
            ),
            (
                job_text(|t| t.replace("timeout = 5", "timeout = 5\ntimeout = 6")),
                "job.toml:3:1",
            ),
            (
                job_text(|t| t.replace("timeout = 5", "timeout = -1")),
                "job.toml:2:11: timeout",
            ),
            (
                job_text(|t| t.replace("127.0.0.1:7101", "127.0.0.1")),
                "job.toml:15:11: compute.evaluator address",
            ),
            (
                job_text(|t| t.replace(&format!("\"{B}\""), "\"abc\"")),
                "job.toml:16:15: compute.evaluator fingerprint",
            ),
            (
                job_text(|t| t.replace("name = \"h2\"", "name = \"h1\"")),
                "job.toml:24:8: duplicate contributor name",
            ),
            (
                job_text(|t| t.replace("generator = \"sum\"", "generator = \"nonesuch\"")),
                "job.toml:6:13: generator",
            ),
            (
                job_text(|t| {
                    t.replace("security", "x")
                        .replace("timeout = 5", "security = \"paranoid\"")
                }),
                "job.toml:2:12: security",
            ),
            (
                job_text(|t| t.replace("[circuit]", "[circuit]\nwidth = 3")),
                "job.toml:6:1: unknown field `width`",
            ),
            (
                job_text(|t| {
                    t.replace("generator = \"sum\"", "generator = \"mul\"")
                        .replace("bits = 32\ncount = 2", "bits = 256\nlanes = 65536")
                }),
                "job.toml:8:9: lanes: 65536 copies",
            ),
            (
                job_text(|t| t.replace("generator = \"sum\"", "generator = \"add\"")),
                "job.toml:8:9: count applies to the sum generator",
            ),
        ];
        for (text, expected) in cases {
            let message = error_of(&text);
            assert!(
                message.contains(expected),
                "expected {expected:?} in {message:?}"
            );
        }
    }

    #[test]
    fn line_and_column_count_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 4));
    }
}
