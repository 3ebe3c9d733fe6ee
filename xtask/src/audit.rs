//! `cargo xtask audit`: docs/ and the code agree, both ways.
//!
//! - docs/data-model.md: the generated tables (events, attributes, instruments) against the
//!   recorder's [`catalog()`](telemetry_recorder::catalog()).
//! - docs/configuration.md: its variables tables and the one declaration of each variable,
//!   [`telemetry_core::env::ALL`], agree both ways (each row with a default, each declaration's
//!   doc with a `Default:`); no non-test source outside telemetry-core/src/env.rs writes a
//!   variable's name as a string literal (`"GT_…"`, `"BD_…"`, `"OTEL_…"`, any declared name);
//!   and every declared variable is used somewhere (or marked reserved).
//! - docs/dashboards/*.json, docs/alerts/*, docs/operations.md: every metric name used in a
//!   query exists (in its Prometheus form).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use regex::Regex;
use telemetry_core::env::EnvVar;
use telemetry_recorder::catalog::{
    AttrKind, Catalog, InstrumentKind, Presence, SeverityRule, ValueType,
};

use crate::Finding;
use crate::markdown::{Row, block_rows, name_list, replace_block, table_rows, unquote};
use telemetry_recorder::prometheus::{SeriesKind, series_names};

/// The generated blocks of docs/data-model.md.
pub const BLOCKS: [&str; 3] = ["events", "attributes", "instruments"];

fn type_word(kind: AttrKind) -> &'static str {
    match kind {
        AttrKind::Str => "string",
        AttrKind::Int => "int",
        AttrKind::Double => "double",
        AttrKind::Bool => "bool",
    }
}

fn instrument_kind_word(kind: InstrumentKind) -> &'static str {
    match kind {
        InstrumentKind::Counter => "counter",
        InstrumentKind::Histogram => "histogram",
        InstrumentKind::Gauge => "gauge",
    }
}

fn value_type_word(value: ValueType) -> &'static str {
    match value {
        ValueType::U64 => "u64",
        ValueType::F64 => "f64",
    }
}

fn presence_word(presence: Presence) -> &'static str {
    match presence {
        Presence::Always => "always",
        Presence::WhenGiven => "when given",
        Presence::OmittedWhenEmpty => "omitted when empty",
        Presence::MetricOnly => "metric label only",
    }
}

fn severity_word(rule: SeverityRule) -> &'static str {
    match rule {
        SeverityRule::ByOutcome => "INFO / ERROR by outcome",
        SeverityRule::Info => "INFO",
    }
}

fn gate_cell(gate: Option<&str>) -> String {
    gate.map_or_else(|| "–".to_owned(), |g| format!("`{g}=true`"))
}

fn gate_of(cell: &str) -> Option<String> {
    let cell = unquote(cell.trim());
    (cell != "–" && cell != "-" && !cell.is_empty())
        .then(|| cell.trim_end_matches("=true").to_owned())
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "–".to_owned();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The generated content of each block, from the catalogue.
#[must_use]
pub fn generate(catalog: &Catalog) -> BTreeMap<&'static str, String> {
    let mut events = String::from("| event | severity | gate | instruments |\n|---|---|---|---|\n");
    let mut attributes =
        String::from("| event | attribute | type | presence | gate |\n|---|---|---|---|---|\n");
    for attr in catalog.correlation {
        let _ = writeln!(
            attributes,
            "| (every record) | `{}` | {} | {} | {} |",
            attr.name,
            type_word(attr.kind),
            presence_word(attr.presence),
            gate_cell(attr.gate)
        );
    }
    for event in catalog.events {
        let _ = writeln!(
            events,
            "| `{}` | {} | {} | {} |",
            event.name,
            severity_word(event.severity),
            gate_cell(event.gate),
            list(event.instruments)
        );
        for attr in event.attributes {
            let _ = writeln!(
                attributes,
                "| `{}` | `{}` | {} | {} | {} |",
                event.name,
                attr.name,
                type_word(attr.kind),
                presence_word(attr.presence),
                gate_cell(attr.gate)
            );
        }
    }
    let mut instruments =
        String::from("| instrument | kind | value | unit | attributes |\n|---|---|---|---|---|\n");
    for inst in catalog.instruments {
        let kind = instrument_kind_word(inst.kind);
        let value = value_type_word(inst.value_type);
        let _ = writeln!(
            instruments,
            "| `{}` | {kind} | {value} | `{}` | {} |",
            inst.name,
            inst.unit,
            list(inst.attributes)
        );
    }
    BTreeMap::from([
        ("events", events),
        ("attributes", attributes),
        ("instruments", instruments),
    ])
}

