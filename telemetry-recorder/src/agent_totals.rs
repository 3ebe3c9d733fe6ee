//! The agent counters (`gastown.agent.events.total`, `gastown.token.usage`,
//! `gastown.token.cost_usd`, and agent-log's own health: skipped lines, unpriced usages and
//! their tokens) as totals a caller keeps in its own durable state.
//!
//! agent-log stores an [`AgentTotals`] in its checkpoint, adds to it what each confirmed batch
//! counted, and publishes it whole after each checkpoint
//! ([`crate::Recorder::publish_agent_totals`]); the host's counter store turns the
//! publications into series that grow by exactly what the checkpoint grew by. A `kill -9`, a
//! restart, a retried batch or a flapping backend then neither loses nor doubles a token.
//! [`crate::Recorder::agent_usage`] counts a one-shot usage (`gt otel emit`) on the same label
//! sets, taken from here, so there is one definition of them.
//!
//! This module must not export or record anything itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use telemetry_core::{PublishedPoint, PublishedValue};

use crate::catalog::{InstrumentSpec, instrument};
use crate::events::{AgentEvent, AgentUsage};

/// Which agent counter a total belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentCounter {
    /// `gastown.agent.events.total`.
    Events,
    /// `gastown.token.usage`.
    Tokens,
    /// `gastown.token.cost_usd`.
    CostUsd,
    /// `gastown.agent_log.skipped_lines.total`.
    SkippedLines,
    /// `gastown.agent_log.unpriced_usages.total`.
    UnpricedUsages,
    /// `gastown.agent_log.unpriced_tokens.total`.
    UnpricedTokens,
}

impl AgentCounter {
    /// The instrument.
    #[must_use]
    pub fn spec(self) -> &'static InstrumentSpec {
        match self {
            Self::Events => &instrument::AGENT_EVENTS_TOTAL,
            Self::Tokens => &instrument::TOKEN_USAGE,
            Self::CostUsd => &instrument::TOKEN_COST_USD,
            Self::SkippedLines => &instrument::AGENT_LOG_SKIPPED_LINES_TOTAL,
            Self::UnpricedUsages => &instrument::AGENT_LOG_UNPRICED_USAGES_TOTAL,
            Self::UnpricedTokens => &instrument::AGENT_LOG_UNPRICED_TOKENS_TOTAL,
        }
    }
}

/// One series' total.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Amount {
    /// Count (events, tokens).
    pub count: u64,
    /// US dollars (cost).
    pub usd: f64,
}

/// A series' labels, in the instrument's attribute order.
pub type Labels = Vec<(String, String)>;

/// A series: its counter and labels.
pub type SeriesKey = (AgentCounter, Labels);

/// Totals of the agent counters per label set. See the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<Entry>", into = "Vec<Entry>")]
pub struct AgentTotals {
    series: BTreeMap<SeriesKey, Amount>,
}

/// One series as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    counter: AgentCounter,
    labels: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    count: u64,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    usd: f64,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

impl From<Vec<Entry>> for AgentTotals {
    fn from(entries: Vec<Entry>) -> Self {
        let mut totals = Self::default();
        for e in entries {
            let amount = totals.series.entry((e.counter, e.labels)).or_default();
            amount.count = amount.count.saturating_add(e.count);
            amount.usd += e.usd;
        }
        totals
    }
}

impl From<AgentTotals> for Vec<Entry> {
    fn from(totals: AgentTotals) -> Self {
        totals
            .series
            .into_iter()
            .map(|((counter, labels), a)| Entry {
                counter,
                labels,
                count: a.count,
                usd: a.usd,
            })
            .collect()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The four token types of a usage, as `type` labels them.
fn token_types(usage: &AgentUsage<'_>) -> [(&'static str, u64); 4] {
    [
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cache_read_tokens),
        ("cache_creation", usage.cache_creation_tokens),
    ]
}

impl AgentTotals {
    fn add_count(&mut self, counter: AgentCounter, labels: Vec<(String, String)>, n: u64) {
        let amount = self.series.entry((counter, labels)).or_default();
        amount.count = amount.count.saturating_add(n);
    }

    /// Counts one `agent.usage`: one event (`event_type` `usage`), its four token types, and
    /// its cost when it has a finite positive one.
    pub fn add_usage(&mut self, usage: &AgentUsage<'_>) {
        for (counter, labels, amount) in usage_series(usage) {
            let a = self.series.entry((counter, labels)).or_default();
            a.count = a.count.saturating_add(amount.count);
            a.usd += amount.usd;
        }
    }

    /// Counts one usage recorded without a cost (its model has no price): one usage and the
    /// sum of its four token types, by agent type and model.
    pub fn add_unpriced(&mut self, usage: &AgentUsage<'_>) {
        let labels = || labels(&[("agent_type", usage.agent_type), ("model", usage.model)]);
        self.add_count(AgentCounter::UnpricedUsages, labels(), 1);
        let tokens = token_types(usage)
            .iter()
            .fold(0u64, |sum, (_, n)| sum.saturating_add(*n));
        self.add_count(AgentCounter::UnpricedTokens, labels(), tokens);
    }

    /// Sets the skipped-lines series to `counts` (`(reason, lines)`: totals since the same start
    /// as the other series, such as a follower's checkpointed skip counts); reasons with no
    /// line are left out.
    pub fn set_skipped_lines(&mut self, counts: &[(&str, u64)]) {
        self.series
            .retain(|(counter, _), _| *counter != AgentCounter::SkippedLines);
        for (reason, n) in counts.iter().filter(|(_, n)| *n > 0) {
            self.add_count(
                AgentCounter::SkippedLines,
                labels(&[("reason", reason)]),
                *n,
            );
        }
    }

