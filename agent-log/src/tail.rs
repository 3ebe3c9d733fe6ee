//! One followed transcript file: where it was exported up to, and where it is read up to.
//!
//! One job: [`Tail`] reads new complete lines of one file through its own parser and keeps
//! two positions — the *committed* one (offset and parser state whose records were
//! confirmed exported, what a checkpoint stores) and the *working* one (what was read since).
//! [`Tail::commit`] moves the first to the second after a confirmed export; [`Tail::rewind`]
//! moves the second back after a failed one, so the same lines are read again later. A partial
//! last line waits for its newline. No file descriptor is kept between reads. This module must
//! not decide when to commit, talk to telemetry, or find files.
//!
//! # Rewrites
//!
//! An offset is only meaningful for the bytes it was taken in. Agents rewrite transcripts
//! (Claude Code compacts a session and writes it again, in place or through a temporary file
//! renamed over it; a user restores a backup; a file is truncated and grows again), so the
//! device, inode and size of a file cannot tell whether the bytes before the offset are still
//! the ones that were read. [`Tail`] therefore keeps a [`Fingerprint`] of the bytes it
//! consumed: the first [`FINGERPRINT_HEAD`] bytes of the file and the last
//! [`FINGERPRINT_TAIL`] bytes before the offset (SHA-1 of both, a stable hash, so a
//! checkpoint written by one build is read the same by the next). [`Tail::check`] compares
//! those bytes with the file at the path on resume (the first check after
//! [`Tail::resumed`]) and every time the file's identity, size or mtime changed:
//!
//! - the same bytes, even in a new inode (a copy renamed over the file that kept what was
//!   read): reading goes on at the offset, nothing is read twice;
//! - other bytes, or a file shorter than what was read: [`Restart`] — the file is read again
//!   from its start with a fresh parser, and the caller prints one warning and counts it.
//!
//! A restart commits at once (offset 0, fresh parser state): nothing of the new content was
//! exported yet, so a failed export afterwards goes back to the start of the new content,
//! never to the old offset in the new bytes.
//!
//! ## Not counting the old content twice
//!
//! Reading a rewritten file again from its start meets what was already exported. Two layers
//! drop it:
//!
//! 1. The follower's session-wide memory of exported message ids (the last
//!    `MESSAGE_MEMORY` ids, see `follow.rs`) drops a Claude Code usage whose message was
//!    exported. It is bounded, so alone it would count again the oldest messages of a file
//!    longer than the memory, and Codex usages have no message id at all.
//! 2. So each file also remembers [`Marks`]: the newest timestamp among the usages and among
//!    the content events it handed on, with which events were handed on at exactly that
//!    instant (a digest of an identity that survives a rewrite: message id, or model and
//!    tokens; the agent's line id, or type, position and text; past 32 at one instant, only
//!    their number). A restart turns them into a *replay floor* (kept in the checkpoint, so
//!    a `kill -9` during the re-read keeps it): while reading the rewritten file, a usage or
//!    content event older than the floor, or at the floor's instant and one of those handed
//!    on at it, was exported before the rewrite and is skipped. (A content event at that
//!    very instant whose text the rewrite changed is exported again: one duplicate log
//!    record, never a usage counted twice when it has a message id.) This is sound as long as an
//!    agent writes a file's events in time order (Claude Code and Codex both append
//!    timestamped lines as things happen; a rewrite keeps old lines' timestamps), whatever
//!    the number of old messages. New content has newer timestamps and passes. The floor
//!    never expires: an event written later with a timestamp older than everything already
//!    exported from the same file is skipped (a clock going backwards), the price of never
//!    counting a rewritten file twice.
//!
//! A file deleted and later created again under the same name is a new file (its tail was
//! forgotten): only layer 1 applies to it.
//!
//! Limits: a checkpoint written before fingerprints existed has none; the first check then
//! trusts the file and learns the bytes at the offset. The bytes of a partial last line held
//! by the reader are not fingerprinted, nor the bytes of an oversized line skipped at the
//! window's place (the tail window then restarts after it).

use std::collections::VecDeque;
use std::fs::{File, Metadata};
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use agent_transcripts::{
    AgentKind, ClaudeCodeParser, CodexParser, DedupState, Event, LineReader, OpenCodeParser,
    SkipCounts, TranscriptParser,
};

