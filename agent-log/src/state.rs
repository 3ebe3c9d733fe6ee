//! What `gt agent-log` keeps on disk per session: the single-instance lock, the pid file and
//! the checkpoint.
//!
//! One job: own the files of the state directory. The lock is an exclusive `flock` held for
//! the life of the process (the kernel releases it when the process dies, even by `kill -9`),
//! never a check-then-write pid file; the pid file is written after the lock is taken, for
//! operators.
//!
//! # The checkpoint: a base and a journal
//! A checkpoint is a *base* (`<stem>.checkpoint.json`: the whole [`Checkpoint`], written to a
//! temporary file, synced and renamed over the old one) plus a *journal* next to it
//! (`<stem>.checkpoint.json.journal`): one JSON line per commit holding only what that
//! commit changed ([`CheckpointDelta`]: the files whose state moved, the files forgotten, the
//! message ids added, the OpenCode cursor) and the session-level [`Totals`] written whole.
//! A line is appended with one `write` and `fdatasync`ed, so a commit's files and totals
//! advance together or not at all: [`Checkpoint::load`] applies the lines in order and stops
//! at the first incomplete one (a torn last line is a commit that did not happen; its batch
//! is read again). A commit therefore writes what its batch changed, not every followed
//! file's state. [`CheckpointStore`] folds the journal into a new base when it outgrows the
//! base ([`JOURNAL_MIN_BOUND`] at least), and on its first commit (which also drops a torn
//! tail or another checkpoint's journal). Each base carries a fresh generation and each
//! journal line the generation of the base it extends, so lines left over from an older base
//! (a crash between the rename and the truncation) are never applied to a newer one.
//!
//! A version-1 checkpoint (one file, no journal) is read as a base: it is migrated by the
//! first commit. This module must not decide what goes into a checkpoint or when one is
//! written.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, BufWriter, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use agent_transcripts::{AgentKind, DedupState};
use serde::{Deserialize, Serialize};

/// The file name stem for a session: ASCII letters, digits, `.`, `_` and `-` kept, every
/// other byte written as `%XX`, so two sessions never share files.
#[must_use]
pub fn session_stem(session: &str) -> String {
    let mut out = String::with_capacity(session.len());
    for b in session.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && !out.is_empty()) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The paths of one session's files in the state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFiles {
    /// `<stem>.lock`: flocked by the running instance.
    pub lock: PathBuf,
    /// `<stem>.pid`: the running instance's pid, for operators.
    pub pid: PathBuf,
    /// `<stem>.checkpoint.json`.
    pub checkpoint: PathBuf,
    /// `<stem>.log`: stderr of a `--detach`ed instance.
    pub log: PathBuf,
}

impl SessionFiles {
    /// The files of `session` under `state_dir`.
    #[must_use]
    pub fn new(state_dir: &Path, session: &str) -> Self {
        let stem = session_stem(session);
        Self {
            lock: state_dir.join(format!("{stem}.lock")),
            pid: state_dir.join(format!("{stem}.pid")),
            checkpoint: state_dir.join(format!("{stem}.checkpoint.json")),
            log: state_dir.join(format!("{stem}.log")),
        }
    }
}

/// Proof that this process is the one instance for a session. Dropping it removes the pid
/// file and releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    pid_path: PathBuf,
}

/// Taking the lock did not give this process the session.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another gt agent-log already follows this session (pid {})", .pid.map_or("unknown".to_owned(), |p| p.to_string()))]
    Held {
        /// The holder's pid, from the pid file, when readable.
        pid: Option<u32>,
    },
    /// The state directory or lock file could not be used.
    #[error("cannot use the lock file {path}: {source}; check the state directory's permissions")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl InstanceLock {
    /// Takes the session's lock without waiting, then writes the pid file.
    ///
    /// # Errors
    /// [`LockError::Held`] when another live process holds it; [`LockError::Io`] otherwise.
    pub fn acquire(files: &SessionFiles) -> Result<Self, LockError> {
        let io_err = |source| LockError::Io {
            path: files.lock.clone(),
            source,
        };
        if let Some(dir) = files.lock.parent() {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&files.lock)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    pid: read_pid(&files.pid),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        write_atomic(&files.pid, format!("{}\n", std::process::id()).as_bytes()).map_err(io_err)?;
        Ok(Self {
            file,
            pid_path: files.pid.clone(),
        })
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // Only the holder removes the pid file, and before releasing the lock, so it never
        // deletes a successor's.
        let _ = fs::remove_file(&self.pid_path);
        let _ = self.file.unlock();
    }
}

