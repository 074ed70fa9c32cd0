//! `garbled bench --suite quick|standard --out DIR`: a fixed matrix of measurements written as
//! JSON lines, CSV, a machine description and a self-contained HTML report with SVG charts
//! (plotters), optionally compared against an earlier run (`--baseline`).
//!
//! Every cell of the matrix is measured `repetitions` times, round-robin: repetition `r` of every
//! cell runs before repetition `r + 1` of any, so a burst of load on a shared host spreads over
//! all cells instead of spoiling one. A cell's figure is its median, with the minimum and maximum
//! beside it; a change against a baseline counts only when the two runs' min..max ranges do not
//! overlap (the noise each run shows is its own spread).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::bench::{
    E2eSetup, aes_ns_per_block, e2e_owners, e2e_session, measure_ot, measure_parallel, self_check,
};
use crate::aes::{Aes, Prg};
use crate::block::Block;
use crate::circuit::{Circuit, Limits};
use crate::compile::{Program, compile};
use crate::error::{Error, Result};
use crate::garble::{Evaluator, Garbler, Scheme};
use crate::protocol::{Party, Security};

/// One line of `results.jsonl` and of `results.csv`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Row {
    pub circuit: String,
    pub digest: String,
    pub scheme: String,
    pub security: String,
    pub transport: String,
    pub threads: u32,
    pub link: String,
    pub metric: String,
    pub unit: String,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub repetitions: u32,
}

const CSV_HEADER: &str =
    "circuit,digest,scheme,security,transport,threads,link,metric,unit,median,min,max,repetitions";

impl Row {
    /// The cell and metric this row measures, without the circuit's digest.
    pub(crate) fn key(&self) -> String {
        format!(
            "{} | {} | {} | {} | {} threads | {} | {}",
            self.circuit,
            self.scheme,
            self.security,
            self.transport,
            self.threads,
            self.link,
            self.metric
        )
    }

    fn csv(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.circuit,
            self.digest,
            self.scheme,
            self.security,
            self.transport,
            self.threads,
            self.link,
            self.metric,
            self.unit,
            self.median,
            self.min,
            self.max,
            self.repetitions
        )
    }

    /// Whether a smaller figure is better (times, bytes) or a larger one (rates, speed-ups).
    fn lower_is_better(&self) -> bool {
        !matches!(self.unit.as_str(), "AND/s" | "COT/s" | "x")
    }
}

/// Which matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Suite {
    Quick,
    Standard,
}

impl Suite {
    fn repetitions(self) -> usize {
        match self {
            Suite::Quick => 3,
            Suite::Standard => 7,
        }
    }

    /// Time one repetition of a kernel cell aims at.
    fn kernel_target(self) -> Duration {
        match self {
            Suite::Quick => Duration::from_millis(15),
            Suite::Standard => Duration::from_millis(60),
        }
    }
}

/// The options of a suite run.
pub(crate) struct SuiteArgs<'a> {
    pub suite: Suite,
    pub out: &'a Path,
    pub baseline: Option<&'a Path>,
    pub fail_on_regression: Option<f64>,
    pub circuits: &'a [PathBuf],
    /// Read the rows of an earlier run from `out` instead of measuring.
    pub reanalyze: bool,
}

type Sample = Vec<(&'static str, &'static str, f64)>;

/// One cell of the matrix: what it measures and how to take one repetition.
struct Cell {
    label: String,
    circuit: String,
    digest: String,
    scheme: String,
    security: String,
    transport: String,
    threads: u32,
    link: String,
    measure: Box<dyn FnMut() -> Result<Sample>>,
    samples: BTreeMap<&'static str, (&'static str, Vec<f64>)>,
}

impl Cell {
    #[allow(clippy::too_many_arguments)]
    fn new(
        label: String,
        circuit: &str,
        digest: &str,
        scheme: &str,
        security: &str,
        transport: &str,
        threads: u32,
        link: &str,
        measure: Box<dyn FnMut() -> Result<Sample>>,
    ) -> Cell {
        Cell {
            label,
            circuit: circuit.into(),
            digest: digest.into(),
            scheme: scheme.into(),
            security: security.into(),
            transport: transport.into(),
            threads,
            link: link.into(),
            measure,
            samples: BTreeMap::new(),
        }
    }

