//! The follower: read a bounded batch, confirm its export, then checkpoint.
//!
//! One job: [`Follower`] keeps the set of followed files ([`Tail`]s) up to date with what
//! [`Source`] says belongs to the session, reads at most
//! [`BATCH_RECORDS`] records across them, asks its
//! [`Sink`] to confirm the export, and only then commits the files' positions and saves the
//! checkpoint. A failed confirmation rewinds every file to its committed position and waits
//! (backoff, then a probe of the backend) before the same lines are read again, so nothing is
//! read ahead of what the backend took: memory stays bounded however long the backend is
//! down, and `kill -9` loses nothing (the checkpoint is behind or at what was exported) and
//! duplicates nothing (it is never behind a confirmed export). [`run`] drives it from wake-ups
//! (file-system events, poll ticks, signals). It must not talk HTTP, install signal handlers
//! or watches, or parse lines itself.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use agent_transcripts::{AgentKind, Event};

use crate::discover::{self, Ownership};
use crate::settings::BATCH_RECORDS;
use crate::sink::Sink;
use crate::state::{CHECKPOINT_VERSION, Checkpoint, FileCheckpoint, Totals};
use crate::tail::{FileId, ReadEnd, Restart, Tail};

/// Message ids remembered across the files of a session.
pub const MESSAGE_MEMORY: usize = 8192;
/// First wait after a failed export.
pub const RETRY_FIRST: Duration = Duration::from_millis(500);
/// Longest wait between two retries.
pub const RETRY_MAX: Duration = Duration::from_secs(10);

/// Exponential backoff between attempts to confirm an export, shared by both followers.
#[derive(Debug)]
pub(crate) struct Backoff {
    at: Option<Instant>,
    delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            at: None,
            delay: RETRY_FIRST,
        }
    }
}

impl Backoff {
    /// At the start of a pump: `Some` while a retry is pending and not yet due, or when it is
    /// due but `ready` still says no (the next retry is then scheduled); `None` to go on.
    pub(crate) fn gate(&mut self, ready: impl FnOnce() -> bool) -> Option<Pump> {
        let at = self.at?;
        if Instant::now() < at {
            return Some(Pump::Retry(at));
        }
        if !ready() {
            return Some(self.schedule());
        }
        self.at = None;
        None
    }

    /// Schedules the next attempt, doubling the wait up to [`RETRY_MAX`].
    pub(crate) fn schedule(&mut self) -> Pump {
        let at = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(RETRY_MAX);
        self.at = Some(at);
        Pump::Retry(at)
    }

    /// An export was confirmed: the next failure waits [`RETRY_FIRST`] again.
    pub(crate) fn succeeded(&mut self) {
        self.delay = RETRY_FIRST;
    }

    /// Whether a retry is scheduled (the backend was down at the last attempt).
    pub(crate) fn is_pending(&self) -> bool {
        self.at.is_some()
    }
}

/// Writes checkpoints atomically when a path is configured, with one warning per streak of
/// failures.
#[derive(Debug)]
pub(crate) struct CheckpointWriter {
    path: Option<PathBuf>,
    warned: bool,
}

impl CheckpointWriter {
    pub(crate) fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            warned: false,
        }
    }

    /// Whether checkpoints are saved at all (so callers build one only when needed).
    pub(crate) fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// Saves `checkpoint`; a failure is reported once until a save succeeds again.
    pub(crate) fn save(&mut self, checkpoint: &Checkpoint) {
        let Some(path) = &self.path else {
            return;
        };
        if let Err(err) = checkpoint.save(path) {
            if !self.warned {
                self.warned = true;
                eprintln!(
                    "gt agent-log: warning: cannot save the checkpoint {}: {err} (a restart \
                     would export again what was exported since the last saved one)",
                    path.display()
                );
            }
        } else {
            self.warned = false;
        }
    }
}

