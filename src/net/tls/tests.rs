//! Tests of the TLS channel: pinned keys, refusals, our record layer against rustls's, a
//! hostile peer with the keys that breaks the record grammar.

use super::*;
use crate::net::Channel;

#[test]
fn no_resumption_and_tls_1_3_only() {
    let settings = TlsSettings {
        identity: Identity::generate().unwrap(),
        peer: Identity::generate().unwrap().fingerprint(),
    };
    let (server, _) = settings.server().unwrap();
    assert_eq!(server.send_tls13_tickets, 0);
    let (client, _) = settings.client().unwrap();
    assert!(!client.enable_early_data);
}

#[test]
fn pinned_peers_talk_and_others_are_refused() {
    let listener_id = Identity::generate().unwrap();
    let client_id = Identity::generate().unwrap();
    let stranger = Identity::generate().unwrap();
    let listener = super::super::listen::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let timeouts = Timeouts::idle(Duration::from_secs(5));
    let server_settings = TlsSettings {
        identity: listener_id.clone(),
        peer: client_id.fingerprint(),
    };
    let logged = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let client_settings = TlsSettings {
            identity: client_id.clone(),
            peer: listener_id.fingerprint(),
        };
        let stranger_settings = TlsSettings {
            identity: stranger.clone(),
            peer: listener_id.fingerprint(),
        };
        let addr2 = addr.clone();
        let client = s.spawn(move || {
            let refused =
                TlsChannel::connect(&addr2, Duration::from_secs(5), timeouts, &stranger_settings);
            let mut good =
                TlsChannel::connect(&addr2, Duration::from_secs(5), timeouts, &client_settings)
                    .unwrap();
            good.write_all(b"hello").unwrap();
            good.flush().unwrap();
            let mut reply = [0u8; 2];
            good.read_exact(&mut reply).unwrap();
            good.close_write().unwrap();
            good.expect_eof().unwrap();
            (refused, reply)
        });
        let mut server = TlsChannel::accept(
            &listener,
            Duration::from_secs(10),
            timeouts,
            &server_settings,
            |line| logged.lock().unwrap().push(line.to_string()),
        )
        .unwrap();
        assert!(server.transport().describe().contains("TLS13_AES_128_GCM"));
        let mut hello = [0u8; 5];
        server.read_exact(&mut hello).unwrap();
        assert_eq!(&hello, b"hello");
        server.write_all(b"ok").unwrap();
        server.close_write().unwrap();
        server.expect_eof().unwrap();
        let (refused, reply) = client.join().unwrap();
        assert_eq!(&reply, b"ok");
        match refused {
            Err(Error::Authentication(m)) => {
                assert!(m.contains(&stranger.fingerprint().to_string()), "{m}")
            }
            other => panic!("the stranger was not refused: {other:?}"),
        }
    });
    let logged = logged.into_inner().unwrap();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains(&stranger.fingerprint().to_string()),
        "{logged:?}"
    );
    assert!(
        logged[0].contains(&client_id.fingerprint().to_string()),
        "{logged:?}"
    );
}

#[test]
fn the_connecting_side_names_both_keys() {
    let listener_id = Identity::generate().unwrap();
    let expected = Identity::generate().unwrap().fingerprint();
    let client_id = Identity::generate().unwrap();
    let listener = super::super::listen::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let timeouts = Timeouts::idle(Duration::from_secs(5));
    let server_settings = TlsSettings {
        identity: listener_id.clone(),
        peer: client_id.fingerprint(),
    };
    let client_settings = TlsSettings {
        identity: client_id,
        peer: expected,
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            let _ = TlsChannel::accept(
                &listener,
                Duration::from_millis(1500),
                timeouts,
                &server_settings,
                |_| {},
            );
        });
        match TlsChannel::connect(&addr, Duration::from_secs(5), timeouts, &client_settings) {
            Err(Error::Authentication(m)) => {
                assert!(m.contains(&expected.to_string()), "{m}");
                assert!(m.contains(&listener_id.fingerprint().to_string()), "{m}");
            }
            other => panic!("expected an authentication error, got {other:?}"),
        }
    });
}

