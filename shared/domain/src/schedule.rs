//! Calendar arithmetic for plans: working days and ISO weeks, bounded.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rust_decimal::{Decimal, RoundingStrategy};

/// Longest plan handled: five years of working days.
pub const WORKING_DAYS_MAX: usize = 5 * 261;

pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The first working day on or after `date`.
pub fn next_working_day(date: NaiveDate) -> NaiveDate {
    let mut day = date;
    while !is_working_day(day) {
        day += Duration::days(1);
    }
    day
}

/// Working days from `start` to `end` inclusive, at most [`WORKING_DAYS_MAX`].
pub fn working_days(start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    let mut days = Vec::new();
    let mut day = start;
    while day <= end && days.len() < WORKING_DAYS_MAX {
        if is_working_day(day) {
            days.push(day);
        }
        day += Duration::days(1);
    }
    days
}

/// The working day `count` working days after `start` (0 = `start` itself, if working).
pub fn add_working_days(start: NaiveDate, count: usize) -> NaiveDate {
    let mut day = next_working_day(start);
    for _ in 0..count.min(WORKING_DAYS_MAX) {
        day = next_working_day(day + Duration::days(1));
    }
    day
}

/// ISO week label, `2026-W49`.
pub fn iso_week_label(date: NaiveDate) -> String {
    let week = date.iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

/// The Monday of `date`'s ISO week.
pub fn iso_week_start(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// Splits `total` into `parts` shares of 2 decimals that add up exactly to `total`: each
/// share is truncated, and the last takes the remainder.
pub fn split_exact(total: Decimal, parts: usize) -> Vec<Decimal> {
    if parts == 0 {
        return Vec::new();
    }
    let share = (total / Decimal::from(parts)).round_dp_with_strategy(2, RoundingStrategy::ToZero);
    let mut shares = vec![share; parts];
    let assigned = share * Decimal::from(parts - 1);
    shares[parts - 1] = total - assigned;
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_and_working_days() {
        assert_eq!(iso_week_label(d("2026-12-31")), "2026-W53");
        assert_eq!(iso_week_label(d("2027-01-01")), "2026-W53");
        assert_eq!(iso_week_start(d("2026-11-26")), d("2026-11-23"));
        assert_eq!(
            working_days(d("2026-11-27"), d("2026-11-30")),
            vec![d("2026-11-27"), d("2026-11-30")]
        );
        assert_eq!(add_working_days(d("2026-11-27"), 1), d("2026-11-30"));
        assert_eq!(next_working_day(d("2026-11-28")), d("2026-11-30"));
    }

    proptest! {
        #[test]
        fn shares_add_up_exactly(cents in 0i64..10_000_000, parts in 1usize..300) {
            let total = Decimal::new(cents, 2);
            let shares = split_exact(total, parts);
            prop_assert_eq!(shares.iter().sum::<Decimal>(), total);
            prop_assert!(shares.iter().all(|s| *s >= Decimal::ZERO));
        }
    }
}
