//! The `garbled` command line: one module per command, on top of the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::circuit::bristol::{self, FormatChoice, Limits, ParsedCircuit};
use crate::error::{Error, Result};
use crate::value::{self, BitOrder};

/// `println!` that returns an error instead of panicking when standard output is closed (a
/// pipe into `head`): `main` ends such a run quietly with success.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err(|e| $crate::error::Error::io("writing to standard output", e))
    }};
}

mod bench;
mod compare;
mod compile;
mod demo;
mod eval;
mod generate;
mod info;
mod job;
mod jobbench;
mod keygen;
mod known;
mod net;
mod progress;
mod report;
mod rows;
mod run;
mod shard;
mod suite;

// For the Python package (`python/`), which runs the same sessions and reports the same
// statistics as the command line.
pub use keygen::write_private;
pub use net::{CommandClock, run_local, stats_json};
pub use run::{parse_owners, parse_reveal};

const ABOUT: &str = "A garbled-circuit engine for two-party secure computation.";

const LONG_ABOUT: &str = "\
A garbled-circuit engine for two-party secure computation.

Circuits are Bristol Fashion or old Bristol Format files. Values on the command line are decimal
(a negative number is two's complement in its group's width), 0x… hex or 0b… binary. With
--bit-order lsb0 (the default) wire k of a group carries bit k of the integer; with msb0 it carries
bit n-1-k. Outputs print as 0x followed by ceil(n/4) lowercase hex digits, one line per group.

Exit codes: 0 success, 1 a malformed circuit or a failed run, 2 a usage error (bad arguments or
values, a missing file).";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "garbled", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Each command states its usage line: clap would otherwise show the options a user passed in the
// usage line of an error (`garbled info --format <F> <CIRCUIT>`), as if they were required.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print a circuit's gate counts, wires, input and output groups and AND depth.
    #[command(override_usage = "garbled info [OPTIONS] <CIRCUIT>")]
    Info(info::InfoArgs),
    /// Evaluate a circuit in the clear on given inputs (no cryptography; the reference).
    #[command(override_usage = "garbled eval [OPTIONS] <CIRCUIT>")]
    Eval(eval::EvalArgs),
    /// Measure garbling and evaluation speed in memory against this machine's AES throughput.
    #[command(override_usage = "garbled bench [OPTIONS] [CIRCUIT]...")]
    Bench(bench::BenchArgs),
    /// Garble a circuit between two parties (both here over loopback, or one per host).
    #[command(override_usage = "garbled run [OPTIONS] <CIRCUIT>")]
    Run(Box<run::RunArgs>),
    /// Run the built-in demonstration: private sums of two hospitals' counts, AES-128 with the
    /// key on one side and the plaintext on the other, and a comparison.
    #[command(override_usage = "garbled demo [OPTIONS]")]
    Demo(demo::DemoArgs),
    /// Compare two private integers (or two files of them, row by row): less, equal or greater.
    #[command(override_usage = "garbled compare [OPTIONS]")]
    Compare(compare::CompareArgs),
    /// Make an identity (key and certificate) for authenticated two-host runs, or print the
    /// fingerprint of one.
    #[command(override_usage = "garbled keygen [OPTIONS] <--output <FILE>|--fingerprint <FILE>>")]
    Keygen(keygen::KeygenArgs),
    /// Write a standard circuit (adders, comparators, multipliers, AES-128, SHA-256, ...) as
    /// Bristol Fashion.
    #[command(override_usage = "garbled gen [OPTIONS] <NAME>")]
    Gen(generate::GenArgs),
    /// Compile a circuit once into a program file that `run` accepts in its place (long
    /// circuits then skip parsing and compiling on every run).
    #[command(override_usage = "garbled compile [OPTIONS] --output <FILE> <CIRCUIT>")]
    Compile(compile::CompileArgs),
    /// Check a job file (many contributors, two compute parties): `garbled job check FILE`.
    #[command(override_usage = "garbled job check <JOB>")]
    Job(job::JobArgs),
    /// Run one of a job's two compute parties: collect the contributors' shares, compute with
    /// the other compute party, deliver the result's shares.
    #[command(override_usage = "garbled serve [OPTIONS] --as <ROLE> --identity <FILE> <JOB>")]
    Serve(job::ServeArgs),
    /// Contribute values to a job as XOR shares to its two compute parties (and receive the
    /// result if the job names this contributor as a recipient).
    #[command(
        override_usage = "garbled contribute [OPTIONS] --identity <FILE> <--values <V1,V2,...>|--values-file <FILE>> <JOB>"
    )]
    Contribute(job::ContributeArgs),
}

