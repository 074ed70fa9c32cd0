//! The circuits `garbled gen` writes and the protocol commands use, built with the
//! [`Builder`](crate::circuit::builder::Builder).
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
        "AES-128: key, plaintext -> ciphertext (Bristol Fashion aes_128.txt order)",
    ),
    (
        "sha256",
        "SHA-256 compression: block, state_in -> state_out (sha256.txt order)",
    ),
];

/// Largest width accepted for integer circuits (multipliers grow with n^2).
pub const MAX_BITS: u32 = 1 << 16;
/// Largest width accepted for multipliers.
pub const MAX_MUL_BITS: u32 = 2048;

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
    let kind = if signed {
        GroupKind::Signed
    } else {
        GroupKind::Unsigned
    };
    let mut b = Builder::new();
    let a = b.input_of_kind("a", bits * rows, kind);
    let c = b.input_of_kind("b", bits * rows, kind);
    let mut less = Vec::with_capacity(rows as usize);
    let mut equal = Vec::with_capacity(rows as usize);
    for r in 0..rows as usize {
        let x = &a[r * bits as usize..(r + 1) * bits as usize];
        let y = &c[r * bits as usize..(r + 1) * bits as usize];
        less.push(if signed { b.slt(x, y) } else { b.lt(x, y) });
        equal.push(b.eq(x, y));
    }
    b.output_of_kind("less", &less, GroupKind::Bit);
    b.output_of_kind("equal", &equal, GroupKind::Bit);
    b.finish()
}

/// `n` AES-128 encryptions under one key: inputs `key` (128 wires) and `plaintexts` (128 per
/// block, block `i` at wires `128*i ..`), output `ciphertexts` in the same layout. Built by
/// replicating [`aes128_circuit`] gate for gate (each copy has its own key schedule, so the circuit
/// costs exactly `n` times 6400 AND gates): the workload of `garbled bench --e2e`.
pub fn aes128_many(n: u32) -> Result<Circuit> {
    use crate::circuit::ir::Group;
    let one = aes128_circuit();
    if n == 0 || u64::from(n) * u64::from(one.num_wires()) > u64::from(u32::MAX) / 2 {
        return Err(Error::arg(format!("cannot build {n} AES-128 copies")));
    }
    let per = one.num_wires() - 256;
    let base = |i: u32| 128 + 128 * n + i * per;
    let map = |i: u32, w: u32| -> u32 {
        match w {
            0..128 => w,
            128..256 => 128 + 128 * i + (w - 128),
            _ => base(i) + (w - 256),
        }
    };
    let mut gates = Vec::with_capacity(one.gates().len() * n as usize);
    let mut outputs = Vec::with_capacity(128 * n as usize);
    for i in 0..n {
        let m = |w: u32| map(i, w);
        gates.extend(one.gates().iter().map(|g| g.map_wires(m)));
        outputs.extend(one.output_wires().iter().map(|&w| m(w)));
    }
    Circuit::new(
        base(n),
        vec![
            Group::with_kind("key", 128, GroupKind::Bytes),
            Group::with_kind("plaintexts", 128 * n, GroupKind::Bytes),
        ],
        vec![Group::with_kind("ciphertexts", 128 * n, GroupKind::Bytes)],
        gates,
        outputs,
    )
}
