//! Wake-ups for the follower: file-system notifications and stop signals.
//!
//! One job: turn inotify events under the transcript directory (through `notify`) and
//! SIGTERM/SIGINT (through `signal-hook`) into [`Wake`]s on one channel, so the follower
//! sleeps until something happens (idle CPU near zero) and still reacts at once (SIGHUP, a
//! closed terminal, stops it the same way). Events are
//! coalesced: the channel is bounded and a full channel drops the event (a wake-up is already
//! pending, and every wake-up rescans everything). When inotify cannot be used the follower
//! still rescans every poll interval. This module must not read transcripts or decide
//! anything about them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use notify::{EventKind, RecursiveMode, Watcher as _};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::pump::Wake;

/// The wake-up channel and what feeds it. Dropping it stops the watch; the signal handlers
/// stay registered (setting the stop flag) until the process ends.
pub struct Wakes {
    tx: SyncSender<Wake>,
    stop: Arc<AtomicBool>,
    watcher: Option<notify::RecommendedWatcher>,
    watched: Option<PathBuf>,
    warned: bool,
}

impl std::fmt::Debug for Wakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakes")
            .field("watched", &self.watched)
            .finish_non_exhaustive()
    }
}

impl Wakes {
    /// Registers SIGTERM, SIGINT and SIGHUP (a closed tmux pane): each sets the stop flag and sends [`Wake::Stop`] on the
    /// returned channel, the one the follower sleeps on.
    ///
    /// # Errors
    /// When the signal handlers or their thread cannot be set up.
    pub fn new() -> std::io::Result<(Self, Receiver<Wake>)> {
        let (tx, rx) = sync_channel(8);
        let stop = Arc::new(AtomicBool::new(false));
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        {
            let (tx, stop) = (tx.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("gt-agent-log-signals".into())
                .spawn(move || {
                    for _ in signals.forever() {
                        stop.store(true, Ordering::Relaxed);
                        // Blocking send: a stop must not be dropped like a change event.
                        let _ = tx.send(Wake::Stop);
                    }
                })?;
        }
        let wakes = Self {
            tx,
            stop,
            watcher: None,
            watched: None,
            warned: false,
        };
        Ok((wakes, rx))
    }

    /// Set once a stop signal arrived.
    #[must_use]
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Watches `root` recursively (new subdirectories included) once it exists; call again
    /// after each rescan until it returns true. Without inotify it warns once and returns
    /// false: the poll interval then bounds the delay.
    pub fn watch(&mut self, root: &Path) -> bool {
        self.watch_with(root, RecursiveMode::Recursive)
    }

    /// Like [`Wakes::watch`], but `dir` alone, not its subdirectories (OpenCode's data
    /// directory, where the database and its `-wal` file change).
    pub fn watch_flat(&mut self, dir: &Path) -> bool {
        self.watch_with(dir, RecursiveMode::NonRecursive)
    }

    fn watch_with(&mut self, root: &Path, mode: RecursiveMode) -> bool {
        if self.watched.as_deref() == Some(root) {
            return true;
        }
        if !root.is_dir() {
            return false;
        }
        if self.watcher.is_none() {
            let tx = self.tx.clone();
            let made = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let relevant = match res {
                    // Our own opens and reads must not wake us.
                    Ok(ev) => !matches!(ev.kind, EventKind::Access(_)),
                    // An overflow or error: rescan to be safe.
                    Err(_) => true,
                };
                if relevant && let Err(TrySendError::Disconnected(_)) = tx.try_send(Wake::Changed) {
                    // The follower is gone; nothing to do.
                }
            });
            match made {
                Ok(w) => self.watcher = Some(w),
                Err(err) => {
                    self.warn(&err);
                    return false;
                }
            }
        }
        let Some(watcher) = self.watcher.as_mut() else {
            return false;
        };
        match watcher.watch(root, mode) {
            Ok(()) => {
                self.watched = Some(root.to_owned());
                // Files may have appeared before the watch took hold.
                let _ = self.tx.try_send(Wake::Changed);
                true
            }
            Err(err) => {
                self.warn(&err);
                false
            }
        }
    }

    fn warn(&mut self, err: &notify::Error) {
        if !self.warned {
            self.warned = true;
            eprintln!(
                "gt agent-log: warning: file-system notifications unavailable ({err}); \
                 polling instead"
            );
        }
    }
}