/// Options every command that reads a circuit file takes.
#[derive(Debug, Args)]
pub(crate) struct CircuitArgs {
    /// Path of a Bristol Fashion or old Bristol Format circuit file (- for standard input); `run`
    /// and `info` also take a program file written by `garbled compile`.
    #[arg(value_name = "CIRCUIT")]
    pub path: PathBuf,
    /// Dialect of the file: fashion (Bristol Fashion), old (the original Bristol Format; bristol
    /// is an alias), or auto, which decides from line 3 (a gate line in the old format).
    #[arg(long, value_name = "F", default_value = "auto", value_parser = ["auto", "fashion", "old", "bristol"])]
    pub format: String,
    /// Reject circuit files declaring more wires than this, checked before allocating
    /// [default: 268435456 in memory, 4294967295 when streaming].
    #[arg(long, value_name = "N")]
    pub max_wires: Option<u64>,
    /// Reject circuit files declaring more gates than this, checked before allocating
    /// [default: 268435456 in memory, no limit when streaming].
    #[arg(long, value_name = "N")]
    pub max_gates: Option<u64>,
}

impl CircuitArgs {
    /// Opens and parses the circuit; errors carry the path.
    pub fn load(&self) -> Result<ParsedCircuit> {
        load_circuit(&self.path, &self.format, self.limits(false))
    }

    /// The ceilings: the user's, or the defaults for in-memory or streamed compilation (a
    /// streamed circuit holds no gate list, so only the 32-bit wire numbers bound it).
    pub fn limits(&self, streaming: bool) -> Limits {
        let default = if streaming {
            Limits {
                max_wires: u64::from(u32::MAX),
                max_gates: u64::MAX,
            }
        } else {
            Limits::default()
        };
        Limits {
            max_wires: self.max_wires.unwrap_or(default.max_wires),
            max_gates: self.max_gates.unwrap_or(default.max_gates),
        }
    }
}

/// When to compile through spool files instead of in memory.
#[derive(Debug, Args)]
pub(crate) struct StreamArgs {
    /// Compile and run the circuit from temporary spool files, in memory that follows the
    /// circuit's width rather than its length: always, never, or auto (circuit files over 32 MiB).
    /// The program, and so its digest, is the same either way.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub stream: String,
    /// Directory for the spool files (default: the system temporary directory). They are
    /// unlinked as soon as they are created, so nothing is left behind on any exit.
    #[arg(long, value_name = "DIR")]
    pub spool_dir: Option<PathBuf>,
}

/// Circuit files above this size are streamed under `--stream auto` (about 4.5 M gate lines,
/// which take some 250 MiB in memory).
pub(crate) const STREAM_AUTO_BYTES: u64 = 32 << 20;

/// How a program came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProgramSource {
    /// Parsed and compiled in memory.
    Memory,
    /// Compiled through spool files.
    Stream,
    /// Loaded from a file written by `garbled compile`.
    Compiled,
}

impl ProgramSource {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ProgramSource::Memory => "memory",
            ProgramSource::Stream => "stream",
            ProgramSource::Compiled => "compiled",
        }
    }
}

/// A compiled program, with the circuit when it was held in memory.
pub(crate) struct Loaded {
    pub program: crate::compile::Program,
    pub circuit: Option<crate::circuit::Circuit>,
    pub source: ProgramSource,
    /// Most bytes the spool files held at once (streamed compilation).
    pub spool_peak_bytes: u64,
    /// Bytes of compiled gates read back while running (streamed or compiled programs).
    pub program_bytes: u64,
}

