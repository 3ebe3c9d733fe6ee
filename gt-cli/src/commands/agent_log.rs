//! `gt agent-log`: follow an agent's transcripts (optionally in the background), replay them,
//! or report on them.
//!
//! Wiring only: settings are resolved by `agent_log::settings`, the work is done by
//! the follower and the readers of `gt_cli::agent_log`; this module starts telemetry (daemon
//! profile, runtime metrics), takes the session's lock, detaches, and prints one line per
//! outcome. It must not parse transcripts or decide what to export.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use agent_log::attribution::Attribution;
use agent_log::discover::{self, Ownership};
use agent_log::follow::{Source, Transcripts};
use agent_log::offline;
use agent_log::opencode_db::{self, Database, DbSource, Sessions};
use agent_log::pump;
use agent_log::settings::{self, FollowFlags, FollowSettings};
use agent_log::sink::{RecordContext, TelemetrySink};
use agent_log::state::{Checkpoint, InstanceLock, LockError, SessionFiles, Totals};
use agent_log::watch::Wakes;
use agent_transcripts::{AgentKind, GroupBy, Pricing, Work, paths};
use anyhow::Context as _;
use telemetry_core::env::{
    GT_AGENT_LOG_STATE_DIR, GT_PRICING_FILE, GT_RIG, GT_ROLE, GT_RUN, GT_SESSION,
};
use telemetry_core::{Config, Profile, Provider, Service};

use crate::args::{
    AgentArg, AgentLogArgs, AgentLogCommand, FollowArgs, ReplayArgs, ReportArgs, ReportBy,
};

/// After a stop signal, the bound on the final export and provider shutdown together with
/// what the follower already spent (the data model's recommended 5 s, with a margin).
const SHUTDOWN_AFTER_FINISH: Duration = Duration::from_millis(1500);
/// How long `--detach` waits for the background instance to say it took the lock.
const DETACH_HANDSHAKE: Duration = Duration::from_secs(10);
/// How long `replay` keeps retrying a batch the backend refuses.
const REPLAY_PATIENCE: Duration = Duration::from_secs(30);

