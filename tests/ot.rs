//! Oblivious transfer end to end over the in-memory channel: the correlation, the views, and
//! misbehaving peers.

use std::time::Duration;

use garbled::Error;
use garbled::aes::Prg;
use garbled::block::{Block, Delta};
use garbled::net::Channel;
use garbled::net::memory::{MemoryChannel, pair};
use garbled::ot;

const SESSION: [u8; 32] = [9; 32];

/// Runs setup at `width` and `choices.len()` COTs; returns (sender's q, receiver's t, traffic
/// receiver->sender bytes).
fn run(choices: Vec<bool>, delta: Delta, width: usize) -> (Vec<Block>, Vec<Block>, u64) {
    let (mut g, mut e) = pair(Duration::from_secs(30));
    let m = choices.len();
    let d = delta.clone();
    let garbler = std::thread::spawn(move || {
        let mut prg = Prg::from_seed([1; 16]);
        let mut sender = ot::setup_sender(&mut g, d, SESSION, &mut prg, width).unwrap();
        ot::send(&mut g, &mut sender, m).unwrap()
    });
    let mut prg = Prg::from_seed([2; 16]);
    let mut receiver = ot::setup_receiver(&mut e, SESSION, &mut prg, width).unwrap();
    let t = ot::receive(&mut e, &mut receiver, &choices).unwrap();
    let sent = e.traffic().sent;
    (garbler.join().unwrap(), t, sent)
}

#[test]
fn the_correlation_holds_for_every_size_and_width() {
    let mut prg = Prg::from_seed([3; 16]);
    let cases = [1usize, 127, 128, 129, 1000, 1_000_000]
        .into_iter()
        .flat_map(|m| [(m, 1), (m, 4)])
        .chain([(1000, 2), (1000, 8), (129, 8)]);
    for (m, width) in cases {
        let mut raw = vec![0u8; m];
        prg.fill_bytes(&mut raw);
        let choices: Vec<bool> = raw.iter().map(|b| b & 1 == 1).collect();
        let delta = Delta::new(prg.block());
        let (q, t, sent) = run(choices.clone(), delta.clone(), width);
        assert_eq!(q.len(), m);
        assert_eq!(t.len(), m);
        for i in 0..m {
            let want = q[i] ^ delta.block().select(choices[i]);
            assert_eq!(t[i], want, "m={m} width={width} i={i}");
        }
        // The base OTs' first message (A and its proof), challenge and openings, the tree
        // corrections (2 blocks per level of each of the 128/width trees), then 16/width bytes
        // per OT with at least 168 extras, rounded up to whole tiles, then the answer to the
        // challenge: (x, t) for IKNP, a hash of x and one per column for SoftSpoken.
        let base = ot::base::FIRST_BYTES + 3 * ot::BASE_OTS * ot::base::DIGEST_BYTES;
        let trees = if width == 1 { 0 } else { 16 * 2 * ot::BASE_OTS };
        let answer = if width == 1 { 32 } else { 16 * 129 };
        assert_eq!(
            sent,
            (base + trees + 16 / width * ot::checked_rows(m) + answer) as u64,
            "m={m} width={width}"
        );
        assert!(ot::checked_rows(m) >= m + ot::CHECK_OTS);
        // Labels of different OTs differ (no all-zero or repeated outputs).
        if m > 1 {
            assert_ne!(q[0], q[m - 1]);
        }
    }
}

fn ones_fraction(bytes: &[u8]) -> f64 {
    bytes.iter().map(|b| b.count_ones() as f64).sum::<f64>() / (8.0 * bytes.len() as f64)
}