/// Dedup keys a followed file's parser remembers: within one file a request's lines are
/// contiguous, so a small memory suffices and keeps checkpoints small.
pub const FOLLOW_DEDUP_CAPACITY: usize = 1024;

/// Bytes read from a file per `read` call.
const CHUNK: usize = 64 * 1024;

/// Bytes at the start of a file a [`Fingerprint`] covers (at most).
pub const FINGERPRINT_HEAD: usize = 4096;
/// Bytes before the offset a [`Fingerprint`] covers (at most).
pub const FINGERPRINT_TAIL: usize = 4096;

/// What a checkpoint keeps of the bytes before its offset, to tell a file that only grew from
/// one that was rewritten. See the [module docs](self#rewrites).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Bytes covered at the start of the file: `[0, head_len)`.
    pub head_len: u64,
    /// Bytes covered before the offset: `[offset - tail_len, offset)`.
    pub tail_len: u64,
    /// SHA-1 (lowercase hex) of the head bytes followed by the tail bytes.
    pub sha1: String,
}

/// Events at one instant whose identities a [`Mark`] keeps; past it, only their number.
const MARK_IDS: usize = 32;

/// The newest timestamp among the events of one kind a file handed on, how many of them had
/// exactly that timestamp, and (up to [`MARK_IDS`]) which ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The newest timestamp.
    pub at: SystemTime,
    /// Events handed on at `at`.
    pub same: u64,
    /// Identities of the events handed on at `at` (see [`identity`]), while there are at
    /// most [`MARK_IDS`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

/// What identifies an event across a rewrite of its file (a compaction may change a line's
/// bytes, not what it says): a usage's message id, else its model and tokens; a content
/// event's type, role, position and text. A digest, to keep checkpoints small.
fn identity(event: &Event) -> String {
    let mut sha = sha1_smol::Sha1::new();
    match event {
        Event::Usage(u) if !u.message_id.is_empty() => sha.update(u.message_id.as_bytes()),
        Event::Usage(u) => sha.update(
            format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
                u.model,
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_creation_tokens
            )
            .as_bytes(),
        ),
        // The agent's own line id (Claude Code's `uuid`, OpenCode's part id) survives a
        // rewrite; a digest of the line's bytes (`line:…`) does not.
        Event::Content(c) if !c.source_id.is_empty() && !c.source_id.starts_with("line:") => {
            sha.update(format!("{}\u{1f}{}", c.source_id, c.index).as_bytes());
        }
        Event::Content(c) => {
            sha.update(
                format!("{}\u{1f}{:?}\u{1f}{}\u{1f}", c.event_type, c.role, c.index).as_bytes(),
            );
            sha.update(c.content.as_bytes());
        }
    }
    let mut hex = sha.digest().to_string();
    hex.truncate(16);
    hex
}

/// [`Mark`]s of a file's usages and content events. See the [module docs](self#rewrites).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marks {
    /// Usages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Mark>,
    /// Content events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Mark>,
}

impl Marks {
    fn slot(&mut self, event: &Event) -> (&mut Option<Mark>, SystemTime) {
        match event {
            Event::Usage(u) => (&mut self.usage, u.timestamp),
            Event::Content(c) => (&mut self.event, c.timestamp),
        }
    }

    /// Notes an event handed on.
    fn note(&mut self, event: &Event) {
        let (slot, ts) = self.slot(event);
        match slot {
            Some(m) if ts < m.at => {}
            Some(m) if ts == m.at => {
                m.same += 1;
                if m.ids.len() < MARK_IDS {
                    m.ids.push(identity(event));
                } else {
                    m.ids.clear();
                }
            }
            _ => {
                *slot = Some(Mark {
                    at: ts,
                    same: 1,
                    ids: vec![identity(event)],
                });
            }
        }
    }

    /// As a replay floor: whether `event` was handed on before the rewrite. An event at the
    /// floor's instant is one of those handed on at it when its identity is among theirs
    /// (when they were too many to keep, while fewer than their number were met).
    fn covers(&mut self, event: &Event) -> bool {
        let id = match &self.slot(event).0 {
            Some(m) if !m.ids.is_empty() => Some(identity(event)),
            _ => None,
        };
        let (slot, ts) = self.slot(event);
        let Some(m) = slot else {
            return false;
        };
        if ts < m.at {
            return true;
        }
        if ts > m.at || m.same == 0 {
            return false;
        }
        match id {
            Some(id) => match m.ids.iter().position(|k| *k == id) {
                Some(k) => {
                    m.ids.swap_remove(k);
                    m.same -= 1;
                    true
                }
                None => false,
            },
            None => {
                m.same -= 1;
                true
            }
        }
    }
}

