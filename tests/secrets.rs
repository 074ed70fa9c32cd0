//! Secrets are wiped, not just freed: a global allocator in this test binary copies every block
//! of memory as it is freed into a graveyard, and the tests search the graveyard for Delta (its
//! 16 bytes and its bit vector) after a whole session, and for a generator's key after drop. A
//! first test plants an unwiped secret to show the search finds what is there.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use garbled::aes::{Aes, Backend, Prg};
use garbled::circuit::library;
use garbled::compile::compile;
use garbled::net::memory::pair;
use garbled::protocol::{EvaluatorSession, GarblerSession, Party, Reveal, SessionOptions};

const CAPACITY: usize = 512 << 20;

struct Graveyard {
    bytes: UnsafeCell<[u8; CAPACITY]>,
}

// SAFETY: writers reserve disjoint ranges through `CURSOR`; readers read only after recording
// stopped, under `SERIAL`.
unsafe impl Sync for Graveyard {}

static GRAVE: Graveyard = Graveyard {
    bytes: UnsafeCell::new([0; CAPACITY]),
};
static CURSOR: AtomicUsize = AtomicUsize::new(0);
static RECORDING: AtomicBool = AtomicBool::new(false);
static OVERFLOW: AtomicBool = AtomicBool::new(false);
/// The tests share the graveyard: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Recorder;

