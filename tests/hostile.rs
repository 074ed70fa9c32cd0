//! Hostile peers over real TCP: for each misbehaviour the honest side returns the right typed
//! error within its timeout, without a panic and without a large allocation.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use garbled::Error;
use garbled::circuit::library;
use garbled::compile::{Program, compile};
use garbled::net::tcp::{TcpChannel, Timeouts};
use garbled::net::{Channel, Traffic};
use garbled::protocol::handshake::{self, Hello, MAGIC, VERSION};
use garbled::protocol::{EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions};

const IDLE: Duration = Duration::from_secs(1);

fn program() -> Program {
    compile(&library::generate("compare", 16, 2).unwrap()).unwrap()
}

fn options(p: &Program) -> SessionOptions {
    SessionOptions::new(
        p,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both; 2],
    )
    .unwrap()
}

/// Runs an honest party (listening) against `peer`, which gets a raw connection to it.
/// Returns the honest party's result and how long it took.
fn against(honest: Party, peer: impl FnOnce(TcpStream) + Send) -> (garbled::Result<()>, Duration) {
    let p = program();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || peer(TcpStream::connect(addr).unwrap()));
        let start = Instant::now();
        let channel =
            TcpChannel::accept(&listener, Duration::from_secs(5), Timeouts::idle(IDLE)).unwrap();
        let result = match honest {
            Party::Garbler => GarblerSession::start(channel, &p, options(&p)).and_then(|mut s| {
                s.run(&[vec![true; 16]])?;
                s.finish().map(|_| ())
            }),
            Party::Evaluator => {
                EvaluatorSession::start(channel, &p, options(&p)).and_then(|mut s| {
                    s.run(&[vec![true; 16]])?;
                    s.finish().map(|_| ())
                })
            }
        };
        (result, start.elapsed())
    })
}

fn assert_peer_error(result: garbled::Result<()>, elapsed: Duration, what: &str) {
    match result {
        Err(Error::PeerMisbehaved(_)) => {}
        other => panic!("{what}: expected PeerMisbehaved, got {other:?}"),
    }
    assert!(elapsed < IDLE * 4, "{what}: took {elapsed:?}");
}

/// A hang-up is reported as such ("the peer closed the connection"), not as misbehaviour.
fn assert_closed(result: garbled::Result<()>, elapsed: Duration, what: &str) {
    match result {
        Err(e @ Error::PeerClosed(_)) => {
            assert!(
                e.to_string().contains("the peer closed the connection"),
                "{e}"
            )
        }
        other => panic!("{what}: expected PeerClosed, got {other:?}"),
    }
    assert!(elapsed < IDLE * 4, "{what}: took {elapsed:?}");
}

fn peer_hello(p: &Program, role: Party) -> Hello {
    Hello {
        role,
        digest: p.digest(),
        input_widths: p.input_widths().to_vec(),
        owners: vec![Party::Garbler, Party::Evaluator],
        output_widths: p.output_widths().to_vec(),
        reveal: vec![Reveal::Both; 2],
        scheme: handshake::SCHEME.to_string(),
        security: "semi-honest".to_string(),
        runs: 1,
        job: "run".to_string(),
        bit_order: "lsb0".to_string(),
        shard: None,
        nonce: 7,
    }
}

/// Writes a valid handshake of the given role to a raw stream.
fn send_hello(stream: &mut TcpStream, role: Party) {
    let p = program();
    let mut channel = TcpChannel::new(stream.try_clone().unwrap(), Timeouts::idle(IDLE)).unwrap();
    handshake::send(&mut channel, &peer_hello(&p, role)).unwrap();
}

#[test]
fn garbage_before_the_handshake() {
    for honest in [Party::Garbler, Party::Evaluator] {
        let (r, t) = against(honest, |mut s| {
            let _ = s.write_all(&[0x5a; 64]);
            std::thread::sleep(IDLE * 2);
        });
        assert_peer_error(r, t, "garbage");
    }
}

