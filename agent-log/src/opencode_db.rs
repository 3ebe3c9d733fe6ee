//! Following OpenCode's SQLite database (OpenCode ≥ 1.2).
//!
//! One job: [`Database`] reads the `message` and `part` rows of the sessions of one work
//! directory (`session.directory`) in bounded batches, hands each row's `data` to
//! agent-transcripts' [`OpenCodeParser`], and, as a [`BatchSource`] driven by
//! [`crate::pump`], commits its position only once the batch's export was confirmed: the
//! [`RowKey`] of the last row delivered plus the parser's dedup state. A rewind puts the
//! cursor and the parser back where the last confirmed batch left them, exactly like the
//! transcript files ([`crate::follow`]).
//!
//! # The database (checked Nov 2026)
//! `$XDG_DATA_HOME/opencode/opencode.db` (default `~/.local/share/opencode/opencode.db`; found
//! by [`agent_transcripts::paths::opencode_database`]),
//! written by OpenCode through Drizzle in WAL mode: `session(id, directory, …, time_created,
//! time_updated)`, `message(id, session_id, time_created, time_updated, data)`, `part(id,
//! message_id, session_id, time_created, time_updated, data)`, `data` being the JSON document
//! without its ids. OpenCode bumps `time_updated` on every write of a row (its timestamps
//! carry Drizzle's `$onUpdate`, which upserts apply too), so rows are read in
//! `(time_updated, table, id)` order from a keyset cursor: a row rewritten later (a message
//! completed, a part finished) comes again and the parser, which emits each message usage and
//! each part once, takes what it did not emit before.
//!
//! The database is opened read-only (`SQLITE_OPEN_READ_ONLY`, never a write, never a pragma
//! that writes) with a busy timeout; each query is its own read transaction, so OpenCode's
//! writer is never blocked beyond a statement and WAL content is seen as committed.
//!
//! # Edges
//! OpenCode writes several rows in one millisecond (a message completed right after its last
//! part): each read starts again at the cursor's millisecond, so a row committed after the
//! cursor passed a row of the same millisecond is still read (rows read again add nothing).
//! A row committed after a row with a larger `time_updated` was already read (two OpenCode
//! processes writing the same database, one waiting for the lock with an older timestamp,
//! or the clock going back) sorts behind the cursor and is not read. A missing database is
//! waited for; a database that cannot be read is warned about once and retried every poll.
//! A database deleted, or replaced by another file, while followed is a new database: opened
//! again and read from its start, with one warning; the parser's ids keep what was exported
//! from counting twice. Replaced while the follower was stopped, it is read from the
//! checkpoint's cursor (rows OpenCode writes from then on have later times).
//! It must not write to the database, talk HTTP, or parse documents itself.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use agent_transcripts::{
    AgentKind, DedupState, DocumentIds, Event, OpenCodeParser, TranscriptParser as _,
};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::pump::{BatchSource, Pump, ReadEnd, Recorder};
use crate::sink::Sink;
use crate::state::{CHECKPOINT_VERSION, Checkpoint, CheckpointDelta, DbCheckpoint, RowKey, Totals};

/// The database's file name in OpenCode's data directory.
pub const DATABASE_FILE: &str = agent_transcripts::paths::OPENCODE_DATABASE_FILE;
/// How long a query waits for a lock OpenCode holds (a WAL checkpoint, a recovery).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Rows fetched per query: memory holds at most this many rows' documents at once.
const ROWS_PER_QUERY: usize = 256;

/// Whether `path` looks like an OpenCode database (a `.db` file starting with SQLite's magic).
#[must_use]
pub fn is_database(path: &Path) -> bool {
    use std::io::Read as _;
    if path.extension().is_none_or(|e| e != "db") {
        return false;
    }
    let mut magic = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"SQLite format 3\0")
}

/// Opens `path` read-only, for reading only.
///
/// # Errors
/// When the file is missing or is not a readable SQLite database.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Which sessions' rows are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sessions {
    /// Those whose `directory` is one of these (the work directory as given and canonical).
    Directory(Vec<String>),
    /// Every session (replay of a whole database).
    All,
}

impl Sessions {
    /// The sessions of `work_dir`, matched as given and canonicalized.
    #[must_use]
    pub fn of_work_dir(work_dir: &Path) -> Self {
        let mut dirs = vec![work_dir.to_string_lossy().into_owned()];
        if let Ok(c) = work_dir.canonicalize() {
            let c = c.to_string_lossy().into_owned();
            if !dirs.contains(&c) {
                dirs.push(c);
            }
        }
        Self::Directory(dirs)
    }
}