/// Which files to follow.
#[derive(Debug, Clone)]
pub enum Source {
    /// Every transcript of `work_dir` under `root`, including files that appear later.
    Watch {
        /// The agent.
        agent: AgentKind,
        /// Claude Code's project directory, or Codex's sessions directory.
        root: PathBuf,
        /// The work directory (Codex rollouts are claimed by their `cwd`).
        work_dir: PathBuf,
        /// Files last changed before this are followed from their end.
        since: Option<SystemTime>,
    },
    /// Exactly these files, each with its agent, from their start (replay).
    Fixed(Vec<(PathBuf, AgentKind)>),
}

impl Source {
    /// The directory to watch for changes, if any.
    #[must_use]
    pub fn watch_root(&self) -> Option<&Path> {
        match self {
            Self::Watch { root, .. } => Some(root),
            Self::Fixed(_) => None,
        }
    }
}

/// A bounded FIFO set of message ids, with the inserts since the last commit kept so that a
/// rewind can take them back.
#[derive(Debug, Default)]
struct MessageIds {
    order: VecDeque<String>,
    set: HashSet<String>,
    uncommitted: usize,
}

impl MessageIds {
    fn from_keys(keys: Vec<String>) -> Self {
        let mut ids = Self::default();
        for k in keys {
            ids.insert(k);
        }
        ids.uncommitted = 0;
        ids
    }

    /// False when `id` was already there.
    fn insert(&mut self, id: String) -> bool {
        if !self.set.insert(id.clone()) {
            return false;
        }
        self.order.push_back(id);
        self.uncommitted += 1;
        while self.order.len() > MESSAGE_MEMORY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
            self.uncommitted = self.uncommitted.min(self.order.len());
        }
        true
    }

    fn commit(&mut self) {
        self.uncommitted = 0;
    }

    fn rewind(&mut self) {
        for _ in 0..self.uncommitted {
            if let Some(id) = self.order.pop_back() {
                self.set.remove(&id);
            }
        }
        self.uncommitted = 0;
    }
}

/// What one [`Follower::pump`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pump {
    /// A batch was exported and more lines are waiting: pump again now.
    More,
    /// Everything readable was read; wake up at this instant at the latest (a held-back usage
    /// to release), or on the next event.
    Idle(Option<Instant>),
    /// The export failed or the backend is not ready: retry at this instant.
    Retry(Instant),
}

/// See the [module docs](self).
pub struct Follower<S: Sink> {
    source: Source,
    session: String,
    checkpoints: CheckpointWriter,
    idle_flush: Duration,
    tails: Vec<Tail>,
    /// Codex rollouts already found to belong elsewhere.
    foreign: HashSet<FileId>,
    messages: MessageIds,
    totals: Totals,
    batch: Totals,
    next: usize,
    backoff: Backoff,
    sink: S,
}

impl<S: Sink> std::fmt::Debug for Follower<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("session", &self.session)
            .field("tails", &self.tails)
            .finish_non_exhaustive()
    }
}

impl<S: Sink> Follower<S> {
    /// A follower for `session`, resuming from `checkpoint` when given, saving checkpoints to
    /// `checkpoint_path` when given.
    #[must_use]
    pub fn new(
        source: Source,
        session: &str,
        sink: S,
        checkpoint: Option<Checkpoint>,
        checkpoint_path: Option<PathBuf>,
        idle_flush: Duration,
    ) -> Self {
        let (files, messages, totals) = match checkpoint {
            Some(cp) => (cp.files, cp.emitted_messages, cp.totals),
            None => (Vec::new(), Vec::new(), Totals::default()),
        };
        let mut follower = Self {
            source,
            session: session.to_owned(),
            checkpoints: CheckpointWriter::new(checkpoint_path),
            idle_flush,
            tails: Vec::new(),
            foreign: HashSet::new(),
            messages: MessageIds::from_keys(messages),
            totals,
            batch: Totals::default(),
            next: 0,
            backoff: Backoff::default(),
            sink,
        };
        let agent = follower.agent_for_restore();
        for f in files {
            let Ok(meta) = std::fs::metadata(&f.path) else {
                continue;
            };
            let id = FileId::of(&meta);
            let mut tail = Tail::new(
                f.path.clone(),
                agent,
                FileId {
                    dev: f.dev,
                    ino: f.ino,
                },
                f.offset,
                f.size,
                f.parser,
            )
            .resumed(f.consumed);
            if let Some(restart) = tail.check(&meta) {
                warn_restart(tail.path(), restart, &mut follower.totals);
            }
            debug_assert_eq!(tail.id(), id);
            follower.tails.push(tail);
        }
        follower
    }