/// Rewrites the generated blocks of `text` from the catalogue (hand-written prose untouched).
#[must_use]
pub fn fix_data_model(text: &str, catalog: &Catalog) -> String {
    let mut out = text.to_owned();
    for (name, content) in generate(catalog) {
        if let Some(replaced) = replace_block(&out, name, &content) {
            out = replaced;
        }
    }
    out
}

/// Compares docs/data-model.md (`text`, read from `file`) with the catalogue, both ways.
#[must_use]
pub fn check_data_model(text: &str, file: &Path, catalog: &Catalog) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut say = |line: Option<usize>, message: String| {
        findings.push(Finding {
            file: file.to_owned(),
            line,
            message,
        });
    };
    let mut blocks = BTreeMap::new();
    for name in BLOCKS {
        match block_rows(text, name) {
            Some(found) => {
                blocks.insert(name, found);
            }
            None => say(
                None,
                format!(
                    "the generated `{name}` table is missing (markers <!-- audit:{name}:begin/end -->)"
                ),
            ),
        }
    }
    let cell = |row: &Row, i: usize| row.cells.get(i).map_or("", |c| c.as_str()).to_owned();

    if let Some((start, rows)) = blocks.get("events") {
        let mut seen = BTreeSet::new();
        for row in rows {
            let name = unquote(&cell(row, 0)).to_owned();
            let Some(event) = catalog.event(&name) else {
                say(
                    Some(row.line),
                    format!("event `{name}` is documented but the recorder has no such event"),
                );
                continue;
            };
            seen.insert(name.clone());
            if cell(row, 1) != severity_word(event.severity) {
                say(
                    Some(row.line),
                    format!(
                        "event `{name}`: severity is documented as {:?}, recorded as {:?}",
                        cell(row, 1),
                        severity_word(event.severity)
                    ),
                );
            }
            if gate_of(&cell(row, 2)).as_deref() != event.gate {
                say(
                    Some(row.line),
                    format!(
                        "event `{name}`: gate is documented as {:?}, recorded as {:?}",
                        cell(row, 2),
                        event.gate
                    ),
                );
            }
            let doc: BTreeSet<String> = name_list(&cell(row, 3)).into_iter().collect();
            let code: BTreeSet<String> =
                event.instruments.iter().map(|s| (*s).to_owned()).collect();
            if doc != code {
                say(
                    Some(row.line),
                    format!(
                        "event `{name}`: instruments documented as {doc:?}, recorded into {code:?}"
                    ),
                );
            }
        }
        for event in catalog.events.iter().filter(|e| !seen.contains(e.name)) {
            say(
                Some(*start),
                format!(
                    "event `{}` is recorded but not documented in the events table (cargo xtask audit --fix)",
                    event.name
                ),
            );
        }
    }

    if let Some((start, rows)) = blocks.get("attributes") {
        let mut seen = BTreeSet::new();
        for row in rows {
            let event_cell = cell(row, 0);
            let event_name = unquote(&event_cell).to_owned();
            let attr_name = unquote(&cell(row, 1)).to_owned();
            let spec = if event_name == "(every record)" {
                catalog.correlation.iter().find(|a| a.name == attr_name)
            } else {
                match catalog.event(&event_name) {
                    Some(event) => event.attribute(&attr_name),
                    None => {
                        say(
                            Some(row.line),
                            format!(
                                "attribute `{attr_name}` is documented for `{event_name}`, which the recorder does not record"
                            ),
                        );
                        continue;
                    }
                }
            };
            let Some(spec) = spec else {
                say(
                    Some(row.line),
                    format!(
                        "attribute `{attr_name}` of `{event_name}` is documented but not recorded"
                    ),
                );
                continue;
            };
            seen.insert((event_name.clone(), attr_name.clone()));
            if cell(row, 2) != type_word(spec.kind) {
                say(
                    Some(row.line),
                    format!(
                        "attribute `{attr_name}` of `{event_name}` is documented as {} but recorded as {}",
                        cell(row, 2),
                        type_word(spec.kind)
                    ),
                );
            }
            if cell(row, 3) != presence_word(spec.presence) {
                say(
                    Some(row.line),
                    format!(
                        "attribute `{attr_name}` of `{event_name}`: presence documented as {:?}, is {:?}",
                        cell(row, 3),
                        presence_word(spec.presence)
                    ),
                );
            }
            if gate_of(&cell(row, 4)).as_deref() != spec.gate {
                say(
                    Some(row.line),
                    format!(
                        "attribute `{attr_name}` of `{event_name}`: gate documented as {:?}, is {:?}",
                        cell(row, 4),
                        spec.gate
                    ),
                );
            }
        }
        let expected = catalog
            .correlation
            .iter()
            .map(|a| ("(every record)".to_owned(), a.name.to_owned()))
            .chain(catalog.events.iter().flat_map(|e| {
                e.attributes
                    .iter()
                    .map(|a| (e.name.to_owned(), a.name.to_owned()))
            }));
        for (event, attr) in expected.filter(|key| !seen.contains(key)) {
            say(
                Some(*start),
                format!(
                    "attribute `{attr}` of `{event}` is recorded but not documented (cargo xtask audit --fix)"
                ),
            );
        }
    }

    if let Some((start, rows)) = blocks.get("instruments") {
        let mut seen = BTreeSet::new();
        for row in rows {
            let name = unquote(&cell(row, 0)).to_owned();
            let Some(inst) = catalog.instrument(&name) else {
                say(
                    Some(row.line),
                    format!(
                        "instrument `{name}` is documented but the recorder has no such instrument"
                    ),
                );
                continue;
            };
            seen.insert(name.clone());
            let kind = instrument_kind_word(inst.kind);
            if cell(row, 1) != kind {
                say(
                    Some(row.line),
                    format!(
                        "instrument `{name}` is documented as a {} but is a {kind}",
                        cell(row, 1)
                    ),
                );
            }
            let value = value_type_word(inst.value_type);
            if cell(row, 2) != value {
                say(
                    Some(row.line),
                    format!(
                        "instrument `{name}` records {value}, documented as {}",
                        cell(row, 2)
                    ),
                );
            }
            if unquote(&cell(row, 3)) != inst.unit {
                say(
                    Some(row.line),
                    format!(
                        "instrument `{name}` has unit `{}`, documented as {}",
                        inst.unit,
                        cell(row, 3)
                    ),
                );
            }
            let doc: BTreeSet<String> = name_list(&cell(row, 4)).into_iter().collect();
            let code: BTreeSet<String> = inst.attributes.iter().map(|s| (*s).to_owned()).collect();
            if doc != code {
                say(
                    Some(row.line),
                    format!(
                        "instrument `{name}`: attributes documented as {doc:?}, recorded with {code:?}"
                    ),
                );
            }
        }
        for inst in catalog
            .instruments
            .iter()
            .filter(|i| !seen.contains(i.name))
        {
            say(
                Some(*start),
                format!(
                    "instrument `{}` is recorded but not documented (cargo xtask audit --fix)",
                    inst.name
                ),
            );
        }
    }
    findings
}