/// One row, as read.
struct Row {
    key: RowKey,
    session_id: String,
    message_id: Option<String>,
    data: Vec<u8>,
}

const QUERY: &str = "
SELECT time_updated, tbl, id, session_id, message_id, data FROM (
  SELECT m.time_updated AS time_updated, 0 AS tbl, m.id AS id, m.session_id AS session_id,
         NULL AS message_id, m.data AS data
    FROM message m
   WHERE ?1 OR m.session_id IN (SELECT s.id FROM session s WHERE s.directory IN (?2, ?3))
  UNION ALL
  SELECT p.time_updated, 1, p.id, p.session_id, p.message_id, p.data
    FROM part p
   WHERE ?1 OR p.session_id IN (SELECT s.id FROM session s WHERE s.directory IN (?2, ?3))
)
WHERE (time_updated, tbl, id) > (?4, ?5, ?6)
ORDER BY time_updated, tbl, id
LIMIT ?7";

/// Reads up to `limit` rows after `after` (from the start when `None`).
fn query(
    conn: &Connection,
    sessions: &Sessions,
    after: Option<&RowKey>,
    limit: usize,
) -> rusqlite::Result<Vec<Row>> {
    let (all, d1, d2) = match sessions {
        Sessions::All => (true, "", ""),
        Sessions::Directory(dirs) => (
            false,
            dirs.first().map_or("", String::as_str),
            dirs.get(1).or(dirs.first()).map_or("", String::as_str),
        ),
    };
    let start = RowKey {
        time_updated: i64::MIN,
        table: 0,
        id: String::new(),
    };
    let after = after.unwrap_or(&start);
    let mut stmt = conn.prepare(QUERY)?;
    let rows = stmt.query_map(
        rusqlite::params![
            all,
            d1,
            d2,
            after.time_updated,
            after.table,
            after.id,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |r| {
            let data = match r.get_ref(5)? {
                ValueRef::Text(t) | ValueRef::Blob(t) => t.to_vec(),
                _ => Vec::new(),
            };
            Ok(Row {
                key: RowKey {
                    time_updated: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                    table: r.get(1)?,
                    id: r.get(2)?,
                },
                session_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                message_id: r.get(4)?,
                data,
            })
        },
    )?;
    rows.collect()
}

/// What a [`DbFollower`] reads.
#[derive(Debug, Clone)]
pub struct DbSource {
    /// The database file.
    pub path: PathBuf,
    /// Whose rows.
    pub sessions: Sessions,
    /// The work directory, as the checkpoint names it (empty for a replay).
    pub work_dir: PathBuf,
    /// Without a checkpoint, rows last written before this are skipped.
    pub since: Option<SystemTime>,
}

/// Every usage of `sessions` in the database at `path`, read once (for `report`), with the
/// rows that produced nothing counted by reason.
///
/// # Errors
/// When the database cannot be opened or read.
pub fn read_usages(
    path: &Path,
    sessions: &Sessions,
) -> rusqlite::Result<(Vec<agent_transcripts::Usage>, agent_transcripts::SkipCounts)> {
    let conn = open_read_only(path)?;
    let mut parser = OpenCodeParser::exact();
    let (mut usages, mut skipped) = (Vec::new(), agent_transcripts::SkipCounts::default());
    let (mut cursor, mut events) = (None, Vec::new());
    loop {
        let rows = query(&conn, sessions, cursor.as_ref(), ROWS_PER_QUERY)?;
        let full = rows.len() == ROWS_PER_QUERY;
        for row in rows {
            let ids = DocumentIds {
                id: Some(&row.key.id),
                session_id: Some(&row.session_id),
                message_id: row.message_id.as_deref(),
            };
            skipped.record(parser.parse_document(&row.data, ids, &mut events));
            usages.extend(events.drain(..).filter_map(|e| match e {
                Event::Usage(u) => Some(u),
                Event::Content(_) => None,
            }));
            cursor = Some(row.key);
        }
        if !full {
            // The end of the rows: messages that never finished count with their last tokens.
            parser.flush(&mut events);
            usages.extend(events.into_iter().filter_map(|e| match e {
                Event::Usage(u) => Some(u),
                Event::Content(_) => None,
            }));
            return Ok((usages, skipped));
        }
    }
}

/// A pump over an OpenCode database.
pub type DbFollower<S> = Pump<Database, S>;

/// See the [module docs](self).
pub struct Database {
    path: PathBuf,
    sessions: Sessions,
    session: String,
    work_dir: PathBuf,
    conn: Option<Connection>,
    parser: OpenCodeParser,
    committed_parser: DedupState,
    cursor: Option<RowKey>,
    committed: Option<RowKey>,
    /// Rows were committed since the last checkpoint write.
    unsaved: bool,
    read_warned: bool,
    /// The identity of the file `conn` was opened on.
    opened: Option<FileId>,
}

/// What tells one database file from another at the same path: device, inode and birth time
/// (an inode number is reused once the old file is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64, Option<SystemTime>);

impl FileId {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(path)
            .ok()
            .filter(std::fs::Metadata::is_file)?;
        Some(Self(m.dev(), m.ino(), m.created().ok()))
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .field("session", &self.session)
            .field("committed", &self.committed)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// The rows `source` names, for `session`.
    #[must_use]
    pub fn new(source: DbSource, session: &str) -> Self {
        let DbSource {
            path,
            sessions,
            work_dir,
            since,
        } = source;
        let cursor = since.map(|s| {
            let ms = s
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            // Before every row written at `since` or later.
            RowKey {
                time_updated: ms - 1,
                table: u8::MAX,
                id: String::new(),
            }
        });
        let parser = OpenCodeParser::new();
        Self {
            path,
            sessions,
            session: session.to_owned(),
            work_dir,
            conn: None,
            committed_parser: parser.dedup_state(),
            parser,
            committed: cursor.clone(),
            cursor,
            unsaved: false,
            read_warned: false,
            opened: None,
        }
    }

    /// A [`DbFollower`] of `source` for `session` into `sink`, resuming from `checkpoint`
    /// when it is for the same database, saving checkpoints to `checkpoint_path` when given.
    #[must_use]
    pub fn follower<S: Sink>(
        source: DbSource,
        session: &str,
        sink: S,
        checkpoint: Option<Checkpoint>,
        checkpoint_path: Option<PathBuf>,
    ) -> DbFollower<S> {
        Pump::new(
            Self::new(source, session),
            sink,
            checkpoint,
            checkpoint_path,
        )
    }

    /// The database followed.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db_checkpoint(&self) -> DbCheckpoint {
        DbCheckpoint {
            path: self.path.clone(),
            cursor: self.committed.clone(),
            parser: self.committed_parser.clone(),
        }
    }

    fn warn_read(&mut self, err: &rusqlite::Error) {
        if !self.read_warned {
            self.read_warned = true;
            eprintln!(
                "gt agent-log: warning: cannot read {}: {err}; trying again every poll",
                self.path.display()
            );
        }
    }

    /// Opens the database when it is not open, and again when the file at its path is no
    /// longer the one open (deleted, or replaced by another database: an open connection
    /// would go on reading the old file's rows forever). A replacement is a new database: it
    /// is read from its start, the parser's message and part ids keeping what was exported
    /// from being counted again.
    fn connect(&mut self) {
        let now = FileId::of(&self.path);
        if self.conn.is_some() && now != self.opened {
            self.conn = None;
        }
        let Some(now) = now.filter(|_| self.conn.is_none()) else {
            return;
        };
        match open_read_only(&self.path) {
            Ok(c) => {
                if self.opened.is_some_and(|old| old != now) {
                    eprintln!(
                        "gt agent-log: warning: {} was replaced by another database; reading \
                         it from its start",
                        self.path.display()
                    );
                    self.cursor = None;
                    self.committed = None;
                    self.unsaved = true;
                }
                self.opened = Some(now);
                self.conn = Some(c);
            }
            Err(err) => self.warn_read(&err),
        }
    }
}

