//! Base oblivious transfer secure against an active adversary: the "Verified Simplest OT" of
//! Doerner, Kondi, Lee and shelat, "Secure Two-party Threshold ECDSA from ECDSA Assumptions"
//! (IEEE S&P 2018, eprint 2018/499, Protocol 7, proven UC-secure against malicious parties in
//! the random-oracle model), which is Chou and Orlandi's "simplest OT" (LATINCRYPT 2015, eprint
//! 2015/267) with the two fixes its analyses asked for (Genç, Iovino, Rial, eprint 2017/370;
//! Hauck, Loss, eprint 2017/1011): the sender proves knowledge of its secret, keys are bound to
//! the transcript and the OT index, and a verification phase makes the sender commit to both
//! keys. Run as random OT (the keys seed IKNP), on the Ristretto255 group with
//! curve25519-dalek:
//!
//! 1. the sender picks `a`, sends `A = a*G` and a Schnorr proof of knowledge of `a`
//!    (`R = k*G`, `c = H(session, A, R)`, `s = k + c*a`, Fiat-Shamir);
//! 2. the receiver checks the proof; with choice bit `w_i` for OT `i` it picks `b_i` and sends
//!    `B_i = 2*(b_i*G + w_i*A)` (the point `w_i*A` chosen with a constant-time select), and keeps
//!    `k_i = H(i, A, B_i, 2*b_i*A)`;
//! 3. the sender derives `k0_i = H(i, A, B_i, a*B_i)`, `k1_i = H(i, A, B_i, a*(B_i - 2A))`, the
//!    digests `d0_i = H'(k0_i)`, `d1_i = H'(k1_i)` and sends the challenge
//!    `x_i = H'(d0_i) ^ H'(d1_i)`;
//! 4. the receiver answers `r_i = H'(H'(k_i)) ^ w_i*x_i`;
//! 5. the sender checks `r_i = H'(d0_i)` for every `i` (otherwise it aborts) and opens
//!    `(d0_i, d1_i)`;
//! 6. the receiver checks that its own digest is `d_{w_i}` and that `H'(d0_i) ^ H'(d1_i) = x_i`
//!    (otherwise it aborts).
//!
//! Steps 2-3 are Protocol 7 run with receiver scalar `2*b_i` and sender key `2A` (doubling is a
//! bijection of the prime-order group, so `B_i` is still uniform whatever `w_i` is); the factor 2
//! lets every encoding go through curve25519-dalek's batched `double_and_compress_batch`, which
//! shares one field inversion among all points (point compression was a third of the cost). The
//! sender gets `a*B_i` as the double of `(a/2)*B_i`.
//!
//! `H` is BLAKE3 keyed by the session id, truncated to 128 bits; `H'` BLAKE3 keyed by the session
//! id under another domain, 256 bits, with the index. Every point from the peer is decoded and
//! checked (a bad encoding or the identity is [`Error::PeerMisbehaved`]), and so is every
//! proof, answer and opening. The per-OT scalar multiplications run on two threads.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use subtle::{Choice, ConditionallySelectable};
use zeroize::Zeroize;

use crate::aes::Prg;
use crate::block::Block;
use crate::error::{Error, Result};

/// Bytes of one encoded point.
pub const POINT_BYTES: usize = 32;
/// The sender's key pairs `(k0_i, k1_i)`.
pub type KeyPairs = Vec<(Block, Block)>;
/// Bytes of the sender's first message: `A`, then the proof `(R, s)`.
pub const FIRST_BYTES: usize = 3 * 32;
/// Bytes per OT of the challenge, the answer, and half an opening.
pub const DIGEST_BYTES: usize = 32;

/// `H'`: the verification digests of OT `index`.
fn digest(session: &[u8; 32], index: usize, data: &[u8]) -> [u8; DIGEST_BYTES] {
    let mut h = blake3::Hasher::new_keyed(session);
    h.update(b"garbled base OT v3 digest");
    h.update(&(index as u64).to_le_bytes());
    h.update(data);
    *h.finalize().as_bytes()
}

