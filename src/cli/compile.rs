//! `garbled compile`: a circuit compiled once into a program file that `run` reads directly.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{CircuitArgs, StreamArgs};
use crate::compile::stream::write_compiled;
use crate::error::{Error, Result};

/// Arguments of `garbled compile`.
#[derive(Debug, Args)]
#[command(after_help = "\
The program file holds the compiled gates (folded, dead gates removed, scheduled, slots
allocated) and their digest; `garbled run FILE` accepts it in place of the circuit and reads it
segment by segment, so a long circuit is parsed and compiled once, not on every run. Its digest is
the digest of compiling the circuit file itself, so a peer may run either. A program file is
checked whole (digest and every slot) before it is used.

Example:
  garbled gen aes128 --count 1500 -o chain.txt
  garbled compile chain.txt -o chain.gcp
  garbled run chain.gcp --input 0x0 --input 0x1")]
pub(crate) struct CompileArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    #[command(flatten)]
    stream: StreamArgs,
    /// Where to write the program (created new; an existing file is replaced only with --force).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: &CompileArgs) -> Result<()> {
    if args.output.exists() && !args.force {
        return Err(Error::arg(format!(
            "{} exists; pass --force to replace it",
            args.output.display()
        )));
    }
    let mut clock = super::net::CommandClock::new("both");
    let loaded = super::load_program(&args.circuit, &args.stream, &mut clock)?;
    let program = &loaded.program;
    // Written beside the target under a fresh name, then renamed over it: a failure leaves no
    // half-written program behind.
    let dir = match args.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (file, temp) = crate::spool::create_private(&dir, ".garbled-compile")
        .map_err(|e| Error::io(format!("cannot create a file in {}", dir.display()), e))?;
    let result = (|| -> Result<u64> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let bytes = write_compiled(program, &mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io("cannot write the compiled program", e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io("cannot write the compiled program", e))?;
        std::fs::rename(&temp, &args.output).map_err(|e| {
            Error::io(
                format!("cannot move the program to {}", args.output.display()),
                e,
            )
        })?;
        Ok(bytes)
    })();
    let bytes = match result {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    let counts = program.counts();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "wrote {} ({bytes} bytes): {} AND, {} XOR, {} NOT, AND depth {}, {} label slots, compiled {}",
        args.output.display(),
        counts.and,
        counts.xor,
        counts.not,
        counts.and_depth,
        program.num_slots(),
        loaded.source.name(),
    );
    let _ = writeln!(out, "digest {}", program.digest_hex());
    Ok(())
}
