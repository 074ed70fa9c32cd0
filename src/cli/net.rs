//! Command-line options shared by the commands that talk to a peer, and the local two-party
//! mode (both parties in this process over a loopback connection).
//!
//! Two hosts talk over mutually authenticated TLS 1.3 ([`crate::net::tls`]): `--identity` is our
//! key file, `--peer` the fingerprint of the peer's. `--insecure` is the explicit plaintext mode.
//! A local run uses TLS too, with throwaway identities, so its figures match a deployment.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use crate::error::{Error, Result};
use crate::net::Connection;
use crate::net::tcp::{TcpChannel, Timeouts};
use crate::net::tls::{Fingerprint, Identity, TlsChannel, TlsSettings};
use crate::protocol::{Party, SessionStats};

/// Role and connection options.
#[derive(Debug, Args)]
pub(crate) struct NetArgs {
    /// The garbling scheme: half-gates (32 bytes per AND gate) or three-halves (24.6 bytes per
    /// AND gate and 2 bytes per evaluator input bit, more hashing: for links slower than the
    /// garbler). Both parties must choose the same; the handshake compares it.
    #[arg(long, value_name = "SCHEME", default_value = "half-gates", value_parser = ["half-gates", "three-halves"])]
    pub scheme: String,
    /// Security against the peer: semi-honest (both parties follow the protocol; the fast
    /// default) or malicious (authenticated garbling: a peer that deviates, in any message, is
    /// caught and the session aborts without output, at several times the cost). Both parties
    /// must choose the same; the handshake compares it.
    #[arg(long, value_name = "LEVEL", default_value = "semi-honest", value_parser = ["semi-honest", "malicious"])]
    pub security: String,
    /// Play one party against a peer (garbler or evaluator); without it both parties run here.
    #[arg(long, value_name = "ROLE", value_parser = ["garbler", "evaluator"])]
    pub role: Option<String>,
    /// Wait for the peer on this address: HOST:PORT, :PORT (all interfaces) or [IPv6]:PORT.
    #[arg(long, value_name = "ADDR", conflicts_with = "connect")]
    pub listen: Option<String>,
    /// Connect to the peer at this address (every address the name resolves to is tried),
    /// retrying until it listens or --timeout passes.
    #[arg(long, value_name = "ADDR")]
    pub connect: Option<String>,
    /// Our identity file (private key and certificate), made with `garbled keygen -o FILE`.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// The peer's fingerprint (64 hex digits, printed by its `garbled keygen`): only a peer
    /// holding that key is accepted.
    #[arg(long, value_name = "FINGERPRINT")]
    pub peer: Option<String>,
    /// Plaintext TCP without authentication: anyone on the path reads the outputs and anyone
    /// who reaches the port can play the peer. For benchmarks and trusted links only.
    #[arg(long, conflicts_with_all = ["identity", "peer"])]
    pub insecure: bool,
    /// Seconds to wait for the peer to connect, and for any single read or write.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Seconds the whole session may take, however busy the connection is.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400.0)]
    pub session_timeout: f64,
}

/// How the connection is secured.
pub(crate) enum Link {
    /// Plaintext TCP.
    Insecure,
    /// TLS 1.3 with pinned keys.
    Tls(Box<TlsSettings>),
}

impl NetArgs {
    /// The garbling scheme.
    pub fn scheme(&self) -> Result<crate::garble::Scheme> {
        self.scheme.parse()
    }

    /// The security level.
    pub fn security(&self) -> Result<crate::auth::Security> {
        self.security.parse()
    }

