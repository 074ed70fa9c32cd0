//! The circuits `garbled gen` writes and the protocol commands use, built with the
//! [`Builder`].
//!
//! Binary integer circuits have inputs `a` and `b` (n bits each, wire k = bit k) and one output;
//! comparators output a single bit. All of them are optimized as they are built (see the builder).

use crate::circuit::builder::{Builder, aes128_circuit, sha256_circuit};
use crate::circuit::ir::{Circuit, GroupKind};
use crate::error::{Error, Result};

/// The generator names with a one-line description, in `garbled gen --help` order.
pub const GENERATORS: &[(&str, &str)] = &[
    ("add", "c = a + b mod 2^n"),
    ("sub", "c = a - b mod 2^n"),
    ("neg", "c = -a mod 2^n"),
    ("mul", "c = a * b mod 2^n (low half)"),
    ("mulfull", "c = a * b, all 2n bits (unsigned)"),
    ("lt", "c = a < b, unsigned (n AND gates)"),
    ("le", "c = a <= b, unsigned (n AND gates)"),
    ("slt", "c = a < b, two's complement (n AND gates)"),
    ("sle", "c = a <= b, two's complement (n AND gates)"),
    ("eq", "c = a == b (n-1 AND gates)"),
    (
        "compare",
        "less = a < b, equal = a == b, unsigned: the `garbled compare` circuit",
    ),
    ("scompare", "the same for two's complement values"),
    ("mux", "c = s ? b : a (s one bit)"),
    ("sum", "c = x0 + x1 + ... mod 2^n (--count values)"),
    (
        "aes128",
        "AES-128: key, plaintext -> ciphertext (Bristol Fashion aes_128.txt order); with \
         --count N, N copies in one long file: copy i encrypts plaintext XOR i and the \
         ciphertexts are XORed together (6400 N AND gates, for streaming tests)",
    ),
    (
        "sha256",
        "SHA-256 compression: block, state_in -> state_out (sha256.txt order)",
    ),
];

/// Largest width accepted for integer circuits (multipliers grow with n^2).
pub const MAX_BITS: u32 = 1 << 16;
/// Largest width accepted for multipliers.
pub const MAX_MUL_BITS: u32 = 1024;

