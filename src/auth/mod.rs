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
use crate::protocol::{Party, Reveal};
use prep::Auth;

/// The security a session gives: negotiated in the handshake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Security {
    /// Both parties follow the protocol (half-gates or three-halves garbling).
    #[default]
    SemiHonest,
    /// Either party may deviate: authenticated garbling; a deviation ends in an abort.
    Malicious,
}

impl Security {
    /// The name used on the command line, in the handshake and in the statistics.
    pub fn name(self) -> &'static str {
        match self {
            Security::SemiHonest => "semi-honest",
            Security::Malicious => "malicious",
        }
    }
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Security {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "semi-honest" => Ok(Security::SemiHonest),
            "malicious" => Ok(Security::Malicious),
            other => Err(Error::arg(format!(
                "unknown security '{other}': expected semi-honest or malicious"
            ))),
        }
    }
}

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
    /// The running digest of the current leaky-AND batch.
    pub leaky_digest: blake3::Hasher,
    /// A deviation to play (tests only).
    pub cheat: &'a mut Option<Cheat>,
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

/// Calls `f(xors, ands)` for every step of the program, in order.
fn walk(
    program: &Program,
    mut f: impl FnMut(&[SlotGate], &[SlotGate], usize) -> Result<()>,
) -> Result<()> {
    let mut segments = program.segments();
    let mut and_index = 0;
    while let Some(segment) = segments.next_segment()? {
        let (mut x, mut a) = (0, 0);
        for step in segment.steps() {
            let xs = &segment.xor_gates()[x..x + step.xors as usize];
            let ands = &segment.and_gates()[a..a + step.ands as usize];
            x += xs.len();
            a += ands.len();
            f(xs, ands, and_index)?;
            and_index += ands.len();
        }
    }
    Ok(())
}

/// P1 to P6 (both parties): masks for the inputs and AND outputs, and the shares of
/// `sigma = lambda_a AND lambda_b` for every AND gate, in program order.
fn preprocess<C: Channel>(
    ch: &mut C,
    ctx: &mut Ctx<'_>,
    program: &Program,
) -> Result<(Zeroizing<Vec<Auth>>, Zeroizing<Vec<Auth>>)> {
    let n_in = program.input_count();
    let n_and = program.and_count();
    let masks = Zeroizing::new(prep::random_shares(ch, ctx, n_in + n_and)?);
    let chunks = n_and.div_ceil(prep::TRIPLE_CHUNK).max(1);
    let mut lam = Zeroizing::new(vec![Auth::default(); program.num_slots() as usize]);
    for (i, &slot) in program.input_slots().iter().enumerate() {
        lam[slot as usize] = masks[i];
    }
    let mut pairs = Zeroizing::new(Vec::with_capacity(n_and.min(prep::TRIPLE_CHUNK)));
    let mut sigma = Zeroizing::new(Vec::with_capacity(n_and));
    walk(program, |xors, ands, first| {
        for g in xors {
            lam[g.out as usize] = lam[g.a as usize] ^ lam[g.b as usize];
        }
        for (k, g) in ands.iter().enumerate() {
            pairs.push((lam[g.a as usize], lam[g.b as usize]));
            lam[g.out as usize] = masks[n_in + first + k];
            if pairs.len() == prep::TRIPLE_CHUNK {
                sigma.extend(prep::and_shares(ch, ctx, &pairs, chunks)?);
                pairs.clear();
            }
        }
        Ok(())
    })?;
    if !pairs.is_empty() {
        sigma.extend(prep::and_shares(ch, ctx, &pairs, chunks)?);
    }
    if sigma.len() != n_and {
        return Err(Error::SelfCheck(
            "the program's steps do not cover its AND gates".into(),
        ));
    }
    Ok((masks, sigma))
}

fn m1_digest() -> blake3::Hasher {
    let mut h = blake3::Hasher::new();
    h.update(b"garbled gate check v1");
    h
}

