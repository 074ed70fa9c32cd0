//! The native half of the `garbled` Python package: circuits, plain evaluation, local runs,
//! identities, listeners and two-party sessions, on top of the `garbled` library (the same code
//! paths as the command line, so a Python session and a CLI session interoperate and report the
//! same statistics).
//!
//! Every call that computes or waits releases the GIL: the work runs on a Rust thread while the
//! calling thread sleeps in slices of [`SIGNAL_SLICE`], checking for Ctrl-C between slices. On a
//! KeyboardInterrupt the work is stopped (the session's socket is shut, a listener's wait is
//! cancelled, a connection attempt is abandoned) and the exception propagates.
//!
//! Values cross as Python ints: group `g` of width `w` takes an int in `-(2^(w-1)) .. 2^w`
//! (negative ints are two's complement in `w` bits), and wire `k` of the group carries bit `k`
//! (least significant bit first, the CLI's default `--bit-order lsb0`). Outputs come back as
//! non-negative ints.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use garbled::batch::{Plan, evaluator_runs, garbler_runs, rows_of};
use garbled::circuit::Circuit as Graph;
use garbled::circuit::bristol::Limits;
use garbled::cli::{
    CommandClock, parse_owners, parse_reveal, run_local as cli_run_local, stats_json,
};
use garbled::compile::{Program, compile};
use garbled::net::listen::{Acceptor, accept_first_on};
use garbled::net::tcp::{TcpChannel, Timeouts};
use garbled::net::tls::{Fingerprint, Identity, TlsChannel, TlsSettings};
use garbled::net::{Channel, Connection};
use garbled::protocol::{
    EvaluatorSession, GarblerSession, Party, Security, SessionOptions, SessionStats,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

/// How long the calling thread sleeps between checks for Ctrl-C.
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------------
// Errors

/// Maps an engine error to the package's exception classes (defined in `garbled/_errors.py`,
/// which subclass the built-in ones where they should): the message is the CLI's.
fn py_err(e: garbled::Error) -> PyErr {
    let kind = e.kind();
    let class = match kind {
        "circuit" => "CircuitError",
        "usage" | "limit" => "UsageError",
        "mismatch" | "peer" | "authentication" | "cheating" => "PeerError",
        "timeout" => "Timeout",
        "io" => "IoError",
        _ => "GarbledError",
    };
    let message = e.to_string();
    Python::attach(|py| {
        let made = (|| -> PyResult<PyErr> {
            let errors = py.import("garbled._errors")?;
            let class = errors.getattr(class)?.cast_into::<PyType>()?;
            let value = class.call1((message.clone(),))?;
            value.setattr("kind", kind)?;
            Ok(PyErr::from_value(value))
        })();
        made.unwrap_or_else(|e| e)
    })
}

fn usage(message: impl Into<String>) -> PyErr {
    py_err(garbled::Error::arg(message))
}

trait OrPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> OrPy<T> for garbled::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(py_err)
    }
}

// ---------------------------------------------------------------------------------------------
// Running work off the GIL, interruptibly

/// How a piece of blocking work is stopped when the caller presses Ctrl-C.
enum Stop<'a> {
    /// Cancel a listener's wait: the work returns at once and is joined.
    Accept(&'a Acceptor),
    /// Nothing stops it quickly: it is left to end at its own deadline, its result dropped.
    Abandon,
}

/// Waits with the GIL released for the result the work's thread sends on `rx`, checking for
/// Ctrl-C between slices. On an interrupt, `stop` is called with a way to wait for the work to
/// end (`true` once it has) and the interrupt is returned.
fn await_result<T: Send>(
    py: Python<'_>,
    rx: mpsc::Receiver<garbled::Result<T>>,
    stop: impl FnOnce(&dyn Fn(Option<Duration>) -> bool),
) -> PyResult<T> {
    let rx = Mutex::new(rx);
    let recv = |wait: Option<Duration>| -> Result<garbled::Result<T>, mpsc::RecvTimeoutError> {
        let rx = rx
            .lock()
            .map_err(|_| mpsc::RecvTimeoutError::Disconnected)?;
        match wait {
            Some(wait) => rx.recv_timeout(wait),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        }
    };
    loop {
        match py.detach(|| recv(Some(SIGNAL_SLICE))) {
            Ok(result) => return result.py(),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(py_err(garbled::Error::SelfCheck(
                    "the session's thread stopped without a result".into(),
                )));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Err(interrupt) = py.check_signals() {
            stop(&|wait| {
                !matches!(
                    py.detach(|| recv(wait)),
                    Err(mpsc::RecvTimeoutError::Timeout)
                )
            });
            return Err(interrupt);
        }
    }
}

/// Runs `work` on its own thread with the GIL released; Ctrl-C stops it as `stop` says and
/// raises KeyboardInterrupt.
fn blocking<T: Send + 'static>(
    py: Python<'_>,
    stop: Stop<'_>,
    work: impl FnOnce() -> garbled::Result<T> + Send + 'static,
) -> PyResult<T> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("garbled-session".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| py_err(garbled::Error::io("starting a session thread", e)))?;
    let mut abandoned = false;
    let result = await_result(py, rx, |ended| match stop {
        Stop::Accept(acceptor) => {
            // Repeated, in case the wait had not begun at the first cancel.
            loop {
                acceptor.cancel();
                if ended(Some(Duration::from_millis(50))) {
                    break;
                }
            }
        }
        Stop::Abandon => abandoned = true,
    });
    if !abandoned {
        let _ = handle.join();
    }
    result
}

/// Like [`blocking`], for work that borrows from the caller: always joined before returning
/// (`stop` shuts the work's socket, so it ends promptly).
fn blocking_scoped<T: Send>(
    py: Python<'_>,
    stop: &garbled::net::Interrupter,
    work: impl FnOnce() -> garbled::Result<T> + Send,
) -> PyResult<T> {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("garbled-session".into())
            .spawn_scoped(scope, move || {
                let _ = tx.send(work());
            })
            .map_err(|e| py_err(garbled::Error::io("starting a session thread", e)))?;
        let result = await_result(py, rx, |ended| {
            stop.interrupt();
            ended(None);
        });
        let _ = handle.join();
        result
    })
}

// ---------------------------------------------------------------------------------------------
// Values

