//! Reaching the peer: binding a listening address (`HOST:PORT`, `:PORT`, `[IPv6]:PORT`),
//! connecting with retries to every address a name resolves to, and a listener that admits the
//! first connection that passes a check while it logs and drops the others.
//!
//! The listener blocks in `accept` on a thread of its own and hands each connection to a check
//! (for TLS: the handshake with the pinned key) on a thread per connection, so a connection is
//! picked up as soon as the kernel has it (no polling sleeps) and a silent stray connection
//! cannot hold up the real peer behind it.
//!
//! Nobody who has not authenticated can lock the pinned peer out:
//! - every check has an absolute deadline, [`CHECK_DEADLINE`], that does not depend on the
//!   session's `--timeout`: a connection still in its check then is shut down, however slowly it
//!   trickles bytes;
//! - at most [`MAX_PER_SOURCE`] checks run for one source address, and at most [`MAX_PENDING`]
//!   in all (so the listener's threads and memory stay bounded);
//! - a newcomer over either cap is not turned away: the oldest check of its source (or, for the
//!   pool, the oldest of all) is dropped to make room, so the pinned peer always gets its turn
//!   within one deadline of arriving, and a connecting party whose check was dropped before the
//!   TLS handshake began is told that the listener was busy (`net::tls`), not that its key was
//!   wrong.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Connections whose check may run at the same time; a newcomer beyond this takes the place of
/// the oldest.
pub const MAX_PENDING: usize = 16;
/// Checks that may run at the same time for one source address (IP, any port).
pub const MAX_PER_SOURCE: usize = 4;
/// Most checks [`Acceptor::expecting`] adds to the caps.
pub const MAX_EXTRA_CHECKS: usize = 64;
/// How long a connection may spend in its check (the TLS handshake with the pinned key) before
/// it is shut down, whatever the session's timeout.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(5);

/// Resolves a listening address: `:PORT` means every interface (IPv6 and IPv4 where the system
/// allows both on one socket, else IPv4).
fn listen_candidates(addr: &str) -> Result<Vec<SocketAddr>> {
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| {
            Error::arg(format!(
                "cannot listen on '{addr}': the port must be a number from 0 to 65535"
            ))
        })?;
        return Ok(vec![
            SocketAddr::from(([0u8; 16], port)),
            SocketAddr::from(([0u8; 4], port)),
        ]);
    }
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| {
            Error::arg(format!(
                "cannot listen on '{addr}': {e} (expected HOST:PORT, :PORT or [IPv6]:PORT)"
            ))
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::arg(format!(
            "cannot listen on '{addr}': the name resolves to no address"
        )));
    }
    Ok(addrs)
}

