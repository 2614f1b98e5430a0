//! The one error type the UI and the server functions share. Every variant has a stable
//! code (for scripts and tests) and a message a seller can read.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// One refused input field, shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(into = "WireError", from = "WireError")]
pub enum AppError {
    #[error("Please log in to continue.")]
    Unauthorized,
    #[error("E-mail or password is incorrect.")]
    InvalidCredentials,
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    #[error("Not found.")]
    NotFound,
    #[error("{message}")]
    Conflict { message: String },
    /// Not possible in the current state of things (undoing a task that changed
    /// nothing): a 409 with its own code.
    #[error("{message}")]
    Refused { code: String, message: String },
    /// Something the request names that the seller does not have (items, a connection):
    /// a 404 with its own code and words.
    #[error("{message}")]
    Missing { code: String, message: String },
    /// Was there and is no more (an export's file after its days): a 410 with its own code.
    #[error("{message}")]
    Gone { code: String, message: String },
    /// Saving an item a running task is about to act on: asked before saving.
    #[error("{message}")]
    InTask { message: String },
    #[error("Some fields need attention.")]
    Validation { fields: Vec<FieldError> },
    #[error("{message}")]
    BadRequest { message: String },
    /// An uploaded file refused as a whole (too big: 413; unreadable or a bad header: 422).
    #[error("{message}")]
    File {
        code: String,
        message: String,
        too_large: bool,
    },
    #[error("This request came from another site and was refused.")]
    Forbidden,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The database could not grow (its disk is full): nothing of this request was saved,
    /// and what was saved before is whole. A 503: the same request works once space is
    /// freed.
    #[error("Stockroom has run out of storage space, so this change was not saved. Please try again later; if it keeps happening, tell whoever runs your Stockroom.")]
    StorageFull,
    /// The request never got a proper answer (network, decoding).
    #[error("Could not reach Stockroom: {0}")]
    Transport(String),
}

