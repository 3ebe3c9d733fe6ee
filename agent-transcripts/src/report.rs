//! Usage totals by session, model, day, or by the work (rig, bead, molecule) each usage was
//! made for, priced, as a table or JSON.
//!
//! One job: fold [`Usage`]s into [`ReportRow`]s with [`report`] (or, with each usage's work
//! as the caller attributed it, [`report_attributed`]) and render them. Usages are
//! taken as given (dedup is the parsers' job); unknown models are counted in
//! `unpriced_usages` and add nothing to `cost_usd`. Days are UTC days (compare with ccusage run
//! with `TZ=UTC`). It must not read files or know any agent's format.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::model::Usage;
use crate::pricing::Pricing;
use crate::time::utc_day;

/// How rows are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By native session id (`(none)` when empty).
    Session,
    /// By model id as written (`(unknown)` when empty).
    Model,
    /// By UTC day, `YYYY-MM-DD`.
    Day,
    /// By the bead the usage was made for (`(none)` when none).
    Bead,
    /// By the rig of the work (`(none)` when none).
    Rig,
    /// By the molecule of the work (`(none)` when none).
    Mol,
}

/// The work a usage was made for, as its caller attributed it (empty parts: none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    /// The rig.
    pub rig: String,
    /// The bead.
    pub bead: String,
    /// The molecule.
    pub mol: String,
}

impl GroupBy {
    /// The column title for the key.
    pub const fn title(self) -> &'static str {
        match self {
            Self::Session => "Session",
            Self::Model => "Model",
            Self::Day => "Day",
            Self::Bead => "Bead",
            Self::Rig => "Rig",
            Self::Mol => "Molecule",
        }
    }
}

/// Totals of one group (or of all, for [`Report::total`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// The group key (session id, model id or day; `Total` for the total row).
    pub key: String,
    /// Usages folded in.
    pub usages: u64,
    /// Sum of input tokens.
    pub input_tokens: u64,
    /// Sum of output tokens.
    pub output_tokens: u64,
    /// Sum of cache-read tokens.
    pub cache_read_tokens: u64,
    /// Sum of cache-write tokens.
    pub cache_creation_tokens: u64,
    /// input + output + cache reads + cache writes.
    pub total_tokens: u64,
    /// Cost of the priced usages, USD.
    pub cost_usd: f64,
    /// Usages whose model has no price (their tokens are counted, their cost is not).
    pub unpriced_usages: u64,
    /// Distinct models seen in the group, sorted.
    pub models: Vec<String>,
}

impl ReportRow {
    fn add(&mut self, u: &Usage, cost: Option<f64>) {
        self.usages += 1;
        self.input_tokens = self.input_tokens.saturating_add(u.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(u.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(u.cache_read_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(u.cache_creation_tokens);
        self.total_tokens = self.total_tokens.saturating_add(u.total_tokens());
        match cost {
            Some(c) => self.cost_usd += c,
            None => self.unpriced_usages += 1,
        }
    }
}

/// Grouped totals plus the grand total.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// How the rows are keyed.
    pub group_by: Option<GroupBy>,
    /// One row per group, sorted by key.
    pub rows: Vec<ReportRow>,
    /// The sum of all rows, keyed `Total`.
    pub total: ReportRow,
}

/// Folds `usages` into rows keyed by `by`, priced with `pricing`; with no work attributed,
/// `Bead`, `Rig` and `Mol` put every usage under `(none)`.
pub fn report(usages: impl IntoIterator<Item = Usage>, by: GroupBy, pricing: &Pricing) -> Report {
    report_attributed(
        usages.into_iter().map(|u| (u, Work::default())),
        by,
        pricing,
    )
}

/// As [`report`], each usage with the work it was made for.
pub fn report_attributed(
    usages: impl IntoIterator<Item = (Usage, Work)>,
    by: GroupBy,
    pricing: &Pricing,
) -> Report {
    let mut groups: BTreeMap<String, (ReportRow, BTreeSet<String>)> = BTreeMap::new();
    let mut total = ReportRow {
        key: "Total".to_string(),
        ..ReportRow::default()
    };
    let mut all_models = BTreeSet::new();
    let or_none = |s: &str| {
        if s.is_empty() {
            "(none)".to_string()
        } else {
            s.to_string()
        }
    };
    for (u, work) in usages {
        let key = match by {
            GroupBy::Session if u.native_session_id.is_empty() => "(none)".to_string(),
            GroupBy::Session => u.native_session_id.clone(),
            GroupBy::Model if u.model.is_empty() => "(unknown)".to_string(),
            GroupBy::Model => u.model.clone(),
            GroupBy::Day => utc_day(u.timestamp),
            GroupBy::Bead => or_none(&work.bead),
            GroupBy::Rig => or_none(&work.rig),
            GroupBy::Mol => or_none(&work.mol),
        };
        let cost = pricing.cost_usd(&u);
        let model = if u.model.is_empty() {
            "(unknown)".to_string()
        } else {
            u.model.clone()
        };
        let (row, models) = groups.entry(key.clone()).or_insert_with(|| {
            (
                ReportRow {
                    key,
                    ..ReportRow::default()
                },
                BTreeSet::new(),
            )
        });
        row.add(&u, cost);
        models.insert(model.clone());
        total.add(&u, cost);
        all_models.insert(model);
    }
    total.models = all_models.into_iter().collect();
    let rows = groups
        .into_values()
        .map(|(mut row, models)| {
            row.models = models.into_iter().collect();
            row
        })
        .collect();
    Report {
        group_by: Some(by),
        rows,
        total,
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    /// A fixed-width text table, one row per group and a total row, ending in a newline.
    /// Unpriced usages show as `+N unpriced` after the cost.
    pub fn render_table(&self) -> String {
        let title = self.group_by.map_or("Key", GroupBy::title);
        let header = [
            title,
            "Input",
            "Output",
            "Cache read",
            "Cache write",
            "Total tokens",
            "Cost (USD)",
        ];
        let line = |r: &ReportRow| -> [String; 7] {
            let mut cost = format!("{:.2}", r.cost_usd);
            if r.unpriced_usages > 0 {
                let _ = write!(cost, " +{} unpriced", r.unpriced_usages);
            }
            [
                r.key.clone(),
                thousands(r.input_tokens),
                thousands(r.output_tokens),
                thousands(r.cache_read_tokens),
                thousands(r.cache_creation_tokens),
                thousands(r.total_tokens),
                cost,
            ]
        };
        let body: Vec<[String; 7]> = self.rows.iter().map(line).collect();
        let total = line(&self.total);
        let mut width = header.map(str::len);
        for r in body.iter().chain(std::iter::once(&total)) {
            for (w, cell) in width.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let row_out = |out: &mut String, cells: &[String]| {
            for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let pad = w.saturating_sub(cell.chars().count());
                if i == 0 {
                    out.push_str(cell);
                    out.extend(std::iter::repeat_n(' ', pad));
                } else {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(cell);
                }
            }
            let trimmed = out.trim_end().len();
            out.truncate(trimmed);
            out.push('\n');
        };
        row_out(&mut out, &header.map(String::from));
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        row_out(&mut out, &rule);
        for r in &body {
            row_out(&mut out, r);
        }
        row_out(&mut out, &rule);
        row_out(&mut out, &total);
        out
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
