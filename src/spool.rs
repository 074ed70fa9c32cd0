//! Temporary files for circuits too long to hold in memory ([`crate::compile::stream`]).
//!
//! A spool file is created in the system temporary directory (or a directory the user names),
//! readable and writable by its owner only, and on Unix removed from the directory right after
//! it is opened: the open descriptor keeps the data reachable for this process alone, and the
//! kernel frees it when the process ends, however it ends (an error, Ctrl-C, a kill). Elsewhere
//! it is removed when dropped. Files are written sequentially through a buffer and read back by
//! position, forward or backward, in fixed-size records.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Bytes per read or write buffer.
const BUFFER: usize = 1 << 20;

/// Bytes on disk now and at most, over every spool file of one directory handle.
#[derive(Debug, Default)]
struct Usage {
    current: AtomicU64,
    peak: AtomicU64,
}

impl Usage {
    fn add(&self, bytes: u64) {
        let now = self.current.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }
    fn remove(&self, bytes: u64) {
        self.current.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Where spool files go, and how much they use.
#[derive(Clone, Debug)]
pub struct SpoolDir {
    dir: PathBuf,
    usage: Arc<Usage>,
}

impl SpoolDir {
    /// Spool files in `dir`, or in the system temporary directory.
    pub fn new(dir: Option<&Path>) -> Result<SpoolDir> {
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        if !dir.is_dir() {
            return Err(Error::arg(format!(
                "spool directory {} does not exist or is not a directory",
                dir.display()
            )));
        }
        Ok(SpoolDir {
            dir,
            usage: Arc::default(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The most bytes the spool files of this handle held at one time.
    pub fn peak_bytes(&self) -> u64 {
        self.usage.peak.load(Ordering::Relaxed)
    }

    /// A new, empty spool file; `what` names it in errors.
    pub fn create(&self, what: &'static str) -> Result<SpoolWriter> {
        let (file, path) = create_private(&self.dir, "garbled-spool").map_err(|e| {
            Error::io(
                format!("cannot create a spool file in {}", self.dir.display()),
                e,
            )
        })?;
        // On Unix the name goes at once: nothing is left behind on any exit path.
        #[cfg(unix)]
        let path = {
            std::fs::remove_file(&path).map_err(|e| {
                Error::io(format!("cannot unlink spool file {}", path.display()), e)
            })?;
            None
        };
        #[cfg(not(unix))]
        let path = Some(path);
        let reader = file
            .try_clone()
            .map_err(|e| Error::io("cannot duplicate a spool file handle", e))?;
        Ok(SpoolWriter::new(
            file,
            reader,
            what,
            self.usage.clone(),
            path,
        ))
    }
}

/// Creates a new file readable and writable by its owner only, under a fresh random name.
pub(crate) fn create_private(dir: &Path, prefix: &str) -> std::io::Result<(File, PathBuf)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // The name only has to be new (create_new refuses an existing one, and the mode keeps
    // others out): the process, a counter and the clock.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id()));
        match options.open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A spool file being written. Full buffers go to a writer thread, so that the kernel's copy
/// into the page cache (a sixth of a streamed compile when done inline) overlaps the pass that
/// produces them; at most two buffers wait.
pub struct SpoolWriter {
    buf: Vec<u8>,
    to_worker: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    returned: std::sync::mpsc::Receiver<Vec<u8>>,
    worker: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    file: File,
    what: &'static str,
    len: u64,
    usage: Arc<Usage>,
    path: Option<PathBuf>,
}

impl SpoolWriter {
    fn new(
        out: File,
        file: File,
        what: &'static str,
        usage: Arc<Usage>,
        path: Option<PathBuf>,
    ) -> Self {
        let (to_worker, jobs) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (give_back, returned) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || -> std::io::Result<()> {
            let mut out = out;
            for mut buf in jobs {
                out.write_all(&buf)?;
                buf.clear();
                let _ = give_back.send(buf);
            }
            out.flush()
        });
        SpoolWriter {
            buf: Vec::with_capacity(BUFFER),
            to_worker: Some(to_worker),
            returned,
            worker: Some(worker),
            file,
            what,
            len: 0,
            usage,
            path,
        }
    }

    /// Appends bytes.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= BUFFER {
            self.flush_buffer()?;
        }
        Ok(())
    }

    fn flush_buffer(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .returned
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUFFER));
        let full = std::mem::replace(&mut self.buf, next);
        self.len += full.len() as u64;
        self.usage.add(full.len() as u64);
        let sent = self
            .to_worker
            .as_ref()
            .is_some_and(|w| w.send(full).is_ok());
        if !sent {
            return self.join();
        }
        Ok(())
    }

    /// Stops the writer thread and reports how it ended.
    fn join(&mut self) -> Result<()> {
        self.to_worker = None;
        let what = self.what;
        match self.worker.take().map(|w| w.join()) {
            Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(Error::io(format!("cannot write the {what} spool"), e)),
            Some(Err(_)) => Err(Error::SelfCheck(format!(
                "the {what} spool writer panicked"
            ))),
            None => Err(Error::SelfCheck(format!(
                "the {what} spool writer stopped earlier"
            ))),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len + self.buf.len() as u64
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flushes and turns the file over to reading.
    pub fn finish(mut self) -> Result<SpoolFile> {
        self.flush_buffer()?;
        self.join()?;
        self.buf = Vec::new();
        let file = self
            .file
            .try_clone()
            .map_err(|e| Error::io("cannot duplicate a spool file handle", e))?;
        let len = std::mem::take(&mut self.len);
        Ok(SpoolFile {
            file: Arc::new(file),
            len,
            what: self.what,
            usage: self.usage.clone(),
            path: self.path.take(),
        })
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        if self.worker.is_some() {
            let _ = self.join();
        }
        self.usage.remove(self.len);
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A written spool file, read by position.
#[derive(Debug)]
pub struct SpoolFile {
    file: Arc<File>,
    len: u64,
    what: &'static str,
    usage: Arc<Usage>,
    path: Option<PathBuf>,
}

impl SpoolFile {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole file as a readable range.
    pub fn range(&self) -> FileRange {
        FileRange {
            file: self.file.clone(),
            start: 0,
            end: self.len,
            what: self.what,
        }
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        self.usage.remove(self.len);
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A byte range of an open file, read by position (any number of readers at once).
#[derive(Clone, Debug)]
pub struct FileRange {
    /// The file.
    pub file: Arc<File>,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// What it holds, for errors.
    pub what: &'static str,
}

impl FileRange {
    /// Reads exactly `buf.len()` bytes at `offset` (absolute).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        read_exact_at(&self.file, buf, offset).map_err(|e| {
            let what = self.what;
            Error::io(format!("cannot read the {what}"), e)
        })
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fixed-size records of a [`FileRange`], first to last.
pub struct Forward<const N: usize> {
    range: FileRange,
    pos: u64,
    /// Allocated once (on the first read); `at..filled` is unread.
    buf: Vec<u8>,
    at: usize,
    filled: usize,
}

impl<const N: usize> Forward<N> {
    /// Reads `range` from its start.
    pub fn new(range: FileRange) -> Forward<N> {
        Forward {
            pos: range.start,
            range,
            buf: Vec::new(),
            at: 0,
            filled: 0,
        }
    }

    /// Records left.
    pub fn remaining(&self) -> u64 {
        ((self.filled - self.at) as u64 + (self.range.end - self.pos)) / N as u64
    }

    /// The next record, or `None` at the end of the range; a range that ends inside a record
    /// is an error.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<[u8; N]>> {
        if self.at + N > self.filled && !self.refill()? {
            return Ok(None);
        }
        let mut record = [0u8; N];
        record.copy_from_slice(&self.buf[self.at..self.at + N]);
        self.at += N;
        Ok(Some(record))
    }

    /// The next record; the end of the range is an error.
    pub fn expect(&mut self) -> Result<[u8; N]> {
        self.next_record()?.ok_or_else(|| {
            Error::SelfCheck(format!(
                "the {} ends before its last record",
                self.range.what
            ))
        })
    }

    /// Hands the next `count` records to `f` straight from the buffer, as runs of whole records;
    /// fewer records left is an error.
    pub fn take_records(&mut self, mut count: usize, mut f: impl FnMut(&[u8])) -> Result<()> {
        while count > 0 {
            if self.at + N > self.filled && !self.refill()? {
                return Err(Error::SelfCheck(format!(
                    "the {} ends before its last record",
                    self.range.what
                )));
            }
            let here = ((self.filled - self.at) / N).min(count);
            f(&self.buf[self.at..self.at + here * N]);
            self.at += here * N;
            count -= here;
        }
        Ok(())
    }

    /// Moves the unread tail to the front and reads after it; false at the end of the range.
    fn refill(&mut self) -> Result<bool> {
        if self.buf.is_empty() {
            self.buf = vec![0u8; BUFFER / N * N + N];
        }
        let left = self.filled - self.at;
        self.buf.copy_within(self.at..self.filled, 0);
        self.at = 0;
        self.filled = left;
        let want = (self.range.end - self.pos).min((self.buf.len() - left) as u64) as usize;
        if want == 0 {
            if left != 0 {
                return Err(Error::SelfCheck(format!(
                    "the {} ends inside a record",
                    self.range.what
                )));
            }
            return Ok(false);
        }
        self.range
            .read_at(&mut self.buf[left..left + want], self.pos)?;
        self.pos += want as u64;
        self.filled += want;
        if self.filled < N {
            return self.refill();
        }
        Ok(true)
    }
}

/// Fixed-size records of a [`FileRange`], last to first (the range must hold whole records).
pub struct Backward<const N: usize> {
    range: FileRange,
    pos: u64,
    buf: Vec<u8>,
    at: usize,
}

impl<const N: usize> Backward<N> {
    /// Reads `range` from its end.
    pub fn new(range: FileRange) -> Result<Backward<N>> {
        if !(range.end - range.start).is_multiple_of(N as u64) {
            return Err(Error::SelfCheck(format!(
                "the {} does not hold whole records",
                range.what
            )));
        }
        Ok(Backward {
            pos: range.end,
            range,
            buf: Vec::new(),
            at: 0,
        })
    }

    /// The previous record, or `None` before the start.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<[u8; N]>> {
        if self.at == 0 {
            let want = (self.pos - self.range.start).min((BUFFER / N * N) as u64) as usize;
            if want == 0 {
                return Ok(None);
            }
            self.buf.resize(want, 0);
            self.pos -= want as u64;
            self.range.read_at(&mut self.buf, self.pos)?;
            self.at = want;
        }
        self.at -= N;
        let mut record = [0u8; N];
        record.copy_from_slice(&self.buf[self.at..self.at + N]);
        Ok(Some(record))
    }

    /// The previous record; the start of the range is an error.
    pub fn expect(&mut self) -> Result<[u8; N]> {
        self.next_record()?.ok_or_else(|| {
            Error::SelfCheck(format!(
                "the {} ends before its last record",
                self.range.what
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_both_ways_across_buffers() {
        let dir = SpoolDir::new(None).unwrap();
        let mut w = dir.create("test").unwrap();
        let n = (BUFFER / 12) as u32 * 2 + 7;
        for i in 0..n {
            let mut r = [0u8; 12];
            r[..4].copy_from_slice(&i.to_le_bytes());
            r[8..].copy_from_slice(&(!i).to_le_bytes());
            w.write(&r).unwrap();
        }
        let f = w.finish().unwrap();
        assert_eq!(f.len(), 12 * u64::from(n));
        assert_eq!(dir.peak_bytes(), f.len());
        let mut fwd = Forward::<12>::new(f.range());
        for i in 0..n {
            let r = fwd.next_record().unwrap().unwrap();
            assert_eq!(u32::from_le_bytes(r[..4].try_into().unwrap()), i);
            assert_eq!(u32::from_le_bytes(r[8..].try_into().unwrap()), !i);
        }
        assert!(fwd.next_record().unwrap().is_none());
        let mut back = Backward::<12>::new(f.range()).unwrap();
        for i in (0..n).rev() {
            let r = back.next_record().unwrap().unwrap();
            assert_eq!(u32::from_le_bytes(r[..4].try_into().unwrap()), i);
        }
        assert!(back.next_record().unwrap().is_none());
    }

    #[test]
    fn a_partial_record_is_an_error_not_a_panic() {
        let dir = SpoolDir::new(None).unwrap();
        let mut w = dir.create("test").unwrap();
        w.write(&[1, 2, 3, 4, 5]).unwrap();
        let f = w.finish().unwrap();
        let mut fwd = Forward::<4>::new(f.range());
        assert!(fwd.next_record().unwrap().is_some());
        assert!(fwd.next_record().is_err());
        assert!(Backward::<4>::new(f.range()).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn nothing_is_left_in_the_directory() {
        let tmp = std::env::temp_dir().join(format!("garbled-spool-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let dir = SpoolDir::new(Some(&tmp)).unwrap();
        let mut w = dir.create("test").unwrap();
        w.write(b"secret-ish").unwrap();
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
        drop(w.finish().unwrap());
        std::fs::remove_dir(&tmp).unwrap();
    }
}