/// Runs `gt agent-log`.
pub(crate) fn run(args: &AgentLogArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(AgentLogCommand::Replay(a)) => replay(a),
        Some(AgentLogCommand::Report(a)) => report(a),
        None => follow_mode(&args.follow),
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn agent_of(arg: AgentArg) -> AgentKind {
    match arg {
        AgentArg::Claudecode => AgentKind::ClaudeCode,
        AgentArg::Codex => AgentKind::Codex,
        AgentArg::Opencode => AgentKind::OpenCode,
    }
}

/// The embedded price table, with `GT_PRICING_FILE`'s rows over it when set (its version: the
/// file's `version`, else `file:<its modification date>`).
fn pricing() -> anyhow::Result<Pricing> {
    let Some(path) = env(GT_PRICING_FILE).filter(|p| !p.trim().is_empty()) else {
        return Ok(Pricing::embedded());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {GT_PRICING_FILE}={path}"))?;
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    Pricing::load_override(&text, modified).with_context(|| format!("{GT_PRICING_FILE}={path}"))
}

/// Starts telemetry with the daemon profile (retries on); `None` when it is off.
fn start_telemetry() -> anyhow::Result<Option<(Provider, Config)>> {
    let config = Config::from_env().context("telemetry configuration")?;
    if !config.is_enabled() {
        return Ok(None);
    }
    let for_init = config.clone();
    let provider = telemetry_otlp::init_with(
        move || Ok(for_init),
        Service {
            name: "gastown",
            version: env!("CARGO_PKG_VERSION"),
        },
        Profile::Daemon,
    )
    .context("telemetry")?;
    if provider.is_some() {
        // Turn spans hang under the session's root span, whose context reaches us here.
        super::continue_carried_trace();
    }
    Ok(provider.map(|p| (p, config)))
}

fn summary(totals: &Totals) -> String {
    let s = &totals.skipped;
    format!(
        "{} agent.usage and {} agent.event records exported; {} usages without a price; \
         {} lines skipped ({} not JSON, {} unknown shape, {} not UTF-8, {} oversized, {} \
         unfinished, {} ignored types); {} usages already exported from another transcript",
        totals.usage_records,
        totals.event_records,
        totals.unpriced_usages,
        s.total(),
        s.invalid_json,
        s.unknown_shape,
        s.invalid_utf8,
        s.oversized,
        s.partial_lines,
        s.ignored_type,
        totals.duplicate_messages,
    )
}

fn follow_mode(args: &FollowArgs) -> anyhow::Result<ExitCode> {
    let work_dir = args
        .work_dir
        .as_deref()
        .context("pass --work-dir DIR (the agent's working directory), or use `replay`/`report`")?;
    let cwd = std::env::current_dir().context("current directory")?;
    let settings = FollowSettings::resolve(
        &FollowFlags {
            agent: args.agent.map(agent_of),
            session: args.session.as_deref(),
            work_dir,
            since: args.since.as_deref(),
            run_id: args.run_id.as_deref(),
        },
        &cwd,
        env,
    )?;
    let root = paths::transcript_root(
        settings.agent,
        &settings.work_dir,
        env,
        settings::home_dir(&env).as_deref(),
    )
    .context(
        "no transcript directory: set HOME (or CLAUDE_CONFIG_DIR / CODEX_HOME / XDG_DATA_HOME)",
    )?;
    let files = SessionFiles::new(&settings.state_dir, &settings.session);
    std::fs::create_dir_all(&settings.state_dir).with_context(|| {
        format!(
            "cannot create the state directory {}",
            settings.state_dir.display()
        )
    })?;
    if args.detach && !args.detached_child {
        if !Config::from_env()
            .context("telemetry configuration")?
            .is_enabled()
        {
            eprintln!("gt agent-log: telemetry is off (GT_OTEL_LOGS_URL unset): nothing to export");
            return Ok(ExitCode::SUCCESS);
        }
        return detach(args, &settings, &files);
    }
    if args.detached_child {
        // Not a process-group leader (spawned by the parent), so this cannot fail in
        // practice; if it does, the instance still runs, tied to the parent's session.
        if let Err(err) = rustix::process::setsid() {
            eprintln!("gt agent-log: warning: setsid failed: {err}");
        }
    }
    let lock = match InstanceLock::acquire(&files) {
        Ok(lock) => lock,
        Err(LockError::Held { pid }) => {
            let pid = pid.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
            handshake(args, &format!("already {pid}"));
            eprintln!(
                "gt agent-log: session {} is already followed (pid {pid}); nothing to do",
                settings.session
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => return Err(err.into()),
    };
    let Some((provider, config)) = start_telemetry()? else {
        handshake(args, "off");
        eprintln!("gt agent-log: telemetry is off (GT_OTEL_LOGS_URL unset): nothing to export");
        return Ok(ExitCode::SUCCESS);
    };
    let fallback_work = telemetry_recorder::WorkContext::from_lookup(env);
    telemetry_recorder::set_work_context(fallback_work.clone());
    let _runtime = telemetry_runtime::install(&provider)
        .map_err(|err| eprintln!("gt agent-log: warning: no process metrics: {err}"))
        .ok();
    let pricing = pricing().unwrap_or_else(|err| {
        eprintln!("gt agent-log: warning: {err:#}; using the embedded price table");
        Pricing::embedded()
    });
    let (mut wakes, wake_rx) = Wakes::new().context("signal handlers")?;
    let stop = wakes.stop_flag();
    let checkpoint = load_checkpoint(&files.checkpoint, &settings);
    let sink = TelemetrySink::new(
        provider.clone(),
        &config,
        pricing,
        RecordContext {
            session: settings.session.clone(),
            run_id: settings.run_id.clone(),
            rig: settings.rig.clone(),
            role: settings.role.clone(),
        },
        Arc::clone(&stop),
    )
    .attribute_by(Attribution::new(
        settings.work_state_dir.as_deref(),
        &settings.session,
        fallback_work,
    ));
    let (finished, totals) = if settings.agent == AgentKind::OpenCode {
        // `root` is the database; its directory is watched for the database and its WAL.
        let mut follower = Database::follower(
            DbSource {
                path: root.clone(),
                sessions: Sessions::of_work_dir(&settings.work_dir),
                work_dir: settings.work_dir.clone(),
                since: settings.since,
            },
            &settings.session,
            sink,
            checkpoint,
            Some(files.checkpoint.clone()),
        );
        let data_dir = root.parent().map(Path::to_owned).unwrap_or_default();
        handshake(args, &format!("started {}", std::process::id()));
        let finished = pump::run(&mut follower, &wake_rx, &stop, settings.poll, || {
            wakes.watch_flat(&data_dir);
        });
        (finished, follower.totals())
    } else {
        let mut follower = Transcripts::follower(
            Source::Watch {
                agent: settings.agent,
                root: root.clone(),
                work_dir: settings.work_dir.clone(),
                since: settings.since,
            },
            &settings.session,
            sink,
            checkpoint,
            Some(files.checkpoint.clone()),
            settings.idle_flush,
        );
        handshake(args, &format!("started {}", std::process::id()));
        let finished = pump::run(&mut follower, &wake_rx, &stop, settings.poll, || {
            wakes.watch(&root);
        });
        (finished, follower.totals())
    };
    let _ = provider.shutdown(SHUTDOWN_AFTER_FINISH);
    eprintln!(
        "gt agent-log: session {}: {}{}",
        settings.session,
        summary(&totals),
        if finished {
            ""
        } else {
            "; the last batch was not confirmed and is kept for the next start"
        }
    );
    drop(lock);
    Ok(ExitCode::SUCCESS)
}

/// A checkpoint for these settings, or none (a missing, unreadable or foreign one is
/// replaced by the first save).
fn load_checkpoint(path: &Path, settings: &FollowSettings) -> Option<Checkpoint> {
    match Checkpoint::load(path) {
        Ok(Some(cp)) if cp.agent == settings.agent && cp.work_dir == settings.work_dir => Some(cp),
        Ok(Some(cp)) => {
            eprintln!(
                "gt agent-log: warning: {} belongs to {} in {}; starting over for {} in {}",
                path.display(),
                cp.agent,
                cp.work_dir.display(),
                settings.agent,
                settings.work_dir.display()
            );
            None
        }
        Ok(None) => None,
        Err(err) => {
            eprintln!("gt agent-log: warning: {err}; starting without a checkpoint");
            None
        }
    }
}

/// Tells the `--detach` parent how the start went (one line on stdout, which is its pipe).
fn handshake(args: &FollowArgs, line: &str) {
    if args.detached_child {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Starts this command again in the background (it calls setsid itself), waits until it has
/// taken the session's lock or found it taken, and reports.
fn detach(
    args: &FollowArgs,
    settings: &FollowSettings,
    files: &SessionFiles,
) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the gt executable")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&files.log)
        .with_context(|| format!("cannot open {}", files.log.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("agent-log")
        .arg("--session")
        .arg(&settings.session)
        .arg("--work-dir")
        .arg(&settings.work_dir)
        .arg("--agent")
        .arg(settings.agent.as_str())
        .arg("--detached-child");
    if let Some(since) = &args.since {
        cmd.arg("--since").arg(since);
    }
    if !settings.run_id.is_empty() {
        cmd.arg("--run-id").arg(&settings.run_id);
    }
    // The state directory as resolved here, so the child cannot resolve another one.
    cmd.env(GT_AGENT_LOG_STATE_DIR, &settings.state_dir)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    let mut child = cmd
        .spawn()
        .context("cannot start the background instance")?;
    let stdout = child
        .stdout
        .take()
        .context("no pipe to the background instance")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(DETACH_HANDSHAKE).unwrap_or_default();
    let line = line.trim();
    if let Some(pid) = line.strip_prefix("started ") {
        println!(
            "gt agent-log: following session {} in the background (pid {pid}; log {})",
            settings.session,
            files.log.display()
        );
        Ok(ExitCode::SUCCESS)
    } else if let Some(pid) = line.strip_prefix("already ") {
        println!(
            "gt agent-log: session {} is already followed (pid {pid})",
            settings.session
        );
        Ok(ExitCode::SUCCESS)
    } else if line == "off" {
        println!("gt agent-log: telemetry is off (GT_OTEL_LOGS_URL unset): nothing to export");
        Ok(ExitCode::SUCCESS)
    } else {
        anyhow::bail!(
            "the background instance did not start; see {}",
            files.log.display()
        )
    }
}

/// The one OpenCode database among `paths`, when `paths` is exactly that.
fn single_database(paths: &[PathBuf]) -> Option<&Path> {
    match paths {
        [p] if opencode_db::is_database(p) => Some(p),
        _ => None,
    }
}

fn replay(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let database = single_database(&args.paths);
    let files = match database {
        Some(_) => Vec::new(),
        None => offline::expand(&args.paths, args.agent.map(agent_of))?,
    };
    if let Some((path, _)) = files.iter().find(|(_, a)| *a == AgentKind::OpenCode) {
        anyhow::bail!(
            "{}: replaying OpenCode documents is not supported; `gt agent-log report` reads them",
            path.display()
        );
    }
    let Some((provider, config)) = start_telemetry()? else {
        anyhow::bail!("telemetry is off: set GT_OTEL_LOGS_URL to replay transcripts");
    };
    let pricing = pricing()?;
    let stop = Arc::new(AtomicBool::new(false));
    let session = args
        .session
        .clone()
        .or_else(|| env(GT_SESSION))
        .unwrap_or_default();
    let run_id = args
        .run_id
        .clone()
        .or_else(|| env(GT_RUN))
        .unwrap_or_default();
    let sink = TelemetrySink::new(
        provider.clone(),
        &config,
        pricing,
        RecordContext {
            session: session.clone(),
            run_id,
            rig: env(GT_RIG).unwrap_or_default(),
            role: env(GT_ROLE).unwrap_or_default(),
        },
        Arc::clone(&stop),
    )
    .attribute_by(attribution(&session));
    let sink = match args.retention {
        0 => sink,
        days => sink.assume_retention(Duration::from_secs(u64::from(days) * 86_400)),
    };
    let count = files.len().max(1);
    let started = Instant::now();
    let (ok, totals) = if let Some(db) = database {
        let mut follower = Database::follower(
            DbSource {
                path: db.to_owned(),
                sessions: Sessions::All,
                work_dir: PathBuf::new(),
                since: None,
            },
            &session,
            sink,
            None,
            None,
        );
        let ok = pump::replay(&mut follower, &stop, REPLAY_PATIENCE);
        (ok, follower.totals())
    } else {
        let mut follower = Transcripts::follower(
            Source::Fixed(files),
            &session,
            sink,
            None,
            None,
            Duration::ZERO,
        );
        let ok = pump::replay(&mut follower, &stop, REPLAY_PATIENCE);
        (ok, follower.totals())
    };
    let _ = provider.shutdown(super::SHUTDOWN_DEADLINE);
    eprintln!(
        "gt agent-log replay: {count} files in {} ms: {}",
        started.elapsed().as_millis(),
        summary(&totals)
    );
    if let Some(oldest) = totals.oldest_stale {
        eprintln!(
            "gt agent-log replay: warning: {} records are older than the assumed retention of {} \
             days (oldest {}): VictoriaLogs and VictoriaMetrics answer 200 and drop records older \
             than their -retentionPeriod; raise it, or pass the backend's --retention",
            totals.stale_records,
            args.retention,
            agent_transcripts::time::to_rfc3339(oldest),
        );
    }
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "gt agent-log replay: error: the backend did not take every record (the counts \
             above are what it confirmed)"
        );
        Ok(ExitCode::from(1))
    }
}

/// Attribution of records to work through `session`'s ledger in the state directory the
/// environment names; `GT_WORK_*` while the ledger has no entry.
fn attribution(session: &str) -> Attribution {
    Attribution::new(
        telemetry_core::config::state_dir_from_lookup(env).as_deref(),
        session,
        telemetry_recorder::WorkContext::from_lookup(env),
    )
}

fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let database = match single_database(&args.paths) {
        Some(db) => Some((db.to_owned(), Sessions::All)),
        None if args.paths.is_empty()
            && settings::resolve_agent(args.agent.map(agent_of), &env)? == AgentKind::OpenCode =>
        {
            let work_dir = args
                .work_dir
                .as_deref()
                .context("pass an opencode.db PATH or --work-dir DIR")?;
            let db = paths::opencode_database(env, settings::home_dir(&env).as_deref())
                .context("no OpenCode database: set HOME or XDG_DATA_HOME")?;
            Some((
                db,
                Sessions::of_work_dir(&std::env::current_dir()?.join(work_dir)),
            ))
        }
        None => None,
    };
    if let Some((db, sessions)) = database {
        let (usages, skipped) = opencode_db::read_usages(&db, &sessions)
            .with_context(|| format!("cannot read {}", db.display()))?;
        return print_report(args, usages, &skipped, 1);
    }
    let files: Vec<(PathBuf, AgentKind)> = if args.paths.is_empty() {
        let work_dir = args
            .work_dir
            .as_deref()
            .context("pass transcript PATHs or --work-dir DIR")?;
        let work_dir = std::env::current_dir()?.join(work_dir);
        let agent = settings::resolve_agent(args.agent.map(agent_of), &env)?;
        let root =
            paths::transcript_root(agent, &work_dir, env, settings::home_dir(&env).as_deref())
                .context("no transcript directory for this agent: set HOME")?;
        discover::list_files(&root, "jsonl")
            .into_iter()
            .filter(|p| {
                agent != AgentKind::Codex
                    || matches!(discover::codex_ownership(p, &work_dir), Ok(Ownership::Ours))
            })
            .map(|p| (p, agent))
            .collect()
    } else {
        offline::expand(&args.paths, args.agent.map(agent_of))?
    };
    let (usages, skipped) = offline::read_usages(&files)?;
    print_report(args, usages, &skipped, files.len())
}

fn print_report(
    args: &ReportArgs,
    usages: Vec<agent_transcripts::Usage>,
    skipped: &agent_transcripts::SkipCounts,
    file_count: usize,
) -> anyhow::Result<ExitCode> {
    let pricing = pricing()?;
    let by = match args.by {
        ReportBy::Session => GroupBy::Session,
        ReportBy::Model => GroupBy::Model,
        ReportBy::Day => GroupBy::Day,
        ReportBy::Bead => GroupBy::Bead,
        ReportBy::Rig => GroupBy::Rig,
        ReportBy::Mol => GroupBy::Mol,
    };
    let session = args
        .session
        .clone()
        .or_else(|| env(GT_SESSION))
        .filter(|s| !s.trim().is_empty());
    let report = match (by, session) {
        (GroupBy::Bead | GroupBy::Rig | GroupBy::Mol, None) => {
            anyhow::bail!(
                "--by bead, rig or mol needs --session (or {GT_SESSION}): the session's work \
                 ledger says which work each usage was for"
            )
        }
        (_, None) => agent_transcripts::report(usages, by, &pricing),
        (_, Some(session)) => {
            let mut work = attribution(&session);
            let attributed = usages.into_iter().map(|u| {
                let ctx = work.at(u.timestamp);
                let w = Work {
                    rig: ctx.rig.clone(),
                    bead: ctx.bead.clone(),
                    mol: ctx.mol.clone(),
                };
                (u, w)
            });
            agent_transcripts::report_attributed(attributed, by, &pricing)
        }
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_table());
    }
    if skipped.problems() > 0 {
        eprintln!(
            "gt agent-log report: {} of the lines of {} files could not be read ({} not JSON, \
             {} unknown shape, {} not UTF-8, {} oversized, {} unfinished)",
            skipped.problems(),
            file_count,
            skipped.invalid_json,
            skipped.unknown_shape,
            skipped.invalid_utf8,
            skipped.oversized,
            skipped.partial_lines
        );
    }
    Ok(ExitCode::SUCCESS)
}
