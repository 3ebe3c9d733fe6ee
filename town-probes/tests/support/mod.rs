//! Shared test support.
pub mod mariadb;