/// Builds the named circuit. `bits` is the integer width (ignored by aes128 and sha256), `count`
/// the number of values of `sum`.
pub fn generate(name: &str, bits: u32, count: u32) -> Result<Circuit> {
    let check_bits = |max: u32| {
        if bits == 0 || bits > max {
            Err(Error::arg(format!(
                "--bits {bits} is out of range for {name}: use 1 to {max}"
            )))
        } else {
            Ok(())
        }
    };
    match name {
        "aes128" => return Ok(aes128_circuit()),
        "sha256" => return Ok(sha256_circuit()),
        "mul" | "mulfull" => check_bits(MAX_MUL_BITS)?,
        _ => check_bits(MAX_BITS)?,
    }
    let signed = matches!(name, "slt" | "sle" | "scompare");
    let kind = if signed {
        GroupKind::Signed
    } else {
        GroupKind::Unsigned
    };
    let mut b = Builder::new();
    if name == "sum" {
        if count == 0 || count > 1 << 16 {
            return Err(Error::arg(format!(
                "--count {count} is out of range for sum: use 1 to 65536"
            )));
        }
        if u64::from(count) * u64::from(bits) > 1 << 20 {
            return Err(Error::arg(format!(
                "--count {count} values of {bits} bits make too large a sum: at most 2^20 input bits"
            )));
        }
        let values: Vec<_> = (0..count)
            .map(|i| b.input(&format!("x{i}"), bits))
            .collect();
        let total = b.sum(&values);
        b.output("sum", &total);
        return b.finish();
    }
    if name == "neg" {
        let a = b.input_of_kind("a", bits, GroupKind::Signed);
        let c = b.neg(&a);
        b.output_of_kind("c", &c, GroupKind::Signed);
        return b.finish();
    }
    if name == "mux" {
        let s = b.input_of_kind("s", 1, GroupKind::Bit);
        let a0 = b.input("a", bits);
        let a1 = b.input("b", bits);
        let c = b.mux(s[0], &a0, &a1);
        b.output("c", &c);
        return b.finish();
    }
    let x = b.input_of_kind("a", bits, kind);
    let y = b.input_of_kind("b", bits, kind);
    match name {
        "add" => {
            let c = b.add(&x, &y);
            b.output("c", &c);
        }
        "sub" => {
            let c = b.sub(&x, &y);
            b.output("c", &c);
        }
        "mul" => {
            let c = b.mul(&x, &y);
            b.output("c", &c);
        }
        "mulfull" => {
            let c = b.mul_full(&x, &y);
            b.output("c", &c);
        }
        "lt" | "le" | "slt" | "sle" | "eq" => {
            let c = match name {
                "lt" => b.lt(&x, &y),
                "le" => b.le(&x, &y),
                "slt" => b.slt(&x, &y),
                "sle" => b.sle(&x, &y),
                _ => b.eq(&x, &y),
            };
            b.output_of_kind("c", &[c], GroupKind::Bit);
        }
        "compare" | "scompare" => {
            let less = if signed { b.slt(&x, &y) } else { b.lt(&x, &y) };
            let equal = b.eq(&x, &y);
            b.output_of_kind("less", &[less], GroupKind::Bit);
            b.output_of_kind("equal", &[equal], GroupKind::Bit);
        }
        other => {
            let names: Vec<&str> = GENERATORS.iter().map(|(n, _)| *n).collect();
            return Err(Error::arg(format!(
                "unknown circuit '{other}': expected one of {}",
                names.join(", ")
            )));
        }
    }
    b.finish()
}

/// The comparator `garbled compare` runs: `rows` independent comparisons of `bits`-bit values in
/// one circuit. Inputs: the garbler's `rows` values (group `a`, value `i` in wires
/// `i*bits ..`), then the evaluator's (group `b`); outputs: `less` and `equal`, bit `i` for
/// row `i`. Each row costs `bits` ANDs for less-than and `bits - 1` for equality.
pub fn comparator_rows(bits: u32, rows: u32, signed: bool) -> Result<Circuit> {
    if bits == 0 || bits > 4096 {
        return Err(Error::arg(format!(
            "--bits {bits} is out of range: use 1 to 4096"
        )));
    }
    let one = generate(if signed { "scompare" } else { "compare" }, bits, 2)?;
    replicate(&one, rows, &[false, false])
}