/// An int (or anything with `__index__`, such as a numpy integer) as the `width` bits of a group.
fn int_to_bits(
    value: &Bound<'_, PyAny>,
    width: u32,
    what: &dyn Fn() -> String,
) -> PyResult<Vec<bool>> {
    let py = value.py();
    if value.is_instance_of::<pyo3::types::PyFloat>()
        || value.is_instance_of::<pyo3::types::PyString>()
    {
        return Err(usage(format!(
            "{}: expected an int, got {}",
            what(),
            value.repr()?
        )));
    }
    let int = value.call_method0("__index__").map_err(|_| {
        usage(format!(
            "{}: expected an int, got {}",
            what(),
            value.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })?;
    let out_of_range = || {
        usage(format!(
            "{}: {} does not fit in {width} bits (give -2^{} .. 2^{width}-1; negative values are two's complement)",
            what(),
            int,
            width.saturating_sub(1),
        ))
    };
    if width == 0 {
        return match int.extract::<i128>() {
            Ok(0) => Ok(Vec::new()),
            _ => Err(out_of_range()),
        };
    }
    if width <= 64 {
        if let Ok(v) = int.extract::<i128>() {
            let lo = -(1i128 << (width - 1).min(127));
            let hi = 1i128 << width;
            if v < lo || v >= hi {
                return Err(out_of_range());
            }
            let u = v as u128;
            return Ok((0..width).map(|k| u >> k & 1 == 1).collect());
        }
        return Err(out_of_range());
    }
    // Wide groups (AES blocks, SHA-256 messages): through Python's own arithmetic.
    let one = 1u32.into_pyobject(py)?;
    let hi = one.call_method1("__lshift__", (width,))?;
    let lo = one
        .call_method1("__lshift__", (width - 1,))?
        .call_method0("__neg__")?;
    if int.lt(&lo)? || int.ge(&hi)? {
        return Err(out_of_range());
    }
    let unsigned = int.call_method1("__mod__", (&hi,))?;
    let bytes: Vec<u8> = unsigned
        .call_method1("to_bytes", (width.div_ceil(8), "little"))?
        .extract()?;
    Ok((0..width as usize)
        .map(|k| bytes[k / 8] >> (k % 8) & 1 == 1)
        .collect())
}

/// A group's bits as a non-negative int.
fn bits_to_int<'py>(py: Python<'py>, bits: &[bool]) -> PyResult<Bound<'py, PyAny>> {
    if bits.len() <= 64 {
        let v = bits
            .iter()
            .enumerate()
            .fold(0u64, |acc, (k, &b)| acc | (u64::from(b) << k));
        return Ok(v.into_pyobject(py)?.into_any());
    }
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    for (k, &b) in bits.iter().enumerate() {
        bytes[k / 8] |= u8::from(b) << (k % 8);
    }
    let int = py.get_type::<pyo3::types::PyInt>();
    int.call_method1(
        "from_bytes",
        (pyo3::types::PyBytes::new(py, &bytes), "little"),
    )
}

/// A list of ints, one per group of `widths`.
fn values_to_bits(
    values: &Bound<'_, PyAny>,
    widths: &[u32],
    what: &str,
) -> PyResult<Vec<Vec<bool>>> {
    if values.is_instance_of::<pyo3::types::PyString>() {
        return Err(usage(format!(
            "{what}: expected a list of ints, got a string"
        )));
    }
    let items: Vec<Bound<'_, PyAny>> = values
        .try_iter()
        .map_err(|_| {
            usage(format!(
                "{what}: expected a list of ints, one per input group"
            ))
        })?
        .collect::<PyResult<_>>()?;
    if items.len() != widths.len() {
        let list: Vec<String> = widths.iter().map(u32::to_string).collect();
        return Err(usage(format!(
            "{what}: {} value(s) given, but {} input group(s) (widths {}) expected; give one int per group, in order",
            items.len(),
            widths.len(),
            if list.is_empty() {
                "none".to_string()
            } else {
                list.join(", ")
            }
        )));
    }
    items
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(g, (item, &w))| {
            int_to_bits(item, w, &|| format!("{what}, group {} ({w} bits)", g + 1))
        })
        .collect()
}

fn outputs_to_py<'py>(
    py: Python<'py>,
    outputs: &[Option<Vec<bool>>],
) -> PyResult<Bound<'py, PyList>> {
    let items: Vec<Bound<'py, PyAny>> = outputs
        .iter()
        .map(|o| match o {
            Some(bits) => bits_to_int(py, bits),
            None => Ok(py.None().into_bound(py)),
        })
        .collect::<PyResult<_>>()?;
    PyList::new(py, items)
}

fn json_to_py<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?
        .call_method1("loads", (value.to_string(),))
}

// ---------------------------------------------------------------------------------------------
// Circuits

/// A circuit ready to run: the compiled program, and the gate list when it was parsed or built
/// here (plain evaluation and batches of rows need it; a compiled program file has none).
struct Compiled {
    name: String,
    program: Program,
    graph: Option<Graph>,
    xor_count: u64,
    /// How to make it again (pickling: a Dask worker rebuilds the circuit from this).
    source: Source,
}

/// Where a circuit came from.
#[derive(Clone)]
enum Source {
    /// A file (its path and format).
    File(PathBuf, String),
    /// A generator (name, bits, count).
    Generated(String, Option<u32>, Option<u32>),
}

/// A boolean circuit, compiled and ready to run.
///
/// Make one with `Circuit.load(path)` (a Bristol Fashion or old Bristol file, detected, or a
/// program written by `garbled compile`) or `Circuit.generate(name, ...)` (the circuits of
/// `garbled gen`).
#[pyclass(frozen, module = "garbled")]
struct Circuit {
    inner: Arc<Compiled>,
}

fn from_graph(name: String, graph: Graph, source: Source) -> garbled::Result<Compiled> {
    let program = compile(&graph)?;
    let xor_count = graph.stats().xor;
    Ok(Compiled {
        name,
        program,
        graph: Some(graph),
        xor_count,
        source,
    })
}

