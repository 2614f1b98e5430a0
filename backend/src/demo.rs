//! The demo seller and their 300 items, so a fresh install has something to work with.

use chrono::{Duration, Utc};
use sea_orm::{Set, TransactionTrait};

use crate::accounts::{self, Seller};
use crate::catalog;
use crate::domain::{Email, ListingState, Password};
use crate::entities::item;

pub const DEMO_EMAIL: &str = "demo@stockroom.test";
pub const DEMO_PASSWORD: &str = "stockroom-demo";
pub const DEMO_ITEMS: usize = 300;

/// What [`ensure_demo_seller`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoSeed {
    Created(Seller),
    AlreadyThere(Seller),
}

/// Creates the demo seller with their items, once. Running it again changes nothing.
#[tracing::instrument(skip_all, err)]
pub async fn ensure_demo_seller(db: &sea_orm::DatabaseConnection) -> anyhow::Result<DemoSeed> {
    let email = Email::parse(DEMO_EMAIL).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(seller) = accounts::find_seller_by_email(db, &email).await? {
        return Ok(DemoSeed::AlreadyThere(seller));
    }
    let password = Password::parse(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!(e))?;
    let txn = db.begin().await?;
    let seller = accounts::create_seller(&txn, &email, Some("Demo Seller"), &password).await?;
    catalog::insert_many(&txn, demo_items(seller.id, DEMO_ITEMS)).await?;
    txn.commit().await?;
    Ok(DemoSeed::Created(seller))
}

/// Connects the demo seller to the sandbox's Amazon and eBay contracts (and its own
/// listings contract), once: a seller with connections keeps them as they are. Returns
/// how many were made.
pub async fn ensure_demo_connections(
    db: &sea_orm::DatabaseConnection,
    key: &crate::secrets::SecretKey,
    sandbox_url: &str,
) -> anyhow::Result<usize> {
    use crate::connections::{self, NewConnection};
    let email = Email::parse(DEMO_EMAIL).map_err(|e| anyhow::anyhow!(e))?;
    let Some(seller) = accounts::find_seller_by_email(db, &email).await? else {
        return Ok(0);
    };
    if !connections::list(db, seller.id).await?.is_empty() {
        return Ok(0);
    }
    let base = sandbox_url.trim_end_matches('/');
    let credentials = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let demo = [
        NewConnection {
            marketplace: "sandbox".into(),
            name: "Sandbox marketplace".into(),
            account: format!("seller-{}", seller.id),
            marketplace_id: None,
            credentials: Default::default(),
            base_url: None,
        },
        NewConnection {
            marketplace: "amazon".into(),
            name: "Amazon (sandbox)".into(),
            account: "A2DEMOSELLER01".into(),
            marketplace_id: None,
            credentials: credentials(&[
                ("client_id", "amzn1.application-oa2-client.stockroomdemo"),
                ("client_secret", "demo-client-secret"),
                ("refresh_token", "Atzr|stockroom-demo"),
            ]),
            base_url: Some(format!("{base}/amazon")),
        },
        NewConnection {
            marketplace: "ebay".into(),
            name: "eBay (sandbox)".into(),
            account: "stockroom-demo".into(),
            marketplace_id: None,
            credentials: credentials(&[
                ("client_id", "Stockroo-Demo-PRD-0a1b2c3d4-5e6f7a8b"),
                ("client_secret", "PRD-0a1b2c3d4e5f-6a7b-8c9d"),
                ("refresh_token", "v^1.1#i^1#f^0#r^1#stockroom-demo"),
            ]),
            base_url: Some(format!("{base}/ebay")),
        },
    ];
    let now = chrono::Utc::now();
    for new in &demo {
        connections::create(db, Some(key), seller.id, new, base, now).await?;
    }
    Ok(demo.len())
}

