//! The hooked-work lookup against a real fake-`bd` process, with the retry pauses injected.

mod support;

use std::time::Duration;

use gt_cli::bd::Bd;
use gt_cli::work::{Retry, find_hooked_work};
use support::{FakeBd, one_issue};

fn bd_at(fake: &FakeBd) -> Bd {
    let path = fake.path().display().to_string();
    Bd::from_lookup(move |k| (k == "GT_BD_BIN").then(|| path.clone()))
}

#[test]
fn a_lagging_hook_is_found_on_a_later_attempt_with_doubling_pauses() {
    // Empty for the first two attempts (4 calls), then hooked.
    let issue = one_issue("gt-late", "Late hook", "");
    let fake = FakeBd::new(&format!(
        "if [ \"$N\" -ge 5 ]; then printf '%s' '{issue}'; else echo '[]'; fi"
    ));
    let mut pauses = Vec::new();
    let found = find_hooked_work(
        &bd_at(&fake),
        "gastown/polecats/Toast",
        Retry::LAGGING_HOOK,
        |d| pauses.push(d),
    )
    .unwrap()
    .expect("found on the third attempt");
    assert_eq!(found.id, "gt-late");
    assert_eq!(
        pauses,
        vec![Duration::from_millis(500), Duration::from_millis(1000)]
    );
    assert_eq!(fake.calls().len(), 5);
}

#[test]
fn retries_stop_after_five_attempts() {
    let fake = FakeBd::new("echo 'No issues found.'");
    let mut pauses = Vec::new();
    let found = find_hooked_work(&bd_at(&fake), "a/crew/max", Retry::LAGGING_HOOK, |d| {
        pauses.push(d)
    })
    .unwrap();
    assert!(found.is_none());
    assert_eq!(fake.calls().len(), 10, "5 attempts of hooked + in_progress");
    assert_eq!(pauses.len(), 4);
    assert_eq!(pauses.iter().sum::<Duration>(), Duration::from_millis(7500));
}
