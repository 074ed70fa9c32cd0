//! Two hospitals each hold the number of patients they treated for each condition. They want the
//! totals per condition (and overall) for a joint report, but neither may see the other's
//! numbers. The engine computes the element-wise sum under garbling: hospital A garbles,
//! hospital B evaluates, and both learn only the sums.
//!
//! Run it with `cargo run --release --example hospitals`. Here both hospitals run in one process
//! and talk over a loopback TCP connection; on two hosts each would run its half with
//! `TcpChannel::listen` / `TcpChannel::connect` instead.

use std::time::Duration;

use garbled::circuit::builder::Builder;
use garbled::compile::compile;
use garbled::net::tcp::{TcpChannel, Timeouts};
use garbled::protocol::{Party, Reveal, SessionOptions, run_evaluator, run_garbler};

/// Bits per count.
const BITS: u32 = 32;

/// What both hospitals learn.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// Patients per condition, both hospitals together.
    pub sums: Vec<u64>,
    /// All patients.
    pub total: u64,
}

fn to_bits(counts: &[u32]) -> Vec<bool> {
    counts
        .iter()
        .flat_map(|&c| (0..BITS).map(move |k| c >> k & 1 == 1))
        .collect()
}

fn from_bits(bits: &[bool]) -> Vec<u64> {
    bits.chunks(BITS as usize)
        .map(|c| c.iter().enumerate().map(|(k, &b)| u64::from(b) << k).sum())
        .collect()
}

/// Computes the joint report of two hospitals' private counts.
pub fn joint_report(hospital_a: &[u32], hospital_b: &[u32]) -> garbled::Result<Report> {
    assert_eq!(
        hospital_a.len(),
        hospital_b.len(),
        "both hospitals count the same conditions"
    );
    let n = hospital_a.len();
    // The circuit: one 32-bit adder per condition, and their sum.
    let mut b = Builder::new();
    let a = b.input("hospital_a", BITS * n as u32);
    let c = b.input("hospital_b", BITS * n as u32);
    let w = BITS as usize;
    let sums: Vec<Vec<_>> = (0..n)
        .map(|i| b.add(&a[i * w..(i + 1) * w], &c[i * w..(i + 1) * w]))
        .collect();
    let total = b.sum(&sums);
    b.output("sums", &sums.concat());
    b.output("total", &total);
    let program = compile(&b.finish()?)?;

    // Hospital A owns the first input and garbles; hospital B owns the second and evaluates.
    let options = SessionOptions::new(
        &program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both; 2],
    )?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address").to_string();
    let timeouts = Timeouts::idle(Duration::from_secs(30));
    let (a_view, b_view) = std::thread::scope(|s| {
        let (program, b_options, b_input) = (&program, options.clone(), vec![to_bits(hospital_b)]);
        let hospital_b = s.spawn(move || {
            let channel = TcpChannel::connect(&addr, Duration::from_secs(10), timeouts)?;
            run_evaluator(program, &b_input, channel, b_options)
        });
        let channel = TcpChannel::accept(&listener, Duration::from_secs(10), timeouts)?;
        let a_view = run_garbler(program, &[to_bits(hospital_a)], channel, options)?;
        let b_view = hospital_b
            .join()
            .expect("hospital B's thread does not panic")?;
        garbled::Result::Ok((a_view, b_view))
    })?;
    let (a_out, stats) = a_view;
    assert_eq!(a_out, b_view.0, "both hospitals learn the same report");
    let sums = from_bits(a_out[0].as_ref().expect("the sums are revealed to both"));
    let total = from_bits(a_out[1].as_ref().expect("the total is revealed to both"))[0];
    eprintln!(
        "{} AND gates, {} bytes from A to B, {:.1} ms",
        stats.and_gates,
        stats.bytes_sent,
        stats.wall.as_secs_f64() * 1e3
    );
    Ok(Report { sums, total })
}

/// The example's program, callable from the tests (which include this file as a module).
pub fn print_report() -> garbled::Result<()> {
    let conditions = ["asthma", "diabetes", "hypertension", "influenza"];
    let hospital_a = [120, 342, 578, 95];
    let hospital_b = [87, 410, 633, 140];
    let report = joint_report(&hospital_a, &hospital_b)?;
    for (name, sum) in conditions.iter().zip(&report.sums) {
        println!("{name:<14} {sum}");
    }
    println!("{:<14} {}", "total", report.total);
    Ok(())
}

#[allow(dead_code)]
fn main() -> garbled::Result<()> {
    print_report()
}
