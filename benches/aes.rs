//! AES and the TCCR hash on every backend this CPU has, at the batch sizes the garbler uses.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use garbled::aes::{Aes, Backend, Tweaks};
use garbled::block::Block;

fn aes(c: &mut Criterion) {
    let mut group = c.benchmark_group("aes");
    for backend in Backend::ALL.into_iter().filter(|b| b.supported()) {
        let aes = Aes::fixed_with_backend(backend).unwrap();
        for n in [4usize, 8, 16, 64, 1024] {
            let mut blocks: Vec<Block> = (0..n as u128).map(Block::new).collect();
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("encrypt/{backend}"), n),
                &n,
                |b, _| b.iter(|| aes.encrypt_blocks(std::hint::black_box(&mut blocks))),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("tccr/{backend}"), n),
                &n,
                |b, _| {
                    b.iter(|| {
                        aes.tccr(
                            std::hint::black_box(&mut blocks),
                            Tweaks {
                                nonce: 1,
                                first: 2,
                                shift: 1,
                            },
                        )
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, aes);
criterion_main!(benches);
