//! Counter totals that a long-lived process keeps in its own durable state and publishes whole.
//!
//! Why it exists: a counter that the SDK accumulates in memory is lost by a `kill -9` between
//! two exports, and counted twice when the work it counts is retried. A follower that
//! checkpoints its progress (agent-log) instead stores its totals *in* the checkpoint, so they
//! advance in the same atomic write as its position, and publishes them here after every
//! checkpoint: the whole totals, under a contributor name that is stable across its restarts
//! (the checkpoint's id). The metrics exporter of `telemetry-otlp` hands them to the host's
//! counter store, which adds to each series only what a contributor's total grew by since it
//! last published. Publishing the same totals again, or again after a restart, therefore
//! counts nothing twice, and nothing the checkpoint passed is lost.
//!
//! This module only holds the latest totals of each contributor. It must not export, read
//! files, or know any instrument's name (the recorder names them).

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The scope of the tick instrument the provider registers once totals are published: the SDK
/// calls the metrics exporter only when a collection holds data, so the tick (an observable
/// counter always at 0) makes every export interval reach the exporter, which sends the
/// published totals and drops the tick.
pub const TICK_SCOPE: &str = "gastown.published.tick";

/// One counter series' total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PublishedValue {
    /// An integer monotonic sum.
    Int(u64),
    /// A floating-point monotonic sum.
    Float(f64),
}

/// One series of a monotonic counter of the [`crate::SCOPE_NAME`] scope, with its total.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedPoint {
    /// Instrument name.
    pub name: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// Description.
    pub description: &'static str,
    /// Data point attributes (the series' labels).
    pub attrs: Vec<(String, String)>,
    /// The total since the contributor began.
    pub value: PublishedValue,
}

/// The latest totals of every contributor of this process. Shared by the [`crate::Provider`]
/// (where they are published) and its metrics exporter (where they are read).
#[derive(Debug, Default)]
pub struct Published {
    by_contributor: Mutex<BTreeMap<String, Vec<PublishedPoint>>>,
}

impl Published {
    /// Replaces `contributor`'s totals with `points`.
    pub fn publish(&self, contributor: &str, points: Vec<PublishedPoint>) {
        self.lock().insert(contributor.to_owned(), points);
    }

    /// Every contributor's latest totals.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(String, Vec<PublishedPoint>)> {
        self.lock()
            .iter()
            .map(|(c, p)| (c.clone(), p.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<PublishedPoint>>> {
        self.by_contributor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_replaces_the_contributors_previous_one() {
        let p = Published::default();
        let point = |v| PublishedPoint {
            name: "n",
            unit: "1",
            description: "d",
            attrs: vec![("k".to_owned(), "v".to_owned())],
            value: PublishedValue::Int(v),
        };
        p.publish("a", vec![point(1)]);
        p.publish("b", vec![point(5)]);
        p.publish("a", vec![point(3)]);
        let snap = p.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(snap[0], ("a".to_owned(), vec![point(3)]));
    }
}
