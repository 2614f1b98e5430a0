//! Why items fail, in the seller's words: every error code the engine, the marketplace
//! connector and the importer store, with a plain explanation and what to do about it.
//!
//! A failed task's items are grouped by code ([`crate::tasks::query::failure_groups`]);
//! each group shows its [`Reason`]. Transient reasons suggest retrying the group as it is;
//! data reasons suggest fixing the items (or the file) first.

use serde::Serialize;

/// What the seller should do about a group of failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// Nothing is wrong with the items: the marketplace or the connection failed. Retry.
    Retry,
    /// The items (or rows) need a change before they can succeed.
    Fix,
}

/// A failure reason for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// A short heading: "Missing image".
    pub title: String,
    /// One or two sentences: what happened and what to do.
    pub explanation: String,
    pub remedy: Remedy,
}

fn reason(title: &str, explanation: &str, remedy: Remedy) -> Reason {
    Reason {
        title: title.to_owned(),
        explanation: explanation.to_owned(),
        remedy,
    }
}

/// Explains an error code. Unknown codes get a generic reason that still says whether
/// to retry: a code is assumed to be about the data unless known to be transient.
pub fn explain(code: &str) -> Reason {
    use Remedy::{Fix, Retry};
    match code {
        "rate_limited" | "pace_unavailable" => reason(
            "Marketplace quota",
            "The marketplace limited how fast we may send. Nothing is wrong with these items: retry them and they go through at the allowed pace.",
            Retry,
        ),
        "marketplace_unavailable" | "marketplace_bad_reply" => reason(
            "Marketplace unavailable",
            "The marketplace answered with a temporary error several times in a row. Nothing is wrong with these items: retry them.",
            Retry,
        ),
        "marketplace_timeout" | "upstream_timeout" => reason(
            "Marketplace too slow",
            "The marketplace did not answer in time. Retrying is safe: an item is never listed twice.",
            Retry,
        ),
        "marketplace_unreachable" => reason(
            "Marketplace unreachable",
            "We could not connect to the marketplace. Check its status, then retry.",
            Retry,
        ),
        "database_unavailable" | "lease_expired" | "handler_panicked" | "handler_aborted" => {
            reason(
                "Interrupted",
                "Stockroom was interrupted while working on these items (a restart or an internal error). Retry them.",
                Retry,
            )
        }
        "item_busy" => reason(
            "Item kept changing",
            "The item was saved again and again while the task tried to change it. Retry it.",
            Retry,
        ),
        "already_set" => reason(
            "Already set",
            "These items already had the values the edit sets, so nothing changed. Nothing to do.",
            Fix,
        ),
        "changed_since" => reason(
            "Changed since",
            "These items were changed after the task they undo, so they keep their newer values. Nothing to do, unless you want to change them by hand.",
            Fix,
        ),
        "not_live" => reason(
            "Not live",
            "These items are not on the marketplace, so there is no listing to update. Publish them instead.",
            Fix,
        ),
        "up_to_date" => reason(
            "Already up to date",
            "Their listings already show the items' current values. Nothing to do.",
            Fix,
        ),
        "published_since" => reason(
            "Live since",
            "These items went live after the import, so the undo keeps them. Unpublish them first if they should go.",
            Fix,
        ),
        "before_unknown" => reason(
            "Not recorded",
            "What the import replaced on these items was not recorded (they changed at the same moment), so they keep their values.",
            Fix,
        ),
        "undo_invalid" => reason(
            "Cannot be put back",
            "The values to put back could not be read. Change these items by hand.",
            Fix,
        ),
        "sku_busy" => reason(
            "Row in use",
            "Another task was changing the same SKU at that moment. Retry these rows.",
            Retry,
        ),
        "image_unreachable" => reason(
            "Image could not be downloaded",
            "The marketplace could not fetch the image at this address. Fix the image URL (or the image host), then retry.",
            Fix,
        ),
        "image_missing" => reason(
            "Missing image",
            "The marketplace requires at least one image. Add an image URL to these items, then retry.",
            Fix,
        ),
        "image_rejected" => reason(
            "Image rejected",
            "The marketplace refused the image. Use another image, then retry.",
            Fix,
        ),
        "price_not_positive" => reason(
            "Price must be above zero",
            "The marketplace does not accept a price of zero. Set a price, then retry.",
            Fix,
        ),
        "category_restricted" => reason(
            "Restricted category",
            "The marketplace does not allow this category. Choose another category, then retry.",
            Fix,
        ),
        "listing_rejected" | "marketplace_rejected" => reason(
            "Rejected by the marketplace",
            "The marketplace refused these listings; each item shows why. Fix the items, then retry.",
            Fix,
        ),
        "title_missing" => reason(
            "Missing title",
            "The marketplace requires a title. Add one to these items, then retry.",
            Fix,
        ),
        "title_too_long" => reason(
            "Title too long",
            "The marketplace refused the title's length. Shorten the titles, then retry.",
            Fix,
        ),
        "marketplace_processing_timeout" => reason(
            "Marketplace still processing",
            "The marketplace accepted these listings but had not finished processing them after 30 minutes. Retry to check on them again: nothing is sent twice.",
            Retry,
        ),
        "marketplace_access_denied" => reason(
            "Connection refused",
            "The marketplace refused this connection's credentials or account. Check the connection in Settings (Test connection), then retry.",
            Fix,
        ),
        "connection_missing" | "credentials_unreadable" => reason(
            "Connection unavailable",
            "The marketplace connection was removed, or its credentials cannot be read on this server. Connect the marketplace again, then retry.",
            Fix,
        ),
        "marketplace_not_supported" => reason(
            "Not available for this marketplace",
            "Stockroom cannot do this on this marketplace yet. Skip these items.",
            Fix,
        ),
        "item_not_found" => reason(
            "Item deleted",
            "These items were deleted before they could be sent. Skip them.",
            Fix,
        ),
        "item_invalid" => reason(
            "Not an item",
            "The task names something that is not an item of your catalog. Skip it.",
            Fix,
        ),
        "duplicate_sku" => reason(
            "SKU repeated in the file",
            "The same SKU appears on more than one row; only the first was imported. Remove or rename the repeats and import the rows again.",
            Fix,
        ),
        "wrong_column_count" => reason(
            "Wrong number of cells",
            "These rows have more or fewer cells than the header, often from an unquoted comma. Fix the rows and import them again.",
            Fix,
        ),
        "invalid_utf8" => reason(
            "Unreadable characters",
            "These rows are not valid UTF-8. Save the file as “CSV UTF-8” and import the rows again.",
            Fix,
        ),
        other => column_reason(other).unwrap_or_else(|| {
            reason(
                "Other problem",
                "Each item below says what went wrong. Fix the items, then retry.",
                Fix,
            )
        }),
    }
}

