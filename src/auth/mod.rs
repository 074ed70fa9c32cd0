//! Malicious security: authenticated garbling, the second protocol of a session
//! (`--security malicious`).
//!
//! Two-party authenticated garbling of Wang, Ranellucci and Katz (CCS 2017, eprint 2017/030) with
//! the authenticated half-gates and the half-gates based leaky AND of Katz, Ranellucci, Rosulek
//! and Wang (CRYPTO 2018, eprint 2018/578). `docs/MALICIOUS.md` lists the steps with their
//! equations, the paper section each follows and the check that catches each deviation; the
//! step numbers below refer to it.
//!
//! Every wire that is an input or the output of an AND gate gets a random mask
//! `lambda = r ^ s`, `r` held by the garbler and `s` by the evaluator, both authenticated (P1).
//! XOR and NOT are free: masks and labels are linear. Each AND gate gets authenticated shares of
//! `sigma = lambda_a AND lambda_b` (P2 to P6, [`prep`]). The evaluator learns only masked values
//! `Lambda = value ^ lambda` and one label per wire, `L_0 ^ Lambda*Delta_G` (I1 to I3). The garbled
//! AND gate is a half-gates pair whose garbler-side terms are the garbler's shares of
//! `lambda*Delta_G`; the evaluator adds its shares (its MACs under `Delta_G`) and reads the new
//! masked value from the label's colour and one bit sent with the gate (G1, G2). After
//! evaluation the evaluator proves its masked values with its labels and the garbler proves the
//! circuit correct under the evaluator's `Delta_E` (C1 to C3); only then are output masks
//! opened, with MACs (O1, O2).
//!
//! The semi-honest pieces are reused: the same [`Program`] and slots, the fixed-key AES TCCR
//! hash with unique tweaks, the KOS-checked correlated OT, the channel and its TLS.

#![forbid(unsafe_code)]

pub mod prep;

use zeroize::Zeroizing;

use crate::aes::{Aes, Prg, Tweaks};
use crate::block::{Block, Delta};
use crate::compile::{Program, SLOT_ONE, SlotGate};
use crate::error::{Error, Result};
use crate::net::{Channel, pack_bits, recv_blocks, send_blocks, unpack_bits};
use crate::ot::{CotReceiver, CotSender};
pub use crate::session::Security;
use crate::session::{Party, Reveal};
use prep::Auth;

/// A deviation a test makes one party play (the hostile-peer tests; never set otherwise).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cheat {
    /// Garbler: flip the low bit of the first half-gate ciphertext of AND gate 0.
    TableBit,
    /// Garbler: flip the colour-correction bit of AND gate 0.
    TableColour,
    /// Garbler: flip a bit of the first input label it sends.
    InputLabel,
    /// Either: flip a bit of the first leaky-AND ciphertext.
    LeakyAndMessage,
    /// Evaluator: flip a bit of the first leaky-AND ciphertext, then answer the equality check
    /// with whichever of the garbler's two possible digests (one per value of its share of that
    /// triple's `a`) it can match to the garbler's commitment. Were the commitment unsalted,
    /// this would learn the share and never be caught.
    LeakyAndSearch,
    /// Either: flip the first bit of the first preprocessing opening.
    OpenedShare,
    /// Garbler: flip the first output mask share it opens to the evaluator.
    OutputShare,
    /// Either: send a wrong MAC digest with the first opening.
    WrongMac,
    /// Either: flip a bit of the first correlated-OT message it sends as receiver.
    CotColumn,
    /// Evaluator: flip the first output mask share it opens to the garbler.
    FalseOutputShare,
    /// Evaluator: claim the wrong masked value for AND gate 0.
    FalseMaskedValue,
    /// Garbler: a selective-failure attempt: corrupt the label of the evaluator's first input
    /// wire exactly when its masked value is 1 (as a semi-honest garbler would corrupt the
    /// one-label of an OT).
    SelectiveLabel,
}