const ADJECTIVES: &[&str] = &[
    "Classic", "Vintage", "Organic", "Handmade", "Compact", "Deluxe", "Rustic", "Modern", "Travel",
    "Premium", "Everyday", "Nordic", "Bamboo", "Ceramic", "Linen", "Copper",
];
const COLOURS: &[&str] = &[
    "Blue",
    "Sage",
    "Charcoal",
    "Ivory",
    "Terracotta",
    "Mustard",
    "Navy",
    "Rose",
    "Olive",
    "Sand",
];
const PRODUCTS: &[(&str, &str, i64)] = &[
    ("Coffee Mug", "Kitchen", 1450),
    ("Tea Towel Set", "Kitchen", 1890),
    ("Chef's Knife", "Kitchen", 6900),
    ("Plant Pot", "Garden", 2250),
    ("Pruning Shears", "Garden", 2990),
    ("Watering Can", "Garden", 3400),
    ("Wooden Puzzle", "Toys", 1999),
    ("Plush Fox", "Toys", 2499),
    ("Notebook A5", "Stationery", 899),
    ("Fountain Pen", "Stationery", 4500),
    ("Desk Lamp", "Home", 5900),
    ("Throw Blanket", "Home", 7450),
    ("Wall Clock", "Home", 3999),
    ("Yoga Mat", "Sports", 3500),
    ("Water Bottle", "Sports", 2199),
    ("Backpack", "Bags", 8900),
    ("Tote Bag", "Bags", 1590),
    ("Wool Scarf", "Apparel", 3290),
    ("Beanie", "Apparel", 1990),
    ("Phone Stand", "Electronics", 1299),
];

/// Deterministic, varied rows: several categories, currencies, stock levels and listing
/// states, a few without a picture or with a zero price (the marketplace refuses those).
pub fn demo_items(seller_id: i64, count: usize) -> Vec<item::ActiveModel> {
    let now = Utc::now();
    (0..count)
        .map(|i| {
            let n = i + 1;
            let (product, category, base_price) = PRODUCTS[i % PRODUCTS.len()];
            let adjective = ADJECTIVES[(i * 7) % ADJECTIVES.len()];
            let colour = COLOURS[(i * 3) % COLOURS.len()];
            let title = format!("{adjective} {product} — {colour}");
            let price_minor = match n % 97 {
                0 => 0,
                _ => base_price + ((i as i64 * 37) % 20) * 50,
            };
            let currency = match n % 10 {
                0 => "USD",
                5 => "GBP",
                _ => "EUR",
            };
            let quantity = ((i * 13) % 60) as i32;
            let image_url = (n % 23 != 0).then(|| format!("/media/demo/{n}.svg"));
            let (state, listing_id, error) = match n % 20 {
                1..=4 => (ListingState::Published, Some(format!("MKT-{:06}", 100_000 + n)), None),
                5 => (ListingState::Unpublished, Some(format!("MKT-{:06}", 100_000 + n)), None),
                6 if n % 40 == 6 => (
                    ListingState::Failed,
                    None,
                    Some("image_missing: The marketplace requires at least one image.".to_owned()),
                ),
                _ => (ListingState::Draft, None, None),
            };
            let description = format!(
                "{title}. A {} favourite from our {} range.\nDimensions and care instructions on the label.",
                category.to_lowercase(),
                adjective.to_lowercase()
            );
            let updated_at = now - Duration::minutes((i as i64) * 17);
            item::ActiveModel {
                seller_id: Set(seller_id),
                sku: Set(format!("SR-{n:04}")),
                title: Set(title),
                description: Set(description),
                price_minor: Set(price_minor),
                currency: Set(currency.to_owned()),
                quantity: Set(quantity),
                image_url: Set(image_url),
                category: Set(Some(category.to_owned())),
                listing_state: Set(state.as_str().to_owned()),
                listing_id: Set(listing_id),
                last_listing_error: Set(error),
                version: Set(1),
                listed_version: Set((state == ListingState::Published).then_some(1)),
                created_at: Set(updated_at - Duration::days(3)),
                updated_at: Set(updated_at),
                ..Default::default()
            }
        })
        .collect()
}