    fn rows(&self) -> Vec<Row> {
        self.samples
            .iter()
            .map(|(metric, (unit, values))| {
                let mut v = values.clone();
                v.sort_by(f64::total_cmp);
                let median = if v.len() % 2 == 1 {
                    v[v.len() / 2]
                } else {
                    (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
                };
                Row {
                    circuit: self.circuit.clone(),
                    digest: self.digest.clone(),
                    scheme: self.scheme.clone(),
                    security: self.security.clone(),
                    transport: self.transport.clone(),
                    threads: self.threads,
                    link: self.link.clone(),
                    metric: metric.to_string(),
                    unit: unit.to_string(),
                    median: round4(median),
                    min: round4(v[0]),
                    max: round4(v[v.len() - 1]),
                    repetitions: v.len() as u32,
                }
            })
            .collect()
    }
}

/// `x` to four significant digits (the decimal nearest to them).
fn round4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.3e}").parse().unwrap_or(x)
}

/// A named circuit of the matrix.
struct Named {
    name: String,
    circuit: Circuit,
    program: Program,
}

fn named(name: &str, circuit: Circuit) -> Result<Named> {
    let program = compile(&circuit)?;
    Ok(Named {
        name: name.into(),
        circuit,
        program,
    })
}

/// The shipped circuits of the matrix (the same gates as the files in `circuits/`).
fn standard_circuits() -> Result<Vec<Named>> {
    use crate::circuit::builder::{aes128_circuit, sha256_circuit};
    use crate::circuit::library::{aes128_many, generate};
    Ok(vec![
        named("aes128", aes128_circuit())?,
        named("sha256", sha256_circuit())?,
        named("compare64", generate("compare", 64, 2)?)?,
        named("mul64", generate("mul", 64, 2)?)?,
        named("aes128x100", aes128_many(100)?)?,
    ])
}

/// A kernel cell: garbling and evaluation of `c` in memory with `scheme`, each repetition at
/// least the suite's target time long.
fn kernel_cell(c: &Named, scheme: Scheme, target: Duration) -> Result<Cell> {
    self_check(&c.name, &c.circuit, &c.program, scheme)?;
    let program = c.program.clone();
    let and = program.and_count().max(1);
    let (delta, zero, active, tweaks) = super::bench::random_labels(&program)?;
    let mut tables = vec![Block::ZERO; scheme.blocks_for(program.and_count())];
    let seed = Prg::from_os()?.block().to_bytes();
    // How many copies one repetition garbles: enough to pass the target time.
    let one = Instant::now();
    Garbler::new(&program, delta.clone(), &zero, tweaks)?
        .with_scheme(scheme, Prg::from_seed(seed))
        .garble(&mut tables);
    let copies = (target.as_secs_f64() / one.elapsed().as_secs_f64().max(1e-7)).ceil() as usize;
    let copies = copies.clamp(1, 1 << 20);
    let measure = move || -> Result<Sample> {
        let start = Instant::now();
        for _ in 0..copies {
            let mut g = Garbler::new(&program, delta.clone(), &zero, tweaks)?
                .with_scheme(scheme, Prg::from_seed(seed));
            g.garble(&mut tables);
        }
        let garble = start.elapsed().as_secs_f64() * 1e9 / (copies * and) as f64;
        let start = Instant::now();
        for _ in 0..copies {
            let mut e = Evaluator::new(&program, &active, tweaks)?.with_scheme(scheme);
            e.evaluate(std::hint::black_box(&tables));
        }
        let evaluate = start.elapsed().as_secs_f64() * 1e9 / (copies * and) as f64;
        Ok(vec![
            ("garble_ns_per_and", "ns/AND", garble),
            ("evaluate_ns_per_and", "ns/AND", evaluate),
        ])
    };
    Ok(Cell::new(
        format!("{} in memory, {}", c.name, scheme.name()),
        &c.name,
        &c.program.digest_hex(),
        scheme.name(),
        "-",
        "memory",
        1,
        "-",
        Box::new(measure),
    ))
}