/// What a party brings to a malicious run: its global key, both OT directions, randomness.
pub struct Ctx<'a> {
    /// Which side we are.
    pub me: Party,
    /// Our global MAC key (the garbler's is also its free-XOR offset).
    pub delta: &'a Delta,
    /// COTs under our Delta: our keys for the peer's bits.
    pub send: &'a mut CotSender,
    /// COTs under the peer's Delta: our bits and their MACs.
    pub recv: &'a mut CotReceiver,
    /// OS-seeded randomness.
    pub prg: &'a mut Prg,
    /// The session nonce (tweak prefix).
    pub nonce: u64,
    /// The next leaky-AND tweak counter (continues across runs).
    pub leaky_counter: &'a mut u64,
    /// A deviation to play (tests only).
    pub cheat: &'a mut Option<Cheat>,
    /// Buffers reused across chunks and runs.
    pub scratch: &'a mut prep::Scratch,
    /// We played a deviation: like a real cheater, we then ignore our own checks' verdicts so
    /// that the honest side's checks are what the tests see.
    pub cheated: bool,
}

impl Ctx<'_> {
    /// Whether to play `cheat` here (once).
    pub(crate) fn cheat_once(&mut self, cheat: Cheat) -> bool {
        if *self.cheat == Some(cheat) {
            *self.cheat = None;
            self.cheated = true;
            true
        } else {
            false
        }
    }
}

/// One run's agreement: the program, who owns each input group, who learns each output group,
/// and the counter of AND gate 0's tweaks.
pub struct Run<'a> {
    /// The program.
    pub program: &'a Program,
    /// Owner of each input group.
    pub owners: &'a [Party],
    /// Who learns each output group.
    pub reveal: &'a [Reveal],
    /// Tweak counter of AND gate 0 (two per gate).
    pub tweak_first: u64,
    /// Runs the session was agreed for: every run's chunks share the session's `2^-RHO`
    /// failure budget.
    pub runs: u64,
}

impl Run<'_> {
    fn wire_owners(&self) -> Vec<Party> {
        self.owners
            .iter()
            .zip(self.program.input_widths())
            .flat_map(|(&o, &w)| std::iter::repeat_n(o, w as usize))
            .collect()
    }

    fn wire_reveal(&self) -> Vec<Reveal> {
        self.reveal
            .iter()
            .zip(self.program.output_widths())
            .flat_map(|(&r, &w)| std::iter::repeat_n(r, w as usize))
            .collect()
    }
}

/// Where a malicious run's time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunTimes {
    /// Masks, triples and AND shares (P1 to P6).
    pub preprocessing: std::time::Duration,
    /// Inputs, garbling or evaluating, the checks and the outputs.
    pub online: std::time::Duration,
}

/// AND gates per table write (as in the semi-honest protocol).
const TABLE_CHUNK: usize = 1 << 15;
/// XOR gates a chunk may buffer before it is processed (a long AND-free stretch).
const CHUNK_XORS: usize = 1 << 20;

/// A run of whole steps of the program holding about [`prep::TRIPLE_CHUNK`] AND gates: the unit a
/// run is preprocessed, garbled and checked in, so that memory follows the circuit's width plus
/// one chunk, not its length.
#[derive(Default)]
struct Chunk {
    xors: Vec<SlotGate>,
    ands: Vec<SlotGate>,
    /// XOR and AND gates of each step.
    steps: Vec<(usize, usize)>,
}

impl Chunk {
    /// Calls `f(xors, ands, index of the first AND within the chunk)` for each step.
    fn for_each_step(
        &self,
        mut f: impl FnMut(&[SlotGate], &[SlotGate], usize) -> Result<()>,
    ) -> Result<()> {
        let (mut x, mut a) = (0, 0);
        for &(nx, na) in &self.steps {
            f(&self.xors[x..x + nx], &self.ands[a..a + na], a)?;
            x += nx;
            a += na;
        }
        Ok(())
    }
}

/// Calls `f` on consecutive chunks covering the program in order; the last may hold fewer AND
/// gates, or none (the XOR gates after the last AND).
fn for_each_chunk(program: &Program, mut f: impl FnMut(&Chunk) -> Result<()>) -> Result<()> {
    let mut segments = program.segments();
    let mut chunk = Chunk::default();
    while let Some(segment) = segments.next_segment()? {
        let (mut x, mut a) = (0, 0);
        for step in segment.steps() {
            let (nx, na) = (step.xors as usize, step.ands as usize);
            chunk.xors.extend(segment.xor_gates(x..x + nx));
            chunk
                .ands
                .extend_from_slice(&segment.and_gates()[a..a + na]);
            chunk.steps.push((nx, na));
            x += nx;
            a += na;
            if chunk.ands.len() >= prep::TRIPLE_CHUNK || chunk.xors.len() >= CHUNK_XORS {
                f(&chunk)?;
                chunk.xors.clear();
                chunk.ands.clear();
                chunk.steps.clear();
            }
        }
    }
    if !chunk.steps.is_empty() {
        f(&chunk)?;
    }
    Ok(())
}