/// The module that declares every environment variable ([`telemetry_core::env`]).
pub const ENV_MODULE: &str = "telemetry-core/src/env.rs";

/// The marker in a variable's doc comment that excuses it from the "used somewhere" check.
pub const RESERVED: &str = "Reserved:";

/// Names that must be written through a [`telemetry_core::env`] constant, never as a literal,
/// even before they are declared.
const FAMILY: &str = r"^(?:GT|BD|OTEL)_[A-Z0-9_]+$";

/// The 1-based line of `name`'s declaration (`NAME;` in the `env_vars!` list) in `env_source`.
#[must_use]
pub fn declaration_line(env_source: &str, name: &str) -> Option<usize> {
    env_source
        .lines()
        .position(|line| line.trim().strip_suffix(';') == Some(name))
        .map(|index| index + 1)
}

/// Compares the variables tables of docs/configuration.md (`text`, read from `file`) with the
/// declared variables (`declared`, as declared in `env_source`, the text of [`ENV_MODULE`]),
/// both ways; and checks that each declaration's doc comment states a default.
///
/// A variables row is a table row whose first cell is an upper-case name with an underscore,
/// or a declared name.
#[must_use]
pub fn check_env_vars(
    text: &str,
    file: &Path,
    declared: &[EnvVar],
    env_source: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let variable = Regex::new(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$").expect("valid regex");
    let names: BTreeSet<&str> = declared.iter().map(|v| v.name).collect();
    let mut documented = BTreeSet::new();
    for row in table_rows(text) {
        let name = unquote(row.cells.first().map_or("", String::as_str)).to_owned();
        // Declared names without an underscore (the W3C carrier's `TRACEPARENT`) count too.
        if !variable.is_match(&name) && !names.contains(name.as_str()) {
            continue;
        }
        let default = row.cells.get(1).map_or("", |c| c.trim());
        if default.is_empty() {
            findings.push(Finding {
                file: file.to_owned(),
                line: Some(row.line),
                message: format!("`{name}` has no default documented"),
            });
        }
        if !names.contains(name.as_str()) {
            findings.push(Finding {
                file: file.to_owned(),
                line: Some(row.line),
                message: format!("`{name}` is documented but not declared in {ENV_MODULE}"),
            });
        }
        documented.insert(name);
    }
    for var in declared {
        let line = declaration_line(env_source, var.name);
        let at = line.map_or_else(|| ENV_MODULE.to_owned(), |l| format!("{ENV_MODULE}:{l}"));
        if !documented.contains(var.name) {
            findings.push(Finding {
                file: file.to_owned(),
                line: None,
                message: format!(
                    "`{}` is declared at {at} but not documented in a table",
                    var.name
                ),
            });
        }
        if !var.doc.contains("Default") {
            findings.push(Finding {
                file: PathBuf::from(ENV_MODULE),
                line,
                message: format!("`{}`: the doc comment states no `Default:`", var.name),
            });
        }
    }
    findings
}

/// The non-test Rust sources of every workspace crate under `root` (`src/`, `benches/`,
/// `examples/`), each as its path relative to `root` and its text up to the first
/// `#[cfg(test)]` (unit tests name variables as inputs: they are the spec, and may).
#[must_use]
pub fn non_test_sources(root: &Path) -> Vec<(PathBuf, String)> {
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("Cargo.toml").is_file())
                .collect()
        })
        .unwrap_or_default();
    crates.sort();
    let mut files = Vec::new();
    for krate in crates {
        for dir in ["src", "benches", "examples"] {
            collect_rs(&krate.join(dir), &mut files);
        }
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(&file).ok()?;
            let code = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_owned();
            Some((file.strip_prefix(root).unwrap_or(&file).to_owned(), code))
        })
        .collect()
}

