use super::{required_line, FieldError};

/// A stock-keeping unit: 1–64 characters of letters, digits and `-_./`, unique per seller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = required_line("sku", "SKU", raw, Self::MAX_CHARS)?;
        if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_./".contains(*c)))
        {
            return Err(FieldError::new(
                "sku",
                "invalid",
                format!("SKU may contain letters, digits and - _ . / only, not “{bad}”."),
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An item title: one line, 1–200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        required_line("title", "Title", raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text, several lines allowed, at most 5 000 characters; may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 5_000;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim();
        if value.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                "description",
                "too_long",
                format!(
                    "Description must be at most {} characters.",
                    Self::MAX_CHARS
                ),
            ));
        }
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(FieldError::new(
                "description",
                "invalid",
                "Description contains control characters.",
            ));
        }
        Ok(Self(value.replace("\r\n", "\n")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Units in stock: a whole number from 0 to 1 000 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quantity(i32);

impl Quantity {
    pub const MAX: i32 = 1_000_000;

    /// Parses a quantity; empty input means 0.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim();
        if value.is_empty() {
            return Ok(Self(0));
        }
        if value.starts_with('-') {
            return Err(FieldError::new(
                "quantity",
                "negative",
                "Quantity cannot be negative.",
            ));
        }
        let parsed: i64 = value.parse().map_err(|_| {
            FieldError::new(
                "quantity",
                "invalid",
                format!("“{value}” is not a whole number."),
            )
        })?;
        i32::try_from(parsed)
            .ok()
            .filter(|q| *q <= Self::MAX)
            .map(Self)
            .ok_or_else(|| {
                FieldError::new(
                    "quantity",
                    "too_large",
                    format!("Quantity must be at most {}.", Self::MAX),
                )
            })
    }

    pub fn value(&self) -> i32 {
        self.0
    }
}

/// An optional picture: an absolute http(s) URL, or a path on this server (`/media/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl(String);

impl ImageUrl {
    pub const MAX_CHARS: usize = 2_000;

    /// Parses an image URL; empty input means "no image".
    pub fn parse(raw: &str) -> Result<Option<Self>, FieldError> {
        let value = raw.trim();
        if value.is_empty() {
            return Ok(None);
        }
        let invalid = || {
            FieldError::new(
                "image_url",
                "invalid",
                "Image URL must start with http:// or https://.",
            )
        };
        if value.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                "image_url",
                "too_long",
                format!("Image URL must be at most {} characters.", Self::MAX_CHARS),
            ));
        }
        if value.starts_with('/') && !value.starts_with("//") {
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid());
            }
            return Ok(Some(Self(value.to_owned())));
        }
        let url = url::Url::parse(value).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid());
        }
        Ok(Some(Self(url.into())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional category label, one line, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category(String);

impl Category {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Option<Self>, FieldError> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        required_line("category", "Category", raw, Self::MAX_CHARS).map(|c| Some(Self(c)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an item stands on the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingState {
    /// Never published. Set on creation; left by a successful publish.
    Draft,
    /// Live on the marketplace. Set by a successful publish; left by unpublish or a failure.
    Published,
    /// Taken down by the seller. Set by unpublish; left by a new publish.
    Unpublished,
    /// The last listing attempt failed; `last_listing_error` says why. Left by a successful retry.
    Failed,
}

impl ListingState {
    pub const ALL: [ListingState; 4] = [
        Self::Draft,
        Self::Published,
        Self::Unpublished,
        Self::Failed,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Unpublished => "unpublished",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim())
            .ok_or_else(|| {
                FieldError::new(
                    "state",
                    "invalid",
                    "State must be one of draft, published, unpublished, failed.",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_allows_the_usual_punctuation_and_nothing_else() {
        assert_eq!(
            Sku::parse("  SR-0001/blue.L_2 ").unwrap().as_str(),
            "SR-0001/blue.L_2"
        );
        assert_eq!(Sku::parse("").unwrap_err().code, "required");
        assert_eq!(Sku::parse("A B").unwrap_err().code, "invalid");
        assert_eq!(Sku::parse("Ä1").unwrap_err().code, "invalid");
        assert_eq!(Sku::parse(&"A".repeat(65)).unwrap_err().code, "too_long");
    }

    #[test]
    fn title_is_one_trimmed_line() {
        assert_eq!(Title::parse("  Blue mug ").unwrap().as_str(), "Blue mug");
        assert_eq!(Title::parse("   ").unwrap_err().code, "required");
        assert_eq!(Title::parse("a\nb").unwrap_err().code, "invalid");
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert_eq!(Title::parse(&"é".repeat(201)).unwrap_err().code, "too_long");
    }

    #[test]
    fn description_keeps_lines_and_normalises_newlines() {
        assert_eq!(Description::parse("a\r\nb").unwrap().as_str(), "a\nb");
        assert_eq!(Description::parse("").unwrap().as_str(), "");
        assert_eq!(
            Description::parse(&"x".repeat(5001)).unwrap_err().code,
            "too_long"
        );
        assert_eq!(Description::parse("bell\u{7}").unwrap_err().code, "invalid");
    }

    #[test]
    fn quantity_is_a_bounded_whole_number() {
        assert_eq!(Quantity::parse("").unwrap().value(), 0);
        assert_eq!(Quantity::parse(" 42 ").unwrap().value(), 42);
        assert_eq!(Quantity::parse("-1").unwrap_err().code, "negative");
        assert_eq!(Quantity::parse("1.5").unwrap_err().code, "invalid");
        assert_eq!(Quantity::parse("1000001").unwrap_err().code, "too_large");
        assert_eq!(
            Quantity::parse("99999999999999").unwrap_err().code,
            "too_large"
        );
    }

    #[test]
    fn image_url_is_http_or_a_local_path() {
        assert_eq!(ImageUrl::parse("").unwrap(), None);
        assert!(ImageUrl::parse("https://img.example.com/a.jpg")
            .unwrap()
            .is_some());
        assert!(ImageUrl::parse("/media/demo/1.svg").unwrap().is_some());
        assert!(ImageUrl::parse("javascript:alert(1)").is_err());
        assert!(ImageUrl::parse("//evil.example/x").is_err());
        assert!(ImageUrl::parse("ftp://x.example/a").is_err());
    }

    #[test]
    fn listing_state_round_trips() {
        for state in ListingState::ALL {
            assert_eq!(ListingState::parse(state.as_str()).unwrap(), state);
        }
        assert!(ListingState::parse("live").is_err());
    }
}
