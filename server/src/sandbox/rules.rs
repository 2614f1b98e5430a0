//! The sandbox's validation: the same item always fails the same way.

pub use backend::marketplace::{Issue, ListingRequest, Money};

fn issue(code: &str, message: &str, attribute: &str) -> Issue {
    Issue {
        code: code.to_owned(),
        severity: "ERROR".to_owned(),
        message: message.to_owned(),
        attribute_names: vec![attribute.to_owned()],
    }
}

pub const TITLE_MAX: usize = 150;
const RESTRICTED: [&str; 4] = ["weapons", "tobacco", "counterfeit", "replica"];

/// Every problem the marketplace finds with a listing.
pub fn validate(sku: &str, listing: &ListingRequest) -> Vec<Issue> {
    let mut issues = Vec::new();
    if sku.trim().is_empty() || sku.len() > 64 {
        issues.push(issue(
            "sku_invalid",
            "The SKU must be 1 to 64 characters.",
            "sku",
        ));
    }
    if listing.title.trim().is_empty() {
        issues.push(issue("title_missing", "A title is required.", "title"));
    } else if listing.title.chars().count() > TITLE_MAX {
        issues.push(issue(
            "title_too_long",
            "The title must be at most 150 characters.",
            "title",
        ));
    }
    let positive = listing
        .price
        .amount
        .trim()
        .parse::<f64>()
        .map(|amount| amount > 0.0)
        .unwrap_or(false);
    if !positive {
        issues.push(issue(
            "price_not_positive",
            "The price must be greater than zero.",
            "price",
        ));
    }
    if listing.quantity < 0 {
        issues.push(issue(
            "quantity_negative",
            "The quantity cannot be negative.",
            "quantity",
        ));
    }
    match listing
        .image_url
        .as_deref()
        .map(str::trim)
        .filter(|url| !url.is_empty())
    {
        None => issues.push(issue(
            "image_missing",
            "The marketplace requires at least one image.",
            "image_url",
        )),
        Some(url) => {
            if let Some(problem) = media_issue(url) {
                issues.push(problem);
            }
        }
    }
    if let Some(category) = listing.category.as_deref() {
        let lower = category.to_lowercase();
        if RESTRICTED.iter().any(|word| lower.contains(word)) {
            issues.push(issue(
                "category_restricted",
                "This category is restricted on the marketplace.",
                "category",
            ));
        }
    }
    issues
}

/// Whether the marketplace can fetch an image: http(s) or a path on the seller's shop, and
/// not one of the deliberately broken addresses (`broken`, `404` in the path).
pub fn media_issue(url: &str) -> Option<Issue> {
    let lower = url.trim().to_lowercase();
    let fetchable = lower.starts_with("https://")
        || lower.starts_with("http://")
        || (lower.starts_with('/') && !lower.starts_with("//"));
    if !fetchable {
        return Some(issue(
            "image_url_invalid",
            "The image URL must be http(s).",
            "image_url",
        ));
    }
    if lower.contains("broken") || lower.contains("/404") {
        return Some(issue(
            "image_unreachable",
            "The image could not be downloaded.",
            "image_url",
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> ListingRequest {
        ListingRequest {
            title: "Blue mug".into(),
            description: String::new(),
            price: Money {
                amount: "12.50".into(),
                currency: "EUR".into(),
            },
            quantity: 3,
            image_url: Some("https://img.example.com/mug.jpg".into()),
            category: Some("Kitchen".into()),
        }
    }

    #[test]
    fn a_complete_listing_has_no_issues() {
        assert!(validate("SR-1", &listing()).is_empty());
    }

    #[test]
    fn problems_are_deterministic_and_name_their_attribute() {
        let bad = ListingRequest {
            title: "x".repeat(151),
            price: Money {
                amount: "0".into(),
                currency: "EUR".into(),
            },
            image_url: None,
            category: Some("Replica watches".into()),
            ..listing()
        };
        let codes: Vec<_> = validate("SR-1", &bad).into_iter().map(|i| i.code).collect();
        assert_eq!(
            codes,
            [
                "title_too_long",
                "price_not_positive",
                "image_missing",
                "category_restricted"
            ]
        );
        assert_eq!(validate("SR-1", &bad), validate("SR-1", &bad));
    }

    #[test]
    fn broken_images_are_refused() {
        assert_eq!(
            media_issue("https://img.example.com/broken.jpg")
                .map(|i| i.code)
                .as_deref(),
            Some("image_unreachable")
        );
        assert_eq!(
            media_issue("ftp://x").map(|i| i.code).as_deref(),
            Some("image_url_invalid")
        );
        assert!(media_issue("/media/demo/1.svg").is_none());
    }
}