/// A connected client and server socket over loopback, with the idle timeout set.
fn sockets() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for socket in [&client, &server] {
        configure(socket, Duration::from_secs(20)).unwrap();
    }
    (client, server)
}

/// Settings for a listener and a connecting party that pin each other: (server, client).
fn pinned_pair() -> (TlsSettings, TlsSettings) {
    let server = Identity::generate().unwrap();
    let client = Identity::generate().unwrap();
    (
        TlsSettings {
            identity: server.clone(),
            peer: client.fingerprint(),
        },
        TlsSettings {
            identity: client,
            peer: server.fingerprint(),
        },
    )
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect()
}

/// rustls's own record layer at the other end: reads `expect`, answers `reply` with a key
/// update halfway, reads our close_notify, sends its own.
fn rustls_peer<C, S>(conn: &mut C, socket: &mut TcpStream, expect: &[u8], reply: &[u8])
where
    C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    let mut stream = rustls::Stream::new(conn, socket);
    let mut got = vec![0u8; expect.len()];
    stream.read_exact(&mut got).unwrap();
    assert!(got == expect, "rustls read other bytes than we sent");
    let half = reply.len() / 2;
    stream.write_all(&reply[..half]).unwrap();
    stream.conn.refresh_traffic_keys().unwrap();
    stream.write_all(&reply[half..]).unwrap();
    stream.flush().unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "rustls read bytes after our close_notify");
    stream.conn.send_close_notify();
    stream.flush().unwrap();
}

/// Our side: the same conversation, with our key updates every 7 records.
fn our_side(mut ours: RecordStream, sent: &[u8], reply: &[u8]) -> (u64, u64) {
    // Half of AES-128-GCM's confidentiality limit (RFC 8446 §5.5), then every 7 records.
    assert_eq!(ours.key_update_interval(), 1 << 23);
    ours.set_key_update_interval(7);
    ours.write_all(&sent[..10]).unwrap();
    ours.write_all(&sent[10..]).unwrap();
    ours.flush().unwrap();
    // A small read (the record is opened in our buffer), then large ones (opened straight
    // into the caller's).
    let mut got = vec![0u8; reply.len()];
    ours.read_exact(&mut got[..100]).unwrap();
    ours.read_exact(&mut got[100..]).unwrap();
    assert!(got == reply, "we read other bytes than rustls sent");
    ours.close_notify().unwrap();
    ours.socket().shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    assert_eq!(ours.read_to_end(&mut rest).unwrap(), 0);
    ours.key_updates()
}

#[test]
fn our_record_layer_and_rustls_understand_each_other() {
    let sent = pattern(3_000_000, 1);
    let reply = pattern(1_000_003, 2);
    let name = ServerName::try_from(NAME).unwrap();
    for we_connect in [true, false] {
        let (server, client) = pinned_pair();
        let (mut client_socket, mut server_socket) = sockets();
        let (sent, reply, name) = (&sent, &reply, &name);
        let updates = std::thread::scope(|s| {
            if we_connect {
                let server = &server;
                s.spawn(move || {
                    let (config, _) = server.server().unwrap();
                    let mut conn = rustls::ServerConnection::new(config).unwrap();
                    rustls_peer(&mut conn, &mut server_socket, sent, reply);
                });
                let (config, _) = client.client().unwrap();
                let conn = UnbufferedClientConnection::new(config, name.clone()).unwrap();
                our_side(handshake(conn, client_socket).unwrap(), sent, reply)
            } else {
                let client = &client;
                s.spawn(move || {
                    let (config, _) = client.client().unwrap();
                    let mut conn = rustls::ClientConnection::new(config, name.clone()).unwrap();
                    rustls_peer(&mut conn, &mut client_socket, sent, reply);
                });
                let (config, _) = server.server().unwrap();
                let conn = UnbufferedServerConnection::new(config).unwrap();
                our_side(handshake(conn, server_socket).unwrap(), sent, reply)
            }
        });
        // 3 MB is 184 records: a key update after every 7.
        assert!(updates.0 >= 25, "{updates:?}");
        assert_eq!(updates.1, 1);
    }
}

