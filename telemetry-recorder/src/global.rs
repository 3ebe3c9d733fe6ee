//! The free `record_*` functions: the process-wide [`Recorder`], built lazily from
//! [`telemetry_core::global()`].
//!
//! Each function first loads the global provider (one atomic load) and returns at once when
//! telemetry is off, before building any attribute or allocating. It must do nothing else:
//! every event's shape lives in [`Recorder`].

use std::sync::OnceLock;
use std::time::Duration;

use crate::events::{
    AgentEvent, AgentInstance, AgentStatus, AgentUsage, CrewPhase, DoltHealth, Done, MailMessage,
    MolSquash, Outcome, QuotaThreshold, RefineryDispatch, SchedulerCycle, WitnessPatrol,
};
use crate::recorder::Recorder;

/// The process-wide recorder, or `None` (one atomic load) when telemetry is off.
///
/// Built on first use from the global provider with [`Recorder::new`], so the content
/// settings, `GT_RUN` and the host name are read once per process.
#[inline]
#[must_use]
pub fn global_recorder() -> Option<&'static Recorder> {
    telemetry_core::global().map(recorder_for)
}

/// Kept out of line so the disabled path inlined into callers is the atomic load alone.
#[inline(never)]
fn recorder_for(provider: &'static telemetry_core::Provider) -> &'static Recorder {
    static RECORDER: OnceLock<Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        crate::health::install_health();
        Recorder::new(provider)
    })
}

/// Starts a span for work whose events and children belong to it (see
/// [`Recorder::start_span`]); `None` when telemetry or traces are off.
#[must_use]
pub fn start_span(name: &'static str) -> Option<crate::ActiveSpan> {
    global_recorder()?.start_span(name)
}

/// Runs `work` inside a span named `name` (with traces on; otherwise just runs it): the events
/// recorded and the children started meanwhile are the span's, and the span lasts as long as
/// `work`.
pub fn in_span<R>(name: &'static str, work: impl FnOnce() -> R) -> R {
    let span = start_span(name);
    let inside = span.as_ref().map(crate::ActiveSpan::attach);
    let out = work();
    drop(inside);
    if let Some(span) = span {
        span.end();
    }
    out
}

/// Records `bd.call` (see [`Recorder::bd_call`]); a no-op when telemetry is off.
#[inline]
pub fn record_bd_call(
    args: &[&str],
    duration: Duration,
    outcome: Outcome<'_>,
    stdout: &[u8],
    stderr: &[u8],
) {
    if let Some(r) = global_recorder() {
        r.bd_call(args, duration, outcome, stdout, stderr);
    }
}

/// Records `session.start` (see [`Recorder::session_start`]); a no-op when telemetry is off.
#[inline]
pub fn record_session_start(session_id: &str, role: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.session_start(session_id, role, outcome);
    }
}

/// Records `session.stop` (see [`Recorder::session_stop`]); a no-op when telemetry is off.
#[inline]
pub fn record_session_stop(session_id: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.session_stop(session_id, outcome);
    }
}

/// Records `prompt.send` (see [`Recorder::prompt_send`]); a no-op when telemetry is off.
#[inline]
pub fn record_prompt_send(session: &str, keys: &str, debounce: Duration, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.prompt_send(session, keys, debounce, outcome);
    }
}

/// Records `agent.instantiate` (see [`Recorder::agent_instantiate`]); a no-op when telemetry
/// is off.
#[inline]
pub fn record_agent_instantiate(agent: &AgentInstance<'_>) {
    if let Some(r) = global_recorder() {
        r.agent_instantiate(agent);
    }
}

/// Records `mail` (see [`Recorder::mail`]); a no-op when telemetry is off.
#[inline]
pub fn record_mail(operation: &str, message: Option<&MailMessage<'_>>, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.mail(operation, message, outcome);
    }
}

/// Records `prime` with the current work context (see [`Recorder::prime`]); a no-op when
/// telemetry is off.
#[inline]
pub fn record_prime(role: &str, hook_mode: bool, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.prime(role, hook_mode, outcome);
    }
}

/// Records `prime.context` when `GT_LOG_PRIME_CONTEXT=true` and `formula` is non-empty (see
/// [`Recorder::prime_context`]); a no-op when telemetry is off.
#[inline]
pub fn record_prime_context(role: &str, hook_mode: bool, formula: &str) {
    if let Some(r) = global_recorder() {
        r.prime_context(role, hook_mode, formula);
    }
}