/// The pid in a pid file, if it holds one.
#[must_use]
pub fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes `bytes` to `path` through a synced temporary file renamed over it.
///
/// # Errors
/// Any I/O error; `path` then still holds its previous content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the content written by `write` into the temporary file.
fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        write(&mut f)?;
        f.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Format version of [`Checkpoint`]'s base file (2: base and journal); a checkpoint of
/// another version than this one or 1 (migrated) is ignored (with a warning) rather than
/// misread.
pub const CHECKPOINT_VERSION: u32 = 2;

/// The journal is folded into a new base once it is larger than the base and than this.
pub const JOURNAL_MIN_BOUND: u64 = 256 * 1024;

/// Where one followed file stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileCheckpoint {
    /// The transcript.
    pub path: PathBuf,
    /// Device of the file the offset belongs to.
    pub dev: u64,
    /// Inode of the file the offset belongs to.
    pub ino: u64,
    /// The file's size when the checkpoint was taken.
    pub size: u64,
    /// Everything before this byte has been exported (or was skipped).
    pub offset: u64,
    /// The parser's state at `offset` (dedup keys, usage held back, Codex running totals).
    pub parser: Option<DedupState>,
    /// What the bytes before `offset` were and what was handed on from them, to tell a file
    /// that grew from one that was rewritten (absent in older checkpoints). See
    /// [`crate::tail`]'s module docs.
    #[serde(flatten)]
    pub consumed: crate::tail::Consumed,
}

/// One session's progress: written only after the records it covers were confirmed exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`CHECKPOINT_VERSION`].
    pub version: u32,
    /// The Gas Town session.
    pub session: String,
    /// The agent.
    pub agent: AgentKind,
    /// The work directory followed.
    pub work_dir: PathBuf,
    /// Per file.
    pub files: Vec<FileCheckpoint>,
    /// Message ids whose usage was exported, oldest first (bounded): a request copied into
    /// another transcript (a resumed session) is not counted twice.
    pub emitted_messages: Vec<String>,
    /// Totals since the checkpoint was created.
    pub totals: Totals,
    /// Where an OpenCode database is read up to (absent for transcript files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opencode_db: Option<DbCheckpoint>,
    /// This checkpoint's name as a counter contributor (a UUID made with it): the counter
    /// totals ([`Totals::counters`]) are published under it, so a restart from this
    /// checkpoint publishes the same totals under the same name and counts nothing twice.
    #[serde(default)]
    pub id: String,
}

/// The key of an OpenCode database row in reading order: `(time_updated, table, id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RowKey {
    /// The row's `time_updated` (epoch milliseconds, bumped by OpenCode on every write).
    pub time_updated: i64,
    /// 0 for the `message` table, 1 for `part` (a message sorts before its parts).
    pub table: u8,
    /// The row's `id`.
    pub id: String,
}

/// Where one OpenCode database stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbCheckpoint {
    /// The database file.
    pub path: PathBuf,
    /// Every row at or before this key has been exported (or produced nothing); `None`:
    /// nothing read yet.
    pub cursor: Option<RowKey>,
    /// The parser's dedup state at `cursor` (message and part ids already emitted).
    pub parser: DedupState,
}

/// What a follower has exported and skipped, and the counters it publishes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// `agent.usage` records confirmed.
    pub usage_records: u64,
    /// `agent.event` records confirmed.
    pub event_records: u64,
    /// Usages whose model has no price (recorded without a cost).
    pub unpriced_usages: u64,
    /// Usages dropped because another transcript already carried their message.
    pub duplicate_messages: u64,
    /// Records older than the retention the sink assumed ([`crate::sink::Recorded::stale`]).
    pub stale_records: u64,
    /// The oldest of those records' times.
    pub oldest_stale: Option<std::time::SystemTime>,
    /// Lines that produced nothing, by reason.
    pub skipped: agent_transcripts::SkipCounts,
    /// The agent counters of every confirmed export since the checkpoint was created (the
    /// sink's, taken at each commit): journaled with the positions they count, published
    /// under [`Checkpoint::id`].
    #[serde(
        default,
        skip_serializing_if = "telemetry_recorder::AgentTotals::is_empty"
    )]
    pub counters: telemetry_recorder::AgentTotals,
    /// Followed files found rewritten, replaced or truncated (each one read again from its
    /// start, with a warning).
    #[serde(default)]
    pub rewritten_files: u64,
}

