//! Two parties over loopback TCP: one AES-128 from connecting to the outputs (base OT included),
//! and a session of AES-128 x 100 for throughput.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use garbled::circuit::builder::aes128_circuit;
use garbled::circuit::library::aes128_many;
use garbled::compile::{Program, compile};
use garbled::net::tcp::{TcpChannel, Timeouts};
use garbled::protocol::{Party, Reveal, SessionOptions, run_evaluator, run_garbler};

fn session(program: &Program, key: &[bool], plaintexts: &[bool]) {
    let options = SessionOptions::new(
        program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both],
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let timeouts = Timeouts::idle(Duration::from_secs(30));
    std::thread::scope(|s| {
        let e_options = options.clone();
        let evaluator = s.spawn(move || {
            let channel = TcpChannel::connect(&addr, Duration::from_secs(5), timeouts).unwrap();
            run_evaluator(program, &[plaintexts.to_vec()], channel, e_options).unwrap()
        });
        let channel = TcpChannel::accept(&listener, Duration::from_secs(5), timeouts).unwrap();
        run_garbler(program, &[key.to_vec()], channel, options).unwrap();
        evaluator.join().unwrap();
    });
}

fn end_to_end(c: &mut Criterion) {
    let one = compile(&aes128_circuit()).unwrap();
    let key = vec![true; 128];
    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(20);
    group.bench_function("aes128_x1", |b| {
        b.iter(|| session(&one, &key, &[false; 128]))
    });
    let many = compile(&aes128_many(100).unwrap()).unwrap();
    group.throughput(Throughput::Elements(many.and_count() as u64));
    group.sample_size(10);
    group.bench_function("aes128_x100", |b| {
        b.iter(|| session(&many, &key, &vec![false; 128 * 100]))
    });
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
