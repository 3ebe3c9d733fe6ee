//! What a [`Usage`] costs.
//!
//! One job: hold a per-model price table (USD per million tokens) and price a usage. The
//! default table is `pricing.json`, embedded at build time; every row names its source, and the
//! file says where and when the rates were read. A caller may pass the contents of another
//! file of the same format (gt-cli reads `GT_PRICING_FILE`): its rows replace the embedded rows
//! of the same id and add new ones. This module must not read files or the environment.
//!
//! # Versions
//! Every table has a [`Pricing::version`] that records carry as `pricing_version`, so that a
//! dashboard can say "estimate, prices of <version>": the file's top-level `version` (the
//! embedded table's is the date its rates were checked, `YYYY-MM-DD`). An override without a
//! `version` of its own is `file:<YYYY-MM-DD>`, the UTC date the caller says the file was last
//! modified ([`Pricing::load_override`]), else `file`.
//!
//! # Matching model ids
//! The id is lowercased; a `[1m]`-style suffix, a provider prefix (`anthropic/…`,
//! `us.anthropic.…`), a Vertex `@date` and a Bedrock `-v1:0` suffix are removed; for Claude
//! models dots become dashes (OpenCode writes `claude-sonnet-4.5`). The result must equal a
//! row's id or alias, either as is or without a date suffix (`-20250929`, `-2025-08-07`):
//! `claude-sonnet-4-5-20250929` is the `claude-sonnet-4-5` row, but `claude-sonnet-4-5-x`
//! matches nothing. An unknown model is `None`, never a guess.
//!
//! # Cache writes
//! With the 5-minute / 1-hour split, each part is priced at its rate. Without it, all cache
//! writes are priced as 5-minute writes — ccusage does the same: its `TokenUsageRaw`
//! treats `cache_creation_input_tokens` without a `cache_creation` breakdown as an
//! "unbucketed" amount priced at LiteLLM's `cache_creation_input_token_cost`, the 5-minute
//! rate. A row's `long_context` rates apply to every token of a request whose prompt exceeds
//! its threshold (Sonnet 4/4.5 above 200K, Haiku 5.5 above 100K).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::Usage;

const EMBEDDED: &str = include_str!("pricing.json");

/// Rates in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Input tokens (neither read from nor written to the cache).
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Cache writes with the 5-minute lifetime (and writes whose lifetime is unknown).
    pub cache_write_5m: f64,
    /// Cache writes with the 1-hour lifetime.
    pub cache_write_1h: f64,
    /// Cache reads.
    pub cache_read: f64,
}

/// Rates that replace the base rates above a prompt size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LongContext {
    /// Prompt tokens (input + cache reads + cache writes) above which these rates apply.
    pub threshold_tokens: u64,
    /// The rates.
    #[serde(flatten)]
    pub rates: Rates,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// The model id without date suffix (`claude-sonnet-4-5`).
    pub id: String,
    /// Other ids for the same rates.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The base rates.
    #[serde(flatten)]
    pub rates: Rates,
    /// Rates for large prompts, if the provider has them.
    #[serde(default)]
    pub long_context: Option<LongContext>,
    /// Key into the file's `sources`.
    #[serde(default)]
    pub source: String,
}

/// Where a table's rates came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSource {
    /// The page the rates were read from.
    pub url: String,
    /// When (`YYYY-MM-DD`).
    pub checked: String,
    /// How.
    #[serde(default)]
    pub how: String,
}

#[derive(Deserialize)]
struct PricingFile {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    sources: HashMap<String, PriceSource>,
    models: Vec<ModelPrice>,
}

/// The price table could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// Not the expected JSON.
    #[error(
        "the pricing file is not valid: {0}; it must be JSON like the crate's pricing.json ({{\"models\": [{{\"id\", \"input\", \"output\", \"cache_write_5m\", \"cache_write_1h\", \"cache_read\"}}]}})"
    )]
    Format(String),
    /// A row has a negative or non-finite rate, or no id.
    #[error("the pricing row {model:?} is not usable: {reason}; fix or remove that row")]
    Row {
        /// The row's id.
        model: String,
        /// What is wrong.
        reason: String,
    },
}

/// A model price table. Cheap to clone; lookups are hash lookups.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    rows: Vec<ModelPrice>,
    index: HashMap<String, usize>,
    sources: HashMap<String, PriceSource>,
    version: String,
}

impl Pricing {
    /// The table shipped with the crate.
    pub fn embedded() -> Self {
        // The embedded file is checked by a unit test; an error here is a build defect.
        Self::from_json(EMBEDDED).unwrap_or_else(|_| Self::empty())
    }

    /// A table with no rows (everything unpriced).
    pub fn empty() -> Self {
        Self {
            rows: Vec::new(),
            index: HashMap::new(),
            sources: HashMap::new(),
            version: String::new(),
        }
    }

