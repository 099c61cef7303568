//! The workshop CSV: the portfolio format of the AWS workshop this project grew from
//! (README, "Workshop CSV"; docs/ARCHITECTURE.md).
//!
//! ```text
//! id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate
//! opt-1,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025
//! ```
//!
//! Each data row becomes one American [`InstrumentSpec`] on a single GBM asset without
//! dividends, exercisable from `settlementDate` to `maturityDate`; its maturity in years is
//! Actual/365 from settlement to maturity. Simulation settings come from [`CsvSettings`].
//!
//! Parsing is tolerant about presentation (UTF-8 BOM, `\r\n`, blank lines, whitespace
//! around cells, double-quoted cells, `put`/`PUT`) and strict about content: every bad cell
//! is reported as `row N, column name` (N counts data rows from 1, blank lines not counted),
//! all problems at once. Nothing here panics, whatever the input.

use crate::error::{Error, SpecErrors, SpecIssue};
use crate::result::InstrumentResult;
use crate::spec::{ExerciseSpec, ExerciseStyle, InstrumentSpec, JobSpec, ModelSpec, PayoffSpec, Scalars};
use std::collections::HashMap;
use std::fmt;

/// The columns of the workshop CSV, in order.
pub const COLUMNS: [&str; 9] = [
    "id",
    "todaysDate",
    "settlementDate",
    "optionType",
    "underlying",
    "strike",
    "riskFreeRate",
    "volatility",
    "maturityDate",
];

/// The header line of the workshop CSV.
pub const HEADER: &str =
    "id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate";

/// Most data rows in one file.
pub const MAX_ROWS: usize = 100_000;

/// Most exercise dates per option, whatever the settings.
pub const MAX_STEPS: u64 = crate::validate::MAX_DATES;

/// Problems reported in detail; further ones are only counted.
pub const MAX_ISSUES: usize = 100;

/// Simulation settings for a CSV portfolio (the CSV itself only describes the options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CsvSettings {
    pub paths: u64,
    pub training_paths: Option<u64>,
    /// Exercise dates per year of maturity (rounded up per option). 0, the default, lets the
    /// engine pick the dates of these American options (continuous exercise, see
    /// `crate::plan`); otherwise each option gets `max(min_steps, ceil(T × steps_per_year))`.
    pub steps_per_year: u64,
    /// Fewest exercise dates per option when `steps_per_year` is set.
    pub min_steps: u64,
    pub seed: u64,
    pub batch_size: Option<u64>,
}

impl Default for CsvSettings {
    fn default() -> Self {
        CsvSettings {
            paths: 20_000,
            training_paths: None,
            steps_per_year: 0,
            min_steps: 10,
            seed: 42,
            batch_size: None,
        }
    }
}

impl CsvSettings {
    /// Exercise dates for an option of `days` (Actual/365) to maturity:
    /// `max(min_steps, ceil(days / 365 × steps_per_year))`; `None` (the engine's choice) when
    /// `steps_per_year` is 0. Not capped: validation refuses more than [`MAX_STEPS`] and
    /// names the row, rather than pricing other dates than those asked for.
    /// Computed in integers, so a whole number of years gives exactly `years × steps_per_year`.
    pub fn steps_for_days(&self, days: i64) -> Option<u64> {
        if self.steps_per_year == 0 {
            return None;
        }
        let days = u128::try_from(days.max(0)).unwrap_or(0);
        let per_year = u128::from(self.steps_per_year);
        let from_rate = (days * per_year).div_ceil(365);
        let steps = from_rate.max(u128::from(self.min_steps.max(1)));
        Some(u64::try_from(steps).unwrap_or(u64::MAX))
    }
}

/// A parsed portfolio: the job to run plus what is needed to write the result CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvPortfolio {
    /// The header line as given (without BOM and line ending).
    pub header: String,
    /// The data rows as given, without line ending, in input order (blank lines dropped).
    pub rows: Vec<String>,
    /// One instrument per row, in row order.
    pub spec: JobSpec,
}

