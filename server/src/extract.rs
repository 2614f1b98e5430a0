//! How the API reads a request, so that it refuses exactly what its OpenAPI document
//! does not allow, in the API's error shape:
//! - a JSON body ([`Body`], [`OptionalBody`]): not JSON, or not sent as JSON, is a 400
//!   (`bad_request`); JSON of the wrong shape is a 422 (`validation_failed`) whose field
//!   error names the field (`item_ids[3]`); over the size limit is a 413;
//! - a query string ([`Query`]): a 400 naming the parameter;
//! - a path id ([`Id`]): a whole number from 1 to 2⁶³−1, else a 400 — never clamped.

use app::error::{AppError, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, Request};
use http::request::Parts;
use http::{header, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::Arc;

use crate::api_error::ApiError;
use crate::openapi::bodies::BodySchemas;

/// A JSON body the operation requires.
pub struct Body<T>(pub T);

/// A JSON body the operation may go without: no body at all, or `null`, is `None`.
pub struct OptionalBody<T>(pub Option<T>);

/// The query string, read into `T`.
pub struct Query<T>(pub T);

/// The `{id}` of the path.
#[derive(Clone, Copy, Debug)]
pub struct Id(pub i64);

fn bad(message: impl Into<String>) -> ApiError {
    ApiError(AppError::BadRequest {
        message: message.into(),
    })
}

/// What a body type checks beyond the shape serde reads, in plainer words than the
/// schema validator that runs after it (which has the last word: see
/// [`crate::openapi::bodies`]).
pub trait Checked {
    fn check(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The schemas of the operation a request is for, if the API router carries them.
struct Operation {
    schemas: Option<Arc<BodySchemas>>,
    method: String,
    path: Option<String>,
}

impl Operation {
    fn of(request: &Request) -> Self {
        Self {
            schemas: request.extensions().get::<Arc<BodySchemas>>().cloned(),
            method: request.method().as_str().to_owned(),
            path: request
                .extensions()
                .get::<MatchedPath>()
                .map(|path| path.as_str().to_owned()),
        }
    }

    fn check(&self, body: &serde_json::Value) -> Result<(), ApiError> {
        match (&self.schemas, &self.path) {
            (Some(schemas), Some(path)) => schemas.check(&self.method, path, body),
            _ => Ok(()),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Checked> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let operation = Operation::of(&request);
        let bytes = json_bytes(request, state).await?;
        if bytes.is_empty() {
            return Err(bad(
                "Send a JSON body (with Content-Type: application/json).",
            ));
        }
        let value = parse_value(&bytes)?;
        let body: T = typed(value.clone())?;
        body.check()?;
        operation.check(&value)?;
        Ok(Body(body))
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Checked> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let operation = Operation::of(&request);
        let bytes = json_bytes(request, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalBody(None));
        }
        let value = parse_value(&bytes)?;
        let body: Option<T> = typed(value.clone())?;
        if let Some(body) = &body {
            body.check()?;
        }
        operation.check(&value)?;
        Ok(OptionalBody(body))
    }
}

/// The body's bytes; an empty body passes whatever its type, any other must say it is
/// JSON.
async fn json_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_type);
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(AppError::File {
                    code: "body_too_large".into(),
                    message: "The request body is too large.".into(),
                    too_large: true,
                })
            } else {
                bad(rejection.body_text())
            }
        })?;
    if !bytes.is_empty() && !is_json {
        return Err(bad(
            "Send the body as JSON, with Content-Type: application/json.",
        ));
    }
    Ok(bytes)
}

fn is_json_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence[..essence.len() - 5].contains('/')
            && essence.to_ascii_lowercase().ends_with("+json"))
}

/// JSON into `T`: a syntax error is a 400, a shape error a 422 with the field it is about.
#[cfg(test)]
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    typed(parse_value(bytes)?)
}

