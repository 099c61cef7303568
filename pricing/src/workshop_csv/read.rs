//! Reading a workshop CSV: lines into rows, rows into validated instruments, every problem
//! named by row and column.

use super::cells::split_cells;
use super::issues::{Issues, map_issue, show};
use super::{COLUMNS, CsvPortfolio, CsvSettings, Date, HEADER, MAX_ROWS};
use crate::error::SpecErrors;
use crate::spec::{ExerciseSpec, ExerciseStyle, InstrumentSpec, JobSpec, ModelSpec, PayoffSpec, Scalars};
use std::collections::HashMap;

/// Parses a workshop CSV into a validated portfolio named `name`.
///
/// Exercise dates per option follow [`CsvSettings::steps_for_days`]. The resulting spec is validated ([`JobSpec::validate`]) and its problems are
/// reported against rows and columns where they belong to one.
pub fn parse(text: &str, name: &str, settings: &CsvSettings) -> Result<CsvPortfolio, SpecErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Lines are split here and only cells by the csv reader: each row is kept as written for
    // the result CSV, blank lines are dropped before rows are counted, and a row's unclosed
    // quote is that row's problem rather than swallowing the rows after it.
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

/// A line with nothing but whitespace and commas (spreadsheets export empty rows so).
fn is_blank(line: &str) -> bool {
    line.chars().all(|c| c == ',' || c.is_whitespace())
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
/// The value of a cell that parsed, or `None` with the cell's message recorded (and the
/// column marked as reported, so validation does not name it again).
fn cell_value<T>(
    issues: &mut Issues,
    reported: &mut Vec<&'static str>,
    row: usize,
    column: &'static str,
    parsed: Result<T, String>,
) -> Option<T> {
    match parsed {
        Ok(value) => Some(value),
        Err(message) => {
            issues.cell(row, column, message);
            reported.push(column);
            None
        }
    }
}

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

    let _today = cell_value(issues, &mut reported, row, "todaysDate", Date::parse_mdy(&today));
    let settlement = cell_value(issues, &mut reported, row, "settlementDate", Date::parse_mdy(&settlement));
    let maturity = cell_value(issues, &mut reported, row, "maturityDate", Date::parse_mdy(&maturity));

    let call = if kind.eq_ignore_ascii_case("put") {
        Some(false)
    } else if kind.eq_ignore_ascii_case("call") {
        Some(true)
    } else {
        issues.cell(row, "optionType", format!("{} is not an option type; expected Put or Call", show(&kind)));
        reported.push("optionType");
        None
    };

    let underlying = cell_value(issues, &mut reported, row, "underlying", parse_number(&underlying));
    let strike = cell_value(issues, &mut reported, row, "strike", parse_number(&strike));
    let rate = cell_value(issues, &mut reported, row, "riskFreeRate", parse_number(&rate));
    let vol = cell_value(issues, &mut reported, row, "volatility", parse_number(&vol));

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
