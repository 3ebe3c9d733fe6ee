//! `gt agent-log --agent opencode` following OpenCode's SQLite database, as a real process
//! against a real OTLP receiver: a database with OpenCode's schema in WAL mode, kept open by
//! a writer as OpenCode keeps it, two work directories of which one is followed, rows
//! inserted and rewritten while following, kill -9 and restart, a backend outage.

mod agent_log_common;
mod support;

use std::path::PathBuf;

use agent_log_common::{
    Gate, Running, Town, WAIT, kill_mid_backlog, poll_until, records, wait_counts,
};
use otlp_capture::{Receiver, Value};
use rusqlite::{Connection, params};
use serde_json::json;

/// OpenCode's tables as its Drizzle schema creates them (v1.2+), the columns read here and
/// enough of the others to be faithful.
const SCHEMA: &str = "
CREATE TABLE project (id TEXT PRIMARY KEY, worktree TEXT NOT NULL, vcs TEXT, name TEXT,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL);
CREATE TABLE session (id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES project(id) ON DELETE CASCADE, parent_id TEXT,
    slug TEXT NOT NULL, directory TEXT NOT NULL, title TEXT NOT NULL, version TEXT NOT NULL,
    share_url TEXT, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL,
    time_compacting INTEGER, time_archived INTEGER);