/// The Fiat-Shamir challenge of the proof of knowledge of `a` in `A = a*G`.
fn proof_challenge(session: &[u8; 32], a: &[u8; 32], r: &[u8; 32]) -> Scalar {
    let mut h = blake3::Hasher::new_keyed(session);
    h.update(b"garbled base OT v3 proof of knowledge");
    h.update(a);
    h.update(r);
    let mut wide = [0u8; 64];
    h.finalize_xof().fill(&mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

fn random_scalar(prg: &mut Prg) -> Scalar {
    let mut wide = [0u8; 64];
    prg.fill_bytes(&mut wide);
    let s = Scalar::from_bytes_mod_order_wide(&wide);
    wide.zeroize();
    s
}

fn decode(bytes: &[u8], what: &str) -> Result<RistrettoPoint> {
    let point = CompressedRistretto::from_slice(bytes)
        .ok()
        .and_then(|c| c.decompress())
        .ok_or_else(|| Error::peer(format!("{what} is not a valid Ristretto255 point encoding")))?;
    if point == RistrettoPoint::identity() {
        return Err(Error::peer(format!("{what} is the identity point")));
    }
    Ok(point)
}

fn derive_key(
    session: &[u8; 32],
    index: usize,
    a: &[u8],
    b: &[u8],
    shared: &CompressedRistretto,
) -> Block {
    let mut h = blake3::Hasher::new_keyed(session);
    h.update(b"garbled base OT v3");
    h.update(&(index as u64).to_le_bytes());
    h.update(a);
    h.update(b);
    h.update(shared.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    Block::from_bytes(out)
}

/// Applies `f` to every item on two threads, keeping the order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let half = items.len().div_ceil(2);
    let (first, second) = items.split_at(half);
    std::thread::scope(|scope| {
        let f = &f;
        let other = scope.spawn(move || {
            second
                .iter()
                .enumerate()
                .map(|(i, x)| f(half + i, x))
                .collect::<Vec<R>>()
        });
        let mut out: Vec<R> = first.iter().enumerate().map(|(i, x)| f(i, x)).collect();
        // A panic in the helper thread is a bug in this module, not in the peer's data.
        out.extend(
            other
                .join()
                .expect("the base OT worker thread does not panic"),
        );
        out
    })
}

/// The sender's state between its message and the receiver's reply.
pub struct BaseOtSender {
    a: Scalar,
    a_point: RistrettoPoint,
    a_bytes: [u8; 32],
    session: [u8; 32],
}

impl Drop for BaseOtSender {
    fn drop(&mut self) {
        self.a.zeroize();
    }
}

impl BaseOtSender {
    /// Picks `a` and returns the state and the first message: `A` and the proof of knowledge
    /// of `a` ([`FIRST_BYTES`] bytes).
    pub fn new(prg: &mut Prg, session: [u8; 32]) -> (Self, [u8; FIRST_BYTES]) {
        let a = random_scalar(prg);
        let a_point = &a * RISTRETTO_BASEPOINT_TABLE;
        let a_bytes = a_point.compress().to_bytes();
        let mut k = random_scalar(prg);
        let r_bytes = (&k * RISTRETTO_BASEPOINT_TABLE).compress().to_bytes();
        let c = proof_challenge(&session, &a_bytes, &r_bytes);
        let s = k + c * a;
        k.zeroize();
        let mut first = [0u8; FIRST_BYTES];
        first[..32].copy_from_slice(&a_bytes);
        first[32..64].copy_from_slice(&r_bytes);
        first[64..].copy_from_slice(s.as_bytes());
        (
            BaseOtSender {
                a,
                a_point,
                a_bytes,
                session,
            },
            first,
        )
    }

    /// From the receiver's `B_i` (32 bytes each): the key pairs, held back until the receiver
    /// answers the challenge, and the challenge ([`DIGEST_BYTES`] per OT).
    pub fn finish(self, reply: &[u8], count: usize) -> Result<(SenderPending, Vec<u8>)> {
        if reply.len() != count * POINT_BYTES {
            return Err(Error::peer(format!(
                "base OT reply of {} bytes, expected {}",
                reply.len(),
                count * POINT_BYTES
            )));
        }
        let raw: Vec<&[u8]> = reply.chunks_exact(POINT_BYTES).collect();
        let points = parallel_map(&raw, |i, bytes| {
            decode(bytes, &format!("base OT point B_{i}"))
        });
        let points: Vec<RistrettoPoint> = points.into_iter().collect::<Result<_>>()?;
        // Y_i = (a/2)*B_i and Y_i - (a/2)*2A; their doubles are a*B_i and a*(B_i - 2A).
        let mut half_a = self.a * Scalar::from(2u8).invert();
        let a_times_a = self.a * self.a_point;
        let halves: Vec<[RistrettoPoint; 2]> = parallel_map(&points, |_, b| {
            let y = half_a * b;
            [y, y - a_times_a]
        });
        half_a.zeroize();
        let mut a_times_a = a_times_a;
        a_times_a.zeroize();
        let mut halves = halves;
        let mut flat: Vec<RistrettoPoint> = halves.iter().flatten().copied().collect();
        halves.zeroize();
        let mut encoded = RistrettoPoint::double_and_compress_batch(&flat);
        flat.zeroize();
        let keys: Vec<(Block, Block)> = raw
            .iter()
            .enumerate()
            .map(|(i, b)| {
                (
                    derive_key(&self.session, i, &self.a_bytes, b, &encoded[2 * i]),
                    derive_key(&self.session, i, &self.a_bytes, b, &encoded[2 * i + 1]),
                )
            })
            .collect();
        encoded.zeroize();
        let mut challenge = Vec::with_capacity(count * DIGEST_BYTES);
        let mut openings = Vec::with_capacity(2 * count * DIGEST_BYTES);
        let mut expected = Vec::with_capacity(count);
        for (i, (k0, k1)) in keys.iter().enumerate() {
            let d0 = digest(&self.session, i, &k0.to_bytes());
            let d1 = digest(&self.session, i, &k1.to_bytes());
            let dd0 = digest(&self.session, i, &d0);
            let dd1 = digest(&self.session, i, &d1);
            challenge.extend_from_slice(&xor32(&dd0, &dd1));
            openings.extend_from_slice(&d0);
            openings.extend_from_slice(&d1);
            expected.push(dd0);
        }
        Ok((
            SenderPending {
                keys,
                expected,
                openings,
            },
            challenge,
        ))
    }
}

/// The sender after the challenge: its keys, released when the receiver's answer checks out.
pub struct SenderPending {
    keys: Vec<(Block, Block)>,
    expected: Vec<[u8; DIGEST_BYTES]>,
    openings: Vec<u8>,
}

impl Drop for SenderPending {
    fn drop(&mut self) {
        self.keys.zeroize();
        self.expected.zeroize();
        self.openings.zeroize();
    }
}

impl SenderPending {
    /// Checks the receiver's answer; returns the key pairs and the openings to send, or
    /// `PeerMisbehaved` if any answer is wrong (then nothing is released).
    pub fn verify(mut self, answer: &[u8]) -> Result<(KeyPairs, Vec<u8>)> {
        if answer.len() != self.expected.len() * DIGEST_BYTES {
            return Err(Error::peer(format!(
                "base OT answer of {} bytes, expected {}",
                answer.len(),
                self.expected.len() * DIGEST_BYTES
            )));
        }
        let mut ok = Choice::from(1);
        for (a, e) in answer.chunks_exact(DIGEST_BYTES).zip(&self.expected) {
            ok &= subtle::ConstantTimeEq::ct_eq(a, &e[..]);
        }
        if !bool::from(ok) {
            return Err(Error::peer(
                "base OT verification failed: the receiver's answer does not match its keys",
            ));
        }
        Ok((
            std::mem::take(&mut self.keys),
            std::mem::take(&mut self.openings),
        ))
    }
}

/// The receiver between its reply and its keys: the keys (`b_i * A`) are computed after the
/// reply has gone, while the sender works on it, which takes them off the set-up's critical
/// path.
pub struct BaseOtReceiver {
    scalars: Vec<Scalar>,
    choices: Vec<u8>,
    a_table: RistrettoBasepointTable,
    a_bytes: [u8; 32],
    replies: Vec<[u8; 32]>,
    session: [u8; 32],
}

impl std::fmt::Debug for BaseOtReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BaseOtReceiver({} OTs, <secret>)", self.scalars.len())
    }
}