/// What a checkpoint keeps of one file besides its offset and parser state: what the bytes
/// before the offset were, and what was handed on from them. See the
/// [module docs](self#rewrites).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumed {
    /// The bytes before the offset; `None` in checkpoints written before fingerprints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// The newest events handed on from this file (before the offset).
    #[serde(default)]
    pub seen: Marks,
    /// Set once the file was rewritten: events not newer than this were exported before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_floor: Option<Marks>,
}

/// The bytes a [`Fingerprint`] is made of, kept as lines are consumed.
#[derive(Debug, Clone)]
struct Window {
    /// File bytes `[0, head.len())`.
    head: Vec<u8>,
    /// `head` still grows with the next consumed bytes.
    head_open: bool,
    /// File bytes `[end - tail.len(), end)`.
    tail: VecDeque<u8>,
    end: u64,
}

impl Window {
    fn empty() -> Self {
        Self {
            head: Vec::new(),
            head_open: true,
            tail: VecDeque::new(),
            end: 0,
        }
    }

    fn loaded(head: Vec<u8>, tail: Vec<u8>, end: u64) -> Self {
        Self {
            head_open: head.len() < FINGERPRINT_HEAD && head.len() as u64 == end,
            head,
            tail: tail.into(),
            end,
        }
    }

    /// Takes in `parts`, consecutive file bytes that end at offset `end`.
    fn consume(&mut self, parts: &[&[u8]], end: u64) {
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        if end.checked_sub(len) != Some(self.end) {
            // Bytes were skipped (an oversized line): the windows restart after them.
            self.head_open = false;
            self.tail.clear();
        }
        for part in parts {
            if self.head_open {
                let take = (FINGERPRINT_HEAD - self.head.len()).min(part.len());
                self.head.extend_from_slice(&part[..take]);
                self.head_open = self.head.len() < FINGERPRINT_HEAD;
            }
            let keep = &part[part.len().saturating_sub(FINGERPRINT_TAIL)..];
            self.tail.extend(keep);
        }
        let excess = self.tail.len().saturating_sub(FINGERPRINT_TAIL);
        self.tail.drain(..excess);
        self.end = end;
    }

    /// The fingerprint of the bytes before `offset` (at or after [`Self::end`]: bytes skipped
    /// after the window leave only its head).
    fn fingerprint(&self, offset: u64) -> Fingerprint {
        let mut sha = sha1_smol::Sha1::new();
        sha.update(&self.head);
        let tail_len = if offset == self.end {
            let (a, b) = self.tail.as_slices();
            sha.update(a);
            sha.update(b);
            self.tail.len() as u64
        } else {
            0
        };
        Fingerprint {
            head_len: self.head.len() as u64,
            tail_len,
            sha1: sha.digest().to_string(),
        }
    }
}

