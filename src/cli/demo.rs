//! `garbled demo`: the main job on built-in data, both parties in this process over loopback
//! TCP: two hospitals sum their private patient counts, an AES-128 encryption under the
//! garbler's key of the evaluator's plaintext, and a comparison.

use clap::Args;

use super::net::{CommandClock, run_local, stats_line};
use crate::circuit::builder::{Builder, aes128_circuit};
use crate::circuit::library;
use crate::compile::{Program, compile};
use crate::error::{Error, Result};
use crate::net::tcp::Timeouts;
use crate::protocol::{Party, Reveal, SessionOptions, SessionStats, run_evaluator, run_garbler};
use crate::value::{format_value, parse_integer_bits};

/// Arguments of `garbled demo` (none needed).
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Print the results as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Conditions the hospitals count patients for.
const CONDITIONS: [&str; 6] = [
    "asthma",
    "diabetes",
    "hypertension",
    "influenza",
    "migraine",
    "sepsis",
];
const HOSPITAL_A: [u32; 6] = [120, 342, 578, 95, 61, 14];
const HOSPITAL_B: [u32; 6] = [87, 410, 633, 140, 52, 9];
/// Bits per count and for the total.
const COUNT_BITS: u32 = 32;

/// The hospitals' circuit: element-wise sums of two count vectors and the grand total.
pub(crate) fn hospitals_circuit(conditions: usize, bits: u32) -> Result<crate::circuit::Circuit> {
    let mut b = Builder::new();
    let a = b.input("hospital_a", bits * conditions as u32);
    let c = b.input("hospital_b", bits * conditions as u32);
    let n = bits as usize;
    let sums: Vec<Vec<_>> = (0..conditions)
        .map(|i| b.add(&a[i * n..(i + 1) * n], &c[i * n..(i + 1) * n]))
        .collect();
    let total = b.sum(&sums);
    b.output("sums", &sums.concat());
    b.output("total", &total);
    b.finish()
}

fn pack(values: &[u32], bits: u32) -> Vec<bool> {
    values
        .iter()
        .flat_map(|&v| (0..bits).map(move |k| v >> k & 1 == 1))
        .collect()
}

fn unpack(bits: &[bool], width: u32) -> Vec<u64> {
    bits.chunks(width as usize)
        .map(|c| c.iter().enumerate().map(|(k, &b)| u64::from(b) << k).sum())
        .collect()
}

/// Runs one two-party job locally and returns both views and the garbler's statistics.
type View = Vec<Option<Vec<bool>>>;
fn two_party(
    program: &Program,
    reveal: Vec<Reveal>,
    garbler: Vec<Vec<bool>>,
    evaluator: Vec<Vec<bool>>,
) -> Result<(View, View, SessionStats)> {
    let options = SessionOptions::new(program, vec![Party::Garbler, Party::Evaluator], reveal)?;
    let e_options = options.clone();
    let timeouts = Timeouts::idle(std::time::Duration::from_secs(30));
    let ((g, stats), (e, _)) = run_local(
        timeouts,
        true,
        None,
        |channel| run_garbler(program, &garbler, channel, options),
        move |channel| run_evaluator(program, &evaluator, channel, e_options),
    )?;
    Ok((g, e, stats))
}

fn require(view: &Option<Vec<bool>>, what: &str) -> Result<Vec<bool>> {
    view.clone()
        .ok_or_else(|| Error::SelfCheck(format!("{what} was not revealed")))
}

