//! The session lifecycle's pure parts: the identity and telemetry environment an agent is
//! started with, and the session's state file (its run id and root span), for
//! `gt session start|stop`.
//!
//! One job: decide values. [`agent_environment`] builds, from gt's configuration and the
//! session's identity, the variables of the agent process: Gas Town's identity (`GT_ROLE`,
//! `GT_RIG`, `GT_SESSION`, `GT_RUN`, `BD_ACTOR`, …), the telemetry environment every gt child
//! gets (telemetry-subprocess: percent-encoded `OTEL_RESOURCE_ATTRIBUTES`, `BD_OTEL_*`), the W3C
//! carrier naming the session's root span, and the agent's own telemetry wiring (Claude Code's,
//! Codex's `-c otel.…` arguments, OpenCode's standard OTLP variables), with prompt and tool
//! content logging off unless the matching `GT_LOG_*` gate is on. [`SessionState`] is what
//! `start` leaves for `stop`, which may run in another process. It must not spawn, print or
//! talk to tmux.

use std::path::{Path, PathBuf};

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use serde::{Deserialize, Serialize};
use telemetry_core::Config;
use telemetry_core::env::{
    BD_ACTOR, CLAUDE_CODE_ENABLE_TELEMETRY, GT_AGENT, GT_CREW, GT_LOG_AGENT_OUTPUT,
    GT_LOG_PROMPT_KEYS, GT_OTEL_LOGS_URL, GT_OTEL_METRICS_URL, GT_OTEL_TRACES_URL, GT_POLECAT,
    GT_RIG, GT_ROLE, GT_RUN, GT_SESSION, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_LOG_TOOL_DETAILS, OTEL_LOG_USER_PROMPTS,
    OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER,
};

/// Which agent a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    /// Claude Code.
    ClaudeCode,
    /// OpenAI Codex CLI.
    Codex,
    /// OpenCode.
    OpenCode,
}

impl Agent {
    /// The `agent_type` name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claudecode",
            Self::Codex => "codex",
            Self::OpenCode => "opencode",
        }
    }
}

/// Who a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The session (tmux session name).
    pub session: String,
    /// `GT_ROLE`, e.g. `gastown/polecats/Toast`.
    pub role: String,
    /// The rig: given, else the role's first path component.
    pub rig: String,
    /// The agent.
    pub agent: Agent,
    /// The run id (a UUID v4).
    pub run_id: String,
}

impl Identity {
    /// The default session name of `role`: `gt-` and the role with `/` as `-`
    /// (`gastown/polecats/Toast` → `gt-gastown-polecats-Toast`).
    #[must_use]
    pub fn default_session(role: &str) -> String {
        format!("gt-{}", role.replace('/', "-"))
    }

    /// The rig of `role`: its first path component (`gastown/polecats/Toast` → `gastown`).
    #[must_use]
    pub fn rig_of(role: &str) -> String {
        role.split('/').next().unwrap_or_default().to_owned()
    }
}

/// The W3C context of a session's root span: the run id's UUID as the trace id, `span_id` as
/// the span.
#[must_use]
pub fn root_context(run_id: &str, span_id: SpanId) -> Option<SpanContext> {
    let trace_id: TraceId = telemetry_core::trace::trace_id_of_run(run_id)?;
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

/// What `gt session start` leaves for `gt session stop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// The session.
    pub session: String,
    /// `GT_ROLE`.
    pub role: String,
    /// The rig.
    pub rig: String,
    /// The agent.
    pub agent: Agent,
    /// The run id, and the root span's trace id.
    pub run_id: String,
    /// The root span's id, 16 hex digits.
    pub span_id: String,
    /// When the root span started, ns since the epoch.
    pub started_ns: u64,
    /// The work directory.
    pub work_dir: PathBuf,
}

