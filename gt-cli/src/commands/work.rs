//! `gt work`: this session's current work context and recent history, from its work ledger
//! (session: `GT_SESSION`, else the tmux session of `$TMUX`).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use gt_cli::work_source::{self, current_tmux_session};

use crate::args::WorkArgs;

/// Prints the context; exit 1 when there is no session or its ledger cannot be read.
pub(crate) fn run(args: &WorkArgs) -> anyhow::Result<ExitCode> {
    let env = |k: &str| std::env::var(k).ok();
    let session = work_source::session_key(&env, current_tmux_session)
        .map_err(|e| anyhow::anyhow!("could not find the tmux session: {e}"))?
        .ok_or_else(|| anyhow::anyhow!("no session: set GT_SESSION or run inside tmux"))?;
    let ledger = work_source::ledger_for(&env, &session).map_err(anyhow::Error::msg)?;
    let read = ledger.entries()?;
    if read.corrupt_lines > 0 {
        eprintln!(
            "gt: warning: work ledger {}: skipped {} corrupt line(s)",
            ledger.path().display(),
            read.corrupt_lines
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let entries = &read.value;
    let start = entries.len().saturating_sub(args.limit);
    // How long each entry stayed current: until the next one, or until now for the last.
    let history: Vec<(u64, &work_ledger::Entry)> = entries
        .iter()
        .enumerate()
        .skip(start)
        .map(|(i, e)| {
            let until = entries.get(i + 1).map_or(now, |n| n.time_ns);
            (until.saturating_sub(e.time_ns) / 1_000_000, e)
        })
        .collect();
    if args.json {
        let doc = serde_json::json!({
            "session": session,
            "ledger": ledger.path(),
            "current": entries.last(),
            "history": history.iter().map(|(ms, e)| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["current_for_ms"] = (*ms).into();
                v
            }).collect::<Vec<_>>(),
        });
        println!("{doc}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("session: {session}");
    match entries.last() {
        Some(e) => println!(
            "current: rig={} bead={} mol={} (set by {})",
            dash(&e.rig),
            dash(&e.bead),
            dash(&e.mol),
            e.source.as_str()
        ),
        None => println!("current: none (no entry in {})", ledger.path().display()),
    }
    for (ms, e) in history {
        println!(
            "  {} ns: bead={} mol={} rig={} ({}) for {} s",
            e.time_ns,
            dash(&e.bead),
            dash(&e.mol),
            dash(&e.rig),
            e.source.as_str(),
            ms / 1000
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}