    fn agent_for_restore(&self) -> AgentKind {
        match &self.source {
            Source::Watch { agent, .. } => *agent,
            Source::Fixed(files) => files.first().map_or(AgentKind::ClaudeCode, |f| f.1),
        }
    }

    /// The sink.
    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Confirmed totals (from the checkpoint on, when resumed).
    #[must_use]
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// The files followed.
    #[must_use]
    pub fn files(&self) -> Vec<&Path> {
        self.tails.iter().map(Tail::path).collect()
    }

    /// Looks for new, replaced, truncated and removed files.
    pub fn scan(&mut self) {
        let known: HashMap<PathBuf, usize> = self
            .tails
            .iter()
            .enumerate()
            .map(|(i, t)| (t.path().to_owned(), i))
            .collect();
        let candidates: Vec<(PathBuf, AgentKind)> = match &self.source {
            Source::Watch { agent, root, .. } => discover::list_files(root, "jsonl")
                .into_iter()
                .map(|p| (p, *agent))
                .collect(),
            Source::Fixed(files) => files.clone(),
        };
        let mut present = HashSet::new();
        for (path, agent) in candidates {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            present.insert(path.clone());
            if let Some(&i) = known.get(&path) {
                if let Some(restart) = self.tails[i].check(&meta) {
                    warn_restart(&path, restart, &mut self.totals);
                }
                continue;
            }
            if let Some(tail) = self.adopt(path, agent, &meta) {
                self.tails.push(tail);
            }
        }
        // A removed file is forgotten once everything read from it is committed.
        self.tails
            .retain(|t| present.contains(t.path()) || t.is_dirty());
    }

    /// A new file: followed from its start, or from its end when it last changed before
    /// `--since`; `None` for a Codex rollout of another work directory (or not decided yet).
    fn adopt(&mut self, path: PathBuf, agent: AgentKind, meta: &std::fs::Metadata) -> Option<Tail> {
        let id = FileId::of(meta);
        let (since, work_dir) = match &self.source {
            Source::Watch {
                since, work_dir, ..
            } => (*since, Some(work_dir.clone())),
            Source::Fixed(_) => (None, None),
        };
        if let (AgentKind::Codex, Some(work_dir)) = (agent, &work_dir) {
            if self.foreign.contains(&id) {
                return None;
            }
            if since.is_some_and(|s| meta.modified().is_ok_and(|m| m < s)) {
                // History of a session that is not this one's: never claimed.
                return None;
            }
            match discover::codex_ownership(&path, work_dir) {
                Ok(Ownership::Ours) => {}
                Ok(Ownership::Other) => {
                    self.foreign.insert(id);
                    return None;
                }
                Ok(Ownership::Undecided) | Err(_) => return None,
            }
        }
        let old = since.is_some_and(|s| meta.modified().is_ok_and(|m| m < s));
        let offset = if old { meta.len() } else { 0 };
        let mut tail = Tail::new(path, agent, id, offset, meta.len(), None);
        if old {
            // Followed from its end: remembered in the next checkpoint as it is now.
            tail.commit();
        }
        Some(tail)
    }

    /// Turns one event into records, dropping a usage whose message another file already
    /// carried.
    fn record(
        sink: &mut S,
        messages: &mut MessageIds,
        batch: &mut Totals,
        agent: AgentKind,
        event: &Event,
    ) -> usize {
        if let Event::Usage(u) = event
            && !u.message_id.is_empty()
            && !messages.insert(u.message_id.clone())
        {
            batch.duplicate_messages += 1;
            return 0;
        }
        let r = sink.record(agent, event);
        batch.count(&r);
        r.records
    }

