//! The protocol every source follows: read a bounded batch, confirm its export, then commit.
//!
//! One job: [`Pump`] drives a [`BatchSource`] (transcript files, [`crate::follow`]; OpenCode's
//! database, [`crate::opencode_db`]) into a [`Sink`]. Each [`Pump::pump`] waits out the
//! backoff (and probes the backend when a retry is due), has the source record at most
//! [`BATCH_RECORDS`] records, asks the sink to confirm their export, and only then commits
//! the source's position, adds the batch to the [`Totals`], writes the checkpoint
//! ([`CheckpointStore`]: the batch's changes and the totals in one synced journal line) and
//! publishes the counters ([`Sink::publish`]). A failed confirmation rewinds the source to its
//! committed position and schedules a retry, so nothing is read ahead of what the backend
//! took: memory stays bounded however long the backend is down, and `kill -9` loses nothing
//! (the checkpoint is behind or at what was exported) and duplicates nothing (it is never
//! behind a confirmed export). [`run`] drives a pump from wake-ups (file-system events, poll
//! ticks, signals); [`replay`] drives one over fixed input to its end.
//!
//! It must not know what a source reads (files, rows), parse anything, talk HTTP, or install
//! signal handlers or watches.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use agent_transcripts::{AgentKind, Event};

use crate::settings::BATCH_RECORDS;
use crate::sink::Sink;
use crate::state::{Checkpoint, CheckpointDelta, CheckpointStore, Totals};

/// First wait after a failed export.
pub const RETRY_FIRST: Duration = Duration::from_millis(500);
/// Longest wait between two retries.
pub const RETRY_MAX: Duration = Duration::from_secs(10);

/// What one [`Pump::pump`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A batch was exported and more is waiting: pump again now.
    More,
    /// Everything readable was read; wake up at this instant at the latest (a held-back usage
    /// to release), or on the next event.
    Idle(Option<Instant>),
    /// The export failed or the backend is not ready: retry at this instant.
    Retry(Instant),
}

/// Exponential backoff between attempts to confirm an export.
#[derive(Debug)]
struct Backoff {
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
    fn gate(&mut self, ready: impl FnOnce() -> bool) -> Option<Step> {
        let at = self.at?;
        if Instant::now() < at {
            return Some(Step::Retry(at));
        }
        if !ready() {
            return Some(self.schedule());
        }
        self.at = None;
        None
    }

    /// Schedules the next attempt, doubling the wait up to [`RETRY_MAX`].
    fn schedule(&mut self) -> Step {
        let at = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(RETRY_MAX);
        self.at = Some(at);
        Step::Retry(at)
    }

    /// An export was confirmed: the next failure waits [`RETRY_FIRST`] again.
    fn succeeded(&mut self) {
        self.delay = RETRY_FIRST;
    }

    /// Whether a retry is scheduled (the backend was down at the last attempt).
    fn is_pending(&self) -> bool {
        self.at.is_some()
    }
}

/// Where a source's records go during a batch: the sink, and the batch's counts.
pub struct Recorder<'a, S> {
    sink: &'a mut S,
    batch: &'a mut Totals,
}

impl<S: Sink> Recorder<'_, S> {
    /// Records one event of `agent`; returns the telemetry records it made.
    pub fn record(&mut self, agent: AgentKind, event: &Event) -> usize {
        let r = self.sink.record(agent, event);
        self.batch.count(&r);
        r.records
    }

    /// The batch's counts, for what a source counts itself (duplicates, skipped input).
    pub fn batch(&mut self) -> &mut Totals {
        self.batch
    }
}

/// How a [`BatchSource::read`] ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadEnd {
    /// Input is left (the budget ran out, or more is known to be waiting).
    pub more: bool,
    /// The set of inputs changed under the reader (a file replaced or gone): scan again.
    pub rescan: bool,
    /// When held-back records are due if nothing new arrives.
    pub wake_at: Option<Instant>,
}