/// Binds a listening socket on `addr` (`HOST:PORT`, `:PORT` for all interfaces, `[IPv6]:PORT`).
pub fn bind(addr: &str) -> Result<TcpListener> {
    let mut last = None;
    for candidate in listen_candidates(addr)? {
        match TcpListener::bind(candidate) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::arg(format!(
        "cannot listen on '{addr}': {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// Connects to `addr`, trying every address it resolves to and retrying until one accepts or
/// `wait` has passed, so the two parties can be started in either order.
pub fn connect(addr: &str, wait: Duration) -> Result<TcpStream> {
    let start = Instant::now();
    let mut last_error = None;
    loop {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| {
                Error::arg(format!(
                    "cannot resolve address '{addr}': {e} (expected HOST:PORT or [IPv6]:PORT)"
                ))
            })?
            .collect();
        for a in &addrs {
            let remaining = wait
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(10));
            match TcpStream::connect_timeout(a, remaining) {
                Ok(stream) => return Ok(stream),
                Err(e) => last_error = Some(e),
            }
        }
        if start.elapsed() >= wait {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(Error::Timeout(format!(
        "could not connect to {addr} within {:.1} s{}",
        wait.as_secs_f64(),
        last_error
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default()
    )))
}

/// What the accepting thread hands over: a connection, or a nudge from a finished check.
enum Item {
    Connection(TcpStream, SocketAddr),
    CheckDone,
}

/// A listening socket with a thread blocked in `accept` for its whole life: connections are
/// picked up as soon as the kernel has them, and several [`accept_first`] calls in a row (one per
/// shard of a batch job) share the one thread, so none of them can take another's connection.
pub struct Acceptor {
    items: Mutex<mpsc::Receiver<Item>>,
    nudge: mpsc::Sender<Item>,
    stop: Arc<AtomicBool>,
    /// Set by [`Acceptor::cancel`]: the wait in progress ends with an error.
    cancelled: AtomicBool,
    local: SocketAddr,
    /// Checks one source address may run at once ([`MAX_PER_SOURCE`] unless widened).
    per_source: usize,
    /// Checks that may run at once ([`MAX_PENDING`] unless widened).
    most: usize,
}

impl Acceptor {
    /// Starts accepting on `listener`.
    pub fn new(listener: &TcpListener) -> Result<Self> {
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listening address", e))?;
        listener
            .set_nonblocking(false)
            .map_err(|e| Error::io("configuring the listener", e))?;
        let listener = listener
            .try_clone()
            .map_err(|e| Error::io("configuring the listener", e))?;
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (tx, stop) = (tx.clone(), stop.clone());
            // Not joined: it ends at the wake-up connection of `drop`, or at its next
            // connection once it sees `stop`.
            std::thread::spawn(move || {
                loop {
                    match listener.accept() {
                        Ok((stream, addr)) => {
                            if stop.load(Ordering::SeqCst)
                                || tx.send(Item::Connection(stream, addr)).is_err()
                            {
                                return;
                            }
                        }
                        Err(_) if stop.load(Ordering::SeqCst) => return,
                        // EMFILE and the like: back off a little rather than spin.
                        Err(_) => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
            });
        }
        Ok(Acceptor {
            items: Mutex::new(rx),
            nudge: tx,
            stop,
            cancelled: AtomicBool::new(false),
            local,
            per_source: MAX_PER_SOURCE,
            most: MAX_PENDING,
        })
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Widens the caps on checks running at once for a listener that expects `parties`
    /// legitimate connections, possibly all from one address (a job's contributors behind one
    /// NAT, or on one machine): the usual caps plus `parties`, at most [`MAX_EXTRA_CHECKS`]
    /// more (each check is a thread; a party that finds the listener busy asks again).
    pub fn expecting(mut self, parties: usize) -> Self {
        let extra = parties.min(MAX_EXTRA_CHECKS);
        self.per_source = MAX_PER_SOURCE + extra;
        self.most = MAX_PENDING + extra;
        self
    }

    /// Ends the wait in progress (from another thread) with [`Error::Interrupted`]: the
    /// connections still in their check are shut. The next wait starts afresh.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        let _ = self.nudge.send(Item::CheckDone);
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        wake(self.local);
    }
}

/// Waits up to `wait` for a connection on `listener` that `admit` accepts (see
/// [`accept_first_on`]); for one connection per listener.
pub fn accept_first<T: Send + 'static>(
    listener: &TcpListener,
    wait: Duration,
    admit: impl Fn(TcpStream, SocketAddr) -> Result<T> + Sync,
    log: impl Fn(&str),
) -> Result<T> {
    let acceptor = Acceptor::new(listener)?;
    accept_first_on(&acceptor, wait, admit, log)
}

/// Waits up to `wait` for a connection that `admit` accepts, and returns what `admit` made of
/// it. Each connection is checked on its own thread; one that `admit` refuses is reported to
/// `log` (with its address and the reason) and dropped, and the wait goes on. When the wait
/// ends, the connections still being checked are shut down.
pub fn accept_first_on<T: Send + 'static>(
    acceptor: &Acceptor,
    wait: Duration,
    admit: impl Fn(TcpStream, SocketAddr) -> Result<T> + Sync,
    log: impl Fn(&str),
) -> Result<T> {
    let mut all = accept_on(acceptor, 1, wait, admit, log)?;
    all.pop()
        .ok_or_else(|| Error::SelfCheck("no connection was accepted".into()))
}

/// [`accept_first_on`] for `count` connections (the further connections of a batch job, which
/// may arrive together): returns them in the order their checks succeeded.
pub fn accept_on<T: Send + 'static>(
    acceptor: &Acceptor,
    count: usize,
    wait: Duration,
    admit: impl Fn(TcpStream, SocketAddr) -> Result<T> + Sync,
    log: impl Fn(&str),
) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return Ok(out);
    }
    accept_each(acceptor, count, wait, admit, log, |value| {
        out.push(value);
        Ok(out.len() == count)
    })?;
    Ok(out)
}

