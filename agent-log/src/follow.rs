//! The transcript files of a session, read as a [`BatchSource`].
//!
//! One job: [`Transcripts`] keeps the set of followed files ([`Tail`]s) up to date with what
//! [`Source`] says belongs to the session, reads records across them (round-robin, so one
//! busy transcript cannot starve the others), drops a usage whose message another file
//! already carried, and commits or rewinds every file together. It also keeps the record of
//! which files' committed state changed since the last checkpoint write, so a commit writes
//! those files only. The protocol (confirm, then commit; backoff) is [`crate::pump`]'s. It
//! must not talk HTTP, install signal handlers or watches, or parse lines itself.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use agent_transcripts::{AgentKind, Event};

use crate::discover::{self, Ownership};
use crate::pump::{BatchSource, Pump, ReadEnd, Recorder};
use crate::settings::MESSAGE_MEMORY;
use crate::sink::Sink;
use crate::state::{CHECKPOINT_VERSION, Checkpoint, CheckpointDelta, FileCheckpoint, Totals};
use crate::tail::{self, FileId, Restart, Tail};

/// A pump over transcript files.
pub type Follower<S> = Pump<Transcripts, S>;

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
    /// Committed inserts not yet handed to a checkpoint write (the newest ones).
    unsaved: usize,
}

impl MessageIds {
    fn from_keys(keys: Vec<String>) -> Self {
        let mut ids = Self::default();
        for k in keys {
            ids.insert(k);
        }
        ids.uncommitted = 0;
        ids.unsaved = 0;
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
            self.unsaved = self.unsaved.min(self.order.len() - self.uncommitted);
        }
        true
    }

    fn commit(&mut self) {
        self.unsaved += self.uncommitted;
        self.uncommitted = 0;
    }

    /// The committed ids not yet saved, oldest first; they count as saved from now on.
    fn take_unsaved(&mut self, keep: bool) -> Vec<String> {
        let n = std::mem::take(&mut self.unsaved);
        if !keep {
            return Vec::new();
        }
        let skip = self.order.len().saturating_sub(self.uncommitted + n);
        self.order.iter().skip(skip).take(n).cloned().collect()
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

/// See the [module docs](self).
pub struct Transcripts {
    source: Source,
    session: String,
    idle_flush: Duration,
    tails: Vec<Tail>,
    /// Codex rollouts already found to belong elsewhere.
    foreign: HashSet<FileId>,
    messages: MessageIds,
    next: usize,
    /// Files whose committed state changed outside a commit (adopted) since the last save.
    adopted: HashSet<PathBuf>,
    /// Files committed since the last save, by index in `tails` (turned into paths in
    /// `adopted` before a scan moves the tails).
    committed: Vec<usize>,
    /// Files forgotten since the last save.
    removed: Vec<PathBuf>,
    /// Files found rewritten since the last commit (counted in the next one).
    rewrites: u64,
}

impl std::fmt::Debug for Transcripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcripts")
            .field("session", &self.session)
            .field("tails", &self.tails)
            .finish_non_exhaustive()
    }
}

impl Transcripts {
    /// The transcripts of `session` that `source` names; files last unchanged for
    /// `idle_flush` have the usage their parser holds back released.
    #[must_use]
    pub fn new(source: Source, session: &str, idle_flush: Duration) -> Self {
        Self {
            source,
            session: session.to_owned(),
            idle_flush,
            tails: Vec::new(),
            foreign: HashSet::new(),
            messages: MessageIds::default(),
            next: 0,
            adopted: HashSet::new(),
            committed: Vec::new(),
            removed: Vec::new(),
            rewrites: 0,
        }
    }

    /// A [`Follower`] of `source` for `session` into `sink`, resuming from `checkpoint` when
    /// given, saving checkpoints to `checkpoint_path` when given.
    #[must_use]
    pub fn follower<S: Sink>(
        source: Source,
        session: &str,
        sink: S,
        checkpoint: Option<Checkpoint>,
        checkpoint_path: Option<PathBuf>,
        idle_flush: Duration,
    ) -> Follower<S> {
        Pump::new(
            Self::new(source, session, idle_flush),
            sink,
            checkpoint,
            checkpoint_path,
        )
    }

    fn agent_for_restore(&self) -> AgentKind {
        match &self.source {
            Source::Watch { agent, .. } => *agent,
            Source::Fixed(files) => files.first().map_or(AgentKind::ClaudeCode, |f| f.1),
        }
    }

    /// The files followed.
    #[must_use]
    pub fn files(&self) -> Vec<&Path> {
        self.tails.iter().map(Tail::path).collect()
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
        self.adopted.insert(tail.path().to_owned());
        Some(tail)
    }

    /// Turns one event into records, dropping a usage whose message another file already
    /// carried.
    fn record<S: Sink>(
        out: &mut Recorder<'_, S>,
        messages: &mut MessageIds,
        agent: AgentKind,
        event: &Event,
    ) -> usize {
        if let Event::Usage(u) = event
            && !u.message_id.is_empty()
            && !messages.insert(u.message_id.clone())
        {
            out.batch().duplicate_messages += 1;
            return 0;
        }
        out.record(agent, event)
    }