/// What the garbler sees (the u columns) looks the same whatever the evaluator's bits are, for
/// IKNP and for SoftSpoken (widths 4 and 8).
#[test]
fn the_senders_view_does_not_depend_on_the_choices() {
    let m = 128 * 64;
    let mut fractions = Vec::new();
    for (bit, width) in [
        (false, 1),
        (true, 1),
        (false, 4),
        (true, 4),
        (false, 8),
        (true, 8),
    ] {
        let (mut g, mut e) = pair(Duration::from_secs(30));
        let delta = Delta::new(Block::new(0x5555));
        let garbler = std::thread::spawn(move || {
            let mut prg = Prg::from_seed([4; 16]);
            let _sender = ot::setup_sender(&mut g, delta, SESSION, &mut prg, width).unwrap();
            // The extension message, then (after our challenge) the answer.
            let message_bytes = 16 / width * ot::checked_rows(m);
            let mut u = vec![0u8; message_bytes + 16 * ot::answer_blocks(width)];
            let (message, answer) = u.split_at_mut(message_bytes);
            g.read_exact(message).unwrap();
            g.write_all(&[0x42; 16]).unwrap();
            g.flush().unwrap();
            g.read_exact(answer).unwrap();
            u
        });
        let mut prg = Prg::from_seed([5; 16]);
        let mut receiver = ot::setup_receiver(&mut e, SESSION, &mut prg, width).unwrap();
        ot::receive(&mut e, &mut receiver, &vec![bit; m]).unwrap();
        let view = garbler.join().unwrap();
        fractions.push(ones_fraction(&view));
    }
    for f in &fractions {
        assert!(
            (f - 0.5).abs() < 0.01,
            "the sender's view is biased: {fractions:?}"
        );
    }
}

/// What the evaluator sees (the base-OT reply) looks the same whatever Delta is.
#[test]
fn the_receivers_view_does_not_depend_on_delta() {
    let mut fractions = Vec::new();
    for delta in [Block::new(1), Block::new(u128::MAX)] {
        let (mut g, mut e) = pair(Duration::from_secs(30));
        let garbler = std::thread::spawn(move || {
            let mut prg = Prg::from_seed([6; 16]);
            // The exchange stops after the reply: the garbler then sees the peer leave.
            let _ = ot::setup_sender(&mut g, Delta::new(delta), SESSION, &mut prg, 1);
        });
        let (_, a) = ot::base::BaseOtSender::new(&mut Prg::from_seed([7; 16]), SESSION);
        e.write_all(&a).unwrap();
        e.flush().unwrap();
        let mut reply = vec![0u8; 128 * 32];
        e.read_exact(&mut reply).unwrap();
        drop(e);
        garbler.join().unwrap();
        fractions.push(ones_fraction(&reply));
    }
    for f in &fractions {
        assert!(
            (f - 0.5).abs() < 0.03,
            "the receiver's view is biased: {fractions:?}"
        );
    }
}

fn expect_peer_error<T: std::fmt::Debug>(r: garbled::Result<T>, what: &str) {
    match r {
        // A malformed message is misbehaviour; one cut short by a hang-up is a closed peer.
        Err(Error::PeerMisbehaved(_) | Error::PeerClosed(_)) => {}
        other => panic!("{what}: expected PeerMisbehaved or PeerClosed, got {other:?}"),
    }
}

