//! One followed transcript file: where it was exported up to, and where it is read up to.
//!
//! One job: [`Tail`] reads new complete lines of one file through its own parser and keeps
//! two positions — the *committed* one (offset and parser state whose records were
//! confirmed exported, what a checkpoint stores) and the *working* one (what was read since).
//! [`Tail::commit`] moves the first to the second after a confirmed export; [`Tail::rewind`]
//! moves the second back after a failed one, so the same lines are read again later. A file
//! whose device or inode changed (replaced) or that became shorter than what was read
//! (truncated) is read again from its start. A partial last line waits for its newline. No
//! file descriptor is kept between reads. This module must not decide when to commit, talk to
//! telemetry, or find files.

use std::fs::{File, Metadata};
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use agent_transcripts::{
    AgentKind, ClaudeCodeParser, CodexParser, DedupState, Event, LineReader, OpenCodeParser,
    SkipCounts, TranscriptParser,
};

/// Dedup keys a followed file's parser remembers: within one file a request's lines are
/// contiguous, so a small memory suffices and keeps checkpoints small.
pub const FOLLOW_DEDUP_CAPACITY: usize = 1024;

/// Bytes read from a file per `read` call.
const CHUNK: usize = 64 * 1024;

/// Which file a path pointed at: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl FileId {
    /// The identity in `meta`.
    #[must_use]
    pub fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A fresh parser for `agent` with the follower's dedup memory. For a Codex rollout read from
/// the middle, the session id comes from the file name.
#[must_use]
pub fn new_parser(
    agent: AgentKind,
    path: &Path,
    from_start: bool,
) -> Box<dyn TranscriptParser + Send> {
    match agent {
        AgentKind::ClaudeCode => {
            Box::new(ClaudeCodeParser::with_dedup_capacity(FOLLOW_DEDUP_CAPACITY))
        }
        AgentKind::Codex if !from_start => Box::new(
            agent_transcripts::codex::codex_session_id_from_path(path)
                .map_or_else(CodexParser::new, CodexParser::with_session_id),
        ),
        AgentKind::Codex => Box::new(CodexParser::new()),
        AgentKind::OpenCode => Box::new(OpenCodeParser::with_dedup_capacity(FOLLOW_DEDUP_CAPACITY)),
    }
}

/// Why a file is read again from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// The path now names another file (rotated, or rewritten through a rename).
    Replaced,
    /// The file is shorter than what was read (truncated in place).
    Truncated,
}

/// How a [`Tail::read`] call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEnd {
    /// Everything up to the end of the file was read (a partial last line waits).
    Eof,
    /// The record budget ran out; more lines may be waiting.
    BudgetSpent,
    /// The path names another file now: check it, then read again.
    Replaced,
    /// The file is gone.
    Gone,
}

/// One followed file. See the [module docs](self).
pub struct Tail {
    path: PathBuf,
    agent: AgentKind,
    id: FileId,
    committed_offset: u64,
    committed_parser: DedupState,
    committed_oversized: u64,
    parser: Box<dyn TranscriptParser + Send>,
    reader: LineReader,
    /// File offset where `reader`'s first byte came from.
    base: u64,
    /// Next byte to read from the file.
    read_pos: u64,
    /// Last size seen by [`Tail::check`].
    size: u64,
    /// When new bytes last arrived.
    last_growth: Instant,
    /// Lines were parsed since the parser last released held-back usage.
    unflushed: bool,
    /// Parser outcomes since the last commit.
    skips: SkipCounts,
    /// The working position differs from the committed one.
    dirty: bool,
    events: Vec<Event>,
}

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tail")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("committed_offset", &self.committed_offset)
            .field("read_pos", &self.read_pos)
            .finish_non_exhaustive()
    }
}

impl Tail {
    /// Follows `path` (identity `id`) from `offset`, with the parser state saved there (a
    /// fresh parser when `None`).
    #[must_use]
    pub fn new(
        path: PathBuf,
        agent: AgentKind,
        id: FileId,
        offset: u64,
        size: u64,
        state: Option<DedupState>,
    ) -> Self {
        let mut parser = new_parser(agent, &path, offset == 0);
        if let Some(state) = state
            && parser.restore_dedup_state(state).is_err()
        {
            // A state from another agent's parser: start over with a fresh parser.
            parser = new_parser(agent, &path, offset == 0);
        }
        let committed_parser = parser.dedup_state();
        Self {
            path,
            agent,
            id,
            committed_offset: offset,
            committed_parser,
            committed_oversized: 0,
            parser,
            reader: LineReader::new(),
            base: offset,
            read_pos: offset,
            size,
            last_growth: Instant::now(),
            unflushed: false,
            skips: SkipCounts::default(),
            dirty: false,
            events: Vec::new(),
        }
    }