/// `copies` side-by-side copies of `one`, gate for gate (no structural hashing: the copies
/// share nothing but the inputs marked shared, and hashing millions of gates only to find no
/// duplicates cost more than garbling them). Input group `g` becomes one group holding copy
/// `i`'s value at `i * width` — or, where `shared[g]`, stays one value every copy reads. Output
/// group `g` becomes one group holding copy `i`'s value at `i * width`.
pub fn replicate(one: &Circuit, copies: u32, shared: &[bool]) -> Result<Circuit> {
    use crate::circuit::ir::Group;
    let too_big = || {
        Error::arg(format!(
            "cannot build {copies} copies of a {}-wire circuit",
            one.num_wires()
        ))
    };
    if copies == 0 || shared.len() != one.inputs().len() {
        return Err(too_big());
    }
    // Where each input group of `one` starts, in `one` and in the copy.
    let mut starts = Vec::with_capacity(shared.len());
    let (mut at_one, mut at_many) = (0u64, 0u64);
    for (g, &is_shared) in one.inputs().iter().zip(shared) {
        starts.push((at_one, at_many, u64::from(g.width), is_shared));
        at_one += u64::from(g.width);
        at_many += u64::from(g.width) * if is_shared { 1 } else { u64::from(copies) };
    }
    let inner = u64::from(one.num_wires()) - at_one;
    let total = at_many + inner * u64::from(copies);
    let total = u32::try_from(total)
        .ok()
        .filter(|&t| t < u32::MAX / 2)
        .ok_or_else(too_big)?;
    let map = |copy: u64, w: u32| -> u32 {
        let w = u64::from(w);
        let mapped = match starts
            .iter()
            .find(|(start, _, width, _)| w >= *start && w < start + width)
        {
            Some(&(start, base, _, true)) => base + (w - start),
            Some(&(start, base, width, false)) => base + copy * width + (w - start),
            None => at_many + copy * inner + (w - at_one),
        };
        mapped as u32
    };
    let mut gates = Vec::with_capacity(one.gates().len() * copies as usize);
    for copy in 0..u64::from(copies) {
        gates.extend(one.gates().iter().map(|g| g.map_wires(|w| map(copy, w))));
    }
    // Output group g of the result: every copy's group g, copy after copy.
    let mut outputs = Vec::with_capacity(one.output_wire_count() * copies as usize);
    let mut at = 0;
    for g in one.outputs() {
        let wires = &one.output_wires()[at..at + g.width as usize];
        for copy in 0..u64::from(copies) {
            outputs.extend(wires.iter().map(|&w| map(copy, w)));
        }
        at += g.width as usize;
    }
    let widen = |g: &Group, times: u32| Group::with_kind(g.name.clone(), g.width * times, g.kind);
    let inputs = one
        .inputs()
        .iter()
        .zip(shared)
        .map(|(g, &s)| widen(g, if s { 1 } else { copies }))
        .collect();
    let output_groups = one.outputs().iter().map(|g| widen(g, copies)).collect();
    Circuit::new(total, inputs, output_groups, gates, outputs)
}

/// `n` AES-128 encryptions under one key: inputs `key` (128 wires) and `plaintexts` (128 per
/// block, block `i` at wires `128*i ..`), output `ciphertexts` in the same layout. Each copy has
/// its own key schedule, so the circuit costs exactly `n` times 6400 AND gates: the workload of
/// `garbled bench --e2e`.
pub fn aes128_many(n: u32) -> Result<Circuit> {
    let mut one = aes128_circuit();
    one = replicate(&one, n, &[true, false])?;
    Ok(one)
}

/// What [`write_aes128_chain`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainStats {
    /// Gate lines.
    pub gates: u64,
    /// Wires.
    pub wires: u64,
    /// AND gates.
    pub and: u64,
}