impl Drop for BaseOtReceiver {
    fn drop(&mut self) {
        self.scalars.zeroize();
        self.choices.zeroize();
    }
}

/// Checks the sender's first message (`A` and its proof of knowledge) and returns `A`.
fn check_first(session: &[u8; 32], first: &[u8]) -> Result<RistrettoPoint> {
    if first.len() != FIRST_BYTES {
        return Err(Error::peer(format!(
            "base OT first message of {} bytes, expected {FIRST_BYTES}",
            first.len()
        )));
    }
    let a_point = decode(&first[..32], "base OT point A")?;
    let r_point = CompressedRistretto::from_slice(&first[32..64])
        .ok()
        .and_then(|c| c.decompress())
        .ok_or_else(|| {
            Error::peer("base OT proof: R is not a valid Ristretto255 point encoding")
        })?;
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&first[64..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or_else(|| Error::peer("base OT proof: s is not a canonical scalar"))?;
    let (mut a_bytes, mut r_bytes) = ([0u8; 32], [0u8; 32]);
    a_bytes.copy_from_slice(&first[..32]);
    r_bytes.copy_from_slice(&first[32..64]);
    let c = proof_challenge(session, &a_bytes, &r_bytes);
    // s*G - c*A = R for an honest proof (public values: variable time is fine).
    let lhs = RistrettoPoint::vartime_double_scalar_mul_basepoint(&c, &(-a_point), &s);
    if lhs != r_point {
        return Err(Error::peer(
            "base OT proof of knowledge does not verify: the sender does not know its secret",
        ));
    }
    Ok(a_point)
}

/// The receiver's message: `B_i` for every choice bit, and the state that makes the keys. The
/// sender's first message is checked first (`PeerMisbehaved` if its proof fails).
pub fn receive_reply(
    prg: &mut Prg,
    session: [u8; 32],
    first: &[u8],
    choices: &[bool],
) -> Result<(Vec<u8>, BaseOtReceiver)> {
    let a_point = check_first(&session, first)?;
    let mut a_fixed = [0u8; 32];
    a_fixed.copy_from_slice(&first[..32]);
    let scalars: Vec<Scalar> = choices.iter().map(|_| random_scalar(prg)).collect();
    // A fixed-base table for A makes each b_i*A a constant-time table walk (13 us here against
    // 28 us for a variable-base multiplication); it is built on a second thread while this one
    // computes the B_i.
    let (a_table, mut b_points) = std::thread::scope(|scope| {
        let table = scope.spawn(|| RistrettoBasepointTable::create(&a_point));
        let b_points: Vec<RistrettoPoint> = scalars
            .iter()
            .zip(choices)
            .map(|(b, &c)| {
                let offset = RistrettoPoint::conditional_select(
                    &RistrettoPoint::identity(),
                    &a_point,
                    Choice::from(u8::from(c)),
                );
                b * RISTRETTO_BASEPOINT_TABLE + offset
            })
            .collect();
        (
            table.join().expect("building a point table does not panic"),
            b_points,
        )
    });
    // B_i = 2 * (b_i*G + c_i*A): one batched inversion for all encodings.
    let encoded = RistrettoPoint::double_and_compress_batch(&b_points);
    // b_i*G + c_i*A reveals c_i to whoever knows b_i: wiped, not just freed.
    b_points.zeroize();
    let replies: Vec<[u8; 32]> = encoded.iter().map(|e| e.to_bytes()).collect();
    let reply = replies.concat();
    Ok((
        reply,
        BaseOtReceiver {
            scalars,
            choices: choices.iter().map(|&c| u8::from(c)).collect(),
            a_table,
            a_bytes: a_fixed,
            replies,
            session,
        },
    ))
}

impl BaseOtReceiver {
    /// The chosen keys `k_i = H(i, A, B_i, 2*b_i*A)`, held until the verification phase is over.
    pub fn finish(mut self) -> ReceiverPending {
        let mut shared: Vec<RistrettoPoint> = parallel_map(&self.scalars, |_, b| b * &self.a_table);
        let mut encoded = RistrettoPoint::double_and_compress_batch(&shared);
        shared.zeroize();
        let keys: Vec<Block> = self
            .replies
            .iter()
            .zip(&encoded)
            .enumerate()
            .map(|(i, (b_bytes, s))| derive_key(&self.session, i, &self.a_bytes, b_bytes, s))
            .collect();
        encoded.zeroize();
        let digests = keys
            .iter()
            .enumerate()
            .map(|(i, k)| digest(&self.session, i, &k.to_bytes()))
            .collect();
        ReceiverPending {
            keys,
            digests,
            choices: std::mem::take(&mut self.choices),
            challenge: Vec::new(),
            session: self.session,
        }
    }
}

/// The whole exchange between two parts of one process (benchmarks, and tests of what the keys
/// feed): the sender's key pairs and the receiver's chosen keys.
pub fn run_local(
    prg: &mut Prg,
    session: [u8; 32],
    choices: &[bool],
) -> Result<(KeyPairs, Vec<Block>)> {
    let (sender, first) = BaseOtSender::new(prg, session);
    let (reply, receiver) = receive_reply(prg, session, &first, choices)?;
    let (pending, challenge) = sender.finish(&reply, choices.len())?;
    let mut receiver = receiver.finish();
    let answer = receiver.answer(&challenge)?;
    let (pairs, openings) = pending.verify(&answer)?;
    Ok((pairs, receiver.check(&openings)?))
}

/// The receiver's reply and keys in one call (benchmarks): [`receive_reply`] then
/// [`BaseOtReceiver::finish`].
pub fn receive(
    prg: &mut Prg,
    session: [u8; 32],
    first: &[u8],
    choices: &[bool],
) -> Result<(Vec<u8>, ReceiverPending)> {
    let (reply, receiver) = receive_reply(prg, session, first, choices)?;
    Ok((reply, receiver.finish()))
}

/// The receiver during the verification phase.
pub struct ReceiverPending {
    keys: Vec<Block>,
    /// `H'(k_i)`.
    digests: Vec<[u8; DIGEST_BYTES]>,
    choices: Vec<u8>,
    challenge: Vec<u8>,
    session: [u8; 32],
}

impl std::fmt::Debug for ReceiverPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiverPending({} OTs, <secret>)", self.keys.len())
    }
}