/// Parses a workshop CSV into a validated portfolio named `name`.
///
/// Exercise dates per option follow [`CsvSettings::steps_for_days`]. The resulting spec is validated ([`JobSpec::validate`]) and its problems are
/// reported against rows and columns where they belong to one.
pub fn parse(text: &str, name: &str, settings: &CsvSettings) -> Result<CsvPortfolio, SpecErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).filter(|l| !is_blank(l));

    let Some(header) = lines.next() else {
        return Err(SpecErrors::single("header", format!("the file is empty; expected the header line {HEADER}")));
    };
    if let Err(message) = check_header(header) {
        return Err(SpecErrors::single("header", message));
    }

    let rows: Vec<&str> = lines.by_ref().take(MAX_ROWS + 1).collect();
    if rows.len() > MAX_ROWS {
        let total = rows.len() + lines.count();
        return Err(SpecErrors::single(
            "rows",
            format!("{total} data rows; at most {MAX_ROWS} are supported per file"),
        ));
    }
    if rows.is_empty() {
        return Err(SpecErrors::single("rows", "no data rows after the header"));
    }

    let mut issues = Issues::default();

    let mut instruments = Vec::with_capacity(rows.len());
    // Data row number (1-based) of each instrument in `instruments`, and the columns of
    // that row already reported (validation must not report them again).
    let mut row_of = Vec::with_capacity(rows.len());
    let mut reported = Vec::with_capacity(rows.len());
    let mut first_row_of_id: HashMap<String, usize> = HashMap::new();
    for (i, line) in rows.iter().enumerate() {
        let row = i + 1;
        if let Some((instrument, columns)) = parse_row(line, row, settings, &mut first_row_of_id, &mut issues) {
            instruments.push(instrument);
            row_of.push(row);
            reported.push(columns);
        }
    }

    let spec = JobSpec {
        name: name.to_string(),
        seed: settings.seed,
        paths: settings.paths,
        training_paths: settings.training_paths,
        batch_size: settings.batch_size,
        antithetic: None,
        basis: None,
        instruments,
    };
    // Validate what parsed, so content problems show up together with the syntax problems,
    // of other rows and of the same row.
    if !spec.instruments.is_empty()
        && let Err(errors) = spec.validate()
    {
        for issue in errors.0 {
            let (issue, at) = map_issue(issue, &row_of);
            let already = match at {
                Some((i, column)) => reported.get(i).is_some_and(|r: &Vec<&str>| {
                    // An issue of no particular column may stem from a placeholder.
                    column.map_or(!r.is_empty(), |c| r.contains(&c))
                }),
                None => false,
            };
            if !already {
                issues.add(issue);
            }
        }
    }
    issues.finish()?;
    Ok(CsvPortfolio { header: header.to_string(), rows: rows.iter().map(|r| r.to_string()).collect(), spec })
}

/// The same CSV with `,price,std_error,ci95_low,ci95_high` appended to the header and to
/// every row, in input order, numbers with six decimals. `results` must be the portfolio's results in row order.
pub fn write_results(portfolio: &CsvPortfolio, results: &[InstrumentResult]) -> Result<String, Error> {
    let rows = portfolio.rows.len();
    if results.len() != rows || portfolio.spec.instruments.len() != rows {
        return Err(Error::CsvCounts { results: results.len(), instruments: portfolio.spec.instruments.len(), rows });
    }
    let mut out = String::with_capacity(
        portfolio.header.len() + 20 + rows * 32 + portfolio.rows.iter().map(String::len).sum::<usize>(),
    );
    out.push_str(&portfolio.header);
    out.push_str(",price,std_error,ci95_low,ci95_high\n");
    for (i, ((line, result), instrument)) in
        portfolio.rows.iter().zip(results).zip(&portfolio.spec.instruments).enumerate()
    {
        if result.id != instrument.id {
            return Err(Error::CsvRowMismatch {
                row: i + 1,
                result: result.id.clone(),
                instrument: instrument.id.clone(),
            });
        }
        out.push_str(line);
        out.push_str(&format!(
            ",{:.6},{:.6},{:.6},{:.6}\n",
            result.price, result.std_error, result.ci95[0], result.ci95[1]
        ));
    }
    Ok(out)
}

/// True when the first non-empty line starts with the workshop header (after an optional
/// BOM and whitespace; cells compared without surrounding whitespace, ignoring ASCII case).
pub fn looks_like_workshop_csv(text: &str) -> bool {
    let text = text.trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
    let first = text.split('\n').next().unwrap_or_default();
    match split_cells(first) {
        Ok(cells) => cells.len() >= COLUMNS.len() && cells.iter().zip(COLUMNS).all(|(c, e)| c.eq_ignore_ascii_case(e)),
        Err(_) => false,
    }
}