#[test]
fn malformed_points_and_short_messages_are_typed_errors() {
    let mut prg = Prg::from_seed([8; 16]);
    // A garbler receiving an invalid A.
    let (mut g, mut e): (MemoryChannel, MemoryChannel) = pair(Duration::from_secs(5));
    e.write_all(&[0xff; ot::base::FIRST_BYTES]).unwrap();
    e.flush().unwrap();
    expect_peer_error(
        ot::setup_sender(&mut g, Delta::new(Block::new(3)), SESSION, &mut prg, 1),
        "bad A",
    );
    // The identity as A.
    let (mut g, mut e) = pair(Duration::from_secs(5));
    e.write_all(&[0; ot::base::FIRST_BYTES]).unwrap();
    e.flush().unwrap();
    expect_peer_error(
        ot::setup_sender(&mut g, Delta::new(Block::new(3)), SESSION, &mut prg, 1),
        "identity A",
    );
    // An evaluator receiving garbage points.
    let (mut g, mut e) = pair(Duration::from_secs(5));
    g.write_all(&vec![0xab; 128 * 32]).unwrap();
    g.flush().unwrap();
    expect_peer_error(ot::setup_receiver(&mut e, SESSION, &mut prg, 1), "bad B");
    // A peer that hangs up in the middle of the reply.
    let (mut g, mut e) = pair(Duration::from_secs(5));
    g.write_all(&[1; 100]).unwrap();
    g.close();
    expect_peer_error(
        ot::setup_receiver(&mut e, SESSION, &mut prg, 1),
        "short reply",
    );
    // A sender whose peer hangs up in the middle of the extension message.
    let (mut g, mut e) = pair(Duration::from_secs(5));
    let garbler = std::thread::spawn(move || {
        let mut prg = Prg::from_seed([9; 16]);
        let mut sender = ot::setup_sender(&mut g, Delta::new(Block::new(5)), SESSION, &mut prg, 1)?;
        ot::send(&mut g, &mut sender, 1000)
    });
    let mut receiver = ot::setup_receiver(&mut e, SESSION, &mut prg, 1).unwrap();
    let (u, _) = receiver.extend(&[true; 1000]);
    garbled::net::send_blocks(&mut e, &u[..100]).unwrap();
    e.close();
    expect_peer_error(garbler.join().unwrap(), "truncated extension");
}

#[test]
fn silence_is_a_timeout() {
    let (mut g, _e) = pair(Duration::from_millis(100));
    let mut prg = Prg::from_seed([10; 16]);
    let r = ot::setup_sender(&mut g, Delta::new(Block::new(3)), SESSION, &mut prg, 1);
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
}

/// A cheating base-OT receiver (the garbler's side) that answers the challenge for keys it
/// does not hold is caught by the evaluator before any key is used.
#[test]
fn a_base_ot_receiver_with_a_wrong_answer_is_refused() {
    let (mut g, mut e) = pair(Duration::from_secs(30));
    let cheater = std::thread::spawn(move || {
        let mut prg = Prg::from_seed([3; 16]);
        let mut first = [0u8; ot::base::FIRST_BYTES];
        g.read_exact(&mut first).unwrap();
        let choices = vec![false; ot::BASE_OTS];
        let (reply, receiver) =
            ot::base::receive_reply(&mut prg, SESSION, &first, &choices).unwrap();
        g.write_all(&reply).unwrap();
        g.flush().unwrap();
        let mut pending = receiver.finish();
        let mut challenge = vec![0u8; ot::BASE_OTS * ot::base::DIGEST_BYTES];
        g.read_exact(&mut challenge).unwrap();
        let mut answer = pending.answer(&challenge).unwrap();
        // Claim the other key of OT 5: answer as if the choice were 1.
        for (a, x) in answer[5 * 32..6 * 32]
            .iter_mut()
            .zip(&challenge[5 * 32..6 * 32])
        {
            *a ^= x;
        }
        g.write_all(&answer).unwrap();
        g.flush().unwrap();
        let mut rest = [0u8; 1];
        g.read_exact(&mut rest).err()
    });
    let mut prg = Prg::from_seed([4; 16]);
    let result = ot::setup_receiver(&mut e, SESSION, &mut prg, 1);
    match result {
        Err(Error::PeerMisbehaved(m)) => assert!(m.contains("verification failed"), "{m}"),
        other => panic!("expected PeerMisbehaved, got {:?}", other.map(|_| ())),
    }
    drop(e);
    assert!(
        cheater.join().unwrap().is_some(),
        "no opening may follow a failed check"
    );
}

