//! Oblivious transfer: 128 base OTs, the bit transpose, and IKNP extension (both sides' cores).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use garbled::aes::Prg;
use garbled::block::{Block, Delta};
use garbled::ot;

fn base_ot(c: &mut Criterion) {
    let session = [0u8; 32];
    let mut prg = Prg::from_seed([1; 16]);
    let choices: Vec<bool> = (0..ot::BASE_OTS).map(|i| i % 2 == 0).collect();
    c.bench_function("base_ot/receiver_128", |b| {
        let (_, a) = ot::base::BaseOtSender::new(&mut prg, session);
        let mut p = Prg::from_seed([2; 16]);
        b.iter(|| ot::base::receive(&mut p, session, &a, &choices).unwrap())
    });
    c.bench_function("base_ot/sender_128", |b| {
        b.iter_batched(
            || {
                let (s, a) = ot::base::BaseOtSender::new(&mut prg, session);
                let (reply, _) = ot::base::receive(&mut prg, session, &a, &choices).unwrap();
                (s, reply)
            },
            |(s, reply)| s.finish(&reply, ot::BASE_OTS).unwrap().1,
            criterion::BatchSize::SmallInput,
        )
    });
}

fn extension(c: &mut Criterion) {
    let mut prg = Prg::from_seed([3; 16]);
    let mut tile = [0u128; 128];
    for t in tile.iter_mut() {
        *t = prg.block().value();
    }
    let mut group = c.benchmark_group("iknp");
    group.throughput(Throughput::Elements(128));
    group.bench_function("transpose_tile", |b| {
        b.iter(|| ot::transpose::transpose_tile(std::hint::black_box(&mut tile)))
    });
    for (name, f) in ot::transpose::tile_transposes() {
        group.bench_function(format!("transpose_tile_{name}"), |b| {
            b.iter(|| f(std::hint::black_box(&mut tile)))
        });
    }
    let delta = Delta::new(prg.block());
    let pairs: Vec<(Block, Block)> = (0..ot::BASE_OTS)
        .map(|_| (prg.block(), prg.block()))
        .collect();
    let chosen: Vec<Block> = pairs
        .iter()
        .enumerate()
        .map(|(j, p)| if delta.bit(j) { p.1 } else { p.0 })
        .collect();
    let m = ot::CHUNK_OTS;
    let bits: Vec<bool> = (0..m).map(|i| i % 3 == 0).collect();
    group.throughput(Throughput::Elements(m as u64));
    // IKNP (width 1, semi-honest sessions) and SoftSpoken at width 4 (malicious sessions).
    for width in [1usize, 4] {
        let (mut receiver, trees) =
            ot::CotReceiver::with_width(&pairs, [0u8; 32], width, &mut prg).unwrap();
        let mut sender =
            ot::CotSender::with_width(delta.clone(), &chosen, [0u8; 32], width, &trees).unwrap();
        let name = if width == 1 {
            String::new()
        } else {
            format!("_width{width}")
        };
        group.bench_function(format!("receiver_chunk{name}"), |b| {
            b.iter(|| receiver.extend(&bits))
        });
        let (u, _) = receiver.extend(&bits);
        group.bench_function(format!("sender_chunk{name}"), |b| {
            b.iter(|| sender.extend(m, &u).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, base_ot, extension);
criterion_main!(benches);
