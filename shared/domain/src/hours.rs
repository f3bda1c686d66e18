//! Hours of work: exact decimals, never negative, with an optional per-contract rounding
//! increment (DESIGN §4.2: "e.g. 0.25 h, round up, applied per time entry, raw hours kept").

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest increment a contract may round to: a whole working day.
pub const HOUR_INCREMENT_MAX: Decimal = Decimal::from_parts(8, 0, 0, false, 0);
/// Hours carry at most this many decimals (0.0001 h is well under a second).
pub const HOURS_SCALE_MAX: u32 = 4;

/// A non-negative quantity of hours.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Hours(Decimal);

/// A positive rounding step for hours, at most [`HOUR_INCREMENT_MAX`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct HourIncrement(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("hours must not be negative, got {0}")]
    Negative(Decimal),
    #[error("hours may have at most {HOURS_SCALE_MAX} decimals, got {0}")]
    TooPrecise(Decimal),
    #[error(
        "an hour rounding increment must be above 0 and at most {HOUR_INCREMENT_MAX}, got {0}"
    )]
    BadIncrement(Decimal),
    #[error("hours overflow")]
    Overflow,
}

impl Hours {
    pub const ZERO: Hours = Hours(Decimal::ZERO);

    pub fn new(value: Decimal) -> Result<Self, HoursError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(HoursError::Negative(value));
        }
        if value.normalize().scale() > HOURS_SCALE_MAX {
            return Err(HoursError::TooPrecise(value));
        }
        Ok(Hours(value.normalize()))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// Rounds up to the next multiple of `increment` (a multiple stays as it is).
    pub fn round_up(self, increment: HourIncrement) -> Result<Hours, HoursError> {
        let steps = self
            .0
            .checked_div(increment.0)
            .ok_or(HoursError::Overflow)?
            .round_dp_with_strategy(0, RoundingStrategy::ToPositiveInfinity);
        let rounded = steps.checked_mul(increment.0).ok_or(HoursError::Overflow)?;
        Ok(Hours(rounded.normalize()))
    }

    /// Applies an optional contract increment: `None` keeps the raw hours.
    pub fn billable(self, increment: Option<HourIncrement>) -> Result<Hours, HoursError> {
        match increment {
            Some(step) => self.round_up(step),
            None => Ok(self),
        }
    }

    pub fn checked_add(self, other: Hours) -> Result<Hours, HoursError> {
        self.0
            .checked_add(other.0)
            .map(Hours)
            .ok_or(HoursError::Overflow)
    }
}

impl HourIncrement {
    pub fn new(value: Decimal) -> Result<Self, HoursError> {
        if value <= Decimal::ZERO || value > HOUR_INCREMENT_MAX {
            return Err(HoursError::BadIncrement(value));
        }
        if value.normalize().scale() > HOURS_SCALE_MAX {
            return Err(HoursError::TooPrecise(value));
        }
        Ok(HourIncrement(value.normalize()))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for Hours {
    type Error = HoursError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Hours::new(value)
    }
}
impl From<Hours> for Decimal {
    fn from(h: Hours) -> Decimal {
        h.0
    }
}
impl TryFrom<Decimal> for HourIncrement {
    type Error = HoursError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        HourIncrement::new(value)
    }
}
impl From<HourIncrement> for Decimal {
    fn from(h: HourIncrement) -> Decimal {
        h.0
    }
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} h", self.0)
    }
}
impl fmt::Debug for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl fmt::Debug for HourIncrement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "every {} h", self.0)
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
    fn hours(s: &str) -> Hours {
        Hours::new(dec(s)).unwrap()
    }
    fn step(s: &str) -> HourIncrement {
        HourIncrement::new(dec(s)).unwrap()
    }

    #[test]
    fn rounds_up_to_the_increment() {
        let quarter = step("0.25");
        assert_eq!(hours("1.1").round_up(quarter).unwrap(), hours("1.25"));
        assert_eq!(hours("1.25").round_up(quarter).unwrap(), hours("1.25"));
        assert_eq!(hours("0.01").round_up(quarter).unwrap(), hours("0.25"));
        assert_eq!(hours("0").round_up(quarter).unwrap(), hours("0"));
        assert_eq!(hours("7.9").round_up(step("0.5")).unwrap(), hours("8"));
        assert_eq!(hours("1.1").billable(None).unwrap(), hours("1.1"));
    }

    #[test]
    fn rejects_negative_overprecise_and_bad_increments() {
        assert_eq!(Hours::new(dec("-1")), Err(HoursError::Negative(dec("-1"))));
        assert!(matches!(
            Hours::new(dec("1.00001")),
            Err(HoursError::TooPrecise(_))
        ));
        assert!(
            Hours::new(dec("1.50000")).is_ok(),
            "trailing zeros are fine"
        );
        for bad in ["0", "-0.25", "8.5"] {
            assert!(HourIncrement::new(dec(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn deserializes_with_validation() {
        let h: Hours = serde_json::from_str("\"7.5\"").unwrap();
        assert_eq!(h, hours("7.5"));
        assert!(serde_json::from_str::<Hours>("\"-2\"").is_err());
    }

    fn any_hours() -> impl Strategy<Value = Hours> {
        (0i64..10_000_000).prop_map(|n| Hours::new(Decimal::new(n, 4)).unwrap())
    }
    fn any_increment() -> impl Strategy<Value = HourIncrement> {
        prop::sample::select(vec!["0.1", "0.25", "0.5", "1", "0.0833", "8"]).prop_map(step)
    }

    proptest! {
        #[test]
        fn rounded_up_is_the_least_multiple_not_below_raw(h in any_hours(), inc in any_increment()) {
            let rounded = h.round_up(inc).unwrap();
            prop_assert!(rounded >= h);
            prop_assert!(rounded.value() - h.value() < inc.value());
            prop_assert!((rounded.value() % inc.value()).is_zero());
            prop_assert_eq!(rounded.round_up(inc).unwrap(), rounded);
        }
    }
}
