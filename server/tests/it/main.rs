//! The server's integration tests, one binary: each module a part of the product, the
//! HTTP API through the Router, real processes where a crash or a second instance is the
//! point, and the chaos suite (ignored here; `make chaos` runs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod amazon;
mod chains;
mod chaos;
mod connections;
mod contract;
mod deletes;
mod ebay;
mod edits;
mod exports;
mod flow_crash;
mod http;
mod imports;
mod item_in_task;
mod listings_sync;
mod live;
mod marketplace_crash;
mod multi_process;
mod outage;
mod preview;
mod publish;
mod publish_crash;
mod sandbox;
mod sandbox_amazon;
mod serve;
mod undo_import;