    /// Reads and exports at most one batch. See [`Pump`].
    pub fn pump(&mut self) -> Pump {
        if let Some(wait) = self.backoff.gate(|| self.sink.ready()) {
            return wait;
        }
        let mut budget = BATCH_RECORDS;
        let n = self.tails.len();
        let mut rescan = false;
        for k in 0..n {
            let i = (self.next + k) % n;
            let Self {
                tails,
                sink,
                messages,
                batch,
                ..
            } = self;
            let tail = &mut tails[i];
            if !tail.has_unread() {
                continue;
            }
            let agent = tail.agent();
            let mut record = |e: Event| Self::record(sink, messages, batch, agent, &e);
            match tail.read(&mut budget, &mut record) {
                Ok(ReadEnd::BudgetSpent) => {
                    // The next batch starts with the next file: one busy transcript cannot
                    // starve the others.
                    self.next = (i + 1) % n;
                    break;
                }
                Ok(ReadEnd::Eof) => {}
                Ok(ReadEnd::Replaced | ReadEnd::Gone) => rescan = true,
                Err(err) => {
                    eprintln!(
                        "gt agent-log: warning: cannot read {}: {err}",
                        tail.path().display()
                    );
                }
            }
        }
        let now = Instant::now();
        let mut next_idle = None::<Instant>;
        if budget > 0 {
            for i in 0..self.tails.len() {
                let Self {
                    tails,
                    sink,
                    messages,
                    batch,
                    idle_flush,
                    ..
                } = self;
                let tail = &mut tails[i];
                match tail.idle_deadline(*idle_flush) {
                    Some(at) if at <= now && !tail.has_unread() => {
                        let agent = tail.agent();
                        let mut record = |e: Event| Self::record(sink, messages, batch, agent, &e);
                        let made = tail.flush_parser(&mut record);
                        budget = budget.saturating_sub(made);
                    }
                    Some(at) => next_idle = Some(next_idle.map_or(at, |n| n.min(at))),
                    None => {}
                }
            }
        }
        let made = BATCH_RECORDS - budget;
        if made > 0 {
            if !self.sink.confirm() {
                self.rewind();
                return self.backoff.schedule();
            }
            self.commit();
        } else if self.tails.iter().any(Tail::is_dirty) || self.batch != Totals::default() {
            self.commit();
        }
        self.backoff.succeeded();
        if rescan {
            self.scan();
            return Pump::More;
        }
        if budget == 0 || self.tails.iter().any(Tail::has_unread) {
            Pump::More
        } else {
            Pump::Idle(next_idle)
        }
    }

    fn rewind(&mut self) {
        for t in &mut self.tails {
            t.rewind();
        }
        self.messages.rewind();
        self.batch = Totals::default();
    }

    fn commit(&mut self) {
        for t in &mut self.tails {
            if t.is_dirty() {
                self.batch.skipped += t.commit();
            }
        }
        self.messages.commit();
        self.totals.add(&self.batch);
        self.batch = Totals::default();
        self.save();
    }

    /// The checkpoint of the committed state.
    #[must_use]
    pub fn checkpoint(&self) -> Checkpoint {
        let (agent, work_dir) = match &self.source {
            Source::Watch {
                agent, work_dir, ..
            } => (*agent, work_dir.clone()),
            Source::Fixed(files) => (
                files.first().map_or(AgentKind::ClaudeCode, |f| f.1),
                PathBuf::new(),
            ),
        };
        Checkpoint {
            version: CHECKPOINT_VERSION,
            session: self.session.clone(),
            agent,
            work_dir,
            files: self
                .tails
                .iter()
                .map(|t| FileCheckpoint {
                    path: t.path().to_owned(),
                    dev: t.id().dev,
                    ino: t.id().ino,
                    size: t.size(),
                    offset: t.committed_offset(),
                    parser: Some(t.committed_parser().clone()),
                    consumed: t.consumed(),
                })
                .collect(),
            emitted_messages: self.messages.order.iter().cloned().collect(),
            totals: self.totals,
            opencode_db: None,
        }
    }

