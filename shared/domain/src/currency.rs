//! ISO 4217 currencies with their minor units.
//!
//! The table is the one place that knows how many decimals a currency has; rounding in
//! [`crate::money`] asks it and nothing else.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency that handoff can invoice in.
///
/// Only currencies listed in [`CURRENCIES`] parse: an unknown code is a validation error,
/// never a silent default.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    minor_units: u32,
}

/// Supported currencies: `(code, minor units)`, per ISO 4217.
pub const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PLN", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("TND", 3),
    ("USD", 2),
    ("ZAR", 2),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("unknown currency code {0:?}: expected an ISO 4217 code such as USD, EUR or JPY")]
    Unknown(String),
}

impl Currency {
    /// Looks a code up (case-sensitive, as ISO 4217 writes it: `USD`, not `usd`).
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|&(code, minor_units)| Currency { code, minor_units })
            .ok_or_else(|| CurrencyError::Unknown(code.to_owned()))
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point in the currency's smallest unit (USD 2, JPY 0, KWD 3).
    pub fn minor_units(self) -> u32 {
        self.minor_units
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code.to_owned()
    }
}

// Hand-written because the derive would tie `'de` to the `&'static str` field.
impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_follow_iso_4217() {
        let expected = [
            ("USD", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("CAD", 2),
            ("AUD", 2),
            ("CHF", 2),
            ("SEK", 2),
            ("JPY", 0),
            ("KWD", 3),
        ];
        for (code, minor) in expected {
            assert_eq!(
                Currency::parse(code).unwrap().minor_units(),
                minor,
                "{code}"
            );
        }
    }

    #[test]
    fn unknown_and_lowercase_codes_are_rejected() {
        for bad in ["usd", "XXX", "", "US", "EURO"] {
            assert_eq!(
                Currency::parse(bad),
                Err(CurrencyError::Unknown(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn serializes_as_the_code() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(serde_json::to_string(&usd).unwrap(), "\"USD\"");
        let back: Currency = serde_json::from_str("\"KWD\"").unwrap();
        assert_eq!(back.minor_units(), 3);
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
    }
}
