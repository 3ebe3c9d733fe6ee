//! `gt prime`: resolve the work context, attribute later telemetry to it (in this process, in
//! the session's work ledger and in the tmux session), emit `prime`, and print the context for
//! the agent.
//!
//! The ledger gets one entry per prime that learned a context: from `--bead/--mol` (source
//! `flags`), or from beads' answer, a bead (`prime_hook`) or none (`empty_hook`, clearing it);
//! also when it equals the previous one (the entry confirms it, and a repeated entry costs one
//! line). Nothing is appended for `--dry-run`, `--no-bd` without flags, or a failed bd query
//! (the previous context stays current). The tmux variables are set under the ledger's lock, so
//! concurrent primes leave tmux and the ledger in the same order.

use gt_cli::bd::Bd;
use gt_cli::tmux::{Tmux, work_variables};
use gt_cli::work::{self, Identity, Issue, Retry};
use gt_cli::work_source;
use std::process::ExitCode;
use telemetry_core::env::GT_RUN;
use telemetry_recorder::WorkContext;
use work_ledger::{Change, Source};

use crate::args::PrimeArgs;

/// Runs `gt prime`. Exit code 0 on success and on "no work"; failures are reported, not fatal.
pub(crate) fn run(args: &PrimeArgs) -> anyhow::Result<ExitCode> {
    let env = |k: &str| std::env::var(k).ok();
    let identity = Identity::resolve(args.role.as_deref(), args.rig.as_deref(), env);
    let previous = telemetry_recorder::work_context();
    let work_rig = args
        .work_rig
        .clone()
        .unwrap_or_else(|| identity.rig.clone());

    let mut issue: Option<Issue> = None;
    let lookup: Result<WorkContext, String> = if args.bead.is_some() || args.mol.is_some() {
        Ok(WorkContext {
            rig: work_rig.clone(),
            bead: args.bead.clone().unwrap_or_default(),
            mol: args.mol.clone().unwrap_or_default(),
        })
    } else if args.no_bd {
        Ok(previous.clone())
    } else {
        let bd = Bd::from_lookup(env);
        let retry = if identity.hook_can_lag() && !args.no_retry {
            Retry::LAGGING_HOOK
        } else {
            Retry::NONE
        };
        match work::find_hooked_work(&bd, &identity.agent_id, retry, std::thread::sleep) {
            Ok(found) => {
                let ctx = work::context_for(found.as_ref(), &work_rig);
                issue = found;
                Ok(ctx)
            }
            Err(err) => Err(err.to_string()),
        }
    };
    let (ctx, failure) = match lookup {
        Ok(ctx) => (ctx, None),
        Err(err) => {
            eprintln!(
                "gt prime: WARNING: could not ask beads for {}'s hooked work: {err}\n\
                 gt prime: WARNING: work may still be assigned; keeping the previous context ({})",
                display_or(&identity.agent_id, "this agent"),
                describe(&previous)
            );
            (previous.clone(), Some(err))
        }
    };

    let source = if failure.is_some() {
        None
    } else if args.bead.is_some() || args.mol.is_some() {
        Some(Source::Flags)
    } else if args.no_bd {
        None
    } else if issue.is_some() {
        Some(Source::PrimeHook)
    } else {
        Some(Source::EmptyHook)
    };
    let (tmux_note, ledger_note) = if args.dry_run {
        ("dry run: nothing changed".to_owned(), "dry run".to_owned())
    } else {
        telemetry_recorder::set_work_context(ctx.clone());
        let inject = || inject_into_tmux(args.tmux_session.as_deref(), &ctx);
        match source {
            Some(source) => {
                let change = Change {
                    role: identity.agent_id.clone(),
                    run_id: env(GT_RUN).unwrap_or_default(),
                    rig: ctx.rig.clone(),
                    bead: ctx.bead.clone(),
                    mol: ctx.mol.clone(),
                };
                record_in_ledger(args.tmux_session.as_deref(), change, source, inject)
            }
            None => (inject(), "unchanged".to_owned()),
        }
    };

    let outcome = match &failure {
        Some(err) => Err(err as &dyn std::fmt::Display),
        None => Ok(()),
    };
    telemetry_recorder::record_prime(&identity.agent_id, args.hook, outcome);
    let rendered = render(&identity, &ctx, issue.as_ref());
    telemetry_recorder::record_prime_context(&identity.agent_id, args.hook, &rendered);

    if args.json {
        let doc = serde_json::json!({
            "role": identity.agent_id,
            "rig": identity.rig,
            "hook_mode": args.hook,
            "status": if failure.is_some() { "error" } else { "ok" },
            "error": failure.clone().unwrap_or_default(),
            "work_rig": ctx.rig,
            "work_bead": ctx.bead,
            "work_mol": ctx.mol,
            "title": issue.as_ref().map(|i| i.title.clone()).unwrap_or_default(),
            "tmux": tmux_note,
            "ledger": ledger_note,
            "dry_run": args.dry_run,
            "telemetry": telemetry_core::is_active(),
        });
        println!("{doc}");
    } else {
        print!("{rendered}");
        println!("tmux: {tmux_note}");
        println!("ledger: {ledger_note}");
        println!(
            "telemetry: {}",
            if telemetry_core::is_active() {
                "on"
            } else {
                "off"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Appends `change` to the session's ledger (session: `GT_SESSION`, else `--tmux-session`,
/// else the tmux session of `$TMUX`) and runs `inject` under its lock; returns inject's note
/// and the ledger's. A ledger that cannot be written is one warning; `inject` runs anyway.
fn record_in_ledger(
    session_flag: Option<&str>,
    change: Change,
    source: Source,
    inject: impl FnOnce() -> String,
) -> (String, String) {
    let env = |k: &str| std::env::var(k).ok();
    let session = work_source::session_key(&env, || match session_flag {
        Some(flag) => Ok(Some(flag.to_owned())),
        None => work_source::fresh_tmux_session(),
    });
    let ledger = match session {
        Ok(Some(session)) => work_source::ledger_for(&env, &session),
        // No session: only the environment carries the context, as before the ledger.
        Ok(None) => return (inject(), "no session; not recorded".to_owned()),
        // inject_into_tmux warns about the same tmux failure: say it once.
        Err(err) => return (inject(), format!("not recorded (no tmux session: {err})")),
    };
    let ledger = match ledger {
        Ok(ledger) => ledger,
        Err(err) => {
            eprintln!("gt prime: warning: {err}; the work context is not recorded");
            return (inject(), format!("not recorded ({err})"));
        }
    };
    match ledger.append_then(change, source, |_| inject()) {
        (Ok(entry), note) => (
            note,
            format!(
                "{} ({}, session {})",
                ledger.path().display(),
                entry.source.as_str(),
                entry.session
            ),
        ),
        (Err(err), note) => {
            eprintln!("gt prime: warning: {err}; the work context is not recorded");
            (note, format!("not recorded ({err})"))
        }
    }
}

/// Sets GT_WORK_* in the tmux session (when inside tmux or told which one) and says what
/// happened; a tmux failure is a warning, never an error exit.
fn inject_into_tmux(session_flag: Option<&str>, ctx: &WorkContext) -> String {
    let tmux = Tmux::default();
    let session = match session_flag {
        Some(session) => session.to_owned(),
        None => match work_source::fresh_tmux_session() {
            Ok(Some(session)) => session,
            Ok(None) => return "not inside tmux; nothing injected".to_owned(),
            Err(err) => {
                eprintln!("gt prime: warning: could not find the tmux session: {err}");
                return format!("not injected ({err})");
            }
        },
    };
    match tmux.inject(&session, ctx) {
        Ok(()) => {
            let vars: Vec<String> = work_variables(ctx)
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        format!("-{k}")
                    } else {
                        (*k).to_owned()
                    }
                })
                .collect();
            format!("session {session}: {}", vars.join(" "))
        }
        Err(err) => {
            eprintln!(
                "gt prime: warning: could not set the work context in tmux session {session}: {err}"
            );
            format!("not injected ({err})")
        }
    }
}

/// The context block shown to the agent (and logged as `prime.context` when enabled).
fn render(identity: &Identity, ctx: &WorkContext, issue: Option<&Issue>) -> String {
    let mut out = String::from("# Work context (gt prime)\n");
    out.push_str(&format!("agent: {}\n", display_or(&identity.agent_id, "-")));
    out.push_str(&format!("rig: {}\n", display_or(&ctx.rig, "-")));
    match issue.filter(|i| !i.title.is_empty()) {
        Some(issue) => out.push_str(&format!("bead: {} ({})\n", issue.id, issue.title)),
        None => out.push_str(&format!("bead: {}\n", display_or(&ctx.bead, "none"))),
    }
    out.push_str(&format!("molecule: {}\n", display_or(&ctx.mol, "none")));
    out
}

fn describe(ctx: &WorkContext) -> String {
    if ctx == &WorkContext::default() {
        "none".to_owned()
    } else {
        format!(
            "rig={} bead={} mol={}",
            display_or(&ctx.rig, "-"),
            display_or(&ctx.bead, "-"),
            display_or(&ctx.mol, "-")
        )
    }
}

fn display_or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}
