//! Redacting secrets from a command line before it is recorded (`bd.call`'s `args`, and the
//! error messages that quote a bd command line).
//!
//! It must stay the one place that knows which flags carry secrets: a second list would drift.

use std::borrow::Cow;

/// What a secret value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Flags whose value is a secret, with one or two leading dashes, as `--flag value` or
/// `--flag=value`.
pub const SECRET_FLAGS: &[&str] = &["password", "token", "api-key", "bearer", "remote-password"];

/// `args` space-joined, with the value of every [`SECRET_FLAGS`] flag replaced by
/// [`REDACTED`]: `--token abc` → `--token [REDACTED]`, `--token=abc` → `--token=[REDACTED]`.
/// Everything else is kept as given.
#[must_use]
pub fn redact_args(args: &[&str]) -> String {
    let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(args.len());
    let mut value_next = false;
    for arg in args {
        if std::mem::take(&mut value_next) {
            out.push(REDACTED.into());
            continue;
        }
        out.push(match secret_flag(arg) {
            Some(Some(flag)) => format!("{flag}={REDACTED}").into(),
            Some(None) => {
                value_next = true;
                (*arg).into()
            }
            None => (*arg).into(),
        });
    }
    out.join(" ")
}

/// `Some(None)` for a bare secret flag (its value follows), `Some(Some(flag))` for
/// `flag=value` (the flag part), `None` otherwise.
fn secret_flag(arg: &str) -> Option<Option<&str>> {
    let name_part = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    let (name, inline) = match name_part.split_once('=') {
        Some((name, _)) => (name, true),
        None => (name_part, false),
    };
    if !SECRET_FLAGS.contains(&name) {
        return None;
    }
    Some(inline.then(|| &arg[..arg.len() - name_part.len() + name.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_of_every_secret_flag_are_redacted() {
        for flag in SECRET_FLAGS {
            assert_eq!(
                redact_args(&["sync", &format!("--{flag}"), "s3cret", "--x"]),
                format!("sync --{flag} [REDACTED] --x")
            );
            assert_eq!(
                redact_args(&["sync", &format!("--{flag}=s3cret"), "--x"]),
                format!("sync --{flag}=[REDACTED] --x")
            );
        }
    }

    #[test]
    fn single_dash_forms_and_empty_values_are_redacted() {
        assert_eq!(redact_args(&["-token", "t"]), "-token [REDACTED]");
        assert_eq!(redact_args(&["-password="]), "-password=[REDACTED]");
    }

    #[test]
    fn other_arguments_are_kept() {
        assert_eq!(
            redact_args(&["list", "--json", "--tokens=3", "token", "--assignee=a b"]),
            "list --json --tokens=3 token --assignee=a b"
        );
        assert_eq!(redact_args(&[]), "");
    }

    #[test]
    fn a_trailing_secret_flag_has_nothing_to_hide() {
        assert_eq!(redact_args(&["sync", "--token"]), "sync --token");
    }

    #[test]
    fn a_value_that_looks_like_a_flag_is_still_redacted() {
        assert_eq!(
            redact_args(&["--bearer", "--token=x", "ok"]),
            "--bearer [REDACTED] ok"
        );
    }
}
