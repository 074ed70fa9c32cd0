//! Fixed-key AES-128, the tweakable circular-correlation-robust hash, an AES-CTR PRG, and the
//! SIMD kernels over label arrays that the garbler and evaluator run.
//!
//! This is the crate's home for `unsafe` (with the bit transpose of `crate::ot::transpose`): the
//! AES-NI and VAES kernels in `x86` use CPU intrinsics and are reached only after run-time
//! detection, and `xor_gates` runs XOR gates without bounds checks on the strength of the
//! slot check every compiled program passed. Callers see one API ([`Aes`]) and
//! never which backend runs; the portable backend (RustCrypto's `aes` crate) is the reference the
//! fast ones are tested against.
//!
//! **The hash.** `H(x, t) = pi(pi(x) ^ t) ^ pi(x)` with `pi` = AES-128 under a fixed public key:
//! the tweakable circular-correlation-robust (TCCR) hash of Guo, Katz, Wang and Yu, "Better
//! concrete security for half-gates garbling (in the multi-instance setting)", CRYPTO 2020,
//! eprint 2019/074, §7 (the construction written there as `π(π(x) ⊕ i) ⊕ π(x)`). The tweak `t` is
//! unique per hash within a session: its high 64 bits are the session nonce, its low 64 bits a
//! counter (see [`Tweaks`]).
//!
//! **Backends** ([`Backend`]): VAES on 256-bit registers (two blocks per instruction), AES-NI,
//! and the portable `aes` crate, chosen once at run time; `GARBLED_AES=vaes|aesni|portable`
//! forces one.

#![allow(unsafe_code)]

use std::fmt;
use std::sync::OnceLock;

use crate::block::Block;
use crate::compile::SlotGate;
use crate::error::{Error, Result};

pub mod gf128;
mod prg;
mod schedule;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use prg::Prg;

/// An AES implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// VAES (`vaesenc` on 256-bit registers) with AVX2.
    Vaes,
    /// AES-NI (`aesenc` on 128-bit registers).
    AesNi,
    /// RustCrypto's `aes` crate.
    Portable,
}

impl Backend {
    /// All backends, fastest first.
    pub const ALL: [Backend; 3] = [Backend::Vaes, Backend::AesNi, Backend::Portable];

    /// The name used by `GARBLED_AES` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Vaes => "vaes",
            Backend::AesNi => "aesni",
            Backend::Portable => "portable",
        }
    }

    /// Whether this CPU can run the backend.
    pub fn supported(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Backend::AesNi => {
                std::arch::is_x86_feature_detected!("aes")
                    && std::arch::is_x86_feature_detected!("sse2")
            }
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes => {
                std::arch::is_x86_feature_detected!("vaes")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("aes")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest backend this CPU supports.
    pub fn best() -> Backend {
        Backend::ALL
            .into_iter()
            .find(|b| b.supported())
            .unwrap_or(Backend::Portable)
    }

    /// The backend `GARBLED_AES` asks for, or the best one when it is unset. An unknown name or a
    /// backend this CPU lacks is an error.
    pub fn selected() -> Result<Backend> {
        match std::env::var("GARBLED_AES") {
            Err(_) => Ok(Backend::best()),
            Ok(name) => {
                let backend: Backend = name.parse()?;
                if backend.supported() {
                    Ok(backend)
                } else {
                    Err(Error::arg(format!(
                        "GARBLED_AES={name}: this CPU does not support the {name} backend"
                    )))
                }
            }
        }
    }

    /// [`Backend::selected`], falling back to the best backend (with a warning on stderr, once)
    /// when `GARBLED_AES` is unusable.
    pub fn selected_or_best() -> Backend {
        static CHOICE: OnceLock<Backend> = OnceLock::new();
        *CHOICE.get_or_init(|| {
            Backend::selected().unwrap_or_else(|e| {
                eprintln!("garbled: warning: {e}; using {}", Backend::best().name());
                Backend::best()
            })
        })
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "vaes" => Ok(Backend::Vaes),
            "aesni" => Ok(Backend::AesNi),
            "portable" => Ok(Backend::Portable),
            other => Err(Error::arg(format!(
                "unknown AES backend '{other}': expected vaes, aesni or portable"
            ))),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The tweaks of a batch of hashes: hash `i` of the batch uses the tweak whose high 64 bits are
/// `nonce` and whose low 64 bits are `first + (i >> shift)`. With `shift = 1` consecutive pairs of
/// blocks share a tweak (the garbler hashes `A0` and `A1` under the same tweak).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tweaks {
    /// The session nonce.
    pub nonce: u64,
    /// The counter of the first hash.
    pub first: u64,
    /// log2 of the number of consecutive blocks sharing a counter (0 or 1).
    pub shift: u32,
}

/// AES-128 under one key, on the backend chosen at construction.
#[derive(Clone)]
pub struct Aes {
    round_keys: [Block; 11],
    backend: Backend,
    /// The CPU also has AVX-512VL: the VAES hash kernel can keep everything in registers.
    avx512: bool,
    /// RustCrypto's cipher, for the portable backend only (built with its `zeroize` feature, so
    /// its key schedule is wiped on drop). Boxed: an inline `None` left the space of the
    /// cipher's state in every `Aes`, and moving an `Aes` copied whatever stale stack bytes
    /// filled it (key material among them, as `tests/secrets.rs` found) into the heap.
    portable: Option<Box<aes::Aes128>>,
}

impl fmt::Debug for Aes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aes({})", self.backend)
    }
}