#[pymethods]
impl Circuit {
    /// Loads a circuit file: Bristol Fashion or the old Bristol Format (told apart from the
    /// file's third line, or forced with format="fashion" / "old"), or a program file written
    /// by `garbled compile` (which runs, but cannot be evaluated in the clear or batched into
    /// rows). Raises CircuitError (with file:line:col) for a malformed file and UsageError for a
    /// missing one.
    #[staticmethod]
    #[pyo3(signature = (path, *, format = "auto"))]
    fn load(py: Python<'_>, path: PathBuf, format: &str) -> PyResult<Circuit> {
        let format = format.to_string();
        let compiled = py.detach(move || -> garbled::Result<Compiled> {
            let name = path.display().to_string();
            let source = Source::File(path.clone(), format.clone());
            if garbled::compile::stream::is_compiled(&path) {
                let program = garbled::compile::stream::load_compiled(&path)?;
                let xor_count = program.counts().xor;
                return Ok(Compiled {
                    name,
                    program,
                    graph: None,
                    xor_count,
                    source,
                });
            }
            let parsed = garbled::cli::load_circuit(&path, &format, Limits::default())?;
            from_graph(name, parsed.circuit, source)
        });
        Ok(Circuit {
            inner: Arc::new(compiled.py()?),
        })
    }

    /// Builds one of the standard circuits of `garbled gen`: add, sub, mul, compare, scompare,
    /// lt, le, slt, sle, eq, sum, aes128, sha256, ... `bits` is the width of each integer input
    /// (default 32; aes128 and sha256 have fixed widths), `count` the number of values `sum`
    /// adds (default 2) or of chained copies of `aes128` (default 1).
    #[staticmethod]
    #[pyo3(signature = (name, bits = None, count = None))]
    fn generate(
        py: Python<'_>,
        name: &str,
        bits: Option<u32>,
        count: Option<u32>,
    ) -> PyResult<Circuit> {
        let fixed = matches!(name, "aes128" | "sha256");
        if fixed && let Some(bits) = bits {
            return Err(usage(format!(
                "{name} has fixed widths; bits={bits} does not apply to it"
            )));
        }
        if !matches!(name, "sum" | "aes128")
            && let Some(count) = count
        {
            return Err(usage(format!(
                "count={count} applies to sum and aes128 only, not to {name}"
            )));
        }
        let name = name.to_string();
        let source = Source::Generated(name.clone(), bits, count);
        let compiled = py.detach(move || -> garbled::Result<Compiled> {
            if name == "aes128" && count.unwrap_or(1) != 1 {
                let count = count.unwrap_or(1);
                if count == 0 {
                    return Err(garbled::Error::arg("count=0: give at least one AES copy"));
                }
                // The chain's text is built in memory before it is parsed: bounded as a loaded
                // file's gates are.
                let one = garbled::circuit::library::write_aes128_chain(1, &mut std::io::sink())?;
                let most = Limits::default().max_gates / one.gates.max(1);
                if u64::from(count) > most {
                    return Err(garbled::Error::arg(format!(
                        "count={count}: at most {most} chained AES copies are built in memory ({} gates each)",
                        one.gates
                    )));
                }
                let mut text = Vec::new();
                garbled::circuit::library::write_aes128_chain(u64::from(count), &mut text)?;
                let parsed = garbled::circuit::bristol::parse(
                    std::io::Cursor::new(text),
                    garbled::circuit::bristol::FormatChoice::Fashion,
                    &Limits::default(),
                )?;
                return from_graph(format!("aes128 x{count}"), parsed.circuit, source);
            }
            let graph =
                garbled::circuit::library::generate(&name, bits.unwrap_or(32), count.unwrap_or(2))?;
            from_graph(name, graph, source)
        });
        Ok(Circuit {
            inner: Arc::new(compiled.py()?),
        })
    }

    /// AND gates (the cost of garbling: 32 bytes each with half-gates).
    #[getter]
    fn and_count(&self) -> u64 {
        self.inner.program.and_count() as u64
    }

    /// XOR gates (free with free-XOR).
    #[getter]
    fn xor_count(&self) -> u64 {
        self.inner.xor_count
    }

    /// The width in bits of each input group, in order.
    #[getter]
    fn inputs(&self) -> Vec<u32> {
        self.inner.program.input_widths().to_vec()
    }

    /// The width in bits of each output group, in order.
    #[getter]
    fn outputs(&self) -> Vec<u32> {
        self.inner.program.output_widths().to_vec()
    }

    /// Where the circuit came from: the file's path or the generator's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// The program's digest (64 hex digits): what the handshake compares between the parties.
    #[getter]
    fn digest(&self) -> String {
        self.inner.program.digest_hex()
    }

    /// Pickles as the way to make it again: the file's path (which must exist where it is
    /// unpickled, as on the workers of a cluster with a shared filesystem) or the generator.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let restore = py.import("garbled")?.getattr("_restore_circuit")?;
        let args = match &self.inner.source {
            Source::File(path, format) => PyTuple::new(
                py,
                [
                    "file".into_pyobject(py)?.into_any(),
                    path.clone().into_pyobject(py)?.into_any(),
                    format.into_pyobject(py)?.into_any(),
                ],
            )?,
            Source::Generated(name, bits, count) => PyTuple::new(
                py,
                [
                    "generated".into_pyobject(py)?.into_any(),
                    name.into_pyobject(py)?.into_any(),
                    bits.into_pyobject(py)?.into_any(),
                    count.into_pyobject(py)?.into_any(),
                ],
            )?,
        };
        Ok((restore, args))
    }

    fn __repr__(&self) -> String {
        format!(
            "Circuit({:?}, and_count={}, xor_count={}, inputs={:?}, outputs={:?})",
            self.inner.name,
            self.inner.program.and_count(),
            self.inner.xor_count,
            self.inner.program.input_widths(),
            self.inner.program.output_widths()
        )
    }
}

fn graph_of(circuit: &Compiled, what: &str) -> PyResult<()> {
    if circuit.graph.is_none() {
        return Err(usage(format!(
            "{what} needs the circuit's gates, but {} is a compiled program file; load the circuit file instead",
            circuit.name
        )));
    }
    Ok(())
}

