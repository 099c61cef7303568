//! The problems of a workshop CSV, located by row and column (`row 3, column strike`), and
//! the spec validation's problems moved to the cells they came from.

use super::MAX_ISSUES;
use crate::error::{SpecErrors, SpecIssue};

/// Problems found so far; past [`MAX_ISSUES`] they are only counted.
#[derive(Debug, Default)]
pub(super) struct Issues {
    list: Vec<SpecIssue>,
    dropped: usize,
}

impl Issues {
    pub(super) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.add(SpecIssue { path: path.into(), message: message.into() });
    }

    pub(super) fn add(&mut self, issue: SpecIssue) {
        if self.list.len() < MAX_ISSUES {
            self.list.push(issue);
        } else {
            self.dropped += 1;
        }
    }

    pub(super) fn cell(&mut self, row: usize, column: &str, message: impl Into<String>) {
        self.push(cell_path(row, column), message);
    }

    pub(super) fn finish(mut self) -> Result<(), SpecErrors> {
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

/// A cell quoted for a message, shortened when long.
pub(super) fn show(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}…")
    } else {
        format!("{s:?}")
    }
}

/// Moves a validation issue on `instruments[i].…` to the row and column it came from; says
/// which instrument and column (`None` for no single column) it is about.
pub(super) fn map_issue(issue: SpecIssue, row_of: &[usize]) -> (SpecIssue, Option<(usize, Option<&'static str>)>) {
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

    #[test]
    fn issues_are_listed_by_row_and_capped() {
        let mut issues = Issues::default();
        for row in (1..=MAX_ISSUES + 2).rev() {
            issues.cell(row, "strike", "bad");
        }
        let list = issues.finish().unwrap_err().0;
        assert_eq!(list.len(), MAX_ISSUES + 1);
        assert_eq!(list[0].path, "row 3, column strike");
        assert_eq!(list[MAX_ISSUES].message, "… and 2 more problems not shown");
        assert!(Issues::default().finish().is_ok());
    }

    #[test]
    fn long_cells_are_shortened() {
        assert_eq!(show("a\"b"), "\"a\\\"b\"");
        assert_eq!(show(&"é".repeat(41)), format!("\"{}\"…", "é".repeat(40)));
    }
}