/// Loads a circuit file (or a compiled program) and compiles it, in memory or streamed as
/// `--stream` says; the load and compile times go to `clock`.
pub(crate) fn load_program(
    circuit: &CircuitArgs,
    stream: &StreamArgs,
    clock: &mut net::CommandClock,
) -> Result<Loaded> {
    use crate::compile::stream as cs;
    let path = &circuit.path;
    let is_stdin = path == Path::new("-");
    if !is_stdin && cs::is_compiled(path) {
        let started = std::time::Instant::now();
        let program = cs::load_compiled(path)?;
        clock.load = started.elapsed();
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        return Ok(Loaded {
            program,
            circuit: None,
            source: ProgramSource::Compiled,
            spool_peak_bytes: 0,
            program_bytes: bytes,
        });
    }
    let streaming = match stream.stream.as_str() {
        "always" => true,
        "never" => false,
        _ => !is_stdin && std::fs::metadata(path).is_ok_and(|m| m.len() > STREAM_AUTO_BYTES),
    };
    if !streaming {
        let started = std::time::Instant::now();
        let parsed = load_circuit(path, &circuit.format, circuit.limits(false))?;
        clock.load = started.elapsed();
        let compiling = std::time::Instant::now();
        let program = crate::compile::compile(&parsed.circuit)?;
        clock.compile = compiling.elapsed();
        return Ok(Loaded {
            program,
            circuit: Some(parsed.circuit),
            source: ProgramSource::Memory,
            spool_peak_bytes: 0,
            program_bytes: 0,
        });
    }
    let spool = crate::spool::SpoolDir::new(stream.spool_dir.as_deref())?;
    let format: FormatChoice = circuit.format.parse()?;
    let limits = circuit.limits(true);
    let started = std::time::Instant::now();
    let compiled = if is_stdin {
        let reader = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
        cs::compile_bristol(reader, format, &limits, &spool)
    } else {
        let file = open_circuit(path)?;
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        cs::compile_bristol(reader, format, &limits, &spool)
    };
    let (program, report) = compiled.map_err(|e| name_errors(path, e))?;
    // Parsing and compiling are one pipeline here: the time is all compile time.
    clock.compile = started.elapsed();
    Ok(Loaded {
        program,
        circuit: None,
        source: ProgramSource::Stream,
        spool_peak_bytes: report.spool_peak_bytes,
        program_bytes: report.program_bytes,
    })
}

fn open_circuit(path: &Path) -> Result<std::fs::File> {
    if path.is_dir() {
        return Err(Error::arg(format!(
            "{} is a directory; give a circuit file",
            path.display()
        )));
    }
    std::fs::File::open(path)
        .map_err(|e| Error::arg(format!("cannot open circuit file {}: {e}", path.display())))
}

/// Opens and parses a circuit file; a parse error is prefixed with the path, a missing file is an
/// argument error.
pub fn load_circuit(path: &Path, format: &str, limits: Limits) -> Result<ParsedCircuit> {
    let format: FormatChoice = format.parse()?;
    if path != Path::new("-") && crate::compile::stream::is_compiled(path) {
        return Err(Error::arg(format!(
            "{} is a compiled program (written by `garbled compile`); `run` and `info` read \
             it, this command needs the circuit file",
            path.display()
        )));
    }
    let parsed = if path == Path::new("-") {
        // Standard input: `garbled gen aes128 | garbled info -`.
        let reader = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
        bristol::parse(reader, format, &limits)
    } else {
        let file = open_circuit(path)?;
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        bristol::parse(reader, format, &limits)
    };
    parsed.map_err(|e| name_errors(path, e))
}

