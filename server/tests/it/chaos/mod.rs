//! The chaos suite (`make chaos`): real processes — `stockroom serve`, the sandbox
//! marketplace, a PostgreSQL cluster of the suite's own — put through the faults of real
//! infrastructure while a seller's bulk work runs. Each scenario ends with the same check
//! ([`check::whole`]): every item in one terminal state, every task's counters equal to
//! its items, every listing created exactly once, no task stuck.
//!
//! The scenarios are long (a 30 s outage, a thousand streams), so they are ignored by a
//! plain `cargo test` and run one at a time by `make chaos`:
//! `cargo test -p server --test it -- --ignored --test-threads=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod check;
mod disk_full;
mod many_sellers;
mod marketplace_down;
mod postgres;
mod postgres_restart;
mod sigkill;
mod slow_stream;
mod support;