/// The bytes of a file a fingerprint covers, with their SHA-1.
struct Covered {
    sha1: String,
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// The bytes a fingerprint of the bytes before `offset` covers in `file`; `None` when the
/// file is shorter than `offset`.
fn file_window(
    file: &mut File,
    offset: u64,
    head_len: u64,
    tail_len: u64,
) -> io::Result<Option<Covered>> {
    if file.metadata()?.len() < offset || head_len > offset || tail_len > offset {
        return Ok(None);
    }
    let mut read_at = |from: u64, len: u64| -> io::Result<Vec<u8>> {
        let mut buf = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut buf)?;
        Ok(buf)
    };
    let head = match read_at(0, head_len) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let tail = match read_at(offset - tail_len, tail_len) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut sha = sha1_smol::Sha1::new();
    sha.update(&head);
    sha.update(&tail);
    Ok(Some(Covered {
        sha1: sha.digest().to_string(),
        head,
        tail,
    }))
}

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
    /// The bytes before the read position changed (rewritten in place, or truncated and
    /// grown again past the read position).
    Rewritten,
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
    /// The consumed bytes' window; `None` until the first [`Tail::check`] of a resumed file.
    window: Option<Window>,
    committed_window: Option<Window>,
    committed_fingerprint: Option<Fingerprint>,
    seen: Marks,
    committed_seen: Marks,
    floor: Option<Marks>,
    committed_floor: Option<Marks>,
    /// Last mtime seen by [`Tail::check`].
    mtime: Option<SystemTime>,
    /// Events the replay floor skipped since the last commit.
    replayed: u64,
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
        let restored = match state {
            Some(state) => parser.restore_dedup_state(state).is_ok(),
            None => false,
        };
        if !restored {
            // No state, or one from another agent's parser: start over with a fresh parser.
            parser = new_parser(agent, &path, offset == 0);
        }
        let committed_parser = parser.dedup_state();
        // From the start, the consumed bytes are known (none); from an offset, they are
        // learnt (or checked against the checkpoint) by the first check.
        let window = (offset == 0).then(Window::empty);
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
            // A restored parser may hold usage back (read before a stop, not yet released):
            // it is released after the idle delay like any other, not only when the file grows.
            unflushed: restored,
            skips: SkipCounts::default(),
            dirty: false,
            events: Vec::new(),
            committed_window: window.clone(),
            window,
            committed_fingerprint: None,
            seen: Marks::default(),
            committed_seen: Marks::default(),
            floor: None,
            committed_floor: None,
            mtime: None,
            replayed: 0,
        }
    }

    /// Resumes with what a checkpoint kept of the consumed bytes: the next [`check`] compares
    /// them with the file (see the [module docs](self#rewrites)).
    ///
    /// [`check`]: Self::check
    #[must_use]
    pub fn resumed(mut self, consumed: Consumed) -> Self {
        self.committed_fingerprint = consumed.fingerprint;
        self.seen = consumed.seen.clone();
        self.committed_seen = consumed.seen;
        self.floor = consumed.replay_floor.clone();
        self.committed_floor = consumed.replay_floor;
        self
    }

    /// What a checkpoint keeps of the committed position besides offset and parser state.
    #[must_use]
    pub fn consumed(&self) -> Consumed {
        Consumed {
            fingerprint: self.committed_fingerprint.clone(),
            seen: self.committed_seen.clone(),
            replay_floor: self.committed_floor.clone(),
        }
    }

    /// Usages and content events skipped since the last commit because they were exported
    /// before the file was rewritten.
    #[must_use]
    pub fn replayed(&self) -> u64 {
        self.replayed
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

    /// Compares the file now at the path (`meta`) with the one being followed. When its
    /// identity, size or mtime changed (or on the first check after a resume), the bytes
    /// before the read position are compared with what was read: a file that still holds
    /// them goes on (even as a new inode); a replaced, truncated or rewritten one is
    /// restarted from offset 0 with a fresh parser, committed at once, and later events not
    /// newer than what was handed on before are skipped (see the
    /// [module docs](self#rewrites)). A file that cannot be opened now is checked again next
    /// time.
    pub fn check(&mut self, meta: &Metadata) -> Option<Restart> {
        let id = FileId::of(meta);
        let len = meta.len();
        let mtime = meta.modified().ok();
        let restart = if len < self.read_pos || len < self.committed_offset {
            if id == self.id {
                Restart::Truncated
            } else {
                Restart::Replaced
            }
        } else if id != self.id || len != self.size || mtime != self.mtime || self.window.is_none()
        {
            match self.holds_consumed_bytes(id) {
                Ok(Some(true)) => {
                    self.id = id;
                    self.size = len;
                    self.mtime = mtime;
                    return None;
                }
                Ok(Some(false)) if id == self.id => Restart::Rewritten,
                Ok(Some(false)) => Restart::Replaced,
                // Changed again meanwhile, or unreadable: the next check looks again.
                Ok(None) | Err(_) => return None,
            }
        } else {
            return None;
        };
        self.id = id;
        self.size = len;
        self.mtime = mtime;
        self.restart();
        Some(restart)
    }

    /// Whether the file at the path (identity `id`) holds the bytes consumed so far; `None`
    /// when the path names another file by the time it is opened.
    fn holds_consumed_bytes(&mut self, id: FileId) -> io::Result<Option<bool>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if FileId::of(&file.metadata()?) != id {
            return Ok(None);
        }
        let (expected, offset) = match &self.window {
            Some(w) => (Some(w.fingerprint(w.end)), w.end),
            None => (self.committed_fingerprint.clone(), self.committed_offset),
        };
        let (head_len, tail_len) = expected.as_ref().map_or(
            (
                offset.min(FINGERPRINT_HEAD as u64),
                offset.min(FINGERPRINT_TAIL as u64),
            ),
            |f| (f.head_len, f.tail_len),
        );
        let Some(Covered { sha1, head, tail }) =
            file_window(&mut file, offset, head_len, tail_len)?
        else {
            return Ok(Some(false));
        };
        if expected.is_some_and(|f| f.sha1 != sha1) {
            return Ok(Some(false));
        }
        if self.window.is_none() {
            // Resumed: from now on the window follows the reads. (A checkpoint without a
            // fingerprint is trusted here, as it was before fingerprints existed.)
            let window = Window::loaded(head, tail, offset);
            if !self.dirty {
                self.committed_window = Some(window.clone());
            }
            self.window = Some(window);
        }
        Ok(Some(true))
    }

    /// Reads the file again from its start, committed at once: nothing of the new content was
    /// exported yet.
    fn restart(&mut self) {
        self.parser = new_parser(self.agent, &self.path, true);
        self.committed_parser = self.parser.dedup_state();
        self.reader = LineReader::new();
        self.committed_oversized = 0;
        self.committed_offset = 0;
        self.base = 0;
        self.read_pos = 0;
        self.window = Some(Window::empty());
        self.committed_window = self.window.clone();
        self.committed_fingerprint = None;
        // What was handed on and confirmed before the rewrite is the floor of the re-read.
        self.seen = self.committed_seen.clone();
        self.floor = Some(self.committed_seen.clone());
        self.committed_floor = self.floor.clone();
        self.unflushed = false;
        self.dirty = true;
        self.last_growth = Instant::now();
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
                let before = self.base + self.reader.consumed_bytes();
                let Some(line) = self.reader.next_line() else {
                    break;
                };
                let end = before + line.len() as u64 + 1;
                if let Some(w) = &mut self.window {
                    w.consume(&[line, b"\n"], end);
                }
                let outcome = self.parser.parse_line(line, &mut self.events);
                self.skips.record(outcome);
                self.unflushed = true;
                self.dirty = true;
                let made = self.hand_on(record);
                *budget = budget.saturating_sub(made);
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
                // The file ends here now, whatever size the last check saw: had it shrunk
                // since (truncated between check and read), `has_unread` would stay true and
                // the follower would spin on it without ever checking the file again.
                self.size = self.read_pos;
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
        // The last line had no newline: the window restarts after it (see `Window::consume`).
        self.hand_on(record)
    }

    /// Whether `event` goes on: not covered by the replay floor (then noted as handed on).
    fn pass(&mut self, event: &Event) -> bool {
        if self.floor.as_mut().is_some_and(|f| f.covers(event)) {
            self.replayed += 1;
            return false;
        }
        self.seen.note(event);
        true
    }

    /// Hands on the parser's events that pass; returns the records made.
    fn hand_on(&mut self, record: &mut impl FnMut(Event) -> usize) -> usize {
        let mut made = 0;
        for event in std::mem::take(&mut self.events) {
            if self.pass(&event) {
                made += record(event);
            }
        }
        made
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
        self.hand_on(record)
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
        self.committed_fingerprint = self
            .window
            .as_ref()
            .map(|w| w.fingerprint(self.committed_offset));
        self.committed_window = self.window.clone();
        self.committed_seen = self.seen.clone();
        self.committed_floor = self.floor.clone();
        self.replayed = 0;
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
        self.window = self.committed_window.clone();
        self.seen = self.committed_seen.clone();
        self.floor = self.committed_floor.clone();
        self.replayed = 0;
        // The committed parser may hold usage back whose release was the batch that failed:
        // it must be released again, even if no line follows.
        self.unflushed = true;
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

    /// An assistant line with message `m{i}` at second `i`.
    fn msg(i: u32, text: &str) -> String {
        format!(
            r#"{{"type":"assistant","timestamp":"2025-06-18T10:{:02}:{:02}.000Z","sessionId":"s","requestId":"r{i}","message":{{"id":"m{i}","model":"claude-sonnet-4-5","content":[{{"type":"text","text":"{text}"}}],"usage":{{"input_tokens":1,"output_tokens":{i}}}}}}}"#,
            i / 60,
            i % 60
        )
    }

    fn lines(range: std::ops::Range<u32>, text: &str) -> String {
        range.map(|i| msg(i, text) + "\n").collect()
    }

    /// Rewrites `p` in place (same inode): truncate, then write.
    fn rewrite_in_place(p: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(p)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn usages(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| e.as_usage().map(|u| u.message_id.clone()))
            .collect()
    }

    /// Reads to the end, releases held usage, commits.
    fn drained(t: &mut Tail) -> Vec<Event> {
        let mut got = read_all(t);
        t.flush_parser(&mut |e| {
            got.push(e);
            1
        });
        t.commit();
        got
    }

    #[test]
    fn truncated_and_replaced_files_start_over_without_handing_on_old_events_again() {
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
        assert_eq!(read_all(&mut t).len(), 0, "A2's text was handed on already");
        assert_eq!(t.replayed(), 1);
        t.commit();
        let q = dir.path().join("new.jsonl");
        std::fs::write(&q, format!("{A1}\n{A2}\n{}\n", msg(7, "new"))).unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert_eq!(
            t.check(&std::fs::metadata(&p).unwrap()),
            Some(Restart::Replaced)
        );
        let got = drained(&mut t);
        assert_eq!(
            usages(&got),
            ["m2", "m7"],
            "m2's usage was held back, never handed on"
        );
        assert_eq!(got.len(), 3, "{got:?}");
    }

    #[test]
    fn a_file_rewritten_longer_in_place_is_read_again_and_only_new_events_pass() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, lines(0..50, "old")).unwrap();
        let mut t = tail_of(&p);
        assert_eq!(usages(&drained(&mut t)).len(), 50);
        // Compacted: the old messages written again (other bytes, same records), then new
        // ones; the old offset now falls in the middle of the new ones.
        let compacted = lines(0..50, "old").replace(r#"{"type""#, r#"{"compacted":true,"type""#);
        rewrite_in_place(&p, &(compacted + &lines(50..90, "new")));
        assert_eq!(
            t.check(&std::fs::metadata(&p).unwrap()),
            Some(Restart::Rewritten)
        );
        let got = drained(&mut t);
        let want: Vec<String> = (50..90).map(|i| format!("m{i}")).collect();
        assert_eq!(usages(&got), want);
        assert_eq!(got.len(), 80, "40 texts and 40 usages");
    }

    #[test]
    fn a_copy_that_kept_what_was_read_goes_on_at_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, lines(0..10, "old")).unwrap();
        let mut t = tail_of(&p);
        drained(&mut t);
        let q = dir.path().join("tmp");
        std::fs::write(&q, lines(0..10, "old") + &lines(10..12, "new")).unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert_eq!(t.check(&std::fs::metadata(&p).unwrap()), None);
        assert_eq!(usages(&drained(&mut t)), ["m10", "m11"]);
    }

    #[test]
    fn a_resumed_checkpoint_detects_a_rewrite_made_while_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, lines(0..100, "old")).unwrap();
        let mut t = tail_of(&p);
        drained(&mut t);
        let (offset, state) = (t.committed_offset(), t.committed_parser().clone());
        // What a checkpoint keeps survives its JSON.
        let consumed: Consumed =
            serde_json::from_str(&serde_json::to_string(&t.consumed()).unwrap()).unwrap();
        assert_eq!(consumed, t.consumed());
        let resume = |consumed: Consumed| {
            let meta = std::fs::metadata(&p).unwrap();
            Tail::new(
                p.clone(),
                AgentKind::ClaudeCode,
                FileId::of(&meta),
                offset,
                meta.len(),
                Some(state.clone()),
            )
            .resumed(consumed)
        };
        // Only grown: goes on at the offset.
        std::fs::write(&p, lines(0..100, "old") + &lines(100..101, "x")).unwrap();
        let mut t = resume(consumed.clone());
        assert_eq!(t.check(&std::fs::metadata(&p).unwrap()), None);
        assert_eq!(usages(&drained(&mut t)), ["m100"]);
        // Rewritten longer: other bytes before the offset.
        rewrite_in_place(&p, &(lines(0..100, "OLD") + &lines(100..103, "x")));
        let mut t = resume(consumed.clone());
        assert_eq!(
            t.check(&std::fs::metadata(&p).unwrap()),
            Some(Restart::Rewritten)
        );
        assert_eq!(usages(&drained(&mut t)), ["m100", "m101", "m102"]);
        // A checkpoint from before fingerprints trusts the file, then follows it.
        let mut t = resume(Consumed::default());
        assert_eq!(t.check(&std::fs::metadata(&p).unwrap()), None);
        rewrite_in_place(&p, &(lines(0..100, "xx") + &lines(100..104, "x")));
        assert_eq!(
            t.check(&std::fs::metadata(&p).unwrap()),
            Some(Restart::Rewritten)
        );
    }

    #[test]
    fn a_file_truncated_between_check_and_read_has_nothing_unread() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, lines(0..3, "a")).unwrap();
        let mut t = tail_of(&p);
        drained(&mut t);
        append_line(&p, &msg(3, "b"));
        t.check(&std::fs::metadata(&p).unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(10)
            .unwrap();
        assert!(t.has_unread());
        read_all(&mut t);
        assert!(
            !t.has_unread(),
            "else the follower spins without checking again"
        );
        assert_eq!(
            t.check(&std::fs::metadata(&p).unwrap()),
            Some(Restart::Truncated)
        );
    }

    fn append_line(p: &Path, line: &str) {
        let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
        writeln!(f, "{line}").unwrap();
    }

    #[test]
    fn usage_held_back_at_a_stop_or_in_a_failed_flush_is_released_without_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, lines(0..2, "a")).unwrap();
        let mut t = tail_of(&p);
        assert_eq!(usages(&read_all(&mut t)), ["m0"], "m1's usage is held back");
        t.commit();
        // A failed export of the idle flush: rewound, the flush must come again.
        let mut flushed = Vec::new();
        t.flush_parser(&mut |e| {
            flushed.push(e);
            1
        });
        assert_eq!(usages(&flushed), ["m1"]);
        t.rewind();
        assert!(t.idle_deadline(std::time::Duration::ZERO).is_some());
        // Stopped with the usage held: resumed, it is released after the idle delay.
        let meta = std::fs::metadata(&p).unwrap();
        let mut resumed = Tail::new(
            p.clone(),
            AgentKind::ClaudeCode,
            FileId::of(&meta),
            t.committed_offset(),
            meta.len(),
            Some(t.committed_parser().clone()),
        )
        .resumed(t.consumed());
        assert_eq!(resumed.check(&meta), None);
        assert!(read_all(&mut resumed).is_empty());
        assert!(resumed.idle_deadline(std::time::Duration::ZERO).is_some());
        let mut got = Vec::new();
        resumed.flush_parser(&mut |e| {
            got.push(e);
            1
        });
        assert_eq!(usages(&got), ["m1"]);
    }

    #[test]
    fn the_replay_floor_tells_events_at_its_instant_apart() {
        let usage = |secs: u64, id: &str| {
            Event::Usage(agent_transcripts::Usage {
                timestamp: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs),
                message_id: id.into(),
                ..agent_transcripts::Usage::default()
            })
        };
        let mut seen = Marks::default();
        for e in [usage(99, "a"), usage(100, "b"), usage(100, "c")] {
            seen.note(&e);
        }
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100);
        assert_eq!(seen.usage.as_ref().map(|m| (m.at, m.same)), Some((at, 2)));
        let mut floor = seen.clone();
        let covered: Vec<bool> = [
            (99, "x"),
            (100, "c"),
            (100, "new"),
            (100, "b"),
            (100, "b"),
            (101, "y"),
        ]
        .into_iter()
        .map(|(s, id)| floor.covers(&usage(s, id)))
        .collect();
        assert_eq!(covered, [true, true, false, true, false, false]);
        // More events at one instant than identities kept: their number decides.
        let mut many = Marks::default();
        for k in 0..=MARK_IDS {
            many.note(&usage(100, &k.to_string()));
        }
        let covered = (0..=MARK_IDS + 1)
            .filter(|k| many.covers(&usage(100, &format!("other {k}"))))
            .count();
        assert_eq!(covered, MARK_IDS + 1);
    }
}