/// A cheating base-OT sender (the evaluator's side) that opens digests other than those its
/// challenge committed to is caught by the garbler; one without a valid proof of knowledge is
/// caught at its first message.
#[test]
fn a_base_ot_sender_that_cheats_is_refused() {
    for cheat in ["proof", "openings"] {
        let (mut g, mut e) = pair(Duration::from_secs(30));
        let garbler = std::thread::spawn(move || {
            let mut prg = Prg::from_seed([5; 16]);
            ot::setup_sender(&mut g, Delta::new(Block::new(0x55)), SESSION, &mut prg, 1).map(|_| ())
        });
        let mut prg = Prg::from_seed([6; 16]);
        let (sender, mut first) = ot::base::BaseOtSender::new(&mut prg, SESSION);
        if cheat == "proof" {
            first[70] ^= 1; // s
        }
        e.write_all(&first).unwrap();
        e.flush().unwrap();
        if cheat == "openings" {
            let mut reply = vec![0u8; ot::BASE_OTS * 32];
            e.read_exact(&mut reply).unwrap();
            let (pending, challenge) = sender.finish(&reply, ot::BASE_OTS).unwrap();
            e.write_all(&challenge).unwrap();
            e.flush().unwrap();
            let mut answer = vec![0u8; ot::BASE_OTS * 32];
            e.read_exact(&mut answer).unwrap();
            let (_, mut openings) = pending.verify(&answer).unwrap();
            openings[64 * 9] ^= 1; // d0 of OT 9
            e.write_all(&openings).unwrap();
            e.flush().unwrap();
        }
        match garbler.join().unwrap() {
            Err(Error::PeerMisbehaved(m)) => {
                let want = if cheat == "proof" {
                    "proof of knowledge"
                } else {
                    "verification failed"
                };
                assert!(m.contains(want), "{cheat}: {m}");
            }
            other => panic!("{cheat}: expected PeerMisbehaved, got {other:?}"),
        }
    }
}

/// A recycled (dirty) row buffer gives the same labels as a fresh one.
#[test]
fn a_reused_row_buffer_changes_nothing() {
    let mut prg = Prg::from_seed([10; 16]);
    let choices: Vec<bool> = (0..300).map(|i| i % 5 == 1).collect();
    let base: Vec<bool> = (0..ot::BASE_OTS).map(|i| i % 2 == 0).collect();
    let (pairs, _) = ot::base::run_local(&mut prg, SESSION, &base).unwrap();
    let mut fresh = ot::CotReceiver::new(&pairs, SESSION).unwrap();
    let mut reused = ot::CotReceiver::new(&pairs, SESSION).unwrap();
    let (mut u1, mut u2) = (Vec::new(), Vec::new());
    let seed = Block::new(42);
    let (_, want) = fresh.extend_checked(&choices, &mut u1).respond(seed);
    let dirty = vec![Block::new(u128::MAX); 5000];
    let (_, got) = reused
        .extend_checked_reusing(&choices, &mut u2, dirty)
        .respond(seed);
    assert_eq!(got, want);
    assert_eq!(got.len(), choices.len());
}

/// A SoftSpoken pair (width 4) in one process, from local base OTs under `delta`: the receiver,
/// the sender, and the tree message after `tamper` had its way with it.
fn soft_pair(
    delta: &Delta,
    width: usize,
    tamper: impl FnOnce(&mut Vec<Block>),
) -> garbled::Result<(ot::CotReceiver, ot::CotSender)> {
    let mut prg = Prg::from_seed([11; 16]);
    let bits: Vec<bool> = (0..ot::BASE_OTS).map(|i| delta.bit(i)).collect();
    let (pairs, keys) = ot::base::run_local(&mut prg, SESSION, &bits).unwrap();
    let (receiver, mut trees) =
        ot::CotReceiver::with_width(&pairs, SESSION, width, &mut prg).unwrap();
    assert_eq!(trees.len(), ot::tree_blocks(width));
    tamper(&mut trees);
    let sender = ot::CotSender::with_width(delta.clone(), &keys, SESSION, width, &trees)?;
    Ok((receiver, sender))
}