/// Evaluates `circuit` in the clear (no cryptography: the reference every session is checked
/// against). `inputs` is a list of ints, one per input group; negative ints are two's
/// complement in their group's width. Returns a list of ints, one per output group.
#[pyfunction]
fn evaluate<'py>(
    py: Python<'py>,
    circuit: &Circuit,
    inputs: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let inner = circuit.inner.clone();
    graph_of(&inner, "evaluate")?;
    let bits = values_to_bits(inputs, inner.program.input_widths(), "inputs")?;
    let outputs = py
        .detach(move || {
            let graph = inner.graph.as_ref().expect("checked above");
            garbled::circuit::plain::eval_bits(graph, &bits)
        })
        .py()?;
    let outputs: Vec<Option<Vec<bool>>> = outputs.into_iter().map(Some).collect();
    outputs_to_py(py, &outputs)
}

// ---------------------------------------------------------------------------------------------
// Options

fn parse_scheme(scheme: &str) -> PyResult<garbled::garble::Scheme> {
    scheme.parse().py()
}

fn parse_security(security: &str) -> PyResult<Security> {
    security.parse().py()
}

fn parse_role(role: &str) -> PyResult<Party> {
    role.parse().py()
}

fn party_name(party: Party) -> &'static str {
    match party {
        Party::Garbler => "garbler",
        Party::Evaluator => "evaluator",
    }
}

fn timeouts(timeout: f64) -> PyResult<Timeouts> {
    if !(timeout > 0.0 && timeout <= 86_400.0) {
        return Err(usage(format!(
            "timeout={timeout} is out of range: give a number of seconds above 0 and at most 86400"
        )));
    }
    Ok(Timeouts {
        idle: Duration::from_secs_f64(timeout),
        total: None,
    })
}

/// The link settings of the CLI's `--identity`, `--peer` and `--insecure`, with its messages.
fn link(
    identity: Option<PathBuf>,
    peer: Option<&str>,
    insecure: bool,
) -> PyResult<Option<TlsSettings>> {
    if insecure {
        if identity.is_some() || peer.is_some() {
            return Err(usage(
                "insecure=True is plaintext without authentication; it does not take identity or peer",
            ));
        }
        warn_insecure();
        return Ok(None);
    }
    match (identity, peer) {
        (Some(path), Some(peer)) => {
            let peer: Fingerprint = peer.parse().map_err(|e| usage(format!("peer: {e}")))?;
            let identity = Identity::load(&path).py()?;
            if identity.fingerprint() == peer {
                return Err(usage(
                    "peer is our own fingerprint; pin the fingerprint of the other party's identity",
                ));
            }
            Ok(Some(TlsSettings { identity, peer }))
        }
        _ => Err(usage(
            "a two-host session is authenticated and encrypted: pass identity=PATH (ours, made once with \
             garbled.keygen(PATH)) and peer=FINGERPRINT (the one the other party's keygen returned), \
             or insecure=True for plaintext TCP on a trusted link",
        )),
    }
}

fn warn_insecure() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "garbled: warning: insecure=True: plaintext TCP without authentication; anyone on the path reads the inputs' labels and the output decoding bits (so every output) and anyone who reaches the port can play the peer"
        )
    });
}

// ---------------------------------------------------------------------------------------------
// Local runs

/// What `run_local` returns: `outputs` (a list of ints, one per output group) and `stats` (a
/// dict with the keys of the CLI's `--json` statistics).
#[pyclass(frozen, name = "Result", module = "garbled")]
struct RunResult {
    #[pyo3(get)]
    outputs: Py<PyList>,
    #[pyo3(get)]
    stats: Py<PyAny>,
}

#[pymethods]
impl RunResult {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Result(outputs={})", self.outputs.bind(py).repr()?))
    }
}

/// Runs both parties in this process, over a loopback TLS 1.3 connection with two throwaway
/// identities (what `garbled run CIRCUIT --input ...` does), and returns a Result. `inputs` has
/// one int per input group. `owners` and `reveal` take the CLI's `--owners` / `--reveal` text
/// (default: the first half of the groups is the garbler's, every output revealed to both).
#[pyfunction]
#[pyo3(signature = (circuit, inputs, *, scheme = "half-gates", security = "semi-honest", owners = None, reveal = "both", timeout = 30.0))]
#[allow(clippy::too_many_arguments)]
fn run_local(
    py: Python<'_>,
    circuit: &Circuit,
    inputs: &Bound<'_, PyAny>,
    scheme: &str,
    security: &str,
    owners: Option<&str>,
    reveal: &str,
    timeout: f64,
) -> PyResult<RunResult> {
    let inner = circuit.inner.clone();
    let program_widths = inner.program.input_widths().to_vec();
    let bits = values_to_bits(inputs, &program_widths, "inputs")?;
    let owners = parse_owners(owners, program_widths.len()).py()?;
    let reveal = parse_reveal(reveal, inner.program.output_widths().len()).py()?;
    if reveal.iter().any(|r| r.is_shared()) {
        return Err(usage(
            "reveal=\"shared\" gives each party an XOR share of the output; with both parties here the two shares are the output itself: use a Session on each side, or reveal=\"both\"",
        ));
    }
    let (scheme, security) = (parse_scheme(scheme)?, parse_security(security)?);
    let timeouts = timeouts(timeout)?;
    let mut clock = CommandClock::new("both");
    clock.scheme = scheme.name();
    clock.security = security.name();
    let (mut g_in, mut e_in) = (Vec::new(), Vec::new());
    for (value, owner) in bits.into_iter().zip(&owners) {
        match owner {
            Party::Garbler => g_in.push(value),
            Party::Evaluator => e_in.push(value),
        }
    }
    let options = SessionOptions::new(&inner.program, owners, reveal)
        .py()?
        .with_scheme(scheme)
        .with_security(security);
    let (outputs, stats, clock) = blocking(py, Stop::Abandon, move || {
        let mut clock = clock;
        let program = &inner.program;
        let e_options = options.clone();
        let ((g_view, stats), (e_view, _)) = cli_run_local(
            timeouts,
            true,
            Some(&mut clock),
            |channel| garbled::protocol::run_garbler(program, &g_in, channel, options),
            move |channel| garbled::protocol::run_evaluator(program, &e_in, channel, e_options),
        )?;
        let merged: Vec<Option<Vec<bool>>> = g_view
            .into_iter()
            .zip(e_view)
            .map(|(g, e)| g.or(e))
            .collect();
        Ok((merged, stats, clock))
    })?;
    Ok(RunResult {
        outputs: outputs_to_py(py, &outputs)?.unbind(),
        stats: json_to_py(py, &stats_json(&stats, &clock))?.unbind(),
    })
}

