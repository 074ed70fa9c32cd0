//! Shared helpers for the integration tests: the `../shared` reference kit and its vectors.
#![allow(dead_code)]

use std::path::PathBuf;

use garbled::circuit::{Circuit, FormatChoice, Limits, bristol};
use garbled::value::{self, BitOrder};
use serde_json::Value;

/// The reference kit directory (`GARBLED_SHARED` or `../shared` beside the crate). When it is
/// absent the calling test is skipped with a printed reason, except under CI, where it fails.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GARBLED_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("bristol/vectors.json").is_file() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "the reference kit is missing at {} (CI is set, so this is a failure, not a skip)",
            dir.display()
        );
    }
    let message = format!(
        "SKIPPED: the reference kit is not at {} (set GARBLED_SHARED to run this test)",
        dir.display()
    );
    // The test harness captures the output of passing tests, and a skip must be visible: write
    // to a fresh handle on the process's stderr where there is one.
    use std::io::Write;
    match std::fs::OpenOptions::new().write(true).open("/dev/stderr") {
        Ok(mut err) => {
            let _ = writeln!(err, "{message}");
        }
        Err(_) => eprintln!("{message}"),
    }
    None
}

/// Parsed `vectors.json`.
pub fn vectors() -> Option<(PathBuf, Value)> {
    let dir = shared_dir()?;
    let text =
        std::fs::read_to_string(dir.join("bristol/vectors.json")).expect("read vectors.json");
    Some((
        dir.join("bristol"),
        serde_json::from_str(&text).expect("vectors.json is JSON"),
    ))
}

/// Loads a circuit of the kit by its relative file name.
pub fn load(bristol_dir: &std::path::Path, file: &str) -> Circuit {
    bristol::parse_file(
        &bristol_dir.join(file),
        FormatChoice::Auto,
        &Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{file}: {e}"))
    .circuit
}

/// A bit string of the kit ('0'/'1', character k = wire k of the group).
pub fn bit_string(s: &str) -> Vec<bool> {
    s.bytes()
        .map(|c| match c {
            b'0' => false,
            b'1' => true,
            other => panic!("bad bit character {other}"),
        })
        .collect()
}

/// The bit order under which the kit's natural form of an encoding is our `0x…` notation.
pub fn order_of(encoding: &str) -> Option<BitOrder> {
    match encoding {
        "uint_lsb0" | "bytes_be_lsb0" | "ieee754_lsb0" | "bit" => Some(BitOrder::Lsb0),
        "bytes_msb0" | "aes_roundkeys_msb0" => Some(BitOrder::Msb0),
        _ => None,
    }
}

/// The command-line text of a natural value: what a user would type for `--input`.
pub fn natural_text(value: &Value) -> String {
    match value {
        Value::String(s) if s.starts_with("0x") => s.clone(),
        Value::String(s) => format!("0x{s}"),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => o["hex"].as_str().expect("hex field").to_string(),
        other => panic!("unexpected natural value {other}"),
    }
}

/// One group of a circuit entry: (name, encoding, width).
pub fn groups(entry: &Value, which: &str) -> Vec<(String, String, u32)> {
    entry[which]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["encoding"].as_str().unwrap().to_string(),
                g["bits"].as_u64().unwrap() as u32,
            )
        })
        .collect()
}

/// The wire bits of a natural value of a group, as our value parser reads it.
pub fn natural_bits(
    natural: &serde_json::Map<String, Value>,
    name: &str,
    encoding: &str,
    width: u32,
) -> Vec<bool> {
    if let Some(order) = order_of(encoding) {
        let text = natural_text(&natural[name]);
        value::parse_value(&text, width, order).unwrap_or_else(|e| panic!("{name}={text}: {e}"))
    } else {
        // des_subkeys_msb0 comes as a bit string under `<name>_bits`.
        bit_string(
            natural[&format!("{name}_bits")]
                .as_str()
                .expect("bit string"),
        )
    }
}