/// A chunk's preprocessing: the masks of its AND outputs, the masks of each AND gate's inputs,
/// and the shares of their AND.
struct Prepared {
    masks: Zeroizing<Vec<Auth>>,
    pairs: Zeroizing<Vec<(Auth, Auth)>>,
    sigma: Zeroizing<Vec<Auth>>,
}

/// P1 to P6 for one chunk (both parties): one correlated-OT batch for the chunk's masks and its
/// leaky triples, the masks carried through the chunk's XOR gates in `lam`, then the AND shares.
fn prepare_chunk<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    chunk: &Chunk,
    lam: &mut [Auth],
    chunks_bound: usize,
) -> Result<Prepared> {
    let n = chunk.ands.len();
    let bucket = prep::bucket_size(n, chunks_bound);
    let mut shares = std::mem::take(&mut ctx.scratch.shares);
    let result = prepare_with(ch, ctx, chunk, lam, n, bucket, &mut shares);
    ctx.scratch.shares = shares;
    result
}

fn prepare_with<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    chunk: &Chunk,
    lam: &mut [Auth],
    n: usize,
    bucket: usize,
    shares: &mut Vec<Auth>,
) -> Result<Prepared> {
    if n == 0 {
        shares.clear();
    } else {
        prep::random_shares_into(ch, ctx, n + 3 * n * bucket, shares)?;
    }
    let masks = Zeroizing::new(shares[..n].to_vec());
    let mut pairs = Zeroizing::new(Vec::with_capacity(n));
    chunk.for_each_step(|xors, ands, first| {
        for g in xors {
            lam[g.out as usize] = lam[g.a as usize] ^ lam[g.b as usize];
        }
        for (k, g) in ands.iter().enumerate() {
            pairs.push((lam[g.a as usize], lam[g.b as usize]));
            lam[g.out as usize] = masks[first + k];
        }
        Ok(())
    })?;
    let sigma = Zeroizing::new(prep::and_shares(ch, ctx, &pairs, bucket, &shares[n..])?);
    Ok(Prepared {
        masks,
        pairs,
        sigma,
    })
}

fn m1_digest() -> blake3::Hasher {
    let mut h = blake3::Hasher::new();
    h.update(b"garbled gate check v1");
    h
}

/// The digest of the evaluator's labels of a chunk's AND outputs (C1).
fn label_digest(labels: &[Block]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"garbled evaluator labels v1");
    h.update(crate::aes::blocks_as_bytes(labels));
    *h.finalize().as_bytes()
}

/// An upper bound on the number of chunks of a whole session (each chunk but a run's last holds
/// at least [`prep::TRIPLE_CHUNK`] AND gates, and the session makes `runs` runs): the bucket size
/// spreads the session's failure budget over all of them, not only over one run's.
pub fn chunks_bound(program: &Program, runs: u64) -> usize {
    let per_run = (program.and_count() / prep::TRIPLE_CHUNK + 1) as u64;
    usize::try_from(per_run.saturating_mul(runs.max(1))).unwrap_or(usize::MAX)
}

/// The input wires' owners and masks (P1), split into ours and the peer's.
struct Inputs {
    owners: Vec<Party>,
    masks: Zeroizing<Vec<Auth>>,
    ours: Zeroizing<Vec<Auth>>,
    theirs: Zeroizing<Vec<Auth>>,
}

