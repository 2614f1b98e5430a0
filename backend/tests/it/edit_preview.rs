//! An edit's preview reads a large selection by walking the catalog and a small one by
//! its ids: both ways say the same, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::db_test;
use backend::edits::{preview, Preview};
use task_model::edit::{EditChange, PriceChange, PriceOp};

/// The preview of `ids`, read in selections small enough to go by id.
async fn by_ids(
    db: &backend::DatabaseConnection,
    seller: i64,
    ids: &[i64],
    change: &EditChange,
) -> (u64, u64, u64) {
    let mut sum = (0, 0, 0);
    for chunk in ids.chunks(1_000) {
        let part = preview(db, seller, chunk, change, 20).await.unwrap();
        sum.0 += part.changed;
        sum.1 += part.unchanged;
        sum.2 += part.refused_by_code.values().sum::<u64>();
    }
    sum
}

fn counts(p: &Preview) -> (u64, u64, u64) {
    (p.changed, p.unchanged, p.refused_by_code.values().sum())
}

db_test!(a_large_selection_previews_as_a_small_one_would, |db| {
    let (seller, ids) = backend::testing::seller_with_items(db, "walk@example.com", 12_000).await;
    // Another seller's ids in the selection count for nothing.
    let (_, theirs) = backend::testing::seller_with_items(db, "other@example.com", 10).await;
    let change = EditChange {
        price: Some(PriceChange {
            op: PriceOp::Add,
            value: "-20".into(),
            end_99: false,
        }),
        ..EditChange::default()
    };
    // Every other item, plus the other seller's: more than a small selection holds.
    let mut some: Vec<i64> = ids.iter().copied().step_by(2).collect();
    some.extend(&theirs);
    assert!(some.len() > 5_000, "large enough to walk");
    let mut all = ids.clone();
    all.extend(&theirs);
    for selection in [&all, &some] {
        let walked = preview(db, seller, selection, &change, 20).await.unwrap();
        let own = selection.len() - theirs.len();
        let (changed, unchanged, refused) = counts(&walked);
        assert_eq!(changed + unchanged + refused, own as u64);
        assert!(refused > 0 && changed > 0, "{walked:?}");
        assert_eq!(
            counts(&walked),
            by_ids(db, seller, selection, &change).await
        );
        // The examples are the first in id order, as with a small selection.
        let first: Vec<i64> = walked.changes.iter().map(|c| c.item_id).collect();
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(first, sorted);
        assert_eq!(walked.changes.len(), 20);
    }
});
