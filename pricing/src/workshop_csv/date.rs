//! Calendar dates of the workshop CSV (`MM/DD/YYYY`), on `jiff`'s civil calendar.

use super::issues::show;
use std::fmt;

/// A calendar date of the proleptic Gregorian calendar, years 1 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(jiff::civil::Date);

/// Day numbers count from here.
const EPOCH: jiff::civil::Date = jiff::civil::Date::constant(1970, 1, 1);

/// Years the workshop format can write with four digits (jiff's calendar reaches back to
/// year -9999).
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

impl Date {
    /// A checked date.
    pub fn new(year: i32, month: u32, day: u32) -> Result<Date, String> {
        let Some(y) = i16::try_from(year).ok().filter(|_| YEARS.contains(&year)) else {
            return Err(format!("year {year} out of range"));
        };
        let Some(first) = i8::try_from(month).ok().and_then(|m| jiff::civil::Date::new(y, m, 1).ok()) else {
            return Err(format!("month {month} out of range"));
        };
        let Some(date) = i8::try_from(day).ok().and_then(|d| jiff::civil::Date::new(y, first.month(), d).ok()) else {
            let (name, last) = (first.strftime("%B"), first.days_in_month());
            return Err(format!("day {day} out of range ({name} {year} has {last} days)"));
        };
        Ok(Date(date))
    }

    /// Parses `MM/DD/YYYY` (one- or two-digit month and day, four-digit year).
    pub fn parse_mdy(s: &str) -> Result<Date, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is empty; expected a date MM/DD/YYYY".into());
        }
        // The spelling is checked here rather than by jiff's `strptime("%m/%d/%Y")`, which
        // also takes what this format never allowed (signs, years of other lengths) and
        // words its errors otherwise; the calendar check is `new`'s.
        let not_a_date = || format!("{} is not a date in MM/DD/YYYY format", show(s));
        let mut parts = s.split('/');
        let (Some(m), Some(d), Some(y), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(not_a_date());
        };
        let digits =
            |p: &str, min: usize, max: usize| (min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(m, 1, 2) || !digits(d, 1, 2) || !digits(y, 4, 4) {
            return Err(not_a_date());
        }
        let (Ok(month), Ok(day), Ok(year)) = (m.parse::<u32>(), d.parse::<u32>(), y.parse::<i32>()) else {
            return Err(not_a_date());
        };
        Date::new(year, month, day)
    }

    pub fn year(self) -> i32 {
        i32::from(self.0.year())
    }

    /// 1 to 12.
    pub fn month(self) -> u32 {
        u32::from(self.0.month().unsigned_abs())
    }

    /// 1 to 31.
    pub fn day(self) -> u32 {
        u32::from(self.0.day().unsigned_abs())
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        Date(EPOCH).days_until(self)
    }

    /// The date `days` after 1970-01-01, if it lies in years 1 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let span = jiff::SignedDuration::try_from_hours(days.checked_mul(24)?)?;
        let date = EPOCH.checked_add(span).ok()?;
        YEARS.contains(&i32::from(date.year())).then_some(Date(date))
    }

    /// Actual days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        // Civil days have no time zone, so each is exactly 24 hours.
        self.0.duration_until(later.0).as_hours() / 24
    }
}

impl fmt::Display for Date {
    /// `MM/DD/YYYY`, the workshop format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}/{:04}", self.month(), self.day(), self.year())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse_mdy(s).unwrap()
    }

    #[test]
    fn leap_days() {
        assert!(Date::parse_mdy("02/29/2024").is_ok());
        assert!(Date::parse_mdy("02/29/2000").is_ok());
        assert!(Date::parse_mdy("02/29/2400").is_ok());
        let e = Date::parse_mdy("02/29/2023").unwrap_err();
        assert!(e.contains("day 29 out of range"), "{e}");
        for not_leap in ["02/29/1900", "02/29/2100", "02/29/2200"] {
            assert!(Date::parse_mdy(not_leap).is_err(), "{not_leap}");
        }
    }

    #[test]
    fn bad_dates_say_why() {
        assert!(Date::parse_mdy("13/01/2024").unwrap_err().contains("month 13 out of range"));
        assert!(Date::parse_mdy("00/01/2024").unwrap_err().contains("month 0 out of range"));
        assert!(Date::parse_mdy("04/31/2024").unwrap_err().contains("day 31 out of range (April 2024 has 30 days)"));
        assert!(Date::parse_mdy("01/00/2024").unwrap_err().contains("day 0"));
        assert!(Date::parse_mdy("01/01/0000").unwrap_err().contains("year 0"));
        for bad in ["2024-01-01", "1/1/24", "01/01/2024/1", "a/b/cccc", "", "01//2024", "+1/01/2024", "01/01/２０２４"]
        {
            assert!(Date::parse_mdy(bad).is_err(), "{bad}");
        }
        let date = d(" 1/5/2025 ");
        assert_eq!((date.year(), date.month(), date.day()), (2025, 1, 5));
        assert_eq!(date, Date::new(2025, 1, 5).unwrap());
        // Out of the ranges of jiff's argument types, too.
        assert_eq!(Date::new(i32::MAX, 1, 1).unwrap_err(), format!("year {} out of range", i32::MAX));
        assert_eq!(Date::new(2024, 300, 1).unwrap_err(), "month 300 out of range");
        assert_eq!(Date::new(2024, 2, 300).unwrap_err(), "day 300 out of range (February 2024 has 29 days)");
    }

    #[test]
    fn day_counts() {
        assert_eq!(d("01/01/1970").days_since_epoch(), 0);
        assert_eq!(d("01/01/2021").days_until(d("01/01/2022")), 365);
        assert_eq!(d("01/01/2024").days_until(d("01/01/2025")), 366);
        assert_eq!(d("02/28/2024").days_until(d("03/01/2024")), 2);
        assert_eq!(d("02/28/2023").days_until(d("03/01/2023")), 1);
        assert_eq!(d("11/17/2024").days_until(d("11/17/2025")), 365);
        assert_eq!(d("12/31/1999").days_until(d("01/01/2000")), 1);
        assert_eq!(d("01/01/2000").days_until(d("12/31/1999")), -1);
        assert_eq!(d("01/01/0001").days_until(d("12/31/9999")), 3_652_058);
        // Every day from year 1 to 9999 round-trips, follows the previous one, and reads
        // back from its text.
        let mut prev = d("01/01/0001");
        for n in prev.days_since_epoch() + 1..=d("12/31/9999").days_since_epoch() {
            let date = Date::from_days_since_epoch(n).unwrap();
            assert_eq!(date.days_since_epoch(), n);
            assert_eq!(prev.days_until(date), 1);
            assert!(date > prev);
            assert_eq!(d(&date.to_string()), date);
            prev = date;
        }
        assert_eq!(Date::from_days_since_epoch(d("01/01/0001").days_since_epoch() - 1), None);
        assert_eq!(Date::from_days_since_epoch(i64::MAX), None);
        assert_eq!(Date::from_days_since_epoch(i64::MIN), None);
        assert_eq!(d("03/07/2025").to_string(), "03/07/2025");
        assert_eq!(d("3/7/0045").to_string(), "03/07/0045");
    }
}
