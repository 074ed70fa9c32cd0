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
    json: bool,
    /// Report the counts of the compiled program, exactly what `run` and `bench` garble
    /// (constants, copies and dead gates folded away).
    #[arg(long)]
    optimized: bool,
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
    let parsed = args.circuit.load()?;
    if args.optimized {
        let program = crate::compile::compile(&parsed.circuit)?;
        let dialect = parsed.dialect.to_string();
        return print_program(args, &program, parsed.dialect.name(), &dialect);
    }
    let c = &parsed.circuit;
    let gates = parsed.gate_lines;
    // The digest both parties compare in the handshake (of the compiled program), and the name
    // of the circuit when it is a well-known one. Compiling costs memory in proportion to the
    // gates, so `info` does it only below DIGEST_MAX_GATES (`--optimized` always compiles).
    let digest = if c.gates().len() <= DIGEST_MAX_GATES {
        Some(crate::compile::compile(c)?.digest_hex())
    } else {
        None
    };
    let known = digest.as_deref().and_then(super::known::lookup);
    let stats = c.stats();
    let inputs = c.input_widths();
    let outputs = c.output_widths();
    if args.json {
        let object = serde_json::json!({
            "file": args.circuit.path.display().to_string(),
            "format": parsed.dialect.name(),
            "gates": gates,
            "optimized": false,
            "wires": c.num_wires(),
            "and": stats.and,
            "xor": stats.xor,
            "inv": stats.inv,
            "eq": stats.eq,
            "eqw": stats.eqw,
            "mand": parsed.mand_lines,
            "inputs": inputs,
            "outputs": outputs,
            "and_depth": stats.and_depth,
            "digest": digest,
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
    outln!("format     {}", parsed.dialect)?;
    let mand = if parsed.mand_lines > 0 {
        format!(
            " ({} MAND line(s) counted as one gate each, their ANDs in the AND count)",
            parsed.mand_lines
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
    outln!("wires      {}", c.num_wires())?;
    outln!(
        "inputs     {} group(s) of {} wires",
        inputs.len(),
        list(&inputs)
    )?;
    outln!(
        "outputs    {} group(s) of {} wires",
        outputs.len(),
        list(&outputs)
    )?;
    outln!("AND depth  {}", stats.and_depth)?;
    match &digest {
        Some(d) => outln!("digest     {d} (compared with the peer's in the handshake)")?,
        None => outln!(
            "digest     not computed above {DIGEST_MAX_GATES} gates (`garbled info --optimized` computes it)"
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