/// P1 for the input wires, and the masks of our wires and the peer's (in wire order).
fn input_masks<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    run: &Run<'_>,
    own_bits: usize,
    times: &mut RunTimes,
) -> Result<Inputs> {
    let clock = std::time::Instant::now();
    let n_in = run.program.input_count();
    let masks = Zeroizing::new(prep::random_shares(ch, ctx, n_in)?);
    times.preprocessing += clock.elapsed();
    let owners = run.wire_owners();
    let pick = |party: Party| -> Zeroizing<Vec<Auth>> {
        Zeroizing::new(
            (0..n_in)
                .filter(|&w| owners[w] == party)
                .map(|w| masks[w])
                .collect(),
        )
    };
    let me = ctx.me;
    let peer = match me {
        Party::Garbler => Party::Evaluator,
        Party::Evaluator => Party::Garbler,
    };
    let (ours, theirs) = (pick(me), pick(peer));
    if own_bits != ours.len() {
        return Err(Error::arg(format!(
            "{own_bits} input bits given for {} input wires of this party",
            ours.len()
        )));
    }
    Ok(Inputs {
        owners,
        masks,
        ours,
        theirs,
    })
}

/// The mask shares of the output wires `to` selects, in wire order.
fn output_shares(run: &Run<'_>, lam: &[Auth], to: fn(Reveal) -> bool) -> Vec<Auth> {
    run.program
        .output_slots()
        .iter()
        .zip(run.wire_reveal())
        .filter(|(_, r)| to(*r))
        .map(|(&s, _)| lam[s as usize])
        .collect()
}

/// The outputs `to` selects, `Lambda ^ our share ^ the peer's opened share`; `None` for others.
fn decode_outputs(
    run: &Run<'_>,
    hat: &[bool],
    lam: &[Auth],
    to: fn(Reveal) -> bool,
    peer: &[bool],
) -> Vec<Option<bool>> {
    let mut next = 0;
    run.program
        .output_slots()
        .iter()
        .zip(run.wire_reveal())
        .map(|(&slot, r)| {
            to(r).then(|| {
                next += 1;
                hat[slot as usize] ^ lam[slot as usize].bit ^ peer[next - 1]
            })
        })
        .collect()
}

/// Shared outputs stay unopened: the garbler's share of the value is its share `r` of the wire's
/// authenticated mask, the evaluator's is `Lambda ^ s` (so the two XOR to `Lambda ^ r ^ s`, the
/// value). `out` holds [`decode_outputs`]'s result, filled in here for the shared wires.
fn shared_outputs(run: &Run<'_>, hat: Option<&[bool]>, lam: &[Auth], out: &mut [Option<bool>]) {
    for ((&slot, r), o) in run
        .program
        .output_slots()
        .iter()
        .zip(run.wire_reveal())
        .zip(out.iter_mut())
    {
        if r.is_shared() {
            let s = slot as usize;
            *o = Some(hat.is_some_and(|h| h[s]) ^ lam[s].bit);
        }
    }
}