    /// The role, after checking that the connection options fit it.
    pub fn role(&self) -> Result<Option<Party>> {
        if !(self.timeout > 0.0 && self.timeout <= 86_400.0) {
            return Err(Error::arg(format!(
                "--timeout {} is out of range: give a number of seconds above 0 and at most 86400",
                self.timeout
            )));
        }
        if !(self.session_timeout > 0.0 && self.session_timeout <= 31_536_000.0) {
            return Err(Error::arg(format!(
                "--session-timeout {} is out of range: give a number of seconds above 0 and at most 31536000",
                self.session_timeout
            )));
        }
        match &self.role {
            None => {
                if self.listen.is_some() || self.connect.is_some() {
                    return Err(Error::arg(
                        "--listen and --connect need --role garbler or --role evaluator",
                    ));
                }
                if self.identity.is_some() || self.peer.is_some() {
                    return Err(Error::arg(
                        "--identity and --peer are for two-host runs (with --role); a local run uses throwaway identities",
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

    /// The transport's name for the statistics (`tls`, or `plaintext` with `--insecure`). A
    /// local run (both parties in this process) with `--insecure` warns here: its loopback
    /// connection is plaintext all the same (a two-host run warns when it opens its link).
    pub fn transport(&self, local: bool) -> &'static str {
        if !self.insecure {
            return "tls";
        }
        if local {
            warn_insecure();
        }
        "plaintext"
    }

    /// The security of a two-host connection: TLS with the given identity and pinned peer, or
    /// plaintext with `--insecure` (after one warning line).
    pub fn link(&self) -> Result<Link> {
        if self.insecure {
            warn_insecure();
            return Ok(Link::Insecure);
        }
        match (&self.identity, &self.peer) {
            (Some(path), Some(peer)) => {
                let peer: Fingerprint = peer
                    .parse()
                    .map_err(|e| Error::arg(format!("--peer: {e}")))?;
                let identity = Identity::load(path)?;
                if identity.fingerprint() == peer {
                    return Err(Error::arg(
                        "--peer is our own fingerprint; pin the fingerprint of the other party's identity",
                    ));
                }
                Ok(Link::Tls(Box::new(TlsSettings { identity, peer })))
            }
            _ => Err(Error::arg(
                "a two-host run is authenticated and encrypted: pass --identity FILE (ours, made once with \
                 `garbled keygen -o FILE`) and --peer FINGERPRINT (the one the other party's `garbled keygen` printed), \
                 or --insecure for plaintext TCP on a trusted link",
            )),
        }
    }

    /// Opens the connection to the peer.
    pub fn channel(&self) -> Result<Connection> {
        let link = self.link()?;
        let wait = Duration::from_secs_f64(self.timeout);
        let timeouts = self.timeouts();
        let log = |line: &str| eprintln!("garbled: {line}");
        match (&self.listen, &self.connect, link) {
            (Some(addr), _, Link::Insecure) => {
                TcpChannel::listen(addr, wait, timeouts).map(Connection::Plain)
            }
            (None, Some(addr), Link::Insecure) => {
                TcpChannel::connect(addr, wait, timeouts).map(Connection::Plain)
            }
            (Some(addr), _, Link::Tls(settings)) => {
                TlsChannel::listen(addr, wait, timeouts, &settings, log)
                    .map(|c| Connection::Tls(Box::new(c)))
            }
            (None, Some(addr), Link::Tls(settings)) => {
                TlsChannel::connect(addr, wait, timeouts, &settings)
                    .map(|c| Connection::Tls(Box::new(c)))
            }
            (None, None, _) => Err(Error::arg(
                "--listen ADDR or --connect ADDR is needed to reach the peer",
            )),
        }
    }
}

/// The one warning line `--insecure` prints (once a process, however many connections).
pub(crate) const INSECURE_WARNING: &str = "garbled: warning: --insecure: plaintext TCP without authentication; anyone on the path reads the inputs' labels and the output decoding bits (so every output, shared ones included) and anyone who reaches the port can play the peer";

pub(crate) fn warn_insecure() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| eprintln!("{INSECURE_WARNING}"));
}

/// Runs both parties in this process over a loopback connection: the garbler here, the
/// evaluator on a second thread. With `tls`, over TLS 1.3 with two throwaway identities pinned
/// to each other (the cost of a real deployment's channel); otherwise plaintext TCP.
pub fn run_local<T, U: Send>(
    timeouts: Timeouts,
    tls: bool,
    clock: Option<&mut CommandClock>,
    garbler: impl FnOnce(Connection) -> Result<T>,
    evaluator: impl FnOnce(Connection) -> Result<U> + Send,
) -> Result<(T, U)> {
    let connecting = Instant::now();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::io("opening a loopback port for the local run", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the loopback address", e))?
        .to_string();
    let identities = if tls {
        let (g, e) = (Identity::generate()?, Identity::generate()?);
        Some((
            TlsSettings {
                peer: e.fingerprint(),
                identity: g.clone(),
            },
            TlsSettings {
                peer: g.fingerprint(),
                identity: e,
            },
        ))
    } else {
        None
    };
    std::thread::scope(|scope| {
        let e_settings = identities.as_ref().map(|(_, e)| e);
        let e = scope.spawn(move || {
            let channel = match e_settings {
                Some(settings) => TlsChannel::connect(&addr, timeouts.idle, timeouts, settings)
                    .map(|c| Connection::Tls(Box::new(c)))?,
                None => Connection::Plain(TcpChannel::connect(&addr, timeouts.idle, timeouts)?),
            };
            evaluator(channel)
        });
        let channel = match identities.as_ref().map(|(g, _)| g) {
            Some(settings) => {
                TlsChannel::accept(&listener, timeouts.idle, timeouts, settings, |_| {})
                    .map(|c| Connection::Tls(Box::new(c)))
            }
            None => TcpChannel::accept(&listener, timeouts.idle, timeouts).map(Connection::Plain),
        };
        if let Some(clock) = clock {
            clock.connect = connecting.elapsed();
        }
        let g = channel.and_then(garbler);
        let e = e
            .join()
            .map_err(|_| Error::SelfCheck("the evaluator thread panicked".into()))?;
        // The first error is the interesting one; the other side usually only saw the hang-up.
        let secondary = |e: &Error| matches!(e, Error::PeerMisbehaved(_) | Error::PeerClosed(_));
        match (g, e) {
            (Ok(g), Ok(e)) => Ok((g, e)),
            (Err(g), Err(e)) if secondary(&g) && !secondary(&e) => Err(e),
            (Err(g), _) => Err(g),
            (_, Err(e)) => Err(e),
        }
    })
}

/// What the command measured around the session: for the statistics.
#[derive(Clone, Copy, Debug)]
pub struct CommandClock {
    /// When the command started.
    pub start: Instant,
    /// Reading and parsing the circuit (or building it).
    pub load: Duration,
    /// Compiling it.
    pub compile: Duration,
    /// Opening the connection (TCP and TLS handshakes included).
    pub connect: Duration,
    /// Which party (or both, locally) this process played.
    pub party: &'static str,
    /// How the program was compiled: memory, stream or compiled (a `garbled compile` file).
    pub program_source: &'static str,
    /// Most bytes the spool files held at once (streamed compilation).
    pub spool_peak_bytes: u64,
    /// The garbling scheme.
    pub scheme: &'static str,
    /// The security level.
    pub security: &'static str,
    /// How the parties talk: "tls", "plaintext" (`--insecure`) or "in-process" (memory).
    pub transport: &'static str,
    /// Bytes of compiled gates read back from disk while running (streamed or compiled).
    pub program_bytes: u64,
}

impl CommandClock {
    /// A clock started now for `party` ("garbler", "evaluator" or "both"), with the
    /// defaults of a semi-honest half-gates run over TLS.
    pub fn new(party: &'static str) -> Self {
        CommandClock {
            start: Instant::now(),
            load: Duration::ZERO,
            compile: Duration::ZERO,
            connect: Duration::ZERO,
            party,
            program_source: "memory",
            scheme: "half-gates",
            security: "semi-honest",
            transport: "tls",
            spool_peak_bytes: 0,
            program_bytes: 0,
        }
    }
}

/// The process's peak resident memory (Linux: VmHWM of /proc/self/status).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A rate of AND gates per second with three significant digits: "23.4 M AND/s", "41.7 k AND/s".
pub(crate) fn and_rate(per_second: f64) -> String {
    let (value, unit) = if per_second >= 1e9 {
        (per_second / 1e9, "G")
    } else if per_second >= 1e6 {
        (per_second / 1e6, "M")
    } else if per_second >= 1e3 {
        (per_second / 1e3, "k")
    } else {
        (per_second, "")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let space = if unit.is_empty() { "" } else { " " };
    format!("{value:.digits$}{space}{unit} AND/s")
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The statistics object of `--json` output.
pub fn stats_json(stats: &SessionStats, clock: &CommandClock) -> serde_json::Value {
    serde_json::json!({
        "party": clock.party,
        "scheme": clock.scheme,
        "security": clock.security,
        "transport": clock.transport,
        "and_gates": stats.and_gates,
        "bytes_sent": stats.bytes_sent,
        "bytes_received": stats.bytes_received,
        "wall_ms": ms(clock.start.elapsed()),
        "session_ms": ms(stats.wall),
        "setup_ms": ms(stats.setup),
        "phases": {
            "load_ms": ms(clock.load),
            "compile_ms": ms(clock.compile),
            "connect_ms": ms(clock.connect),
            "handshake_ms": ms(stats.phases.handshake),
            "ot_ms": ms(stats.phases.ot),
            "preprocessing_ms": ms(stats.phases.preprocessing),
            "gates_ms": ms(stats.phases.gates),
            "outputs_ms": ms(stats.phases.outputs),
        },
        "peak_rss_bytes": peak_rss_bytes(),
        "program": {
            "source": clock.program_source,
            "spool_peak_bytes": clock.spool_peak_bytes,
            "program_bytes": clock.program_bytes,
        },
    })
}

/// The statistics for people: one line, phases that did not happen left out.
pub(crate) fn stats_line(stats: &SessionStats, clock: &CommandClock) -> String {
    let seconds = stats.wall.as_secs_f64();
    let gates = if stats.and_gates == 1 {
        "1 AND gate".to_string()
    } else {
        format!("{} AND gates", stats.and_gates)
    };
    // Over the whole session (set-up included), in units that keep three significant digits,
    // the same for both security levels.
    let rate = if seconds > 0.0 && stats.and_gates > 0 {
        format!(
            " ({} over the session)",
            and_rate(stats.and_gates as f64 / seconds)
        )
    } else {
        String::new()
    };
    let phases: Vec<String> = [
        ("load", clock.load),
        ("compile", clock.compile),
        ("connect", clock.connect),
        ("handshake", stats.phases.handshake),
        ("OT", stats.phases.ot),
        ("preprocessing", stats.phases.preprocessing),
        ("gates", stats.phases.gates),
        ("outputs", stats.phases.outputs),
    ]
    .iter()
    .filter(|(_, d)| !d.is_zero())
    .map(|(name, d)| format!("{name} {:.2}", d.as_secs_f64() * 1e3))
    .collect();
    let mut memory = peak_rss_bytes()
        .map(|b| format!(", peak memory {:.1} MiB", b as f64 / (1 << 20) as f64))
        .unwrap_or_default();
    match clock.program_source {
        "stream" => memory.push_str(&format!(
            ", streamed (spool peak {:.1} MiB)",
            clock.spool_peak_bytes as f64 / (1 << 20) as f64
        )),
        "compiled" => memory.push_str(", from a compiled file"),
        _ => {}
    }
    format!(
        "{} ({}, {}, {}, {}): {gates}{rate}, {} bytes sent, {} bytes received, {:.2} ms in all, {:.2} ms session [ms: {}]{memory}",
        clock.party,
        if clock.party == "both" {
            "local run"
        } else {
            "this party"
        },
        clock.scheme,
        clock.security,
        clock.transport,
        stats.bytes_sent,
        stats.bytes_received,
        clock.start.elapsed().as_secs_f64() * 1e3,
        seconds * 1e3,
        phases.join(", ")
    )
}
