//! Moving a run's garbled tables: the table-chunk walker (how many AND gates each write
//! carries) and the pipelining rule (whether a helper thread garbles or evaluates the next chunk
//! while this one is on the wire), with the two pipelined loops. The wire is the same either way.

use crate::block::Block;
use crate::error::{Error, Result};
use crate::garble::{Evaluator, Garbler};

/// AND gates per table write: 32768 gates = 1 MiB. Loopback TCP moved about 750 MB/s with
/// 64 KiB writes and several GB/s with 1 MiB ones, and the tables are most of the traffic.
pub(super) const TABLE_CHUNK: usize = 1 << 15;

/// The AND gates of each table write of a run of `and_count` gates: [`TABLE_CHUNK`] at a time,
/// the last piece what is left.
pub(super) fn table_chunks(and_count: usize) -> impl Iterator<Item = usize> {
    (0..and_count)
        .step_by(TABLE_CHUNK)
        .map(move |at| (and_count - at).min(TABLE_CHUNK))
}

/// Table buffers of [`TABLE_CHUNK`] gates in flight when the tables of a run span more than one:
/// one being garbled (or evaluated), one on the wire, one spare.
const PIPELINE_BUFFERS: usize = 3;

/// Whether a run's tables are garbled (evaluated) on a helper thread while this thread moves
/// them: when they span more than one chunk and the machine has more than two cores;
/// `GARBLED_PIPELINE=on` or `off` decides instead (tests, and comparing the two). Measured on
/// this project's 2-core machine with both parties sharing the two cores (`garbled bench --e2e
/// --json`, alternating runs per build): over plaintext TCP the helper lowered AES-128 x 1000
/// from a median of 19.8 to 18.2 million AND gates per second (four busy threads on two cores);
/// over TLS it raised it from 17.3 to 19.8 while rustls's record layer copied every record, and
/// lowered it once our record layer stopped copying (2026-12-02, six runs each: a median of
/// 24.0 million with it against 29.0 without). docs/DESIGN.md, "Garbling beside the socket".
pub(super) fn pipelined(and_count: usize) -> bool {
    if and_count <= TABLE_CHUNK {
        return false;
    }
    match std::env::var("GARBLED_PIPELINE").as_deref() {
        Ok("on") => true,
        Ok("off") => false,
        _ => std::thread::available_parallelism().is_ok_and(|n| n.get() > 2),
    }
}

/// Garbles on a helper thread while this thread writes the tables, [`PIPELINE_BUFFERS`] buffers
/// of `blocks` blocks going round between the two: garbling the next chunk no longer waits for
/// the previous one to reach the socket (with TLS: to be encrypted), so the two overlap. The
/// tables and their order on the wire are those of the one-thread loop. A failed write stops
/// the helper (its queue closes) and is returned.
pub(super) fn garble_pipelined(
    garbler: &mut Garbler<'_>,
    blocks: usize,
    mut write: impl FnMut(&[Block]) -> Result<()>,
) -> Result<()> {
    use std::sync::mpsc::sync_channel;
    let (full_tx, full_rx) = sync_channel::<(Vec<Block>, usize)>(PIPELINE_BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<Block>>(PIPELINE_BUFFERS);
    for _ in 0..PIPELINE_BUFFERS {
        // The queue has room for every buffer.
        let _ = empty_tx.send(vec![Block::ZERO; blocks]);
    }
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            while let Ok(mut buf) = empty_rx.recv() {
                let n = garbler.garble(&mut buf);
                let last = garbler.is_done();
                if full_tx.send((buf, n)).is_err() || last {
                    break;
                }
            }
        });
        let mut result = Ok(());
        for (buf, n) in full_rx.iter() {
            result = write(&buf[..n]);
            if result.is_err() {
                break;
            }
            // Once the helper has garbled the last chunk it no longer takes buffers back.
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        drop(full_rx);
        let joined = worker.join();
        result?;
        joined.map_err(|_| Error::SelfCheck("the garbling thread panicked".into()))
    })
}