/// Forwards a connection to `back`, changing the byte at offset `at` of the listener's
/// direction, or cutting the connection there.
fn meddling_relay(front: TcpListener, back: String, at: usize, cut: bool) {
    let (client, _) = front.accept().unwrap();
    let server = TcpStream::connect(back).unwrap();
    let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut up_from, &mut up_to);
        let _ = up_to.shutdown(std::net::Shutdown::Write);
    });
    let (mut from, mut to) = (server, client);
    let mut seen = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if (seen..seen + n).contains(&at) {
            if cut {
                let _ = to.write_all(&buf[..at - seen]);
                break;
            }
            buf[at - seen] ^= 0x20;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        seen += n;
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = up.join();
}

#[test]
fn a_changed_byte_is_misbehaviour_and_a_cut_connection_a_closed_peer() {
    let sent = pattern(1 << 20, 3);
    for cut in [false, true] {
        let (server, client) = pinned_pair();
        let back = super::super::listen::bind("127.0.0.1:0").unwrap();
        let back_addr = back.local_addr().unwrap().to_string();
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let front_addr = front.local_addr().unwrap().to_string();
        let timeouts = Timeouts::idle(Duration::from_secs(20));
        std::thread::scope(|s| {
            s.spawn(|| meddling_relay(front, back_addr, 700_000, cut));
            s.spawn(|| {
                let mut listener =
                    TlsChannel::accept(&back, Duration::from_secs(20), timeouts, &server, |_| {})
                        .unwrap();
                // The write succeeds or fails with our peer's alert; either is fine here.
                let _ = listener.write_all(&sent).and_then(|()| listener.flush());
                let _ = listener.close_write();
            });
            let mut ours =
                TlsChannel::connect(&front_addr, Duration::from_secs(20), timeouts, &client)
                    .unwrap();
            let mut got = vec![0u8; sent.len()];
            match (cut, ours.read_exact(&mut got)) {
                (false, Err(Error::PeerMisbehaved(m))) => {
                    assert!(m.contains("authentication"), "{m}")
                }
                (true, Err(Error::PeerClosed(m))) => assert!(m.contains("TLS record"), "{m}"),
                (_, other) => panic!("cut {cut}: {other:?}"),
            }
        });
    }
}

/// Our record layer at both ends of a loopback connection, both handshakes done:
/// (client, listener). The listener has sent one byte and the client read it, so what the
/// client sends next meets our record layer, not rustls's handshake (which would otherwise
/// find it right behind the client's Finished).
fn our_pair() -> (RecordStream, RecordStream) {
    let (server, client) = pinned_pair();
    let (client_socket, server_socket) = sockets();
    std::thread::scope(|s| {
        let listener = s.spawn(|| {
            let (config, _) = server.server().unwrap();
            let conn = UnbufferedServerConnection::new(config).unwrap();
            let mut ours = handshake(conn, server_socket).unwrap();
            ours.write_all(&[ACCEPTED]).unwrap();
            ours.flush().unwrap();
            ours
        });
        let (config, _) = client.client().unwrap();
        let name = ServerName::try_from(NAME).unwrap();
        let conn = UnbufferedClientConnection::new(config, name).unwrap();
        let mut ours = handshake(conn, client_socket).unwrap();
        ours.read_exact(&mut [0u8; 1]).unwrap();
        (ours, listener.join().unwrap())
    })
}

