//! The design gallery's fixture of a checked file: most rows ready, some fixed, some that
//! need the seller, and three connections for "then publish".

use crate::design::at;

/// A checked file: most rows ready, some fixed automatically, some that need the seller.
pub(crate) fn file_check() -> crate::import::ImportCheck {
    use crate::design_marketplaces::connection;
    use task_model::file_check::{FixGroup, InvalidGroup, RowExample};
    use task_model::Marketplace;
    let fix = |code: &str, count, fix: &str| FixGroup {
        code: code.into(),
        count,
        fix: fix.into(),
    };
    let example = |line, sku: &str, message: &str| RowExample {
        line,
        sku: sku.into(),
        message: message.into(),
    };
    let estimate = |items| task_model::Estimate {
        seconds: 16,
        low: 14,
        high: 21,
        basis: task_model::Basis::Measured,
        shared_with: 0,
        items,
        calls: items,
    };
    crate::import::ImportCheck {
        file_name: "spring-catalog.csv".into(),
        columns: Vec::new(),
        rows: 300,
        ready: 229,
        fixable_rows: 52,
        fixable: vec![
            fix(
                "title_line_breaks",
                31,
                "line breaks in titles turned into spaces",
            ),
            fix("title_cut", 21, "titles cut to 200 characters at a word"),
        ],
        invalid_rows: 19,
        invalid: vec![
            InvalidGroup {
                code: "price_invalid".into(),
                count: 12,
                title: "Price not valid".into(),
                examples: vec![
                    example(
                        14,
                        "SPR-0012",
                        "“free” is not a price; write it like 12.50.",
                    ),
                    example(
                        88,
                        "SPR-0086",
                        "“12;50” is not a price; write it like 12.50.",
                    ),
                    example(137, "SPR-0120", "“€9” is not a price; write it like 12.50."),
                ],
            },
            InvalidGroup {
                code: "duplicate_sku".into(),
                count: 5,
                title: "SKU repeated in the file".into(),
                examples: vec![example(
                    102,
                    "SPR-0088",
                    "SKU “SPR-0088” is already on line 99 of this file; only that row is imported.",
                )],
            },
            InvalidGroup {
                code: "title_required".into(),
                count: 2,
                title: "Title missing".into(),
                examples: vec![example(32, "SPR-0027", "Title is required.")],
            },
        ],
        estimate: Some(estimate(281)),
        estimate_ready: Some(estimate(229)),
        tonight: at(0) + chrono::Duration::hours(15),
        publish_estimate: Some(estimate(281)),
        connections: vec![
            connection(1, Marketplace::Sandbox, "Sandbox marketplace", "seller-1"),
            connection(2, Marketplace::Amazon, "Amazon (sandbox)", "A2EUQ1WTGCTBG2"),
            connection(3, Marketplace::Ebay, "eBay (sandbox)", "bright-home-goods"),
        ],
        connection_id: Some(1),
        publish_estimates: (1..=3)
            .map(|id| crate::import::ConnectionEstimate {
                connection_id: id,
                estimate: task_model::Estimate {
                    seconds: 60 * id as u64,
                    low: 57 * id as u64,
                    high: 63 * id as u64,
                    ..estimate(281)
                },
            })
            .collect(),
    }
}