/// Every string literal in `code` (non-test source read from `file`) that is a declared
/// variable's name, or a `GT_*`, `BD_*` or `OTEL_*` name: code names variables through the
/// [`telemetry_core::env`] constants only. Comment lines are skipped.
#[must_use]
pub fn check_raw_literals(code: &str, file: &Path, declared: &[EnvVar]) -> Vec<Finding> {
    let literal = Regex::new(r#""([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)""#).expect("valid regex");
    let family = Regex::new(FAMILY).expect("valid regex");
    let mut findings = Vec::new();
    for (index, line) in code.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for cap in literal.captures_iter(line) {
            let name = &cap[1];
            let message = if declared.iter().any(|v| v.name == name) {
                format!("\"{name}\" is a raw literal: use telemetry_core::env::{name}")
            } else if family.is_match(name) {
                format!("\"{name}\" is a raw literal: declare it in {ENV_MODULE} and use that")
            } else {
                continue;
            };
            findings.push(Finding {
                file: file.to_owned(),
                line: Some(index + 1),
                message,
            });
        }
    }
    findings
}

/// Declared variables that no source in `sources` (other than [`ENV_MODULE`]) names, unless
/// their doc comment says [`RESERVED`]: a declaration nothing reads or writes is stale.
#[must_use]
pub fn check_env_uses(
    declared: &[EnvVar],
    env_source: &str,
    sources: &[(PathBuf, String)],
) -> Vec<Finding> {
    let used: BTreeSet<&str> = sources
        .iter()
        .filter(|(path, _)| path != Path::new(ENV_MODULE))
        .flat_map(|(_, code)| {
            code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| !word.is_empty())
        })
        .collect();
    declared
        .iter()
        .filter(|var| !used.contains(var.name) && !var.doc.contains(RESERVED))
        .map(|var| Finding {
            file: PathBuf::from(ENV_MODULE),
            line: declaration_line(env_source, var.name),
            message: format!(
                "`{}` is declared but no code uses it (remove it, or say `{RESERVED}` in its doc)",
                var.name
            ),
        })
        .collect()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every series name a Prometheus-style query may use: the catalogue's instruments and the
