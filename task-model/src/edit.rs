//! A bulk edit as the seller asks for it: what happens to the price, the quantity and the
//! category of every item of a selection. The server applies it (`backend::edits`); the
//! browser only builds it and says it in words.

use serde::{Deserialize, Serialize};

/// What a bulk edit changes. At least one part is given.
/// A field is left out or sent; never `null` (the API document says the same).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditChange {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub price: Option<PriceChange>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub quantity: Option<QuantityChange>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub category: Option<CategoryChange>,
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// How an amount is written: an optional sign, at most 1,000,000,000 whole units, and a
/// point with 1 to 3 decimals (2 for a percentage); nothing around it. The server checks
/// values by this rule (`backend::edits::check`) and the API document carries it.
pub const AMOUNT_PATTERN: &str = r"^[+-]?0*([0-9]{1,9}|1000000000)(\.[0-9]{1,3})?$";
/// A price set outright: an amount that is not negative.
pub const PRICE_SET_PATTERN: &str = r"^\+?0*([0-9]{1,9}|1000000000)(\.[0-9]{1,3})?$";
/// A change by a percentage.
pub const PERCENT_PATTERN: &str = r"^[+-]?0*([0-9]{1,9}|1000000000)(\.[0-9]{1,2})?$";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PriceOp {
    /// The price becomes `value`.
    Set,
    /// `value` (signed, in the item's currency) is added.
    Add,
    /// `value` percent (signed) is added, rounded to the currency's smallest unit.
    AddPercent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    pub op: PriceOp,
    /// A decimal with a dot: `12.50`, `-10`, `+2.5`.
    pub value: String,
    /// Then the nearest amount ending in .99 (11.00 → 10.99, 11.60 → 11.99).
    #[serde(default)]
    pub end_99: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuantityOp {
    Set,
    Add,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityChange {
    pub op: QuantityOp,
    /// Units; signed for `add`.
    pub value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CategoryOp {
    Set,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CategoryChange {
    pub op: CategoryOp,
    /// The new category; empty takes the category away.
    pub value: String,
}

/// The fields an edit touches, as the seller reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditValues {
    /// A decimal in `currency`: `12.50`.
    pub price: String,
    pub currency: String,
    pub quantity: i32,
    pub category: Option<String>,
}

/// One item as an edit would change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditPreviewChange {
    pub item_id: i64,
    pub sku: String,
    pub before: EditValues,
    pub after: EditValues,
}

/// One item an edit would refuse to change, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditRefusal {
    pub item_id: i64,
    pub sku: String,
    /// `price_not_positive`, `price_too_large`, `quantity_negative`, `quantity_too_large`.
    pub code: String,
    pub message: String,
}

impl EditChange {
    pub fn is_empty(&self) -> bool {
        self.price.is_none() && self.quantity.is_none() && self.category.is_none()
    }

    /// The change in a few words: "price +10 %, ending in .99 · quantity set to 5".
    pub fn said(&self) -> String {
        let mut parts = Vec::new();
        if let Some(price) = &self.price {
            let value = price.value.trim();
            let signed = |v: &str| {
                if v.starts_with(['-', '+']) {
                    v.to_owned()
                } else {
                    format!("+{v}")
                }
            };
            let mut said = match price.op {
                PriceOp::Set => format!("price set to {value}"),
                PriceOp::Add => format!("price {}", signed(value)),
                PriceOp::AddPercent => format!("price {} %", signed(value)),
            };
            if price.end_99 {
                said.push_str(", ending in .99");
            }
            parts.push(said);
        }
        if let Some(quantity) = &self.quantity {
            parts.push(match quantity.op {
                QuantityOp::Set => format!("quantity set to {}", quantity.value),
                QuantityOp::Add if quantity.value < 0 => format!("quantity {}", quantity.value),
                QuantityOp::Add => format!("quantity +{}", quantity.value),
            });
        }
        if let Some(category) = &self.category {
            parts.push(match category.value.trim() {
                "" => "category removed".to_owned(),
                value => format!("category set to “{value}”"),
            });
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_reads_back_from_the_api_shape_and_says_itself() {
        let change: EditChange = serde_json::from_str(
            r#"{"price": {"op": "add_percent", "value": "10", "end_99": true},
                "quantity": {"op": "add", "value": -2},
                "category": {"op": "set", "value": "Kitchen"}}"#,
        )
        .unwrap();
        assert_eq!(
            change.said(),
            "price +10 %, ending in .99 · quantity -2 · category set to “Kitchen”"
        );
        assert!(!change.is_empty());
        assert!(EditChange::default().is_empty());
        assert!(serde_json::from_str::<EditChange>(r#"{"colour": 1}"#).is_err());
    }
}
