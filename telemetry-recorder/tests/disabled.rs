//! With no global provider every `record_*` function returns at once, without allocating.
//! (Its own test binary: the global provider is decided once per process, and the counting
//! allocator must see only this test's thread.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, SystemTime};

use telemetry_recorder::{
    AgentEvent, AgentEventType, AgentInstance, AgentUsage, Done, ExitType, MailMessage,
    MessageRole, MolSquash, record_agent_event, record_agent_instantiate,
    record_agent_state_change, record_agent_usage, record_bd_call, record_bead_create,
    record_convoy_create, record_daemon_restart, record_done, record_formula_instantiate,
    record_mail, record_mol_burn, record_mol_cook, record_mol_squash, record_mol_wisp,
    record_nudge, record_pane_output, record_polecat_remove, record_polecat_spawn, record_prime,
    record_prime_context, record_prompt_send, record_session_start, record_session_stop,
    record_sling,
};

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts allocations made by the current thread.
struct Counting;

// SAFETY: delegates every call unchanged to the system allocator; the counter is a
// const-initialised thread-local `Cell`, which neither allocates nor needs a destructor.
#[allow(unsafe_code)] // A global allocator can only be written with `unsafe`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn every_record_function_is_an_allocation_free_no_op_when_telemetry_is_off() {
    assert!(telemetry_core::global().is_none());
    let err = std::io::Error::other("boom");
    let now = SystemTime::now();
    let n = allocations_during(|| {
        record_bd_call(
            &["show", "gt-1"],
            Duration::from_millis(3),
            Err(&err),
            b"out",
            b"err",
        );
        record_session_start("s", "mayor", Ok(()));
        record_session_stop("s", Err(&err));
        record_prompt_send("s", "keys", Duration::ZERO, Ok(()));
        record_agent_instantiate(&AgentInstance {
            run_id: "r",
            town_root: "/t",
            agent_type: "a",
            role: "r",
            agent_name: "n",
            session_id: "s",
            rig: "g",
            issue_id: "i",
            git_branch: "b",
            git_commit: "c",
        });
        let msg = MailMessage {
            id: "m",
            from: "f",
            to: &["t"],
            subject: "s",
            thread_id: "t",
            priority: "p",
            kind: "k",
            body: "b",
        };
        record_mail("send", Some(&msg), Ok(()));
        record_prime("mayor", true, Ok(()));
        record_prime_context("mayor", true, "formula");
        record_agent_state_change("a", "working", None, Ok(()));
        record_polecat_spawn("Toast", Ok(()));
        record_polecat_remove("Toast", Ok(()));
        record_sling("gt-1", "Toast", Ok(()));
        record_nudge("Toast", Ok(()));
        record_done(
            &Done {
                exit_type: ExitType::Completed,
                rig: "",
                bead_id: "",
                time_to_complete_ms: None,
            },
            Ok(()),
        );
        record_daemon_restart("claudecode");
        record_formula_instantiate("f", "b", Ok(()));
        record_convoy_create("b", Ok(()));
        record_mol_cook("f", Ok(()));
        record_mol_wisp("f", "w", "b", Ok(()));
        record_mol_squash(
            &MolSquash {
                mol_id: "m",
                done_steps: 1,
                total_steps: 2,
                digest_created: false,
            },
            Ok(()),
        );
        record_mol_burn("m", 3, Ok(()));
        record_bead_create("b", "p", "m");
        record_pane_output("s", "content");
        record_agent_event(&AgentEvent {
            session: "s",
            native_session_id: "n",
            agent_type: "a",
            event_type: AgentEventType::Text,
            role: MessageRole::User,
            content: "c",
            record_id: "i",
            timestamp: now,
        });
        record_agent_usage(&AgentUsage {
            session: "s",
            native_session_id: "n",
            agent_type: "a",
            model: "m",
            record_id: "i",
            message_id: "",
            request_id: "",
            role: "r",
            rig: "g",
            input_tokens: 1,
            output_tokens: 1,
            cache_read_tokens: 1,
            cache_creation_tokens: 1,
            cache_creation_5m_tokens: None,
            cache_creation_1h_tokens: None,
            cost_usd: Some(0.1),
            cost_source: "local",
            pricing_version: "",
            timestamp: now,
        });
    });
    assert_eq!(n, 0, "record functions allocated with telemetry off");
    assert!(telemetry_recorder::global_recorder().is_none());
}

#[test]
fn the_counting_allocator_does_count() {
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
}
