//! `garbled keygen`: make an identity (private key and self-signed certificate) for two-host
//! runs, or print the fingerprint of an existing one.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::net::tls::{Identity, fingerprint_of_file};

/// Arguments of `garbled keygen`.
#[derive(Debug, Args)]
#[command(after_help = "\
An identity is what a party proves it holds during the TLS 1.3 handshake of a two-host run. Give
your fingerprint (the last line printed) to the other party out of band, as with SSH host keys;
it passes it as --peer, and you pass theirs.

Example, once per party:
  garbled keygen -o alice.pem          # prints alice's fingerprint
  garbled keygen --fingerprint alice.pem
Then:
  garbled compare --role garbler --listen :7000 --identity alice.pem --peer BOBS_FINGERPRINT --value 41")]
#[command(group = clap::ArgGroup::new("what").required(true).args(["output", "fingerprint"]))]
pub(crate) struct KeygenArgs {
    /// Write a new identity to FILE (created with mode 0600; an existing file is kept unless
    /// --force).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "output")]
    force: bool,
    /// Print the fingerprint of an existing identity file (or certificate PEM) and exit.
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
    fingerprint: Option<PathBuf>,
}

pub(crate) fn run(args: &KeygenArgs) -> Result<()> {
    if let Some(path) = &args.fingerprint {
        outln!("{}", fingerprint_of_file(path)?)?;
        return Ok(());
    }
    let Some(path) = &args.output else {
        return Err(Error::arg("give -o FILE or --fingerprint FILE"));
    };
    let identity = Identity::generate()?;
    write_private(path, identity.to_pem().as_bytes(), args.force)?;
    outln!(
        "identity written to {} (keep it private; give the fingerprint below to the peer)",
        path.display()
    )?;
    outln!("{}", identity.fingerprint())?;
    Ok(())
}

/// Creates `path` readable by its owner only; refuses to replace an existing file unless
/// `force`, in which case the new file replaces it by rename (never a moment with the old
/// file's permissions and the new key).
pub fn write_private(path: &Path, data: &[u8], force: bool) -> Result<()> {
    if path.is_dir() {
        return Err(Error::arg(format!("{} is a directory", path.display())));
    }
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(Error::arg(format!(
            "{} exists; pass --force to replace it (the identity in it would be lost)",
            path.display()
        )));
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::arg(format!("{} is not a file name", path.display())))?;
    let temporary = path.with_file_name(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let cannot = |e: std::io::Error| Error::arg(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&temporary)?;
        file.write_all(data)?;
        file.sync_all()?;
        if force {
            std::fs::rename(&temporary, path)
        } else {
            // hard_link fails if `path` appeared meanwhile: no silent overwrite in a race.
            std::fs::hard_link(&temporary, path).and_then(|()| std::fs::remove_file(&temporary))
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(cannot)
}
