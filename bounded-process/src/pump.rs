//! The one pipe pump: reads a child's stdout or stderr until EOF, optionally copies each chunk to
//! a writer as it arrives (streaming), and keeps at most `cap` bytes of it (capture), counting
//! the rest. Both output modes of the runner use it; nothing else reads a child's pipe.
//!
//! It must not block the caller: it runs on its own thread and reports EOF through a callback, so
//! the runner can stop waiting for it (a descendant holding the pipe open) and take what was
//! read so far with [`Shared::take`].

use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes read from one stream of the child, at most the configured cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes of the stream, up to the cap.
    pub bytes: Vec<u8>,
    /// How many bytes past the cap were read and dropped (0 when the stream fit). A caller that
    /// shows or records the output should warn once when this is not 0.
    pub dropped: u64,
}

impl Captured {
    /// Keeps what fits under `cap`, counts the rest.
    fn push(&mut self, chunk: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.bytes.len()).min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..room]);
        self.dropped += (chunk.len() - room) as u64;
    }
}

/// The capture buffer shared between a pump thread and the runner. `None` once the runner took
/// it: a pump still running after that (abandoned) reads and discards, so its memory stays at
/// the cap however long the pipe stays open.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shared(Arc<Mutex<Option<Captured>>>);

impl Shared {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Some(Captured::default()))))
    }

    fn push(&self, chunk: &[u8], cap: usize) {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(captured) = guard.as_mut() {
            captured.push(chunk, cap);
        }
    }

    /// What was read so far; later bytes are discarded.
    pub(crate) fn take(&self) -> Captured {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }
}

/// Starts a pump thread on `pipe`, copying to `echo` (if any) and capturing up to `cap` bytes;
/// `on_eof` runs when the pipe reached EOF (or failed).
/// A failing `echo` (the parent's stdout closed) stops the copying, not the draining: the child
/// must never block on a full pipe.
pub(crate) fn start(
    mut pipe: impl Read + Send + 'static,
    echo: Option<Box<dyn Write + Send>>,
    cap: usize,
    on_eof: impl FnOnce() + Send + 'static,
) -> Shared {
    let shared = Shared::new();
    let sink = shared.clone();
    std::thread::spawn(move || {
        let mut echo = echo;
        let mut buf = vec![0_u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let chunk = &buf[..n];
                    if let Some(out) = echo.as_mut()
                        && out.write_all(chunk).and_then(|()| out.flush()).is_err()
                    {
                        echo = None;
                    }
                    sink.push(chunk, cap);
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        on_eof();
    });
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_keeps_the_cap_and_counts_the_rest() {
        let mut c = Captured::default();
        c.push(b"hello", 3);
        c.push(b"world", 3);
        assert_eq!(c.bytes, b"hel");
        assert_eq!(c.dropped, 7);
    }

    #[test]
    fn a_taken_buffer_stays_empty() {
        let shared = Shared::new();
        shared.push(b"abc", 10);
        assert_eq!(shared.take().bytes, b"abc");
        shared.push(b"def", 10);
        assert_eq!(shared.take(), Captured::default());
    }
}
