use super::FieldError;

/// An ISO 4217 currency we can price in, with the number of digits after the decimal point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_digits: u32,
}

/// The currencies sellers on our marketplaces use. Kept as a table rather than a crate: we
/// need the code and its minor unit, nothing else.
const CURRENCIES: &[(&str, u32)] = &[
    ("AUD", 2),
    ("BGN", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("TRY", 2),
    ("USD", 2),
    ("ZAR", 2),
];

impl Currency {
    pub const EUR: Currency = Currency {
        code: "EUR",
        minor_digits: 2,
    };

    /// Parses a currency code; empty input means the default, EUR.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Ok(Self::EUR);
        }
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|&(code, minor_digits)| Currency { code, minor_digits })
            .ok_or_else(|| {
                FieldError::new(
                    "currency",
                    "invalid",
                    format!(
                        "“{}” is not a supported ISO 4217 currency code (e.g. EUR, USD, GBP).",
                        raw.trim()
                    ),
                )
            })
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn minor_digits(&self) -> u32 {
        self.minor_digits
    }
}

/// A non-negative amount in the currency's minor unit (cents for EUR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    minor: i64,
    currency: Currency,
}

impl Price {
    /// The highest price we accept: 99 999 999 major units.
    pub const MAX_MAJOR: i64 = 99_999_999;

    /// Parses a decimal with a dot (`12.50`, `12.5`, `12`) in the given currency.
    pub fn parse(raw: &str, currency: Currency) -> Result<Self, FieldError> {
        let value = raw.trim();
        let invalid = |message: String| FieldError::new("price", "invalid", message);
        if value.is_empty() {
            return Err(FieldError::new("price", "required", "Price is required."));
        }
        if value.starts_with('-') {
            return Err(FieldError::new(
                "price",
                "negative",
                "Price cannot be negative.",
            ));
        }
        if value.contains(',') {
            return Err(invalid("Use a dot for decimals, e.g. 12.50.".into()));
        }
        let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
        let digits = currency.minor_digits as usize;
        let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (value.contains('.') && fraction.is_empty())
        {
            return Err(invalid(format!(
                "“{value}” is not a price; write it like 12.50."
            )));
        }
        if fraction.len() > digits {
            return Err(invalid(if digits == 0 {
                format!("{} has no decimals; write a whole number.", currency.code)
            } else {
                format!("{} allows at most {digits} decimals.", currency.code)
            }));
        }
        let whole: i64 = whole
            .parse()
            .ok()
            .filter(|w| *w <= Self::MAX_MAJOR)
            .ok_or_else(|| {
                FieldError::new(
                    "price",
                    "too_large",
                    format!("Price must be at most {}.", Self::MAX_MAJOR),
                )
            })?;
        let scale = 10_i64.pow(currency.minor_digits);
        let fraction_minor: i64 = if fraction.is_empty() {
            0
        } else {
            // Right-pad "5" to "50" for a two-digit currency.
            format!("{fraction:0<digits$}")
                .parse()
                .map_err(|_| invalid("Price is not a number.".into()))?
        };
        Ok(Self {
            minor: whole * scale + fraction_minor,
            currency,
        })
    }

    /// Rebuilds a price read from storage.
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, FieldError> {
        if minor < 0 {
            return Err(FieldError::new(
                "price",
                "negative",
                "Price cannot be negative.",
            ));
        }
        Ok(Self { minor, currency })
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as a plain decimal (`12.50`), the inverse of [`Price::parse`].
    pub fn decimal(&self) -> String {
        format_decimal(self.minor, self.currency.minor_digits)
    }
}

/// Formats minor units as a decimal with the currency's digits.
pub fn format_decimal(minor: i64, minor_digits: u32) -> String {
    if minor_digits == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(minor_digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = minor_digits as usize
    )
}

impl std::fmt::Display for Price {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(raw: &str) -> Result<Price, FieldError> {
        Price::parse(raw, Currency::EUR)
    }

    #[test]
    fn decimal_with_dot_becomes_minor_units() {
        assert_eq!(eur("12.50").unwrap().minor(), 1250);
        assert_eq!(eur("12.5").unwrap().minor(), 1250);
        assert_eq!(eur("12").unwrap().minor(), 1200);
        assert_eq!(eur(" 0.07 ").unwrap().minor(), 7);
        assert_eq!(eur("0").unwrap().minor(), 0);
    }

    #[test]
    fn refusals_carry_a_code_a_seller_can_act_on() {
        assert_eq!(eur("").unwrap_err().code, "required");
        assert_eq!(eur("-1").unwrap_err().code, "negative");
        assert!(eur("12,50").unwrap_err().message.contains("dot"));
        assert_eq!(eur("12.505").unwrap_err().code, "invalid");
        assert_eq!(eur("abc").unwrap_err().code, "invalid");
        assert_eq!(eur("1e3").unwrap_err().code, "invalid");
        assert_eq!(eur("12.").unwrap_err().code, "invalid");
        assert_eq!(eur(".5").unwrap_err().code, "invalid");
        assert_eq!(eur("100000000").unwrap_err().code, "too_large");
        assert_eq!(
            eur("99999999999999999999999").unwrap_err().code,
            "too_large"
        );
    }

    #[test]
    fn zero_decimal_currencies_take_whole_numbers() {
        let yen = Currency::parse("jpy").unwrap();
        assert_eq!(Price::parse("1500", yen).unwrap().minor(), 1500);
        assert!(Price::parse("1500.5", yen).is_err());
        assert_eq!(Price::parse("1500", yen).unwrap().decimal(), "1500");
    }

    #[test]
    fn currency_defaults_to_eur_and_refuses_unknown_codes() {
        assert_eq!(Currency::parse("").unwrap(), Currency::EUR);
        assert_eq!(Currency::parse("usd").unwrap().code(), "USD");
        assert_eq!(Currency::parse("XYZ").unwrap_err().field, "currency");
    }

    #[test]
    fn decimal_round_trips() {
        for raw in ["0.00", "0.07", "12.50", "99999999.99"] {
            assert_eq!(eur(raw).unwrap().decimal(), raw);
        }
        assert_eq!(format_decimal(-5, 2), "-0.05");
    }
}
