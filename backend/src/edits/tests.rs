//! The edit's arithmetic and its checks, against the API document's patterns.
use super::*;
use proptest::prelude::*;
use task_model::edit::{CategoryChange, CategoryOp, PriceChange, QuantityChange};

fn price_accepted(op: PriceOp, value: &str) -> bool {
    check(&EditChange {
        price: Some(PriceChange {
            op,
            value: value.to_owned(),
            end_99: false,
        }),
        ..EditChange::default()
    })
    .is_ok()
}

proptest! {
    /// The API document's pattern for each op and the server's check agree on every
    /// value: what one accepts, so does the other.
    #[test]
    fn amounts_are_accepted_exactly_as_the_document_says(
        value in "[ +\\-]{0,2}0{0,3}[0-9]{0,11}(\\.[0-9]{0,4})?[ a]{0,1}",
        op in prop::sample::select(vec![PriceOp::Set, PriceOp::Add, PriceOp::AddPercent]),
    ) {
        let pattern = match op {
            PriceOp::Set => task_model::edit::PRICE_SET_PATTERN,
            PriceOp::Add => task_model::edit::AMOUNT_PATTERN,
            PriceOp::AddPercent => task_model::edit::PERCENT_PATTERN,
        };
        let documented = regex::Regex::new(pattern).expect("pattern").is_match(&value);
        prop_assert_eq!(price_accepted(op, &value), documented, "{:?} {:?}", op, value);
    }
}

#[test]
fn documented_edges() {
    for (op, value, ok) in [
        (PriceOp::Set, "1000000000", true),
        (PriceOp::Set, "1000000000.999", true),
        (PriceOp::Set, "1000000001", false),
        (PriceOp::Set, "0001", true),
        (PriceOp::Set, "-1", false),
        (PriceOp::Set, " 1", false),
        (PriceOp::Add, "-1.5", true),
        (PriceOp::Add, "1.", false),
        (PriceOp::AddPercent, "1.555", false),
        (PriceOp::AddPercent, "+10", true),
    ] {
        assert_eq!(price_accepted(op, value), ok, "{op:?} {value}");
    }
}

