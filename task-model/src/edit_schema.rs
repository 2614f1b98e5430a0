//! The API document's schemas of a bulk edit, written by hand because serde alone does
//! not say it all: a change names at least one of price, quantity and category (never
//! `null`), each op takes values of its own (a price set outright is not negative, a
//! percentage has two decimals), and amounts follow [`AMOUNT_PATTERN`].

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::edit::{
    CategoryChange, EditChange, PriceChange, QuantityChange, AMOUNT_PATTERN, PERCENT_PATTERN,
    PRICE_SET_PATTERN,
};

fn closed() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// One op's variant: `{op: name, value}`, nothing else.
fn op_variant(name: &str, value: ObjectBuilder) -> ObjectBuilder {
    closed()
        .required("op")
        .required("value")
        .property(
            "op",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([name])),
        )
        .property("value", value)
}

impl PartialSchema for EditChange {
    fn schema() -> RefOr<Schema> {
        closed()
            .description(Some(
                "What an edit changes: at least one of price, quantity and category.",
            ))
            .min_properties(Some(1))
            .property("price", Ref::from_schema_name(PriceChange::name()))
            .property("quantity", Ref::from_schema_name(QuantityChange::name()))
            .property("category", Ref::from_schema_name(CategoryChange::name()))
            .into()
    }
}

impl ToSchema for EditChange {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in [
            (PriceChange::name(), PriceChange::schema()),
            (QuantityChange::name(), QuantityChange::schema()),
            (CategoryChange::name(), CategoryChange::schema()),
        ] {
            schemas.push((name.into_owned(), schema));
        }
        <CategoryChange as ToSchema>::schemas(schemas);
    }
}

impl PartialSchema for PriceChange {
    fn schema() -> RefOr<Schema> {
        let variant = |name: &str, pattern: &str, example: &str| {
            let value = ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern))
                .examples([example]);
            op_variant(name, value).property(
                "end_99",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("Round each new price to end in .99.")),
            )
        };
        OneOfBuilder::new()
            .description(Some(
                "`set` the price, `add` an amount (negative to lower it), or `add_percent`.",
            ))
            .item(variant("set", PRICE_SET_PATTERN, "12.50"))
            .item(variant("add", AMOUNT_PATTERN, "-2.00"))
            .item(variant("add_percent", PERCENT_PATTERN, "10"))
            .into()
    }
}

impl ToSchema for PriceChange {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PriceChange")
    }
}

impl PartialSchema for QuantityChange {
    fn schema() -> RefOr<Schema> {
        let variant = |name: &str, minimum: Option<i64>| {
            let value = ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(minimum.unwrap_or(i64::MIN)))
                .maximum(Some(i64::MAX));
            op_variant(name, value)
        };
        OneOfBuilder::new()
            .description(Some("`set` the quantity (0 or more), or `add` to it."))
            .item(variant("set", Some(0)))
            .item(variant("add", None))
            .into()
    }
}

impl ToSchema for QuantityChange {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("QuantityChange")
    }
}