impl Drop for Aes {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.round_keys.zeroize();
    }
}

/// The wire form of blocks (16 little-endian bytes each) without a copy: on little-endian
/// targets a `Block` is laid out exactly so. Garbled tables go to and from the socket through
/// these views instead of through a conversion buffer, which kept a second megabyte per chunk
/// in the cache on both sides.
#[cfg(target_endian = "little")]
pub fn blocks_as_bytes(blocks: &[Block]) -> &[u8] {
    // SAFETY: `Block` is `repr(transparent)` over `u128`: 16 bytes, no padding, little endian
    // here; the slice covers exactly the same memory, and `u8` has no alignment requirement.
    unsafe {
        std::slice::from_raw_parts(blocks.as_ptr() as *const u8, std::mem::size_of_val(blocks))
    }
}

/// Mutable [`blocks_as_bytes`]: any byte pattern is a valid block.
#[cfg(target_endian = "little")]
pub fn blocks_as_bytes_mut(blocks: &mut [Block]) -> &mut [u8] {
    // SAFETY: as above; every bit pattern is a valid `u128`, so writes through the byte view
    // cannot create an invalid block, and the borrow is exclusive.
    unsafe {
        std::slice::from_raw_parts_mut(
            blocks.as_mut_ptr() as *mut u8,
            std::mem::size_of_val(blocks),
        )
    }
}

