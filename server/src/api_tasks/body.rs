//! The body of `POST /api/v1/tasks` and `/preview`: what it may hold, read strictly, and
//! its schema, built from the task model — one variant per kind (and per way a chain may
//! go on), so a client knows before sending that an edit needs its `params`, that only
//! a publish may name a connection, and which `then` may follow which kind.

use app::catalog::ListingState;
use app::error::{AppError, FieldError};
use app::state::AppState;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use task_model::chain::{followers, through_connection};
use task_model::edit::EditChange;
use task_model::{Presentation, Subject};

use crate::api_error::ApiError;
use crate::extract::Checked;

/// The most items one task may take.
pub(crate) const MAX_ITEMS: usize = 50_000;

/// `{kind, item_ids}` or `{kind, filter}`, and what the kind takes besides. Its schema
/// in the document is [`schema`]'s, one variant per kind.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    pub kind: String,
    #[serde(default, deserialize_with = "present")]
    pub item_ids: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub filter: Option<FilterBody>,
    /// A publish leaves the items already live as they are (only the others are sent).
    #[serde(default)]
    pub leave_live: bool,
    /// An edit's change.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Map<String, Value>>,
    /// A second step that starts when this task ends, over the items it succeeded on.
    #[serde(default)]
    pub then: Option<String>,
    /// Start at this time (RFC 3339) instead of now; the task is `scheduled` until then.
    /// A time already past starts it at once.
    #[serde(default)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Publish and unpublish: which of the seller's connections.
    #[serde(default)]
    pub connection_id: Option<i64>,
}

/// Every item matching the catalog filter, as it is when the task starts.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterBody {
    /// Search in SKU and title.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub state: Option<ListingState>,
    /// Only items a running task has still to act on.
    #[serde(default)]
    pub in_task: bool,
    /// Only live items edited since they were published.
    #[serde(default)]
    pub changed: bool,
}

/// A field that may be left out but, when sent, is not `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(AppError::Validation {
        fields: vec![FieldError {
            field: field.into(),
            code: "invalid".into(),
            message: message.into(),
        }],
    })
}

fn refused(code: &str, message: impl Into<String>) -> ApiError {
    ApiError(AppError::Refused {
        code: code.into(),
        message: message.into(),
    })
}

/// The kinds this route starts: those over catalog items the seller picks in bulk.
pub(crate) fn item_kinds() -> impl Iterator<Item = &'static Presentation> {
    task_model::kinds::ALL
        .into_iter()
        .filter(|kind| kind.subject == Subject::CatalogItem && kind.listed && kind.in_bulk_bar)
}

/// The common mistakes, said in words and in the order a person would fix them, before
/// the schema validator has its word; what depends on the seller's catalog is
/// [`selected`]'s.
impl Checked for CreateBody {
    fn check(&self) -> Result<(), ApiError> {
        if !item_kinds().any(|kind| kind.name == self.kind) {
            let kinds: Vec<&str> = item_kinds().map(|kind| kind.name).collect();
            return Err(invalid(
                "kind",
                format!("kind must be one of: {}", kinds.join(", ")),
            ));
        }
        match (&self.item_ids, &self.filter) {
            (Some(ids), None) => {
                if ids.is_empty() || ids.len() > MAX_ITEMS {
                    return Err(invalid(
                        "item_ids",
                        format!("Send from 1 to {MAX_ITEMS} item ids."),
                    ));
                }
                if let Some(at) = ids.iter().position(|id| *id < 1) {
                    return Err(invalid(
                        &format!("item_ids[{at}]"),
                        "An item id is a whole number from 1.",
                    ));
                }
            }
            (None, Some(_)) => {}
            _ => return Err(invalid("item_ids", "Send either item_ids or filter.")),
        }
        if let Some(then) = &self.then {
            if !followers(&self.kind).iter().any(|kind| kind.name == then) {
                return Err(invalid(
                    "then",
                    format!("“{then}” cannot follow {}.", self.kind),
                ));
            }
        }
        if self.connection_id.is_some()
            && !through_connection(&self.kind)
            && !self.then.as_deref().is_some_and(through_connection)
        {
            return Err(invalid(
                "connection_id",
                "Only publish and unpublish (or a publish after this task) go through a marketplace connection.",
            ));
        }
        if self.connection_id.is_some_and(|id| id < 1) {
            return Err(invalid(
                "connection_id",
                "A connection id is a whole number from 1.",
            ));
        }
        self.edit_change().map(|_| ())
    }
}

