//! TLS record protection: AES-128-GCM sealing and opening one full 16 KiB record in place, with
//! ring and with aws-lc-rs, the two providers rustls offers (the README's "TLS provider" note
//! cites these figures: the channel seals records with aws-lc-rs).

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

fn record(c: &mut Criterion) {
    provider!(c, "ring", ring);
    provider!(c, "aws-lc-rs", aws_lc_rs);
}

criterion_group!(benches, record);
criterion_main!(benches);
