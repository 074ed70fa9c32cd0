//! Garbling and evaluation of the built-in AES-128 and SHA-256 circuits, in memory.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use garbled::aes::Prg;
use garbled::block::{ActiveLabel, Block, Delta, ZeroLabel};
use garbled::circuit::builder::{aes128_circuit, sha256_circuit};
use garbled::compile::compile;
use garbled::garble::{Evaluator, Garbler, TweakBase};

fn garble_and_evaluate(c: &mut Criterion) {
    for (name, circuit) in [("aes128", aes128_circuit()), ("sha256", sha256_circuit())] {
        let program = compile(&circuit).unwrap();
        let mut prg = Prg::from_seed([1; 16]);
        let delta = Delta::new(prg.block());
        let mut raw = vec![Block::ZERO; program.input_count()];
        prg.fill(&mut raw);
        let zero: Vec<ZeroLabel> = raw.into_iter().map(ZeroLabel).collect();
        let active: Vec<ActiveLabel> = zero.iter().map(|z| z.encode(false, &delta)).collect();
        let tweaks = TweakBase { nonce: 7, first: 0 };
        let mut tables = vec![Block::ZERO; 2 * program.and_count()];
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(program.and_count() as u64));
        group.bench_function("garble", |b| {
            b.iter(|| {
                let mut g = Garbler::new(&program, delta.clone(), &zero, tweaks).unwrap();
                g.garble(&mut tables)
            })
        });
        group.bench_function("evaluate", |b| {
            b.iter(|| {
                let mut e = Evaluator::new(&program, &active, tweaks).unwrap();
                e.evaluate(&tables)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, garble_and_evaluate);
criterion_main!(benches);
