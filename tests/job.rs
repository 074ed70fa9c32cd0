//! Jobs with many contributors, as processes on loopback: `garbled serve` (two compute parties)
//! and `garbled contribute` (three hospitals), with the result to two of them; the wire seen by a
//! relay; the compute parties' memory and logs; and every failure the issue names.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, garbled, spawn, stderr, stdout};

/// A distinctive 64-bit contribution the memory and wire scans look for.
const PLANTED: u64 = 0x5eed_c0de_1234_abcd;

struct Fixture {
    dir: PathBuf,
    fps: std::collections::HashMap<String, String>,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("garbled-job-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut fps = std::collections::HashMap::new();
        for who in ["g", "e", "h1", "h2", "h3", "stranger"] {
            let path = dir.join(format!("{who}.pem"));
            let out = garbled(&["keygen", "-o", path.to_str().unwrap()]);
            assert!(out.status.success(), "{}", stderr(&out));
            let fp = stdout(&out).lines().last().unwrap().trim().to_string();
            fps.insert(who.to_string(), fp);
        }
        Fixture { dir, fps }
    }

    fn pem(&self, who: &str) -> String {
        self.dir
            .join(format!("{who}.pem"))
            .to_str()
            .unwrap()
            .to_string()
    }

    /// Writes a job file: three hospitals, each feeding `lanes` values of `bits` bits, summed;
    /// the result to h1 and h2. Returns its path.
    fn job(
        &self,
        file: &str,
        security: &str,
        bits: u32,
        timeout: u32,
        addresses: (&str, &str),
    ) -> String {
        self.job_with(file, security, bits, timeout, addresses, |t| t)
    }

