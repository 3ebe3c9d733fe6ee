//! `gt prime`: resolve the work context, attribute later telemetry to it (in this process and
//! in the tmux session), emit `prime`, and print the context for the agent.

use gt_cli::bd::Bd;
use gt_cli::tmux::{Tmux, work_variables};
use gt_cli::work::{self, Identity, Issue, Retry};
use std::process::ExitCode;
use telemetry_recorder::WorkContext;

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

    let tmux_note = if args.dry_run {
        "dry run: nothing changed".to_owned()
    } else {
        telemetry_recorder::set_work_context(ctx.clone());
        inject_into_tmux(args.tmux_session.as_deref(), &ctx)
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
            "dry_run": args.dry_run,
            "telemetry": telemetry_core::is_active(),
        });
        println!("{doc}");
    } else {
        print!("{rendered}");
        println!("tmux: {tmux_note}");
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

/// Sets GT_WORK_* in the tmux session (when inside tmux or told which one) and says what
/// happened; a tmux failure is a warning, never an error exit.
fn inject_into_tmux(session_flag: Option<&str>, ctx: &WorkContext) -> String {
    let tmux = Tmux::default();
    let session = match session_flag {
        Some(session) => session.to_owned(),
        None if std::env::var_os("TMUX").is_some() => match tmux.current_session() {
            Ok(session) => session,
            Err(err) => {
                eprintln!("gt prime: warning: could not find the tmux session: {err}");
                return format!("not injected ({err})");
            }
        },
        None => return "not inside tmux; nothing injected".to_owned(),
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
