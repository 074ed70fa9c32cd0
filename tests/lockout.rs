//! Nobody who has not authenticated can lock the pinned peer out of a listener: trickling and
//! silent strangers are dropped at the check deadline or to make room, the pinned peer gets in
//! and its session completes, the listener's threads stay bounded, and a party dropped unheard is
//! told that the listener was busy, not that its key was wrong.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;

use common::{compare32, pinned_settings};
use garbled::Error;
use garbled::net::listen::{CHECK_DEADLINE, MAX_PENDING};
use garbled::net::tcp::Timeouts;
use garbled::net::tls::{TlsChannel, TlsSettings};
use garbled::protocol::{EvaluatorSession, GarblerSession};

/// A connection to `to` from the loopback address `127.0.0.{source}`.
fn connect_from(source: u8, to: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, source], 0)).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(2))?;
    Ok(socket.into())
}

fn threads_now() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn trickling_and_silent_strangers_cannot_lock_the_pinned_peer_out() {
    let (listener_settings, client_settings) = pinned_settings();
    let (program, options) = compare32();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The session's own timeout is long: the check deadline must not depend on it.
    let timeouts = Timeouts::idle(Duration::from_secs(60));
    let logged = Mutex::new(Vec::<String>::new());
    let baseline = threads_now();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let (program, options, logged, stop) = (&program, &options, &logged, &stop);
        let garbler = s.spawn(move || {
            let channel = TlsChannel::accept(
                &listener,
                Duration::from_secs(60),
                timeouts,
                &listener_settings,
                |line| logged.lock().unwrap().push(line.to_string()),
            )?;
            let mut session = GarblerSession::start(channel, program, options.clone())?;
            let out = session.run(&[vec![true; 32]])?;
            session.finish()?;
            Ok::<_, Error>(out)
        });
        // 64 silent strangers and 64 that trickle the header of a 16 KiB handshake record, one
        // byte at a time, from eight other loopback addresses.
        let mut silent = Vec::new();
        let mut trickling = Vec::new();
        for k in 0..128u8 {
            let Ok(mut stream) = connect_from(2 + k % 8, addr) else {
                continue;
            };
            if k % 2 == 0 {
                silent.push(stream);
            } else {
                let _ = stream.write_all(&[0x16, 0x03, 0x01, 0x40, 0x00]);
                trickling.push(stream);
            }
        }
        assert!(
            silent.len() + trickling.len() >= 120,
            "could not open the strangers"
        );
        s.spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for t in &mut trickling {
                    let _ = t.write_all(&[0x01]);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        std::thread::sleep(Duration::from_millis(500));
        // Bounded: the checks in flight, the acceptor, the trickler and the garbler.
        let threads = threads_now().saturating_sub(baseline);
        assert!(
            threads <= MAX_PENDING + 8,
            "{threads} threads after 128 strangers (at most {MAX_PENDING} checks may run)"
        );
        let start = Instant::now();
        let channel = TlsChannel::connect(
            &addr.to_string(),
            Duration::from_secs(30),
            timeouts,
            &client_settings,
        )
        .expect("the pinned peer was locked out");
        let mut session = EvaluatorSession::start(channel, program, options.clone()).unwrap();
        let out = session.run(&[vec![false; 32]]).unwrap();
        session.finish().unwrap();
        let took = start.elapsed();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let garbler_out = garbler.join().unwrap().unwrap();
        assert_eq!(out, garbler_out);
        assert!(
            took < CHECK_DEADLINE + Duration::from_secs(3),
            "the pinned peer needed {took:?} to get its session done"
        );
        drop(silent);
    });
    let logged = logged.into_inner().unwrap();
    assert!(
        logged.iter().any(|l| l.contains("made room")),
        "no stranger made room: {logged:?}"
    );
}

#[test]
fn a_trickling_stranger_is_dropped_at_the_check_deadline_whatever_the_timeout() {
    let (listener_settings, _) = pinned_settings();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let dropped_at = Mutex::new(None);
    let start = Instant::now();
    std::thread::scope(|s| {
        let dropped_at = &dropped_at;
        s.spawn(move || {
            // The whole wait is longer than the deadline; the stranger must go well before it.
            let _ = TlsChannel::accept(
                &listener,
                CHECK_DEADLINE + Duration::from_secs(3),
                Timeouts::idle(Duration::from_secs(600)),
                &listener_settings,
                |line| {
                    if line.contains("did not complete its check") {
                        dropped_at.lock().unwrap().get_or_insert(start.elapsed());
                    }
                },
            );
        });
        let mut stranger = TcpStream::connect(addr).unwrap();
        stranger.write_all(&[0x16, 0x03, 0x01, 0x40]).unwrap();
        let mut cut = false;
        while start.elapsed() < CHECK_DEADLINE + Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(250));
            if stranger.write_all(&[0x00]).is_err() {
                cut = true;
                break;
            }
            stranger
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            let mut b = [0u8; 1];
            if matches!(stranger.read(&mut b), Ok(0)) {
                cut = true;
                break;
            }
        }
        assert!(cut, "the trickling stranger was never cut off");
    });
    let at = dropped_at
        .into_inner()
        .unwrap()
        .expect("no deadline line was logged");
    assert!(
        at >= CHECK_DEADLINE && at < CHECK_DEADLINE + Duration::from_secs(2),
        "dropped after {at:?}"
    );
}

/// A listener that closes its first `closes` connections unheard, then runs a real TLS accept.
fn busy_then_real(
    listener: TcpListener,
    closes: usize,
    settings: TlsSettings,
) -> std::thread::JoinHandle<garbled::Result<()>> {
    std::thread::spawn(move || {
        for _ in 0..closes {
            let (stream, _) = listener.accept().unwrap();
            drop(stream);
        }
        let mut channel = TlsChannel::accept(
            &listener,
            Duration::from_secs(10),
            Timeouts::idle(Duration::from_secs(10)),
            &settings,
            |_| {},
        )?;
        use garbled::net::Channel;
        channel.write_all(b"hello")?;
        channel.flush()
    })
}

#[test]
fn a_party_dropped_unheard_is_told_the_listener_was_busy_and_tries_again() {
    let (listener_settings, client_settings) = pinned_settings();
    // One attempt: the error says busy, not that the key was refused.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        drop(stream);
    });
    let stream = TcpStream::connect(addr).unwrap();
    let err = TlsChannel::client(
        stream,
        Timeouts::idle(Duration::from_secs(5)),
        &client_settings,
    )
    .expect_err("a closed connection cannot be a channel");
    server.join().unwrap();
    let text = err.to_string();
    assert!(text.contains("busy"), "{text}");
    assert!(
        !text.contains("key"),
        "a busy listener blamed the key: {text}"
    );

    // `connect` asks again until the listener hears it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = busy_then_real(listener, 3, listener_settings);
    let mut channel = TlsChannel::connect(
        &addr,
        Duration::from_secs(10),
        Timeouts::idle(Duration::from_secs(10)),
        &client_settings,
    )
    .unwrap();
    let mut hello = [0u8; 5];
    use garbled::net::Channel;
    channel.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    server.join().unwrap().unwrap();
}
