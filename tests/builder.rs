//! The builder: every integer gadget against Rust arithmetic, AES-128 against the `aes` crate,
//! SHA-256 against a reference, both against the Bristol kit's files; the optimization passes;
//! and the shipped `circuits/` files against the generator.

mod common;

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use common::*;
use garbled::circuit::builder::{SHA256_IV, aes128_circuit, sha256_circuit};
use garbled::circuit::optimize::{Pass, optimize, run_pass};
use garbled::circuit::{Circuit, FormatChoice, bristol, library, plain};
use proptest::prelude::*;

fn bits(v: u128, n: usize) -> Vec<bool> {
    (0..n).map(|k| k < 128 && v >> k & 1 == 1).collect()
}

fn int(b: &[bool]) -> u128 {
    b.iter().enumerate().map(|(k, &x)| u128::from(x) << k).sum()
}

fn mask(n: usize) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

fn sign_extend(v: u128, n: usize) -> i128 {
    let shift = 128 - n;
    ((v << shift) as i128) >> shift
}

/// Evaluates a library circuit on integer inputs and returns its outputs as integers.
fn run(c: &Circuit, inputs: &[u128]) -> Vec<u128> {
    let groups: Vec<Vec<bool>> = inputs
        .iter()
        .zip(c.input_widths())
        .map(|(&v, w)| bits(v, w as usize))
        .collect();
    plain::eval_bits(c, &groups)
        .unwrap()
        .iter()
        .map(|b| int(b))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn integer_gadgets_match_rust(n in 1usize..=64, a in any::<u128>(), b in any::<u128>(), s in any::<bool>()) {
        let (a, b) = (a & mask(n), b & mask(n));
        let m = mask(n);
        let make = |name: &str| library::generate(name, n as u32, 2).unwrap();
        prop_assert_eq!(run(&make("add"), &[a, b]), vec![(a + b) & m]);
        prop_assert_eq!(run(&make("sub"), &[a, b]), vec![a.wrapping_sub(b) & m]);
        prop_assert_eq!(run(&make("neg"), &[a]), vec![a.wrapping_neg() & m]);
        prop_assert_eq!(run(&make("lt"), &[a, b]), vec![u128::from(a < b)]);
        prop_assert_eq!(run(&make("le"), &[a, b]), vec![u128::from(a <= b)]);
        let (sa, sb) = (sign_extend(a, n), sign_extend(b, n));
        prop_assert_eq!(run(&make("slt"), &[a, b]), vec![u128::from(sa < sb)]);
        prop_assert_eq!(run(&make("sle"), &[a, b]), vec![u128::from(sa <= sb)]);
        prop_assert_eq!(run(&make("eq"), &[a, b]), vec![u128::from(a == b)]);
        prop_assert_eq!(run(&make("eq"), &[a, a]), vec![1]);
        prop_assert_eq!(run(&make("compare"), &[a, b]), vec![u128::from(a < b), u128::from(a == b)]);
        prop_assert_eq!(run(&make("scompare"), &[a, b]), vec![u128::from(sa < sb), u128::from(a == b)]);
        prop_assert_eq!(run(&make("mux"), &[u128::from(s), a, b]), vec![if s { b } else { a }]);
        if n <= 32 {
            prop_assert_eq!(run(&make("mul"), &[a, b]), vec![a.wrapping_mul(b) & m]);
            prop_assert_eq!(run(&make("mulfull"), &[a, b]), vec![a * b]);
        }
        let sum = library::generate("sum", n as u32, 3).unwrap();
        prop_assert_eq!(run(&sum, &[a, b, a ^ b]), vec![(a + b + (a ^ b)) & m]);
    }
}

#[test]
fn gadgets_have_the_promised_and_counts() {
    for n in [1u32, 2, 8, 31, 64, 100] {
        let and = |name: &str| library::generate(name, n, 2).unwrap().stats().and;
        let n64 = u64::from(n);
        for name in ["lt", "le", "slt", "sle"] {
            assert_eq!(and(name), n64, "{name} {n}");
        }
        assert_eq!(and("eq"), n64 - 1, "eq {n}");
        assert_eq!(and("add"), n64 - 1, "add {n}");
        assert_eq!(and("sub"), n64 - 1, "sub {n}");
        assert_eq!(and("mux"), n64, "mux {n}");
        assert_eq!(and("compare"), 2 * n64 - 1, "compare {n}");
    }
    // The public Bristol files' counts, matched exactly by schoolbook multiplication.
    assert_eq!(library::generate("mul", 64, 2).unwrap().stats().and, 4033);
    assert_eq!(
        library::generate("mulfull", 64, 2).unwrap().stats().and,
        8128
    );
    assert_eq!(library::generate("neg", 64, 2).unwrap().stats().and, 62);
    assert!(aes128_circuit().stats().and <= 6400);
    assert!(sha256_circuit().stats().and <= 22573);
}

