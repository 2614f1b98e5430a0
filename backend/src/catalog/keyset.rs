//! Keyset pages: where a page starts, as the place of a row of the page next to it.

use chrono::{DateTime, Utc};

use super::{Item, SortKey};

/// A keyset page's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyset {
    /// The rows after this one, in the sort order.
    After(Cursor),
    /// The rows before this one.
    Before(Cursor),
}

/// A row's place in a sort: its sort value and its id (the tie-break). Travels in page
/// links as text: the id, a dot, the value (`12.Blue mug`, `7.2026-11-30T10:00:00Z`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub id: i64,
    pub value: String,
}

impl Cursor {
    pub fn of(item: &Item, sort: SortKey) -> Self {
        let value = match sort {
            SortKey::Sku => item.sku.clone(),
            SortKey::Title => item.title.clone(),
            SortKey::Price => item.price_minor.to_string(),
            SortKey::Quantity => item.quantity.to_string(),
            SortKey::State => item.listing_state.as_str().to_owned(),
            SortKey::Updated => item
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        };
        Self { id: item.id, value }
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.id, self.value)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (id, value) = raw.split_once('.')?;
        Some(Self {
            id: id.parse().ok()?,
            value: value.to_owned(),
        })
    }

    /// The sort value as the column's type; `None` when it does not read as one (a
    /// link edited by hand), and the page is then read by its number.
    pub(super) fn sort_value(&self, sort: SortKey) -> Option<sea_orm::Value> {
        Some(match sort {
            SortKey::Sku | SortKey::Title | SortKey::State => self.value.clone().into(),
            SortKey::Price => self.value.parse::<i64>().ok()?.into(),
            SortKey::Quantity => self.value.parse::<i32>().ok()?.into(),
            SortKey::Updated => DateTime::parse_from_rfc3339(&self.value)
                .ok()?
                .with_timezone(&Utc)
                .into(),
        })
    }
}
