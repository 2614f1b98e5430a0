//! The catalog: scoping, search, paging, optimistic concurrency, demo seeding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::db_test;

use backend::accounts;
use backend::catalog::{self, CatalogError, ItemFields, ItemFilter, ItemQuery, SortKey};
use backend::domain::*;
use chrono::Utc;

async fn seller(db: &backend::DatabaseConnection, email: &str) -> i64 {
    accounts::create_seller(
        db,
        &Email::parse(email).unwrap(),
        None,
        &Password::parse("correct horse battery").unwrap(),
    )
    .await
    .unwrap()
    .id
}

fn fields(sku: &str, title: &str, price: &str) -> ItemFields {
    ItemFields {
        sku: Sku::parse(sku).unwrap(),
        title: Title::parse(title).unwrap(),
        description: Description::parse("").unwrap(),
        price: Price::parse(price, Currency::EUR).unwrap(),
        quantity: Quantity::parse("3").unwrap(),
        image_url: None,
        category: None,
    }
}

db_test!(another_sellers_item_is_not_found, |db| {
    let ana = seller(db, "ana@example.com").await;
    let bob = seller(db, "bob@example.com").await;
    let item = catalog::create(db, ana, fields("A-1", "Mug", "5.00"), Utc::now())
        .await
        .unwrap();

    assert!(matches!(
        catalog::get(db, bob, item.id).await,
        Err(CatalogError::NotFound)
    ));
    let edit = catalog::update(
        db,
        bob,
        item.id,
        item.version,
        fields("A-1", "Stolen", "1"),
        Utc::now(),
    )
    .await;
    assert!(matches!(edit, Err(CatalogError::NotFound)));
    assert_eq!(
        catalog::list(db, bob, &ItemQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(catalog::get(db, ana, item.id).await.unwrap().title, "Mug");
});

db_test!(sku_is_unique_per_seller_only, |db| {
    let ana = seller(db, "ana@example.com").await;
    let bob = seller(db, "bob@example.com").await;
    catalog::create(db, ana, fields("A-1", "Mug", "5.00"), Utc::now())
        .await
        .unwrap();
    let duplicate = catalog::create(db, ana, fields("A-1", "Other", "5.00"), Utc::now()).await;
    assert!(matches!(duplicate, Err(CatalogError::DuplicateSku(sku)) if sku == "A-1"));
    catalog::create(db, bob, fields("A-1", "Bob's mug", "5.00"), Utc::now())
        .await
        .unwrap();
});

db_test!(stale_edit_is_a_conflict_and_changes_nothing, |db| {
    let ana = seller(db, "ana@example.com").await;
    let item = catalog::create(db, ana, fields("A-1", "Mug", "5.00"), Utc::now())
        .await
        .unwrap();

    let first = catalog::update(
        db,
        ana,
        item.id,
        item.version,
        fields("A-1", "Big mug", "6.00"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(first.version, item.version + 1);
    assert_eq!(first.price_minor, 600);

    let second = catalog::update(
        db,
        ana,
        item.id,
        item.version,
        fields("A-1", "Small mug", "4.00"),
        Utc::now(),
    )
    .await;
    match second {
        Err(CatalogError::Conflict { current }) => assert_eq!(current.title, "Big mug"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        catalog::get(db, ana, item.id).await.unwrap().title,
        "Big mug"
    );
});

db_test!(
    search_is_case_insensitive_on_sku_and_title_and_literal,
    |db| {
        let ana = seller(db, "ana@example.com").await;
        for (sku, title) in [
            ("MUG-1", "Blue Mug"),
            ("PLATE-1", "Blue plate"),
            ("X_1", "100% cotton"),
            ("BOWL", "Red bowl"),
        ] {
            catalog::create(db, ana, fields(sku, title, "1"), Utc::now())
                .await
                .unwrap();
        }
        let search = |q: &str| ItemQuery {
            filter: ItemFilter {
                q: Some(q.into()),
                state: None,
                in_task: false,
                changed: false,
            },
            ..ItemQuery::default()
        };
        assert_eq!(
            catalog::list(db, ana, &search("blue")).await.unwrap().total,
            2
        );
        assert_eq!(
            catalog::list(db, ana, &search("mug-")).await.unwrap().total,
            1
        );
        assert_eq!(
            catalog::list(db, ana, &search("100%")).await.unwrap().total,
            1
        );
        // `_` is literal, not "any character".
        assert_eq!(
            catalog::list(db, ana, &search("x_")).await.unwrap().total,
            1
        );
        assert_eq!(
            catalog::list(db, ana, &search("g_1")).await.unwrap().total,
            0
        );
        assert_eq!(
            catalog::list(db, ana, &search("  ")).await.unwrap().total,
            4
        );
    }
);

db_test!(demo_seed_is_created_once_with_varied_items, |db| {
    let first = backend::demo::ensure_demo_seller(db).await.unwrap();
    let backend::demo::DemoSeed::Created(demo) = first else {
        panic!("first run must create")
    };
    let second = backend::demo::ensure_demo_seller(db).await.unwrap();
    assert_eq!(second, backend::demo::DemoSeed::AlreadyThere(demo.clone()));

    let all = ItemQuery {
        per_page: 200,
        ..ItemQuery::default()
    };
    let page = catalog::list(db, demo.id, &all).await.unwrap();
    assert_eq!(page.total, 300);
    for state in ListingState::ALL {
        let filter = ItemFilter {
            q: None,
            state: Some(state),
            in_task: false,
            changed: false,
        };
        assert!(
            catalog::count(db, demo.id, &filter).await.unwrap() > 0,
            "no {state:?} demo items"
        );
    }
    let authenticated =
        accounts::authenticate(db, backend::demo::DEMO_EMAIL, backend::demo::DEMO_PASSWORD)
            .await
            .unwrap();
    assert_eq!(authenticated.id, demo.id);
});

db_test!(paging_filtering_and_sorting_cover_every_item_once, |db| {
    let ana = seller(db, "ana@example.com").await;
    catalog::insert_many(db, backend::demo::demo_items(ana, 120))
        .await
        .unwrap();

    let mut seen = std::collections::BTreeSet::new();
    for page in 1..=3 {
        let query = ItemQuery {
            sort: SortKey::Price,
            descending: false,
            page,
            per_page: 50,
            ..ItemQuery::default()
        };
        let result = catalog::list(db, ana, &query).await.unwrap();
        assert_eq!(result.total, 120);
        assert!(result
            .items
            .windows(2)
            .all(|w| w[0].price_minor <= w[1].price_minor));
        seen.extend(result.items.iter().map(|i| i.id));
    }
    assert_eq!(seen.len(), 120);

    let published = ItemFilter {
        q: None,
        state: Some(ListingState::Published),
        in_task: false,
        changed: false,
    };
    let ids = catalog::matching_ids(db, ana, &published).await.unwrap();
    assert_eq!(
        ids.len() as u64,
        catalog::count(db, ana, &published).await.unwrap()
    );
    for id in ids {
        assert_eq!(
            catalog::get(db, ana, id).await.unwrap().listing_state,
            ListingState::Published
        );
    }
});

db_test!(
    schema_refuses_invalid_rows_even_past_the_domain_types,
    |db| {
        use sea_orm::{ActiveModelTrait, Set};
        let ana = seller(db, "ana@example.com").await;
        let mut rows = backend::demo::demo_items(ana, 1);
        let mut row = rows.remove(0);
        row.listing_state = Set("live".into());
        assert!(
            row.clone().insert(db).await.is_err(),
            "unknown listing state stored"
        );
        row.listing_state = Set("draft".into());
        row.price_minor = Set(-1);
        assert!(row.insert(db).await.is_err(), "negative price stored");
    }
);
