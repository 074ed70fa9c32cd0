//! Two hosts over mutual TLS 1.3 with pinned keys, through the command line as users run it:
//! identities from `garbled keygen`, AES-128 between two processes, strangers and noise refused
//! while the listener keeps waiting for its pinned peer, a wire capture that holds only TLS 1.3
//! records, and every bad identity or fingerprint a usage error.

mod common;
use common::{free_port, garbled, spawn, stderr, stdout};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("garbled-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `garbled keygen -o DIR/NAME.pem`: (path, fingerprint).
fn keygen(dir: &std::path::Path, name: &str) -> (String, String) {
    let path = dir.join(format!("{name}.pem"));
    let o = garbled(&["keygen", "-o", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let fingerprint = stdout(&o).lines().last().unwrap().to_string();
    (path.to_str().unwrap().to_string(), fingerprint)
}

fn aes() -> String {
    format!("{}/circuits/aes128.txt", env!("CARGO_MANIFEST_DIR"))
}

const KEY: &str = "0x2b7e151628aed2a6abf7158809cf4f3c";
const PLAINTEXT: &str = "0x3243f6a8885a308d313198a2e0370734";
const CIPHERTEXT: &str = "0x3925841d02dc09fbdc118597196a0b32";

/// The garbler (key owner) listening on `listen`.
fn garbler(listen: &str, identity: &str, peer: &str, timeout: &str) -> Child {
    spawn(&[
        "run",
        &aes(),
        "--role",
        "garbler",
        "--listen",
        listen,
        "--identity",
        identity,
        "--peer",
        peer,
        "--input",
        KEY,
        "--timeout",
        timeout,
    ])
}

/// The evaluator (plaintext owner) connecting to `addr`.
fn evaluator(addr: &str, identity: &str, peer: &str) -> Output {
    garbled(&[
        "run",
        &aes(),
        "--role",
        "evaluator",
        "--connect",
        addr,
        "--identity",
        identity,
        "--peer",
        peer,
        "--input",
        PLAINTEXT,
        "--timeout",
        "10",
    ])
}

#[test]
fn pinned_parties_compute_aes_128_over_tls() {
    let dir = temp_dir("aes");
    let (a, a_fp) = keygen(&dir, "a");
    let (b, b_fp) = keygen(&dir, "b");
    let listen = format!("127.0.0.1:{}", free_port());
    let g = garbler(&listen, &a, &b_fp, "10");
    let e = evaluator(&listen, &b, &a_fp);
    let g = g.wait_with_output().unwrap();
    assert!(g.status.success(), "{}", stderr(&g));
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(stdout(&g), format!("{CIPHERTEXT}\n"));
    assert_eq!(stdout(&e), format!("{CIPHERTEXT}\n"));
}

#[test]
fn a_third_identity_is_refused_on_both_sides_and_the_pinned_peer_still_gets_in() {
    let dir = temp_dir("third");
    let (a, a_fp) = keygen(&dir, "a");
    let (b, b_fp) = keygen(&dir, "b");
    let (c, c_fp) = keygen(&dir, "c");
    let listen = format!("127.0.0.1:{}", free_port());
    let g = garbler(&listen, &a, &b_fp, "20");
    // C knows A's key, but A pins B: C is told its key was refused, and A logs C's key and the
    // expected one.
    let stranger = evaluator(&listen, &c, &a_fp);
    assert_eq!(stranger.status.code(), Some(1), "{}", stderr(&stranger));
    let err = stderr(&stranger);
    assert!(
        err.contains("refused our key") && err.contains(&c_fp),
        "{err}"
    );
    assert!(stdout(&stranger).is_empty());
    // B pins the wrong key for A (C's): B names the expected and the presented fingerprints.
    let confused = evaluator(&listen, &b, &c_fp);
    assert_eq!(confused.status.code(), Some(1), "{}", stderr(&confused));
    let err = stderr(&confused);
    assert!(err.contains(&c_fp) && err.contains(&a_fp), "{err}");
    // The real B: the listener was still waiting.
    let e = evaluator(&listen, &b, &a_fp);
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(stdout(&e), format!("{CIPHERTEXT}\n"));
    let g = g.wait_with_output().unwrap();
    assert!(g.status.success(), "{}", stderr(&g));
    let log = stderr(&g);
    let refusal = log
        .lines()
        .find(|l| l.contains(&c_fp))
        .unwrap_or_else(|| panic!("the stranger was not logged: {log}"));
    assert!(
        refusal.contains(&b_fp) && refusal.contains("127.0.0.1"),
        "{refusal}"
    );
}

#[test]
fn noise_on_the_port_is_logged_and_dropped() {
    let dir = temp_dir("noise");
    let (a, a_fp) = keygen(&dir, "a");
    let (b, b_fp) = keygen(&dir, "b");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let g = garbler(&listen, &a, &b_fp, "20");
    let connect = || {
        for _ in 0..200 {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the listener never came up");
    };
    // A plaintext garbled client (its hello), an HTTP request, random bytes, and a connection
    // that says nothing and hangs up.
    let mut plaintext = connect();
    plaintext.write_all(b"GARBLED\0\x01\0\0\0").unwrap();
    let mut http = connect();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut random = connect();
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    random.write_all(&noise).unwrap();
    drop(connect());
    for mut s in [plaintext, http, random] {
        // Each is dropped by the listener: we read end-of-stream or a reset, never a hang.
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    let e = evaluator(&listen, &b, &a_fp);
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(stdout(&e), format!("{CIPHERTEXT}\n"));
    let g = g.wait_with_output().unwrap();
    assert!(g.status.success(), "{}", stderr(&g));
    let log = stderr(&g);
    let dropped = log
        .lines()
        .filter(|l| l.contains("dropped a connection from"))
        .count();
    assert!(dropped >= 3, "{log}");
    assert!(!log.chars().any(|c| c.is_control() && c != '\n'), "{log:?}");
}

/// Forwards one connection between `from` and `to`, recording each direction.
fn relay(from: TcpListener, to: String) -> std::thread::JoinHandle<(Vec<u8>, Vec<u8>)> {
    std::thread::spawn(move || {
        let (client, _) = from.accept().unwrap();
        let server = TcpStream::connect(&to).unwrap();
        let pump = |mut src: TcpStream, mut dst: TcpStream| {
            let record = Arc::new(Mutex::new(Vec::new()));
            let r = record.clone();
            let t = std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    match src.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            r.lock().unwrap().extend_from_slice(&buf[..n]);
                            if dst.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = dst.shutdown(std::net::Shutdown::Write);
            });
            (t, record)
        };
        let (t1, up) = pump(client.try_clone().unwrap(), server.try_clone().unwrap());
        let (t2, down) = pump(server, client);
        t1.join().unwrap();
        t2.join().unwrap();
        let up = up.lock().unwrap().clone();
        let down = down.lock().unwrap().clone();
        (up, down)
    })
}

/// Splits a capture into TLS records (type, payload); panics on anything that is not one.
fn records(capture: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < capture.len() {
        assert!(capture.len() - at >= 5, "a truncated record header at {at}");
        let kind = capture[at];
        assert!(
            matches!(kind, 0x14..=0x17),
            "byte {at}: content type {kind:#x} is not TLS"
        );
        assert_eq!(capture[at + 1], 0x03, "byte {at}: not a TLS record version");
        let len = u16::from_be_bytes([capture[at + 3], capture[at + 4]]) as usize;
        assert!(len <= (1 << 14) + 256, "byte {at}: record of {len} bytes");
        assert!(at + 5 + len <= capture.len(), "a truncated record at {at}");
        out.push((kind, &capture[at + 5..at + 5 + len]));
        at += 5 + len;
    }
    out
}

#[test]
fn a_relay_sees_only_tls_1_3_records() {
    let dir = temp_dir("relay");
    let (a, a_fp) = keygen(&dir, "a");
    let (b, b_fp) = keygen(&dir, "b");
    let listen = format!("127.0.0.1:{}", free_port());
    let g = garbler(&listen, &a, &b_fp, "10");
    // Wait until the garbler listens, so the relay's one connection reaches it.
    for _ in 0..200 {
        if TcpStream::connect(&listen).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let front = TcpListener::bind("127.0.0.1:0").unwrap();
    let front_addr = front.local_addr().unwrap().to_string();
    let capture = relay(front, listen.clone());
    let e = evaluator(&front_addr, &b, &a_fp);
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(stdout(&e), format!("{CIPHERTEXT}\n"));
    let g = g.wait_with_output().unwrap();
    assert!(g.status.success(), "{}", stderr(&g));
    let (up, down) = capture.join().unwrap();
    // 6400 AND gates of 32-byte tables went down the wire, all inside records.
    assert!(down.len() > 6400 * 32, "{} bytes", down.len());
    let (up_records, down_records) = (records(&up), records(&down));
    // The client offers TLS 1.3 only: supported_versions (0x002b) lists 0x0304 and nothing else.
    let (kind, hello) = up_records[0];
    assert_eq!(kind, 0x16);
    let needle = [0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04];
    assert!(
        hello.windows(needle.len()).any(|w| w == needle),
        "the ClientHello does not offer TLS 1.3 alone"
    );
    // The server selects it: supported_versions with 0x0304 in the ServerHello.
    let (kind, server_hello) = down_records[0];
    assert_eq!(kind, 0x16);
    let chosen = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
    assert!(server_hello.windows(chosen.len()).any(|w| w == chosen));
    // After the hellos everything is encrypted application data (TLS 1.3 disguises handshake
    // records as type 23), apart from the compatibility ChangeCipherSpec.
    for (kind, _) in up_records.iter().skip(1).chain(down_records.iter().skip(1)) {
        assert!(
            matches!(kind, 0x14 | 0x17),
            "content type {kind:#x} after the hello"
        );
    }
    // No protocol byte in the clear: not the magic, not the circuit's digest text.
    for capture in [&up, &down] {
        assert!(!capture.windows(7).any(|w| w == b"GARBLED"));
        assert!(!capture.windows(10).any(|w| w == b"half-gates"));
    }
}

#[test]
fn two_hosts_without_identities_is_a_usage_error() {
    let o = garbled(&[
        "run",
        &aes(),
        "--role",
        "evaluator",
        "--connect",
        "127.0.0.1:1",
        "--input",
        PLAINTEXT,
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("garbled keygen") && err.contains("--insecure"),
        "{err}"
    );
    let o = garbled(&[
        "compare", "--role", "garbler", "--listen", ":0", "--value", "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn keygen_writes_a_private_file_and_never_overwrites_silently() {
    let dir = temp_dir("keygen");
    let (path, fingerprint) = keygen(&dir, "id");
    assert_eq!(fingerprint.len(), 64);
    assert!(
        fingerprint
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let before = std::fs::read(&path).unwrap();
    let o = garbled(&["keygen", "-o", &path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the identity was overwritten"
    );
    let o = garbled(&["keygen", "--fingerprint", &path]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), fingerprint);
    // The certificate alone has the same fingerprint.
    let text = String::from_utf8(before).unwrap();
    let certificate = &text[text.find("-----BEGIN CERTIFICATE").unwrap()..];
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, certificate).unwrap();
    let o = garbled(&["keygen", "--fingerprint", cert_path.to_str().unwrap()]);
    assert_eq!(stdout(&o).trim(), fingerprint);
    // --force replaces it with a new key, still private.
    let o = garbled(&["keygen", "-o", &path, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let new_fingerprint = stdout(&o).lines().last().unwrap().to_string();
    assert_ne!(new_fingerprint, fingerprint);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
}

#[test]
fn bad_identities_and_fingerprints_are_usage_errors() {
    let dir = temp_dir("bad");
    let (good, good_fp) = keygen(&dir, "good");
    let garbage = dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.join("missing.pem");
    let dir_str = dir.to_str().unwrap().to_string();
    let base = |identity: &str, peer: &str| -> Output {
        garbled(&[
            "compare",
            "--role",
            "garbler",
            "--listen",
            "127.0.0.1:0",
            "--identity",
            identity,
            "--peer",
            peer,
            "--value",
            "1",
            "--timeout",
            "1",
        ])
    };
    let other_fp = "ab".repeat(32);
    for (identity, peer, what) in [
        (
            garbage.to_str().unwrap(),
            other_fp.as_str(),
            "malformed identity",
        ),
        (empty.to_str().unwrap(), other_fp.as_str(), "empty identity"),
        (
            missing.to_str().unwrap(),
            other_fp.as_str(),
            "missing identity",
        ),
        (dir_str.as_str(), other_fp.as_str(), "a directory"),
        (good.as_str(), &other_fp[..62], "short fingerprint"),
        (
            good.as_str(),
            "zz".repeat(32).as_str(),
            "non-hex fingerprint",
        ),
        (good.as_str(), good_fp.as_str(), "our own fingerprint"),
    ] {
        let o = base(identity, peer);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
    }
    for file in [
        garbage.to_str().unwrap(),
        empty.to_str().unwrap(),
        missing.to_str().unwrap(),
    ] {
        let o = garbled(&["keygen", "--fingerprint", file]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", stderr(&o));
    }
}

#[test]
fn listen_accepts_a_bare_port_and_ipv6() {
    // `:PORT` (every interface) and `[::1]:PORT`, with the connecting side on the loopback.
    let dir = temp_dir("addr");
    let (a, a_fp) = keygen(&dir, "a");
    let (b, b_fp) = keygen(&dir, "b");
    let port = free_port();
    let g = garbler(&format!(":{port}"), &a, &b_fp, "10");
    let e = evaluator(&format!("localhost:{port}"), &b, &a_fp);
    assert!(e.status.success(), "{}", stderr(&e));
    assert!(g.wait_with_output().unwrap().status.success());
    if TcpListener::bind("[::1]:0").is_ok() {
        let port = free_port();
        let g = garbler(&format!("[::1]:{port}"), &a, &b_fp, "10");
        let e = evaluator(&format!("[::1]:{port}"), &b, &a_fp);
        assert!(e.status.success(), "{}", stderr(&e));
        assert!(g.wait_with_output().unwrap().status.success());
    }
}

/// A local run over loopback TLS whose tables span several writes (38 400 AND gates, more than
/// one 32 768-gate chunk), with the tables garbled and evaluated on helper threads while the
/// connection encrypts and decrypts the previous chunk (`GARBLED_PIPELINE=on`) and on the session
/// threads (`off`). Both schemes give the cleartext result, as does the plaintext run.
#[test]
fn tables_longer_than_one_write_over_tls_match_cleartext() {
    let dir = temp_dir("long");
    let file = dir.join("aes6.txt");
    let o = garbled(&[
        "gen",
        "aes128",
        "--count",
        "6",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = file.to_str().unwrap();
    let o = garbled(&["eval", file, "--input", KEY, "--input", PLAINTEXT]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = stdout(&o);
    for pipeline in ["on", "off"] {
        for extra in [
            &["--scheme", "half-gates"][..],
            &["--scheme", "three-halves"],
            &["--insecure"],
        ] {
            let mut args = vec!["run", file, "--input", KEY, "--input", PLAINTEXT];
            args.extend_from_slice(extra);
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_garbled"))
                .args(&args)
                .env("GARBLED_PIPELINE", pipeline)
                .output()
                .unwrap();
            assert!(o.status.success(), "{pipeline} {extra:?}: {}", stderr(&o));
            assert_eq!(stdout(&o), expected, "{pipeline} {extra:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