/// The body as JSON (a 400 when it is not), whole floats made integers.
fn parse_value(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| bad(format!("The body is not valid JSON: {err}")))?;
    whole_numbers(&mut value);
    Ok(value)
}

/// JSON into `T`, a 422 naming the field serde could not read.
fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        ApiError(AppError::Validation {
            fields: vec![field_error(&path, err.inner())],
        })
    })
}

/// JSON Schema counts `3.0` as an integer: so do we, wherever it fits an `i64` (a
/// fraction, or a number beyond, stays as it is and is refused where a whole number is
/// wanted).
fn whole_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            if let Some(float) = number.as_f64() {
                // Only where a float is exact: a literal such as -9223372036854775809
                // reads as a float that rounds into range, and must stay out of it.
                const EXACT: f64 = 9_007_199_254_740_992.0; // 2⁵³
                let fits = float.fract() == 0.0 && float.abs() < EXACT;
                if fits {
                    *value = Value::from(float as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// serde's words, with the field they are about: the path to the value, or for a missing
/// or unknown field, that field under the path.
fn field_error(path: &str, err: &serde_json::Error) -> FieldError {
    let text = err.to_string();
    // serde_json adds where it was: the field says it better.
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(words, _)| words);
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    let under = |name: String| match path {
        "" | "." => name,
        path => format!("{path}.{name}"),
    };
    let (field, code) = if let Some(name) = named("missing field `") {
        (under(name), "required")
    } else if named("unknown field `").is_some() {
        // The path names the unknown field already.
        (path.to_owned(), "unknown")
    } else if path == "." || path.is_empty() {
        ("body".to_owned(), "invalid")
    } else {
        (path.to_owned(), "invalid")
    };
    FieldError {
        field,
        code: code.into(),
        message: upper_first(message),
    }
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| bad(rejection.body_text()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| bad(rejection.body_text()))?;
        parse_id(&raw).map(Id)
    }
}

/// A whole number as JSON Schema has it, written as text: `42`, and `42.0` or `4.2e1` as
/// long as the float is exact.
fn whole(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().or_else(|| {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2⁵³
        raw.parse::<f64>()
            .ok()
            .filter(|float| float.fract() == 0.0 && float.abs() < EXACT)
            .map(|float| float as i64)
    })
}

/// A query parameter that is a whole number (`page=2`, or `page=2.0`).
pub fn whole_param<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize as _;
    let raw: Option<String> = Option::deserialize(deserializer)?;
    raw.map(|raw| {
        whole(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("“{raw}” is not a whole number")))
    })
    .transpose()
}

/// An id as the document has it: a whole number from 1 to 2⁶³−1.
pub fn parse_id(raw: &str) -> Result<i64, ApiError> {
    match whole(raw) {
        Some(id) if id >= 1 => Ok(id),
        _ => Err(bad(format!(
            "The id must be a whole number from 1 to {}, not “{raw}”.",
            i64::MAX
        ))),
    }
}

/// The last page a list may be asked for (the document says the same): far past any
/// catalog, and small enough that no offset overflows.
pub const MAX_PAGE: i64 = 1_000_000;

