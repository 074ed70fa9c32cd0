//! The crate's one error type.
//!
//! Variants separate the places a failure can come from, so that callers (and the CLI's exit codes)
//! can tell a bad circuit file from a bad argument, a misbehaving peer, I/O trouble and timeouts.

use std::fmt;

/// Everything that can go wrong in `garbled`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A circuit file is malformed. `line` and `column` are 1-based; a `line` of 0 means the problem
    /// concerns the file as a whole (for example, it ends too early).
    #[error("{}", ParseLocation { line: *line, column: *column, message })]
    Parse {
        /// 1-based line number, 0 for the whole file.
        line: u64,
        /// 1-based byte column, 0 when the error concerns the whole line or file.
        column: u64,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A circuit built or transformed through the API breaks an invariant (not from a file).
    #[error("invalid circuit: {0}")]
    InvalidCircuit(String),
    /// A command-line argument, an input value or an option is unusable.
    #[error("{0}")]
    InvalidArgument(String),
    /// A resource ceiling was hit (a circuit too large, a message too long). The message names
    /// the option that raises the ceiling where there is one.
    #[error("{0}")]
    LimitExceeded(String),
    /// The two parties disagree on something fixed by the handshake.
    #[error("{field} {}: ours {ours}, peer's {peer} — {hint}", verb(field))]
    Mismatch {
        /// The handshake field that differs.
        field: &'static str,
        /// Our value.
        ours: String,
        /// The peer's value.
        peer: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The peer sent something the protocol does not allow.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(String),
    /// The peer closed the connection (or reset it) before the session ended. Not necessarily
    /// misbehaviour: the peer may have stopped on an error of its own.
    #[error("the peer closed the connection ({0})")]
    PeerClosed(String),
    /// The peer could not be authenticated: it presented another identity than the pinned one,
    /// refused ours, or did not speak TLS.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// A check of the maliciously secure protocol failed: the peer deviated from the protocol
    /// (or the data was corrupted on the way). The session is aborted and no output is given.
    #[error("the peer cheated, session aborted: {0}")]
    Cheating(String),
    /// An operating-system I/O error, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Nothing arrived (or could be sent) within the deadline.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A benchmark cell is slower than its baseline by more than the allowed margin beyond the
    /// noise (`garbled bench --fail-on-regression`).
    #[error("regression: {0}")]
    Regression(String),
    /// The caller stopped the wait (the Python package's Ctrl-C).
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// A self-check failed: a computed result disagrees with its reference. This is a bug.
    #[error("self-check failed: {0}")]
    SelfCheck(String),
}

/// Short for `std::result::Result<T, garbled::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short, stable name for the kind of error (the `kind` of a JSON error object, the
    /// Python package's exception class).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Parse { .. } | Error::InvalidCircuit(_) => "circuit",
            Error::InvalidArgument(_) => "usage",
            Error::LimitExceeded(_) => "limit",
            Error::Mismatch { .. } => "mismatch",
            Error::PeerMisbehaved(_) | Error::PeerClosed(_) => "peer",
            Error::Authentication(_) => "authentication",
            Error::Cheating(_) => "cheating",
            Error::Io { .. } => "io",
            Error::Timeout(_) => "timeout",
            Error::Interrupted(_) => "interrupted",
            Error::Regression(_) => "regression",
            Error::SelfCheck(_) => "internal",
        }
    }

    /// A parse error at a position.
    pub fn parse(line: u64, column: u64, message: impl Into<String>) -> Self {
        Error::Parse {
            line,
            column,
            message: message.into(),
        }
    }

    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// An invalid-argument error.
    pub fn arg(message: impl Into<String>) -> Self {
        Error::InvalidArgument(message.into())
    }

    /// A peer-misbehaviour error.
    pub fn peer(message: impl Into<String>) -> Self {
        Error::PeerMisbehaved(message.into())
    }
}

/// "differ" after the plural field names ("input widths differ"), "differs" otherwise.
fn verb(field: &str) -> &'static str {
    match field {
        "input widths" | "output widths" | "input owners" | "bit orders" => "differ",
        _ => "differs",
    }
}

struct ParseLocation<'a> {
    line: u64,
    column: u64,
    message: &'a str,
}

impl fmt::Display for ParseLocation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.message),
            (line, 0) => write!(f, "{line}: {}", self.message),
            (line, column) => write!(f, "{line}:{column}: {}", self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn mismatches_read_as_english() {
        let plural = Error::Mismatch {
            field: "input owners",
            ours: "[garbler]".into(),
            peer: "[evaluator]".into(),
            hint: "both parties must pass the same --owners",
        };
        assert!(plural.to_string().starts_with("input owners differ: ours"));
        let singular = Error::Mismatch {
            field: "circuit digest",
            ours: "a".into(),
            peer: "b".into(),
            hint: "both parties must load the same circuit file",
        };
        assert!(
            singular
                .to_string()
                .starts_with("circuit digest differs: ours a, peer's b")
        );
    }
}