/// Records `agent.state_change` (see [`Recorder::agent_state_change`]); a no-op when
/// telemetry is off.
#[inline]
pub fn record_agent_state_change(
    agent_id: &str,
    new_state: &str,
    hook_bead: Option<&str>,
    outcome: Outcome<'_>,
) {
    if let Some(r) = global_recorder() {
        r.agent_state_change(agent_id, new_state, hook_bead, outcome);
    }
}

/// Records `polecat.spawn` (see [`Recorder::polecat_spawn`]); a no-op when telemetry is off.
#[inline]
pub fn record_polecat_spawn(name: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.polecat_spawn(name, outcome);
    }
}

/// Records `polecat.remove` (see [`Recorder::polecat_remove`]); a no-op when telemetry is off.
#[inline]
pub fn record_polecat_remove(name: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.polecat_remove(name, outcome);
    }
}

/// Records `sling` (see [`Recorder::sling`]); a no-op when telemetry is off.
#[inline]
pub fn record_sling(bead: &str, target: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.sling(bead, target, outcome);
    }
}

/// Records `nudge` (see [`Recorder::nudge`]); a no-op when telemetry is off.
#[inline]
pub fn record_nudge(target: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.nudge(target, outcome);
    }
}

/// Records `done` (see [`Recorder::done`]); a no-op when telemetry is off.
#[inline]
pub fn record_done(done: &Done<'_>, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.done(done, outcome);
    }
}

/// Records `daemon.restart` (see [`Recorder::daemon_restart`]); a no-op when telemetry is off.
#[inline]
pub fn record_daemon_restart(agent_type: &str) {
    if let Some(r) = global_recorder() {
        r.daemon_restart(agent_type);
    }
}

/// Records `formula.instantiate` (see [`Recorder::formula_instantiate`]); a no-op when
/// telemetry is off.
#[inline]
pub fn record_formula_instantiate(formula_name: &str, bead_id: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.formula_instantiate(formula_name, bead_id, outcome);
    }
}

/// Records `convoy.create` (see [`Recorder::convoy_create`]); a no-op when telemetry is off.
#[inline]
pub fn record_convoy_create(bead_id: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.convoy_create(bead_id, outcome);
    }
}

/// Records `mol.cook` (see [`Recorder::mol_cook`]); a no-op when telemetry is off.
#[inline]
pub fn record_mol_cook(formula_name: &str, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.mol_cook(formula_name, outcome);
    }
}

/// Records `mol.wisp` (see [`Recorder::mol_wisp`]); a no-op when telemetry is off.
#[inline]
pub fn record_mol_wisp(
    formula_name: &str,
    wisp_root_id: &str,
    bead_id: &str,
    outcome: Outcome<'_>,
) {
    if let Some(r) = global_recorder() {
        r.mol_wisp(formula_name, wisp_root_id, bead_id, outcome);
    }
}

/// Records `mol.squash` (see [`Recorder::mol_squash`]); a no-op when telemetry is off.
#[inline]
pub fn record_mol_squash(squash: &MolSquash<'_>, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.mol_squash(squash, outcome);
    }
}

/// Records `mol.burn` (see [`Recorder::mol_burn`]); a no-op when telemetry is off.
#[inline]
pub fn record_mol_burn(mol_id: &str, children_closed: u64, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.mol_burn(mol_id, children_closed, outcome);
    }
}

/// Records `bead.create` (see [`Recorder::bead_create`]); a no-op when telemetry is off.
#[inline]
pub fn record_bead_create(bead_id: &str, parent_id: &str, mol_source: &str) {
    if let Some(r) = global_recorder() {
        r.bead_create(bead_id, parent_id, mol_source);
    }
}

/// Records `pane.output` when `GT_LOG_PANE_OUTPUT=true` (see [`Recorder::pane_output`]); a
/// no-op when telemetry is off.
#[inline]
pub fn record_pane_output(session: &str, content: &str) {
    if let Some(r) = global_recorder() {
        r.pane_output(session, content);
    }
}

