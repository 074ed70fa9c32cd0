//! Command-line options shared by the commands that talk to a peer, and the local two-party
//! mode (both parties in this process over a loopback TCP connection).

use std::time::Duration;

use clap::Args;

use crate::error::{Error, Result};
use crate::net::tcp::{TcpChannel, Timeouts};
use crate::protocol::{Party, SessionStats};

/// Role and connection options.
#[derive(Debug, Args)]
pub(crate) struct NetArgs {
    /// Play one party against a peer (garbler or evaluator); without it both parties run here.
    #[arg(long, value_name = "ROLE", value_parser = ["garbler", "evaluator"])]
    pub role: Option<String>,
    /// Wait for the peer on this address (e.g. 0.0.0.0:7000).
    #[arg(long, value_name = "ADDR", conflicts_with = "connect")]
    pub listen: Option<String>,
    /// Connect to the peer at this address, retrying until it listens or --timeout passes.
    #[arg(long, value_name = "ADDR")]
    pub connect: Option<String>,
    /// Seconds to wait for the peer to connect, and for any single read or write.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Seconds the whole session may take, however busy the connection is.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400.0)]
    pub session_timeout: f64,
}

impl NetArgs {
    /// The role, after checking that the connection options fit it.
    pub fn role(&self) -> Result<Option<Party>> {
        if !(self.timeout > 0.0 && self.timeout <= 86_400.0) {
            return Err(Error::arg("--timeout must be between 0 and 86400 seconds"));
        }
        if !(self.session_timeout > 0.0 && self.session_timeout <= 31_536_000.0) {
            return Err(Error::arg(
                "--session-timeout must be between 0 and 31536000 seconds",
            ));
        }
        match &self.role {
            None => {
                if self.listen.is_some() || self.connect.is_some() {
                    return Err(Error::arg(
                        "--listen and --connect need --role garbler or --role evaluator",
                    ));
                }
                Ok(None)
            }
            Some(role) => {
                if self.listen.is_none() && self.connect.is_none() {
                    return Err(Error::arg(format!(
                        "--role {role} needs --listen ADDR or --connect ADDR"
                    )));
                }
                Ok(Some(role.parse()?))
            }
        }
    }

    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            idle: Duration::from_secs_f64(self.timeout),
            total: Some(Duration::from_secs_f64(self.session_timeout)),
        }
    }

    /// Opens the connection to the peer.
    pub fn channel(&self) -> Result<TcpChannel> {
        let wait = Duration::from_secs_f64(self.timeout);
        match (&self.listen, &self.connect) {
            (Some(addr), _) => TcpChannel::listen(addr, wait, self.timeouts()),
            (None, Some(addr)) => TcpChannel::connect(addr, wait, self.timeouts()),
            (None, None) => Err(Error::arg(
                "--listen ADDR or --connect ADDR is needed to reach the peer",
            )),
        }
    }
}

/// Runs both parties in this process over a loopback TCP connection: the garbler here, the
/// evaluator on a second thread.
pub(crate) fn run_local<T, U: Send>(
    timeouts: Timeouts,
    garbler: impl FnOnce(TcpChannel) -> Result<T>,
    evaluator: impl FnOnce(TcpChannel) -> Result<U> + Send,
) -> Result<(T, U)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::io("opening a loopback port for the local run", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the loopback address", e))?
        .to_string();
    std::thread::scope(|scope| {
        let e =
            scope.spawn(move || evaluator(TcpChannel::connect(&addr, timeouts.idle, timeouts)?));
        let g = TcpChannel::accept(&listener, timeouts.idle, timeouts).and_then(garbler);
        let e = e
            .join()
            .map_err(|_| Error::SelfCheck("the evaluator thread panicked".into()))?;
        // The first error is the interesting one; the other side usually only saw the hang-up.
        match (g, e) {
            (Ok(g), Ok(e)) => Ok((g, e)),
            (Err(g), Err(Error::PeerMisbehaved(_))) => Err(g),
            (Err(Error::PeerMisbehaved(_)), Err(e)) => Err(e),
            (Err(g), _) => Err(g),
            (_, Err(e)) => Err(e),
        }
    })
}

/// The statistics object of `--json` output.
pub(crate) fn stats_json(stats: &SessionStats) -> serde_json::Value {
    serde_json::json!({
        "and_gates": stats.and_gates,
        "bytes_sent": stats.bytes_sent,
        "bytes_received": stats.bytes_received,
        "wall_ms": (stats.wall.as_secs_f64() * 1e6).round() / 1e3,
        "setup_ms": (stats.setup.as_secs_f64() * 1e6).round() / 1e3,
    })
}

/// One line of statistics for people.
pub(crate) fn stats_line(stats: &SessionStats) -> String {
    let seconds = stats.wall.as_secs_f64();
    // A rate means something only once the setup no longer dominates.
    let rate = if seconds > 0.1 {
        format!(", {:.1} M AND/s", stats.and_gates as f64 / seconds / 1e6)
    } else {
        String::new()
    };
    format!(
        "{} AND gates, {} bytes sent, {} bytes received, {:.2} ms ({:.2} ms setup incl. base OT){rate}",
        stats.and_gates,
        stats.bytes_sent,
        stats.bytes_received,
        seconds * 1e3,
        stats.setup.as_secs_f64() * 1e3
    )
}