// ---------------------------------------------------------------------------------------------
// Identities

/// Makes a new identity (an Ed25519 key and its certificate) in a file readable by its owner
/// only, and returns its fingerprint (64 hex characters) to give to the peer. Refuses to
/// replace an existing file unless force=True.
#[pyfunction]
#[pyo3(signature = (path, *, force = false))]
fn keygen(path: PathBuf, force: bool) -> PyResult<String> {
    let identity = Identity::generate().py()?;
    garbled::cli::write_private(&path, identity.to_pem().as_bytes(), force).py()?;
    Ok(identity.fingerprint().to_string())
}

/// Reads an identity file and returns its fingerprint (64 hex characters).
#[pyfunction]
fn fingerprint(path: PathBuf) -> PyResult<String> {
    Ok(garbled::net::tls::fingerprint_of_file(&path)
        .py()?
        .to_string())
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// What a session needs besides its connection.
#[derive(Clone, Copy)]
struct SessionConfig {
    role: Party,
    scheme: garbled::garble::Scheme,
    security: Security,
    transport: &'static str,
}

/// A connection to the peer, on which each call (`run`, `run_rows`, `compare`) is one protocol
/// session (handshake, oblivious transfers, garbling, outputs). Both parties must make the same
/// calls in the same order; the handshake of each compares the circuit, the groups and the row
/// count, and a difference is a PeerError on both sides.
///
/// Use it as a context manager, or call close(): the connection then ends cleanly (TLS
/// close_notify), which the peer checks.
#[pyclass(frozen, module = "garbled")]
struct Session {
    connection: Mutex<Option<Connection>>,
    config: SessionConfig,
    /// Time spent connecting, counted in the first call's statistics.
    connect: Mutex<Duration>,
    stats: Mutex<Option<Py<PyAny>>>,
}

impl Session {
    fn new(connection: Connection, config: SessionConfig, connect: Duration) -> Session {
        Session {
            connection: Mutex::new(Some(connection)),
            config,
            connect: Mutex::new(connect),
            stats: Mutex::new(None),
        }
    }

    /// Runs `work` on the connection off the GIL; a failed session leaves the connection closed
    /// (a half-finished protocol session cannot be resumed).
    fn with_connection<T: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce(&mut Connection) -> garbled::Result<T> + Send,
    ) -> PyResult<T> {
        let mut slot = self
            .connection
            .lock()
            .map_err(|_| usage("the session is in use by another thread that failed"))?;
        let Some(connection) = slot.as_mut() else {
            return Err(usage("the session is closed"));
        };
        let stop = connection.interrupter().py()?;
        let result = blocking_scoped(py, &stop, move || work(connection));
        if result.is_err() {
            // Dropping it shuts the socket: the peer's session ends too.
            slot.take();
        }
        result
    }

    fn record(
        &self,
        py: Python<'_>,
        stats: &SessionStats,
        mut clock: CommandClock,
    ) -> PyResult<()> {
        clock.party = party_name(self.config.role);
        clock.scheme = self.config.scheme.name();
        clock.security = self.config.security.name();
        clock.transport = self.config.transport;
        if let Ok(mut connect) = self.connect.lock() {
            clock.connect = std::mem::take(&mut *connect);
        }
        let value = json_to_py(py, &stats_json(stats, &clock))?.unbind();
        if let Ok(mut slot) = self.stats.lock() {
            *slot = Some(value);
        }
        Ok(())
    }

    fn options(
        &self,
        program: &Program,
        owners: Option<&str>,
        reveal: &str,
    ) -> PyResult<SessionOptions> {
        let owners = parse_owners(owners, program.input_widths().len()).py()?;
        let reveal = parse_reveal(reveal, program.output_widths().len()).py()?;
        Ok(SessionOptions::new(program, owners, reveal)
            .py()?
            .with_scheme(self.config.scheme)
            .with_security(self.config.security))
    }

    /// The widths of this party's own input groups.
    fn own_widths(&self, program: &Program, options: &SessionOptions) -> Vec<u32> {
        program
            .input_widths()
            .iter()
            .zip(&options.owners)
            .filter(|(_, o)| **o == self.config.role)
            .map(|(w, _)| *w)
            .collect()
    }

    /// Many rows through one protocol session (the CLI's batch plan).
    fn rows_session(
        &self,
        py: Python<'_>,
        inner: Arc<Compiled>,
        options: SessionOptions,
        rows: Vec<Vec<Vec<bool>>>,
        clock: CommandClock,
    ) -> PyResult<Vec<Vec<Option<Vec<bool>>>>> {
        let count = rows.len() as u64;
        let role = self.config.role;
        let (collected, stats, clock) = self.with_connection(py, move |connection| {
            let mut clock = clock;
            let compiling = Instant::now();
            let plan = Plan::batch(inner.graph.as_ref(), inner.program.clone(), count)?;
            clock.compile += compiling.elapsed();
            let options = options
                .with_runs(plan.runs)
                .with_job(format!("run {count} row(s), {} per run", plan.per_run));
            let mut rows = rows.into_iter();
            let mut run = 0u64;
            let plan_ref = &plan;
            let next = move || -> garbled::Result<Vec<Vec<bool>>> {
                let n = plan_ref.rows_in(run);
                run += 1;
                let mut joined: Vec<Vec<bool>> = Vec::new();
                for row in rows.by_ref().take(n as usize) {
                    if joined.is_empty() {
                        joined = row;
                    } else {
                        for (group, value) in joined.iter_mut().zip(row) {
                            group.extend(value);
                        }
                    }
                }
                Ok(joined)
            };
            let mut collected = Vec::with_capacity(count as usize);
            let emit = |outputs: Vec<Option<Vec<bool>>>, rows_in_run: u64| {
                collected.extend(rows_of(&outputs, rows_in_run));
                Ok(())
            };
            let stats = match role {
                Party::Garbler => {
                    garbler_runs(&mut *connection, &plan, options, next, emit, None, false)?
                }
                Party::Evaluator => {
                    evaluator_runs(&mut *connection, &plan, options, next, emit, None, false)?
                }
            };
            Ok((collected, stats, clock))
        })?;
        self.record(py, &stats, clock)?;
        Ok(collected)
    }
}