/// An end-to-end cell: one session of `c` over loopback (connection, handshake, OT, garbling,
/// outputs), both parties in this process.
fn e2e_cell(c: &Named, setup: E2eSetup, tls: bool) -> Result<Cell> {
    let program = c.program.clone();
    let mut prg = Prg::from_os()?;
    let mut bits = |n: u32| -> Vec<bool> {
        let mut bytes = vec![0u8; n as usize];
        prg.fill_bytes(&mut bytes);
        bytes.iter().map(|b| b & 1 == 1).collect()
    };
    let (mut g_in, mut e_in) = (Vec::new(), Vec::new());
    for (w, o) in program.input_widths().iter().zip(e2e_owners(&program)) {
        match o {
            Party::Garbler => g_in.push(bits(*w)),
            Party::Evaluator => e_in.push(bits(*w)),
        }
    }
    let link = match setup.link_mbps {
        None => "unpaced".to_string(),
        Some(m) => format!("{m:.0} Mbit/s"),
    };
    let measure = move || -> Result<Sample> {
        let start = Instant::now();
        let (stats, _) = e2e_session(tls, &program, 1, &g_in, &e_in, setup)?;
        let seconds = start.elapsed().as_secs_f64();
        let and = stats.and_gates.max(1) as f64;
        Ok(vec![
            ("session_ms", "ms", seconds * 1e3),
            ("and_per_second", "AND/s", and / seconds),
            (
                "bytes_per_and",
                "bytes/AND",
                (stats.bytes_sent + stats.bytes_received) as f64 / and,
            ),
        ])
    };
    let transport = if tls { "tls" } else { "plaintext" };
    Ok(Cell::new(
        format!(
            "{} end to end, {}, {}, {transport}, {link}",
            c.name,
            setup.scheme.name(),
            setup.security.name()
        ),
        &c.name,
        &c.program.digest_hex(),
        setup.scheme.name(),
        setup.security.name(),
        transport,
        1,
        &link,
        Box::new(measure),
    ))
}