/// A calendar date of the proleptic Gregorian calendar, years 1 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// A checked date.
    pub fn new(year: i32, month: u32, day: u32) -> Result<Date, String> {
        if !(1..=9999).contains(&year) {
            return Err(format!("year {year} out of range"));
        }
        if !(1..=12).contains(&month) {
            return Err(format!("month {month} out of range"));
        }
        let last = days_in_month(year, month);
        if day == 0 || day > last {
            let name = MONTH_NAMES.get(month as usize - 1).copied().unwrap_or("the month");
            return Err(format!("day {day} out of range ({name} {year} has {last} days)"));
        }
        Ok(Date { year, month, day })
    }

    /// Parses `MM/DD/YYYY` (one- or two-digit month and day, four-digit year).
    pub fn parse_mdy(s: &str) -> Result<Date, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is empty; expected a date MM/DD/YYYY".into());
        }
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

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        // H. Hinnant's days_from_civil, on a year starting in March so the leap day is last.
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01, if it lies in years 1 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date::new(i32::try_from(year).ok()?, u32::try_from(month).ok()?, u32::try_from(day).ok()?).ok()
    }

    /// Actual days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        later.days_since_epoch() - self.days_since_epoch()
    }
}

impl fmt::Display for Date {
    /// `MM/DD/YYYY`, the workshop format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}/{:04}", self.month, self.day, self.year)
    }
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1–12) of `year`; 0 for a month out of range.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Problems found so far; past [`MAX_ISSUES`] they are only counted.
#[derive(Default)]
struct Issues {
    list: Vec<SpecIssue>,
    dropped: usize,
}

impl Issues {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.add(SpecIssue { path: path.into(), message: message.into() });
    }

    fn add(&mut self, issue: SpecIssue) {
        if self.list.len() < MAX_ISSUES {
            self.list.push(issue);
        } else {
            self.dropped += 1;
        }
    }

    fn cell(&mut self, row: usize, column: &str, message: impl Into<String>) {
        self.push(cell_path(row, column), message);
    }

    fn finish(mut self) -> Result<(), SpecErrors> {
        // Syntax problems were found first and content problems after: list them by row.
        self.list.sort_by_key(|i| row_number(&i.path));
        if self.dropped > 0 {
            let n = self.dropped;
            self.list.push(SpecIssue {
                path: String::new(),
                message: format!("… and {n} more problem{} not shown", if n == 1 { "" } else { "s" }),
            });
        }
        if self.list.is_empty() { Ok(()) } else { Err(SpecErrors(self.list)) }
    }
}

/// The row an issue path names (`row 3, column strike` → 3); 0 for none.
fn row_number(path: &str) -> usize {
    path.strip_prefix("row ")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The path of a cell in issues: `row 3, column strike`.
fn cell_path(row: usize, column: &str) -> String {
    format!("row {row}, column {column}")
}

/// A line with nothing but whitespace and commas (spreadsheets export empty rows so).
fn is_blank(line: &str) -> bool {
    line.chars().all(|c| c == ',' || c.is_whitespace())
}

/// A cell quoted for a message, shortened when long.
fn show(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}…")
    } else {
        format!("{s:?}")
    }
}

/// Splits one line into trimmed cells. A cell may be double-quoted (`"a,b"`, `""` for a
/// quote inside); quoted cells cannot span lines.
fn split_cells(line: &str) -> Result<Vec<String>, String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cell.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cell.push(c);
            }
        } else if c == '"' && cell.trim().is_empty() {
            cell.clear();
            quoted = true;
        } else if c == ',' {
            cells.push(std::mem::take(&mut cell).trim().to_string());
        } else {
            cell.push(c);
        }
    }
    if quoted {
        return Err("a quoted cell is not closed (quoted cells cannot span lines)".into());
    }
    cells.push(cell.trim().to_string());
    Ok(cells)
}

