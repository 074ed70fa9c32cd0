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
}

pub(crate) fn run(args: &InfoArgs) -> Result<()> {
    let parsed = args.circuit.load()?;
    let c = &parsed.circuit;
    let stats = c.stats();
    let inputs = c.input_widths();
    let outputs = c.output_widths();
    if args.json {
        let object = serde_json::json!({
            "file": args.circuit.path.display().to_string(),
            "format": parsed.dialect.name(),
            "gates": parsed.gate_lines,
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
    println!(
        "gates      {} gate lines: {} AND, {} XOR, {} INV, {} EQ, {} EQW",
        parsed.gate_lines, stats.and, stats.xor, stats.inv, stats.eq, stats.eqw
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