#[test]
fn wrong_magic_and_wrong_version() {
    let (r, t) = against(Party::Garbler, |mut s| {
        let _ = s.write_all(b"NOTGARBL\x01\0\0\0");
        std::thread::sleep(IDLE * 2);
    });
    assert_peer_error(r, t, "wrong magic");
    let (r, _) = against(Party::Evaluator, |mut s| {
        let _ = s.write_all(&MAGIC);
        let _ = s.write_all(&99u32.to_le_bytes());
        std::thread::sleep(IDLE * 2);
    });
    match r {
        Err(Error::Mismatch {
            field: "protocol version",
            ours,
            peer,
            ..
        }) => {
            assert_eq!(ours, VERSION.to_string());
            assert_eq!(peer, "99");
        }
        other => panic!("wrong version: {other:?}"),
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn an_oversized_length_prefix_allocates_nothing() {
    let before = peak_rss_kib();
    let (r, t) = against(Party::Garbler, |mut s| {
        let _ = s.write_all(&MAGIC);
        let _ = s.write_all(&VERSION.to_le_bytes());
        let _ = s.write_all(&u32::MAX.to_le_bytes());
        std::thread::sleep(IDLE * 2);
    });
    assert_peer_error(r, t, "oversized length");
    let after = peak_rss_kib();
    assert!(
        after < before + 64 * 1024,
        "peak memory grew from {before} KiB to {after} KiB"
    );
}

#[test]
fn garbage_after_the_handshake() {
    let (r, t) = against(Party::Garbler, |mut s| {
        send_hello(&mut s, Party::Evaluator);
        // Not a point where A belongs (the first message is A and a proof, 96 bytes).
        let _ = s.write_all(&[0xee; garbled::ot::base::FIRST_BYTES]);
        std::thread::sleep(IDLE * 2);
    });
    assert_peer_error(r, t, "garbage instead of the base-OT point");
    let (r, t) = against(Party::Evaluator, |mut s| {
        send_hello(&mut s, Party::Garbler);
        let _ = s.write_all(&vec![0xab; 128 * 32]);
        std::thread::sleep(IDLE * 2);
    });
    assert_peer_error(r, t, "garbage instead of the base-OT reply");
}

#[test]
fn a_reset_connection() {
    let (r, t) = against(Party::Evaluator, |mut s| {
        // Wait until the honest handshake has arrived and leave it unread: closing a socket with
        // unread data makes the kernel send a reset.
        std::thread::sleep(Duration::from_millis(200));
        let _ = s.write_all(&MAGIC[..4]);
        drop(s);
    });
    assert_closed(r, t, "reset");
}

/// What a sabotaging honest party does once it has sent `budget` bytes.
#[derive(Clone, Copy, Debug)]
enum Sabotage {
    /// Close the connection in both directions.
    HangUp,
    /// Close only the sending direction (half-closed).
    HalfClose,
    /// Stop sending but keep the connection open.
    Silence,
}

struct Saboteur {
    inner: TcpChannel,
    budget: u64,
    sent: u64,
    mode: Sabotage,
    extra_after_end: bool,
}

impl Channel for Saboteur {
    fn write_all(&mut self, data: &[u8]) -> garbled::Result<()> {
        if self.sent + data.len() as u64 <= self.budget {
            self.sent += data.len() as u64;
            return self.inner.write_all(data);
        }
        let keep = (self.budget - self.sent) as usize;
        self.inner.write_all(&data[..keep])?;
        self.inner.flush()?;
        self.sent = self.budget;
        match self.mode {
            Sabotage::HangUp => self.inner.shutdown(),
            Sabotage::HalfClose => self.inner.close_write()?,
            Sabotage::Silence => std::thread::sleep(IDLE * 3),
        }
        Err(Error::arg("sabotaged"))
    }
    fn flush(&mut self) -> garbled::Result<()> {
        self.inner.flush()
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> garbled::Result<()> {
        self.inner.read_exact(buf)
    }
    fn traffic(&self) -> Traffic {
        self.inner.traffic()
    }
    fn close_write(&mut self) -> garbled::Result<()> {
        if self.extra_after_end {
            self.inner.write_all(b"surprise")?;
        }
        self.inner.close_write()
    }
    fn expect_eof(&mut self) -> garbled::Result<()> {
        self.inner.expect_eof()
    }
}

/// An honest evaluator against a garbler that sabotages the stream after `budget` bytes.
fn sabotaged_garbler(
    budget: u64,
    mode: Sabotage,
    extra_after_end: bool,
) -> (garbled::Result<()>, Duration) {
    let p = program();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::scope(|s| {
        let p2 = &p;
        s.spawn(move || {
            let inner = TcpChannel::connect(
                &addr,
                Duration::from_secs(5),
                Timeouts::idle(Duration::from_secs(10)),
            )
            .unwrap();
            let channel = Saboteur {
                inner,
                budget,
                sent: 0,
                mode,
                extra_after_end,
            };
            let _ = GarblerSession::start(channel, p2, options(p2)).and_then(|mut s| {
                s.run(&[vec![false; 16]])?;
                s.finish()
            });
        });
        let start = Instant::now();
        let channel =
            TcpChannel::accept(&listener, Duration::from_secs(5), Timeouts::idle(IDLE)).unwrap();
        let r = EvaluatorSession::start(channel, &p, options(&p)).and_then(|mut s| {
            s.run(&[vec![true; 16]])?;
            s.finish().map(|_| ())
        });
        (r, start.elapsed())
    })
}

/// Bytes a garbler sends before its tables: handshake frame, 128 base-OT points, 16 labels.
fn before_tables() -> u64 {
    let p = program();
    let hello = bincode::serde::encode_to_vec(
        peer_hello(&p, Party::Garbler),
        bincode::config::standard()
            .with_little_endian()
            .with_fixed_int_encoding(),
    )
    .unwrap();
    16 + hello.len() as u64 + 128 * 32 + 16 * 16
}

#[test]
fn truncated_tables_and_hang_ups() {
    let tables_start = before_tables();
    for budget in [
        0,
        10,
        tables_start - 100,
        tables_start + 64,
        tables_start + 500,
    ] {
        let (r, t) = sabotaged_garbler(budget, Sabotage::HangUp, false);
        assert_closed(r, t, &format!("hang-up after {budget} bytes"));
    }
}

#[test]
fn a_half_closed_connection() {
    let (r, t) = sabotaged_garbler(before_tables() + 200, Sabotage::HalfClose, false);
    assert_closed(r, t, "half-closed");
}

#[test]
fn silence_is_a_timeout_within_the_idle_limit() {
    for budget in [20, before_tables() + 300] {
        let (r, t) = sabotaged_garbler(budget, Sabotage::Silence, false);
        assert!(
            matches!(r, Err(Error::Timeout(_))),
            "silence after {budget}: {r:?}"
        );
        assert!(t >= IDLE && t < IDLE * 3, "took {t:?}");
    }
}

#[test]
fn extra_bytes_after_the_outputs() {
    let (r, t) = sabotaged_garbler(u64::MAX, Sabotage::HangUp, true);
    assert_peer_error(r, t, "extra bytes after the end marker");
}

#[test]
fn an_honest_pair_over_the_same_harness_succeeds() {
    // The harness itself is not the cause of the errors above.
    let (r, _) = sabotaged_garbler(u64::MAX, Sabotage::HangUp, false);
    r.unwrap();
}
