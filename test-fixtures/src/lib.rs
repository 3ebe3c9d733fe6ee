//! Fixtures that every crate's tests share. Today: fake executables (a `bd`, an agent, any
//! script a test puts on `PATH`) written so that running them never fails by chance.
//!
//! ```no_run
//! let dir = tempfile::tempdir()?;
//! let bd = test_fixtures::fake_script(dir.path(), "bd", "echo '[]'")?;
//! let out = std::process::Command::new(&bd).output()?;
//! assert_eq!(out.stdout, b"[]\n");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Why not `fs::write` and `chmod`
//!
//! Linux refuses to `execve` a file that any process holds open for writing (`ETXTBSY`,
//! "Text file busy"). A test that writes a script with `fs::write` holds a write descriptor on
//! it for a moment; when another test thread of the same binary spawns a child in that moment,
//! the child inherits the descriptor and keeps it until its own `exec` closes it
//! (`O_CLOEXEC` only acts at `exec`). On a loaded machine that gap is long enough for the first
//! thread to close its copy, `chmod` and exec the script, and to get `ETXTBSY`, from the test or
//! from the `gt` process the test started. Renaming or hard-linking the written file does not
//! help (the inode is the same, still open for writing in the child), and retrying in the test
//! does not reach the `gt` process that execs the script.
//!
//! The fix at the root: the test process never opens the executable for writing. It writes
//! the bytes to a temporary *source* file (which nobody executes; leaking its descriptor into a
//! concurrent fork is harmless), then `install -m 0755 SOURCE DEST` creates the destination
//! inode in a separate short-lived process and writes it there. Only that process ever holds a
//! write descriptor on the executable, no other process can inherit it (nothing forks from
//! `install`), and it has exited before [`write_executable`] returns. `install` also unlinks an
//! existing destination first, so rewriting a script that is running does not fail either.
//! The price is one extra process (about a millisecond) per fake executable.
//!
//! What this crate must not become: it is a dev-dependency only (`publish = false`), holds
//! fixtures any crate's tests can use, and nothing that knows about one crate's internals.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `contents` to `path` as an executable file (mode 0755), replacing any existing file.
///
/// Guarantee: when this returns `Ok`, no process holds `path` open for writing, so executing it
/// cannot fail with `ETXTBSY` however many other threads of the caller spawn children
/// meanwhile (see the crate docs for why a plain write and `chmod` cannot promise that).
///
/// Errors: the temporary source cannot be written next to `path`, `install` cannot be started
/// (it is part of coreutils, so on every Linux system), or `install` fails (its stderr is in
/// the message).
pub fn write_executable(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut source = tempfile::Builder::new()
        .prefix(".test-fixtures-src-")
        .tempfile_in(dir)?;
    source.write_all(contents.as_ref())?;
    source.flush()?;
    let out = Command::new("install")
        .arg("-m")
        .arg("0755")
        .arg(source.path())
        .arg(path)
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "install {} failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        )))
    }
}

/// Writes the POSIX shell script `#!/bin/sh` + `body` as the executable `dir/name` (see
/// [`write_executable`]) and returns its path.
pub fn fake_script(dir: &Path, name: &str, body: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    write_executable(&path, format!("#!/bin/sh\n{body}\n"))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

    /// Threads that write a fresh script and run it at once.
    const WRITERS: usize = 8;
    /// Scripts each writer writes and runs.
    const ROUNDS: usize = 60;
    /// Threads that do nothing but spawn short children, widening the fork-to-exec gaps.
    const SPAWNERS: usize = 4;

    /// How many of the `WRITERS * ROUNDS` executions of freshly written scripts failed with
    /// `ETXTBSY`, while other threads spawn children all the time. Any other failure panics.
    fn etxtbsy_count(write: fn(&Path, &[u8]) -> io::Result<()>) -> usize {
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        thread::scope(|s| {
            for _ in 0..SPAWNERS {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        Command::new("true").status().unwrap();
                    }
                });
            }
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let dir = dir.path();
                    s.spawn(move || {
                        let mut busy = 0;
                        for round in 0..ROUNDS {
                            let path = dir.join(format!("fake-{w}-{round}"));
                            write(&path, format!("#!/bin/sh\necho {w}-{round}\n").as_bytes())
                                .unwrap();
                            match Command::new(&path).output() {
                                Ok(out) => {
                                    assert!(out.status.success(), "{}: {out:?}", path.display());
                                    assert_eq!(out.stdout, format!("{w}-{round}\n").as_bytes());
                                }
                                Err(err) if err.kind() == io::ErrorKind::ExecutableFileBusy => {
                                    busy += 1;
                                }
                                Err(err) => panic!("{}: {err}", path.display()),
                            }
                        }
                        busy
                    })
                })
                .collect();
            let busy = writers.into_iter().map(|w| w.join().unwrap()).sum();
            stop.store(true, Ordering::Relaxed);
            busy
        })
    }

    /// What the fixtures did before: write and chmod in the test process.
    fn naive_write_and_chmod(path: &Path, contents: &[u8]) -> io::Result<()> {
        fs::write(path, contents)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))
    }

    #[test]
    fn scripts_written_while_other_threads_spawn_children_never_fail_with_text_file_busy() {
        let busy = etxtbsy_count(|path, contents| write_executable(path, contents));
        assert_eq!(
            busy,
            0,
            "{busy} of {} executions failed with ETXTBSY",
            WRITERS * ROUNDS
        );
    }

    /// The race the crate exists for, shown with the naive writer. Ignored because whether the
    /// race hits in one run depends on the machine's load; run it with `--ignored` to see it.
    #[test]
    #[ignore = "demonstration: depends on timing"]
    fn naive_write_and_chmod_races_with_concurrent_spawns() {
        let busy = etxtbsy_count(naive_write_and_chmod);
        eprintln!(
            "naive write+chmod: {busy} of {} executions failed with ETXTBSY",
            WRITERS * ROUNDS
        );
        assert!(busy > 0, "the race did not hit this time");
    }

    #[test]
    fn rewriting_an_executable_replaces_its_contents_and_keeps_it_executable() {
        let dir = tempfile::tempdir().unwrap();
        let path = fake_script(dir.path(), "tool", "echo one").unwrap();
        fake_script(dir.path(), "tool", "echo two").unwrap();
        let out = Command::new(&path).output().unwrap();
        assert_eq!(out.stdout, b"two\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["tool"], "the temporary source is removed");
    }

    #[test]
    fn a_destination_in_a_missing_directory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_executable(&dir.path().join("missing/tool"), "x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }
}