impl Totals {
    /// Adds `other`.
    pub fn add(&mut self, other: &Self) {
        self.counters.add(&other.counters);
        self.usage_records += other.usage_records;
        self.event_records += other.event_records;
        self.unpriced_usages += other.unpriced_usages;
        self.duplicate_messages += other.duplicate_messages;
        self.stale_records += other.stale_records;
        self.oldest_stale = min_time(self.oldest_stale, other.oldest_stale);
        self.skipped += other.skipped;
        self.rewritten_files += other.rewritten_files;
    }

    /// Counts what recording one event made.
    pub fn count(&mut self, r: &crate::sink::Recorded) {
        self.usage_records += u64::from(r.usage);
        self.event_records += u64::from(r.event);
        self.unpriced_usages += u64::from(r.unpriced);
        if r.stale.is_some() {
            self.stale_records += 1;
            self.oldest_stale = min_time(self.oldest_stale, r.stale);
        }
    }
}

fn min_time(
    a: Option<std::time::SystemTime>,
    b: Option<std::time::SystemTime>,
) -> Option<std::time::SystemTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What one commit changed: one journal line. Files are written whole (their state after
/// the commit), message ids as appended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointDelta {
    /// Files whose committed state changed or that are new, as they now stand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileCheckpoint>,
    /// Files no longer followed (applied before `files`: a path may be removed and re-added).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<PathBuf>,
    /// Message ids appended to [`Checkpoint::emitted_messages`], oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// The OpenCode database's position, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opencode_db: Option<DbCheckpoint>,
}

impl CheckpointDelta {
    /// Whether the delta changes nothing (the totals may still have changed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.removed.is_empty()
            && self.messages.is_empty()
            && self.opencode_db.is_none()
    }
}

/// The base file: the whole checkpoint and the generation its journal lines must carry.
#[derive(Serialize)]
struct BaseOut<'a> {
    version: u32,
    generation: u64,
    checkpoint: &'a Checkpoint,
}

#[derive(Deserialize)]
struct BaseIn {
    generation: u64,
    checkpoint: Checkpoint,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

/// One journal line.
#[derive(Serialize)]
struct EntryOut<'a> {
    generation: u64,
    totals: &'a Totals,
    delta: &'a CheckpointDelta,
}

#[derive(Deserialize)]
struct EntryIn {
    generation: u64,
    totals: Totals,
    delta: CheckpointDelta,
}

/// The journal of the checkpoint whose base is `base`: the same name plus `.journal`.
#[must_use]
pub fn journal_path(base: &Path) -> PathBuf {
    let mut name = base.file_name().unwrap_or_default().to_owned();
    name.push(".journal");
    base.with_file_name(name)
}

/// A generation no earlier base of this checkpoint can have had.
fn new_generation(previous: Option<u64>) -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    // Never 0 (a migrated version-1 base), and past any generation this process wrote.
    now.max(previous.map_or(1, |p| p + 1)).max(1)
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is not a checkpoint: {what}", path.display()),
    )
}

