//! The semi-honest protocol's runs (half-gates or three-halves garbling): per run, the
//! correlated OTs of the evaluator's input bits, the garbler's input labels, the garbled tables
//! streamed chunk by chunk (`pipeline`), the decoding bits of the evaluator's outputs and the
//! evaluator's colour bits of the garbler's outputs. Zahur, Rosulek, Evans, EUROCRYPT 2015
//! (half-gates); Rosulek, Roy, CRYPTO 2021 (three-halves); the OT is `crate::ot`.

use std::time::Instant;

use super::pipeline::{TABLE_CHUNK, evaluate_pipelined, garble_pipelined, pipelined, table_chunks};
use super::{EvaluatorSession, GarblerSession};
use crate::block::{ActiveLabel, Block, ZeroLabel};
use crate::compile::Program;
use crate::error::{Error, Result};
use crate::garble::{Evaluator, Garbler, Scheme};
use crate::net::{Channel, pack_bits, recv_blocks, send_blocks, unpack_bits};
use crate::ot;
use crate::session::{Party, Reveal, own_bits, split_outputs};

/// The garbler's set-up after the handshake: a fresh Delta and the correlated OTs under it, at
/// the scheme's OT width.
pub(super) fn garbler_setup<C: Channel>(
    channel: &mut C,
    prg: &mut crate::aes::Prg,
    session: [u8; 32],
    scheme: Scheme,
) -> Result<(crate::block::Delta, ot::CotSender)> {
    let delta = crate::block::Delta::new(prg.block());
    let width = super::semi_honest_ot_width(scheme);
    let cot = ot::setup_sender(channel, delta.clone(), session, prg, width)?;
    Ok((delta, cot))
}

/// The evaluator's set-up after the handshake: the correlated OTs under the garbler's Delta.
pub(super) fn evaluator_setup<C: Channel>(
    channel: &mut C,
    prg: &mut crate::aes::Prg,
    session: [u8; 32],
    scheme: Scheme,
) -> Result<ot::CotReceiver> {
    ot::setup_receiver(channel, session, prg, super::semi_honest_ot_width(scheme))
}