impl CreateBody {
    /// An edit's change, read strictly (an unknown or misspelt field is refused, never
    /// ignored) and checked; `None` for other kinds, which take no `params`.
    pub fn edit_change(&self) -> Result<Option<EditChange>, ApiError> {
        if self.kind != task_model::kinds::EDIT.name {
            return match self.params {
                None => Ok(None),
                Some(_) => Err(invalid("params", "Only an edit takes params.")),
            };
        }
        let Some(params) = &self.params else {
            return Err(invalid(
                "params",
                "Say what to change: the price, the quantity or the category.",
            ));
        };
        let change: EditChange = serde_json::from_value(Value::Object(params.clone()))
            .map_err(|err| invalid("params", err.to_string()))?;
        backend::edits::check(&change).map_err(|err| invalid(&err.field, err.message))?;
        Ok(Some(change))
    }

    /// The parameters the estimate of the task's own step takes: the connection only
    /// when this step goes through one (an edit's connection is its next step's).
    pub fn estimate_params(&self, ids: &[i64]) -> Value {
        let mut params = self.task_params(ids);
        if !through_connection(&self.kind) {
            if let Some(map) = params.as_object_mut() {
                map.remove("connection_id");
            }
        }
        params
    }

    /// The task's parameters: its items, and what `params` add.
    pub fn task_params(&self, ids: &[i64]) -> Value {
        let mut params = serde_json::Map::new();
        params.insert("item_ids".into(), json!(ids));
        for (name, value) in self.params.iter().flatten() {
            if name != "item_ids" {
                params.insert(name.clone(), value.clone());
            }
        }
        if let Some(id) = self.connection_id {
            params.insert("connection_id".into(), json!(id));
        }
        Value::Object(params)
    }
}

/// What a checked body stands for: the seller's own items by id, or every item of the
/// seller's matching a filter (counted now, added to the task by the engine in chunks:
/// a million items never travel as ids).
pub(crate) enum Chosen {
    Ids(Vec<i64>),
    Matching {
        selection: backend::tasks::expand::Selection,
        count: u64,
    },
}

impl Chosen {
    pub fn count(&self) -> u64 {
        match self {
            Self::Ids(ids) => ids.len() as u64,
            Self::Matching { count, .. } => *count,
        }
    }

    /// The ids when the body named them, else none (`item_ids: []` in the task's
    /// parameters: the engine adds the items).
    pub fn ids(&self) -> &[i64] {
        match self {
            Self::Ids(ids) => ids,
            Self::Matching { .. } => &[],
        }
    }

    /// The items as ids, read from the filter when it named one, for what needs them
    /// one by one (an edit's preview); `None` past [`MAX_ITEMS`].
    pub async fn listed(
        &self,
        state: &AppState,
        seller: i64,
    ) -> Result<Option<Vec<i64>>, ApiError> {
        Ok(match self {
            Self::Ids(ids) => Some(ids.clone()),
            Self::Matching { count, .. } if *count as usize > MAX_ITEMS => None,
            Self::Matching { selection, .. } => Some(
                backend::catalog::matching_list(&state.db, seller, &selection.matching()).await?,
            ),
        })
    }
}