    /// The transcript's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The agent that wrote it.
    #[must_use]
    pub fn agent(&self) -> AgentKind {
        self.agent
    }

    /// The file's identity.
    #[must_use]
    pub fn id(&self) -> FileId {
        self.id
    }

    /// The committed offset.
    #[must_use]
    pub fn committed_offset(&self) -> u64 {
        self.committed_offset
    }

    /// The parser state at the committed offset.
    #[must_use]
    pub fn committed_parser(&self) -> &DedupState {
        &self.committed_parser
    }

    /// The last size seen.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the working position moved since the last commit.
    #[must_use]
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Compares the file now at the path (`meta`) with the one being followed. A replaced or
    /// truncated file is restarted from offset 0 with a fresh parser (the commit that follows
    /// makes it permanent).
    pub fn check(&mut self, meta: &Metadata) -> Option<Restart> {
        let id = FileId::of(meta);
        let restart = if id != self.id {
            Restart::Replaced
        } else if meta.len() < self.read_pos || meta.len() < self.committed_offset {
            Restart::Truncated
        } else {
            self.size = meta.len();
            return None;
        };
        self.id = id;
        self.size = meta.len();
        self.parser = new_parser(self.agent, &self.path, true);
        self.reader = LineReader::new();
        self.committed_oversized = 0;
        self.base = 0;
        self.read_pos = 0;
        self.unflushed = false;
        self.dirty = true;
        self.last_growth = Instant::now();
        Some(restart)
    }

    /// Whether bytes or complete lines are waiting to be read.
    #[must_use]
    pub fn has_unread(&self) -> bool {
        self.size > self.read_pos || self.reader.buffered_bytes() > self.reader.pending_bytes()
    }