fn label_digest() -> blake3::Hasher {
    let mut h = blake3::Hasher::new();
    h.update(b"garbled evaluator labels v1");
    h
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
    let clock = std::time::Instant::now();
    let program = run.program;
    let n_in = program.input_count();
    let n_and = program.and_count();
    let (masks, sigma) = preprocess(ch, ctx, program)?;
    times.preprocessing += clock.elapsed();
    let clock = std::time::Instant::now();
    let delta = ctx.delta.block();

    // I1: open r to the evaluator on its input wires; I2: it opens s on ours and sends its
    // masked values; I3: our masked values and every input label.
    let owners = run.wire_owners();
    let theirs: Zeroizing<Vec<Auth>> = Zeroizing::new(
        (0..n_in)
            .filter(|&w| owners[w] == Party::Evaluator)
            .map(|w| masks[w])
            .collect(),
    );
    let ours: Zeroizing<Vec<Auth>> = Zeroizing::new(
        (0..n_in)
            .filter(|&w| owners[w] == Party::Garbler)
            .map(|w| masks[w])
            .collect(),
    );
    if own.len() != ours.len() {
        return Err(Error::arg("wrong number of garbler input bits"));
    }
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
            let k = next_own;
            next_own += 1;
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
        active[0] = active[0] ^ Block::new(1 << 3);
    }
    if let Some(w) = owners.iter().position(|&o| o == Party::Evaluator)
        && ctx.cheat_once(Cheat::SelectiveLabel)
        && hat_in[w]
    {
        active[w] = active[w] ^ Block::new(1 << 3);
    }
    ch.write_all(&pack_bits(&our_hat))?;
    send_blocks(ch, &active)?;
    ch.flush()?;
    drop(active);

    // G1: garble and stream the tables.
    let num_slots = program.num_slots() as usize;
    let mut labels = Zeroizing::new(vec![Block::ZERO; num_slots]);
    let mut lam = Zeroizing::new(vec![Auth::default(); num_slots]);
    labels[SLOT_ONE as usize] = delta;
    for (i, &slot) in program.input_slots().iter().enumerate() {
        labels[slot as usize] = label0[i];
        lam[slot as usize] = masks[i];
    }
    let mut gamma0 = Zeroizing::new(Vec::with_capacity(n_and));
    let mut hashes = Zeroizing::new(Vec::new());
    let mut out_blocks = Vec::with_capacity(2 * TABLE_CHUNK);
    let mut out_bits = Vec::with_capacity(TABLE_CHUNK);
    let aes = Aes::fixed();
    walk(program, |xors, ands, first| {
        for g in xors {
            labels[g.out as usize] = labels[g.a as usize] ^ labels[g.b as usize];
            lam[g.out as usize] = lam[g.a as usize] ^ lam[g.b as usize];
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
                first: run.tweak_first + 2 * first as u64,
                shift: 1,
            },
        );
        for (k, g) in ands.iter().enumerate() {
            let h = &hashes[4 * k..4 * k + 4];
            let (a, b) = (lam[g.a as usize], lam[g.b as usize]);
            let gamma = masks[n_in + first + k];
            let sg = sigma[first + k];
            // The garbler's share of lambda*Delta_G: r*Delta_G ^ K_G[s].
            let share = |x: Auth| delta.select(x.bit) ^ x.key;
            let mut g0 = h[0] ^ h[1] ^ share(b);
            let g1 = h[2] ^ h[3] ^ labels[g.a as usize] ^ share(a);
            let l0 = h[0] ^ h[2] ^ share(sg) ^ share(gamma);
            let mut colour = l0.lsb();
            if first + k == 0 && ctx.cheat_once(Cheat::TableBit) {
                g0 = g0 ^ Block::new(1);
            }
            if first + k == 0 && ctx.cheat_once(Cheat::TableColour) {
                colour = !colour;
            }
            out_blocks.push(g0);
            out_blocks.push(g1);
            out_bits.push(colour);
            gamma0.push(l0);
            labels[g.out as usize] = l0;
            lam[g.out as usize] = gamma;
            if out_bits.len() == TABLE_CHUNK {
                send_blocks(ch, &out_blocks)?;
                ch.write_all(&pack_bits(&out_bits))?;
                ch.flush()?;
                out_blocks.clear();
                out_bits.clear();
            }
        }
        Ok(())
    })?;
    if !out_bits.is_empty() {
        send_blocks(ch, &out_blocks)?;
        ch.write_all(&pack_bits(&out_bits))?;
    }
    ch.flush()?;
    drop(labels);

    // C1: the evaluator's masked values of the AND outputs, proved by a digest of its labels.
    let mut packed = vec![0u8; n_and.div_ceil(8)];
    ch.read_exact(&mut packed)?;
    let hat_and = unpack_bits(&packed, n_and);
    let mut claimed = [0u8; 32];
    ch.read_exact(&mut claimed)?;
    // C2: recompute the masked values of every wire and our side of each gate's check.
    let mut hat = vec![false; num_slots];
    hat[SLOT_ONE as usize] = true;
    for (i, &slot) in program.input_slots().iter().enumerate() {
        hat[slot as usize] = hat_in[i];
        lam[slot as usize] = masks[i];
    }
    let mut m1 = m1_digest();
    let mut seen = label_digest();
    walk(program, |xors, ands, first| {
        for g in xors {
            hat[g.out as usize] = hat[g.a as usize] ^ hat[g.b as usize];
            lam[g.out as usize] = lam[g.a as usize] ^ lam[g.b as usize];
        }
        for (k, g) in ands.iter().enumerate() {
            let i = first + k;
            let (ha, hb) = (hat[g.a as usize], hat[g.b as usize]);
            let gamma = masks[n_in + i];
            let m = sigma[i].mac
                ^ gamma.mac
                ^ lam[g.b as usize].mac.select(ha)
                ^ lam[g.a as usize].mac.select(hb);
            m1.update(&m.to_bytes());
            seen.update(&(gamma0[i] ^ delta.select(hat_and[i])).to_bytes());
            hat[g.out as usize] = hat_and[i];
            lam[g.out as usize] = gamma;
        }
        Ok(())
    })?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &seen.finalize().as_bytes()[..],
        &claimed[..],
    )) && !ctx.cheated
    {
        return Err(Error::Cheating(
            "the evaluator's masked values do not match the labels it holds".into(),
        ));
    }
    // C3 and O1: our check digest, then our output mask shares of the evaluator's outputs.
    ch.write_all(m1.finalize().as_bytes())?;
    let reveal = run.wire_reveal();
    let out_slots = program.output_slots();
    let for_them: Vec<Auth> = out_slots
        .iter()
        .zip(&reveal)
        .filter(|(_, r)| r.to_evaluator())
        .map(|(&s, _)| lam[s as usize])
        .collect();
    prep::send_open(ch, ctx, &for_them, Cheat::OutputShare)?;
    ch.flush()?;
    // O2: the evaluator's shares of our outputs.
    let for_us: Vec<Auth> = out_slots
        .iter()
        .zip(&reveal)
        .filter(|(_, r)| r.to_garbler())
        .map(|(&s, _)| lam[s as usize])
        .collect();
    let their_s = prep::recv_open(ch, ctx, &for_us, "output mask shares")?;
    let mut next = 0;
    let out = out_slots
        .iter()
        .zip(&reveal)
        .map(|(&slot, r)| {
            r.to_garbler().then(|| {
                next += 1;
                hat[slot as usize] ^ lam[slot as usize].bit ^ their_s[next - 1]
            })
        })
        .collect();
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
    let clock = std::time::Instant::now();
    let program = run.program;
    let n_in = program.input_count();
    let n_and = program.and_count();
    let (masks, sigma) = preprocess(ch, ctx, program)?;
    times.preprocessing += clock.elapsed();
    let clock = std::time::Instant::now();
    let delta = ctx.delta.block();

    // I1 to I3.
    let owners = run.wire_owners();
    let ours: Zeroizing<Vec<Auth>> = Zeroizing::new(
        (0..n_in)
            .filter(|&w| owners[w] == Party::Evaluator)
            .map(|w| masks[w])
            .collect(),
    );
    let theirs: Zeroizing<Vec<Auth>> = Zeroizing::new(
        (0..n_in)
            .filter(|&w| owners[w] == Party::Garbler)
            .map(|w| masks[w])
            .collect(),
    );
    if own.len() != ours.len() {
        return Err(Error::arg("wrong number of evaluator input bits"));
    }
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

    // G2: evaluate as the tables arrive; our side of each gate's check as we go.
    let num_slots = program.num_slots() as usize;
    let mut labels = Zeroizing::new(vec![Block::ZERO; num_slots]);
    let mut lam = Zeroizing::new(vec![Auth::default(); num_slots]);
    let mut hat = vec![false; num_slots];
    hat[SLOT_ONE as usize] = true;
    let (mut next_own, mut next_their) = (0, 0);
    for (i, &slot) in program.input_slots().iter().enumerate() {
        labels[slot as usize] = active[i];
        lam[slot as usize] = masks[i];
        hat[slot as usize] = if owners[i] == Party::Evaluator {
            next_own += 1;
            our_hat[next_own - 1]
        } else {
            next_their += 1;
            their_hat[next_their - 1]
        };
    }
    drop(active);
    let mut reader = TableReader::new(n_and);
    let mut hashes = Zeroizing::new(Vec::new());
    let mut m1 = m1_digest();
    let mut seen = label_digest();
    let mut hat_and = Vec::with_capacity(n_and);
    let aes = Aes::fixed();
    let delta_e = delta;
    walk(program, |xors, ands, first| {
        for g in xors {
            labels[g.out as usize] = labels[g.a as usize] ^ labels[g.b as usize];
            lam[g.out as usize] = lam[g.a as usize] ^ lam[g.b as usize];
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
                first: run.tweak_first + 2 * first as u64,
                shift: 0,
            },
        );
        for (k, g) in ands.iter().enumerate() {
            let i = first + k;
            let (g0, g1, colour) = reader.gate(i);
            let (a, b) = (lam[g.a as usize], lam[g.b as usize]);
            let (ha, hb) = (hat[g.a as usize], hat[g.b as usize]);
            let la = labels[g.a as usize];
            let gamma = masks[n_in + i];
            let sg = sigma[i];
            // Our shares of lambda*Delta_G are our MACs under Delta_G.
            let label = hashes[2 * k]
                ^ hashes[2 * k + 1]
                ^ (g0 ^ b.mac).select(ha)
                ^ (g1 ^ a.mac ^ la).select(hb)
                ^ sg.mac
                ^ gamma.mac;
            let mut h = label.lsb() ^ colour;
            // Our side of the gate's check under Delta_E: it equals the garbler's side exactly
            // when the masked output is (ha ^ lambda_a)(hb ^ lambda_b) ^ lambda_out.
            let t = (ha & hb) ^ h ^ (ha & b.bit) ^ (hb & a.bit) ^ sg.bit ^ gamma.bit;
            let m = delta_e.select(t) ^ b.key.select(ha) ^ a.key.select(hb) ^ sg.key ^ gamma.key;
            m1.update(&m.to_bytes());
            seen.update(&label.to_bytes());
            if i == 0 && ctx.cheat_once(Cheat::FalseMaskedValue) {
                h = !h;
            }
            hat_and.push(h);
            labels[g.out as usize] = label;
            lam[g.out as usize] = gamma;
            hat[g.out as usize] = h;
        }
        Ok(())
    })?;
    reader.finish()?;
    drop(labels);

    // C1: our masked values and the digest of our labels.
    ch.write_all(&pack_bits(&hat_and))?;
    ch.write_all(seen.finalize().as_bytes())?;
    ch.flush()?;
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
    let reveal = run.wire_reveal();
    let out_slots = program.output_slots();
    let for_us: Vec<Auth> = out_slots
        .iter()
        .zip(&reveal)
        .filter(|(_, r)| r.to_evaluator())
        .map(|(&s, _)| lam[s as usize])
        .collect();
    let their_r = prep::recv_open(ch, ctx, &for_us, "output mask shares")?;
    // O2: our shares of the garbler's output masks, only now that the circuit checked out.
    let for_them: Vec<Auth> = out_slots
        .iter()
        .zip(&reveal)
        .filter(|(_, r)| r.to_garbler())
        .map(|(&s, _)| lam[s as usize])
        .collect();
    prep::send_open(ch, ctx, &for_them, Cheat::FalseOutputShare)?;
    ch.flush()?;
    let mut next = 0;
    let out = out_slots
        .iter()
        .zip(&reveal)
        .map(|(&slot, r)| {
            r.to_evaluator().then(|| {
                next += 1;
                hat[slot as usize] ^ lam[slot as usize].bit ^ their_r[next - 1]
            })
        })
        .collect();
    times.online += clock.elapsed();
    Ok(out)
}

/// The evaluator's window onto the streamed tables: the garbler writes [`TABLE_CHUNK`] gates at
/// a time (two blocks per gate, then the colour bits packed).
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
    fn new(total: usize) -> Self {
        TableReader {
            total,
            start: 0,
            received: 0,
            blocks: Vec::new(),
            bits: Vec::new(),
        }
    }

    /// Makes gates `from .. upto` available, dropping those before `from` (batches come in
    /// order, so no later batch reaches back).
    fn ensure<C: Channel>(&mut self, ch: &mut C, from: usize, upto: usize) -> Result<()> {
        if upto > self.total || from < self.start {
            return Err(Error::SelfCheck("AND gates out of order".into()));
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