/// One known answer of a circuit.
pub struct KnownAnswer {
    /// Where it comes from, for messages.
    pub label: String,
    /// Input bits, per group.
    pub inputs: Vec<Vec<bool>>,
    /// Expected output bits, per group.
    pub outputs: Vec<Vec<bool>>,
    /// The natural form, where the kit gives one.
    pub natural: Option<Value>,
}

/// Every vector of an entry: reference vectors, observed ones, and the circuit's actual outputs
/// for known failures.
pub fn all_vectors(entry: &Value) -> Vec<KnownAnswer> {
    let mut out = Vec::new();
    let strings = |v: &Value| -> Vec<Vec<bool>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| bit_string(s.as_str().unwrap()))
            .collect()
    };
    for (kind, key) in [("vector", "vectors"), ("observed", "observed_vectors")] {
        for (i, v) in entry[key].as_array().into_iter().flatten().enumerate() {
            out.push(KnownAnswer {
                label: format!("{kind} {i}"),
                inputs: strings(&v["bits"]["inputs"]),
                outputs: strings(&v["bits"]["outputs"]),
                natural: Some(v["natural"].clone()),
            });
        }
    }
    for (i, v) in entry["known_failures"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push(KnownAnswer {
            label: format!("known failure {i} (circuit behaviour)"),
            inputs: strings(&v["bits"]["inputs"]),
            outputs: strings(&v["bits"]["circuit_outputs"]),
            natural: None,
        });
    }
    out
}

/// Packs up to 64 input sets (each a list of group bit vectors) into lanes, one u64 per wire.
pub fn pack_lanes(sets: &[Vec<Vec<bool>>]) -> Vec<u64> {
    assert!(sets.len() <= 64);
    let width: usize = sets[0].iter().map(Vec::len).sum();
    let mut lanes = vec![0u64; width];
    for (j, set) in sets.iter().enumerate() {
        for (k, bit) in set.iter().flatten().enumerate() {
            lanes[k] |= u64::from(*bit) << j;
        }
    }
    lanes
}

/// Unpacks lane `j` of output wires into groups of the given widths.
pub fn unpack_lane(lanes: &[u64], j: usize, widths: &[u32]) -> Vec<Vec<bool>> {
    let flat: Vec<bool> = lanes.iter().map(|w| w >> j & 1 == 1).collect();
    garbled::circuit::plain::split_groups(widths, &flat)
}

/// A random valid circuit: `inputs` groups of random widths, `gates` gates of every kind reading
/// earlier wires, and random output wires (which may repeat, or be inputs or constants).
pub fn random_circuit(seed: u64, groups: usize, gates: usize, outputs: usize) -> Circuit {
    use garbled::circuit::{Gate, Group};
    use rand::{Rng, RngExt, SeedableRng};
    let mut rng = rand::rngs::ChaCha12Rng::seed_from_u64(seed);
    let widths: Vec<u32> = (0..groups).map(|_| rng.random_range(1..6)).collect();
    let n_in: u32 = widths.iter().sum();
    let mut list = Vec::with_capacity(gates);
    let mut next = n_in;
    for _ in 0..gates {
        let pick = |rng: &mut rand::rngs::ChaCha12Rng| rng.random_range(0..next);
        let out = next;
        let gate = match rng.next_u32() % 10 {
            0..=3 => Gate::And {
                a: pick(&mut rng),
                b: pick(&mut rng),
                out,
            },
            4..=6 => Gate::Xor {
                a: pick(&mut rng),
                b: pick(&mut rng),
                out,
            },
            7 => Gate::Inv {
                a: pick(&mut rng),
                out,
            },
            8 => Gate::Copy {
                a: pick(&mut rng),
                out,
            },
            _ => Gate::Const {
                value: rng.random(),
                out,
            },
        };
        list.push(gate);
        next += 1;
    }
    let output_wires: Vec<u32> = (0..outputs).map(|_| rng.random_range(0..next)).collect();
    let inputs = widths
        .iter()
        .enumerate()
        .map(|(i, &w)| Group::new(format!("in{i}"), w))
        .collect();
    Circuit::new(
        next,
        inputs,
        vec![Group::new("out", outputs as u32)],
        list,
        output_wires,
    )
    .expect("valid random circuit")
}

