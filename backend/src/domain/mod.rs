//! Domain types that parse, not validate: once a value exists it is valid, so the rest of
//! the backend never re-checks it. Every parser returns a [`FieldError`] naming the field
//! and saying, in words a seller understands, what is wrong.

mod account;
mod item;
mod price;

pub use account::{Email, Password};
pub use item::{Category, Description, ImageUrl, ListingState, Quantity, Sku, Title};
pub use price::{format_decimal, Currency, Price};

/// Why one input field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The input's name as the client sent it (`sku`, `price`, …).
    pub field: &'static str,
    /// A stable machine-readable reason (`required`, `too_long`, `invalid`, …).
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

/// Trims and checks a required single-line text field.
fn required_line(
    field: &'static str,
    label: &str,
    raw: &str,
    max_chars: usize,
) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            format!("{label} is required."),
        ));
    }
    if value.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("{label} must be at most {max_chars} characters."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid",
            format!("{label} must be a single line without control characters."),
        ));
    }
    Ok(value.to_owned())
}