impl SessionState {
    /// The state file of `session` under `state_dir`.
    ///
    /// # Errors
    /// When the session name cannot name a file.
    pub fn path(state_dir: &Path, session: &str) -> Result<PathBuf, String> {
        let stem = work_ledger::file_stem(session).map_err(|e| e.to_string())?;
        Ok(state_dir.join("sessions").join(format!("{stem}.json")))
    }

    /// The root span's id.
    #[must_use]
    pub fn root_span_id(&self) -> Option<SpanId> {
        SpanId::from_hex(&self.span_id)
            .ok()
            .filter(|id| *id != SpanId::INVALID)
    }

    /// Writes the state through a temporary file renamed over it.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".tmp-{}", std::process::id()));
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, path)
    }

    /// Reads the state; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// An unreadable or malformed file.
    pub fn load(path: &Path) -> std::io::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The environment of the agent process (and the extra arguments its command needs), from
/// gt's own environment `lookup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentLaunch {
    /// Variables to set, in order.
    pub env: Vec<(String, String)>,
    /// Arguments to insert after the agent command's first word (Codex's `-c otel.…`).
    pub extra_args: Vec<String>,
}

/// Whether a `GT_LOG_*` gate is on (`true`/`1`, as the recorder reads them).
fn gate(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> bool {
    lookup(name).is_some_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("true") || v == "1"
    })
}

/// The `GT_*` and `BD_*` settings of gt's environment that the agent inherits (its tmux
/// server's environment is not gt's): all of them except the identity and the work context,
/// which the session sets afresh.
#[must_use]
pub fn inherited_settings(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    const SET_BY_SESSION: [&str; 11] = [
        GT_ROLE,
        GT_RIG,
        GT_SESSION,
        GT_RUN,
        GT_AGENT,
        GT_POLECAT,
        GT_CREW,
        BD_ACTOR,
        telemetry_core::env::GT_WORK_RIG,
        telemetry_core::env::GT_WORK_BEAD,
        telemetry_core::env::GT_WORK_MOL,
    ];
    vars.into_iter()
        .filter(|(k, _)| {
            (k.starts_with("GT_") || k.starts_with("BD_")) && !SET_BY_SESSION.contains(&k.as_str())
        })
        .collect()
}