    fn save(&mut self) {
        if self.checkpoints.enabled() {
            let checkpoint = self.checkpoint();
            self.checkpoints.save(&checkpoint);
        }
    }

    /// Ends following: releases the usage parsers hold back (the session is taken as over),
    /// exports it, and saves the checkpoint. Returns whether that last export was confirmed
    /// (or there was nothing to export).
    pub fn finish(&mut self) -> bool {
        if self.backoff.is_pending() {
            // The backend is down: keep what is held in the checkpoint for the next start.
            self.save();
            return false;
        }
        let mut made = 0;
        // Fixed files (replay) are read to their end: their last lines count as `report`
        // counts them. Followed files may still grow: their last lines wait.
        let whole_files = matches!(self.source, Source::Fixed(_));
        for i in 0..self.tails.len() {
            let Self {
                tails,
                sink,
                messages,
                batch,
                ..
            } = self;
            let agent = tails[i].agent();
            let mut record = |e: Event| Self::record(sink, messages, batch, agent, &e);
            if whole_files {
                made += tails[i].finish_input(&mut record);
            }
            made += tails[i].flush_parser(&mut record);
        }
        let ok = made == 0 || self.sink.confirm();
        if ok {
            self.commit();
        } else {
            self.rewind();
            self.save();
        }
        ok
    }
}

/// One warning line per file found rewritten, counted in `totals`.
fn warn_restart(path: &Path, restart: Restart, totals: &mut Totals) {
    let why = match restart {
        Restart::Replaced => "it was replaced",
        Restart::Truncated => "it was truncated",
        Restart::Rewritten => "what was read of it changed",
    };
    totals.rewritten_files += 1;
    eprintln!(
        "gt agent-log: warning: {} was rewritten ({why}); reading it again from the start, \
         skipping what was already exported",
        path.display()
    );
}

/// What [`run`] and [`replay`] drive: a transcript [`Follower`], or an OpenCode database
/// follower ([`crate::opencode_db::DbFollower`]).
pub trait Follow {
    /// Looks for new sources (files, the database).
    fn scan(&mut self);
    /// Reads and exports at most one batch.
    fn pump(&mut self) -> Pump;
    /// Ends following; returns whether the last export was confirmed.
    fn finish(&mut self) -> bool;
}

impl<S: Sink> Follow for Follower<S> {
    fn scan(&mut self) {
        Follower::scan(self);
    }
    fn pump(&mut self) -> Pump {
        Follower::pump(self)
    }
    fn finish(&mut self) -> bool {
        Follower::finish(self)
    }
}

/// Why the follower is woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Something changed under the watched directory.
    Changed,
    /// A stop was requested (SIGTERM, SIGINT, SIGHUP).
    Stop,
}

/// Follows until `stop` is set: pumps while there is work, sleeps on `wakes` otherwise, and
/// rescans at least every `poll`; `after_scan` runs after each rescan (to set up a watch once
/// the directory exists). Ends with [`Follower::finish`]; returns its result.
pub fn run<F: Follow>(
    follower: &mut F,
    wakes: &Receiver<Wake>,
    stop: &AtomicBool,
    poll: Duration,
    mut after_scan: impl FnMut(),
) -> bool {
    follower.scan();
    after_scan();
    let mut last_scan = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let pumped = follower.pump();
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let until = match pumped {
            Pump::More => continue,
            Pump::Idle(at) => at.map_or(last_scan + poll, |at| at.min(last_scan + poll)),
            Pump::Retry(at) => at,
        };
        let wait = until.saturating_duration_since(Instant::now());
        match wakes.recv_timeout(wait) {
            Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Wake::Changed) | Err(RecvTimeoutError::Timeout) => {}
        }
        // Coalesce a burst of events into one scan.
        while let Ok(w) = wakes.try_recv() {
            if w == Wake::Stop {
                stop.store(true, Ordering::Relaxed);
            }
        }
        if !matches!(pumped, Pump::Retry(_)) || last_scan.elapsed() >= poll {
            follower.scan();
            after_scan();
            last_scan = Instant::now();
        }
    }
    follower.finish()
}

