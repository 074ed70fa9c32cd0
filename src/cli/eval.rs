//! `garbled eval`: cleartext evaluation of a circuit file.

use clap::Args;

use super::{CircuitArgs, parse_inputs, print_outputs};
use crate::circuit::plain;
use crate::error::Result;
use crate::value::{BitOrder, OutputFormat};

/// Arguments of `garbled eval`.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    /// One value per input group, in order (decimal, 0x… hex or 0b… binary).
    #[arg(long = "input", value_name = "V", allow_hyphen_values = true)]
    inputs: Vec<String>,
    /// lsb0: wire k of a group carries bit k of the value; msb0: bit n-1-k.
    #[arg(long, value_name = "ORDER", default_value = "lsb0", value_parser = ["lsb0", "msb0"])]
    bit_order: String,
    /// How outputs print: hex (0x + ceil(n/4) digits), dec, signed (two's complement in the
    /// group's width) or bin (0b + n digits).
    #[arg(long, value_name = "FORMAT", default_value = "hex", value_parser = ["hex", "dec", "signed", "bin"])]
    output_format: String,
    /// Print {"outputs": ["0x…", …]} instead of one line per output group.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: &EvalArgs) -> Result<()> {
    let order: BitOrder = args.bit_order.parse()?;
    let format: OutputFormat = args.output_format.parse()?;
    let parsed = args.circuit.load()?;
    let circuit = &parsed.circuit;
    let inputs = parse_inputs(&args.inputs, &circuit.input_widths(), order)?;
    let outputs = plain::eval_bits(circuit, &inputs)?;
    let outputs: Vec<Option<Vec<bool>>> = outputs.into_iter().map(Some).collect();
    print_outputs(&outputs, order, format, args.json, None)
}
