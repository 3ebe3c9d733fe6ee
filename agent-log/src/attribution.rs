//! Which work a transcript record belongs to: the session's work-ledger entry current at the
//! record's own time.
//!
//! One job: [`Attribution::at`] answers the work context (rig, bead, molecule) for a
//! timestamp, from the session's ledger (`work_ledger`, written by `gt prime`). The time that
//! decides is the record's, never the time it is read, so following live, following after a
//! restart, `replay` and `report` attribute a record the same way. A record older than the
//! ledger's first entry carries no work context; a session without a ledger (none written, or
//! no state directory) keeps the fallback the caller gives (`GT_WORK_*`).
//!
//! Cost: the ledger is parsed once and kept; the file is looked at again (its size and
//! modification time) only for a record no older than the last look, since an entry appended
//! later is stamped later, and parsed again only when it changed. It must not write the
//! ledger or record telemetry.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use telemetry_recorder::WorkContext;
use work_ledger::{Entry, Ledger};

/// How far before the last look at the ledger a record must be for the look to be skipped:
/// an entry is stamped under the ledger's lock just before its line is written, so a look may
/// miss an entry stamped a moment earlier.
const STAMP_SLACK: Duration = Duration::from_secs(1);

/// The ledger file as last seen: size and modification time.
type FileStamp = (u64, Option<SystemTime>);

/// The work context of records by their time, from one session's ledger.
#[derive(Debug)]
pub struct Attribution {
    ledger: Option<Ledger>,
    /// Entry times (ns since the epoch) with their contexts, oldest first.
    entries: Vec<(u64, WorkContext)>,
    fallback: WorkContext,
    none: WorkContext,
    seen: Option<FileStamp>,
    looked_at: Option<SystemTime>,
    warned: bool,
}

impl Attribution {
    /// Attribution from the ledger of `session` under the state directory `state_dir` (the
    /// work ledger's, `GT_STATE_DIR`'s resolution); `fallback` applies while the ledger has no
    /// entry. Without a state directory or a usable session name, `fallback` always applies.
    #[must_use]
    pub fn new(state_dir: Option<&Path>, session: &str, fallback: WorkContext) -> Self {
        let ledger = state_dir.and_then(|dir| match Ledger::new(dir, session) {
            Ok(ledger) => Some(ledger),
            Err(_) if session.trim().is_empty() => None,
            Err(err) => {
                eprintln!("gt agent-log: warning: work ledger: {err}; records keep GT_WORK_*");
                None
            }
        });
        Self {
            ledger,
            entries: Vec::new(),
            fallback,
            none: WorkContext::default(),
            seen: None,
            looked_at: None,
            warned: false,
        }
    }

    /// The work context of a record made at `time`: the ledger's entry current then, none
    /// before its first entry, the fallback when the ledger has no entry at all.
    pub fn at(&mut self, time: SystemTime) -> &WorkContext {
        let stale_look = self
            .looked_at
            .is_none_or(|looked| time + STAMP_SLACK >= looked);
        if stale_look {
            self.refresh();
        }
        if self.entries.is_empty() {
            return &self.fallback;
        }
        let ns = nanos(time);
        let after = self.entries.partition_point(|(t, _)| *t <= ns);
        match after.checked_sub(1) {
            Some(i) => &self.entries[i].1,
            None => &self.none,
        }
    }

    /// Looks at the ledger file; parses it again when its size or time changed.
    fn refresh(&mut self) {
        let Some(ledger) = &self.ledger else {
            return;
        };
        let now = SystemTime::now();
        let stamp = match std::fs::metadata(ledger.path()) {
            Ok(meta) => Some((meta.len(), meta.modified().ok())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => {
                self.warn(&format!("{}: {err}", ledger.path().display()));
                return;
            }
        };
        self.looked_at = Some(now);
        if stamp == self.seen {
            return;
        }
        match ledger.entries() {
            Ok(read) => {
                if read.corrupt_lines > 0 {
                    self.warn(&format!(
                        "{}: skipped {} corrupt line(s)",
                        ledger.path().display(),
                        read.corrupt_lines
                    ));
                }
                self.entries = read
                    .value
                    .iter()
                    .map(|e| (e.time_ns, context_of(e)))
                    .collect();
                self.seen = stamp;
            }
            Err(err) => self.warn(&err.to_string()),
        }
    }

    fn warn(&mut self, problem: &str) {
        if !std::mem::replace(&mut self.warned, true) {
            eprintln!(
                "gt agent-log: warning: work ledger {problem}; records keep the work context \
                 last read"
            );
        }
    }
}

/// The work context an entry describes.
#[must_use]
pub fn context_of(entry: &Entry) -> WorkContext {
    WorkContext {
        rig: entry.rig.clone(),
        bead: entry.bead.clone(),
        mol: entry.mol.clone(),
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use work_ledger::{Change, Source};

    fn change(bead: &str) -> Change {
        Change {
            rig: "gastown".into(),
            bead: bead.into(),
            ..Change::default()
        }
    }

    fn time(ns: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(ns)
    }

    #[test]
    fn a_record_gets_the_entry_current_at_its_own_time() {
        let dir = tempfile::tempdir().unwrap();
        let fallback = WorkContext {
            bead: "env".into(),
            ..WorkContext::default()
        };
        let mut attr = Attribution::new(Some(dir.path()), "s", fallback);
        // No ledger yet: the fallback.
        assert_eq!(attr.at(SystemTime::now()).bead, "env");
        let ledger = Ledger::new(dir.path(), "s").unwrap();
        let a = ledger.append(change("gt-a"), Source::PrimeHook).unwrap();
        let b = ledger.append(change("gt-b"), Source::PrimeHook).unwrap();
        // Read after both entries were written, a record still gets the one of its time.
        assert_eq!(attr.at(time(a.time_ns - 1)), &WorkContext::default());
        assert_eq!(attr.at(time(a.time_ns)).bead, "gt-a");
        assert_eq!(attr.at(time(b.time_ns - 1)).bead, "gt-a");
        assert_eq!(attr.at(time(b.time_ns + 5)).bead, "gt-b");
        assert_eq!(attr.at(time(b.time_ns)).rig, "gastown");
        // An entry appended later is seen by a record made after it.
        let c = ledger.append(Change::default(), Source::EmptyHook).unwrap();
        assert!(attr.at(time(c.time_ns)).is_empty());
        assert_eq!(attr.at(time(b.time_ns)).bead, "gt-b");
    }

    #[test]
    fn without_a_state_directory_the_fallback_applies() {
        let fallback = WorkContext {
            rig: "r".into(),
            ..WorkContext::default()
        };
        let mut attr = Attribution::new(None, "s", fallback.clone());
        assert_eq!(attr.at(SystemTime::now()), &fallback);
        let mut attr = Attribution::new(Some(Path::new("/nonexistent")), "", fallback.clone());
        assert_eq!(attr.at(UNIX_EPOCH), &fallback);
    }
}