    fn job_with(
        &self,
        file: &str,
        security: &str,
        bits: u32,
        timeout: u32,
        (g, e): (&str, &str),
        edit: impl Fn(String) -> String,
    ) -> String {
        let fp = |w: &str| self.fps[w].clone();
        let mut text = format!(
            "job = \"hospitals-{file}\"\nsecurity = \"{security}\"\ntimeout = {timeout}\nrecipients = [\"h1\", \"h2\"]\n\n\
             [circuit]\ngenerator = \"sum\"\nbits = {bits}\ncount = 3\nlanes = 8\n\n\
             [compute.garbler]\naddress = \"{g}\"\nfingerprint = \"{}\"\n\n\
             [compute.evaluator]\naddress = \"{e}\"\nfingerprint = \"{}\"\n",
            fp("g"),
            fp("e")
        );
        for (i, h) in ["h1", "h2", "h3"].iter().enumerate() {
            text.push_str(&format!(
                "\n[[contributor]]\nname = \"{h}\"\nfingerprint = \"{}\"\ngroups = [{}]\n",
                fp(h),
                i + 1
            ));
        }
        let path = self.dir.join(file);
        std::fs::write(&path, edit(text)).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn serve(&self, job: &str, role: &str, listen: Option<&str>) -> Child {
        let identity = self.pem(if role == "garbler" { "g" } else { "e" });
        let mut args = vec!["serve", job, "--as", role, "--identity", &identity];
        if let Some(l) = listen {
            args.extend(["--listen", l]);
        }
        spawn(&args)
    }

    fn contribute(&self, job: &str, who: &str, values: &str) -> Child {
        spawn(&[
            "contribute",
            job,
            "--identity",
            &self.pem(who),
            "--values",
            values,
            "--output-format",
            "dec",
        ])
    }
}

fn addresses() -> (String, String) {
    (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    )
}

fn values(base: u64) -> String {
    (1..=8)
        .map(|k| (base * k).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn totals(bases: &[u64]) -> String {
    (1..=8)
        .map(|k| format!("{}\n", bases.iter().map(|b| b * k).sum::<u64>()))
        .collect()
}

fn wait(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

fn run_job(fixture: &Fixture, security: &str) {
    let (g, e) = addresses();
    let job = fixture.job(security, security, 32, 30, (&g, &e));
    let gs = fixture.serve(&job, "garbler", None);
    let es = fixture.serve(&job, "evaluator", None);
    let h1 = fixture.contribute(&job, "h1", &values(100));
    let h2 = fixture.contribute(&job, "h2", &values(20));
    let h3 = fixture.contribute(&job, "h3", &values(3));
    let (h1, h2, h3) = (wait(h1), wait(h2), wait(h3));
    let (gs, es) = (wait(gs), wait(es));
    for (name, out) in [
        ("h1", &h1),
        ("h2", &h2),
        ("h3", &h3),
        ("g", &gs),
        ("e", &es),
    ] {
        assert!(out.status.success(), "{security}: {name}: {}", stderr(out));
    }
    let expected = totals(&[100, 20, 3]);
    assert_eq!(stdout(&h1), expected, "{security}");
    assert_eq!(stdout(&h2), expected, "{security}");
    // The third hospital and the compute parties print no result.
    assert_eq!(stdout(&h3), "", "{security}");
    assert_eq!(stdout(&gs), "", "{security}");
    assert_eq!(stdout(&es), "", "{security}");
    assert!(stderr(&gs).contains(security), "{}", stderr(&gs));
}

#[test]
fn three_hospitals_sum_eight_counts_for_two_recipients_semi_honest() {
    run_job(&Fixture::new("sh"), "semi-honest");
}

#[test]
fn three_hospitals_sum_eight_counts_for_two_recipients_malicious() {
    run_job(&Fixture::new("mal"), "malicious");
}

#[test]
fn compute_parties_can_be_the_recipients() {
    let fixture = Fixture::new("compute");
    let (g, e) = addresses();
    let job = fixture.job_with("c.toml", "semi-honest", 32, 30, (&g, &e), |t| {
        t.replace("recipients = [\"h1\", \"h2\"]", "recipients = \"compute\"")
    });
    let gs = fixture.serve(&job, "garbler", None);
    let es = fixture.serve(&job, "evaluator", None);
    let hs: Vec<Child> = [("h1", 1), ("h2", 2), ("h3", 4)]
        .iter()
        .map(|(h, b)| fixture.contribute(&job, h, &values(*b)))
        .collect();
    for h in hs {
        let out = wait(h);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), "");
    }
    let expected: String = (1..=8u64).map(|k| format!("{:#010x}\n", 7 * k)).collect();
    for s in [gs, es] {
        let out = wait(s);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), expected);
    }
}

/// One buffer per direction of every relayed connection.
type Captures = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP relay that records both directions of every connection it carries.
struct Relay {
    port: u16,
    streams: Captures,
}

/// Binds a relay now; it forwards to the address `target` receives later (so that the target's
/// port is chosen after the relay's and cannot be the relay's own).
fn relay(target: std::sync::mpsc::Receiver<String>) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let streams: Captures = Arc::default();
    let all = streams.clone();
    std::thread::spawn(move || {
        let target = target.recv().unwrap();
        assert_ne!(target, format!("127.0.0.1:{port}"), "a relay to itself");
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let capture: Arc<Mutex<Vec<u8>>> = Arc::default();
                all.lock().unwrap().push(capture.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1 << 16];
                    loop {
                        match from.read(&mut buf) {
                            Ok(0) | Err(_) => {
                                let _ = to.shutdown(std::net::Shutdown::Write);
                                return;
                            }
                            Ok(n) => {
                                capture.lock().unwrap().extend_from_slice(&buf[..n]);
                                if to.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        }
    });
    Relay { port, streams }
}

/// Whether `bytes` is a sequence of whole TLS records (RFC 8446 §5.1: content type 20 to 23,
/// legacy version 3.1 or 3.3, a length of at most 2^14 + 256).
fn only_tls_records(bytes: &[u8]) -> Result<usize, String> {
    let mut at = 0;
    let mut records = 0;
    while at < bytes.len() {
        if at + 5 > bytes.len() {
            return Err(format!("a cut record header at byte {at}"));
        }
        let (kind, major, minor) = (bytes[at], bytes[at + 1], bytes[at + 2]);
        let len = u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]) as usize;
        if !(20..=23).contains(&kind)
            || major != 3
            || !(minor == 1 || minor == 3)
            || len > (1 << 14) + 256
        {
            return Err(format!(
                "no TLS record header at byte {at}: {:02x?}",
                &bytes[at..at + 5]
            ));
        }
        at += 5 + len;
        records += 1;
    }
    if at != bytes.len() {
        return Err("the last record is cut short".into());
    }
    Ok(records)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The planted value's forms: its little- and big-endian bytes and its decimal and hex text.