impl Drop for ReceiverPending {
    fn drop(&mut self) {
        self.keys.zeroize();
        self.digests.zeroize();
        self.choices.zeroize();
    }
}

impl ReceiverPending {
    /// The answer to the sender's challenge: `H'(H'(k_i)) ^ w_i * x_i` for every OT.
    pub fn answer(&mut self, challenge: &[u8]) -> Result<Vec<u8>> {
        let n = self.keys.len();
        if challenge.len() != n * DIGEST_BYTES {
            return Err(Error::peer(format!(
                "base OT challenge of {} bytes, expected {}",
                challenge.len(),
                n * DIGEST_BYTES
            )));
        }
        self.challenge = challenge.to_vec();
        let mut answer = Vec::with_capacity(n * DIGEST_BYTES);
        for (i, (d, x)) in self
            .digests
            .iter()
            .zip(challenge.chunks_exact(DIGEST_BYTES))
            .enumerate()
        {
            let dd = digest(&self.session, i, d);
            // The choice bit selects by a mask, never a branch.
            let mask = self.choices[i].wrapping_neg();
            answer.extend(dd.iter().zip(x).map(|(a, b)| a ^ (b & mask)));
        }
        Ok(answer)
    }

    /// Checks the sender's openings `(d0_i, d1_i)` against the challenge and our own digests;
    /// returns the chosen keys, or `PeerMisbehaved`.
    pub fn check(mut self, openings: &[u8]) -> Result<Vec<Block>> {
        let n = self.keys.len();
        if openings.len() != 2 * n * DIGEST_BYTES || self.challenge.len() != n * DIGEST_BYTES {
            return Err(Error::peer(format!(
                "base OT openings of {} bytes, expected {}",
                openings.len(),
                2 * n * DIGEST_BYTES
            )));
        }
        let mut ok = Choice::from(1);
        for (i, (pair, x)) in openings
            .chunks_exact(2 * DIGEST_BYTES)
            .zip(self.challenge.chunks_exact(DIGEST_BYTES))
            .enumerate()
        {
            let (d0, d1) = pair.split_at(DIGEST_BYTES);
            let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
            a.copy_from_slice(d0);
            b.copy_from_slice(d1);
            let mask = self.choices[i].wrapping_neg();
            let ours: Vec<u8> = a
                .iter()
                .zip(&b)
                .map(|(p, q)| p ^ ((p ^ q) & mask))
                .collect();
            ok &= subtle::ConstantTimeEq::ct_eq(&ours[..], &self.digests[i][..]);
            let both = xor32(&digest(&self.session, i, &a), &digest(&self.session, i, &b));
            ok &= subtle::ConstantTimeEq::ct_eq(&both[..], x);
        }
        if !bool::from(ok) {
            return Err(Error::peer(
                "base OT verification failed: the sender's openings do not match its challenge",
            ));
        }
        Ok(std::mem::take(&mut self.keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole exchange in memory; `tamper` may change each message in flight (0: first,
    /// 1: reply, 2: challenge, 3: answer, 4: openings).
    fn exchange(
        choices: &[bool],
        tamper: impl Fn(usize, &mut Vec<u8>),
    ) -> Result<(KeyPairs, Vec<Block>)> {
        let mut prg = Prg::from_seed([1; 16]);
        let session = [7u8; 32];
        let (sender, first) = BaseOtSender::new(&mut prg, session);
        let mut first = first.to_vec();
        tamper(0, &mut first);
        let (mut reply, receiver) = receive_reply(&mut prg, session, &first, choices)?;
        tamper(1, &mut reply);
        let (pending, mut challenge) = sender.finish(&reply, choices.len())?;
        tamper(2, &mut challenge);
        let mut receiver = receiver.finish();
        let mut answer = receiver.answer(&challenge)?;
        tamper(3, &mut answer);
        let (pairs, mut openings) = pending.verify(&answer)?;
        tamper(4, &mut openings);
        let chosen = receiver.check(&openings)?;
        Ok((pairs, chosen))
    }

    #[test]
    fn the_receiver_gets_the_chosen_key_only() {
        let choices: Vec<bool> = (0..20).map(|i| i % 3 == 0).collect();
        let (pairs, chosen) = exchange(&choices, |_, _| {}).unwrap();
        for ((&c, k), (k0, k1)) in choices.iter().zip(&chosen).zip(&pairs) {
            assert_ne!(k0, k1);
            assert_eq!(k, if c { k1 } else { k0 });
        }
    }

    /// A cheating party is caught at the step that checks it, whatever byte it changes.
    #[test]
    fn every_tampered_message_is_refused() {
        let choices: Vec<bool> = (0..8).map(|i| i % 2 == 1).collect();
        for step in 0..5 {
            for at in [0usize, 5, 31, 40, 70, 95] {
                let result = exchange(&choices, |s, m| {
                    if s == step && at < m.len() {
                        m[at] ^= 0x10;
                    }
                });
                assert!(
                    matches!(result, Err(Error::PeerMisbehaved(_))),
                    "message {step}, byte {at}: {:?}",
                    result.map(|_| ())
                );
            }
        }
    }

    /// A sender that opens keys other than those its challenge committed to (here: swapping the
    /// two digests of every OT) is refused.
    #[test]
    fn swapped_openings_are_refused() {
        let choices = vec![true, false, true];
        let result = exchange(&choices, |s, m| {
            if s == 4 {
                for pair in m.chunks_exact_mut(2 * DIGEST_BYTES) {
                    let (a, b) = pair.split_at_mut(DIGEST_BYTES);
                    a.swap_with_slice(b);
                }
            }
        });
        assert!(matches!(result, Err(Error::PeerMisbehaved(_))));
    }

    /// A proof made for another key, or replayed under another session, does not verify.
    #[test]
    fn a_proof_does_not_transfer() {
        let mut prg = Prg::from_seed([2; 16]);
        let (_, first) = BaseOtSender::new(&mut prg, [1; 32]);
        assert!(check_first(&[1; 32], &first).is_ok());
        assert!(matches!(
            check_first(&[2; 32], &first),
            Err(Error::PeerMisbehaved(_))
        ));
        let (_, other) = BaseOtSender::new(&mut prg, [1; 32]);
        let mut mixed = first;
        mixed[..32].copy_from_slice(&other[..32]);
        assert!(matches!(
            check_first(&[1; 32], &mixed),
            Err(Error::PeerMisbehaved(_))
        ));
    }

    #[test]
    fn bad_points_are_typed_errors() {
        let mut prg = Prg::from_seed([2; 16]);
        let session = [0u8; 32];
        let (_, first) = BaseOtSender::new(&mut prg, session);
        let mut bad = first;
        bad[..32].fill(0xff);
        assert!(matches!(
            receive_reply(&mut prg, session, &bad, &[true]),
            Err(Error::PeerMisbehaved(_))
        ));
        bad[..32].fill(0);
        assert!(matches!(
            receive_reply(&mut prg, session, &bad, &[true]),
            Err(Error::PeerMisbehaved(_))
        ));
        assert!(matches!(
            receive_reply(&mut prg, session, &first[..31], &[true]),
            Err(Error::PeerMisbehaved(_))
        ));
        let (sender, _) = BaseOtSender::new(&mut prg, session);
        let mut bad = vec![0u8; 64];
        bad[32..].fill(0xee);
        assert!(matches!(
            sender.finish(&bad, 2),
            Err(Error::PeerMisbehaved(_))
        ));
        let (sender, _) = BaseOtSender::new(&mut prg, session);
        assert!(matches!(
            sender.finish(&[1, 2, 3], 2),
            Err(Error::PeerMisbehaved(_))
        ));
    }
}