impl BatchSource for Database {
    fn resume(&mut self, cp: Checkpoint) -> Totals {
        match cp.opencode_db {
            Some(db) if db.path == self.path => {
                self.cursor = db.cursor;
                if let Err(err) = self.parser.restore_dedup_state(db.parser) {
                    eprintln!("gt agent-log: warning: checkpoint parser state: {err}");
                }
                self.committed_parser = self.parser.dedup_state();
                self.committed.clone_from(&self.cursor);
                cp.totals
            }
            _ => Totals::default(),
        }
    }

    /// Nothing to discover: the database is opened (again) by the next read when needed.
    fn scan(&mut self) {}

    /// Reads rows into `out` until `budget` records were made or no row is left.
    fn read<S: Sink>(&mut self, budget: &mut usize, out: &mut Recorder<'_, S>) -> ReadEnd {
        let mut events = Vec::new();
        let more = |more| ReadEnd {
            more,
            ..ReadEnd::default()
        };
        // The first query starts again at the cursor's millisecond: OpenCode writes several
        // rows in one millisecond, and a row committed after the cursor passed a row of the
        // same millisecond with a larger (table, id) (a message completed right after its
        // last part) would sort behind it. Rows read again add nothing: the parser emits each
        // message and part once.
        let mut first = true;
        while *budget > 0 {
            self.connect();
            let Some(conn) = self.conn.as_ref() else {
                return more(false);
            };
            let from = match &self.cursor {
                // A `since` start has no id: it is no row, nothing of its millisecond was read.
                Some(c) if std::mem::take(&mut first) && !c.id.is_empty() => Some(RowKey {
                    table: 0,
                    id: String::new(),
                    ..c.clone()
                }),
                c => c.clone(),
            };
            let rows = match query(conn, &self.sessions, from.as_ref(), ROWS_PER_QUERY) {
                Ok(rows) => rows,
                Err(err) => {
                    self.warn_read(&err);
                    // Opened again on the next pump: the file may have been replaced.
                    self.conn = None;
                    return more(false);
                }
            };
            self.read_warned = false;
            let full = rows.len() == ROWS_PER_QUERY;
            for row in rows {
                let ids = DocumentIds {
                    id: Some(&row.key.id),
                    session_id: Some(&row.session_id),
                    message_id: row.message_id.as_deref(),
                };
                let outcome = self.parser.parse_document(&row.data, ids, &mut events);
                if self.cursor.as_ref().is_none_or(|c| row.key > *c) {
                    out.batch().skipped.record(outcome);
                    self.cursor = Some(row.key);
                }
                for event in events.drain(..) {
                    *budget = budget.saturating_sub(out.record(AgentKind::OpenCode, &event));
                }
                if *budget == 0 {
                    return more(true);
                }
            }
            if !full {
                return more(false);
            }
        }
        more(true)
    }