pub(crate) fn run(args: &DemoArgs) -> Result<()> {
    let say = |line: String| {
        if !args.json {
            // A closed standard output only loses the demo's narration.
            let _ = outln!("{line}");
        }
    };
    // 1. Hospitals.
    say("1. Two hospitals add up their patient counts; neither sees the other's counts.".into());
    let h_clock = CommandClock::new("both");
    let circuit = hospitals_circuit(CONDITIONS.len(), COUNT_BITS)?;
    let program = compile(&circuit)?;
    let (g, e, h_stats) = two_party(
        &program,
        vec![Reveal::Both, Reveal::Both],
        vec![pack(&HOSPITAL_A, COUNT_BITS)],
        vec![pack(&HOSPITAL_B, COUNT_BITS)],
    )?;
    let h_json = super::net::stats_json(&h_stats, &h_clock);
    let sums = unpack(&require(&g[0], "the sums")?, COUNT_BITS);
    let total = unpack(&require(&g[1], "the total")?, COUNT_BITS)[0];
    if g != e {
        return Err(Error::SelfCheck(
            "the two hospitals saw different results".into(),
        ));
    }
    let expected: Vec<u64> = HOSPITAL_A
        .iter()
        .zip(&HOSPITAL_B)
        .map(|(a, b)| u64::from(a + b))
        .collect();
    if sums != expected || total != expected.iter().sum::<u64>() {
        return Err(Error::SelfCheck(format!(
            "hospital sums {sums:?} (total {total}) are wrong"
        )));
    }
    say(format!(
        "   {:<14} {:>10} {:>10} {:>10}",
        "condition", "hospital A", "hospital B", "sum"
    ));
    for (i, name) in CONDITIONS.iter().enumerate() {
        say(format!(
            "   {name:<14} {:>10} {:>10} {:>10}",
            HOSPITAL_A[i], HOSPITAL_B[i], sums[i]
        ));
    }
    say(format!("   {:<14} {:>32}", "total", total));
    say(format!("   {}", stats_line(&h_stats, &h_clock)));

    // 2. AES-128.
    say("2. AES-128: the garbler holds the key, the evaluator the plaintext; only the evaluator learns the ciphertext.".into());
    let key = "0x2b7e151628aed2a6abf7158809cf4f3c";
    let plaintext = "0x3243f6a8885a308d313198a2e0370734";
    let fips = "0x3925841d02dc09fbdc118597196a0b32";
    let program = compile(&aes128_circuit())?;
    let a_clock = CommandClock::new("both");
    let (g, e, a_stats) = two_party(
        &program,
        vec![Reveal::Evaluator],
        vec![parse_integer_bits(key, 128)?],
        vec![parse_integer_bits(plaintext, 128)?],
    )?;
    let a_json = super::net::stats_json(&a_stats, &a_clock);
    let ciphertext = format_value(
        &require(&e[0], "the ciphertext")?,
        crate::value::BitOrder::Lsb0,
    );
    if g[0].is_some() {
        return Err(Error::SelfCheck(
            "the garbler learned the ciphertext".into(),
        ));
    }
    if ciphertext != fips {
        return Err(Error::SelfCheck(format!(
            "AES-128 gave {ciphertext}, FIPS-197 says {fips}"
        )));
    }
    say(format!("   key (garbler)          {key}"));
    say(format!("   plaintext (evaluator)  {plaintext}"));
    say(format!(
        "   ciphertext             {ciphertext}  (FIPS-197 Appendix B: match; the garbler saw nothing)"
    ));
    say(format!("   {}", stats_line(&a_stats, &a_clock)));

    // 3. Comparison.
    say("3. Millionaires: who is richer? Both learn only the answer.".into());
    let (alice, bob) = (1_000_000u64, 2_500_000u64);
    let program = compile(&library::generate("compare", 64, 2)?)?;
    let c_clock = CommandClock::new("both");
    let (g, _, c_stats) = two_party(
        &program,
        vec![Reveal::Both, Reveal::Both],
        vec![parse_integer_bits(&alice.to_string(), 64)?],
        vec![parse_integer_bits(&bob.to_string(), 64)?],
    )?;
    let c_json = super::net::stats_json(&c_stats, &c_clock);
    let (less, equal) = (require(&g[0], "less")?[0], require(&g[1], "equal")?[0]);
    let answer = if less {
        "less"
    } else if equal {
        "equal"
    } else {
        "greater"
    };
    if answer != "less" {
        return Err(Error::SelfCheck(format!(
            "1000000 vs 2500000 gave {answer}"
        )));
    }
    say(format!("   garbler {alice} vs evaluator {bob}: {answer}"));
    say(format!("   {}", stats_line(&c_stats, &c_clock)));
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "hospitals": {"sums": sums, "total": total, "stats": h_json},
                "aes128": {"ciphertext": ciphertext, "fips197": true, "stats": a_json},
                "compare": {"garbler": alice, "evaluator": bob, "result": answer, "stats": c_json},
            })
        )?;
    }
    Ok(())
}
