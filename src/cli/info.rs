//! `garbled info`: what a circuit file contains.

use clap::Args;

use super::CircuitArgs;
use crate::error::Result;

/// Arguments of `garbled info`.
#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub(crate) json: bool,
    /// Report the counts of the compiled program, exactly what `run` and `bench` garble
    /// (constants, copies and dead gates folded away).
    #[arg(long)]
    optimized: bool,
    /// Read the file through the streaming parser, holding no gate list: always, never, or auto
    /// (files over 256 MiB). Streamed, the AND depth and the digest of the plain view are not
    /// computed (`--optimized` streams the compiler and gives both for the program).
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    stream: String,
}

/// Largest circuit whose digest plain `info` computes (about 1 GiB while compiling).
const DIGEST_MAX_GATES: usize = 1 << 24;

pub(crate) fn run(args: &InfoArgs) -> Result<()> {
    let path = &args.circuit.path;
    if path != std::path::Path::new("-") && crate::compile::stream::is_compiled(path) {
        // A program file: only the compiled view exists.
        let program = crate::compile::stream::load_compiled(path)?;
        return print_program(
            args,
            &program,
            "program",
            "a `garbled compile` program file",
        );
    }
    // Files too long to hold are read through the streaming parser: counts without the gate
    // list (and, with --optimized, the streaming compiler).
    let huge = match args.stream.as_str() {
        "always" => path != std::path::Path::new("-"),
        "never" => false,
        _ => {
            path != std::path::Path::new("-")
                && std::fs::metadata(path).is_ok_and(|m| m.len() > STREAM_INFO_BYTES)
        }
    };
    if huge {
        return streamed(args);
    }
    let parsed = args.circuit.load()?;
    if args.optimized {
        let program = crate::compile::compile(&parsed.circuit)?;
        let dialect = parsed.dialect.to_string();
        return print_program(args, &program, parsed.dialect.name(), &dialect);
    }
    let c = &parsed.circuit;
    // The digest both parties compare in the handshake (of the compiled program), and the name
    // of the circuit when it is a well-known one. Compiling costs memory in proportion to the
    // gates, so `info` does it only below DIGEST_MAX_GATES (`--optimized` always compiles).
    let digest = if c.gates().len() <= DIGEST_MAX_GATES {
        Some(crate::compile::compile(c)?.digest_hex())
    } else {
        None
    };
    let stats = c.stats();
    let depth = stats.and_depth;
    print_facts(
        args,
        &Facts {
            dialect: parsed.dialect,
            gate_lines: parsed.gate_lines,
            mand_lines: parsed.mand_lines,
            wires: c.num_wires(),
            stats,
            and_depth: Some(depth),
            inputs: c.input_widths(),
            outputs: c.output_widths(),
            digest,
        },
    )
}

/// Files above this size are described by the streaming parser (about 36 M gate lines, which
/// would take some 2 GiB in memory).
const STREAM_INFO_BYTES: u64 = 256 << 20;

/// What `info` reports about a circuit file.
struct Facts {
    dialect: crate::circuit::Dialect,
    gate_lines: u64,
    mand_lines: u64,
    wires: u32,
    stats: crate::circuit::Stats,
    /// `None` when the file was streamed (depth needs a number per wire).
    and_depth: Option<u32>,
    inputs: Vec<u32>,
    outputs: Vec<u32>,
    digest: Option<String>,
}

/// Counts gates as the streaming parser hands them over.
#[derive(Default)]
struct Counting(crate::circuit::Stats);

impl crate::circuit::bristol::GateSink for Counting {
    fn push(&mut self, gate: crate::circuit::Gate) -> Result<()> {
        use crate::circuit::Gate;
        match gate {
            Gate::Xor { .. } => self.0.xor += 1,
            Gate::And { .. } => self.0.and += 1,
            Gate::Inv { .. } => self.0.inv += 1,
            Gate::Const { .. } => self.0.eq += 1,
            Gate::Copy { .. } => self.0.eqw += 1,
        }
        Ok(())
    }
}

/// `info` on a file too long to hold: one streaming pass for the counts, or the streaming
/// compiler for `--optimized`.
fn streamed(args: &InfoArgs) -> Result<()> {
    let path = &args.circuit.path;
    let format: crate::circuit::FormatChoice = args.circuit.format.parse()?;
    let file = std::fs::File::open(path).map_err(|e| {
        crate::error::Error::arg(format!("cannot open circuit file {}: {e}", path.display()))
    })?;
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    let limits = args.circuit.limits(true);
    if args.optimized {
        let spool = crate::spool::SpoolDir::new(None)?;
        let (program, report) =
            crate::compile::stream::compile_bristol(reader, format, &limits, &spool)
                .map_err(|e| super::name_errors(path, e))?;
        let dialect = report.header.dialect;
        return print_program(args, &program, dialect.name(), &dialect.to_string());
    }
    let mut counting = Counting::default();
    let header = crate::circuit::bristol::parse_into(reader, format, &limits, &mut counting)
        .map_err(|e| super::name_errors(path, e))?;
    print_facts(
        args,
        &Facts {
            dialect: header.dialect,
            gate_lines: header.gate_lines,
            mand_lines: header.mand_lines,
            wires: header.num_wires,
            stats: counting.0,
            and_depth: None,
            inputs: header.input_widths,
            outputs: header.output_widths,
            digest: None,
        },
    )
}