/// Hands every connection `admit` accepts to `take`, as its check succeeds, until `take` says it
/// has all it needs (`Ok(true)`) or the wait ends (a timeout error that counts the connections
/// taken against `count`, the number expected). Connections keep being checked side by side
/// while `take` works with the earlier ones: a job's listener, where many parties connect at
/// once, takes them all through one wait.
pub fn accept_each<T: Send + 'static>(
    acceptor: &Acceptor,
    count: usize,
    wait: Duration,
    admit: impl Fn(TcpStream, SocketAddr) -> Result<T> + Sync,
    log: impl Fn(&str),
    mut take: impl FnMut(T) -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    let local = acceptor.local;
    let items = acceptor
        .items
        .lock()
        .map_err(|_| Error::SelfCheck("the listener's lock is poisoned".into()))?;
    // Whoever holds the lock now is the wait `cancel` means; a cancel before it is stale.
    acceptor.cancelled.store(false, Ordering::SeqCst);
    let (checked_tx, checked_rx) = mpsc::channel::<(Result<T>, u64)>();
    let admit = &admit;
    let outcome = std::thread::scope(|scope| {
        let mut pending = Pending::with_room(acceptor.per_source, acceptor.most);
        let mut accepted = 0usize;
        let mut refused = 0usize;
        let mut last_refusal = String::new();
        // Whether the last refusal was a key that is not the pinned one (or a failed TLS
        // handshake): a wait that then ends empty is an authentication failure, not a timeout.
        let mut last_was_authentication = false;
        let outcome = 'wait: loop {
            if acceptor.cancelled.swap(false, Ordering::SeqCst) {
                break Err(Error::Interrupted(format!(
                    "the wait for the peer on {local} was interrupted"
                )));
            }
            // Results of finished checks first.
            while let Ok((result, id)) = checked_rx.try_recv() {
                // A check we already dropped (deadline or room for a newcomer) was logged then;
                // even a late success is of no use, its socket is shut.
                let Some(addr) = pending.finish(id) else {
                    continue;
                };
                match result {
                    Ok(value) => {
                        accepted += 1;
                        match take(value) {
                            Ok(true) => break 'wait Ok(()),
                            Ok(false) => {}
                            Err(e) => break 'wait Err(e),
                        }
                    }
                    Err(e) => {
                        refused += 1;
                        last_refusal = e.to_string();
                        last_was_authentication = matches!(e, Error::Authentication(_));
                        log(&format!("dropped a connection from {addr}: {last_refusal}"));
                    }
                }
            }
            // Checks past their deadline end now.
            for addr in pending.expire(Instant::now()) {
                refused += 1;
                last_refusal = format!(
                    "it did not complete its check within {} s",
                    CHECK_DEADLINE.as_secs()
                );
                last_was_authentication = false;
                log(&format!("dropped a connection from {addr}: {last_refusal}"));
            }
            let Some(remaining) = wait.checked_sub(start.elapsed()) else {
                let e = timeout_error(local, wait, refused, &last_refusal, accepted, count);
                break Err(match e {
                    Error::Timeout(message) if last_was_authentication => {
                        Error::Authentication(message)
                    }
                    e => e,
                });
            };
            let next_deadline = pending
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(remaining);
            match items.recv_timeout(remaining.min(next_deadline)) {
                Ok(Item::Connection(stream, addr)) => {
                    let Ok(clone) = stream.try_clone() else {
                        log(&format!(
                            "dropped a connection from {addr}: its socket cannot be shared"
                        ));
                        continue;
                    };
                    if let Some((old, why)) = pending.make_room(addr) {
                        log(&format!("dropped a connection from {old}: {why}"));
                    }
                    let id = pending.add(addr, clone);
                    let (tx, nudge) = (checked_tx.clone(), acceptor.nudge.clone());
                    scope.spawn(move || {
                        let _ = tx.send((admit(stream, addr), id));
                        let _ = nudge.send(Item::CheckDone);
                    });
                }
                // A check finished (perhaps of an earlier call): look at the results above.
                Ok(Item::CheckDone) => {}
                // A deadline came: the top of the loop deals with it (and with the wait's end).
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(Error::SelfCheck(
                        "the listener's accept thread ended".into(),
                    ));
                }
            }
        };
        // Connections still in their check end now, so that the scope's threads finish.
        pending.shut_all();
        outcome
    });
    // Checks that ended after the wait did (a refusal racing the accepted connection, or a
    // connection cut short above) are still reported: every refusal leaves a line.
    drop(checked_tx);
    while let Ok((result, _)) = checked_rx.try_recv() {
        if let Err(e) = result {
            log(&format!("dropped a connection: {e}"));
        }
    }
    outcome
}

