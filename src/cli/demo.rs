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
const HOSPITAL_C: [u32; 6] = [33, 129, 208, 61, 17, 4];
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
    // 4. Three hospitals, two compute parties.
    say("4. Three hospitals, two compute parties: each hospital sends XOR shares of its counts to two compute parties, which add them up without seeing any count; only hospitals A and B receive the totals.".into());
    let job = three_hospitals(&say)?;
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "three_hospitals": job,
                "hospitals": {"sums": sums, "total": total, "stats": h_json},
                "aes128": {"ciphertext": ciphertext, "fips197": true, "stats": a_json},
                "compare": {"garbler": alice, "evaluator": bob, "result": answer, "stats": c_json},
            })
        )?;
    }
    Ok(())
}

/// A temporary directory removed on drop (the demo's identities and job file).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Part 4: five processes on loopback (`garbled serve` twice, `garbled contribute` three times)
/// with throwaway identities and a job file in a temporary directory.
fn three_hospitals(say: &dyn Fn(String)) -> Result<serde_json::Value> {
    use crate::job::JobSpec;
    use crate::net::tls::Identity;
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("finding the garbled executable for the job's processes", e))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir =
        TempDir(std::env::temp_dir().join(format!("garbled-demo-{}-{nanos}", std::process::id())));
    std::fs::create_dir_all(&dir.0)
        .map_err(|e| Error::io(format!("creating {}", dir.0.display()), e))?;
    let names = [
        "garbler",
        "evaluator",
        "hospital-a",
        "hospital-b",
        "hospital-c",
    ];
    let mut fingerprints = Vec::new();
    for name in names {
        let identity = Identity::generate()?;
        super::keygen::write_private(
            &dir.0.join(format!("{name}.pem")),
            identity.to_pem().as_bytes(),
            false,
        )?;
        fingerprints.push(identity.fingerprint());
    }
    let port = || -> Result<String> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Error::io("choosing a loopback port", e))?;
        let port = l
            .local_addr()
            .map_err(|e| Error::io("reading a loopback port", e))?
            .port();
        Ok(format!("127.0.0.1:{port}"))
    };
    let spec = JobSpec {
        name: "demo-three-hospitals".into(),
        security: crate::auth::Security::SemiHonest,
        timeout: 30,
        generator: ("sum".into(), COUNT_BITS, 3, CONDITIONS.len() as u32),
        garbler: (port()?, fingerprints[0]),
        evaluator: (port()?, fingerprints[1]),
        contributors: (0..3)
            .map(|i| (names[i + 2].to_string(), fingerprints[i + 2], vec![i + 1]))
            .collect(),
        recipients: Some(vec!["hospital-a".into(), "hospital-b".into()]),
    };
    let job = dir.0.join("job.toml");
    std::fs::write(&job, spec.to_toml())
        .map_err(|e| Error::io(format!("writing {}", job.display()), e))?;
    let started = std::time::Instant::now();
    let spawn = |args: &[&str]| -> Result<std::process::Child> {
        std::process::Command::new(&exe)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("starting a job process", e))
    };
    let path = |name: &str| dir.0.join(format!("{name}.pem")).display().to_string();
    let job_arg = job.display().to_string();
    let mut compute = Vec::new();
    for role in ["garbler", "evaluator"] {
        compute.push(spawn(&[
            "serve",
            &job_arg,
            "--as",
            role,
            "--identity",
            &path(role),
            "--json",
        ])?);
    }
    let mut hospitals = Vec::new();
    for (i, counts) in [HOSPITAL_A, HOSPITAL_B, HOSPITAL_C].iter().enumerate() {
        let values: Vec<String> = counts.iter().map(u32::to_string).collect();
        hospitals.push(spawn(&[
            "contribute",
            &job_arg,
            "--identity",
            &path(names[i + 2]),
            "--values",
            &values.join(","),
            "--output-format",
            "dec",
            "--json",
        ])?);
    }
    let finish = |child: std::process::Child, who: &str| -> Result<serde_json::Value> {
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("waiting for {who}"), e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let value: serde_json::Value = serde_json::from_str(text.trim()).map_err(|_| {
            Error::SelfCheck(format!(
                "{who} printed no JSON: {}",
                crate::text::escape(&String::from_utf8_lossy(&out.stderr), 400)
            ))
        })?;
        if !out.status.success() {
            return Err(Error::SelfCheck(format!("{who} failed: {value}")));
        }
        Ok(value)
    };
    let mut seen = Vec::new();
    for (child, name) in hospitals.into_iter().zip(&names[2..]) {
        seen.push(finish(child, name)?);
    }
    let job_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut served = Vec::new();
    for (child, name) in compute
        .into_iter()
        .zip(["the garbler compute party", "the evaluator compute party"])
    {
        served.push(finish(child, name)?);
    }
    let expected: Vec<String> = (0..CONDITIONS.len())
        .map(|i| (HOSPITAL_A[i] + HOSPITAL_B[i] + HOSPITAL_C[i]).to_string())
        .collect();
    let outputs = |v: &serde_json::Value| -> Option<Vec<String>> {
        v["outputs"].as_array().map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
    };
    if outputs(&seen[0]).as_ref() != Some(&expected)
        || outputs(&seen[1]).as_ref() != Some(&expected)
    {
        return Err(Error::SelfCheck(
            "the recipient hospitals got wrong totals".into(),
        ));
    }
    if outputs(&seen[2]).is_some() || served.iter().any(|v| outputs(v).is_some()) {
        return Err(Error::SelfCheck(
            "a party that is not a recipient saw the totals".into(),
        ));
    }
    say(format!(
        "   {:<14} {:>10} {:>10} {:>10} {:>10}",
        "condition", "hospital A", "hospital B", "hospital C", "total"
    ));
    for (i, name) in CONDITIONS.iter().enumerate() {
        say(format!(
            "   {name:<14} {:>10} {:>10} {:>10} {:>10}",
            HOSPITAL_A[i], HOSPITAL_B[i], HOSPITAL_C[i], expected[i]
        ));
    }
    say("   hospitals A and B printed the totals; hospital C and the two compute parties printed nothing".into());
    say(format!(
        "   5 processes (garbled serve x2, garbled contribute x3) over mutual TLS with throwaway identities: {job_ms:.1} ms"
    ));
    Ok(serde_json::json!({
        "totals": expected,
        "recipients": ["hospital-a", "hospital-b"],
        "job_ms": (job_ms * 1e3).round() / 1e3,
        "compute_stats": [served[0]["stats"].clone(), served[1]["stats"].clone()],
    }))
}