fn planted_forms() -> Vec<Vec<u8>> {
    vec![
        PLANTED.to_le_bytes().to_vec(),
        PLANTED.to_be_bytes().to_vec(),
        PLANTED.to_string().into_bytes(),
        format!("{PLANTED:x}").into_bytes(),
    ]
}

#[test]
fn a_relay_sees_only_tls_records_on_every_connection() {
    let fixture = Fixture::new("relay");
    let ((g_tx, g_rx), (e_tx, e_rx)) = (std::sync::mpsc::channel(), std::sync::mpsc::channel());
    let (rg, re) = (relay(g_rx), relay(e_rx));
    let (g_real, e_real) = addresses();
    g_tx.send(g_real.clone()).unwrap();
    e_tx.send(e_real.clone()).unwrap();
    let (g, e) = (
        format!("127.0.0.1:{}", rg.port),
        format!("127.0.0.1:{}", re.port),
    );
    let job = fixture.job("relay.toml", "semi-honest", 64, 30, (&g, &e));
    let gs = fixture.serve(&job, "garbler", Some(&g_real));
    let es = fixture.serve(&job, "evaluator", Some(&e_real));
    let planted = format!("{PLANTED},1,2,3,4,5,6,7");
    let h1 = fixture.contribute(&job, "h1", &planted);
    let h2 = fixture.contribute(&job, "h2", &values(2));
    let h3 = fixture.contribute(&job, "h3", &values(3));
    for child in [h1, h2, h3, gs, es] {
        let out = wait(child);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // Three contributors to each compute party, and the evaluator's session with the garbler:
    // 7 connections, 14 directions.
    let mut directions = 0;
    for relay in [&rg, &re] {
        for capture in relay.streams.lock().unwrap().iter() {
            let bytes = capture.lock().unwrap();
            if bytes.is_empty() {
                continue;
            }
            let records = only_tls_records(&bytes).unwrap_or_else(|e| panic!("{e}"));
            assert!(records >= 2);
            for form in planted_forms() {
                assert!(
                    !contains(&bytes, &form),
                    "the planted value crossed the wire"
                );
            }
            directions += 1;
        }
    }
    assert_eq!(directions, 14);
}

/// Every readable and writable mapping of a process (heap, stacks, anonymous memory).
fn memory_of(pid: u32) -> Vec<u8> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !perms.starts_with("rw") {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        use std::io::Seek;
        if mem.seek(std::io::SeekFrom::Start(a)).is_err() {
            continue;
        }
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.read_exact(&mut buf).is_ok() {
            out.extend_from_slice(&buf);
        }
    }
    out
}

/// Reads a child's stderr lines on a thread, so the test can wait for a line.
fn watch(child: &mut Child) -> Arc<Mutex<String>> {
    let log: Arc<Mutex<String>> = Arc::default();
    let mut err = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                return;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    log
}