/// Something read in batches whose position is committed only once the batch's export was
/// confirmed. Between two commits everything read is *working* state; [`rewind`] goes back
/// to the committed state.
///
/// [`rewind`]: BatchSource::rewind
pub trait BatchSource {
    /// Resumes from a saved checkpoint; returns the totals to go on from (default when the
    /// checkpoint is not this source's).
    fn resume(&mut self, checkpoint: Checkpoint) -> Totals;
    /// Looks for new, replaced and removed inputs.
    fn scan(&mut self);
    /// Records what comes next until `budget` records were made or nothing is left.
    fn read<S: Sink>(&mut self, budget: &mut usize, out: &mut Recorder<'_, S>) -> ReadEnd;
    /// At the end of following: records what parsers hold back (and, for input that will
    /// not grow, its unterminated last line); returns the records made.
    fn finish_read<S: Sink>(&mut self, out: &mut Recorder<'_, S>) -> usize;
    /// Whether working state differs from the committed one (a commit is due even without
    /// records).
    fn is_dirty(&self) -> bool;
    /// Makes the working state the committed one, adding to `batch` what is counted at
    /// commit.
    fn commit(&mut self, batch: &mut Totals);
    /// Goes back to the committed state.
    fn rewind(&mut self);
    /// The committed state's changes since the last call, as one journal line carries them
    /// (only built when `keep`; the record of changes is cleared either way).
    fn take_changes(&mut self, keep: bool) -> CheckpointDelta;
    /// The whole committed state, with `totals`.
    fn checkpoint(&self, totals: Totals) -> Checkpoint;
}

/// See the [module docs](self).
pub struct Pump<B, S> {
    source: B,
    sink: S,
    store: Option<CheckpointStore>,
    save_warned: bool,
    backoff: Backoff,
    totals: Totals,
    batch: Totals,
    /// The checkpoint's counter contributor name ([`Checkpoint::id`]).
    contributor: String,
}

impl<B: std::fmt::Debug, S> std::fmt::Debug for Pump<B, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump")
            .field("source", &self.source)
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

impl<B: BatchSource, S: Sink> Pump<B, S> {
    /// Pumps `source` into `sink`, resuming from `checkpoint` when given, saving checkpoints
    /// to `checkpoint_path` when given.
    #[must_use]
    pub fn new(
        mut source: B,
        mut sink: S,
        checkpoint: Option<Checkpoint>,
        checkpoint_path: Option<PathBuf>,
    ) -> Self {
        let mut contributor = contributor_id(checkpoint.as_ref());
        let had_totals = checkpoint
            .as_ref()
            .is_some_and(|cp| cp.totals != Totals::default());
        let totals = checkpoint.map_or_else(Totals::default, |cp| source.resume(cp));
        if had_totals && totals == Totals::default() {
            // Not this source's checkpoint: its counters start from zero under a new name.
            contributor = contributor_id(None);
        }
        if !totals.counters.is_empty() {
            sink.restore_counters(totals.counters.clone());
            // A restart publishes what the checkpoint counted, whatever it reads next.
            sink.set_skipped_lines(&totals.skipped);
            sink.publish(&contributor);
        }
        Self {
            source,
            sink,
            store: checkpoint_path.map(CheckpointStore::new),
            save_warned: false,
            backoff: Backoff::default(),
            totals,
            batch: Totals::default(),
            contributor,
        }
    }

    /// The source.
    pub fn source(&self) -> &B {
        &self.source
    }

    /// The sink.
    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Confirmed totals (from the checkpoint on, when resumed).
    #[must_use]
    pub fn totals(&self) -> Totals {
        self.totals.clone()
    }

    /// The checkpoint of the committed state.
    #[must_use]
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            id: self.contributor.clone(),
            ..self.source.checkpoint(self.totals.clone())
        }
    }

    /// Looks for new, replaced and removed inputs.
    pub fn scan(&mut self) {
        self.source.scan();
    }

    /// Reads and exports at most one batch. See [`Step`].
    pub fn pump(&mut self) -> Step {
        if let Some(wait) = self.backoff.gate(|| self.sink.ready()) {
            return wait;
        }
        let mut budget = BATCH_RECORDS;
        let end = self.source.read(
            &mut budget,
            &mut Recorder {
                sink: &mut self.sink,
                batch: &mut self.batch,
            },
        );
        let made = BATCH_RECORDS - budget;
        if made > 0 {
            if !self.sink.confirm() {
                self.rewind();
                return self.backoff.schedule();
            }
            self.commit();
        } else if self.source.is_dirty() || self.batch != Totals::default() {
            self.commit();
        }
        self.backoff.succeeded();
        if end.rescan {
            self.source.scan();
            return Step::More;
        }
        if budget == 0 || end.more {
            Step::More
        } else {
            Step::Idle(end.wake_at)
        }
    }