/// The garbler's side of one malicious run. `own` holds the garbler's input bits in wire order.
/// Returns the output bits in wire order (`None` for outputs not revealed to the garbler).
pub fn garbler_run<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    run: &Run<'_>,
    own: &[bool],
    times: &mut RunTimes,
) -> Result<Vec<Option<bool>>> {
    let program = run.program;
    let n_in = program.input_count();
    let num_slots = program.num_slots() as usize;
    let delta = ctx.delta.block();
    let Inputs {
        owners,
        masks,
        ours,
        theirs,
    } = input_masks(ch, ctx, run, own.len(), times)?;
    let clock = std::time::Instant::now();

    // I1: open r to the evaluator on its input wires; I2: it opens s on ours and sends its
    // masked values; I3: our masked values and every input label.
    prep::send_open(ch, ctx, &theirs, Cheat::OpenedShare)?;
    ch.flush()?;
    let s = Zeroizing::new(prep::recv_open(ch, ctx, &ours, "input mask shares")?);
    let mut packed = vec![0u8; theirs.len().div_ceil(8)];
    ch.read_exact(&mut packed)?;
    let their_hat = unpack_bits(&packed, theirs.len());
    let mut hat_in = Zeroizing::new(Vec::with_capacity(n_in));
    let (mut next_own, mut next_their) = (0, 0);
    for &owner in &owners {
        if owner == Party::Garbler {
            next_own += 1;
            let k = next_own - 1;
            hat_in.push(own[k] ^ ours[k].bit ^ s[k]);
        } else {
            next_their += 1;
            hat_in.push(their_hat[next_their - 1]);
        }
    }
    let our_hat: Vec<bool> = (0..n_in)
        .filter(|&w| owners[w] == Party::Garbler)
        .map(|w| hat_in[w])
        .collect();
    let mut label0 = Zeroizing::new(vec![Block::ZERO; n_in]);
    ctx.prg.fill(&mut label0);
    let mut active: Zeroizing<Vec<Block>> = Zeroizing::new(
        label0
            .iter()
            .zip(hat_in.iter())
            .map(|(&l, &h)| l ^ delta.select(h))
            .collect(),
    );
    if !active.is_empty() && ctx.cheat_once(Cheat::InputLabel) {
        active[0] ^= Block::new(1 << 3);
    }
    if let Some(w) = owners.iter().position(|&o| o == Party::Evaluator)
        && ctx.cheat_once(Cheat::SelectiveLabel)
        && hat_in[w]
    {
        active[w] ^= Block::new(1 << 3);
    }
    ch.write_all(&pack_bits(&our_hat))?;
    send_blocks(ch, &active)?;
    ch.flush()?;
    drop(active);
    times.online += clock.elapsed();

    // Per chunk: P2 to P6, G1 (garble and stream the tables), C1 and C2 (the evaluator's
    // masked values, checked against its labels, and our side of each gate's check).
    let mut lam = Zeroizing::new(vec![Auth::default(); num_slots]);
    let mut labels = Zeroizing::new(vec![Block::ZERO; num_slots]);
    let mut hat = vec![false; num_slots];
    labels[SLOT_ONE as usize] = delta;
    hat[SLOT_ONE as usize] = true;
    for (i, &slot) in program.input_slots().iter().enumerate() {
        lam[slot as usize] = masks[i];
        labels[slot as usize] = label0[i];
        hat[slot as usize] = hat_in[i];
    }
    let bound = chunks_bound(program, run.runs);
    let mut m1 = m1_digest();
    let mut and_base = 0usize;
    let mut hashes = Zeroizing::new(Vec::new());
    let mut gamma0 = Zeroizing::new(Vec::new());
    let mut checks = Zeroizing::new(Vec::new());
    let mut out_blocks = Vec::with_capacity(2 * TABLE_CHUNK);
    let mut out_bits = Vec::with_capacity(TABLE_CHUNK);
    let aes = Aes::fixed();
    for_each_chunk(program, |chunk| {
        let clock = std::time::Instant::now();
        let prep = prepare_chunk(ch, ctx, chunk, &mut lam, bound)?;
        times.preprocessing += clock.elapsed();
        let clock = std::time::Instant::now();
        let n = chunk.ands.len();
        gamma0.clear();
        chunk.for_each_step(|xors, ands, first| {
            for g in xors {
                labels[g.out as usize] = labels[g.a as usize] ^ labels[g.b as usize];
            }
            if ands.is_empty() {
                return Ok(());
            }
            hashes.clear();
            for g in ands {
                let (la, lb) = (labels[g.a as usize], labels[g.b as usize]);
                hashes.extend_from_slice(&[la, la ^ delta, lb, lb ^ delta]);
            }
            aes.tccr(
                &mut hashes,
                Tweaks {
                    nonce: ctx.nonce,
                    first: run.tweak_first + 2 * (and_base + first) as u64,
                    shift: 1,
                },
            );
            for (k, g) in ands.iter().enumerate() {
                let i = first + k;
                let h = &hashes[4 * k..4 * k + 4];
                let (a, b) = prep.pairs[i];
                // The garbler's share of lambda*Delta_G: r*Delta_G ^ K_G[s].
                let share = |x: Auth| delta.select(x.bit) ^ x.key;
                let mut g0 = h[0] ^ h[1] ^ share(b);
                let g1 = h[2] ^ h[3] ^ labels[g.a as usize] ^ share(a);
                let l0 = h[0] ^ h[2] ^ share(prep.sigma[i]) ^ share(prep.masks[i]);
                let mut colour = l0.lsb();
                if and_base + i == 0 && ctx.cheat_once(Cheat::TableBit) {
                    g0 ^= Block::new(1);
                }
                if and_base + i == 0 && ctx.cheat_once(Cheat::TableColour) {
                    colour = !colour;
                }
                out_blocks.push(g0);
                out_blocks.push(g1);
                out_bits.push(colour);
                gamma0.push(l0);
                labels[g.out as usize] = l0;
                if out_bits.len() == TABLE_CHUNK {
                    send_blocks(ch, &out_blocks)?;
                    ch.write_all(&pack_bits(&out_bits))?;
                    out_blocks.clear();
                    out_bits.clear();
                }
            }
            Ok(())
        })?;
        if !out_bits.is_empty() {
            send_blocks(ch, &out_blocks)?;
            ch.write_all(&pack_bits(&out_bits))?;
            out_blocks.clear();
            out_bits.clear();
        }
        ch.flush()?;
        // C1: the evaluator's masked values of the chunk's AND outputs, proved by a digest of
        // its labels (it cannot know the other label of any wire).
        let hat_and = if n > 0 {
            let mut packed = vec![0u8; n.div_ceil(8)];
            ch.read_exact(&mut packed)?;
            let mut claimed = [0u8; 32];
            ch.read_exact(&mut claimed)?;
            let hat_and = unpack_bits(&packed, n);
            let expected: Zeroizing<Vec<Block>> = Zeroizing::new(
                gamma0
                    .iter()
                    .zip(&hat_and)
                    .map(|(&l, &h)| l ^ delta.select(h))
                    .collect(),
            );
            let proved: bool =
                subtle::ConstantTimeEq::ct_eq(&label_digest(&expected)[..], &claimed[..]).into();
            if !proved && !ctx.cheated {
                return Err(Error::Cheating(
                    "the evaluator's masked values do not match the labels it holds".into(),
                ));
            }
            hat_and
        } else {
            Vec::new()
        };
        // C2: the masked values of every wire, and our side of each gate's check.
        checks.clear();
        chunk.for_each_step(|xors, ands, first| {
            for g in xors {
                hat[g.out as usize] = hat[g.a as usize] ^ hat[g.b as usize];
            }
            for (k, g) in ands.iter().enumerate() {
                let i = first + k;
                let (ha, hb) = (hat[g.a as usize], hat[g.b as usize]);
                let (a, b) = prep.pairs[i];
                checks.push(
                    prep.sigma[i].mac ^ prep.masks[i].mac ^ b.mac.select(ha) ^ a.mac.select(hb),
                );
                hat[g.out as usize] = hat_and[i];
            }
            Ok(())
        })?;
        m1.update(crate::aes::blocks_as_bytes(&checks));
        and_base += n;
        times.online += clock.elapsed();
        Ok(())
    })?;
    if and_base != program.and_count() {
        return Err(Error::SelfCheck(
            "the program's steps do not cover its AND gates".into(),
        ));
    }
    let clock = std::time::Instant::now();
    // C3 and O1: our check digest, then our output mask shares of the evaluator's outputs.
    ch.write_all(m1.finalize().as_bytes())?;
    let for_them = output_shares(run, &lam, Reveal::to_evaluator);
    prep::send_open(ch, ctx, &for_them, Cheat::OutputShare)?;
    ch.flush()?;
    // O2: the evaluator's shares of our outputs.
    let for_us = output_shares(run, &lam, Reveal::to_garbler);
    let their_s = prep::recv_open(ch, ctx, &for_us, "output mask shares")?;
    let mut out = decode_outputs(run, &hat, &lam, Reveal::to_garbler, &their_s);
    shared_outputs(run, None, &lam, &mut out);
    times.online += clock.elapsed();
    Ok(out)
}

