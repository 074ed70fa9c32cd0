//! `garbled bench --job`: the five-hospital job (8 x 32-bit counts each, summed, the result to
//! two hospitals) in this process over loopback TLS, against the plain two-party sum of the same
//! values in the same run.

use std::time::{Duration, Instant};

use crate::circuit::library;
use crate::compile::compile;
use crate::error::{Error, Result};
use crate::job::{Job, JobSpec, contribute, serve};
use crate::net::tcp::Timeouts;
use crate::net::tls::Identity;
use crate::protocol::{Party, Reveal, SessionOptions, run_evaluator, run_garbler};

const HOSPITALS: usize = 5;
const CONDITIONS: u32 = 8;
const BITS: u32 = 32;

/// Every hospital's counts, as bits: hospital `i` counts `1000 (i + 1) + c` for condition `c`.
fn counts() -> Vec<Vec<bool>> {
    (0..HOSPITALS)
        .map(|i| {
            (0..CONDITIONS)
                .flat_map(|c| {
                    let v = 1000 * (i as u32 + 1) + c;
                    (0..BITS).map(move |k| v >> k & 1 == 1)
                })
                .collect()
        })
        .collect()
}

/// One run of the job: its time (first share sent to the last result) and its bytes (every
/// connection, both directions counted once).
fn job_once(security: crate::auth::Security) -> Result<(Duration, u64)> {
    let identities: Vec<Identity> = (0..HOSPITALS + 2)
        .map(|_| Identity::generate())
        .collect::<Result<_>>()?;
    let port = || -> Result<String> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Error::io("choosing a loopback port", e))?;
        Ok(format!(
            "127.0.0.1:{}",
            l.local_addr()
                .map_err(|e| Error::io("reading a loopback port", e))?
                .port()
        ))
    };
    let spec = JobSpec {
        name: "bench-five-hospitals".into(),
        security,
        timeout: 60,
        generator: ("sum".into(), BITS, HOSPITALS as u32, CONDITIONS),
        garbler: (port()?, identities[0].fingerprint()),
        evaluator: (port()?, identities[1].fingerprint()),
        contributors: (0..HOSPITALS)
            .map(|i| {
                (
                    format!("hospital-{}", i + 1),
                    identities[i + 2].fingerprint(),
                    vec![i + 1],
                )
            })
            .collect(),
        recipients: Some(vec!["hospital-1".into(), "hospital-2".into()]),
    };
    let job = Job::parse(std::path::Path::new("bench.toml"), &spec.to_toml())?;
    let values = counts();
    let quiet = |_: &str| {};
    let (elapsed, bytes, results) = std::thread::scope(|s| -> Result<_> {
        let job = &job;
        let g = s.spawn(|| serve(job, Party::Garbler, identities[0].clone(), None, &quiet));
        let e = s.spawn(|| serve(job, Party::Evaluator, identities[1].clone(), None, &quiet));
        let start = Instant::now();
        let contributors: Vec<_> = (0..HOSPITALS)
            .map(|i| {
                let (identity, value) = (identities[i + 2].clone(), values[i].clone());
                s.spawn(move || contribute(job, identity, &[value]))
            })
            .collect();
        let mut results = Vec::new();
        let mut bytes = 0;
        for c in contributors {
            let done = c
                .join()
                .map_err(|_| Error::SelfCheck("a contributor thread panicked".into()))??;
            bytes += done.bytes_sent + done.bytes_received;
            results.push(done.outputs);
        }
        let elapsed = start.elapsed();
        for party in [g, e] {
            let served = party
                .join()
                .map_err(|_| Error::SelfCheck("a compute party thread panicked".into()))??;
            // The session's bytes, counted once (from the garbler's side: sent + received).
            bytes += served.stats.bytes_sent;
        }
        Ok((elapsed, bytes, results))
    })?;
    // The recipients' result is the column sums.
    let expected: Vec<bool> = (0..CONDITIONS)
        .flat_map(|c| {
            let v: u32 = (0..HOSPITALS as u32).map(|i| 1000 * (i + 1) + c).sum();
            (0..BITS).map(move |k| v >> k & 1 == 1)
        })
        .collect();
    match &results[0] {
        Some(groups) if groups[0] == expected => {}
        _ => return Err(Error::SelfCheck("the job's result is wrong".into())),
    }
    Ok((elapsed, bytes))
}

/// The plain two-party sum of the same values: the garbler holds three hospitals' counts and
/// the evaluator two, one session over loopback TLS (connection included), as the job's time
/// includes its connections.
fn plain_once(security: crate::auth::Security) -> Result<(Duration, u64)> {
    let one = library::generate("sum", BITS, HOSPITALS as u32)?;
    let circuit = library::replicate(&one, CONDITIONS, &[false; HOSPITALS])?;
    let program = compile(&circuit)?;
    // Three hospitals' counts with the garbler, two with the evaluator.
    let owners: Vec<Party> = (0..HOSPITALS)
        .map(|i| {
            if i < 3 {
                Party::Garbler
            } else {
                Party::Evaluator
            }
        })
        .collect();
    let options =
        SessionOptions::new(&program, owners.clone(), vec![Reveal::Both])?.with_security(security);
    let values = counts();
    let (mut g_in, mut e_in) = (Vec::new(), Vec::new());
    for (v, o) in values.into_iter().zip(&owners) {
        match o {
            Party::Garbler => g_in.push(v),
            Party::Evaluator => e_in.push(v),
        }
    }
    let start = Instant::now();
    let e_options = options.clone();
    let ((_, stats), _) = super::net::run_local(
        Timeouts::idle(Duration::from_secs(60)),
        true,
        None,
        |c| run_garbler(&program, &g_in, c, options),
        |c| run_evaluator(&program, &e_in, c, e_options),
    )?;
    Ok((start.elapsed(), stats.bytes_sent + stats.bytes_received))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Runs both, alternating, `repeat` times each; prints medians and minimums.
pub(crate) fn run(json: bool, security: crate::auth::Security, repeat: usize) -> Result<()> {
    let (mut job, mut plain) = (Vec::new(), Vec::new());
    let (mut job_bytes, mut plain_bytes) = (0, 0);
    for _ in 0..repeat {
        let (t, b) = job_once(security)?;
        job.push(t);
        job_bytes = b;
        let (t, b) = plain_once(security)?;
        plain.push(t);
        plain_bytes = b;
    }
    job.sort();
    plain.sort();
    let (job_med, plain_med) = (job[job.len() / 2], plain[plain.len() / 2]);
    let ratio = job_med.as_secs_f64() / plain_med.as_secs_f64();
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "job": format!("{HOSPITALS} hospitals, {CONDITIONS} x {BITS}-bit counts each, summed, result to 2 of them"),
                "security": security.name(),
                "repetitions": repeat,
                "job_ms": ms(job_med),
                "job_ms_min": ms(job[0]),
                "job_bytes": job_bytes,
                "plain_sum_ms": ms(plain_med),
                "plain_sum_ms_min": ms(plain[0]),
                "plain_sum_bytes": plain_bytes,
                "job_over_plain": (ratio * 1000.0).round() / 1000.0,
            })
        )?;
    } else {
        outln!(
            "{HOSPITALS}-hospital job ({CONDITIONS} x {BITS}-bit counts, {}): {:.1} ms (min {:.1}), {job_bytes} bytes; plain two-party sum of the same values: {:.1} ms (min {:.1}), {plain_bytes} bytes; job / plain {ratio:.2} (medians of {repeat})",
            security.name(),
            ms(job_med),
            ms(job[0]),
            ms(plain_med),
            ms(plain[0])
        )?;
    }
    Ok(())
}
