//! Batch jobs on several threads (`--threads N` for `compare --values` and `run --inputs`): the
//! rows are split into contiguous shards, and each shard is a session of its own (own Delta, OT
//! and tweak space) over a connection of its own, on a thread of its own. Sessions know nothing
//! of this: sharding sits above them, and results are put back in row order.
//!
//! Two hosts agree on the shards over the first connection before any session starts: each
//! side sends `GARBATCH`, the number of threads it offers and its row count; both use the
//! smaller thread count (so hosts with different core counts still agree), and different row
//! counts stop both sides with a named error. Each further connection (to the same listening
//! port, authenticated like the first) starts with `GARSHARD` and its shard number, so the
//! listener can tell them apart whatever order they arrive in. The session of each shard also
//! names its shard in its job description, which the handshake compares.

use std::time::Duration;

use super::net::{Link, NetArgs};
use crate::error::{Error, Result};
use crate::net::tcp::TcpChannel;
use crate::net::tls::TlsChannel;
use crate::net::{Channel, Connection};

const BATCH: [u8; 8] = *b"GARBATCH";
const SHARD: [u8; 8] = *b"GARSHARD";

/// Most threads a batch job may use.
pub(crate) const MAX_THREADS: usize = 256;

/// A contiguous range of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    /// Which shard (0-based).
    pub index: usize,
    /// How many shards the job has.
    pub count: usize,
    /// The first row (0-based) of the shard.
    pub first: u64,
    /// Rows in the shard.
    pub rows: u64,
}

impl Shard {
    /// The words the session's job description gets, so that shards cannot be crossed.
    pub fn describe(&self) -> String {
        if self.count == 1 {
            String::new()
        } else {
            format!(
                ", shard {} of {} (rows {}..{})",
                self.index + 1,
                self.count,
                self.first + 1,
                self.first + self.rows
            )
        }
    }
}

/// `rows` split into at most `threads` contiguous shards of nearly equal size (the first ones
/// one row longer), none empty.
pub(crate) fn split_rows(rows: u64, threads: usize) -> Vec<Shard> {
    let count = (threads as u64).clamp(1, rows.max(1)) as usize;
    let base = rows / count as u64;
    let extra = rows % count as u64;
    let mut first = 0;
    (0..count)
        .map(|index| {
            let len = base + u64::from((index as u64) < extra);
            let shard = Shard {
                index,
                count,
                first,
                rows: len,
            };
            first += len;
            shard
        })
        .collect()
}