/// The evaluator's side of one malicious run. `own` holds the evaluator's input bits in wire
/// order. Returns the output bits in wire order (`None` for outputs not revealed to it).
pub fn evaluator_run<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    run: &Run<'_>,
    own: &[bool],
    times: &mut RunTimes,
) -> Result<Vec<Option<bool>>> {
    let program = run.program;
    let n_in = program.input_count();
    let num_slots = program.num_slots() as usize;
    let delta_e = ctx.delta.block();
    let Inputs {
        owners,
        masks,
        ours,
        theirs,
    } = input_masks(ch, ctx, run, own.len(), times)?;
    let clock = std::time::Instant::now();

    // I1 to I3.
    let r = Zeroizing::new(prep::recv_open(ch, ctx, &ours, "input mask shares")?);
    let our_hat: Vec<bool> = (0..ours.len())
        .map(|k| own[k] ^ ours[k].bit ^ r[k])
        .collect();
    prep::send_open(ch, ctx, &theirs, Cheat::OpenedShare)?;
    ch.write_all(&pack_bits(&our_hat))?;
    ch.flush()?;
    let mut packed = vec![0u8; theirs.len().div_ceil(8)];
    ch.read_exact(&mut packed)?;
    let their_hat = unpack_bits(&packed, theirs.len());
    let mut active = Zeroizing::new(vec![Block::ZERO; n_in]);
    recv_blocks(ch, &mut active)?;
    times.online += clock.elapsed();

    // Per chunk: P2 to P6, G2 (evaluate as the tables arrive, our side of each gate's check as
    // we go), C1 (our masked values and the digest of our labels).
    let mut lam = Zeroizing::new(vec![Auth::default(); num_slots]);
    let mut labels = Zeroizing::new(vec![Block::ZERO; num_slots]);
    let mut hat = vec![false; num_slots];
    hat[SLOT_ONE as usize] = true;
    let (mut next_own, mut next_their) = (0, 0);
    for (i, &slot) in program.input_slots().iter().enumerate() {
        lam[slot as usize] = masks[i];
        labels[slot as usize] = active[i];
        hat[slot as usize] = if owners[i] == Party::Evaluator {
            next_own += 1;
            our_hat[next_own - 1]
        } else {
            next_their += 1;
            their_hat[next_their - 1]
        };
    }
    drop(active);
    let bound = chunks_bound(program, run.runs);
    let mut m1 = m1_digest();
    let mut and_base = 0usize;
    let mut hashes = Zeroizing::new(Vec::new());
    let mut out_labels = Zeroizing::new(Vec::new());
    let mut checks = Zeroizing::new(Vec::new());
    let mut hat_and = Vec::new();
    let mut reader = TableReader::default();
    let aes = Aes::fixed();
    for_each_chunk(program, |chunk| {
        let clock = std::time::Instant::now();
        let prep = prepare_chunk(ch, ctx, chunk, &mut lam, bound)?;
        times.preprocessing += clock.elapsed();
        let clock = std::time::Instant::now();
        let n = chunk.ands.len();
        reader.reset(n);
        out_labels.clear();
        hat_and.clear();
        checks.clear();
        chunk.for_each_step(|xors, ands, first| {
            for g in xors {
                labels[g.out as usize] = labels[g.a as usize] ^ labels[g.b as usize];
                hat[g.out as usize] = hat[g.a as usize] ^ hat[g.b as usize];
            }
            if ands.is_empty() {
                return Ok(());
            }
            reader.ensure(ch, first, first + ands.len())?;
            hashes.clear();
            for g in ands {
                hashes.extend_from_slice(&[labels[g.a as usize], labels[g.b as usize]]);
            }
            aes.tccr(
                &mut hashes,
                Tweaks {
                    nonce: ctx.nonce,
                    first: run.tweak_first + 2 * (and_base + first) as u64,
                    shift: 0,
                },
            );
            for (k, g) in ands.iter().enumerate() {
                let i = first + k;
                let (g0, g1, colour) = reader.gate(i);
                let (a, b) = prep.pairs[i];
                let (ha, hb) = (hat[g.a as usize], hat[g.b as usize]);
                let la = labels[g.a as usize];
                let (gamma, sg) = (prep.masks[i], prep.sigma[i]);
                // Our shares of lambda*Delta_G are our MACs under Delta_G.
                let label = hashes[2 * k]
                    ^ hashes[2 * k + 1]
                    ^ (g0 ^ b.mac).select(ha)
                    ^ (g1 ^ a.mac ^ la).select(hb)
                    ^ sg.mac
                    ^ gamma.mac;
                let mut h = label.lsb() ^ colour;
                // Our side of the gate's check under Delta_E: it equals the garbler's side
                // exactly when the masked output is (ha ^ lambda_a)(hb ^ lambda_b) ^ lambda_out.
                let t = (ha & hb) ^ h ^ (ha & b.bit) ^ (hb & a.bit) ^ sg.bit ^ gamma.bit;
                let m =
                    delta_e.select(t) ^ b.key.select(ha) ^ a.key.select(hb) ^ sg.key ^ gamma.key;
                checks.push(m);
                if and_base + i == 0 && ctx.cheat_once(Cheat::FalseMaskedValue) {
                    h = !h;
                }
                out_labels.push(label);
                hat_and.push(h);
                labels[g.out as usize] = label;
                hat[g.out as usize] = h;
            }
            Ok(())
        })?;
        reader.finish()?;
        m1.update(crate::aes::blocks_as_bytes(&checks));
        if n > 0 {
            ch.write_all(&pack_bits(&hat_and))?;
            ch.write_all(&label_digest(&out_labels))?;
            ch.flush()?;
        }
        and_base += n;
        times.online += clock.elapsed();
        Ok(())
    })?;
    if and_base != program.and_count() {
        return Err(Error::SelfCheck(
            "the program's steps do not cover its AND gates".into(),
        ));
    }
    let clock = std::time::Instant::now();
    // C3: the garbler's side of the gate checks must equal ours.
    let mut theirs_m1 = [0u8; 32];
    ch.read_exact(&mut theirs_m1)?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &m1.finalize().as_bytes()[..],
        &theirs_m1[..],
    )) && !ctx.cheated
    {
        return Err(Error::Cheating(
            "the garbled circuit failed its authentication check (the garbler garbled something \
             other than the agreed circuit, or tampered with a table)"
                .into(),
        ));
    }
    // O1: the garbler's shares of our output masks.
    let for_us = output_shares(run, &lam, Reveal::to_evaluator);
    let their_r = prep::recv_open(ch, ctx, &for_us, "output mask shares")?;
    // O2: our shares of the garbler's output masks, only now that the circuit checked out.
    let for_them = output_shares(run, &lam, Reveal::to_garbler);
    prep::send_open(ch, ctx, &for_them, Cheat::FalseOutputShare)?;
    ch.flush()?;
    let mut out = decode_outputs(run, &hat, &lam, Reveal::to_evaluator, &their_r);
    shared_outputs(run, Some(&hat), &lam, &mut out);
    times.online += clock.elapsed();
    Ok(out)
}

