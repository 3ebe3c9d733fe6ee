//! Report totals over the fixture corpus, checked against numbers computed by hand.
//!
//! The Claude Code corpus (3 files, one parser, as a report over a projects tree would run):
//!
//! | request | model            | input | output | cache write        | cache read | why                     |
//! |---------|------------------|-------|--------|--------------------|------------|-------------------------|
//! | msg_A   | sonnet-4-5       | 10    | 50     | 100 (5m 100, 1h 0) | 1000       | 3 lines; largest kept   |
//! | msg_B   | sonnet-4-5       | 5     | 20     | 200 (no split)     | 1100       | copy in subagent file   |
//! | msg_C   | haiku-4-5        | 7     | 9      | 0                  | 0          | sidechain; /btw replay  |
//! | msg_E   | sonnet-4-5       | 2     | 12     | 300 (5m 0, 1h 300) | 500        | 2 lines, no requestId   |
//! | msg_F   | claude-imaginary | 1     | 1      | 0                  | 0          | unpriced                |
//!
//! A per-line count (the old Go implementation) would have counted msg_A three times, msg_E
//! twice, msg_B and msg_C twice: output 3+50+50 + 20+20 + 9+9 + 4+12 + 1 = 178 instead of 92.

mod common;

use agent_transcripts::{
    ClaudeCodeParser, CodexParser, GroupBy, Pricing, Report, ReportRow, report,
};
use common::{claude_corpus, codex_rollout, parse_files, usages};

fn claude_report(by: GroupBy) -> Report {
    let mut parser = ClaudeCodeParser::new();
    let (events, _) = parse_files(&mut parser, &claude_corpus());
    report(usages(&events), by, &Pricing::embedded())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn row<'a>(r: &'a Report, key: &str) -> &'a ReportRow {
    r.rows.iter().find(|r| r.key == key).expect("row present")
}

#[test]
fn totals_match_the_hand_computed_numbers() {
    let r = claude_report(GroupBy::Model);
    let t = &r.total;
    assert_eq!(t.usages, 5);
    assert_eq!(t.input_tokens, 10 + 5 + 7 + 2 + 1); // 25
    assert_eq!(t.output_tokens, 50 + 20 + 9 + 12 + 1); // 92
    assert_eq!(t.cache_creation_tokens, 100 + 200 + 300); // 600
    assert_eq!(t.cache_read_tokens, 1000 + 1100 + 500); // 2600
    assert_eq!(t.total_tokens, 25 + 92 + 600 + 2600); // 3317
    assert_eq!(t.unpriced_usages, 1);
    // Sonnet 4.5 per MTok: in 3, out 15, 5m write 3.75, 1h write 6, read 0.30.
    //   A: 10*3 + 50*15 + 100*3.75 + 1000*0.30       = 30 + 750 + 375 + 300   = 1455
    //   B:  5*3 + 20*15 + 200*3.75 (no split: 5m) + 1100*0.30 = 15 + 300 + 750 + 330 = 1395
    //   E:  2*3 + 12*15 + 300*6 (1h) + 500*0.30       = 6 + 180 + 1800 + 150  = 2136
    // Haiku 4.5 per MTok: in 1, out 5.
    //   C:  7*1 + 9*5                                 = 52
    // Sum 5038 micro-dollars.
    assert!(close(t.cost_usd, 5038.0 / 1e6), "{}", t.cost_usd);

    let sonnet = row(&r, "claude-sonnet-4-5-20250929");
    assert_eq!(
        (sonnet.usages, sonnet.input_tokens, sonnet.output_tokens),
        (3, 17, 82)
    );
    assert!(close(sonnet.cost_usd, (1455.0 + 1395.0 + 2136.0) / 1e6));
    let haiku = row(&r, "claude-haiku-4-5-20251001");
    assert!(close(haiku.cost_usd, 52.0 / 1e6));
    let unknown = row(&r, "claude-imaginary-9");
    assert_eq!((unknown.unpriced_usages, unknown.cost_usd), (1, 0.0));
}