    /// A replay (every session) read the database to its end: messages that never finished
    /// count with their last tokens, as `report` counts them. A follower keeps them held in
    /// its checkpoint until they finish.
    fn finish_read<S: Sink>(&mut self, out: &mut Recorder<'_, S>) -> usize {
        if self.sessions != Sessions::All {
            return 0;
        }
        let mut events = Vec::new();
        self.parser.flush(&mut events);
        events
            .iter()
            .map(|e| out.record(AgentKind::OpenCode, e))
            .sum()
    }

    fn is_dirty(&self) -> bool {
        self.cursor != self.committed
    }

    fn commit(&mut self, _batch: &mut Totals) {
        self.committed.clone_from(&self.cursor);
        self.committed_parser = self.parser.dedup_state();
        self.unsaved = true;
    }

    fn rewind(&mut self) {
        self.cursor.clone_from(&self.committed);
        let mut parser = OpenCodeParser::new();
        let _ = parser.restore_dedup_state(self.committed_parser.clone());
        self.parser = parser;
    }

    fn take_changes(&mut self, keep: bool) -> CheckpointDelta {
        let unsaved = std::mem::take(&mut self.unsaved);
        CheckpointDelta {
            opencode_db: (keep && unsaved).then(|| self.db_checkpoint()),
            ..CheckpointDelta::default()
        }
    }

