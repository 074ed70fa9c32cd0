//! A TLS session that ends without the peer's close_notify was truncated (RFC 8446 §6.1): a
//! relay that withholds the last record of one direction makes that side's session end in an
//! error, while the same relay passing everything lets both sides end cleanly.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

mod common;

use common::{compare32, pinned_settings};
use garbled::Error;
use garbled::net::tcp::Timeouts;
use garbled::net::tls::TlsChannel;
use garbled::protocol::{EvaluatorSession, GarblerSession};

/// Copies TLS records from `from` to `to`. A record the size of a sealed alert (2 bytes of alert,
/// the content type and a 16-byte tag) is held back until another record follows it; one still
/// held at the end of `from` (the close_notify) is sent only if `withhold_last` is false. Then
/// closes `to`'s sending side.
fn pump(mut from: TcpStream, mut to: TcpStream, withhold_last: bool) {
    let mut held: Option<Vec<u8>> = None;
    loop {
        let mut header = [0u8; 5];
        if from.read_exact(&mut header).is_err() {
            break;
        }
        let len = u16::from_be_bytes([header[3], header[4]]) as usize;
        let mut record = header.to_vec();
        record.resize(5 + len, 0);
        if from.read_exact(&mut record[5..]).is_err() {
            break;
        }
        if let Some(previous) = held.take()
            && to.write_all(&previous).is_err()
        {
            return;
        }
        if len == 2 + 1 + 16 {
            held = Some(record);
        } else if to.write_all(&record).is_err() {
            return;
        }
    }
    if let (Some(last), false) = (held, withhold_last) {
        let _ = to.write_all(&last);
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// A session through a relay; the garbler's last record to the evaluator is withheld when
/// `withhold` is set. Returns both sides' results of the whole session.
fn session(withhold: bool) -> (garbled::Result<()>, garbled::Result<()>) {
    let (g_settings, e_settings) = pinned_settings();
    let (program, options) = compare32();
    let garbler_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let garbler_addr = garbler_listener.local_addr().unwrap();
    let relay_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_addr = relay_listener.local_addr().unwrap().to_string();
    let timeouts = Timeouts::idle(Duration::from_secs(10));
    std::thread::scope(|s| {
        s.spawn(move || {
            let (client, _) = relay_listener.accept().unwrap();
            let server = TcpStream::connect(garbler_addr).unwrap();
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up = std::thread::spawn(move || pump(c2, s2, false));
            pump(server, client, withhold);
            up.join().unwrap();
        });
        let (program, options) = (&program, &options);
        let garbler = s.spawn(move || -> garbled::Result<()> {
            let channel = TlsChannel::accept(
                &garbler_listener,
                Duration::from_secs(10),
                timeouts,
                &g_settings,
                |_| {},
            )?;
            let mut session = GarblerSession::start(channel, program, options.clone())?;
            session.run(&[vec![true; 32]])?;
            session.finish().map(|_| ())
        });
        let evaluator = (|| -> garbled::Result<()> {
            let channel =
                TlsChannel::connect(&relay_addr, Duration::from_secs(10), timeouts, &e_settings)?;
            let mut session = EvaluatorSession::start(channel, program, options.clone())?;
            session.run(&[vec![false; 32]])?;
            session.finish().map(|_| ())
        })();
        (garbler.join().unwrap(), evaluator)
    })
}

#[test]
fn a_relay_that_passes_everything_lets_both_sides_end_cleanly() {
    let (g, e) = session(false);
    g.unwrap();
    e.unwrap();
}

#[test]
fn a_withheld_close_notify_is_truncation_not_a_clean_end() {
    let (_, e) = session(true);
    match e {
        Err(Error::PeerMisbehaved(m)) => assert!(m.contains("truncation"), "{m}"),
        other => panic!("the evaluator accepted a truncated session: {other:?}"),
    }
}