#[test]
fn a_requested_key_update_goes_out_before_any_further_data() {
    // The listener has a record open ("ab") when the client's request arrives; what it
    // writes next ("cd") must reach the client after the listener's own KeyUpdate.
    let (mut client, mut listener) = our_pair();
    std::thread::scope(|s| {
        s.spawn(|| {
            client.request_key_update().unwrap();
            client.write_all(b"x").unwrap();
            client.flush().unwrap();
            let mut got = [0u8; 4];
            client.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"abcd");
            assert_eq!(
                client.key_updates().1,
                1,
                "data reached the requester before the answering KeyUpdate"
            );
            client.close_notify().unwrap();
        });
        listener.write_all(b"ab").unwrap();
        let mut x = [0u8; 1];
        listener.read_exact(&mut x).unwrap();
        assert_eq!(listener.key_updates(), (0, 1));
        listener.write_all(b"cd").unwrap();
        listener.flush().unwrap();
        assert_eq!(listener.key_updates().0, 1);
        let mut rest = Vec::new();
        listener.read_to_end(&mut rest).unwrap();
    });
}

#[test]
fn a_peer_may_not_send_more_than_32_key_updates_without_data() {
    for updates in [32, 33] {
        let (mut client, mut listener) = our_pair();
        let got = std::thread::scope(|s| {
            s.spawn(|| {
                listener.send_key_updates(updates).unwrap();
                listener.write_all(b"data").unwrap();
                listener.flush().unwrap();
                // Wait for the other side's verdict before closing.
                let _ = listener.read(&mut [0u8; 1]);
            });
            let mut data = [0u8; 4];
            let got = client.read_exact(&mut data).map(|()| data);
            client.socket().shutdown(std::net::Shutdown::Both).unwrap();
            got
        });
        match (updates, got) {
            (32, Ok(data)) => assert_eq!(&data, b"data"),
            (33, Err(e)) => assert!(e.to_string().contains("key updates"), "{e}"),
            (n, other) => panic!("{n} key updates: {other:?}"),
        }
    }
}

/// Whatever arrives after the handshake, our reader answers with an error, never a panic,
/// a hang or data: random bytes, records too long or too short, cleartext records, records
/// with a well-formed header and a forged body.
#[test]
fn garbage_after_the_handshake_is_an_error() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::ChaCha12Rng::seed_from_u64(11);
    let mut cases: Vec<Vec<u8>> = vec![
        vec![23, 3, 3, 0x50, 0x00],
        vec![23, 3, 3, 0, 5, 1, 2, 3, 4, 5],
        vec![22, 3, 3, 0, 4, 24, 0, 0, 1],
        vec![21, 3, 3, 0, 2, 2, 40],
        vec![20, 3, 3, 0, 1, 1],
        vec![23, 3, 3],
    ];
    for n in [1, 17, 100, 16_401, 40_000] {
        let mut random = vec![0u8; n];
        rng.fill_bytes(&mut random);
        cases.push(random.clone());
        let len = n.min(16_384 + 256);
        let mut forged = vec![23, 3, 3, (len >> 8) as u8, len as u8];
        forged.extend_from_slice(&random[..len]);
        cases.push(forged);
    }
    for garbage in cases {
        let (client, mut listener) = our_pair();
        let (result, answer) = std::thread::scope(|s| {
            let peer = s.spawn(|| {
                let mut raw = client.socket().try_clone().unwrap();
                raw.write_all(&garbage).unwrap();
                raw.shutdown(std::net::Shutdown::Write).unwrap();
                // Until the other side has its verdict.
                let mut answer = Vec::new();
                let _ = raw.read_to_end(&mut answer);
                answer
            });
            let mut buf = vec![0u8; 1 << 16];
            let result = listener.read(&mut buf);
            listener
                .socket()
                .shutdown(std::net::Shutdown::Both)
                .unwrap();
            (result, peer.join().unwrap())
        });
        match result {
            // A broken record is answered with one sealed fatal alert (2 bytes, the content
            // type and the tag: a 24-byte record); a connection cut short with nothing.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                assert_eq!(answer.len(), 24, "{e}");
                assert_eq!(&answer[..5], &[23, 3, 3, 0, 19]);
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                assert!(answer.is_empty(), "{e}")
            }
            Err(e) => panic!("{garbage:?}: {e}"),
            Ok(n) => panic!("{n} bytes read from {} bytes of garbage", garbage.len()),
        }
    }
}