/// See [`AgentLaunch`]. `inherited` comes first ([`inherited_settings`]); `root` is the
/// session's root span (its `TRACEPARENT`).
#[must_use]
pub fn agent_environment(
    lookup: &impl Fn(&str) -> Option<String>,
    inherited: &[(String, String)],
    identity: &Identity,
    root: Option<&SpanContext>,
) -> AgentLaunch {
    let mut env: Vec<(String, String)> = inherited.to_vec();
    let mut set = |k: &str, v: &str| env.push((k.to_owned(), v.to_owned()));
    set(GT_ROLE, &identity.role);
    set(GT_RIG, &identity.rig);
    set(GT_SESSION, &identity.session);
    set(GT_RUN, &identity.run_id);
    set(GT_AGENT, identity.agent.as_str());
    set(BD_ACTOR, &identity.role);
    let parts: Vec<&str> = identity.role.split('/').collect();
    if let [_, kind, name] = parts.as_slice() {
        match *kind {
            "polecats" => set(GT_POLECAT, name),
            "crew" => set(GT_CREW, name),
            _ => {}
        }
    }
    // gt's own view of its environment with the session's identity laid over it: what the
    // agent's children see.
    let ours: Vec<(String, String)> = env.clone();
    let overlay = |k: &str| {
        ours.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .or_else(|| lookup(k))
    };
    let config = Config::from_lookup(overlay).unwrap_or_else(|_| Config::disabled());
    let mut launch = AgentLaunch::default();
    if !config.is_enabled() {
        launch.env = env;
        return launch;
    }
    // The endpoints gt itself uses, explicitly: the tmux server's environment may not have them.
    for (name, url) in [
        (GT_OTEL_METRICS_URL, &config.metrics_url),
        (GT_OTEL_LOGS_URL, &config.logs_url),
        (GT_OTEL_TRACES_URL, &config.traces_url),
    ] {
        if let Some(url) = url {
            env.push((name.to_owned(), url.clone()));
        }
    }
    env.extend(telemetry_subprocess::otel_env_for_subprocess_from_lookup(
        overlay,
    ));
    let cx = root.map_or_else(opentelemetry::Context::new, |sc| {
        use opentelemetry::trace::TraceContextExt as _;
        opentelemetry::Context::new().with_remote_span_context(sc.clone())
    });
    env.extend(telemetry_subprocess::carrier::inject(
        &cx,
        telemetry_subprocess::carrier::baggage_from_lookup(overlay),
    ));
    let prompts = if gate(lookup, GT_LOG_PROMPT_KEYS) {
        "1"
    } else {
        "0"
    };
    let tools = if gate(lookup, GT_LOG_AGENT_OUTPUT) {
        "1"
    } else {
        "0"
    };
    let (metrics, logs) = (
        config.metrics_url.clone().unwrap_or_default(),
        config.logs_url.clone().unwrap_or_default(),
    );
    let mut set = |k: &str, v: &str| env.push((k.to_owned(), v.to_owned()));
    match identity.agent {
        Agent::ClaudeCode => {
            set(CLAUDE_CODE_ENABLE_TELEMETRY, "1");
            set(OTEL_METRICS_EXPORTER, "otlp");
            set(OTEL_LOGS_EXPORTER, "otlp");
            set(OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf");
            set(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, &metrics);
            set(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, &logs);
            // Gas Town's gates decide; the Go original turned both on.
            set(OTEL_LOG_USER_PROMPTS, prompts);
            set(OTEL_LOG_TOOL_DETAILS, tools);
        }
        Agent::OpenCode => {
            set(OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf");
            set(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, &metrics);
            set(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, &logs);
            if let Some(traces) = &config.traces_url {
                set(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, traces);
                set(OTEL_TRACES_EXPORTER, "otlp");
            }
        }
        Agent::Codex => {
            let exporter =
                |url: &str| format!("{{otlp-http={{endpoint={url:?},protocol=\"binary\"}}}}");
            launch.extra_args.extend([
                "-c".to_owned(),
                format!("otel.exporter={}", exporter(&logs)),
            ]);
            // Set explicitly: unset, Codex sends its metrics to OpenAI.
            launch.extra_args.extend([
                "-c".to_owned(),
                format!("otel.metrics_exporter={}", exporter(&metrics)),
            ]);
            if let Some(traces) = &config.traces_url {
                launch.extra_args.extend([
                    "-c".to_owned(),
                    format!("otel.trace_exporter={}", exporter(traces)),
                ]);
            }
            launch.extra_args.extend([
                "-c".to_owned(),
                format!("otel.log_user_prompt={}", prompts == "1"),
            ]);
        }
    }
    launch.env = env;
    launch
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry_core::env::{OTEL_RESOURCE_ATTRIBUTES, TRACEPARENT};
    use telemetry_core::resource::parse_resource_attributes;

    fn identity(agent: Agent, role: &str) -> Identity {
        Identity {
            session: "gt-a,b=c %".into(),
            role: role.into(),
            rig: Identity::rig_of(role),
            agent,
            run_id: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9".into(),
        }
    }

    fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
        env.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn claude_code_gets_its_telemetry_with_hostile_identity_values_intact_and_content_off() {
        let role = "town,1/polecats/Tö ast=%2C";
        let id = identity(Agent::ClaudeCode, role);
        let lookup = |k: &str| (k == GT_OTEL_LOGS_URL).then(|| "http://127.0.0.1:9/l".to_owned());
        let span = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let root = root_context(&id.run_id, span).unwrap();
        let launch = agent_environment(&lookup, &[], &id, Some(&root));
        let env = &launch.env;
        assert_eq!(get(env, CLAUDE_CODE_ENABLE_TELEMETRY), Some("1"));
        assert_eq!(
            get(env, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT),
            Some("http://127.0.0.1:9/l")
        );
        assert_eq!(get(env, OTEL_LOG_USER_PROMPTS), Some("0"));
        assert_eq!(get(env, OTEL_LOG_TOOL_DETAILS), Some("0"));
        assert_eq!(get(env, GT_POLECAT), Some("Tö ast=%2C"));
        assert_eq!(
            get(env, TRACEPARENT),
            Some("00-0f1e2d3c4b5a49788695a4b3c2d1e0f9-00f067aa0ba902b7-01")
        );
        // The resource attributes round-trip through the percent-decoding parser.
        let attrs = parse_resource_attributes(get(env, OTEL_RESOURCE_ATTRIBUTES).unwrap());
        let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(attr("gt.session"), Some("gt-a,b=c %"));
        assert_eq!(attr("gt.role"), Some(role));
        assert_eq!(attr("gt.rig"), Some("town,1"));
        assert_eq!(attr("gt.run_id"), Some(id.run_id.as_str()));
    }

    #[test]
    fn gates_turn_content_on_codex_gets_explicit_exporters_and_off_means_identity_only() {
        let lookup = |k: &str| match k {
            GT_OTEL_METRICS_URL => Some("http://127.0.0.1:9/m".to_owned()),
            GT_LOG_PROMPT_KEYS | GT_LOG_AGENT_OUTPUT => Some("true".to_owned()),
            _ => None,
        };
        let claude =
            agent_environment(&lookup, &[], &identity(Agent::ClaudeCode, "r/crew/x"), None);
        assert_eq!(get(&claude.env, OTEL_LOG_USER_PROMPTS), Some("1"));
        assert_eq!(get(&claude.env, OTEL_LOG_TOOL_DETAILS), Some("1"));
        assert_eq!(get(&claude.env, GT_CREW), Some("x"));
        let codex = agent_environment(&lookup, &[], &identity(Agent::Codex, "r/polecats/p"), None);
        let args = codex.extra_args.join(" ");
        assert!(
            args.contains(r#"otel.metrics_exporter={otlp-http={endpoint="http://127.0.0.1:9/m",protocol="binary"}}"#),
            "{args}"
        );
        assert!(args.contains("otel.log_user_prompt=true"), "{args}");
        let off = agent_environment(
            &|_| None,
            &[],
            &identity(Agent::ClaudeCode, "r/polecats/p"),
            None,
        );
        assert!(get(&off.env, CLAUDE_CODE_ENABLE_TELEMETRY).is_none());
        assert_eq!(
            get(&off.env, GT_RUN),
            Some("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")
        );
    }

    #[test]
    fn the_agent_inherits_gt_settings_but_not_a_stale_identity_or_work() {
        let vars = [
            ("GT_BD_BIN", "/bin/bd"),
            ("GT_WORK_BEAD", "old"),
            ("GT_ROLE", "other"),
            ("PATH", "/bin"),
            ("BD_ACTOR", "x"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            inherited_settings(vars),
            vec![("GT_BD_BIN".to_owned(), "/bin/bd".to_owned())]
        );
    }

    #[test]
    fn the_state_round_trips_and_names_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let path = SessionState::path(dir.path(), "gt-a/b").unwrap();
        assert!(SessionState::load(&path).unwrap().is_none());
        let state = SessionState {
            session: "gt-a/b".into(),
            role: "r/polecats/p".into(),
            rig: "r".into(),
            agent: Agent::Codex,
            run_id: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9".into(),
            span_id: "00f067aa0ba902b7".into(),
            started_ns: 1,
            work_dir: "/w".into(),
        };
        state.save(&path).unwrap();
        let back = SessionState::load(&path).unwrap().unwrap();
        assert_eq!(back, state);
        assert!(back.root_span_id().is_some());
    }
}