    fn checkpoint(&self, totals: Totals) -> Checkpoint {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            session: self.session.clone(),
            agent: AgentKind::OpenCode,
            work_dir: self.work_dir.clone(),
            files: Vec::new(),
            emitted_messages: Vec::new(),
            totals,
            opencode_db: Some(self.db_checkpoint()),
            // The pump names the checkpoint.
            id: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pump::drain;
    use crate::sink::test_support::Memory;

    const SCHEMA: &str = "
        CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, directory TEXT NOT NULL,
            title TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL);
        CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, time_created INTEGER NOT NULL,
            time_updated INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL, session_id TEXT NOT NULL,
            time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);";

    fn add_message(db: &Connection, session: &str, i: i64) {
        let data = format!(
            r#"{{"role":"assistant","time":{{"created":{i},"completed":{i}}},"modelID":"claude-sonnet-4-5","tokens":{{"input":1,"output":{i},"reasoning":0,"cache":{{"read":0,"write":0}}}}}}"#
        );
        db.execute(
            "INSERT INTO message VALUES (?1, ?2, ?3, ?3, ?4)",
            rusqlite::params![format!("msg_{i}"), session, i, data],
        )
        .unwrap();
        db.execute(
            "INSERT INTO part VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            rusqlite::params![
                format!("prt_{i}"),
                format!("msg_{i}"),
                session,
                i,
                format!(r#"{{"type":"text","text":"t{i}"}}"#)
            ],
        )
        .unwrap();
    }

    fn setup(dir: &Path) -> (PathBuf, Connection) {
        let path = dir.join(DATABASE_FILE);
        let db = Connection::open(&path).unwrap();
        db.execute_batch(SCHEMA).unwrap();
        db.execute_batch(
            "INSERT INTO session VALUES ('ses_a', 'p', '/w', 't', 0, 0);
             INSERT INTO session VALUES ('ses_b', 'p', '/other', 't', 0, 0);",
        )
        .unwrap();
        (path, db)
    }

    fn follower(path: &Path, cp: Option<Checkpoint>, sink: Memory) -> DbFollower<Memory> {
        Database::follower(
            DbSource {
                path: path.to_owned(),
                sessions: Sessions::Directory(vec!["/w".into()]),
                work_dir: "/w".into(),
                since: None,
            },
            "s",
            sink,
            cp,
            Some(path.with_extension("cp.json")),
        )
    }

    fn counts(m: &Memory) -> (usize, usize) {
        let u = m.exported.iter().filter(|e| e.as_usage().is_some()).count();
        (u, m.exported.len() - u)
    }

    #[test]
    fn only_the_work_dirs_sessions_are_read_and_failed_batches_come_again() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = setup(dir.path());
        for i in 1..=400 {
            add_message(&db, "ses_a", i);
            add_message(&db, "ses_b", 10_000 + i);
        }
        let mut f = follower(
            &path,
            None,
            Memory {
                fail_next: 2,
                ..Memory::default()
            },
        );
        drain(&mut f);
        assert_eq!(counts(f.sink()), (400, 400));
        assert_eq!(f.totals().usage_records, 400);
    }

    #[test]
    fn a_restart_from_the_checkpoint_reads_only_new_and_rewritten_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = setup(dir.path());
        for i in 1..=10 {
            add_message(&db, "ses_a", i);
        }
        // An unfinished message: no usage until it is completed.
        db.execute(
            "INSERT INTO message VALUES ('msg_x', 'ses_a', 20, 20, ?1)",
            [r#"{"role":"assistant","time":{"created":20},"modelID":"m","tokens":{"input":5,"output":5}}"#],
        )
        .unwrap();
        let mut first = follower(&path, None, Memory::default());
        drain(&mut first);
        assert_eq!(counts(first.sink()), (10, 10));
        let cp = Checkpoint::load(&path.with_extension("cp.json"))
            .unwrap()
            .unwrap();
        for i in 30..=34 {
            add_message(&db, "ses_a", i);
        }
        db.execute(
            "UPDATE message SET time_updated = 40, data = ?1 WHERE id = 'msg_x'",
            [r#"{"role":"assistant","time":{"created":20,"completed":40},"modelID":"m","tokens":{"input":5,"output":5}}"#],
        )
        .unwrap();
        let mut second = follower(&path, Some(cp), Memory::default());
        drain(&mut second);
        assert_eq!(counts(second.sink()), (6, 5));
        assert_eq!(second.totals().usage_records, 16);
    }

    #[test]
    fn a_message_completed_in_the_millisecond_of_a_part_already_read_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = setup(dir.path());
        let doc = |done: &str| {
            format!(
                r#"{{"role":"assistant","time":{{"created":5{done}}},"modelID":"m","tokens":{{"input":1,"output":7}}}}"#
            )
        };
        db.execute(
            "INSERT INTO message VALUES ('msg_a', 'ses_a', 5, 5, ?1)",
            [doc("")],
        )
        .unwrap();
        db.execute(
            r#"INSERT INTO part VALUES ('prt_a', 'msg_a', 'ses_a', 5, 5, '{"type":"text","text":"t"}')"#,
            [],
        )
        .unwrap();
        let mut f = follower(&path, None, Memory::default());
        drain(&mut f);
        assert_eq!(counts(f.sink()), (0, 1));
        // Completed in the same millisecond, after the part was read: sorts before the cursor.
        db.execute(
            "UPDATE message SET data = ?1 WHERE id = 'msg_a'",
            [doc(r#","completed":5"#)],
        )
        .unwrap();
        drain(&mut f);
        assert_eq!(counts(f.sink()), (1, 1));
        drain(&mut f);
        assert_eq!(counts(f.sink()), (1, 1), "read again, counted once");
    }
}
