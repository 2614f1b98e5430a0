use super::FieldError;

/// A seller's login e-mail, trimmed and lower-cased so lookups are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim().to_lowercase();
        let invalid = || {
            FieldError::new(
                "email",
                "invalid",
                "Enter an e-mail address like name@example.com.",
            )
        };
        if value.is_empty() {
            return Err(FieldError::new("email", "required", "E-mail is required."));
        }
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') || !domain.contains('.') {
            return Err(invalid());
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(invalid());
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password. Only length is enforced (NIST 800-63B): at least 10 characters,
/// at most 1024 so hashing cost stays bounded. Never printed by `Debug`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let count = raw.chars().count();
        if count < Self::MIN_CHARS {
            return Err(FieldError::new(
                "password",
                "too_short",
                format!("Password must be at least {} characters.", Self::MIN_CHARS),
            ));
        }
        if count > Self::MAX_CHARS {
            return Err(FieldError::new(
                "password",
                "too_long",
                format!("Password must be at most {} characters.", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        let email = Email::parse("  Demo@Stockroom.Test ").unwrap();
        assert_eq!(email.as_str(), "demo@stockroom.test");
    }

    #[test]
    fn email_without_at_or_domain_dot_is_refused() {
        for raw in [
            "",
            "demo",
            "demo@",
            "@stockroom.test",
            "demo@stockroom",
            "a@b@c.d",
            "de mo@x.io",
            "a@.x",
            "a@x..io",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn password_length_is_bounded() {
        assert_eq!(Password::parse("short").unwrap_err().code, "too_short");
        assert!(Password::parse("stockroom-demo").is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(1025)).unwrap_err().code,
            "too_long"
        );
    }

    #[test]
    fn password_debug_does_not_leak() {
        let password = Password::parse("stockroom-demo").unwrap();
        assert!(!format!("{password:?}").contains("stockroom"));
    }
}