/// Records `agent.event` when `GT_LOG_AGENT_OUTPUT=true` (see [`Recorder::agent_event`]); a
/// no-op when telemetry is off.
#[inline]
pub fn record_agent_event(event: &AgentEvent<'_>) {
    if let Some(r) = global_recorder() {
        r.agent_event(event);
    }
}

/// Records `agent.usage` (see [`Recorder::agent_usage`]); a no-op when telemetry is off.
#[inline]
pub fn record_agent_usage(usage: &AgentUsage<'_>) {
    if let Some(r) = global_recorder() {
        r.agent_usage(usage);
    }
}

/// Records `pane.read` (see [`Recorder::pane_read`]); a no-op when telemetry is off.
#[inline]
pub fn record_pane_read(
    session: &str,
    lines_requested: u64,
    content_len: u64,
    outcome: Outcome<'_>,
) {
    if let Some(r) = global_recorder() {
        r.pane_read(session, lines_requested, content_len, outcome);
    }
}

/// Records `refinery.dispatch` (see [`Recorder::refinery_dispatch`]); a no-op when telemetry
/// is off.
#[inline]
pub fn record_refinery_dispatch(dispatch: &RefineryDispatch<'_>, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.refinery_dispatch(dispatch, outcome);
    }
}

/// Records `refinery.queue` (see [`Recorder::refinery_queue`]); a no-op when telemetry is off.
#[inline]
pub fn record_refinery_queue(rig: &str, queue_depth: u64, oldest_age: Option<Duration>) {
    if let Some(r) = global_recorder() {
        r.refinery_queue(rig, queue_depth, oldest_age);
    }
}

/// Records `scheduler.dispatch_cycle` (see [`Recorder::scheduler_dispatch_cycle`]); a no-op
/// when telemetry is off.
#[inline]
pub fn record_scheduler_dispatch_cycle(cycle: &SchedulerCycle, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.scheduler_dispatch_cycle(cycle, outcome);
    }
}

/// Records `witness.patrol` (see [`Recorder::witness_patrol`]); a no-op when telemetry is off.
#[inline]
pub fn record_witness_patrol(patrol: &WitnessPatrol<'_>, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.witness_patrol(patrol, outcome);
    }
}

/// Records `deacon.transition` (see [`Recorder::deacon_transition`]); a no-op when telemetry
/// is off.
#[inline]
pub fn record_deacon_transition(from_state: &str, to_state: &str, reason: &str) {
    if let Some(r) = global_recorder() {
        r.deacon_transition(from_state, to_state, reason);
    }
}

/// Records `crew.cycle` (see [`Recorder::crew_cycle`]); a no-op when telemetry is off.
#[inline]
pub fn record_crew_cycle(crew: &str, rig: &str, phase: CrewPhase, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.crew_cycle(crew, rig, phase, outcome);
    }
}

/// Records `git.operation` (see [`Recorder::git_operation`]); a no-op when telemetry is off.
#[inline]
pub fn record_git_operation(op: &str, repo: &str, duration: Duration, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.git_operation(op, repo, duration, outcome);
    }
}

/// Records `dolt.health` (see [`Recorder::dolt_health`]); a no-op when telemetry is off.
#[inline]
pub fn record_dolt_health(health: &DoltHealth<'_>, outcome: Outcome<'_>) {
    if let Some(r) = global_recorder() {
        r.dolt_health(health, outcome);
    }
}

/// Records `agent.status` (see [`Recorder::agent_status`]); a no-op when telemetry is off.
#[inline]
pub fn record_agent_status(status: &AgentStatus<'_>) {
    if let Some(r) = global_recorder() {
        r.agent_status(status);
    }
}

/// Sets the gauges of `agent.status` without its log record (see
/// [`Recorder::agent_status_gauges`]); a no-op when telemetry is off.
#[inline]
pub fn record_agent_status_gauges(status: &AgentStatus<'_>) {
    if let Some(r) = global_recorder() {
        r.agent_status_gauges(status);
    }
}

/// Records `agent.quota_threshold` (see [`Recorder::agent_quota_threshold`]); a no-op when
/// telemetry is off.
#[inline]
pub fn record_agent_quota_threshold(crossing: &QuotaThreshold<'_>) {
    if let Some(r) = global_recorder() {
        r.agent_quota_threshold(crossing);
    }
}