    /// A table read from JSON in the `pricing.json` format.
    ///
    /// # Errors
    /// [`PricingError`] when the text is not that format or a row is unusable.
    pub fn from_json(text: &str) -> Result<Self, PricingError> {
        let file: PricingFile =
            serde_json::from_str(text).map_err(|e| PricingError::Format(e.to_string()))?;
        let mut p = Self::empty();
        p.sources = file.sources;
        p.version = file
            .version
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        for row in file.models {
            p.upsert(row)?;
        }
        Ok(p)
    }

    /// The embedded table with the rows of `override_json` replacing rows of the same id (and
    /// added when new); `None` gives the embedded table. An override without a `version` makes
    /// the version `file` (see [`Pricing::load_override`] to date it).
    ///
    /// # Errors
    /// [`PricingError`] when the override is not valid.
    pub fn load(override_json: Option<&str>) -> Result<Self, PricingError> {
        match override_json {
            Some(text) => Self::load_override(text, None),
            None => Ok(Self::embedded()),
        }
    }

    /// The embedded table with the rows of the override file `text` over it. The version is the
    /// file's `version` when it has one, else `file:<YYYY-MM-DD>` with the UTC date of
    /// `modified` (the file's modification time, as the caller read it), else `file`.
    ///
    /// # Errors
    /// [`PricingError`] when the override is not valid.
    pub fn load_override(
        text: &str,
        modified: Option<std::time::SystemTime>,
    ) -> Result<Self, PricingError> {
        let mut base = Self::embedded();
        let over = Self::from_json(text)?;
        base.sources.extend(over.sources);
        for row in over.rows {
            base.upsert(row)?;
        }
        base.version = if over.version.is_empty() {
            modified
                .and_then(|t| jiff::Timestamp::try_from(t).ok())
                .map_or_else(
                    || "file".to_owned(),
                    |t| format!("file:{}", t.strftime("%Y-%m-%d")),
                )
        } else {
            over.version
        };
        Ok(base)
    }

    /// The table's version (see the module docs): what `pricing_version` says on a cost.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn upsert(&mut self, row: ModelPrice) -> Result<(), PricingError> {
        let id = normalize(&row.id);
        if id.is_empty() {
            return Err(PricingError::Row {
                model: row.id,
                reason: "the id is empty".into(),
            });
        }
        let mut all = vec![row.rates];
        all.extend(row.long_context.map(|l| l.rates));
        for r in all {
            for v in [
                r.input,
                r.output,
                r.cache_write_5m,
                r.cache_write_1h,
                r.cache_read,
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(PricingError::Row {
                        model: row.id,
                        reason: format!("rate {v} is negative or not a number"),
                    });
                }
            }
        }
        let slot = match self.index.get(&id) {
            Some(&i) => {
                for a in &self.rows[i].aliases {
                    self.index.remove(&normalize(a));
                }
                self.rows[i] = row;
                i
            }
            None => {
                self.rows.push(row);
                self.rows.len() - 1
            }
        };
        self.index.insert(id, slot);
        for a in &self.rows[slot].aliases {
            self.index.insert(normalize(a), slot);
        }
        Ok(())
    }

    /// The rows, in file order (embedded rows first, then added ones).
    pub fn models(&self) -> &[ModelPrice] {
        &self.rows
    }

    /// Where the rates came from, by the key rows use in `source`.
    pub fn sources(&self) -> &HashMap<String, PriceSource> {
        &self.sources
    }

    /// The row for a model id as a transcript wrote it (see the module docs for matching).
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        let id = normalize(model);
        if id.is_empty() {
            return None;
        }
        if let Some(&i) = self.index.get(&id) {
            return Some(&self.rows[i]);
        }
        let base = strip_date(&id)?;
        self.index.get(base).map(|&i| &self.rows[i])
    }

    /// The cost of `usage` in USD; `None` when its model has no row.
    pub fn cost_usd(&self, usage: &Usage) -> Option<f64> {
        let row = self.lookup(&usage.model)?;
        let rates = match row.long_context {
            Some(lc) if usage.prompt_tokens() > lc.threshold_tokens => lc.rates,
            _ => row.rates,
        };
        let (w5, w1) = match (
            usage.cache_creation_5m_tokens,
            usage.cache_creation_1h_tokens,
        ) {
            (None, None) => (usage.cache_creation_tokens, 0),
            (a, b) => (a.unwrap_or(0), b.unwrap_or(0)),
        };
        let micro = usage.input_tokens as f64 * rates.input
            + usage.output_tokens as f64 * rates.output
            + w5 as f64 * rates.cache_write_5m
            + w1 as f64 * rates.cache_write_1h
            + usage.cache_read_tokens as f64 * rates.cache_read;
        Some(micro / 1_000_000.0)
    }
}

impl Default for Pricing {
    fn default() -> Self {
        Self::embedded()
    }
}