/// Checks a numpy array of rows: 2-D, integers (or objects), own groups at most 64 bits wide.
fn check_numpy_rows(rows: &Bound<'_, PyAny>, widths: &[u32]) -> PyResult<()> {
    let ndim: usize = rows.getattr("ndim")?.extract()?;
    if ndim != 2 {
        return Err(usage(format!(
            "rows: expected a 2-D array (one row per run, one column per own group), got {ndim} dimension(s)"
        )));
    }
    let kind: String = rows.getattr("dtype")?.getattr("kind")?.extract()?;
    if kind != "i" && kind != "u" && kind != "O" {
        return Err(usage(format!(
            "rows: expected an integer array, got dtype kind {kind:?}"
        )));
    }
    if let Some(w) = widths.iter().find(|&&w| w > 64) {
        return Err(usage(format!(
            "rows: a numpy array holds groups of at most 64 bits, but this party owns a {w}-bit group; pass a list of lists of ints"
        )));
    }
    Ok(())
}

/// Whether a numpy array has a fixed-width integer dtype (the fast path).
fn numpy_integer(rows: &Bound<'_, PyAny>) -> PyResult<bool> {
    let kind: String = rows.getattr("dtype")?.getattr("kind")?.extract()?;
    Ok(kind == "i" || kind == "u")
}

/// The rows of an integer numpy array, read from its bytes (as 64-bit little-endian integers)
/// with each value range-checked against its group's width.
fn numpy_rows(rows: &Bound<'_, PyAny>, widths: &[u32]) -> PyResult<Vec<Vec<Vec<bool>>>> {
    check_numpy_rows(rows, widths)?;
    let shape: (usize, usize) = rows.getattr("shape")?.extract()?;
    if shape.1 != widths.len() {
        return Err(usage(format!(
            "rows: {} column(s), but this party owns {} input group(s); give one column per own group",
            shape.1,
            widths.len()
        )));
    }
    let signed = rows
        .getattr("dtype")?
        .getattr("kind")?
        .extract::<String>()?
        == "i";
    let np = rows.py().import("numpy")?;
    let kwargs = PyDict::new(rows.py());
    kwargs.set_item("dtype", if signed { "<i8" } else { "<u8" })?;
    let raw: Vec<u8> = np
        .call_method("ascontiguousarray", (rows,), Some(&kwargs))?
        .call_method0("tobytes")?
        .extract()?;
    let mut out = Vec::with_capacity(shape.0);
    for (i, row) in raw
        .chunks_exact(8 * shape.1.max(1))
        .enumerate()
        .take(shape.0)
    {
        let mut groups = Vec::with_capacity(shape.1);
        for (g, (cell, &w)) in row.chunks_exact(8).zip(widths).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(cell);
            let (fits, u) = if signed {
                let v = i64::from_le_bytes(b);
                let lo = match w {
                    0 => 0,
                    64.. => i64::MIN,
                    _ => -(1i64 << (w - 1)),
                };
                let fits = v >= lo && (w >= 64 || v < 0 || (v as u64) < (1u64 << w));
                (fits, v as u64)
            } else {
                let v = u64::from_le_bytes(b);
                (w >= 64 || v < (1u64 << w), v)
            };
            if !fits {
                return Err(usage(format!(
                    "row {i}, group {} ({w} bits): {} does not fit in {w} bits (give -2^{} .. 2^{w}-1; negative values are two's complement)",
                    g + 1,
                    if signed {
                        (u as i64).to_string()
                    } else {
                        u.to_string()
                    },
                    w.saturating_sub(1)
                )));
            }
            groups.push((0..w).map(|k| u >> k & 1 == 1).collect());
        }
        out.push(groups);
    }
    Ok(out)
}

/// Whether `value` is a numpy array (checked without importing numpy).
fn is_ndarray(value: &Bound<'_, PyAny>) -> bool {
    let t = value.get_type();
    t.name().is_ok_and(|n| n == "ndarray")
        && t.module().is_ok_and(|m| m.to_string().starts_with("numpy"))
}