/// `{column}_{problem}` codes from field checks (import rows and item validation).
fn column_reason(code: &str) -> Option<Reason> {
    let column = crate::imports::COLUMNS.iter().find(|c| {
        code.strip_prefix(*c)
            .is_some_and(|rest| rest.starts_with('_'))
    })?;
    let problem = &code[column.len() + 1..];
    let label = column.replace('_', " ");
    let label = match label.as_str() {
        "sku" => "SKU".to_owned(),
        "image url" => "image URL".to_owned(),
        other => other.to_owned(),
    };
    let capital = {
        let mut chars = label.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    let (title, what) = match problem {
        "required" | "missing" => (
            format!("{capital} missing"),
            format!("These rows have no {label}."),
        ),
        "too_long" => (
            format!("{capital} too long"),
            format!("The {label} is longer than allowed."),
        ),
        "too_short" => (
            format!("{capital} too short"),
            format!("The {label} is shorter than allowed."),
        ),
        "negative" => (
            format!("{capital} below zero"),
            format!("The {label} cannot be negative."),
        ),
        "too_large" => (
            format!("{capital} too large"),
            format!("The {label} is larger than allowed."),
        ),
        _ => (
            format!("{capital} not valid"),
            format!("The {label} is not in a form we can read."),
        ),
    };
    Some(reason(
        &title,
        &format!("{what} Fix it in the items or the file (the error report has every row), then import or retry again."),
        Remedy::Fix,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes_suggest_retry_and_data_codes_suggest_fixing() {
        for code in [
            "rate_limited",
            "marketplace_unavailable",
            "marketplace_timeout",
            "marketplace_unreachable",
            "lease_expired",
        ] {
            assert_eq!(explain(code).remedy, Remedy::Retry, "{code}");
        }
        for code in [
            "image_missing",
            "price_not_positive",
            "duplicate_sku",
            "price_invalid",
        ] {
            assert_eq!(explain(code).remedy, Remedy::Fix, "{code}");
        }
    }

    #[test]
    fn column_codes_name_the_column() {
        assert_eq!(explain("price_invalid").title, "Price not valid");
        assert_eq!(explain("sku_required").title, "SKU missing");
        assert_eq!(explain("image_url_invalid").title, "Image URL not valid");
        assert_eq!(explain("title_too_long").title, "Title too long");
        assert_eq!(explain("quantity_negative").title, "Quantity below zero");
    }

    #[test]
    fn unknown_codes_still_explain_something() {
        let unknown = explain("something_new");
        assert_eq!(unknown.remedy, Remedy::Fix);
        assert!(!unknown.explanation.is_empty());
        // A prefix that is not followed by `_` is not a column.
        assert_eq!(explain("pricey").title, "Other problem");
    }
}