#[test]
fn aes128_matches_the_aes_crate() {
    let c = aes128_circuit();
    let mut prg = garbled::aes::Prg::from_seed([11; 16]);
    for _ in 0..20 {
        let mut key = [0u8; 16];
        let mut pt = [0u8; 16];
        prg.fill_bytes(&mut key);
        prg.fill_bytes(&mut pt);
        let cipher = aes::Aes128::new(&key.into());
        let mut block = aes::Block::from(pt);
        cipher.encrypt_block(&mut block);
        let be = |b: &[u8]| u128::from_be_bytes(b.try_into().unwrap());
        assert_eq!(run(&c, &[be(&key), be(&pt)]), vec![be(&block)]);
    }
}

/// SHA-256 compression written out from FIPS 180-4 §6.2.2, independent of the builder.
fn sha256_reference(state: [u32; 8], block: &[u8; 64]) -> [u32; 8] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut w = [0u32; 64];
    for t in 0..16 {
        w[t] = u32::from_be_bytes(block[4 * t..4 * t + 4].try_into().unwrap());
    }
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = s1
            .wrapping_add(w[t - 7])
            .wrapping_add(s0)
            .wrapping_add(w[t - 16]);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
    for t in 0..64 {
        let t1 = h
            .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
            .wrapping_add((e & f) ^ (!e & g))
            .wrapping_add(K[t])
            .wrapping_add(w[t]);
        let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
            .wrapping_add((a & b) ^ (a & c) ^ (b & c));
        (h, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
    }
    let out = [a, b, c, d, e, f, g, h];
    std::array::from_fn(|i| state[i].wrapping_add(out[i]))
}

fn words_to_bits(words: &[u32]) -> Vec<bool> {
    // Big-endian words as one integer, wire k = bit k: the last word comes first.
    words
        .iter()
        .rev()
        .flat_map(|w| (0..32).map(move |k| w >> k & 1 == 1))
        .collect()
}