/// The evaluator's window onto the streamed tables: the garbler writes [`TABLE_CHUNK`] gates at
/// a time (two blocks per gate, then the colour bits packed).
#[derive(Default)]
struct TableReader {
    total: usize,
    /// Gate index of `blocks[0]`.
    start: usize,
    /// Gates received so far.
    received: usize,
    blocks: Vec<Block>,
    bits: Vec<bool>,
}

impl TableReader {
    /// Starts a chunk of `total` AND gates (the buffers are kept).
    fn reset(&mut self, total: usize) {
        self.total = total;
        self.start = 0;
        self.received = 0;
        self.blocks.clear();
        self.bits.clear();
    }

    /// Makes gates `from .. upto` available. Before a write is read, the gates before `from`
    /// are dropped (batches come in order, so no later batch reaches back): once per write,
    /// not once per batch.
    fn ensure<C: Channel>(&mut self, ch: &mut C, from: usize, upto: usize) -> Result<()> {
        if upto > self.total || from < self.start {
            return Err(Error::SelfCheck("AND gates out of order".into()));
        }
        if self.received >= upto {
            return Ok(());
        }
        let drop = (from - self.start).min(self.bits.len());
        self.blocks.drain(..2 * drop);
        self.bits.drain(..drop);
        self.start += drop;
        while self.received < upto {
            let m = (self.total - self.received).min(TABLE_CHUNK);
            let at = self.blocks.len();
            self.blocks.resize(at + 2 * m, Block::ZERO);
            recv_blocks(ch, &mut self.blocks[at..])?;
            let mut packed = vec![0u8; m.div_ceil(8)];
            ch.read_exact(&mut packed)?;
            self.bits.extend(unpack_bits(&packed, m));
            self.received += m;
        }
        Ok(())
    }

    fn gate(&self, i: usize) -> (Block, Block, bool) {
        let k = i - self.start;
        (self.blocks[2 * k], self.blocks[2 * k + 1], self.bits[k])
    }

    fn finish(&self) -> Result<()> {
        if self.received != self.total {
            return Err(Error::SelfCheck(
                "the program's steps do not cover its AND gates".into(),
            ));
        }
        Ok(())
    }
}
