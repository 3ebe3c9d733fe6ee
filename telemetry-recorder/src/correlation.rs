//! Correlation: the run id and the work context that every record carries.
//!
//! The run id comes from a thread-local scope ([`with_run_id`]) or, outside one, from `GT_RUN`
//! read once per process. The work context (`GT_WORK_RIG`/`GT_WORK_BEAD`/`GT_WORK_MOL`) is
//! read from the environment once and then owned in-process: [`set_work_context`] replaces it,
//! [`with_work_context`] overrides it for one thread and scope. This module holds state; it
//! must not record anything or write the environment (children get these values through
//! `telemetry-subprocess`).

use std::cell::RefCell;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use telemetry_core::env::{GT_RUN, GT_WORK_BEAD, GT_WORK_MOL, GT_WORK_RIG};

/// What the agent is working on: recorded as `work_rig`, `work_bead`, `work_mol` on every
/// record, each omitted when empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkContext {
    /// `GT_WORK_RIG`.
    pub rig: String,
    /// `GT_WORK_BEAD`.
    pub bead: String,
    /// `GT_WORK_MOL`.
    pub mol: String,
}

impl WorkContext {
    /// Reads `GT_WORK_RIG`, `GT_WORK_BEAD` and `GT_WORK_MOL` through `lookup`; unset is empty,
    /// surrounding whitespace is dropped.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        Self {
            rig: get(GT_WORK_RIG),
            bead: get(GT_WORK_BEAD),
            mol: get(GT_WORK_MOL),
        }
    }

    /// Whether all three parts are empty (nothing is recorded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rig.is_empty() && self.bead.is_empty() && self.mol.is_empty()
    }
}

/// The work context in the shared form records clone cheaply.
#[derive(Debug, Default)]
pub(crate) struct SharedWork {
    pub(crate) rig: Option<Arc<str>>,
    pub(crate) bead: Option<Arc<str>>,
    pub(crate) mol: Option<Arc<str>>,
}

impl SharedWork {
    fn from_context(ctx: &WorkContext) -> Self {
        let part = |s: &str| (!s.is_empty()).then(|| Arc::from(s));
        Self {
            rig: part(&ctx.rig),
            bead: part(&ctx.bead),
            mol: part(&ctx.mol),
        }
    }

    fn to_context(&self) -> WorkContext {
        let part = |s: &Option<Arc<str>>| s.as_deref().unwrap_or_default().to_owned();
        WorkContext {
            rig: part(&self.rig),
            bead: part(&self.bead),
            mol: part(&self.mol),
        }
    }
}

fn process_work() -> &'static RwLock<Arc<SharedWork>> {
    static WORK: OnceLock<RwLock<Arc<SharedWork>>> = OnceLock::new();
    WORK.get_or_init(|| {
        let ctx = WorkContext::from_lookup(|k| std::env::var(k).ok());
        RwLock::new(Arc::new(SharedWork::from_context(&ctx)))
    })
}

thread_local! {
    static SCOPED_WORK: RefCell<Option<Arc<SharedWork>>> = const { RefCell::new(None) };
    static SCOPED_RUN: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// Replaces the process's work context (what `gt prime` resolved); every later record carries
/// it. Threads inside a [`with_work_context`] scope keep their override.
pub fn set_work_context(ctx: WorkContext) {
    let shared = Arc::new(SharedWork::from_context(&ctx));
    *process_work()
        .write()
        .unwrap_or_else(PoisonError::into_inner) = shared;
}

/// The work context records carry now on this thread: the innermost [`with_work_context`]
/// scope, else the process's (initially from `GT_WORK_*`, then from [`set_work_context`]).
#[must_use]
pub fn work_context() -> WorkContext {
    current_work().to_context()
}

/// Runs `f` with `ctx` as this thread's work context, restoring the previous one afterwards
/// (also when `f` panics). For work that is not the process's, e.g. a daemon acting for one
/// rig, and for tests that must not share the process-wide value.
pub fn with_work_context<R>(ctx: &WorkContext, f: impl FnOnce() -> R) -> R {
    let new = Some(Arc::new(SharedWork::from_context(ctx)));
    let previous = SCOPED_WORK.with(|slot| slot.replace(new));
    let _restore = Restore(Some(move || {
        SCOPED_WORK.with(|slot| *slot.borrow_mut() = previous)
    }));
    f()
}

pub(crate) fn current_work() -> Arc<SharedWork> {
    SCOPED_WORK
        .with(|slot| slot.borrow().clone())
        .unwrap_or_else(|| {
            Arc::clone(
                &process_work()
                    .read()
                    .unwrap_or_else(PoisonError::into_inner),
            )
        })
}

/// Runs `f` with `run_id` as the run id of every record made on this thread inside it,
/// restoring the previous one afterwards (also when `f` panics). An empty `run_id` is no
/// scope: the outer scope or `GT_RUN` applies.
pub fn with_run_id<R>(run_id: &str, f: impl FnOnce() -> R) -> R {
    let new = (!run_id.is_empty()).then(|| Arc::from(run_id));
    let previous = SCOPED_RUN.with(|slot| slot.replace(new.or_else(|| slot.borrow().clone())));
    let _restore = Restore(Some(move || {
        SCOPED_RUN.with(|slot| *slot.borrow_mut() = previous)
    }));
    f()
}

/// The run id records made here carry: the innermost [`with_run_id`] scope, else `GT_RUN`
/// (read once per process), else `None`.
#[must_use]
pub fn current_run_id() -> Option<Arc<str>> {
    scoped_run_id().or_else(|| process_run_id().clone())
}

pub(crate) fn scoped_run_id() -> Option<Arc<str>> {
    SCOPED_RUN.with(|slot| slot.borrow().clone())
}

/// `GT_RUN`, read on first use and never again.
pub(crate) fn process_run_id() -> &'static Option<Arc<str>> {
    static RUN: OnceLock<Option<Arc<str>>> = OnceLock::new();
    RUN.get_or_init(|| {
        std::env::var(GT_RUN)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(Arc::from)
    })
}

/// Runs its closure on drop: scope restoration that survives a panic in the scope.
struct Restore<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for Restore<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_context_reads_the_three_variables() {
        let ctx = WorkContext::from_lookup(|k| match k {
            GT_WORK_RIG => Some("gastown".into()),
            GT_WORK_MOL => Some(" mol-1 ".into()),
            _ => None,
        });
        assert_eq!(
            ctx,
            WorkContext {
                rig: "gastown".into(),
                bead: String::new(),
                mol: "mol-1".into()
            }
        );
    }

    #[test]
    fn run_id_scopes_nest_and_restore_even_on_panic() {
        assert_eq!(scoped_run_id(), None);
        with_run_id("outer", || {
            assert_eq!(scoped_run_id().as_deref(), Some("outer"));
            with_run_id("", || assert_eq!(scoped_run_id().as_deref(), Some("outer")));
            let caught = std::panic::catch_unwind(|| with_run_id("inner", || panic!("boom")));
            assert!(caught.is_err());
            assert_eq!(scoped_run_id().as_deref(), Some("outer"));
        });
        assert_eq!(scoped_run_id(), None);
    }

    #[test]
    fn work_scope_overrides_only_inside() {
        let ctx = WorkContext {
            rig: "r".into(),
            bead: "b".into(),
            mol: String::new(),
        };
        with_work_context(&ctx, || {
            assert_eq!(work_context(), ctx);
            let inner = current_work();
            assert!(inner.mol.is_none());
        });
        assert!(SCOPED_WORK.with(|s| s.borrow().is_none()));
    }
}