/// The evaluator's side of [`garble_pipelined`]: this thread reads chunk after chunk of
/// `chunks` (their sizes in blocks) while a helper thread evaluates the previous ones;
/// `evaluated(k)` is called, in order, as chunk `k` has been evaluated. A failed read stops the
/// helper after the chunks already read and is returned.
pub(super) fn evaluate_pipelined(
    evaluator: &mut Evaluator<'_>,
    chunks: &[usize],
    mut read: impl FnMut(&mut [Block]) -> Result<()>,
    mut evaluated: impl FnMut(usize),
) -> Result<()> {
    use std::sync::mpsc::sync_channel;
    let blocks = chunks.iter().copied().max().unwrap_or(0);
    let (full_tx, full_rx) = sync_channel::<(Vec<Block>, usize)>(PIPELINE_BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<Block>>(PIPELINE_BUFFERS);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            for (buf, n) in full_rx.iter() {
                let used = evaluator.evaluate(&buf[..n]);
                debug_assert_eq!(used, n, "chunks hold whole gates");
                // This thread holds the receiving end until the helper is done.
                let _ = empty_tx.send(buf);
            }
        });
        let mut result = Ok(());
        let mut finished = 0;
        for (k, &n) in chunks.iter().enumerate() {
            let mut buf = if k < PIPELINE_BUFFERS {
                vec![Block::ZERO; blocks]
            } else {
                match empty_rx.recv() {
                    Ok(buf) => {
                        evaluated(finished);
                        finished += 1;
                        buf
                    }
                    Err(_) => break, // the helper stopped: its join says why
                }
            };
            result = read(&mut buf[..n]);
            if result.is_err() || full_tx.send((buf, n)).is_err() {
                break;
            }
        }
        drop(full_tx);
        for _ in empty_rx.iter() {
            evaluated(finished);
            finished += 1;
        }
        let joined = worker.join();
        result?;
        joined.map_err(|_| Error::SelfCheck("the evaluating thread panicked".into()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aes::Prg;
    use crate::block::{ActiveLabel, Delta, ZeroLabel};
    use crate::compile::Program;
    use crate::garble::{Scheme, TweakBase};

    /// A garbler and an evaluator for `program` with matching labels.
    fn parties(program: &Program, scheme: Scheme) -> (Garbler<'_>, Evaluator<'_>) {
        let mut prg = Prg::from_seed([9; 16]);
        let delta = Delta::new(prg.block());
        let zero: Vec<ZeroLabel> = (0..program.input_count())
            .map(|_| ZeroLabel(prg.block()))
            .collect();
        let active: Vec<ActiveLabel> = zero
            .iter()
            .enumerate()
            .map(|(i, z)| z.encode(i % 3 == 0, &delta))
            .collect();
        let tweaks = TweakBase { nonce: 5, first: 0 };
        let rand = Prg::from_seed([4; 16]);
        let garbler = Garbler::new(program, delta, &zero, tweaks)
            .unwrap()
            .with_scheme(scheme, rand);
        let evaluator = Evaluator::new(program, &active, tweaks)
            .unwrap()
            .with_scheme(scheme);
        (garbler, evaluator)
    }

    /// A program of three table chunks.
    fn program() -> Program {
        let circuit = crate::circuit::library::aes128_many(12).unwrap();
        let program = crate::compile::compile(&circuit).unwrap();
        assert!(program.and_count() > 2 * TABLE_CHUNK);
        program
    }

    /// The chunk sizes (in blocks) the garbler writes for `program`.
    fn chunks(program: &Program, scheme: Scheme) -> Vec<usize> {
        table_chunks(program.and_count())
            .map(|gates| scheme.blocks_for(gates))
            .collect()
    }

    /// The helper threads write and evaluate the same tables, in the same pieces, as the
    /// one-thread loops, and report every evaluated chunk in order.
    #[test]
    fn pipelined_tables_equal_the_one_thread_loop() {
        let program = program();
        for scheme in [Scheme::HalfGates, Scheme::ThreeHalves] {
            let (mut garbler, mut evaluator) = parties(&program, scheme);
            let mut tables = vec![Block::ZERO; scheme.blocks_for(TABLE_CHUNK)];
            let mut serial = Vec::new();
            while !garbler.is_done() {
                let n = garbler.garble(&mut tables);
                serial.push(tables[..n].to_vec());
            }
            for chunk in &serial {
                evaluator.evaluate(chunk);
            }
            evaluator.evaluate(&[]);
            let serial_out = evaluator.output_labels().unwrap();

            let (mut garbler, mut evaluator) = parties(&program, scheme);
            let mut written = Vec::new();
            garble_pipelined(&mut garbler, scheme.blocks_for(TABLE_CHUNK), |t| {
                written.push(t.to_vec());
                Ok(())
            })
            .unwrap();
            assert!(written == serial, "{scheme}: written tables");
            assert_eq!(
                written.iter().map(Vec::len).collect::<Vec<_>>(),
                chunks(&program, scheme)
            );
            let mut next = written.iter();
            let mut order = Vec::new();
            evaluate_pipelined(
                &mut evaluator,
                &chunks(&program, scheme),
                |out| {
                    out.copy_from_slice(next.next().expect("a chunk to read"));
                    Ok(())
                },
                |k| order.push(k),
            )
            .unwrap();
            evaluator.evaluate(&[]);
            assert_eq!(order, (0..written.len()).collect::<Vec<_>>());
            assert!(evaluator.output_labels().unwrap() == serial_out, "{scheme}");
        }
    }

    /// A write or a read that fails mid-run ends the helper and returns that error, with no
    /// hang; the chunks evaluated before it are the only ones reported.
    #[test]
    fn a_failed_write_or_read_stops_the_helper() {
        let program = program();
        let scheme = Scheme::HalfGates;
        let (mut garbler, mut evaluator) = parties(&program, scheme);
        let mut writes = 0;
        let result = garble_pipelined(&mut garbler, scheme.blocks_for(TABLE_CHUNK), |_| {
            writes += 1;
            if writes == 2 {
                Err(Error::PeerClosed("test".into()))
            } else {
                Ok(())
            }
        });
        assert!(matches!(result, Err(Error::PeerClosed(_))), "{result:?}");
        assert_eq!(writes, 2);

        let mut reads = 0;
        let mut reported = Vec::new();
        let result = evaluate_pipelined(
            &mut evaluator,
            &chunks(&program, scheme),
            |_| {
                reads += 1;
                if reads == 3 {
                    Err(Error::PeerClosed("test".into()))
                } else {
                    Ok(())
                }
            },
            |k| reported.push(k),
        );
        assert!(matches!(result, Err(Error::PeerClosed(_))), "{result:?}");
        assert_eq!(reads, 3);
        assert_eq!(reported, vec![0, 1]);
    }
}