/// One checked extension of `choices` between the two, with the receiver's message changed by
/// `cheat` before the sender reads it: the sender's outputs, or its verdict.
fn checked_extension(
    receiver: &mut ot::CotReceiver,
    sender: &mut ot::CotSender,
    choices: &[bool],
    cheat: impl FnOnce(&mut Vec<Block>),
) -> garbled::Result<(Vec<Block>, Vec<Block>)> {
    let mut u = Vec::new();
    let extension = receiver.extend_checked(choices, &mut u);
    cheat(&mut u);
    let rows = ot::checked_rows(choices.len());
    let mut pending = sender.begin_check();
    let mut q = Vec::new();
    sender.extend_checked_chunk(rows, &u, &mut q, &mut pending)?;
    let (answer, t) = extension.respond(pending.seed());
    sender.finish_check(pending, choices.len(), &mut q, &answer)?;
    Ok((q, t))
}

fn expect_check_failure<T: std::fmt::Debug>(r: garbled::Result<T>, what: &str) {
    match r {
        Err(Error::PeerMisbehaved(m)) => assert!(m.contains("consistency check"), "{what}: {m}"),
        other => panic!("{what}: expected a failed consistency check, got {other:?}"),
    }
}

/// SoftSpoken's check (Roy §4) catches a receiver that changed its message: one flipped bit of
/// one VOLE block's correction, or the choice bits of one block replaced (the KOS-style attack
/// that would reveal Delta's bits of that block), and a tree sender whose corrections make the
/// Delta holder's seeds inconsistent. The honest run computes the correlation. At width 4
/// (malicious sessions) and 8 (semi-honest three-halves sessions).
#[test]
fn softspoken_checks_catch_a_cheating_receiver() {
    for width in [4, 8] {
        softspoken_checks_catch_a_cheating_receiver_at(width);
    }
}

fn softspoken_checks_catch_a_cheating_receiver_at(width: usize) {
    let delta = Delta::new(Block::new(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210));
    let choices: Vec<bool> = (0..1000).map(|i| i % 3 == 0).collect();
    let (mut receiver, mut sender) = soft_pair(&delta, width, |_| {}).unwrap();
    let (q, t) = checked_extension(&mut receiver, &mut sender, &choices, |_| {}).unwrap();
    for i in 0..choices.len() {
        assert_eq!(t[i], q[i] ^ delta.block().select(choices[i]), "row {i}");
    }
    // A flipped bit in block 7's correction of tile 2.
    let r = checked_extension(&mut receiver, &mut sender, &choices, |u| {
        u[2 * ot::columns(width) + 7] ^= Block::new(1 << 40)
    });
    expect_check_failure(r, &format!("flipped bit, width {width}"));
    // Block 0 corrected for other choice bits in tile 0 (all ones instead of the real ones).
    let r = checked_extension(&mut receiver, &mut sender, &choices, |u| {
        let real = choices[..128]
            .iter()
            .enumerate()
            .fold(0u128, |acc, (i, &c)| acc | (u128::from(c) << i));
        u[0] ^= Block::new(real ^ u128::MAX);
    });
    expect_check_failure(r, &format!("other choices in one block, width {width}"));
    // The sender still works after refusing (each extension has its own challenge).
    let (q, t) = checked_extension(&mut receiver, &mut sender, &choices, |_| {}).unwrap();
    assert_eq!(t[5], q[5] ^ delta.block().select(choices[5]));
    // Tree 3's level-2 corrections, both sides, changed: the Delta holder's seeds are wrong.
    let (mut receiver, mut sender) = soft_pair(&delta, width, |trees| {
        let level = 3 * 2 * width + 2 * 2;
        trees[level] ^= Block::new(9);
        trees[level + 1] ^= Block::new(9);
    })
    .unwrap();
    let r = checked_extension(&mut receiver, &mut sender, &choices, |_| {});
    expect_check_failure(r, &format!("inconsistent tree, width {width}"));
    // A tree message of the wrong length is refused at set-up.
    let r = soft_pair(&delta, width, |trees| {
        trees.pop();
    });
    assert!(
        matches!(r, Err(Error::PeerMisbehaved(_))),
        "{:?}",
        r.map(|_| ())
    );
}