#[pymethods]
impl Session {
    /// One run: `inputs` holds an int for each input group this party owns, in order (by
    /// default the garbler owns the first half of the groups and the evaluator the rest;
    /// `owners` takes the CLI's --owners text). Returns one entry per output group: an int, or
    /// None for a group this party does not learn (`reveal` takes the CLI's --reveal text,
    /// default "both"). Both parties must pass the same circuit, owners and reveal.
    #[pyo3(signature = (circuit, inputs, *, owners = None, reveal = "both"))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        circuit: &Circuit,
        inputs: &Bound<'py, PyAny>,
        owners: Option<&str>,
        reveal: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let inner = circuit.inner.clone();
        let options = self.options(&inner.program, owners, reveal)?;
        let widths = self.own_widths(&inner.program, &options);
        let bits = values_to_bits(inputs, &widths, "inputs")?;
        let role = self.config.role;
        let clock = CommandClock::new(party_name(role));
        let (outputs, stats) = self.with_connection(py, move |connection| {
            let program = &inner.program;
            match role {
                Party::Garbler => {
                    let mut s = GarblerSession::start(&mut *connection, program, options)?;
                    let out = s.run(&bits)?;
                    Ok((out, s.finish_open()?))
                }
                Party::Evaluator => {
                    let mut s = EvaluatorSession::start(&mut *connection, program, options)?;
                    let out = s.run(&bits)?;
                    Ok((out, s.finish_open()?))
                }
            }
        })?;
        self.record(py, &stats, clock)?;
        outputs_to_py(py, &outputs)
    }

    /// Many rows in one protocol session (set-up paid once, rows packed into wide runs as
    /// `garbled run --inputs` does). `rows` is a list of input lists (each like run's `inputs`)
    /// or a 2-D numpy integer array with one column per own group (each group at most 64 bits
    /// wide). Returns a list of output lists, or, for a numpy input, a 2-D numpy array (uint64,
    /// or object where a group is wider than 64 bits or not revealed to this party). Both
    /// parties must pass the same number of rows.
    ///
    /// `shard=(job, index, count)` marks the session as shard `index` of `count` of the sharded
    /// job `job` (garbled.dask does this): the handshake compares the three, and a peer of
    /// another shard or job is a PeerError naming the field.
    #[pyo3(signature = (circuit, rows, *, owners = None, reveal = "both", shard = None))]
    fn run_rows<'py>(
        &self,
        py: Python<'py>,
        circuit: &Circuit,
        rows: &Bound<'py, PyAny>,
        owners: Option<&str>,
        reveal: &str,
        shard: Option<(String, u32, u32)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = circuit.inner.clone();
        graph_of(&inner, "run_rows")?;
        let mut options = self.options(&inner.program, owners, reveal)?;
        if let Some((job, index, count)) = shard {
            options = options.with_shard(job, index, count).py()?;
        }
        let widths = self.own_widths(&inner.program, &options);
        let numpy = is_ndarray(rows);
        let mut clock = CommandClock::new(party_name(self.config.role));
        let reading = Instant::now();
        let bits: Vec<Vec<Vec<bool>>> = if numpy && numpy_integer(rows)? {
            numpy_rows(rows, &widths)?
        } else {
            let list = if numpy {
                check_numpy_rows(rows, &widths)?;
                rows.call_method0("tolist")?
            } else {
                rows.clone()
            };
            let items: Vec<Bound<'py, PyAny>> = list
                .try_iter()
                .map_err(|_| usage("rows: expected a list of input lists or a 2-D numpy array"))?
                .collect::<PyResult<_>>()?;
            items
                .iter()
                .enumerate()
                .map(|(i, row)| values_to_bits(row, &widths, &format!("row {i}")))
                .collect::<PyResult<_>>()?
        };
        if bits.is_empty() {
            return Err(usage("rows: no rows given"));
        }
        clock.load = reading.elapsed();
        let outputs = self.rows_session(py, inner.clone(), options, bits, clock)?;
        let narrow = inner.program.output_widths().iter().all(|&w| w <= 64)
            && outputs.iter().all(|row| row.iter().all(Option::is_some));
        if numpy && narrow {
            // Straight into a uint64 array: no Python int per value.
            let groups = inner.program.output_widths().len();
            let mut raw = Vec::with_capacity(outputs.len() * groups * 8);
            for row in &outputs {
                for bits in row.iter().flatten() {
                    let v = bits
                        .iter()
                        .enumerate()
                        .fold(0u64, |acc, (k, &b)| acc | (u64::from(b) << k));
                    raw.extend_from_slice(&v.to_le_bytes());
                }
            }
            let np = py.import("numpy")?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("dtype", "<u8")?;
            let flat = np.call_method(
                "frombuffer",
                (pyo3::types::PyBytes::new(py, &raw),),
                Some(&kwargs),
            )?;
            return flat
                .call_method1("reshape", (outputs.len(), groups))?
                .call_method1("astype", ("uint64",));
        }
        let out_rows: Vec<Bound<'py, PyList>> = outputs
            .iter()
            .map(|row| outputs_to_py(py, row))
            .collect::<PyResult<_>>()?;
        let out = PyList::new(py, out_rows)?;
        if !numpy {
            return Ok(out.into_any());
        }
        let np = py.import("numpy")?;
        let narrow = inner.program.output_widths().iter().all(|&w| w <= 64)
            && outputs.iter().all(|row| row.iter().all(Option::is_some));
        let dtype = np.getattr(if narrow { "uint64" } else { "object_" })?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("dtype", dtype)?;
        if !narrow {
            // An object array of the given shape, filled row by row (numpy would otherwise try
            // to make a 1-D array of lists).
            let shape = PyTuple::new(py, [outputs.len(), inner.program.output_widths().len()])?;
            let array = np.call_method("empty", (shape,), Some(&kwargs))?;
            for (i, row) in out.iter().enumerate() {
                for (j, v) in row.try_iter()?.enumerate() {
                    array.set_item((i, j), v?)?;
                }
            }
            return Ok(array);
        }
        np.call_method("array", (out,), Some(&kwargs))
    }

    /// The `garbled compare` job, row by row: this party's `values` (a list of ints or a 1-D
    /// numpy array) against the peer's, which must have as many. Returns "less", "equal" or
    /// "greater" for each row: the garbler's value relative to the evaluator's. Both parties
    /// learn the answers and nothing else. `bits` is the width of the values (default 64);
    /// signed=True compares them as two's complement.
    #[pyo3(signature = (values, *, bits = 64, signed = false))]
    fn compare<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        bits: u32,
        signed: bool,
    ) -> PyResult<Vec<&'static str>> {
        let graph = garbled::circuit::library::generate(
            if signed { "scompare" } else { "compare" },
            bits,
            2,
        )
        .py()?;
        let inner = Arc::new(
            from_graph(
                format!("compare{bits}"),
                graph,
                Source::Generated("compare".into(), Some(bits), None),
            )
            .py()?,
        );
        let values = if is_ndarray(values) {
            values.call_method0("tolist")?
        } else {
            values.clone()
        };
        let items: Vec<Bound<'py, PyAny>> = values
            .try_iter()
            .map_err(|_| usage("values: expected a list of ints"))?
            .collect::<PyResult<_>>()?;
        if items.is_empty() {
            return Err(usage("values: no values given"));
        }
        let rows: Vec<Vec<Vec<bool>>> = items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Ok(vec![int_to_bits(v, bits, &|| {
                    format!("value {i} ({bits} bits)")
                })?])
            })
            .collect::<PyResult<_>>()?;
        let options = self.options(&inner.program, None, "both")?;
        let clock = CommandClock::new(party_name(self.config.role));
        let outputs = self.rows_session(py, inner, options, rows, clock)?;
        outputs
            .iter()
            .map(|row| match (&row[0], &row[1]) {
                (Some(less), Some(equal)) => Ok(if less[0] {
                    "less"
                } else if equal[0] {
                    "equal"
                } else {
                    "greater"
                }),
                _ => Err(py_err(garbled::Error::SelfCheck(
                    "a comparison was not revealed".into(),
                ))),
            })
            .collect()
    }

    /// The statistics of the last call (a dict with the keys of the CLI's --json statistics),
    /// or None before the first.
    #[getter]
    fn stats(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.stats
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|v| v.clone_ref(py)))
    }

    /// This party's role: "garbler" or "evaluator".
    #[getter]
    fn role(&self) -> &'static str {
        party_name(self.config.role)
    }

    /// Ends the connection cleanly (TLS close_notify, then the peer's). Closing twice, or after
    /// a failed call, does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.connection.lock().ok().and_then(|mut c| c.take());
        if let Some(mut connection) = taken {
            let stop = connection.interrupter().py()?;
            blocking_scoped(py, &stop, move || {
                connection.close_write()?;
                connection.expect_eof()
            })?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (_kind = None, _value = None, _traceback = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _kind: Option<&Bound<'_, PyAny>>,
        _value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if _kind.is_some() {
            // An exception is on its way out: drop the connection without waiting for the peer.
            let _ = self.connection.lock().map(|mut c| c.take());
            return Ok(false);
        }
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let open = self.connection.lock().map(|c| c.is_some()).unwrap_or(false);
        format!(
            "Session(role={:?}, security={:?}, scheme={:?}, transport={:?}, {})",
            party_name(self.config.role),
            self.config.security.name(),
            self.config.scheme.name(),
            self.config.transport,
            if open { "open" } else { "closed" }
        )
    }
}