/// Random input bits for a circuit, per group.
/// `z_i = (x_i XOR y_i) AND (x_i XOR y_{i+1})` for `bits`-bit inputs `x` and `y`, then the XOR
/// of all the `z`s: every input stays live to the end, so the program needs more than
/// `2 * bits` slots (more than 2^16 from 32 768 bits on, where XOR gates are stored wide).
pub fn all_inputs_live(bits: u32) -> Circuit {
    use garbled::circuit::{Gate, Group};
    let (x, y) = (0..bits, bits..2 * bits);
    let mut gates = Vec::new();
    let mut next = 2 * bits;
    let mut outputs = Vec::new();
    let mut acc = None;
    for i in 0..bits {
        let (xi, yi, yj) = (x.start + i, y.start + i, y.start + (i + 1) % bits);
        let (p, q, z) = (next, next + 1, next + 2);
        next += 3;
        gates.push(Gate::Xor {
            a: xi,
            b: yi,
            out: p,
        });
        gates.push(Gate::Xor {
            a: xi,
            b: yj,
            out: q,
        });
        gates.push(Gate::And { a: p, b: q, out: z });
        outputs.push(z);
        acc = Some(match acc {
            None => z,
            Some(a) => {
                gates.push(Gate::Xor { a, b: z, out: next });
                next += 1;
                next - 1
            }
        });
    }
    outputs.push(acc.expect("at least one bit"));
    Circuit::new(
        next,
        vec![Group::new("x", bits), Group::new("y", bits)],
        vec![Group::new("z", bits + 1)],
        gates,
        outputs,
    )
    .expect("a well-formed circuit")
}

/// A Delta and the inputs' zero-labels for `program`, drawn from a PRG seeded with `seed`.
pub fn zero_labels(
    program: &garbled::compile::Program,
    seed: u8,
) -> (garbled::block::Delta, Vec<garbled::block::ZeroLabel>) {
    use garbled::block::{Block, Delta, ZeroLabel};
    let mut prg = garbled::aes::Prg::from_seed([seed; 16]);
    let delta = Delta::new(prg.block());
    let mut raw = vec![Block::ZERO; program.input_count()];
    prg.fill(&mut raw);
    (delta, raw.into_iter().map(ZeroLabel).collect())
}

pub fn random_inputs(circuit: &Circuit, seed: u64) -> Vec<Vec<bool>> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::ChaCha12Rng::seed_from_u64(seed);
    circuit
        .input_widths()
        .iter()
        .map(|&w| (0..w).map(|_| rng.random()).collect())
        .collect()
}

/// Output groups as one party sees them (`None` where not revealed to it).
pub type Seen = Vec<Option<Vec<bool>>>;

/// Runs one session over loopback TCP: the garbler in this thread, the evaluator in another.
/// `inputs` holds every group's bits; each party gets the groups `owners` gives it.
pub fn run_over_tcp(
    program: &garbled::compile::Program,
    owners: &[garbled::protocol::Party],
    reveal: &[garbled::protocol::Reveal],
    inputs: &[Vec<bool>],
) -> garbled::Result<(
    (Seen, garbled::protocol::SessionStats),
    (Seen, garbled::protocol::SessionStats),
)> {
    run_over_tcp_with(program, owners, reveal, inputs, |o| o)
}