    /// Reads new lines until the file ends or `budget` records were made; `record` turns each
    /// event into telemetry records and returns how many it made.
    ///
    /// # Errors
    /// I/O errors other than "not found" while opening or reading.
    pub fn read(
        &mut self,
        budget: &mut usize,
        record: &mut impl FnMut(Event) -> usize,
    ) -> io::Result<ReadEnd> {
        let mut file: Option<File> = None;
        let mut buf = Vec::new();
        loop {
            while *budget > 0 {
                let Some(line) = self.reader.next_line() else {
                    break;
                };
                let outcome = self.parser.parse_line(line, &mut self.events);
                self.skips.record(outcome);
                self.unflushed = true;
                self.dirty = true;
                for event in self.events.drain(..) {
                    *budget = budget.saturating_sub(record(event));
                }
            }
            if *budget == 0 {
                return Ok(ReadEnd::BudgetSpent);
            }
            let f = match file.as_mut() {
                Some(f) => f,
                None => {
                    let mut f = match File::open(&self.path) {
                        Ok(f) => f,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            return Ok(ReadEnd::Gone);
                        }
                        Err(e) => return Err(e),
                    };
                    if FileId::of(&f.metadata()?) != self.id {
                        return Ok(ReadEnd::Replaced);
                    }
                    f.seek(SeekFrom::Start(self.read_pos))?;
                    buf.resize(CHUNK, 0);
                    file.insert(f)
                }
            };
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(ReadEnd::Eof);
            }
            self.reader.push(&buf[..n]);
            self.read_pos += n as u64;
            self.size = self.size.max(self.read_pos);
            self.last_growth = Instant::now();
            self.dirty = true;
        }
    }

    /// Declares that the file will not grow (replay): its last line without a newline is read
    /// under agent-transcripts' end-of-input policy ([`agent_transcripts::finish_input`]),
    /// as `report` reads it. Call once [`read`](Self::read) reached [`ReadEnd::Eof`].
    pub fn finish_input(&mut self, record: &mut impl FnMut(Event) -> usize) -> usize {
        let Some(outcome) =
            agent_transcripts::finish_input(&mut self.reader, &mut *self.parser, &mut self.events)
        else {
            return 0;
        };
        self.skips.record(outcome);
        self.unflushed = true;
        self.dirty = true;
        self.events.drain(..).map(&mut *record).sum()
    }

    /// When the parser's held-back usage should be released if nothing new arrives, `None`
    /// when nothing was parsed since the last release.
    #[must_use]
    pub fn idle_deadline(&self, idle: std::time::Duration) -> Option<Instant> {
        self.unflushed.then(|| self.last_growth + idle)
    }

    /// Releases the usage the parser holds back (the request is taken as complete).
    pub fn flush_parser(&mut self, record: &mut impl FnMut(Event) -> usize) -> usize {
        if !self.unflushed {
            return 0;
        }
        self.parser.flush(&mut self.events);
        self.unflushed = false;
        self.dirty = true;
        self.events.drain(..).map(&mut *record).sum()
    }

    /// Makes the working position the committed one; returns the skipped-line counts it
    /// covers.
    pub fn commit(&mut self) -> SkipCounts {
        self.committed_offset = self.base + self.reader.consumed_bytes();
        self.committed_parser = self.parser.dedup_state();
        let mut skips = std::mem::take(&mut self.skips);
        let oversized = self.reader.counts().oversized;
        skips.oversized += oversized - self.committed_oversized;
        self.committed_oversized = oversized;
        self.dirty = false;
        skips
    }

    /// Goes back to the committed position: the lines after it will be read again.
    pub fn rewind(&mut self) {
        if !self.dirty {
            return;
        }
        let mut parser = new_parser(self.agent, &self.path, self.committed_offset == 0);
        // The state came from this very parser type; restoring cannot fail.
        let _ = parser.restore_dedup_state(self.committed_parser.clone());
        self.parser = parser;
        self.reader = LineReader::new();
        self.committed_oversized = 0;
        self.base = self.committed_offset;
        self.read_pos = self.committed_offset;
        self.skips = SkipCounts::default();
        self.unflushed = false;
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const A1: &str = r#"{"type":"assistant","timestamp":"2025-06-18T10:00:00.000Z","sessionId":"s","requestId":"r1","message":{"id":"m1","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":1,"output_tokens":2}}}"#;
    const A2: &str = r#"{"type":"assistant","timestamp":"2025-06-18T10:00:01.000Z","sessionId":"s","requestId":"r2","message":{"id":"m2","model":"claude-sonnet-4-5","content":[{"type":"text","text":"yo"}],"usage":{"input_tokens":1,"output_tokens":2}}}"#;

    fn tail_of(path: &Path) -> Tail {
        let meta = std::fs::metadata(path).unwrap();
        Tail::new(
            path.to_owned(),
            AgentKind::ClaudeCode,
            FileId::of(&meta),
            0,
            meta.len(),
            None,
        )
    }

    fn read_all(t: &mut Tail) -> Vec<Event> {
        let mut got = Vec::new();
        let mut budget = usize::MAX;
        t.read(&mut budget, &mut |e| {
            got.push(e);
            1
        })
        .unwrap();
        got
    }

    #[test]
    fn partial_line_waits_and_rewind_reads_the_same_lines_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, format!("{A1}\n{}", &A2[..40])).unwrap();
        let mut t = tail_of(&p);
        let got = read_all(&mut t);
        assert_eq!(got.len(), 1, "only the text of A1; its usage is held");
        t.commit();
        assert_eq!(t.committed_offset(), A1.len() as u64 + 1);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        writeln!(f, "{}", &A2[40..]).unwrap();
        t.check(&std::fs::metadata(&p).unwrap());
        let got = read_all(&mut t);
        assert_eq!(got.len(), 2, "A1's usage released, A2's text: {got:?}");
        t.rewind();
        let again = read_all(&mut t);
        assert_eq!(got, again);
    }

    #[test]
    fn truncated_and_replaced_files_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, format!("{A1}\n{A2}\n")).unwrap();
        let mut t = tail_of(&p);
        read_all(&mut t);
        t.commit();
        std::fs::write(&p, format!("{A2}\n")).unwrap();
        assert_eq!(
            t.check(&std::fs::metadata(&p).unwrap()),
            Some(Restart::Truncated)
        );
        assert_eq!(read_all(&mut t).len(), 1);
        let q = dir.path().join("new.jsonl");
        std::fs::write(&q, format!("{A1}\n{A2}\n{A1}\n")).unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert_eq!(
            t.check(&std::fs::metadata(&p).unwrap()),
            Some(Restart::Replaced)
        );
        assert!(read_all(&mut t).len() >= 2);
    }
}