#[test]
fn sha256_matches_the_reference() {
    let c = sha256_circuit();
    // The digest of "abc": one padded block with the standard IV.
    let mut block = [0u8; 64];
    block[..3].copy_from_slice(b"abc");
    block[3] = 0x80;
    block[63] = 24;
    let digest = sha256_reference(SHA256_IV, &block);
    assert_eq!(
        digest[0], 0xba7816bf,
        "the reference itself gives the known digest of 'abc'"
    );
    let mut prg = garbled::aes::Prg::from_seed([12; 16]);
    for round in 0..10 {
        if round > 0 {
            prg.fill_bytes(&mut block);
        }
        let mut state = SHA256_IV;
        if round > 5 {
            let mut raw = [0u8; 32];
            prg.fill_bytes(&mut raw);
            state = std::array::from_fn(|i| {
                u32::from_be_bytes(raw[4 * i..4 * i + 4].try_into().unwrap())
            });
        }
        let block_words: Vec<u32> = block
            .chunks(4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
            .collect();
        let got =
            plain::eval_bits(&c, &[words_to_bits(&block_words), words_to_bits(&state)]).unwrap();
        assert_eq!(
            got[0],
            words_to_bits(&sha256_reference(state, &block)),
            "round {round}"
        );
    }
}

/// The generated AES-128 and SHA-256 compute what the kit's files compute: on every vector of the
/// kit and on 64 random inputs at once.
#[test]
fn generated_aes_and_sha_equal_the_kit_files() {
    let Some((dir, vectors)) = vectors() else {
        return;
    };
    for (ours, theirs) in [
        (aes128_circuit(), "fashion/aes_128"),
        (sha256_circuit(), "fashion/sha256"),
    ] {
        let entry = &vectors["circuits"][theirs];
        let reference = load(&dir, entry["file"].as_str().unwrap());
        assert_eq!(ours.input_widths(), reference.input_widths());
        assert_eq!(ours.output_widths(), reference.output_widths());
        assert!(ours.stats().and <= reference.stats().and);
        for v in all_vectors(entry) {
            assert_eq!(
                plain::eval_bits(&ours, &v.inputs).unwrap(),
                v.outputs,
                "{theirs} {}",
                v.label
            );
        }
        let mut prg = garbled::aes::Prg::from_seed([13; 16]);
        let mut lanes = vec![0u64; ours.input_wire_count()];
        for l in lanes.iter_mut() {
            *l = prg.block().value() as u64;
        }
        assert_eq!(
            plain::eval_lanes(&ours, &lanes).unwrap(),
            plain::eval_lanes(&reference, &lanes).unwrap(),
            "{theirs}"
        );
    }
}

fn equal_on_random_lanes(a: &Circuit, b: &Circuit, seed: u8) -> bool {
    let mut prg = garbled::aes::Prg::from_seed([seed; 16]);
    (0..4).all(|_| {
        let lanes: Vec<u64> = (0..a.input_wire_count())
            .map(|_| prg.block().value() as u64)
            .collect();
        plain::eval_lanes(a, &lanes).unwrap() == plain::eval_lanes(b, &lanes).unwrap()
    })
}

#[test]
fn passes_preserve_the_function_and_never_add_ands() {
    let mut circuits: Vec<(String, Circuit)> = (0..40)
        .map(|s| {
            (
                format!("random {s}"),
                random_circuit(s, 1 + (s % 3) as usize, 300, 12),
            )
        })
        .collect();
    if let Some((dir, vectors)) = vectors() {
        for (name, entry) in vectors["circuits"].as_object().unwrap() {
            circuits.push((name.clone(), load(&dir, entry["file"].as_str().unwrap())));
        }
    }
    for (name, c) in &circuits {
        for pass in Pass::ALL {
            let o = run_pass(c, pass).unwrap();
            assert!(o.stats().and <= c.stats().and, "{name} {pass:?}");
            assert!(
                equal_on_random_lanes(c, &o, 1),
                "{name} {pass:?} changed the function"
            );
        }
        let o = optimize(c).unwrap();
        assert!(o.stats().and <= c.stats().and, "{name}");
        assert!(
            o.gates().len() <= c.gates().len() + c.output_wire_count(),
            "{name}"
        );
        assert!(
            equal_on_random_lanes(c, &o, 2),
            "{name}: optimize changed the function"
        );
    }
}

#[test]
fn passes_do_what_they_say() {
    use garbled::circuit::{Gate, Group};
    // in: x (wire 0), y (wire 1). Gates: c=1, t=x AND c (= x), u = x AND y, v = x AND y (dup),
    // w = NOT NOT u, dead = x XOR y; output: t, v, w.
    let gates = vec![
        Gate::Const {
            value: true,
            out: 2,
        },
        Gate::And { a: 0, b: 2, out: 3 },
        Gate::And { a: 0, b: 1, out: 4 },
        Gate::And { a: 1, b: 0, out: 5 },
        Gate::Inv { a: 4, out: 6 },
        Gate::Inv { a: 6, out: 7 },
        Gate::Xor { a: 0, b: 1, out: 8 },
    ];
    let c = Circuit::new(
        9,
        vec![Group::new("x", 1), Group::new("y", 1)],
        vec![Group::new("o", 3)],
        gates,
        vec![3, 5, 7],
    )
    .unwrap();
    assert_eq!(c.stats().and, 3);
    assert_eq!(
        run_pass(&c, Pass::ConstantPropagation).unwrap().stats().and,
        2
    );
    assert_eq!(
        run_pass(&c, Pass::StructuralHashing).unwrap().stats().and,
        2
    );
    // The output no longer goes through the two NOTs; the first stays, unread, until dead-gate
    // removal drops it.
    assert_eq!(c.stats().inv, 2);
    assert_eq!(run_pass(&c, Pass::XorInv).unwrap().stats().inv, 1);
    assert_eq!(run_pass(&c, Pass::DeadGates).unwrap().stats().xor, 0);
    let all = optimize(&c).unwrap();
    assert_eq!(
        (all.stats().and, all.stats().xor, all.stats().inv),
        (1, 0, 0)
    );
}

#[test]
fn shipped_circuits_match_the_generator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let (name, bits) = match stem.trim_end_matches(char::is_numeric) {
            n if n == stem || n == "aes" || n == "sha" => (stem.clone(), 32),
            n => (n.to_string(), stem[n.len()..].parse().unwrap()),
        };
        let generated = library::generate(&name, bits, 2).unwrap();
        let text = bristol::to_fashion_string(&generated);
        let shipped = std::fs::read_to_string(&path).unwrap();
        assert!(
            shipped == text,
            "{} differs from `garbled gen {name} --bits {bits}`: run circuits/generate.sh",
            path.display()
        );
        let parsed = bristol::parse_str(&shipped, FormatChoice::Fashion)
            .unwrap()
            .circuit;
        let s = parsed.stats();
        let row = format!("| `{stem}.txt` |");
        let line = readme
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("README lacks {stem}"));
        let counts = format!("| {} | {} | {} | {} |", s.and, s.xor, s.inv, s.and_depth);
        assert!(
            line.ends_with(&counts),
            "README row for {stem} should end with {counts}: {line}"
        );
        files += 1;
    }
    assert!(files >= 20, "{files}");
}