/// Lowercase; drop `[…]`, provider prefixes, Vertex `@…`, Bedrock `-vN[:M]`; Claude dots → dashes.
fn normalize(model: &str) -> String {
    let mut m = model.trim().to_ascii_lowercase();
    if let Some(i) = m.find('[') {
        m.truncate(i);
    }
    if let Some(i) = m.rfind('/') {
        m.drain(..=i);
    }
    if let Some(i) = m.find("anthropic.") {
        m.drain(..i + "anthropic.".len());
    }
    if let Some(i) = m.find('@') {
        m.truncate(i);
    }
    if let Some(i) = m.rfind("-v") {
        let tail = &m[i + 2..];
        if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == ':') {
            m.truncate(i);
        }
    }
    if m.starts_with("claude") {
        m = m.replace('.', "-");
    }
    m
}

/// `x-20250929` or `x-2025-08-07` → `x`.
fn strip_date(id: &str) -> Option<&str> {
    let b = id.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if b.len() > 9 && b[b.len() - 9] == b'-' && digits(&b[b.len() - 8..]) {
        return Some(&id[..id.len() - 9]);
    }
    if b.len() > 11
        && b[b.len() - 11] == b'-'
        && digits(&b[b.len() - 10..b.len() - 6])
        && b[b.len() - 6] == b'-'
        && digits(&b[b.len() - 5..b.len() - 3])
        && b[b.len() - 3] == b'-'
        && digits(&b[b.len() - 2..])
    {
        return Some(&id[..id.len() - 11]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_parses() {
        let p = Pricing::from_json(EMBEDDED).expect("embedded pricing.json is valid");
        assert!(p.models().len() >= 20);
        for row in p.models() {
            assert!(
                p.sources().contains_key(&row.source),
                "{} has no source",
                row.id
            );
        }
    }

    #[test]
    fn versions_name_the_table_or_the_override_file() {
        assert_eq!(Pricing::embedded().version(), "2026-11-26");
        let row = r#"{"id":"m","input":1,"output":1,"cache_write_5m":1,"cache_write_1h":1,"cache_read":1}"#;
        let versioned = format!(r#"{{"version":"2027-01-02","models":[{row}]}}"#);
        let unversioned = format!(r#"{{"models":[{row}]}}"#);
        let day = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000);
        let v = |text: &str, at| {
            Pricing::load_override(text, at)
                .unwrap()
                .version()
                .to_owned()
        };
        assert_eq!(v(&versioned, Some(day)), "2027-01-02");
        assert_eq!(v(&unversioned, Some(day)), "file:2026-05-28");
        assert_eq!(v(&unversioned, None), "file");
        assert_eq!(Pricing::load(None).unwrap().version(), "2026-11-26");
    }

    #[test]
    fn dated_and_decorated_ids_match_their_row() {
        let p = Pricing::embedded();
        let id = |m: &str| p.lookup(m).map(|r| r.id.clone());
        assert_eq!(
            id("claude-sonnet-4-5-20250929").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            id("claude-opus-4-20250514").as_deref(),
            Some("claude-opus-4")
        );
        assert_eq!(
            id("claude-opus-4-1-20250805").as_deref(),
            Some("claude-opus-4-1")
        );
        assert_eq!(
            id("claude-3-5-haiku-20241022").as_deref(),
            Some("claude-3-5-haiku")
        );
        assert_eq!(
            id("claude-opus-5-5[1m]").as_deref(),
            Some("claude-opus-5-5")
        );
        assert_eq!(
            id("us.anthropic.claude-sonnet-4-5-20250929-v1:0").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            id("claude-sonnet-4-5@20250929").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            id("anthropic/claude-sonnet-4.5").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(id("gpt-5-codex").as_deref(), Some("gpt-5"));
        assert_eq!(id("gpt-5-2025-08-07").as_deref(), Some("gpt-5"));
        assert_eq!(id("claude-sonnet-4-5-x"), None);
        assert_eq!(id("<synthetic>"), None);
        assert_eq!(id(""), None);
    }

    #[test]
    fn overrides_replace_rows_and_bad_rows_are_refused() {
        let over = r#"{"models":[{"id":"claude-sonnet-4-5","input":1,"output":2,"cache_write_5m":3,"cache_write_1h":4,"cache_read":5},
                                   {"id":"my-model","input":1,"output":1,"cache_write_5m":1,"cache_write_1h":1,"cache_read":1}]}"#;
        let p = Pricing::load(Some(over)).expect("valid override");
        assert_eq!(
            p.lookup("claude-sonnet-4-5-20250929")
                .map(|r| r.rates.input),
            Some(1.0)
        );
        assert!(p.lookup("my-model").is_some());
        assert!(p.lookup("claude-opus-4-5").is_some());
        let bad = r#"{"models":[{"id":"x","input":-1,"output":1,"cache_write_5m":1,"cache_write_1h":1,"cache_read":1}]}"#;
        assert!(matches!(
            Pricing::load(Some(bad)),
            Err(PricingError::Row { .. })
        ));
        assert!(matches!(
            Pricing::load(Some("nope")),
            Err(PricingError::Format(_))
        ));
    }
}
