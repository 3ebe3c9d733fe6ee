//! What `gt agent-log` keeps on disk per session: the single-instance lock, the pid file and
//! the checkpoint.
//!
//! One job: own the files of the state directory. The lock is an exclusive `flock` held for
//! the life of the process (the kernel releases it when the process dies, even by `kill -9`),
//! never a check-then-write pid file; the pid file is written after the lock is taken, for
//! operators. Checkpoints are written to a temporary file, synced and renamed over the old
//! one, so a reader sees the old or the new checkpoint, never a mix. This module must not
//! decide what goes into a checkpoint or when one is written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

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
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Format version of [`Checkpoint`]; a checkpoint of another version is ignored (with a
/// warning) rather than misread.
pub const CHECKPOINT_VERSION: u32 = 1;

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

/// What a follower has exported and skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Followed files found rewritten, replaced or truncated (each one read again from its
    /// start, with a warning).
    #[serde(default)]
    pub rewritten_files: u64,
}

impl Totals {
    /// Adds `other`.
    pub fn add(&mut self, other: &Self) {
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

impl Checkpoint {
    /// Reads a checkpoint; `Ok(None)` when there is none yet.
    ///
    /// # Errors
    /// An I/O error other than "not found", or a file that is not a checkpoint (the message
    /// names the file).
    pub fn load(path: &Path) -> io::Result<Option<Self>> {
        let text = match fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let cp: Self = serde_json::from_slice(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a checkpoint: {e}", path.display()),
            )
        })?;
        if cp.version != CHECKPOINT_VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} has checkpoint version {}, this gt writes {CHECKPOINT_VERSION}",
                    path.display(),
                    cp.version
                ),
            ));
        }
        Ok(Some(cp))
    }

    /// Saves atomically (see [`write_atomic`]).
    ///
    /// # Errors
    /// Any I/O error; the previous checkpoint then stays in place.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(io::Error::other)?;
        write_atomic(path, &bytes)
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
        };
        cp.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(cp));
        fs::write(&path, b"{").unwrap();
        assert!(Checkpoint::load(&path).is_err());
    }
}
