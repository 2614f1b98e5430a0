//! eBay's answers in our words: its `errorId`s and `fieldName` parameters become our
//! stable codes and the item's fields, so failures group with every marketplace's.

use serde_json::Value;

use super::ItemAnswer;
use crate::marketplace::{CallError, Issue};

/// One item's refusal within a bulk answer; a 5xx or 429 for the item is a passing
/// problem, tried again. eBay did answer the call, so it is not an outage: the code is
/// not one the account's circuit breaker counts (it groups with them for the seller).
pub(super) fn item_error(answer: &ItemAnswer) -> CallError {
    match answer.status {
        429 | 500..=599 => CallError::Transient {
            code: "marketplace_bad_reply",
            message: format!(
                "eBay answered {} for this item: {}",
                answer.status,
                first_error(&answer.reply)
            ),
            retry_after: None,
        },
        _ => refusal(&answer.reply),
    }
}

pub(super) fn unanswered() -> CallError {
    CallError::Transient {
        code: "marketplace_bad_reply",
        message: "eBay's answer did not mention this item; it will be sent again.".into(),
        retry_after: None,
    }
}

pub(super) fn error_ids(reply: &Value) -> Vec<u64> {
    reply["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["errorId"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn first_error(reply: &Value) -> String {
    let error = &reply["errors"][0];
    match (error["errorId"].as_u64(), error["message"].as_str()) {
        (Some(id), Some(message)) => format!("{message} ({id})"),
        (None, Some(message)) => message.to_owned(),
        _ => "no reason given".to_owned(),
    }
}

/// The offer eBay says already exists (error 25002 with an `offerId` parameter).
pub(super) fn existing_offer(reply: &Value) -> Option<String> {
    reply["errors"].as_array()?.iter().find_map(|error| {
        (error["errorId"] == 25002)
            .then(|| {
                error["parameters"].as_array()?.iter().find_map(|p| {
                    (p["name"] == "offerId").then(|| p["value"].as_str().map(str::to_owned))?
                })
            })
            .flatten()
    })
}

/// The field of a request an eBay error is about (its `fieldName` parameter).
pub(super) fn field_name(error: &Value) -> &str {
    error["parameters"]
        .as_array()
        .and_then(|parameters| {
            parameters
                .iter()
                .find(|p| p["name"] == "fieldName")
                .and_then(|p| p["value"].as_str())
        })
        .unwrap_or_default()
}

/// The item field an eBay request field comes from.
pub fn field_of(name: &str) -> &'static str {
    match name {
        "product.title" => "title",
        "product.description" | "listingDescription" => "description",
        "pricingSummary.price" | "price" => "price",
        "product.imageUrls" => "image_url",
        "categoryId" => "category",
        "sku" => "sku",
        name if name.contains("quantity") || name.contains("Quantity") => "quantity",
        _ => "",
    }
}

/// Our stable code for an eBay error, so failures group with the same reasons as every
/// marketplace's.
pub fn our_code(error_id: u64, field: &str) -> &'static str {
    match (error_id, field) {
        (25003, _) => "price_not_positive",
        (25004, _) => "quantity_negative",
        (25014, _) => "image_missing",
        (25015, _) => "image_unreachable",
        (25005, _) => "category_restricted",
        (25002, "title") => "title_missing",
        (25709, "title") => "title_too_long",
        (25709, "sku") => "sku_invalid",
        _ => "listing_rejected",
    }
}

/// A refusal with eBay's errors, each with the item field it is about.
pub(super) fn refusal(reply: &Value) -> CallError {
    let issues: Vec<Issue> = reply["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    let field = field_of(field_name(error));
                    Issue {
                        code: our_code(error["errorId"].as_u64().unwrap_or(0), field).to_owned(),
                        severity: "ERROR".to_owned(),
                        message: error["message"].as_str().unwrap_or_default().to_owned(),
                        attribute_names: if field.is_empty() {
                            Vec::new()
                        } else {
                            vec![field.to_owned()]
                        },
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    crate::connectors::refusal(issues)
}

#[cfg(test)]
mod tests {
    use super::super::Ebay;
    use super::*;
    use crate::catalog::Item;
    use serde_json::json;

    #[test]
    fn ebay_errors_name_the_item_field_and_our_code() {
        let reply = json!({ "errors": [{
            "errorId": 25709,
            "message": "Invalid value for product.title.",
            "parameters": [{ "name": "fieldName", "value": "product.title" }],
        }, {
            "errorId": 25003,
            "message": "Invalid price.",
            "parameters": [{ "name": "fieldName", "value": "pricingSummary.price" }],
        }]});
        let CallError::Permanent { code, issues, .. } = refusal(&reply) else {
            panic!("a refusal is permanent");
        };
        assert_eq!(code, "title_too_long");
        assert_eq!(issues[0].attribute_names, ["title"]);
        assert_eq!(issues[1].code, "price_not_positive");
        assert_eq!(issues[1].attribute_names, ["price"]);
        assert_eq!(our_code(25002, "title"), "title_missing");
        assert_eq!(our_code(99999, ""), "listing_rejected");
    }

    #[test]
    fn an_existing_offer_is_found_in_the_refusal() {
        let reply = json!({ "errors": [{
            "errorId": 25002,
            "message": "A user error has occurred. Offer entity already exists.",
            "parameters": [{ "name": "offerId", "value": "5000000042" }],
        }]});
        assert_eq!(existing_offer(&reply).as_deref(), Some("5000000042"));
        assert_eq!(
            existing_offer(&json!({ "errors": [{ "errorId": 25003 }] })),
            None
        );
    }

    #[test]
    fn prices_are_written_in_major_units() {
        let item = Item {
            price_minor: 1205,
            currency: "USD".into(),
            ..Item::blank()
        };
        assert_eq!(
            Ebay::price(&item),
            json!({ "value": "12.05", "currency": "USD" })
        );
    }
}
