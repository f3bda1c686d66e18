//! Exact money: a `Decimal` amount in one currency.
//!
//! Rounding happens in one place, [`Money::round_to_minor_units`]: half-up, away from zero,
//! to the currency's minor unit (DESIGN §4.2). Raw (unrounded) amounts exist, for example
//! `quantity × unit rate` before a line is finalised, but every amount a customer sees is
//! rounded exactly once.

use crate::currency::Currency;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in one currency. Amounts are serialised as decimal strings.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    amount: Decimal,
    currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency mismatch: cannot combine {left} with {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount overflow while computing in {currency}")]
    Overflow { currency: Currency },
    #[error("amount {amount} has more decimals than {currency} allows ({minor_units})")]
    TooPrecise {
        amount: Decimal,
        currency: Currency,
        minor_units: u32,
    },
}

impl Money {
    /// A raw amount, kept exactly as given (it may carry more decimals than the currency).
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// An amount that must already be expressible in the currency's minor units, as an
    /// invoice total or a payment is: `12.345 USD` is an error, not silently rounded.
    pub fn exact(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let money = Money::new(amount, currency);
        if money.round_to_minor_units().amount == amount {
            Ok(money)
        } else {
            Err(MoneyError::TooPrecise {
                amount,
                currency,
                minor_units: currency.minor_units(),
            })
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Money::new(Decimal::ZERO, currency)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The single rounding rule of handoff: half-up (away from zero) to the minor unit.
    pub fn round_to_minor_units(&self) -> Money {
        let rounded = self.amount.round_dp_with_strategy(
            self.currency.minor_units(),
            RoundingStrategy::MidpointAwayFromZero,
        );
        Money::new(rounded, self.currency)
    }

    pub fn is_rounded(&self) -> bool {
        self.round_to_minor_units().amount == self.amount
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(MoneyError::Overflow {
                currency: self.currency,
            })
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.checked_add(&other.negate())
    }

    /// `self × factor`, unrounded (a quantity × a unit rate, a tax rate, a markup).
    pub fn checked_mul(&self, factor: Decimal) -> Result<Money, MoneyError> {
        self.amount
            .checked_mul(factor)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(MoneyError::Overflow {
                currency: self.currency,
            })
    }

    pub fn negate(&self) -> Money {
        Money::new(-self.amount, self.currency)
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    /// Sums amounts of one currency; an empty sum is zero in `currency`.
    pub fn sum<'a>(
        currency: Currency,
        amounts: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), |total, m| total.checked_add(m))
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    /// `1234.50 USD`: rounded amounts show exactly the currency's decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.amount;
        if self.is_rounded() {
            shown.rescale(self.currency.minor_units());
        }
        write!(f, "{shown} {}", self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }
    fn money(amount: &str, code: &str) -> Money {
        Money::new(dec(amount), cur(code))
    }

    #[test]
    fn rounds_half_away_from_zero_to_minor_units() {
        let cases = [
            ("0.005", "USD", "0.01"),
            ("0.004", "USD", "0.00"),
            ("-0.005", "USD", "-0.01"),
            ("2.675", "EUR", "2.68"),
            ("1234.5", "JPY", "1235"),
            ("-1234.5", "JPY", "-1235"),
            ("1.0005", "KWD", "1.001"),
            ("1.0004", "KWD", "1.000"),
            ("12.345", "GBP", "12.35"),
        ];
        for (raw, code, want) in cases {
            let got = money(raw, code).round_to_minor_units();
            assert_eq!(got.amount(), dec(want), "{raw} {code}");
        }
    }

    #[test]
    fn displays_exactly_the_currency_decimals() {
        assert_eq!(money("1234.5", "USD").to_string(), "1234.50 USD");
        assert_eq!(money("7", "KWD").to_string(), "7.000 KWD");
        assert_eq!(money("1500", "JPY").to_string(), "1500 JPY");
        assert_eq!(money("0.125", "USD").to_string(), "0.125 USD");
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let err = money("1", "USD")
            .checked_add(&money("1", "EUR"))
            .unwrap_err();
        assert_eq!(
            err,
            MoneyError::CurrencyMismatch {
                left: cur("USD"),
                right: cur("EUR")
            }
        );
        assert!(err.to_string().contains("USD") && err.to_string().contains("EUR"));
        let sum = Money::sum(cur("USD"), &[money("1", "USD"), money("2", "GBP")]);
        assert!(matches!(sum, Err(MoneyError::CurrencyMismatch { .. })));
    }

    #[test]
    fn exact_rejects_sub_minor_precision() {
        assert!(Money::exact(dec("10.50"), cur("USD")).is_ok());
        assert!(Money::exact(dec("10.505"), cur("USD")).is_err());
        assert!(Money::exact(dec("10.5"), cur("JPY")).is_err());
        assert!(Money::exact(dec("10.505"), cur("KWD")).is_ok());
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let huge = Money::new(Decimal::MAX, cur("USD"));
        assert!(matches!(
            huge.checked_add(&huge),
            Err(MoneyError::Overflow { .. })
        ));
        assert!(matches!(
            huge.checked_mul(dec("2")),
            Err(MoneyError::Overflow { .. })
        ));
    }

    #[test]
    fn serializes_amount_as_string() {
        let json = serde_json::to_value(money("1234.50", "USD")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"amount": "1234.50", "currency": "USD"})
        );
        let back: Money =
            serde_json::from_value(serde_json::json!({"amount": "0.10", "currency": "EUR"}))
                .unwrap();
        assert_eq!(back, money("0.10", "EUR"));
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(crate::currency::CURRENCIES.to_vec())
            .prop_map(|(code, _)| Currency::parse(code).unwrap())
    }

    /// Amounts up to 10^12 with up to 6 decimals: wider than any invoice line.
    fn any_amount() -> impl Strategy<Value = Decimal> {
        (
            -1_000_000_000_000_000_000i128..1_000_000_000_000_000_000i128,
            0u32..=6,
        )
            .prop_map(|(mantissa, scale)| Decimal::from_i128_with_scale(mantissa, scale))
    }

    proptest! {
        #[test]
        fn rounding_is_idempotent_and_within_half_a_minor_unit(
            amount in any_amount(), currency in any_currency()
        ) {
            let rounded = Money::new(amount, currency).round_to_minor_units();
            prop_assert_eq!(rounded.round_to_minor_units(), rounded);
            prop_assert!(rounded.is_rounded());
            let half_unit = Decimal::new(5, currency.minor_units() + 1);
            prop_assert!((rounded.amount() - amount).abs() <= half_unit);
        }

        #[test]
        fn rounding_is_symmetric_around_zero(amount in any_amount(), currency in any_currency()) {
            let pos = Money::new(amount, currency).round_to_minor_units();
            let neg = Money::new(-amount, currency).round_to_minor_units();
            prop_assert_eq!(pos.amount(), -neg.amount());
        }

        #[test]
        fn addition_is_exact_commutative_and_reversible(
            a in any_amount(), b in any_amount(), currency in any_currency()
        ) {
            let (x, y) = (Money::new(a, currency), Money::new(b, currency));
            let sum = x.checked_add(&y).unwrap();
            prop_assert_eq!(sum, y.checked_add(&x).unwrap());
            prop_assert_eq!(sum.checked_sub(&y).unwrap().amount(), a);
        }

        #[test]
        fn sum_of_rounded_amounts_stays_rounded(
            amounts in prop::collection::vec(any_amount(), 0..50), currency in any_currency()
        ) {
            let rounded: Vec<Money> = amounts
                .iter()
                .map(|a| Money::new(*a, currency).round_to_minor_units())
                .collect();
            let total = Money::sum(currency, &rounded).unwrap();
            prop_assert!(total.is_rounded());
        }
    }
}