impl Checkpoint {
    /// Reads a checkpoint (its base, then the complete lines of its journal); `Ok(None)` when
    /// there is none yet.
    ///
    /// # Errors
    /// An I/O error other than "not found", or a base that is not a checkpoint (the message
    /// names the file).
    pub fn load(path: &Path) -> io::Result<Option<Self>> {
        let text = match fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let version = serde_json::from_slice::<VersionOnly>(&text)
            .map_err(|e| invalid(path, e))?
            .version;
        let (generation, mut cp) = match version {
            // Migrated: a whole checkpoint without a journal.
            1 => (
                0,
                serde_json::from_slice::<Self>(&text).map_err(|e| invalid(path, e))?,
            ),
            CHECKPOINT_VERSION => {
                let base: BaseIn = serde_json::from_slice(&text).map_err(|e| invalid(path, e))?;
                (base.generation, base.checkpoint)
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} has checkpoint version {other}, this gt writes {CHECKPOINT_VERSION}",
                        path.display()
                    ),
                ));
            }
        };
        drop(text);
        cp.version = CHECKPOINT_VERSION;
        if generation != 0 {
            cp.replay_journal(&journal_path(path), generation)?;
        }
        Ok(Some(cp))
    }

    /// Applies the complete lines of `journal` written for the base of `generation`.
    fn replay_journal(&mut self, journal: &Path, generation: u64) -> io::Result<()> {
        let file = match File::open(journal) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut index: HashMap<PathBuf, usize> = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 || line.last() != Some(&b'\n') {
                // The end, or a torn last line: that commit did not happen.
                return Ok(());
            }
            let Ok(entry) = serde_json::from_slice::<EntryIn>(&line) else {
                return Ok(());
            };
            if entry.generation == generation {
                self.apply(entry.delta, entry.totals, &mut index);
            }
        }
    }

    /// Applies one commit's changes; `index` maps each file's path to its place in `files`.
    fn apply(
        &mut self,
        delta: CheckpointDelta,
        totals: Totals,
        index: &mut HashMap<PathBuf, usize>,
    ) {
        if !delta.removed.is_empty() {
            for path in &delta.removed {
                index.remove(path);
            }
            self.files.retain(|f| index.contains_key(&f.path));
            for (i, f) in self.files.iter().enumerate() {
                index.insert(f.path.clone(), i);
            }
        }
        for file in delta.files {
            match index.get(&file.path) {
                Some(&i) => self.files[i] = file,
                None => {
                    index.insert(file.path.clone(), self.files.len());
                    self.files.push(file);
                }
            }
        }
        self.emitted_messages.extend(delta.messages);
        let over = self
            .emitted_messages
            .len()
            .saturating_sub(crate::settings::MESSAGE_MEMORY);
        self.emitted_messages.drain(..over);
        if delta.opencode_db.is_some() {
            self.opencode_db = delta.opencode_db;
        }
        self.totals = totals;
    }

    /// Saves the whole checkpoint atomically as a new base (see [`write_atomic`]) and empties
    /// its journal.
    ///
    /// # Errors
    /// Any I/O error; the previous checkpoint then stays in place.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        self.write_base(path, new_generation(None)).map(|_| ())?;
        truncate_journal(&journal_path(path))
    }

    /// Writes the base of `generation`; returns its length.
    fn write_base(&self, path: &Path, generation: u64) -> io::Result<u64> {
        let base = BaseOut {
            version: CHECKPOINT_VERSION,
            generation,
            checkpoint: self,
        };
        let mut len = 0;
        write_atomic_with(path, |f| {
            let mut out = BufWriter::new(f);
            serde_json::to_writer(&mut out, &base).map_err(io::Error::other)?;
            let f = out.into_inner().map_err(io::IntoInnerError::into_error)?;
            len = f.stream_position()?;
            Ok(())
        })?;
        Ok(len)
    }
}

