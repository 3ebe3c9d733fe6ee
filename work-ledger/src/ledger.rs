//! One session's ledger file: appending under the lock, compaction, and the reads.
//!
//! One job: the file protocol. Layout under the state directory:
//! `ledger/<session>.jsonl` (the entries) and `ledger/<session>.lock` (the advisory lock).
//!
//! - **Append**: take the lock (exclusive, `std::fs::File::lock` semantics, waited for at most
//!   [`Ledger::lock_wait`]), stamp the time (strictly after the last entry's), write the line
//!   with one `write` on a file opened with `O_APPEND`, compact if the file grew past its
//!   bound, run the caller's follow-up (e.g. tmux injection) still under the lock, release.
//!   The lock lives on a file of its own so that compaction can replace the ledger by rename
//!   while writers wait: a writer opens the ledger only once it holds the lock.
//! - **Compaction** writes the newest [`Ledger::keep`] entries to a temporary file and renames
//!   it over the ledger: a crash leaves the old or the new file, never half of one, and the
//!   current (last) entry is always kept.
//! - **Reads** take no lock: the file is only ever appended to or replaced by rename, and a
//!   final line without its newline (a write in progress) is not read. [`Ledger::current`]
//!   reads only the file's tail.
//!
//! It must not print: skipped corrupt lines are counted in [`Read::corrupt_lines`] and the
//! caller warns.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::entry::{Change, Entry, Source};
use crate::error::LedgerError;

/// Default number of entries compaction keeps.
pub const DEFAULT_KEEP: usize = 256;
/// Default size past which the ledger is compacted (about 1000 entries).
pub const DEFAULT_COMPACT_BYTES: u64 = 256 * 1024;
/// Default bound on waiting for another writer's lock.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(2);
/// Longest accepted session name, in bytes of its file name.
pub const MAX_FILE_STEM: usize = 200;

/// The first tail read of [`Ledger::current`]: a dozen entries.
const TAIL_CHUNK: u64 = 4096;

/// The result of a read, with the number of corrupt lines skipped on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read<T> {
    /// What was read.
    pub value: T,
    /// Lines that were neither empty nor an entry (skipped; the caller warns once).
    pub corrupt_lines: usize,
}

/// One session's ledger (nothing is opened until a method needs it).
#[derive(Debug, Clone)]
pub struct Ledger {
    session: String,
    path: PathBuf,
    lock_path: PathBuf,
    keep: usize,
    compact_bytes: u64,
    lock_wait: Duration,
}

impl Ledger {
    /// The ledger of `session` under `state_dir` (`<state_dir>/ledger/<file stem>.jsonl`, the
    /// stem being [`file_stem`]`(session)`). Creates nothing.
    ///
    /// # Errors
    /// [`LedgerError::Session`] when `session` is empty or too long for a file name.
    pub fn new(state_dir: &Path, session: &str) -> Result<Self, LedgerError> {
        let stem = file_stem(session)?;
        let dir = state_dir.join("ledger");
        Ok(Self {
            session: session.to_owned(),
            path: dir.join(format!("{stem}.jsonl")),
            lock_path: dir.join(format!("{stem}.lock")),
            keep: DEFAULT_KEEP,
            compact_bytes: DEFAULT_COMPACT_BYTES,
            lock_wait: DEFAULT_LOCK_WAIT,
        })
    }

    /// Compaction bounds: past `compact_bytes`, keep the newest `keep` entries (at least 1).
    #[must_use]
    pub fn bounds(mut self, keep: usize, compact_bytes: u64) -> Self {
        self.keep = keep.max(1);
        self.compact_bytes = compact_bytes;
        self
    }

    /// How long [`Ledger::append`] waits for another writer before giving up.
    #[must_use]
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// The number of entries compaction keeps.
    #[must_use]
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// The ledger file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The session this ledger belongs to.
    #[must_use]
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Appends `change` as the session's current context (see the [module docs](self)).
    ///
    /// # Errors
    /// The directory or file cannot be created or written, or the lock was not obtained in
    /// time; nothing was appended then.
    pub fn append(&self, change: Change, source: Source) -> Result<Entry, LedgerError> {
        self.append_then(change, source, |_| ()).0
    }

    /// As [`Ledger::append`], then runs `after` while still holding the lock, so that a second
    /// copy of the context (tmux's environment) changes in the same order as the ledger.
    /// `after` runs exactly once, also when the append failed (with `None`; under the lock if
    /// it was obtained).
    pub fn append_then<R>(
        &self,
        change: Change,
        source: Source,
        after: impl FnOnce(Option<&Entry>) -> R,
    ) -> (Result<Entry, LedgerError>, R) {
        let lock = match self.lock() {
            Ok(lock) => lock,
            Err(err) => return (Err(err), after(None)),
        };
        let appended = self.append_locked(change, source);
        let result = after(appended.as_ref().ok());
        drop(lock);
        (appended, result)
    }