#[test]
fn rows_by_session_and_by_utc_day() {
    let s = claude_report(GroupBy::Session);
    assert_eq!(s.rows.len(), 2);
    let a = row(&s, "sess-a");
    assert_eq!((a.usages, a.output_tokens), (4, 91));
    assert_eq!(
        a.models,
        vec!["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"]
    );
    assert_eq!(row(&s, "sess-b").unpriced_usages, 1);

    let d = claude_report(GroupBy::Day);
    let keys: Vec<&str> = d.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, vec!["2025-06-18", "2025-06-19"]);
    let d18 = row(&d, "2025-06-18"); // A, B, C
    assert_eq!(
        (
            d18.input_tokens,
            d18.output_tokens,
            d18.cache_read_tokens,
            d18.cache_creation_tokens
        ),
        (22, 79, 2100, 300)
    );
    assert!(close(d18.cost_usd, (1455.0 + 1395.0 + 52.0) / 1e6));
    let d19 = row(&d, "2025-06-19"); // E, F
    assert_eq!(
        (d19.input_tokens, d19.output_tokens, d19.unpriced_usages),
        (3, 13, 1)
    );
}

#[test]
fn codex_report_prices_cached_input_at_the_cache_rate() {
    let mut parser = CodexParser::new();
    let (events, _) = parse_files(&mut parser, &[codex_rollout()]);
    let r = report(usages(&events), GroupBy::Model, &Pricing::embedded());
    // gpt-5-codex (1.25 / 10 / cached 0.125): 800*1.25 + 200*0.125 + 50*10 = 1525
    //                                         500*1.25 + 1000*0.125 + 80*10 = 1550
    // gpt-5.2-codex (1.75 / 14):               300*1.75 + 10*14             = 665
    assert_eq!(r.total.input_tokens, 1600);
    assert_eq!(r.total.cache_read_tokens, 1200);
    assert_eq!(r.total.output_tokens, 140);
    assert_eq!(r.total.total_tokens, 2940);
    assert!(
        close(r.total.cost_usd, 3740.0 / 1e6),
        "{}",
        r.total.cost_usd
    );
}

#[test]
fn the_table_and_the_json_carry_the_same_numbers() {
    let r = claude_report(GroupBy::Day);
    let table = r.render_table();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("Day"), "{table}");
    assert!(lines[0].contains("Cost (USD)"));
    assert!(table.contains("2025-06-18"));
    let total = lines.last().expect("total line");
    assert!(total.starts_with("Total"), "{table}");
    assert!(total.contains("3,317"), "{table}");
    assert!(total.contains("0.01 +1 unpriced"), "{table}");
    let back: Report = serde_json::from_str(&r.to_json()).expect("round trip");
    assert_eq!(back, r);
}

#[test]
fn cache_writes_without_a_split_are_priced_as_five_minute_writes() {
    let p = Pricing::embedded();
    let mut u = agent_transcripts::Usage {
        model: "claude-opus-4-5-20251101".into(),
        cache_creation_tokens: 1_000_000,
        ..Default::default()
    };
    assert!(close(p.cost_usd(&u).expect("priced"), 6.25));
    u.cache_creation_5m_tokens = Some(0);
    u.cache_creation_1h_tokens = Some(1_000_000);
    assert!(close(p.cost_usd(&u).expect("priced"), 10.0));
    // Above 200K prompt tokens, Sonnet 4.5 uses its long-context rates for every token.
    let long = agent_transcripts::Usage {
        model: "claude-sonnet-4-5".into(),
        input_tokens: 250_000,
        output_tokens: 1_000,
        ..Default::default()
    };
    // 250000*6 + 1000*22.5 = 1_522_500 micro-dollars.
    assert!(close(p.cost_usd(&long).expect("priced"), 1.5225));
    assert_eq!(
        p.cost_usd(&agent_transcripts::Usage {
            model: "mystery".into(),
            ..Default::default()
        }),
        None
    );
}
