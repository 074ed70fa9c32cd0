//! The cheating evaluator of the OT issue, played through the real sessions: it flips columns of
//! its IKNP message for its input rows (which would let `x AND 0` gates tell it bits of Delta).
//! The KOS consistency check catches it: the garbler stops with "OT consistency check failed"
//! before it sends any label or table. The same harness without the flips computes the right
//! answer, so the failure is the check's doing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use garbled::Error;
use garbled::circuit::builder::Builder;
use garbled::compile::{Program, compile};
use garbled::net::memory::{MemoryChannel, pair};
use garbled::net::{Channel, Traffic};
use garbled::protocol::{
    EvaluatorSession, GarblerSession, Party, Reveal, Security, SessionOptions,
};

/// The evaluator's side of the wire, flipping bits of one of its messages.
struct Cheater {
    inner: MemoryChannel,
    /// Which message: the `target`-th write of at least `min_len` bytes.
    min_len: usize,
    target: usize,
    /// (column, rows) to flip in tile 0 of the extension message: bit `row` of 16-byte block
    /// `column`.
    flips: Vec<(usize, std::ops::Range<usize>)>,
    tampered: bool,
    /// Large writes seen so far (the base OT's challenge and openings come first).
    large_writes: usize,
    /// Bytes received after the tampered message went out.
    received_after: Arc<Mutex<u64>>,
}

impl Channel for Cheater {
    fn write_all(&mut self, data: &[u8]) -> garbled::Result<()> {
        // Semi-honest: the extension message is the first write of at least one IKNP tile (128
        // blocks) after the base OT's challenge (4 KiB) and openings (8 KiB).
        let large = data.len() >= self.min_len;
        if large {
            self.large_writes += 1;
        }
        if !self.tampered && large && self.large_writes == self.target {
            self.tampered = true;
            let mut data = data.to_vec();
            for (column, rows) in &self.flips {
                for row in rows.clone() {
                    data[16 * column + row / 8] ^= 1 << (row % 8);
                }
            }
            return self.inner.write_all(&data);
        }
        self.inner.write_all(data)
    }
    fn flush(&mut self) -> garbled::Result<()> {
        self.inner.flush()
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> garbled::Result<()> {
        self.inner.read_exact(buf)?;
        if self.tampered {
            *self.received_after.lock().unwrap() += buf.len() as u64;
        }
        Ok(())
    }
    fn traffic(&self) -> Traffic {
        self.inner.traffic()
    }
    fn close_write(&mut self) -> garbled::Result<()> {
        self.inner.close_write()
    }
    fn expect_eof(&mut self) -> garbled::Result<()> {
        self.inner.expect_eof()
    }
}

/// 16 evaluator bits, each ANDed with a garbler bit (the garbler feeds zeros: `x AND 0`).
fn program() -> Program {
    let mut b = Builder::new();
    let g = b.input("garbler", 16);
    let e = b.input("evaluator", 16);
    let ands: Vec<_> = g.iter().zip(&e).map(|(x, y)| b.and(*x, *y)).collect();
    b.output("ands", &ands);
    compile(&b.finish().unwrap()).unwrap()
}

fn session(
    flips: Vec<(usize, std::ops::Range<usize>)>,
) -> (garbled::Result<Vec<bool>>, garbled::Result<Vec<bool>>, u64) {
    session_with(Security::SemiHonest, (128 * 16, 3), flips)
}

/// A session in which the evaluator flips `flips` in the `target.1`-th write of at least
/// `target.0` bytes.
fn session_with(
    security: Security,
    target: (usize, usize),
    flips: Vec<(usize, std::ops::Range<usize>)>,
) -> (garbled::Result<Vec<bool>>, garbled::Result<Vec<bool>>, u64) {
    let p = program();
    let options = SessionOptions::new(
        &p,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both],
    )
    .unwrap()
    .with_security(security);
    let (g, e) = pair(Duration::from_secs(5));
    let received_after = Arc::new(Mutex::new(0));
    let cheater = Cheater {
        inner: e,
        min_len: target.0,
        target: target.1,
        flips,
        tampered: false,
        large_writes: 0,
        received_after: received_after.clone(),
    };
    let (g_result, e_result) = std::thread::scope(|s| {
        let (p, eo) = (&p, options.clone());
        let evaluator = s.spawn(move || {
            let mut session = EvaluatorSession::start(cheater, p, eo)?;
            let out = session.run(&[vec![true; 16]])?;
            session.finish()?;
            Ok(out[0].clone().unwrap())
        });
        let garbler = (|| {
            let mut session = GarblerSession::start(g, p, options)?;
            let out = session.run(&[vec![false; 16]])?;
            session.finish()?;
            Ok(out[0].clone().unwrap())
        })();
        (garbler, evaluator.join().unwrap())
    });
    let after = *received_after.lock().unwrap();
    (g_result, e_result, after)
}

