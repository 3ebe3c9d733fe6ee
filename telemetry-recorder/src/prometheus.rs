//! The names an OpenTelemetry instrument gets in a Prometheus-style backend, following the
//! OpenTelemetry-to-Prometheus translation that VictoriaMetrics applies with
//! `-opentelemetry.usePrometheusNaming` (checked against a real VictoriaMetrics 1.112 by the
//! backend tests): dots become underscores, the unit is appended as a word (`ms` →
//! `milliseconds`, `{token}` annotations dropped), counters end in `_total`, histograms expose
//! `_bucket`, `_sum` and `_count`.

/// What kind of series an instrument produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// Monotonic sum.
    Counter,
    /// Up-down sum or gauge.
    Gauge,
    /// Explicit-bucket histogram.
    Histogram,
}

fn unit_word(unit: &str) -> Option<String> {
    let unit = unit.trim();
    if unit.is_empty() || unit == "1" || (unit.starts_with('{') && unit.ends_with('}')) {
        return None;
    }
    let word = match unit {
        "ms" => "milliseconds",
        "s" => "seconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "min" => "minutes",
        "h" => "hours",
        "d" => "days",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "%" => "percent",
        other => other,
    };
    Some(word.to_owned())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every series name the instrument appears under.
#[must_use]
pub fn series_names(name: &str, unit: &str, kind: SeriesKind) -> Vec<String> {
    let mut base = sanitize(name);
    if let Some(word) = unit_word(unit) {
        let word = sanitize(&word);
        // The translator places the unit before a `_total` the name already carries.
        let stem = base.strip_suffix("_total").map(str::to_owned);
        let stem_ref = stem.as_deref().unwrap_or(&base);
        if !stem_ref.ends_with(&format!("_{word}")) {
            base = format!("{stem_ref}_{word}");
        } else {
            base = stem_ref.to_owned();
        }
    }
    match kind {
        SeriesKind::Counter => {
            let base = base.strip_suffix("_total").unwrap_or(&base).to_owned();
            vec![format!("{base}_total")]
        }
        SeriesKind::Gauge if unit.trim() == "1" && !base.ends_with("_ratio") => {
            vec![format!("{base}_ratio")]
        }
        SeriesKind::Gauge => vec![base],
        SeriesKind::Histogram => ["bucket", "sum", "count"]
            .iter()
            .map(|s| format!("{base}_{s}"))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histograms_and_units() {
        assert_eq!(
            series_names("gastown.bd.calls.total", "1", SeriesKind::Counter),
            ["gastown_bd_calls_total"]
        );
        assert_eq!(
            series_names("gastown.bd.duration_ms", "ms", SeriesKind::Histogram),
            [
                "gastown_bd_duration_ms_milliseconds_bucket",
                "gastown_bd_duration_ms_milliseconds_sum",
                "gastown_bd_duration_ms_milliseconds_count"
            ]
        );
        assert_eq!(
            series_names("gastown.token.usage", "{token}", SeriesKind::Counter),
            ["gastown_token_usage_total"]
        );
        assert_eq!(
            series_names("process.cpu.time", "s", SeriesKind::Counter),
            ["process_cpu_time_seconds_total"]
        );
        assert_eq!(
            series_names("process.memory.usage", "By", SeriesKind::Gauge),
            ["process_memory_usage_bytes"]
        );
    }
}