/// Writes, as Bristol Fashion and without holding it, a circuit of `n` AES-128 copies: inputs
/// `key` and `plaintext` (the aes_128.txt order), copy `i` encrypting `plaintext XOR i` (`i` read
/// as an integer, wire k = bit k, so INV gates on the plaintext wires where `i` has a one), output
/// the XOR of the `n` ciphertexts. Every gate reaches the output (nothing is dead) and the live
/// width stays that of one AES copy plus the running XOR, whatever `n`: the file for measuring
/// circuits longer than memory. Copy 0 alone is the plain AES-128 circuit.
pub fn write_aes128_chain(n: u64, out: &mut impl std::io::Write) -> Result<ChainStats> {
    use crate::circuit::ir::Gate;
    if n == 0 || n > 1 << 26 {
        return Err(Error::arg(format!(
            "--count {n} is out of range for aes128: use 1 to 67108864"
        )));
    }
    let aes = aes128_circuit().to_bristol_layout();
    let w = u64::from(aes.num_wires());
    let g = aes.gates().len() as u64;
    let ands = aes.stats().and;
    let ones: u64 = (0..n).map(|i| u64::from(i.count_ones())).sum();
    let wires = 256 + n * (w - 256) + ones + 128 * (n - 1);
    let gates = n * g + ones + 128 * (n - 1);
    if wires >= u64::from(u32::MAX) {
        return Err(Error::arg(format!(
            "--count {n}: the circuit would need {wires} wires, more than 32-bit wire numbers hold"
        )));
    }
    let io = |e| Error::io("writing the circuit", e);
    writeln!(out, "{gates} {wires}\n2 128 128\n1 128\n").map_err(io)?;
    let mut next = 256u64;
    let mut plain: Vec<u64> = (128..256).collect();
    let mut acc: Vec<u64> = Vec::new();
    for i in 0..n {
        for (j, p) in plain.iter_mut().enumerate() {
            *p = 128 + j as u64;
            if j < 64 && i >> j & 1 == 1 {
                writeln!(out, "1 1 {} {next} INV", 128 + j).map_err(io)?;
                *p = next;
                next += 1;
            }
        }
        let base = next;
        let map = |x: u32| -> u64 {
            let x = u64::from(x);
            if x < 128 {
                x
            } else if x < 256 {
                plain[(x - 128) as usize]
            } else {
                base + x - 256
            }
        };
        for gate in aes.gates() {
            match *gate {
                Gate::Xor { a, b, out: o } => {
                    writeln!(out, "2 1 {} {} {} XOR", map(a), map(b), map(o))
                }
                Gate::And { a, b, out: o } => {
                    writeln!(out, "2 1 {} {} {} AND", map(a), map(b), map(o))
                }
                Gate::Inv { a, out: o } => writeln!(out, "1 1 {} {} INV", map(a), map(o)),
                Gate::Const { value, out: o } => {
                    writeln!(out, "1 1 {} {} EQ", u8::from(value), map(o))
                }
                Gate::Copy { a, out: o } => writeln!(out, "1 1 {} {} EQW", map(a), map(o)),
            }
            .map_err(io)?;
        }
        next = base + w - 256;
        let outputs: Vec<u64> = aes.output_wires().iter().map(|&o| map(o)).collect();
        if i == 0 {
            acc = outputs;
        } else {
            for (a, o) in acc.iter_mut().zip(outputs) {
                writeln!(out, "2 1 {a} {o} {next} XOR").map_err(io)?;
                *a = next;
                next += 1;
            }
        }
    }
    debug_assert_eq!(next, wires);
    Ok(ChainStats {
        gates,
        wires,
        and: ands * n,
    })
}

/// The circuit of a job whose inputs arrive as XOR shares: input groups `g1..gn` of `one` become
/// `2n` groups, the garbler's shares of `g1..gn` then the evaluator's, and each wire of `one`'s
/// input is the XOR of its two shares (free gates under free-XOR). Outputs are `one`'s. Groups
/// keep their names, with `.garbler` / `.evaluator` appended.
pub fn xor_shared_inputs(one: &Circuit) -> Result<Circuit> {
    use crate::circuit::ir::{Gate, Group};
    let width = u32::try_from(one.input_wire_count())
        .map_err(|_| Error::arg("the job circuit has too many input wires"))?;
    let total = one
        .num_wires()
        .checked_add(2 * width)
        .filter(|&t| t < u32::MAX / 2)
        .ok_or_else(|| Error::arg("the job circuit has too many wires to take shared inputs"))?;
    // Shares: the garbler's at 0..width, the evaluator's at width..2*width; `one`'s wire w at
    // 2*width + w (its inputs are then the XOR gates' outputs).
    let shift = |w: u32| w + 2 * width;
    let mut gates = Vec::with_capacity(one.gates().len() + width as usize);
    for j in 0..width {
        gates.push(Gate::Xor {
            a: j,
            b: width + j,
            out: shift(j),
        });
    }
    gates.extend(one.gates().iter().map(|g| g.map_wires(shift)));
    let outputs = one.output_wires().iter().map(|&w| shift(w)).collect();
    let mut inputs = Vec::with_capacity(2 * one.inputs().len());
    for side in ["garbler", "evaluator"] {
        inputs.extend(
            one.inputs()
                .iter()
                .map(|g| Group::with_kind(format!("{}.{side}", g.name), g.width, g.kind)),
        );
    }
    Circuit::new(total, inputs, one.outputs().to_vec(), gates, outputs)
}