/// runtime's process metrics.
#[must_use]
pub fn known_series(catalog: &Catalog) -> BTreeSet<String> {
    use telemetry_runtime::instruments as rt;
    let mut names = BTreeSet::new();
    for inst in catalog.instruments {
        names.extend(inst.prometheus_names());
    }
    for (name, unit, kind) in [
        (rt::PROCESS_CPU_TIME, "s", SeriesKind::Counter),
        (rt::PROCESS_CPU_UTILIZATION, "1", SeriesKind::Gauge),
        (rt::PROCESS_MEMORY_USAGE, "By", SeriesKind::Gauge),
        (rt::PROCESS_MEMORY_VIRTUAL, "By", SeriesKind::Gauge),
        (rt::PROCESS_THREAD_COUNT, "{thread}", SeriesKind::Gauge),
        (
            rt::PROCESS_OPEN_FILE_DESCRIPTOR_COUNT,
            "{file_descriptor}",
            SeriesKind::Gauge,
        ),
        (rt::PROCESS_UPTIME, "s", SeriesKind::Gauge),
    ] {
        names.extend(series_names(name, unit, kind));
    }
    names
}

/// Finds metric names (`gastown_…`, `process_…`) in `text` that no instrument produces.
#[must_use]
pub fn check_metric_refs(text: &str, file: &Path, known: &BTreeSet<String>) -> Vec<Finding> {
    let pattern = Regex::new(r"\b((?:gastown|process)_[a-z0-9_]+)\b").expect("valid regex");
    let mut findings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for cap in pattern.captures_iter(line) {
            let name = &cap[1];
            if !known.contains(name) {
                findings.push(Finding {
                    file: file.to_owned(),
                    line: Some(index + 1),
                    message: format!("metric `{name}` is used but no instrument produces it"),
                });
            }
        }
    }
    findings
}

/// The files whose queries are checked for metric names.
#[must_use]
pub fn query_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("docs/operations.md"), root.join("README.md")];
    for dir in ["docs/dashboards", "docs/alerts"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            let mut more: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            more.sort();
            files.extend(more);
        }
    }
    files.into_iter().filter(|f| f.is_file()).collect()
}

/// Runs every check on the repository at `root` (rewriting generated blocks first with `fix`).
///
/// # Errors
/// When a docs file cannot be read or written.
pub fn run(root: &Path, fix: bool) -> std::io::Result<Vec<Finding>> {
    let catalog = telemetry_recorder::catalog();
    let data_model = root.join("docs/data-model.md");
    let mut text = std::fs::read_to_string(&data_model)?;
    if fix {
        let fixed = fix_data_model(&text, catalog);
        if fixed != text {
            std::fs::write(&data_model, &fixed)?;
            text = fixed;
        }
    }
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_owned();
    let mut findings = check_data_model(&text, &rel(&data_model), catalog);
    let configuration = root.join("docs/configuration.md");
    let config_text = std::fs::read_to_string(&configuration)?;
    let env_source = std::fs::read_to_string(root.join(ENV_MODULE))?;
    let declared = telemetry_core::env::ALL;
    findings.extend(check_env_vars(
        &config_text,
        &rel(&configuration),
        declared,
        &env_source,
    ));
    let sources = non_test_sources(root);
    for (file, code) in sources.iter().filter(|(f, _)| f != Path::new(ENV_MODULE)) {
        findings.extend(check_raw_literals(code, file, declared));
    }
    findings.extend(check_env_uses(declared, &env_source, &sources));
    let known = known_series(catalog);
    for file in query_files(root) {
        let text = std::fs::read_to_string(&file)?;
        findings.extend(check_metric_refs(&text, &rel(&file), &known));
    }
    Ok(findings)
}
