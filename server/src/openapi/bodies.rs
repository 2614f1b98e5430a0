//! Every JSON request body held to the schema the finished document gives its operation:
//! the server takes exactly what the document promises, checked by a JSON Schema
//! validator (draft 2020-12, formats included) over the document itself, never by a
//! second, hand-written copy of its rules. The handlers' own checks come first only to
//! say the common mistakes in plainer words.

use std::collections::HashMap;

use app::error::{AppError, FieldError};
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::{json, Value};

use crate::api_error::ApiError;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
/// The most field errors one answer lists.
const MOST_ERRORS: usize = 10;

/// A validator per operation that takes a JSON body, by `METHOD /path` (the path as the
/// router and the document both write it: `/api/v1/tasks/{id}/retry`).
pub struct BodySchemas {
    by_operation: HashMap<String, Validator>,
}

fn key(method: &str, path: &str) -> String {
    format!("{} {path}", method.to_ascii_uppercase())
}

impl BodySchemas {
    /// Compiles the document's body schemas. The document is this server's own, so a
    /// schema that does not compile is a bug, found at start-up by every test.
    pub fn from_doc(doc: &Value) -> Self {
        let components = doc["components"].clone();
        let mut by_operation = HashMap::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in METHODS {
                let schema = &item[method]["requestBody"]["content"]["application/json"]["schema"];
                if schema.is_null() {
                    continue;
                }
                let root = json!({ "components": components, "allOf": [schema] });
                let validator = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|err| {
                        panic!("the body schema of {method} {path} does not compile: {err}")
                    });
                by_operation.insert(key(method, path), validator);
            }
        }
        Self { by_operation }
    }

    /// Whether the operation documents a JSON body.
    pub fn has(&self, method: &str, path: &str) -> bool {
        self.by_operation.contains_key(&key(method, path))
    }

    /// The body against its operation's schema: a 422 naming each field that is off.
    pub fn check(&self, method: &str, path: &str, body: &Value) -> Result<(), ApiError> {
        let Some(validator) = self.by_operation.get(&key(method, path)) else {
            return Ok(());
        };
        let mut fields = Vec::new();
        for err in validator.iter_errors(body) {
            explain(&err, &mut fields);
        }
        fields.truncate(MOST_ERRORS);
        if fields.is_empty() {
            Ok(())
        } else {
            Err(ApiError(AppError::Validation { fields }))
        }
    }
}

/// One validator error as field errors. A `oneOf` that nothing matched is explained by
/// the variant the body meant — the one whose single-valued `enum` (`kind`, `marketplace`,
/// `op`) it matches — or else the one it came closest to.
fn explain(err: &ValidationError<'_>, out: &mut Vec<FieldError>) {
    let path = err.instance_path().as_str();
    let (field, code) = match err.kind() {
        ValidationErrorKind::OneOfNotValid { context } => {
            let meant = context.iter().min_by_key(|errors| {
                let missed_its_name = errors.iter().any(|e| match e.kind() {
                    ValidationErrorKind::Enum { options } => {
                        options.as_array().is_some_and(|o| o.len() == 1)
                    }
                    ValidationErrorKind::Constant { .. } => true,
                    _ => false,
                });
                (missed_its_name, errors.len())
            });
            if let Some(errors) = meant.filter(|errors| !errors.is_empty()) {
                for err in errors {
                    explain(err, out);
                }
                return;
            }
            (field_name(path), "invalid")
        }
        ValidationErrorKind::Required { property } => (
            field_name(&format!("{path}/{}", property.as_str().unwrap_or_default())),
            "required",
        ),
        ValidationErrorKind::AdditionalProperties { unexpected } => (
            field_name(&format!(
                "{path}/{}",
                unexpected.first().map(String::as_str).unwrap_or_default()
            )),
            "unknown",
        ),
        _ => (field_name(path), "invalid"),
    };
    out.push(FieldError {
        field,
        code: code.into(),
        message: upper_first(&err.to_string()),
    });
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `/item_ids/3` → `item_ids[3]`, `/filter/state` → `filter.state`, `` → `body`.
fn field_name(pointer: &str) -> String {
    let mut name = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            name.push_str(&format!("[{segment}]"));
        } else {
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(&segment);
        }
    }
    if name.is_empty() {
        "body".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "paths": {
                "/api/v1/things/{id}": { "post": { "requestBody": { "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Thing" } } } } } },
                "/api/v1/things": { "get": {} },
            },
            "components": { "schemas": { "Thing": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "ids": { "type": "array", "items": { "type": "integer", "minimum": 1 } },
                    "at": { "type": "string", "format": "date-time" },
                },
            } } }
        })
    }

    #[test]
    fn a_body_is_held_to_its_operations_schema_and_errors_name_the_field() {
        let schemas = BodySchemas::from_doc(&doc());
        assert!(schemas.has("post", "/api/v1/things/{id}"));
        assert!(!schemas.has("get", "/api/v1/things"));
        let path = "/api/v1/things/{id}";
        assert!(schemas
            .check("POST", path, &json!({ "ids": [1, 2.0] }))
            .is_ok());
        let fields = |body: Value| match schemas.check("POST", path, &body) {
            Err(ApiError(AppError::Validation { fields })) => fields,
            _ => panic!("expected field errors for {body}"),
        };
        assert_eq!(fields(json!({ "ids": [1, 0] }))[0].field, "ids[1]");
        assert_eq!(fields(json!({ "at": "2026-12-03 10:00" }))[0].field, "at");
        let unknown = fields(json!({ "colour": 1 }));
        assert_eq!(
            (unknown[0].field.as_str(), unknown[0].code.as_str()),
            ("colour", "unknown")
        );
        assert_eq!(fields(json!([null, null]))[0].field, "body");
        assert!(schemas
            .check("POST", "/api/v1/elsewhere", &json!([]))
            .is_ok());
    }

    #[test]
    fn a_one_of_is_explained_by_the_variant_the_body_meant() {
        let schemas = BodySchemas::from_doc(&json!({
            "paths": { "/api/v1/tasks": { "post": { "requestBody": { "content": { "application/json": {
                "schema": { "oneOf": [
                    { "type": "object", "required": ["kind"], "properties": { "kind": { "enum": ["publish"] } } },
                    { "type": "object", "required": ["kind", "params"], "properties": {
                        "kind": { "enum": ["edit"] }, "params": { "type": "object" } } },
                ] } } } } } } },
            "components": {},
        }));
        let Err(ApiError(AppError::Validation { fields })) =
            schemas.check("POST", "/api/v1/tasks", &json!({ "kind": "edit" }))
        else {
            panic!("an edit needs params");
        };
        assert_eq!(
            (fields[0].field.as_str(), fields[0].code.as_str()),
            ("params", "required")
        );
    }

    #[test]
    fn pointers_become_field_names() {
        assert_eq!(field_name(""), "body");
        assert_eq!(field_name("/item_ids/3"), "item_ids[3]");
        assert_eq!(field_name("/filter/state"), "filter.state");
        assert_eq!(field_name("/params/price/value"), "params.price.value");
        assert_eq!(field_name("/credentials/a~1b"), "credentials.a/b");
    }
}
