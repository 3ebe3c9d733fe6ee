//! The logic behind the `gt` binary that can be tested without a process: asking beads (`bd`)
//! for hooked work, parsing its answers, and injecting the work context into tmux.
//!
//! The binary (`src/main.rs`) only parses arguments, resolves settings and prints. Nothing here
//! runs a shell: every subprocess gets its arguments as separate strings.

pub mod bd;
pub mod emit;
pub mod env_export;
pub mod git;
pub mod session;
pub mod statusline;
pub mod tmux;
pub mod work;
pub mod work_source;
