//! `gt statusline`: Claude Code's status-line command (see `gt_cli::statusline`).
//!
//! Runs on every status update, so: with telemetry off it parses stdin, reads the session's
//! work ledger (only with a session known without spawning anything: `GT_SESSION`, else the
//! tmux session name cached by `gt prime`) and prints. With telemetry on it also sets the
//! context and quota gauges, fires `agent.quota_threshold` on a crossing (state file under the
//! state directory) and exports within the one-shot bound. It never exits non-zero: every
//! problem is a partial line on stdout and at most one warning line on stderr.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::time::SystemTime;

use gt_cli::statusline::{self, MAX_INPUT, QuotaState, Status};
use gt_cli::work_source;
use telemetry_recorder::{AgentStatus, QuotaThreshold, QuotaWindow};

use super::SHUTDOWN_DEADLINE;

/// Runs `gt statusline`. Always succeeds.
pub(crate) fn run() -> ExitCode {
    let mut input = Vec::new();
    if let Err(err) = std::io::stdin().take(MAX_INPUT).read_to_end(&mut input) {
        eprintln!("gt statusline: warning: cannot read stdin: {err}");
    }
    let status = statusline::parse(&input);
    let env = |k: &str| std::env::var(k).ok();
    // Never spawn tmux here: GT_SESSION, else the name `gt prime` cached, else no session.
    let session = work_source::session_key(&env, || {
        work_source::tmux_session_via_cache(&env, false, || Err("not cached".to_owned()))
    })
    .ok()
    .flatten();
    let resolved = work_source::resolve(&env, session);
    let line = statusline::render(&status, Some(resolved.ctx.bead.as_str()), SystemTime::now());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    drop(out);
    record(&status, resolved);
    ExitCode::SUCCESS
}

/// Telemetry on only: the gauges, the crossings, a bounded export.
fn record(status: &Status, resolved: work_source::Resolved) {
    let provider = match telemetry_otlp::init("gastown", env!("CARGO_PKG_VERSION")) {
        Ok(Some(provider)) => provider,
        Ok(None) => return,
        Err(err) => {
            eprintln!("gt statusline: warning: telemetry disabled: {err}");
            return;
        }
    };
    super::continue_carried_trace();
    let session = resolved
        .session
        .clone()
        .or_else(|| status.session_id.clone())
        .unwrap_or_default();
    telemetry_recorder::set_work_context(resolved.ctx);
    let model = status.model();
    telemetry_recorder::record_agent_status_gauges(&AgentStatus {
        session: &session,
        model,
        context_used_percent: status.context_used_percent,
        five_hour_used_percent: status.five_hour.map(|q| q.used_percent),
        seven_day_used_percent: status.seven_day.map(|q| q.used_percent),
        cost_usd: status.cost_usd,
    });
    if status.five_hour.is_some() || status.seven_day.is_some() {
        record_crossings(status, &session, model);
    }
    if let Err(err) = provider.shutdown(SHUTDOWN_DEADLINE)
        && matches!(err, telemetry_core::ShutdownError::DeadlineExceeded(_))
    {
        eprintln!("gt statusline: warning: {err}");
    }
}

/// Fires `agent.quota_threshold` for each threshold crossed since the session's last update
/// and remembers this update's use.
fn record_crossings(status: &Status, session: &str, model: &str) {
    let env = |k: &str| std::env::var(k).ok();
    let Some(path) = telemetry_core::config::state_dir_from_lookup(env)
        .and_then(|dir| QuotaState::path(&dir, session))
    else {
        return;
    };
    let mut state = QuotaState::load(&path);
    for window in QuotaWindow::ALL {
        let Some(quota) = status.quota(window) else {
            continue;
        };
        let resets_at = quota
            .resets_at
            .and_then(|t| jiff::Timestamp::try_from(t).ok())
            .map(|t| t.to_string())
            .unwrap_or_default();
        for threshold in statusline::crossings(state.get(window), quota.used_percent) {
            telemetry_recorder::record_agent_quota_threshold(&QuotaThreshold {
                session,
                model,
                window,
                threshold,
                used_percent: quota.used_percent,
                resets_at: &resets_at,
            });
        }
        state.set(window, quota.used_percent);
    }
    if let Err(err) = state.save(&path) {
        eprintln!(
            "gt statusline: warning: cannot write {}: {err}",
            path.display()
        );
    }
}