fn print_facts(args: &InfoArgs, f: &Facts) -> Result<()> {
    let known = f.digest.as_deref().and_then(super::known::lookup);
    let stats = &f.stats;
    let gates = f.gate_lines;
    if args.json {
        let object = serde_json::json!({
            "file": args.circuit.path.display().to_string(),
            "format": f.dialect.name(),
            "gates": gates,
            "optimized": false,
            "wires": f.wires,
            "and": stats.and,
            "xor": stats.xor,
            "inv": stats.inv,
            "eq": stats.eq,
            "eqw": stats.eqw,
            "mand": f.mand_lines,
            "inputs": f.inputs,
            "outputs": f.outputs,
            "and_depth": f.and_depth,
            "digest": f.digest,
            "known": known.map(|k| serde_json::json!({
                "name": k.name,
                "inputs": k.inputs,
                "outputs": k.outputs,
                "bit_order": k.bit_order,
            })),
        });
        outln!("{object}")?;
        return Ok(());
    }
    let list = |w: &[u32]| w.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    outln!("circuit    {}", args.circuit.path.display())?;
    outln!("format     {}", f.dialect)?;
    let mand = if f.mand_lines > 0 {
        format!(
            " ({} MAND line(s) counted as one gate each, their ANDs in the AND count)",
            f.mand_lines
        )
    } else {
        String::new()
    };
    outln!(
        "gates      {gates} gate lines: {} AND, {} XOR, {} INV, {} EQ, {} EQW{mand}",
        stats.and,
        stats.xor,
        stats.inv,
        stats.eq,
        stats.eqw
    )?;
    outln!("wires      {}", f.wires)?;
    outln!(
        "inputs     {} group(s) of {} wires",
        f.inputs.len(),
        list(&f.inputs)
    )?;
    outln!(
        "outputs    {} group(s) of {} wires",
        f.outputs.len(),
        list(&f.outputs)
    )?;
    match f.and_depth {
        Some(d) => outln!("AND depth  {d}")?,
        None => outln!(
            "AND depth  not computed for a file this long (`garbled info --optimized` gives the compiled program's)"
        )?,
    }
    match &f.digest {
        Some(d) => outln!("digest     {d} (compared with the peer's in the handshake)")?,
        None => outln!(
            "digest     not computed for a file this long (`garbled info --optimized` computes it)"
        )?,
    }
    if let Some(k) = known {
        outln!("known as   {}", k.name)?;
        outln!("inputs     {}", k.inputs)?;
        outln!("outputs    {}", k.outputs)?;
        outln!("bit order  {}", k.bit_order)?;
    }
    Ok(())
}

/// The counts of the compiled program: exactly what `run` and `bench` garble.
fn print_program(
    args: &InfoArgs,
    program: &crate::compile::Program,
    format: &str,
    format_text: &str,
) -> Result<()> {
    let counts = program.counts();
    let gates = counts.and + counts.xor + counts.not;
    if args.json {
        let object = serde_json::json!({
            "file": args.circuit.path.display().to_string(),
            "format": format,
            "gates": gates,
            "optimized": true,
            "wires": program.num_slots(),
            "and": counts.and,
            "xor": counts.xor,
            "inv": counts.not,
            "eq": 0,
            "eqw": 0,
            "mand": 0,
            "inputs": program.input_widths(),
            "outputs": program.output_widths(),
            "and_depth": counts.and_depth,
            "digest": program.digest_hex(),
        });
        outln!("{object}")?;
        return Ok(());
    }
    outln!(
        "circuit    {} (as garbled, after compilation)",
        args.circuit.path.display()
    )?;
    outln!("format     {format_text}")?;
    outln!(
        "gates      {gates}: {} AND (one table each), {} XOR, {} NOT; constants and copies folded away",
        counts.and,
        counts.xor,
        counts.not
    )?;
    outln!("slots      {} labels live at most", program.num_slots())?;
    outln!("digest     {}", program.digest_hex())?;
    outln!("AND depth  {}", counts.and_depth)?;
    Ok(())
}