fn config(role: &str, security: &str, scheme: &str, tls: bool) -> PyResult<SessionConfig> {
    Ok(SessionConfig {
        role: parse_role(role)?,
        scheme: parse_scheme(scheme)?,
        security: parse_security(security)?,
        transport: if tls { "tls" } else { "plaintext" },
    })
}

/// Connects to a listening peer (retrying until it listens or `timeout` passes) and returns a
/// Session. `role` is "garbler" or "evaluator". Over TLS 1.3 with `identity` (our file, from
/// keygen) and `peer` (the other party's fingerprint) pinned; insecure=True is plaintext TCP
/// instead, for trusted links only. `timeout` also bounds every read and write.
#[pyfunction]
#[pyo3(signature = (address, *, role, identity = None, peer = None, insecure = false, security = "semi-honest", scheme = "half-gates", timeout = 30.0))]
#[allow(clippy::too_many_arguments)]
fn connect(
    py: Python<'_>,
    address: &str,
    role: &str,
    identity: Option<PathBuf>,
    peer: Option<&str>,
    insecure: bool,
    security: &str,
    scheme: &str,
    timeout: f64,
) -> PyResult<Session> {
    let timeouts = timeouts(timeout)?;
    let settings = link(identity, peer, insecure)?;
    let config = config(role, security, scheme, settings.is_some())?;
    let address = address.to_string();
    let started = Instant::now();
    let connection = blocking(py, Stop::Abandon, move || match settings {
        Some(settings) => TlsChannel::connect(&address, timeouts.idle, timeouts, &settings)
            .map(|c| Connection::Tls(Box::new(c))),
        None => TcpChannel::connect(&address, timeouts.idle, timeouts).map(Connection::Plain),
    })?;
    Ok(Session::new(connection, config, started.elapsed()))
}

/// A listening socket for the peer, bound at once (port 0 picks a free port; `port` tells
/// which). accept() waits for the pinned peer and returns a Session; strangers, and peers with
/// another key, are logged on stderr and dropped while the wait goes on.
#[pyclass(frozen, module = "garbled")]
struct Listener {
    acceptor: Mutex<Option<Arc<Acceptor>>>,
    settings: Option<Arc<TlsSettings>>,
    port: u16,
    address: String,
}

#[pymethods]
impl Listener {
    #[new]
    #[pyo3(signature = (address, *, identity = None, peer = None, insecure = false))]
    fn new(
        address: &str,
        identity: Option<PathBuf>,
        peer: Option<&str>,
        insecure: bool,
    ) -> PyResult<Listener> {
        let settings = link(identity, peer, insecure)?;
        let listener = garbled::net::listen::bind(address).py()?;
        let acceptor = Acceptor::new(&listener).py()?;
        let local = acceptor.local_addr();
        Ok(Listener {
            acceptor: Mutex::new(Some(Arc::new(acceptor))),
            settings: settings.map(Arc::new),
            port: local.port(),
            address: local.to_string(),
        })
    }

    /// The bound port.
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// The bound address (host:port).
    #[getter]
    fn address(&self) -> String {
        self.address.clone()
    }

    /// Waits up to `timeout` seconds for the pinned peer and returns a Session (`role`,
    /// `security` and `scheme` as for connect; the peer must choose the other role and the
    /// same security and scheme).
    #[pyo3(signature = (*, role, security = "semi-honest", scheme = "half-gates", timeout = 30.0))]
    fn accept(
        &self,
        py: Python<'_>,
        role: &str,
        security: &str,
        scheme: &str,
        timeout: f64,
    ) -> PyResult<Session> {
        let timeouts = timeouts(timeout)?;
        let config = config(role, security, scheme, self.settings.is_some())?;
        let acceptor = self
            .acceptor
            .lock()
            .ok()
            .and_then(|a| a.clone())
            .ok_or_else(|| usage("the listener is closed"))?;
        let settings = self.settings.clone();
        let started = Instant::now();
        let worker = acceptor.clone();
        let connection = blocking(py, Stop::Accept(&acceptor), move || {
            let log = |line: &str| eprintln!("garbled: {line}");
            match settings {
                Some(settings) => accept_first_on(
                    &worker,
                    timeouts.idle,
                    |stream, _| {
                        TlsChannel::server(stream, timeouts, &settings)
                            .map(|c| Connection::Tls(Box::new(c)))
                    },
                    log,
                ),
                None => accept_first_on(
                    &worker,
                    timeouts.idle,
                    |stream, _| TcpChannel::new(stream, timeouts).map(Connection::Plain),
                    log,
                ),
            }
        })?;
        Ok(Session::new(connection, config, started.elapsed()))
    }

    /// Stops listening (the port is released).
    fn close(&self) {
        if let Ok(mut a) = self.acceptor.lock() {
            a.take();
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (_kind = None, _value = None, _traceback = None))]
    fn __exit__(
        &self,
        _kind: Option<&Bound<'_, PyAny>>,
        _value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        format!("Listener({:?})", self.address)
    }
}

/// The native module (`garbled._native`); the package `garbled` re-exports it.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Circuit>()?;
    m.add_class::<RunResult>()?;
    m.add_class::<Session>()?;
    m.add_class::<Listener>()?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(run_local, m)?)?;
    m.add_function(wrap_pyfunction!(keygen, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