fn wait_for(log: &Arc<Mutex<String>>, needle: &str, within: Duration) {
    let start = Instant::now();
    while !log.lock().unwrap().contains(needle) {
        assert!(
            start.elapsed() < within,
            "never logged {needle:?}: {}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn compute_parties_hold_no_contribution_and_a_missing_contributor_stops_the_job_by_name() {
    let fixture = Fixture::new("hygiene");
    let (g, e) = addresses();
    let job = fixture.job("hygiene.toml", "semi-honest", 64, 6, (&g, &e));
    let mut gs = fixture.serve(&job, "garbler", None);
    let mut es = fixture.serve(&job, "evaluator", None);
    let (g_log, e_log) = (watch(&mut gs), watch(&mut es));
    let planted = format!("{PLANTED},{PLANTED},1,2,3,4,5,6");
    let h1 = fixture.contribute(&job, "h1", &planted);
    let h2 = fixture.contribute(&job, "h2", &values(2));
    for log in [&g_log, &e_log] {
        wait_for(log, "received the share set of h1", Duration::from_secs(10));
        wait_for(log, "received the share set of h2", Duration::from_secs(10));
    }
    // h3 never comes. While the compute parties wait, holding the shares: no form of the
    // planted value in their memory, though the job's name (which they do hold) is there.
    for child in [&gs, &es] {
        let memory = memory_of(child.id());
        assert!(
            contains(&memory, b"hospitals-hygiene.toml"),
            "the scan read no heap"
        );
        for form in planted_forms() {
            assert!(
                !contains(&memory, &form),
                "a compute party holds the planted value"
            );
        }
    }
    let started = Instant::now();
    let (h1, h2) = (wait(h1), wait(h2));
    let (g_out, e_out) = (
        gs.wait_with_output().unwrap(),
        es.wait_with_output().unwrap(),
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    for (out, log) in [(&g_out, &g_log), (&e_out, &e_log)] {
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stdout(out), "", "no result is released");
        let log = log.lock().unwrap();
        assert!(log.contains("no share from h3"), "{log}");
        for form in planted_forms() {
            assert!(!contains(log.as_bytes(), &form) && !contains(&out.stdout, &form));
        }
    }
    for h in [&h1, &h2] {
        assert_eq!(h.status.code(), Some(1));
        assert_eq!(stdout(h), "");
        assert!(stderr(h).contains("no share from h3"), "{}", stderr(h));
    }
}

#[test]
fn duplicates_strangers_and_wrong_widths_are_refused_by_name_and_the_job_goes_on() {
    let fixture = Fixture::new("refusals");
    let (g, e) = addresses();
    let job = fixture.job("refusals.toml", "semi-honest", 32, 30, (&g, &e));
    // A variant of the job file under the same job name.
    let variant = |file: &str, edit: &dyn Fn(String) -> String| -> String {
        let path = fixture.job_with(file, "semi-honest", 32, 30, (&g, &e), edit);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(&format!("hospitals-{file}"), "hospitals-refusals.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let mut gs = fixture.serve(&job, "garbler", None);
    let mut es = fixture.serve(&job, "evaluator", None);
    let (g_log, e_log) = (watch(&mut gs), watch(&mut es));
    // A stranger with the real job file is stopped before sending anything.
    let out = wait(fixture.contribute(&job, "stranger", &values(9)));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a contributor of job"),
        "{}",
        stderr(&out)
    );
    // A stranger with a doctored job file (its key in h3's place) is refused by the TLS check.
    let stranger_fp = fixture.fps["stranger"].clone();
    let h3_fp = fixture.fps["h3"].clone();
    let fake = variant("fake.toml", &|t: String| t.replace(&h3_fp, &stranger_fp));
    let out = wait(fixture.contribute(&fake, "stranger", &values(9)));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("refused our key"), "{}", stderr(&out));
    // Wrong widths: a job file with 64-bit values makes h1 send twice the bits.
    let wide = variant("wide.toml", &|t: String| {
        t.replace("bits = 32", "bits = 64")
    });
    let out = wait(fixture.contribute(&wide, "h1", &values(1)));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("contributor h1: peer misbehaved: 512 bits where the job expects 256"),
        "{}",
        stderr(&out)
    );
    // The real h1; then h1 again, refused as a duplicate; then h2 and h3.
    let h1 = fixture.contribute(&job, "h1", &values(100));
    for log in [&g_log, &e_log] {
        wait_for(log, "received the share set of h1", Duration::from_secs(10));
    }
    let again = wait(fixture.contribute(&job, "h1", &values(5)));
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("duplicate refused"),
        "{}",
        stderr(&again)
    );
    let h2 = fixture.contribute(&job, "h2", &values(20));
    let h3 = fixture.contribute(&job, "h3", &values(3));
    let (h1, h2, h3) = (wait(h1), wait(h2), wait(h3));
    // The first share set of h1 counted.
    let expected = totals(&[100, 20, 3]);
    for h in [&h1, &h2] {
        assert!(h.status.success(), "{}", stderr(h));
        assert_eq!(stdout(h), expected);
    }
    assert!(h3.status.success(), "{}", stderr(&h3));
    let (gs, es) = (
        gs.wait_with_output().unwrap(),
        es.wait_with_output().unwrap(),
    );
    assert!(gs.status.success() && es.status.success());
    // Each refusal is logged by the compute party that made it (a refused contributor stops its
    // other connection at once, so the other compute party may never see it).
    let log = format!("{}{}", g_log.lock().unwrap(), e_log.lock().unwrap());
    assert!(
        log.contains(&stranger_fp),
        "the stranger was not logged: {log}"
    );
    assert!(
        log.contains("duplicate refused") && log.contains("512 bits"),
        "{log}"
    );
}

