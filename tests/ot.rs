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

/// Runs setup and `choices.len()` COTs; returns (sender's q, receiver's t, Delta, traffic
/// receiver->sender bytes).
fn run(choices: Vec<bool>, delta: Delta) -> (Vec<Block>, Vec<Block>, u64) {
    let (mut g, mut e) = pair(Duration::from_secs(30));
    let m = choices.len();
    let d = delta.clone();
    let garbler = std::thread::spawn(move || {
        let mut prg = Prg::from_seed([1; 16]);
        let mut sender = ot::setup_sender(&mut g, d, SESSION, &mut prg).unwrap();
        ot::send(&mut g, &mut sender, m).unwrap()
    });
    let mut prg = Prg::from_seed([2; 16]);
    let mut receiver = ot::setup_receiver(&mut e, SESSION, &mut prg).unwrap();
    let t = ot::receive(&mut e, &mut receiver, &choices).unwrap();
    let sent = e.traffic().sent;
    (garbler.join().unwrap(), t, sent)
}

#[test]
fn the_correlation_holds_for_every_size() {
    let mut prg = Prg::from_seed([3; 16]);
    for m in [1usize, 127, 128, 129, 1000, 1_000_000] {
        let mut raw = vec![0u8; m];
        prg.fill_bytes(&mut raw);
        let choices: Vec<bool> = raw.iter().map(|b| b & 1 == 1).collect();
        let delta = Delta::new(prg.block());
        let (q, t, sent) = run(choices.clone(), delta.clone());
        assert_eq!(q.len(), m);
        assert_eq!(t.len(), m);
        for i in 0..m {
            assert_eq!(t[i], q[i] ^ delta.block().select(choices[i]), "m={m} i={i}");
        }
        // The base OTs' first message (A and its proof), challenge and openings, then 16 bytes
        // per OT with at least 168 extras, rounded up to whole tiles, then the answer (x, t) to
        // the challenge.
        let base = ot::base::FIRST_BYTES + 3 * ot::BASE_OTS * ot::base::DIGEST_BYTES;
        assert_eq!(
            sent,
            base as u64 + 16 * ot::checked_rows(m) as u64 + 32,
            "m={m}"
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

/// What the garbler sees (the u columns) looks the same whatever the evaluator's bits are.
#[test]
fn the_senders_view_does_not_depend_on_the_choices() {
    let m = 128 * 64;
    let mut fractions = Vec::new();
    for bit in [false, true] {
        let (mut g, mut e) = pair(Duration::from_secs(30));
        let delta = Delta::new(Block::new(0x5555));
        let garbler = std::thread::spawn(move || {
            let mut prg = Prg::from_seed([4; 16]);
            let _sender = ot::setup_sender(&mut g, delta, SESSION, &mut prg).unwrap();
            // The extension message, then (after our challenge) the answer (x, t).
            let mut u = vec![0u8; 16 * ot::checked_rows(m) + 32];
            let (message, answer) = u.split_at_mut(16 * ot::checked_rows(m));
            g.read_exact(message).unwrap();
            g.write_all(&[0x42; 16]).unwrap();
            g.flush().unwrap();
            g.read_exact(answer).unwrap();
            u
        });
        let mut prg = Prg::from_seed([5; 16]);
        let mut receiver = ot::setup_receiver(&mut e, SESSION, &mut prg).unwrap();
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
            let _ = ot::setup_sender(&mut g, Delta::new(delta), SESSION, &mut prg);
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
        ot::setup_sender(&mut g, Delta::new(Block::new(3)), SESSION, &mut prg),
        "bad A",
    );
    // The identity as A.
    let (mut g, mut e) = pair(Duration::from_secs(5));
    e.write_all(&[0; ot::base::FIRST_BYTES]).unwrap();
    e.flush().unwrap();
    expect_peer_error(
        ot::setup_sender(&mut g, Delta::new(Block::new(3)), SESSION, &mut prg),
        "identity A",
    );
    // An evaluator receiving garbage points.
    let (mut g, mut e) = pair(Duration::from_secs(5));
    g.write_all(&vec![0xab; 128 * 32]).unwrap();
    g.flush().unwrap();
    expect_peer_error(ot::setup_receiver(&mut e, SESSION, &mut prg), "bad B");
    // A peer that hangs up in the middle of the reply.
    let (mut g, mut e) = pair(Duration::from_secs(5));
    g.write_all(&[1; 100]).unwrap();
    g.close();
    expect_peer_error(ot::setup_receiver(&mut e, SESSION, &mut prg), "short reply");
    // A sender whose peer hangs up in the middle of the extension message.
    let (mut g, mut e) = pair(Duration::from_secs(5));
    let garbler = std::thread::spawn(move || {
        let mut prg = Prg::from_seed([9; 16]);
        let mut sender = ot::setup_sender(&mut g, Delta::new(Block::new(5)), SESSION, &mut prg)?;
        ot::send(&mut g, &mut sender, 1000)
    });
    let mut receiver = ot::setup_receiver(&mut e, SESSION, &mut prg).unwrap();
    let (u, _) = receiver.extend(&[true; 1000]);
    garbled::net::send_blocks(&mut e, &u[..100]).unwrap();
    e.close();
    expect_peer_error(garbler.join().unwrap(), "truncated extension");
}

#[test]
fn silence_is_a_timeout() {
    let (mut g, _e) = pair(Duration::from_millis(100));
    let mut prg = Prg::from_seed([10; 16]);
    let r = ot::setup_sender(&mut g, Delta::new(Block::new(3)), SESSION, &mut prg);
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
    let result = ot::setup_receiver(&mut e, SESSION, &mut prg);
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
            ot::setup_sender(&mut g, Delta::new(Block::new(0x55)), SESSION, &mut prg).map(|_| ())
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
