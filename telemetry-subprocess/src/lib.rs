//! telemetry-subprocess: hands Gas Town's telemetry identity and endpoints to child processes.
//!
//! Its one job is the environment a child inherits: `OTEL_RESOURCE_ATTRIBUTES` carrying the
//! `gt.*` identity attributes (percent-encoded as the OpenTelemetry specification requires, so
//! that a value holding `,` `=` `%` or a space survives the child's SDK parser),
//! `BD_OTEL_METRICS_URL` / `BD_OTEL_LOGS_URL` mirroring the effective `GT_OTEL_*` URLs, and
//! `GT_RUN`. Three ways to deliver it:
//!
//! - [`set_process_otel_attrs`] once at start-up, before any thread exists, so that every child
//!   inherits the variables;
//! - [`CommandTelemetryExt::with_gt_telemetry`] on one [`std::process::Command`];
//! - [`otel_env_for_subprocess`] for callers that build a child's environment by hand.
//!
//! Every computation has a `_from_lookup` form taking an injectable environment
//! (`impl Fn(&str) -> Option<String>`), so tests never mutate the process environment.
//!
//! ```no_run
//! use std::process::Command;
//! use telemetry_subprocess::CommandTelemetryExt as _;
//!
//! let status = Command::new("bd").arg("ready").with_gt_telemetry().status()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! It must not export telemetry, read `OTEL_RESOURCE_ATTRIBUTES` with a parser of its own
//! (`telemetry_core::resource::parse_resource_attributes` is the workspace's one reader), or
//! touch the process environment anywhere but [`set_process_otel_attrs`].

pub mod carrier;
pub mod child_env;
pub mod command;
pub mod error;
pub mod identity;
pub mod process_env;
pub mod resource_attributes;
pub mod run_id;

pub use child_env::{otel_env_for_subprocess, otel_env_for_subprocess_from_lookup};
pub use command::CommandTelemetryExt;
pub use error::SubprocessError;
pub use process_env::set_process_otel_attrs;
pub use resource_attributes::{
    encode_component, format_resource_attributes, resource_attributes,
    resource_attributes_from_lookup,
};
pub use run_id::new_run_id;