    fn file_checkpoint(t: &Tail) -> FileCheckpoint {
        FileCheckpoint {
            path: t.path().to_owned(),
            dev: t.id().dev,
            ino: t.id().ino,
            size: t.size(),
            offset: t.committed_offset(),
            parser: Some(t.committed_parser().clone()),
            consumed: t.consumed(),
        }
    }
}

impl BatchSource for Transcripts {
    fn resume(&mut self, cp: Checkpoint) -> Totals {
        let mut totals = cp.totals;
        self.messages = MessageIds::from_keys(cp.emitted_messages);
        let agent = self.agent_for_restore();
        for f in cp.files {
            let Ok(meta) = std::fs::metadata(&f.path) else {
                self.removed.push(f.path);
                continue;
            };
            let mut tail = Tail::new(
                f.path,
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
            // The first check compares the fingerprint of what was consumed.
            if let Some(restart) = tail.check(&meta) {
                warn_restart(tail.path(), restart, &mut totals.rewritten_files);
            }
            self.tails.push(tail);
        }
        totals
    }

    /// Looks for new, replaced, truncated and removed files.
    fn scan(&mut self) {
        for i in std::mem::take(&mut self.committed) {
            self.adopted.insert(self.tails[i].path().to_owned());
        }
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
                    warn_restart(&path, restart, &mut self.rewrites);
                }
                continue;
            }
            if let Some(tail) = self.adopt(path, agent, &meta) {
                self.tails.push(tail);
            }
        }
        // A removed file is forgotten once everything read from it is committed.
        let removed = &mut self.removed;
        self.tails.retain(|t| {
            let keep = present.contains(t.path()) || t.is_dirty();
            if !keep {
                removed.push(t.path().to_owned());
            }
            keep
        });
    }

    fn read<S: Sink>(&mut self, budget: &mut usize, out: &mut Recorder<'_, S>) -> ReadEnd {
        let n = self.tails.len();
        let mut rescan = false;
        for k in 0..n {
            let i = (self.next + k) % n;
            let Self {
                tails, messages, ..
            } = self;
            let tail = &mut tails[i];
            if !tail.has_unread() {
                continue;
            }
            let agent = tail.agent();
            let mut record = |e: Event| Self::record(out, messages, agent, &e);
            match tail.read(budget, &mut record) {
                Ok(tail::ReadEnd::BudgetSpent) => {
                    // The next batch starts with the next file: one busy transcript cannot
                    // starve the others.
                    self.next = (i + 1) % n;
                    break;
                }
                Ok(tail::ReadEnd::Eof) => {}
                Ok(tail::ReadEnd::Replaced | tail::ReadEnd::Gone) => rescan = true,
                Err(err) => {
                    eprintln!(
                        "gt agent-log: warning: cannot read {}: {err}",
                        tail.path().display()
                    );
                }
            }
        }
        let now = Instant::now();
        let mut wake_at = None::<Instant>;
        if *budget > 0 {
            let Self {
                tails,
                messages,
                idle_flush,
                ..
            } = self;
            for tail in tails.iter_mut() {
                match tail.idle_deadline(*idle_flush) {
                    Some(at) if at <= now && !tail.has_unread() => {
                        let agent = tail.agent();
                        let mut record = |e: Event| Self::record(out, messages, agent, &e);
                        let made = tail.flush_parser(&mut record);
                        *budget = budget.saturating_sub(made);
                    }
                    Some(at) => wake_at = Some(wake_at.map_or(at, |w| w.min(at))),
                    None => {}
                }
            }
        }
        ReadEnd {
            more: self.tails.iter().any(Tail::has_unread),
            rescan,
            wake_at,
        }
    }

    fn finish_read<S: Sink>(&mut self, out: &mut Recorder<'_, S>) -> usize {
        let mut made = 0;
        // Fixed files (replay) are read to their end: their last lines count as `report`
        // counts them. Followed files may still grow: their last lines wait.
        let whole_files = matches!(self.source, Source::Fixed(_));
        let Self {
            tails, messages, ..
        } = self;
        for tail in tails.iter_mut() {
            let agent = tail.agent();
            let mut record = |e: Event| Self::record(out, messages, agent, &e);
            if whole_files {
                made += tail.finish_input(&mut record);
            }
            made += tail.flush_parser(&mut record);
        }
        made
    }

    fn is_dirty(&self) -> bool {
        self.tails.iter().any(Tail::is_dirty)
    }

    fn commit(&mut self, batch: &mut Totals) {
        batch.rewritten_files += std::mem::take(&mut self.rewrites);
        for (i, t) in self.tails.iter_mut().enumerate() {
            if t.is_dirty() {
                batch.skipped += t.commit();
                self.committed.push(i);
            }
        }
        self.messages.commit();
    }

    fn rewind(&mut self) {
        for t in &mut self.tails {
            t.rewind();
        }
        self.messages.rewind();
    }

    fn take_changes(&mut self, keep: bool) -> CheckpointDelta {
        let mut committed = std::mem::take(&mut self.committed);
        let adopted = std::mem::take(&mut self.adopted);
        let removed = std::mem::take(&mut self.removed);
        let messages = self.messages.take_unsaved(keep);
        if !keep {
            return CheckpointDelta::default();
        }
        if !adopted.is_empty() {
            committed
                .extend((0..self.tails.len()).filter(|&i| adopted.contains(self.tails[i].path())));
        }
        committed.sort_unstable();
        committed.dedup();
        CheckpointDelta {
            files: committed
                .into_iter()
                .map(|i| Self::file_checkpoint(&self.tails[i]))
                .collect(),
            removed,
            messages,
            opencode_db: None,
        }
    }

    fn checkpoint(&self, totals: Totals) -> Checkpoint {
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
            files: self.tails.iter().map(Self::file_checkpoint).collect(),
            emitted_messages: self.messages.order.iter().cloned().collect(),
            totals,
            opencode_db: None,
            // The pump names the checkpoint.
            id: String::new(),
        }
    }
}