CREATE INDEX session_project_idx ON session(project_id);
CREATE TABLE message (id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX message_session_idx ON message(session_id);
CREATE TABLE part (id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES message(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX part_message_idx ON part(message_id);
CREATE INDEX part_session_idx ON part(session_id);";

/// OpenCode's side: the database under a private XDG_DATA_HOME, written like OpenCode writes
/// it (WAL, `time_updated` bumped on every write).
struct OpenCode {
    db: Connection,
    clock: i64,
}

impl OpenCode {
    fn data_home(town: &Town) -> PathBuf {
        town.dir.path().join("data")
    }

    fn other_dir(town: &Town) -> PathBuf {
        town.dir.path().join("srv/town_2")
    }

    fn new(town: &Town) -> Self {
        let dir = Self::data_home(town).join("opencode");
        std::fs::create_dir_all(&dir).unwrap();
        let db = Connection::open(dir.join("opencode.db")).unwrap();
        db.pragma_update(None, "journal_mode", "WAL").unwrap();
        db.execute_batch(SCHEMA).unwrap();
        db.execute(
            "INSERT INTO project VALUES ('prj', '/', 'git', 'p', 1, 1)",
            [],
        )
        .unwrap();
        for (id, dir) in [
            ("ses_ours", town.work_dir()),
            ("ses_theirs", Self::other_dir(town)),
        ] {
            db.execute(
                "INSERT INTO session (id, project_id, slug, directory, title, version,
                    time_created, time_updated) VALUES (?1, 'prj', ?1, ?2, 't', '1.2.3', 1, 1)",
                params![id, dir.to_string_lossy()],
            )
            .unwrap();
        }
        Self {
            db,
            clock: 1_767_600_000_000,
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }

    /// Upserts a message row, as OpenCode's projector does.
    fn put_message(&mut self, session: &str, id: &str, data: &serde_json::Value) {
        let t = self.tick();
        self.db
            .execute(
                "INSERT INTO message (id, session_id, time_created, time_updated, data)
                 VALUES (?1, ?2, ?3, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET data = excluded.data, time_updated = ?3",
                params![id, session, t, data.to_string()],
            )
            .unwrap();
    }

    /// Upserts a part row.
    fn put_part(&mut self, session: &str, message: &str, id: &str, data: &serde_json::Value) {
        let t = self.tick();
        self.db
            .execute(
                "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET data = excluded.data, time_updated = ?4",
                params![id, message, session, t, data.to_string()],
            )
            .unwrap();
    }

    /// A finished assistant turn: the message (its usage with `output` tokens) and one text
    /// part: one `agent.usage` and one `agent.event`. Written in one transaction.
    fn turn(&mut self, session: &str, i: u64) {
        self.db.execute_batch("BEGIN").unwrap();
        self.turn_in_transaction(session, i);
        self.db.execute_batch("COMMIT").unwrap();
    }
}

fn follow(town: &Town, session: &str, logs_url: &str, rx: &Receiver) -> std::process::Command {
    let mut cmd = town.follow(session, logs_url, rx);
    cmd.args(["--agent", "opencode"])
        .env("XDG_DATA_HOME", OpenCode::data_home(town));
    cmd
}

fn int_attr(r: &otlp_capture::LogRecord, key: &str) -> i64 {
    match r.attr(key) {
        Some(Value::Int(i)) => *i,
        other => panic!("{key}: {other:?}"),
    }
}

fn usage_outputs(rx: &Receiver) -> Vec<i64> {
    let mut v: Vec<i64> = records(rx, "agent.usage")
        .iter()
        .map(|r| int_attr(r, "output_tokens"))
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn follow_exports_only_the_work_dirs_sessions_with_exact_counts() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let mut oc = OpenCode::new(&town);
    for i in 1..=3 {
        oc.turn("ses_ours", i);
        oc.turn("ses_theirs", 1000 + i);
    }
    let mut gt = Running::start(
        &mut follow(&town, "gt-oc", &rx.url("/v1/logs"), &rx),
        town.dir.path().join("stderr"),
    );
    wait_counts(&rx, 3, 3, &|| gt.stderr());

    // While it runs: a streaming message (no usage until completed), a tool that runs and
    // then completes, and more turns in both directories.
    oc.put_message(
        "ses_ours",
        "msg_stream",
        &json!({"role": "assistant", "time": {"created": 1}, "modelID": "claude-sonnet-4-5",
                "tokens": {"input": 0, "output": 0}}),
    );
    oc.put_part(
        "ses_ours",
        "msg_stream",
        "prt_tool",
        &json!({"type": "tool", "tool": "bash", "callID": "c1",
                "state": {"status": "running", "input": {"command": "ls"}}}),
    );
    oc.turn("ses_ours", 4);
    oc.turn("ses_theirs", 1004);
    wait_counts(&rx, 4, 4, &|| gt.stderr());
    oc.put_part(
        "ses_ours",
        "msg_stream",
        "prt_tool",
        &json!({"type": "tool", "tool": "bash", "callID": "c1",
                "state": {"status": "completed", "input": {"command": "ls"}, "output": "a b",
                          "time": {"start": 2, "end": 3}}}),
    );
    oc.put_message(
        "ses_ours",
        "msg_stream",
        &json!({"role": "assistant", "time": {"created": 1, "completed": 9},
                "modelID": "claude-sonnet-4-5", "tokens": {"input": 2, "output": 5}}),
    );
    // Rewritten again after completion: must not count twice.
    oc.put_message(
        "ses_ours",
        "msg_stream",
        &json!({"role": "assistant", "time": {"created": 1, "completed": 9},
                "modelID": "claude-sonnet-4-5", "tokens": {"input": 2, "output": 5}, "cost": 0.1}),
    );
    wait_counts(&rx, 5, 6, &|| gt.stderr());
    let (status, _) = gt.terminate();
    assert!(status.success(), "{}", gt.stderr());
    assert_eq!(usage_outputs(&rx), vec![1, 2, 3, 4, 5], "{}", gt.stderr());
    let events = records(&rx, "agent.event");
    assert_eq!(events.len(), 6);
    let cp = town.read_checkpoint("gt-oc").unwrap();
    assert_eq!(cp["totals"]["usage_records"], 5);
    assert_eq!(cp["agent"], "open_code");
    assert!(cp["opencode_db"]["cursor"]["id"].is_string(), "{cp}");
}

#[test]
fn kill_9_and_restart_lose_nothing_and_duplicate_nothing() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let gate = Gate::start(rx.addr(), true);
    let mut oc = OpenCode::new(&town);
    oc.db.execute_batch("BEGIN").unwrap();
    for i in 1..=3000 {
        oc.turn_in_transaction("ses_ours", i);
        oc.turn_in_transaction("ses_theirs", 100_000 + i);
    }
    oc.db.execute_batch("COMMIT").unwrap();
    let mut first = Running::start(
        &mut follow(&town, "gt-oc-kill", &gate.url("/v1/logs"), &rx),
        town.dir.path().join("stderr-1"),
    );
    kill_mid_backlog(&mut first, &rx, &gate, &town, "gt-oc-kill", 3000);

    for i in 3001..=3100 {
        oc.turn("ses_ours", i);
    }
    gate.set_open(true);
    let mut second = Running::start(
        &mut follow(&town, "gt-oc-kill", &gate.url("/v1/logs"), &rx),
        town.dir.path().join("stderr-2"),
    );
    wait_counts(&rx, 3100, 3100, &|| second.stderr());
    let (status, _) = second.terminate();
    assert!(status.success());
    let expected: Vec<i64> = (1..=3100).collect();
    assert_eq!(usage_outputs(&rx), expected, "every message exactly once");
    assert_eq!(records(&rx, "agent.event").len(), 3100);
}

#[test]
fn backend_down_advances_nothing_and_a_missing_database_is_waited_for() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let gate = Gate::start(rx.addr(), false);
    let mut gt = Running::start(
        &mut follow(&town, "gt-oc-down", &gate.url("/v1/logs"), &rx),
        town.dir.path().join("stderr"),
    );
    // OpenCode starts after the follower: its database appears later.
    let mut oc = OpenCode::new(&town);
    for i in 1..=300 {
        oc.turn("ses_ours", i);
    }
    assert!(poll_until(WAIT, || gate.dropped() >= 2), "{}", gt.stderr());
    assert!(records(&rx, "agent.usage").is_empty());
    let cp = town.read_checkpoint("gt-oc-down");
    assert!(
        cp.is_none_or(|cp| cp["totals"]["usage_records"] == 0),
        "nothing may be checkpointed while the backend is down"
    );
    gate.set_open(true);
    wait_counts(&rx, 300, 300, &|| gt.stderr());
    let (status, _) = gt.terminate();
    assert!(status.success());
    assert_eq!(usage_outputs(&rx), (1..=300).collect::<Vec<i64>>());
    assert_eq!(records(&rx, "agent.event").len(), 300);
}

impl OpenCode {
    /// [`OpenCode::turn`] inside a transaction the caller holds.
    fn turn_in_transaction(&mut self, session: &str, i: u64) {
        let created = self.clock;
        let msg = format!("msg_{session}_{i:06}");
        self.put_message(
            session,
            &msg,
            &json!({"role": "assistant", "time": {"created": created, "completed": created + 5},
                    "modelID": "claude-sonnet-4-5",
                    "tokens": {"input": 3, "output": i}}),
        );
        self.put_part(
            session,
            &msg,
            &format!("prt_{session}_{i:06}"),
            &json!({"type": "text", "text": format!("answer {i}"),
                    "time": {"start": created, "end": created + 4}}),
        );
    }
}