fn check_header(line: &str) -> Result<(), String> {
    let expected = format!("expected the columns {HEADER}");
    let cells = split_cells(line).map_err(|e| format!("{expected}; {e}"))?;
    for (j, expected_name) in COLUMNS.iter().enumerate() {
        match cells.get(j) {
            Some(c) if c.eq_ignore_ascii_case(expected_name) => {}
            Some(c) => return Err(format!("{expected}; column {} is {}, expected {expected_name:?}", j + 1, show(c))),
            None => return Err(format!("{expected}; column {expected_name:?} is missing")),
        }
    }
    match cells.get(COLUMNS.len()) {
        Some(extra) => Err(format!("{expected}; unexpected column {} after maturityDate", show(extra))),
        None => Ok(()),
    }
}

fn parse_number(s: &str) -> Result<f64, String> {
    if s.is_empty() {
        return Err("is empty; expected a number".into());
    }
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("{} is not a finite number", show(s))),
        Err(_) => Err(format!("{} is not a number", show(s))),
    }
}

/// Parses one data row and reports its problems. Returns its instrument whenever its numbers
/// parse, even with other problems (a bad date or type is replaced by a placeholder), so that
/// validation reports the problems of its values too; with it, the columns already reported.
fn parse_row(
    line: &str,
    row: usize,
    settings: &CsvSettings,
    first_row_of_id: &mut HashMap<String, usize>,
    issues: &mut Issues,
) -> Option<(InstrumentSpec, Vec<&'static str>)> {
    let cells = match split_cells(line) {
        Ok(cells) => cells,
        Err(message) => {
            issues.push(format!("row {row}"), message);
            return None;
        }
    };
    let got = cells.len();
    let Ok([id, today, settlement, kind, underlying, strike, rate, vol, maturity]) = <[String; 9]>::try_from(cells)
    else {
        issues.push(format!("row {row}"), format!("expected {} columns ({HEADER}), got {got}", COLUMNS.len()));
        return None;
    };
    let mut reported: Vec<&'static str> = Vec::new();
    if id.is_empty() {
        issues.cell(row, "id", "must not be empty");
        reported.push("id");
    } else if let Some(first) = first_row_of_id.get(&id) {
        issues.cell(row, "id", format!("duplicate id {} (first used in row {first})", show(&id)));
        reported.push("id");
    } else {
        first_row_of_id.insert(id.clone(), row);
    }

    let mut date = |column: &'static str, s: &str| match Date::parse_mdy(s) {
        Ok(d) => Some(d),
        Err(message) => {
            issues.cell(row, column, message);
            reported.push(column);
            None
        }
    };
    let _today = date("todaysDate", &today);
    let settlement = date("settlementDate", &settlement);
    let maturity = date("maturityDate", &maturity);

    let call = if kind.eq_ignore_ascii_case("put") {
        Some(false)
    } else if kind.eq_ignore_ascii_case("call") {
        Some(true)
    } else {
        issues.cell(row, "optionType", format!("{} is not an option type; expected Put or Call", show(&kind)));
        reported.push("optionType");
        None
    };

    let mut number = |column: &'static str, s: &str| match parse_number(s) {
        Ok(x) => Some(x),
        Err(message) => {
            issues.cell(row, column, message);
            reported.push(column);
            None
        }
    };
    let underlying = number("underlying", &underlying);
    let strike = number("strike", &strike);
    let rate = number("riskFreeRate", &rate);
    let vol = number("volatility", &vol);

    let days = match (settlement, maturity) {
        (Some(s), Some(m)) => {
            let days = s.days_until(m);
            if days <= 0 {
                issues.cell(row, "maturityDate", format!("maturityDate must be after settlementDate ({s})"));
                reported.push("maturityDate");
                None
            } else {
                Some(days)
            }
        }
        _ => None,
    };

    let (Some(spot), Some(strike), Some(rate), Some(vol)) = (underlying, strike, rate, vol) else {
        return None;
    };
    // Placeholders for cells already reported: a put, one year.
    let call = call.unwrap_or(false);
    let days = days.unwrap_or(365);
    let payoff =
        if call { PayoffSpec::Call { strike, weights: None } } else { PayoffSpec::Put { strike, weights: None } };
    let instrument = InstrumentSpec {
        id,
        model: ModelSpec::Gbm {
            spot: Scalars::One(spot),
            vol: Scalars::One(vol),
            rate,
            dividend: Scalars::One(0.0),
            correlation: None,
        },
        payoff,
        exercise: ExerciseSpec {
            style: ExerciseStyle::American,
            maturity: days as f64 / 365.0,
            steps: settings.steps_for_days(days),
            dates: None,
        },
    };
    Some((instrument, reported))
}