/// [`run_over_tcp`] with both parties' options changed by `configure` (scheme, security).
pub fn run_over_tcp_with(
    program: &garbled::compile::Program,
    owners: &[garbled::protocol::Party],
    reveal: &[garbled::protocol::Reveal],
    inputs: &[Vec<bool>],
    configure: impl Fn(garbled::protocol::SessionOptions) -> garbled::protocol::SessionOptions,
) -> garbled::Result<(
    (Seen, garbled::protocol::SessionStats),
    (Seen, garbled::protocol::SessionStats),
)> {
    use garbled::net::tcp::{TcpChannel, Timeouts};
    use garbled::protocol::{SessionOptions, run_evaluator, run_garbler};
    use std::time::Duration;
    let options = configure(SessionOptions::new(
        program,
        owners.to_vec(),
        reveal.to_vec(),
    )?);
    let (g_in, e_in) = split_by_owner(owners, inputs);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().unwrap().to_string();
    let timeouts = Timeouts::idle(Duration::from_secs(20));
    std::thread::scope(|s| {
        let e_options = options.clone();
        let evaluator = s.spawn(move || {
            let channel = TcpChannel::connect(&addr, Duration::from_secs(10), timeouts)?;
            run_evaluator(program, &e_in, channel, e_options)
        });
        let garbler = TcpChannel::accept(&listener, Duration::from_secs(10), timeouts)
            .and_then(|channel| run_garbler(program, &g_in, channel, options));
        let evaluator = evaluator
            .join()
            .expect("the evaluator thread does not panic");
        Ok((garbler?, evaluator?))
    })
}

/// Runs the `garbled` binary to completion.
pub fn garbled(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_garbled"))
        .args(args)
        .output()
        .expect("run garbled")
}

/// Starts the `garbled` binary with its output captured.
pub fn spawn(args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_garbled"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn garbled")
}

/// Standard output as text.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A loopback port nobody listens on (at the time of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The input groups of each party, in order: `(garbler's, evaluator's)`.
pub fn split_by_owner(
    owners: &[garbled::protocol::Party],
    inputs: &[Vec<bool>],
) -> (Vec<Vec<bool>>, Vec<Vec<bool>>) {
    use garbled::protocol::Party;
    let mine = |party: Party| -> Vec<Vec<bool>> {
        owners
            .iter()
            .zip(inputs)
            .filter(|(o, _)| **o == party)
            .map(|(_, v)| v.clone())
            .collect()
    };
    (mine(Party::Garbler), mine(Party::Evaluator))
}

/// The cleartext outputs of `circuit` on `inputs`, every group routed (as a session reports
/// outputs revealed to a party).
#[allow(dead_code)]
pub fn routed_cleartext(circuit: &Circuit, inputs: &[Vec<bool>]) -> Vec<Option<Vec<bool>>> {
    garbled::circuit::plain::eval_bits(circuit, inputs)
        .unwrap()
        .into_iter()
        .map(Some)
        .collect()
}

/// Two TLS settings that pin each other's fresh identities: (listener's, connecting party's).
pub fn pinned_settings() -> (
    garbled::net::tls::TlsSettings,
    garbled::net::tls::TlsSettings,
) {
    use garbled::net::tls::{Identity, TlsSettings};
    let (a, b) = (Identity::generate().unwrap(), Identity::generate().unwrap());
    let (fa, fb) = (a.fingerprint(), b.fingerprint());
    (
        TlsSettings {
            identity: a,
            peer: fb,
        },
        TlsSettings {
            identity: b,
            peer: fa,
        },
    )
}

/// A 32-bit comparison program and the options of one run where both learn both outputs.
pub fn compare32() -> (garbled::compile::Program, garbled::protocol::SessionOptions) {
    use garbled::protocol::{Party, Reveal, SessionOptions};
    let program =
        garbled::compile::compile(&garbled::circuit::library::generate("compare", 32, 2).unwrap())
            .unwrap();
    let options = SessionOptions::new(
        &program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both; 2],
    )
    .unwrap();
    (program, options)
}