/// One semi-honest run of the garbler (`own`: its input bits in wire order).
pub(super) fn garbler_run<C: Channel>(
    s: &mut GarblerSession<'_, '_, C>,
    program: &Program,
    own: &[bool],
) -> Result<Vec<Option<Vec<bool>>>> {
    let evaluator_bits = s.options.input_bits(program, Party::Evaluator);
    let ch = &mut s.channel;
    let clock = Instant::now();
    let mut q = ot::send(ch, &mut s.cot, evaluator_bits)?;
    s.phases.ot += clock.elapsed();
    let clock = Instant::now();
    // Zero-labels in wire order: fresh ones for our groups, the OT outputs for the peer's.
    let mut zero = Vec::with_capacity(program.input_count());
    let mut active = Vec::with_capacity(own.len());
    let (mut next_own, mut next_q) = (0, 0);
    let mut fresh = vec![Block::ZERO; own.len()];
    s.prg.fill(&mut fresh);
    for (&owner, &width) in s.options.owners.iter().zip(program.input_widths()) {
        for _ in 0..width {
            let label = if owner == Party::Garbler {
                let z = ZeroLabel(fresh[next_own]);
                active.push(z.encode(own[next_own], &s.delta).0);
                next_own += 1;
                z
            } else {
                next_q += 1;
                ZeroLabel(q[next_q - 1])
            };
            zero.push(label);
        }
    }
    zeroize::Zeroize::zeroize(&mut fresh);
    zeroize::Zeroize::zeroize(&mut q);
    send_blocks(ch, &active)?;
    zeroize::Zeroize::zeroize(&mut active);
    let scheme = s.options.scheme;
    let rand = match scheme {
        Scheme::HalfGates => crate::aes::Prg::from_seed([0; 16]), // unused by half-gates
        Scheme::ThreeHalves => crate::aes::Prg::from_os()?,
    };
    let garbler = Garbler::new(program, s.delta.clone(), &zero, s.tweaks)
        .map(|g| g.with_threads(s.threads).with_scheme(scheme, rand));
    zeroize::Zeroize::zeroize(&mut zero);
    let mut garbler = garbler?;
    let blocks = scheme.blocks_for(TABLE_CHUNK);
    let helper = pipelined(program.and_count());
    let total = s.options.runs * program.and_count() as u64;
    let mut done = s.runs_done * program.and_count() as u64;
    let mut left = program.and_count();
    let progress = &mut s.progress;
    let mut write = |tables: &[Block]| -> Result<()> {
        send_blocks(ch, tables)?;
        ch.flush()?;
        let gates = left.min(TABLE_CHUNK);
        left -= gates;
        done += gates as u64;
        if let Some(p) = progress.as_mut() {
            p(done, total);
        }
        Ok(())
    };
    if helper {
        garble_pipelined(&mut garbler, blocks, write)?;
    } else {
        let mut tables = vec![Block::ZERO; blocks];
        while !garbler.is_done() {
            let n = garbler.garble(&mut tables);
            write(&tables[..n])?;
        }
    }
    s.phases.gates += clock.elapsed();
    let clock = Instant::now();
    let decoding = garbler.decoding_bits()?;
    drop(garbler);
    // Decoding bits of the outputs the evaluator learns; for shared outputs, XORed with a fresh
    // mask that stays here as our share.
    let mut for_evaluator = Vec::new();
    let mut masks: zeroize::Zeroizing<Vec<bool>> = zeroize::Zeroizing::new(Vec::new());
    let mut at = 0;
    for (&r, &w) in s.options.reveal.iter().zip(program.output_widths()) {
        if r.to_evaluator() {
            for_evaluator.extend_from_slice(&decoding[at..at + w as usize]);
        } else if r.is_shared() {
            let mut fresh = zeroize::Zeroizing::new(vec![0u8; (w as usize).div_ceil(8)]);
            s.prg.fill_bytes(&mut fresh);
            for k in 0..w as usize {
                let mask = fresh[k / 8] >> (k % 8) & 1 == 1;
                masks.push(mask);
                for_evaluator.push(decoding[at + k] ^ mask);
            }
        }
        at += w as usize;
    }
    ch.write_all(&pack_bits(&for_evaluator))?;
    ch.flush()?;
    // The evaluator's colour bits of the outputs we learn.
    let n = s.options.output_bits(program, Reveal::to_garbler);
    let mut packed = vec![0u8; n.div_ceil(8)];
    ch.read_exact(&mut packed)?;
    let colours = unpack_bits(&packed, n);
    let mut bits = Vec::with_capacity(decoding.len());
    let (mut at, mut next, mut next_mask) = (0, 0, 0);
    for (&r, &w) in s.options.reveal.iter().zip(program.output_widths()) {
        for k in 0..w as usize {
            if r.is_shared() {
                next_mask += 1;
                bits.push(Some(masks[next_mask - 1]));
                continue;
            }
            bits.push(r.to_garbler().then(|| {
                next += 1;
                colours[next - 1] ^ decoding[at + k]
            }));
        }
        at += w as usize;
    }
    s.phases.outputs += clock.elapsed();
    s.tweaks = s.tweaks.after_scheme(program.and_count(), s.options.scheme);
    s.runs_done += 1;
    s.and_done += program.and_count() as u64;
    Ok(split_outputs(program, bits))
}