/// Prefixes errors about a circuit file with its name.
pub fn name_errors(path: &Path, e: Error) -> Error {
    let name = if path == Path::new("-") {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    match e {
        Error::Parse { line, .. } => {
            let separator = if line == 0 { ": " } else { ":" };
            Error::Parse {
                line: 0,
                column: 0,
                message: format!("{name}{separator}{e}"),
            }
        }
        // Ceilings name the file too (they point at options of this command).
        Error::LimitExceeded(message) => Error::LimitExceeded(format!("{name}: {message}")),
        Error::Io { context, source } => Error::Io {
            context: format!("{name}: {context}"),
            source,
        },
        other => other,
    }
}

/// Parses one `--input` value per group.
pub(crate) fn parse_inputs(
    values: &[String],
    widths: &[u32],
    order: BitOrder,
) -> Result<Vec<Vec<bool>>> {
    if values.len() != widths.len() {
        let list: Vec<String> = widths.iter().map(u32::to_string).collect();
        return Err(Error::arg(format!(
            "the circuit has {} input group(s) (widths {}) but {} --input value(s) were given; \
             pass one --input per group, in order",
            widths.len(),
            list.join(", "),
            values.len()
        )));
    }
    values
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (v, &w))| {
            value::parse_value(v, w, order)
                .map_err(|e| Error::arg(format!("--input {} (group {}, {w} bits): {e}", v, i + 1)))
        })
        .collect()
}

/// Prints outputs one line per group, or as `{"outputs": [...]}` with extra keys.
pub(crate) fn print_outputs(
    outputs: &[Option<Vec<bool>>],
    order: BitOrder,
    format: value::OutputFormat,
    json: bool,
    extra: Option<(&str, serde_json::Value)>,
) -> Result<()> {
    let texts: Vec<Option<String>> = outputs
        .iter()
        .map(|o| {
            o.as_ref()
                .map(|bits| value::format_value_as(bits, order, format))
        })
        .collect();
    if json {
        let mut object = serde_json::Map::new();
        object.insert("outputs".into(), serde_json::json!(texts));
        if let Some((key, value)) = extra {
            object.insert(key.into(), value);
        }
        outln!("{}", serde_json::Value::Object(object))?;
    } else {
        for text in texts.into_iter().flatten() {
            outln!("{text}")?;
        }
    }
    Ok(())
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // `garbled help --help` (and `-h`) means the same as `garbled help`.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "help") {
        argv.retain(|a| a != "--help" && a != "-h");
    }
    let cli = Cli::parse_from(argv);
    let json = cli.command.json();
    let result = match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Gen(args) => generate::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Job(args) => job::run_job(&args),
        Command::Serve(args) => job::run_serve(&args),
        Command::Contribute(args) => job::run_contribute(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`garbled gen sha256 | head`): nothing left to say to it.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("garbled: error: {e}");
            let code = exit_code(&e);
            if json {
                // A script reading --json output gets an object on stdout either way.
                let object = serde_json::json!({
                    "error": {"kind": e.kind(), "message": e.to_string(), "exit_code": code}
                });
                println!("{object}");
            }
            ExitCode::from(code)
        }
    }
}

impl Command {
    /// Whether the command was asked for JSON output.
    fn json(&self) -> bool {
        match self {
            Command::Info(a) => a.json,
            Command::Eval(a) => a.json,
            Command::Bench(a) => a.json,
            Command::Run(a) => a.json,
            Command::Demo(a) => a.json,
            Command::Compare(a) => a.json,
            Command::Serve(a) => a.json,
            Command::Contribute(a) => a.json,
            Command::Job(a) => a.json(),
            Command::Keygen(_) | Command::Gen(_) | Command::Compile(_) => false,
        }
    }
}

/// 2 for usage errors (arguments, values, missing files), 1 for everything else.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::InvalidArgument(_) => 2,
        _ => 1,
    }
}

/// The circuits `garbled bench` measures by default: the built-in AES-128 and SHA-256, the
/// same as `circuits/aes128.txt` and `circuits/sha256.txt`.
fn default_bench_circuits() -> Vec<(String, crate::circuit::Circuit)> {
    use crate::circuit::builder::{aes128_circuit, sha256_circuit};
    vec![
        ("aes128".to_string(), aes128_circuit()),
        ("sha256".to_string(), sha256_circuit()),
    ]
}