    fn append_locked(&self, change: Change, source: Source) -> Result<Entry, LedgerError> {
        let last = self.current()?.value.map_or(0, |e| e.time_ns);
        let entry = Entry::new(now_ns().max(last + 1), &self.session, change, source);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io("open", &self.path, e))?;
        // A torn last line (a writer that died mid-write) is closed first, so that it stays
        // one corrupt line instead of swallowing this entry.
        let mut line = Vec::new();
        let mut last = [0u8; 1];
        if file.seek(SeekFrom::End(-1)).is_ok()
            && file.read_exact(&mut last).is_ok()
            && last[0] != b'\n'
        {
            line.push(b'\n');
        }
        line.extend(entry.to_line());
        // One write of the whole line: with O_APPEND it lands at the end in one piece.
        file.write_all(&line)
            .map_err(|e| self.io("append to", &self.path, e))?;
        let len = file
            .metadata()
            .map_err(|e| self.io("stat", &self.path, e))?
            .len();
        if len > self.compact_bytes {
            self.compact()?;
        }
        Ok(entry)
    }

    /// Takes the exclusive lock, creating the directory and lock file on first use.
    fn lock(&self) -> Result<File, LedgerError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io("create", dir, e))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| self.io("open", &self.lock_path, e))?;
        let deadline = Instant::now() + self.lock_wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(LedgerError::LockTimeout {
                        path: self.lock_path.clone(),
                        waited: self.lock_wait,
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(self.io("lock", &self.lock_path, e));
                }
            }
        }
    }

    /// Rewrites the ledger with its newest entries (caller holds the lock).
    fn compact(&self) -> Result<(), LedgerError> {
        let entries = self.entries()?.value;
        let keep = &entries[entries.len().saturating_sub(self.keep)..];
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut out = File::create(&tmp).map_err(|e| self.io("create", &tmp, e))?;
        let body: Vec<u8> = keep.iter().flat_map(Entry::to_line).collect();
        out.write_all(&body)
            .and_then(|()| out.sync_all())
            .map_err(|e| self.io("write", &tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io("replace", &self.path, e))
    }

    /// The session's current context: the last entry (`None` when the ledger is missing or
    /// empty). Reads only the file's tail (4 KiB unless corrupt lines make it read further).
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub fn current(&self) -> Result<Read<Option<Entry>>, LedgerError> {
        let Some(mut file) = self.open_for_read()? else {
            return Ok(Read {
                value: None,
                corrupt_lines: 0,
            });
        };
        let len = file
            .metadata()
            .map_err(|e| self.io("stat", &self.path, e))?
            .len();
        let mut chunk = TAIL_CHUNK;
        loop {
            let start = len.saturating_sub(chunk);
            let mut buf = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
            file.seek(SeekFrom::Start(start))
                .and_then(|_| (&file).take(len - start).read_to_end(&mut buf))
                .map_err(|e| self.io("read", &self.path, e))?;
            let mut lines = complete_lines(&buf, start == 0);
            let mut corrupt_lines = 0;
            while let Some(line) = lines.next_back() {
                match Entry::from_line(line) {
                    Some(entry) => {
                        return Ok(Read {
                            value: Some(entry),
                            corrupt_lines,
                        });
                    }
                    None if line.iter().all(u8::is_ascii_whitespace) => {}
                    None => corrupt_lines += 1,
                }
            }
            if start == 0 {
                return Ok(Read {
                    value: None,
                    corrupt_lines,
                });
            }
            chunk = chunk.saturating_mul(4);
        }
    }

    /// Every entry, oldest first (empty when the ledger is missing).
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub fn entries(&self) -> Result<Read<Vec<Entry>>, LedgerError> {
        let mut buf = Vec::new();
        if let Some(mut file) = self.open_for_read()? {
            file.read_to_end(&mut buf)
                .map_err(|e| self.io("read", &self.path, e))?;
        }
        let mut value = Vec::new();
        let mut corrupt_lines = 0;
        for line in complete_lines(&buf, true) {
            match Entry::from_line(line) {
                Some(entry) => value.push(entry),
                None if line.iter().all(u8::is_ascii_whitespace) => {}
                None => corrupt_lines += 1,
            }
        }
        Ok(Read {
            value,
            corrupt_lines,
        })
    }

    /// The entry that was current at `time_ns` (the last one stamped at or before it); `None`
    /// before the first entry.
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub fn at(&self, time_ns: u64) -> Result<Read<Option<Entry>>, LedgerError> {
        let Read {
            value,
            corrupt_lines,
        } = self.entries()?;
        let value = value
            .into_iter()
            .take_while(|e| e.time_ns <= time_ns)
            .last();
        Ok(Read {
            value,
            corrupt_lines,
        })
    }

    fn open_for_read(&self) -> Result<Option<File>, LedgerError> {
        match File::open(&self.path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("open", &self.path, e)),
        }
    }

    fn io(&self, action: &'static str, path: &Path, source: io::Error) -> LedgerError {
        LedgerError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// The lines of `buf` known to be whole: a trailing part without its newline is a write in
/// progress, and unless `from_start`, the part before the first newline may be a line's tail.
fn complete_lines(buf: &[u8], from_start: bool) -> impl DoubleEndedIterator<Item = &[u8]> {
    let end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let begin = if from_start {
        0
    } else {
        buf[..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |i| i + 1)
    };
    buf[begin..end]
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
}

/// The file stem for `session`: bytes other than ASCII letters, digits, `-`, `_` and a
/// non-leading `.` are written `%XX`, so distinct sessions never share a file and no name can
/// leave the ledger directory.
///
/// # Errors
/// [`LedgerError::Session`] for an empty name, or one longer than [`MAX_FILE_STEM`] once
/// encoded.
pub fn file_stem(session: &str) -> Result<String, LedgerError> {
    if session.is_empty() {
        return Err(LedgerError::Session {
            session: session.to_owned(),
            reason: "it is empty",
        });
    }
    let mut stem = String::with_capacity(session.len());
    for (i, b) in session.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            stem.push(char::from(b));
        } else {
            stem.push_str(&format!("%{b:02X}"));
        }
    }
    if stem.len() > MAX_FILE_STEM {
        return Err(LedgerError::Session {
            session: session.chars().take(40).collect(),
            reason: "it is too long for a file name",
        });
    }
    Ok(stem)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(bead: &str) -> Change {
        Change {
            role: "gastown/polecats/Toast".into(),
            run_id: "run".into(),
            rig: format!("rig-{bead}"),
            bead: bead.into(),
            mol: format!("mol-{bead}"),
        }
    }

    #[test]
    fn a_missing_ledger_reads_as_none_and_is_created_on_first_append() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(&dir.path().join("fresh/state"), "s").unwrap();
        assert_eq!(ledger.current().unwrap().value, None);
        assert!(ledger.entries().unwrap().value.is_empty());
        let entry = ledger.append(change("a"), Source::PrimeHook).unwrap();
        assert_eq!(ledger.current().unwrap().value, Some(entry));
        assert!(ledger.path().exists());
    }

    #[test]
    fn current_is_the_last_and_at_is_the_one_current_then() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "s").unwrap();
        let a = ledger.append(change("a"), Source::PrimeHook).unwrap();
        let b = ledger.append(change("b"), Source::Flags).unwrap();
        let c = ledger.append(Change::default(), Source::EmptyHook).unwrap();
        assert!(a.time_ns < b.time_ns && b.time_ns < c.time_ns);
        assert_eq!(ledger.current().unwrap().value.as_ref(), Some(&c));
        assert_eq!(ledger.at(a.time_ns - 1).unwrap().value, None);
        assert_eq!(ledger.at(a.time_ns).unwrap().value.as_ref(), Some(&a));
        assert_eq!(ledger.at(b.time_ns - 1).unwrap().value.as_ref(), Some(&a));
        assert_eq!(ledger.at(b.time_ns + 1).unwrap().value.as_ref(), Some(&b));
        assert_eq!(ledger.at(u64::MAX).unwrap().value.as_ref(), Some(&c));
    }

    #[test]
    fn corrupt_lines_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "s").unwrap();
        let a = ledger.append(change("a"), Source::PrimeHook).unwrap();
        let mut file = OpenOptions::new().append(true).open(ledger.path()).unwrap();
        file.write_all(b"{not json\n\n\xff\xfe\n").unwrap();
        let read = ledger.current().unwrap();
        assert_eq!((read.value.as_ref(), read.corrupt_lines), (Some(&a), 2));
        let all = ledger.entries().unwrap();
        assert_eq!((all.value.len(), all.corrupt_lines), (1, 2));
        // A write in progress (no newline yet) is neither an entry nor corrupt.
        file.write_all(br#"{"time_ns":1"#).unwrap();
        let read = ledger.current().unwrap();
        assert_eq!((read.value.as_ref(), read.corrupt_lines), (Some(&a), 2));
        // Appending after a torn tail closes it: it becomes one more corrupt line.
        let b = ledger.append(change("b"), Source::PrimeHook).unwrap();
        assert_eq!(ledger.current().unwrap().value, Some(b));
        assert_eq!(ledger.entries().unwrap().corrupt_lines, 3);
    }

    #[test]
    fn current_reads_past_a_tail_of_corrupt_lines_larger_than_one_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "s").unwrap();
        let a = ledger.append(change("a"), Source::PrimeHook).unwrap();
        let mut file = OpenOptions::new().append(true).open(ledger.path()).unwrap();
        for _ in 0..500 {
            file.write_all(b"garbage garbage garbage\n").unwrap();
        }
        let read = ledger.current().unwrap();
        assert_eq!((read.value, read.corrupt_lines), (Some(a), 500));
    }

    #[test]
    fn compaction_keeps_the_newest_entries_and_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "s").unwrap().bounds(5, 2000);
        let mut last = None;
        for i in 0..100 {
            last = Some(
                ledger
                    .append(change(&i.to_string()), Source::PrimeHook)
                    .unwrap(),
            );
        }
        let entries = ledger.entries().unwrap().value;
        assert!(entries.len() <= 20, "{} entries", entries.len());
        assert!(entries.len() >= 5);
        assert_eq!(entries.last(), last.as_ref());
        assert!(entries.windows(2).all(|w| w[0].time_ns < w[1].time_ns));
        assert!(std::fs::metadata(ledger.path()).unwrap().len() <= 2000 + 300);
    }

    #[test]
    fn twenty_threads_appending_never_interleave_or_tear() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "gt-gastown-Toast")
            .unwrap()
            .lock_wait(Duration::from_secs(60));
        std::thread::scope(|scope| {
            for t in 0..20 {
                let ledger = ledger.clone();
                scope.spawn(move || {
                    for i in 0..25 {
                        let bead = format!("t{t}-{i}");
                        ledger.append(change(&bead), Source::PrimeHook).unwrap();
                    }
                });
            }
        });
        let read = ledger.entries().unwrap();
        assert_eq!(read.corrupt_lines, 0);
        assert_eq!(read.value.len(), 500);
        for entry in &read.value {
            assert_eq!(entry.rig, format!("rig-{}", entry.bead));
            assert_eq!(entry.mol, format!("mol-{}", entry.bead));
        }
        assert!(read.value.windows(2).all(|w| w[0].time_ns < w[1].time_ns));
        let text = std::fs::read_to_string(ledger.path()).unwrap();
        assert_eq!(text.lines().count(), 500);
    }

    #[test]
    fn after_runs_under_the_lock_once_even_when_the_append_fails() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        // The state directory is a regular file: nothing can be created under it.
        let ledger = Ledger::new(&blocker, "s").unwrap();
        let mut runs = 0;
        let (result, ()) = ledger.append_then(change("a"), Source::Flags, |entry| {
            assert!(entry.is_none());
            runs += 1;
        });
        assert!(result.is_err());
        assert_eq!(runs, 1);
        let message = result.unwrap_err().to_string();
        assert!(message.contains("ledger"), "{message}");
    }

    #[test]
    fn a_held_lock_times_out_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "s")
            .unwrap()
            .lock_wait(Duration::from_millis(20));
        let held = ledger.lock().unwrap();
        let err = ledger.append(change("a"), Source::Flags).unwrap_err();
        assert!(matches!(err, LedgerError::LockTimeout { .. }), "{err}");
        drop(held);
        ledger.append(change("a"), Source::Flags).unwrap();
    }

    #[test]
    fn session_names_become_safe_distinct_file_names() {
        assert_eq!(file_stem("gt-gastown-Toast").unwrap(), "gt-gastown-Toast");
        assert_eq!(file_stem("a/b").unwrap(), "a%2Fb");
        assert_ne!(file_stem("a/b").unwrap(), file_stem("a_b").unwrap());
        assert_eq!(file_stem("..").unwrap(), "%2E.");
        assert_eq!(file_stem("a%2Fb").unwrap(), "a%252Fb");
        assert_eq!(file_stem("é").unwrap(), "%C3%A9");
        assert!(file_stem("").is_err());
        assert!(file_stem(&"x".repeat(201)).is_err());
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "../../etc/passwd").unwrap();
        assert_eq!(
            ledger.path().parent(),
            Some(dir.path().join("ledger").as_path())
        );
    }
}