/// The thread count: the one asked for, or the number of cores; never more than rows.
pub(crate) fn threads(asked: Option<usize>, rows: u64) -> Result<usize> {
    let threads = match asked {
        Some(0) => return Err(Error::arg("--threads must be at least 1")),
        Some(n) if n > MAX_THREADS => {
            return Err(Error::arg(format!(
                "--threads {n} is more than the {MAX_THREADS} a job may use"
            )));
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    Ok(threads.min(rows.max(1) as usize))
}

fn agree(channel: &mut Connection, threads: usize, rows: u64) -> Result<usize> {
    let mut ours = Vec::with_capacity(20);
    ours.extend_from_slice(&BATCH);
    ours.extend_from_slice(&(threads as u32).to_le_bytes());
    ours.extend_from_slice(&rows.to_le_bytes());
    channel.write_all(&ours)?;
    channel.flush()?;
    let mut theirs = [0u8; 20];
    channel.read_exact(&mut theirs)?;
    if theirs[..8] != BATCH {
        return Err(Error::peer(
            "the peer did not start a batch job (does it run the same command with --inputs or --values?)",
        ));
    }
    let peer_threads = u32::from_le_bytes(theirs[8..12].try_into().unwrap_or_default()) as usize;
    let peer_rows = u64::from_le_bytes(theirs[12..20].try_into().unwrap_or_default());
    if peer_rows != rows {
        return Err(Error::Mismatch {
            field: "row count",
            ours: rows.to_string(),
            peer: peer_rows.to_string(),
            hint: "both parties must have the same number of rows",
        });
    }
    if peer_threads == 0 || peer_threads > MAX_THREADS {
        return Err(Error::peer(format!(
            "the peer offered {peer_threads} threads (1 to {MAX_THREADS} allowed)"
        )));
    }
    Ok(threads.min(peer_threads))
}

/// Opens the connections of a batch job to the peer: the first one (which agrees on the thread
/// count and checks the row count), then one per further shard. Returns them in shard order.
pub(crate) fn open(net: &NetArgs, threads: usize, rows: u64) -> Result<Vec<Connection>> {
    let link = net.link()?;
    let wait = Duration::from_secs_f64(net.timeout);
    let timeouts = net.timeouts();
    let log = |line: &str| eprintln!("garbled: {line}");
    match (&net.listen, &net.connect) {
        (Some(addr), _) => {
            use crate::net::listen::{Acceptor, accept_first_on, accept_on, bind};
            let listener = bind(addr)?;
            let acceptor = Acceptor::new(&listener)?;
            let secure = |stream: std::net::TcpStream| -> Result<Connection> {
                match &link {
                    Link::Insecure => TcpChannel::new(stream, timeouts).map(Connection::Plain),
                    Link::Tls(settings) => TlsChannel::server(stream, timeouts, settings)
                        .map(|c| Connection::Tls(Box::new(c))),
                }
            };
            let mut first = accept_first_on(&acceptor, wait, |s, _| secure(s), log)?;
            let agreed = agree(&mut first, threads, rows)?;
            // The further connections may arrive together: one wait collects them all, each
            // one's check reading its shard number.
            let others = accept_on(
                &acceptor,
                agreed - 1,
                wait,
                |s, _| {
                    let mut c = secure(s)?;
                    let mut hello = [0u8; 12];
                    c.read_exact(&mut hello)?;
                    if hello[..8] != SHARD {
                        return Err(Error::peer("the connection did not announce its shard"));
                    }
                    let index = u32::from_le_bytes(hello[8..12].try_into().unwrap_or_default());
                    Ok((index as usize, c))
                },
                log,
            )
            .map_err(|e| match e {
                Error::Timeout(m) => Error::Timeout(format!(
                    "the peer opened fewer connections than the {agreed} agreed ({m})"
                )),
                other => other,
            })?;
            let mut slots: Vec<Option<Connection>> = (0..agreed).map(|_| None).collect();
            slots[0] = Some(first);
            for (index, c) in others {
                match slots.get_mut(index) {
                    Some(slot @ None) => *slot = Some(c),
                    _ => {
                        return Err(Error::peer(format!(
                            "a connection announced shard {}, which is not one of the {agreed} agreed or came twice",
                            index + 1
                        )));
                    }
                }
            }
            Ok(slots.into_iter().flatten().collect())
        }
        (None, Some(addr)) => {
            let connect = || -> Result<Connection> {
                match &link {
                    Link::Insecure => {
                        TcpChannel::connect(addr, wait, timeouts).map(Connection::Plain)
                    }
                    Link::Tls(settings) => TlsChannel::connect(addr, wait, timeouts, settings)
                        .map(|c| Connection::Tls(Box::new(c))),
                }
            };
            let mut first = connect()?;
            let agreed = agree(&mut first, threads, rows)?;
            let mut all = vec![first];
            for index in 1..agreed {
                let mut c = connect()?;
                let mut hello = Vec::with_capacity(12);
                hello.extend_from_slice(&SHARD);
                hello.extend_from_slice(&(index as u32).to_le_bytes());
                c.write_all(&hello)?;
                c.flush()?;
                all.push(c);
            }
            Ok(all)
        }
        (None, None) => Err(Error::arg(
            "--listen ADDR or --connect ADDR is needed to reach the peer",
        )),
    }
}

/// What one shard of a batch job measured besides its session: the statistics account for the
/// shard that finished last, so that the phases add up to the wall time.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ShardTimes {
    /// Reading and parsing the shard's rows while it ran.
    pub load: std::time::Duration,
    /// Compiling the shard's program.
    pub compile: std::time::Duration,
    /// Opening its connection (local shards: the loopback connection and its handshake).
    pub connect: std::time::Duration,
    /// From the shard's start to its end.
    pub elapsed: std::time::Duration,
}

/// The statistics of shards that ran side by side: counts add up; times are those of the shard
/// that took longest (the one the command waited for), so its phases, with its compile and
/// connect times, account for the shards' part of the wall time. Returns the combined
/// statistics and that shard's times.
pub(crate) fn combine(
    shards: impl IntoIterator<Item = (crate::protocol::SessionStats, ShardTimes)>,
) -> (crate::protocol::SessionStats, ShardTimes) {
    let mut total = crate::protocol::SessionStats::default();
    let mut slowest: Option<(crate::protocol::SessionStats, ShardTimes)> = None;
    for (stats, times) in shards {
        total.and_gates += stats.and_gates;
        total.bytes_sent += stats.bytes_sent;
        total.bytes_received += stats.bytes_received;
        if slowest
            .as_ref()
            .is_none_or(|(_, t)| times.elapsed > t.elapsed)
        {
            slowest = Some((stats, times));
        }
    }
    let (critical, times) = slowest.unwrap_or_default();
    total.wall = critical.wall;
    total.setup = critical.setup;
    total.phases = critical.phases;
    (total, times)
}

/// Runs `work` for every shard on its own thread and returns the results in shard order; the
/// first error (in shard order, a peer's hang-up counting last) wins.
pub(crate) fn run_all<T: Send>(
    shards: &[Shard],
    work: impl Fn(Shard) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let results: Vec<Result<T>> = std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = shards
            .iter()
            .map(|&shard| scope.spawn(move || work(shard)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::SelfCheck("a shard's thread panicked".into())))
            })
            .collect()
    });
    let secondary = |e: &Error| matches!(e, Error::PeerClosed(_) | Error::PeerMisbehaved(_));
    let mut out = Vec::with_capacity(results.len());
    let mut first_error: Option<Error> = None;
    for r in results {
        match r {
            Ok(v) => out.push(v),
            Err(e) => match &first_error {
                Some(existing) if !secondary(existing) || secondary(&e) => {}
                _ => first_error = Some(e),
            },
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_rows_in_order() {
        for rows in [1u64, 2, 3, 4097, 10_001] {
            for threads in [1usize, 2, 3, 8] {
                let shards = split_rows(rows, threads);
                assert_eq!(shards.len(), threads.min(rows as usize));
                let mut next = 0;
                for (i, s) in shards.iter().enumerate() {
                    assert_eq!(s.index, i);
                    assert_eq!(s.first, next);
                    assert!(s.rows >= 1);
                    next += s.rows;
                }
                assert_eq!(next, rows);
                let (min, max) = shards
                    .iter()
                    .fold((u64::MAX, 0), |(a, b), s| (a.min(s.rows), b.max(s.rows)));
                assert!(max - min <= 1);
            }
        }
    }
}