// SAFETY: every call is forwarded to the system allocator; `dealloc` only reads the block it is
// about to free (which the caller owns) and writes into a reserved range of the graveyard.
unsafe impl GlobalAlloc for Recorder {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if RECORDING.load(Ordering::SeqCst) {
            let n = layout.size();
            let at = CURSOR.fetch_add(n, Ordering::SeqCst);
            if at + n <= CAPACITY {
                // SAFETY: [at, at+n) was reserved for us alone; `ptr` holds n readable bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(ptr, (GRAVE.bytes.get() as *mut u8).add(at), n)
                };
            } else {
                OVERFLOW.store(true, Ordering::SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Recorder = Recorder;

fn start_recording() {
    CURSOR.store(0, Ordering::SeqCst);
    OVERFLOW.store(false, Ordering::SeqCst);
    RECORDING.store(true, Ordering::SeqCst);
}

/// Stops recording and returns how many bytes were freed, and whether `needle` occurs in them.
fn stop_and_search(needles: &[&[u8]]) -> (usize, Vec<bool>) {
    RECORDING.store(false, Ordering::SeqCst);
    assert!(!OVERFLOW.load(Ordering::SeqCst), "the graveyard overflowed");
    let len = CURSOR.load(Ordering::SeqCst).min(CAPACITY);
    // SAFETY: recording stopped; nobody writes the graveyard any more, and [0, len) was written.
    let grave = unsafe { std::slice::from_raw_parts(GRAVE.bytes.get() as *const u8, len) };
    let found = needles
        .iter()
        .map(|needle| {
            let at = grave.windows(needle.len()).position(|w| w == *needle);
            if let Some(at) = at {
                eprintln!("found at byte {at} of the {len} freed bytes");
            }
            at.is_some()
        })
        .collect();
    (len, found)
}

#[test]
fn the_search_finds_an_unwiped_secret() {
    let _serial = SERIAL.lock().unwrap();
    let marker: [u8; 16] = *b"unwiped-secret-1";
    start_recording();
    let planted = Box::new(marker);
    std::hint::black_box(&planted);
    drop(planted);
    let (_, found) = stop_and_search(&[&marker]);
    assert!(found[0], "the graveyard does not see freed memory");
}

#[test]
fn no_copy_of_delta_survives_a_session() {
    let _serial = SERIAL.lock().unwrap();
    let program = compile(&library::generate("compare", 32, 2).unwrap()).unwrap();
    let options = SessionOptions::new(
        &program,
        vec![Party::Garbler, Party::Evaluator],
        vec![Reveal::Both; 2],
    )
    .unwrap();
    start_recording();
    let (delta_bytes, delta_bits) = std::thread::scope(|s| {
        let (g, e) = pair(Duration::from_secs(10));
        let (p, eo) = (&program, options.clone().with_runs(3));
        let evaluator = s.spawn(move || {
            let mut session = EvaluatorSession::start(e, p, eo).unwrap();
            for _ in 0..3 {
                session.run(&[vec![true; 32]]).unwrap();
            }
            session.finish().unwrap();
        });
        let mut session = GarblerSession::start(g, &program, options.clone().with_runs(3)).unwrap();
        // The test's own copies live on this stack, not on the heap.
        let block = session.delta().block();
        let bytes = block.to_bytes();
        let mut bits = [0u8; 128];
        for (i, b) in bits.iter_mut().enumerate() {
            *b = (block.value() >> i & 1) as u8;
        }
        for _ in 0..3 {
            session.run(&[vec![false; 32]]).unwrap();
        }
        session.finish().unwrap();
        evaluator.join().unwrap();
        (bytes, bits)
    });
    let (freed, found) = stop_and_search(&[&delta_bytes, &delta_bits]);
    // A session frees megabytes (tables, OT messages, buffers): the search had material.
    assert!(freed > 1 << 20, "only {freed} bytes were freed");
    assert!(!found[0], "Delta's bytes were found in freed memory");
    assert!(!found[1], "Delta's bit vector was found in freed memory");
}

#[test]
fn a_generators_key_schedule_is_gone_after_drop() {
    let _serial = SERIAL.lock().unwrap();
    let key = *b"generator-key-01";
    for backend in Backend::ALL.into_iter().filter(|b| b.supported()) {
        start_recording();
        let aes = Box::new(Aes::with_backend(key, backend).unwrap());
        std::hint::black_box(aes.encrypt_block(garbled::block::Block::new(1)));
        drop(aes);
        let mut prg = Box::new(Prg::from_seed(key));
        std::hint::black_box(prg.block());
        drop(prg);
        let (freed, found) = stop_and_search(&[&key]);
        assert!(freed >= 2 * 16 * 11, "{backend}: {freed} bytes freed");
        assert!(!found[0], "{backend}: the key was found in freed memory");
    }
}

#[test]
fn an_identitys_private_key_is_wiped_after_load_and_drop() {
    use garbled::net::tls::Identity;
    let _serial = SERIAL.lock().unwrap();
    let dir = std::env::temp_dir().join(format!("garbled-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("identity.pem");
    // The private scalar of the P-256 key: the 32 bytes after `02 01 01 04 20` in its PKCS#8
    // DER (RFC 5915's ECPrivateKey inside), copied onto this stack.
    let mut scalar = [0u8; 32];
    {
        let identity = Identity::generate().unwrap();
        let pem = identity.to_pem();
        std::fs::write(&path, pem.as_bytes()).unwrap();
        let body: String = pem
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        let der = decode_base64(&body);
        let at = der
            .windows(5)
            .position(|w| w == [2, 1, 1, 4, 32])
            .expect("an ECPrivateKey in the PKCS#8 key")
            + 5;
        scalar.copy_from_slice(&der[at..at + 32]);
        zeroize::Zeroize::zeroize(&mut body.into_bytes());
        let mut der = der;
        zeroize::Zeroize::zeroize(&mut der);
    }
    start_recording();
    let loaded = Identity::load(&path).unwrap();
    let copy = loaded.clone();
    let written = copy.to_pem();
    std::hint::black_box(&written);
    drop(written);
    drop(copy);
    drop(loaded);
    let (freed, found) = stop_and_search(&[&scalar]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(freed > 1000, "only {freed} bytes were freed");
    assert!(!found[0], "the private key was found in freed memory");
}

/// Standard base64 (the test's own decoder, so that no library copy of the key is left behind
/// unwiped); `zeroize`s nothing itself.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let mut out = Vec::with_capacity(text.len());
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    for chunk in bytes.chunks(4) {
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, &c)| a | u32::from(value(c)) << (18 - 6 * i));
        for k in 0..chunk.len().saturating_sub(1) {
            out.push((v >> (16 - 8 * k)) as u8);
        }
    }
    out
}

/// Sends a label and a packed vector of decoding bits from `a` to `b` among other traffic,
/// reads them into this stack, drops both ends, and says whether either was found freed.
fn channel_leaves_no_copy<C: garbled::net::Channel>(
    a: C,
    b: C,
    label: [u8; 16],
    bits: [u8; 16],
) -> (usize, Vec<bool>) {
    start_recording();
    let (mut a, mut b) = (a, b);
    let filler = vec![7u8; 3000];
    a.write_all(&filler).unwrap();
    a.write_all(&label).unwrap();
    a.write_all(&filler).unwrap();
    a.write_all(&bits).unwrap();
    a.flush().unwrap();
    let mut got = [0u8; 3000 + 16 + 3000 + 16];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got[3000..3016], label);
    drop(a);
    drop(b);
    let result = stop_and_search(&[&label, &bits]);
    zeroize::Zeroize::zeroize(&mut got);
    result
}

#[test]
fn channel_buffers_keep_no_label_or_decoding_bits_after_drop() {
    use garbled::net::tcp::{TcpChannel, Timeouts};
    let _serial = SERIAL.lock().unwrap();
    let mut label = [0u8; 16];
    let mut bits = [0u8; 16];
    let mut prg = Prg::from_os().unwrap();
    prg.fill_bytes(&mut label);
    prg.fill_bytes(&mut bits);
    // In memory.
    let (a, b) = pair(Duration::from_secs(5));
    let (freed, found) = channel_leaves_no_copy(a, b, label, bits);
    assert!(freed > 6000, "memory: only {freed} bytes were freed");
    assert_eq!(found, [false, false], "memory: label, decoding bits found");
    // Over TCP (the same buffers as TLS's stream channel).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let t = Timeouts::idle(Duration::from_secs(5));
    let client =
        std::thread::spawn(move || TcpChannel::connect(&addr, Duration::from_secs(5), t).unwrap());
    let server = TcpChannel::accept(&listener, Duration::from_secs(5), t).unwrap();
    let client = client.join().unwrap();
    let (freed, found) = channel_leaves_no_copy(server, client, label, bits);
    assert!(freed > 6000, "tcp: only {freed} bytes were freed");
    assert_eq!(found, [false, false], "tcp: label, decoding bits found");
}