    /// Ends following: records what the source holds back, exports it, and saves the
    /// checkpoint. Returns whether that last export was confirmed (or there was nothing to
    /// export); when not, what is held stays in the checkpoint for the next start.
    pub fn finish(&mut self) -> bool {
        if self.backoff.is_pending() {
            // The backend is down: keep what is held in the checkpoint for the next start.
            self.save();
            return false;
        }
        let made = self.source.finish_read(&mut Recorder {
            sink: &mut self.sink,
            batch: &mut self.batch,
        });
        let ok = made == 0 || self.sink.confirm();
        if ok {
            self.commit();
        } else {
            self.rewind();
            self.save();
        }
        ok
    }

    fn rewind(&mut self) {
        self.source.rewind();
        self.batch = Totals::default();
    }

    /// The one place a batch becomes permanent: the source's position, the totals with the
    /// sink's confirmed counters, the checkpoint (one atomic journal line), then — only once
    /// it is on disk, so a published total is never ahead of the checkpoint a restart resumes
    /// from — the counters are published under the checkpoint's id ([`Sink::publish`]).
    fn commit(&mut self) {
        self.source.commit(&mut self.batch);
        self.totals.add(&self.batch);
        self.totals.counters = self.sink.counters();
        self.batch = Totals::default();
        if self.save() {
            self.sink.set_skipped_lines(&self.totals.skipped);
            self.sink.publish(&self.contributor);
        }
    }

    /// Writes the committed state's changes; a failure is reported once until a save
    /// succeeds again (the next save then writes the whole checkpoint). Returns whether the
    /// state is saved (true without a checkpoint file: nothing to wait for).
    fn save(&mut self) -> bool {
        let delta = self.source.take_changes(self.store.is_some());
        let Some(store) = &mut self.store else {
            return true;
        };
        let (source, totals, id) = (&self.source, &self.totals, &self.contributor);
        let whole = || Checkpoint {
            id: id.clone(),
            ..source.checkpoint(totals.clone())
        };
        match store.commit(&delta, totals, whole) {
            Ok(()) => {
                self.save_warned = false;
                true
            }
            Err(err) if !self.save_warned => {
                self.save_warned = true;
                eprintln!(
                    "gt agent-log: warning: cannot save the checkpoint {}: {err} (a restart \
                     would export again what was exported since the last saved one)",
                    store.path().display()
                );
                false
            }
            Err(_) => false,
        }
    }
}

/// The counter contributor name of a checkpoint: its own, or a new one for a checkpoint that
/// had none (made by an older gt; its counters start from zero).
fn contributor_id(checkpoint: Option<&Checkpoint>) -> String {
    checkpoint
        .map(|cp| cp.id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
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
/// the directory exists). Ends with [`Pump::finish`]; returns its result.
pub fn run<B: BatchSource, S: Sink>(
    pump: &mut Pump<B, S>,
    wakes: &Receiver<Wake>,
    stop: &AtomicBool,
    poll: Duration,
    mut after_scan: impl FnMut(),
) -> bool {
    pump.scan();
    after_scan();
    let mut last_scan = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let pumped = pump.pump();
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let until = match pumped {
            Step::More => continue,
            Step::Idle(at) => at.map_or(last_scan + poll, |at| at.min(last_scan + poll)),
            Step::Retry(at) => at,
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
        if !matches!(pumped, Step::Retry(_)) || last_scan.elapsed() >= poll {
            pump.scan();
            after_scan();
            last_scan = Instant::now();
        }
    }
    pump.finish()
}

/// Replays `pump`'s fixed input to its end once: pumps until nothing is left, retrying a
/// failed export until `patience` has passed without progress. Returns whether everything
/// was exported.
pub fn replay<B: BatchSource, S: Sink>(
    pump: &mut Pump<B, S>,
    stop: &AtomicBool,
    patience: Duration,
) -> bool {
    pump.scan();
    let mut last_progress = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match pump.pump() {
            Step::More => last_progress = Instant::now(),
            Step::Idle(_) => return pump.finish(),
            Step::Retry(at) => {
                if last_progress.elapsed() >= patience {
                    return false;
                }
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
            }
        }
    }
    false
}

/// Pumps until idle, sleeping through retries (unit tests).
#[cfg(test)]
pub(crate) fn drain<B: BatchSource, S: Sink>(pump: &mut Pump<B, S>) {
    pump.scan();
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        match pump.pump() {
            Step::More => {}
            Step::Idle(_) => return,
            Step::Retry(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
        }
    }
    panic!("did not settle");
}
