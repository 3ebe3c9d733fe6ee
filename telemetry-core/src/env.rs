//! Every environment variable the workspace reads or writes, declared once.
//!
//! Each variable is a `pub const` whose value is its own name (derived from the identifier, so
//! the two cannot drift), with a doc comment saying what it does and its default. [`ALL`] lists
//! them in declaration order, with those docs; `cargo xtask audit` checks it against the tables
//! of docs/configuration.md both ways, and fails on any `"GT_…"`, `"BD_…"`, `"OTEL_…"` or
//! declared name written as a string literal in non-test code elsewhere: code names a variable
//! through these constants only (`telemetry_core::env::GT_ROLE`).
//!
//! This module only names variables. It must not read or write the environment: each reader
//! (telemetry-core's [`Config`](crate::Config), the recorder's content settings, the
//! subprocess crate, gt-cli) parses its own variables from an injectable lookup.
//!
//! Plain `pub const`s in a module (not uv's associated constants on a `struct EnvVars`): a
//! caller imports the few names it reads (`use telemetry_core::env::{GT_RIG, GT_ROLE};`) and
//! uses them bare, as the code did before they were gathered here.
//!
//! Not here: `CLAUDE_CONFIG_DIR`, `CODEX_HOME` and `XDG_DATA_HOME` (where the agents keep their
//! transcripts), named by `agent_transcripts::paths` (a crate that depends on no telemetry
//! crate), and the operating system's `HOME`, `PATH` and `TMUX`.

/// One declared variable: its name and its doc comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name, e.g. `GT_ROLE`.
    pub name: &'static str,
    /// Its doc comment, one source line per line: what it does and its default.
    pub doc: &'static str,
}