#[test]
fn a_compute_party_that_dies_makes_every_waiting_contributor_fail_clearly() {
    let fixture = Fixture::new("killed");
    let (g, e) = addresses();
    let job = fixture.job("killed.toml", "semi-honest", 32, 20, (&g, &e));
    let mut gs = fixture.serve(&job, "garbler", None);
    let es = fixture.serve(&job, "evaluator", None);
    let g_log = watch(&mut gs);
    let h1 = fixture.contribute(&job, "h1", &values(1));
    let h2 = fixture.contribute(&job, "h2", &values(2));
    wait_for(
        &g_log,
        "received the share set of h2",
        Duration::from_secs(10),
    );
    wait_for(
        &g_log,
        "received the share set of h1",
        Duration::from_secs(10),
    );
    gs.kill().unwrap();
    let _ = gs.wait();
    let started = Instant::now();
    for h in [h1, h2] {
        let out = wait(h);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stdout(&out), "");
        assert!(
            stderr(&out).contains("garbler compute party"),
            "{}",
            stderr(&out)
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut es = es;
    let _ = es.kill();
    let _ = es.wait();
}

#[test]
fn job_check_prints_the_summary_and_names_problems_with_line_and_column() {
    let fixture = Fixture::new("check");
    let job = fixture.job(
        "check.toml",
        "malicious",
        32,
        30,
        ("10.0.0.1:7100", "10.0.0.2:7100"),
    );
    let out = garbled(&["job", "check", &job]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "hospitals-check.toml",
        "malicious",
        "h1",
        "h2",
        "h3",
        "AND",
        "10.0.0.2:7100",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert!(text.contains(&fixture.fps["h3"]));
    // The example of five hospitals and 8 conditions is a valid job file.
    let example = format!(
        "{}/examples/five-hospitals.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = garbled(&["job", "check", &example]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("sum of 5 32-bit values, 8 lanes"),
        "{}",
        stdout(&out)
    );
    let bad = fixture.job_with("bad.toml", "semi-honest", 32, 30, ("a:1", "b:2"), |t| {
        t.replace("groups = [3]", "groups = [2]")
    });
    let out = garbled(&["job", "check", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{bad}:")) && err.contains("fed twice"),
        "{err}"
    );
    let line_col = Path::new(&bad).display().to_string() + ":";
    let rest = &err[err.find(&line_col).unwrap() + line_col.len()..];
    let mut numbers = rest.split(':').take(2).map(|n| n.parse::<u32>());
    assert!(
        matches!((numbers.next(), numbers.next()), (Some(Ok(_)), Some(Ok(_)))),
        "{err}"
    );
}