/// The catalog items a checked body stands for, the seller's own: ids that are not are a
/// 404 (`items_not_found`); a selection that comes to nothing, or ids too many, a 409.
pub(crate) async fn selected(
    state: &AppState,
    seller: i64,
    body: &CreateBody,
) -> Result<Chosen, ApiError> {
    if let Some(id) = body.connection_id {
        let connections = backend::connections::list(&state.db, seller)
            .await
            .map_err(AppError::from)?;
        if !connections.iter().any(|c| c.id == id) {
            return Err(crate::api_connections::not_yours(id));
        }
    }
    let leave_live = body.leave_live && Presentation::of(&body.kind).may_leave_live();
    let chosen = match (&body.item_ids, &body.filter) {
        (Some(ids), _) => {
            let mut wanted = ids.clone();
            wanted.sort_unstable();
            wanted.dedup();
            let owned = backend::catalog::owned_among(&state.db, seller, &wanted).await?;
            let missing = wanted.len() - owned.len();
            if missing > 0 {
                return Err(ApiError(AppError::Missing {
                    code: "items_not_found".into(),
                    message: format!("{missing} of these items are not in your catalog."),
                }));
            }
            let ids = if leave_live {
                backend::catalog::leave_live_out(&state.db, seller, &body.kind, wanted).await?
            } else {
                wanted
            };
            Chosen::Ids(ids)
        }
        (None, Some(filter)) => {
            let filter = app::catalog::ItemFilterParams {
                q: filter.q.clone(),
                state: filter.state,
                in_task: filter.in_task,
                changed: filter.changed,
            };
            let selection =
                backend::tasks::expand::Selection::of(&(&filter).into(), Vec::new(), leave_live);
            let (count, _) =
                backend::catalog::count_matching(&state.db, seller, &selection.matching()).await?;
            Chosen::Matching { selection, count }
        }
        (None, None) => return Err(invalid("item_ids", "Send either item_ids or filter.")),
    };
    if chosen.count() == 0 {
        return Err(refused("nothing_to_do", "No items to work on."));
    }
    if let Chosen::Ids(ids) = &chosen {
        if ids.len() > MAX_ITEMS {
            return Err(refused(
                "too_many_items",
                format!(
                    "At most {MAX_ITEMS} items per task by id; this selection has {}. Send a filter instead.",
                    ids.len()
                ),
            ));
        }
    }
    Ok(chosen)
}

/// The body's schema: one variant per kind over items, and for a kind that a publish
/// may follow, one with that `then` (where `connection_id` is allowed) and one without.
pub(crate) fn schema() -> Value {
    let mut variants = Vec::new();
    for kind in item_kinds() {
        let thens = followers(kind.name);
        let (via, not_via): (Vec<&str>, Vec<&str>) = thens
            .iter()
            .map(|then| then.name)
            .partition(|then| through_connection(kind.name) || through_connection(then));
        if through_connection(kind.name) || thens.is_empty() {
            let all: Vec<&str> = thens.iter().map(|then| then.name).collect();
            variants.push(variant(
                kind.name,
                &all,
                through_connection(kind.name),
                false,
            ));
            continue;
        }
        variants.push(variant(kind.name, &not_via, false, false));
        if !via.is_empty() {
            variants.push(variant(kind.name, &via, true, true));
        }
    }
    json!({
        "description": "A task over catalog items: `kind` and either `item_ids` or `filter`; an edit also takes `params`, and a task another kind may follow takes `then`.",
        "oneOf": variants,
    })
}