/// The matrix: which circuits go where, by suite (and the test-only subset).
fn matrix(suite: Suite, extra: Vec<Named>) -> Result<Vec<Cell>> {
    let tiny = std::env::var("GARBLED_BENCH_SUBSET").is_ok_and(|v| v == "tiny");
    let all = standard_circuits()?;
    let find = |name: &str| all.iter().find(|c| c.name == name);
    let mut kernel: Vec<&Named> = if tiny {
        find("compare64").into_iter().collect()
    } else {
        all.iter().collect()
    };
    kernel.extend(extra.iter());
    // End to end: every circuit in the standard suite; the quick one keeps AES-128 and the
    // user's circuits.
    let mut e2e: Vec<&Named> = match (tiny, suite) {
        (true, _) => find("compare64").into_iter().collect(),
        (false, Suite::Quick) => find("aes128").into_iter().collect(),
        (false, Suite::Standard) => all.iter().collect(),
    };
    e2e.extend(extra.iter());
    let link_circuit = match (tiny, suite) {
        (true, _) => find("compare64"),
        (false, Suite::Quick) => find("aes128"),
        (false, Suite::Standard) => find("aes128x100"),
    };
    let mut cells = Vec::new();
    // The AES bound, measured in the same rounds as everything else.
    cells.push(Cell::new(
        "AES throughput".into(),
        "-",
        "-",
        "-",
        "-",
        "memory",
        1,
        "-",
        Box::new(|| {
            Ok(vec![(
                "aes_ns_per_block",
                "ns/block",
                aes_ns_per_block(Duration::from_millis(20)),
            )])
        }),
    ));
    let target = if tiny {
        Duration::from_millis(3)
    } else {
        suite.kernel_target()
    };
    for c in &kernel {
        for scheme in [Scheme::HalfGates, Scheme::ThreeHalves] {
            cells.push(kernel_cell(c, scheme, target)?);
        }
    }
    let combos = [
        (Scheme::HalfGates, Security::SemiHonest),
        (Scheme::ThreeHalves, Security::SemiHonest),
        (Scheme::HalfGates, Security::Malicious),
    ];
    for c in &e2e {
        for (scheme, security) in combos {
            if tiny && security == Security::Malicious && scheme != Scheme::HalfGates {
                continue;
            }
            for tls in [false, true] {
                let setup = E2eSetup {
                    scheme,
                    security,
                    link_mbps: None,
                };
                cells.push(e2e_cell(c, setup, tls)?);
            }
        }
    }
    if let Some(c) = link_circuit {
        // The unpaced point of the link chart is the plaintext semi-honest cell above when that
        // circuit is measured end to end; otherwise it is measured here.
        let unpaced_measured = e2e.iter().any(|e| e.name == c.name);
        for scheme in [Scheme::HalfGates, Scheme::ThreeHalves] {
            let mut links: Vec<Option<f64>> = vec![Some(100.0), Some(1000.0)];
            if !unpaced_measured {
                links.push(None);
            }
            for link_mbps in links {
                let setup = E2eSetup {
                    scheme,
                    security: Security::SemiHonest,
                    link_mbps,
                };
                cells.push(e2e_cell(c, setup, false)?);
            }
        }
    }
    // Oblivious transfer.
    cells.push(Cell::new(
        "oblivious transfer".into(),
        "-",
        "-",
        "-",
        "-",
        "memory",
        1,
        "-",
        Box::new(move || {
            let ot = measure_ot(Duration::from_millis(if tiny { 5 } else { 60 }))?;
            let mut out = vec![
                ("base_ot_128_ms", "ms", ot.base_ot_ms),
                (
                    "iknp_unchecked_cot_per_second",
                    "COT/s",
                    ot.cot_unchecked_per_second,
                ),
                (
                    "softspoken_cot_per_second",
                    "COT/s",
                    ot.softspoken_cot_per_second,
                ),
            ];
            if let Some((_, rate)) = ot.cot_per_second.first() {
                out.push(("kos_cot_per_second", "COT/s", *rate));
            }
            Ok(out)
        }),
    ));
    // Two threads against one.
    let parallel = if tiny {
        find("compare64")
    } else {
        find("aes128")
    };
    if let Some(c) = parallel {
        let circuit = c.circuit.clone();
        let budget = Duration::from_millis(if tiny { 30 } else { 150 });
        cells.push(Cell::new(
            format!("{} on 2 threads against 1", c.name),
            &c.name,
            &c.program.digest_hex(),
            "half-gates",
            "-",
            "memory",
            2,
            "-",
            Box::new(move || {
                let p = measure_parallel(&circuit, 2, budget)?;
                Ok(vec![
                    ("garble_speedup", "x", p.garble_speedup),
                    ("evaluate_speedup", "x", p.eval_speedup),
                ])
            }),
        ));
    }
    Ok(cells)
}

/// Checks that `dir` can be written before anything is measured.
fn prepare_out(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::arg(format!("cannot create --out {}: {e}", dir.display())))?;
    let probe = dir.join(".garbled-write-check");
    std::fs::write(&probe, b"")
        .map_err(|e| Error::arg(format!("cannot write in --out {}: {e}", dir.display())))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Reads an earlier run's rows; a line that is not a row is an error naming it.
pub(crate) fn read_rows(dir: &Path) -> Result<Vec<Row>> {
    let path = dir.join("results.jsonl");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::arg(format!("cannot read baseline {}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str::<Row>(l).map_err(|e| {
                Error::arg(format!(
                    "{}:{}: not a result row: {e}",
                    path.display(),
                    n + 1
                ))
            })
        })
        .collect()
}

/// A cell's change against the baseline.
struct Change {
    key: String,
    unit: String,
    old: f64,
    new: f64,
    /// How far past the noise, in % of the old median; positive is slower (worse).
    worse_by: f64,
}