    /// Counts one `agent.event` (call it only for events that were recorded).
    pub fn add_event(&mut self, event: &AgentEvent<'_>) {
        self.add_count(
            AgentCounter::Events,
            labels(&[
                ("session", event.session),
                ("event_type", event.event_type.as_str()),
                ("role", event.role.as_str()),
            ]),
            1,
        );
    }

    /// Adds `other`'s totals.
    pub fn add(&mut self, other: &Self) {
        for (key, amount) in &other.series {
            let a = self.series.entry(key.clone()).or_default();
            a.count = a.count.saturating_add(amount.count);
            a.usd += amount.usd;
        }
    }

    /// Whether nothing was counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The total of one series, if counted.
    #[must_use]
    pub fn get(&self, counter: AgentCounter, labels: &[(&str, &str)]) -> Option<Amount> {
        self.series
            .iter()
            .find(|((c, l), _)| {
                *c == counter
                    && l.len() == labels.len()
                    && l.iter().zip(labels).all(|(a, b)| a.0 == b.0 && a.1 == b.1)
            })
            .map(|(_, a)| *a)
    }

    /// Every series with its total.
    pub fn iter(&self) -> impl Iterator<Item = (&SeriesKey, &Amount)> {
        self.series.iter()
    }

    /// The totals as points to publish.
    #[must_use]
    pub fn points(&self) -> Vec<PublishedPoint> {
        self.series
            .iter()
            .map(|((counter, labels), amount)| {
                let spec = counter.spec();
                PublishedPoint {
                    name: spec.name,
                    unit: spec.unit,
                    description: spec.description,
                    attrs: labels.clone(),
                    value: match counter {
                        AgentCounter::CostUsd => PublishedValue::Float(amount.usd),
                        AgentCounter::Events
                        | AgentCounter::Tokens
                        | AgentCounter::SkippedLines
                        | AgentCounter::UnpricedUsages
                        | AgentCounter::UnpricedTokens => PublishedValue::Int(amount.count),
                    },
                }
            })
            .collect()
    }
}

/// The series one usage counts on, with what it adds to each.
pub(crate) fn usage_series(usage: &AgentUsage<'_>) -> Vec<(AgentCounter, Labels, Amount)> {
    let mut out = vec![(
        AgentCounter::Events,
        labels(&[
            ("session", usage.session),
            ("event_type", "usage"),
            ("role", usage.role),
        ]),
        Amount { count: 1, usd: 0.0 },
    )];
    for (kind, tokens) in token_types(usage) {
        out.push((
            AgentCounter::Tokens,
            labels(&[
                ("type", kind),
                ("model", usage.model),
                ("agent_type", usage.agent_type),
                ("rig", usage.rig),
                ("role", usage.role),
            ]),
            Amount {
                count: tokens,
                usd: 0.0,
            },
        ));
    }
    // A monotonic sum cannot go down; a negative or non-finite cost is not counted.
    if let Some(cost) = usage.cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
        out.push((
            AgentCounter::CostUsd,
            labels(&[
                ("rig", usage.rig),
                ("role", usage.role),
                ("agent_type", usage.agent_type),
                ("model", usage.model),
            ]),
            Amount {
                count: 0,
                usd: cost,
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn usage(model: &str, input: u64, cost: Option<f64>) -> AgentUsage<'_> {
        AgentUsage {
            session: "s",
            native_session_id: "n",
            agent_type: "claudecode",
            model,
            record_id: "r",
            message_id: "m",
            request_id: "q",
            role: "polecat",
            rig: "gastown",
            input_tokens: input,
            output_tokens: 2,
            cache_read_tokens: 0,
            cache_creation_tokens: 0,
            cache_creation_5m_tokens: None,
            cache_creation_1h_tokens: None,
            cost_usd: cost,
            cost_source: "",
            pricing_version: "",
            timestamp: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn totals_add_up_per_label_set_and_round_trip_through_json() {
        let mut t = AgentTotals::default();
        t.add_usage(&usage("m1", 10, Some(0.5)));
        t.add_usage(&usage("m1", 15, Some(0.25)));
        t.add_usage(&usage("m2", 7, Some(f64::NAN)));
        let input = |model| {
            t.get(
                AgentCounter::Tokens,
                &[
                    ("type", "input"),
                    ("model", model),
                    ("agent_type", "claudecode"),
                    ("rig", "gastown"),
                    ("role", "polecat"),
                ],
            )
            .map(|a| a.count)
        };
        assert_eq!((input("m1"), input("m2")), (Some(25), Some(7)));
        let events = t.get(
            AgentCounter::Events,
            &[
                ("session", "s"),
                ("event_type", "usage"),
                ("role", "polecat"),
            ],
        );
        assert_eq!(events.map(|a| a.count), Some(3));
        let costs: Vec<f64> = t
            .iter()
            .filter(|((c, _), _)| *c == AgentCounter::CostUsd)
            .map(|(_, a)| a.usd)
            .collect();
        assert_eq!(costs, vec![0.75]);
        let json = serde_json::to_string(&t).unwrap();
        let back: AgentTotals = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        let mut doubled = back.clone();
        doubled.add(&t);
        assert_eq!(doubled.points().len(), t.points().len());
    }
}
