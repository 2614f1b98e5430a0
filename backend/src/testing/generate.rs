//! A large catalog made by the database itself: one `INSERT … SELECT` over a generated
//! series, so a million items take seconds rather than a million bound rows. The rows
//! are deterministic and as varied as the demo seller's: twenty products, sixteen
//! adjectives, ten colours, four listing states, prices and stock spread out, one
//! update time per item.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Adds `count` items to the seller's catalog (SKUs `GEN-0000001`…, after `first`),
/// updated one second apart back from `now`.
pub async fn items(
    db: &impl ConnectionTrait,
    seller_id: i64,
    first: u64,
    count: u64,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    // Chunks keep SQLite's write transaction (and PostgreSQL's WAL burst) bounded.
    const CHUNK: u64 = 200_000;
    let mut from = first + 1;
    let end = first + count;
    while from <= end {
        let to = (from + CHUNK - 1).min(end);
        let sql = statement(backend, from, to);
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [seller_id.into(), now.into()],
        ))
        .await?;
        from = to + 1;
    }
    Ok(())
}

const PRODUCTS: &str =
    "(0, 'Coffee Mug', 'Kitchen', 1450), (1, 'Tea Towel Set', 'Kitchen', 1890), \
    (2, 'Chef''s Knife', 'Kitchen', 6900), (3, 'Plant Pot', 'Garden', 2250), \
    (4, 'Pruning Shears', 'Garden', 2990), (5, 'Watering Can', 'Garden', 3400), \
    (6, 'Wooden Puzzle', 'Toys', 1999), (7, 'Plush Fox', 'Toys', 2499), \
    (8, 'Notebook A5', 'Stationery', 899), (9, 'Fountain Pen', 'Stationery', 4500), \
    (10, 'Desk Lamp', 'Home', 5900), (11, 'Throw Blanket', 'Home', 7450), \
    (12, 'Wall Clock', 'Home', 3999), (13, 'Yoga Mat', 'Sports', 3500), \
    (14, 'Water Bottle', 'Sports', 2199), (15, 'Backpack', 'Bags', 8900), \
    (16, 'Tote Bag', 'Bags', 1590), (17, 'Wool Scarf', 'Apparel', 3290), \
    (18, 'Beanie', 'Apparel', 1990), (19, 'Phone Stand', 'Electronics', 1299)";
const ADJECTIVES: &str = "(0, 'Classic'), (1, 'Vintage'), (2, 'Organic'), (3, 'Handmade'), \
    (4, 'Compact'), (5, 'Deluxe'), (6, 'Rustic'), (7, 'Modern'), (8, 'Travel'), \
    (9, 'Premium'), (10, 'Everyday'), (11, 'Nordic'), (12, 'Bamboo'), (13, 'Ceramic'), \
    (14, 'Linen'), (15, 'Copper')";
const COLOURS: &str = "(0, 'Blue'), (1, 'Sage'), (2, 'Charcoal'), (3, 'Ivory'), \
    (4, 'Terracotta'), (5, 'Mustard'), (6, 'Navy'), (7, 'Rose'), (8, 'Olive'), (9, 'Sand')";

fn statement(backend: DbBackend, from: u64, to: u64) -> String {
    // Per engine: the series, text padding and concatenation, and time arithmetic. The
    // series comes first (`CROSS JOIN` keeps SQLite from looping over it once per word).
    let (series, sku, ts) = match backend {
        DbBackend::Postgres => (
            format!("s(i) AS (SELECT generate_series({from}::bigint, {to}::bigint))"),
            "'GEN-' || lpad(n.i::text, 7, '0')",
            "$2::timestamptz - make_interval(secs => n.i)",
        ),
        _ => (
            format!("s(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM s WHERE i < {to})"),
            "'GEN-' || printf('%07d', n.i)",
            "strftime('%Y-%m-%dT%H:%M:%f+00:00', $2, '-' || n.i || ' seconds')",
        ),
    };
    let state = "CASE n.i % 20 WHEN 1 THEN 'published' WHEN 2 THEN 'published' \
        WHEN 3 THEN 'published' WHEN 4 THEN 'published' WHEN 5 THEN 'unpublished' \
        WHEN 6 THEN 'failed' ELSE 'draft' END";
    format!(
        "WITH RECURSIVE {series}, \
           p(k, name, category, price) AS (VALUES {PRODUCTS}), \
           a(k, w) AS (VALUES {ADJECTIVES}), \
           c(k, w) AS (VALUES {COLOURS}) \
         INSERT INTO items (seller_id, sku, title, description, price_minor, currency, quantity, \
           image_url, category, listing_state, listing_id, last_listing_error, version, \
           listed_version, created_at, updated_at) \
         SELECT $1, {sku}, a.w || ' ' || p.name || ' — ' || c.w || ' ' || n.i, \
           a.w || ' ' || p.name || '. A favourite from our ' || p.category || ' range.', \
           p.price + (n.i * 37 % 20) * 50, \
           CASE n.i % 10 WHEN 0 THEN 'USD' WHEN 5 THEN 'GBP' ELSE 'EUR' END, \
           CAST(n.i * 13 % 60 AS INTEGER), '/media/demo/' || (n.i % 50 + 1) || '.svg', p.category, \
           {state}, \
           CASE WHEN n.i % 20 BETWEEN 1 AND 5 THEN 'MKT-' || n.i ELSE NULL END, \
           CASE WHEN n.i % 20 = 6 THEN 'image_missing: The marketplace requires at least one image.' ELSE NULL END, \
           CASE WHEN n.i % 100 = 1 THEN 2 ELSE 1 END, \
           CASE WHEN n.i % 20 BETWEEN 1 AND 4 THEN 1 ELSE NULL END, \
           {ts}, {ts} \
         FROM s n CROSS JOIN p CROSS JOIN a CROSS JOIN c \
         WHERE p.k = n.i % 20 AND a.k = (n.i * 7) % 16 AND c.k = (n.i * 3) % 10"
    )
}
