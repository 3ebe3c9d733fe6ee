//! One ledger entry: a work context that became current in a session, when, and who set it.
//!
//! One job: the entry's shape and its JSON form (one line of the ledger). It must not touch
//! files.

use serde::{Deserialize, Serialize};

/// What set a work context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `gt prime` found a hooked (or in-progress) bead through beads.
    PrimeHook,
    /// `gt prime --bead/--mol`: given explicitly.
    Flags,
    /// `gt prime` asked beads and got "no work": the context is cleared.
    EmptyHook,
}

impl Source {
    /// The name written in the ledger (`prime_hook`, `flags`, `empty_hook`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrimeHook => "prime_hook",
            Self::Flags => "flags",
            Self::EmptyHook => "empty_hook",
        }
    }
}

/// A change of work context, as the caller describes it; the ledger adds the time and session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    /// The agent's role, e.g. `gastown/polecats/Toast` (empty when unknown).
    pub role: String,
    /// The agent's run id (`GT_RUN`; empty when unknown).
    pub run_id: String,
    /// The rig of the work.
    pub rig: String,
    /// The bead (empty: none).
    pub bead: String,
    /// The molecule (empty: none).
    pub mol: String,
}

/// One line of a session's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When the context became current: nanoseconds since the Unix epoch, stamped under the
    /// ledger's lock, so entries are in file order.
    pub time_ns: u64,
    /// The session whose ledger this is (unsanitised).
    pub session: String,
    /// The agent's role.
    #[serde(default)]
    pub role: String,
    /// The run id.
    #[serde(default)]
    pub run_id: String,
    /// The rig of the work.
    #[serde(default)]
    pub rig: String,
    /// The bead (empty: none).
    #[serde(default)]
    pub bead: String,
    /// The molecule (empty: none).
    #[serde(default)]
    pub mol: String,
    /// What set it.
    pub source: Source,
}

impl Entry {
    /// The entry for `change` in `session` at `time_ns`.
    #[must_use]
    pub fn new(time_ns: u64, session: &str, change: Change, source: Source) -> Self {
        Self {
            time_ns,
            session: session.to_owned(),
            role: change.role,
            run_id: change.run_id,
            rig: change.rig,
            bead: change.bead,
            mol: change.mol,
            source,
        }
    }

    /// The entry as one JSON line, newline included.
    pub(crate) fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// Parses one line (without its newline); `None` for anything that is not an entry.
    pub(crate) fn from_line(line: &[u8]) -> Option<Self> {
        serde_json::from_slice(line).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_one_json_line_and_reads_back() {
        let change = Change {
            role: "gastown/polecats/Toast".into(),
            run_id: "r-1".into(),
            rig: "gastown".into(),
            bead: "gt-1\nx".into(),
            mol: String::new(),
        };
        let entry = Entry::new(42, "gt-gastown-Toast", change, Source::PrimeHook);
        let line = entry.to_line();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(text.contains(r#""source":"prime_hook""#), "{text}");
        assert_eq!(Entry::from_line(&line[..line.len() - 1]), Some(entry));
        assert_eq!(Entry::from_line(b"{\"time_ns\":1"), None);
    }
}
