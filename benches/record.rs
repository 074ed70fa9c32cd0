//! TLS record protection: AES-128-GCM sealing and opening one full 16 KiB record in place, with
//! ring and with aws-lc-rs, the two providers rustls offers (docs/DESIGN.md's "TLS provider" note
//! cites these figures: the channel seals records with aws-lc-rs); then a 1 MiB table chunk
//! sealed and opened as 64 records the way our record layer does it (straight between the
//! chunk and the record buffer) and with a copy in between (as a record layer that works in
//! place must).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A TLS 1.3 record's largest plaintext (RFC 8446 §5.1).
const RECORD: usize = 1 << 14;

macro_rules! provider {
    ($c:expr, $name:literal, $aead:ident) => {{
        use $aead::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7u8; 16]).unwrap());
        let nonce = || Nonce::assume_unique_for_key([3u8; 12]);
        let mut group = $c.benchmark_group(concat!("record/", $name));
        group.throughput(Throughput::Bytes(RECORD as u64));
        let mut plain = vec![1u8; RECORD];
        group.bench_function("seal_16k", |b| {
            b.iter(|| {
                key.seal_in_place_separate_tag(nonce(), Aad::from([23u8; 5]), &mut plain)
                    .unwrap()
            })
        });
        let mut sealed = vec![1u8; RECORD];
        key.seal_in_place_append_tag(nonce(), Aad::from([23u8; 5]), &mut sealed)
            .unwrap();
        let mut work = sealed.clone();
        group.bench_function("open_16k", |b| {
            b.iter(|| {
                work.copy_from_slice(&sealed);
                key.open_in_place(nonce(), Aad::from([23u8; 5]), &mut work)
                    .map(|p| p.len())
                    .unwrap()
            })
        });
        group.finish();
    }};
}

/// A 1 MiB chunk to and from 64 sealed records, with and without the copy.
fn chunk(c: &mut Criterion) {
    use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    const CHUNK: usize = 1 << 20;
    const SEALED: usize = RECORD + 1 + 16;
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7u8; 16]).unwrap());
    let nonce = || Nonce::assume_unique_for_key([3u8; 12]);
    let aad = || Aad::from([23u8, 3, 3, 0x40, 0x11]);
    let chunk: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
    let mut records = vec![0u8; CHUNK / RECORD * SEALED];
    let mut group = c.benchmark_group("record/chunk_1m");
    group.throughput(Throughput::Bytes(CHUNK as u64));
    group.bench_function("seal_out_of_place", |b| {
        b.iter(|| {
            for (plain, out) in chunk.chunks(RECORD).zip(records.chunks_mut(SEALED)) {
                let (ciphertext, rest) = out.split_at_mut(RECORD);
                key.seal_out_of_place_scatter(nonce(), aad(), plain, ciphertext, &[23], rest)
                    .unwrap();
            }
        })
    });
    group.bench_function("copy_then_seal_in_place", |b| {
        b.iter(|| {
            for (plain, out) in chunk.chunks(RECORD).zip(records.chunks_mut(SEALED)) {
                out[..RECORD].copy_from_slice(plain);
                out[RECORD] = 23;
                let tag = key
                    .seal_in_place_separate_tag(nonce(), aad(), &mut out[..RECORD + 1])
                    .unwrap();
                out[RECORD + 1..].copy_from_slice(tag.as_ref());
            }
        })
    });
    // `records` now holds 64 records sealed under one nonce, which is all opening needs here.
    // Both openings start by copying them into a work buffer, as the socket read does (and as
    // opening in place needs, to have the ciphertext again next time).
    let mut opened = vec![0u8; CHUNK + 1];
    let mut work = records.clone();
    group.bench_function("open_into_the_chunk", |b| {
        b.iter(|| {
            work.copy_from_slice(&records);
            for (k, sealed) in work.chunks(SEALED).enumerate() {
                let (ciphertext, tag) = sealed.split_at(RECORD + 1);
                let out = &mut opened[k * RECORD..k * RECORD + RECORD + 1];
                key.open_separate_gather(nonce(), aad(), ciphertext, tag, out)
                    .unwrap();
            }
        })
    });
    group.bench_function("open_in_place_then_copy", |b| {
        b.iter(|| {
            work.copy_from_slice(&records);
            for (k, sealed) in work.chunks_mut(SEALED).enumerate() {
                let plain = key.open_in_place(nonce(), aad(), sealed).unwrap();
                opened[k * RECORD..(k + 1) * RECORD].copy_from_slice(&plain[..RECORD]);
            }
        })
    });
    group.finish();
}

fn record(c: &mut Criterion) {
    provider!(c, "ring", ring);
    provider!(c, "aws-lc-rs", aws_lc_rs);
    chunk(c);
}

criterion_group!(benches, record);
criterion_main!(benches);
