//! Repository automation in plain Rust, run as `cargo xtask …`.
//!
//! The audit proves that docs/ and the code agree, both ways, with findings that name the file
//! and line to fix. It reads files and the recorder's catalogue; it never changes code, and
//! `--fix` rewrites only the generated blocks of the docs. The flake hunt runs the test suite
//! again and again on a loaded machine and names every test that failed by chance.

pub mod audit;
pub mod flake_hunt;
pub mod markdown;
pub mod process_bench;

use std::fmt;
use std::path::PathBuf;

/// One disagreement between docs and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file to fix.
    pub file: PathBuf,
    /// The 1-based line, when there is one.
    pub line: Option<usize>,
    /// What is wrong, as a sentence.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}
