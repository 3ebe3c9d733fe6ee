//! Printing environment variables for a shell to `eval` (`gt otel env`): every value quoted so
//! that any bytes, quotes, `$`, backquotes and newlines included, arrive unchanged and nothing
//! is executed.
//!
//! It must not decide which variables a child gets (that is `telemetry-subprocess`).

/// The output syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Syntax {
    /// POSIX sh: `export NAME='value'`.
    Sh,
    /// fish: `set -gx NAME 'value'`.
    Fish,
    /// One JSON object, `{"NAME": "value"}`.
    Json,
}

/// `value` in POSIX single quotes: a `'` becomes `'\''`; nothing else is special inside.
#[must_use]
pub fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `value` in fish single quotes, where only `\` and `'` need a backslash.
#[must_use]
pub fn fish_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

/// The variables in `syntax`, one statement per line (JSON: one object).
#[must_use]
pub fn render(vars: &[(String, String)], syntax: Syntax) -> String {
    match syntax {
        Syntax::Sh => vars
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", sh_quote(v)))
            .collect(),
        Syntax::Fish => vars
            .iter()
            .map(|(k, v)| format!("set -gx {k} {}\n", fish_quote(v)))
            .collect(),
        Syntax::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect();
            format!("{}\n", serde_json::Value::Object(map))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_close_and_reopen() {
        assert_eq!(sh_quote("a'b"), r"'a'\''b'");
        assert_eq!(fish_quote(r"a'b\c"), r"'a\'b\\c'");
        let vars = vec![("A".to_owned(), "x\"y".to_owned())];
        assert_eq!(render(&vars, Syntax::Json), "{\"A\":\"x\\\"y\"}\n");
    }
}
