//! The `garbled` binary: see `garbled --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    garbled::cli::main()
}