/// Moves a validation issue on `instruments[i].…` to the row and column it came from; says
/// which instrument and column (`None` for no single column) it is about.
fn map_issue(issue: SpecIssue, row_of: &[usize]) -> (SpecIssue, Option<(usize, Option<&'static str>)>) {
    let Some(rest) = issue.path.strip_prefix("instruments[") else { return (issue, None) };
    let Some((index, field)) = rest.split_once(']') else { return (issue, None) };
    let Some((i, &row)) = index.parse::<usize>().ok().and_then(|i| Some((i, row_of.get(i)?))) else {
        return (issue, None);
    };
    let column = match field {
        ".id" => "id",
        ".model.spot" => "underlying",
        ".model.vol" => "volatility",
        ".model.rate" => "riskFreeRate",
        ".payoff.strike" => "strike",
        ".exercise.maturity" => "maturityDate",
        _ => {
            let message = format!("{} (row {row})", issue.message);
            return (SpecIssue { path: issue.path, message }, Some((i, None)));
        }
    };
    (SpecIssue { path: cell_path(row, column), message: issue.message }, Some((i, Some(column))))
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
        let e = Date::parse_mdy("02/29/2023").unwrap_err();
        assert!(e.contains("day 29 out of range"), "{e}");
        assert!(Date::parse_mdy("02/29/1900").is_err());
        assert!(Date::parse_mdy("02/29/2100").is_err());
        assert!(is_leap_year(2400) && !is_leap_year(2200));
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
        assert_eq!(d(" 1/5/2025 "), Date { year: 2025, month: 1, day: 5 });
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
        // Every day from year 1 to 9999 round-trips and follows the previous one.
        let mut prev = d("01/01/0001");
        for n in prev.days_since_epoch() + 1..=d("12/31/9999").days_since_epoch() {
            let date = Date::from_days_since_epoch(n).unwrap();
            assert_eq!(date.days_since_epoch(), n);
            assert!(date > prev);
            prev = date;
        }
        assert_eq!(Date::from_days_since_epoch(d("01/01/0001").days_since_epoch() - 1), None);
        assert_eq!(Date::from_days_since_epoch(i64::MAX), None);
        assert_eq!(d("03/07/2025").to_string(), "03/07/2025");
    }

    #[test]
    fn steps_rule() {
        assert_eq!(CsvSettings::default().steps_for_days(365), None, "the engine picks by default");
        let s = CsvSettings { steps_per_year: 50, ..CsvSettings::default() };
        assert_eq!(s.steps_for_days(365), Some(50));
        assert_eq!(s.steps_for_days(730), Some(100));
        assert_eq!(s.steps_for_days(91), Some(13)); // ceil(12.47)
        assert_eq!(s.steps_for_days(73), Some(10)); // exactly 10, no rounding up from 10.000…01
        assert_eq!(s.steps_for_days(1), Some(10)); // min_steps
        let fine = CsvSettings { steps_per_year: u64::MAX, ..s };
        assert_eq!(fine.steps_for_days(36_500), Some(u64::MAX), "not capped: validation refuses it");
    }

    #[test]
    fn cells_split_with_quotes() {
        assert_eq!(split_cells(" a , b ,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(split_cells(r#""a,b", "say ""hi""" ,"#).unwrap(), ["a,b", "say \"hi\"", ""]);
        assert!(split_cells(r#"a,"b"#).is_err());
        assert_eq!(split_cells("").unwrap(), [""]);
    }

    #[test]
    fn validation_issues_map_to_cells() {
        let rows = [4, 7];
        let m = |p: &str| map_issue(SpecIssue { path: p.into(), message: "m".into() }, &rows).0.path;
        assert_eq!(m("instruments[1].model.spot"), "row 7, column underlying");
        assert_eq!(m("instruments[0].exercise.maturity"), "row 4, column maturityDate");
        assert_eq!(m("instruments[0].payoff.type"), "instruments[0].payoff.type");
        assert_eq!(m("instruments[2].model.spot"), "instruments[2].model.spot");
        assert_eq!(m("instruments[x].model.spot"), "instruments[x].model.spot");
        assert_eq!(m("paths"), "paths");
    }
}