/// Declares each variable as a `pub const` named and valued alike, and [`ALL`].
macro_rules! env_vars {
    ($( $(#[doc = $doc:literal])+ $name:ident; )+) => {
        $(
            $(#[doc = $doc])+
            pub const $name: &str = stringify!($name);
        )+

        /// Every variable declared in this module, in declaration order.
        pub const ALL: &[EnvVar] = &[
            $( EnvVar { name: $name, doc: concat!($($doc, "\n"),+) }, )+
        ];
    };
}

env_vars! {
    // Endpoints and the switch (telemetry-core's `Config`).

    /// Full OTLP/HTTP (protobuf) URL for metrics, used verbatim (nothing appended); or
    /// `file:///dir/` to write OTLP JSON Lines files into that directory instead of HTTP.
    /// Default: unset; [`DEFAULT_METRICS_URL`](crate::config::DEFAULT_METRICS_URL) when only
    /// [`GT_OTEL_LOGS_URL`] is set. Both unset: telemetry is off.
    GT_OTEL_METRICS_URL;
    /// Full OTLP/HTTP (protobuf) URL for logs, used verbatim; or `file:///dir/` to write
    /// OTLP JSON Lines files into that directory instead of HTTP.
    /// Default: unset; [`DEFAULT_LOGS_URL`](crate::config::DEFAULT_LOGS_URL) when only
    /// [`GT_OTEL_METRICS_URL`] is set.
    GT_OTEL_LOGS_URL;
    /// Full OTLP/HTTP (protobuf) URL for traces, used verbatim, or `file:///dir/` (OTLP JSON
    /// Lines files, as for [`GT_OTEL_LOGS_URL`]). Setting it alone turns
    /// telemetry on (metrics and logs then take their defaults). Default: unset (no spans are
    /// exported).
    GT_OTEL_TRACES_URL;
    /// Standard OpenTelemetry base endpoint, used only when no `GT_OTEL_*_URL` is set: each
    /// signal goes to `<base>/v1/<signal>` unless its own `OTEL_EXPORTER_OTLP_*_ENDPOINT` is
    /// set. Default: unset; `http://localhost:4318` when only a per-signal endpoint is set.
    OTEL_EXPORTER_OTLP_ENDPOINT;
    /// Standard per-signal metrics endpoint, used verbatim when no `GT_OTEL_*_URL` is set.
    /// Default: unset (`<base>/v1/metrics`).
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT;
    /// Standard per-signal logs endpoint, used verbatim when no `GT_OTEL_*_URL` is set.
    /// Default: unset (`<base>/v1/logs`).
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
    /// Standard per-signal traces endpoint, used verbatim when no `GT_OTEL_*_URL` is set.
    /// Default: unset (`<base>/v1/traces`).
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    /// `true` switches the whole SDK off, whatever the URLs say (OpenTelemetry standard).
    /// Default: `false`.
    OTEL_SDK_DISABLED;
    /// Extra resource attributes, `k=v,k2=v2`, percent-encoded (OpenTelemetry standard).
    /// Read by gt and written for its children, with the `gt.*` identity attributes.
    /// Default: empty.
    OTEL_RESOURCE_ATTRIBUTES;
    /// Headers sent with every export, `k=v,k2=v2`, percent-encoded (e.g. auth for hosted
    /// backends). Default: empty.
    OTEL_EXPORTER_OTLP_HEADERS;
    /// PEM file of the CA certificate(s) trusted for `https://` endpoints instead of the
    /// bundled public roots (OpenTelemetry standard; a private CA, a test CA).
    /// Default: unset (the bundled webpki roots).
    OTEL_EXPORTER_OTLP_CERTIFICATE;
    /// Exporter timeout per request, in milliseconds; malformed or `0`: the default, with a
    /// warning. Default: the profile's (1000 ms one-shot, 10000 ms long-running).
    OTEL_EXPORTER_OTLP_TIMEOUT;
    /// Periodic metrics export interval, in milliseconds; malformed or `0`: the default,
    /// with a warning. Default: 30000
    /// ([`DEFAULT_EXPORT_INTERVAL`](crate::config::DEFAULT_EXPORT_INTERVAL)).
    OTEL_METRIC_EXPORT_INTERVAL;
    /// `cumulative`, `delta` or `lowmemory`. Default: `cumulative`.
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE;

    // Content gates (the recorder's `ContentSettings`).

    /// `true`: `bd.call` carries the command's `stdout` and `stderr`. Default: `false`.
    GT_LOG_BD_OUTPUT;
    /// Byte limit for `bd.call` `stdout`/`stderr`. Default: 2048.
    GT_LOG_BD_CONTENT_LIMIT;
    /// `true`: `prompt.send` carries the sent `keys` (truncated to 256 bytes).
    /// Default: `false`.
    GT_LOG_PROMPT_KEYS;
    /// `true`: `mail` carries `msg.body` (truncated to 256 bytes). Default: `false`.
    GT_LOG_MAIL_BODY;
    /// `true`: `prime.context` is emitted with the full rendered formula. Default: `false`.
    GT_LOG_PRIME_CONTEXT;
    /// `true`: `agent.event` records (agent conversation content) are emitted.
    /// Default: `false`.
    GT_LOG_AGENT_OUTPUT;
    /// Byte limit for `agent.event` `content`; `0` keeps everything. Default: 512.
    GT_LOG_AGENT_CONTENT_LIMIT;
    /// `true`: `pane.output` records (raw tmux pane output) are emitted. Default: `false`.
    GT_LOG_PANE_OUTPUT;
    /// Byte limit for `pane.output` `content`. Default: 8192.
    GT_LOG_PANE_CONTENT_LIMIT;

    // Identity and work context: set by the orchestrator (and `gt prime`), handed on to
    // children as `gt.*` resource attributes by telemetry-subprocess.

    /// The agent's role, e.g. `gastown/polecats/Toast`, `mayor` → `gt.role`; `gt prime`'s
    /// identity. Default: unset.
    GT_ROLE;
    /// The rig, e.g. `gastown` → `gt.rig`. Default: unset (`gt prime` takes the role's
    /// first segment).
    GT_RIG;
    /// The beads actor, e.g. `gastown/polecats/Toast` → `gt.actor`; `gt prime`'s identity
    /// when [`GT_ROLE`] is unset. Default: unset.
    BD_ACTOR;
    /// A polecat's name, e.g. `Toast` → `gt.agent` (wins over [`GT_CREW`]). Default: unset.
    GT_POLECAT;
    /// A crew member's name, e.g. `max` → `gt.agent` when [`GT_POLECAT`] is unset.
    /// Default: unset.
    GT_CREW;
    /// The tmux session name, e.g. `gt-gastown-Toast` → `gt.session`; `gt agent-log`'s
    /// `--session`. Default: unset.
    GT_SESSION;
    /// The run id (a UUID v4 made at agent spawn) → `gt.run_id`, and `run.id` on every record
    /// outside a scope that sets one; passed to children as is. Default: unset.
    GT_RUN;
    /// The rig of the work in hand, set by `gt prime` (in tmux) → `work_rig` on every record
    /// when the session's work ledger has no entry; written fresh into children's
    /// environment, with `gt.work_rig` (never on gt's own resource). Default: unset.
    GT_WORK_RIG;
    /// The bead of the work in hand, set by `gt prime` → `work_bead`, `gt.work_bead`.
    /// Default: unset.
    GT_WORK_BEAD;
    /// The molecule of the work in hand, set by `gt prime` → `work_mol`, `gt.work_mol`.
    /// Default: unset.
    GT_WORK_MOL;

    // Written for child processes (telemetry-subprocess).

    /// W3C trace context (`00-<trace id>-<parent span id>-<flags>`), environment-variable
    /// carrier: a `gt` started with it continues that trace; gt sets it for each child to the
    /// span that started the child. Invalid: ignored with one warning. Default: unset.
    TRACEPARENT;
    /// W3C trace state accompanying [`TRACEPARENT`]. Default: unset.
    TRACESTATE;
    /// W3C baggage: gt sets `gt.run_id` and the work context (`gt.work_rig`, `gt.work_bead`,
    /// `gt.work_mol`) for its children, with [`TRACEPARENT`]. Default: unset.
    BAGGAGE;

    // Written for the agent by `gt session start` (its own telemetry).

    /// Claude Code's telemetry switch: `gt session start` sets `1` for a Claude Code agent
    /// when telemetry is on. Default: not written while telemetry is off.
    CLAUDE_CODE_ENABLE_TELEMETRY;
    /// Standard OpenTelemetry exporter choice for metrics: `otlp` for a Claude Code agent.
    /// Default: not written while telemetry is off.
    OTEL_METRICS_EXPORTER;
    /// Standard OpenTelemetry exporter choice for logs: `otlp` for a Claude Code agent.
    /// Default: not written while telemetry is off.
    OTEL_LOGS_EXPORTER;
    /// Standard OpenTelemetry exporter choice for traces: `otlp` for an OpenCode agent when a
    /// traces URL is set. Default: not written otherwise.
    OTEL_TRACES_EXPORTER;
    /// Standard OTLP protocol: `http/protobuf` for Claude Code and OpenCode agents.
    /// Default: not written while telemetry is off.
    OTEL_EXPORTER_OTLP_PROTOCOL;
    /// Claude Code's prompt-content logging: `1` only with `GT_LOG_PROMPT_KEYS=true`, else `0`
    /// (the Go original turned it on). Default: `0` (written while telemetry is on).
    OTEL_LOG_USER_PROMPTS;
    /// Claude Code's tool-detail logging: `1` only with `GT_LOG_AGENT_OUTPUT=true`, else `0`.
    /// Default: `0` (written while telemetry is on).
    OTEL_LOG_TOOL_DETAILS;

    /// Where `bd` (and every child) sends its metrics: written by gt, mirroring the effective
    /// [`GT_OTEL_METRICS_URL`]. Default: not written while telemetry is off.
    BD_OTEL_METRICS_URL;
    /// Where `bd` (and every child) sends its logs: written by gt, mirroring the effective
    /// [`GT_OTEL_LOGS_URL`]. Default: not written while telemetry is off.
    BD_OTEL_LOGS_URL;

    // gt commands.

    /// The beads CLI that `gt prime` and `gt bd` run. Default: `bd` from `PATH`.
    GT_BD_BIN;
    /// Bound on one bd invocation, in milliseconds. Default: 30000 for the lookups gt makes
    /// itself; none for `gt bd`, which is bounded only when this is set.
    GT_BD_TIMEOUT_MS;

    // The project's own test switches.

    /// `1` runs the tests that read data back from real VictoriaMetrics and VictoriaLogs on
    /// 127.0.0.1:8428 and :9428 (`.ci/run` sets it; `cargo xtask flake-hunt` sets it when both
    /// answer). Default: unset (those tests skip).
    GT_IT_BACKENDS;
    /// `1` makes the MariaDB tests (the Dolt probe, `gt otel watch`) fail when `mariadbd` and
    /// `mariadb-install-db` are missing instead of skipping (`.ci/run` sets it). Default: unset.
    /// Reserved: read by the tests only (town-probes/tests/support/mariadb.rs).
    GT_IT_MARIADB;

    // gt otel watch.

    /// Milliseconds between two rounds of `gt otel watch`'s probes (`--interval-ms`).
    /// Default: 30000.
    GT_WATCH_INTERVAL_MS;
    /// Comma-separated `mysql://user:password@host:port/db` DSNs of the Dolt sql-servers
    /// `gt otel watch` checks (`--dsn`). The password is never printed nor exported.
    /// Default: unset (no Dolt probe).
    GT_WATCH_DOLT_DSN;
    /// Comma-separated rigs whose refinery queue `gt otel watch` samples (`--rig`), each
    /// `NAME=PATH` or a bare `PATH` (named by its basename); bd runs in `PATH`.
    /// Default: unset (no refinery probe).
    GT_WATCH_RIGS;
    /// The bd arguments of the refinery queue query, space-separated (`--refinery-query`).
    /// Default: `list --json --status open --label gt:merge-request` (the Go refinery's merge
    /// queue).
    GT_WATCH_REFINERY_QUERY;

    // gt agent-log.

    /// The agent whose transcripts `gt agent-log` reads when `--agent` is not given
    /// (`claudecode`, `codex`, `opencode`). Default: `claudecode`.
    GT_AGENT;
    /// Where `gt agent-log` keeps checkpoints, the lock file and the pid file.
    /// Default: `$XDG_STATE_HOME/gt/agent-log`, else `~/.local/state/gt/agent-log`.
    GT_AGENT_LOG_STATE_DIR;
    /// Milliseconds a transcript must stay unchanged before the usage a parser holds back
    /// ("largest line of a request wins") is released. Default: 30000.
    GT_AGENT_LOG_IDLE_FLUSH_MS;
    /// Milliseconds between two rescans of the transcript directories (the safety net behind
    /// inotify, and the only source of changes where inotify is unavailable). Default: 2000.
    GT_AGENT_LOG_POLL_MS;
    /// A pricing table in the format of agent-transcripts' `pricing.json`, whose rows
    /// replace or extend the embedded ones. Default: the embedded table only.
    GT_PRICING_FILE;

    // State.

    /// Directory of Gas Town's durable state: the counter store, and the work ledger
    /// (`ledger/<session>.jsonl`, written by `gt prime` whether telemetry is on or off).
    /// Default: `$XDG_STATE_HOME/gastown`, else `$HOME/.local/state/gastown`.
    GT_STATE_DIR;
    /// Size cap of the spool (`telemetry/spool/` under [`GT_STATE_DIR`]), where log and span
    /// batches whose export failed wait for a later process to ship them, in MiB; when a new batch
    /// would pass it, the oldest files are dropped and counted. `0` disables the spool;
    /// malformed: the default, with a warning. Default: 64.
    GT_OTEL_SPOOL_MAX_MB;

    // Standard variables read.

    /// Base directory for user state (XDG Base Directory): `$XDG_STATE_HOME/gastown` is
    /// [`GT_STATE_DIR`]'s default, `$XDG_STATE_HOME/gt/agent-log` (when absolute)
    /// [`GT_AGENT_LOG_STATE_DIR`]'s. Default: `~/.local/state`.
    XDG_STATE_HOME;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_constant_is_its_own_name_and_documents_a_default() {
        assert_eq!(GT_OTEL_METRICS_URL, "GT_OTEL_METRICS_URL");
        assert_eq!(
            OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
        );
        for var in ALL {
            assert!(
                var.doc.contains("Default"),
                "{} documents no default",
                var.name
            );
        }
        let state = ALL.iter().find(|v| v.name == GT_STATE_DIR).unwrap();
        assert!(
            state.doc.contains("$XDG_STATE_HOME/gastown"),
            "{}",
            state.doc
        );
    }
}