/// Cells whose ranges do not overlap the baseline's, and the keys whose circuit changed.
fn compare(rows: &[Row], baseline: &[Row]) -> (Vec<Change>, Vec<String>) {
    let old: BTreeMap<String, &Row> = baseline.iter().map(|r| (r.key(), r)).collect();
    let (mut changes, mut incomparable) = (Vec::new(), Vec::new());
    for row in rows {
        let Some(before) = old.get(&row.key()) else {
            continue;
        };
        if before.digest != row.digest || before.unit != row.unit {
            incomparable.push(row.key());
            continue;
        }
        let scale = before.median.abs().max(f64::MIN_POSITIVE);
        // Past the noise: the two runs' min..max ranges are apart.
        let worse = if row.lower_is_better() {
            if row.min > before.max {
                (row.min - before.max) / scale * 100.0
            } else if row.max < before.min {
                -(before.min - row.max) / scale * 100.0
            } else {
                continue;
            }
        } else if row.max < before.min {
            (before.min - row.max) / scale * 100.0
        } else if row.min > before.max {
            -(row.min - before.max) / scale * 100.0
        } else {
            continue;
        };
        changes.push(Change {
            key: row.key(),
            unit: row.unit.clone(),
            old: before.median,
            new: row.median,
            worse_by: worse,
        });
    }
    (changes, incomparable)
}

