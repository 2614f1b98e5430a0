//! The engine's and the domain's integration tests, one binary: every scenario on SQLite and
//! PostgreSQL (`db_test!`), each module a part of the product.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod breaker;
mod catalog;
mod edit_preview;
mod engine_properties;
mod events;
mod once;
mod pacing;
mod scale;
mod tasks;