/// One semi-honest run of the evaluator (`own`: its input bits in wire order), preparing the
/// OT extension of the next run when its inputs are given.
pub(super) fn evaluator_run<C: Channel>(
    s: &mut EvaluatorSession<'_, '_, C>,
    program: &Program,
    own: &[bool],
    next: Option<(&Program, &[Vec<bool>])>,
) -> Result<Vec<Option<Vec<bool>>>> {
    let ch = &mut s.channel;
    let clock = Instant::now();
    let mut t = match s.prepared.take() {
        Some(prepared) if prepared.choices() == own => ot::send_prepared(ch, prepared)?,
        // The prepared extension used up its part of the OT streams: other inputs now would
        // leave the two parties' streams apart.
        Some(_) => {
            return Err(Error::arg(
                "this run's inputs differ from the ones given as `next` to the previous run",
            ));
        }
        None => ot::receive(ch, &mut s.cot, own)?,
    };
    if let Some((next_program, next)) = next
        && s.runs_done + 1 < s.options.runs
    {
        let bits =
            zeroize::Zeroizing::new(own_bits(next_program, &s.options, Party::Evaluator, next)?);
        s.prepared = Some(ot::prepare(&mut s.cot, &bits));
    }
    s.phases.ot += clock.elapsed();
    let clock = Instant::now();
    let garbler_bits = s.options.input_bits(program, Party::Garbler);
    let mut theirs = vec![Block::ZERO; garbler_bits];
    recv_blocks(ch, &mut theirs)?;
    let mut active = Vec::with_capacity(program.input_count());
    let (mut next_t, mut next_g) = (0, 0);
    for (&owner, &width) in s.options.owners.iter().zip(program.input_widths()) {
        for _ in 0..width {
            if owner == Party::Evaluator {
                active.push(ActiveLabel(t[next_t]));
                next_t += 1;
            } else {
                active.push(ActiveLabel(theirs[next_g]));
                next_g += 1;
            }
        }
    }
    let scheme = s.options.scheme;
    let evaluator = Evaluator::new(program, &active, s.tweaks)
        .map(|e| e.with_threads(s.threads).with_scheme(scheme));
    zeroize::Zeroize::zeroize(&mut t);
    zeroize::Zeroize::zeroize(&mut theirs);
    zeroize::Zeroize::zeroize(&mut active);
    let mut evaluator = evaluator?;
    // The garbler sends TABLE_CHUNK gates at a time, the last piece what is left.
    let gates: Vec<usize> = table_chunks(program.and_count()).collect();
    let total = s.options.runs * program.and_count() as u64;
    let mut done = s.runs_done * program.and_count() as u64;
    let progress = &mut s.progress;
    let mut evaluated = |k: usize| {
        done += gates[k] as u64;
        if let Some(p) = progress.as_mut() {
            p(done, total);
        }
    };
    let blocks: Vec<usize> = gates.iter().map(|&g| scheme.blocks_for(g)).collect();
    if pipelined(program.and_count()) {
        evaluate_pipelined(
            &mut evaluator,
            &blocks,
            |tables| recv_blocks(ch, tables),
            evaluated,
        )?;
    } else {
        let mut tables = vec![Block::ZERO; blocks.first().copied().unwrap_or(0)];
        for (k, &n) in blocks.iter().enumerate() {
            recv_blocks(ch, &mut tables[..n])?;
            let used = evaluator.evaluate(&tables[..n]);
            debug_assert_eq!(used, n, "chunks hold whole gates");
            evaluated(k);
        }
    }
    evaluator.evaluate(&[]);
    s.phases.gates += clock.elapsed();
    let clock = Instant::now();
    let labels = zeroize::Zeroizing::new(evaluator.output_labels()?);
    drop(evaluator);
    let n = s.options.output_bits(program, Reveal::decoded_by_evaluator);
    let mut packed = vec![0u8; n.div_ceil(8)];
    ch.read_exact(&mut packed)?;
    let decoding = unpack_bits(&packed, n);
    let mut bits = Vec::with_capacity(labels.len());
    let mut for_garbler = Vec::new();
    let (mut at, mut next) = (0, 0);
    for (&r, &w) in s.options.reveal.iter().zip(program.output_widths()) {
        for label in &labels[at..at + w as usize] {
            let colour = label.0.lsb();
            if r.to_garbler() {
                for_garbler.push(colour);
            }
            bits.push(r.decoded_by_evaluator().then(|| {
                next += 1;
                colour ^ decoding[next - 1]
            }));
        }
        at += w as usize;
    }
    ch.write_all(&pack_bits(&for_garbler))?;
    ch.flush()?;
    s.phases.outputs += clock.elapsed();
    s.tweaks = s.tweaks.after_scheme(program.and_count(), s.options.scheme);
    s.runs_done += 1;
    s.and_done += program.and_count() as u64;
    Ok(split_outputs(program, bits))
}
