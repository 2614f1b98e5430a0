//! SeaORM entities: the rows as stored. Service modules convert them to domain values.

pub mod connection;
pub mod item;
pub mod listing;
pub mod notification;
pub mod seller;
pub mod session;
pub mod task;
pub mod task_item;