/// A peer with the keys that breaks the record grammar inside authenticated records: each
/// case is an error (or, where the RFC allows it, accepted), never a panic, and the valid
/// cases deliver their data.
#[test]
fn authenticated_records_that_break_the_grammar_are_errors() {
    use rand::{Rng, SeedableRng};
    let big = {
        let mut v = vec![b'x'; super::super::record::MAX_PLAINTEXT + 1];
        v.push(23);
        v
    };
    // 2^14 bytes of data and its type make the largest inner plaintext allowed; one byte of
    // padding more is record_overflow (§5.4), though the data alone would fit.
    let largest = {
        let mut v = vec![b'y'; super::super::record::MAX_PLAINTEXT];
        v.push(23);
        v
    };
    let padded_over = {
        let mut v = largest.clone();
        v.push(0);
        v
    };
    // Inner plaintexts sent in a row, and the data the reader must deliver (None: an error).
    type Case = (Vec<Vec<u8>>, Option<Vec<u8>>);
    let mut cases: Vec<Case> = vec![
        (vec![vec![]], None),
        (vec![vec![0, 0, 0]], None),
        (vec![big], None),
        (vec![padded_over], None),
        (
            vec![largest],
            Some(vec![b'y'; super::super::record::MAX_PLAINTEXT]),
        ),
        (vec![vec![1, 0, 0, 21]], None),
        (vec![vec![2, 40, 21]], None),
        (vec![vec![24, 0, 0, 22]], None),
        (vec![vec![24, 0, 0, 1, 5, 22]], None),
        (vec![vec![24, 0, 0, 1, 0, 24, 0, 0, 1, 0, 22]], None),
        (vec![vec![24, 0, 0, 9, 0, 22]], None),
        (vec![vec![4, 0, 0, 1, 0, 22]], None),
        (vec![vec![1, 2, 3, 99]], None),
        (vec![vec![1, 20]], None),
        // Padding, a zero-length record and user_canceled are allowed (§5.4, §5.1, §6.1).
        (vec![b"hi\x17\0\0\0".to_vec()], Some(b"hi".to_vec())),
        (
            vec![vec![23], vec![1, 90, 21], b"ok\x17".to_vec()],
            Some(b"ok".to_vec()),
        ),
    ];
    let mut rng = rand::rngs::ChaCha12Rng::seed_from_u64(5);
    for _ in 0..40 {
        let mut inner = vec![0u8; (rng.next_u32() % 40) as usize];
        rng.fill_bytes(&mut inner);
        // What the grammar makes of it: data, an alert that ends nothing, or an error.
        let expect = match inner.iter().rposition(|&b| b != 0) {
            Some(at) if inner[at] == 23 => Some(inner[..at].to_vec()),
            Some(2) if inner[2] == 21 && matches!(inner[1], 0 | 90) => Some(Vec::new()),
            _ => None,
        };
        cases.push((vec![inner], expect));
    }
    for (records, expect) in cases {
        let (mut hostile, mut listener) = our_pair();
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                // The listener may have given up (and closed) before the last of them.
                for inner in &records {
                    let _ = hostile.send_inner(inner);
                }
                // close_notify: what comes before it is all there is.
                let _ = hostile.send_inner(&[1, 0, 21]);
                let _ = hostile.socket().shutdown(std::net::Shutdown::Write);
                let _ = hostile.socket().read_to_end(&mut Vec::new());
            });
            let mut got = Vec::new();
            let result = listener.read_to_end(&mut got).map(|_| got);
            listener
                .socket()
                .shutdown(std::net::Shutdown::Both)
                .unwrap();
            result
        });
        // Records by their first bytes and length (one is 16 KiB).
        let shown: Vec<_> = records
            .iter()
            .map(|r| (&r[..r.len().min(8)], r.len()))
            .collect();
        match (expect, result) {
            (Some(want), Ok(got)) => assert!(got == want, "{shown:?}"),
            (None, Err(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{shown:?}: {e}")
            }
            (expect, result) => panic!(
                "{shown:?}: expected {expect:?}, got {:?}",
                result.map(|got| got.len())
            ),
        }
    }
}
