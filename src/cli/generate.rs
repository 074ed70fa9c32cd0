//! `garbled gen`: write a standard circuit as Bristol Fashion.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::circuit::{bristol, library};
use crate::error::{Error, Result};

/// Arguments of `garbled gen`.
#[derive(Debug, Args)]
#[command(after_help = gen_help())]
pub(crate) struct GenArgs {
    /// Which circuit (see the list below).
    #[arg(value_name = "NAME")]
    name: String,
    /// Width in bits of each integer input (default 32; aes128 and sha256 have fixed widths).
    #[arg(long, value_name = "N")]
    bits: Option<u32>,
    /// Number of values summed by `sum` (default 2), or of chained AES copies for `aes128`
    /// (written as it is generated, so any length fits).
    #[arg(long, value_name = "K")]
    count: Option<u32>,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

fn gen_help() -> String {
    let mut s = String::from("Circuits:\n");
    for (name, what) in library::GENERATORS {
        s.push_str(&format!("  {name:<10} {what}\n"));
    }
    s.push_str(
        "\nIntegers are least significant bit first (wire k = bit k), as `eval --bit-order lsb0`.",
    );
    s
}

pub(crate) fn run(args: &GenArgs) -> Result<()> {
    let fixed = matches!(args.name.as_str(), "aes128" | "sha256");
    if fixed && let Some(bits) = args.bits {
        return Err(Error::arg(format!(
            "{} has fixed widths; --bits {bits} does not apply to it",
            args.name
        )));
    }
    if !matches!(args.name.as_str(), "sum" | "aes128")
        && let Some(count) = args.count
    {
        return Err(Error::arg(format!(
            "--count {count} applies to `sum` and `aes128` only, not to {}",
            args.name
        )));
    }
    if args.name == "aes128"
        && let Some(count) = args.count
    {
        return write_chain(u64::from(count), args.output.as_deref());
    }
    let circuit = library::generate(&args.name, args.bits.unwrap_or(32), args.count.unwrap_or(2))?;
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Error::arg(format!("cannot create {}: {e}", path.display())))?;
            bristol::write_fashion(&circuit, file)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            // The counts of the file as written: Bristol Fashion's layout may add EQW gates
            // (an output that is also an input, or two outputs on one wire).
            let laid_out = circuit.to_bristol_layout();
            let stats = laid_out.stats();
            let total = laid_out.gates().len();
            let others = (total as u64)
                .saturating_sub(stats.and as u64 + stats.xor as u64 + stats.inv as u64);
            let others = if others > 0 {
                format!(", {others} EQ/EQW")
            } else {
                String::new()
            };
            eprintln!(
                "wrote {} ({} AND, {} XOR, {} INV{others}, {total} gates)",
                path.display(),
                stats.and,
                stats.xor,
                stats.inv,
            );
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            match bristol::write_fashion(&circuit, &mut lock).and_then(|()| lock.flush()) {
                Ok(()) => {}
                // A closed pipe (`garbled gen sha256 | head`) is not an error worth a message.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(Error::io("writing to standard output", e)),
            }
        }
    }
    Ok(())
}

/// `gen aes128 --count N`: the chained AES file, written as it is generated.
fn write_chain(count: u64, output: Option<&std::path::Path>) -> Result<()> {
    match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Error::arg(format!("cannot create {}: {e}", path.display())))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            let stats = library::write_aes128_chain(count, &mut out)?;
            out.flush()
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            eprintln!(
                "wrote {} ({count} AES-128 copies: {} AND, {} gates, {} wires)",
                path.display(),
                stats.and,
                stats.gates,
                stats.wires
            );
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let written = library::write_aes128_chain(count, &mut out)
                .and_then(|_| out.flush().map_err(|e| Error::io("writing", e)));
            match written {
                Ok(()) => {}
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