fn truncate_journal(journal: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).open(journal) {
        Ok(f) => f.set_len(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes one session's checkpoint commit by commit: a journal line per commit, a new base
/// when the journal outgrew the old one. See the [module docs](self).
#[derive(Debug)]
pub struct CheckpointStore {
    base: PathBuf,
    journal_path: PathBuf,
    /// The generation of the base this process wrote; `None` before its first commit, or
    /// after a failed write (the next commit then writes a new base).
    generation: Option<u64>,
    journal: Option<File>,
    base_len: u64,
    journal_len: u64,
    last_generation: Option<u64>,
    /// [`JOURNAL_MIN_BOUND`] (smaller in tests).
    min_bound: u64,
}

impl CheckpointStore {
    /// The store of the checkpoint whose base is `base`.
    #[must_use]
    pub fn new(base: PathBuf) -> Self {
        Self {
            journal_path: journal_path(&base),
            base,
            generation: None,
            journal: None,
            base_len: 0,
            journal_len: 0,
            last_generation: None,
            min_bound: JOURNAL_MIN_BOUND,
        }
    }

    /// The base file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.base
    }

    /// Records one commit: `delta` and `totals` as one synced journal line, or, on the first
    /// commit and when the journal outgrew the base, `whole()` (the checkpoint after this
    /// commit) as a new base.
    ///
    /// # Errors
    /// Any I/O error; what is on disk is then the checkpoint of an earlier commit, and the
    /// next commit writes a whole new base.
    pub fn commit(
        &mut self,
        delta: &CheckpointDelta,
        totals: &Totals,
        whole: impl FnOnce() -> Checkpoint,
    ) -> io::Result<()> {
        let result = match self.generation {
            Some(generation) if self.journal_len <= self.base_len.max(self.min_bound) => {
                self.append(generation, delta, totals)
            }
            _ => self.compact(&whole()),
        };
        if result.is_err() {
            self.generation = None;
            self.journal = None;
        }
        result
    }

    fn append(
        &mut self,
        generation: u64,
        delta: &CheckpointDelta,
        totals: &Totals,
    ) -> io::Result<()> {
        let mut line = serde_json::to_vec(&EntryOut {
            generation,
            totals,
            delta,
        })
        .map_err(io::Error::other)?;
        line.push(b'\n');
        let journal = match &mut self.journal {
            Some(f) => f,
            None => self.journal.insert(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.journal_path)?,
            ),
        };
        if let Err(err) = journal.write_all(&line).and_then(|()| journal.sync_data()) {
            // Take a partly written line back, so later lines are not hidden behind it.
            let _ = journal.set_len(self.journal_len);
            return Err(err);
        }
        self.journal_len += line.len() as u64;
        Ok(())
    }

    fn compact(&mut self, whole: &Checkpoint) -> io::Result<()> {
        let generation = new_generation(self.last_generation);
        self.last_generation = Some(generation);
        self.base_len = whole.write_base(&self.base, generation)?;
        // Lines of the old base are ignored from here on (another generation); dropping them
        // only saves space and reading time.
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.journal_path)?;
        journal.set_len(0)?;
        self.journal = Some(journal);
        self.journal_len = 0;
        self.generation = Some(generation);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_stems_are_file_names_that_never_collide() {
        assert_eq!(session_stem("gt-gastown-Toast"), "gt-gastown-Toast");
        assert_eq!(session_stem("a/b"), "a%2Fb");
        assert_eq!(session_stem("a%2Fb"), "a%252Fb");
        assert_eq!(session_stem(".."), "%2E.");
        assert_eq!(session_stem(""), "");
    }

    #[test]
    fn second_lock_on_a_session_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let files = SessionFiles::new(dir.path(), "s1");
        let first = InstanceLock::acquire(&files).unwrap();
        assert_eq!(read_pid(&files.pid), Some(std::process::id()));
        match InstanceLock::acquire(&files) {
            Err(LockError::Held { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        assert!(!files.pid.exists());
        let _again = InstanceLock::acquire(&files).unwrap();
    }

    fn file(i: u64, offset: u64) -> FileCheckpoint {
        FileCheckpoint {
            path: format!("/t{i}.jsonl").into(),
            dev: 1,
            ino: i,
            size: offset,
            offset,
            parser: None,
            consumed: crate::tail::Consumed::default(),
        }
    }

    fn checkpoint(files: u64) -> Checkpoint {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            session: "s".into(),
            agent: AgentKind::ClaudeCode,
            work_dir: "/w".into(),
            files: (0..files).map(|i| file(i, 0)).collect(),
            emitted_messages: Vec::new(),
            totals: Totals::default(),
            opencode_db: None,
            id: "c".into(),
        }
    }

    /// Commits `n` batches each touching one file and adding `ids` message ids, as `cp` does.
    fn commit_with(store: &mut CheckpointStore, cp: &mut Checkpoint, n: u64, ids: u64) {
        let files = cp.files.len() as u64;
        for k in 0..n {
            let touched = file(k % files, k + 1);
            cp.files[usize::try_from(k % files).unwrap()] = touched.clone();
            let messages: Vec<String> = (0..ids)
                .map(|i| format!("m{}-{k}-{i}", cp.totals.usage_records))
                .collect();
            cp.emitted_messages.extend(messages.iter().cloned());
            let over = cp
                .emitted_messages
                .len()
                .saturating_sub(crate::settings::MESSAGE_MEMORY);
            cp.emitted_messages.drain(..over);
            cp.totals.usage_records += 1;
            let delta = CheckpointDelta {
                files: vec![touched],
                messages,
                ..CheckpointDelta::default()
            };
            let whole = cp.clone();
            store.commit(&delta, &cp.totals, || whole).unwrap();
        }
    }

    fn commit_batches(store: &mut CheckpointStore, cp: &mut Checkpoint, n: u64) {
        commit_with(store, cp, n, 1);
    }

    /// A store in a new directory, after `n` commits over `files` files.
    fn committed(files: u64, n: u64) -> (tempfile::TempDir, PathBuf, CheckpointStore, Checkpoint) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let mut store = CheckpointStore::new(path.clone());
        let mut cp = checkpoint(files);
        commit_batches(&mut store, &mut cp, n);
        (dir, path, store, cp)
    }

    #[test]
    fn a_journal_of_deltas_resolves_to_the_whole_checkpoint() {
        let (_dir, path, mut store, mut cp) = committed(50, 30);
        assert_eq!(Checkpoint::load(&path).unwrap().as_ref(), Some(&cp));
        // The first commit wrote the base; each later one appended one line.
        let journal = fs::read_to_string(journal_path(&path)).unwrap();
        assert_eq!(journal.lines().count(), 29);
        assert!(
            journal.lines().all(|l| l.matches("\"path\"").count() == 1),
            "a line holds the one file its batch touched: {journal}"
        );
        // Removed files go, re-added ones come back at the end.
        let delta = CheckpointDelta {
            removed: vec!["/t3.jsonl".into(), "/t4.jsonl".into()],
            files: vec![file(4, 9)],
            ..CheckpointDelta::default()
        };
        cp.files.retain(|f| f.ino != 3 && f.ino != 4);
        cp.files.push(file(4, 9));
        let whole = cp.clone();
        store.commit(&delta, &cp.totals, || whole).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(cp));
    }

    #[test]
    fn a_torn_last_line_is_a_commit_that_did_not_happen() {
        let (_dir, path, mut store, mut cp) = committed(5, 4);
        let before = Checkpoint::load(&path).unwrap().unwrap();
        assert_eq!(before, cp);
        commit_batches(&mut store, &mut cp, 1);
        let journal = journal_path(&path);
        let full = fs::read(&journal).unwrap();
        // Cut the last line anywhere, even just before its newline.
        for cut in [full.len() - 1, full.len() - 20] {
            fs::write(&journal, &full[..cut]).unwrap();
            assert_eq!(Checkpoint::load(&path).unwrap().as_ref(), Some(&before));
        }
        // The next process starts with a new base: the torn line never hides later ones.
        let mut store = CheckpointStore::new(path.clone());
        let mut cp = before;
        commit_batches(&mut store, &mut cp, 3);
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(cp));
    }

    #[test]
    fn lines_of_an_older_base_are_never_applied_to_a_newer_one() {
        let (_dir, path, _store, _cp) = committed(3, 5);
        let old_journal = fs::read(journal_path(&path)).unwrap();
        // A new base (a restart's first commit), then a crash before the journal was emptied.
        let mut store = CheckpointStore::new(path.clone());
        let mut fresh = checkpoint(3);
        commit_batches(&mut store, &mut fresh, 1);
        fs::write(journal_path(&path), old_journal).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(fresh));
    }

    #[test]
    fn the_journal_is_folded_into_a_new_base_when_it_outgrows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let mut store = CheckpointStore::new(path.clone());
        store.min_bound = 2048;
        let mut cp = checkpoint(2);
        let mut folded = 0;
        let mut last_len = 0;
        for _ in 0..150 {
            commit_with(&mut store, &mut cp, 1, 80);
            let len = fs::metadata(journal_path(&path)).unwrap().len();
            let base = fs::metadata(&path).unwrap().len();
            assert!(
                len <= base.max(2048) + 4096,
                "journal {len} bytes, base {base}"
            );
            folded += usize::from(len < last_len);
            last_len = len;
        }
        assert!(folded >= 2, "folded {folded} times");
        let loaded = Checkpoint::load(&path).unwrap().unwrap();
        assert_eq!(
            loaded.emitted_messages.len(),
            crate::settings::MESSAGE_MEMORY
        );
        assert_eq!(loaded, cp);
    }

    #[test]
    fn a_version_1_checkpoint_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let mut v1 = serde_json::to_value(checkpoint(2)).unwrap();
        v1["version"] = 1.into();
        fs::write(&path, v1.to_string()).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(checkpoint(2)));
        v1["version"] = 7.into();
        fs::write(&path, v1.to_string()).unwrap();
        assert!(Checkpoint::load(&path).is_err());
    }

    #[test]
    fn checkpoints_round_trip_and_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        assert!(Checkpoint::load(&path).unwrap().is_none());
        let cp = Checkpoint {
            version: CHECKPOINT_VERSION,
            session: "s".into(),
            agent: AgentKind::ClaudeCode,
            work_dir: "/w".into(),
            files: vec![FileCheckpoint {
                path: "/t.jsonl".into(),
                dev: 1,
                ino: 2,
                size: 30,
                offset: 20,
                parser: None,
                consumed: crate::tail::Consumed::default(),
            }],
            emitted_messages: vec!["msg_1".into()],
            totals: Totals::default(),
            opencode_db: None,
            id: "c1".into(),
        };
        cp.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(cp));
        fs::write(&path, b"{").unwrap();
        assert!(Checkpoint::load(&path).is_err());
    }
}