#[test]
fn flipped_columns_are_caught_before_any_table() {
    // Column 0 always gives the cheat away (lsb(Delta) = 1); columns 1..=40 are the bits a
    // cheater would try to learn.
    let flips: Vec<_> = (0..=40).map(|column| (column, 0..16)).collect();
    let (garbler, evaluator, received_after) = session(flips);
    match garbler {
        Err(Error::PeerMisbehaved(m)) => assert!(m.contains("OT consistency check failed"), "{m}"),
        other => panic!("the garbler did not catch the cheat: {other:?}"),
    }
    assert!(evaluator.is_err(), "the cheating evaluator got an output");
    // After its message the cheater received only the 16-byte challenge: no label, no table.
    assert_eq!(received_after, 16);
}

#[test]
fn one_flipped_column_is_caught_whatever_the_row() {
    for row in [0, 7, 15] {
        let (garbler, _, received_after) = session(vec![(0, row..row + 1)]);
        assert!(
            matches!(&garbler, Err(Error::PeerMisbehaved(m)) if m.contains("consistency")),
            "row {row}: {garbler:?}"
        );
        assert_eq!(received_after, 16);
    }
}

#[test]
fn the_same_harness_without_flips_computes_the_answer() {
    let (garbler, evaluator, received_after) = session(Vec::new());
    assert_eq!(garbler.unwrap(), vec![false; 16]);
    assert_eq!(evaluator.unwrap(), vec![false; 16]);
    // Labels and 16 tables of 32 bytes reached the evaluator this time.
    assert!(received_after > 16 + 16 * 32);
}

/// In a malicious session the evaluator's COT sender (the second direction) is bootstrapped
/// from the first direction: [`BASE_OTS`](garbled::ot::BASE_OTS) checked OTs whose choice bits
/// are the evaluator's Delta. Both directions are SoftSpoken OT at width 4 (32 message blocks a
/// tile of 128 OTs). The evaluator's writes after the base OT's challenge (4 KiB) and openings
/// (8 KiB) are its tree corrections (4 KiB), then the bootstrap's extension message (3 tiles, 1.5
/// KiB). Flipping bits of that message (which would tell it bits of the garbler's Delta, and
/// through the seeds the garbler's side of the second direction) fails the consistency check
/// before anything else is sent, and without flips the session computes.
#[test]
fn flipped_columns_of_the_malicious_bootstrap_are_caught() {
    let flips: Vec<_> = (0..=10).map(|column| (column, 0..16)).collect();
    let (garbler, evaluator, received_after) =
        session_with(Security::Malicious, (3 * 32 * 16, 4), flips);
    match garbler {
        Err(Error::PeerMisbehaved(m)) => assert!(m.contains("OT consistency check failed"), "{m}"),
        other => panic!("the garbler did not catch the cheat: {other:?}"),
    }
    assert!(evaluator.is_err(), "the cheating evaluator got an output");
    assert_eq!(received_after, 16);
    let (garbler, evaluator, _) = session_with(Security::Malicious, (3 * 32 * 16, 4), Vec::new());
    assert_eq!(garbler.unwrap(), vec![false; 16]);
    assert_eq!(evaluator.unwrap(), vec![false; 16]);
}

/// The evaluator's GGM tree corrections (its third large write in a malicious session) changed:
/// the garbler's seeds of those VOLE blocks no longer match the evaluator's, and the check of
/// the very next extension (the bootstrap) fails before anything else is sent.
#[test]
fn tampered_tree_corrections_are_caught_at_the_first_extension() {
    // Both corrections of level 0 of trees 0 and 1: whatever Delta's bits, the garbler uses one.
    let flips = vec![(0, 0..8), (1, 0..8), (8, 3..5), (9, 3..5)];
    let (garbler, evaluator, received_after) =
        session_with(Security::Malicious, (4 * 1024, 3), flips);
    match garbler {
        Err(Error::PeerMisbehaved(m)) => assert!(m.contains("OT consistency check failed"), "{m}"),
        other => panic!("the garbler did not catch the cheat: {other:?}"),
    }
    assert!(evaluator.is_err(), "the cheating evaluator got an output");
    assert_eq!(received_after, 16);
}