/// The connections in their check: oldest first.
struct Pending {
    next_id: u64,
    checks: std::collections::VecDeque<Check>,
    /// Checks one source address may run at once.
    per_source: usize,
    /// Checks that may run at once in all.
    most: usize,
}

impl Default for Pending {
    fn default() -> Self {
        Pending::with_room(MAX_PER_SOURCE, MAX_PENDING)
    }
}

struct Check {
    id: u64,
    addr: SocketAddr,
    started: Instant,
    stream: TcpStream,
}

impl Pending {
    fn add(&mut self, addr: SocketAddr, stream: TcpStream) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.checks.push_back(Check {
            id,
            addr,
            started: Instant::now(),
            stream,
        });
        id
    }

    fn with_room(per_source: usize, most: usize) -> Self {
        Pending {
            next_id: 0,
            checks: std::collections::VecDeque::new(),
            per_source,
            most,
        }
    }

    /// A check ended by itself: its address, or `None` if it had been dropped already.
    fn finish(&mut self, id: u64) -> Option<SocketAddr> {
        let at = self.checks.iter().position(|c| c.id == id)?;
        self.checks.remove(at).map(|c| c.addr)
    }

    /// Before `addr`'s connection joins: drops the oldest check of its source when that source
    /// has [`MAX_PER_SOURCE`], else the oldest of all when the pool holds [`MAX_PENDING`].
    fn make_room(&mut self, addr: SocketAddr) -> Option<(SocketAddr, String)> {
        let same = |c: &Check| c.addr.ip() == addr.ip();
        let at = if self.checks.iter().filter(|c| same(c)).count() >= self.per_source {
            let why = format!(
                "{} connections from {} were already in their check; the oldest made room for a newer one",
                self.per_source,
                addr.ip()
            );
            (self.checks.iter().position(same)?, why)
        } else if self.checks.len() >= self.most {
            let why = format!(
                "{} connections were already in their check; the oldest made room for a newer one",
                self.most
            );
            (0, why)
        } else {
            return None;
        };
        let check = self.checks.remove(at.0)?;
        let _ = check.stream.shutdown(std::net::Shutdown::Both);
        Some((check.addr, at.1))
    }

    /// Shuts down the checks past [`CHECK_DEADLINE`] and returns their addresses.
    fn expire(&mut self, now: Instant) -> Vec<SocketAddr> {
        let mut gone = Vec::new();
        while let Some(first) = self.checks.front() {
            if now.duration_since(first.started) < CHECK_DEADLINE {
                break;
            }
            if let Some(check) = self.checks.pop_front() {
                let _ = check.stream.shutdown(std::net::Shutdown::Both);
                gone.push(check.addr);
            }
        }
        gone
    }

    /// When the oldest check's deadline comes.
    fn next_deadline(&self) -> Option<Instant> {
        self.checks.front().map(|c| c.started + CHECK_DEADLINE)
    }

    fn shut_all(&mut self) {
        for check in self.checks.drain(..) {
            let _ = check.stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn timeout_error(
    local: SocketAddr,
    wait: Duration,
    refused: usize,
    last: &str,
    accepted: usize,
    count: usize,
) -> Error {
    let refusals = match refused {
        0 => String::new(),
        1 => format!(" (1 connection was refused: {last})"),
        n => format!(" ({n} connections were refused; the last: {last})"),
    };
    let what = if count == 1 {
        "no peer connected".to_string()
    } else {
        format!("the peer opened {accepted} of the {count} connections expected")
    };
    Error::Timeout(format!(
        "{what} to {local} within {:.1} s{refusals}",
        wait.as_secs_f64()
    ))
}

/// Connects to our own listener so that the acceptor thread returns from `accept`.
fn wake(local: SocketAddr) {
    let target = match local {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    };
    let _ = TcpStream::connect_timeout(&target, Duration::from_millis(200));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_only_listens_on_every_interface() {
        let listener = bind(":0").unwrap();
        assert!(listener.local_addr().unwrap().ip().is_unspecified());
        assert!(matches!(bind(":port"), Err(Error::InvalidArgument(_))));
        assert!(matches!(bind("nonsense"), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn refused_connections_are_logged_and_the_wait_goes_on() {
        let listener = bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let logged = std::sync::Mutex::new(Vec::new());
        let client = std::thread::spawn(move || {
            use std::io::Write;
            let mut bad = TcpStream::connect(addr).unwrap();
            bad.write_all(b"no").unwrap();
            std::thread::sleep(Duration::from_millis(50));
            let mut good = TcpStream::connect(addr).unwrap();
            good.write_all(b"ok").unwrap();
            std::thread::sleep(Duration::from_millis(200));
        });
        let got = accept_first(
            &listener,
            Duration::from_secs(5),
            |mut stream, _| {
                use std::io::Read;
                let mut word = [0u8; 2];
                stream
                    .read_exact(&mut word)
                    .map_err(|e| Error::io("reading", e))?;
                if &word == b"ok" {
                    Ok(word)
                } else {
                    Err(Error::peer("not the peer"))
                }
            },
            |line| logged.lock().unwrap().push(line.to_string()),
        )
        .unwrap();
        client.join().unwrap();
        assert_eq!(&got, b"ok");
        let logged = logged.into_inner().unwrap();
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains("not the peer"), "{logged:?}");
    }

    #[test]
    fn a_full_source_or_pool_gives_its_oldest_check_to_a_newcomer() {
        // Connected sockets to stand for the checks (only shut down, never read).
        let listener = bind("127.0.0.1:0").unwrap();
        let to = listener.local_addr().unwrap();
        let mut keep = Vec::new();
        let mut stream = || {
            let s = TcpStream::connect(to).unwrap();
            keep.push(listener.accept().unwrap().0);
            s
        };
        let from = |ip: u8, port: u16| SocketAddr::from(([10, 0, 0, ip], port));
        let mut pending = Pending::default();
        // Four from one source fill its share: the fifth takes the place of that source's
        // oldest, not of anyone else's.
        pending.add(from(9, 1), stream());
        for port in 1..=MAX_PER_SOURCE as u16 {
            assert!(pending.make_room(from(1, port)).is_none());
            pending.add(from(1, port), stream());
        }
        let (gone, why) = pending.make_room(from(1, 99)).unwrap();
        assert_eq!(gone, from(1, 1), "{why}");
        assert!(why.contains("from 10.0.0.1"), "{why}");
        pending.add(from(1, 99), stream());
        assert_eq!(pending.checks.len(), 1 + MAX_PER_SOURCE);
        // Other sources fill the pool: the next newcomer takes the oldest check of all.
        let mut ip = 2;
        while pending.checks.len() < MAX_PENDING {
            assert!(pending.make_room(from(ip, 1)).is_none());
            pending.add(from(ip, 1), stream());
            ip += 1;
        }
        let (gone, why) = pending.make_room(from(200, 1)).unwrap();
        assert_eq!(gone, from(9, 1), "{why}");
        assert_eq!(pending.checks.len(), MAX_PENDING - 1);
        // Every check is gone at its deadline, the oldest first.
        let later = Instant::now() + CHECK_DEADLINE;
        assert_eq!(pending.expire(later).len(), MAX_PENDING - 1);
        assert!(pending.next_deadline().is_none());
    }

    #[test]
    fn the_wait_ends_with_a_timeout() {
        let listener = bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        let r = accept_first(&listener, Duration::from_millis(200), |s, _| Ok(s), |_| {});
        assert!(matches!(r, Err(Error::Timeout(_))));
        assert!(start.elapsed() < Duration::from_secs(3));
    }
}