/// One warning line per file found rewritten, counted in `count`.
fn warn_restart(path: &Path, restart: Restart, count: &mut u64) {
    let why = match restart {
        Restart::Replaced => "it was replaced",
        Restart::Truncated => "it was truncated",
        Restart::Rewritten => "what was read of it changed",
    };
    *count += 1;
    eprintln!(
        "gt agent-log: warning: {} was rewritten ({why}); reading it again from the start, \
         skipping what was already exported",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    use crate::pump::drain;
    use crate::sink::test_support::Memory;

    fn line(i: usize) -> String {
        format!(
            r#"{{"type":"assistant","timestamp":"2025-06-18T10:00:00.000Z","sessionId":"s","requestId":"r{i}","message":{{"id":"m{i}","model":"claude-sonnet-4-5","content":[{{"type":"text","text":"t{i}"}}],"usage":{{"input_tokens":1,"output_tokens":{i}}}}}}}"#
        )
    }

    fn follower(dir: &Path, cp: Option<Checkpoint>, sink: Memory) -> Follower<Memory> {
        Transcripts::follower(
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

    /// A sink that remembers under which name, and after how many confirmed usages, it was
    /// told to publish its counters.
    #[derive(Default)]
    struct Publishing {
        inner: Memory,
        published: Vec<(String, usize)>,
    }

    impl Sink for Publishing {
        fn record(&mut self, agent: AgentKind, event: &Event) -> crate::sink::Recorded {
            self.inner.record(agent, event)
        }
        fn confirm(&mut self) -> bool {
            self.inner.confirm()
        }
        fn ready(&mut self) -> bool {
            true
        }
        fn publish(&mut self, contributor: &str) {
            let usages = self
                .inner
                .exported
                .iter()
                .filter(|e| e.as_usage().is_some())
                .count();
            self.published.push((contributor.to_owned(), usages));
        }
    }

    #[test]
    fn a_commit_writes_the_files_it_touched_and_publishes_the_totals() {
        let dir = tempfile::tempdir().unwrap();
        let cp_path = dir.path().join("cp.json.state");
        for n in 0..20 {
            std::fs::write(
                dir.path().join(format!("f{n}.jsonl")),
                format!("{}\n", line(n)),
            )
            .unwrap();
        }
        let mut fl = Transcripts::follower(
            Source::Watch {
                agent: AgentKind::ClaudeCode,
                root: dir.path().to_owned(),
                work_dir: "/w".into(),
                since: None,
            },
            "s",
            Publishing {
                inner: Memory {
                    fail_next: 1,
                    ..Memory::default()
                },
                ..Publishing::default()
            },
            None,
            Some(cp_path.clone()),
            Duration::ZERO,
        );
        drain(&mut fl);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("f7.jsonl"))
            .unwrap();
        writeln!(f, "{}", line(100)).unwrap();
        drain(&mut fl);
        // The failed export published nothing; each saved commit published, under the
        // checkpoint's name.
        let id = fl.checkpoint().id;
        assert!(!id.is_empty());
        let published = fl.sink().published.clone();
        assert_eq!(published.last().map(|p| p.1), Some(21));
        assert!(published.iter().all(|p| p.0 == id));
        assert!(published.windows(2).all(|w| w[0].1 <= w[1].1));
        let journal = std::fs::read_to_string(crate::state::journal_path(&cp_path)).unwrap();
        let last = journal.lines().last().expect("a journal line");
        assert_eq!(last.matches("\"path\"").count(), 1, "{last}");
        assert!(last.contains("f7.jsonl"), "{last}");
        assert_eq!(Checkpoint::load(&cp_path).unwrap(), Some(fl.checkpoint()));
    }
}
