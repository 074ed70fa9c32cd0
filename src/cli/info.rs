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
    /// Report the counts after optimization (constant propagation, structural hashing, XOR/INV
    /// simplification, dead-gate removal).
    #[arg(long)]
    optimized: bool,
}

pub(crate) fn run(args: &InfoArgs) -> Result<()> {
    let parsed = args.circuit.load()?;
    let optimized;
    let (c, gates) = if args.optimized {
        optimized = crate::circuit::optimize::optimize(&parsed.circuit)?;
        (&optimized, optimized.gates().len() as u64)
    } else {
        (&parsed.circuit, parsed.gate_lines)
    };
    let stats = c.stats();
    let inputs = c.input_widths();
    let outputs = c.output_widths();
    if args.json {
        let object = serde_json::json!({
            "file": args.circuit.path.display().to_string(),
            "format": parsed.dialect.name(),
            "gates": gates,
            "optimized": args.optimized,
            "wires": c.num_wires(),
            "and": stats.and,
            "xor": stats.xor,
            "inv": stats.inv,
            "eq": stats.eq,
            "eqw": stats.eqw,
            "inputs": inputs,
            "outputs": outputs,
            "and_depth": stats.and_depth,
        });
        println!("{object}");
        return Ok(());
    }
    let list = |w: &[u32]| w.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    println!("circuit    {}", args.circuit.path.display());
    println!("format     {}", parsed.dialect);
    let what = if args.optimized {
        "gates after optimization"
    } else {
        "gate lines"
    };
    println!(
        "gates      {gates} {what}: {} AND, {} XOR, {} INV, {} EQ, {} EQW",
        stats.and, stats.xor, stats.inv, stats.eq, stats.eqw
    );
    println!("wires      {}", c.num_wires());
    println!(
        "inputs     {} group(s) of {} wires",
        inputs.len(),
        list(&inputs)
    );
    println!(
        "outputs    {} group(s) of {} wires",
        outputs.len(),
        list(&outputs)
    );
    println!("AND depth  {}", stats.and_depth);
    Ok(())
}