/// `dst[i] ^= src[i]` over the common length. A loop over `u128` compiles to pairs of 64-bit
/// operations; this one uses 128-bit SSE2 registers, which x86-64 always has (SoftSpoken OT sums
/// 16 to 256 PRG streams a column block with it).
pub(crate) fn xor_into(dst: &mut [Block], src: &[Block]) {
    let n = dst.len().min(src.len());
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::*;
        let (d, s) = (
            dst.as_mut_ptr() as *mut __m128i,
            src.as_ptr() as *const __m128i,
        );
        for i in 0..n {
            // SAFETY: i < n <= both lengths; `Block` is 16 bytes with 16-byte alignment; SSE2 is
            // part of the x86-64 baseline.
            unsafe {
                _mm_store_si128(
                    d.add(i),
                    _mm_xor_si128(_mm_load_si128(d.add(i)), _mm_load_si128(s.add(i))),
                );
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (d, s) in dst[..n].iter_mut().zip(&src[..n]) {
        *d ^= *s;
    }
}

/// Runs the XOR gates `range` of `segment` in order: `labels[out] = labels[a] ^ labels[b]` (NOT
/// and constants go through the constant slots).
///
/// This loop is most of the work between AND batches (AES-128 has 4.4 XOR gates per AND). With
/// bounds checks and the compiler's `u128` code it took 1.3 ns per gate; with SSE2 loads and
/// stores, which x86-64 always has, 0.9 ns. Written as groups of four gates (still one after
/// another, in order: a gate may read the one before) it garbled and evaluated 1–5 % faster on
/// both AES backends (`garbled bench` on the Bristol AES-128 and SHA-256 files, three runs each
/// way alternating; groups of eight were in between).
pub(crate) fn xor_gates(
    segment: &crate::compile::Segment,
    labels: &mut [Block],
    range: std::ops::Range<usize>,
) {
    assert!(
        labels.len() >= segment.slot_bound() as usize,
        "the label array is smaller than the program"
    );
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::*;
        let p = labels.as_mut_ptr() as *mut __m128i;
        // SAFETY: every slot of a segment is below its bound (`Segment::checked` ran before the
        // segment existed), and `labels` holds at least that many blocks, asserted above.
        // `Block` is 16 bytes with 16-byte alignment. SSE2 is part of the x86-64 baseline.
        let xor = |a: usize, b: usize, out: usize| unsafe {
            let v = _mm_xor_si128(_mm_load_si128(p.add(a)), _mm_load_si128(p.add(b)));
            _mm_store_si128(p.add(out), v);
        };
        if segment.is_narrow() {
            let gate = |g: &[u16; 3]| xor(g[0] as usize, g[1] as usize, g[2] as usize);
            in_fours(&segment.xor_gates_narrow()[range], gate);
        } else {
            let gate = |g: &SlotGate| xor(g.a as usize, g.b as usize, g.out as usize);
            in_fours(&segment.xor_gates_wide()[range], gate);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for g in segment.xor_gates(range) {
        labels[g.out as usize] = labels[g.a as usize] ^ labels[g.b as usize];
    }
}

/// `gate` on every item, in order, written four at a time.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn in_fours<T>(gates: &[T], gate: impl Fn(&T)) {
    let mut fours = gates.chunks_exact(4);
    for four in &mut fours {
        gate(&four[0]);
        gate(&four[1]);
        gate(&four[2]);
        gate(&four[3]);
    }
    fours.remainder().iter().for_each(gate);
}

/// The AES S-box (FIPS-197 §5.1.1), for tests of circuits that compute it.
pub fn sbox(x: u8) -> u8 {
    schedule::SBOX[x as usize]
}

/// The fixed public key of `pi`: the first 16 bytes of BLAKE3("garbled fixed-key AES v1"),
/// chosen so that nobody picked its bits.
fn fixed_key() -> [u8; 16] {
    let hash = blake3::hash(b"garbled fixed-key AES v1");
    let mut key = [0u8; 16];
    key.copy_from_slice(&hash.as_bytes()[..16]);
    key
}

impl Aes {
    /// AES-128 under `key` on the selected backend ([`Backend::selected_or_best`]).
    pub fn new(key: [u8; 16]) -> Self {
        Self::with_backend(key, Backend::selected_or_best())
            .expect("the selected backend is supported")
    }

    /// AES-128 under `key` on a given backend; an error if this CPU lacks it.
    pub fn with_backend(key: [u8; 16], backend: Backend) -> Result<Self> {
        if !backend.supported() {
            return Err(Error::arg(format!(
                "this CPU does not support the {backend} AES backend"
            )));
        }
        use aes::cipher::KeyInit;
        #[cfg(target_arch = "x86_64")]
        let avx512 = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl");
        #[cfg(not(target_arch = "x86_64"))]
        let avx512 = false;
        let round_keys = match backend {
            // SAFETY: `backend.supported()` confirmed AES-NI (VAES implies it).
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes | Backend::AesNi => unsafe { x86::aesni_expand_key(&key) },
            _ => schedule::expand_key(key),
        };
        let portable =
            (backend == Backend::Portable).then(|| Box::new(aes::Aes128::new(&key.into())));
        Ok(Aes {
            round_keys,
            backend,
            avx512,
            portable,
        })
    }

    /// The fixed-key permutation `pi` of the hash, on the selected backend.
    pub fn fixed() -> &'static Aes {
        static FIXED: OnceLock<Aes> = OnceLock::new();
        FIXED.get_or_init(|| Aes::new(fixed_key()))
    }

    /// The fixed-key permutation on a given backend (tests and benchmarks compare backends).
    pub fn fixed_with_backend(backend: Backend) -> Result<Aes> {
        Aes::with_backend(fixed_key(), backend)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Encrypts one block.
    pub fn encrypt_block(&self, block: Block) -> Block {
        let mut b = [block];
        self.encrypt_blocks(&mut b);
        b[0]
    }

    /// Counter mode: `out[i] = pi(counter + i)`, the counter blocks built in registers (writing
    /// them to memory and loading them back stalled every load on store forwarding: a third of
    /// the OT extension's time went to its generators). Falls back to [`Aes::encrypt_blocks`]
    /// when the low 64 bits of the counter would wrap inside the call.
    pub fn encrypt_counters(&self, counter: u128, out: &mut [Block]) {
        let wraps = (counter as u64).checked_add(out.len() as u64).is_none();
        match self.backend {
            // SAFETY: `Aes::with_backend` checked that the CPU has the backend's features.
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes if !wraps => unsafe { x86::vaes_ctr(&self.round_keys, counter, out) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Backend::AesNi if !wraps => unsafe { x86::aesni_ctr(&self.round_keys, counter, out) },
            _ => {
                for (i, b) in out.iter_mut().enumerate() {
                    *b = Block::new(counter.wrapping_add(i as u128));
                }
                self.encrypt_blocks(out);
            }
        }
    }

    /// Encrypts blocks in place.
    pub fn encrypt_blocks(&self, blocks: &mut [Block]) {
        match self.backend {
            // SAFETY: `Aes::with_backend` checked that the CPU has the backend's features.
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes => unsafe { x86::vaes_encrypt(&self.round_keys, blocks) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Backend::AesNi => unsafe { x86::aesni_encrypt(&self.round_keys, blocks) },
            _ => self.portable_encrypt(blocks),
        }
    }

    fn portable_encrypt(&self, blocks: &mut [Block]) {
        use aes::cipher::BlockCipherEncrypt;
        // Only the portable backend reaches here (the others have kernels for everything).
        let Some(portable) = &self.portable else {
            return;
        };
        let mut buf = [aes::Block::default(); 64];
        for chunk in blocks.chunks_mut(64) {
            let n = chunk.len();
            for (b, c) in buf.iter_mut().zip(chunk.iter()) {
                b.copy_from_slice(&c.to_bytes());
            }
            portable.encrypt_blocks(&mut buf[..n]);
            for (c, b) in chunk.iter_mut().zip(buf.iter()) {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(b);
                *c = Block::from_bytes(bytes);
            }
        }
    }

    /// The TCCR hash in place: `b_i = pi(pi(b_i) ^ t_i) ^ pi(b_i)` with the tweaks of `tweaks`.
    pub fn tccr(&self, blocks: &mut [Block], tweaks: Tweaks) {
        match self.backend {
            // SAFETY: `Aes::with_backend` checked that the CPU has the backend's features.
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes if self.avx512 => unsafe {
                x86::vaes512_tccr(&self.round_keys, blocks, &tweaks)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes => unsafe { x86::vaes_tccr(&self.round_keys, blocks, &tweaks) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Backend::AesNi => unsafe { x86::aesni_tccr(&self.round_keys, blocks, &tweaks) },
            _ => self.portable_tccr(blocks, tweaks),
        }
    }

    /// Garbles a batch of independent AND gates with a fused kernel (gather, hash, combine,
    /// scatter in registers) when the backend has one; returns false, touching nothing, when it
    /// does not, and the caller uses [`Aes::tccr`]. `tables` receives two blocks per gate and
    /// `tweaks.first` is the counter of the batch's first gate.
    pub(crate) fn garble_ands(
        &self,
        labels: &mut [Block],
        gates: &[SlotGate],
        delta: Block,
        tweaks: Tweaks,
        tables: &mut [Block],
    ) -> bool {
        match self.backend {
            // SAFETY: `Aes::with_backend` checked that the CPU has the backend's features.
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes if self.avx512 => unsafe {
                x86::vaes512_garble_ands(&self.round_keys, labels, gates, delta, &tweaks, tables)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes => unsafe {
                x86::vaes_garble_ands(&self.round_keys, labels, gates, delta, &tweaks, tables)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Backend::AesNi => unsafe {
                x86::aesni_garble_ands(&self.round_keys, labels, gates, delta, &tweaks, tables)
            },
            _ => return false,
        }
        true
    }

    /// Evaluates a batch of independent AND gates with a fused kernel when the backend has one;
    /// returns false, touching nothing, when it does not.
    pub(crate) fn eval_ands(
        &self,
        labels: &mut [Block],
        gates: &[SlotGate],
        tweaks: Tweaks,
        tables: &[Block],
    ) -> bool {
        match self.backend {
            // SAFETY: `Aes::with_backend` checked that the CPU has the backend's features.
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes if self.avx512 => unsafe {
                x86::vaes512_eval_ands(&self.round_keys, labels, gates, &tweaks, tables)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes => unsafe {
                x86::vaes_eval_ands(&self.round_keys, labels, gates, &tweaks, tables)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Backend::AesNi => unsafe {
                x86::aesni_eval_ands(&self.round_keys, labels, gates, &tweaks, tables)
            },
            _ => return false,
        }
        true
    }

    fn portable_tccr(&self, blocks: &mut [Block], t: Tweaks) {
        let mut y = blocks.to_vec();
        self.portable_encrypt(&mut y);
        for (i, (b, y)) in blocks.iter_mut().zip(&y).enumerate() {
            *b = *y ^ Block::from_halves(t.nonce, t.first.wrapping_add((i >> t.shift) as u64));
        }
        self.portable_encrypt(blocks);
        for (b, y) in blocks.iter_mut().zip(&y) {
            *b ^= *y;
        }
    }

    /// The hash of one block under one tweak (for tests and the reference garbler).
    pub fn tccr_one(&self, x: Block, tweak: Block) -> Block {
        let y = self.encrypt_block(x);
        self.encrypt_block(y ^ tweak) ^ y
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    fn supported() -> Vec<Backend> {
        Backend::ALL.into_iter().filter(|b| b.supported()).collect()
    }

    #[test]
    fn xor_into_adds_the_common_length() {
        let mut prg = Prg::from_seed([12; 16]);
        for (n, m) in [(0usize, 0usize), (1, 1), (17, 17), (5, 9), (9, 5)] {
            let mut dst = vec![Block::ZERO; n];
            let mut src = vec![Block::ZERO; m];
            prg.fill(&mut dst);
            prg.fill(&mut src);
            let mut expected = dst.clone();
            for (d, s) in expected.iter_mut().zip(&src) {
                *d = Block::new(d.value() ^ s.value());
            }
            xor_into(&mut dst, &src);
            assert_eq!(dst, expected, "lengths {n}, {m}");
        }
    }

    /// FIPS-197 Appendix B and C.1 on every backend this CPU has, at every batch length 1..40
    /// (covering every tail path of the kernels).
    #[test]
    fn key_expansion_matches_fips_197_on_every_backend() {
        // FIPS-197 A.1: the key and round key 10 (w[40..44]).
        let key = [
            0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
            0x4f, 0x3c,
        ];
        let last = [
            0xd0, 0x14, 0xf9, 0xa8, 0xc9, 0xee, 0x25, 0x89, 0xe1, 0x3f, 0x0c, 0xc8, 0xb6, 0x63,
            0x0c, 0xa6,
        ];
        let mut prg = Prg::from_seed([11; 16]);
        for backend in supported() {
            let aes = Aes::with_backend(key, backend).unwrap();
            assert_eq!(aes.round_keys[0].to_bytes(), key, "{backend}");
            assert_eq!(aes.round_keys[10].to_bytes(), last, "{backend}");
            for _ in 0..100 {
                let random = prg.block().to_bytes();
                let aes = Aes::with_backend(random, backend).unwrap();
                assert_eq!(aes.round_keys, schedule::expand_key(random), "{backend}");
            }
        }
    }

    #[test]
    fn fips_197_vectors_on_every_backend() {
        let cases: [([u8; 16], [u8; 16], [u8; 16]); 2] = [
            (
                *b"\x2b\x7e\x15\x16\x28\xae\xd2\xa6\xab\xf7\x15\x88\x09\xcf\x4f\x3c",
                *b"\x32\x43\xf6\xa8\x88\x5a\x30\x8d\x31\x31\x98\xa2\xe0\x37\x07\x34",
                *b"\x39\x25\x84\x1d\x02\xdc\x09\xfb\xdc\x11\x85\x97\x19\x6a\x0b\x32",
            ),
            (
                *b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
                *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff",
                *b"\x69\xc4\xe0\xd8\x6a\x7b\x04\x30\xd8\xcd\xb7\x80\x70\xb4\xc5\x5a",
            ),
        ];
        for backend in supported() {
            for (key, pt, ct) in cases {
                let aes = Aes::with_backend(key, backend).unwrap();
                for n in 1..40 {
                    let mut blocks = vec![Block::from_bytes(pt); n];
                    aes.encrypt_blocks(&mut blocks);
                    assert!(blocks.iter().all(|b| b.to_bytes() == ct), "{backend} n={n}");
                }
            }
        }
    }

    #[test]
    fn backends_agree_on_random_blocks_and_the_hash() {
        let mut rng = rand::rngs::ChaCha12Rng::seed_from_u64(7);
        let backends = supported();
        for n in [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100] {
            let input: Vec<Block> = (0..n)
                .map(|_| Block::new(rng.next_u64() as u128 | (rng.next_u64() as u128) << 64))
                .collect();
            for shift in [0, 1] {
                let tweaks = Tweaks {
                    nonce: rng.next_u64(),
                    first: rng.next_u64(),
                    shift,
                };
                let mut results = Vec::new();
                for &backend in &backends {
                    let aes = Aes::fixed_with_backend(backend).unwrap();
                    let mut enc = input.clone();
                    aes.encrypt_blocks(&mut enc);
                    let mut hashed = input.clone();
                    aes.tccr(&mut hashed, tweaks);
                    // The batch hash equals the one-block definition.
                    for (i, (&x, &h)) in input.iter().zip(&hashed).enumerate() {
                        let t = Block::from_halves(
                            tweaks.nonce,
                            tweaks.first.wrapping_add((i >> shift) as u64),
                        );
                        assert_eq!(h, aes.tccr_one(x, t), "{backend} n={n} i={i}");
                    }
                    results.push((backend, enc, hashed));
                }
                for r in &results[1..] {
                    assert_eq!(
                        r.1, results[0].1,
                        "{} vs {} encrypt n={n}",
                        r.0, results[0].0
                    );
                    assert_eq!(r.2, results[0].2, "{} vs {} tccr n={n}", r.0, results[0].0);
                }
            }
        }
    }

    /// Counter mode on every backend equals encrypting the counter blocks one by one, at every
    /// length around the kernels' passes, with counters whose high half is set and counters
    /// whose low half wraps inside the call (the fallback).
    #[test]
    fn counter_mode_is_the_encryption_of_the_counters_on_every_backend() {
        let starts = [
            0u128,
            5,
            (7u128 << 64) | 3,
            u64::MAX as u128 - 4,
            u128::MAX - 2,
        ];
        for &backend in &supported() {
            let aes = Aes::fixed_with_backend(backend).unwrap();
            for &start in &starts {
                for n in (0..40).chain([63, 64, 65, 100]) {
                    let mut got = vec![Block::new(u128::MAX); n];
                    aes.encrypt_counters(start, &mut got);
                    for (i, g) in got.iter().enumerate() {
                        let counter = Block::new(start.wrapping_add(i as u128));
                        assert_eq!(
                            *g,
                            aes.encrypt_block(counter),
                            "{backend} start={start} n={n} i={i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_hash_depends_on_the_tweak() {
        let aes = Aes::fixed();
        let x = Block::new(42);
        assert_ne!(
            aes.tccr_one(x, Block::new(1)),
            aes.tccr_one(x, Block::new(2))
        );
        assert_ne!(
            aes.tccr_one(x, Block::new(1)),
            aes.tccr_one(Block::new(43), Block::new(1))
        );
    }

    #[test]
    fn backend_names_parse() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        assert!("sse".parse::<Backend>().is_err());
    }
}
