//! The OpenAPI document of `/api/v1`, generated from the handlers: every API route is
//! registered through [`OpenApiRouter`], so a route cannot exist without being documented;
//! [`finish`] then adds what every operation shares.

pub mod bodies;
mod finish;

use app::catalog::ItemRow;
use app::state::AppState;
use app::tasks::{TaskItemView, TaskSummary};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stockroom API",
        version = "1",
        description = "Catalog, imports and background tasks for marketplace sellers. \
            Log in with POST /api/v1/login; the session cookie authenticates the rest. \
            Errors are {\"error\": {\"code\", \"message\"}} with the matching status."
    ),
    components(schemas(
        ItemRow, app::item_task::ItemTask, TaskSummary, TaskItemView, app::tasks::ItemErrorView,
        app::tasks::TaskCounts, app::tasks::FailureGroupView, app::catalog::ListingState,
        ErrorBody, ErrorDetail, FieldErrorBody, task_model::edit::EditChange,
        app::notifications::NotificationView, app::live::wire::Snapshot,
        app::live::wire::NotificationEvent
    )),
    tags(
        (name = "session", description = "Log in and out"),
        (name = "catalog", description = "The seller's items"),
        (name = "imports", description = "CSV uploads"),
        (name = "tasks", description = "Background tasks: follow, control, report"),
        (name = "connections", description = "The marketplaces a seller publishes to"),
        (name = "live", description = "The event stream and the notification centre"),
        (name = "health", description = "For load balancers"),
    )
)]
struct ApiDoc;

/// `{"error": {"code", "message"}}`
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, for scripts: `not_found`, `header_invalid`, `file_too_large`…
    code: String,
    /// For people.
    message: String,
    /// `validation_failed`: one entry per field that needs attention.
    #[schema(nullable = false)]
    fields: Option<Vec<FieldErrorBody>>,
}

/// A field that needs attention: `item_ids[3]`, `price`, `filter.state`…
#[derive(Serialize, utoipa::ToSchema)]
pub struct FieldErrorBody {
    field: String,
    /// `required`, `unknown`, `invalid`, `taken`…
    code: String,
    message: String,
}

/// The upload form: one CSV file in the field `file`, and nothing else.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read as multipart by the handlers; this says its shape.
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The schema of a page of one kind of thing: what [`crate::api::PageJson`] of it writes.
macro_rules! page_of {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)] // The handlers answer `PageJson`; this gives it a name per kind.
        pub struct $name {
            items: Vec<$item>,
            total: u64,
            page: u64,
            per_page: u64,
        }
    };
}

page_of!(ItemPage, ItemRow, "A page of the catalog's items.");
page_of!(TaskPage, TaskSummary, "A page of the seller's tasks.");
page_of!(TaskItemPage, TaskItemView, "A page of a task's items.");

/// A string that is one of `names`: the document's enum, built from the same list the
/// server checks against, never written out twice.
pub fn one_of<'a>(names: impl IntoIterator<Item = &'a str>) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names.into_iter().map(str::to_owned)))
        .build()
}

/// Every `/api/v1` route and `/healthz`, with the document that describes them.
pub fn router(
    import_limits: backend::imports::ImportLimits,
    sandbox_url: &str,
) -> (axum::Router<AppState>, serde_json::Value) {
    let connections = crate::api_connections::ConnectionRules::new(sandbox_url);
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::api::routes())
        .merge(crate::api_tasks::routes())
        .merge(crate::api_flows::routes())
        .merge(crate::api_connections::routes())
        .merge(crate::api_imports::routes(import_limits))
        .merge(crate::api_exports::routes())
        .merge(crate::api_live::routes())
        .routes(routes!(crate::healthz))
        .routes(routes!(crate::readyz))
        .split_for_parts();
    // Serialised once and shared: axum clones handlers into every connection, and a
    // captured document would be deep-copied each time (hundreds of KiB per connection).
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    // The task body's schema says per kind what serde's derive cannot: see its module.
    doc["components"]["schemas"]["CreateBody"] = crate::api_tasks::body::schema();
    doc["components"]["schemas"]["CreateConnection"] = connections.schema();
    let doc = finish::finish(doc);
    let schemas = std::sync::Arc::new(bodies::BodySchemas::from_doc(&doc));
    let served = axum::body::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    // Layered before the document's own route and the catch-all: only documented
    // operations carry the schemas their bodies are held to.
    let router = router
        .layer(axum::Extension(schemas))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let body = served.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route("/api/v1/{*rest}", axum::routing::any(no_such_route));
    (router, doc)
}

/// An unknown `/api/v1` path: a JSON 404 like every other API error.
async fn no_such_route() -> impl IntoResponse {
    (
        http::StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "error": { "code": "route_not_found", "message": "There is no such API endpoint. See /api/v1/openapi.json." }
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    #[test]
    fn each_page_schema_says_what_a_page_writes() {
        let page = crate::api::PageJson::<u8> {
            items: vec![],
            total: 0,
            page: 1,
            per_page: 20,
        };
        let written: Vec<String> = serde_json::to_value(&page)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        for schema in [
            ItemPage::schema(),
            TaskPage::schema(),
            TaskItemPage::schema(),
        ] {
            let schema = serde_json::to_value(schema).unwrap_or_default();
            let mut documented: Vec<String> = schema["properties"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            documented.sort();
            let mut written = written.clone();
            written.sort();
            assert_eq!(documented, written);
        }
    }
}