/// A page of a list: `page` from 1 to [`MAX_PAGE`], `per_page` from 1 to `max` (the
/// document says the same); out of range is a 400, never clamped.
pub fn paging(
    page: Option<i64>,
    per_page: Option<i64>,
    default_per_page: u64,
    max: u64,
) -> Result<(u64, u64), ApiError> {
    let page = match page {
        None => 1,
        Some(page) => u64::try_from(page)
            .ok()
            .filter(|page| (1..=MAX_PAGE as u64).contains(page))
            .ok_or_else(|| bad(format!("page must be from 1 to {MAX_PAGE}, not {page}")))?,
    };
    let per_page = match per_page {
        None => default_per_page,
        Some(n) => u64::try_from(n)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| bad(format!("per_page must be from 1 to {max}, not {n}")))?,
    };
    Ok((page, per_page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Selection {
        item_ids: Option<Vec<i64>>,
        kind: String,
    }

    fn fields(result: Result<Selection, ApiError>) -> Vec<FieldError> {
        match result {
            Err(ApiError(AppError::Validation { fields })) => fields,
            Err(ApiError(other)) => panic!("expected a field error, got {other:?}"),
            Ok(value) => panic!("expected a field error, got {value:?}"),
        }
    }

    #[test]
    fn a_shape_error_names_its_field() {
        let out_of_range = fields(parse(
            br#"{"kind":"publish","item_ids":[1,9223372036854775808]}"#,
        ));
        assert_eq!(out_of_range[0].field, "item_ids[1]");
        assert_eq!(out_of_range[0].code, "invalid");
        let missing = fields(parse(br#"{"item_ids":[]}"#));
        assert_eq!(
            (missing[0].field.as_str(), missing[0].code.as_str()),
            ("kind", "required")
        );
        let unknown = fields(parse(br#"{"kind":"x","colour":1}"#));
        assert_eq!(
            (unknown[0].field.as_str(), unknown[0].code.as_str()),
            ("colour", "unknown")
        );
        let whole = fields(parse(b"\"text\""));
        assert_eq!(whole[0].field, "body");
        assert!(!whole[0].message.contains("line 1"), "{}", whole[0].message);
    }

    #[test]
    fn whole_floats_are_integers_as_json_schema_says() {
        let ok: Result<Selection, _> = parse(br#"{"kind":"x","item_ids":[-249.0, 3, 1e3]}"#);
        assert_eq!(ok.ok().and_then(|s| s.item_ids), Some(vec![-249, 3, 1000]));
        let fraction = fields(parse(br#"{"kind":"x","item_ids":[1.5]}"#));
        assert_eq!(fraction[0].field, "item_ids[0]");
        for beyond in [
            &br#"{"kind":"x","item_ids":[9.3e18]}"#[..],
            br#"{"kind":"x","item_ids":[-9223372036854775809]}"#,
        ] {
            assert_eq!(fields(parse(beyond))[0].field, "item_ids[0]");
        }
    }

    #[test]
    fn not_json_is_a_bad_request() {
        for body in [&b"{"[..], b"{\"kind\":\"x\"} trailing", b"nope"] {
            let result: Result<Selection, _> = parse(body);
            assert!(
                matches!(result, Err(ApiError(AppError::BadRequest { .. }))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn ids_and_pages_are_refused_out_of_range_never_clamped() {
        assert_eq!(parse_id("42").ok(), Some(42));
        assert_eq!(
            parse_id("42.0").ok(),
            Some(42),
            "an integer, as JSON Schema counts"
        );
        for raw in [
            "0",
            "-1",
            "9223372036854775808",
            "4.5",
            "1e300",
            "inf",
            "NaN",
            "x",
            "",
        ] {
            assert!(parse_id(raw).is_err(), "{raw}");
        }
        assert_eq!(paging(None, None, 50, 200).ok(), Some((1, 50)));
        assert_eq!(paging(Some(3), Some(200), 50, 200).ok(), Some((3, 200)));
        assert!(paging(Some(0), None, 50, 200).is_err());
        assert!(paging(None, Some(0), 50, 200).is_err());
        assert!(paging(None, Some(201), 50, 200).is_err());
        assert!(paging(Some(-5), None, 50, 200).is_err());
        assert!(paging(Some(MAX_PAGE), None, 50, 200).is_ok());
        assert!(paging(Some(MAX_PAGE + 1), None, 50, 200).is_err());
    }

    #[test]
    fn json_types() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json_type(yes), "{yes}");
        }
        for no in [
            "text/plain",
            "application/jsonx",
            "+json",
            "multipart/form-data",
        ] {
            assert!(!is_json_type(no), "{no}");
        }
    }
}