impl AppError {
    pub fn code(&self) -> &str {
        match self {
            Self::File { code, .. }
            | Self::Refused { code, .. }
            | Self::Gone { code, .. }
            | Self::Missing { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::RateLimited { .. } => "rate_limited",
            Self::NotFound => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::InTask { .. } => "item_in_task",
            Self::Validation { .. } => "validation_failed",
            Self::BadRequest { .. } => "bad_request",
            Self::Forbidden => "forbidden",
            Self::Internal => "internal",
            Self::StorageFull => "storage_full",
            Self::Transport(_) => "transport",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized | Self::InvalidCredentials => 401,
            Self::RateLimited { .. } => 429,
            Self::NotFound | Self::Missing { .. } => 404,
            Self::Gone { .. } => 410,
            Self::Conflict { .. } | Self::InTask { .. } | Self::Refused { .. } => 409,
            Self::Validation { .. } => 422,
            Self::BadRequest { .. } => 400,
            Self::File {
                too_large: true, ..
            } => 413,
            Self::File { .. } => 422,
            Self::Forbidden => 403,
            Self::Internal | Self::Transport(_) => 500,
            Self::StorageFull => 503,
        }
    }

    /// The message for one field, if validation refused it.
    pub fn field_message(&self, field: &str) -> Option<String> {
        match self {
            Self::Validation { fields } => fields
                .iter()
                .find(|f| f.field == field)
                .map(|f| f.message.clone()),
            _ => None,
        }
    }
}

/// How an error travels between the server and the browser (server functions, hydrated
/// resources): one flat record keyed by the stable code. The browser decodes this small
/// struct instead of an eleven-variant enum, from each reader serde_json uses there (a
/// tenth of a page's error-handling code).
#[derive(Serialize, Deserialize)]
struct WireError {
    code: String,
    message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_secs: Option<u64>,
    /// Present for a refused file only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    too_large: Option<bool>,
    /// Present for a refusal with its own code only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    refused: bool,
}

impl From<AppError> for WireError {
    fn from(err: AppError) -> Self {
        let code = err.code().to_owned();
        let message = match &err {
            AppError::Transport(message) => message.clone(),
            other => other.to_string(),
        };
        // A file that is gone, or a thing named that is missing, reads back as a refusal:
        // the browser only shows its words.
        let refused = matches!(
            err,
            AppError::Refused { .. } | AppError::Gone { .. } | AppError::Missing { .. }
        );
        let (fields, retry_after_secs, too_large) = match err {
            AppError::Validation { fields } => (fields, None, None),
            AppError::RateLimited { retry_after_secs } => {
                (Vec::new(), Some(retry_after_secs), None)
            }
            AppError::File { too_large, .. } => (Vec::new(), None, Some(too_large)),
            _ => (Vec::new(), None, None),
        };
        Self {
            code,
            message,
            fields,
            retry_after_secs,
            too_large,
            refused,
        }
    }
}

impl From<WireError> for AppError {
    fn from(wire: WireError) -> Self {
        let WireError {
            code,
            message,
            fields,
            retry_after_secs,
            too_large,
            refused,
        } = wire;
        if refused {
            return Self::Refused { code, message };
        }
        if let Some(too_large) = too_large {
            return Self::File {
                code,
                message,
                too_large,
            };
        }
        match code.as_str() {
            "unauthorized" => Self::Unauthorized,
            "invalid_credentials" => Self::InvalidCredentials,
            "rate_limited" => Self::RateLimited {
                retry_after_secs: retry_after_secs.unwrap_or(1),
            },
            "not_found" => Self::NotFound,
            "conflict" => Self::Conflict { message },
            "item_in_task" => Self::InTask { message },
            "validation_failed" => Self::Validation { fields },
            "bad_request" => Self::BadRequest { message },
            "forbidden" => Self::Forbidden,
            "internal" => Self::Internal,
            "storage_full" => Self::StorageFull,
            // "transport", or a code this build does not know: say what came.
            _ => Self::Transport(message),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;

    impl From<backend::domain::FieldError> for FieldError {
        fn from(err: backend::domain::FieldError) -> Self {
            Self {
                field: err.field.to_owned(),
                code: err.code.to_owned(),
                message: err.message,
            }
        }
    }

    impl From<backend::catalog::CatalogError> for AppError {
        fn from(err: backend::catalog::CatalogError) -> Self {
            use backend::catalog::CatalogError;
            match err {
                CatalogError::NotFound => Self::NotFound,
                CatalogError::Conflict { current } => Self::Conflict {
                    message: format!(
                        "Someone saved this item while you were editing it (it is now at version {}). Reload to see their changes, then edit again.",
                        current.version
                    ),
                },
                CatalogError::DuplicateSku(sku) => Self::Validation {
                    fields: vec![FieldError {
                        field: "sku".into(),
                        code: "taken".into(),
                        message: format!("Another item already has SKU {sku}."),
                    }],
                },
                CatalogError::Unexpected(err) => internal(err),
            }
        }
    }

    impl From<backend::connections::ConnectionError> for AppError {
        fn from(err: backend::connections::ConnectionError) -> Self {
            use backend::connections::ConnectionError;
            match err {
                ConnectionError::Invalid {
                    field,
                    code,
                    message,
                } => Self::Validation {
                    fields: vec![FieldError {
                        field: field.into(),
                        code: code.into(),
                        message,
                    }],
                },
                ConnectionError::NameTaken(name) => Self::Validation {
                    fields: vec![FieldError {
                        field: "name".into(),
                        code: "taken".into(),
                        message: format!("You already have a connection named “{name}”."),
                    }],
                },
                ConnectionError::NotFound => Self::NotFound,
                ConnectionError::NoKey => Self::Refused {
                    code: "secret_key_missing".into(),
                    message: "This server cannot keep marketplace credentials: it was started without STOCKROOM_SECRET_KEY.".into(),
                },
                ConnectionError::Sealed(err) => {
                    tracing::error!(error = %err, "connection credentials could not be opened");
                    Self::Refused {
                        code: "credentials_unreadable".into(),
                        message: "The credentials stored for this connection cannot be read with this server's key. Connect it again.".into(),
                    }
                }
                ConnectionError::InUse => Self::Refused {
                    code: "connection_in_use".into(),
                    message: "A task that has not ended publishes through this connection. Cancel it or let it finish first.".into(),
                },
                ConnectionError::Db(err) => internal(err),
            }
        }
    }

    /// Logs the whole chain once and gives the client a generic message, or, when the
    /// database's disk is full, says so (a 503: the same request works once space is
    /// freed).
    pub fn internal(err: impl std::fmt::Display) -> AppError {
        // `{:#}` prints an anyhow chain on one line.
        let chain = format!("{err:#}");
        tracing::error!(error = %chain, "request failed");
        if backend::db::storage_full(&chain) {
            AppError::StorageFull
        } else {
            AppError::Internal
        }
    }
}

#[cfg(feature = "ssr")]
pub use ssr::internal;

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each kind, with and without optional parts.
    fn every_kind() -> Vec<AppError> {
        vec![
            AppError::Unauthorized,
            AppError::InvalidCredentials,
            AppError::RateLimited {
                retry_after_secs: 7,
            },
            AppError::NotFound,
            AppError::Conflict {
                message: "changed".into(),
            },
            AppError::InTask {
                message: "This item is queued in Publishing 2 items.".into(),
            },
            AppError::Validation {
                fields: vec![FieldError {
                    field: "price".into(),
                    code: "invalid".into(),
                    message: "Use a dot.".into(),
                }],
            },
            AppError::Validation { fields: vec![] },
            AppError::BadRequest {
                message: "bad".into(),
            },
            AppError::File {
                code: "file_too_large".into(),
                message: "Too big.".into(),
                too_large: true,
            },
            AppError::File {
                code: "conflict".into(),
                message: "A file code that is also another variant's.".into(),
                too_large: false,
            },
            AppError::Forbidden,
            AppError::Internal,
            AppError::StorageFull,
            AppError::Transport("offline".into()),
        ]
    }

    #[test]
    fn every_error_has_a_code_a_status_and_a_message() {
        for err in every_kind() {
            assert!(!err.code().is_empty());
            assert!((400..600).contains(&err.status()));
            assert!(!err.to_string().is_empty());
        }
        assert!(AppError::RateLimited {
            retry_after_secs: 7
        }
        .to_string()
        .contains('7'));
    }

    #[test]
    fn every_error_survives_the_wire() {
        for err in every_kind() {
            let json = serde_json::to_string(&err).unwrap();
            let back: AppError = serde_json::from_str(&json).unwrap();
            assert_eq!(back, err, "{json}");
            let from_bytes: AppError = serde_json::from_slice(json.as_bytes()).unwrap();
            assert_eq!(from_bytes, err);
        }
        // The record names the code and the readable message.
        let json = serde_json::to_value(AppError::NotFound).unwrap();
        assert_eq!(json["code"], "not_found");
        assert_eq!(json["message"], "Not found.");
        // A code from another build still decodes, as what it says.
        let unknown: AppError =
            serde_json::from_str(r#"{"code":"gone_fishing","message":"Back soon."}"#).unwrap();
        assert_eq!(unknown, AppError::Transport("Back soon.".into()));
    }

    #[test]
    fn field_messages_are_found_by_name() {
        let err = AppError::Validation {
            fields: vec![FieldError {
                field: "price".into(),
                code: "invalid".into(),
                message: "Use a dot.".into(),
            }],
        };
        assert_eq!(err.field_message("price").as_deref(), Some("Use a dot."));
        assert_eq!(err.field_message("sku"), None);
    }
}