/// Replays `follower`'s fixed files to their end once: pumps until nothing is left, retrying
/// a failed export until `patience` has passed without progress. Returns whether everything
/// was exported.
pub fn replay<F: Follow>(follower: &mut F, stop: &AtomicBool, patience: Duration) -> bool {
    follower.scan();
    let mut last_progress = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match follower.pump() {
            Pump::More => last_progress = Instant::now(),
            Pump::Idle(_) => return follower.finish(),
            Pump::Retry(at) => {
                if last_progress.elapsed() >= patience {
                    return false;
                }
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    use crate::sink::test_support::Memory;

    fn line(i: usize) -> String {
        format!(
            r#"{{"type":"assistant","timestamp":"2025-06-18T10:00:00.000Z","sessionId":"s","requestId":"r{i}","message":{{"id":"m{i}","model":"claude-sonnet-4-5","content":[{{"type":"text","text":"t{i}"}}],"usage":{{"input_tokens":1,"output_tokens":{i}}}}}}}"#
        )
    }

    fn follower(dir: &Path, cp: Option<Checkpoint>, sink: Memory) -> Follower<Memory> {
        Follower::new(
            Source::Watch {
                agent: AgentKind::ClaudeCode,
                root: dir.to_owned(),
                work_dir: "/w".into(),
                since: None,
            },
            "s",
            sink,
            cp,
            Some(dir.join("cp.json.state")),
            Duration::ZERO,
        )
    }

    fn drain(f: &mut Follower<Memory>) {
        f.scan();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            match f.pump() {
                Pump::More => {}
                Pump::Idle(_) => return,
                Pump::Retry(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
            }
        }
        panic!("did not settle");
    }

    #[test]
    fn a_failed_export_is_read_again_and_nothing_is_lost_or_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = std::fs::File::create(dir.path().join("a.jsonl")).unwrap();
        for i in 0..600 {
            writeln!(f, "{}", line(i)).unwrap();
        }
        let mut fl = follower(
            dir.path(),
            None,
            Memory {
                fail_next: 2,
                ..Memory::default()
            },
        );
        drain(&mut fl);
        let sink = fl.sink();
        let usages = sink
            .exported
            .iter()
            .filter(|e| e.as_usage().is_some())
            .count();
        let texts = sink.exported.len() - usages;
        assert_eq!((usages, texts), (600, 600));
        assert_eq!(fl.totals().usage_records, 600);
    }

    #[test]
    fn a_restart_from_the_checkpoint_goes_on_where_the_export_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let mut f = std::fs::File::create(&path).unwrap();
        for i in 0..10 {
            writeln!(f, "{}", line(i)).unwrap();
        }
        let mut first = follower(dir.path(), None, Memory::default());
        drain(&mut first);
        let exported_first = first.sink().exported.len();
        assert_eq!(exported_first, 20);
        let cp = Checkpoint::load(&dir.path().join("cp.json.state"))
            .unwrap()
            .unwrap();
        for i in 10..15 {
            writeln!(f, "{}", line(i)).unwrap();
        }
        let mut second = follower(dir.path(), Some(cp), Memory::default());
        drain(&mut second);
        assert_eq!(second.sink().exported.len(), 10);
        assert_eq!(second.totals().usage_records, 15);
    }

    #[test]
    fn a_message_copied_into_another_transcript_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jsonl"), format!("{}\n", line(1))).unwrap();
        std::fs::write(dir.path().join("b.jsonl"), format!("{}\n", line(1))).unwrap();
        let mut fl = follower(dir.path(), None, Memory::default());
        drain(&mut fl);
        let usages = fl
            .sink()
            .exported
            .iter()
            .filter(|e| e.as_usage().is_some())
            .count();
        assert_eq!(usages, 1);
        assert_eq!(fl.totals().duplicate_messages, 1);
    }
}