fn item(price_minor: i64, currency: &str, quantity: i32) -> Item {
    Item {
        id: 1,
        sku: "SR-1".into(),
        title: "Mug".into(),
        description: String::new(),
        price_minor,
        currency: currency.into(),
        quantity,
        image_url: None,
        category: Some("Kitchen".into()),
        listing_state: crate::domain::ListingState::Draft,
        listing_id: None,
        last_listing_error: None,
        listed_version: None,
        version: 3,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn price(op: PriceOp, value: &str, end_99: bool) -> EditChange {
    EditChange {
        price: Some(PriceChange {
            op,
            value: value.into(),
            end_99,
        }),
        ..EditChange::default()
    }
}

#[test]
fn prices_change_by_amount_percentage_or_to_a_value() {
    let mug = item(1000, "EUR", 5);
    let after = |change: EditChange| apply(&change, &mug).map(|v| v.price);
    assert_eq!(
        after(price(PriceOp::AddPercent, "10", false)).unwrap(),
        "11.00"
    );
    assert_eq!(
        after(price(PriceOp::AddPercent, "10", true)).unwrap(),
        "10.99"
    );
    assert_eq!(
        after(price(PriceOp::AddPercent, "-12.5", false)).unwrap(),
        "8.75"
    );
    assert_eq!(after(price(PriceOp::Add, "-2.5", false)).unwrap(), "7.50");
    assert_eq!(after(price(PriceOp::Set, "19", true)).unwrap(), "18.99");
    assert_eq!(after(price(PriceOp::Set, "11.60", true)).unwrap(), "11.99");
    // Half a cent rounds away from zero: 3.33 + 15 % = 3.8295 → 3.83.
    let odd = item(333, "EUR", 0);
    assert_eq!(
        apply(&price(PriceOp::AddPercent, "15", false), &odd)
            .unwrap()
            .price,
        "3.83"
    );
    // A currency without decimals.
    let yen = item(1234, "JPY", 0);
    assert_eq!(
        apply(&price(PriceOp::Add, "10", true), &yen).unwrap().price,
        "1199"
    );
    assert_eq!(
        apply(&price(PriceOp::Add, "0.5", false), &yen)
            .unwrap_err()
            .code,
        "price_change_invalid"
    );
}

#[test]
fn a_price_at_zero_or_below_and_a_negative_stock_are_refused() {
    let mug = item(1000, "EUR", 5);
    let refusal = apply(&price(PriceOp::Add, "-10", false), &mug).unwrap_err();
    assert_eq!(refusal.code, "price_not_positive");
    assert!(refusal.message.contains("0.00"), "{}", refusal.message);
    assert_eq!(
        apply(&price(PriceOp::AddPercent, "-100", true), &mug)
            .unwrap_err()
            .code,
        "price_not_positive"
    );
    let fewer = EditChange {
        quantity: Some(QuantityChange {
            op: QuantityOp::Add,
            value: -6,
        }),
        ..EditChange::default()
    };
    assert_eq!(apply(&fewer, &mug).unwrap_err().code, "quantity_negative");
    let huge = EditChange {
        quantity: Some(QuantityChange {
            op: QuantityOp::Set,
            value: 2_000_000,
        }),
        ..EditChange::default()
    };
    assert_eq!(apply(&huge, &mug).unwrap_err().code, "quantity_too_large");
    let overflow = EditChange {
        quantity: Some(QuantityChange {
            op: QuantityOp::Add,
            value: i64::MAX,
        }),
        ..EditChange::default()
    };
    assert_eq!(
        apply(&overflow, &mug).unwrap_err().code,
        "quantity_too_large"
    );
}

#[test]
fn categories_are_set_or_taken_away() {
    let mug = item(1000, "EUR", 5);
    let set = |value: &str| EditChange {
        category: Some(CategoryChange {
            op: CategoryOp::Set,
            value: value.into(),
        }),
        ..EditChange::default()
    };
    assert_eq!(
        apply(&set(" Garden "), &mug).unwrap().category.as_deref(),
        Some("Garden")
    );
    assert_eq!(apply(&set(""), &mug).unwrap().category, None);
    assert_eq!(
        apply(&set(&"x".repeat(101)), &mug).unwrap_err().code,
        "category_too_long"
    );
}

#[test]
fn a_change_is_checked_before_a_task_is_made() {
    assert_eq!(
        check(&EditChange::default()).unwrap_err().code,
        "edit_empty"
    );
    assert!(check(&price(PriceOp::Set, "abc", false)).is_err());
    assert!(check(&price(PriceOp::Set, "-1", false)).is_err());
    assert!(check(&price(PriceOp::Add, "-1", false)).is_ok());
    assert!(check(&price(PriceOp::AddPercent, "12.5", false)).is_ok());
}

#[test]
fn ending_in_99_is_the_nearest() {
    for (minor, expected) in [
        (1100, 1099),
        (1148, 1099),
        (1149, 1199),
        (1150, 1199),
        (1, 99),
        (99, 99),
        (1199, 1199),
    ] {
        assert_eq!(end_99(minor, 2), expected, "{minor}");
    }
}

proptest::proptest! {
    /// Whatever the change, an item is either refused or left with a valid price
    /// and quantity.
    #[test]
    fn applied_values_are_always_valid(
        minor in 1_i64..10_000_000_000,
        quantity in 0_i32..1_000_000,
        percent in -200_i64..500,
        delta in -1_000_000_i64..1_000_000,
        end in proptest::bool::ANY,
    ) {
        let it = item(minor, "EUR", quantity);
        for change in [
            price(PriceOp::AddPercent, &percent.to_string(), end),
            price(PriceOp::Add, &delta.to_string(), end),
        ] {
            if let Ok(after) = apply(&change, &it) {
                let parsed = Price::parse(&after.price, Currency::EUR).unwrap();
                proptest::prop_assert!(parsed.minor() > 0);
            }
        }
    }
}