fn variant(kind: &str, thens: &[&str], connection: bool, then_required: bool) -> Value {
    let edit = kind == task_model::kinds::EDIT.name;
    let mut properties = json!({
        "kind": { "type": "string", "enum": [kind] },
        "item_ids": {
            "type": "array",
            "items": { "type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX },
            "minItems": 1,
            "maxItems": MAX_ITEMS,
        },
        "filter": { "$ref": "#/components/schemas/FilterBody" },
        "leave_live": { "type": "boolean", "description": "Leave the items already live as they are." },
        "start_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "Start at this time instead of now (`scheduled` until then); a time past starts it at once.",
        },
        "params": if edit {
            json!({ "$ref": "#/components/schemas/EditChange" })
        } else {
            json!({ "type": "null" })
        },
    });
    if !thens.is_empty() {
        properties["then"] = if then_required {
            json!({ "type": "string", "enum": thens })
        } else {
            let mut values: Vec<Value> = thens.iter().map(|then| json!(then)).collect();
            values.push(Value::Null);
            json!({ "type": ["string", "null"], "enum": values })
        };
    }
    if connection {
        properties["connection_id"] = json!({
            "type": ["integer", "null"],
            "format": "int64",
            "minimum": 1,
            "maximum": i64::MAX,
            "description": "Which of the seller's connections; needed when there are several.",
        });
    }
    let mut required = vec!["kind"];
    if edit {
        required.push("params");
    }
    if then_required {
        required.push("then");
    }
    let mut example = json!({ "kind": kind, "filter": { "state": "draft" } });
    if edit {
        example["params"] = json!({ "price": { "op": "add_percent", "value": "10" } });
    }
    if then_required {
        example["then"] = json!(thens[0]);
    }
    json!({
        "title": kind,
        "examples": [example],
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
        "oneOf": [
            { "required": ["item_ids"], "not": { "required": ["filter"] } },
            { "required": ["filter"], "not": { "required": ["item_ids"] } },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Result<CreateBody, ApiError> {
        crate::extract::parse(value.to_string().as_bytes())
    }

    fn checked(value: Value) -> Result<(), ApiError> {
        body(value)?.check()
    }

    #[test]
    fn one_variant_per_kind_and_the_edit_has_two() {
        let schema = schema();
        let titles: Vec<&str> = schema["oneOf"]
            .as_array()
            .expect("variants")
            .iter()
            .filter_map(|v| v["title"].as_str())
            .collect();
        assert_eq!(
            titles.len(),
            item_kinds().count() + 1,
            "the edit: with a publish after it (and a connection) or not: {titles:?}"
        );
        let edits: Vec<&Value> = schema["oneOf"]
            .as_array()
            .expect("variants")
            .iter()
            .filter(|v| v["title"] == "edit")
            .collect();
        assert!(edits.iter().all(|v| v["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("params")))));
        assert_eq!(
            edits
                .iter()
                .filter(|v| v["properties"].get("connection_id").is_some())
                .count(),
            1
        );
    }

    #[test]
    fn the_server_refuses_what_the_schema_refuses() {
        let refused = [
            json!({ "kind": "", "item_ids": [1] }),
            json!({ "kind": "import", "item_ids": [1] }),
            json!({ "kind": "publish", "item_ids": [] }),
            json!({ "kind": "publish", "item_ids": [0] }),
            json!({ "kind": "publish", "item_ids": null }),
            json!({ "kind": "publish" }),
            json!({ "kind": "publish", "item_ids": [1], "filter": {} }),
            json!({ "kind": "publish", "item_ids": [1], "then": "publish" }),
            json!({ "kind": "publish", "item_ids": [1], "params": {} }),
            json!({ "kind": "delete", "item_ids": [1], "connection_id": 2 }),
            json!({ "kind": "edit", "item_ids": [1] }),
            json!({ "kind": "edit", "item_ids": [1], "params": {} }),
            json!({ "kind": "edit", "item_ids": [1], "params": { "quantity": { "op": "set", "value": 1 } }, "connection_id": 2 }),
            json!({ "kind": "edit", "item_ids": [1], "params": { "quantity": { "op": "set", "value": 1 } }, "then": "delete" }),
            json!({ "kind": "publish", "item_ids": [9223372036854775808u64] }),
            json!({ "kind": "publish", "item_ids": [1], "colour": "red" }),
        ];
        for value in refused {
            assert!(checked(value.clone()).is_err(), "{value}");
        }
        let accepted = [
            json!({ "kind": "publish", "item_ids": [1, 1], "connection_id": 2, "leave_live": true }),
            json!({ "kind": "unpublish", "filter": { "state": "published" }, "start_at": null }),
            json!({ "kind": "publish", "item_ids": [1], "params": null, "then": null }),
            json!({ "kind": "edit", "item_ids": [1], "params": { "quantity": { "op": "set", "value": 1 } }, "then": "publish", "connection_id": 2 }),
            json!({ "kind": "edit", "filter": {}, "params": { "price": { "op": "add_percent", "value": "-10" } }, "then": "update_listings" }),
        ];
        for value in accepted {
            assert!(checked(value.clone()).is_ok(), "{value}");
        }
    }
}