/// The machine, for `machine.json`.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
    // The commit of the working directory's repository, else of the one the executable was
    // built in (target/release/garbled).
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let git = [Some(PathBuf::from(".")), exe_dir]
        .into_iter()
        .flatten()
        .find_map(|dir| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(["rev-parse", "HEAD"])
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        });
    serde_json::json!({
        "cpu_model": cpu,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "aes_backend": Aes::fixed().backend().to_string(),
        "crate_version": env!("CARGO_PKG_VERSION"),
        "git_commit": git,
        "rustc_version": env!("GARBLED_RUSTC_VERSION"),
        "date": utc_now(),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

/// The current UTC time as RFC 3339.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Measures the matrix: the rows, the number of cells and of rounds.
fn measure(args: &SuiteArgs<'_>) -> Result<(Vec<Row>, usize, usize)> {
    let mut extra = Vec::new();
    for path in args.circuits {
        let parsed = super::load_circuit(path, "auto", Limits::default())?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        extra.push(named(&name, parsed.circuit)?);
    }
    let mut cells = matrix(args.suite, extra)?;
    let repetitions = args.suite.repetitions();
    let total = (cells.len() * repetitions) as u64;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "[{bar:30}] {pos}/{len} cells  about {eta} left  {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    for round in 0..repetitions {
        for cell in cells.iter_mut() {
            bar.set_message(format!("round {}/{repetitions}: {}", round + 1, cell.label));
            for (metric, unit, value) in (cell.measure)()? {
                cell.samples
                    .entry(metric)
                    .or_insert_with(|| (unit, Vec::new()))
                    .1
                    .push(value);
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok((
        cells.iter().flat_map(Cell::rows).collect(),
        cells.len(),
        repetitions,
    ))
}

pub(crate) fn run(args: SuiteArgs<'_>) -> Result<()> {
    prepare_out(args.out)?;
    // The baseline is read before anything is measured: a bad one fails at once.
    let baseline = args.baseline.map(read_rows).transpose()?;
    let started = Instant::now();
    let (rows, cells, repetitions) = if args.reanalyze {
        let rows = read_rows(args.out)?;
        let repetitions = rows
            .iter()
            .map(|r| r.repetitions as usize)
            .max()
            .unwrap_or(0);
        (rows, 0, repetitions)
    } else {
        measure(&args)?
    };
    let mut jsonl = String::new();
    let mut csv = format!("{CSV_HEADER}\n");
    for row in &rows {
        jsonl.push_str(&serde_json::to_string(row).map_err(|e| Error::SelfCheck(e.to_string()))?);
        jsonl.push('\n');
        csv.push_str(&row.csv());
        csv.push('\n');
    }
    let write = |name: &str, text: &str| -> Result<()> {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
    };
    // A reanalysis keeps the machine the rows were measured on.
    let machine = if args.reanalyze {
        std::fs::read_to_string(args.out.join("machine.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(machine)
    } else {
        machine()
    };
    let (changes, incomparable) = match &baseline {
        Some(b) => compare(&rows, b),
        None => (Vec::new(), Vec::new()),
    };
    if !args.reanalyze {
        write("results.jsonl", &jsonl)?;
        write("results.csv", &csv)?;
        write(
            "machine.json",
            &serde_json::to_string_pretty(&machine).map_err(|e| Error::SelfCheck(e.to_string()))?,
        )?;
    }
    let suite_name = match args.suite {
        Suite::Quick => "quick",
        Suite::Standard => "standard",
    };
    let html = super::report::html(
        suite_name,
        &rows,
        baseline.as_deref(),
        &machine,
        repetitions,
        started.elapsed(),
    )?;
    write("report.html", &html)?;
    if args.reanalyze {
        outln!(
            "garbled bench --suite {suite_name} --reanalyze: {} rows read from {}, report rewritten",
            rows.len(),
            args.out.display()
        )?;
    } else {
        outln!(
            "garbled bench --suite {suite_name}: {} rows from {cells} cells x {repetitions} rounds in {:.1} s, written to {}",
            rows.len(),
            started.elapsed().as_secs_f64(),
            args.out.display()
        )?;
    }
    if baseline.is_some() {
        if changes.is_empty() {
            outln!("against the baseline: no cell changed beyond its noise")?;
        } else {
            outln!("cells that changed beyond the noise (min..max of both runs apart):")?;
            outln!(
                "  {:<70} {:>12} {:>12} {:>10}  {}",
                "cell",
                "baseline",
                "now",
                "beyond",
                "unit"
            )?;
            for c in &changes {
                let verdict = if c.worse_by > 0.0 { "slower" } else { "faster" };
                outln!(
                    "  {:<70} {:>12} {:>12} {:>9.1}%  {} ({verdict})",
                    c.key,
                    c.old,
                    c.new,
                    c.worse_by.abs(),
                    c.unit
                )?;
            }
        }
        for key in &incomparable {
            outln!("not comparable (the circuit's digest or the unit differs): {key}")?;
        }
    }
    if let Some(pct) = args.fail_on_regression {
        let worst: Vec<&Change> = changes.iter().filter(|c| c.worse_by > pct).collect();
        if !worst.is_empty() {
            return Err(Error::Regression(format!(
                "{} cell(s) slower than the baseline by more than {pct}% beyond the noise: {}",
                worst.len(),
                worst
                    .iter()
                    .map(|c| format!("{} ({:.1}%)", c.key, c.worse_by))
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(metric: &str, unit: &str, median: f64, min: f64, max: f64) -> Row {
        Row {
            circuit: "c".into(),
            digest: "d".into(),
            scheme: "half-gates".into(),
            security: "-".into(),
            transport: "memory".into(),
            threads: 1,
            link: "-".into(),
            metric: metric.into(),
            unit: unit.into(),
            median,
            min,
            max,
            repetitions: 3,
        }
    }

    #[test]
    fn changes_count_only_beyond_both_runs_spread() {
        let old = vec![
            row("t", "ms", 10.0, 9.0, 11.0),
            row("r", "AND/s", 100.0, 90.0, 110.0),
        ];
        // Overlapping ranges: no change.
        let (c, _) = compare(&[row("t", "ms", 11.5, 10.5, 12.0)], &old);
        assert!(c.is_empty());
        // A time whose minimum is above the old maximum: slower, by the gap over the old median.
        let (c, _) = compare(&[row("t", "ms", 14.0, 13.0, 15.0)], &old);
        assert_eq!(c.len(), 1);
        assert!((c[0].worse_by - 20.0).abs() < 1e-9, "{}", c[0].worse_by);
        // A rate below the old minimum is slower too; above the maximum, faster.
        let (c, _) = compare(&[row("r", "AND/s", 50.0, 40.0, 60.0)], &old);
        assert!((c[0].worse_by - 30.0).abs() < 1e-9);
        let (c, _) = compare(&[row("r", "AND/s", 200.0, 150.0, 250.0)], &old);
        assert!(c[0].worse_by < 0.0);
        // Another digest: not comparable, not a change.
        let mut other = row("t", "ms", 50.0, 50.0, 50.0);
        other.digest = "e".into();
        let (c, incomparable) = compare(&[other], &old);
        assert!(c.is_empty() && incomparable.len() == 1);
    }

    #[test]
    fn dates_are_rfc3339() {
        let now = utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
